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
