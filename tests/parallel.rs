//! Offline render on several worker threads gives the same bits as one thread — including the
//! master chain, which a parallel render runs one block behind the tracks (its automation must
//! follow its own block's transport).

use std::path::Path;

use mixdown::render::{prepare_schedule, render_to_vec, RenderOptions};
use mixdown::script::{evaluate_source, ScriptOptions};

const SONG: &str = r#"
mix.session { sample_rate = 48000, tempo_bpm = 120, length_s = 6 }
local kick = mix.track("kick", { drum = "kick", pattern = "X...x...X...x..." })
local hat  = mix.track("hat",  { drum = "hat", pattern = "x.x.x.x.x.x.x.xo", pan = 0.3 })
local bass = mix.track("bass", { synth = "bass", pattern = "c2 . c2 eb2 . g1 . bb1", steps_per_beat = 2 })
local pad  = mix.track("pad",  { synth = "pad", pattern = "c3:m _ _ _ ab2 _ _ _", steps_per_beat = 1 })
local n    = mix.track("noise", { noise = "pink", level_db = -30, pan = -0.4 })
bass:comp { threshold_db = -24, ratio = 4, sidechain = kick }
pad:eq { mix.bell { hz = 800, q = 1, gain_db = -3 }, mix.high_shelf { hz = 8000, gain_db = 2 } }
local drums = mix.bus "drums"
kick:to(drums); hat:to(drums)
drums:comp { threshold_db = -12, ratio = 2, lookahead_ms = 2 }
local verb = mix.bus "verb"
verb:reverb { decay_s = 1.2 }
pad:send(verb, { gain_db = -8 })
hat:send(verb, { gain_db = -14, pre = true })
pad.gain_db:set(1, -20):linear_to(3, 0)
mix.master:limit { ceiling_db = -1 }
mix.master.gain_db:set(2, -6):linear_to(4, 0)
"#;

fn render(threads: usize, block: usize) -> Vec<Vec<f32>> {
    let ev = evaluate_source(SONG, "par.lua", Path::new("."), &ScriptOptions::default()).unwrap();
    let opts = RenderOptions {
        threads,
        block,
        ..Default::default()
    };
    let (s, _) = prepare_schedule(&ev.spec, &opts).unwrap();
    render_to_vec(s, &opts).0
}

#[test]
fn two_and_three_threads_match_one_thread_bit_for_bit_at_every_block_size() {
    let one = render(1, 512);
    assert!(one[0].len() > 48000 * 6, "rendered {} frames", one[0].len());
    assert!(one[0].iter().any(|x| x.abs() > 0.01), "the song is audible");
    // 2048 is the default block, the one renders pipeline the master chain on.
    for (threads, block) in [(2, 2048), (2, 512), (3, 512), (2, 64), (3, 17)] {
        let one = if block == 512 {
            one.clone()
        } else {
            render(1, block)
        };
        let many = render(threads, block);
        assert_eq!(one.len(), many.len());
        for (a, b) in one.iter().zip(&many) {
            assert_eq!(a.len(), b.len(), "{threads} threads, block {block}");
            let first_diff = a
                .iter()
                .zip(b)
                .position(|(x, y)| x.to_bits() != y.to_bits());
            assert_eq!(first_diff, None, "{threads} threads, block {block}");
        }
    }
}
