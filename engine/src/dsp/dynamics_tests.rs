//! Tests for `dynamics.rs`: fast math, the §4.1 static-curve table (function and measured with DC
//! through the compressor), the §4.2 time constants, detectors, linking, sidechain, the gate.

use super::*;

const FS: f64 = 48_000.0;
/// dsp-references §4.1: T = 20·log10(0.125) (ffmpeg threshold 0.125), R = 4.
const T: f64 = -18.061_799_739_838_87;

/// (input dB, W = 0, W = 9.03, W = 18.06) from dsp-references.md §4.1.
const GMR_TABLE: [(f64, f64, f64, f64); 6] = [
    (-24.0, -24.000, -24.000, -24.199),
    (-21.0, -21.000, -21.103, -21.771),
    (-18.062, -18.062, -18.908, -19.755),
    (-15.0, -17.296, -17.384, -18.036),
    (-12.0, -16.546, -16.546, -16.729),
    (0.0, -13.546, -13.546, -13.546),
];
const KNEES: [f64; 3] = [0.0, 9.03, 18.06];

fn db(x: f32) -> f64 {
    20.0 * (x.abs() as f64).log10()
}

fn lin(db: f64) -> f32 {
    10f64.powf(db / 20.0) as f32
}

fn comp(p: CompressorParams, channels: usize) -> Compressor {
    Compressor::new(channels, FS, p).unwrap()
}

/// Runs `x` (mono, duplicated to `channels`) through `c` in 480-sample blocks; returns channel 0.
fn run(c: &mut Compressor, x: &[f32], channels: usize) -> Vec<f32> {
    let mut bufs: Vec<Vec<f32>> = vec![x.to_vec(); channels];
    for s in (0..x.len()).step_by(480) {
        let e = (s + 480).min(x.len());
        let mut b: Vec<&mut [f32]> = bufs.iter_mut().map(|v| &mut v[s..e]).collect();
        c.process_in_place(&mut b, None);
    }
    bufs.swap_remove(0)
}

#[test]
fn fast_log2_and_exp2_are_accurate() {
    let mut worst_l: f64 = 0.0;
    let mut worst_e: f64 = 0.0;
    for k in 0..200_000 {
        let x = 10f64.powf(-12.0 + 24.0 * k as f64 / 200_000.0) as f32;
        let exact = (x as f64).log2();
        // beyond the f32 rounding of the result itself (half an ulp of |log2 x|)
        worst_l = worst_l
            .max((fast_log2(x) as f64 - exact).abs() - exact.abs() * f32::EPSILON as f64 / 2.0);
        let y = -60.0 + 80.0 * k as f64 / 200_000.0;
        let e = fast_exp2(y as f32) as f64;
        worst_e = worst_e.max((e / (y as f32 as f64).exp2() - 1.0).abs());
    }
    eprintln!("fast_log2 max abs error (beyond result rounding) {worst_l:.2e}; fast_exp2 max rel error {worst_e:.2e}");
    assert!(worst_l < 3e-7 && worst_e < 5e-7);
    assert_eq!(fast_exp2(0.0), 1.0);
    assert!(fast_exp2(-1000.0) > 0.0 && fast_exp2(1000.0).is_finite());
}

#[test]
fn static_curve_function_matches_table() {
    for &(x, w0, w9, w18) in GMR_TABLE.iter() {
        for (k, want) in KNEES.iter().zip([w0, w9, w18]) {
            let y = gain_computer_db(x, T, 4.0, *k);
            assert!((y - want).abs() < 0.0015, "x {x} W {k}: {y} vs {want}");
        }
    }
    // continuity at the knee edges and the limiter case
    for w in [0.0, 6.0, 20.0] {
        for edge in [T - w / 2.0, T + w / 2.0] {
            let a = gain_computer_db(edge - 1e-9, T, 3.0, w);
            let b = gain_computer_db(edge + 1e-9, T, 3.0, w);
            assert!((a - b).abs() < 1e-6);
        }
    }
    assert!((gain_computer_db(0.0, -10.0, f64::INFINITY, 0.0) + 10.0).abs() < 1e-12);
    assert!((gain_reduction_db(0.0, T, 4.0, 0.0) + 13.546).abs() < 0.001);
}

