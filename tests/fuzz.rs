//! Fuzzing with bounded time (proptest; the number of cases is fixed, `PROPTEST_CASES` changes
//! it). Every case must end in a result or a clear error — never a panic:
//! - the script front end, with random programs built from the API's vocabulary (every insert
//!   and generator of the registry, their options and parameters, automation, routing, render
//!   jobs) mixed with wrong types, out-of-range and non-finite values; what evaluates must also
//!   survive the trip through the evaluator's wire format, validate, compile and render;
//! - the evaluator's wire format itself: mutated results of real scripts are either refused by
//!   `GraphSpec::validate` or compile;
//! - the decoders, with mutated and truncated audio files of every supported format.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mixdown::graph::{compile, CompileConfig};
use mixdown::registry::{self, OptKind};
use mixdown::render::{try_render_to_vec, RenderOptions};
use mixdown::script::{evaluate_source, Evaluated, ScriptOptions};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A Lua value for `key`: usually valid for it when it is a known option or parameter; one in
/// ten is out of range or not finite, one in twenty of the wrong type.
fn value(kind: &'static registry::NodeKind, key: &str, pick: u8, x: f64) -> String {
    let junk = pick % 20;
    if junk == 0 {
        return ["true", "'x'", "{}", "{1, 2}", "nil", "mix.master"][(x * 5.99) as usize].into();
    }
    let wild = || ["0/0", "1/0", "-1/0", "2^62", "-1e9", "1e9"][(x * 5.99) as usize].to_string();
    if junk <= 2 {
        return wild();
    }
    if let Some(o) = kind.option(key) {
        return match o.kind {
            OptKind::Number {
                min,
                max,
                integer,
                nyquist,
                ..
            } => {
                let top = nyquist.map_or(max, |f| max.min(f * 4000.0));
                let v = min + x * (top - min);
                if integer {
                    format!("{}", v.round())
                } else {
                    format!("{v}")
                }
            }
            OptKind::Bool => (x > 0.5).to_string(),
            OptKind::Choice(c) => format!("{:?}", c[(x * (c.len() as f64 - 0.01)) as usize]),
            OptKind::Text(_) if kind.name == "drum" => {
                ["'x...X...'", "'X.o.x-..|x...'", "''"][(x * 2.99) as usize].into()
            }
            OptKind::Text(_) => {
                ["'c2 . eb2 _'", "'c3:m7+g4 . 60'", "'zz'"][(x * 2.99) as usize].into()
            }
            OptKind::List { min, .. } => format!(
                "{{{}, {}}}",
                min + 100.0 + x * 500.0,
                min + 1000.0 + x * 2000.0
            ),
            OptKind::Words { choices, .. } => {
                format!(
                    "{{{:?}}}",
                    choices[(x * (choices.len() as f64 - 0.01)) as usize]
                )
            }
        };
    }
    if let Some(p) = kind.desc.params.iter().find(|p| p.id == key) {
        let top = if p.unit == mixdown::param::Unit::Hz {
            (p.max as f64).min(3900.0)
        } else {
            p.max as f64
        };
        return format!("{}", p.min as f64 + x * (top - p.min as f64));
    }
    format!("{}", x * 10.0)
}

/// One statement of a random script. `n` counts the strips made so far (named s0, s1, …).
#[derive(Clone, Debug)]
enum Stmt {
    Track {
        gen: Index,
        opts: Vec<(Index, u8, f64)>,
    },
    Bus,
    Insert {
        strip: Index,
        kind: Index,
        opts: Vec<(Index, u8, f64)>,
        automate: Option<(Index, u8, f64, f64)>,
    },
    Route {
        from: Index,
        to: Index,
        send: bool,
    },
    Fader {
        strip: Index,
        db: f64,
    },
    Render {
        pick: u8,
    },
    Junk(u8),
}

