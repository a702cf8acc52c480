//! Loudness metering per ITU-R BS.1770-5, EBU R128 / Tech 3341 (momentary, short-term,
//! integrated) and EBU Tech 3342 (loudness range).
//!
//! * **K-weighting**: two biquads whose coefficients are derived analytically for any sample
//!   rate with the libebur128 parameters (they reproduce the BS.1770 48 kHz table to ~1e-15).
//! * **Momentary / short-term** (400 ms / 3 s rectangular windows) are kept as running sums of
//!   the channel-weighted K-filtered mean squares, updated **every sample**, so their maxima are
//!   sample-accurate (EBU Tech 3341 cases 10, 11, 13 and 14 need at least a 10 ms step). The
//!   sums are recomputed exactly from the history every 3 s, which bounds the f64 drift.
//! * **Integrated**: 400 ms gating blocks every 100 ms (an incomplete last block is discarded),
//!   absolute gate −70 LUFS and relative gate −10 LU, both strict ">" as in BS.1770.
//! * **Loudness range**: short-term values every 100 ms, absolute gate −70 LUFS and relative
//!   gate −20 LU (both "≥" as in Tech 3342), then P95 − P10 with the Tech 3342 MATLAB index
//!   rule `sorted[round((n − 1)·p/100 + 1)]` (1-based, MATLAB rounding: half away from zero).
//!
//! The meter works in f64 on planar f32 input. All values are in LUFS (LU for the range); a
//! window of digital silence reads `Some(f64::NEG_INFINITY)`.
//!
//! Thread: [`LoudnessMeter`] is plain data (`Send + Sync`); use one meter per thread or stream.
//! Allocation: [`LoudnessMeter::new`] allocates the 3 s history, a scratch block and room for
//! two hours of gating history; [`LoudnessMeter::process`] allocates only when a programme
//! outgrows that (amortised `Vec` growth); [`LoudnessMeter::loudness_range_lu`] allocates a
//! temporary copy to sort; every other method never allocates.

use std::f64::consts::PI;

/// LUFS offset of BS.1770: L = −0.691 + 10·log10(Σ Gᵢ·zᵢ).
const LUFS_OFFSET: f64 = -0.691;
/// Absolute gate (−70 LUFS) expressed as a weighted mean square.
fn abs_gate_power() -> f64 {
    10f64.powf((-70.0 - LUFS_OFFSET) / 10.0)
}
/// Samples processed per internal block (the filters run per channel over one block).
const BLOCK: usize = 1024;
/// Gating history reserved by [`LoudnessMeter::new`], in 100 ms steps (two hours).
const RESERVED_STEPS: usize = 2 * 3600 * 10;

/// Converts a channel-weighted mean square to LUFS (−∞ for zero).
#[inline]
fn lufs(power: f64) -> f64 {
    LUFS_OFFSET + 10.0 * power.max(0.0).log10()
}

/// Coefficients of one biquad section, normalised so that a0 = 1:
/// `y[n] = b0·x[n] + b1·x[n−1] + b2·x[n−2] − a1·y[n−1] − a2·y[n−2]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Biquad {
    /// Feed-forward coefficient for x[n].
    pub b0: f64,
    /// Feed-forward coefficient for x[n−1].
    pub b1: f64,
    /// Feed-forward coefficient for x[n−2].
    pub b2: f64,
    /// Feedback coefficient for y[n−1].
    pub a1: f64,
    /// Feedback coefficient for y[n−2].
    pub a2: f64,
}

