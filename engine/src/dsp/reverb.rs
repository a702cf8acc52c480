//! Algorithmic stereo reverb: a 16-line feedback delay network (Jot & Chaigne 1991; Stautner &
//! Puckette 1982).
//!
//! ```text
//!  in L/R ─► predelay ─► b_L·xL + b_R·xR ─► (+) ─► z^−d_i ─► one-pole H_i ─┬─► c_L·s, c_R·s ─► wet
//!                                            ▲                             │
//!                                            └──── ¼·Hadamard16 ◄──────────┘
//! ```
//!
//! * **Delays.** 16 lengths spread geometrically over 30–97 ms at `size` = 1, scaled by
//!   `0.25 + 0.75·size`, each rounded up to a distinct prime (so mutually prime). The buffers are
//!   allocated for `size` = 1; changing `size` while the tail rings makes a jump (no blow-up).
//! * **Mixing.** The 16×16 Hadamard matrix scaled by ¼ is orthogonal (and exact in `f32`: every
//!   entry is ±0.25), so the loop is lossless before the gains: every line feeds every other.
//!   It runs as a fast Walsh–Hadamard transform (64 additions).
//! * **Decay.** Each line has a one-pole low-pass `H_i(z) = g_i(1 − p_i)/(1 − p_i z⁻¹)` after
//!   it (Jot's absorbent filter). Its DC gain is `g_i = 10^(−3·d_i/(fs·decay_s))`, so a round
//!   trip through line `i` loses 60 dB per `decay_s` seconds whatever `d_i` is: every mode
//!   decays with RT60 = `decay_s` at low frequencies. Its Nyquist gain follows the same rule
//!   with RT60 = `decay_s·(1 − 0.9·damping)`, so `damping` = 1 makes the top octave die ten times
//!   faster; `damping` = 0 makes the filter a plain gain.
//! * **Stereo.** The input vectors `b_L`, `b_R` and the output vectors `c_L`, `c_R` are four
//!   different (hence orthogonal) Hadamard rows scaled to unit norm, so a mono input gives two
//!   decorrelated outputs (measured tail correlation 0.07).
//! * **Levels.** `wet` and `dry` are linear gains 0..=1 (not dB), ramped over [`RAMP_MS`]. The
//!   wet impulse-response energy is not normalised: it grows with `decay_s` as in a real room.
//!   `wet` = 0 with `dry` = 1 returns the input bit-exactly.
//! * **Silence.** When the input has been exactly zero and every value in the network has been
//!   below [`SILENCE_DB`] dBFS for predelay + longest line frames, [`Reverb::tail_silent`] turns
//!   true, the network is cleared once (which also keeps it out of denormals), and blocks of
//!   zeros then skip the network entirely. A non-finite value in the network (after a NaN or
//!   infinite input) clears it at the end of the block.
//!
//! Not included: modulation of the delay lengths (chorusing against metallic ringing on sparse
//! material), early-reflection patterns, an input diffuser, freeze.
//!
//! Thread: any. Allocation: only in [`Reverb::new`]. No locks, no panics in `process`.

use super::ramp::Ramp;

/// Delay lines in the network.
pub const LINES: usize = 16;
/// Longest accepted `decay_s` (RT60), in seconds.
pub const MAX_DECAY_S: f64 = 60.0;
/// Shortest accepted `decay_s`, in seconds.
pub const MIN_DECAY_S: f64 = 0.05;
/// Level below which the tail counts as silent, in dBFS.
pub const SILENCE_DB: f64 = -90.0;
/// Ramp time of `wet` and `dry` changes, in milliseconds.
pub const RAMP_MS: f64 = 20.0;
/// Shortest and longest line at `size` = 1, in milliseconds.
const LINE_MS: (f64, f64) = (30.0, 97.0);
/// Hadamard rows used for the input and output vectors (any four distinct rows work).
const ROW_IN_L: usize = 5;
const ROW_IN_R: usize = 10;
const ROW_OUT_L: usize = 3;
const ROW_OUT_R: usize = 12;

pub use super::biquad::ParamError;

use super::biquad::check;

