//! Automation through the processor: a DC signal through a gain node shows exactly which gain
//! was applied at every sample.

mod common;

use common::*;
use mixdown::graph::{GraphSpec, Schedule, Session};
use mixdown::nodes::Gain;
use mixdown::param::AutomationEvent;
use mixdown::rt::{processor_pair, ControlMsg, Processor};
use mixdown::units::db_to_gain;

const BLOCKS: [usize; 4] = [1, 17, 64, 512];

/// DC 1.0 → gain; returns the graph and the gain's key.
fn dc_gain(frames: usize) -> (GraphSpec, mixdown::graph::NodeKey) {
    let mut g = spec();
    let c = add_clip(&mut g, "dc", vec![1.0; frames]);
    let k = g.add("fader", Gain, line(3)).unwrap();
    g.connect(c, k, "in", None).unwrap();
    g.set_output(k);
    (g, k)
}

fn node_index(s: &Schedule, path: &str) -> u32 {
    s.node_paths().position(|p| p == path).unwrap() as u32
}

#[test]
fn linear_ramp_on_gain_hits_exact_values() {
    let (mut g, k) = dc_gain(4000);
    g.set_param(k, "gain_db", -20.0).unwrap();
    let at = |f: u64| f as f64 / SR;
    g.automate(
        k,
        "gain_db",
        AutomationEvent::Set {
            t_s: at(1000),
            value: -20.0,
        },
    )
    .unwrap();
    g.automate(
        k,
        "gain_db",
        AutomationEvent::Linear {
            t_s: at(2000),
            value: 0.0,
        },
    )
    .unwrap();
    for block in BLOCKS {
        let out = run(build(&g), 4000, block);
        let y = &out[0];
        // Exact: the ramp in dB is linear from frame 1000 to frame 2000.
        for (f, db) in [
            (0, -20.0),
            (999, -20.0),
            (1000, -20.0),
            (1250, -15.0),
            (1500, -10.0),
            (1750, -5.0),
            (2000, 0.0),
            (3999, 0.0),
        ] {
            assert_eq!(y[f], db_to_gain(db), "block {block}, frame {f}");
            let want = 10f64.powf(f64::from(db) / 20.0);
            assert!((f64::from(y[f]) - want).abs() < 1e-6 * want, "frame {f}");
        }
        // In between, the gain in dB moves by 0.02 dB per frame and only upwards.
        for f in 1001..2000 {
            let db = 20.0 * f64::from(y[f]).log10();
            let want = -20.0 + 0.02 * (f - 1000) as f64;
            assert!(
                (db - want).abs() < 1e-4,
                "block {block}, frame {f}: {db} dB"
            );
            assert!(y[f] > y[f - 1]);
        }
    }
}

#[test]
fn set_at_sample_n_takes_effect_exactly_at_n() {
    let old = 1.0;
    let new = db_to_gain(-6.0);
    for n in [1u64, 16, 17, 63, 64, 65, 511, 512, 513, 1000, 2047] {
        let (mut g, k) = dc_gain(3000);
        // The fader's static value holds until the first event (without one, the first
        // event's value would hold from the start).
        g.set_param(k, "gain_db", 0.0).unwrap();
        g.automate(
            k,
            "gain_db",
            AutomationEvent::Set {
                t_s: n as f64 / SR,
                value: -6.0,
            },
        )
        .unwrap();
        for block in BLOCKS {
            let out = run(build(&g), 3000, block);
            let y = &out[0];
            let n = n as usize;
            assert!(y[..n].iter().all(|v| *v == old), "n {n}, block {block}");
            assert!(y[n..].iter().all(|v| *v == new), "n {n}, block {block}");
        }
    }
}

