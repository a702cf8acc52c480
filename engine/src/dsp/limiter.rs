//! Lookahead brick-wall limiter with optional true-peak detection (ITU-R BS.1770 4×, linked).
//!
//! All gains are in log2 units (0 = unity, < 0 = reduction); `L` is the lookahead in samples.
//! 1. Per input sample `n`, the peak `p[n]` is the max over channels of |x| or of
//!    [`TruePeakChannel::next`]. The required gain is `q[n] = min(0, log2(ceiling / p[n]))`.
//!    A true-peak reading at `n` depends on the input samples `n−11..=n` (the interpolator's
//!    12-tap window), so it constrains the gain of all 12 of them.
//! 2. Sliding-window minimum `m` of `q` over `W = L + 1 (+ 11 in true-peak mode)` samples.
//!    It is computed by the streaming van Herk/Gil-Werman method: suffix minima of the previous
//!    W-block and a running prefix minimum of the current one. That is 2 `min`s per sample and
//!    one backward pass per block, with none of the data-dependent branches of a monotonic deque.
//! 3. A moving average of `m` over `L + 1` samples. Every term of the average covering a signal
//!    position is itself ≤ the requirement there, so the average is too. The gain therefore
//!    ramps down over the lookahead and reaches the required value on time, with no overshoot.
//!    In true-peak mode it stays flat across the whole interpolation window of an isolated peak.
//! 4. Release: `h = min(b, α·h + (1 − α)·b)`, a one-pole in the log domain (a GR-dB trajectory
//!    with time constant `release_ms`). Attack is unaffected (`h ≤ b`).
//! 5. The output is the input delayed by `W − 1` samples times `2^h`, then clamped to ±ceiling,
//!    which makes the sample ceiling exact.
//!
//! While nothing needs limiting the limiter is idle and only delays the signal. That holds when
//! the chunk is below the ceiling (in true-peak mode: below ceiling / the interpolator's largest
//! L1 norm, 2.02) and no gain reduction is pending. Idle output is bit-exact; no log/exp is taken.
//!
//! Thread: any. Allocation: only in [`Limiter::new`]. No locks, no panics in `process*`.

use super::biquad::{check_sample_rate, common_len, copy_planar, in_range, Checked, ParamError};
use super::dynamics::{fast_exp2, fast_log2, time_constant_coef, CHUNK, DB_PER_LOG2};
use super::true_peak::{TruePeakChannel, PHASES, TAPS};

/// Extra latency in true-peak mode: the interpolator window (12 samples) minus one.
pub const TRUE_PEAK_EXTRA_SAMPLES: usize = TAPS - 1;
/// Longest lookahead accepted.
pub const MAX_LOOKAHEAD_MS: f64 = 100.0;
/// A released gain within this much of unity (log2 units, ≈ 6e-6 dB) snaps to unity.
const SNAP_LOG2: f32 = 1e-6;

/// Checks limiter settings: ceiling −60..=0 dBFS, lookahead 0..=100 ms, release 0..=10000 ms.
pub fn validate(fs: f64, ceiling_db: f64, lookahead_ms: f64, release_ms: f64) -> Checked {
    check_sample_rate(fs)?;
    in_range("ceiling_db", ceiling_db, (-60.0, 0.0, "−60..=0 dBFS"))?;
    let la = (0.0, MAX_LOOKAHEAD_MS, "0..=100 ms");
    in_range("lookahead_ms", lookahead_ms, la)?;
    in_range("release_ms", release_ms, (0.0, 10_000.0, "0..=10000 ms"))
}

