//! `mixdown measure`: loudness and peaks of audio files, and the same figures for renders.

use std::path::Path;

use crate::dsp::loudness::LoudnessMeter;
use crate::dsp::true_peak::TruePeak;
use crate::error::Error;
use crate::io::decode;

/// Loudness and peak figures of a programme. `None` where a value is undefined (e.g. the
/// integrated loudness of silence).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measurement {
    /// Integrated loudness (gated), LUFS.
    pub integrated_lufs: Option<f64>,
    /// Loudness range, LU.
    pub loudness_range_lu: Option<f64>,
    /// Maximum momentary loudness, LUFS.
    pub momentary_max_lufs: Option<f64>,
    /// Maximum short-term loudness, LUFS.
    pub short_term_max_lufs: Option<f64>,
    /// True peak (max of 16× oversampled and sample peak, [`crate::dsp::true_peak`]), dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Sample peak, dBFS.
    pub sample_peak_dbfs: Option<f64>,
}

/// Accumulates a [`Measurement`] block by block.
pub struct Analyzer {
    loudness: LoudnessMeter,
    peak: TruePeak,
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

impl Analyzer {
    /// For `channels` channels at `sample_rate`.
    pub fn new(sample_rate: f64, channels: usize) -> Self {
        Self {
            loudness: LoudnessMeter::for_channels(sample_rate, channels),
            peak: TruePeak::new(channels),
        }
    }

    /// Feeds planar audio.
    pub fn process(&mut self, planar: &[&[f32]]) {
        if planar.first().is_some_and(|c| !c.is_empty()) {
            self.loudness.process(planar);
            self.peak.process(planar);
        }
    }

    /// The figures so far.
    pub fn result(&self) -> Measurement {
        let db = |x: f32| finite(Some(20.0 * (x as f64).log10()));
        Measurement {
            integrated_lufs: finite(self.loudness.integrated_lufs()),
            loudness_range_lu: finite(self.loudness.loudness_range_lu()),
            momentary_max_lufs: finite(self.loudness.momentary_max_lufs()),
            short_term_max_lufs: finite(self.loudness.short_term_max_lufs()),
            true_peak_dbtp: db(self.peak.true_peak()),
            sample_peak_dbfs: db(self.peak.sample_peak()),
        }
    }
}

/// Measures the audio file at `path` (any format [`decode::probe_audio`] reads), streaming it at
/// the file's own rate (no resampling).
pub fn measure_file(path: &Path) -> Result<Measurement, Error> {
    let info = decode::probe_audio(path)?;
    let ch = info.channels;
    let sr = info.sample_rate as f64;
    let mut d = decode::Decoder::open(&info)?;
    let mut buf = vec![0f32; CHUNK * ch];
    // True peak (16x oversampling) costs about as much as decoding and K-weighting together:
    // with a second core, a helper thread does it on the same chunks while this one measures
    // loudness. Chunks travel in a loop of two channels, so buffers are reused.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut loudness = LoudnessMeter::for_channels(sr, ch);
    let (to_tp, tp_rx) = std::sync::mpsc::sync_channel::<Vec<Vec<f32>>>(4);
    let (back_tx, back) = std::sync::mpsc::sync_channel::<Vec<Vec<f32>>>(8);
    let tp_thread = (threads > 1).then(|| {
        std::thread::spawn(move || {
            let mut tp = TruePeak::new(ch);
            while let Ok(chunk) = tp_rx.recv() {
                let views: Vec<&[f32]> = chunk.iter().map(|c| c.as_slice()).collect();
                tp.process(&views);
                let _ = back_tx.try_send(chunk);
            }
            tp
        })
    });
    let mut local_tp = (threads <= 1).then(|| TruePeak::new(ch));
    loop {
        let n = d.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut planar = back
            .try_recv()
            .unwrap_or_else(|_| vec![Vec::with_capacity(CHUNK); ch]);
        for p in planar.iter_mut() {
            p.clear();
        }
        for frame in buf[..n * ch].chunks_exact(ch) {
            for (p, x) in planar.iter_mut().zip(frame) {
                p.push(*x);
            }
        }
        {
            let views: Vec<&[f32]> = planar.iter().map(|p| p.as_slice()).collect();
            loudness.process(&views);
            if let Some(tp) = local_tp.as_mut() {
                tp.process(&views);
            }
        }
        if tp_thread.is_some() {
            let _ = to_tp.send(planar);
        }
    }
    drop(to_tp);
    let tp = match tp_thread {
        Some(h) => h
            .join()
            .map_err(|_| Error::new(crate::ErrorKind::Other, "true-peak thread failed"))?,
        None => local_tp.unwrap_or_else(|| TruePeak::new(ch)),
    };
    Ok(Analyzer { loudness, peak: tp }.result())
}

const CHUNK: usize = 8192;

impl Measurement {
    /// One JSON object (keys as documented in the README).
    pub fn to_json(&self, path: &str) -> String {
        let n = |v: Option<f64>| v.map_or("null".to_string(), |x| format!("{x:.2}"));
        format!(
            "{{\"path\":{},\"integrated_lufs\":{},\"loudness_range_lu\":{},\"momentary_max_lufs\":{},\"short_term_max_lufs\":{},\"true_peak_dbtp\":{},\"sample_peak_dbfs\":{}}}",
            json_string(path),
            n(self.integrated_lufs),
            n(self.loudness_range_lu),
            n(self.momentary_max_lufs),
            n(self.short_term_max_lufs),
            n(self.true_peak_dbtp),
            n(self.sample_peak_dbfs)
        )
    }

    /// A human-readable block.
    pub fn to_text(&self) -> String {
        let f = |v: Option<f64>, u: &str| v.map_or("n/a".to_string(), |x| format!("{x:.1} {u}"));
        format!(
            "  integrated     {}\n  loudness range {}\n  momentary max  {}\n  short-term max {}\n  true peak      {}\n  sample peak    {}",
            f(self.integrated_lufs, "LUFS"),
            self.loudness_range_lu.map_or("n/a".into(), |x| format!("{x:.1} LU")),
            f(self.momentary_max_lufs, "LUFS"),
            f(self.short_term_max_lufs, "LUFS"),
            f(self.true_peak_dbtp, "dBTP"),
            f(self.sample_peak_dbfs, "dBFS"),
        )
    }
}

/// JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
