//! Render reports: the figures a user reads after a render (loudness over time, overs, clips,
//! spectrum) and the files `--report DIR` writes (JSON, PNG and SVG pictures).

use std::f64::consts::PI;
use std::path::Path;

use mixdown::measure::Analyzer;
use mixdown::report::{album_spectrum, Report, ReportCollector, ALBUM_PICTURE_SIZE, PICTURE_SIZE};

const FS: f64 = 48000.0;

/// Deterministic white noise in [−1, 1).
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn sine(freq: f64, amp: f64, secs: f64, phase: f64) -> Vec<f32> {
    (0..(secs * FS).round() as usize)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / FS + phase).sin()) as f32)
        .collect()
}

fn db_to_amp(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Feeds `ch` channels in blocks of `block` frames.
fn collect(planar: &[Vec<f32>], block: usize) -> ReportCollector {
    let mut c = ReportCollector::new(FS, planar.len());
    let n = planar[0].len();
    let mut i = 0;
    while i < n {
        let e = (i + block).min(n);
        let views: Vec<&[f32]> = planar.iter().map(|p| &p[i..e]).collect();
        c.process(&views);
        i = e;
    }
    c
}

/// Noise in level steps (−30, −18, −24, −12 dBFS RMS-ish), stereo, 24 s.
fn stepped_noise() -> Vec<Vec<f32>> {
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let mut l = Vec::new();
    let mut r = Vec::new();
    for level in [-30.0, -18.0, -24.0, -12.0] {
        let a = db_to_amp(level) * 3f64.sqrt(); // uniform noise: RMS = a/√3
        for _ in 0..(6.0 * FS) as usize {
            l.push((a * noise.next()) as f32);
            r.push((a * noise.next()) as f32);
        }
    }
    vec![l, r]
}

#[test]
fn collector_figures_equal_the_analyzers_exactly() {
    let audio = stepped_noise();
    let report = collect(&audio, 1000).report("steps");
    let mut a = Analyzer::new(FS, 2);
    for (l, r) in audio[0].chunks(4096).zip(audio[1].chunks(4096)) {
        a.process(&[l, r]);
    }
    let m = a.result();
    println!(
        "integrated {:?} vs {:?}, LRA {:?}, TP {:?}",
        report.integrated_lufs, m.integrated_lufs, report.loudness_range_lu, report.true_peak_dbtp
    );
    assert!(m.integrated_lufs.is_some());
    assert_eq!(report.integrated_lufs, m.integrated_lufs);
    assert_eq!(report.loudness_range_lu, m.loudness_range_lu);
    assert_eq!(report.momentary_max_lufs, m.momentary_max_lufs);
    assert_eq!(report.short_term_max_lufs, m.short_term_max_lufs);
    assert_eq!(report.true_peak_dbtp, m.true_peak_dbtp);
    assert_eq!(report.sample_peak_dbfs, m.sample_peak_dbfs);
    // Steps of 6 to 18 dB give a loudness range a user would recognise.
    let lra = report.loudness_range_lu.unwrap();
    assert!(lra > 10.0 && lra < 20.0, "LRA {lra}");
}

#[test]
fn series_has_one_point_per_100_ms_and_tracks_a_level_step() {
    // Stereo 997 Hz tone: −30 dBFS for 10 s, then −20 dBFS for 10 s (reads −30 / −20 LUFS).
    let mut x = sine(997.0, db_to_amp(-30.0), 10.0, 0.0);
    let second = sine(997.0, db_to_amp(-20.0), 10.0, 0.0);
    x.extend(second);
    let audio = vec![x.clone(), x];
    let r = collect(&audio, 333).report("step");
    let s = &r.loudness_series;
    assert_eq!(s.len(), 200, "one point per 100 ms of 20 s");
    for (k, p) in s.iter().enumerate() {
        assert!((p.t_s - 0.1 * (k + 1) as f64).abs() < 1e-9);
        assert_eq!(
            p.momentary_lufs.is_some(),
            p.t_s >= 0.4 - 1e-9,
            "M at {}",
            p.t_s
        );
        assert_eq!(
            p.short_term_lufs.is_some(),
            p.t_s >= 3.0 - 1e-9,
            "S at {}",
            p.t_s
        );
    }
    let mut worst: f64 = 0.0;
    for p in s {
        let t = p.t_s + 1e-9;
        let m_expect = if (0.4..=10.0).contains(&t) {
            Some(-30.0)
        } else if t >= 10.4 {
            Some(-20.0)
        } else {
            None
        };
        let s_expect = if (3.0..=10.0).contains(&t) {
            Some(-30.0)
        } else if t >= 13.0 {
            Some(-20.0)
        } else {
            None
        };
        for (v, e) in [(p.momentary_lufs, m_expect), (p.short_term_lufs, s_expect)] {
            if let (Some(v), Some(e)) = (v, e) {
                worst = worst.max((v - e).abs());
                assert!(
                    (v - e).abs() < 0.2,
                    "at {t:.1} s: {v:.3} LUFS, expected {e}"
                );
            }
        }
    }
    println!("worst deviation from the step {worst:.4} LU");
    // Between the step and a full window the short-term value rises monotonically.
    let mid: Vec<f64> = s
        .iter()
        .filter(|p| p.t_s > 10.05 && p.t_s < 12.95)
        .map(|p| p.short_term_lufs.unwrap())
        .collect();
    assert!(mid.windows(2).all(|w| w[1] > w[0]));
}

#[test]
fn overs_are_found_where_the_hot_segment_sits_and_nowhere_else() {
    // −6 dBFS tone, then 1 s of fs/4 at 45° (samples ±1.0, true peak +3 dBTP), then −6 again.
    let mut x = sine(1000.0, 0.5, 2.0, 0.0);
    x.extend(sine(FS / 4.0, 1.4141, 1.0, PI / 4.0));
    x.extend(sine(1000.0, 0.5, 2.0, 0.0));
    let audio = vec![x.clone(), x];
    let r = collect(&audio, 512).report("overs");
    println!("overs {:?}", r.overs);
    assert_eq!(r.overs.len(), 1, "{:?}", r.overs);
    let o = r.overs[0];
    assert!((o.start_s - 2.0).abs() <= 0.0101, "starts at {}", o.start_s);
    assert!(o.end_s >= 2.99 && o.end_s <= 3.0201, "ends at {}", o.end_s);
    assert!((o.peak_dbtp - 3.0).abs() < 0.3, "peak {}", o.peak_dbtp);
    assert!((r.true_peak_dbtp.unwrap() - o.peak_dbtp).abs() < 1e-9);
    // The sample peak does not show it: the samples stay just under full scale.
    assert!(r.sample_peak_dbfs.unwrap() < 0.01);
    assert_eq!(r.clip_count, 0);

    // A stricter ceiling finds the −6 dBFS parts too; a looser one finds nothing.
    let strict = {
        let mut c = ReportCollector::new(FS, 2).with_ceiling_dbtp(-7.0);
        c.process(&[&audio[0], &audio[1]]);
        c.report("s")
    };
    assert_eq!(
        strict.overs.len(),
        1,
        "one merged range over the whole programme"
    );
    assert!(strict.overs[0].start_s < 0.011 && strict.overs[0].end_s > 4.99);
    let loose = {
        let mut c = ReportCollector::new(FS, 2).with_ceiling_dbtp(3.5);
        c.process(&[&audio[0], &audio[1]]);
        c.report("l")
    };
    assert!(loose.overs.is_empty());
}

#[test]
fn clipped_square_is_counted_and_nan_is_counted_not_measured() {
    // 1 s of a 100 Hz square driven to ±1.5 and clipped to ±1.0 (every sample at full scale),
    // then 1 s of a quiet tone.
    let sq: Vec<f32> = (0..48000)
        .map(|i| {
            let v = if (i / 240) % 2 == 0 { 1.5f32 } else { -1.5 };
            v.clamp(-1.0, 1.0)
        })
        .collect();
    let mut x = sq.clone();
    x.extend(sine(440.0, 0.1, 1.0, 0.0));
    let mut c = ReportCollector::new(FS, 2);
    c.process(&[&x, &x]);
    let mut bad = vec![0.0f32; 4800];
    bad[10] = f32::NAN;
    bad[20] = f32::INFINITY;
    c.process(&[&bad, &vec![0.0; 4800]]);
    let r = c.report("square");
    assert_eq!(
        r.clip_count,
        2 * 48000,
        "every sample of the square, both channels"
    );
    assert_eq!(r.nan_count, 2);
    assert!(r.integrated_lufs.unwrap().is_finite());
    assert_eq!(r.sample_peak_dbfs, Some(0.0));
    assert!((r.duration_s - 2.1).abs() < 1e-9);
}

#[test]
fn spectrum_of_a_1_khz_sine_peaks_at_1_khz() {
    let x = sine(1000.0, 0.5, 5.0, 0.3);
    let r = collect(&[x], 1024).report("1k");
    let bin = r.spectrum.bin_hz;
    let peak = r.spectrum.peak_bin().unwrap();
    let expected = 1000.0 / bin;
    println!(
        "peak bin {peak} ({:.1} Hz), expected {expected:.2}",
        peak as f64 * bin
    );
    assert!((peak as f64 - expected).abs() <= 1.0);
    // On the log axis the loudest point is 1 kHz; on the FFT grid the peak bin reads about
    // −6 dB (amplitude 0.5; Hann scalloping loses at most 1.5 dB between bins).
    let top = r
        .spectrum_points
        .iter()
        .max_by(|a, b| a.db.total_cmp(&b.db))
        .unwrap();
    println!("log-axis peak {:.1} Hz at {:.2} dB", top.hz, top.db);
    assert!(
        (top.hz - 1000.0).abs() < 1e-6,
        "the axis has a point at 1 kHz and it is the peak"
    );
    let raw_db = 10.0 * r.spectrum.power[peak].log10();
    assert!(raw_db > -7.6 && raw_db < -5.9, "{raw_db}");
    // 2 octaves away the spectrum is far down.
    let far = r.spectrum_points.iter().find(|p| p.hz >= 4000.0).unwrap();
    assert!(far.db < top.db - 60.0, "{} vs {}", far.db, top.db);
}

/// Slope of dB against octaves between 100 Hz and 10 kHz.
fn slope_db_per_octave(r: &Report) -> f64 {
    let pts: Vec<(f64, f64)> = r
        .spectrum_points
        .iter()
        .filter(|p| p.hz >= 100.0 && p.hz <= 10_000.0)
        .map(|p| (p.hz.log2(), p.db))
        .collect();
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let cov: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let var: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    cov / var
}

#[test]
fn pink_noise_slopes_about_minus_3_db_per_octave_and_white_is_flat() {
    let mut noise = Noise(12345);
    let mut b = [0f64; 7];
    let (mut pink, mut white) = (Vec::new(), Vec::new());
    for _ in 0..(30.0 * FS) as usize {
        let w = noise.next();
        // Paul Kellet's refined pink filter.
        b[0] = 0.99886 * b[0] + w * 0.0555179;
        b[1] = 0.99332 * b[1] + w * 0.0750759;
        b[2] = 0.96900 * b[2] + w * 0.1538520;
        b[3] = 0.86650 * b[3] + w * 0.3104856;
        b[4] = 0.55000 * b[4] + w * 0.5329522;
        b[5] = -0.7616 * b[5] - w * 0.0168980;
        let p = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
        b[6] = w * 0.115926;
        pink.push((p * 0.1) as f32);
        white.push((w * 0.3) as f32);
    }
    let sp = slope_db_per_octave(&collect(&[pink], 4800).report("pink"));
    let sw = slope_db_per_octave(&collect(&[white], 4800).report("white"));
    println!("pink {sp:.3} dB/oct, white {sw:.3} dB/oct");
    assert!((sp + 3.0).abs() < 0.3, "pink slope {sp}");
    assert!(sw.abs() < 0.3, "white slope {sw}");
}

#[test]
fn waveform_overview_covers_the_programme_in_at_most_2000_columns() {
    // 100 s of a −6 dBFS tone with a 1 s burst at full scale in the middle.
    let mut x = sine(220.0, 0.5, 50.0, 0.0);
    x.extend(sine(220.0, 1.0, 1.0, 0.0));
    x.extend(sine(220.0, 0.5, 49.0, 0.0));
    let r = collect(&[x], 1000).report("wave");
    let w = &r.waveform;
    println!("{} columns of {:.4} s", w.len(), w[0].end_s - w[0].start_s);
    assert!(w.len() <= 2000 && w.len() >= 1000, "{} columns", w.len());
    assert_eq!(w[0].start_s, 0.0);
    assert!((w.last().unwrap().end_s - 100.0).abs() < 1e-9);
    assert!(w.windows(2).all(|p| p[1].start_s == p[0].end_s));
    for c in w {
        let loud = c.end_s > 50.0 && c.start_s < 51.0;
        let expect = if loud { 1.0 } else { 0.5 };
        // A 220 Hz cycle fits in every column, so each reaches (almost) the full amplitude.
        assert!(
            (c.max - expect).abs() < 0.01 && (c.min + expect).abs() < 0.01,
            "{c:?}"
        );
    }
}

/// Reads a PNG's size and pixels (RGB or RGBA, 8 bit).
fn read_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).unwrap();
    let mut dec = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; dec.output_buffer_size()];
    let info = dec.next_frame(&mut buf).unwrap();
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("{other:?}"),
    };
    let px = buf[..info.buffer_size()]
        .chunks(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, px)
}

