//! The musical delay ("echo"): time, feedback, ping-pong, a filtered feedback path, wet/dry.
//!
//! ```text
//!  x ──┬──────────────────────────────────────────── dry ──► (+) ──► out
//!      └──► (+) ──► line (time_s, sinc read) ───┬─── wet ──────┘
//!            ▲                                  │
//!            └── feedback ◄── HP ◄── LP ◄───────┘      (ping-pong: L line feeds R, R feeds L)
//! ```
//!
//! * **Taps.** The first echo is the input delayed by `time_s`, unfiltered; echo `k` has passed
//!   the feedback path `k − 1` times, so with the filters off its gain is `feedback^(k−1)`.
//! * **Ping-pong** (stereo output only): `(L + R)/2` enters the left line; the left line feeds
//!   the right, the right the left. Echoes alternate L, R, L, … whatever the input panning.
//! * **Feedback filters**: optional one-pole low-pass (`lowpass_hz`) and high-pass
//!   (`highpass_hz`), 6 dB/octave, topology-preserving transform (Zavalishin's trapezoidal
//!   one-pole, i.e. bilinear with prewarping: exactly −3.01 dB at the cutoff, |H| ≤ 1, and safe
//!   to retune while running). Each repeat passes them once more, so later repeats are darker
//!   (or thinner).
//! * **Fractional times** (most note values: a dotted eighth at 120 BPM is 16 537.5 frames at
//!   44.1 kHz) are read with a 16-tap Kaiser-windowed sinc (β = 7, unit DC gain, tabulated for
//!   1024 fractions per frame and interpolated linearly between rows). It sits inside the
//!   feedback loop, so repeat `k` passes it `k` times: its magnitude is flat within ±0.008 dB
//!   up to 16 kHz at 44.1 kHz at every fraction (a 4-point cubic loses 3.5 dB at 15 kHz per
//!   pass at half a frame), so the fifth repeat is still within 0.04 dB of `feedback⁴`, and its
//!   phase is linear to within 1e-3 frames per pass, so every repeat lands at `k·time_s` (no dispersion, unlike an
//!   allpass interpolator). At whole frames the read is exact (a single unit tap); a time
//!   within 1e-6 frames of a whole frame is snapped to it. It needs `time ≥ 8` frames, hence
//!   sample rates of 8 kHz and up.
//! * **Stability**: the loop gain is `feedback·|LP|·|HP|·|read| ≤ 0.99·1.0007`, since the read
//!   has |H| ≤ 1.0007 at every frequency and fraction (checked numerically).
//! * **Time changes** glide: the read delay follows `time_s` with a one-pole of time constant
//!   [`TIME_SMOOTH_MS`], its per-sample change limited to ±[`MAX_GLIDE`] frames (so the pitch
//!   bends by at most ±50 %, tape-style, and never reverses); the read's taps follow the
//!   fraction sample by sample (a FIR read has no state to carry, so a moving delay makes no
//!   transients, as an allpass interpolator's would).
//! * **Levels**: `wet`, `dry` and `feedback` are linear; they ramp over [`RAMP_MS`].
//! * **Silence**: once the input has been exactly zero and the lines' output below
//!   [`SILENCE_DB`] dBFS for a whole buffer length, [`Echo::tail_silent`] turns true, the buffers
//!   are cleared once (at that frame, wherever the calls begin and end), and blocks of zeros skip
//!   the processing. A non-finite value in the feedback path (after a NaN or infinite input)
//!   clears the lines at the next [`Echo::flush`].
//!
//! Thread: any. Allocation: only in [`Echo::new`] (and the shared tap table, once per process).
//! No locks, no panics in `process`.

use super::ramp::Ramp;
use std::f64::consts::PI;

/// Shortest `time_s`, in seconds.
pub const MIN_TIME_S: f64 = 0.001;
/// Largest `feedback`.
pub const MAX_FEEDBACK: f64 = 0.99;
/// Time constant of the delay-time glide, in milliseconds.
pub const TIME_SMOOTH_MS: f64 = 50.0;
/// Largest change of the read delay per sample, in frames (pitch bend ≤ ±50 %).
pub const MAX_GLIDE: f64 = 0.5;
/// Ramp time of `wet`, `dry` and `feedback` changes, in milliseconds.
pub const RAMP_MS: f64 = 20.0;
/// Level below which the tail counts as silent, in dBFS.
pub const SILENCE_DB: f64 = -90.0;

