//! The example scripts in scripts/: every one is evaluated and rendered from a copy in a
//! temporary folder, and checked for what a user would notice: it runs without errors or
//! warnings, no node produces NaN, the render has the length the script asks for, loudness
//! targets are met within 0.1 LU and true peaks stay under the ceiling. Stems are written when
//! asked for, and the built-in demo (`mixdown render` with no script) comes out as documented.

mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::*;
use mixdown::render::RenderOptions;
use mixdown::script::{evaluate, ScriptOptions};

/// What a script's render must look like.
struct Expect {
    /// Shortest and longest acceptable render, seconds (session length plus tails).
    len_s: (f64, f64),
    /// Integrated loudness the script asks for.
    target_lufs: Option<f64>,
    /// True-peak ceiling of its master chain.
    ceiling_db: f64,
}

fn expect(name: &str, mix_len_s: f64) -> Expect {
    let bars = |n: f64, bpm: f64| n * 4.0 * 60.0 / bpm;
    let (len_s, target_lufs, ceiling_db) = match name {
        "generators.lua" => ((bars(8.0, 100.0), bars(8.0, 100.0) + 3.0), None, -1.0),
        "buses_and_sends.lua" => ((bars(8.0, 96.0), bars(8.0, 96.0) + 10.0), None, -1.0),
        "sidechain.lua" => ((bars(8.0, 124.0), bars(8.0, 124.0) + 3.0), Some(-9.0), -0.8),
        "automation.lua" => ((bars(12.0, 90.0), bars(12.0, 90.0) + 10.0), None, -1.0),
        "feedback_loop.lua" => ((bars(4.0, 110.0), bars(4.0, 110.0) + 10.0), None, -1.0),
        "stems.lua" => ((bars(4.0, 120.0), bars(4.0, 120.0) + 4.0), None, -1.0),
        "modules.lua" => (
            (bars(8.0, 100.0), bars(8.0, 100.0) + 3.0),
            Some(-23.0),
            -1.0,
        ),
        "mastering.lua" => ((mix_len_s, mix_len_s + 1.0), Some(-14.0), -1.0),
        other => panic!("scripts/{other} has no expectations in tests/scripts.rs: add them"),
    };
    Expect {
        len_s,
        target_lufs,
        ceiling_db,
    }
}

/// The example scripts (not the demo, which has its own test), sorted, mastering last (it
/// masters a mix made by another example).
fn example_scripts() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("scripts")
        .expect("scripts/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "lua"))
        .filter(|p| p.file_name().is_some_and(|n| n != "demo.lua"))
        .collect();
    v.sort_by_key(|p| (p.ends_with("mastering.lua"), p.clone()));
    v
}

/// Copies `script` into `dir` and evaluates the copy.
fn evaluate_copy(dir: &Dir, script: &Path) -> mixdown::script::Evaluated {
    let name = script.file_name().unwrap();
    let text = std::fs::read_to_string(script).unwrap();
    let copy = dir.script(&name.to_string_lossy(), &text);
    evaluate(&copy, &ScriptOptions::default())
        .unwrap_or_else(|e| panic!("{}:\n{e}", script.display()))
}

