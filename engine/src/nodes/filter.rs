//! `highpass` / `lowpass`: Butterworth filters of 12, 24, 36 or 48 dB/octave (cascaded RBJ
//! sections, exactly −3.01 dB at `hz`). `hz` is automatable (control rate: see
//! [`super::control`]).

use super::control::{exact_silence, sub_in, sub_out, ControlParams};
use crate::dsp::biquad::{butterworth_q, Cascade, FilterKind, FilterParams};
use crate::graph::Session;
use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::{ParamDesc, Unit};
use crate::registry::{all_params, no_initial, Config, NodeKind, OptDefault, OptionDesc, Role};

/// `highpass` kind.
pub static HIGHPASS: NodeDesc = NodeDesc {
    kind: "highpass",
    inputs: &[IN_FOLLOW],
    params: &[ParamDesc::new(
        "hz",
        Unit::Hz,
        10.0,
        24000.0,
        80.0,
        "corner frequency in Hz (−3 dB)",
    )],
};

/// `lowpass` kind.
pub static LOWPASS: NodeDesc = NodeDesc {
    kind: "lowpass",
    inputs: &[IN_FOLLOW],
    params: &[ParamDesc::new(
        "hz",
        Unit::Hz,
        10.0,
        24000.0,
        12000.0,
        "corner frequency in Hz (−3 dB)",
    )],
};

const SLOPE: OptionDesc = OptionDesc::num(
    "slope_db",
    Unit::Db,
    12.0,
    48.0,
    OptDefault::Num(12.0),
    "steepness in dB/octave: 12, 24, 36 or 48",
);

fn check_slope(c: &Config, _: &Session) -> Result<(), String> {
    let s = c.num("slope_db");
    if [12.0, 24.0, 36.0, 48.0].contains(&s) {
        Ok(())
    } else {
        Err(format!(
            "slope_db = {} is not available; use 12, 24, 36 or 48 (dB/octave)",
            crate::param::trim(s)
        ))
    }
}

/// Registry entry: `strip:highpass { hz, slope_db }`.
pub static HIGHPASS_KIND: NodeKind = NodeKind {
    name: "highpass",
    doc: "Butterworth high-pass (−3.01 dB at `hz`, automatable).",
    role: Role::Insert,
    desc: &HIGHPASS,
    options: &[SLOPE],
    aliases: &[],
    check: check_slope,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| Ok(Box::new(Filter::new(true, c.num("slope_db") as u32))),
};

/// Registry entry: `strip:lowpass { hz, slope_db }`.
pub static LOWPASS_KIND: NodeKind = NodeKind {
    name: "lowpass",
    doc: "Butterworth low-pass (−3.01 dB at `hz`, automatable).",
    role: Role::Insert,
    desc: &LOWPASS,
    options: &[SLOPE],
    aliases: &[],
    check: check_slope,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| Ok(Box::new(Filter::new(false, c.num("slope_db") as u32))),
};

/// A Butterworth high- or low-pass.
#[derive(Clone, Debug)]
pub struct Filter {
    high: bool,
    order: usize,
    cascade: Option<Cascade>,
    ctl: ControlParams<1>,
    sample_rate: f64,
}

impl Filter {
    /// `slope_db` is 12, 24, 36 or 48 (dB per octave).
    pub fn new(high: bool, slope_db: u32) -> Self {
        Self {
            high,
            order: (slope_db / 6) as usize,
            cascade: None,
            ctl: ControlParams::default(),
            sample_rate: 48000.0,
        }
    }
}

impl Node for Filter {
    fn desc(&self) -> &'static NodeDesc {
        if self.high {
            &HIGHPASS
        } else {
            &LOWPASS
        }
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        self.cascade = Some(Cascade::new(
            cfg.output_channels,
            cfg.sample_rate,
            self.order / 2,
        ));
        self.sample_rate = cfg.sample_rate;
        self.ctl.clear();
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(c) = &mut self.cascade {
            c.reset();
        }
        self.ctl.clear();
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let Some(cascade) = &mut self.cascade else {
            return ProcessStatus::Silent;
        };
        let kind = if self.high {
            FilterKind::Highpass
        } else {
            FilterKind::Lowpass
        };
        let mut at = 0;
        while let Some(p) = self.ctl.next(cx, &mut at) {
            if let Some([hz]) = p.change {
                let first = p.first;
                let hz = hz.min((self.sample_rate * 0.499) as f32) as f64;
                for i in 0..self.order / 2 {
                    let q = butterworth_q(self.order, i);
                    let p = FilterParams {
                        kind,
                        hz,
                        q,
                        gain_db: 0.0,
                    };
                    let _ = if first {
                        cascade.set_params_immediate(i, p)
                    } else {
                        cascade.glide(i, p)
                    };
                }
            }
            let (i, n) = sub_in(cx.input(0), p.frames.clone());
            let (mut o, m) = sub_out(cx.outputs, p.frames);
            cascade.process(&i[..n], &mut o[..m]);
            if p.flush {
                cascade.flush();
            }
        }
        let ctl = &self.ctl;
        exact_silence(cx, || cascade.is_at_rest() && ctl.settled(cx))
    }
}