/// Reverb settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReverbParams {
    /// Low-frequency RT60 (time to decay by 60 dB) in seconds, [`MIN_DECAY_S`]..=[`MAX_DECAY_S`].
    pub decay_s: f64,
    /// Delay before the reverb starts, 0..=`max_predelay_ms` (set at construction).
    pub predelay_ms: f64,
    /// High-frequency damping 0..=1: RT60 at Nyquist is `decay_s·(1 − 0.9·damping)`.
    pub damping: f64,
    /// Room size 0..=1: scales the delay lengths by `0.25 + 0.75·size`.
    pub size: f64,
    /// Wet gain, linear 0..=1.
    pub wet: f64,
    /// Dry gain, linear 0..=1.
    pub dry: f64,
}

impl Default for ReverbParams {
    /// A 2 s medium hall for a send bus: 20 ms predelay, damping 0.5, size 0.5, fully wet.
    fn default() -> Self {
        Self {
            decay_s: 2.0,
            predelay_ms: 20.0,
            damping: 0.5,
            size: 0.5,
            wet: 1.0,
            dry: 0.0,
        }
    }
}

impl ReverbParams {
    /// Checks every field (see the field docs for the ranges).
    pub fn validate(&self, sample_rate: f64, max_predelay_ms: f64) -> Result<(), ParamError> {
        super::biquad::check_sample_rate(sample_rate)?;
        let d = self.decay_s;
        check(
            (MIN_DECAY_S..=MAX_DECAY_S).contains(&d),
            "decay_s",
            d,
            "0.05..=60 s",
        )?;
        let p = self.predelay_ms;
        let ok = p >= 0.0 && p <= max_predelay_ms;
        check(
            ok,
            "predelay_ms",
            p,
            "0..=max_predelay_ms (fixed when the reverb is created)",
        )?;
        check(
            (0.0..=1.0).contains(&self.damping),
            "damping",
            self.damping,
            "0..=1",
        )?;
        check((0.0..=1.0).contains(&self.size), "size", self.size, "0..=1")?;
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

/// Entry `(row, col)` of the ±1 Sylvester–Hadamard matrix of order 16.
fn hadamard_sign(row: usize, col: usize) -> f32 {
    if (row & col).count_ones() % 2 == 0 {
        1.0
    } else {
        -1.0
    }
}

/// In-place orthonormal Walsh–Hadamard transform of 16 values (¼·H16·x).
#[inline(always)]
fn fwht16(x: &mut [f32; LINES]) {
    let mut h = 1;
    while h < LINES {
        for i in (0..LINES).step_by(2 * h) {
            for j in i..i + h {
                let (a, b) = (x[j], x[j + h]);
                x[j] = a + b;
                x[j + h] = a - b;
            }
        }
        h *= 2;
    }
    x.iter_mut().for_each(|v| *v *= 0.25);
}

fn is_prime(n: usize) -> bool {
    if n < 2 {
        return false;
    }
    let mut k = 2;
    while k * k <= n {
        if n % k == 0 {
            return false;
        }
        k += 1;
    }
    true
}

/// The 16 distinct prime delay lengths (frames, ascending) for `size`.
fn line_lengths(sample_rate: f64, size: f64) -> [usize; LINES] {
    let scale = 0.25 + 0.75 * size;
    let mut out = [0; LINES];
    let mut prev = 1;
    for (i, d) in out.iter_mut().enumerate() {
        let ms = LINE_MS.0 * (LINE_MS.1 / LINE_MS.0).powf(i as f64 / (LINES - 1) as f64) * scale;
        let mut n = ((ms * 1e-3 * sample_rate).round() as usize).max(prev + 1);
        while !is_prime(n) {
            n += 1;
        }
        *d = n;
        prev = n;
    }
    out
}

/// A stereo FDN reverb.
#[derive(Clone, Debug)]
pub struct Reverb {
    sample_rate: f64,
    max_predelay_ms: f64,
    params: ReverbParams,
    /// `LINES` lines of `line_len` frames each (a power of two), line-major.
    lines: Box<[f32]>,
    line_mask: usize,
    pos: usize,
    delay: [usize; LINES],
    /// One-pole feed-forward `g(1 − p)` and pole `p` per line.
    ff: [f32; LINES],
    pole: [f32; LINES],
    lp: [f32; LINES],
    /// Predelay rings for L and R, `pre_len` frames each (a power of two).
    pre: [Box<[f32]>; 2],
    pre_mask: usize,
    predelay: usize,
    b: [[f32; LINES]; 2],
    c: [[f32; LINES]; 2],
    wet: Ramp,
    dry: Ramp,
    quiet_frames: usize,
    dormant: bool,
}

impl Reverb {
    /// Allocates the delay lines (for `size` = 1) and a predelay of up to `max_predelay_ms`,
    /// then applies `params`. Control thread.
    pub fn new(
        sample_rate: f64,
        max_predelay_ms: f64,
        params: ReverbParams,
    ) -> Result<Self, ParamError> {
        super::biquad::check_sample_rate(sample_rate)?;
        let m = max_predelay_ms;
        check(
            (0.0..=10_000.0).contains(&m),
            "max_predelay_ms",
            m,
            "0..=10000 ms",
        )?;
        params.validate(sample_rate, max_predelay_ms)?;
        let line_len = (line_lengths(sample_rate, 1.0)[LINES - 1] + 1).next_power_of_two();
        let pre_len = ((m * 1e-3 * sample_rate).round() as usize + 1).next_power_of_two();
        let row = |r: usize| std::array::from_fn(|i| 0.25 * hadamard_sign(r, i));
        let mut rv = Self {
            sample_rate,
            max_predelay_ms,
            params,
            lines: vec![0.0; LINES * line_len].into_boxed_slice(),
            line_mask: line_len - 1,
            pos: 0,
            delay: [1; LINES],
            ff: [0.0; LINES],
            pole: [0.0; LINES],
            lp: [0.0; LINES],
            pre: [
                vec![0.0; pre_len].into_boxed_slice(),
                vec![0.0; pre_len].into_boxed_slice(),
            ],
            pre_mask: pre_len - 1,
            predelay: 0,
            b: [row(ROW_IN_L), row(ROW_IN_R)],
            c: [row(ROW_OUT_L), row(ROW_OUT_R)],
            wet: Ramp::new(params.wet as f32),
            dry: Ramp::new(params.dry as f32),
            quiet_frames: 0,
            dormant: true,
        };
        rv.set_params(params)?;
        rv.wet = Ramp::new(params.wet as f32);
        rv.dry = Ramp::new(params.dry as f32);
        Ok(rv)
    }

    /// Current settings.
    pub fn params(&self) -> &ReverbParams {
        &self.params
    }

    /// Applies new settings without allocating (block rate; `wet`/`dry` ramp over [`RAMP_MS`],
    /// the rest changes at once). On error nothing changes.
    pub fn set_params(&mut self, p: ReverbParams) -> Result<(), ParamError> {
        p.validate(self.sample_rate, self.max_predelay_ms)?;
        let fs = self.sample_rate;
        self.delay = line_lengths(fs, p.size);
        let hf_decay_s = p.decay_s * (1.0 - 0.9 * p.damping);
        for i in 0..LINES {
            let d = self.delay[i] as f64;
            let g_dc = 10f64.powf(-3.0 * d / (fs * p.decay_s));
            let g_ny = 10f64.powf(-3.0 * d / (fs * hf_decay_s));
            // H(1) = g_dc and H(−1) = g_dc(1 − p)/(1 + p) = g_ny.
            let pole = (g_dc - g_ny) / (g_dc + g_ny);
            self.pole[i] = pole as f32;
            self.ff[i] = (g_dc * (1.0 - pole)) as f32;
        }
        self.predelay = (p.predelay_ms * 1e-3 * fs).round() as usize;
        let ramp = (RAMP_MS * 1e-3 * fs).round() as u32;
        self.wet.set(p.wet as f32, ramp);
        self.dry.set(p.dry as f32, ramp);
        self.params = p;
        Ok(())
    }

    /// Delay line lengths in frames (ascending, distinct primes).
    pub fn line_lengths(&self) -> &[usize; LINES] {
        &self.delay
    }

    /// Predelay in frames (`predelay_ms` rounded to the nearest frame).
    pub fn predelay_frames(&self) -> usize {
        self.predelay
    }

    /// How long the output rings after the input stops: predelay + longest line + the time to
    /// fall by 90 dB (1.5 × `decay_s`), in frames.
    pub fn tail_frames(&self) -> usize {
        let decay = (1.5 * self.params.decay_s * self.sample_rate).ceil() as usize;
        self.predelay + self.delay[LINES - 1] + decay
    }

    /// True once the input has been silent long enough for everything in the network to be
    /// below [`SILENCE_DB`] dBFS; the output is then `dry × input` until the input is non-zero.
    pub fn tail_silent(&self) -> bool {
        self.dormant
    }

    /// Clears the network and the predelay, and completes the gain ramps. Never allocates.
    pub fn reset(&mut self) {
        self.clear();
        self.pre.iter_mut().for_each(|p| p.fill(0.0));
        self.wet = Ramp::new(self.wet.target);
        self.dry = Ramp::new(self.dry.target);
    }

    fn clear(&mut self) {
        self.lines.fill(0.0);
        self.lp = [0.0; LINES];
        self.quiet_frames = 0;
        self.dormant = true;
    }

    /// Planar processing: 1 or 2 inputs (mono is fed to both sides), 1 or 2 outputs (mono gets
    /// `(L + R)/2`). Frames = the shortest slice. Audio thread: no allocation, no panic.
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
        let silent_input = il[..n].iter().chain(&ir[..n]).all(|&x| x == 0.0);
        if self.dormant && silent_input && self.wet.left == 0 && self.dry.left == 0 {
            ol[..n].fill(0.0);
            if let Some(r) = or.as_deref_mut() {
                r[..n].fill(0.0);
            }
            return;
        }
        self.dormant = false;
        let thr = 10f32.powf(SILENCE_DB as f32 / 20.0);
        let (thr2, settle) = (thr * thr, self.predelay + self.delay[LINES - 1] + 1);
        let (mask, pmask, len) = (self.line_mask, self.pre_mask, self.line_mask + 1);
        for i in 0..n {
            let (xl, xr) = (il[i], ir[i]);
            // Predelay (write, then read `predelay` frames back; 0 is a straight copy).
            let w = self.pos & pmask;
            self.pre[0][w] = xl;
            self.pre[1][w] = xr;
            let r = self.pos.wrapping_sub(self.predelay) & pmask;
            let (pl, pr) = (self.pre[0][r], self.pre[1][r]);
            // Read the lines and run the absorbent one-poles.
            let mut s = [0.0f32; LINES];
            for (k, sk) in s.iter_mut().enumerate() {
                let v = self.lines[k * len + (self.pos.wrapping_sub(self.delay[k]) & mask)];
                self.lp[k] = self.ff[k] * v + self.pole[k] * self.lp[k];
                *sk = self.lp[k];
            }
            let (mut yl, mut yr, mut e) = (0.0f32, 0.0f32, 0.0f32);
            for (k, &sk) in s.iter().enumerate() {
                yl += self.c[0][k] * sk;
                yr += self.c[1][k] * sk;
                e += sk * sk;
            }
            fwht16(&mut s);
            let wpos = self.pos & mask;
            for (k, &sk) in s.iter().enumerate() {
                self.lines[k * len + wpos] = sk + self.b[0][k] * pl + self.b[1][k] * pr;
            }
            self.pos = self.pos.wrapping_add(1);
            let (wet, dry) = (self.wet.next(), self.dry.next());
            let (l, r) = (dry * xl + wet * yl, dry * xr + wet * yr);
            match or.as_deref_mut() {
                Some(o) => {
                    ol[i] = l;
                    o[i] = r;
                }
                None => ol[i] = 0.5 * (l + r),
            }
            let quiet = xl == 0.0 && xr == 0.0 && e < thr2;
            self.quiet_frames = if quiet { self.quiet_frames + 1 } else { 0 };
        }
        // A NaN or infinite input would otherwise circulate forever.
        if self.quiet_frames >= settle || !self.lp.iter().all(|v| v.is_finite()) {
            self.clear();
        }
    }
}

#[cfg(test)]
#[path = "reverb_tests.rs"]
mod tests;
