//! Compressor and gate building blocks, after Giannoulis, Massberg & Reiss (JAES 2012):
//! a level detector (peak or windowed RMS; linked or per channel), the static gain computer in dB
//! with a quadratic soft knee, and one-pole "smooth branching" ballistics in the dB domain after
//! the gain computer, with α = exp(−1/(τ·fs)), so a step reaches 63.2 % at τ.
//!
//! Block pipeline of [`Compressor`], run per chunk of [`CHUNK`] samples so that each pass vectorises:
//! 1. Detect: the linked level per sample (|x| or mean square).
//! 2. If the chunk's largest level is below the knee's start (compared linearly against a
//!    precomputed threshold) and the envelope is at rest, apply the constant makeup gain and stop.
//!    No log or exp is computed.
//! 3. Otherwise compute the target gain reduction in dB (fast `log2`). Run the serial one-pole
//!    envelope on it, then convert to a gain with a fast `exp2` and apply it.
//!
//! Both branches give every sample the same gain (the constant makeup is the fast `exp2` of the
//! makeup, as the envelope path computes it at zero reduction), so the result does not depend
//! on where a chunk or a call starts. What would — snapping a finished release to exactly 0 and
//! flushing the sidechain filter's tiny states — happens only in [`Compressor::flush`] (and
//! [`Gate::flush`]), which the node calls at fixed frames of the song.
//!
//! Thread: any. Allocation: only in constructors. No locks, no panics in `process*`.

use super::biquad::{check, check_sample_rate, common_len, copy_planar, in_range};
use super::biquad::{BiquadState, Bounds, Checked, Coefs, FilterKind, ParamError};

/// dB per octave of amplitude: 20·log10(2).
pub const DB_PER_LOG2: f64 = 6.020_599_913_279_624;
/// Samples per internal processing chunk.
pub const CHUNK: usize = 64;
/// Longest RMS window; its buffer is allocated in the constructor.
pub const MAX_RMS_WINDOW_MS: f64 = 500.0;
/// A gain reduction below this (dB) that is releasing towards 0 snaps to exactly 0.
const SNAP_DB: f32 = 1e-5;
const TIME_MS: Bounds = (0.0, 10_000.0, "0..=10000 ms");

/// Fast log2 for positive normal `x`: exponent plus a 4-term atanh series on the mantissa folded
/// into [√½, √2). Absolute error < 3e-7 beyond the f32 rounding of the result (< 2e-5 dB).
/// Branch-free, so it vectorises. Zero gives −127.
#[inline(always)]
pub fn fast_log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    let (m, e) = if big { (m * 0.5, e + 1) } else { (m, e) };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // 2/(k·ln 2) for k = 1, 3, 5, 7
    let (c1, c3, c5, c7) = (2.885_39, 0.961_796_7, 0.577_078, 0.412_198_57);
    e as f32 + s * (c1 + s2 * (c3 + s2 * (c5 + s2 * c7)))
}

/// Fast 2^x (relative error < 3e-7), `x` clamped to [−126, 126]: round-to-nearest by the
/// 1.5·2²³ trick, degree-6 Taylor polynomial on [−½, ½], exponent by bit assembly. Vectorises.
#[inline(always)]
pub fn fast_exp2(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-126.0, 126.0);
    let t = x + MAGIC;
    let i = t.to_bits() as i32 - 0x4b40_0000;
    let f = (x - (t - MAGIC)) * std::f32::consts::LN_2;
    let mut p = 1.0 / 720.0;
    for k in [120.0, 24.0, 6.0, 2.0, 1.0, 1.0] {
        p = p * f + 1.0 / k;
    }
    f32::from_bits(((i + 127) << 23) as u32) * p
}

/// The Giannoulis–Massberg–Reiss static curve: output level `y` (dB) for input level `x_db`.
/// Hard knee at `knee_db = 0`; `ratio = ∞` is a limiter. The gain is `y − x_db`.
pub fn gain_computer_db(x_db: f64, threshold_db: f64, ratio: f64, knee_db: f64) -> f64 {
    let d = x_db - threshold_db;
    if 2.0 * d < -knee_db {
        x_db
    } else if knee_db > 0.0 && 2.0 * d.abs() <= knee_db {
        let u = d + knee_db / 2.0;
        x_db + (1.0 / ratio - 1.0) * u * u / (2.0 * knee_db)
    } else {
        threshold_db + d / ratio
    }
}

/// Gain (dB, ≤ 0) the static curve applies at `x_db`: `gain_computer_db(..) − x_db`.
pub fn gain_reduction_db(x_db: f64, threshold_db: f64, ratio: f64, knee_db: f64) -> f64 {
    gain_computer_db(x_db, threshold_db, ratio, knee_db) - x_db
}