/// A programme with everything: level steps, a +3 dBTP stretch at 4–5 s.
fn busy_report() -> Report {
    let mut x = sine(500.0, 0.2, 4.0, 0.0);
    x.extend(sine(FS / 4.0, 1.4141, 1.0, PI / 4.0));
    x.extend(sine(500.0, 0.05, 5.0, 0.0));
    let mut c = collect(&[x.clone(), x], 2048);
    c.add_gain_reduction(3.0, 48000);
    c.add_gain_reduction(1.0, 3 * 48000);
    let mut r = c.report("busy \"song\"");
    r.notes
        .push("master/loudness: -16.7 LUFS in, gain +2.77 dB".to_string());
    r.nan_report.push(("vox/eq".to_string(), 12));
    r
}

fn count_px(px: &[[u8; 3]], pred: impl Fn(&[u8; 3]) -> bool) -> usize {
    px.iter().filter(|p| pred(p)).count()
}

#[test]
fn write_dir_creates_every_picture_at_the_documented_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = match std::env::var_os("MIXDOWN_REPORT_KEEP") {
        Some(d) => std::path::PathBuf::from(d),
        None => dir.path().join("reports/new"),
    };
    let r = busy_report();
    let written = r.write_dir(&out, "busy", Some(-14.0)).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected = [
        "busy.json",
        "busy-loudness.png",
        "busy-loudness.svg",
        "busy-waveform.png",
        "busy-waveform.svg",
        "busy-spectrum.png",
        "busy-spectrum.svg",
    ];
    assert_eq!(names, expected);
    for name in expected {
        let p = out.join(name);
        assert!(
            std::fs::metadata(&p).unwrap().len() > 100,
            "{name} is empty"
        );
        if name.ends_with(".png") {
            let (w, h, px) = read_png(&p);
            assert_eq!((w, h), PICTURE_SIZE, "{name}");
            // Drawn, not blank: text and lines in many colours.
            let dark = count_px(&px, |c| c.iter().all(|&v| v < 80));
            assert!(
                dark > 2000,
                "{name}: only {dark} dark pixels (axes, labels)"
            );
        } else if name.ends_with(".svg") {
            let s = std::fs::read_to_string(&p).unwrap();
            let t = s.trim_start();
            assert!(t.starts_with("<svg") || t.starts_with("<?xml"), "{name}");
            assert!(s.contains("<svg"), "{name}");
            assert!(
                s.contains("width=\"1200\"") && s.contains("height=\"400\""),
                "{name}"
            );
            assert!(s.contains("<polyline") || s.contains("<path"), "{name}");
            assert!(s.contains("<text"), "{name}: labels");
            assert!(s.trim_end().ends_with("</svg>"), "{name}");
        }
    }
    // The target line (red) is on the loudness picture, and the over is marked red on the
    // waveform: the waveform inside it (1 s of 10 s, ~110 px × ~300 px) and a band behind it.
    let red = |c: &[u8; 3]| c[0] > 180 && c[1] < 80 && c[2] < 80;
    let pink = |c: &[u8; 3]| c[0] > 230 && (150..215).contains(&c[1]) && (150..215).contains(&c[2]);
    let (_, _, px) = read_png(&out.join("busy-loudness.png"));
    let target = count_px(&px, red);
    let (_, _, px) = read_png(&out.join("busy-waveform.png"));
    let (over_red, over_band) = (count_px(&px, red), count_px(&px, pink));
    println!("target line {target} px; over: {over_red} red px, {over_band} px of band");
    assert!(target > 300, "target line: {target} red pixels");
    assert!(over_red > 20_000, "over: {over_red} red pixels");
    assert!(over_band > 500, "over band: {over_band} pixels");

    // Without a target there is no red line; without overs nothing is red on the waveform.
    let calm = collect(&[sine(500.0, 0.2, 6.0, 0.0)], 4096).report("calm");
    calm.write_dir(&out, "calm", None).unwrap();
    let (_, _, px) = read_png(&out.join("calm-loudness.png"));
    assert_eq!(count_px(&px, red), 0);
    let (_, _, px) = read_png(&out.join("calm-waveform.png"));
    assert_eq!(count_px(&px, red) + count_px(&px, pink), 0);
}

