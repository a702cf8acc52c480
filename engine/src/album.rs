//! Album mastering: several songs made to fit together, then brought to a loudness target.
//!
//! `mix.album { songs = {...}, target_lufs, ceiling_db, mode, chain, out, ... }` records an
//! [`AlbumJob`]; [`render_album`] does the work, on the control thread, in passes:
//! 1. each song that is a mix script is rendered (32-bit float, to a temporary folder);
//! 2. analysis: each song goes through the mastering chain with a loudness gain of 0 dB, and its
//!    integrated loudness and octave-band balance are measured;
//! 3. optional matching EQ: each song's balance is moved toward the album's average balance (or a
//!    reference track's) by a smooth 8-band EQ whose response stays within ±3 dB;
//! 4. gains: in `track` mode each song gets its own gain to the target; in `album` mode every song
//!    gets the one gain that puts the album's loudness (all songs together) on the target, which
//!    keeps their relative loudness; the true-peak limiter at the ceiling follows;
//! 5. each song is rendered, measured, and its gain corrected once if the limiter took loudness
//!    off (so targets land within 0.1 LU); files are written, and optionally one continuous album
//!    file with gaps and fades.
//!
//! The mastering chain is a graph module (`"mastering.streaming"`) called as
//! `chain(mix.master, { target_lufs = .., ceiling_db = .., gain_db = .. })`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::dsp::biquad::{Coefs, FilterKind};
use crate::error::{Error, ErrorKind, Errors, Span};
use crate::io::output::WritePolicy;
use crate::io::sink::{AudioSink, Delivery, OutputFormat};
use crate::measure::{Analyzer, Measurement};
use crate::render::{prepare_schedule, render_to_file, try_render_to_vec, RenderOptions};
use crate::script::{Evaluator, Job, MasteringJob, ScriptOptions};

/// Track or album normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AlbumMode {
    /// Every song to the target.
    Track,
    /// One gain for all: the album to the target, songs keep their relative loudness.
    Album,
}

/// Where the matching EQ aims.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum MatchEq {
    /// No matching.
    Off,
    /// The album's average balance.
    Album,
    /// A reference recording's balance.
    Reference(PathBuf),
}

/// One song of an album.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AlbumSong {
    /// Name used for output files (`%s` in `out`).
    pub name: String,
    /// A mix script or an audio file.
    pub path: PathBuf,
}

/// A `mix.album` job.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AlbumJob {
    /// Songs in order.
    pub songs: Vec<AlbumSong>,
    /// Integrated loudness target, LUFS.
    pub target_lufs: f64,
    /// True-peak ceiling, dBTP.
    pub ceiling_db: f64,
    /// Track or album mode.
    pub mode: AlbumMode,
    /// Graph module applied to each song's master (`None`: loudness and limiter only).
    pub chain: Option<String>,
    /// Output path pattern; `%s` is the song name.
    pub out: String,
    /// One continuous album file as well.
    pub continuous: Option<PathBuf>,
    /// Silence between songs in the continuous file, seconds.
    pub gap_s: f64,
    /// Fade-in and fade-out of each song in the continuous file, seconds.
    pub fade_s: f64,
    /// Matching EQ.
    pub match_eq: MatchEq,
    /// Output format.
    pub format: OutputFormat,
    /// Session rate for mastering.
    pub sample_rate: f64,
    /// The album script's folder.
    pub dir: PathBuf,
    /// Where relative output paths resolve (the command line's `--out-dir`; default `dir`).
    #[serde(default)]
    pub out_base: Option<PathBuf>,
    /// Where `mix.album` was called.
    pub span: Option<Span>,
}

/// Octave-band centres of the balance analysis and the matching EQ.
pub const BANDS_HZ: [f64; 8] = [63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0];
/// Largest correction of the matching EQ, dB.
pub const MATCH_LIMIT_DB: f64 = 3.0;

