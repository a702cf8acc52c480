//! `eq`: a multi-band parametric equaliser of RBJ cookbook biquads (up to [`MAX_BANDS`] bands,
//! each a bell, shelf, high/low-pass, notch, band-pass or all-pass). Band `n`'s parameters are
//! `b<n>_hz`, `b<n>_q` and `b<n>_gain_db`, all automatable: coefficients follow the smoothed
//! values (recomputed every 16 frames and interpolated in between), so sweeps do not zipper.

use crate::dsp::biquad::{Cascade, FilterKind, FilterParams};
use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::{ParamDesc, Unit};
use crate::registry::{no_initial, NodeKind, OptDefault, OptKind, OptionDesc, Role};

/// Most bands one `eq` holds.
pub const MAX_BANDS: usize = 8;

macro_rules! band_params {
    ($($n:literal),*) => {
        &[$(
            ParamDesc::new(concat!("b", $n, "_hz"), Unit::Hz, 10.0, 24000.0, 1000.0, "band centre or corner frequency in Hz"),
            ParamDesc::new(concat!("b", $n, "_q"), Unit::Linear, 0.025, 40.0, std::f32::consts::FRAC_1_SQRT_2, "band Q (shelves: α = sin w0 / 2Q)").with_smoothing(crate::param::Smoothing::Log),
            ParamDesc::new(concat!("b", $n, "_gain_db"), Unit::Db, -48.0, 48.0, 0.0, "band gain in dB (bell and shelves)"),
        )*]
    };
}

/// Kind description: 3 parameters per band.
pub static DESC: NodeDesc = NodeDesc {
    kind: "eq",
    inputs: &[IN_FOLLOW],
    params: band_params!(1, 2, 3, 4, 5, 6, 7, 8),
};

/// Band shapes by name, in the order of [`band_kind`].
pub const BAND_TYPES: &[&str] = &[
    "bell",
    "low_shelf",
    "high_shelf",
    "highpass",
    "lowpass",
    "notch",
    "bandpass",
    "allpass",
];

/// Registry entry: `strip:eq { mix.bell { hz, q, gain_db }, ... }`.
pub static KIND: NodeKind = NodeKind {
    name: "eq",
    doc: "Parametric EQ of up to 8 RBJ-cookbook bands (bell, shelves, high/low-pass, notch, band-pass, all-pass); band n has `b<n>_hz`, `b<n>_q`, `b<n>_gain_db`, all automatable.",
    role: Role::Insert,
    desc: &DESC,
    options: &[OptionDesc {
        key: "bands",
        kind: OptKind::Words {
            choices: BAND_TYPES,
            max_len: MAX_BANDS,
        },
        default: OptDefault::None,
        doc: "the shape of each band, in order (set by the band tables: mix.bell{...}, ...)",
        user: true,
    }],
    aliases: &[],
    check: |c, _| {
        if c.words("bands").is_empty() {
            Err("needs at least one band, e.g. :eq { mix.bell { hz = 1000, q = 1, gain_db = 3 } }".into())
        } else {
            Ok(())
        }
    },
    has_param: |c, i| i / 3 < c.words("bands").len(),
    initial_params: no_initial,
    build: |c| {
        let kinds = c
            .words("bands")
            .iter()
            .map(|w| band_kind(w).ok_or_else(|| format!("unknown band shape \"{w}\"")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(Eq::new(kinds)))
    },
};

/// The shape of each band, by name as used in Lua (`mix.bell`, `mix.low_shelf`, …).
pub fn band_kind(name: &str) -> Option<FilterKind> {
    Some(match name {
        "bell" => FilterKind::Bell,
        "low_shelf" => FilterKind::LowShelf,
        "high_shelf" => FilterKind::HighShelf,
        "highpass" => FilterKind::Highpass,
        "lowpass" => FilterKind::Lowpass,
        "notch" => FilterKind::Notch,
        "bandpass" => FilterKind::Bandpass,
        "allpass" => FilterKind::Allpass,
        _ => return None,
    })
}

/// The equaliser.
#[derive(Clone, Debug)]
pub struct Eq {
    kinds: Vec<FilterKind>,
    cascade: Option<Cascade>,
    current: Vec<[f32; 3]>,
    sample_rate: f64,
}

impl Eq {
    /// An equaliser with one band per entry of `kinds` (at most [`MAX_BANDS`]).
    pub fn new(kinds: Vec<FilterKind>) -> Self {
        Self {
            kinds,
            cascade: None,
            current: Vec::new(),
            sample_rate: 48000.0,
        }
    }
}

impl Node for Eq {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, cfg: &ProcessConfig) {
        let mut c = Cascade::new(cfg.output_channels, cfg.sample_rate, self.kinds.len());
        // Coefficient glides no longer than a block: the parameter smoothing does the rest.
        c.set_smoothing_ms(1000.0 * cfg.max_block as f64 / cfg.sample_rate);
        self.cascade = Some(c);
        self.current = vec![[f32::NAN; 3]; self.kinds.len()];
        self.sample_rate = cfg.sample_rate;
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
        let nyquist = (self.sample_rate * 0.5 * 0.999) as f32;
        for (b, kind) in self.kinds.iter().enumerate() {
            let v = [
                cx.param(3 * b).last().min(nyquist),
                cx.param(3 * b + 1).last(),
                cx.param(3 * b + 2).last(),
            ];
            if v != self.current[b] {
                let first = self.current[b][0].is_nan();
                self.current[b] = v;
                let p = FilterParams {
                    kind: *kind,
                    hz: v[0] as f64,
                    q: v[1] as f64,
                    gain_db: v[2] as f64,
                };
                // Ranges were checked when the script set them; an invalid value keeps the old.
                let _ = if first {
                    cascade.set_params_immediate(b, p)
                } else {
                    cascade.set_params(b, p)
                };
            }
        }
        cascade.process(cx.input(0), cx.outputs);
        if cx.input_silent && !cascade.is_ramping() {
            // Let the filter memories ring out for a block, then report silence.
            let quiet = cx.outputs.iter().all(|o| o.iter().all(|x| x.abs() < 1e-9));
            if quiet {
                return ProcessStatus::Silent;
            }
        }
        ProcessStatus::Continue
    }
}
