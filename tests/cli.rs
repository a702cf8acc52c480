//! The command line as a user meets it: exit codes, messages, files written or not.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mixdown");

const SONG: &str = r#"
mix.session { sample_rate = 48000, tempo_bpm = 120, length_s = 4 }
local k = mix.track("kick", { drum = "kick", pattern = "X...X...X...X..." })
local b = mix.track("bass", { synth = "bass", pattern = "c2 . c2 . eb2 . g1 .", steps_per_beat = 2 })
b:comp { threshold_db = -20, ratio = 4, sidechain = k }
local verb = mix.bus "verb"
verb:reverb { decay_s = 1 }
b:send(verb, { gain_db = -12 })
mix.render { path = "out/song.wav", format = "wav16" }
"#;

fn dir_with(script: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("song.lua"), script).unwrap();
    d
}

fn run(d: &tempfile::TempDir, args: &[&str]) -> (bool, String, String) {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(d.path())
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn render_writes_the_scripts_render_path_and_a_summary() {
    let d = dir_with(SONG);
    let (ok, _, err) = run(&d, &["render", "song.lua"]);
    assert!(ok, "{err}");
    let out = d.path().join("out/song.wav");
    let (info, _) = mixdown::io::wav::read_all(&out).unwrap();
    assert_eq!(info.encoding, mixdown::io::wav::WavEncoding::Int(16));
    assert!(info.frames >= 4 * 48000, "{} frames", info.frames);
    assert!(
        err.contains("integrated") && err.contains("true peak"),
        "{err}"
    );
    assert!(!d.path().join("out/song.wav.part").exists());
}

#[test]
fn from_and_to_give_the_exact_range_in_seconds_or_bars() {
    let d = dir_with(SONG);
    let (ok, _, err) = run(
        &d,
        &[
            "render", "song.lua", "-o", "a.wav", "--from", "1", "--to", "2:1",
        ],
    );
    assert!(ok, "{err}");
    // bar 2 beat 1 at 120 BPM in 4/4 = 2 s; from 1 s: exactly 48 000 frames.
    let (info, _) = mixdown::io::wav::read_all(&d.path().join("a.wav")).unwrap();
    assert_eq!(info.frames, 48000);
    let (ok, _, err) = run(
        &d,
        &[
            "render", "song.lua", "-o", "b.wav", "--from", "2", "--to", "1",
        ],
    );
    assert!(!ok);
    assert!(err.contains("--to"), "{err}");
    assert!(!d.path().join("b.wav").exists() && !d.path().join("b.wav.part").exists());
}

#[test]
fn check_reports_every_problem_and_fails() {
    let d = dir_with(
        "local a = mix.bus 'a'\na:comp { treshold_db = -10 }\na:gain { gain_db = 200 }\nmix.track('v', 'nope.wav')\n",
    );
    let (ok, _, err) = run(&d, &["check", "song.lua"]);
    assert!(!ok);
    assert!(
        err.contains("song.lua:2") && err.contains("did you mean 'threshold_db'"),
        "{err}"
    );
    assert!(
        err.contains("song.lua:3") && err.contains("gain_db = 200 dB is out of range"),
        "{err}"
    );
    assert!(
        err.contains("song.lua:4") && err.contains("nope.wav"),
        "{err}"
    );
    assert!(err.contains("3 problems"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("stack backtrace"),
        "{err}"
    );
}

#[test]
fn a_failed_render_leaves_no_file() {
    // The script is fine but the output cannot be written where asked (a folder is in the way).
    let d = dir_with(SONG);
    std::fs::create_dir_all(d.path().join("taken.wav")).unwrap();
    let (ok, _, err) = run(&d, &["render", "song.lua", "-o", "taken.wav"]);
    assert!(!ok);
    assert!(err.contains("taken.wav"), "{err}");
    assert!(!d.path().join("taken.wav.part").exists());
}

#[test]
fn graph_prints_the_routing_as_dot_and_the_schedule() {
    let d = dir_with(SONG);
    let (ok, dot, err) = run(&d, &["graph", "song.lua"]);
    assert!(ok, "{err}");
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(
        dot.contains("\"kick/pan\" -> \"bass/comp\" [label=\"sidechain\""),
        "{dot}"
    );
    assert!(dot.contains("\"bass/send:verb\" -> \"verb/in\""), "{dot}");
    let (ok, sched, _) = run(&d, &["graph", "song.lua", "--schedule"]);
    assert!(ok);
    assert!(sched.contains("process bass/comp [comp]"), "{sched}");
    let (ok, _, err) = run(&d, &["graph", "song.lua", "-o", "g.dot"]);
    assert!(ok, "{err}");
    assert!(std::fs::read_to_string(d.path().join("g.dot"))
        .unwrap()
        .contains("digraph"));
}

#[test]
fn the_built_in_demo_renders_without_a_script() {
    let d = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(&d, &["render", "--quiet"]);
    assert!(ok, "{err}");
    let m = mixdown::measure::measure_file(&d.path().join("out/demo.wav")).unwrap();
    let i = m.integrated_lufs.unwrap();
    assert!((i + 14.0).abs() <= 0.1, "demo at {i} LUFS");
    assert!(m.true_peak_dbtp.unwrap() <= -0.9, "{:?}", m.true_peak_dbtp);
}

/// Range and report mistakes are explained before any work, and nothing is written.
#[test]
fn range_and_report_mistakes_are_explained_before_rendering() {
    let d = dir_with(SONG);
    let (ok, _, err) = run(&d, &["render", "song.lua", "--from", "-1"]);
    assert!(!ok);
    assert!(
        err.contains("time '-1' must be seconds from the start"),
        "{err}"
    );
    let (ok, _, err) = run(&d, &["render", "song.lua", "--from", "500"]);
    assert!(!ok);
    assert!(
        err.contains("--from 500 s is at or after the end of the song (4.0 s)"),
        "{err}"
    );
    std::fs::write(d.path().join("rep"), b"a file").unwrap();
    let (ok, _, err) = run(&d, &["render", "song.lua", "--report", "rep"]);
    assert!(!ok);
    assert!(
        err.contains("--report rep: exists and is not a folder"),
        "{err}"
    );
    assert!(!d.path().join("out/song.wav").exists(), "nothing rendered");
}

/// `check` of an album evaluates every song script and reports their errors.
#[test]
fn check_of_an_album_checks_every_song() {
    let d = dir_with(SONG);
    std::fs::write(
        d.path().join("bad.lua"),
        "mix.track('x', { osc = 'sine', bars = 1 }):comp { treshold_db = -3 }\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("album.lua"),
        "mix.album { songs = { 'song.lua', 'bad.lua' } }\n",
    )
    .unwrap();
    let (ok, _, err) = run(&d, &["check", "album.lua"]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("bad.lua:1") && err.contains("did you mean 'threshold_db'"),
        "{err}"
    );
}

/// `play` without a script plays the built-in demo (here on the null device, briefly).
#[test]
fn play_without_a_script_plays_the_demo() {
    let d = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(
        &d,
        &[
            "play",
            "--device",
            "alsa:null",
            "--duration",
            "0.5",
            "--buffer",
            "512",
        ],
    );
    assert!(ok, "{err}");
    assert!(err.contains("played "), "{err}");
}
