//! Scripts and files written by an attacker, run through the `mixdown` command line as a user
//! would run them. Each case asserts the exact outcome: refused with a clear message that names
//! the limit or the option to use, within the time limit (wall clock measured here), within the
//! memory limit (the peak RSS of the command and its evaluator, from `wait4`), no file written
//! outside the project, no temporary file left, no panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mixdown");

struct Outcome {
    code: Option<i32>,
    err: String,
    secs: f64,
    max_rss_mib: f64,
}

impl Outcome {
    fn failed_with(&self, needles: &[&str]) {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "should fail (code {:?}): {}",
            self.code,
            self.err
        );
        for n in needles {
            assert!(
                self.err.contains(n),
                "message should contain {n:?}: {}",
                self.err
            );
        }
        assert!(!self.err.contains("panicked"), "panic: {}", self.err);
    }
}

/// Runs `mixdown args...` in `dir`; kills it after `timeout`.
// The child is reaped with `wait4` (for its resource usage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run(dir: &Path, args: &[&str], timeout: Duration) -> Outcome {
    let t0 = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child with valid pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if t0.elapsed() > timeout {
            let _ = child.kill();
            // SAFETY: as above.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let secs = t0.elapsed().as_secs_f64();
    let code = if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    Outcome {
        code,
        err: reader.join().unwrap(),
        secs,
        max_rss_mib: usage.ru_maxrss as f64 / 1024.0,
    }
}

/// A project folder inside a scratch folder, with a sibling "outside" folder an attacker aims at.
struct Project {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    outside: PathBuf,
}

