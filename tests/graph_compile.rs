//! The compiler: cycles (rejected with every member named, or run through a delay), buffer reuse,
//! unreachable nodes and routing mistakes.

mod common;

use common::*;
use mixdown::graph::{compile, CompileConfig, GraphSpec, Step};
use mixdown::nodes::{Clip, Delay, DelayTime, Gain, Pan, Sum};
use mixdown::units::db_to_gain;
use mixdown::ErrorKind;

fn compile_err(g: &GraphSpec) -> mixdown::Errors {
    match compile(g, CompileConfig::default()) {
        Ok(_) => panic!("compiled a graph that should have been rejected"),
        Err(e) => e,
    }
}

#[test]
fn cycle_of_three_gains_names_every_node_with_its_line() {
    let mut g = spec();
    let src = g
        .add("kick", Clip::new(vec![vec![1.0; 10]], 0), line(1))
        .unwrap();
    let a = g.add("a", Gain, line(2)).unwrap();
    let b = g.add("b", Gain, line(3)).unwrap();
    let c = g.add("c", Gain, line(4)).unwrap();
    let out = g.add("master", Sum::new(0), line(5)).unwrap();
    g.connect(src, a, "in", line(6)).unwrap();
    g.connect(a, b, "in", line(7)).unwrap();
    g.connect(b, c, "in", line(8)).unwrap();
    g.connect(c, a, "in", line(9)).unwrap();
    g.connect(c, out, "in", line(10)).unwrap();
    g.set_output(out);
    let errs = compile_err(&g);
    assert_eq!(errs.0.len(), 1, "{errs}");
    let e = &errs.0[0];
    assert_eq!(e.kind, ErrorKind::Graph);
    for part in [
        "\"a\" (mix.lua:2)",
        "\"b\" (mix.lua:3)",
        "\"c\" (mix.lua:4)",
        "delay",
    ] {
        assert!(e.message.contains(part), "missing {part:?} in: {e}");
    }
    // Nodes outside the loop are not blamed.
    assert!(
        !e.message.contains("kick") && !e.message.contains("master"),
        "{e}"
    );
    // The error points at a line of the script.
    let span = e.span.as_ref().expect("span");
    assert_eq!(span.file, "mix.lua");
    assert!((2..=10).contains(&span.line), "{span}");
}

#[test]
fn self_loop_on_a_gain_is_a_cycle() {
    let mut g = spec();
    let src = g
        .add("src", Clip::new(vec![vec![1.0; 10]], 0), None)
        .unwrap();
    let a = g.add("loop", Gain, line(3)).unwrap();
    g.connect(src, a, "in", None).unwrap();
    g.connect(a, a, "in", line(4)).unwrap();
    g.set_output(a);
    let errs = compile_err(&g);
    assert!(errs.to_string().contains("\"loop\" (mix.lua:3)"), "{errs}");
}

/// A loop that avoids the delay, inside a larger loop that goes through it, is still a cycle; the
/// error names the members of the bad loop (with their lines) and nobody else.
#[test]
fn loop_beside_a_delay_loop_names_only_its_members() {
    let mut g = spec();
    let src = g
        .add("src", Clip::new(vec![vec![1.0; 10]], 0), line(1))
        .unwrap();
    let a = g.add("a", Gain, line(2)).unwrap();
    let b = g.add("b", Gain, line(3)).unwrap();
    let d = g
        .add("echo", Delay::new(DelayTime::Frames(100)), line(4))
        .unwrap();
    let out = g.add("master", Sum::new(0), line(5)).unwrap();
    g.connect(src, a, "in", None).unwrap();
    g.connect(a, b, "in", None).unwrap();
    g.connect(b, a, "in", None).unwrap();
    g.connect(a, d, "in", None).unwrap();
    g.connect(d, a, "in", None).unwrap();
    g.connect(b, out, "in", None).unwrap();
    g.set_output(out);
    let errs = compile_err(&g);
    let text = errs.to_string();
    assert!(text.contains("\"a\" (mix.lua:2)"), "{text}");
    assert!(text.contains("\"b\" (mix.lua:3)"), "{text}");
    assert!(!text.contains("master") && !text.contains("src"), "{text}");
}