#[test]
fn static_curve_measured_with_dc_through_compressor() {
    let mut worst: f64 = 0.0;
    for (ki, &knee) in KNEES.iter().enumerate() {
        for &row in GMR_TABLE.iter() {
            let want = [row.1, row.2, row.3][ki];
            for detection in [Detection::Peak, Detection::Rms] {
                let p = CompressorParams {
                    threshold_db: T,
                    ratio: 4.0,
                    knee_db: knee,
                    attack_ms: 1.0,
                    release_ms: 5.0,
                    detection,
                    ..Default::default()
                };
                let mut c = comp(p, 2);
                let y = run(&mut c, &vec![lin(row.0); 24_000], 2);
                let got = db(y[y.len() - 1]);
                worst = worst.max((got - want).abs());
                assert!(
                    (got - want).abs() < 0.1,
                    "W {knee} x {}: measured {got:.4} vs {want}",
                    row.0
                );
                assert!((got - gain_computer_db(row.0, T, 4.0, knee)).abs() < 1e-4);
            }
        }
    }
    eprintln!("GMR table through Compressor (DC, peak and RMS): worst |error| = {worst:.4} dB (table is rounded to 0.001)");
}

/// Index (from the step) at which the GR trajectory has covered `frac` of the way to `final_gr`.
fn crossing(gr: &[f64], start_gr: f64, final_gr: f64, frac: f64) -> usize {
    let goal = start_gr + frac * (final_gr - start_gr);
    let rising = final_gr > start_gr;
    gr.iter()
        .position(|&g| if rising { g >= goal } else { g <= goal })
        .unwrap()
}

#[test]
fn attack_and_release_reach_63_percent_at_tau() {
    // dsp-references §4.2: DC step −30 → 0 dBFS, T −18.06, R 4 (final GR 13.546 dB)
    for (attack_ms, release_ms) in [(20.0, 250.0), (10.0, 100.0), (1.0, 50.0)] {
        let p = CompressorParams {
            threshold_db: T,
            ratio: 4.0,
            attack_ms,
            release_ms,
            ..Default::default()
        };
        let mut c = comp(p, 2);
        let n = 48_000 * 2;
        let mut x = vec![lin(-30.0); n];
        x[n / 4..n / 2].iter_mut().for_each(|v| *v = 1.0);
        let y = run(&mut c, &x, 2);
        let gr: Vec<f64> = x.iter().zip(&y).map(|(a, b)| db(*a) - db(*b)).collect();
        let final_gr = gr[n / 2 - 1];
        assert!((final_gr - 13.546).abs() < 0.001);
        let one = 1.0 - (-1.0f64).exp();
        let a = crossing(&gr[n / 4..], 0.0, final_gr, one);
        let r = crossing(&gr[n / 2..], final_gr, 0.0, one);
        let (ta, tr) = (attack_ms * 1e-3 * FS, release_ms * 1e-3 * FS);
        eprintln!(
            "attack {attack_ms} ms: 63.2 % after {} samples (τ·fs = {ta}); release {release_ms} ms: 63.2 % after {} samples (τ·fs = {tr})",
            a + 1,
            r + 1
        );
        // sample index i holds the state after i + 1 updates: 1 − α^(i+1) = 63.2 % at i + 1 = τ·fs
        assert!((a as f64 + 1.0 - ta).abs() <= 1.0 && (r as f64 + 1.0 - tr).abs() <= 1.0);
        // 90 % at 2.303 τ
        let a90 = crossing(&gr[n / 4..], 0.0, final_gr, 0.9) as f64 + 1.0;
        assert!((a90 / ta - std::f64::consts::LN_10).abs() < 0.01);
    }
}

#[test]
fn ballistics_struct_matches_the_formula() {
    let mut b = Ballistics::new(10.0, 100.0, FS);
    let alpha = (-1.0 / 480.0f64).exp();
    let mut want = 0.0f64;
    for _ in 0..480 {
        want = alpha * want + (1.0 - alpha) * 1.0;
        b.next(1.0);
    }
    assert!((b.state as f64 - want).abs() < 1e-5 && (want - 0.632_12).abs() < 1e-3);
    assert_eq!(Ballistics::new(0.0, 0.0, FS).next(5.0), 5.0);
}

