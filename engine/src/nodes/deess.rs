//! `deess`: a split-band de-esser. A Linkwitz–Riley crossover at `hz` splits the signal; the
//! band above it is compressed, keyed by itself (so only sibilance above `hz` is turned down),
//! and added back to the untouched band below. With no gain reduction the two bands sum back to
//! the input's magnitude (an all-pass).

use super::control::{exact_silence, sub_in, ControlParams};
use crate::buffer::MAX_CHANNELS;
use crate::dsp::crossover::{Crossover, Slope};
use crate::dsp::dynamics::{Compressor, CompressorParams, Detection, Link};
use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::{ParamDesc, Unit};
use crate::registry::{all_params, no_check, no_initial, NodeKind, OptDefault, OptionDesc, Role};

/// Parameters (automatable).
pub const PARAMS: &[ParamDesc] = &[
    ParamDesc::new(
        "threshold_db",
        Unit::Db,
        -80.0,
        0.0,
        -30.0,
        "level of the band above hz where reduction starts, dBFS",
    ),
    ParamDesc::new(
        "ratio",
        Unit::Ratio,
        1.0,
        100.0,
        4.0,
        "compression ratio of the sibilant band",
    ),
];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "deess",
    inputs: &[IN_FOLLOW],
    params: PARAMS,
};

/// Registry entry: `strip:deess { hz, threshold_db, ratio }`.
pub static KIND: NodeKind = NodeKind {
    name: "deess",
    doc: "Split-band de-esser: the band above `hz` is compressed, the rest is untouched.",
    role: Role::Insert,
    desc: &DESC,
    options: &[OptionDesc::num(
        "hz",
        Unit::Hz,
        2000.0,
        24000.0,
        OptDefault::Num(6000.0),
        "lower edge of the sibilance band",
    )
    .below_nyquist(0.9)],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| Ok(Box::new(Deess::new(c.num("hz")))),
};

/// The de-esser node.
#[derive(Clone, Debug)]
pub struct Deess {
    hz: f64,
    split: Option<Crossover>,
    comp: Option<Compressor>,
    bands: Vec<Vec<f32>>,
    channels: usize,
    ctl: ControlParams<2>,
}

impl Deess {
    /// Splits at `hz` (the lower edge of the sibilance, typically 5–8 kHz).
    pub fn new(hz: f64) -> Self {
        Self {
            hz,
            split: None,
            comp: None,
            bands: Vec::new(),
            channels: 0,
            ctl: ControlParams::default(),
        }
    }

    fn params(v: [f32; 2]) -> CompressorParams {
        CompressorParams {
            threshold_db: v[0] as f64,
            ratio: v[1] as f64,
            knee_db: 3.0,
            attack_ms: 0.5,
            release_ms: 40.0,
            detection: Detection::Peak,
            link: Link::Max,
            ..CompressorParams::default()
        }
    }
}

impl Node for Deess {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        let ch = cfg.output_channels;
        self.channels = ch;
        self.split = Some(
            Crossover::new(cfg.sample_rate, ch, &[self.hz], Slope::Lr4)
                .map_err(|e| e.to_string())?,
        );
        self.comp = Some(
            Compressor::new(ch, cfg.sample_rate, Self::params([-30.0, 4.0]))
                .map_err(|e| e.to_string())?,
        );
        self.bands = vec![vec![0.0; cfg.max_block]; 2 * ch];
        self.ctl.clear();
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(s) = &mut self.split {
            s.reset();
        }
        if let Some(c) = &mut self.comp {
            c.reset();
        }
        self.ctl.clear();
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let (Some(split), Some(comp)) = (&mut self.split, &mut self.comp) else {
            return ProcessStatus::Silent;
        };
        let ch = self.channels;
        let mut at = 0;
        while let Some(p) = self.ctl.next(cx, &mut at) {
            if let Some(v) = p.change {
                let _ = comp.set_params(Self::params(v));
            }
            let r = p.frames.clone();
            let mut views: [&mut [f32]; 2 * MAX_CHANNELS] = Default::default();
            for (v, b) in views.iter_mut().zip(self.bands.iter_mut()) {
                *v = &mut b[r.clone()];
            }
            let views = &mut views[..2 * ch];
            let (x, n) = sub_in(cx.input(0), r.clone());
            split.process(&x[..n], views);
            let (low, high) = views.split_at_mut(ch);
            comp.process_in_place(high, None);
            for (c, o) in cx.outputs.iter_mut().enumerate() {
                for ((y, a), b) in o[r.clone()].iter_mut().zip(&*low[c]).zip(&*high[c]) {
                    *y = a + b;
                }
            }
            if p.flush {
                split.flush();
                comp.flush();
            }
        }
        let ctl = &self.ctl;
        exact_silence(cx, || {
            split.is_at_rest() && comp.is_at_rest() && ctl.settled(cx)
        })
    }
}
