use super::*;

const FS: f64 = 48_000.0;

fn params(decay_s: f64, damping: f64) -> ReverbParams {
    ReverbParams {
        decay_s,
        predelay_ms: 0.0,
        damping,
        size: 0.5,
        wet: 1.0,
        dry: 0.0,
    }
}

/// Stereo response of a mono input `x`, processed in blocks of 256.
fn run(rv: &mut Reverb, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut l, mut r) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    for ((xi, li), ri) in x.chunks(256).zip(l.chunks_mut(256)).zip(r.chunks_mut(256)) {
        rv.process(&[xi], &mut [li, ri]);
    }
    (l, r)
}

fn impulse_response(p: ReverbParams, seconds: f64) -> (Vec<f32>, Vec<f32>) {
    let mut rv = Reverb::new(FS, 100.0, p).unwrap();
    let mut x = vec![0.0f32; (seconds * FS) as usize];
    x[0] = 1.0;
    run(&mut rv, &x)
}

/// RT60 by Schroeder backward integration of `energy`, a straight-line fit from −5 to −35 dB,
/// extrapolated to −60 dB.
fn rt60_s(energy: &[f64]) -> f64 {
    let mut acc = 0.0;
    let mut edc = vec![0.0; energy.len()];
    for i in (0..energy.len()).rev() {
        acc += energy[i];
        edc[i] = acc;
    }
    let total = edc[0];
    let (mut n, mut st, mut sl, mut stt, mut stl) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &e) in edc.iter().enumerate() {
        let db = 10.0 * (e / total).log10();
        if (-35.0..=-5.0).contains(&db) {
            let t = i as f64 / FS;
            n += 1.0;
            st += t;
            sl += db;
            stt += t * t;
            stl += t * db;
        }
    }
    let slope = (n * stl - st * sl) / (n * stt - st * st);
    -60.0 / slope
}

fn energy(l: &[f32], r: &[f32]) -> Vec<f64> {
    l.iter()
        .zip(r)
        .map(|(&a, &b)| a as f64 * a as f64 + b as f64 * b as f64)
        .collect()
}

/// RBJ band-pass (0 dB peak) in f64.
fn bandpass(x: &[f32], hz: f64, q: f64) -> Vec<f32> {
    let w0 = 2.0 * std::f64::consts::PI * hz / FS;
    let alpha = w0.sin() / (2.0 * q);
    let a0 = 1.0 + alpha;
    let (b0, b2, a1, a2) = (
        alpha / a0,
        -alpha / a0,
        -2.0 * w0.cos() / a0,
        (1.0 - alpha) / a0,
    );
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    x.iter()
        .map(|&v| {
            let v = v as f64;
            let y = b0 * v + b2 * x2 - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, v, y1, y);
            y as f32
        })
        .collect()
}

#[test]
fn measured_rt60_matches_decay_s() {
    for decay in [0.5, 2.0, 4.0] {
        let (l, r) = impulse_response(params(decay, 0.0), decay * 1.4 + 0.3);
        let rt = rt60_s(&energy(&l, &r));
        eprintln!(
            "reverb decay_s {decay}: measured RT60 {rt:.3} s ({:+.1} %)",
            100.0 * (rt / decay - 1.0)
        );
        assert!(
            (rt / decay - 1.0).abs() < 0.15,
            "decay_s {decay}: RT60 {rt}"
        );
    }
}

