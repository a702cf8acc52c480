//! Render reports: the summary printed after every render, and with `--report DIR` the same
//! figures as JSON and as pictures (PNG and SVG).
//!
//! - [`ReportCollector`] is fed the rendered audio block by block (control side) and gathers the
//!   loudness (momentary and short-term every 100 ms, integrated, range, maxima — all from
//!   [`crate::dsp::loudness::LoudnessMeter`]), the true and sample peak (from
//!   [`crate::dsp::true_peak`]), true-peak overs above a ceiling, clipped and non-finite samples,
//!   a waveform overview and a long-term average spectrum ([`spectrum`]).
//! - [`Report`] is the plain result: [`Report::to_text`] is the printed summary,
//!   [`Report::to_json`] the JSON (keys below), [`Report::write_dir`] writes JSON and pictures.
//! - [`album_spectrum`] overlays the spectra of several songs, before and after matching.
//!
//! ## Pictures
//! Every picture is written twice, as PNG and SVG of the same size in pixels:
//!
//! | file | size | what |
//! |---|---|---|
//! | `<stem>-loudness.png/.svg` | [`PICTURE_SIZE`] 1200 × 400 | momentary (light) and short-term (dark) loudness over time, LUFS; the target as a red dashed line when given |
//! | `<stem>-waveform.png/.svg` | [`PICTURE_SIZE`] 1200 × 400 | min/max overview (all channels), the ± ceiling as dashed lines, true-peak overs shaded red |
//! | `<stem>-spectrum.png/.svg` | [`PICTURE_SIZE`] 1200 × 400 | long-term average spectrum, dB, 20 Hz–20 kHz on a log axis |
//! | `<stem>-spectra.png/.svg` ([`album_spectrum`]) | [`ALBUM_PICTURE_SIZE`] 1200 × 800 | every song's spectrum overlaid: before matching (top), after (bottom) |
//!
//! Text is drawn with a subset of DejaVu Sans (ASCII and a few symbols) embedded in the
//! binary and registered with plotters' `ab_glyph` font backend, so no system fonts or
//! fontconfig are needed. Licence: `engine/src/report/DejaVuSans-LICENSE.txt` (Bitstream Vera
//! licence; DejaVu changes public domain). The subset (14 KB, from `DejaVuSans.ttf` 2.37 as
//! shipped in the `dejavu` crate) was made with fontTools:
//! `pyftsubset DejaVuSans.ttf --unicodes="U+0020-007E,U+00B0,U+00B1,U+00B5,U+00D7,U+2012-2014,U+2026,U+2192,U+2212,U+2248" --no-hinting --layout-features=kern`;
//! other characters in song names are drawn as blanks in the PNGs (the SVGs keep the text).
//!
//! ## JSON keys
//! One object. Numbers that are undefined (the loudness of silence, a peak of −∞) are `null`.
//!
//! | key | value |
//! |---|---|
//! | `song` | name of the programme |
//! | `sample_rate`, `channels`, `duration_s` | format and length |
//! | `integrated_lufs`, `loudness_range_lu`, `momentary_max_lufs`, `short_term_max_lufs` | loudness (BS.1770 / EBU R128 / Tech 3342) |
//! | `true_peak_dbtp`, `sample_peak_dbfs` | peaks |
//! | `delivery` | per platform or standard: `name`, `target_lufs`, `gain_db` it would apply, resulting `true_peak_dbtp`, `over` (see [`crate::delivery`]) |
//! | `clip_count` | samples (per channel) with magnitude ≥ 1.0 |
//! | `nan_count` | non-finite samples in the audio fed to the collector |
//! | `nan_report` | `[{"node": name, "samples": n}]`: nodes whose NaN/Inf output was replaced by silence |
//! | `target_lufs` | the loudness target drawn on the loudness picture, or `null` |
//! | `limiter_gain_reduction_max_db`, `limiter_gain_reduction_avg_db` | limiter gain reduction (dB, ≥ 0) or `null` |
//! | `notes` | lines from nodes, e.g. what a loudness node did |
//! | `overs_ceiling_dbtp` | ceiling above which overs are reported |
//! | `overs` | `[{"start_s", "end_s", "peak_dbtp"}]`, 10 ms resolution, adjacent segments merged |
//! | `loudness_series` | `{"step_s": 0.1, "t_s": [...], "momentary_lufs": [...], "short_term_lufs": [...]}`: one point per 100 ms, at the end of each window; `null` before the window fills and for silence |
//! | `waveform` | `{"start_s": [...], "end_s": [...], "min": [...], "max": [...]}`: at most 2000 columns |
//! | `spectrum` | `{"window": 4096, "points_per_octave": 24, "hz": [...], "db": [...]}` (see [`spectrum`] for the level scale) |

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::Error;

