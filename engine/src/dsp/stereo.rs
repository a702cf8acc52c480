//! Stereo image tools: mid/side width and a mono-maker for the low end.
//!
//! * [`Width`]: `M = (L+R)/2`, `S = (L−R)/2`, `L' = M + w·S`, `R' = M − w·S`. `w = 0` gives mono
//!   (`L' = R' = (L+R)/2`), `w = 1` is a bit-exact copy (a special case, since `M + S` is not
//!   always exactly `L` in floating point) and the side energy scales as `w²`. No equal-loudness
//!   compensation.
//! * [`MonoBelow`]: a Linkwitz–Riley split at `hz`; below it L and R are summed to mono, above it
//!   they pass unchanged. Summing the low bands and keeping the high bands is the same as
//!   `M' = AP(M)` and `S' = HP(S)` (the LR identity `LP + HP = AP`, see
//!   [`crate::dsp::crossover`]), which is what runs: one all-pass on the mid and one high-pass
//!   cascade on the side instead of two full splits. A mono input therefore passes with flat
//!   magnitude (all-pass phase only), and the side is attenuated by the high-pass: with LR4 the
//!   side is −6 dB at `hz` and −30.7 dB an octave and a quarter below it (50 Hz for
//!   `hz` = 120); with LR8 −60.8 dB there.
//!
//! Parameters change when set (the node sets them at control rate, at fixed frames of the song):
//! `width` ramps linearly over [`RAMP_MS`]; `hz` changes the coefficients at once. Neither type
//! flushes or decides anything at the edges of a call, so the output does not depend on the
//! block size.
//!
//! Thread: any. Allocation: none (both types are plain values). No locks, no panics in `process`.

use super::biquad::check;
use super::crossover::{BiquadState, LrDesign};
pub use super::crossover::{ParamError, Slope};
use super::ramp::Ramp;

/// Ramp time of a width change, in milliseconds.
pub const RAMP_MS: f64 = 20.0;
/// Largest width (2 doubles the side).
pub const MAX_WIDTH: f64 = 2.0;

fn ramp_frames(sample_rate: f64) -> u32 {
    (RAMP_MS * 1e-3 * sample_rate).round() as u32
}

/// Mid/side stereo width.
#[derive(Clone, Copy, Debug)]
pub struct Width {
    sample_rate: f64,
    width: Ramp,
}

impl Width {
    /// Checks `0 ≤ width ≤ `[`MAX_WIDTH`].
    pub fn validate(width: f64) -> Result<(), ParamError> {
        check(
            (0.0..=MAX_WIDTH).contains(&width),
            "width",
            width,
            "0..=2 (0 mono, 1 unchanged, 2 double side)",
        )
    }

    /// A width processor starting at `width` (no ramp).
    pub fn new(sample_rate: f64, width: f64) -> Result<Self, ParamError> {
        super::biquad::check_sample_rate(sample_rate)?;
        Self::validate(width)?;
        Ok(Self {
            sample_rate,
            width: Ramp::new(width as f32),
        })
    }

    /// Sets the width; it ramps there over [`RAMP_MS`]. On error nothing changes.
    pub fn set_width(&mut self, width: f64) -> Result<(), ParamError> {
        Self::validate(width)?;
        self.width.set(width as f32, ramp_frames(self.sample_rate));
        Ok(())
    }

    /// The width being ramped to.
    pub fn width(&self) -> f64 {
        self.width.target as f64
    }

    /// Completes any ramp.
    pub fn reset(&mut self) {
        self.width = Ramp::new(self.width.target);
    }