impl Project {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("project");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.lua"), "return 'secret-token-123'").unwrap();
        std::fs::write(outside.join("notes.txt"), "secret-token-456").unwrap();
        Self {
            _tmp: tmp,
            dir,
            outside,
        }
    }

    fn script(&self, name: &str, text: &str) -> String {
        std::fs::write(self.dir.join(name), text).unwrap();
        name.to_string()
    }

    /// Every file under the scratch folder (paths relative to it), sorted.
    fn files(&self) -> Vec<String> {
        fn walk(base: &Path, p: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(p).unwrap().flatten() {
                let path = e.path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    walk(base, &path, out);
                } else {
                    out.push(path.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        let mut v = Vec::new();
        walk(
            self.dir.parent().unwrap(),
            self.dir.parent().unwrap(),
            &mut v,
        );
        v.sort();
        v
    }

    fn no_part_files(&self) {
        self.no_part_files_but(&[]);
    }

    /// No temporary file but the ones the attacker shipped (`planted`).
    fn no_part_files_but(&self, planted: &[&str]) {
        let parts: Vec<_> = self
            .files()
            .into_iter()
            .filter(|f| f.contains(".part") && !planted.contains(&f.as_str()))
            .collect();
        assert!(parts.is_empty(), "temporary files left: {parts:?}");
    }
}

const TONE: &str = "mix.session { length_s = 1 }\nmix.track('a', { osc = 'sine', hz = 440 })\n";
const SEC: Duration = Duration::from_secs(30);

// ---- writes ----

#[test]
fn render_paths_outside_the_project_are_refused() {
    let p = Project::new();
    let outside = p.outside.join("x.wav");
    for path in [
        outside.display().to_string(),
        "../outside/y.wav".to_string(),
        "out/../../outside/z.wav".to_string(),
        "/dev/full".to_string(),
    ] {
        let s = p.script(
            "s.lua",
            &format!("{TONE}mix.render {{ path = {path:?} }}\n"),
        );
        let o = run(&p.dir, &["render", &s], SEC);
        o.failed_with(&["not allowed", "--allow-write"]);
    }
    assert_eq!(
        p.files(),
        vec!["outside/notes.txt", "outside/secret.lua", "project/s.lua"]
    );
}

#[test]
fn allow_write_and_out_dir_are_the_ways_out() {
    let p = Project::new();
    let s = p.script(
        "s.lua",
        &format!("{TONE}mix.render {{ path = \"../outside/a.wav\" }}\n"),
    );
    let allow = p.outside.display().to_string();
    let o = run(
        &p.dir,
        &["render", &s, "--allow-write", &allow, "--quiet"],
        SEC,
    );
    assert_eq!(o.code, Some(0), "{}", o.err);
    assert!(p.outside.join("a.wav").is_file());
    let s = p.script(
        "t.lua",
        &format!("{TONE}mix.render {{ path = \"b.wav\" }}\n"),
    );
    let o = run(&p.dir, &["render", &s, "--out-dir", &allow, "--quiet"], SEC);
    assert_eq!(o.code, Some(0), "{}", o.err);
    assert!(p.outside.join("b.wav").is_file());
    assert!(!p.dir.join("b.wav").exists());
}

#[test]
fn album_outputs_outside_the_project_are_refused_before_any_work() {
    let p = Project::new();
    p.script("song.lua", TONE);
    for opts in [
        "out = \"../outside/%s.wav\"",
        "continuous = \"/tmp/../tmp/mixdown-album-attack.wav\"",
    ] {
        let s = p.script(
            "album.lua",
            &format!("mix.album {{ songs = {{ \"song.lua\" }}, {opts} }}\n"),
        );
        let o = run(&p.dir, &["render", &s], SEC);
        o.failed_with(&["not allowed", "--allow-write"]);
        assert!(o.secs < 10.0, "refused before rendering: {} s", o.secs);
    }
    assert!(!Path::new("/tmp/mixdown-album-attack.wav").exists());
    assert_eq!(
        p.files()
            .iter()
            .filter(|f| f.starts_with("outside"))
            .count(),
        2
    );
}

#[test]
fn links_and_special_files_are_never_written_through() {
    let p = Project::new();
    let target = p.outside.join("victim.txt");
    std::fs::write(&target, "keep me").unwrap();
    std::fs::create_dir_all(p.dir.join("out")).unwrap();
    // A shipped link where the output goes, and one where an old-style temporary file went.
    std::os::unix::fs::symlink(&target, p.dir.join("out/song.wav")).unwrap();
    std::os::unix::fs::symlink(&target, p.dir.join("out/song.wav.part")).unwrap();
    let s = p.script(
        "s.lua",
        &format!("{TONE}mix.render {{ path = \"out/song.wav\" }}\n"),
    );
    let o = run(&p.dir, &["render", &s], SEC);
    o.failed_with(&["not a regular file"]);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    // A folder linked out of the project is outside too.
    std::os::unix::fs::symlink(&p.outside, p.dir.join("linked")).unwrap();
    let s = p.script(
        "t.lua",
        &format!("{TONE}mix.render {{ path = \"linked/x.wav\" }}\n"),
    );
    run(&p.dir, &["render", &s], SEC).failed_with(&["not allowed"]);
    assert!(!p.outside.join("x.wav").exists());
    p.no_part_files_but(&["project/out/song.wav.part"]);
}

#[test]
fn a_render_never_writes_over_its_own_inputs() {
    let p = Project::new();
    let s = p.script(
        "s.lua",
        &format!("{TONE}mix.render {{ path = \"s.lua\" }}\n"),
    );
    let o = run(&p.dir, &["render", &s], SEC);
    o.failed_with(&["s.lua"]);
    assert!(std::fs::read_to_string(p.dir.join("s.lua"))
        .unwrap()
        .contains("mix.render"));
    // Without an extension the format check does not apply; the input check still does.
    std::fs::write(p.dir.join("keys"), b"x").unwrap();
    let s = p.script(
        "k.lua",
        &format!("{TONE}mix.render {{ path = \"k.lua\" }}\n"),
    );
    run(&p.dir, &["render", &s], SEC).failed_with(&["k.lua"]);
}

#[test]
fn sigterm_during_a_render_removes_the_partial_file() {
    let p = Project::new();
    let s = p.script(
        "long.lua",
        "mix.session { length_s = 3000 }\nfor i = 1, 8 do mix.track('t'..i, { noise = 'pink' }):reverb {} end\nmix.render { path = \"out/long.wav\" }\n",
    );
    let child = Command::new(BIN)
        .args(["render", &s, "--threads", "1"])
        .current_dir(&p.dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the temporary file exists, then stop the render.
    let t0 = Instant::now();
    while !p.files().iter().any(|f| f.contains(".part")) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no temporary file appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t1 = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        t1.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t1.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    p.no_part_files();
    assert!(!p.dir.join("out/long.wav").exists());
}

// ---- reads ----

#[test]
fn require_takes_module_names_only() {
    let p = Project::new();
    let secret = p.outside.join("secret").display().to_string();
    for name in [
        secret.as_str(),
        "../outside/secret",
        "a/../../outside/secret",
        "",
        "x..y",
    ] {
        let s = p.script("s.lua", &format!("require {name:?}\n"));
        let o = run(&p.dir, &["check", &s], SEC);
        o.failed_with(&["require"]);
        assert!(!o.err.contains("secret-token"), "{}", o.err);
    }
}

#[test]
fn links_out_of_the_project_are_not_followed() {
    let p = Project::new();
    std::os::unix::fs::symlink(p.outside.join("secret.lua"), p.dir.join("mod.lua")).unwrap();
    std::os::unix::fs::symlink(p.outside.join("notes.txt"), p.dir.join("notes.wav")).unwrap();
    let s = p.script("s.lua", "print(require 'mod')\n");
    let o = run(&p.dir, &["check", &s], SEC);
    o.failed_with(&["module not found"]);
    assert!(!o.err.contains("secret-token"), "{}", o.err);
    let s = p.script("t.lua", "mix.track('a', 'notes.wav')\n");
    let o = run(&p.dir, &["check", &s], SEC);
    o.failed_with(&["outside the script's folder", "--allow-read"]);
    assert!(!o.err.contains("secret-token"), "{}", o.err);
    let s = p.script(
        "u.lua",
        &format!(
            "mix.album {{ songs = {{ 't.lua' }}, reference = {:?} }}\n",
            p.outside.join("notes.txt").display().to_string()
        ),
    );
    run(&p.dir, &["check", &s], SEC).failed_with(&["outside the script's folder"]);
}

#[test]
fn special_files_are_refused_as_inputs_without_hanging() {
    let p = Project::new();
    let fifo = p.dir.join("x.wav");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: creates a FIFO at a path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let s = p.script("s.lua", "mix.track('a', 'x.wav')\n");
    let o = run(&p.dir, &["check", &s], SEC);
    o.failed_with(&["not a regular file"]);
    assert!(o.secs < 5.0);
    let o = run(&p.dir, &["measure", "x.wav"], SEC);
    o.failed_with(&["not a regular file"]);
    std::fs::create_dir(p.dir.join("d.lua")).unwrap();
    run(&p.dir, &["check", "d.lua"], SEC).failed_with(&["not a regular file"]);
}

// ---- limits ----

/// Each of these ran until killed before scripts were evaluated in a child process.
const ENDLESS: &[(&str, &str)] = &[
    (
        "pcall",
        "while true do pcall(function() while true do end end) end",
    ),
    (
        "coroutine.wrap",
        "coroutine.wrap(function() while true do end end)()",
    ),
    (
        "coroutine.resume",
        "local co = coroutine.create(function() while true do end end) coroutine.resume(co)",
    ),
    (
        "string.find",
        "string.find(string.rep('a', 40), string.rep('a*', 40) .. 'b')",
    ),
    (
        "gmatch",
        "for _ in string.gmatch(string.rep('a', 40), string.rep('a*', 40) .. 'b') do end",
    ),
    ("string.rep", "string.rep('', 2^62)"),
    ("table.move", "table.move({}, 1, 2^62, 1, {})"),
    (
        "xpcall",
        "xpcall(function() error('x') end, function() while true do end end)",
    ),
];

#[test]
fn endless_scripts_stop_at_the_time_limit() {
    let p = Project::new();
    for (what, code) in ENDLESS {
        let s = p.script("e.lua", code);
        let o = run(&p.dir, &["check", &s, "--time-limit", "1"], SEC);
        o.failed_with(&["e.lua", "1 s time limit", "--time-limit"]);
        assert!(o.secs < 2.0, "{what}: stopped after {:.2} s", o.secs);
        eprintln!("{what}: {:.2} s, {:.0} MiB", o.secs, o.max_rss_mib);
    }
}

#[test]
fn a_looping_finalizer_does_not_outlive_the_evaluation() {
    let p = Project::new();
    let s = p.script(
        "gc.lua",
        &format!("{TONE}setmetatable({{}}, {{ __gc = function() while true do end end }})\n"),
    );
    let o = run(&p.dir, &["check", &s, "--time-limit", "1"], SEC);
    assert_eq!(o.code, Some(0), "{}", o.err);
    assert!(o.secs < 1.5, "{} s", o.secs);
}

#[test]
fn memory_stops_at_the_memory_limit() {
    let p = Project::new();
    for code in [
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end",
        "local s = string.rep('x', 2^27)",
        "local t = {} for i = 1, 1e9 do t[#t + 1] = {} end",
    ] {
        let s = p.script("m.lua", code);
        let o = run(
            &p.dir,
            &[
                "check",
                &s,
                "--memory-limit-mib",
                "64",
                "--time-limit",
                "20",
            ],
            SEC,
        );
        o.failed_with(&["m.lua", "memory", "--memory-limit-mib"]);
        // 64 MiB for the script plus the engine's own share.
        assert!(o.max_rss_mib < 64.0 + 256.0, "peak {} MiB", o.max_rss_mib);
        eprintln!("{code}: {:.2} s, {:.0} MiB", o.secs, o.max_rss_mib);
    }
}

#[test]
fn small_inputs_that_would_blow_up_are_refused_quickly() {
    let p = Project::new();
    let cases: &[(&str, &[&str])] = &[
        (
            "mix.track('t', { drum = 'kick', pattern = string.rep('x', 1e8), bars = 1 })",
            &["pattern", "at most 100000"],
        ),
        (
            "mix.session { length_s = 10 }\nlocal t = mix.track('t', { osc = 'sine' })\nfor i = 1, 2e6 do t.gain_db:set(i * 0.001, -6) end",
            &["1000000 automation events"],
        ),
        (
            "mix.session { length_s = 10 }\nfor i = 1, 60000 do mix.bus('b' .. i) end",
            &["10000 nodes"],
        ),
        (
            "mix.session { length_s = 10 }\nfor i = 1, 1000 do local t = mix.track('t'..i, { osc = 'sine' }) t:delay {} t:delay {} end",
            &["delay lines and buffers", "MiB"],
        ),
        (
            "mix.session { length_s = 10 }\nlocal t = mix.track('t', { osc = 'sine' })\nt.gain_db:set(5, -60):linear_to(3, 0)",
            &["comes before the previous event at 5 s"],
        ),
    ];
    for (code, needles) in cases {
        let s = p.script("b.lua", code);
        // A generous time limit: the point is the limit's own error, reached in linear time
        // (before, a million events kept `check` busy for minutes), even on a loaded machine.
        let o = run(&p.dir, &["check", &s, "--time-limit", "60"], SEC * 2);
        o.failed_with(needles);
        assert!(o.secs < 30.0, "{code}: {} s", o.secs);
        assert!(o.err.lines().count() < 5, "one clear error: {}", o.err);
        eprintln!(
            "{:?}: {:.2} s, {:.0} MiB",
            &code[..40.min(code.len())],
            o.secs,
            o.max_rss_mib
        );
    }
}

/// A WAV header with any rate and channel count and a few frames of silence.
fn wav(path: &Path, rate: u32, channels: u16) {
    let frames = 100u32;
    let data = frames * channels as u32 * 2;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate.wrapping_mul(channels as u32 * 2)).to_le_bytes());
    b.extend_from_slice(&(channels * 2).to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    b.resize(b.len() + data as usize, 0);
    std::fs::write(path, b).unwrap();
}

#[test]
fn hostile_wav_headers_are_clear_errors() {
    let p = Project::new();
    for (rate, ch, needle) in [
        (0, 2, "sample rate 0 Hz"),
        (1, 8, "sample rate 1 Hz"),
        (4000, 1, "sample rate 4000 Hz"),
        (48000, 100, "100 channels"),
    ] {
        wav(&p.dir.join("h.wav"), rate, ch);
        let s = p.script("h.lua", "mix.track('a', 'h.wav')\n");
        let o = run(&p.dir, &["render", &s, "-o", "h-out.wav"], SEC);
        o.failed_with(&[needle]);
        assert!(
            o.secs < 5.0 && o.max_rss_mib < 300.0,
            "{} s {} MiB",
            o.secs,
            o.max_rss_mib
        );
        // measure reports the bad file and goes on with the good one.
        wav(&p.dir.join("good.wav"), 48000, 2);
        let o = run(&p.dir, &["measure", "h.wav", "good.wav", "--json"], SEC);
        o.failed_with(&[needle, "1 of 2 files could not be measured"]);
    }
    p.no_part_files();
    assert!(!p.dir.join("h-out.wav").exists());
}

#[test]
fn command_line_limits_are_checked() {
    let p = Project::new();
    let s = p.script("s.lua", TONE);
    for (args, needle) in [
        (vec!["--time-limit", "inf"], "out of range"),
        (vec!["--time-limit", "NaN"], "out of range"),
        (vec!["--time-limit", "-1"], "out of range"),
        (vec!["--memory-limit-mib", "0"], "0 is not in 16..=65536"),
    ] {
        let mut a = vec!["check", s.as_str()];
        a.extend(args);
        run(&p.dir, &a, SEC).failed_with(&[needle]);
    }
}

// ---- output of names ----

#[test]
fn names_cannot_inject_into_dot_or_the_terminal() {
    let p = Project::new();
    let s = p.script(
        "s.lua",
        "mix.track('a\\27[31m', { osc = 'sine', bars = 1 })\n",
    );
    run(&p.dir, &["check", &s], SEC).failed_with(&["control characters"]);
    let s = p.script(
        "t.lua",
        "mix.session { length_s = 1 }\nmix.track('x\"];evil[label=\"', { osc = 'sine' })\n",
    );
    run(&p.dir, &["graph", &s], SEC).failed_with(&["'\"'"]);
    // Bus and insert names reach DOT escaped.
    let s = p.script(
        "u.lua",
        "mix.session { length_s = 1 }\nlocal b = mix.bus('b;x=1')\nmix.track('a', { osc = 'sine' }):to(b)\n",
    );
    let out = Command::new(BIN)
        .args(["graph", &s])
        .current_dir(&p.dir)
        .output()
        .unwrap();
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(dot.contains("\"b;x=1/in\""), "{dot}");
    assert_eq!(dot.matches('"').count() % 2, 0);
}