mod collector;
mod plot;
pub mod spectrum;

pub use collector::{ReportCollector, DEFAULT_CEILING_DBTP, OVER_RESOLUTION_S, WAVEFORM_COLUMNS};
pub use spectrum::{Spectrum, SpectrumPoint};

/// Width × height in pixels of the loudness, waveform and spectrum pictures (PNG and SVG).
pub const PICTURE_SIZE: (u32, u32) = (1200, 400);
/// Width × height in pixels of the album spectrum picture (two panels of 1200 × 400).
pub const ALBUM_PICTURE_SIZE: (u32, u32) = (1200, 800);
/// Spacing of the loudness series, seconds.
pub const SERIES_STEP_S: f64 = 0.1;

/// Momentary and short-term loudness at the end of one 100 ms step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoudnessPoint {
    /// Time at the end of the step (and of both windows), seconds.
    pub t_s: f64,
    /// Momentary loudness (400 ms), LUFS; `None` before 400 ms; `-inf` for silence.
    pub momentary_lufs: Option<f64>,
    /// Short-term loudness (3 s), LUFS; `None` before 3 s; `-inf` for silence.
    pub short_term_lufs: Option<f64>,
}

/// A stretch where the true peak exceeded the ceiling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Over {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// Highest true peak inside, dBTP.
    pub peak_dbtp: f64,
}

/// One column of the waveform overview (all channels together).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WaveColumn {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// Lowest sample.
    pub min: f32,
    /// Highest sample.
    pub max: f32,
}

/// The figures of one render (plain data). Build it with [`ReportCollector::report`], then
/// add `notes`, `nan_report` and the limiter figures known to the renderer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Name of the programme (song), used in titles.
    pub song: String,
    /// Frames per second.
    pub sample_rate: f64,
    /// Channels.
    pub channels: usize,
    /// Length, seconds.
    pub duration_s: f64,
    /// Integrated loudness, LUFS.
    pub integrated_lufs: Option<f64>,
    /// Loudness range, LU.
    pub loudness_range_lu: Option<f64>,
    /// Maximum momentary loudness, LUFS.
    pub momentary_max_lufs: Option<f64>,
    /// Maximum short-term loudness, LUFS.
    pub short_term_max_lufs: Option<f64>,
    /// True peak, dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Sample peak, dBFS.
    pub sample_peak_dbfs: Option<f64>,
    /// Samples (counted per channel) with magnitude ≥ 1.0.
    pub clip_count: u64,
    /// Non-finite samples in the audio that was fed (measured as silence).
    pub nan_count: u64,
    /// Nodes that produced NaN/Inf, with the number of samples replaced (from the render).
    pub nan_report: Vec<(String, u64)>,
    /// Loudness target, LUFS, if any (drawn on the loudness picture).
    pub target_lufs: Option<f64>,
    /// Largest limiter gain reduction, dB (≥ 0).
    pub limiter_gr_max_db: Option<f64>,
    /// Average limiter gain reduction over the programme, dB (≥ 0).
    pub limiter_gr_avg_db: Option<f64>,
    /// Lines from nodes (e.g. "master/loudness: -16.7 LUFS in, gain +2.77 dB").
    pub notes: Vec<String>,
    /// Ceiling above which overs are reported, dBTP.
    pub overs_ceiling_dbtp: f64,
    /// Stretches above the ceiling, in time order.
    pub overs: Vec<Over>,
    /// Momentary and short-term loudness every [`SERIES_STEP_S`].
    pub loudness_series: Vec<LoudnessPoint>,
    /// Waveform overview, at most [`WAVEFORM_COLUMNS`] columns in time order.
    pub waveform: Vec<WaveColumn>,
    /// The averaged spectrum on the FFT grid (not written to JSON).
    pub spectrum: Spectrum,
    /// The spectrum on a log-frequency axis (written to JSON and drawn).
    pub spectrum_points: Vec<SpectrumPoint>,
}

/// A number for JSON with `dec` decimals, `null` when undefined or not finite.
fn num(v: Option<f64>, dec: usize) -> String {
    match v {
        Some(x) if x.is_finite() => {
            let s = format!("{x:.dec$}");
            // "-0.00" reads oddly; JSON allows it but keep it tidy.
            if s.trim_start_matches('-')
                .chars()
                .all(|c| c == '0' || c == '.')
            {
                s.trim_start_matches('-').to_string()
            } else {
                s
            }
        }
        _ => "null".to_string(),
    }
}