#[test]
fn album_spectrum_overlays_every_song_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let a = collect(&[sine(200.0, 0.3, 3.0, 0.0)], 4096).report("a");
    let b = collect(&[sine(3000.0, 0.3, 3.0, 0.0)], 4096).report("b");
    let c = collect(&[sine(800.0, 0.1, 3.0, 0.0)], 4096).report("c");
    let songs = [
        ("a", &a.spectrum_points[..], &b.spectrum_points[..]),
        ("b", &b.spectrum_points[..], &c.spectrum_points[..]),
        ("c", &c.spectrum_points[..], &a.spectrum_points[..]),
    ];
    let dir = match std::env::var_os("MIXDOWN_REPORT_KEEP") {
        Some(d) => std::path::PathBuf::from(d),
        None => dir.path().to_path_buf(),
    };
    let dir = &dir;
    let written = album_spectrum(dir, "album", &songs).unwrap();
    assert_eq!(written.len(), 2);
    let (w, h, px) = read_png(&dir.join("album-spectra.png"));
    assert_eq!((w, h), ALBUM_PICTURE_SIZE);
    // Three song colours (the first three of the palette) appear.
    for rgb in [[31, 119, 180], [255, 127, 14], [44, 160, 44]] {
        assert!(count_px(&px, |p| *p == rgb) > 100, "colour {rgb:?}");
    }
    let svg = std::fs::read_to_string(dir.join("album-spectra.svg")).unwrap();
    assert!(svg.contains("width=\"1200\"") && svg.contains("height=\"800\""));
    let lines = svg.matches("<polyline").count();
    assert!(lines >= 6, "{lines} polylines for 3 songs × 2 panels");
    for name in ["a", "b", "c"] {
        assert!(svg.lines().any(|l| l.trim() == name), "legend entry {name}");
    }
}