fn stmt() -> impl Strategy<Value = Stmt> {
    let opts = prop::collection::vec((any::<Index>(), any::<u8>(), 0.0f64..1.0), 0..5);
    prop_oneof![
        3 => (any::<Index>(), opts.clone()).prop_map(|(gen, opts)| Stmt::Track { gen, opts }),
        1 => Just(Stmt::Bus),
        4 => (any::<Index>(), any::<Index>(), opts, prop::option::of((any::<Index>(), any::<u8>(), 0.0f64..1.0, 0.0f64..20.0)))
            .prop_map(|(strip, kind, opts, automate)| Stmt::Insert { strip, kind, opts, automate }),
        2 => (any::<Index>(), any::<Index>(), any::<bool>()).prop_map(|(from, to, send)| Stmt::Route { from, to, send }),
        1 => (any::<Index>(), -130.0f64..60.0).prop_map(|(strip, db)| Stmt::Fader { strip, db }),
        1 => any::<u8>().prop_map(|pick| Stmt::Render { pick }),
        1 => any::<u8>().prop_map(Stmt::Junk),
    ]
}

fn program(stmts: &[Stmt], sr_pick: u8) -> String {
    let sr = [8000, 44100, 48000, 96000, 22050][sr_pick as usize % 5];
    let mut s = format!("mix.session {{ sample_rate = {sr}, tempo_bpm = 120, length_s = 0.25 }}\n");
    let mut strips: Vec<String> = vec!["mix.master".into()];
    let sources: Vec<_> = registry::sources().collect();
    let inserts: Vec<_> = registry::inserts().collect();
    for st in stmts {
        match st {
            Stmt::Track { gen, opts } => {
                let k = sources[gen.index(sources.len())];
                let mut t = String::new();
                let keys: Vec<&str> = k.script_keys();
                let selector = match k.role {
                    registry::Role::Source { selector } => selector,
                    _ => unreachable!(),
                };
                let mut used = vec![selector];
                if k.option("pattern").is_some() {
                    t.push_str(&format!("pattern = {}, ", value(k, "pattern", 3, 0.1)));
                    used.push("pattern");
                }
                for (i, pick, x) in opts {
                    let key = if i.index(40) == 0 {
                        "nonsense_key"
                    } else {
                        keys[i.index(keys.len())]
                    };
                    if !used.contains(&key) {
                        used.push(key);
                        t.push_str(&format!("{key} = {}, ", value(k, key, *pick, *x)));
                    }
                }
                let choice = value(k, selector, 3, 0.3);
                let name = format!("s{}", strips.len());
                s.push_str(&format!(
                    "local {name} = mix.track('{name}', {{ {selector} = {choice}, {t}}})\n"
                ));
                strips.push(name);
            }
            Stmt::Bus => {
                let name = format!("s{}", strips.len());
                s.push_str(&format!("local {name} = mix.bus('{name}')\n"));
                strips.push(name);
            }
            Stmt::Insert {
                strip,
                kind,
                opts,
                automate,
            } => {
                let k = inserts[kind.index(inserts.len())];
                let target = &strips[strip.index(strips.len())];
                let keys: Vec<&str> = k.script_keys();
                let mut t = String::new();
                let mut used: Vec<&str> = Vec::new();
                if k.name == "eq" {
                    t.push_str("mix.bell { hz = 1000, q = 1, gain_db = 3 }, mix.high_shelf { hz = 3000, slope = 1 }, ");
                    used.push("bands");
                }
                for (i, pick, x) in opts {
                    let key = if i.index(40) == 0 || keys.is_empty() {
                        "freq"
                    } else {
                        keys[i.index(keys.len())]
                    };
                    // One spelling per target (time_ms or time_s or note), no band beyond two.
                    let clash = ["time_ms", "time_s", "note", "frames"].contains(&key)
                        && used
                            .iter()
                            .any(|u| ["time_ms", "time_s", "note", "frames"].contains(u));
                    let band = key.starts_with('b')
                        && key
                            .as_bytes()
                            .get(1)
                            .is_some_and(|c| c.is_ascii_digit() && *c > b'2');
                    if !used.contains(&key) && !clash && !band && key != "target_lufs" {
                        used.push(key);
                        t.push_str(&format!("{key} = {}, ", value(k, key, *pick, *x)));
                    }
                }
                s.push_str(&format!("local h = {target}:{}{{ {t}}}\n", k.name));
                if let Some((p, pick, x, time)) = automate {
                    if !k.desc.params.is_empty() {
                        let id = k.desc.params[p.index(k.desc.params.len())].id;
                        let v = value(k, id, *pick, *x);
                        s.push_str(&format!(
                            "pcall(function() h.{id}:set({time}, {v}):linear_to({}, {v}) end)\n",
                            time + 0.1
                        ));
                    }
                }
            }
            Stmt::Route { from, to, send } => {
                let a = &strips[from.index(strips.len())];
                let b = &strips[to.index(strips.len())];
                let m = if *send { "send" } else { "to" };
                s.push_str(&format!("pcall(function() {a}:{m}({b}) end)\n"));
            }
            Stmt::Fader { strip, db } => {
                let a = &strips[strip.index(strips.len())];
                s.push_str(&format!("{a}.gain_db = {db}\n"));
            }
            Stmt::Render { pick } => {
                let p = ["out/x.wav", "../x.wav", "/tmp/x.wav", "x.flac", ""][*pick as usize % 5];
                s.push_str(&format!(
                    "mix.render {{ path = '{p}', format = 'wav24' }}\n"
                ));
            }
            Stmt::Junk(j) => s.push_str(
                [
                    "local x = mix.note('1/8T')\n",
                    "local y = mix.bar(3) + mix.beat(2)\n",
                    "pcall(require, 'mastering.streaming')\n",
                    "pcall(function() mix.master:loudness { target_lufs = -14 } end)\n",
                    "print(#mix.args)\n",
                ][*j as usize % 5],
            ),
        }
    }
    s
}

