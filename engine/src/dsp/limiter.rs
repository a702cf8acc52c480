//! Lookahead brick-wall limiter, linked across channels, with optional true-peak detection.
//!
//! All gains are in log2 units (0 = unity, < 0 = reduction); `L` is the lookahead in samples.
//! 1. Per input sample `n`, a peak `p[n]`: the max over channels of `|x[n]|` (sample mode) or of
//!    the true-peak reading [`TruePeakChannel::readings`] (true-peak mode: the sample
//!    `n − 71` and 16 interpolated points from its time on, 1/16 sample apart). The required gain is
//!    `q[n] = min(0, log2(ceiling / p[n]))`. A true-peak reading depends on the inputs
//!    `n − 140 ..= n`; it constrains the gain of the `2w + 1` samples centred on `n − 70`. The
//!    main stage takes `w = 70`, the reading's whole support, so the gain is flat under an
//!    isolated peak's entire interpolation window.
//! 2. Sliding-window minimum `m` of `q` over `W = L + 1 + 2w` samples. It is computed by the
//!    streaming van Herk/Gil-Werman method: suffix minima of the previous W-block and a running
//!    prefix minimum of the current one. That is 2 `min`s per sample and one backward pass per
//!    block, with none of the data-dependent branches of a monotonic deque.
//! 3. A moving average of `m` over `L + 1` samples. Every term of the average covering a signal
//!    position is itself ≤ the requirement there, so the average is too. The gain therefore
//!    ramps down over the lookahead and reaches the required value on time, with no overshoot.
//! 4. Release: `h = min(b, α·h + (1 − α)·b)`, a one-pole in the log domain (a GR-dB trajectory
//!    with time constant `release_ms`). Attack is unaffected (`h ≤ b`).
//!    Program-dependent release ([`Limiter::set_program_release`]): a slow envelope follows the
//!    required gain both ways with time constant `release_ms`, `s = α·s + (1 − α)·b`, and the
//!    gain releases towards it with a fast time constant (`release_ms` / 20, within 1–5 ms):
//!    `h = min(b, α_f·h + (1 − α_f)·s)`. After a transient `s` has barely moved, so the
//!    gain comes back within milliseconds; after sustained reduction `s` holds it, and the gain
//!    comes back at the slow rate — dense material does not pump, sparse material does not
//!    stay ducked. Still `h ≤ b`: the ceiling holds the same way.
//! 5. The output is the input delayed by `L + 70 + w` samples (`L` in sample mode) times `2^h`.
//!
//! # True peak: a second, safety stage
//! The main stage holds every reading of its *input* at the ceiling. What leaves is the
//! *gained* signal, and where a stronger peak nearby lowers the gain on part of a reading's
//! support, the gain's own change adds to the waveform between the samples. Measured by the
//! reference interpolator of the tests on their hostile signals: up to 0.074 dB over with no
//! lookahead and no release, 0.027 dB with a 1 ms release, 0.0003 dB at the defaults (5 ms,
//! 100 ms). So a second stage of the same kind reads the true peak of the main stage's output,
//! with the same interpolator, and removes what is left: ramp [`SAFETY_RAMP_MS`], no release.
//! Its reductions are tiny, and so is what its own gain changes add: the worst measured is
//! 0.0002 dB. Finally a clamp to ±ceiling makes the sample ceiling exact. The safety stage skips
//! its interpolator where the main stage passed the signal at a gain of exactly 1 (its readings
//! would repeat the main stage's).
//!
//! The true-peak readings are those of [`super::true_peak`] (16 points per sample, 128-tap
//! windowed sinc), so the limiter holds the ceiling as the meter (`mixdown measure`, the render
//! summary) reads it. Each reading is also raised to BS.1770-5 Annex 2's example interpolator at
//! the same instants ([`TruePeakChannel::with_annex2`]): that 4× filter under-reads most
//! material, but on limited drums and near-Nyquist tones its images put it up to 0.4 dB above
//! the waveform, and compliance meters are built on it. Both read at most the ceiling.
//!
//! # Latency
//! Sample mode: `L`. True-peak mode: `L + 140` (main stage) `+ max(140, L_B + 86)` (safety
//! stage, `L_B` its ramp), i.e. `L + 280` samples up to 108 kHz: `lookahead_ms = 0` still
//! looks ahead by the interpolator's reach (280 samples, 5.8 ms at 48 kHz), and holds the
//! ceiling.
//!
//! While nothing needs limiting a stage is idle and only delays the signal. That holds when the
//! chunk is below the ceiling (in true-peak mode: the chunk and the last 140 inputs are below
//! ceiling / [`true_peak::max_gain`], i.e. 9.1 dB below it) and no gain reduction is pending.
//! Idle output is bit-exact; no log/exp is taken, no interpolation done.
//!
//! Thread: any. Allocation: only in [`Limiter::new`]. No locks, no panics in `process*`.

