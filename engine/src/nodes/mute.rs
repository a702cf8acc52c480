//! `mute`: silences the signal while `mute` is 1, with a 5 ms linear fade so toggling never clicks.

use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::{ParamDesc, Unit};
use crate::registry::{all_params, no_check, no_initial, NodeKind, Role};

/// Parameters of [`Mute`].
pub const PARAMS: &[ParamDesc] = &[ParamDesc::new(
    "mute",
    Unit::Switch,
    0.0,
    1.0,
    1.0,
    "1 mutes, 0 lets the signal through",
)];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "mute",
    inputs: &[IN_FOLLOW],
    params: PARAMS,
};

/// Registry entry: `strip:mute { mute }`.
pub static KIND: NodeKind = NodeKind {
    name: "mute",
    doc: "Silences the signal while `mute` is 1 (true), with a 5 ms fade so toggling never clicks.",
    role: Role::Insert,
    desc: &DESC,
    options: &[],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |_| Ok(Box::new(Mute::default())),
};

/// Fade time of a mute toggle.
pub const FADE_MS: f64 = 5.0;

/// A click-free mute.
#[derive(Clone, Debug, Default)]
pub struct Mute {
    gain: f32,
    step: f32,
    started: bool,
}

impl Node for Mute {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        self.step = (1.0 / (FADE_MS * 0.001 * cfg.sample_rate)) as f32;
        Ok(())
    }

    fn reset(&mut self) {
        self.started = false;
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let m = cx.param(0);
        if !self.started {
            self.gain = if m.at(0) >= 0.5 { 0.0 } else { 1.0 };
            self.started = true;
        }
        let inp = cx.input(0);
        let start = self.gain;
        let mut g = start;
        for (c, (o, x)) in cx.outputs.iter_mut().zip(inp).enumerate() {
            g = start;
            for (i, (y, s)) in o.iter_mut().zip(x.iter()).enumerate() {
                let target = if m.at(i) >= 0.5 { 0.0 } else { 1.0 };
                g = if g < target {
                    (g + self.step).min(target)
                } else {
                    (g - self.step).max(target)
                };
                *y = s * g;
            }
            let _ = c;
        }
        self.gain = g;
        // Silent only when the whole block was closed (a fade ending inside the block is heard),
        // or when the input is silent and no fade is under way (a node reported silent may be
        // skipped, which would freeze a fade half-way).
        let closed = start == 0.0 && g == 0.0 && m.is_const();
        let at_rest = g == if m.last() >= 0.5 { 0.0 } else { 1.0 };
        if closed || (cx.input_silent && at_rest) {
            for o in cx.outputs.iter_mut() {
                o.fill(0.0);
            }
            ProcessStatus::Silent
        } else if cx.input_silent {
            ProcessStatus::Tail((1.0 / self.step).ceil() as u32)
        } else {
            ProcessStatus::Continue
        }
    }
}
