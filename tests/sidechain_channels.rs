//! Sidechains whose channel count differs from the signal they key (a mono track keyed by a
//! stereo strip, and the reverse) work for the gate and the compressor, on one thread or two.

use std::path::Path;

use mixdown::render::{prepare_schedule, render_to_vec, RenderOptions};
use mixdown::script::{evaluate_source, ScriptOptions};

const SONG: &str = r#"
mix.session { sample_rate = 48000, tempo_bpm = 120, length_s = 2 }
local key  = mix.track("key", { drum = "kick", pattern = "X.......X......." })  -- stereo after its pan
local bed  = mix.track("bed", { noise = "pink", level_db = -20 })              -- mono before its pan
bed:gate { threshold_db = -30, range_db = -60, hold_ms = 20, sidechain = key }
local tone = mix.track("tone", { osc = "sine", hz = 220, level_db = -12 })
tone:comp { threshold_db = -40, ratio = 10, attack_ms = 1, release_ms = 50, sidechain = key }
local pad  = mix.bus "padbus"
local s = mix.track("s", { osc = "saw", hz = 110, level_db = -20 })
s:to(pad)
pad:comp { threshold_db = -40, ratio = 4, sidechain = bed }                  -- stereo keyed by mono
"#;

#[test]
fn mismatched_sidechain_channels_render_on_one_and_two_threads() {
    let ev = evaluate_source(SONG, "sc.lua", Path::new("."), &ScriptOptions::default()).unwrap();
    let mut outs = Vec::new();
    for threads in [1, 2] {
        let opts = RenderOptions {
            threads,
            ..Default::default()
        };
        let (s, _) = prepare_schedule(&ev.spec, &opts).unwrap();
        let (out, report) = render_to_vec(s, &opts);
        assert!(report.nan_report.is_empty());
        assert!(out.iter().flatten().all(|x| x.is_finite()));
        assert!(out[0].iter().any(|x| x.abs() > 0.01), "audible");
        outs.push(out);
    }
    assert_eq!(outs[0], outs[1]);
}
