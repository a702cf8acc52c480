//! Output does not depend on the block size or the thread count, for every node kind of the
//! registry with every automatable parameter automated (set, linear, exponential, target and
//! curve events), with silence in the programme (so nodes go quiet and are skipped) and tails
//! after it. Renders at blocks 1, 17, 64, 512 and 2048 on one thread, and 2048 on two threads,
//! must be bit-identical and equally long (in the spirit of FunDSP's tick-versus-block check).

mod harness;

use harness::*;
use mixdown::param::Unit;
use mixdown::registry::{self, NodeKind, Role};
use mixdown::render::RenderOptions;

const SR: f64 = 48000.0;

/// Automation of parameter `p` touching every event type, inside its range (and below Nyquist).
fn automation(handle: &str, p: &mixdown::param::ParamDesc) -> String {
    let (lo, mut hi) = (p.min as f64, p.max as f64);
    if p.unit == Unit::Hz {
        hi = hi.min(0.45 * SR);
    }
    let at = |f: f64| lo + f * (hi - lo);
    let (a, b, c, d) = if p.unit == Unit::Switch {
        (1.0, 0.0, 1.0, 0.0)
    } else {
        (at(0.3), at(0.7), at(0.4), at(0.55))
    };
    // An exponential ramp needs both ends non-zero and of one sign: aim at b from c when both
    // qualify (the engine falls back to linear otherwise, which is fine too).
    format!(
        "{handle}.{id}:set(0.05, {a}):linear_to(0.2, {b}):exp_to(0.35, {c}):target(0.5, {d}, 0.05)\n\
         {handle}.{id}:curve {{ {{0.7, {a}}}, {{0.75, {b}}}, {{0.8, {c}}} }}\n",
        id = p.id
    )
}

/// A script exercising insert `kind` on a bus fed by two tracks with a gap between them.
fn insert_script(kind: &NodeKind) -> String {
    let body = match kind.name {
        "eq" => "b:eq { mix.bell { hz = 1000, q = 1, gain_db = 3 }, mix.high_shelf { hz = 6000, gain_db = -2 }, mix.highpass { hz = 80 } }".to_string(),
        "multiband" => "b:multiband { crossovers_hz = { 300, 3000 } }".to_string(),
        "delay_line" => "b:delay_line { time_ms = 7.3 }".to_string(),
        "loudness" => "b:loudness { target_lufs = -20 }".to_string(),
        "comp" => "b:comp { sidechain = u, lookahead_ms = 1.5 }".to_string(),
        "gate" => "b:gate { sidechain = t }".to_string(),
        name => format!("b:{name} {{}}"),
    };
    let mut s = format!(
        "mix.session {{ sample_rate = {SR}, length_s = 1 }}\n\
         local t = mix.track('t', {{ noise = 'white', level_db = -12, length_s = 0.3 }})\n\
         local u = mix.track('u', {{ osc = 'saw', hz = 220, level_db = -9, start_s = 0.45, length_s = 0.4 }})\n\
         local b = mix.bus('b')\nt:to(b)\nu:to(b)\nlocal h = {body}\n"
    );
    let ev = mixdown::script::evaluate_source(
        &s,
        "probe.lua",
        std::path::Path::new("."),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}\n{s}", kind.name));
    // Automate every parameter the node has with these options.
    let node = ev
        .spec
        .nodes
        .values()
        .find(|n| n.path == format!("b/{}", kind.name))
        .unwrap();
    for (i, p) in kind.desc.params.iter().enumerate() {
        if node.has_param(i) {
            s.push_str(&automation("h", p));
        }
    }
    s
}

/// A script exercising source `kind` with its parameters automated.
fn source_script(kind: &NodeKind, selector: &str) -> String {
    let extra = match kind.name {
        "drum" => ", pattern = 'X.x.o.x.X..x'",
        "synth" => ", pattern = 'c3 . eb3 _ g3:m . c4+e4'",
        _ => "",
    };
    let choice = kind
        .option(selector)
        .map(|o| o.range_text())
        .unwrap_or_default();
    let first = choice.split('"').nth(1).unwrap_or("sine");
    let mut s = format!(
        "mix.session {{ sample_rate = {SR}, length_s = 1 }}\n\
         local t = mix.track('t', {{ {selector} = '{first}', start_s = 0.1, length_s = 0.6{extra} }})\n\
         local h = t\n"
    );
    // A track's source parameters are reached through `track.source`.
    for p in kind.desc.params {
        s.push_str(&automation("t.source", p));
    }
    s
}

fn render(src: &str, block: usize, threads: usize) -> Vec<Vec<f32>> {
    let dir = Dir::new();
    dir.render_with(
        src,
        RenderOptions {
            block,
            threads,
            max_tail_s: 2.0,
            ..Default::default()
        },
    )
    .out
}

fn check(name: &str, src: &str) {
    let reference = render(src, 2048, 1);
    assert!(
        reference.iter().flatten().any(|x| *x != 0.0),
        "{name}: the render is silent"
    );
    for (block, threads) in [(1, 1), (17, 1), (64, 1), (512, 1), (2048, 2)] {
        let got = render(src, block, threads);
        assert_eq!(
            got[0].len(),
            reference[0].len(),
            "{name}: length at block {block}, {threads} threads"
        );
        for (c, (g, r)) in got.iter().zip(&reference).enumerate() {
            if let Some(i) = g
                .iter()
                .zip(r)
                .position(|(a, b)| a.to_bits() != b.to_bits() && !(*a == 0.0 && *b == 0.0))
            {
                panic!(
                    "{name}: block {block}, {threads} threads: channel {c} differs first at frame {i} ({:.3} s): {} vs {}\n{src}",
                    i as f64 / SR,
                    g[i],
                    r[i]
                );
            }
        }
    }
    let params = src.matches(":curve").count();
    eprintln!(
        "{name:<12} {params} automated parameter(s), {} frames × {} ch: bit-identical at blocks 1, 17, 64, 512, 2048 and on 2 threads",
        reference[0].len(),
        reference.len()
    );
}

#[test]
fn every_insert_is_block_size_and_thread_invariant() {
    let mut failures = Vec::new();
    for kind in registry::inserts() {
        let src = insert_script(kind);
        if let Err(e) = std::panic::catch_unwind(|| check(kind.name, &src)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "panic".into());
            failures.push(msg.lines().next().unwrap_or("").to_string());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_source_is_block_size_and_thread_invariant() {
    let mut failures = Vec::new();
    for kind in registry::sources() {
        let Role::Source { selector } = kind.role else {
            unreachable!()
        };
        let src = source_script(kind, selector);
        if let Err(e) = std::panic::catch_unwind(|| check(kind.name, &src)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "panic".into());
            failures.push(msg.lines().next().unwrap_or("").to_string());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
