//! `multiband`: a multiband compressor. Linkwitz–Riley crossovers (with all-pass compensation)
//! split the signal into 2–4 bands that sum back flat (±0.01 dB) when no band compresses; each
//! band has its own compressor (`b<n>_threshold_db`, `b<n>_ratio`, automatable) with shared
//! attack and release.

use super::control::{exact_silence, sub_in, ControlParams};
use crate::buffer::MAX_CHANNELS;
use crate::dsp::crossover::{Crossover, Slope};
use crate::dsp::dynamics::{Compressor, CompressorParams};
use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::{ParamDesc, Unit};
use crate::registry::{
    no_check, no_initial, Config, NodeKind, OptDefault, OptKind, OptionDesc, Role,
};

/// Most bands.
pub const MAX_BANDS: usize = 4;

macro_rules! band {
    ($n:literal) => {
        [
            ParamDesc::new(
                concat!("b", $n, "_threshold_db"),
                Unit::Db,
                -80.0,
                0.0,
                -20.0,
                "band threshold, dBFS",
            ),
            ParamDesc::new(
                concat!("b", $n, "_ratio"),
                Unit::Ratio,
                1.0,
                100.0,
                1.0,
                "band ratio (1 = no compression)",
            ),
        ]
    };
}

const fn params() -> [ParamDesc; 10] {
    let [a, b] = band!(1);
    let [c, d] = band!(2);
    let [e, f] = band!(3);
    let [g, h] = band!(4);
    [
        a,
        b,
        c,
        d,
        e,
        f,
        g,
        h,
        ParamDesc::new(
            "attack_ms",
            Unit::Ms,
            0.0,
            2000.0,
            10.0,
            "attack time constant, ms",
        ),
        ParamDesc::new(
            "release_ms",
            Unit::Ms,
            0.0,
            10000.0,
            150.0,
            "release time constant, ms",
        ),
    ]
}

static PARAMS: [ParamDesc; 10] = params();

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "multiband",
    inputs: &[IN_FOLLOW],
    params: &PARAMS,
};

/// Registry entry: `strip:multiband { crossovers_hz, b1_threshold_db, b1_ratio, ..., attack_ms, release_ms }`.
pub static KIND: NodeKind = NodeKind {
    name: "multiband",
    doc: "A 2–4 band compressor on Linkwitz–Riley crossovers that sum back flat when nothing compresses; band n has `b<n>_threshold_db` and `b<n>_ratio`.",
    role: Role::Insert,
    desc: &DESC,
    options: &[OptionDesc {
        key: "crossovers_hz",
        kind: OptKind::List {
            unit: Unit::Hz,
            min: 10.0,
            max: 24000.0,
            nyquist: Some(0.9),
            min_len: 1,
            max_len: MAX_BANDS - 1,
            rising: true,
        },
        default: OptDefault::List(&[200.0, 2000.0, 8000.0]),
        doc: "crossover frequencies, rising: 1 to 3 of them make 2 to 4 bands",
        user: true,
    }],
    aliases: &[],
    check: no_check,
    has_param: |c, i| i >= 2 * MAX_BANDS || i / 2 <= c.list("crossovers_hz").len(),
    initial_params: no_initial,
    build: |c: &Config| Ok(Box::new(Multiband::new(c.list("crossovers_hz").to_vec()))),
};

/// The multiband compressor node.
#[derive(Clone, Debug)]
pub struct Multiband {
    crossovers_hz: Vec<f64>,
    split: Option<Crossover>,
    comps: Vec<Compressor>,
    bands: Vec<Vec<f32>>,
    channels: usize,
    ctl: ControlParams<10>,
}

impl Multiband {
    /// Bands split at `crossovers_hz` (ascending, 1–3 frequencies).
    pub fn new(crossovers_hz: Vec<f64>) -> Self {
        Self {
            crossovers_hz,
            split: None,
            comps: Vec::new(),
            bands: Vec::new(),
            channels: 0,
            ctl: ControlParams::default(),
        }
    }
}

impl Node for Multiband {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        let ch = cfg.output_channels;
        let nb = self.crossovers_hz.len() + 1;
        self.channels = ch;
        self.split = Some(
            Crossover::new(cfg.sample_rate, ch, &self.crossovers_hz, Slope::Lr4)
                .map_err(|e| e.to_string())?,
        );
        self.comps = (0..nb)
            .map(|_| {
                Compressor::new(
                    ch,
                    cfg.sample_rate,
                    CompressorParams {
                        ratio: 1.0,
                        ..Default::default()
                    },
                )
                .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        self.bands = vec![vec![0.0; cfg.max_block]; nb * ch];
        self.ctl.clear();
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(s) = &mut self.split {
            s.reset();
        }
        for c in &mut self.comps {
            c.reset();
        }
        self.ctl.clear();
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let Some(split) = &mut self.split else {
            return ProcessStatus::Silent;
        };
        let ch = self.channels;
        let nb = self.comps.len();
        let mut at = 0;
        while let Some(p) = self.ctl.next(cx, &mut at) {
            if let Some(v) = p.change {
                for (b, c) in self.comps.iter_mut().enumerate() {
                    let _ = c.set_params(CompressorParams {
                        threshold_db: v[2 * b] as f64,
                        ratio: v[2 * b + 1] as f64,
                        attack_ms: v[8] as f64,
                        release_ms: v[9] as f64,
                        ..Default::default()
                    });
                }
            }
            let r = p.frames.clone();
            let mut views: [&mut [f32]; MAX_BANDS * MAX_CHANNELS] = Default::default();
            for (v, b) in views.iter_mut().zip(self.bands.iter_mut()) {
                *v = &mut b[r.clone()];
            }
            let views = &mut views[..nb * ch];
            let (x, n) = sub_in(cx.input(0), r.clone());
            split.process(&x[..n], views);
            for (band, comp) in views.chunks_mut(ch).zip(self.comps.iter_mut()) {
                comp.process_in_place(band, None);
                if p.flush {
                    comp.flush();
                }
            }
            for (c, o) in cx.outputs.iter_mut().enumerate() {
                let o = &mut o[r.clone()];
                o.fill(0.0);
                for band in views.chunks(ch) {
                    for (y, x) in o.iter_mut().zip(band[c].iter()) {
                        *y += x;
                    }
                }
            }
            if p.flush {
                split.flush();
            }
        }
        let (ctl, comps) = (&self.ctl, &self.comps);
        exact_silence(cx, || {
            split.is_at_rest() && comps.iter().all(Compressor::is_at_rest) && ctl.settled(cx)
        })
    }
}
