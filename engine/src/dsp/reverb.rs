//! Algorithmic stereo reverb: an input diffuser into a 16-line feedback delay network with
//! modulated lines (Jot & Chaigne 1991; Stautner & Puckette 1982; diffusion and modulation as
//! in Dattorro 1997; echo density and matrix design after Schlecht & Habets).
//!
//! ```text
//!                                     ┌──────────────── early: ×0.35 ──────────────────┐
//!  in L/R ─► predelay ─► 6 allpasses ─┴► b_L·dL + b_R·dR ─► (+) ─► z^−(d_i+m_i(t)) ─► H_i ─┬─► c·s ─(+)─► wet
//!                        (per side)                         ▲                             │
//!                                                           └─ D·P·¼Hadamard16 ◄──────────┘
//! ```
//!
//! * **Onset and density.** Each side's input first passes six Schroeder allpasses (0.6–6.3 ms,
//!   g = 0.62, different lengths left and right). Their output is part of the wet signal from
//!   the first frame, so the reverb starts exactly at the predelay (before: at the shortest
//!   line, 7.5–30 ms later), and it is already dense: over the first 20 ms about 27 000 echoes/s
//!   (frames no more than 10 dB below the local RMS) and an Abel–Huang echo density of 0.8–1.0
//!   (Gaussian noise: 1), where the bare network gave 500 echoes/s and 0.02. The network's
//!   output takes over as the diffuser's response dies away (−60 dB in about 90 ms).
//! * **Delays.** 16 lengths spread geometrically over 30–97 ms at `size` = 1, scaled by
//!   `0.25 + 0.75·size`, each rounded up to a distinct prime (so mutually prime). The buffers are
//!   allocated for `size` = 1; changing `size` while the tail rings makes a jump (no blow-up).
//! * **Modulation.** Every line's length moves by up to ±[`MOD_DEPTH_MS`] (±14 frames at
//!   48 kHz) in a sine of its own rate (0.31–1.32 Hz, phases by the golden angle), read through
//!   a first-order allpass interpolator ([`allpass::read_allpass`]): |H| = 1, so the decay is
//!   untouched. The moving lengths smear the network's modes (largest peak in the tail's
//!   spectrum 3–5 dB above its third-octave median at sizes 0–1, was 12.7 dB at size 0) and
//!   its periodicities; the pitch moves by at most 4.3 cents (fastest line).
//! * **Mixing.** `A = D·P·¼H16`: the Walsh–Hadamard transform (64 additions, exact in `f32`),
//!   then a fixed permutation `P` and signs `D`. `A` is orthogonal, so the loop is lossless
//!   before the gains. The Hadamard matrix alone is its own inverse (two passes return every
//!   signal to its line), which concentrates second-order paths; `P` breaks that.
//! * **Flutter.** A signal leaving the output vector `c` re-enters the lines as `A·c`; if the
//!   output read line `i` again, the output would repeat itself after `d_i` (the old design
//!   used Hadamard rows for `c`, so `A·c` was one line: autocorrelation 0.25 at that line's
//!   length). Here `c_i·(A·c)_i = 0` for every line, by construction (see `OUT_SIGNS`), and the
//!   modulation smears what is left: the tail's normalised autocorrelation beyond 5 ms stays
//!   below 0.04.
//! * **Decay.** Each line has a one-pole low-pass `H_i(z) = g_i(1 − p_i)/(1 − p_i z⁻¹)` after
//!   it (Jot's absorbent filter). Its DC gain is `g_i = 10^(−3·d_i/(fs·decay_s))`, so a round
//!   trip through line `i` loses 60 dB per `decay_s` seconds whatever `d_i` is: every mode
//!   decays with RT60 = `decay_s` at low frequencies. Its Nyquist gain follows the same rule
//!   with RT60 = `decay_s·(1 − 0.9·damping)`, so `damping` = 1 makes the top octave die ten times
//!   faster; `damping` = 0 makes the filter a plain gain. Measured RT60 per octave band
//!   125 Hz–8 kHz is within 3.5 % of this rule (T30, tests).
//! * **Stereo.** Different diffusers per side, input vectors `b_L`, `b_R` (two Hadamard rows) and
//!   output vectors `c_L`, `c_R` on disjoint halves of the lines, so a mono input gives two
//!   decorrelated outputs (measured tail correlation 0.002).
//! * **Levels.** `wet` and `dry` are linear gains 0..=1 (not dB), ramped over [`RAMP_MS`]. The
//!   wet impulse-response energy is not normalised: it grows with `decay_s` as in a real room.
//!   `wet` = 0 with `dry` = 1 returns the input bit-exactly.
//! * **Silence.** When the input has been exactly zero and every value in the network has been
//!   below [`SILENCE_DB`] dBFS for predelay + diffuser + longest line frames,
//!   [`Reverb::tail_silent`] turns true, the network is cleared once (which also keeps it out of
//!   denormals), and frames of zeros then skip the network entirely (they would change nothing
//!   but the modulation's phase). Both happen frame by frame, wherever the calls begin and end.
//!   A non-finite value in the network (after a NaN or infinite input) clears it at the next
//!   [`Reverb::flush`].
//!
//! Not included: early-reflection patterns of a room shape, freeze.
//!
//! Thread: any. Allocation: only in [`Reverb::new`]. No locks, no panics in `process`.