pub use super::biquad::ParamError;

use super::biquad::check;

/// Echo settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EchoParams {
    /// Delay time in seconds, [`MIN_TIME_S`]..=`max_time_s` (set at construction).
    pub time_s: f64,
    /// Feedback gain, linear 0..=[`MAX_FEEDBACK`].
    pub feedback: f64,
    /// Alternate the echoes between left and right (stereo output only).
    pub ping_pong: bool,
    /// One-pole low-pass in the feedback path, `0 < hz < sample_rate/2`; `None` = off.
    pub lowpass_hz: Option<f64>,
    /// One-pole high-pass in the feedback path, `0 < hz < sample_rate/2`; `None` = off.
    pub highpass_hz: Option<f64>,
    /// Wet gain, linear 0..=1.
    pub wet: f64,
    /// Dry gain, linear 0..=1.
    pub dry: f64,
}

impl Default for EchoParams {
    /// A dotted eighth at 120 BPM (0.375 s), feedback 0.4, darkening feedback (LP 4 kHz, HP
    /// 100 Hz), fully wet (send-bus convention, like the reverb).
    fn default() -> Self {
        Self {
            time_s: 0.375,
            feedback: 0.4,
            ping_pong: false,
            lowpass_hz: Some(4000.0),
            highpass_hz: Some(100.0),
            wet: 1.0,
            dry: 0.0,
        }
    }
}

impl EchoParams {
    /// Checks every field (see the field docs for the ranges).
    pub fn validate(&self, sample_rate: f64, max_time_s: f64) -> Result<(), ParamError> {
        super::biquad::check_sample_rate(sample_rate)?;
        let t = self.time_s;
        check(
            t >= MIN_TIME_S && t <= max_time_s,
            "time_s",
            t,
            "0.001..=max_time_s (fixed when the echo is created)",
        )?;
        let fb = self.feedback;
        check(
            (0.0..=MAX_FEEDBACK).contains(&fb),
            "feedback",
            fb,
            "0..=0.99 (1 or more never decays)",
        )?;
        let nyq = 0.5 * sample_rate;
        if let Some(hz) = self.lowpass_hz {
            check(
                hz > 0.0 && hz < nyq,
                "lowpass_hz",
                hz,
                "0 < hz < sample_rate/2 (Nyquist), or off",
            )?;
        }
        if let Some(hz) = self.highpass_hz {
            check(
                hz > 0.0 && hz < nyq,
                "highpass_hz",
                hz,
                "0 < hz < sample_rate/2 (Nyquist), or off",
            )?;
        }
        check(
            (0.0..=1.0).contains(&self.wet),
            "wet",
            self.wet,
            "0..=1 (linear gain)",
        )?;
        check(
            (0.0..=1.0).contains(&self.dry),
            "dry",
            self.dry,
            "0..=1 (linear gain)",
        )
    }
}

/// Trapezoidal (TPT) one-pole low-pass state; the high-pass is `x − lowpass(x)`.
#[derive(Clone, Copy, Debug, Default)]
struct OnePole {
    s: f32,
}

impl OnePole {
    /// `g = tan(π·fc/fs) / (1 + tan(π·fc/fs))`.
    fn coef(sample_rate: f64, hz: f64) -> f32 {
        let t = (PI * hz / sample_rate).tan();
        (t / (1.0 + t)) as f32
    }

    #[inline(always)]
    fn lowpass(&mut self, g: f32, x: f32) -> f32 {
        let v = (x - self.s) * g;
        let y = v + self.s;
        self.s = y + v;
        y
    }
}

/// Taps of the fractional-delay read.
pub const TAPS: usize = 16;
/// Kaiser window β of the fractional-delay read.
pub const KAISER_BETA: f64 = 7.0;
/// Fractions tabulated per frame (rows in between are interpolated linearly).
const FRACTIONS: usize = 1024;
/// Shortest delay the read supports, in frames (its taps reach `TAPS/2 − 1` frames earlier).
pub const MIN_DELAY_FRAMES: f64 = (TAPS / 2) as f64;

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-17 * sum {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        k += 1.0;
    }
    sum
}

