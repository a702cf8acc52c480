//! `bus`: a summing point. The compiler sums every connection into its input (aligning their
//! latencies); the node passes the sum on. Buses and the master are built from it.

use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::Unit;
use crate::registry::{all_params, no_check, no_initial, NodeKind, OptDefault, OptionDesc, Role};

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "bus",
    inputs: &[IN_FOLLOW],
    params: &[],
};

/// Registry entry: the summing point of every bus and of the master.
pub static KIND: NodeKind = NodeKind {
    name: "bus",
    doc: "A summing point: the sum of everything routed into it.",
    role: Role::Internal,
    desc: &DESC,
    options: &[OptionDesc::num(
        "channels",
        Unit::Count,
        0.0,
        crate::buffer::MAX_CHANNELS as f64,
        OptDefault::Num(2.0),
        "output channels (2 for a stereo bus); 0 follows the widest input",
    )
    .integer()],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| Ok(Box::new(Sum::new(c.num("channels") as usize))),
};

/// A bus: output = sum of inputs.
#[derive(Clone, Debug)]
pub struct Sum {
    channels: usize,
}

impl Sum {
    /// A bus with a fixed output width (2 for a stereo bus); 0 follows the widest input.
    pub fn new(channels: usize) -> Self {
        Self { channels }
    }
}

impl Node for Sum {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn output_channels(&self, input_channels: &[usize]) -> usize {
        if self.channels > 0 {
            self.channels
        } else {
            input_channels.first().copied().unwrap_or(1).max(1)
        }
    }

    fn prepare(&mut self, _cfg: &ProcessConfig) -> Result<(), String> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let inp = cx.input(0);
        let n = inp.len();
        let m = cx.outputs.len();
        for (d, o) in cx.outputs.iter_mut().enumerate() {
            o.fill(0.0);
            for (s, i) in inp.iter().enumerate() {
                let g = crate::node::mix_gain(n, m, s, d);
                if g != 0.0 {
                    for (y, x) in o.iter_mut().zip(i.iter()) {
                        *y += g * x;
                    }
                }
            }
        }
        if cx.input_silent {
            ProcessStatus::Silent
        } else {
            ProcessStatus::Continue
        }
    }
}