fn sine(hz: f64, amp: f32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| amp * (2.0 * std::f64::consts::PI * hz * i as f64 / FS).sin() as f32)
        .collect()
}

#[test]
fn rms_detector_reads_sine_rms_and_window_works() {
    let mut w = RmsWindow::new(1000);
    w.set_len(480);
    let mut ms = 0.0;
    for v in sine(1000.0, 1.0, 4800) {
        ms = w.push(v * v);
    }
    assert!((10.0 * (ms as f64).log10() + 3.0103).abs() < 0.001, "{ms}");
    // sine at −10 dBFS peak = −13.01 dB RMS; T −20, R 2, RMS → GR (13.01 − ... ) = (−13.01 + 20)/2
    let p = CompressorParams {
        threshold_db: -20.0,
        ratio: 2.0,
        detection: Detection::Rms,
        rms_window_ms: 10.0,
        attack_ms: 5.0,
        release_ms: 50.0,
        ..Default::default()
    };
    let mut c = comp(p, 1);
    let x = sine(1000.0, lin(-10.0), 48_000);
    let y = run(&mut c, &x, 1);
    let gr = db(x[47_988]) - db(y[47_988]);
    assert!((gr - (20.0 - 13.0103) / 2.0).abs() < 0.01, "{gr}");
}

#[test]
fn stereo_link_modes() {
    let n = 24_000;
    let loud = vec![1.0f32; n];
    let quiet = vec![lin(-40.0); n];
    for (link, want_r_gr) in [
        (Link::Max, 13.546),
        (Link::PerChannel, 0.0),
        (Link::Average, f64::NAN),
    ] {
        let p = CompressorParams {
            threshold_db: T,
            ratio: 4.0,
            attack_ms: 1.0,
            release_ms: 10.0,
            link,
            ..Default::default()
        };
        let mut c = comp(p, 2);
        let mut l = loud.clone();
        let mut r = quiet.clone();
        c.process_in_place(&mut [&mut l, &mut r], None);
        let (gl, gr) = (-db(l[n - 1]), db(quiet[0]) - db(r[n - 1]));
        match link {
            Link::Average => {
                // mean of |x| = (1 + 0.01)/2 → level −5.935 dB → GR = (x − T)·0.75
                let lvl = 20.0 * ((1.0 + 0.01) / 2.0f64).log10();
                let want = (lvl - T) * 0.75;
                assert!(
                    (gl - want).abs() < 0.01 && (gr - want).abs() < 0.01,
                    "{gl} {gr} {want}"
                );
            }
            _ => {
                assert!(
                    (gl - 13.546).abs() < 0.01 && (gr - want_r_gr).abs() < 0.01,
                    "{link:?}: {gl} {gr}"
                );
            }
        }
    }
}

#[test]
fn external_sidechain_and_sidechain_highpass() {
    let n = 48_000;
    // quiet programme, loud key: programme is ducked by the key's GR
    let p = CompressorParams {
        threshold_db: T,
        ratio: 4.0,
        attack_ms: 1.0,
        release_ms: 10.0,
        ..Default::default()
    };
    let mut c = comp(p, 2);
    let key = vec![1.0f32; n];
    let x = vec![lin(-40.0); n];
    let mut l = x.clone();
    let mut r = x.clone();
    c.process(&[&x, &x], Some(&[&key]), &mut [&mut l, &mut r]);
    assert!((db(x[0]) - db(l[n - 1]) - 13.546).abs() < 0.01);
    assert!((c.gain_reduction_db() - 13.546).abs() < 0.01);
    // 40 Hz at 0 dBFS with a 300 Hz detector high-pass: ~−30 dB in the detector → nearly no GR
    let lo = sine(40.0, 1.0, n);
    let mut plain = comp(
        CompressorParams {
            attack_ms: 1.0,
            ..Default::default()
        },
        1,
    );
    let mut hpf = comp(
        CompressorParams {
            attack_ms: 1.0,
            sidechain_hpf_hz: Some(300.0),
            ..Default::default()
        },
        1,
    );
    run(&mut plain, &lo, 1);
    run(&mut hpf, &lo, 1);
    eprintln!(
        "40 Hz 0 dBFS: GR {:.2} dB without, {:.2} dB with a 300 Hz sidechain HPF",
        plain.gain_reduction_db(),
        hpf.gain_reduction_db()
    );
    assert!(plain.gain_reduction_db() > 10.0 && hpf.gain_reduction_db() < 1.0);
}

