//! Album mastering: songs at deliberately different loudness and balance, in track and album
//! mode, with the matching EQ.

use std::path::Path;

use mixdown::album::{render_album, response_peak, MATCH_LIMIT_DB};
use mixdown::measure::measure_file;
use mixdown::render::RenderOptions;
use mixdown::script::{evaluate, ScriptOptions};

// A dark, quiet song and a bright, loud one.
const DARK: &str = r#"
mix.session { sample_rate = 48000, tempo_bpm = 100, length_s = 6 }
mix.track("kick", { drum = "kick", pattern = "X...X...X...X...", level_db = -10 })
local b = mix.track("bass", { synth = "bass", pattern = "c2 . c2 . eb2 . g1 .", steps_per_beat = 2, level_db = -12 })
b:lowpass { hz = 400 }
"#;
const BRIGHT: &str = r#"
mix.session { sample_rate = 48000, tempo_bpm = 130, length_s = 6 }
mix.track("hat", { drum = "hat", pattern = "x.x.x.x.x.x.x.x.", level_db = 0 })
local l = mix.track("lead", { synth = "lead", pattern = "g4 _ eb5 _ c5 _ bb4 _", steps_per_beat = 2, level_db = 0 })
l:highpass { hz = 800 }
mix.track("air", { noise = "white", level_db = -24 })
"#;

fn setup(album: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("dark.lua"), DARK).unwrap();
    std::fs::write(d.path().join("bright.lua"), BRIGHT).unwrap();
    std::fs::write(d.path().join("album.lua"), album).unwrap();
    d
}

fn run(d: &Path) -> mixdown::album::AlbumReport {
    let ev =
        evaluate(&d.join("album.lua"), &ScriptOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ev.albums.len(), 1);
    render_album(
        &ev.albums[0],
        &ScriptOptions::default(),
        &mixdown::script::Evaluator::InProcess,
        &mixdown::io::output::WritePolicy::new([d.to_path_buf()]),
        &RenderOptions::default(),
        Some(&d.join("report")),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn track_mode_puts_every_song_on_target_under_the_ceiling() {
    let d = setup(
        r#"mix.album { songs = { "dark.lua", "bright.lua" }, target_lufs = -14, ceiling_db = -1,
                       chain = require "mastering.streaming", out = "out/%s.wav",
                       continuous = "out/album.wav", gap_s = 1, fade_s = 0.1 }"#,
    );
    let r = run(d.path());
    let (a, b) = (
        r.songs[0].before_lufs.unwrap(),
        r.songs[1].before_lufs.unwrap(),
    );
    assert!(
        (a - b).abs() > 6.0,
        "the songs differ in loudness to start with: {a} {b}"
    );
    for s in &r.songs {
        // Measured again from the written file, as a user would.
        let m = measure_file(&s.path).unwrap();
        let i = m.integrated_lufs.unwrap();
        assert!((i + 14.0).abs() <= 0.1, "{}: {i} LUFS", s.name);
        assert!(
            m.true_peak_dbtp.unwrap() <= -1.0 + 0.1,
            "{}: {:?} dBTP",
            s.name,
            m.true_peak_dbtp
        );
    }
    // The continuous file: both songs, the gap between them.
    let c = measure_file(r.continuous.as_ref().unwrap()).unwrap();
    assert!(c.true_peak_dbtp.unwrap() <= -0.9);
    let (info, _) = mixdown::io::wav::read_all(r.continuous.as_ref().unwrap()).unwrap();
    let secs = info.frames as f64 / 48000.0;
    assert!(secs > 12.5 && secs < 16.0, "album file {secs} s");
}

#[test]
fn album_mode_keeps_relative_loudness_and_puts_the_album_on_target() {
    let d = setup(
        r#"mix.album { songs = { "dark.lua", "bright.lua" }, target_lufs = -16, ceiling_db = -1,
                       mode = "album", out = "out/%s.wav" }"#,
    );
    let r = run(d.path());
    // The report folder: per-song pictures, album.json and the album's spectra.
    for f in [
        "dark.json",
        "bright-loudness.png",
        "album.json",
        "album-spectra.png",
    ] {
        assert!(
            d.path().join("report").join(f).is_file(),
            "missing report/{f}"
        );
    }
    let j = std::fs::read_to_string(d.path().join("report/album.json")).unwrap();
    assert!(
        j.contains("\"album_lufs\":-16.0") || j.contains("\"album_lufs\":-15.9"),
        "{j}"
    );
    let before = r.songs[1].before_lufs.unwrap() - r.songs[0].before_lufs.unwrap();
    let after =
        r.songs[1].after.integrated_lufs.unwrap() - r.songs[0].after.integrated_lufs.unwrap();
    assert!(
        (before - after).abs() < 0.3,
        "relative level {before:.2} became {after:.2}"
    );
    assert!(
        (r.album_lufs.unwrap() + 16.0).abs() <= 0.1,
        "album {:?}",
        r.album_lufs
    );
    assert_eq!(
        r.songs[0].gain_db, r.songs[1].gain_db,
        "one gain for the album"
    );
    for s in &r.songs {
        assert!(s.after.true_peak_dbtp.unwrap() <= -0.9);
    }
}