/// impulse → bus → out; bus → delay (1000 frames, −6.0206 dB) → bus: echoes at 0, 1000, 2000, …
/// of amplitude 0.5^k, and nothing in between, whatever the host block size.
#[test]
fn feedback_through_a_delay_matches_hand_computation() {
    let mut g = spec();
    let imp = add_clip(&mut g, "impulse", impulses(1, &[0]));
    let bus = g.add("bus", Sum::new(0), line(2)).unwrap();
    let d = g
        .add("echo", Delay::new(DelayTime::Frames(1000)), line(3))
        .unwrap();
    g.set_param(d, "gain_db", -6.0206).unwrap();
    g.connect(imp, bus, "in", None).unwrap();
    g.connect(bus, d, "in", None).unwrap();
    g.connect(d, bus, "in", None).unwrap();
    g.set_output(bus);
    let gain = db_to_gain(-6.0206);
    for host in [1, 64, 512, 1000, 4096] {
        let out = run(build(&g), 10_500, host);
        let hits = nonzero(&out[0]);
        assert_eq!(hits.len(), 11, "host block {host}: {hits:?}");
        let mut expect = 1.0f32;
        for (k, (i, v)) in hits.iter().enumerate() {
            assert_eq!(*i, k * 1000, "host block {host}");
            assert_eq!(*v, expect, "host block {host}, echo {k}");
            assert!((v - 0.5f32.powi(k as i32)).abs() < 1e-4 * v, "{v}");
            expect *= gain;
        }
    }
}

/// A loop shorter than a block forces smaller blocks; the result is the same.
#[test]
fn short_feedback_loop_is_exact_with_large_host_blocks() {
    let mut g = spec();
    let src: Vec<f32> = (0..300)
        .map(|i| ((i * 7919) % 101) as f32 / 101.0 - 0.5)
        .collect();
    let c = add_clip(&mut g, "src", src.clone());
    let bus = g.add("bus", Sum::new(0), None).unwrap();
    let d = g
        .add("echo", Delay::new(DelayTime::Frames(37)), None)
        .unwrap();
    g.set_param(d, "gain_db", -3.0).unwrap();
    g.connect(c, bus, "in", None).unwrap();
    g.connect(bus, d, "in", None).unwrap();
    g.connect(d, bus, "in", None).unwrap();
    g.set_output(bus);
    // y[n] = x[n] + g·y[n − 37]
    let k = db_to_gain(-3.0);
    let mut y = vec![0.0f32; 2000];
    for n in 0..2000 {
        let x = src.get(n).copied().unwrap_or(0.0);
        let fb = if n >= 37 { y[n - 37] * k } else { 0.0 };
        y[n] = 0.0 + x + fb;
    }
    for host in [1, 37, 512] {
        let out = run(build(&g), 2000, host);
        assert_eq!(out[0], y, "host block {host}");
    }
}

/// A 50-stage fader chain needs a handful of buffers, not one per node.
#[test]
fn chain_reuses_buffers() {
    let mut g = spec();
    let c = add_clip(&mut g, "src", vec![0.5; 100]);
    let mut prev = c;
    for i in 0..50 {
        let n = g.add(format!("g{i}"), Gain, None).unwrap();
        g.set_param(n, "gain_db", if i % 2 == 0 { 6.0 } else { -6.0 })
            .unwrap();
        g.connect(prev, n, "in", None).unwrap();
        prev = n;
    }
    g.set_output(prev);
    let s = build(&g);
    assert_eq!(s.node_count(), 51);
    assert!(
        s.buffer_count() <= 3,
        "{} buffers\n{}",
        s.buffer_count(),
        s.dump()
    );
    let out = run(s, 100, 64);
    assert!((out[0][50] - 0.5).abs() < 1e-4, "{}", out[0][50]);
}