/// The read's taps for fraction `t` in [0, 1]: tap `j` weighs the sample `j − (TAPS/2 − 1)`
/// frames later than the integer part of the delay, i.e. a Kaiser-windowed sinc centred on
/// `TAPS/2 − 1 + t`, normalised to unit DC gain. At `t = 0` it is exactly a unit tap.
pub fn fractional_taps(t: f64) -> [f64; TAPS] {
    let c = (TAPS / 2 - 1) as f64 + t;
    let half = (TAPS / 2) as f64;
    let mut h: [f64; TAPS] = std::array::from_fn(|j| {
        let u = j as f64 - c;
        let x = u / half;
        let w = bessel_i0(KAISER_BETA * (1.0 - x * x).max(0.0).sqrt()) / bessel_i0(KAISER_BETA);
        let sinc = if u == 0.0 {
            1.0
        } else if u.fract() == 0.0 {
            0.0 // exactly, so whole-frame delays are a single unit tap
        } else {
            (PI * u).sin() / (PI * u)
        };
        sinc * w
    });
    let sum: f64 = h.iter().sum();
    h.iter_mut().for_each(|v| *v /= sum);
    h
}

/// `FRACTIONS + 1` rows of taps (t = 0, 1/1024, …, 1), built once per process.
fn table() -> &'static [[f32; TAPS]] {
    static TABLE: std::sync::OnceLock<Box<[[f32; TAPS]]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=FRACTIONS)
            .map(|r| fractional_taps(r as f64 / FRACTIONS as f64).map(|v| v as f32))
            .collect()
    })
}

/// The read's taps for a delay of `delay` frames (row interpolation; exact on the rows).
#[inline]
fn taps_for(table: &[[f32; TAPS]], delay: f64) -> [f32; TAPS] {
    let pos = (delay - delay.floor()) * FRACTIONS as f64;
    let r = (pos as usize).min(FRACTIONS - 1);
    let f = (pos - r as f64) as f32;
    let (a, b) = (&table[r], &table[r + 1]);
    std::array::from_fn(|j| a[j] + f * (b[j] - a[j]))
}

/// Fractional read of `buf` (power-of-two length, `mask = len − 1`) `delay` frames before
/// `pos` (the slot about to be written) with the taps of [`taps_for`]; needs
/// `delay ≥` [`MIN_DELAY_FRAMES`].
#[inline(always)]
fn read_fractional(buf: &[f32], mask: usize, pos: usize, delay: f64, taps: &[f32; TAPS]) -> f32 {
    let start = pos.wrapping_sub(delay as usize - (TAPS / 2 - 1));
    let mut acc = 0.0f32;
    for (j, &h) in taps.iter().enumerate() {
        acc += h * buf[start.wrapping_sub(j) & mask];
    }
    acc
}

/// A mono or stereo delay with feedback.
#[derive(Clone, Debug)]
pub struct Echo {
    sample_rate: f64,
    max_time_s: f64,
    params: EchoParams,
    lines: [Box<[f32]>; 2],
    mask: usize,
    pos: usize,
    delay: f64,
    target: f64,
    glide: f64,
    lp_g: f32,
    hp_g: f32,
    table: &'static [[f32; TAPS]],
    /// Taps for `taps_delay` (recomputed only while the delay moves).
    taps: [f32; TAPS],
    taps_delay: f64,
    lp: [OnePole; 2],
    hp: [OnePole; 2],
    feedback: Ramp,
    wet: Ramp,
    dry: Ramp,
    quiet_frames: usize,
    dormant: bool,
    /// 0 unless a non-finite value was written to the lines since the last flush.
    poison: f32,
}

