//! `eq`: a multi-band parametric equaliser of RBJ cookbook biquads (up to [`MAX_BANDS`] bands,
//! each a bell, shelf, high/low-pass, notch, band-pass or all-pass). Band `n`'s parameters are
//! `b<n>_hz`, `b<n>_q` and `b<n>_gain_db`, all automatable: coefficients follow the smoothed
//! values at control rate (recomputed at every 16th frame of the song while a value moves, see
//! [`super::control`]), so sweeps do not zipper and the output does not depend on the block
//! size.

use super::control::{exact_silence, sub_in, sub_out, ControlParams};
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
    ctl: ControlParams<{ 3 * MAX_BANDS }>,
    sample_rate: f64,
}

impl Eq {
    /// An equaliser with one band per entry of `kinds` (at most [`MAX_BANDS`]).
    pub fn new(kinds: Vec<FilterKind>) -> Self {
        Self {
            kinds,
            cascade: None,
            ctl: ControlParams::default(),
            sample_rate: 48000.0,
        }
    }
}

/// Band `b`'s design from the parameter values `v` (3 per band), below Nyquist.
fn band(kind: FilterKind, v: &[f32], b: usize, sample_rate: f64) -> FilterParams {
    let nyquist = (sample_rate * 0.5 * 0.999) as f32;
    FilterParams {
        kind,
        hz: v[3 * b].min(nyquist) as f64,
        q: v[3 * b + 1] as f64,
        gain_db: v[3 * b + 2] as f64,
    }
}

impl Node for Eq {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        self.cascade = Some(Cascade::new(
            cfg.output_channels,
            cfg.sample_rate,
            self.kinds.len(),
        ));
        self.ctl.clear();
        self.sample_rate = cfg.sample_rate;
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
        let mut at = 0;
        let mut last = *self.ctl.current();
        while let Some(p) = self.ctl.next(cx, &mut at) {
            if let Some(v) = p.change {
                for (b, kind) in self.kinds.iter().enumerate() {
                    let r = 3 * b..3 * b + 3;
                    if p.first || v[r.clone()] != last[r] {
                        // Ranges were checked when the script set them; an invalid value keeps
                        // the old one.
                        let design = band(*kind, &v, b, self.sample_rate);
                        let _ = if p.first {
                            cascade.set_params_immediate(b, design)
                        } else {
                            cascade.glide(b, design)
                        };
                    }
                }
                last = v;
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