/// Sixteen stereo tracks (clip → gain → pan) into a master: buffers are reused from track to
/// track, so the pool is far smaller than one stereo pair per node.
#[test]
fn tracks_into_a_bus_reuse_buffers() {
    let mut g = spec();
    let master = g.add("master", Sum::new(2), None).unwrap();
    for t in 0..16 {
        let c = add_clip(&mut g, &format!("t{t}/clip"), vec![0.01 * t as f32; 64]);
        let ga = g.add(format!("t{t}/gain"), Gain, None).unwrap();
        let p = g.add(format!("t{t}/pan"), Pan, None).unwrap();
        g.connect(c, ga, "in", None).unwrap();
        g.connect(ga, p, "in", None).unwrap();
        g.connect(p, master, "in", None).unwrap();
    }
    g.set_output(master);
    let s = build(&g);
    assert_eq!(s.node_count(), 49);
    assert!(
        s.buffer_count() < s.node_count(),
        "{} buffers for {} nodes",
        s.buffer_count(),
        s.node_count()
    );
}

#[test]
fn node_that_reaches_no_output_is_dropped_with_a_warning() {
    let mut g = spec();
    let c = add_clip(&mut g, "src", vec![1.0; 10]);
    let out = g.add("master", Gain, None).unwrap();
    let stray = g.add("stray", Gain, line(7)).unwrap();
    g.connect(c, out, "in", None).unwrap();
    g.connect(c, stray, "in", None).unwrap();
    g.set_output(out);
    let s = build(&g);
    assert_eq!(s.node_count(), 2);
    assert!(s.node_paths().all(|p| p != "stray"));
    assert_eq!(s.warnings.len(), 1);
    let w = &s.warnings[0];
    assert!(
        w.message.contains("\"stray\"") && w.message.contains("no output"),
        "{w}"
    );
    assert_eq!(w.span.as_ref().map(|s| s.line), Some(7));
}

#[test]
fn routing_mistakes_are_reported_clearly() {
    let mut g = spec();
    let a = g.add("a", Gain, line(1)).unwrap();
    let b = g.add("b", Gain, line(2)).unwrap();
    // No output yet.
    let e = compile_err(&g);
    assert!(e.to_string().contains("no output"), "{e}");
    // Unknown port: says which ports exist.
    let e = g.connect(a, b, "sidechain", line(3)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Graph);
    assert!(
        e.message.contains("'sidechain'") && e.message.contains("in"),
        "{e}"
    );
    assert_eq!(e.span.as_ref().map(|s| s.line), Some(3));
    // Duplicate name: points at the first definition.
    let e = g.add("a", Gain, line(9)).unwrap_err();
    assert!(
        e.to_string().contains("mix.lua:1") && e.to_string().contains("mix.lua:9"),
        "{e}"
    );
    // Out-of-range parameter: names the parameter, the value and the range.
    let e = g.set_param(a, "gain_db", 100.0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Param);
    assert!(
        e.message.contains("gain_db") && e.message.contains("100") && e.message.contains("48"),
        "{e}"
    );
    // Misspelt parameter: suggests the right one.
    let e = g.set_param(a, "gain_bd", 1.0).unwrap_err();
    assert!(e.message.contains("did you mean 'gain_db'"), "{e}");
}

/// Edges into a bus are summed in (port, source creation order): the same graph built with the
/// connections made in another order compiles to the same steps and the same output.
#[test]
fn summing_order_follows_creation_order_not_connection_order() {
    let build_with = |reverse: bool| {
        let mut g = spec();
        let srcs: Vec<_> = (0..5)
            .map(|i| {
                let v: Vec<f32> = (0..64)
                    .map(|n| ((n * (i + 3)) % 17) as f32 * 0.1 + 1e-3)
                    .collect();
                add_clip(&mut g, &format!("s{i}"), v)
            })
            .collect();
        let bus = g.add("bus", Sum::new(0), None).unwrap();
        let order: Vec<_> = if reverse {
            srcs.iter().rev().collect()
        } else {
            srcs.iter().collect()
        };
        for s in order {
            g.connect(*s, bus, "in", None).unwrap();
        }
        g.set_output(bus);
        build(&g)
    };
    let (a, b) = (build_with(false), build_with(true));
    let mixes = |s: &mixdown::graph::Schedule| -> Vec<Step> {
        s.steps()
            .iter()
            .copied()
            .filter(|st| matches!(st, Step::Mix { .. }))
            .collect()
    };
    assert_eq!(mixes(&a), mixes(&b));
    assert_eq!(run(a, 64, 64), run(b, 64, 64));
}