/// One-pole coefficient α = exp(−1/(τ·fs)) for a time constant in ms (0 ms → 0: instant).
pub fn time_constant_coef(time_ms: f64, sample_rate: f64) -> f64 {
    match time_ms > 0.0 && sample_rate > 0.0 {
        true => (-1.0 / (time_ms * 1e-3 * sample_rate)).exp(),
        false => 0.0,
    }
}

/// "Smooth branching" one-pole (Giannoulis et al. eq. 17): `s = α·s + (1 − α)·x` with the
/// attack coefficient while the input is above the state and the release one otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Ballistics {
    /// α used while rising.
    pub attack_coef: f32,
    /// α used while falling.
    pub release_coef: f32,
    /// Current output.
    pub state: f32,
}

impl Ballistics {
    /// From times in ms (see [`time_constant_coef`]).
    pub fn new(attack_ms: f64, release_ms: f64, sample_rate: f64) -> Self {
        let attack_coef = time_constant_coef(attack_ms, sample_rate) as f32;
        let release_coef = time_constant_coef(release_ms, sample_rate) as f32;
        Self {
            attack_coef,
            release_coef,
            state: 0.0,
        }
    }

    /// One step towards `x`; returns the new state.
    #[inline(always)]
    pub fn next(&mut self, x: f32) -> f32 {
        let a = if x > self.state {
            self.attack_coef
        } else {
            self.release_coef
        };
        self.state = x + a * (self.state - x);
        self.state
    }
}

/// Sliding-window mean square (rectangular window), with an `f64` running sum.
#[derive(Clone, Debug)]
pub struct RmsWindow {
    ring: Vec<f32>,
    len: usize,
    pos: usize,
    sum: f64,
    /// Zeros pushed in a row (the ring holds only zeros once this reaches `len`).
    zeros: usize,
}

impl RmsWindow {
    /// Allocates room for `max_len` samples; the window starts at `max_len`.
    pub fn new(max_len: usize) -> Self {
        let len = max_len.max(1);
        Self {
            ring: vec![0.0; len],
            len,
            pos: 0,
            sum: 0.0,
            zeros: len,
        }
    }

    /// Sets the window length (clamped to the capacity) and clears it.
    pub fn set_len(&mut self, len: usize) {
        self.len = len.clamp(1, self.ring.len());
        self.reset();
    }

    /// Clears the history.
    pub fn reset(&mut self) {
        self.ring.iter_mut().for_each(|v| *v = 0.0);
        (self.pos, self.sum, self.zeros) = (0, 0.0, self.len);
    }

    /// Whether the window holds only zeros (pushing more zeros then changes nothing that
    /// matters: the running sum stays as it is).
    pub fn is_clear(&self) -> bool {
        self.zeros >= self.len
    }

    /// Pushes one squared sample; returns the mean square over the window.
    #[inline(always)]
    pub fn push(&mut self, x2: f32) -> f32 {
        let old = std::mem::replace(&mut self.ring[self.pos], x2);
        self.zeros = (self.zeros + 1) * (x2 == 0.0) as usize;
        self.sum += x2 as f64 - old as f64;
        self.pos += 1;
        if self.pos >= self.len {
            self.pos = 0;
        }
        (self.sum.max(0.0) / self.len as f64) as f32
    }
}

/// Level detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// Instantaneous |x| (ballistics are applied to the gain reduction).
    Peak,
    /// Mean square over `rms_window_ms`, read as an RMS level.
    Rms,
}

/// How channels share the detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// One gain for all channels, from the loudest channel's level.
    Max,
    /// One gain for all channels, from the mean of the channel levels (|x| or x²).
    Average,
    /// Each channel has its own detector and gain.
    PerChannel,
}

/// Compressor settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompressorParams {
    /// Threshold T in dBFS (−120..=24).
    pub threshold_db: f64,
    /// Ratio R ≥ 1 (`f64::INFINITY` limits).
    pub ratio: f64,
    /// Knee width W in dB (0 = hard; 0..=48).
    pub knee_db: f64,
    /// Attack time constant τA in ms (63.2 % of a gain-reduction step; 0..=10000).
    pub attack_ms: f64,
    /// Release time constant τR in ms (0..=10000).
    pub release_ms: f64,
    /// Extra gain after compression, dB (−60..=60).
    pub makeup_db: f64,
    /// Adds [`CompressorParams::auto_makeup_db`] to `makeup_db`.
    pub auto_makeup: bool,
    /// Peak or RMS detection.
    pub detection: Detection,
    /// RMS window in ms (0.01..=[`MAX_RMS_WINDOW_MS`]); ignored for peak detection.
    pub rms_window_ms: f64,
    /// Channel linking.
    pub link: Link,
    /// 2nd-order Butterworth high-pass on the detector path, in Hz.
    pub sidechain_hpf_hz: Option<f64>,
}

