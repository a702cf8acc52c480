//! Helpers shared by the benchmarks: scripts evaluated from text, schedules, processors.
#![allow(dead_code)]

use std::path::Path;

use mixdown::graph::{compile, CompileConfig, Schedule};
use mixdown::node::Mode;
use mixdown::script::{evaluate_source, ScriptOptions};

/// Compiles a script given as text.
pub fn schedule(src: &str, mode: Mode) -> Schedule {
    let ev = evaluate_source(src, "bench.lua", Path::new("."), &ScriptOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    compile(
        &ev.spec,
        CompileConfig {
            mode,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `n` stereo tracks (pink noise, panned) each with a 4-band EQ and a compressor.
pub fn tracks_script(n: usize) -> String {
    let mut s = String::from("mix.session { sample_rate = 48000, length_s = 3600 }\n");
    for i in 0..n {
        s.push_str(&format!(
            "local t = mix.track('t{i}', {{ noise = 'pink', seed = {i}, level_db = -12, pan = {p} }})\n\
             t:eq {{ mix.low_shelf {{ hz = 100, gain_db = 2 }}, mix.bell {{ hz = 400, q = 1.2, gain_db = -3 }}, \
             mix.bell {{ hz = 3000, q = 1, gain_db = 2 }}, mix.high_shelf {{ hz = 10000, gain_db = -2 }} }}\n\
             t:comp {{ threshold_db = -24, ratio = 4, attack_ms = 10, release_ms = 100 }}\n",
            p = ((i % 7) as f64 - 3.0) / 3.5
        ));
    }
    s
}