use super::biquad::{check_sample_rate, common_len, copy_planar, in_range, Checked, ParamError};
use super::dynamics::{fast_exp2, fast_log2, time_constant_coef, CHUNK, DB_PER_LOG2};
use super::true_peak::{self, TruePeakChannel, SUPPORT};

/// Longest lookahead accepted.
pub const MAX_LOOKAHEAD_MS: f64 = 100.0;
/// Attack ramp of the true-peak safety stage.
pub const SAFETY_RAMP_MS: f64 = 0.5;
/// A released gain within this much of unity (log2 units, ≈ 6e-6 dB) snaps to unity.
const SNAP_LOG2: f32 = 1e-6;
/// The safety stage's gain covers at least this many samples each side of a reading's centre.
const SAFETY_HALF_MIN: usize = 16;
/// A true-peak reading's centre, in samples before its newest input: the middle of its
/// support (its points lie from `true_peak::DELAY_SAMPLES` = 71 to 70.06 samples back).
const CENTRE: usize = (SUPPORT - 1) / 2;

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
    levels: Levels,
    /// Largest true-peak reading per unit input (see [`true_peak::max_gain`]), with a margin.
    tp_gain: f32,
    main: Stage,
    /// True-peak mode only.
    safety: Option<Stage>,
    gr_max: f32,
}

/// The ceiling as the stages use it.
#[derive(Clone, Copy, Debug)]
struct Levels {
    ceiling: f32,
    ceiling_log2: f32,
    /// Inputs at or below this need no gain reduction now or later (true-peak mode: the
    /// ceiling over the interpolator's largest gain; sample mode: the ceiling).
    safe: f32,
}

