//! `gate`: noise gate / downward expander — threshold, range, ratio (100 = gate), attack, hold,
//! release and hysteresis; keyed by its input or by an external `sidechain`.

use super::control::{exact_silence, sub_in, sub_out, ControlParams};
use crate::dsp::dynamics::{Gate as Dsp, GateParams};
use crate::node::{
    Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW, SIDECHAIN_FOLLOW,
};
use crate::param::{ParamDesc, Unit};
use crate::registry::{all_params, no_check, no_initial, NodeKind, Role};

/// Parameters (automatable).
pub const PARAMS: &[ParamDesc] = &[
    ParamDesc::new(
        "threshold_db",
        Unit::Db,
        -120.0,
        0.0,
        -50.0,
        "opening threshold in dBFS",
    ),
    ParamDesc::new(
        "range_db",
        Unit::Db,
        -120.0,
        0.0,
        -60.0,
        "attenuation when closed in dB",
    ),
    ParamDesc::new(
        "ratio",
        Unit::Ratio,
        1.0,
        100.0,
        100.0,
        "expansion ratio below the threshold (100 acts as a gate)",
    ),
    ParamDesc::new(
        "attack_ms",
        Unit::Ms,
        0.0,
        1000.0,
        1.0,
        "opening time constant in ms",
    ),
    ParamDesc::new(
        "hold_ms",
        Unit::Ms,
        0.0,
        5000.0,
        20.0,
        "time held open after the level drops, ms",
    ),
    ParamDesc::new(
        "release_ms",
        Unit::Ms,
        0.0,
        10000.0,
        100.0,
        "closing time constant in ms",
    ),
    ParamDesc::new(
        "hysteresis_db",
        Unit::Db,
        0.0,
        40.0,
        3.0,
        "closes this many dB below the threshold",
    ),
];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "gate",
    inputs: &[IN_FOLLOW, SIDECHAIN_FOLLOW],
    params: PARAMS,
};

/// Registry entry: `strip:gate { threshold_db, ..., sidechain = strip }`.
pub static KIND: NodeKind = NodeKind {
    name: "gate",
    doc: "Noise gate and downward expander (ratio 100 gates, lower ratios expand), with hold, hysteresis and an optional sidechain key.",
    role: Role::Insert,
    desc: &DESC,
    options: &[],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |_| Ok(Box::new(Gate::default())),
};

/// The gate node.
#[derive(Clone, Debug, Default)]
pub struct Gate {
    dsp: Option<Dsp>,
    ctl: ControlParams<7>,
}

fn params(v: [f32; 7]) -> GateParams {
    GateParams {
        threshold_db: v[0] as f64,
        range_db: v[1] as f64,
        ratio: if v[2] >= 100.0 {
            f64::INFINITY
        } else {
            v[2] as f64
        },
        attack_ms: v[3] as f64,
        hold_ms: v[4] as f64,
        release_ms: v[5] as f64,
        hysteresis_db: v[6] as f64,
    }
}

impl Node for Gate {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        let v: [f32; 7] = std::array::from_fn(|i| PARAMS[i].default);
        self.dsp = Some(
            Dsp::new(cfg.output_channels, cfg.sample_rate, params(v)).map_err(|e| e.to_string())?,
        );
        self.ctl.clear();
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(d) = self.dsp.as_mut() {
            d.reset();
        }
        self.ctl.clear();
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let Some(dsp) = &mut self.dsp else {
            return ProcessStatus::Silent;
        };
        let sc = cx.input(1);
        let mut at = 0;
        while let Some(p) = self.ctl.next(cx, &mut at) {
            if let Some(v) = p.change {
                let _ = dsp.set_params(params(v));
                if p.first {
                    // Start closed at the script's range.
                    dsp.reset();
                }
            }
            let (x, n) = sub_in(cx.input(0), p.frames.clone());
            let key = (!sc.is_empty()).then(|| sub_in(sc, p.frames.clone()));
            let (mut o, m) = sub_out(cx.outputs, p.frames);
            dsp.process(&x[..n], key.as_ref().map(|(k, j)| &k[..*j]), &mut o[..m]);
            if p.flush {
                dsp.flush();
            }
        }
        let ctl = &self.ctl;
        exact_silence(cx, || dsp.is_at_rest() && ctl.settled(cx))
    }
}