#[test]
fn below_threshold_is_bit_exact_and_makeup_is_constant() {
    let x: Vec<f32> = sine(997.0, lin(-30.0), 10_000);
    let mut c = comp(CompressorParams::default(), 2);
    let y = run(&mut c, &x, 2);
    assert_eq!(x, y);
    assert_eq!(c.gain_reduction_db(), 0.0);
    let mut c = comp(
        CompressorParams {
            makeup_db: 6.0,
            ..Default::default()
        },
        2,
    );
    let y = run(&mut c, &x, 2);
    // The makeup gain, read exactly through a power of two (below the threshold too): it is
    // the envelope path's gain at zero reduction, within float precision of +6 dB.
    let mut c2 = comp(
        CompressorParams {
            makeup_db: 6.0,
            ..Default::default()
        },
        2,
    );
    let m = run(&mut c2, &vec![2f32.powi(-10); 64], 2)[0] * 2f32.powi(10);
    assert!((m / lin(6.0) - 1.0).abs() < 1e-6, "makeup {m}");
    assert!(x
        .iter()
        .zip(&y)
        .all(|(a, b)| (a * m).to_bits() == b.to_bits()));
    // auto makeup: half the 0 dBFS reduction
    let p = CompressorParams {
        threshold_db: -18.0,
        ratio: 4.0,
        auto_makeup: true,
        ..Default::default()
    };
    assert!((p.auto_makeup_db() - 6.75).abs() < 1e-9);
}

#[test]
fn compressor_rejects_bad_parameters() {
    let bad = [
        (
            CompressorParams {
                ratio: 0.5,
                ..Default::default()
            },
            "ratio",
        ),
        (
            CompressorParams {
                knee_db: -1.0,
                ..Default::default()
            },
            "knee_db",
        ),
        (
            CompressorParams {
                attack_ms: -1.0,
                ..Default::default()
            },
            "attack_ms",
        ),
        (
            CompressorParams {
                release_ms: f64::NAN,
                ..Default::default()
            },
            "release_ms",
        ),
        (
            CompressorParams {
                threshold_db: 40.0,
                ..Default::default()
            },
            "threshold_db",
        ),
        (
            CompressorParams {
                sidechain_hpf_hz: Some(30_000.0),
                ..Default::default()
            },
            "sidechain_hpf_hz",
        ),
        (
            CompressorParams {
                rms_window_ms: 0.0,
                ..Default::default()
            },
            "rms_window_ms",
        ),
    ];
    for (p, name) in bad {
        assert_eq!(Compressor::new(2, FS, p).unwrap_err().param, name);
    }
    let mut c = comp(CompressorParams::default(), 2);
    assert!(c
        .set_params(CompressorParams {
            ratio: 0.0,
            ..Default::default()
        })
        .is_err());
    assert_eq!(c.params().ratio, 4.0);
    let g = GateParams::default();
    assert_eq!(
        GateParams { range_db: 3.0, ..g }
            .validate()
            .unwrap_err()
            .param,
        "range_db"
    );
    assert_eq!(
        GateParams { hold_ms: -3.0, ..g }
            .validate()
            .unwrap_err()
            .param,
        "hold_ms"
    );
    assert_eq!(
        GateParams { ratio: 0.9, ..g }.validate().unwrap_err().param,
        "ratio"
    );
    assert_eq!(
        GateParams {
            hysteresis_db: -1.0,
            ..g
        }
        .validate()
        .unwrap_err()
        .param,
        "hysteresis_db"
    );
}