impl Default for CompressorParams {
    /// The mix16 track compressor: −18 dBFS, 4:1, hard knee, 10/100 ms, peak, max-linked.
    fn default() -> Self {
        Self {
            threshold_db: -18.0,
            ratio: 4.0,
            knee_db: 0.0,
            attack_ms: 10.0,
            release_ms: 100.0,
            makeup_db: 0.0,
            auto_makeup: false,
            detection: Detection::Peak,
            rms_window_ms: 10.0,
            link: Link::Max,
            sidechain_hpf_hz: None,
        }
    }
}

impl CompressorParams {
    /// Checks every field (see the field docs for the ranges).
    pub fn validate(&self, sample_rate: f64) -> Checked {
        check_sample_rate(sample_rate)?;
        in_range(
            "threshold_db",
            self.threshold_db,
            (-120.0, 24.0, "−120..=24 dBFS"),
        )?;
        check(self.ratio >= 1.0, "ratio", self.ratio, "≥ 1 (inf allowed)")?;
        in_range("knee_db", self.knee_db, (0.0, 48.0, "0..=48 dB"))?;
        in_range("attack_ms", self.attack_ms, TIME_MS)?;
        in_range("release_ms", self.release_ms, TIME_MS)?;
        in_range("makeup_db", self.makeup_db, (-60.0, 60.0, "−60..=60 dB"))?;
        let rms = (0.01, MAX_RMS_WINDOW_MS, "0.01..=500 ms");
        in_range("rms_window_ms", self.rms_window_ms, rms)?;
        let hpf = (1e-3, 0.4999 * sample_rate, "0 < hz < sample_rate/2");
        self.sidechain_hpf_hz
            .map_or(Ok(()), |hz| in_range("sidechain_hpf_hz", hz, hpf))
    }

    /// Automatic makeup: half of the reduction the static curve applies to a 0 dBFS level,
    /// `−½·(y(0) − 0)` (e.g. T −18, R 4: +6.75 dB). Compensating only half avoids over-loud
    /// results for signals that rarely reach full scale (as in CTAGDRC).
    pub fn auto_makeup_db(&self) -> f64 {
        -0.5 * gain_reduction_db(0.0, self.threshold_db, self.ratio, self.knee_db)
    }
}

/// Derived per-sample constants (f32).
#[derive(Clone, Copy, Debug, Default)]
struct Curve {
    threshold_db: f32,
    half_knee: f32,
    inv_2knee: f32,
    slope: f32,
    /// Detector value (|x| or x²) at T − W/2: nothing to do at or below it.
    knee_start_level: f32,
    /// dB per log2 of the detector value (6.02 for amplitude, 3.01 for power).
    db_per_log2: f32,
}

impl Curve {
    /// Gain reduction (dB, ≥ 0) for a detector value; branch-free.
    #[inline(always)]
    fn reduction_db(&self, level: f32) -> f32 {
        let d = fast_log2(level) * self.db_per_log2 - self.threshold_db;
        let u = d + self.half_knee;
        let knee = self.slope * u * u * self.inv_2knee;
        let r = if d >= self.half_knee {
            self.slope * d
        } else {
            knee
        };
        let below = d <= -self.half_knee || level <= self.knee_start_level;
        if below {
            0.0
        } else {
            r
        }
    }
}

/// Per-source-channel detector state: sidechain high-pass and RMS window.
#[derive(Clone, Debug)]
struct Detector {
    hpf: Option<Coefs>,
    hpf_states: Vec<BiquadState>,
    rms: Vec<RmsWindow>,
    detection: Detection,
}

impl Detector {
    /// The level of `x` (source slot `idx`), stored into `det` (`first`) or combined by `link`.
    fn add(&mut self, x: &[f32], idx: usize, first: bool, link: Link, det: &mut [f32]) {
        let n = det.len().min(x.len());
        let mut tmp = [0.0f32; CHUNK];
        let v = &mut tmp[..n];
        v.copy_from_slice(&x[..n]);
        if let (Some(c), Some(st)) = (self.hpf.as_ref(), self.hpf_states.get_mut(idx)) {
            v.iter_mut().for_each(|s| *s = st.tick(c, *s));
        }
        match (self.detection, self.rms.get_mut(idx)) {
            (Detection::Rms, Some(w)) => v.iter_mut().for_each(|s| *s = w.push(*s * *s)),
            _ => v.iter_mut().for_each(|s| *s = s.abs()),
        }
        let pairs = det[..n].iter_mut().zip(v.iter());
        match (first, link) {
            (true, _) => det[..n].copy_from_slice(v),
            (false, Link::Average) => pairs.for_each(|(d, s)| *d += *s),
            (false, _) => pairs.for_each(|(d, s)| *d = d.max(*s)),
        }
    }
}