/// impulse → bus → out with bus → delay → bus, returning the non-zero output samples.
fn echo_loop(delays: &[u64], gain_db: f64, frames: usize, host: usize) -> Vec<(usize, f32)> {
    let mut g = spec();
    let imp = add_clip(&mut g, "impulse", impulses(1, &[0]));
    let bus = g.add("bus", Sum::new(0), None).unwrap();
    g.connect(imp, bus, "in", None).unwrap();
    let mut prev = bus;
    for (i, d) in delays.iter().enumerate() {
        let n = g
            .add(format!("echo{i}"), Delay::new(DelayTime::Frames(*d)), None)
            .unwrap();
        g.set_param(n, "gain_db", gain_db).unwrap();
        g.connect(prev, n, "in", None).unwrap();
        prev = n;
    }
    g.connect(prev, bus, "in", None).unwrap();
    g.set_output(bus);
    nonzero(&run(build(&g), frames, host)[0])
}

/// Two delays in one loop: the echo period is their sum.
#[test]
fn loop_through_two_delays_echoes_at_their_sum() {
    for host in [1, 100, 512] {
        let hits = echo_loop(&[100, 150], 0.0, 1100, host);
        let want: Vec<(usize, f32)> = (0..5).map(|k| (k * 250, 1.0)).collect();
        assert_eq!(hits, want, "host block {host}");
    }
}

/// A loop through a zero-length delay still needs one frame to close: it echoes every frame,
/// not every 512 frames.
#[test]
fn loop_through_a_zero_frame_delay_acts_as_one_frame() {
    for host in [1, 64, 512] {
        let hits = echo_loop(&[0], -6.0206, 20, host);
        assert_eq!(hits.len(), 20, "host block {host}: {hits:?}");
        for (k, (i, v)) in hits.iter().enumerate() {
            assert_eq!(*i, k);
            assert!((v - 0.5f32.powi(k as i32)).abs() < 1e-4, "{v}");
        }
    }
}

static NEEDS_96K: mixdown::node::NodeDesc = mixdown::node::NodeDesc {
    kind: "test_needs_96k",
    inputs: &[mixdown::node::IN_FOLLOW],
    params: &[],
};

/// A node that can only be prepared at 96 kHz (as a design valid at one rate may not be at
/// another): its `prepare` fails at the test session's rate.
#[derive(Clone, Debug)]
struct Needs96k;

impl mixdown::node::Node for Needs96k {
    fn desc(&self) -> &'static mixdown::node::NodeDesc {
        &NEEDS_96K
    }
    fn prepare(&mut self, cfg: &mixdown::node::ProcessConfig) -> Result<(), String> {
        if cfg.sample_rate == 96000.0 {
            Ok(())
        } else {
            Err("its design needs a 96000 Hz stream".into())
        }
    }
    fn reset(&mut self) {}
    fn process(
        &mut self,
        _cx: &mut mixdown::node::ProcessContext<'_>,
    ) -> mixdown::node::ProcessStatus {
        panic!("a node whose prepare failed must never run")
    }
}

#[test]
fn a_node_that_cannot_be_prepared_is_a_compile_error_naming_it_and_its_line() {
    let mut g = spec();
    let src = g
        .add("t/clip", Clip::new(vec![vec![1.0; 10]], 0), line(1))
        .unwrap();
    let picky = g.add("t/picky", Needs96k, line(2)).unwrap();
    let out = g.add("master", Sum::new(0), line(3)).unwrap();
    g.connect(src, picky, "in", line(2)).unwrap();
    g.connect(picky, out, "in", line(2)).unwrap();
    g.set_output(out);
    let errs = compile_err(&g);
    let e = &errs.0[0];
    let shown = e.to_string();
    assert!(
        shown.starts_with("mix.lua:2: test_needs_96k \"t/picky\" cannot run at"),
        "{shown}"
    );
    assert!(
        shown.contains("its design needs a 96000 Hz stream"),
        "{shown}"
    );
}