#[test]
fn damping_shortens_the_high_band_only() {
    let decay = 2.0;
    let mut rts = Vec::new();
    for damping in [0.0, 0.8] {
        let (l, r) = impulse_response(params(decay, damping), 3.2);
        // Two cascaded band-passes (Q 4): a wide band would be dominated late by its slower
        // lower edge and read long.
        let bp = |x: &[f32], hz| bandpass(&bandpass(x, hz, 4.0), hz, 4.0);
        let band = |hz| rt60_s(&energy(&bp(&l, hz), &bp(&r, hz)));
        rts.push((band(250.0), band(8000.0)));
    }
    let ((lo0, hi0), (lo8, hi8)) = (rts[0], rts[1]);
    // Predicted 8 kHz RT60 for the median line: −3·d / (fs·log10|H(e^jω)|).
    let rv = Reverb::new(
        FS,
        0.0,
        ReverbParams {
            predelay_ms: 0.0,
            ..params(decay, 0.8)
        },
    )
    .unwrap();
    let k = LINES / 2;
    let (ff, pole, d) = (rv.ff[k] as f64, rv.pole[k] as f64, rv.delay[k] as f64);
    let w = 2.0 * std::f64::consts::PI * 8000.0 / FS;
    let mag = ff / (1.0 + pole * pole - 2.0 * pole * w.cos()).sqrt();
    let predicted = -3.0 * d / (FS * mag.log10());
    eprintln!(
        "reverb decay_s 2: damping 0 → RT60 250 Hz {lo0:.2} s, 8 kHz {hi0:.2} s; damping 0.8 → 250 Hz {lo8:.2} s, 8 kHz {hi8:.2} s (predicted {predicted:.2} s)"
    );
    assert!((lo0 / decay - 1.0).abs() < 0.15 && (hi0 / decay - 1.0).abs() < 0.15);
    assert!(
        (lo8 / decay - 1.0).abs() < 0.15,
        "low band with damping: {lo8}"
    );
    assert!(
        hi8 < 0.6 * hi0,
        "damping must shorten the high band: {hi8} vs {hi0}"
    );
    assert!(
        (hi8 / predicted - 1.0).abs() < 0.1,
        "{hi8} vs predicted {predicted}"
    );
}

fn first_nonzero(x: &[f32]) -> usize {
    x.iter().position(|&v| v != 0.0).unwrap()
}

#[test]
fn predelay_delays_the_first_reflection() {
    let (l0, r0) = impulse_response(params(1.0, 0.5), 0.2);
    let first0 = first_nonzero(&l0).min(first_nonzero(&r0));
    for ms in [1.0, 25.0, 77.7] {
        let p = ReverbParams {
            predelay_ms: ms,
            ..params(1.0, 0.5)
        };
        let (l, r) = impulse_response(p, 0.3);
        let shift = first_nonzero(&l).min(first_nonzero(&r)) - first0;
        let want = ms * 1e-3 * FS;
        eprintln!(
            "reverb predelay {ms} ms: first reflection moved by {shift} frames (want {want:.1})"
        );
        assert!((shift as f64 - want).abs() <= 1.0, "{ms} ms: {shift}");
    }
    // Without predelay the wet signal starts at once (the diffused input is the early part).
    assert_eq!(first0, 0);
}

