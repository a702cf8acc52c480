//! [`ReportCollector`]: everything a [`Report`] needs, gathered block by block during a render.

use crate::dsp::loudness::LoudnessMeter;
use crate::dsp::true_peak::{to_db, TruePeakChannel};

use super::spectrum::WelchAnalyzer;
use super::{LoudnessPoint, Over, Report, WaveColumn};

/// Overs are reported above the ceiling plus this margin (dB): a limiter that holds its ceiling
/// to a thousandth of a dB, as ours does, should not be shown as overshooting.
pub const OVER_MARGIN_DB: f64 = 0.01;

/// Default true-peak ceiling above which overs are reported, dBTP.
pub const DEFAULT_CEILING_DBTP: f64 = -1.0;
/// Columns of the waveform overview (at most; fewer for programmes shorter than this in frames).
pub const WAVEFORM_COLUMNS: usize = 2000;
/// Resolution of over detection, seconds: the true peak is judged per 10 ms segment.
pub const OVER_RESOLUTION_S: f64 = 0.01;

/// Min/max per time bucket, streaming with adaptive doubling: at most `2 · WAVEFORM_COLUMNS`
/// buckets are kept; when that many are full, neighbours are merged and the bucket length doubles.
#[derive(Clone, Debug)]
struct Waveform {
    per: u64,
    buckets: Vec<(f32, f32)>,
    cur: (f32, f32),
    cur_n: u64,
}

impl Waveform {
    fn new() -> Self {
        Self {
            per: 1,
            buckets: Vec::with_capacity(2 * WAVEFORM_COLUMNS),
            cur: (f32::INFINITY, f32::NEG_INFINITY),
            cur_n: 0,
        }
    }

    #[inline]
    fn push(&mut self, lo: f32, hi: f32) {
        self.cur.0 = self.cur.0.min(lo);
        self.cur.1 = self.cur.1.max(hi);
        self.cur_n += 1;
        if self.cur_n == self.per {
            self.buckets.push(self.cur);
            self.cur = (f32::INFINITY, f32::NEG_INFINITY);
            self.cur_n = 0;
            if self.buckets.len() == 2 * WAVEFORM_COLUMNS {
                for i in 0..WAVEFORM_COLUMNS {
                    let (a, b) = (self.buckets[2 * i], self.buckets[2 * i + 1]);
                    self.buckets[i] = (a.0.min(b.0), a.1.max(b.1));
                }
                self.buckets.truncate(WAVEFORM_COLUMNS);
                self.per *= 2;
            }
        }
    }

    /// At most `WAVEFORM_COLUMNS` columns, times at `sr`.
    fn columns(&self, sr: f64) -> Vec<WaveColumn> {
        let mut b: Vec<((f32, f32), u64, u64)> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, &m)| (m, i as u64 * self.per, (i as u64 + 1) * self.per))
            .collect();
        if self.cur_n > 0 {
            let s = b.len() as u64 * self.per;
            b.push((self.cur, s, s + self.cur_n));
        }
        let n = b.len();
        let cols = n.min(WAVEFORM_COLUMNS);
        (0..cols)
            .map(|c| {
                let (i0, i1) = (c * n / cols, ((c + 1) * n / cols).max(c * n / cols + 1));
                let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
                for (m, _, _) in &b[i0..i1] {
                    lo = lo.min(m.0);
                    hi = hi.max(m.1);
                }
                WaveColumn {
                    start_s: b[i0].1 as f64 / sr,
                    end_s: b[i1 - 1].2 as f64 / sr,
                    min: lo,
                    max: hi,
                }
            })
            .collect()
    }
}

/// Collects the figures of a [`Report`] from planar blocks fed during a render.
///
/// Control side: [`process`](Self::process) may allocate (amortised growth of the series, the
/// waveform buckets and the gating history). Memory grows with the programme only by the
/// loudness series (two values per 100 ms) and the meter's gating history; the waveform and the
/// spectrum are fixed-size.
///
/// What it reuses: [`LoudnessMeter`] (momentary, short-term, integrated, LRA, maxima) and
/// [`TruePeakChannel`] (16× true peak, [`crate::dsp::true_peak`]), so its figures equal
/// [`crate::measure::Analyzer`]'s for the same audio.
#[derive(Clone, Debug)]
pub struct ReportCollector {
    sample_rate: f64,
    channels: usize,
    meter: LoudnessMeter,
    hop: u64,
    frames: u64,
    series: Vec<LoudnessPoint>,
    tp: Vec<TruePeakChannel>,
    true_peak: f32,
    sample_peak: f32,
    seg_len: u64,
    seg_peak: f32,
    ceiling_dbtp: f64,
    ceiling_lin: f32,
    overs: Vec<Over>,
    clip_count: u64,
    nan_count: u64,
    wave: Waveform,
    welch: WelchAnalyzer,
    scratch: Vec<Vec<f32>>,
    gr_max: f64,
    gr_sum: f64,
    gr_frames: u64,
}