impl Echo {
    /// Allocates two lines for up to `max_time_s` seconds, then applies `params`. Control thread.
    pub fn new(sample_rate: f64, max_time_s: f64, params: EchoParams) -> Result<Self, ParamError> {
        super::biquad::check_sample_rate(sample_rate)?;
        let m = max_time_s;
        check(
            (MIN_TIME_S..=60.0).contains(&m),
            "max_time_s",
            m,
            "0.001..=60 s",
        )?;
        check(
            MIN_TIME_S * sample_rate >= MIN_DELAY_FRAMES,
            "sample_rate",
            sample_rate,
            "≥ 8000 Hz",
        )?;
        params.validate(sample_rate, max_time_s)?;
        let len = ((m * sample_rate).ceil() as usize + TAPS).next_power_of_two();
        let mut e = Self {
            sample_rate,
            max_time_s,
            params,
            lines: [
                vec![0.0; len].into_boxed_slice(),
                vec![0.0; len].into_boxed_slice(),
            ],
            mask: len - 1,
            pos: 0,
            delay: MIN_DELAY_FRAMES,
            target: MIN_DELAY_FRAMES,
            glide: 1.0 - (-1.0 / (TIME_SMOOTH_MS * 1e-3 * sample_rate)).exp(),
            lp_g: 1.0,
            hp_g: 0.0,
            table: table(),
            taps: [0.0; TAPS],
            taps_delay: -1.0,
            lp: Default::default(),
            hp: Default::default(),
            feedback: Ramp::new(0.0),
            wet: Ramp::new(0.0),
            dry: Ramp::new(0.0),
            quiet_frames: 0,
            dormant: true,
            poison: 0.0,
        };
        e.set_params(params)?;
        e.reset();
        Ok(e)
    }

    /// Current settings.
    pub fn params(&self) -> &EchoParams {
        &self.params
    }

    /// Applies new settings without allocating (block rate): the time glides, gains ramp, the
    /// filter cutoffs change at once. On error nothing changes.
    pub fn set_params(&mut self, p: EchoParams) -> Result<(), ParamError> {
        p.validate(self.sample_rate, self.max_time_s)?;
        let fs = self.sample_rate;
        let frames = p.time_s * fs;
        self.target = if (frames - frames.round()).abs() < 1e-6 {
            frames.round()
        } else {
            frames
        };
        self.lp_g = p.lowpass_hz.map_or(1.0, |hz| OnePole::coef(fs, hz));
        self.hp_g = p.highpass_hz.map_or(0.0, |hz| OnePole::coef(fs, hz));
        let ramp = (RAMP_MS * 1e-3 * fs).round() as u32;
        self.feedback.set(p.feedback as f32, ramp);
        self.wet.set(p.wet as f32, ramp);
        self.dry.set(p.dry as f32, ramp);
        self.params = p;
        Ok(())
    }

    /// The current (gliding) delay in frames.
    pub fn delay_frames(&self) -> f64 {
        self.delay
    }

    /// Frames until the repeats of a full-scale input fall below [`SILENCE_DB`]:
    /// `time · (1 + 90 dB / (−20·log10 feedback))`.
    pub fn tail_frames(&self) -> usize {
        let fb = self.params.feedback;
        let repeats = if fb > 0.0 {
            (-SILENCE_DB / (-20.0 * fb.log10())).ceil()
        } else {
            0.0
        };
        (self.target.max(self.delay) * (1.0 + repeats)).ceil() as usize
    }

    /// True once the input has been zero and the repeats below [`SILENCE_DB`] dBFS for a whole
    /// buffer; the output is then `dry × input` until the input is non-zero.
    pub fn tail_silent(&self) -> bool {
        self.dormant
    }

    /// True when processing silence would give silence and change nothing: the lines are
    /// clear ([`Echo::tail_silent`]), no level ramps and the time does not glide.
    pub fn is_at_rest(&self) -> bool {
        let ramps_idle = self.wet.left == 0 && self.dry.left == 0 && self.feedback.left == 0;
        self.dormant && ramps_idle && self.delay == self.target
    }

    /// Clears the lines if a non-finite value entered them since the last call (after a NaN or
    /// infinite input). Call it at fixed frames of the stream, not at moving block edges.
    pub fn flush(&mut self) {
        if self.poison != 0.0 {
            self.clear();
            self.poison = 0.0;
        }
    }

    /// Clears the lines and filters, jumps to the target time and completes the ramps.
    pub fn reset(&mut self) {
        self.clear();
        self.delay = self.target;
        for r in [&mut self.feedback, &mut self.wet, &mut self.dry] {
            *r = Ramp::new(r.target);
        }
    }