#[test]
fn an_empty_or_silent_programme_still_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = ReportCollector::new(FS, 2).report("empty");
    assert!(empty.loudness_series.is_empty() && empty.waveform.is_empty());
    assert_eq!(
        empty
            .write_dir(dir.path(), "empty", Some(-14.0))
            .unwrap()
            .len(),
        7
    );
    let silent = collect(&[vec![0.0; 96000], vec![0.0; 96000]], 4096).report("silent");
    assert_eq!(
        silent.write_dir(dir.path(), "silent", None).unwrap().len(),
        7
    );
    let (w, h, _) = read_png(&dir.path().join("silent-spectrum.png"));
    assert_eq!((w, h), PICTURE_SIZE);
}

#[test]
fn write_dir_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let r = collect(&[sine(500.0, 0.2, 1.0, 0.0)], 4096).report("x");
    let e = r.write_dir(&file.join("sub"), "x", None).unwrap_err();
    println!("{e}");
    assert!(e.to_string().contains("not-a-dir"), "{e}");
}

// ---- a small JSON reader, enough to check the report's syntax and values ----

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(kv) => {
                &kv.iter()
                    .find(|(k, _)| k == key)
                    .unwrap_or_else(|| panic!("no key {key}"))
                    .1
            }
            _ => panic!("not an object"),
        }
    }
    fn num(&self) -> Option<f64> {
        match self {
            Json::Num(x) => Some(*x),
            Json::Null => None,
            other => panic!("not a number: {other:?}"),
        }
    }
    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }
}