fn gate_run(g: &mut Gate, x: &[f32]) -> Vec<f32> {
    let mut y = x.to_vec();
    for chunk in y.chunks_mut(256) {
        g.process_in_place(&mut [chunk], None);
    }
    y
}

#[test]
fn gate_attenuates_by_range_and_opens_above_threshold() {
    let p = GateParams {
        threshold_db: -30.0,
        range_db: -40.0,
        ratio: f64::INFINITY,
        attack_ms: 1.0,
        hold_ms: 10.0,
        release_ms: 20.0,
        hysteresis_db: 6.0,
    };
    let mut g = Gate::new(1, FS, p).unwrap();
    let quiet = sine(500.0, lin(-50.0), 24_000);
    let y = gate_run(&mut g, &quiet);
    let att = db(quiet[23_988]) - db(y[23_988]);
    assert!((att - 40.0).abs() < 0.01, "closed attenuation {att}");
    let loud = sine(500.0, lin(-10.0), 24_000);
    let y = gate_run(&mut g, &loud);
    assert!(g.is_open());
    assert_eq!(
        &y[12_000..],
        &loud[12_000..],
        "open gate passes the signal unchanged"
    );
    // expander: ratio 2 → 10 dB below threshold gives −10 dB
    let mut e = Gate::new(
        1,
        FS,
        GateParams {
            ratio: 2.0,
            hold_ms: 0.0,
            hysteresis_db: 0.0,
            ..p
        },
    )
    .unwrap();
    let dc = vec![lin(-40.0); 24_000];
    let y = gate_run(&mut e, &dc);
    assert!((db(dc[0]) - db(y[23_999]) - 10.0).abs() < 0.01);
    // −∞ range mutes
    let mut m = Gate::new(
        1,
        FS,
        GateParams {
            range_db: f64::NEG_INFINITY,
            release_ms: 1.0,
            ..p
        },
    )
    .unwrap();
    let y = gate_run(&mut m, &quiet);
    assert_eq!(y[23_000], 0.0);
}

#[test]
fn gate_hysteresis_and_hold() {
    let p = GateParams {
        threshold_db: -30.0,
        range_db: -60.0,
        ratio: f64::INFINITY,
        attack_ms: 0.1,
        hold_ms: 10.0,
        release_ms: 5.0,
        hysteresis_db: 6.0,
    };
    let mut g = Gate::new(1, FS, p).unwrap();
    let seg = |db_: f64, n: usize| vec![lin(db_); n];
    // closed at −33 (inside the hysteresis band): stays closed
    gate_run(&mut g, &seg(-33.0, 4800));
    assert!(!g.is_open());
    // −29 opens
    gate_run(&mut g, &seg(-29.0, 4800));
    assert!(g.is_open());
    // −33 keeps it open (above −36)
    let y = gate_run(&mut g, &seg(-33.0, 4800));
    assert!(g.is_open() && y[4799] == lin(-33.0));
    // −40 closes, but only after the 10 ms hold (480 samples)
    let x = seg(-40.0, 4800);
    let y = gate_run(&mut g, &x);
    let first_drop = y.iter().zip(&x).position(|(a, b)| a != b).unwrap();
    eprintln!("gate hold 10 ms: gain starts falling {first_drop} samples after the level drops (480 expected)");
    assert!((first_drop as i64 - 481).abs() <= 1, "{first_drop}");
    assert!(!g.is_open() && (db(x[0]) - db(y[4799]) - 60.0).abs() < 0.01);
}

fn noise(n: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            amp * (((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0)
        })
        .collect()
}