/// Feed-forward compressor with a dB-domain gain computer and smooth-branching ballistics.
#[derive(Clone, Debug)]
pub struct Compressor {
    channels: usize,
    sample_rate: f64,
    params: CompressorParams,
    curve: Curve,
    /// The makeup gain as the envelope path computes it at zero reduction (`fast_exp2` of
    /// `makeup_log2`), so that skipping the envelope changes no sample.
    makeup_lin: f32,
    makeup_log2: f32,
    attack: f32,
    release: f32,
    det: Detector,
    /// Smoothed gain reduction (dB, ≥ 0): one for linked modes, one per channel otherwise.
    env: Vec<f32>,
    /// Whether each envelope's last target was 0 (a release [`Compressor::flush`] may finish).
    releasing: Vec<bool>,
    gr_max: f32,
}

impl Compressor {
    /// Allocates all state (RMS windows of [`MAX_RMS_WINDOW_MS`], filters) for `channels`.
    pub fn new(
        channels: usize,
        sample_rate: f64,
        params: CompressorParams,
    ) -> Result<Self, ParamError> {
        params.validate(sample_rate)?;
        let cap = (MAX_RMS_WINDOW_MS * 1e-3 * sample_rate).ceil() as usize + 1;
        let det = Detector {
            hpf: None,
            hpf_states: vec![BiquadState::default(); channels],
            rms: (0..channels).map(|_| RmsWindow::new(cap)).collect(),
            detection: params.detection,
        };
        let mut c = Self {
            channels,
            sample_rate,
            params,
            curve: Curve::default(),
            makeup_lin: 1.0,
            makeup_log2: 0.0,
            attack: 0.0,
            release: 0.0,
            det,
            env: vec![0.0; channels.max(1)],
            releasing: vec![true; channels.max(1)],
            gr_max: 0.0,
        };
        c.set_params(params)?;
        c.reset();
        Ok(c)
    }

    /// Current settings.
    pub fn params(&self) -> &CompressorParams {
        &self.params
    }

    /// Changes settings without allocating (a new RMS window length clears the RMS history).
    /// On error nothing changes.
    pub fn set_params(&mut self, p: CompressorParams) -> Checked {
        p.validate(self.sample_rate)?;
        let fs = self.sample_rate;
        let window = ((p.rms_window_ms * 1e-3 * fs).round() as usize).max(1);
        if self.curve.db_per_log2 == 0.0 || p.rms_window_ms != self.params.rms_window_ms {
            self.det.rms.iter_mut().for_each(|w| w.set_len(window));
        }
        self.det.detection = p.detection;
        let q = std::f64::consts::FRAC_1_SQRT_2;
        self.det.hpf = p
            .sidechain_hpf_hz
            .map(|hz| Coefs::rbj(FilterKind::Highpass, fs, hz, q, 0.0));
        // RMS levels are powers: half the dB per log2, and the knee start squared
        let power = 1.0 + (p.detection == Detection::Rms) as u8 as f64;
        let start_db = p.threshold_db - p.knee_db / 2.0;
        self.curve = Curve {
            threshold_db: p.threshold_db as f32,
            half_knee: (p.knee_db / 2.0) as f32,
            inv_2knee: (0.5 / p.knee_db).min(f64::MAX) as f32 * (p.knee_db > 0.0) as u8 as f32,
            slope: (1.0 - 1.0 / p.ratio) as f32,
            knee_start_level: 10f64.powf(start_db * power / 20.0) as f32,
            db_per_log2: (DB_PER_LOG2 / power) as f32,
        };
        let makeup = p.makeup_db + p.auto_makeup_db() * (p.auto_makeup as u8 as f64);
        self.makeup_log2 = (makeup / DB_PER_LOG2) as f32;
        self.makeup_lin = fast_exp2(self.makeup_log2);
        self.attack = time_constant_coef(p.attack_ms, fs) as f32;
        self.release = time_constant_coef(p.release_ms, fs) as f32;
        if p.link != self.params.link {
            self.env.iter_mut().for_each(|e| *e = 0.0);
        }
        self.params = p;
        Ok(())
    }

    /// Largest gain reduction (dB, ≥ 0, makeup excluded) during the last processed block.
    pub fn gain_reduction_db(&self) -> f32 {
        self.gr_max
    }

    /// Gain reduction (dB, ≥ 0) after the last processed sample (max over channels).
    pub fn current_gain_reduction_db(&self) -> f32 {
        self.env.iter().fold(0.0, |a, &b| a.max(b))
    }