struct P<'a>(&'a [u8], usize);
impl P<'_> {
    fn ws(&mut self) {
        while self.1 < self.0.len() && self.0[self.1].is_ascii_whitespace() {
            self.1 += 1;
        }
    }
    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(self.0[self.1] as char, c as char, "at byte {}", self.1);
        self.1 += 1;
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.0[self.1] {
            b'{' => {
                self.1 += 1;
                let mut kv = Vec::new();
                self.ws();
                if self.0[self.1] == b'}' {
                    self.1 += 1;
                    return Json::Obj(kv);
                }
                loop {
                    self.ws();
                    let Json::Str(k) = self.value() else {
                        panic!("key")
                    };
                    self.eat(b':');
                    kv.push((k, self.value()));
                    self.ws();
                    self.1 += 1;
                    if self.0[self.1 - 1] == b'}' {
                        return Json::Obj(kv);
                    }
                    assert_eq!(self.0[self.1 - 1], b',');
                }
            }
            b'[' => {
                self.1 += 1;
                let mut a = Vec::new();
                self.ws();
                if self.0[self.1] == b']' {
                    self.1 += 1;
                    return Json::Arr(a);
                }
                loop {
                    a.push(self.value());
                    self.ws();
                    self.1 += 1;
                    if self.0[self.1 - 1] == b']' {
                        return Json::Arr(a);
                    }
                    assert_eq!(self.0[self.1 - 1], b',');
                }
            }
            b'"' => {
                self.1 += 1;
                let mut s = String::new();
                loop {
                    let c = self.0[self.1];
                    self.1 += 1;
                    match c {
                        b'"' => return Json::Str(s),
                        b'\\' => {
                            let e = self.0[self.1];
                            self.1 += 1;
                            s.push(match e {
                                b'n' => '\n',
                                b't' => '\t',
                                b'u' => {
                                    let h =
                                        std::str::from_utf8(&self.0[self.1..self.1 + 4]).unwrap();
                                    self.1 += 4;
                                    char::from_u32(u32::from_str_radix(h, 16).unwrap()).unwrap()
                                }
                                other => other as char,
                            });
                        }
                        c => s.push(c as char),
                    }
                }
            }
            b'n' => {
                assert_eq!(&self.0[self.1..self.1 + 4], b"null");
                self.1 += 4;
                Json::Null
            }
            b't' | b'f' => {
                let t = self.0[self.1] == b't';
                self.1 += if t { 4 } else { 5 };
                Json::Bool(t)
            }
            _ => {
                let start = self.1;
                while self.1 < self.0.len() && b"+-0123456789.eE".contains(&self.0[self.1]) {
                    self.1 += 1;
                }
                let t = std::str::from_utf8(&self.0[start..self.1]).unwrap();
                assert!(
                    !t.starts_with('+') && !t.ends_with('.'),
                    "bad JSON number {t}"
                );
                Json::Num(t.parse().unwrap_or_else(|_| panic!("bad number {t:?}")))
            }
        }
    }
}