/// One lookahead gain computer and its delay line (module docs, steps 1–5).
#[derive(Clone, Debug)]
struct Stage {
    /// Detectors, one per channel (empty in sample mode).
    tp: Vec<TruePeakChannel>,
    /// The detectors skipped input while idle; refill their history before the next use.
    tp_stale: bool,
    /// Input samples (up to `SUPPORT`) before the current chunk known to be at or below
    /// `Levels::safe`.
    quiet: usize,
    /// Output samples (up to `SUPPORT + CHUNK`) just passed at a gain of exactly 1: the next
    /// stage's true-peak readings of them are this stage's, which were at most the ceiling.
    unity: usize,
    /// Clamp the output to ±ceiling (the last stage).
    clamp: bool,
    release: f32,
    /// Program-dependent release (module docs, step 4): on, and the fast coefficient.
    program: bool,
    fast: f32,
    /// The slow envelope of the program-dependent release, log2 units (≤ 0).
    s: f32,
    /// Window of the minimum filter.
    window: usize,
    /// Length of the moving average.
    avg_len: usize,
    /// Delay of the signal: `window − 1` plus how late a reading arrives after the last
    /// sample it constrains.
    delay_len: usize,
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
    /// Per channel, `delay_len` samples; `delay_pos` is the oldest.
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
        let d = CENTRE;
        let (main, safety) = if true_peak {
            let ramp = (SAFETY_RAMP_MS * 1e-3 * sample_rate).round() as usize;
            // the safety stage's delay line must hold a detector's history (SUPPORT − 1)
            let half = (SUPPORT - 1 - d)
                .saturating_sub(ramp)
                .clamp(SAFETY_HALF_MIN, d);
            let mut safety = Stage::new(channels, ramp, Some(half), 0.0);
            safety.clamp = true;
            (Stage::new(channels, lookahead, Some(d), 0.0), Some(safety))
        } else {
            let mut main = Stage::new(channels, lookahead, None, 0.0);
            main.clamp = true;
            (main, None)
        };
        let mut l = Self {
            channels,
            sample_rate,
            levels: Levels {
                ceiling: 1.0,
                ceiling_log2: 0.0,
                safe: 1.0,
            },
            tp_gain: true_peak::max_gain() * 1.0001,
            main,
            safety,
            gr_max: 0.0,
        };
        l.set_ceiling_db(ceiling_db)?;
        l.set_release_ms(release_ms)?;
        Ok(l)
    }

    /// The main stage alone, clamped (tests: what the safety stage is for).
    #[cfg(test)]
    fn without_safety_stage(mut self) -> Self {
        if self.safety.take().is_some() {
            self.main.clamp = true;
        }
        self
    }

    /// Delay from input to output in samples: the lookahead (rounded); in true-peak mode plus
    /// the interpolator's reach, twice (main and safety stage: 280 samples up to 108 kHz).
    pub fn latency_samples(&self) -> usize {
        self.main.delay_len + self.safety.as_ref().map_or(0, |s| s.delay_len)
    }

    /// Ceiling in dBFS (−60..=0); takes effect for samples entering from now on.
    pub fn set_ceiling_db(&mut self, ceiling_db: f64) -> Checked {
        validate(self.sample_rate, ceiling_db, 0.0, 0.0)?;
        let ceiling = 10f64.powf(ceiling_db / 20.0) as f32;
        self.levels = Levels {
            ceiling,
            ceiling_log2: (ceiling_db / DB_PER_LOG2) as f32,
            safe: match self.safety {
                Some(_) => ceiling / self.tp_gain,
                None => ceiling,
            },
        };
        // what was quiet under the old ceiling may not be under the new one
        self.main.quiet = 0;
        self.main.unity = 0;
        if let Some(s) = self.safety.as_mut() {
            s.quiet = 0;
        }
        Ok(())
    }

    /// Release time constant in ms (0..=10000; 0 releases as fast as the lookahead ramp).
    pub fn set_release_ms(&mut self, release_ms: f64) -> Checked {
        validate(self.sample_rate, 0.0, 0.0, release_ms)?;
        self.main.release = time_constant_coef(release_ms, self.sample_rate) as f32;
        let fast_ms = (release_ms * 0.05).clamp(1.0, 5.0).min(release_ms);
        self.main.fast = time_constant_coef(fast_ms, self.sample_rate) as f32;
        Ok(())
    }

    /// Program-dependent release (module docs, step 4): fast after transients, `release_ms`
    /// after sustained reduction. Off by default.
    pub fn set_program_release(&mut self, on: bool) {
        self.main.program = on;
        if !on {
            self.main.s = 0.0;
        }
    }

    /// Largest gain reduction (dB, ≥ 0) applied during the last processed block (in true-peak
    /// mode the main stage's plus the safety stage's largest, which may be a few hundredths of
    /// a dB more than any one sample got).
    pub fn gain_reduction_db(&self) -> f32 {
        self.gr_max
    }

    /// Clears all state (the delay lines are zeroed).
    pub fn reset(&mut self) {
        self.main.reset();
        if let Some(s) = self.safety.as_mut() {
            s.reset();
        }
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
        self.main.gr_max = 0.0;
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            self.main
                .chunk(&mut buffers[..nch], start, end, self.levels, false);
            if let Some(s) = self.safety.as_mut() {
                // where the main stage passed the last SUPPORT − 1 samples and this chunk
                // untouched, the safety stage's readings would repeat its own
                let untouched = self.main.unity >= end - start + SUPPORT - 1;
                s.chunk(&mut buffers[..nch], start, end, self.levels, untouched);
            }
            start = end;
        }
        self.gr_max = self.main.gr_max;
        if let Some(s) = self.safety.as_mut() {
            self.gr_max += std::mem::take(&mut s.gr_max);
        }
    }
}

