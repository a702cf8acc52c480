//! Linkwitz–Riley crossovers: 2, 3 or 4 bands that sum back to an all-pass.
//!
//! * An LR crossover of order 2n is a Butterworth filter of order n applied twice: LR4 =
//!   two 2nd-order Butterworth sections (Q = 1/√2) in cascade, LR8 = the 4th-order Butterworth
//!   pair (Q = 0.5412, 1.3066) applied twice. In the analogue domain `LP + HP = B(−s)/B(s)`, an
//!   all-pass whose sections are the Butterworth sections turned into all-passes (LR4: one
//!   2nd-order all-pass with Q = 1/√2). The bilinear transform (prewarped at the crossover
//!   frequency, as in the RBJ cookbook) is a substitution of variables, so the identity holds
//!   exactly for the digital filters too.
//! * Bands (split frequencies f0 < f1 < f2): band k is `HP(f0)…HP(f(k−1)) · LP(fk)` and the top
//!   band is `HP(f0)…HP(f(last))`. Summing from the top, `LP(fk) + HP(fk) = AP(fk)`, so each band
//!   below split j must also pass through `AP(fj)` ("phase compensation"): band k gets
//!   `AP(f(k+1))…AP(f(last))`. Then every band carries the same all-pass phase and the sum is
//!   `AP(f0)·AP(f1)·AP(f2)`: flat magnitude (measured within 0.0001 dB, see the tests).
//! * The filters are transposed direct form II biquads ([`Coefs`], [`BiquadState`]) with `f64`
//!   coefficients and state and `f32` samples. `f32` state would amplify rounding by 1/|A(e^jω)|
//!   (tens of dB for a low crossover) and spoil the flat sum; `f64` costs little here.
//!   [`Crossover::flush`] sets states below 1e-30 to zero, so a decaying tail never turns
//!   denormal and ends in exact zeros; non-finite states (after a NaN input) are zeroed too. The
//!   filters never flush on their own: the node calls it at fixed frames of the song, so the
//!   output does not depend on the block size.
//! * No latency (IIR); the price is the all-pass phase shift around each crossover frequency.
//!
//! [`crate::dsp::stereo::MonoBelow`]'s mono-maker reuses [`LrDesign`] and [`BiquadState`].
//!
//! Thread: any. Allocation: only in [`Crossover::new`]. No locks, no panics in `process`.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Most split frequencies a [`Crossover`] takes (so at most 4 bands).
pub const MAX_SPLITS: usize = 3;
/// Most channels a [`Crossover`] takes (a sanity bound for validation, not a buffer size).
pub const MAX_CHANNELS: usize = 64;

pub use super::biquad::ParamError;

use super::biquad::check;

/// Checks a sample rate (finite, > 0) and one crossover frequency (0 < hz < sample_rate/2).
pub fn validate_hz(sample_rate: f64, hz: f64) -> Result<(), ParamError> {
    super::biquad::check_sample_rate(sample_rate)?;
    check(
        hz > 0.0 && hz < 0.5 * sample_rate,
        "hz",
        hz,
        "0 < hz < sample_rate/2 (Nyquist)",
    )
}

/// Crossover steepness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Slope {
    /// Linkwitz–Riley 4th order, 24 dB/octave, −6.02 dB per band at the crossover frequency.
    #[default]
    Lr4,
    /// Linkwitz–Riley 8th order, 48 dB/octave, −6.02 dB per band at the crossover frequency.
    Lr8,
}

impl Slope {
    /// Biquad sections in each low-pass or high-pass (2 for LR4, 4 for LR8).
    pub fn sections(self) -> usize {
        match self {
            Slope::Lr4 => 2,
            Slope::Lr8 => 4,
        }
    }

    /// 2nd-order all-pass sections equal to `LP + HP` (1 for LR4, 2 for LR8).
    pub fn allpass_sections(self) -> usize {
        self.sections() / 2
    }

    /// Q of the Butterworth sections, one per all-pass section.
    fn qs(self) -> [f64; 2] {
        match self {
            Slope::Lr4 => [FRAC_1_SQRT_2, FRAC_1_SQRT_2],
            // 1 / (2 cos θ), θ = π/8 and 3π/8.
            Slope::Lr8 => [0.541_196_100_146_197, 1.306_562_964_876_376_5],
        }
    }
}

/// Normalised biquad coefficients (a0 = 1): `H(z) = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coefs {
    /// Feed-forward 0.
    pub b0: f64,
    /// Feed-forward 1.
    pub b1: f64,
    /// Feed-forward 2.
    pub b2: f64,
    /// Feedback 1.
    pub a1: f64,
    /// Feedback 2.
    pub a2: f64,
}