    /// Snaps a finished release (below 1e-5 dB, towards 0) to exactly 0, recovers from a
    /// non-finite envelope, and flushes the sidechain filter's tiny states. Call it at fixed
    /// frames of the stream (the nodes call it every
    /// [`crate::nodes::control::FLUSH_FRAMES`] frames of the song), never at moving block
    /// edges: it changes the samples after it. No allocation.
    pub fn flush(&mut self) {
        for (e, &releasing) in self.env.iter_mut().zip(&self.releasing) {
            if (*e < SNAP_DB && releasing) || !e.is_finite() {
                *e = 0.0;
            }
        }
        self.det
            .hpf_states
            .iter_mut()
            .for_each(|s| s.flush_denormals());
    }

    /// Whether compressing silence would give silence and change nothing: no gain reduction,
    /// sidechain filter and RMS windows at zero.
    pub fn is_at_rest(&self) -> bool {
        self.env.iter().all(|&e| e == 0.0)
            && self
                .det
                .hpf_states
                .iter()
                .all(|s| s.z1 == 0.0 && s.z2 == 0.0)
            && (self.params.detection == Detection::Peak
                || self.det.rms.iter().all(RmsWindow::is_clear))
    }

    /// Clears detector and envelope state.
    pub fn reset(&mut self) {
        self.env.iter_mut().for_each(|e| *e = 0.0);
        self.det.rms.iter_mut().for_each(|w| w.reset());
        self.det
            .hpf_states
            .iter_mut()
            .for_each(|s| *s = BiquadState::default());
        self.gr_max = 0.0;
    }

    /// Compresses planar `inputs` into `outputs`. `sidechain`, if given, feeds the detector
    /// instead of the inputs (with [`Link::PerChannel`], channel `c` uses sidechain `c % len`).
    /// At most `channels` channels are processed; the shortest slice sets the length.
    pub fn process(
        &mut self,
        inputs: &[&[f32]],
        sc: Option<&[&[f32]]>,
        outputs: &mut [&mut [f32]],
    ) {
        let k = copy_planar(inputs, outputs);
        self.process_in_place(&mut outputs[..k], sc);
    }

    /// Compresses planar buffers in place (see [`Compressor::process`]). No allocation.
    pub fn process_in_place(&mut self, buffers: &mut [&mut [f32]], sidechain: Option<&[&[f32]]>) {
        let nch = buffers.len().min(self.channels);
        let sc = sidechain.filter(|s| !s.is_empty());
        let n = common_len(buffers, nch, sc);
        self.gr_max = 0.0;
        let link = self.params.link;
        let (mut det, mut gain) = ([0.0f32; CHUNK], [0.0f32; CHUNK]);
        for start in (0..n).step_by(CHUNK) {
            let end = (start + CHUNK).min(n);
            let (det, gain) = (&mut det[..end - start], &mut gain[..end - start]);
            if link == Link::PerChannel {
                for c in 0..nch {
                    let src = sc.map_or(&buffers[c][..], |s| s[c % s.len()]);
                    self.det.add(&src[start..end], c, true, link, det);
                    let unity = self.gains(c, det, gain);
                    self.apply(&mut buffers[c][start..end], unity, gain);
                }
                continue;
            }
            let srcs = sc.map_or(nch, |s| s.len().min(self.channels));
            for c in 0..srcs {
                // (not `map_or`: its default is evaluated even when a sidechain is given, and the
                // sidechain may have more channels than the gated signal)
                let src = match sc {
                    Some(s) => s[c],
                    None => &buffers[c][..],
                };
                self.det.add(&src[start..end], c, c == 0, link, det);
            }
            if link == Link::Average && srcs > 1 {
                det.iter_mut().for_each(|d| *d /= srcs as f32);
            }
            let unity = self.gains(0, det, gain);
            for b in buffers[..nch].iter_mut() {
                self.apply(&mut b[start..end], unity, gain);
            }
        }
    }

    /// Fills `gain` for one chunk from the detector levels; `true` means "constant makeup".
    fn gains(&mut self, slot: usize, det: &[f32], gain: &mut [f32]) -> bool {
        let Some(env) = self.env.get_mut(slot) else {
            return true;
        };
        let peak = super::max_of(det);
        let active = peak > self.curve.knee_start_level;
        if !active && *env == 0.0 {
            return true;
        }
        let mut target = [0.0f32; CHUNK];
        let target = &mut target[..det.len()];
        if active {
            reductions_db(&self.curve, det, target);
        }
        // e' = α·e + (1 − α)·t with the (1 − α)·t products precomputed (vectorised), so the
        // serial chain is one mul, one add and a select.
        let (att, rel) = (self.attack, self.release);
        let (mut t_att, mut t_rel) = ([0.0f32; CHUNK], [0.0f32; CHUNK]);
        for ((a, r), &t) in t_att.iter_mut().zip(t_rel.iter_mut()).zip(target.iter()) {
            (*a, *r) = ((1.0 - att) * t, (1.0 - rel) * t);
        }
        let mut e = *env;
        let mut gr_max = self.gr_max;
        // Attack when the target is above the envelope, release otherwise. With α_att ≤ α_rel
        // (attack no slower than release) that choice is the larger of the two candidates,
        // since up − down = (α_att − α_rel)(e − t) has the sign of t − e; otherwise it is the
        // smaller. So the serial chain is mul, add, max — no compare-and-select.
        let attack_wins = att <= rel;
        envelope_chain(
            &mut e,
            &mut gr_max,
            att,
            rel,
            &t_att,
            &t_rel,
            gain,
            attack_wins,
        );
        // A finished release snaps to exactly 0 in `flush`, at fixed frames of the stream.
        if let Some(r) = self.releasing.get_mut(slot) {
            *r = target.last() == Some(&0.0);
        }
        (*env, self.gr_max) = (e, gr_max);
        gains_from_reduction(self.makeup_log2, gain);
        false
    }

