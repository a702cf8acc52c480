//! Allpass building blocks for the reverb ([`super::reverb`]): a Schroeder allpass chain (input
//! diffusion), a first-order allpass (Thiran) fractional read for modulated delay lines, and a
//! quadrature sine oscillator to modulate them.
//!
//! Thread: any. Allocation: only in [`Diffuser::new`]. No panics.

/// Stages of a [`Diffuser`].
pub const STAGES: usize = 6;

/// Schroeder allpasses in series, one channel: each stage is
/// `w[n] = x[n] + g·w[n − d]`, `y[n] = w[n − d] − g·w[n]`, so `|H| = 1` at every frequency
/// and the response starts at once (with `(−g)^STAGES`) and turns dense within a few
/// milliseconds: echoes multiply at every stage.
#[derive(Clone, Debug)]
pub struct Diffuser {
    /// `STAGES` rings of `mask + 1` frames, stage-major.
    buf: Box<[f32]>,
    mask: usize,
    pos: usize,
    delay: [usize; STAGES],
    gain: f32,
}

impl Diffuser {
    /// Stages of `delays` frames (each ≥ 1) and allpass gain `gain` (|g| < 1). Control thread.
    pub fn new(delays: [usize; STAGES], gain: f32) -> Self {
        let len = (delays.iter().max().copied().unwrap_or(1) + 1).next_power_of_two();
        Self {
            buf: vec![0.0; STAGES * len].into_boxed_slice(),
            mask: len - 1,
            pos: 0,
            delay: delays.map(|d| d.max(1)),
            gain,
        }
    }

    /// One frame through every stage.
    #[inline(always)]
    pub fn tick(&mut self, x: f32) -> f32 {
        let (len, g) = (self.mask + 1, self.gain);
        let mut v = x;
        for (s, &d) in self.delay.iter().enumerate() {
            let ring = &mut self.buf[s * len..(s + 1) * len];
            let old = ring[self.pos.wrapping_sub(d) & self.mask];
            let w = v + g * old;
            ring[self.pos & self.mask] = w;
            v = old - g * w;
        }
        self.pos = self.pos.wrapping_add(1);
        v
    }

    /// Clears the memory.
    pub fn clear(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }

    /// Longest stage delay plus the others: the span of its first pass, in frames.
    pub fn span(&self) -> usize {
        self.delay.iter().sum()
    }
}

/// A first-order allpass (Thiran) read `d + off` frames back from `pos` (the slot about to be
/// written) in the ring `line` (`mask = len − 1`), with `|off| < 1000` and `off > 2 − d`, `state` the
/// previous output. The delay is split as `M + Δ` with `Δ` in `[0.5, 1.5)`, so the coefficient
/// `η = (1 − Δ)/(1 + Δ)` stays in `(−0.2, 0.34]`, far from the pole at −1; `|H| = 1` at every
/// frequency (the loop's decay is untouched), the phase delay is `Δ` at low frequencies.
#[inline(always)]
pub fn read_allpass(
    line: &[f32],
    mask: usize,
    pos: usize,
    d: usize,
    off: f32,
    state: &mut f32,
) -> f32 {
    // floor(off − 0.5) by truncation of a positive number (|off| < 1000 frames).
    let fl = (off + 999.5) as i32 - 1000;
    let delta = off - fl as f32;
    let m = (d as isize + fl as isize) as usize;
    let eta = (1.0 - delta) / (1.0 + delta);
    let a = line[pos.wrapping_sub(m) & mask];
    let b = line[pos.wrapping_sub(m + 1) & mask];
    let y = eta * (a - *state) + b;
    *state = y;
    y
}

/// A sine oscillator sampled every `step` frames, as a rotating unit phasor in `f64`
/// renormalised at every sample it gives (so it never drifts, whatever the run length).
#[derive(Clone, Copy, Debug)]
pub struct Lfo {
    c: f64,
    s: f64,
    rc: f64,
    rs: f64,
}

impl Lfo {
    /// `hz` at `sample_rate`, sampled every `step` frames; the first [`Lfo::tick`] gives the
    /// sine at phase `phase + 2π·hz·step/sample_rate` (one step after `phase`).
    pub fn new(sample_rate: f64, hz: f64, phase: f64, step: usize) -> Self {
        let w = 2.0 * std::f64::consts::PI * hz * step as f64 / sample_rate;
        Self {
            c: (phase + w).cos(),
            s: (phase + w).sin(),
            rc: w.cos(),
            rs: w.sin(),
        }
    }

    /// The sine now, then one step on.
    #[inline(always)]
    pub fn tick(&mut self) -> f64 {
        let out = self.s;
        let (c, s) = (
            self.c * self.rc - self.s * self.rs,
            self.s * self.rc + self.c * self.rs,
        );
        let k = 1.5 - 0.5 * (c * c + s * s);
        (self.c, self.s) = (c * k, s * k);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |DFT| of `h` at `w` rad/sample.
    fn mag(h: &[f32], w: f64) -> f64 {
        let (re, im) = h.iter().enumerate().fold((0.0, 0.0), |(re, im), (n, &v)| {
            let (s, c) = (w * n as f64).sin_cos();
            (re + v as f64 * c, im - v as f64 * s)
        });
        re.hypot(im)
    }

    #[test]
    fn the_diffuser_is_allpass_and_starts_at_once() {
        let mut d = Diffuser::new([29, 47, 73, 113, 179, 281], 0.62);
        let h: Vec<f32> = (0..60_000)
            .map(|n| d.tick(if n == 0 { 1.0 } else { 0.0 }))
            .collect();
        assert!((h[0] - 0.62f32.powi(6)).abs() < 1e-6);
        for w in [0.01, 0.3, 1.0, 2.0, 3.1] {
            assert!((mag(&h, w) - 1.0).abs() < 1e-4, "{w}: {}", mag(&h, w));
        }
    }

    #[test]
    fn the_allpass_read_is_flat_and_delays_by_the_fraction() {
        // A 500 Hz sine at 48 kHz read 100.3 frames back: same amplitude, 100.3 frames later.
        let w = 2.0 * std::f64::consts::PI * 500.0 / 48_000.0;
        let mut line = vec![0.0f32; 1024];
        let mut state = 0.0;
        let mut worst: f64 = 0.0;
        for n in 0..4000usize {
            line[n & 1023] = (w * n as f64).sin() as f32;
            let y = read_allpass(&line, 1023, n + 1, 100, 0.3, &mut state);
            if n > 2000 {
                let want = (w * (n as f64 - 99.3)).sin();
                worst = worst.max((y as f64 - want).abs());
            }
        }
        assert!(worst < 1e-4, "{worst}");
    }

    #[test]
    fn the_lfo_is_a_sine() {
        let mut l = Lfo::new(48_000.0, 1.3, 0.5, 16);
        let w = 2.0 * std::f64::consts::PI * 1.3 * 16.0 / 48_000.0;
        let worst = (1..200_000usize)
            .map(|n| (l.tick() - (0.5 + w * n as f64).sin()).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-9, "{worst}");
    }
}
