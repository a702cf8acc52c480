//! `highpass` / `lowpass`: Butterworth filters of 12, 24, 36 or 48 dB/octave (cascaded RBJ
//! sections, exactly −3.01 dB at `hz`). `hz` is automatable.

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
    hz: f32,
    sample_rate: f64,
}

impl Filter {
    /// `slope_db` is 12, 24, 36 or 48 (dB per octave).
    pub fn new(high: bool, slope_db: u32) -> Self {
        Self {
            high,
            order: (slope_db / 6) as usize,
            cascade: None,
            hz: f32::NAN,
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

    fn prepare(&mut self, cfg: &ProcessConfig) {
        let mut c = Cascade::new(cfg.output_channels, cfg.sample_rate, self.order / 2);
        c.set_smoothing_ms(1000.0 * cfg.max_block as f64 / cfg.sample_rate);
        self.cascade = Some(c);
        self.sample_rate = cfg.sample_rate;
        self.hz = f32::NAN;
    }

    fn reset(&mut self) {
        if let Some(c) = &mut self.cascade {
            c.reset();
        }
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let Some(cascade) = &mut self.cascade else {
            return ProcessStatus::Silent;
        };
        let hz = cx.param(0).last().min((self.sample_rate * 0.499) as f32);
        if hz != self.hz {
            let kind = if self.high {
                FilterKind::Highpass
            } else {
                FilterKind::Lowpass
            };
            let first = self.hz.is_nan();
            for i in 0..self.order / 2 {
                let p = FilterParams {
                    kind,
                    hz: hz as f64,
                    q: butterworth_q(self.order, i),
                    gain_db: 0.0,
                };
                let _ = if first {
                    cascade.set_params_immediate(i, p)
                } else {
                    cascade.set_params(i, p)
                };
            }
            self.hz = hz;
        }
        cascade.process(cx.input(0), cx.outputs);
        if cx.input_silent && cx.outputs.iter().all(|o| o.iter().all(|x| x.abs() < 1e-9)) {
            return ProcessStatus::Silent;
        }
        ProcessStatus::Continue
    }
}