fn noise(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

#[test]
fn stable_at_30_s_decay() {
    let p = ReverbParams {
        damping: 0.0,
        size: 1.0,
        ..params(30.0, 0.0)
    };
    let mut rv = Reverb::new(FS, 100.0, p).unwrap();
    let sec = FS as usize;
    let mut x = noise(sec, 7);
    x.resize(8 * sec, 0.0);
    let (l, r) = run(&mut rv, &x);
    assert!(l.iter().chain(&r).all(|v| v.is_finite()));
    let e = |s: usize| {
        energy(&l[s * sec..(s + 1) * sec], &r[s * sec..(s + 1) * sec])
            .iter()
            .sum::<f64>()
    };
    let (e2, e7) = (e(2), e(7));
    let db_per_s = 10.0 * (e7 / e2).log10() / 5.0;
    let peak = l.iter().chain(&r).fold(0.0f32, |a, &b| a.max(b.abs()));
    eprintln!(
        "reverb decay_s 30: peak {peak:.2}, decay after input {db_per_s:.2} dB/s (want −2.0)"
    );
    assert!((db_per_s + 2.0).abs() < 0.3, "{db_per_s}");
    assert!(peak < 20.0);
}

#[test]
fn mono_input_gives_decorrelated_stereo() {
    let (l, r) = impulse_response(params(2.0, 0.5), 1.5);
    let tail = (0.1 * FS) as usize..l.len();
    let (mut lr, mut ll, mut rr) = (0.0f64, 0.0f64, 0.0f64);
    for i in tail {
        lr += l[i] as f64 * r[i] as f64;
        ll += l[i] as f64 * l[i] as f64;
        rr += r[i] as f64 * r[i] as f64;
    }
    let corr = lr / (ll * rr).sqrt();
    eprintln!(
        "reverb mono in: tail L/R correlation {corr:.3}, L/R energy ratio {:.2} dB",
        10.0 * (ll / rr).log10()
    );
    assert!(corr.abs() < 0.5, "{corr}");
    assert!((10.0 * (ll / rr).log10()).abs() < 1.5);
}

#[test]
fn wet_zero_returns_the_dry_signal_exactly() {
    let p = ReverbParams {
        wet: 0.0,
        dry: 1.0,
        ..ReverbParams::default()
    };
    let mut rv = Reverb::new(FS, 100.0, p).unwrap();
    let (a, b) = (noise(5000, 1), noise(5000, 2));
    let (mut l, mut r) = (vec![0.0; 5000], vec![0.0; 5000]);
    rv.process(&[&a, &b], &mut [&mut l, &mut r]);
    assert_eq!((l, r), (a.clone(), b));
    let (l, r) = run(&mut rv, &a);
    assert_eq!((&l, &r), (&a, &a));
}

#[test]
fn tail_goes_silent_and_stays_exact() {
    let mut rv = Reverb::new(FS, 100.0, params(0.5, 0.5)).unwrap();
    assert!(rv.tail_silent());
    let mut x = vec![0.0f32; (1.5 * FS) as usize];
    x[0] = 1.0;
    let (l, _) = run(&mut rv, &x[..2048]);
    assert!(!rv.tail_silent() && l.iter().any(|&v| v != 0.0));
    let mut frames = 2048;
    let mut last_peak = 0.0f32;
    while !rv.tail_silent() && frames < x.len() {
        let (l, r) = run(&mut rv, &x[frames..frames + 256]);
        last_peak = l.iter().chain(&r).fold(0.0, |a, &b| a.max(b.abs()));
        frames += 256;
    }
    eprintln!("reverb decay_s 0.5: silent after {frames} frames (tail_frames() = {}), last peak {:.1} dBFS", rv.tail_frames(), 20.0 * last_peak.log10());
    assert!(rv.tail_silent());
    assert!(
        frames <= rv.tail_frames() + 256,
        "{frames} > {}",
        rv.tail_frames()
    );
    assert!(last_peak < 10f32.powf(-90.0 / 20.0));
    let (l, r) = run(&mut rv, &vec![0.0; 512]);
    assert!(l.iter().chain(&r).all(|&v| v == 0.0) && rv.tail_silent());
    run(&mut rv, &[0.5; 4]);
    assert!(!rv.tail_silent());
}

#[test]
fn block_size_and_reset_reproduce_the_output() {
    let x = noise(4000, 3);
    let mut rv = Reverb::new(
        FS,
        50.0,
        ReverbParams {
            dry: 0.5,
            ..ReverbParams::default()
        },
    )
    .unwrap();
    let mut reference = (vec![0.0; 4000], vec![0.0; 4000]);
    rv.process(&[&x], &mut [&mut reference.0, &mut reference.1]);
    for block in [1, 17, 64, 512] {
        rv.reset();
        let (mut l, mut r) = (vec![0.0; 4000], vec![0.0; 4000]);
        for ((xi, li), ri) in x
            .chunks(block)
            .zip(l.chunks_mut(block))
            .zip(r.chunks_mut(block))
        {
            rv.process(&[xi], &mut [li, ri]);
        }
        assert_eq!((l, r), reference, "block {block}");
    }
}

#[test]
fn validation_names_the_parameter() {
    let bad = |p: ReverbParams| Reverb::new(FS, 100.0, p).unwrap_err();
    let d = ReverbParams::default();
    assert_eq!(bad(ReverbParams { decay_s: -1.0, ..d }).param, "decay_s");
    assert_eq!(
        bad(ReverbParams {
            decay_s: 100.0,
            ..d
        })
        .value,
        100.0
    );
    assert_eq!(
        bad(ReverbParams {
            predelay_ms: 150.0,
            ..d
        })
        .param,
        "predelay_ms"
    );
    assert_eq!(
        bad(ReverbParams {
            predelay_ms: -1.0,
            ..d
        })
        .param,
        "predelay_ms"
    );
    assert_eq!(bad(ReverbParams { damping: 1.5, ..d }).param, "damping");
    assert_eq!(
        bad(ReverbParams {
            size: f64::NAN,
            ..d
        })
        .param,
        "size"
    );
    assert_eq!(bad(ReverbParams { wet: 2.0, ..d }).param, "wet");
    assert_eq!(bad(ReverbParams { dry: -0.5, ..d }).param, "dry");
    let e = bad(ReverbParams { decay_s: 0.0, ..d });
    assert_eq!(
        e.to_string(),
        "decay_s = 0 is out of range; expected 0.05..=60 s"
    );
    let mut rv = Reverb::new(FS, 100.0, d).unwrap();
    assert!(rv.set_params(ReverbParams { wet: 3.0, ..d }).is_err());
    assert_eq!(rv.params(), &d);
    assert_eq!(Reverb::new(0.0, 100.0, d).unwrap_err().param, "sample_rate");
}

#[test]
fn line_lengths_are_distinct_primes() {
    for size in [0.0, 0.5, 1.0] {
        let d = line_lengths(FS, size);
        assert!(
            d.windows(2).all(|w| w[0] < w[1]) && d.iter().all(|&n| is_prime(n)),
            "{d:?}"
        );
    }
    let mut x = [0.0f32; LINES];
    x[3] = 1.0;
    fwht16(&mut x);
    assert!((x.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-6);
}

#[test]
fn a_nan_input_does_not_poison_the_network_forever() {
    let mut rv = Reverb::new(FS, 100.0, params(2.0, 0.5)).unwrap();
    let mut x = noise(512, 5);
    x[10] = f32::NAN;
    run(&mut rv, &x);
    rv.flush();
    // The NaN reaches the outputs after the shortest line, then the network is cleared (by the
    // flushes the node calls at fixed frames).
    for k in 0..24 {
        run(&mut rv, &noise(512, 6 + k));
        rv.flush();
    }
    let (l, r) = run(&mut rv, &noise(2048, 7));
    assert!(l.iter().chain(&r).all(|v| v.is_finite()));
}

#[test]
fn mono_output_is_the_average_of_left_and_right() {
    let x = noise(3000, 8);
    let p = ReverbParams {
        dry: 0.7,
        ..params(1.0, 0.3)
    };
    let (l, r) = run(&mut Reverb::new(FS, 100.0, p).unwrap(), &x);
    let mut rv = Reverb::new(FS, 100.0, p).unwrap();
    let mut m = vec![0.0; 3000];
    rv.process(&[&x], &mut [&mut m]);
    for i in 0..3000 {
        assert_eq!(m[i], 0.5 * (l[i] + r[i]));
    }
}

/// CPU cost of one stereo instance (no assert: timing depends on the machine). Run with
/// `--nocapture` to read it; the best of five passes over 1 s of stereo noise at 48 kHz.
#[test]
fn cost_per_stereo_frame() {
    let (a, b) = (noise(48_000, 12), noise(48_000, 13));
    let mut rv = Reverb::new(FS, 100.0, ReverbParams::default()).unwrap();
    let (mut l, mut r) = (vec![0.0; 512], vec![0.0; 512]);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        for (ca, cb) in a.chunks(512).zip(b.chunks(512)) {
            rv.process(&[ca, cb], &mut [&mut l[..ca.len()], &mut r[..ca.len()]]);
        }
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(&l);
    }
    eprintln!(
        "reverb cost: {:.1} ns per stereo frame ({:.0}× real time at 48 kHz)",
        best * 1e9 / a.len() as f64,
        1.0 / best
    );
}