/// RBJ cookbook shapes used by the crossovers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Lowpass,
    Highpass,
    Allpass,
}

impl Coefs {
    /// The pass-through filter.
    pub const IDENTITY: Coefs = Coefs {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        a1: 0.0,
        a2: 0.0,
    };

    fn rbj(shape: Shape, sample_rate: f64, hz: f64, q: f64) -> Self {
        let w0 = 2.0 * PI * hz / sample_rate;
        let (s, c) = w0.sin_cos();
        let alpha = s / (2.0 * q);
        let (b0, b1, b2) = match shape {
            Shape::Lowpass => ((1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0),
            Shape::Highpass => ((1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0),
            Shape::Allpass => (1.0 - alpha, -2.0 * c, 1.0 + alpha),
        };
        let inv = 1.0 / (1.0 + alpha);
        Self {
            b0: b0 * inv,
            b1: b1 * inv,
            b2: b2 * inv,
            a1: -2.0 * c * inv,
            a2: (1.0 - alpha) * inv,
        }
    }

    /// RBJ cookbook 2nd-order low-pass (bilinear, prewarped at `hz`). No validation: see
    /// [`validate_hz`].
    pub fn lowpass(sample_rate: f64, hz: f64, q: f64) -> Self {
        Self::rbj(Shape::Lowpass, sample_rate, hz, q)
    }

    /// RBJ cookbook 2nd-order high-pass.
    pub fn highpass(sample_rate: f64, hz: f64, q: f64) -> Self {
        Self::rbj(Shape::Highpass, sample_rate, hz, q)
    }

    /// RBJ cookbook 2nd-order all-pass (0 dB everywhere, −180° at `hz`).
    pub fn allpass(sample_rate: f64, hz: f64, q: f64) -> Self {
        Self::rbj(Shape::Allpass, sample_rate, hz, q)
    }

    /// Complex response `(re, im)` at `hz`.
    pub fn response(&self, sample_rate: f64, hz: f64) -> (f64, f64) {
        let w = 2.0 * PI * hz / sample_rate;
        let (s1, c1) = w.sin_cos();
        let (s2, c2) = (2.0 * w).sin_cos();
        let (nr, ni) = (
            self.b0 + self.b1 * c1 + self.b2 * c2,
            -(self.b1 * s1 + self.b2 * s2),
        );
        let (dr, di) = (
            1.0 + self.a1 * c1 + self.a2 * c2,
            -(self.a1 * s1 + self.a2 * s2),
        );
        let d = dr * dr + di * di;
        ((nr * dr + ni * di) / d, (ni * dr - nr * di) / d)
    }
}

/// State of one transposed direct form II biquad (`f64`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BiquadState {
    s1: f64,
    s2: f64,
}

impl BiquadState {
    /// One sample: `y = b0·x + s1; s1 = b1·x − a1·y + s2; s2 = b2·x − a2·y`.
    #[inline(always)]
    pub fn tick(&mut self, c: &Coefs, x: f64) -> f64 {
        let y = c.b0 * x + self.s1;
        self.s1 = c.b1 * x - c.a1 * y + self.s2;
        self.s2 = c.b2 * x - c.a2 * y;
        y
    }

    /// Sets states below 1e-30 to zero (keeps tails out of denormals), and non-finite states
    /// too (a NaN or infinite input then costs one flush period, not the filter). Call it at
    /// fixed frames of the stream, not at moving block edges.
    #[inline]
    pub fn flush(&mut self) {
        for s in [&mut self.s1, &mut self.s2] {
            if !(s.abs() >= 1e-30 && s.is_finite()) {
                *s = 0.0;
            }
        }
    }

    /// Whether both states are exactly zero.
    #[inline]
    pub fn is_zero(&self) -> bool {
        self.s1 == 0.0 && self.s2 == 0.0
    }
}

/// Runs `buf` in place through the cascade `coefs[i]` with states `states[i]` (equal lengths;
/// no flush).
#[inline]
pub fn run_cascade(coefs: &[Coefs], states: &mut [BiquadState], buf: &mut [f32]) {
    for x in buf.iter_mut() {
        let mut v = *x as f64;
        for (c, s) in coefs.iter().zip(states.iter_mut()) {
            v = s.tick(c, v);
        }
        *x = v as f32;
    }
}

/// The sections of one Linkwitz–Riley split: `lp[..n]`, `hp[..n]` and the equivalent all-pass
/// `ap[..n/2]`, with `n = slope.sections()` (unused entries are [`Coefs::IDENTITY`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrDesign {
    /// Low-pass sections.
    pub lp: [Coefs; 4],
    /// High-pass sections.
    pub hp: [Coefs; 4],
    /// All-pass sections equal to `LP + HP`.
    pub ap: [Coefs; 2],
    /// Sections used in `lp` and `hp`.
    pub sections: usize,
    /// Sections used in `ap`.
    pub allpass_sections: usize,
}