fn parse_json(s: &str) -> Json {
    let mut p = P(s.as_bytes(), 0);
    let v = p.value();
    p.ws();
    assert_eq!(p.1, s.len(), "trailing text");
    v
}

const KEYS: [&str; 23] = [
    "song",
    "sample_rate",
    "channels",
    "duration_s",
    "integrated_lufs",
    "loudness_range_lu",
    "momentary_max_lufs",
    "short_term_max_lufs",
    "true_peak_dbtp",
    "sample_peak_dbfs",
    "delivery",
    "clip_count",
    "nan_count",
    "nan_report",
    "target_lufs",
    "limiter_gain_reduction_max_db",
    "limiter_gain_reduction_avg_db",
    "notes",
    "overs_ceiling_dbtp",
    "overs",
    "loudness_series",
    "waveform",
    "spectrum",
];

#[test]
fn json_has_every_documented_key_and_valid_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let r = busy_report();
    r.write_dir(dir.path(), "busy", Some(-14.0)).unwrap();
    let text = std::fs::read_to_string(dir.path().join("busy.json")).unwrap();
    let j = parse_json(&text);
    let Json::Obj(kv) = &j else { panic!() };
    let keys: Vec<&str> = kv.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, KEYS);
    assert_eq!(j.get("song"), &Json::Str("busy \"song\"".into()));
    assert_eq!(j.get("target_lufs").num(), Some(-14.0));
    assert_eq!(j.get("sample_rate").num(), Some(48000.0));
    assert_eq!(j.get("duration_s").num(), Some(10.0));
    let i = j.get("integrated_lufs").num().unwrap();
    assert!((i - r.integrated_lufs.unwrap()).abs() <= 0.005);
    assert!((j.get("true_peak_dbtp").num().unwrap() - 3.0).abs() < 0.3);
    assert_eq!(j.get("limiter_gain_reduction_max_db").num(), Some(3.0));
    assert_eq!(j.get("limiter_gain_reduction_avg_db").num(), Some(1.5));
    assert_eq!(
        j.get("notes").arr(),
        &[Json::Str(
            "master/loudness: -16.7 LUFS in, gain +2.77 dB".into()
        )]
    );
    assert_eq!(
        j.get("nan_report").arr()[0].get("samples").num(),
        Some(12.0)
    );
    let overs = j.get("overs").arr();
    assert_eq!(overs.len(), 1);
    assert!((overs[0].get("start_s").num().unwrap() - 4.0).abs() < 0.011);
    let series = j.get("loudness_series");
    assert_eq!(series.get("step_s").num(), Some(0.1));
    let t = series.get("t_s").arr();
    let m = series.get("momentary_lufs").arr();
    let s = series.get("short_term_lufs").arr();
    assert_eq!((t.len(), m.len(), s.len()), (100, 100, 100));
    assert_eq!(m[0], Json::Null, "M undefined before 400 ms");
    assert!(m[10].num().unwrap().is_finite());
    let w = j.get("waveform");
    let n = w.get("min").arr().len();
    assert!(n > 0 && n <= 2000 && w.get("max").arr().len() == n);
    assert_eq!(w.get("start_s").arr().len(), n);
    assert!(w
        .get("max")
        .arr()
        .iter()
        .all(|v| v.num().unwrap().abs() <= 1.5));
    let sp = j.get("spectrum");
    assert_eq!(sp.get("window").num(), Some(4096.0));
    let hz = sp.get("hz").arr();
    assert!(hz.len() > 200 && sp.get("db").arr().len() == hz.len());
    assert!(hz.windows(2).all(|p| p[1].num() > p[0].num()));

    // Silence: the undefined figures are null, and the JSON still parses.
    let silent = collect(&[vec![0.0; 48000]], 4096).report("silence");
    let j = parse_json(&silent.to_json());
    for k in [
        "integrated_lufs",
        "loudness_range_lu",
        "true_peak_dbtp",
        "sample_peak_dbfs",
        "target_lufs",
        "limiter_gain_reduction_max_db",
    ] {
        assert_eq!(j.get(k), &Json::Null, "{k}");
    }
    assert!(j
        .get("loudness_series")
        .get("momentary_lufs")
        .arr()
        .iter()
        .all(|v| *v == Json::Null));
}

#[test]
fn summary_shows_loudness_peaks_limiter_overs_clips_and_notes() {
    let text = busy_report().to_text();
    println!("{text}");
    for needle in [
        "integrated",
        "loudness range",
        "true peak      3.",
        "sample peak    0.0 dBFS",
        "limiter GR     max 3.0 dB, average 1.5 dB",
        "overs          1 above -1.0 dBTP",
        "clipped        0 samples",
        "NaN/Inf        12 samples",
        "vox/eq: 12",
        "master/loudness: -16.7 LUFS in, gain +2.77 dB",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}