/// The two K-weighting stages of BS.1770 (high-shelf pre-filter, then the RLB high-pass) for
/// `sample_rate`, derived analytically with the libebur128 parameters. At 48 kHz they equal the
/// published BS.1770 table (Tables 1 and 2) to about 1e-15. Pure function, never allocates.
pub fn k_weighting(sample_rate: f64) -> [Biquad; 2] {
    // Stage 1: high shelf.
    let (f0, gain_db, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let k = (PI * f0 / sample_rate).tan();
    let vh = 10f64.powf(gain_db / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b0: (vh + vb * k / q + k * k) / a0,
        b1: 2.0 * (k * k - vh) / a0,
        b2: (vh - vb * k / q + k * k) / a0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    // Stage 2: RLB high-pass (numerator left at [1, −2, 1], as in the standard).
    let (f0, q) = (38.13547087602444, 0.5003270373238773);
    let k = (PI * f0 / sample_rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let rlb = Biquad {
        b0: 1.0,
        b1: -2.0,
        b2: 1.0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    [shelf, rlb]
}

/// Direct-form-I state of the two cascaded K-weighting biquads of one channel.
#[derive(Clone, Copy, Debug, Default)]
struct KState {
    /// x[n−1], x[n−2], y[n−1], y[n−2] (stage 1 output), z[n−1], z[n−2] (stage 2 output).
    s: [f64; 6],
}

impl KState {
    /// Flushes values too small to matter to zero, so long silences never run on denormals.
    #[inline]
    fn flush_tiny(&mut self) {
        for v in &mut self.s {
            if v.abs() < 1e-30 {
                *v = 0.0;
            }
        }
    }
}

/// One frame through both K-weighting stages (direct form I); returns the filtered sample.
/// The feedback term on the critical path is added last.
#[inline(always)]
fn k_step(c: &[Biquad; 2], s: &mut [f64; 6], x0: f64) -> f64 {
    let [p, r] = c;
    let [x1, x2, y1, y2, z1, z2] = *s;
    let y0 = (p.b0 * x0 + p.b1 * x1 + p.b2 * x2 - p.a2 * y2) - p.a1 * y1;
    let z0 = (y0 - 2.0 * y1 + y2 - r.a2 * z2) - r.a1 * z1;
    *s = [x0, x1, y0, y1, z0, z1];
    z0
}

/// K-filters one channel and writes (`ACC = false`) or adds (`ACC = true`) `w·y²` to `out`.
#[inline]
fn k_filter_one<const ACC: bool>(
    c: &[Biquad; 2],
    st: &mut KState,
    w: f64,
    x: &[f32],
    out: &mut [f64],
) {
    let mut s = st.s;
    for (o, &xa) in out.iter_mut().zip(x) {
        let za = k_step(c, &mut s, f64::from(xa));
        let pw = w * za * za;
        *o = if ACC { *o + pw } else { pw };
    }
    st.s = s;
    st.flush_tiny();
}

/// As [`k_filter_one`] for two channels in one loop, so that the two recursions (each bound
/// by the latency of its feedback) overlap.
#[inline]
fn k_filter_two<const ACC: bool>(
    c: &[Biquad; 2],
    (sta, stb): (&mut KState, &mut KState),
    (wa, wb): (f64, f64),
    xa: &[f32],
    xb: &[f32],
    out: &mut [f64],
) {
    let (mut sa, mut sb) = (sta.s, stb.s);
    for ((o, &a), &b) in out.iter_mut().zip(xa).zip(xb) {
        let za = k_step(c, &mut sa, f64::from(a));
        let zb = k_step(c, &mut sb, f64::from(b));
        let pw = wa * za * za + wb * zb * zb;
        *o = if ACC { *o + pw } else { pw };
    }
    (sta.s, stb.s) = (sa, sb);
    sta.flush_tiny();
    stb.flush_tiny();
}

/// Streaming BS.1770-5 / EBU R128 loudness meter (M, S, I, max M, max S, LRA).
///
/// Thread: plain data, `Send + Sync`; not internally synchronised. Allocation: only in
/// [`new`](Self::new) (and the constructors that call it), amortised growth of the gating
/// history in [`process`](Self::process) past two hours of programme, and a temporary in
/// [`loudness_range_lu`](Self::loudness_range_lu).
#[derive(Clone, Debug)]
pub struct LoudnessMeter {
    coeffs: [Biquad; 2],
    weights: Vec<f64>,
    /// Indices of the channels with a non-zero weight, ascending.
    active: Vec<usize>,
    states: Vec<KState>,
    /// Channel-weighted K-filtered power of the current block, one value per frame.
    scratch: Vec<f64>,
    /// Ring of the last `len_s` per-frame powers; `ring[pos]` is the oldest of the S window.
    ring: Vec<f64>,
    pos: usize,
    /// Index of the frame leaving the M window: `(pos − len_m) mod len_s`.
    pos_m: usize,
    len_m: usize,
    len_s: usize,
    hop: usize,
    /// Largest segment for which the read and write ranges of the ring are disjoint.
    max_seg: usize,
    sum_m: f64,
    sum_s: f64,
    max_sum_m: f64,
    max_sum_s: f64,
    frames: u64,
    next_block_end: u64,
    next_st_end: u64,
    /// Mean square of each 400 ms gating block (100 ms step).
    blocks: Vec<f64>,
    /// Mean square of the 3 s window every 100 ms (for LRA).
    short_terms: Vec<f64>,
    /// Live use: gating blocks summarised in a histogram instead of kept (see [`Self::live`]).
    live: Option<Box<LiveGate>>,
}

/// Bins of [`LiveGate`]: 0.1 LU from −70 to +30 LUFS.
const LIVE_BINS: usize = 1000;

/// Integrated loudness for a meter that runs for hours on the audio thread: each 400 ms block
/// lands in a 0.1 LU bin (count and exact power sum), so memory is fixed and the gated mean
/// costs O(bins) per 100 ms step, however long it has played. Blocks in the bin that straddles
/// the relative gate are all kept or all dropped (a ≤ 0.1 LU gating approximation).
#[derive(Clone, Debug)]
struct LiveGate {
    count: Box<[u32]>,
    sum: Box<[f64]>,
    integrated: Option<f64>,
}

impl LiveGate {
    fn new() -> Self {
        Self {
            count: vec![0; LIVE_BINS].into_boxed_slice(),
            sum: vec![0.0; LIVE_BINS].into_boxed_slice(),
            integrated: None,
        }
    }

    fn clear(&mut self) {
        self.count.fill(0);
        self.sum.fill(0.0);
        self.integrated = None;
    }

    fn bin(l: f64) -> usize {
        (((l + 70.0) * 10.0).floor().max(0.0) as usize).min(LIVE_BINS - 1)
    }

    fn push(&mut self, z: f64) {
        if z <= abs_gate_power() {
            return;
        }
        let b = Self::bin(lufs(z));
        self.count[b] += 1;
        self.sum[b] += z;
        let total = |from: usize| {
            (from..LIVE_BINS).fold((0.0, 0u64), |(s, n), i| {
                (s + self.sum[i], n + u64::from(self.count[i]))
            })
        };
        let (s, n) = total(0);
        let rel = lufs(s / n as f64) - 10.0;
        let (s, n) = total(Self::bin(rel) + 1);
        self.integrated = (n > 0).then(|| lufs(s / n as f64));
    }
}

impl LoudnessMeter {
    /// Creates a meter. `channel_weights` holds the BS.1770 weight of each channel, in the order
    /// of the planar input: 1.0 for L, R, C; 1.41 for Ls, Rs; 0.0 for LFE.
    ///
    /// Allocates: the 3 s power history (8 bytes per frame), a scratch block and room for two
    /// hours of gating blocks and short-term values. Windows are 400 ms, 3 s and 100 ms rounded
    /// to the nearest frame.
    ///
    /// # Panics
    /// If `sample_rate` is not finite or below 8 kHz, if `channel_weights` is empty, or if a
    /// weight is negative or not finite.
    pub fn new(sample_rate: f64, channel_weights: &[f64]) -> Self {
        assert!(
            sample_rate.is_finite() && sample_rate >= 8000.0,
            "LoudnessMeter: sample rate {sample_rate} must be at least 8 kHz"
        );
        assert!(!channel_weights.is_empty(), "LoudnessMeter: no channels");
        assert!(
            channel_weights.iter().all(|w| w.is_finite() && *w >= 0.0),
            "LoudnessMeter: channel weights must be finite and non-negative"
        );
        let len_m = (0.4 * sample_rate).round() as usize;
        let len_s = (3.0 * sample_rate).round() as usize;
        let hop = (0.1 * sample_rate).round() as usize;
        let mut meter = Self {
            coeffs: k_weighting(sample_rate),
            weights: channel_weights.to_vec(),
            active: (0..channel_weights.len())
                .filter(|&i| channel_weights[i] != 0.0)
                .collect(),
            states: vec![KState::default(); channel_weights.len()],
            scratch: vec![0.0; BLOCK],
            ring: vec![0.0; len_s],
            pos: 0,
            pos_m: 0,
            len_m,
            len_s,
            hop,
            max_seg: BLOCK.min(len_m).min(len_s - len_m),
            sum_m: 0.0,
            sum_s: 0.0,
            max_sum_m: 0.0,
            max_sum_s: 0.0,
            frames: 0,
            next_block_end: 0,
            next_st_end: 0,
            blocks: Vec::with_capacity(RESERVED_STEPS),
            short_terms: Vec::with_capacity(RESERVED_STEPS),
            live: None,
        };
        meter.reset();
        meter
    }

    /// For the audio thread: keeps no history (fixed memory, never allocates in
    /// [`process`](Self::process), however long it runs); [`integrated_lufs`](Self::integrated_lufs)
    /// comes from a histogram of the gating blocks, updated every 100 ms, and
    /// [`loudness_range_lu`](Self::loudness_range_lu) is `None`. Allocates.
    pub fn live(mut self) -> Self {
        self.blocks = Vec::new();
        self.short_terms = Vec::new();
        self.live = Some(Box::new(LiveGate::new()));
        self
    }

    /// Stereo meter (weights 1.0, 1.0). Allocates, as [`new`](Self::new).
    pub fn stereo(sample_rate: f64) -> Self {
        Self::new(sample_rate, &[1.0, 1.0])
    }

    /// Meter with the standard BS.1770 weights for a channel count: 1 (mono) and 2 (L R) all
    /// 1.0; 5 = 5.0 in the order L R C Ls Rs (1, 1, 1, 1.41, 1.41); 6 = 5.1 in the order
    /// L R C LFE Ls Rs (1, 1, 1, 0, 1.41, 1.41). Any other count gets 1.0 for every channel
    /// (use [`new`](Self::new) for other layouts). Allocates, as [`new`](Self::new).
    pub fn for_channels(sample_rate: f64, channels: usize) -> Self {
        match channels {
            5 => Self::new(sample_rate, &[1.0, 1.0, 1.0, 1.41, 1.41]),
            6 => Self::new(sample_rate, &[1.0, 1.0, 1.0, 0.0, 1.41, 1.41]),
            n => Self::new(sample_rate, &vec![1.0; n]),
        }
    }

    /// Forgets the whole programme (filter state, windows, maxima, gating history), keeping the
    /// allocations. Never allocates.
    pub fn reset(&mut self) {
        self.states.iter_mut().for_each(|s| *s = KState::default());
        self.ring.fill(0.0);
        self.pos = 0;
        self.pos_m = self.len_s - self.len_m;
        self.sum_m = 0.0;
        self.sum_s = 0.0;
        self.max_sum_m = 0.0;
        self.max_sum_s = 0.0;
        self.frames = 0;
        self.next_block_end = self.len_m as u64;
        self.next_st_end = self.len_s as u64;
        self.blocks.clear();
        self.short_terms.clear();
        if let Some(g) = self.live.as_mut() {
            g.clear();
        }
    }

    /// Feeds planar audio: one slice per channel, all of the same length. Never allocates,
    /// except for amortised growth of the gating history past two hours of programme.
    ///
    /// # Panics
    /// If the number of slices differs from the number of channel weights, or the slices have
    /// different lengths.
    pub fn process(&mut self, planar: &[&[f32]]) {
        assert_eq!(
            planar.len(),
            self.weights.len(),
            "LoudnessMeter::process: wrong channel count"
        );
        let frames = planar[0].len();
        assert!(
            planar.iter().all(|c| c.len() == frames),
            "LoudnessMeter::process: channels differ in length"
        );
        let mut start = 0;
        while start < frames {
            let n = BLOCK.min(frames - start);
            let out = &mut self.scratch[..n];
            // Channels with a non-zero weight, two at a time.
            let mut first = true;
            for pair in self.active.chunks(2) {
                let ch = |i: usize| &planar[i][start..start + n];
                match *pair {
                    [a, b] => {
                        let (lo, hi) = self.states.split_at_mut(b);
                        let st = (&mut lo[a], &mut hi[0]);
                        let w = (self.weights[a], self.weights[b]);
                        if first {
                            k_filter_two::<false>(&self.coeffs, st, w, ch(a), ch(b), out);
                        } else {
                            k_filter_two::<true>(&self.coeffs, st, w, ch(a), ch(b), out);
                        }
                    }
                    [a] => {
                        let (st, w) = (&mut self.states[a], self.weights[a]);
                        if first {
                            k_filter_one::<false>(&self.coeffs, st, w, ch(a), out);
                        } else {
                            k_filter_one::<true>(&self.coeffs, st, w, ch(a), out);
                        }
                    }
                    _ => unreachable!(),
                }
                first = false;
            }
            if first {
                out.fill(0.0);
            }
            self.advance(n);
            start += n;
        }
    }

    /// Slides the M and S windows over the first `n` powers in `scratch`, recording gating
    /// blocks and short-term values at their 100 ms boundaries.
    fn advance(&mut self, n: usize) {
        let mut i = 0;
        while i < n {
            let to_event = (self.next_block_end.min(self.next_st_end) - self.frames) as usize;
            let seg = (n - i)
                .min(to_event)
                .min(self.max_seg)
                .min(self.len_s - self.pos)
                .min(self.len_s - self.pos_m);
            let input = &self.scratch[i..i + seg];
            // The write range [pos, pos+seg) and the M read range [pos_m, pos_m+seg) are
            // disjoint because seg <= min(len_m, len_s − len_m).
            let (write, read_m) = if self.pos_m < self.pos {
                let (a, b) = self.ring.split_at_mut(self.pos);
                (&mut b[..seg], &a[self.pos_m..self.pos_m + seg])
            } else {
                let (a, b) = self.ring.split_at_mut(self.pos_m);
                (&mut a[self.pos..self.pos + seg], &b[..seg])
            };
            let (mut sm, mut ss) = (self.sum_m, self.sum_s);
            let (mut mm, mut ms) = (self.max_sum_m, self.max_sum_s);
            for ((w, &old_m), &p) in write.iter_mut().zip(read_m).zip(input) {
                let old_s = *w;
                *w = p;
                sm += p - old_m;
                ss += p - old_s;
                // Before a window is full its partial sum is below the first full-window sum
                // (powers are non-negative), so tracking from frame 0 is harmless.
                // (Plain compares: no NaN handling needed, a single max instruction each.)
                mm = if sm > mm { sm } else { mm };
                ms = if ss > ms { ss } else { ms };
            }
            (self.sum_m, self.sum_s) = (sm, ss);
            (self.max_sum_m, self.max_sum_s) = (mm, ms);
            i += seg;
            self.frames += seg as u64;
            self.pos += seg;
            self.pos_m += seg;
            if self.pos_m == self.len_s {
                self.pos_m = 0;
            }
            if self.pos == self.len_s {
                self.pos = 0;
                // Exact re-sum once per lap bounds the drift of the running sums.
                self.sum_s = self.ring.iter().sum();
                self.sum_m = self.ring[self.len_s - self.len_m..].iter().sum();
            }
            if self.frames == self.next_block_end {
                let z = self.sum_m.max(0.0) / self.len_m as f64;
                match self.live.as_mut() {
                    Some(g) => g.push(z),
                    None => self.blocks.push(z),
                }
                self.next_block_end += self.hop as u64;
            }
            if self.frames == self.next_st_end {
                if self.live.is_none() {
                    self.short_terms
                        .push(self.sum_s.max(0.0) / self.len_s as f64);
                }
                self.next_st_end += self.hop as u64;
            }
        }
    }

    /// Momentary loudness (LUFS) of the last 400 ms; `None` until 400 ms have been fed.
    /// Never allocates.
    pub fn momentary_lufs(&self) -> Option<f64> {
        (self.frames >= self.len_m as u64).then(|| lufs(self.sum_m / self.len_m as f64))
    }

    /// Short-term loudness (LUFS) of the last 3 s; `None` until 3 s have been fed.
    /// Never allocates.
    pub fn short_term_lufs(&self) -> Option<f64> {
        (self.frames >= self.len_s as u64).then(|| lufs(self.sum_s / self.len_s as f64))
    }

    /// Maximum momentary loudness (LUFS) over the programme, evaluated at every frame;
    /// `None` until 400 ms have been fed. Never allocates.
    pub fn momentary_max_lufs(&self) -> Option<f64> {
        (self.frames >= self.len_m as u64).then(|| lufs(self.max_sum_m / self.len_m as f64))
    }

    /// Maximum short-term loudness (LUFS) over the programme, evaluated at every frame;
    /// `None` until 3 s have been fed. Never allocates.
    pub fn short_term_max_lufs(&self) -> Option<f64> {
        (self.frames >= self.len_s as u64).then(|| lufs(self.max_sum_s / self.len_s as f64))
    }

    /// Integrated (gated) loudness in LUFS: 400 ms blocks every 100 ms, absolute gate −70 LUFS,
    /// relative gate −10 LU (strict ">"). `None` if no block passes the gates. O(blocks),
    /// never allocates.
    pub fn integrated_lufs(&self) -> Option<f64> {
        if let Some(g) = &self.live {
            return g.integrated;
        }
        let abs = abs_gate_power();
        let (sum, n) = gated_sum(&self.blocks, |z| z > abs);
        if n == 0 {
            return None;
        }
        let rel = sum / n as f64 * 0.1;
        let (sum, n) = gated_sum(&self.blocks, |z| z > abs && z > rel);
        (n > 0).then(|| lufs(sum / n as f64))
    }

    /// Loudness range (LU) per EBU Tech 3342: short-term values every 100 ms, absolute gate
    /// −70 LUFS, relative gate −20 LU (both "≥"), then P95 − P10 with the MATLAB index rule.
    /// `None` if no short-term value passes the gates (including programmes under 3 s).
    /// Allocates a temporary copy of the passing values to sort them (O(n log n)).
    pub fn loudness_range_lu(&self) -> Option<f64> {
        if self.live.is_some() {
            return None;
        }
        loudness_range_of(&self.short_terms, 1)
    }
}

/// Tech 3342 loudness range of every `stride`-th short-term mean square in `values`.
fn loudness_range_of(values: &[f64], stride: usize) -> Option<f64> {
    let abs = abs_gate_power();
    let values = || values.iter().step_by(stride).copied();
    let (sum, n) = values()
        .filter(|&z| z >= abs)
        .fold((0.0, 0usize), |(s, n), z| (s + z, n + 1));
    if n == 0 {
        return None;
    }
    let rel = sum / n as f64 * 0.01;
    let mut v: Vec<f64> = values().filter(|&z| z >= abs && z >= rel).collect();
    v.sort_unstable_by(f64::total_cmp);
    // MATLAB: sorted(round((n − 1)·p/100 + 1)), 1-based; f64::round is half away from zero.
    let at = |p: f64| v[(((v.len() - 1) as f64 * p / 100.0 + 1.0).round() as usize) - 1];
    Some(10.0 * (at(95.0) / at(10.0)).log10())
}

/// Sum and count of the values that pass `gate`.
#[inline]
fn gated_sum(values: &[f64], gate: impl Fn(f64) -> bool) -> (f64, usize) {
    values
        .iter()
        .filter(|&&z| gate(z))
        .fold((0.0, 0), |(s, n), &z| (s + z, n + 1))
}

#[cfg(test)]
#[path = "loudness_tests.rs"]
mod tests;