    fn clear(&mut self) {
        self.lines.iter_mut().for_each(|l| l.fill(0.0));
        self.lp = Default::default();
        self.hp = Default::default();
        self.quiet_frames = 0;
        self.dormant = true;
        self.poison = 0.0;
    }

    /// Planar processing: 1 or 2 inputs (mono is fed to both sides), 1 or 2 outputs (mono output
    /// runs one line on `(L + R)/2`, without ping-pong). Frames = the shortest slice. Audio
    /// thread: no allocation, no panic.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(super::StereoIo {
            il,
            ir,
            ol,
            mut or,
            n,
        }) = super::StereoIo::new(inputs, outputs)
        else {
            return;
        };
        let stereo = or.is_some();
        let silent_input = il[..n].iter().chain(&ir[..n]).all(|&x| x == 0.0);
        if self.is_at_rest() && silent_input {
            // (the same as processing: silence in the clear lines leaves them clear)
            ol[..n].fill(0.0);
            if let Some(r) = or.as_deref_mut() {
                r[..n].fill(0.0);
            }
            return;
        }
        let thr = 10f32.powf(SILENCE_DB as f32 / 20.0);
        let ping_pong = self.params.ping_pong && stereo;
        let (lp_on, hp_on) = (
            self.params.lowpass_hz.is_some(),
            self.params.highpass_hz.is_some(),
        );
        let (mask, lp_g, hp_g) = (self.mask, self.lp_g, self.hp_g);
        let mut poison = 0.0f32;
        for i in 0..n {
            if self.delay != self.target {
                let diff = self.target - self.delay;
                if diff.abs() < 1e-3 {
                    self.delay = self.target;
                } else {
                    self.delay += (diff * self.glide).clamp(-MAX_GLIDE, MAX_GLIDE);
                }
            }
            if self.delay != self.taps_delay {
                self.taps = taps_for(self.table, self.delay);
                self.taps_delay = self.delay;
            }
            let (xl, xr) = if stereo {
                (il[i], ir[i])
            } else {
                (0.5 * (il[i] + ir[i]), 0.0)
            };
            let mut y = [0.0f32; 2];
            let mut f = [0.0f32; 2];
            for c in 0..if stereo { 2 } else { 1 } {
                y[c] = read_fractional(&self.lines[c], mask, self.pos, self.delay, &self.taps);
                let mut v = y[c];
                if lp_on {
                    v = self.lp[c].lowpass(lp_g, v);
                }
                if hp_on {
                    v -= self.hp[c].lowpass(hp_g, v);
                }
                f[c] = v;
            }
            let fb = self.feedback.next();
            let w = self.pos & mask;
            let (w0, w1) = if ping_pong {
                (0.5 * (xl + xr) + fb * f[1], fb * f[0])
            } else {
                (xl + fb * f[0], xr + fb * f[1])
            };
            self.lines[0][w] = w0;
            self.lines[1][w] = w1;
            poison += (w0 + w1) * 0.0;
            self.pos = self.pos.wrapping_add(1);
            let (wet, dry) = (self.wet.next(), self.dry.next());
            match or.as_deref_mut() {
                Some(o) => {
                    ol[i] = dry * xl + wet * y[0];
                    o[i] = dry * xr + wet * y[1];
                }
                None => ol[i] = dry * xl + wet * y[0],
            }
            let quiet = il[i] == 0.0 && ir[i] == 0.0 && y[0].abs() < thr && y[1].abs() < thr;
            if !quiet {
                (self.quiet_frames, self.dormant) = (0, false);
            } else if !self.dormant {
                self.quiet_frames += 1;
                if self.quiet_frames > mask {
                    // Everything in the lines is below the silence level: drop it, at this
                    // frame whatever the block size.
                    self.clear();
                }
            }
        }
        // A NaN or infinite input would otherwise circulate forever (`poison` is 0 unless a
        // written value was non-finite: x·0 is NaN exactly for NaN and ±inf); `flush` clears.
        self.poison += poison;
    }
}

#[cfg(test)]
#[path = "echo_tests.rs"]
mod tests;