impl Stage {
    /// A stage with lookahead `lookahead` samples; `half` = `Some(w)` for true-peak detection
    /// whose readings constrain `2w + 1` samples (module docs, step 1), `None` for sample peaks.
    fn new(channels: usize, lookahead: usize, half: Option<usize>, release: f32) -> Self {
        let (tp, span, late) = match half {
            Some(w) => (channels, 2 * w, CENTRE - w),
            None => (0, 0, 0),
        };
        let window = lookahead + 1 + span;
        Self {
            tp: vec![TruePeakChannel::default().with_annex2(); tp],
            tp_stale: false,
            quiet: 0,
            unity: 0,
            clamp: false,
            release,
            program: false,
            fast: 0.0,
            s: 0.0,
            window,
            avg_len: lookahead + 1,
            delay_len: window - 1 + late,
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
            delay: vec![vec![0.0; window - 1 + late]; channels],
            delay_pos: 0,
            gr_max: 0.0,
        }
    }

    fn reset(&mut self) {
        self.tp.iter_mut().for_each(|t| t.reset());
        self.tp_stale = false;
        self.quiet = 0;
        self.unity = 0;
        self.suffix.iter_mut().for_each(|v| *v = 0.0);
        self.suffix_dirty = false;
        self.prefix = 0.0;
        self.blk_pos = 0;
        self.active_until = self.n;
        self.avg_ring.iter_mut().for_each(|v| *v = 0.0);
        self.avg_sum = 0.0;
        self.avg_nonzero = 0;
        self.h = 0.0;
        self.s = 0.0;
        self.delay.iter_mut().flatten().for_each(|v| *v = 0.0);
        self.gr_max = 0.0;
    }

    /// No reduction required in the last W inputs, none pending in the average or the release.
    fn idle(&self) -> bool {
        self.n >= self.active_until && self.avg_nonzero == 0 && self.h == 0.0 && self.s == 0.0
    }

    /// Processes `bufs[..][start..end]` (at most `CHUNK` samples). `safe`: the caller knows no
    /// reading of this chunk exceeds the ceiling.
    fn chunk(&mut self, bufs: &mut [&mut [f32]], start: usize, end: usize, lv: Levels, safe: bool) {
        let len = end - start;
        let mut peak = [0.0f32; CHUNK];
        let peak = &mut peak[..len];
        for b in bufs.iter() {
            peak.iter_mut()
                .zip(&b[start..end])
                .for_each(|(p, x)| *p = p.max(x.abs()));
        }
        let chunk_max = super::max_of(peak);
        let true_peak = !self.tp.is_empty();
        let quiet_before = self.quiet;
        self.quiet = match chunk_max <= lv.safe {
            true => (self.quiet + len).min(SUPPORT),
            false => 0,
        };
        let safe = safe || (chunk_max <= lv.safe && (!true_peak || quiet_before >= SUPPORT - 1));
        if safe && self.idle() {
            self.tp_stale |= true_peak;
            self.n += len as u64;
            // the skipped inputs all required 0: restart the min filter from an all-zero state
            if self.suffix_dirty {
                self.suffix.iter_mut().for_each(|v| *v = 0.0);
                self.suffix_dirty = false;
            }
            self.prefix = 0.0;
            self.blk_pos = 0;
            self.delay_swap(bufs, start, end);
            self.unity = (self.unity + len).min(SUPPORT + CHUNK);
            return;
        }
        if safe {
            // nothing to detect; the pipeline still has reductions to finish
            self.tp_stale |= true_peak;
            peak.fill(0.0);
        } else if true_peak {
            self.detect_true_peak(bufs, start, end, peak);
        }
        // required gain (log2), vectorised
        let mut gain = [0.0f32; CHUNK];
        let gain = &mut gain[..len];
        let (ceil, ceil_log2) = (lv.ceiling, lv.ceiling_log2);
        gain.iter_mut().zip(peak.iter()).for_each(|(q, &p)| {
            *q = if p > ceil {
                ceil_log2 - fast_log2(p)
            } else {
                0.0
            }
        });
        self.gains(gain);
        let trailing = gain.iter().rev().take_while(|&&g| g == 1.0).count();
        self.unity = match trailing == len {
            true => (self.unity + len).min(SUPPORT + CHUNK),
            false => trailing,
        };
        self.delay_swap(bufs, start, end);
        for b in bufs.iter_mut() {
            let seg = b[start..end].iter_mut().zip(gain.iter());
            if self.clamp {
                seg.for_each(|(x, g)| *x = (*x * g).clamp(-ceil, ceil));
            } else {
                seg.for_each(|(x, g)| *x *= g);
            }
        }
    }

