//! `clip`: plays audio held in memory (tests, generated material, decoded sources), placed on the
//! timeline at `start_frame`.

use std::sync::Arc;

use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus};

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "clip",
    inputs: &[],
    params: &[],
};

/// An in-memory source.
#[derive(Clone, Debug)]
pub struct Clip {
    channels: Arc<[Vec<f32>]>,
    start_frame: u64,
}

impl Clip {
    /// Plays `channels` (planar, equal lengths) from `start_frame` on.
    pub fn new(channels: Vec<Vec<f32>>, start_frame: u64) -> Self {
        Self {
            channels: channels.into(),
            start_frame,
        }
    }

    fn len(&self) -> u64 {
        self.channels.first().map_or(0, |c| c.len() as u64)
    }
}

impl Node for Clip {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn output_channels(&self, _input_channels: &[usize]) -> usize {
        self.channels.len().max(1)
    }

    fn prepare(&mut self, _cfg: &ProcessConfig) -> Result<(), String> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let pos = cx.transport.position;
        let end = self.start_frame + self.len();
        let frames = cx.frames as u64;
        if !cx.transport.playing || pos + frames <= self.start_frame || pos >= end {
            for o in cx.outputs.iter_mut() {
                o.fill(0.0);
            }
            return ProcessStatus::Silent;
        }
        for (o, src) in cx.outputs.iter_mut().zip(self.channels.iter()) {
            for (i, y) in o.iter_mut().enumerate() {
                let t = pos + i as u64;
                *y = if t >= self.start_frame && t < end {
                    src[(t - self.start_frame) as usize]
                } else {
                    0.0
                };
            }
        }
        ProcessStatus::Continue
    }

    fn length_frames(&self) -> Option<u64> {
        Some(self.start_frame + self.len())
    }
}
