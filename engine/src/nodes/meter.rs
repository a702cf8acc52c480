//! `meter`: a peak-meter tap. Passes the signal through and publishes the peak of each channel
//! (max since the last read) through atomics, so a UI thread can read it without locks.

use crate::registry::{all_params, no_check, no_initial, NodeKind, Role};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::buffer::MAX_CHANNELS;
use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "meter",
    inputs: &[IN_FOLLOW],
    params: &[],
};

/// Registry entry: `strip:meter {}`.
pub static KIND: NodeKind = NodeKind {
    name: "meter",
    doc: "A peak-meter tap: passes the signal through and publishes each channel's peak.",
    role: Role::Insert,
    desc: &DESC,
    options: &[],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |_| Ok(Box::new(Meter::default())),
};

/// Peak values shared between the audio thread (writer) and readers.
#[derive(Debug, Default)]
pub struct MeterReadings {
    peaks: [AtomicU32; MAX_CHANNELS],
    hold: [AtomicU32; MAX_CHANNELS],
}

impl MeterReadings {
    /// Peak (linear) of `channel` since the last call to `take_peak`, and resets it.
    pub fn take_peak(&self, channel: usize) -> f32 {
        f32::from_bits(self.peaks[channel].swap(0, Ordering::Relaxed))
    }

    /// Highest peak (linear) of `channel` ever seen.
    pub fn max_peak(&self, channel: usize) -> f32 {
        f32::from_bits(self.hold[channel].load(Ordering::Relaxed))
    }
}

/// The meter tap.
#[derive(Clone, Debug, Default)]
pub struct Meter {
    readings: Arc<MeterReadings>,
}

impl Meter {
    /// A meter publishing into `readings`.
    pub fn new(readings: Arc<MeterReadings>) -> Self {
        Self { readings }
    }

    /// The shared readings.
    pub fn readings(&self) -> Arc<MeterReadings> {
        self.readings.clone()
    }
}

impl Node for Meter {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, _cfg: &ProcessConfig) -> Result<(), String> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        cx.pass_through();
        for (c, x) in cx.input(0).iter().enumerate().take(MAX_CHANNELS) {
            let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            // Positive floats order like their bit patterns.
            self.readings.peaks[c].fetch_max(peak.to_bits(), Ordering::Relaxed);
            self.readings.hold[c].fetch_max(peak.to_bits(), Ordering::Relaxed);
        }
        if cx.input_silent {
            ProcessStatus::Silent
        } else {
            ProcessStatus::Continue
        }
    }
}