    #[inline]
    fn apply(&self, buf: &mut [f32], unity: bool, gain: &[f32]) {
        let m = self.makeup_lin;
        match (unity, m == 1.0) {
            (false, _) => buf.iter_mut().zip(gain).for_each(|(x, g)| *x *= g),
            (true, false) => buf.iter_mut().for_each(|x| *x *= m),
            (true, true) => {}
        }
    }
}

/// Gain reduction in dB for each detector level. Vector code, also built for AVX2 + FMA
/// (chosen at run time).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn reductions_db(curve: &Curve, det: &[f32], out: &mut [f32]) {
    out.iter_mut()
        .zip(det)
        .for_each(|(t, &d)| *t = curve.reduction_db(d));
}

/// Linear gains from reductions in dB (in place), with the makeup as a log2 offset. Vector
/// code, also built for AVX2 + FMA.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn gains_from_reduction(makeup_log2: f32, gain: &mut [f32]) {
    let k = (1.0 / DB_PER_LOG2) as f32;
    gain.iter_mut()
        .for_each(|g| *g = fast_exp2(makeup_log2 - *g * k));
}

/// The serial part of the compressor: `e ← max(α_att·e + ta, α_rel·e + tr)` per sample (`min`
/// when the attack is the slower one), writing each `e` to `out` and tracking its maximum.
/// This one recursion bounds the compressor's speed, so on x86-64 it is written with scalar SSE
/// operations (two independent mul-adds and one `maxss`: LLVM's own code packs the two mul-adds
/// into one vector with shuffles on the critical path), with fused multiply-adds where the CPU
/// has them.
#[allow(clippy::too_many_arguments)]
#[inline]
fn envelope_chain(
    e: &mut f32,
    peak: &mut f32,
    att: f32,
    rel: f32,
    ta: &[f32],
    tr: &[f32],
    out: &mut [f32],
    attack_wins: bool,
) {
    let n = out.len().min(ta.len()).min(tr.len());
    let (ta, tr, out) = (&ta[..n], &tr[..n], &mut out[..n]);
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE is part of x86-64; FMA is checked at run time; indices are below `n`.
        unsafe {
            if std::arch::is_x86_feature_detected!("fma") {
                chain_fma(e, peak, att, rel, ta, tr, out, attack_wins);
            } else {
                chain_sse(e, peak, att, rel, ta, tr, out, attack_wins);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for i in 0..n {
        let (up, down) = (att * *e + ta[i], rel * *e + tr[i]);
        *e = if (up > down) == attack_wins { up } else { down };
        *peak = if *e > *peak { *e } else { *peak };
        out[i] = *e;
    }
}

/// Defines one build of the envelope recursion (see [`envelope_chain`]) around a mul-add.
#[cfg(target_arch = "x86_64")]
macro_rules! chain_fn {
    ($(#[$attr:meta])* $name:ident, $muladd:path) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            e: &mut f32,
            peak: &mut f32,
            att: f32,
            rel: f32,
            ta: &[f32],
            tr: &[f32],
            out: &mut [f32],
            attack_wins: bool,
        ) {
            use std::arch::x86_64::*;
            let (a, r) = (_mm_set_ss(att), _mm_set_ss(rel));
            let (mut x, mut p) = (_mm_set_ss(*e), _mm_set_ss(*peak));
            for i in 0..out.len() {
                let up = $muladd(a, x, _mm_load_ss(ta.as_ptr().add(i)));
                let down = $muladd(r, x, _mm_load_ss(tr.as_ptr().add(i)));
                x = if attack_wins {
                    _mm_max_ss(up, down)
                } else {
                    _mm_min_ss(up, down)
                };
                p = _mm_max_ss(p, x);
                _mm_store_ss(out.as_mut_ptr().add(i), x);
            }
            *e = _mm_cvtss_f32(x);
            *peak = _mm_cvtss_f32(p);
        }
    };
}

#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn muladd_sse(
    m: std::arch::x86_64::__m128,
    x: std::arch::x86_64::__m128,
    c: std::arch::x86_64::__m128,
) -> std::arch::x86_64::__m128 {
    use std::arch::x86_64::*;
    _mm_add_ss(_mm_mul_ss(m, x), c)
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "fma")]
unsafe fn muladd_fma(
    m: std::arch::x86_64::__m128,
    x: std::arch::x86_64::__m128,
    c: std::arch::x86_64::__m128,
) -> std::arch::x86_64::__m128 {
    std::arch::x86_64::_mm_fmadd_ss(m, x, c)
}