#[test]
fn matching_eq_moves_the_balances_closer_within_its_bound() {
    let d = setup(
        r#"mix.album { songs = { "dark.lua", "bright.lua" }, target_lufs = -14, ceiling_db = -1,
                       match_eq = true, out = "out/%s.wav" }"#,
    );
    let r = run(d.path());
    for s in &r.songs {
        let (before, after) = s.balance_distance_db;
        assert!(
            after < before - 0.5,
            "{}: distance {before:.2} dB -> {after:.2} dB",
            s.name
        );
        assert!(
            s.eq_db.iter().all(|g| g.abs() <= MATCH_LIMIT_DB),
            "{:?}",
            s.eq_db
        );
        assert!(response_peak(&s.eq_db, 48000.0) <= MATCH_LIMIT_DB + 1e-9);
        assert!(
            s.eq_db.iter().any(|g| g.abs() > 0.5),
            "the EQ did something: {:?}",
            s.eq_db
        );
    }
    // Dark gets brighter, bright gets darker.
    assert!(r.songs[0].eq_db[7] > r.songs[0].eq_db[0]);
    assert!(r.songs[1].eq_db[7] < r.songs[1].eq_db[0]);
}

#[test]
fn album_mistakes_are_reported_with_the_line() {
    let d = setup(
        r#"mix.album { songs = { "dark.lua", "missing.lua" }, mode = "loud", out = "x.wav" }"#,
    );
    let e = match evaluate(&d.path().join("album.lua"), &ScriptOptions::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("should fail"),
    };
    assert!(e.contains("album.lua:1"), "{e}");
    assert!(e.contains("missing.lua"), "{e}");
    assert!(e.contains("mode = \"loud\""), "{e}");
    assert!(e.contains("%s"), "{e}");
}

/// The printed album loudness is the album's own (BS.1770 gating over all songs, as in the
/// continuous file), so `measure` of the continuous file reads the same figure.
#[test]
fn album_loudness_is_what_the_continuous_file_measures() {
    let d = setup(
        r#"mix.album { songs = { "dark.lua", "bright.lua" }, target_lufs = -16, mode = "track",
                       out = "out/%s.wav", continuous = "out/album.wav", gap_s = 1, fade_s = 0.2,
                       format = "wav32f" }"#,
    );
    let r = run(d.path());
    let m = measure_file(&d.path().join("out/album.wav")).unwrap();
    let printed = r.album_lufs.unwrap();
    let measured = m.integrated_lufs.unwrap();
    eprintln!("album loudness printed {printed:.3}, measured {measured:.3}");
    assert!((printed - measured).abs() < 0.01, "{printed} vs {measured}");
    assert!((r.album_true_peak_dbtp.unwrap() - m.true_peak_dbtp.unwrap()).abs() < 0.01);
    assert!(r.missed.is_empty(), "{:?}", r.missed);
    // "before" is the song as it came in (the premaster), not after the chain: the chain
    // (loudness to -16 LUFS) moved both songs.
    for s in &r.songs {
        let (b, a) = (s.before_lufs.unwrap(), s.after.integrated_lufs.unwrap());
        assert!(
            (b - a).abs() > 1.0,
            "{}: before {b:.2} after {a:.2}",
            s.name
        );
    }
}

/// A target the ceiling keeps out of reach is said loudly; `--strict` makes it an error.
#[test]
fn an_unreachable_album_target_is_reported_and_strict_fails() {
    let d = setup(
        r#"mix.album { songs = { "dark.lua", "bright.lua" }, target_lufs = -4, ceiling_db = -1,
                       mode = "album", out = "out/%s.wav" }"#,
    );
    let bin = env!("CARGO_BIN_EXE_mixdown");
    let o = std::process::Command::new(bin)
        .args(["render", "album.lua"])
        .current_dir(d.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning: the album reaches") && err.contains("not the -4 LUFS target"),
        "{err}"
    );
    let o = std::process::Command::new(bin)
        .args(["render", "album.lua", "--strict"])
        .current_dir(d.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("--strict: 1 loudness target(s) not reached"),
        "{err}"
    );
}