/// Everything after a successful evaluation: the wire format, validation, compile, a short
/// render with no NaN leaving the graph.
fn after_evaluation(ev: Evaluated) {
    let bytes = serde_json::to_vec(&ev).expect("a script's graph serialises");
    let mut back: Evaluated = serde_json::from_slice(&bytes).expect("and deserialises");
    back.spec.validate().expect("what a script built validates");
    if let Ok(s) = compile(&back.spec, CompileConfig::default()) {
        let (out, _) = try_render_to_vec(
            s,
            &RenderOptions {
                max_tail_s: 0.5,
                ..Default::default()
            },
        )
        .expect("renders");
        assert!(out.iter().flatten().all(|x| x.is_finite()));
    }
}

static EVALUATED: AtomicUsize = AtomicUsize::new(0);
static TRIED: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(160), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_scripts_never_panic(stmts in prop::collection::vec(stmt(), 1..14), sr in any::<u8>()) {
        let src = program(&stmts, sr);
        let dir = tempfile::tempdir().unwrap();
        let opts = ScriptOptions { time_limit: Duration::from_secs(5), ..Default::default() };
        TRIED.fetch_add(1, Ordering::Relaxed);
        let r = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(ev) = evaluate_source(&src, "fuzz.lua", dir.path(), &opts) {
                EVALUATED.fetch_add(1, Ordering::Relaxed);
                after_evaluation(ev);
            }
        }));
        prop_assert!(r.is_ok(), "panic on:\n{src}");
    }
}

/// The generator must reach the compiler and the renderer often enough to test them.
#[test]
fn random_scripts_reach_the_renderer() {
    // A fixed seed: the share is a property of the generator, measured the same way every run
    // (with a random seed, 60 cases scattered between 9 and 15 evaluated).
    let config = ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let rng = proptest::test_runner::TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(config, rng);
    let (mut ok, mut all) = (0, 0);
    let strategy = (prop::collection::vec(stmt(), 1..8), any::<u8>());
    for _ in 0..200 {
        let (stmts, sr) = strategy.new_tree(&mut runner).unwrap().current();
        let dir = tempfile::tempdir().unwrap();
        all += 1;
        if evaluate_source(
            &program(&stmts, sr),
            "f.lua",
            dir.path(),
            &ScriptOptions::default(),
        )
        .is_ok()
        {
            ok += 1;
        }
    }
    eprintln!("{ok} of {all} random scripts evaluated");
    assert!(ok * 6 >= all, "only {ok} of {all} random scripts evaluated: the fuzzer tests little beyond the error paths");
}