    /// Stereo in, stereo out (`inputs[0..2]`, `outputs[0..2]`; frames = the shortest slice).
    /// A mono input is treated as L = R. With fewer than 2 outputs nothing is written.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let (Some(&l), Some(&r)) = (inputs.first(), inputs.get(1).or(inputs.first())) else {
            return;
        };
        let [ol, or, ..] = outputs else {
            return;
        };
        let n = l.len().min(r.len()).min(ol.len()).min(or.len());
        // While ramping, frame by frame; then at a width of exactly 1 a copy (frame by frame
        // the same decision, wherever the call starts).
        let mut i = 0;
        while i < n && self.width.left > 0 {
            let w = self.width.next();
            let m = (l[i] + r[i]) * 0.5;
            let s = (l[i] - r[i]) * 0.5 * w;
            ol[i] = m + s;
            or[i] = m - s;
            i += 1;
        }
        let w = self.width.value;
        if w == 1.0 {
            ol[i..n].copy_from_slice(&l[i..n]);
            or[i..n].copy_from_slice(&r[i..n]);
            return;
        }
        for i in i..n {
            let m = (l[i] + r[i]) * 0.5;
            let s = (l[i] - r[i]) * 0.5 * w;
            ol[i] = m + s;
            or[i] = m - s;
        }
    }

    /// Whether no width ramp is running.
    pub fn is_at_rest(&self) -> bool {
        self.width.left == 0
    }
}

/// Sums everything below `hz` to mono (a Linkwitz–Riley split); leaves the rest unchanged.
#[derive(Clone, Copy, Debug)]
pub struct MonoBelow {
    sample_rate: f64,
    hz: f64,
    slope: Slope,
    design: LrDesign,
    mid: [BiquadState; 2],
    side: [BiquadState; 4],
}

impl MonoBelow {
    /// Checks `sample_rate > 0` and `0 < hz < sample_rate/2`.
    pub fn validate(sample_rate: f64, hz: f64) -> Result<(), ParamError> {
        super::crossover::validate_hz(sample_rate, hz)
    }

    /// A mono-maker at `hz` with the given crossover slope (see the module docs: LR4 takes the
    /// side down 30.7 dB at 0.42·hz, LR8 60.8 dB).
    pub fn new(sample_rate: f64, hz: f64, slope: Slope) -> Result<Self, ParamError> {
        Self::validate(sample_rate, hz)?;
        Ok(Self {
            sample_rate,
            hz,
            slope,
            design: LrDesign::new(slope, sample_rate, hz),
            mid: Default::default(),
            side: Default::default(),
        })
    }

    /// Moves the split frequency (coefficients change at once, state is kept). On error nothing
    /// changes.
    pub fn set_hz(&mut self, hz: f64) -> Result<(), ParamError> {
        Self::validate(self.sample_rate, hz)?;
        self.hz = hz;
        self.design = LrDesign::new(self.slope, self.sample_rate, hz);
        Ok(())
    }

    /// The split frequency in Hz.
    pub fn hz(&self) -> f64 {
        self.hz
    }

    /// Latency in frames: 0 (IIR).
    pub fn latency_frames(&self) -> usize {
        0
    }

    /// Clears the filter memories.
    pub fn reset(&mut self) {
        self.mid = Default::default();
        self.side = Default::default();
    }

    /// Stereo in, stereo out, like [`Width::process`].
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let (Some(&l), Some(&r)) = (inputs.first(), inputs.get(1).or(inputs.first())) else {
            return;
        };
        let [ol, or, ..] = outputs else {
            return;
        };
        let n = l.len().min(r.len()).min(ol.len()).min(or.len());
        let d = &self.design;
        let (ap, hp) = (d.allpass(), d.highpass());
        let (mid, side) = (&mut self.mid[..ap.len()], &mut self.side[..hp.len()]);
        for i in 0..n {
            let mut m = (l[i] as f64 + r[i] as f64) * 0.5;
            let mut s = (l[i] as f64 - r[i] as f64) * 0.5;
            for (c, st) in ap.iter().zip(mid.iter_mut()) {
                m = st.tick(c, m);
            }
            for (c, st) in hp.iter().zip(side.iter_mut()) {
                s = st.tick(c, s);
            }
            ol[i] = (m + s) as f32;
            or[i] = (m - s) as f32;
        }
    }

    /// Flushes tiny and non-finite filter states to zero. Call it at fixed frames of the
    /// stream (see [`crate::nodes::control`]), not at moving block edges.
    pub fn flush(&mut self) {
        self.mid
            .iter_mut()
            .chain(self.side.iter_mut())
            .for_each(BiquadState::flush);
    }

    /// Whether every filter memory is exactly zero.
    pub fn is_at_rest(&self) -> bool {
        self.mid.iter().chain(&self.side).all(BiquadState::is_zero)
    }
}

#[cfg(test)]
#[path = "stereo_tests.rs"]
mod tests;