/// Release-mode speed probe: `cargo test --release -- --ignored --nocapture speed`.
#[test]
#[ignore]
fn speed_compressor() {
    let n = 48_000 * 20;
    for (label, amp, p) in [
        (
            "below threshold (−30 dBFS noise)",
            lin(-30.0),
            CompressorParams::default(),
        ),
        (
            "above threshold (0 dBFS noise)",
            1.0,
            CompressorParams::default(),
        ),
        (
            "above, RMS 10 ms",
            1.0,
            CompressorParams {
                detection: Detection::Rms,
                ..Default::default()
            },
        ),
        (
            "above, per-channel",
            1.0,
            CompressorParams {
                link: Link::PerChannel,
                ..Default::default()
            },
        ),
        (
            "above, soft knee + sidechain HPF",
            1.0,
            CompressorParams {
                knee_db: 6.0,
                sidechain_hpf_hz: Some(80.0),
                ..Default::default()
            },
        ),
    ] {
        let mut l = noise(n, 1, amp);
        let mut r = noise(n, 2, amp);
        let mut c = Compressor::new(2, FS, p).unwrap();
        let t = std::time::Instant::now();
        for i in (0..n).step_by(512) {
            let e = (i + 512).min(n);
            c.process_in_place(&mut [&mut l[i..e], &mut r[i..e]], None);
        }
        let ns = t.elapsed().as_nanos() as f64 / (2 * n) as f64;
        eprintln!(
            "compressor stereo {label}: {ns:.3} ns per sample per channel ({:.3} per frame)",
            2.0 * ns
        );
        std::hint::black_box(&l);
    }
}

#[test]
fn recovers_from_nan_input() {
    let mut c = comp(CompressorParams::default(), 2);
    let mut g = Gate::new(2, FS, GateParams::default()).unwrap();
    let mut x = vec![1.0f32; 128];
    x[5] = f32::NAN;
    let mut y = x.clone();
    c.process_in_place(&mut [&mut x, &mut y], None);
    g.process_in_place(&mut [&mut x, &mut y], None);
    c.flush();
    g.flush();
    let mut x = vec![0.5f32; 256];
    let mut y = x.clone();
    c.process_in_place(&mut [&mut x, &mut y], None);
    g.process_in_place(&mut [&mut x, &mut y], None);
    assert!(x.iter().chain(&y).all(|v| v.is_finite()));
}

#[test]
fn envelope_chain_picks_attack_above_and_release_below_the_envelope() {
    // The chain picks max (or min) of the two candidates instead of comparing target and
    // envelope; check against the textbook select, for a fast and a slow attack.
    for (att, rel) in [(0.99f32, 0.9999f32), (0.9999, 0.99)] {
        let mut targets = [0.0f32; 64];
        let mut seed = 12345u32;
        for t in targets.iter_mut() {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *t = (seed >> 8) as f32 / (1u32 << 24) as f32 * 30.0;
        }
        let ta: Vec<f32> = targets.iter().map(|t| (1.0 - att) * t).collect();
        let tr: Vec<f32> = targets.iter().map(|t| (1.0 - rel) * t).collect();
        let (mut e, mut peak) = (5.0f32, 0.0f32);
        let mut out = [0.0f32; 64];
        super::envelope_chain(&mut e, &mut peak, att, rel, &ta, &tr, &mut out, att <= rel);
        let mut r = 5.0f32;
        for (i, &t) in targets.iter().enumerate() {
            r = if t > r {
                att * r + (1.0 - att) * t
            } else {
                rel * r + (1.0 - rel) * t
            };
            assert!(
                (out[i] - r).abs() <= 1e-5 * r.max(1.0),
                "{att}/{rel} sample {i}"
            );
        }
        assert_eq!(e, out[63]);
        assert_eq!(peak, out.iter().copied().fold(0.0, f32::max));
    }
}

#[test]
fn gate_reset_closes_it_without_hold() {
    // Opened by a loud signal, then reset (a seek): a quiet signal right after must be gated
    // at once, not let through for the 20 ms hold of the previous position.
    let mut g = Gate::new(1, FS, GateParams::default()).unwrap();
    let mut loud = vec![0.5f32; 4800];
    g.process_in_place(&mut [&mut loud], None);
    let mut quiet = vec![0.001f32; 100];
    let mut not_reset = g.clone();
    let mut q2 = quiet.clone();
    not_reset.process_in_place(&mut [&mut q2], None);
    assert!(
        q2[50] > 0.0005,
        "without reset the hold keeps it open: {}",
        q2[50]
    );
    g.reset();
    g.process_in_place(&mut [&mut quiet], None);
    assert!(quiet.iter().all(|x| *x < 1e-6), "after reset: {}", quiet[0]);
}