/// What happened to one song.
#[derive(Clone, Debug)]
pub struct SongReport {
    /// Name.
    pub name: String,
    /// File written.
    pub path: PathBuf,
    /// Loudness of the song as it came in (the premaster, before the mastering chain).
    pub before_lufs: Option<f64>,
    /// Figures of the written file.
    pub after: Measurement,
    /// Gain applied by the loudness stage, dB.
    pub gain_db: f64,
    /// Matching EQ gains per band of [`BANDS_HZ`], dB.
    pub eq_db: Vec<f64>,
    /// Distance of the song's balance from the aim, before and after matching (RMS dB over the
    /// bands).
    pub balance_distance_db: (f64, f64),
}

/// The album's outcome.
#[derive(Clone, Debug)]
pub struct AlbumReport {
    /// Per song.
    pub songs: Vec<SongReport>,
    /// Integrated loudness of the whole album after mastering: BS.1770 gating over every song
    /// in order, with the gaps and fades of the continuous file (so `mixdown measure` of that
    /// file reads the same).
    pub album_lufs: Option<f64>,
    /// Highest true peak of the album, dBTP.
    pub album_true_peak_dbtp: Option<f64>,
    /// The continuous file, if written.
    pub continuous: Option<PathBuf>,
    /// Targets the mastering could not reach, one sentence each (empty when all were met).
    pub missed: Vec<String>,
    /// Every file the album was made from: song scripts with their modules and audio files,
    /// premaster files (for `mixdown batch --resume`'s digest).
    pub inputs: Vec<PathBuf>,
}

impl AlbumReport {
    /// The album table as JSON: `{"album_lufs": .., "songs": [{"name", "path", "before_lufs",
    /// "after_lufs", "loudness_range_lu", "true_peak_dbtp", "gain_db", "eq_db": [..],
    /// "balance_distance_before_db", "balance_distance_after_db"}]}`.
    pub fn to_json(&self) -> String {
        let n = |v: Option<f64>| v.map_or("null".to_string(), |x| format!("{x:.3}"));
        let songs: Vec<String> = self
            .songs
            .iter()
            .map(|s| {
                let eq: Vec<String> = s.eq_db.iter().map(|g| format!("{g:.3}")).collect();
                format!(
                    "{{\"name\":{},\"path\":{},\"before_lufs\":{},\"after_lufs\":{},\"loudness_range_lu\":{},\"true_peak_dbtp\":{},\"gain_db\":{:.3},\"eq_db\":[{}],\"balance_distance_before_db\":{:.3},\"balance_distance_after_db\":{:.3}}}",
                    crate::measure::json_string(&s.name),
                    crate::measure::json_string(&s.path.display().to_string()),
                    n(s.before_lufs),
                    n(s.after.integrated_lufs),
                    n(s.after.loudness_range_lu),
                    n(s.after.true_peak_dbtp),
                    s.gain_db,
                    eq.join(","),
                    s.balance_distance_db.0,
                    s.balance_distance_db.1
                )
            })
            .collect();
        let missed: Vec<String> = self
            .missed
            .iter()
            .map(|m| crate::measure::json_string(m))
            .collect();
        format!(
            "{{\"album_lufs\":{},\"album_true_peak_dbtp\":{},\"missed\":[{}],\"songs\":[{}]}}\n",
            n(self.album_lufs),
            n(self.album_true_peak_dbtp),
            missed.join(","),
            songs.join(",")
        )
    }

    /// The table printed after an album render.
    pub fn table(&self) -> String {
        let f = |v: Option<f64>| v.map_or("   -inf".into(), |x| format!("{x:7.2}"));
        let mut s = String::from(
            "song                     before  after   LRA    TP dBTP  gain dB  EQ (63 Hz .. 8 kHz, dB)\n",
        );
        for r in &self.songs {
            let eq: Vec<String> = r.eq_db.iter().map(|g| format!("{g:+.1}")).collect();
            let _ = writeln!(
                s,
                "{:<24} {} {} {} {} {:+8.2}  {}",
                r.name,
                f(r.before_lufs),
                f(r.after.integrated_lufs),
                f(r.after.loudness_range_lu),
                f(r.after.true_peak_dbtp),
                r.gain_db,
                if eq.is_empty() {
                    "-".into()
                } else {
                    eq.join(" ")
                }
            );
        }
        let _ = write!(
            s,
            "album loudness {} LUFS, true peak {} dBTP",
            f(self.album_lufs),
            f(self.album_true_peak_dbtp)
        );
        for m in &self.missed {
            let _ = write!(s, "\nwarning: {m}");
        }
        s
    }
}