const VALID: &str = r#"
mix.session { sample_rate = 48000, length_s = 0.2 }
local a = mix.track("a", { osc = "saw", hz = 220 })
local b = mix.bus("b")
a:eq { mix.bell { hz = 1000, q = 1, gain_db = 3 } }
a:comp { threshold_db = -20, sidechain = a }
a:to(b)
a:send(b, { gain_db = -6 })
b:delay { time_ms = 50, feedback = 0.3 }
b:delay_line { frames = 64 }
b.gain_db:set(0.1, -6):linear_to(0.15, 0)
mix.master:limit { ceiling_db = -1 }
"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    /// Mutated evaluator results: a byte changed, inserted or removed, or a number replaced.
    #[test]
    fn mutated_wire_results_are_refused_or_compile(pos in any::<Index>(), byte in any::<u8>(), how in 0u8..4) {
        let dir = tempfile::tempdir().unwrap();
        let ev = evaluate_source(VALID, "v.lua", dir.path(), &ScriptOptions::default()).unwrap();
        let mut bytes = serde_json::to_vec(&ev).unwrap();
        let i = pos.index(bytes.len());
        match how {
            0 => bytes[i] = byte,
            1 => bytes.insert(i, byte),
            2 => { bytes.remove(i); }
            _ => {
                // Replace a run of digits by a large or negative number.
                let text = String::from_utf8_lossy(&bytes).to_string();
                let t = text.replacen("48000", ["1e308", "-1", "0", "4294967296"][byte as usize % 4], 1);
                bytes = t.into_bytes();
            }
        }
        let r = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(mut back) = serde_json::from_slice::<Evaluated>(&bytes) {
                if back.spec.validate().is_ok() {
                    if let Ok(s) = compile(&back.spec, CompileConfig::default()) {
                        let _ = try_render_to_vec(s, &RenderOptions { max_tail_s: 0.2, ..Default::default() });
                    }
                }
            }
        }));
        prop_assert!(r.is_ok(), "panic on mutation {how} at {i}");
    }
}

const FIXTURES: &[&str] = &[
    "sine1k_44k_mono_s16.wav",
    "sine1k_44k_mono_s24.wav",
    "sine1k_44k_mono_f32.wav",
    "sine1k_44k_mono_f64.wav",
    "sine1k_48k_stereo.flac",
    "sine1k_48k_stereo.mp3",
    "sine1k_48k_stereo.ogg",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(192), failure_persistence: None, ..ProptestConfig::default() })]

    /// Mutated audio files: bytes flipped (mostly in the header), cut short, or a header field
    /// overwritten with an extreme value. Probe, stream, measure and play them.
    #[test]
    fn mutated_audio_files_never_panic(
        file in 0usize..FIXTURES.len(),
        edits in prop::collection::vec((0usize..256, any::<u8>()), 1..8),
        cut in prop::option::of(any::<Index>()),
        field in prop::option::of((0usize..48, any::<u32>())),
    ) {
        let mut bytes = std::fs::read(Path::new("tests/fixtures").join(FIXTURES[file])).unwrap();
        for (at, b) in &edits {
            let i = at % bytes.len();
            bytes[i] = *b;
        }
        if let Some((at, v)) = field {
            let i = (at / 4 * 4).min(bytes.len().saturating_sub(4));
            bytes[i..i + 4].copy_from_slice(&v.to_le_bytes());
        }
        if let Some(c) = cut {
            let n = c.index(bytes.len());
            bytes.truncate(n.max(1));
        }
        let dir = tempfile::tempdir().unwrap();
        let ext = FIXTURES[file].rsplit('.').next().unwrap();
        let path = dir.path().join(format!("m.{ext}"));
        std::fs::write(&path, &bytes).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| {
            let _ = mixdown::measure::measure_file(&path);
            let _ = mixdown::io::decode::read_all_audio(&path);
            let src = format!("mix.session {{ sample_rate = 44100 }}\nmix.track('a', 'm.{ext}')\n");
            if let Ok(ev) = evaluate_source(&src, "m.lua", dir.path(), &ScriptOptions::default()) {
                if let Ok(s) = compile(&ev.spec, CompileConfig::default()) {
                    let _ = try_render_to_vec(s, &RenderOptions { max_tail_s: 0.1, ..Default::default() });
                }
            }
        }));
        prop_assert!(r.is_ok(), "panic on {} with edits {:?} cut {:?} field {:?}", FIXTURES[file], edits, cut, field);
    }
}
