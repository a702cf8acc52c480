//! Reloads that change the graph crossfade only the paths they change. Two generator tracks are
//! panned hard left and hard right, so each channel carries one path: the path the edit does not
//! touch must play on sample for sample through the reload, and the changed one must crossfade
//! equal-power over 30 ms — no dip, no click, no gap. A change that moves the latency of kept
//! paths cannot crossfade by path and must fall back to a short fade of the whole output.

mod common;

use std::sync::atomic::Ordering;

use mixdown::graph::transition::{plan_reload, transition_spec, CROSSFADE_S};
use mixdown::graph::{CompileConfig, EdgeFade, GraphSpec};
use mixdown::node::Mode;
use mixdown::nodes::{Gain, Polarity};
use mixdown::reload::Reloader;
use mixdown::rt::{processor_pair, Controller, Processor};
use mixdown::script::ScriptOptions;

const BLOCK: usize = 128;
const SR: f64 = common::SR;

fn script(a_inserts: &str, with_b: bool) -> String {
    let mut s = String::from(
        "mix.session { sample_rate = 48000, length_s = 60 }\n\
         local a = mix.track('a', { osc = 'sine', hz = 440, level_db = -6 })\n\
         a.pan = -1\n",
    );
    s.push_str(a_inserts);
    s.push('\n');
    if with_b {
        s.push_str(
            "local b = mix.track('b', { osc = 'sine', hz = 1000, level_db = -6 })\n\
             b.pan = 1\n",
        );
    }
    s
}

struct Session {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    reloader: Reloader,
    proc: Processor,
    ctl: Controller,
    left: Vec<f32>,
    right: Vec<f32>,
}

impl Session {
    fn new(text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("song.lua");
        std::fs::write(&path, text).unwrap();
        let mut reloader = Reloader::new(path.clone(), ScriptOptions::default());
        let first = reloader.build(0).unwrap();
        reloader.mark_sent(&first.schedule);
        let (proc, ctl) = processor_pair(*first.schedule);
        Self {
            _dir: dir,
            path,
            reloader,
            proc,
            ctl,
            left: Vec::new(),
            right: Vec::new(),
        }
    }

    fn play(&mut self, blocks: usize) {
        let (mut l, mut r) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
        for _ in 0..blocks {
            self.proc.process(&mut [&mut l, &mut r]);
            self.left.extend_from_slice(&l);
            self.right.extend_from_slice(&r);
            self.ctl.collect_garbage();
        }
    }

    /// Saves `text` and queues the reload; returns whether it crossfades by path.
    fn reload(&mut self, text: &str) -> bool {
        std::fs::write(&self.path, text).unwrap();
        let b = self.reloader.build(self.proc.position()).unwrap();
        self.reloader.mark_sent(&b.schedule);
        let by_path = b.crossfades_paths;
        assert!(self.ctl.swap(b.schedule).is_ok());
        by_path
    }
}

fn fade_len() -> usize {
    (CROSSFADE_S * SR).round() as usize
}