    /// `peak[i]` := max over channels of the true-peak reading completed by sample `i`.
    fn detect_true_peak(
        &mut self,
        bufs: &[&mut [f32]],
        start: usize,
        end: usize,
        peak: &mut [f32],
    ) {
        if self.tp_stale {
            // the newest SUPPORT − 1 inputs are the newest end of the delay line
            let (d, k) = (self.delay_len, SUPPORT - 1);
            let (mut hist, mut sink) = ([0.0f32; SUPPORT], [0.0f32; SUPPORT]);
            for (det, line) in self.tp.iter_mut().zip(self.delay.iter()) {
                for (j, v) in hist[..k].iter_mut().enumerate() {
                    *v = line[(self.delay_pos + d - k + j) % d];
                }
                det.reset();
                det.readings(&hist[..k], &mut sink[..k]);
            }
            self.tp_stale = false;
        }
        let mut r = [0.0f32; CHUNK];
        let r = &mut r[..peak.len()];
        peak.fill(0.0);
        for (det, b) in self.tp.iter_mut().zip(bufs.iter()) {
            det.readings(&b[start..end], r);
            // a NaN reading is skipped (`>` is false); the sample-mode path ignores NaN too
            peak.iter_mut()
                .zip(r.iter())
                .for_each(|(p, &v)| *p = if v > *p { v } else { *p });
        }
    }

    /// Turns required gains (log2) into applied linear gains, in place, through the window
    /// minimum, the moving average and the release. Hot state lives in locals.
    fn gains(&mut self, g: &mut [f32]) {
        let w = self.window;
        let avg_len = self.avg_len;
        let inv_avg = 1.0 / avg_len as f64;
        let (rel, rel1) = (self.release, 1.0 - self.release);
        let (fast, fast1, program) = (self.fast, 1.0 - self.fast, self.program);
        let mut slow = self.s;
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
            let r = if program {
                slow = rel * slow + rel1 * b;
                if b == 0.0 && slow > -SNAP_LOG2 {
                    slow = 0.0;
                }
                fast * h + fast1 * slow
            } else {
                rel * h + rel1 * b
            };
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
        self.s = slow;
        self.gr_max = self.gr_max.max(-lowest * DB_PER_LOG2 as f32);
        g.iter_mut()
            .for_each(|v| *v = if *v == 0.0 { 1.0 } else { fast_exp2(*v) });
    }

    /// Replaces `bufs[..][start..end]` with the signal delayed by `delay_len` samples.
    fn delay_swap(&mut self, bufs: &mut [&mut [f32]], start: usize, end: usize) {
        let d = self.delay_len;
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