#[cfg(target_arch = "x86_64")]
chain_fn!(chain_sse, muladd_sse);
#[cfg(target_arch = "x86_64")]
chain_fn!(
    #[target_feature(enable = "fma")]
    chain_fma,
    muladd_fma
);

/// Gate / downward expander settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GateParams {
    /// Opening threshold in dBFS (−140..=24).
    pub threshold_db: f64,
    /// Attenuation when fully closed, dB ≤ 0 (≤ −200, including −∞, mutes).
    pub range_db: f64,
    /// Expansion ratio ≥ 1 below the threshold (`f64::INFINITY` = gate).
    pub ratio: f64,
    /// Opening time constant in ms (0..=10000).
    pub attack_ms: f64,
    /// Time the gate stays open after the level falls below the closing threshold, ms (0..=10000).
    pub hold_ms: f64,
    /// Closing time constant in ms (0..=10000).
    pub release_ms: f64,
    /// The gate closes at `threshold_db − hysteresis_db` (0..=40 dB).
    pub hysteresis_db: f64,
}

impl Default for GateParams {
    fn default() -> Self {
        Self {
            threshold_db: -40.0,
            range_db: -80.0,
            ratio: f64::INFINITY,
            attack_ms: 0.5,
            hold_ms: 20.0,
            release_ms: 100.0,
            hysteresis_db: 4.0,
        }
    }
}

impl GateParams {
    /// Checks every field.
    pub fn validate(&self) -> Checked {
        in_range(
            "threshold_db",
            self.threshold_db,
            (-140.0, 24.0, "−140..=24 dBFS"),
        )?;
        let range = (f64::NEG_INFINITY, 0.0, "≤ 0 dB (−inf allowed)");
        in_range("range_db", self.range_db, range)?;
        check(self.ratio >= 1.0, "ratio", self.ratio, "≥ 1 (inf = gate)")?;
        in_range("attack_ms", self.attack_ms, TIME_MS)?;
        in_range("hold_ms", self.hold_ms, TIME_MS)?;
        in_range("release_ms", self.release_ms, TIME_MS)?;
        in_range(
            "hysteresis_db",
            self.hysteresis_db,
            (0.0, 40.0, "0..=40 dB"),
        )
    }
}

/// Gate / downward expander: peak detector linked over channels (max), open/closed state with
/// hysteresis and hold, dB-domain one-pole ballistics on the gain.
///
/// The detector is the instantaneous |x|, so `hold_ms` should cover half a period of the lowest
/// frequency that should keep the gate open (e.g. ≥ 10 ms for 50 Hz).
#[derive(Clone, Debug)]
pub struct Gate {
    channels: usize,
    sample_rate: f64,
    params: GateParams,
    /// Linear opening and closing thresholds; below `levels.2` the expander sits at the range.
    levels: (f32, f32, f32),
    range_db: f32,
    hold_samples: u32,
    ballistics: Ballistics,
    open: bool,
    hold: u32,
    atten_max: f32,
}

impl Gate {
    /// A closed gate for `channels` channels.
    pub fn new(channels: usize, sample_rate: f64, params: GateParams) -> Result<Self, ParamError> {
        check_sample_rate(sample_rate)?;
        let mut g = Self {
            channels,
            sample_rate,
            params,
            levels: (0.0, 0.0, 0.0),
            range_db: 0.0,
            hold_samples: 0,
            ballistics: Ballistics::default(),
            open: false,
            hold: 0,
            atten_max: 0.0,
        };
        g.set_params(params)?;
        g.ballistics.state = g.range_db;
        Ok(g)
    }

    /// Closes the gate and clears its hold and ballistics (a seek, a rewind). Never allocates.
    pub fn reset(&mut self) {
        self.open = false;
        self.hold = 0;
        self.ballistics.state = self.range_db;
    }

    /// Snaps a closed gate's gain that has come within 1e-5 dB of the range to the range (a
    /// one-pole approaches it without ever landing on it). Call it at fixed frames of the
    /// stream, like [`Compressor::flush`]. No allocation.
    pub fn flush(&mut self) {
        let s = &mut self.ballistics.state;
        if !self.open && (*s - self.range_db).abs() < SNAP_DB || !s.is_finite() {
            *s = self.range_db;
        }
    }