/// Lookahead limiter; see the module docs for the algorithm.
#[derive(Clone, Debug)]
pub struct Limiter {
    channels: usize,
    sample_rate: f64,
    ceiling: f32,
    ceiling_log2: f32,
    release: f32,
    true_peak: bool,
    tp: Vec<TruePeakChannel>,
    /// The detectors skipped input while idle; refill their history before the next use.
    tp_stale: bool,
    /// Largest L1 norm of an interpolator phase (max 4× reading / max |x|).
    tp_l1: f32,
    /// Inputs at or below this cannot produce a 4× reading above the ceiling.
    tp_safe: f32,
    /// Window of the minimum filter.
    window: usize,
    /// Length of the moving average.
    avg_len: usize,
    /// Required gains of the current W-block (van Herk).
    q_block: Vec<f32>,
    /// Suffix minima of the previous W-block; `suffix[W] = 0`.
    suffix: Vec<f32>,
    /// `suffix` holds a value below 0.
    suffix_dirty: bool,
    /// Minimum of `q_block[..blk_pos]`.
    prefix: f32,
    blk_pos: usize,
    /// Input index after the last sample that needed gain reduction.
    active_until: u64,
    avg_ring: Vec<f32>,
    avg_pos: usize,
    avg_sum: f64,
    avg_nonzero: usize,
    /// Released gain, log2 units (≤ 0).
    h: f32,
    /// Input samples seen.
    n: u64,
    /// Per channel, `window − 1` samples; `delay_pos` is the oldest.
    delay: Vec<Vec<f32>>,
    delay_pos: usize,
    gr_max: f32,
}

impl Limiter {
    /// A limiter for `channels` channels (linked). Latency: see [`Limiter::latency_samples`].
    pub fn new(
        channels: usize,
        sample_rate: f64,
        ceiling_db: f64,
        lookahead_ms: f64,
        release_ms: f64,
        true_peak: bool,
    ) -> Result<Self, ParamError> {
        validate(sample_rate, ceiling_db, lookahead_ms, release_ms)?;
        let lookahead = (lookahead_ms * 1e-3 * sample_rate).round() as usize;
        let window = lookahead
            + 1
            + if true_peak {
                TRUE_PEAK_EXTRA_SAMPLES
            } else {
                0
            };
        let l1 = PHASES
            .iter()
            .map(|p| p.iter().map(|c| c.abs()).sum::<f32>())
            .fold(1.0f32, f32::max);
        let mut l = Self {
            channels,
            sample_rate,
            ceiling: 1.0,
            ceiling_log2: 0.0,
            release: 0.0,
            true_peak,
            tp: vec![TruePeakChannel::default(); if true_peak { channels } else { 0 }],
            tp_stale: false,
            tp_l1: l1 * 1.0001,
            tp_safe: 0.0,
            window,
            avg_len: lookahead + 1,
            q_block: vec![0.0; window],
            suffix: vec![0.0; window + 1],
            suffix_dirty: false,
            prefix: 0.0,
            blk_pos: 0,
            active_until: 0,
            avg_ring: vec![0.0; lookahead + 1],
            avg_pos: 0,
            avg_sum: 0.0,
            avg_nonzero: 0,
            h: 0.0,
            n: 0,
            delay: vec![vec![0.0; window - 1]; channels],
            delay_pos: 0,
            gr_max: 0.0,
        };
        l.set_ceiling_db(ceiling_db)?;
        l.set_release_ms(release_ms)?;
        Ok(l)
    }

    /// Delay from input to output in samples: the lookahead (rounded), plus
    /// [`TRUE_PEAK_EXTRA_SAMPLES`] in true-peak mode.
    pub fn latency_samples(&self) -> usize {
        self.window - 1
    }

    /// Ceiling in dBFS (−60..=0); takes effect for samples entering from now on.
    pub fn set_ceiling_db(&mut self, ceiling_db: f64) -> Checked {
        validate(self.sample_rate, ceiling_db, 0.0, 0.0)?;
        self.ceiling = 10f64.powf(ceiling_db / 20.0) as f32;
        self.ceiling_log2 = (ceiling_db / DB_PER_LOG2) as f32;
        self.tp_safe = self.ceiling / self.tp_l1;
        Ok(())
    }

    /// Release time constant in ms (0..=10000; 0 releases as fast as the lookahead ramp).
    pub fn set_release_ms(&mut self, release_ms: f64) -> Checked {
        validate(self.sample_rate, 0.0, 0.0, release_ms)?;
        self.release = time_constant_coef(release_ms, self.sample_rate) as f32;
        Ok(())
    }

    /// Largest gain reduction (dB, ≥ 0) applied during the last processed block.
    pub fn gain_reduction_db(&self) -> f32 {
        self.gr_max
    }