fn num_array(out: &mut String, values: impl Iterator<Item = Option<f64>>, dec: usize) {
    out.push('[');
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&num(v, dec));
    }
    out.push(']');
}

use crate::measure::json_string;

impl Report {
    /// The report as one JSON object with the keys documented in the [module doc](self).
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(64 * 1024);
        let _ = write!(
            o,
            "{{\"song\":{},\"sample_rate\":{},\"channels\":{},\"duration_s\":{}",
            json_string(&self.song),
            num(Some(self.sample_rate), 0),
            self.channels,
            num(Some(self.duration_s), 3)
        );
        for (k, v) in [
            ("integrated_lufs", self.integrated_lufs),
            ("loudness_range_lu", self.loudness_range_lu),
            ("momentary_max_lufs", self.momentary_max_lufs),
            ("short_term_max_lufs", self.short_term_max_lufs),
            ("true_peak_dbtp", self.true_peak_dbtp),
            ("sample_peak_dbfs", self.sample_peak_dbfs),
        ] {
            let _ = write!(o, ",\"{k}\":{}", num(v, 2));
        }
        let measured = crate::measure::Measurement {
            integrated_lufs: self.integrated_lufs,
            true_peak_dbtp: self.true_peak_dbtp,
            ..Default::default()
        };
        let _ = write!(
            o,
            ",\"delivery\":{}",
            crate::delivery::to_json(&crate::delivery::table(&measured))
        );
        let _ = write!(
            o,
            ",\"clip_count\":{},\"nan_count\":{},\"nan_report\":[",
            self.clip_count, self.nan_count
        );
        for (i, (node, n)) in self.nan_report.iter().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            let _ = write!(o, "{sep}{{\"node\":{},\"samples\":{n}}}", json_string(node));
        }
        let _ = write!(
            o,
            "],\"target_lufs\":{},\"limiter_gain_reduction_max_db\":{},\"limiter_gain_reduction_avg_db\":{},\"notes\":[",
            num(self.target_lufs, 2),
            num(self.limiter_gr_max_db, 2),
            num(self.limiter_gr_avg_db, 2)
        );
        for (i, n) in self.notes.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str(&json_string(n));
        }
        let _ = write!(
            o,
            "],\"overs_ceiling_dbtp\":{},\"overs\":[",
            num(Some(self.overs_ceiling_dbtp), 2)
        );
        for (i, ov) in self.overs.iter().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            let _ = write!(
                o,
                "{sep}{{\"start_s\":{},\"end_s\":{},\"peak_dbtp\":{}}}",
                num(Some(ov.start_s), 3),
                num(Some(ov.end_s), 3),
                num(Some(ov.peak_dbtp), 2)
            );
        }
        let _ = write!(
            o,
            "],\"loudness_series\":{{\"step_s\":{SERIES_STEP_S},\"t_s\":"
        );
        let s = &self.loudness_series;
        num_array(&mut o, s.iter().map(|p| Some(p.t_s)), 1);
        o.push_str(",\"momentary_lufs\":");
        num_array(&mut o, s.iter().map(|p| p.momentary_lufs), 2);
        o.push_str(",\"short_term_lufs\":");
        num_array(&mut o, s.iter().map(|p| p.short_term_lufs), 2);
        o.push_str("},\"waveform\":{\"start_s\":");
        let w = &self.waveform;
        num_array(&mut o, w.iter().map(|c| Some(c.start_s)), 4);
        o.push_str(",\"end_s\":");
        num_array(&mut o, w.iter().map(|c| Some(c.end_s)), 4);
        o.push_str(",\"min\":");
        num_array(&mut o, w.iter().map(|c| Some(f64::from(c.min))), 4);
        o.push_str(",\"max\":");
        num_array(&mut o, w.iter().map(|c| Some(f64::from(c.max))), 4);
        let _ = write!(
            o,
            "}},\"spectrum\":{{\"window\":{},\"points_per_octave\":{},\"hz\":",
            spectrum::WINDOW,
            spectrum::POINTS_PER_OCTAVE
        );
        let p = &self.spectrum_points;
        num_array(&mut o, p.iter().map(|x| Some(x.hz)), 1);
        o.push_str(",\"db\":");
        num_array(&mut o, p.iter().map(|x| Some(x.db)), 2);
        o.push_str("}}");
        o
    }

    /// The summary printed after a render: one figure per line, indented by two spaces.
    pub fn to_text(&self) -> String {
        let f = |v: Option<f64>, u: &str| {
            v.map_or("n/a".to_string(), |x| {
                let s = format!("{x:.1}");
                format!("{} {u}", if s == "-0.0" { "0.0" } else { &s })
            })
        };
        let mut o = String::new();
        let _ = writeln!(o, "  integrated     {}", f(self.integrated_lufs, "LUFS"));
        let _ = writeln!(o, "  loudness range {}", f(self.loudness_range_lu, "LU"));
        let _ = writeln!(o, "  momentary max  {}", f(self.momentary_max_lufs, "LUFS"));
        let _ = writeln!(
            o,
            "  short-term max {}",
            f(self.short_term_max_lufs, "LUFS")
        );
        let _ = writeln!(o, "  true peak      {}", f(self.true_peak_dbtp, "dBTP"));
        let _ = writeln!(o, "  sample peak    {}", f(self.sample_peak_dbfs, "dBFS"));
        if let (Some(max), Some(avg)) = (self.limiter_gr_max_db, self.limiter_gr_avg_db) {
            let _ = writeln!(o, "  limiter GR     max {max:.1} dB, average {avg:.1} dB");
        }
        let total: f64 = self.overs.iter().map(|v| v.end_s - v.start_s).sum();
        let _ = writeln!(
            o,
            "  overs          {} above {:.1} dBTP ({total:.2} s)",
            self.overs.len(),
            self.overs_ceiling_dbtp
        );
        let _ = writeln!(o, "  clipped        {} samples", self.clip_count);
        let nan_nodes: u64 = self.nan_report.iter().map(|(_, n)| n).sum();
        let _ = writeln!(o, "  NaN/Inf        {} samples", self.nan_count + nan_nodes);
        for (node, n) in &self.nan_report {
            let _ = writeln!(o, "    {node}: {n} non-finite samples replaced by silence");
        }
        for n in &self.notes {
            let _ = writeln!(o, "  {n}");
        }
        o.pop();
        o
    }

    /// Writes `<stem>.json` and the loudness, waveform and spectrum pictures (PNG and SVG, see
    /// the [module doc](self)) into `dir`, creating it if needed. `target_lufs` (else
    /// [`Report::target_lufs`]) is drawn on the loudness picture and written to the JSON.
    /// Returns the paths written. Errors name the path that failed.
    pub fn write_dir(
        &self,
        dir: &Path,
        stem: &str,
        target_lufs: Option<f64>,
    ) -> Result<Vec<PathBuf>, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let target = target_lufs.or(self.target_lufs);
        let mut written = Vec::new();
        let json_path = dir.join(format!("{stem}.json"));
        let json = if target != self.target_lufs {
            Report {
                target_lufs: target,
                ..self.clone()
            }
            .to_json()
        } else {
            self.to_json()
        };
        std::fs::write(&json_path, json + "\n").map_err(|e| Error::io(&json_path, e))?;
        written.push(json_path);
        let size = PICTURE_SIZE;
        let loudness = plot::Loudness {
            report: self,
            target,
        };
        written.extend(plot::both(
            dir,
            &format!("{stem}-loudness"),
            size,
            &loudness,
        )?);
        let waveform = plot::Waveform { report: self };
        written.extend(plot::both(
            dir,
            &format!("{stem}-waveform"),
            size,
            &waveform,
        )?);
        let spectrum = plot::SpectrumChart {
            title: format!("{}: long-term average spectrum", self.song),
            series: vec![(self.song.as_str(), self.spectrum_points.as_slice())],
            legend: false,
        };
        written.extend(plot::both(
            dir,
            &format!("{stem}-spectrum"),
            size,
            &spectrum,
        )?);
        Ok(written)
    }
}

/// Writes `<stem>-spectra.png` and `.svg` ([`ALBUM_PICTURE_SIZE`]) into `dir`: the
/// spectra of all `songs` (name, before matching, after matching) overlaid, before on top and
/// after below, one colour per song. Returns the paths written.
pub fn album_spectrum(
    dir: &Path,
    stem: &str,
    songs: &[(&str, &[SpectrumPoint], &[SpectrumPoint])],
) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let before: Vec<(&str, &[SpectrumPoint])> = songs.iter().map(|s| (s.0, s.1)).collect();
    let after: Vec<(&str, &[SpectrumPoint])> = songs.iter().map(|s| (s.0, s.2)).collect();
    let album = plot::Album { before, after };
    plot::both(dir, &format!("{stem}-spectra"), ALBUM_PICTURE_SIZE, &album)
}