    /// Whether gating silence would change nothing: closed, no hold pending, the gain at the
    /// range.
    pub fn is_at_rest(&self) -> bool {
        !self.open && self.hold == 0 && self.ballistics.state == self.range_db
    }

    /// Changes settings (no allocation). On error nothing changes.
    pub fn set_params(&mut self, p: GateParams) -> Checked {
        p.validate()?;
        let lin = |db: f64| 10f64.powf(db / 20.0) as f32;
        let range = p.range_db.max(-200.0);
        let floor = lin(p.threshold_db + range / (p.ratio - 1.0)); // = threshold for a gate (ratio ∞)
        self.levels = (
            lin(p.threshold_db),
            lin(p.threshold_db - p.hysteresis_db),
            floor,
        );
        self.range_db = range as f32;
        self.hold_samples = (p.hold_ms * 1e-3 * self.sample_rate).round() as u32;
        let state = self.ballistics.state.max(self.range_db);
        self.ballistics = Ballistics::new(p.attack_ms, p.release_ms, self.sample_rate);
        self.ballistics.state = state;
        self.params = p;
        Ok(())
    }

    /// Largest attenuation (dB, ≥ 0) during the last block.
    pub fn gain_reduction_db(&self) -> f32 {
        self.atten_max
    }

    /// Whether the gate is open after the last sample.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Gates planar `inputs` into `outputs`, keyed by `sidechain` if given (linked: max |x|).
    pub fn process(
        &mut self,
        inputs: &[&[f32]],
        sc: Option<&[&[f32]]>,
        outputs: &mut [&mut [f32]],
    ) {
        let k = copy_planar(inputs, outputs);
        self.process_in_place(&mut outputs[..k], sc);
    }

    /// Gates planar buffers in place. No allocation.
    pub fn process_in_place(&mut self, buffers: &mut [&mut [f32]], sidechain: Option<&[&[f32]]>) {
        let nch = buffers.len().min(self.channels);
        let sc = sidechain.filter(|s| !s.is_empty());
        let n = common_len(buffers, nch, sc);
        self.atten_max = 0.0;
        let (mut det, mut gain) = ([0.0f32; CHUNK], [0.0f32; CHUNK]);
        for start in (0..n).step_by(CHUNK) {
            let end = (start + CHUNK).min(n);
            let (det, gain) = (&mut det[..end - start], &mut gain[..end - start]);
            det.iter_mut().for_each(|d| *d = 0.0);
            let nsrc = sc.map_or(nch, |s| s.len());
            for c in 0..nsrc {
                // (not `map_or`: its default is evaluated even when a sidechain is given, and the
                // sidechain may have more channels than the gated signal)
                let src = match sc {
                    Some(s) => s[c],
                    None => &buffers[c][..],
                };
                det.iter_mut()
                    .zip(&src[start..end])
                    .for_each(|(d, s)| *d = d.max(s.abs()));
            }
            for (g, &d) in gain.iter_mut().zip(det.iter()) {
                *g = self.tick(d);
            }
            for b in buffers[..nch].iter_mut() {
                b[start..end]
                    .iter_mut()
                    .zip(gain.iter())
                    .for_each(|(x, g)| *x *= g);
            }
        }
    }

    /// One detector value in, one linear gain out.
    #[inline]
    fn tick(&mut self, d: f32) -> f32 {
        let d = d.max(0.0); // NaN → 0
        let (open_level, close_level, floor_level) = self.levels;
        if d >= open_level {
            (self.open, self.hold) = (true, self.hold_samples);
        } else if self.open && d >= close_level {
            self.hold = self.hold_samples;
        } else if self.open && self.hold > 0 {
            self.hold -= 1;
        } else {
            self.open = false;
        }
        let (thr, ratio_m1) = (
            self.params.threshold_db as f32,
            (self.params.ratio - 1.0) as f32,
        );
        let target = match (self.open, d <= floor_level) {
            (true, _) => 0.0,
            (false, true) => self.range_db,
            (false, false) => {
                let gain = (fast_log2(d) * DB_PER_LOG2 as f32 - thr) * ratio_m1;
                gain.clamp(self.range_db, 0.0)
            }
        };
        let mut e = self.ballistics.next(target);
        if e > -SNAP_DB && target == 0.0 {
            (e, self.ballistics.state) = (0.0, 0.0);
        }
        self.atten_max = self.atten_max.max(-e);
        match (e == 0.0, self.params.range_db <= -200.0 && e <= -199.99) {
            (true, _) => 1.0,
            (false, true) => 0.0,
            (false, false) => fast_exp2(e * (1.0 / DB_PER_LOG2) as f32),
        }
    }
}

#[cfg(test)]
#[path = "dynamics_tests.rs"]
mod tests;
