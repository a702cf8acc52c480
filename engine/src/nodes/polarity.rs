//! `polarity`: inverts the signal (all channels) while `invert` is 1.

use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::{ParamDesc, Unit};
use crate::registry::{all_params, no_check, no_initial, NodeKind, Role};

/// Parameters of [`Polarity`].
pub const PARAMS: &[ParamDesc] = &[ParamDesc::new(
    "invert",
    Unit::Switch,
    0.0,
    1.0,
    1.0,
    "1 inverts the polarity, 0 passes the signal unchanged",
)];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "polarity",
    inputs: &[IN_FOLLOW],
    params: PARAMS,
};

/// Registry entry: `strip:polarity { invert }`.
pub static KIND: NodeKind = NodeKind {
    name: "polarity",
    doc: "Inverts the signal's polarity while `invert` is 1 (true).",
    role: Role::Insert,
    desc: &DESC,
    options: &[],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |_| Ok(Box::new(Polarity)),
};

/// Polarity inversion.
#[derive(Clone, Debug, Default)]
pub struct Polarity;

impl Node for Polarity {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, _cfg: &ProcessConfig) -> Result<(), String> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let inp = cx.input(0);
        let inv = cx.param(0);
        for (o, x) in cx.outputs.iter_mut().zip(inp) {
            for (i, (y, s)) in o.iter_mut().zip(x.iter()).enumerate() {
                *y = if inv.at(i) >= 0.5 { -s } else { *s };
            }
        }
        if cx.input_silent {
            ProcessStatus::Silent
        } else {
            ProcessStatus::Continue
        }
    }
}