impl LrDesign {
    /// Designs a split at `hz`. No validation: see [`validate_hz`].
    pub fn new(slope: Slope, sample_rate: f64, hz: f64) -> Self {
        let n = slope.sections();
        let na = slope.allpass_sections();
        let qs = slope.qs();
        let mut d = Self {
            lp: [Coefs::IDENTITY; 4],
            hp: [Coefs::IDENTITY; 4],
            ap: [Coefs::IDENTITY; 2],
            sections: n,
            allpass_sections: na,
        };
        for i in 0..n {
            // Each Butterworth section appears twice (the LR square).
            let q = qs[i % na];
            d.lp[i] = Coefs::lowpass(sample_rate, hz, q);
            d.hp[i] = Coefs::highpass(sample_rate, hz, q);
        }
        for (i, q) in qs.iter().take(na).enumerate() {
            d.ap[i] = Coefs::allpass(sample_rate, hz, *q);
        }
        d
    }

    /// Used low-pass sections.
    pub fn lowpass(&self) -> &[Coefs] {
        &self.lp[..self.sections]
    }

    /// Used high-pass sections.
    pub fn highpass(&self) -> &[Coefs] {
        &self.hp[..self.sections]
    }

    /// Used all-pass sections.
    pub fn allpass(&self) -> &[Coefs] {
        &self.ap[..self.allpass_sections]
    }
}

/// Filter memories of one channel: per split, the LP and HP cascades; per band, the
/// compensation all-passes of every higher split.
#[derive(Clone, Copy, Debug, Default)]
struct ChannelState {
    lp: [[BiquadState; 4]; MAX_SPLITS],
    hp: [[BiquadState; 4]; MAX_SPLITS],
    /// `ap[band][split]`.
    ap: [[[BiquadState; 2]; MAX_SPLITS]; MAX_SPLITS],
}

/// A multichannel Linkwitz–Riley crossover with 2, 3 or 4 bands.
#[derive(Clone, Debug)]
pub struct Crossover {
    sample_rate: f64,
    channels: usize,
    slope: Slope,
    splits: usize,
    hz: [f64; MAX_SPLITS],
    design: [LrDesign; MAX_SPLITS],
    state: Vec<ChannelState>,
}

impl Crossover {
    /// Checks the settings of [`Crossover::new`]: `sample_rate > 0`, `1..=`[`MAX_CHANNELS`]
    /// channels, 1..=[`MAX_SPLITS`] frequencies, each `0 < hz < sample_rate/2`, strictly rising.
    pub fn validate(sample_rate: f64, channels: usize, hz: &[f64]) -> Result<(), ParamError> {
        super::biquad::check_sample_rate(sample_rate)?;
        let ch_range = "1..=64 channels";
        check(
            (1..=MAX_CHANNELS).contains(&channels),
            "channels",
            channels as f64,
            ch_range,
        )?;
        let n = hz.len() as f64;
        check(
            (1..=MAX_SPLITS).contains(&hz.len()),
            "hz",
            n,
            "1..=3 crossover frequencies (2..=4 bands)",
        )?;
        let mut prev = 0.0;
        for &f in hz {
            validate_hz(sample_rate, f)?;
            check(
                f > prev,
                "hz",
                f,
                "strictly above the previous crossover frequency",
            )?;
            prev = f;
        }
        Ok(())
    }

    /// Allocates the filter state for `channels` channels and `hz.len() + 1` bands split at `hz`
    /// (ascending). Control thread.
    pub fn new(
        sample_rate: f64,
        channels: usize,
        hz: &[f64],
        slope: Slope,
    ) -> Result<Self, ParamError> {
        Self::validate(sample_rate, channels, hz)?;
        let mut x = Self {
            sample_rate,
            channels,
            slope,
            splits: hz.len(),
            hz: [0.0; MAX_SPLITS],
            design: [LrDesign::new(slope, sample_rate, 1000.0); MAX_SPLITS],
            state: vec![ChannelState::default(); channels],
        };
        x.set_frequencies(hz)?;
        Ok(x)
    }

    /// Moves the crossover frequencies (same count as at construction). Coefficients change at
    /// once (no smoothing) and the filter memories are kept. On error nothing changes. Never
    /// allocates.
    pub fn set_frequencies(&mut self, hz: &[f64]) -> Result<(), ParamError> {
        Self::validate(self.sample_rate, self.channels, hz)?;
        let expected = "the band count fixed at construction (hz.len() + 1 bands)";
        check(hz.len() == self.splits, "hz", hz.len() as f64, expected)?;
        for (k, &f) in hz.iter().enumerate() {
            self.hz[k] = f;
            self.design[k] = LrDesign::new(self.slope, self.sample_rate, f);
        }
        Ok(())
    }