impl ReportCollector {
    /// A collector for `channels` channels at `sample_rate`, reporting overs above
    /// [`DEFAULT_CEILING_DBTP`]. Allocates the meters (see [`LoudnessMeter::new`]).
    ///
    /// # Panics
    /// As [`LoudnessMeter::new`]: a sample rate below 8 kHz or no channels.
    pub fn new(sample_rate: f64, channels: usize) -> Self {
        let hop = ((0.1 * sample_rate).round() as u64).max(1);
        Self {
            sample_rate,
            channels,
            meter: LoudnessMeter::for_channels(sample_rate, channels),
            hop,
            frames: 0,
            series: Vec::with_capacity(3000),
            tp: vec![TruePeakChannel::default(); channels],
            true_peak: 0.0,
            sample_peak: 0.0,
            seg_len: ((OVER_RESOLUTION_S * sample_rate).round() as u64).max(1),
            seg_peak: 0.0,
            ceiling_dbtp: DEFAULT_CEILING_DBTP,
            ceiling_lin: 10f32.powf((DEFAULT_CEILING_DBTP + OVER_MARGIN_DB) as f32 / 20.0),
            overs: Vec::new(),
            clip_count: 0,
            nan_count: 0,
            wave: Waveform::new(),
            welch: WelchAnalyzer::new(sample_rate, channels),
            scratch: vec![Vec::new(); channels],
            gr_max: 0.0,
            gr_sum: 0.0,
            gr_frames: 0,
        }
    }

    /// Sets the true-peak ceiling (dBTP) above which overs are reported; call before feeding.
    pub fn with_ceiling_dbtp(mut self, ceiling_dbtp: f64) -> Self {
        self.ceiling_dbtp = ceiling_dbtp;
        self.ceiling_lin = 10f64.powf((ceiling_dbtp + OVER_MARGIN_DB) / 20.0) as f32;
        self
    }

    /// Frames fed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Records that a limiter reduced the gain by `gr_db` (≥ 0, dB) for `frames` frames; the
    /// report gives the maximum and the frame-weighted average.
    pub fn add_gain_reduction(&mut self, gr_db: f64, frames: u64) {
        if gr_db.is_finite() {
            self.gr_max = self.gr_max.max(gr_db);
            self.gr_sum += gr_db * frames as f64;
            self.gr_frames += frames;
        }
    }

    /// Feeds planar audio: one slice per channel, all of the same length. Non-finite samples
    /// are counted (`nan_count`) and measured as silence.
    ///
    /// # Panics
    /// If the number of slices differs from the channel count or the slices differ in length.
    pub fn process(&mut self, planar: &[&[f32]]) {
        assert_eq!(
            planar.len(),
            self.channels,
            "ReportCollector: wrong channel count"
        );
        let n = planar[0].len();
        assert!(
            planar.iter().all(|c| c.len() == n),
            "ReportCollector: channels differ in length"
        );
        if n == 0 {
            return;
        }
        let bad: u64 = planar
            .iter()
            .map(|c| c.iter().filter(|x| !x.is_finite()).count() as u64)
            .sum();
        if bad > 0 {
            self.nan_count += bad;
            let mut scratch = std::mem::take(&mut self.scratch);
            for (s, c) in scratch.iter_mut().zip(planar) {
                s.clear();
                s.extend(c.iter().map(|x| if x.is_finite() { *x } else { 0.0 }));
            }
            let views: Vec<&[f32]> = scratch.iter().map(|s| s.as_slice()).collect();
            self.process_clean(&views);
            self.scratch = scratch;
        } else {
            self.process_clean(planar);
        }
    }