#[test]
fn every_example_script_renders_as_it_says() {
    let scripts = example_scripts();
    assert!(
        scripts.len() >= 8,
        "expected the example scripts, found {scripts:?}"
    );
    // Each script is documented at its top.
    for s in &scripts {
        let text = std::fs::read_to_string(s).unwrap();
        let first = text.lines().next().unwrap_or("");
        let name = s.file_name().unwrap().to_string_lossy();
        assert!(
            first.starts_with(&format!("-- scripts/{name}:")),
            "{name} does not start with its documentation line"
        );
    }
    let dir = Dir::new();
    let mut mix_len_s = 0.0;
    for s in &scripts {
        let name = s.file_name().unwrap().to_string_lossy().to_string();
        let ev = evaluate_copy(&dir, s);
        assert!(ev.warnings.is_empty(), "{name}: warnings {:?}", ev.warnings);
        let e = expect(&name, mix_len_s);
        let r = render_evaluated(&ev, RenderOptions::default());
        let len = r.l().len() as f64 / SR as f64;
        let m = r.m();
        eprintln!(
            "{name}: {len:.2} s, {:.2} LUFS, {:.2} dBTP, {} passes, notes {:?}",
            r.lufs(),
            r.tp(),
            r.passes,
            r.report.notes
        );
        assert!(
            r.report.nan_report.is_empty(),
            "{name}: NaN from {:?}",
            r.report.nan_report
        );
        assert!(
            len >= e.len_s.0 - 1e-3 && len <= e.len_s.1,
            "{name}: {len:.2} s rendered, want {:.2}..{:.2} s",
            e.len_s.0,
            e.len_s.1
        );
        assert!(m.integrated_lufs.is_some(), "{name}: silent");
        assert!(
            r.tp() <= e.ceiling_db + 0.1,
            "{name}: true peak {:.2} dBTP over the {} dBTP ceiling",
            r.tp(),
            e.ceiling_db
        );
        if let Some(t) = e.target_lufs {
            assert!(
                (r.lufs() - t).abs() <= 0.1,
                "{name}: {:.2} LUFS, target {t}",
                r.lufs()
            );
            assert!(
                r.report.notes.iter().all(|n| !n.contains("not reached")),
                "{name}: {:?}",
                r.report.notes
            );
        }
        match name.as_str() {
            "buses_and_sends.lua" => {
                // The mix the mastering example masters.
                dir.wav("mix.wav", SR, &[r.l(), r.r()]);
                mix_len_s = len;
            }
            "automation.lua" => {
                // The master fades out over the last bar (bar 12 to 13 at 90 BPM: 29.33-32 s).
                let bar6 = rms(&r.l()[frames(13.33)..frames(16.0)]);
                let end = rms(&r.l()[frames(31.7)..frames(32.0)]);
                eprintln!(
                    "  fade: bar 6 at {:.1} dBFS rms, last 0.3 s at {:.1}",
                    db(bar6),
                    db(end)
                );
                assert!(
                    db(end) < db(bar6) - 30.0,
                    "{name}: the master does not fade out"
                );
            }
            "feedback_loop.lua" => {
                // The plucks and kicks stop after two bars (4.36 s); what follows is the loop.
                let a = rms(&r.l()[frames(4.6)..frames(5.6)]);
                let b = rms(&r.l()[frames(6.6)..frames(7.6)]);
                eprintln!(
                    "  loop: {:.1} dBFS rms just after the source stops, {:.1} two seconds later",
                    db(a),
                    db(b)
                );
                assert!(db(a) > -50.0, "{name}: no repeats from the loop");
                assert!(db(b) < db(a) - 6.0, "{name}: the loop does not decay");
            }
            _ => {}
        }
    }
}

#[test]
fn the_feedback_example_needs_its_delay_line() {
    // As its header says: without the delay_line, the loop is a cycle the compiler rejects,
    // naming the buses.
    let text = std::fs::read_to_string("scripts/feedback_loop.lua").unwrap();
    assert!(text.contains("b:delay_line"));
    let broken: String = text
        .lines()
        .map(|l| if l.starts_with("b:delay_line") { "" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let dir = Dir::new();
    let e = dir.error(&broken);
    assert!(
        e.contains("routing cycle") && e.contains("\"a/in\"") && e.contains("\"b/in\""),
        "{e}"
    );
}

fn mixdown(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mixdown"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run mixdown")
}

#[test]
fn stems_are_written_next_to_the_mix() {
    let dir = Dir::new();
    let text = std::fs::read_to_string("scripts/stems.lua").unwrap();
    dir.script("stems.lua", &text);
    let out = mixdown(dir.path(), &["render", "stems.lua"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let (spec, mix) = read_wav(&dir.path().join("out/stems.wav"));
    assert_eq!(spec.bits_per_sample, 24);
    for bus in ["drums", "music", "fx"] {
        let p = dir.path().join(format!("out/stems.{bus}.wav"));
        assert!(p.exists(), "no stem {}: {stderr}", p.display());
        let (s, stem) = read_wav(&p);
        assert_eq!(s.bits_per_sample, 24, "{bus}");
        let level = measure(&stem, SR as f64).integrated_lufs;
        eprintln!("stem {bus}: {} frames, {level:?} LUFS", stem[0].len());
        assert!(level.is_some(), "the {bus} stem is silent");
        // Same start; a stem may end earlier than the mix only where the mix has other tails.
        assert!(stem[0].len() <= mix[0].len() && stem[0].len() >= frames(8.0));
    }
}

#[test]
fn the_builtin_demo_renders_to_spec() {
    // `mixdown render` with no script renders the embedded demo to out/demo.wav in the
    // working directory: 30-60 s at -14 LUFS (±0.1) and at most -1 dBTP (+0.1).
    let dir = Dir::new();
    let out = mixdown(dir.path(), &["render"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("NaN"), "{stderr}");
    let path = dir.path().join("out/demo.wav");
    let (spec, audio) = read_wav(&path);
    let secs = audio[0].len() as f64 / spec.sample_rate as f64;
    let m = measure(&audio, spec.sample_rate as f64);
    let (i, tp) = (m.integrated_lufs.unwrap(), m.true_peak_dbtp.unwrap());
    eprintln!(
        "demo: {secs:.2} s, {i:.2} LUFS, {tp:.2} dBTP, {} channels",
        spec.channels
    );
    assert_eq!(spec.channels, 2);
    assert!((30.0..=60.0).contains(&secs), "demo is {secs:.1} s long");
    assert!((i + 14.0).abs() <= 0.1, "demo at {i:.2} LUFS");
    assert!(tp <= -0.9, "demo true peak {tp:.2} dBTP");
}