    /// Number of bands (split frequencies + 1).
    pub fn bands(&self) -> usize {
        self.splits + 1
    }

    /// Channels per band.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Current split frequencies in Hz.
    pub fn frequencies(&self) -> &[f64] {
        &self.hz[..self.splits]
    }

    /// Slope chosen at construction.
    pub fn slope(&self) -> Slope {
        self.slope
    }

    /// Latency in frames: always 0 (IIR; the bands are phase-shifted, not delayed).
    pub fn latency_frames(&self) -> usize {
        0
    }

    /// Every filter state of every channel.
    fn states(&mut self) -> impl Iterator<Item = &mut BiquadState> {
        self.state.iter_mut().flat_map(|s| {
            let ChannelState { lp, hp, ap } = s;
            lp.iter_mut()
                .chain(hp.iter_mut())
                .flatten()
                .chain(ap.iter_mut().flatten().flatten())
        })
    }

    /// Flushes tiny and non-finite states to zero ([`BiquadState::flush`]). Call it at fixed
    /// frames of the stream. Never allocates.
    pub fn flush(&mut self) {
        self.states().for_each(BiquadState::flush);
    }

    /// Whether every filter memory is exactly zero (splitting silence then changes nothing).
    pub fn is_at_rest(&self) -> bool {
        self.state.iter().all(|s| {
            s.lp.iter()
                .chain(s.hp.iter())
                .flatten()
                .chain(s.ap.iter().flatten().flatten())
                .all(BiquadState::is_zero)
        })
    }

    /// Clears every filter memory. Never allocates.
    pub fn reset(&mut self) {
        self.state
            .iter_mut()
            .for_each(|s| *s = ChannelState::default());
    }

    /// Splits `input` (one slice per channel) into bands.
    ///
    /// `bands` is band-major: `bands[band * channels + ch]`, so `bands.chunks_mut(channels)`
    /// yields one multichannel buffer per band, lowest band first. Frames processed = the
    /// shortest slice. If `input.len() < channels` or `bands.len() < bands() * channels`,
    /// nothing is written. Audio thread: no allocation, no panic.
    pub fn process(&mut self, input: &[&[f32]], bands: &mut [&mut [f32]]) {
        let (chans, nb) = (self.channels, self.splits + 1);
        if input.len() < chans || bands.len() < nb * chans {
            return;
        }
        let frames = input[..chans]
            .iter()
            .map(|s| s.len())
            .chain(bands[..nb * chans].iter().map(|s| s.len()))
            .min()
            .unwrap_or(0);
        for ch in 0..chans {
            let st = &mut self.state[ch];
            // The top band's buffer holds the running high-pass remainder.
            let (low, top) = bands.split_at_mut(self.splits * chans);
            let rem = &mut top[ch][..frames];
            rem.copy_from_slice(&input[ch][..frames]);
            for k in 0..self.splits {
                let d = &self.design[k];
                let band = &mut low[k * chans + ch][..frames];
                band.copy_from_slice(rem);
                run_cascade(d.lowpass(), &mut st.lp[k][..d.sections], band);
                run_cascade(d.highpass(), &mut st.hp[k][..d.sections], rem);
                for j in k + 1..self.splits {
                    let dj = &self.design[j];
                    run_cascade(dj.allpass(), &mut st.ap[k][j][..dj.allpass_sections], band);
                }
            }
        }
    }

    /// Analytic complex response `(re, im)` of band `band` at `hz` (what [`Crossover::process`]
    /// implements); `(0, 0)` for a band that does not exist.
    pub fn band_response(&self, band: usize, hz: f64) -> (f64, f64) {
        if band > self.splits {
            return (0.0, 0.0);
        }
        let fs = self.sample_rate;
        let mut acc = (1.0, 0.0);
        let mut mul = |c: &Coefs| {
            let (r, i) = c.response(fs, hz);
            acc = (acc.0 * r - acc.1 * i, acc.0 * i + acc.1 * r);
        };
        for (k, d) in self.design[..self.splits].iter().enumerate() {
            let sections = match k.cmp(&band) {
                std::cmp::Ordering::Less => d.highpass(),
                std::cmp::Ordering::Equal => d.lowpass(),
                std::cmp::Ordering::Greater => d.allpass(),
            };
            sections.iter().for_each(&mut mul);
        }
        acc
    }
}

#[cfg(test)]
#[path = "crossover_tests.rs"]
mod tests;