    fn process_clean(&mut self, planar: &[&[f32]]) {
        let n = planar[0].len();
        // Loudness, split at the 100 ms boundaries where the series is sampled.
        let mut i = 0usize;
        while i < n {
            let pos = self.frames + i as u64;
            let to_hop = (self.hop - pos % self.hop) as usize;
            let len = to_hop.min(n - i);
            let views: Vec<&[f32]> = planar.iter().map(|c| &c[i..i + len]).collect();
            self.meter.process(&views);
            i += len;
            if len == to_hop {
                let end = self.frames + i as u64;
                self.series.push(LoudnessPoint {
                    t_s: end as f64 / self.sample_rate,
                    momentary_lufs: self.meter.momentary_lufs(),
                    short_term_lufs: self.meter.short_term_lufs(),
                });
            }
        }
        // True peak per 10 ms segment, for the overall figure and the overs.
        let mut i = 0usize;
        while i < n {
            let pos = self.frames + i as u64;
            let to_seg = (self.seg_len - pos % self.seg_len) as usize;
            let len = to_seg.min(n - i);
            for (st, c) in self.tp.iter_mut().zip(planar) {
                let p = st.process_block(&c[i..i + len]);
                self.seg_peak = self.seg_peak.max(p);
            }
            i += len;
            if len == to_seg {
                let end = self.frames + i as u64;
                self.close_segment(end - self.seg_len, end);
            }
        }
        // Sample peak, clips, waveform.
        for c in planar {
            for &x in c.iter() {
                let a = x.abs();
                self.sample_peak = self.sample_peak.max(a);
                if a >= 1.0 {
                    self.clip_count += 1;
                }
            }
        }
        for k in 0..n {
            let (mut lo, mut hi) = (planar[0][k], planar[0][k]);
            for c in &planar[1..] {
                lo = lo.min(c[k]);
                hi = hi.max(c[k]);
            }
            self.wave.push(lo, hi);
        }
        self.welch.process(planar);
        self.frames += n as u64;
    }

    /// Ends the true-peak segment `[start, end)` (frames): folds it into the overall true peak
    /// and, above the ceiling, into the overs (merging with an over that ends where it starts).
    fn close_segment(&mut self, start: u64, end: u64) {
        let p = std::mem::take(&mut self.seg_peak);
        self.true_peak = self.true_peak.max(p);
        push_over(
            &mut self.overs,
            p,
            self.ceiling_lin,
            start as f64 / self.sample_rate,
            end as f64 / self.sample_rate,
        );
    }

    /// The report so far, for the programme called `song`. Allocates (sorting for LRA, the
    /// waveform columns, the spectrum points).
    pub fn report(&self, song: &str) -> Report {
        let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
        // Fold in the incomplete last true-peak segment.
        let mut overs = self.overs.clone();
        // readings lag the input by 71 samples; the last ones count through their sample peak
        let mut tp = self.true_peak.max(self.sample_peak);
        let seg_start = self.frames - self.frames % self.seg_len;
        if self.frames > seg_start {
            tp = tp.max(self.seg_peak);
            push_over(
                &mut overs,
                self.seg_peak,
                self.ceiling_lin,
                seg_start as f64 / self.sample_rate,
                self.frames as f64 / self.sample_rate,
            );
        }
        let db = |x: f32| finite(Some(to_db(x)));
        let spectrum = self.welch.spectrum();
        Report {
            song: song.to_string(),
            sample_rate: self.sample_rate,
            channels: self.channels,
            duration_s: self.frames as f64 / self.sample_rate,
            integrated_lufs: finite(self.meter.integrated_lufs()),
            loudness_range_lu: finite(self.meter.loudness_range_lu()),
            momentary_max_lufs: finite(self.meter.momentary_max_lufs()),
            short_term_max_lufs: finite(self.meter.short_term_max_lufs()),
            true_peak_dbtp: db(tp),
            sample_peak_dbfs: db(self.sample_peak),
            clip_count: self.clip_count,
            nan_count: self.nan_count,
            nan_report: Vec::new(),
            target_lufs: None,
            limiter_gr_max_db: (self.gr_frames > 0).then_some(self.gr_max),
            limiter_gr_avg_db: (self.gr_frames > 0).then(|| self.gr_sum / self.gr_frames as f64),
            notes: Vec::new(),
            overs_ceiling_dbtp: self.ceiling_dbtp,
            overs,
            loudness_series: self.series.clone(),
            waveform: self.wave.columns(self.sample_rate),
            spectrum_points: spectrum.log_points(),
            spectrum,
        }
    }
}

fn push_over(overs: &mut Vec<Over>, peak: f32, ceiling: f32, start_s: f64, end_s: f64) {
    if peak <= ceiling {
        return;
    }
    let peak_dbtp = to_db(peak);
    match overs.last_mut() {
        Some(o) if (o.end_s - start_s).abs() < 1e-9 => {
            o.end_s = end_s;
            o.peak_dbtp = o.peak_dbtp.max(peak_dbtp);
        }
        _ => overs.push(Over {
            start_s,
            end_s,
            peak_dbtp,
        }),
    }
}