fn err(job: &AlbumJob, msg: String) -> Errors {
    Error::new(ErrorKind::Other, msg)
        .at(job.span.as_ref())
        .into()
}

/// Octave-band levels (dB) of planar audio: energy in each octave around [`BANDS_HZ`], through
/// 8th-order Butterworth band-passes (a 4th-order high-pass at f/√2 and low-pass at f·√2, 24
/// dB/octave skirts, so loud neighbouring bands do not leak into quiet ones).
pub fn band_levels(planar: &[Vec<f32>], sample_rate: f64) -> Vec<f64> {
    use crate::dsp::biquad::butterworth;
    BANDS_HZ
        .iter()
        .map(|&hz| {
            let lo = (hz / std::f64::consts::SQRT_2).max(10.0);
            let hi = (hz * std::f64::consts::SQRT_2).min(sample_rate * 0.45);
            let mut sections =
                butterworth(FilterKind::Highpass, 4, sample_rate, lo).unwrap_or_default();
            sections
                .extend(butterworth(FilterKind::Lowpass, 4, sample_rate, hi).unwrap_or_default());
            let mut e = 0.0f64;
            let mut n = 0usize;
            for ch in planar {
                let mut z = vec![(0.0f64, 0.0f64); sections.len()];
                for &x in ch {
                    let mut v = x as f64;
                    for (c, (z1, z2)) in sections.iter().zip(z.iter_mut()) {
                        let y = c.b0 * v + *z1;
                        *z1 = c.b1 * v - c.a1 * y + *z2;
                        *z2 = c.b2 * v - c.a2 * y;
                        v = y;
                    }
                    e += v * v;
                }
                n += ch.len();
            }
            10.0 * (e / n.max(1) as f64 + 1e-30).log10()
        })
        .collect()
}

/// A balance: band levels relative to their mean (tilt and shape, not loudness).
fn balance(levels: &[f64]) -> Vec<f64> {
    let mean = levels.iter().sum::<f64>() / levels.len() as f64;
    levels.iter().map(|l| l - mean).collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64).sqrt()
}

/// EQ gains that move `song` toward `aim`: smoothed over neighbouring bands, and scaled so the
/// summed response of the 8 bands (low shelf, 6 bells, high shelf) stays within ±3 dB.
pub fn matching_gains(song: &[f64], aim: &[f64], sample_rate: f64) -> Vec<f64> {
    let d: Vec<f64> = aim.iter().zip(song).map(|(a, s)| a - s).collect();
    let n = d.len();
    let smooth: Vec<f64> = (0..n)
        .map(|i| {
            let lo = d[i.saturating_sub(1)];
            let hi = d[(i + 1).min(n - 1)];
            0.25 * lo + 0.5 * d[i] + 0.25 * hi
        })
        .collect();
    let mut g: Vec<f64> = smooth
        .iter()
        .map(|x| x.clamp(-MATCH_LIMIT_DB, MATCH_LIMIT_DB))
        .collect();
    let peak = response_peak(&g, sample_rate);
    if peak > MATCH_LIMIT_DB {
        let k = MATCH_LIMIT_DB / peak;
        for x in &mut g {
            *x *= k;
        }
    }
    g
}

fn eq_coefs(gains: &[f64], sample_rate: f64) -> Vec<Coefs> {
    gains
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            let kind = match i {
                0 => FilterKind::LowShelf,
                7 => FilterKind::HighShelf,
                _ => FilterKind::Bell,
            };
            Coefs::rbj(kind, sample_rate, BANDS_HZ[i], 0.9, g)
        })
        .collect()
}

