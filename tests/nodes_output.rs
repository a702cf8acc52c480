//! What leaves the engine: integer WAV renders are TPDF-dithered and reproducible, and
//! `mixdown measure --json` reports the documented keys with EBU Tech 3341 accuracy.

mod harness;

use std::path::Path;
use std::process::Command;

use harness::*;
use mixdown::io::wav::OutputFormat;
use mixdown::render::{prepare_schedule, render_to_file, RenderOptions};

/// Renders the script `src` in `dir` to `name` in `format`.
fn render_file(dir: &Dir, src: &str, name: &str, format: OutputFormat) -> std::path::PathBuf {
    let ev = dir.eval(src).unwrap_or_else(|e| panic!("{e}"));
    let opts = RenderOptions::default();
    let (s, _) = prepare_schedule(&ev.spec, &opts).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join(name);
    render_to_file(s, &path, format, &opts).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// Error statistics of an integer render against the float render, in LSB.
struct DitherStats {
    rms: f64,
    max: f64,
    mean: f64,
    /// Amplitude of the signal's frequency in the error.
    tone: f64,
    /// Correlation of the error with the signal.
    corr: f64,
    /// Share of samples that differ from plain rounding.
    not_rounded: f64,
}

fn dither_stats(int: &[f32], float: &[f32], lsb: f64, hz: f64) -> DitherStats {
    assert_eq!(int.len(), float.len(), "the renders differ in length");
    let e: Vec<f32> = int
        .iter()
        .zip(float)
        .map(|(a, b)| ((*a as f64 - *b as f64) / lsb) as f32)
        .collect();
    let n = e.len() as f64;
    let mean = e.iter().map(|v| *v as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in float.iter().zip(&e) {
        sxy += *x as f64 / lsb * *y as f64;
        sxx += (*x as f64 / lsb).powi(2);
    }
    let corr = sxy / (sxx.sqrt() * (e.iter().map(|v| (*v as f64).powi(2)).sum::<f64>()).sqrt());
    let not_rounded = int
        .iter()
        .zip(float)
        .filter(|(a, b)| ((**a as f64) / lsb - (**b as f64 / lsb).round()).abs() > 0.5)
        .count() as f64
        / n;
    DitherStats {
        rms: rms(&e),
        max: peak(&e),
        mean,
        tone: tone_amp(&e, hz, SR as f64),
        corr,
        not_rounded,
    }
}

#[test]
fn integer_renders_are_tpdf_dithered_and_reproducible() {
    // A 1 kHz sine at -90 dBFS is about one 16-bit LSB: plain rounding would turn it into a
    // three-level wave whose error follows the signal. TPDF dither (±1 LSB triangular) plus
    // rounding leaves an error that is independent noise of 0.5 LSB RMS (variance 1/6 + 1/12).
    let dir = Dir::new();
    let x = sine(frames(2.0), 1000.0, lin(-90.0), SR as f64);
    dir.stereo("quiet.wav", &x);
    let src = "mix.track(\"t\", \"quiet.wav\")";
    let f = render_file(&dir, src, "f.wav", OutputFormat::Wav32f);
    let (_, float) = read_wav(&f);
    for (format, bits) in [(OutputFormat::Wav16, 16), (OutputFormat::Wav24, 24)] {
        let a = render_file(&dir, src, "a.wav", format);
        let b = render_file(&dir, src, "b.wav", format);
        let (spec, int) = read_wav(&a);
        assert_eq!(spec.bits_per_sample, bits);
        let bytes = std::fs::read(&a).unwrap();
        assert!(
            bytes == std::fs::read(&b).unwrap(),
            "two {bits}-bit renders differ"
        );
        let lsb = 1.0 / (1u64 << (bits - 1)) as f64;
        for c in 0..2 {
            let s = dither_stats(&int[c], &float[c], lsb, 1000.0);
            eprintln!(
                "{bits}-bit ch {c}: error rms {:.3} LSB, max {:.2}, mean {:+.4}, 1 kHz {:.4}, corr {:+.4}, {:.0} % not plain rounding",
                s.rms,
                s.max,
                s.mean,
                s.tone,
                s.corr,
                100.0 * s.not_rounded
            );
            assert!(
                (s.rms - 0.5).abs() < 0.03,
                "{bits}-bit: error rms {:.3} LSB",
                s.rms
            );
            assert!(
                s.max <= 1.5 + 1e-3,
                "{bits}-bit: error peak {:.3} LSB",
                s.max
            );
            assert!(s.mean.abs() < 0.01, "{bits}-bit: error mean {:.4}", s.mean);
            assert!(
                s.tone < 0.02,
                "{bits}-bit: the error carries the signal ({:.4} LSB at 1 kHz)",
                s.tone
            );
            assert!(
                s.corr.abs() < 0.02,
                "{bits}-bit: error correlates with the signal ({:.4})",
                s.corr
            );
            assert!(
                s.not_rounded > 0.15,
                "{bits}-bit: looks like plain rounding"
            );
        }
        // Left and right get independent dither.
        assert_ne!(int[0], int[1]);
    }
}

/// A flat JSON object of strings, numbers and nulls, as (key, value-text) pairs.
fn parse_flat_json(line: &str) -> Vec<(String, String)> {
    let s = line.trim();
    assert!(s.starts_with('{') && s.ends_with('}'), "not an object: {s}");
    let body: Vec<char> = s[1..s.len() - 1].chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let string = |i: &mut usize| -> String {
        assert_eq!(body[*i], '"', "expected a string in {s}");
        *i += 1;
        let mut v = String::new();
        while body[*i] != '"' {
            if body[*i] == '\\' {
                *i += 1;
            }
            v.push(body[*i]);
            *i += 1;
        }
        *i += 1;
        v
    };
    while i < body.len() {
        let k = string(&mut i);
        assert_eq!(body[i], ':', "{s}");
        i += 1;
        let v = if body[i] == '"' {
            string(&mut i)
        } else {
            let start = i;
            while i < body.len() && body[i] != ',' {
                i += 1;
            }
            body[start..i].iter().collect()
        };
        out.push((k, v));
        if i < body.len() {
            assert_eq!(body[i], ',', "{s}");
            i += 1;
        }
    }
    out
}

fn measure_cli(files: &[&Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mixdown"))
        .arg("measure")
        .arg("--json")
        .args(files)
        .output()
        .expect("run mixdown")
}

const KEYS: [&str; 7] = [
    "path",
    "integrated_lufs",
    "loudness_range_lu",
    "momentary_max_lufs",
    "short_term_max_lufs",
    "true_peak_dbtp",
    "sample_peak_dbfs",
];

#[test]
fn measure_json_reads_ebu_case_1_and_silence() {
    let dir = Dir::new();
    // EBU Tech 3341 case 1: stereo 1 kHz at -23 dBFS for 20 s.
    let tone = dir.stereo(
        "case1.wav",
        &sine(frames(20.0), 1000.0, lin(-23.0), SR as f64),
    );
    let quiet = dir.stereo("silence.wav", &vec![0.0; frames(5.0)]);
    let out = measure_cli(&[&tone, &quiet]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one object per file:\n{stdout}");
    let objs: Vec<Vec<(String, String)>> = lines.iter().map(|l| parse_flat_json(l)).collect();
    for o in &objs {
        let keys: Vec<&str> = o.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, KEYS, "keys of {o:?}");
    }
    let get = |o: &Vec<(String, String)>, k: &str| -> String {
        o.iter().find(|(kk, _)| kk == k).unwrap().1.clone()
    };
    let num = |o: &Vec<(String, String)>, k: &str| -> f64 {
        get(o, k)
            .parse()
            .unwrap_or_else(|_| panic!("{k} is not a number in {o:?}"))
    };
    let case1 = &objs[0];
    eprintln!("case 1: {}", lines[0]);
    assert_eq!(get(case1, "path"), tone.display().to_string());
    for k in [
        "integrated_lufs",
        "momentary_max_lufs",
        "short_term_max_lufs",
    ] {
        let v = num(case1, k);
        assert!(
            (v + 23.0).abs() <= 0.1,
            "{k} = {v}, EBU 3341 case 1 wants -23.0 ±0.1"
        );
    }
    assert!(num(case1, "loudness_range_lu").abs() <= 1.0);
    let tp = num(case1, "true_peak_dbtp");
    assert!((-23.4..=-22.8).contains(&tp), "true peak {tp}");
    assert!((num(case1, "sample_peak_dbfs") + 23.0).abs() <= 0.01);
    let silence = &objs[1];
    eprintln!("silence: {}", lines[1]);
    assert_eq!(get(silence, "integrated_lufs"), "null");
    assert_eq!(get(silence, "path"), quiet.display().to_string());
}

#[test]
fn measure_a_missing_file_fails_naming_it() {
    let dir = Dir::new();
    let missing = dir.path().join("no such take.wav");
    let out = measure_cli(&[&missing]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(!out.status.success(), "exit status 0 for a missing file");
    assert!(
        stderr.contains(&missing.display().to_string()),
        "the message does not name the file: {stderr}"
    );
    // With a good file next to it, the good one is still measured.
    let good = dir.stereo("ok.wav", &sine(frames(1.0), 1000.0, 0.1, SR as f64));
    let out = measure_cli(&[&good, &missing]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("ok.wav"));
}