use super::allpass::{self, Diffuser, Lfo};
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
/// Hadamard rows used for the input vectors.
const ROW_IN_L: usize = 5;
const ROW_IN_R: usize = 10;
/// Output vectors (×1/√8): signed sums of eight Hadamard rows that vanish on those eight rows'
/// lines, so `c_i·(H·c)_i = 0` for every line `i` (no echo of the output one loop later; see
/// the module notes on flutter). Left: rows 0, 1, 2, 4 minus 3, 7… (signs +,+,+,−,−,+,−,− on
/// rows 0, 1, 2, 3, 4, 7, 9, 10); right: rows 5, 6, 8, 11, 12, 13, 14, 15 with signs
/// +,+,+,−,+,+,+,−. Their supports are disjoint (left and right use different lines).
const OUT_SIGNS: [[i8; LINES]; 2] = [
    [0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, -1, 1, 1, 1, -1],
    [1, 1, 1, -1, -1, 0, 0, 1, 0, -1, -1, 0, 0, 0, 0, 0],
];
/// The feedback matrix is `D·P·H/4`: the Hadamard transform, then line `i` takes output
/// `PERM[i]` with sign `FLIP[i]`. Unlike `H/4` alone (an involution: two trips through it
/// return every signal to its line), it spreads second-order paths. `PERM` keeps each output
/// vector's support, so `c_i·(A·c)_i = 0` still holds.
const PERM: [usize; LINES] = [3, 4, 7, 9, 10, 13, 14, 0, 15, 1, 2, 5, 6, 8, 11, 12];
const FLIP: [f32; LINES] = [
    1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0,
];
/// Input diffuser stage delays, in milliseconds, for the left and right channel (distinct,
/// so the two sides decorrelate from the first millisecond).
const DIFFUSER_MS: [[f64; allpass::STAGES]; 2] = [
    [0.59, 0.97, 1.53, 2.39, 3.71, 5.81],
    [0.67, 1.09, 1.69, 2.63, 4.07, 6.31],
];
/// Input diffuser allpass gain.
const DIFFUSER_GAIN: f32 = 0.62;
/// Level of the diffused input in the output (the early part, until the lines answer).
const EARLY_GAIN: f32 = 0.35;
/// Peak deviation of the modulated line lengths, in milliseconds.
pub const MOD_DEPTH_MS: f64 = 0.3;
/// Modulation rates: line `i` runs at `MOD_HZ.0 + i·MOD_HZ.1` Hz.
const MOD_HZ: (f64, f64) = (0.31, 0.067);
/// The oscillators are sampled every `MOD_STEP` frames and interpolated linearly in between.
const MOD_STEP: usize = 16;

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
    /// Input diffusers, left and right.
    diffuser: [Diffuser; 2],
    /// Modulation of each line's length: oscillators, depth in frames, allpass-read states.
    lfo: [Lfo; LINES],
    depth: f32,
    /// Current length offset of each line (frames) and its per-frame slope.
    off: [f32; LINES],
    slope: [f32; LINES],
    ap: [f32; LINES],
    /// Frames since the last clear (times the oscillators' renormalisation).
    frame: usize,
    wet: Ramp,
    dry: Ramp,
    quiet_frames: usize,
    dormant: bool,
    /// 0 unless a non-finite value entered the network since the last flush.
    poison: f32,
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
        // At most 500 frames (only above 1.6 MHz): the allpass read needs |offset| < 1000.
        let depth = (MOD_DEPTH_MS * 1e-3 * sample_rate).min(500.0) as f32;
        let reach = line_lengths(sample_rate, 1.0)[LINES - 1] + depth.ceil() as usize + 2;
        let line_len = (reach + 1).next_power_of_two();
        let pre_len = ((m * 1e-3 * sample_rate).round() as usize + 1).next_power_of_two();
        let row = |r: usize| std::array::from_fn(|i| 0.25 * hadamard_sign(r, i));
        let out = |c: usize| OUT_SIGNS[c].map(|v| v as f32 * (0.125f32).sqrt());
        let diffuser = |c: usize| {
            Diffuser::new(
                DIFFUSER_MS[c].map(|ms| (ms * 1e-3 * sample_rate).round() as usize),
                DIFFUSER_GAIN,
            )
        };
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
            c: [out(0), out(1)],
            diffuser: [diffuser(0), diffuser(1)],
            lfo: [Lfo::new(sample_rate, 1.0, 0.0, MOD_STEP); LINES],
            depth,
            off: [0.0; LINES],
            slope: [0.0; LINES],
            ap: [0.0; LINES],
            frame: 0,
            wet: Ramp::new(params.wet as f32),
            dry: Ramp::new(params.dry as f32),
            quiet_frames: 0,
            dormant: true,
            poison: 0.0,
        };
        rv.set_params(params)?;
        rv.clear();
        rv.wet = Ramp::new(params.wet as f32);
        rv.dry = Ramp::new(params.dry as f32);
        Ok(rv)
    }

    /// Current settings.
    pub fn params(&self) -> &ReverbParams {
        &self.params
    }

    /// Applies new settings without allocating (control rate; `wet`/`dry` ramp over [`RAMP_MS`],
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

    /// How long the output rings after the input stops: predelay + diffuser + longest line +
    /// the time to fall by 90 dB (1.5 × `decay_s`), in frames.
    pub fn tail_frames(&self) -> usize {
        let decay = (1.5 * self.params.decay_s * self.sample_rate).ceil() as usize;
        self.predelay + self.diffuser[1].span() + self.delay[LINES - 1] + decay
    }

    /// True once the input has been silent long enough for everything in the network to be
    /// below [`SILENCE_DB`] dBFS; the output is then `dry × input` until the input is non-zero.
    pub fn tail_silent(&self) -> bool {
        self.dormant
    }

    /// True when processing silence would give silence and change nothing: the network is
    /// clear ([`Reverb::tail_silent`]) and no level ramps.
    pub fn is_at_rest(&self) -> bool {
        self.dormant && self.wet.left == 0 && self.dry.left == 0
    }

    /// Clears the network if a non-finite value entered it (after a NaN or infinite input).
    /// Call it at fixed frames of the stream, not at moving block edges. Never allocates.
    pub fn flush(&mut self) {
        let finite = self.lp.iter().chain(&self.ap).all(|v| v.is_finite());
        if self.poison != 0.0 || !finite {
            self.clear();
        }
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
        self.ap = [0.0; LINES];
        self.frame = 0;
        self.diffuser.iter_mut().for_each(Diffuser::clear);
        let fs = self.sample_rate;
        for (i, l) in self.lfo.iter_mut().enumerate() {
            // Rates spread evenly, phases by the golden angle: no two lines move together.
            let phase = 2.399_963_229_728_653 * i as f64;
            *l = Lfo::new(fs, MOD_HZ.0 + MOD_HZ.1 * i as f64, phase, MOD_STEP);
            self.off[i] = self.depth * phase.sin() as f32;
        }
        self.quiet_frames = 0;
        self.dormant = true;
        self.poison = 0.0;
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
        if self.is_at_rest() && silent_input {
            ol[..n].fill(0.0);
            if let Some(r) = or.as_deref_mut() {
                r[..n].fill(0.0);
            }
            return;
        }
        let thr = 10f32.powf(SILENCE_DB as f32 / 20.0);
        let settle = self.predelay + self.delay[LINES - 1] + self.diffuser[1].span() + 1;
        let thr2 = thr * thr;
        let (mask, pmask, len) = (self.line_mask, self.pre_mask, self.line_mask + 1);
        let depth = self.depth;
        let mut poison = 0.0f32;
        for i in 0..n {
            let (xl, xr) = (il[i], ir[i]);
            if self.dormant {
                if xl == 0.0 && xr == 0.0 && self.wet.left == 0 && self.dry.left == 0 {
                    // At rest: this frame is silence and changes nothing.
                    ol[i] = 0.0;
                    if let Some(r) = or.as_deref_mut() {
                        r[i] = 0.0;
                    }
                    continue;
                }
                self.dormant = false;
            }
            // Predelay (write, then read `predelay` frames back; 0 is a straight copy).
            let w = self.pos & pmask;
            self.pre[0][w] = xl;
            self.pre[1][w] = xr;
            let r = self.pos.wrapping_sub(self.predelay) & pmask;
            let (pl, pr) = (self.pre[0][r], self.pre[1][r]);
            // Input diffusion: the early part of the output, and what feeds the lines.
            let (dl, dr) = (self.diffuser[0].tick(pl), self.diffuser[1].tick(pr));
            // 0 unless a non-finite value entered (x·0 is NaN exactly for NaN and ±inf).
            poison += (dl + dr) * 0.0;
            // Read the (modulated) lines and run the absorbent one-poles.
            if self.frame % MOD_STEP == 0 {
                for k in 0..LINES {
                    let next = depth * self.lfo[k].tick() as f32;
                    self.slope[k] = (next - self.off[k]) * (1.0 / MOD_STEP as f32);
                }
            }
            let mut s = [0.0f32; LINES];
            for (k, sk) in s.iter_mut().enumerate() {
                self.off[k] += self.slope[k];
                let off = self.off[k];
                let line = &self.lines[k * len..(k + 1) * len];
                let v = allpass::read_allpass(
                    line,
                    mask,
                    self.pos,
                    self.delay[k],
                    off,
                    &mut self.ap[k],
                );
                self.lp[k] = self.ff[k] * v + self.pole[k] * self.lp[k];
                *sk = self.lp[k];
            }
            let (mut yl, mut yr, mut e) = (EARLY_GAIN * dl, EARLY_GAIN * dr, dl * dl + dr * dr);
            for (k, &sk) in s.iter().enumerate() {
                yl += self.c[0][k] * sk;
                yr += self.c[1][k] * sk;
                e += sk * sk;
            }
            self.frame = self.frame.wrapping_add(1);
            fwht16(&mut s);
            let wpos = self.pos & mask;
            for k in 0..LINES {
                let sk = FLIP[k] * s[PERM[k]];
                self.lines[k * len + wpos] = sk + self.b[0][k] * dl + self.b[1][k] * dr;
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
            if self.quiet_frames >= settle {
                // Everything in the network is below the silence level: clear it, at this
                // frame whatever the block size.
                self.clear();
            }
        }
        // A NaN or infinite input would otherwise circulate forever: `flush` clears.
        self.poison += poison;
    }
}

#[cfg(test)]
#[path = "reverb_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "reverb_figures_tests.rs"]
mod figures;