/// Largest |response| in dB of the matching EQ with `gains`, over 20 Hz–20 kHz.
pub fn response_peak(gains: &[f64], sample_rate: f64) -> f64 {
    let cs = eq_coefs(gains, sample_rate);
    (0..200)
        .map(|k| 20.0 * 1000f64.powf(k as f64 / 199.0))
        .map(|hz| {
            cs.iter()
                .map(|c| c.magnitude_db(sample_rate, hz))
                .sum::<f64>()
                .abs()
        })
        .fold(0.0, f64::max)
}

fn master(
    job: &AlbumJob,
    so: &ScriptOptions,
    evaluator: &Evaluator,
    file: &Path,
    eq: &[f64],
    gain_db: f64,
) -> Result<crate::graph::GraphSpec, Errors> {
    let mut so = so.clone();
    if let Some(d) = file.parent() {
        so.read_dirs.push(d.to_path_buf());
    }
    let m = MasteringJob {
        dir: job.dir.clone(),
        file: file.to_path_buf(),
        sample_rate: job.sample_rate,
        eq_db: eq.to_vec(),
        chain: job.chain.clone(),
        target_lufs: job.target_lufs,
        ceiling_db: job.ceiling_db,
        gain_db,
    };
    Ok(evaluator.run(&Job::Mastering(m), &so, None)?.spec)
}

/// A song as the continuous album file holds it: `ch` channels (a mono song on every channel),
/// faded in and out over `fade` frames.
fn faded(o: &[Vec<f32>], ch: usize, fade: usize) -> Vec<Vec<f32>> {
    let n = o.first().map_or(0, |c| c.len());
    (0..ch)
        .map(|c| {
            let src = &o[c.min(o.len().saturating_sub(1))];
            src.iter()
                .enumerate()
                .map(|(k, x)| {
                    let a = if fade > 0 {
                        (k.min(n - 1 - k) as f32 / fade as f32).min(1.0)
                    } else {
                        1.0
                    };
                    x * a
                })
                .collect()
        })
        .collect()
}

/// Measures the album as one programme: the songs in order, faded and separated by gaps as in
/// the continuous file (BS.1770 gating over the whole album, not an average of the songs).
struct AlbumMeter {
    analyzer: Option<Analyzer>,
    sample_rate: f64,
    gap: usize,
    fade: usize,
    songs: usize,
}

impl AlbumMeter {
    fn new(job: &AlbumJob, sample_rate: f64) -> Self {
        Self {
            analyzer: None,
            sample_rate,
            gap: (job.gap_s * sample_rate) as usize,
            fade: (job.fade_s * sample_rate) as usize,
            songs: 0,
        }
    }

    fn add(&mut self, song: &[Vec<f32>]) {
        // Every song is stereo here (the mastering graph's master is a stereo bus).
        let ch = song.len().max(1);
        let a = self
            .analyzer
            .get_or_insert_with(|| Analyzer::new(self.sample_rate, ch));
        if self.songs > 0 && self.gap > 0 {
            let gap = vec![vec![0.0f32; self.gap]; ch];
            let v: Vec<&[f32]> = gap.iter().map(|c| c.as_slice()).collect();
            a.process(&v);
        }
        let f = faded(song, ch, self.fade);
        let v: Vec<&[f32]> = f.iter().map(|c| c.as_slice()).collect();
        a.process(&v);
        self.songs += 1;
    }

    fn result(&self) -> Measurement {
        self.analyzer
            .as_ref()
            .map(Analyzer::result)
            .unwrap_or_default()
    }
}

fn measure(planar: &[Vec<f32>], sr: f64) -> Measurement {
    let mut a = Analyzer::new(sr, planar.len());
    let views: Vec<&[f32]> = planar.iter().map(|c| c.as_slice()).collect();
    a.process(&views);
    a.result()
}

