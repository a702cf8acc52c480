//! Latency compensation: a path through a node that reports latency (a lookahead) meets a dry
//! path sample-aligned, on the main input and on a sidechain; renders are shifted back so sound
//! lands where its source put it.

mod common;

use common::*;
use mixdown::graph::GraphSpec;
use mixdown::nodes::{Clip, Gain, Sum};
use mixdown::render::{render_to_vec, RenderOptions};

const N: usize = 300;
const AT: usize = 100;

/// impulse at `AT` → (lookahead N → bus) and (dry → bus) → out.
fn parallel() -> GraphSpec {
    let mut g = spec();
    let c = add_clip(&mut g, "src", impulses(1000, &[AT]));
    let la = g.add("lookahead", Lookahead::new(N), None).unwrap();
    let dry = g.add("dry", Gain, None).unwrap();
    let bus = g.add("bus", Sum::new(0), None).unwrap();
    g.connect(c, la, "in", None).unwrap();
    g.connect(c, dry, "in", None).unwrap();
    g.connect(la, bus, "in", None).unwrap();
    g.connect(dry, bus, "in", None).unwrap();
    g.set_output(bus);
    g
}

#[test]
fn parallel_lookahead_and_dry_paths_meet_as_one_impulse() {
    let s = build(&parallel());
    assert_eq!(s.latency_frames, N as u32);
    for host in [1, 64, 512] {
        // The processor output is late by the graph latency: one impulse of 2.0, not two of 1.0.
        let out = run(build(&parallel()), 2000, host);
        assert_eq!(nonzero(&out[0]), vec![(AT + N, 2.0)], "host block {host}");
    }
}

#[test]
fn render_shifts_latency_back_to_the_source_position() {
    for block in [1, 17, 512] {
        let (out, report) = render_to_vec(
            build(&parallel()),
            &RenderOptions {
                block,
                ..RenderOptions::default()
            },
        );
        assert_eq!(nonzero(&out[0]), vec![(AT, 2.0)], "block {block}");
        // As long as the source: the latency is not added to the length.
        assert_eq!(report.frames, 1000, "block {block}");
    }
}

/// The sidechain of a node is aligned with its main input: `in` comes dry, `sidechain` through
/// the lookahead (and the other way round).
#[test]
fn sidechain_input_is_aligned_with_the_main_input() {
    for lookahead_on_sidechain in [true, false] {
        let mut g = spec();
        let c = add_clip(&mut g, "src", impulses(1000, &[AT]));
        let la = g.add("lookahead", Lookahead::new(N), None).unwrap();
        let node = g.add("duck", SidechainSum, None).unwrap();
        g.connect(c, la, "in", None).unwrap();
        let (main, side) = if lookahead_on_sidechain {
            (c, la)
        } else {
            (la, c)
        };
        g.connect(main, node, "in", None).unwrap();
        g.connect(side, node, "sidechain", None).unwrap();
        g.set_output(node);
        let s = build(&g);
        assert_eq!(s.latency_frames, N as u32);
        let out = run(s, 2000, 64);
        assert_eq!(
            nonzero(&out[0]),
            vec![(AT + N, 2.0)],
            "lookahead on sidechain: {lookahead_on_sidechain}"
        );
        let (r, _) = render_to_vec(build(&g), &RenderOptions::default());
        assert_eq!(nonzero(&r[0]), vec![(AT, 2.0)]);
    }
}

/// Latencies add along a chain and the longest path wins; every other path is delayed to it.
#[test]
fn nested_latencies_are_compensated_on_every_path() {
    let mut g = spec();
    let a = add_clip(&mut g, "a", impulses(500, &[10]));
    let b = g
        .add("b", Clip::new(vec![impulses(500, &[20])], 0), None)
        .unwrap();
    let la1 = g.add("la1", Lookahead::new(50), None).unwrap();
    let la2 = g.add("la2", Lookahead::new(70), None).unwrap();
    let sub = g.add("sub", Sum::new(0), None).unwrap();
    let la3 = g.add("la3", Lookahead::new(30), None).unwrap();
    let master = g.add("master", Sum::new(0), None).unwrap();
    // a → la1 → la2 → sub (120); b → sub (0); sub → la3 → master (150); a → master (0).
    g.connect(a, la1, "in", None).unwrap();
    g.connect(la1, la2, "in", None).unwrap();
    g.connect(la2, sub, "in", None).unwrap();
    g.connect(b, sub, "in", None).unwrap();
    g.connect(sub, la3, "in", None).unwrap();
    g.connect(la3, master, "in", None).unwrap();
    g.connect(a, master, "in", None).unwrap();
    g.set_output(master);
    let s = build(&g);
    assert_eq!(s.latency_frames, 150);
    let out = run(s, 1000, 512);
    // a arrives twice (wet and dry) at 10 + 150, b once at 20 + 150.
    assert_eq!(nonzero(&out[0]), vec![(160, 2.0), (170, 1.0)]);
    let (r, _) = render_to_vec(build(&g), &RenderOptions::default());
    assert_eq!(nonzero(&r[0]), vec![(10, 2.0), (20, 1.0)]);
    assert_eq!(r[0].len(), 500);
}

/// Stereo through a lookahead in parallel with a mono dry path: each channel lines up.
#[test]
fn stereo_and_mono_paths_align_per_channel() {
    let mut g = spec();
    let st = g
        .add(
            "stereo",
            Clip::new(vec![impulses(400, &[5]), impulses(400, &[7])], 0),
            None,
        )
        .unwrap();
    let mono = add_clip(&mut g, "mono", impulses(400, &[9]));
    let la = g.add("lookahead", Lookahead::new(64), None).unwrap();
    let bus = g.add("bus", Sum::new(0), None).unwrap();
    g.connect(st, la, "in", None).unwrap();
    g.connect(la, bus, "in", None).unwrap();
    g.connect(mono, bus, "in", None).unwrap();
    g.set_output(bus);
    let (r, _) = render_to_vec(build(&g), &RenderOptions::default());
    assert_eq!(r.len(), 2);
    assert_eq!(nonzero(&r[0]), vec![(5, 1.0), (9, 1.0)]);
    assert_eq!(nonzero(&r[1]), vec![(7, 1.0), (9, 1.0)]);
}

/// Once the sound has passed through, the engine knows the mix is silent — the compensation
/// delay on the dry path included — so renders stop at the end of the tail and silent branches
/// are skipped, instead of running on for the whole `max_tail_s`.
#[test]
fn mix_goes_silent_after_the_compensated_tail() {
    let mut p = mixdown::rt::Processor::new(build(&parallel()));
    // Content ends at 1000; the lookahead and the compensation delay hold 300 more frames.
    run_processor(&mut p, 1, 1000 + N, 64);
    assert!(
        !p.schedule().all_silent(),
        "silent while sound is still in the delays"
    );
    run_processor(&mut p, 1, 2 * 64 + N, 64);
    assert!(p.schedule().all_silent(), "never reported silent");
}
