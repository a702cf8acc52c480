//! A mix script may come from someone else: it cannot run programs, touch files outside its
//! folder, load bytecode, or hang or exhaust memory.

use std::path::Path;
use std::time::{Duration, Instant};

use mixdown::script::{evaluate_source, ScriptOptions};

fn run(src: &str, opts: &ScriptOptions) -> String {
    match evaluate_source(src, "sandbox.lua", Path::new("tests/errors"), opts) {
        Ok(_) => "(ok)".into(),
        Err(e) => e.to_string(),
    }
}

fn run_default(src: &str) -> String {
    run(src, &ScriptOptions::default())
}

#[test]
fn no_os_execute_or_exit() {
    let e = run_default("os.execute('touch /tmp/mixdown-pwned')");
    assert!(e.contains("sandbox.lua:1"), "{e}");
    assert!(e.contains("execute"), "{e}");
    assert!(!Path::new("/tmp/mixdown-pwned").exists());
    let e = run_default("os.exit(3)");
    assert!(e.contains("exit"), "{e}");
}

#[test]
fn no_io_library_or_popen() {
    let e = run_default("local f = io.popen('ls')");
    assert!(e.contains("io"), "{e}");
    let e = run_default("local f = io.open('/etc/passwd')");
    assert!(e.contains("sandbox.lua:1"), "{e}");
}

#[test]
fn no_dofile_loadfile_package_or_debug() {
    for src in [
        "dofile('/etc/passwd')",
        "loadfile('/etc/passwd')",
        "package.loadlib('libc.so.6', 'system')",
        "debug.getregistry()",
    ] {
        let e = run_default(src);
        assert_ne!(e, "(ok)", "{src} must fail");
        assert!(e.contains("sandbox.lua:1"), "{src}: {e}");
    }
}

#[test]
fn binary_chunks_are_refused() {
    let e =
        run_default("local f = load(string.dump(function() return 1 end)); assert(f, 'refused')");
    assert!(e.contains("refused") || e.contains("binary"), "{e}");
    // Text chunks still work.
    assert_eq!(
        run_default("local f = load('return 1 + 1'); assert(f() == 2)"),
        "(ok)"
    );
}

#[test]
fn audio_files_outside_the_script_folder_are_refused() {
    let e = run_default("mix.track('t', '../../Cargo.toml')");
    assert!(e.contains("outside the script's folder"), "{e}");
    let e = run_default("mix.track('t', '/etc/passwd')");
    assert!(
        e.contains("outside the script's folder") || e.contains("not"),
        "{e}"
    );
}

#[test]
fn an_endless_loop_ends_with_a_clear_error() {
    let opts = ScriptOptions {
        time_limit: Duration::from_millis(300),
        ..Default::default()
    };
    let t = Instant::now();
    let e = run("while true do end", &opts);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    assert!(e.contains("limit"), "{e}");
}

#[test]
fn a_memory_bomb_ends_with_a_clear_error() {
    let opts = ScriptOptions {
        memory_limit_bytes: 16 << 20,
        ..Default::default()
    };
    let e = run(
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1024) .. i end",
        &opts,
    );
    assert!(e.contains("memory"), "{e}");
}

#[test]
fn require_finds_builtin_modules_and_local_ones() {
    let e = run_default("local m = require 'no.such.module'");
    assert!(e.contains("module not found"), "{e}");
}
