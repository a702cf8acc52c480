//! Helpers of the plugin-hosting tests: whether a Debian package's plugin is installed (under
//! CI it must be), renders at a block size, a tone script, sample differences, and the
//! allocation counter of `assert_no_alloc` (counting in test binaries that install its
//! `AllocDisabler` as their global allocator).

use std::path::Path;

use mixdown::render::RenderOptions;

use super::{Dir, Rendered};

/// Whether `file` (from Debian package `package`) is here; under CI (`CI` set) it must be.
pub fn installed(file: &str, package: &str) -> bool {
    let ok = Path::new(file).exists();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs {package} ({file})"
        );
        eprintln!("skipped: {file} missing (apt-get install {package})");
    }
    ok
}

/// Renders `src` in blocks of `block` frames, with tails up to 0.5 s.
pub fn render_block(dir: &Dir, src: &str, block: usize) -> Rendered {
    dir.render_with(
        src,
        RenderOptions {
            block,
            max_tail_s: 0.5,
            ..Default::default()
        },
    )
}

/// A 1 s mono sine track `t` at `hz` into the master, with `insert` on it.
pub fn tone_script(hz: f64, insert: &str) -> String {
    format!(
        "mix.session {{ sample_rate = 48000, length_s = 1 }}\n\
         local t = mix.track('t', {{ osc = 'sine', hz = {hz}, level_db = -12 }})\n\
         {insert}\n"
    )
}

/// The largest sample difference of two equally long signals.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

/// Runs `f` with allocation counting on (debug-assertion builds, as the test profile is).
pub fn no_alloc<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(debug_assertions)]
    return assert_no_alloc::assert_no_alloc(f);
    #[cfg(not(debug_assertions))]
    f()
}

/// Allocations counted inside [`no_alloc`] so far.
pub fn violations() -> u32 {
    #[cfg(debug_assertions)]
    return assert_no_alloc::violation_count();
    #[cfg(not(debug_assertions))]
    0
}

/// A click of 0.25 at frame 4800 in a 1 s file `click.wav`, on track `t`, which goes to the
/// master (the dry path) and through a send to bus `b` carrying `insert` (`b:plugin(...)`).
pub fn click_through(dir: &Dir, insert: &str) -> Rendered {
    let mut x = vec![0.0f32; 48000];
    x[4800] = 0.25;
    dir.wav("click.wav", 48000, &[&x]);
    dir.render(&format!(
        "mix.session {{ sample_rate = 48000, length_s = 1 }}\n\
         local t = mix.track('t', 'click.wav')\nlocal b = mix.bus('b')\n\
         {insert}\nt:send(b, {{ gain_db = 0 }})\n"
    ))
}

/// The frame of the largest magnitude.
pub fn loudest(x: &[f32]) -> usize {
    x.iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .map_or(0, |m| m.0)
}

/// The largest magnitude anywhere but frame `at`.
pub fn peak_outside(x: &[f32], at: usize) -> f32 {
    x.iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, v)| v.abs())
        .fold(0.0f32, f32::max)
}

/// The 1 kHz level of `x` over `flat`'s, in dB, from 0.5 to 0.6 s.
pub fn gain_at_1k(x: &[f32], flat: &[f32]) -> f64 {
    let w = 24000..28800;
    super::db(
        super::tone_amp(&x[w.clone()], 1000.0, 48000.0)
            / super::tone_amp(&flat[w], 1000.0, 48000.0),
    )
}

/// Runs the `mixdown` binary with `args` (in `dir`'s folder), requiring success; returns its
/// stdout.
pub fn mixdown_ok(dir: &Dir, args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixdown"))
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mixdown {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `mixdown plugin-state save ID FILE` with a 6 dB boost at 1 kHz, then `mixdown render` of a
/// script whose ZamEQ2 (`id`) loads FILE, through the isolated evaluator as users run it:
/// the boost the render has at 1 kHz over a flat ZamEQ2, in dB.
pub fn state_file_boost_through_the_cli(dir: &Dir, id: &str, file: &str) -> f64 {
    use std::ffi::OsStr;
    let state = dir.path().join(file);
    mixdown_ok(
        dir,
        &[
            OsStr::new("plugin-state"),
            OsStr::new("save"),
            OsStr::new(id),
            state.as_os_str(),
            OsStr::new("--set"),
            OsStr::new("boost_cut_1=6"),
            OsStr::new("--set"),
            OsStr::new("frequency_1=1000"),
        ],
    );
    let script = dir.script(
        "song.lua",
        &format!(
            "mix.session {{ sample_rate = 48000, length_s = 1 }}\n\
             local t = mix.track('t', {{ osc = 'sine', hz = 1000, level_db = -12 }})\n\
             t:plugin('{id}', {{}}, {{ state = '{file}' }})\n\
             mix.render {{ path = 'out.wav' }}\n"
        ),
    );
    mixdown_ok(dir, &[OsStr::new("render"), script.as_os_str()]);
    let (_, wav) = super::read_wav(&dir.path().join("out.wav"));
    let flat = dir.render(&tone_script(1000.0, &format!("t:plugin('{id}', {{}})")));
    gain_at_1k(&wav[0], flat.l())
}

/// Renders `src` at blocks of 1, 17, 64 and 512 frames and requires each to be bit-identical
/// to the render at 2048.
pub fn assert_block_invariant(dir: &Dir, src: &str) {
    let reference = render_block(dir, src, 2048);
    for block in [1, 17, 64, 512] {
        let got = render_block(dir, src, block);
        assert_eq!(got.l().len(), reference.l().len());
        let diff = got
            .l()
            .iter()
            .zip(reference.l())
            .position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(diff, None, "block {block} differs from block 2048");
    }
}
