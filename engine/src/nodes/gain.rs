//! `gain`: a fader. Multiplies every channel by `gain_db` (automatable, smoothed in dB).

use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::{ParamDesc, Unit};
use crate::registry::{all_params, no_check, no_initial, NodeKind, Role};
use crate::units::db_to_gain;

/// Parameters of [`Gain`].
pub const PARAMS: &[ParamDesc] = &[ParamDesc::new(
    "gain_db",
    Unit::Db,
    -120.0,
    48.0,
    0.0,
    "gain in dB; −120 is silence",
)];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "gain",
    inputs: &[IN_FOLLOW],
    params: PARAMS,
};

/// Registry entry: `strip:gain { gain_db }` (also every fader and send).
pub static KIND: NodeKind = NodeKind {
    name: "gain",
    doc: "A gain stage: multiplies the signal by `gain_db` (−120 dB is silence).",
    role: Role::Insert,
    desc: &DESC,
    options: &[],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |_| Ok(Box::new(Gain)),
};

/// Index of `gain_db`.
pub const GAIN_DB: usize = 0;

/// A gain stage / fader.
#[derive(Clone, Debug, Default)]
pub struct Gain;

impl Node for Gain {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, _cfg: &ProcessConfig) -> Result<(), String> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        if cx.input_silent {
            for o in cx.outputs.iter_mut() {
                o.fill(0.0);
            }
            return ProcessStatus::Silent;
        }
        apply_gain_db(cx, GAIN_DB, 1.0);
        ProcessStatus::Continue
    }
}

/// Linear gain of a fader at `db`: the bottom of the range (−120 dB) is silence, as documented.
#[inline]
pub fn fader_gain(db: f32) -> f32 {
    if db <= PARAMS[GAIN_DB].min {
        0.0
    } else {
        db_to_gain(db)
    }
}

/// Writes `input · sign · gain(param)` to every output channel. Shared by gain-like nodes.
pub fn apply_gain_db(cx: &mut ProcessContext<'_>, param: usize, sign: f32) {
    let inp = cx.input(0);
    match cx.param(param) {
        crate::node::ParamValue::Const(db) => {
            let g = sign * fader_gain(db);
            for (o, i) in cx.outputs.iter_mut().zip(inp) {
                for (y, x) in o.iter_mut().zip(i.iter()) {
                    *y = x * g;
                }
            }
        }
        crate::node::ParamValue::Varying(dbs) => {
            for (o, i) in cx.outputs.iter_mut().zip(inp) {
                for ((y, x), db) in o.iter_mut().zip(i.iter()).zip(dbs) {
                    *y = x * sign * fader_gain(*db);
                }
            }
        }
    }
}