/// Asserts two recordings are identical, naming the first frame that differs.
fn assert_same(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some(k) = got.iter().zip(want).position(|(a, b)| a != b) {
        let last = got.iter().zip(want).rposition(|(a, b)| a != b).unwrap_or(k);
        panic!(
            "{what}: frames {k}..={last} differ; frame {k} is {} instead of {}",
            got[k], want[k]
        );
    }
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

#[test]
fn removing_a_track_fades_it_out_and_leaves_the_other_untouched() {
    let both = script("", true);
    let mut reference = Session::new(&both);
    reference.play(100);
    let mut s = Session::new(&both);
    s.play(40);
    assert!(
        s.reload(&script("", false)),
        "a removed track crossfades by path"
    );
    s.play(60);
    let at = 40 * BLOCK;
    // The left track is not part of the change: bit-identical to a render without the reload.
    assert_same(&s.left, &reference.left, "the kept track was disturbed");
    // The right track fades out equal-power (cos) from the first frame of the swap.
    let len = fade_len();
    for (k, (&got, &full)) in s.right.iter().zip(&reference.right).enumerate() {
        let g = if k < at {
            1.0
        } else {
            let t = ((k - at) as f32 / len as f32).min(1.0);
            (std::f32::consts::FRAC_PI_2 * (1.0 - t)).sin()
        };
        assert!(
            (got - g * full).abs() < 1e-5,
            "frame {k}: {got} vs {}",
            g * full
        );
    }
    assert_eq!(peak(&s.right[at + len..]), 0.0, "the removed track is gone");
    let shared = s.ctl.shared();
    assert_eq!(shared.path_crossfades.load(Ordering::Relaxed), 1);
    assert_eq!(
        shared.crossfades.load(Ordering::Relaxed),
        0,
        "no output fade"
    );
}

#[test]
fn inserting_an_eq_crossfades_that_track_without_a_dip() {
    let before = script("", true);
    let mut reference = Session::new(&before);
    reference.play(150);
    let mut s = Session::new(&before);
    s.play(50);
    let boosted = "a:eq { mix.bell { hz = 440, q = 1, gain_db = 12 } }";
    assert!(
        s.reload(&script(boosted, true)),
        "an insert crossfades by path"
    );
    s.play(100);
    let at = 50 * BLOCK;
    // The other track plays on, sample for sample.
    assert_same(
        &s.right,
        &reference.right,
        "the untouched track was disturbed",
    );
    // The changed track goes from dry to +12 dB without dropping below the dry level on the way
    // (a whole-output fade would dip to silence), and without a click.
    let ms = (SR / 1000.0) as usize;
    let dry = peak(&s.left[at - 10 * ms..at]);
    let min_window = s.left[at..at + 2 * fade_len()]
        .chunks(ms + ms / 4) // longer than one 440 Hz period
        .map(peak)
        .fold(f32::MAX, f32::min);
    assert!(
        min_window > 0.95 * dry,
        "dip during the crossfade: {min_window} vs dry {dry}"
    );
    let wet = peak(&s.left[s.left.len() - 20 * ms..]);
    let gain_db = 20.0 * (wet / dry).log10();
    assert!((gain_db - 12.0).abs() < 0.1, "settled at {gain_db:.2} dB");
    let max_step = s
        .left
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    // A 440 Hz sine of peak p steps by at most 2π·440/48000·p per sample.
    let sine_step = std::f32::consts::TAU * 440.0 / SR as f32 * wet;
    assert!(max_step < 1.1 * sine_step, "click: step {max_step}");
    assert_eq!(s.ctl.shared().crossfades.load(Ordering::Relaxed), 0);
}

#[test]
fn moving_the_latency_of_kept_paths_falls_back_to_an_output_fade() {
    let before = script("", true);
    let mut s = Session::new(&before);
    s.play(50);
    // A lookahead limiter on the left track delays it by 5 ms, so the right track (kept) must be
    // delayed too: no crossfade by path can keep it seamless.
    let limited = "a:limit { ceiling_db = -1, lookahead_ms = 5 }";
    assert!(!s.reload(&script(limited, true)));
    s.play(100);
    let shared = s.ctl.shared();
    assert_eq!(shared.crossfades.load(Ordering::Relaxed), 1);
    assert_eq!(shared.path_crossfades.load(Ordering::Relaxed), 0);
    let max_step = s
        .right
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    let p = peak(&s.right);
    let sine_step = std::f32::consts::TAU * 1000.0 / SR as f32 * p;
    assert!(max_step < 1.1 * sine_step, "click: step {max_step}");
}

#[test]
fn a_track_added_fades_in_from_the_frame_of_the_reload() {
    let mut s = Session::new(&script("", false));
    s.play(40);
    assert!(s.reload(&script("", true)));
    s.play(60);
    let at = 40 * BLOCK;
    assert_eq!(peak(&s.right[..at]), 0.0);
    // After the fade the new track is at full level: a render of the new script in which the
    // track starts at the frame of the reload (oscillators start at phase 0 when they start).
    let starts_then = script("", true).replace(
        "level_db = -6 })\nb.pan",
        &format!("level_db = -6, start_s = {} }})\nb.pan", at as f64 / SR),
    );
    assert_ne!(starts_then, script("", true));
    let mut reference = Session::new(&starts_then);
    reference.play(100);
    let len = fade_len();
    for k in at..s.right.len() {
        let t = ((k - at) as f32 / len as f32).min(1.0);
        let want = (std::f32::consts::FRAC_PI_2 * t).sin() * reference.right[k];
        assert!(
            (s.right[k] - want).abs() < 1e-5,
            "frame {k}: {} instead of {want}",
            s.right[k]
        );
    }
    assert_same(&s.left, &reference.left, "the kept track");
}

#[test]
fn rerouting_a_track_crossfades_between_the_two_routes() {
    // Track b feeds bus x in both versions; track a moves from x to the master.
    let b_to_x = "\nb:to(x)\n";
    let via_bus = script("local x = mix.bus('x')\na:to(x)", true) + b_to_x;
    let direct = script("local x = mix.bus('x')", true) + b_to_x;
    let mut s = Session::new(&via_bus);
    s.play(50);
    assert!(s.reload(&direct), "a new route crossfades by path");
    s.play(100);
    let at = 50 * BLOCK;
    let ms = (SR / 1000.0) as usize;
    let before = peak(&s.left[at - 10 * ms..at]);
    let windows: Vec<f32> = s.left[at..at + 2 * fade_len()]
        .chunks(ms + ms / 4)
        .map(peak)
        .collect();
    let lo = windows.iter().copied().fold(f32::MAX, f32::min);
    let hi = windows.iter().copied().fold(0.0, f32::max);
    // Both routes carry the same signal: an equal-power fade swells by at most √2 (+3 dB) in the
    // middle and never dips.
    assert!(lo > 0.95 * before, "dip: {lo} vs {before}");
    assert!(
        hi < 1.001 * std::f32::consts::SQRT_2 * before,
        "swell: {hi} vs {before}"
    );
    assert!(
        hi > 1.2 * before,
        "the two routes overlap: {hi} vs {before}"
    );
    let after = peak(&s.left[s.left.len() - 10 * ms..]);
    assert!((after / before - 1.0).abs() < 1e-3, "{after} vs {before}");
    assert_eq!(s.ctl.shared().path_crossfades.load(Ordering::Relaxed), 1);
}

/// DC into node "x" (a gain or a polarity flip, the same path in both versions) into "out".
fn dc_through(polarity: bool) -> GraphSpec {
    let mut g = common::spec();
    let c = common::add_clip(&mut g, "dc", vec![1.0; 48_000]);
    let x = if polarity {
        g.add("x", Polarity, common::line(2)).unwrap()
    } else {
        g.add("x", Gain, common::line(2)).unwrap()
    };
    let out = g.add("out", Gain, common::line(3)).unwrap();
    g.connect(c, x, "in", None).unwrap();
    g.connect(x, out, "in", None).unwrap();
    g.set_output(out);
    g
}

#[test]
fn a_node_changed_in_kind_crossfades_from_the_old_instance_to_the_new_one() {
    let (old, new) = (dc_through(false), dc_through(true));
    // The transition graph holds both "x" nodes; the old one's connection into "out" fades
    // out, the new one's fades in.
    let t = transition_spec(&old, &new).unwrap();
    assert_eq!(t.nodes.values().filter(|n| n.path == "x").count(), 2);
    let mut fades: Vec<EdgeFade> = t.graph.edge_weights().map(|e| e.fade).collect();
    fades.sort_by_key(|f| *f as u8);
    assert_eq!(
        fades,
        [EdgeFade::None, EdgeFade::None, EdgeFade::Out, EdgeFade::In]
    );

    let cfg = CompileConfig {
        mode: Mode::Realtime,
        ..CompileConfig::default()
    };
    let first = mixdown::graph::compile(&old, cfg).unwrap();
    let running = first.summary();
    let (mut proc, mut ctl) = processor_pair(first);
    let (mut l, mut out) = (vec![0.0f32; BLOCK], Vec::new());
    for _ in 0..10 {
        proc.process(&mut [&mut l]);
        out.extend_from_slice(&l);
    }
    let at = out.len();
    let planned = plan_reload(Some(&old), &running, &new, cfg).unwrap();
    assert!(planned.crossfades_paths);
    assert!(ctl.swap(planned.schedule).is_ok());
    for _ in 0..30 {
        proc.process(&mut [&mut l]);
        out.extend_from_slice(&l);
        ctl.collect_garbage();
    }
    // DC 1 through the gain (0 dB) fades out while DC −1 through the polarity flip fades in.
    let len = fade_len();
    for (k, &y) in out.iter().enumerate() {
        let t = (k.saturating_sub(at) as f32 / len as f32).min(1.0);
        let want = if k < at {
            1.0
        } else {
            (std::f32::consts::FRAC_PI_2 * (1.0 - t)).sin()
                - (std::f32::consts::FRAC_PI_2 * t).sin()
        };
        assert!((y - want).abs() < 1e-5, "frame {k}: {y} instead of {want}");
    }
    assert_eq!(ctl.shared().path_crossfades.load(Ordering::Relaxed), 1);
}

/// Reloads between every pair of the example scripts that need no audio files — graphs with
/// nothing in common, buses, sends, sidechains, a feedback loop, two-pass loudness, modules:
/// each reload is planned (by path, or with the output fade when it must), applied, and the
/// music plays on with no NaN and no panic.
#[test]
fn reloads_between_all_example_scripts_play_on() {
    let names = [
        "demo",
        "generators",
        "automation",
        "buses_and_sends",
        "feedback_loop",
        "modules",
        "sidechain",
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let text: Vec<String> = names
        .iter()
        .map(|n| std::fs::read_to_string(root.join(format!("{n}.lua"))).unwrap())
        .collect();
    let (mut by_path, mut faded) = (0, 0);
    for (i, a) in text.iter().enumerate() {
        let mut s = Session::new(a);
        s.play(8);
        for (j, b) in text.iter().enumerate().filter(|(j, _)| *j != i) {
            std::fs::write(&s.path, b).unwrap();
            let built = s.reloader.build(s.proc.position());
            let Ok(built) = built else {
                // Only a change of session sample rate may be refused.
                let e = built.err().unwrap().to_string();
                assert!(
                    e.contains("sample rate"),
                    "{} → {}: {e}",
                    names[i],
                    names[j]
                );
                continue;
            };
            s.reloader.mark_sent(&built.schedule);
            if built.crossfades_paths {
                by_path += 1;
            } else {
                faded += 1;
            }
            assert!(s.ctl.swap(built.schedule).is_ok());
            s.play(12);
        }
        // Sequenced tracks that came in with the last reload start at their next step.
        s.play(150);
        let nan = s.proc.schedule().nan_report();
        assert!(nan.is_empty(), "from {}: NaN replaced in {nan:?}", names[i]);
        let tail = s.left.len() - 100 * BLOCK;
        assert!(
            peak(&s.left[tail..]) > 1e-3,
            "{} (loaded last) still plays",
            names[text.len() - 1 - usize::from(i == text.len() - 1)]
        );
    }
    eprintln!("{by_path} reloads crossfaded by path, {faded} with the output fade");
    // Every script runs at 48 kHz: all 42 reloads are taken, most by path; those that move the
    // latency of kept paths fade the output.
    assert_eq!(by_path + faded, 42);
    assert!(
        by_path > faded && faded > 0,
        "{by_path} by path, {faded} faded"
    );
}

#[test]
fn a_track_added_beside_a_lookahead_rises_from_silence() {
    // Track a has a 5 ms lookahead limiter, so a new track's connection into the master gets a
    // compensation delay that starts empty. Its fade must wait for the delay to fill, or the
    // track would appear mid-waveform, half up at once.
    let limited = "a:limit { ceiling_db = -1, lookahead_ms = 5 }";
    let mut s = Session::new(&script(limited, false));
    s.play(40);
    assert!(
        s.reload(&script(limited, true)),
        "adding a track crossfades by path"
    );
    s.play(60);
    let p = peak(&s.right);
    assert!(p > 0.3, "the new track plays: {p}");
    // Its first millisecond (one cycle of the 1 kHz sine) is still near the bottom of the
    // ramp: sin(π/2 · 48/1440) ≈ 0.05 of full level.
    let first = s.right.iter().position(|x| *x != 0.0).unwrap();
    let onset = peak(&s.right[first..first + 48]);
    assert!(onset < 0.1 * p, "starts at {:.2} of full level", onset / p);
}