    /// Clears all state (the delay line is zeroed).
    pub fn reset(&mut self) {
        self.tp.iter_mut().for_each(|t| t.reset());
        self.tp_stale = false;
        self.suffix.iter_mut().for_each(|v| *v = 0.0);
        self.suffix_dirty = false;
        self.prefix = 0.0;
        self.blk_pos = 0;
        self.active_until = self.n;
        self.avg_ring.iter_mut().for_each(|v| *v = 0.0);
        self.avg_sum = 0.0;
        self.avg_nonzero = 0;
        self.h = 0.0;
        self.delay.iter_mut().flatten().for_each(|v| *v = 0.0);
        self.gr_max = 0.0;
    }

    /// Limits planar `inputs` into `outputs` (at most `channels` channels; the shortest slice
    /// sets the length; pass the same channel count every call). The output is delayed by
    /// [`Limiter::latency_samples`]. No allocation.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let k = copy_planar(inputs, outputs);
        self.process_in_place(&mut outputs[..k]);
    }

    /// Limits planar buffers in place. No allocation.
    pub fn process_in_place(&mut self, buffers: &mut [&mut [f32]]) {
        let nch = buffers.len().min(self.channels);
        let n = common_len(buffers, nch, None);
        self.gr_max = 0.0;
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            self.chunk(&mut buffers[..nch], start, end);
            start = end;
        }
    }

    /// No reduction required in the last W inputs, none pending in the average or the release.
    fn idle(&self) -> bool {
        self.n >= self.active_until && self.avg_nonzero == 0 && self.h == 0.0
    }

    /// Max |x| of the last `TRUE_PEAK_EXTRA_SAMPLES` inputs (the newest end of the delay lines).
    fn tail_peak(&self) -> f32 {
        let d = self.window - 1;
        let mut m = 0.0f32;
        for line in self.delay.iter() {
            for k in 1..=TRUE_PEAK_EXTRA_SAMPLES.min(d) {
                m = m.max(line[(self.delay_pos + d - k) % d].abs());
            }
        }
        m
    }

    fn chunk(&mut self, bufs: &mut [&mut [f32]], start: usize, end: usize) {
        let len = end - start;
        let mut peak = [0.0f32; CHUNK];
        let peak = &mut peak[..len];
        for b in bufs.iter() {
            peak.iter_mut()
                .zip(&b[start..end])
                .for_each(|(p, x)| *p = p.max(x.abs()));
        }
        let chunk_max = super::max_of(peak);
        if self.idle() {
            let safe = if self.true_peak {
                chunk_max.max(self.tail_peak()) <= self.tp_safe
            } else {
                chunk_max <= self.ceiling
            };
            if safe {
                self.tp_stale |= self.true_peak;
                self.n += len as u64;
                // the skipped inputs all required 0: restart the min filter from an all-zero state
                if self.suffix_dirty {
                    self.suffix.iter_mut().for_each(|v| *v = 0.0);
                    self.suffix_dirty = false;
                }
                self.prefix = 0.0;
                self.blk_pos = 0;
                self.delay_swap(bufs, start, end);
                return;
            }
        }
        if self.true_peak {
            self.detect_true_peak(bufs, start, end, peak);
        }
        // required gain (log2), vectorised
        let mut gain = [0.0f32; CHUNK];
        let gain = &mut gain[..len];
        let (ceil, ceil_log2) = (self.ceiling, self.ceiling_log2);
        gain.iter_mut().zip(peak.iter()).for_each(|(q, &p)| {
            *q = if p > ceil {
                ceil_log2 - fast_log2(p)
            } else {
                0.0
            }
        });
        self.gains(gain);
        self.delay_swap(bufs, start, end);
        for b in bufs.iter_mut() {
            b[start..end]
                .iter_mut()
                .zip(gain.iter())
                .for_each(|(x, g)| *x = (*x * g).clamp(-ceil, ceil));
        }
    }

    /// `peak[i]` := max over channels of the 4× true peak ending at sample `i` (and |x|).
    fn detect_true_peak(
        &mut self,
        bufs: &[&mut [f32]],
        start: usize,
        end: usize,
        peak: &mut [f32],
    ) {
        if self.tp_stale {
            let d = self.window - 1;
            for (det, line) in self.tp.iter_mut().zip(self.delay.iter()) {
                det.reset();
                for k in (1..=TRUE_PEAK_EXTRA_SAMPLES.min(d)).rev() {
                    det.next(line[(self.delay_pos + d - k) % d]);
                }
            }
            self.tp_stale = false;
        }
        for (det, b) in self.tp.iter_mut().zip(bufs.iter()) {
            peak.iter_mut()
                .zip(&b[start..end])
                .for_each(|(p, &x)| *p = p.max(det.next(x)));
        }
    }

    /// Turns required gains (log2) into applied linear gains, in place, through the window
    /// minimum, the moving average and the release. Hot state lives in locals.
    fn gains(&mut self, g: &mut [f32]) {
        let w = self.window;
        let avg_len = self.avg_len;
        let inv_avg = 1.0 / avg_len as f64;
        let (rel, rel1) = (self.release, 1.0 - self.release);
        let (q_block, suffix, ring) = (
            &mut self.q_block[..],
            &mut self.suffix[..],
            &mut self.avg_ring[..],
        );
        let (mut prefix, mut blk, mut dirty) = (self.prefix, self.blk_pos, self.suffix_dirty);
        let (mut pos, mut sum, mut nonzero, mut h) =
            (self.avg_pos, self.avg_sum, self.avg_nonzero, self.h);
        let mut lowest = 0.0f32;
        let mut last_active = None;
        for (i, v) in g.iter_mut().enumerate() {
            let q = *v;
            if q < 0.0 {
                last_active = Some(i);
            }
            q_block[blk] = q;
            prefix = if q < prefix { q } else { prefix };
            let s = suffix[blk + 1];
            let m = if s < prefix { s } else { prefix };
            blk += 1;
            if blk == w {
                let mut run = 0.0f32;
                for (sv, &qv) in suffix[..w].iter_mut().zip(q_block.iter()).rev() {
                    run = if qv < run { qv } else { run };
                    *sv = run;
                }
                dirty = run < 0.0;
                prefix = 0.0;
                blk = 0;
            }
            let old = std::mem::replace(&mut ring[pos], m);
            pos += 1;
            if pos == avg_len {
                pos = 0;
            }
            nonzero = nonzero + (m != 0.0) as usize - (old != 0.0) as usize;
            sum = if nonzero == 0 {
                0.0
            } else {
                sum + (m as f64 - old as f64)
            };
            let b = (sum * inv_avg) as f32;
            let r = rel * h + rel1 * b;
            h = if b < r { b } else { r };
            if b == 0.0 && h > -SNAP_LOG2 {
                h = 0.0;
            }
            lowest = if h < lowest { h } else { lowest };
            *v = h;
        }
        if let Some(i) = last_active {
            self.active_until = self.n + (i + w) as u64 + 1;
        }
        self.n += g.len() as u64;
        (self.prefix, self.blk_pos, self.suffix_dirty) = (prefix, blk, dirty);
        (self.avg_pos, self.avg_sum, self.avg_nonzero, self.h) = (pos, sum, nonzero, h);
        self.gr_max = self.gr_max.max(-lowest * DB_PER_LOG2 as f32);
        g.iter_mut()
            .for_each(|v| *v = if *v == 0.0 { 1.0 } else { fast_exp2(*v) });
    }

    /// Replaces `bufs[..][start..end]` with the signal delayed by `window − 1` samples.
    fn delay_swap(&mut self, bufs: &mut [&mut [f32]], start: usize, end: usize) {
        let d = self.window - 1;
        if d == 0 {
            return;
        }
        let mut pos = self.delay_pos;
        let mut i = start;
        while i < end {
            let seg = (end - i).min(d - pos);
            for (b, line) in bufs.iter_mut().zip(self.delay.iter_mut()) {
                b[i..i + seg].swap_with_slice(&mut line[pos..pos + seg]);
            }
            i += seg;
            pos = (pos + seg) % d;
        }
        self.delay_pos = pos;
    }
}

#[cfg(test)]
#[path = "limiter_tests.rs"]
mod tests;