/// Renders the album. Control thread.
/// With `report_dir`, also writes each song's report (JSON and pictures), the album's spectra
/// before and after matching, and `album.json`.
pub fn render_album(
    job: &AlbumJob,
    so: &ScriptOptions,
    evaluator: &Evaluator,
    policy: &WritePolicy,
    ro: &RenderOptions,
    report_dir: Option<&Path>,
) -> Result<AlbumReport, Errors> {
    if job.songs.is_empty() {
        return Err(err(job, "mix.album: no songs".into()));
    }
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = std::env::temp_dir().join(format!("mixdown-album-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let base = job.out_base.clone().unwrap_or_else(|| job.dir.clone());
    // Every destination is checked before any work is done.
    let mut dests = Vec::new();
    for song in &job.songs {
        let p = base.join(job.out.replace("%s", &song.name));
        dests.push(policy.prepare(&p).map_err(|e| {
            Errors::from(
                Error::new(e.kind, format!("mix.album out: {}", e.message)).at(job.span.as_ref()),
            )
        })?);
    }
    let continuous = match &job.continuous {
        Some(c) => Some(policy.prepare(&base.join(c)).map_err(|e| {
            Errors::from(
                Error::new(e.kind, format!("mix.album continuous: {}", e.message))
                    .at(job.span.as_ref()),
            )
        })?),
        None => None,
    };
    let result = run(
        job,
        so,
        evaluator,
        ro,
        &tmp,
        report_dir,
        &dests,
        continuous.as_deref(),
    );
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn spectrum_points(planar: &[Vec<f32>], sr: f64) -> Vec<crate::report::SpectrumPoint> {
    let mut w = crate::report::spectrum::WelchAnalyzer::new(sr, planar.len());
    let views: Vec<&[f32]> = planar.iter().map(|c| c.as_slice()).collect();
    w.process(&views);
    w.spectrum().log_points()
}

#[allow(clippy::too_many_arguments)]
fn run(
    job: &AlbumJob,
    so: &ScriptOptions,
    evaluator: &Evaluator,
    ro: &RenderOptions,
    tmp: &Path,
    report_dir: Option<&Path>,
    dests: &[PathBuf],
    continuous_dest: Option<&Path>,
) -> Result<AlbumReport, Errors> {
    let sr = job.sample_rate;
    let quiet = RenderOptions {
        progress: false,
        measure: false,
        ..ro.clone()
    };
    // 1. Premasters.
    let mut files = Vec::new();
    let mut inputs = Vec::new();
    for song in &job.songs {
        inputs.push(song.path.clone());
        if song.path.extension().is_some_and(|e| e == "lua") {
            let ev = evaluator.run(&Job::File(song.path.clone()), so, None)?;
            inputs.extend(ev.watched.iter().cloned());
            let (s, _) = prepare_schedule(&ev.spec, &quiet)?;
            let f = tmp.join(format!("{}.premaster.wav", song.name));
            render_to_file(s, &f, OutputFormat::Wav32f, &quiet)?;
            files.push(f);
        } else {
            files.push(song.path.clone());
        }
    }
    // 2. Analysis: each premaster's own loudness ("before"), then through the chain at 0 dB
    //    loudness gain (balance, and the level the gains start from).
    let mut before = Vec::new();
    let mut balances = Vec::new();
    let mut spectra_before = Vec::new();
    let mut chain_lufs = Vec::new();
    let mut album0 = AlbumMeter::new(job, sr);
    for f in &files {
        before.push(
            crate::measure::measure_file(f)
                .ok()
                .and_then(|m| m.integrated_lufs),
        );
        let spec = master(job, so, evaluator, f, &[], 0.0)?;
        let (s, _) = prepare_schedule(&spec, &quiet)?;
        let (out, _) = try_render_to_vec(s, &quiet)?;
        chain_lufs.push(measure(&out, sr).integrated_lufs);
        balances.push(balance(&band_levels(&out, sr)));
        album0.add(&out);
        if report_dir.is_some() {
            spectra_before.push(spectrum_points(&out, sr));
        }
    }
    // 3. Matching EQ.
    let aim: Option<Vec<f64>> = match &job.match_eq {
        MatchEq::Off => None,
        MatchEq::Album => Some(
            (0..BANDS_HZ.len())
                .map(|b| balances.iter().map(|x| x[b]).sum::<f64>() / balances.len() as f64)
                .collect(),
        ),
        MatchEq::Reference(p) => {
            let (info, planar) =
                crate::io::wav::read_all(p).map_err(|e| Errors::from(e.at(job.span.as_ref())))?;
            Some(balance(&band_levels(&planar, info.sample_rate as f64)))
        }
    };
    let eqs: Vec<Vec<f64>> = balances
        .iter()
        .map(|b| {
            aim.as_ref()
                .map_or_else(Vec::new, |a| matching_gains(b, a, sr))
        })
        .collect();
    // 4. Gains (measured again with the EQ in, when there is one).
    let mut levels = chain_lufs.clone();
    let mut album_level = album0.result().integrated_lufs;
    if eqs.iter().any(|e| !e.is_empty()) {
        let mut album_eq = AlbumMeter::new(job, sr);
        for (i, f) in files.iter().enumerate() {
            let spec = master(job, so, evaluator, f, &eqs[i], 0.0)?;
            let (s, _) = prepare_schedule(&spec, &quiet)?;
            let out = try_render_to_vec(s, &quiet)?.0;
            levels[i] = measure(&out, sr).integrated_lufs;
            album_eq.add(&out);
        }
        album_level = album_eq.result().integrated_lufs;
    }
    let mut gains: Vec<f64> = match job.mode {
        AlbumMode::Track => levels
            .iter()
            .map(|l| l.map_or(0.0, |l| job.target_lufs - l))
            .collect(),
        AlbumMode::Album => {
            let g = album_level.map_or(0.0, |a| job.target_lufs - a);
            vec![g; files.len()]
        }
    };
    // 5. Render, measure, correct for what the limiter took (up to three times).
    let mut outs: Vec<(Vec<Vec<f32>>, Measurement)> = Vec::new();
    let mut album = Measurement::default();
    for pass in 0..4 {
        outs.clear();
        let mut meter = AlbumMeter::new(job, sr);
        for (i, f) in files.iter().enumerate() {
            let spec = master(job, so, evaluator, f, &eqs[i], gains[i])?;
            let (s, _) = prepare_schedule(&spec, &quiet)?;
            let (o, _) = try_render_to_vec(s, &quiet)?;
            let m = measure(&o, sr);
            meter.add(&o);
            outs.push((o, m));
        }
        album = meter.result();
        let off: Vec<f64> = match job.mode {
            AlbumMode::Track => outs
                .iter()
                .map(|(_, m)| m.integrated_lufs.map_or(0.0, |l| job.target_lufs - l))
                .collect(),
            AlbumMode::Album => {
                let a = album.integrated_lufs.map_or(0.0, |a| job.target_lufs - a);
                vec![a; files.len()]
            }
        };
        if pass == 3 || off.iter().all(|o| o.abs() <= 0.05) {
            break;
        }
        for (g, o) in gains.iter_mut().zip(&off) {
            // Gains only rise as far as they help: a target out of reach (the ceiling's limiter
            // takes every extra dB) is reported below rather than chased.
            *g += o.clamp(-12.0, 12.0);
        }
    }
    // Targets not reached, said loudly.
    let mut missed = Vec::new();
    let why = format!(
        "the true-peak limiter at the {} dBTP ceiling takes what more gain would add; lower the target or raise the ceiling",
        job.ceiling_db
    );
    match job.mode {
        AlbumMode::Track => {
            for (song, (_, m)) in job.songs.iter().zip(&outs) {
                if let Some(l) = m
                    .integrated_lufs
                    .filter(|l| (l - job.target_lufs).abs() > 0.1)
                {
                    missed.push(format!(
                        "song \"{}\" reaches {l:.2} LUFS, not the {} LUFS target: {why}",
                        song.name, job.target_lufs
                    ));
                }
            }
        }
        AlbumMode::Album => {
            if let Some(l) = album
                .integrated_lufs
                .filter(|l| (l - job.target_lufs).abs() > 0.1)
            {
                missed.push(format!(
                    "the album reaches {l:.2} LUFS, not the {} LUFS target: {why}",
                    job.target_lufs
                ));
            }
        }
    }
    let delivery_album = Some((album.integrated_lufs, album.true_peak_dbtp));
    // Write songs.
    let mut reports = Vec::new();
    for (i, song) in job.songs.iter().enumerate() {
        let path = dests[i].clone();
        let (o, m) = &outs[i];
        let mut sink = AudioSink::create(&path, o.len(), sr as u32, job.format)?;
        let views: Vec<&[f32]> = o.iter().map(|c| c.as_slice()).collect();
        sink.write_planar(&views)?;
        sink.finish(Some(&Delivery {
            track: m.clone(),
            album: delivery_album,
        }))?;
        let after_bal = balance(&band_levels(o, sr));
        let aim_b = aim.clone().unwrap_or_else(|| balances[i].clone());
        reports.push(SongReport {
            name: song.name.clone(),
            path,
            before_lufs: before[i],
            after: m.clone(),
            gain_db: gains[i],
            eq_db: eqs[i].clone(),
            balance_distance_db: (distance(&balances[i], &aim_b), distance(&after_bal, &aim_b)),
        });
    }
    // The continuous file: exactly the stream the album figure was measured on.
    let continuous = match continuous_dest {
        None => None,
        Some(p) => {
            let path = p.to_path_buf();
            let ch = outs.iter().map(|(o, _)| o.len()).max().unwrap_or(2);
            let mut sink = AudioSink::create(&path, ch, sr as u32, job.format)?;
            let gap = vec![vec![0.0f32; (job.gap_s * sr) as usize]; ch];
            for (i, (o, _)) in outs.iter().enumerate() {
                if i > 0 && !gap[0].is_empty() {
                    let v: Vec<&[f32]> = gap.iter().map(|c| c.as_slice()).collect();
                    sink.write_planar(&v)?;
                }
                let faded = faded(o, ch, (job.fade_s * sr) as usize);
                let v: Vec<&[f32]> = faded.iter().map(|c| c.as_slice()).collect();
                sink.write_planar(&v)?;
            }
            sink.finish(Some(&Delivery {
                track: album.clone(),
                album: delivery_album,
            }))?;
            Some(path)
        }
    };
    let report = AlbumReport {
        songs: reports,
        album_lufs: album.integrated_lufs,
        album_true_peak_dbtp: album.true_peak_dbtp,
        continuous,
        missed,
        inputs,
    };
    if let Some(dir) = report_dir {
        let target = (job.mode == AlbumMode::Track).then_some(job.target_lufs);
        let mut after = Vec::new();
        for (i, (o, _)) in outs.iter().enumerate() {
            let mut c =
                crate::report::ReportCollector::new(sr, o.len()).with_ceiling_dbtp(job.ceiling_db);
            let views: Vec<&[f32]> = o.iter().map(|x| x.as_slice()).collect();
            c.process(&views);
            let mut r = c.report(&job.songs[i].name);
            r.notes = vec![format!(
                "gain {:+.2} dB; matching EQ {:?} dB",
                report.songs[i].gain_db, report.songs[i].eq_db
            )];
            r.write_dir(dir, &job.songs[i].name, target)?;
            after.push(r.spectrum_points);
        }
        let rows: Vec<(
            &str,
            &[crate::report::SpectrumPoint],
            &[crate::report::SpectrumPoint],
        )> = job
            .songs
            .iter()
            .zip(spectra_before.iter().zip(&after))
            .map(|(s, (b, a))| (s.name.as_str(), b.as_slice(), a.as_slice()))
            .collect();
        crate::report::album_spectrum(dir, "album", &rows)?;
        let json = dir.join("album.json");
        std::fs::write(&json, report.to_json()).map_err(|e| Error::io(&json, e))?;
    }
    Ok(report)
}