/// Times are seconds: at 44.1 kHz, 0.5 s is frame 22 050.
#[test]
fn automation_times_follow_the_session_rate() {
    let mut g = GraphSpec::new(Session {
        sample_rate: 44_100.0,
        ..Session::default()
    });
    let c = add_clip(&mut g, "dc", vec![1.0; 30_000]);
    let k = g.add("fader", Gain, None).unwrap();
    g.connect(c, k, "in", None).unwrap();
    g.set_output(k);
    g.set_param(k, "gain_db", 0.0).unwrap();
    g.automate(
        k,
        "gain_db",
        AutomationEvent::Set {
            t_s: 0.5,
            value: -120.0,
        },
    )
    .unwrap();
    let out = run(build(&g), 30_000, 512);
    assert_eq!(out[0][22_049], 1.0);
    assert_eq!(out[0][22_050], 0.0);
}

/// A direct set (a fader moved live) glides linearly in dB over 20 ms and lands exactly.
#[test]
fn direct_set_glides_over_20_ms_in_db() {
    for block in BLOCKS {
        let (g, _) = dc_gain(10_000);
        let s = build(&g);
        let node = node_index(&s, "fader");
        let (mut p, mut ctl) = processor_pair(s);
        let before = run_processor(&mut p, 1, 1024, block);
        assert!(before[0].iter().all(|v| *v == 1.0));
        assert!(ctl.send(ControlMsg::SetParam {
            node,
            param: 0,
            value: -20.0
        }));
        let y = run_processor(&mut p, 1, 2000, block)[0].clone();
        let glide = 960; // 20 ms at 48 kHz
                         // The glide starts at once, is monotone, passes −10 dB halfway and lands on −20 dB.
        assert!(y[0] < 1.0 && y[0] > 0.99, "block {block}: {}", y[0]);
        for f in 1..glide {
            assert!(y[f] < y[f - 1], "block {block}, frame {f}");
        }
        let mid = 20.0 * y[glide / 2 - 1].log10();
        assert!((mid + 10.0).abs() < 0.05, "block {block}: {mid} dB halfway");
        assert_eq!(y[glide - 1], db_to_gain(-20.0), "block {block}");
        assert!(y[glide..].iter().all(|v| *v == db_to_gain(-20.0)));
    }
}

/// Automation wins over direct sets (as in Web Audio): a live set of an automated parameter
/// changes nothing.
#[test]
fn direct_set_does_not_override_automation() {
    let (mut g, k) = dc_gain(5000);
    g.automate(
        k,
        "gain_db",
        AutomationEvent::Set {
            t_s: 0.0,
            value: -6.0,
        },
    )
    .unwrap();
    let s = build(&g);
    let node = node_index(&s, "fader");
    let (mut p, mut ctl) = processor_pair(s);
    run_processor(&mut p, 1, 512, 512);
    assert!(ctl.send(ControlMsg::SetParam {
        node,
        param: 0,
        value: 0.0
    }));
    let y = run_processor(&mut p, 1, 2000, 64);
    assert!(y[0].iter().all(|v| *v == db_to_gain(-6.0)));
}

/// After a seek, the parameter has the value automation gives at the new position, from the
/// first sample.
#[test]
fn automation_is_evaluated_at_the_new_position_after_a_seek() {
    let (mut g, k) = dc_gain(20_000);
    let at = |f: u64| f as f64 / SR;
    g.automate(
        k,
        "gain_db",
        AutomationEvent::Set {
            t_s: at(0),
            value: -40.0,
        },
    )
    .unwrap();
    g.automate(
        k,
        "gain_db",
        AutomationEvent::Linear {
            t_s: at(10_000),
            value: 0.0,
        },
    )
    .unwrap();
    let mut p = Processor::new(build(&g));
    run_processor(&mut p, 1, 3000, 512);
    p.seek(7500);
    let y = run_processor(&mut p, 1, 100, 17);
    assert_eq!(y[0][0], db_to_gain(-10.0));
    // And backwards.
    p.seek(2500);
    let y = run_processor(&mut p, 1, 100, 64);
    assert_eq!(y[0][0], db_to_gain(-30.0));
}
