use super::*;

const FS: f64 = 48_000.0;

fn plain(time_s: f64, feedback: f64) -> EchoParams {
    EchoParams {
        time_s,
        feedback,
        ping_pong: false,
        lowpass_hz: None,
        highpass_hz: None,
        wet: 1.0,
        dry: 0.0,
    }
}

/// Stereo output for a mono input, in blocks of 300.
fn run(e: &mut Echo, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut l, mut r) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    for ((xi, li), ri) in x.chunks(300).zip(l.chunks_mut(300)).zip(r.chunks_mut(300)) {
        e.process(&[xi], &mut [li, ri]);
    }
    (l, r)
}

fn impulse(len: usize) -> Vec<f32> {
    let mut x = vec![0.0f32; len];
    x[0] = 1.0;
    x
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
fn taps_at_multiples_of_the_time_with_feedback_powers() {
    let mut e = Echo::new(FS, 1.0, plain(0.01, 0.5)).unwrap();
    assert_eq!(e.delay_frames(), 480.0);
    let (l, r) = run(&mut e, &impulse(480 * 12 + 1));
    assert_eq!(l, r);
    for (n, &v) in l.iter().enumerate() {
        let want = if n > 0 && n % 480 == 0 {
            0.5f32.powi(n as i32 / 480 - 1)
        } else {
            0.0
        };
        assert!((v - want).abs() < 1e-6, "frame {n}: {v} vs {want}");
    }
    // Dry path and a fractional time: the first echo is a band-limited impulse centred on
    // 480.5 frames (symmetric, unit sum, its two middle values near sinc(½) = 2/π).
    let p = EchoParams {
        dry: 1.0,
        ..plain(480.5 / FS, 0.0)
    };
    let mut e = Echo::new(FS, 1.0, p).unwrap();
    let (l, _) = run(&mut e, &impulse(1000));
    assert_eq!(l[0], 1.0);
    let sum: f32 = l[1..].iter().sum();
    assert!((sum - 1.0).abs() < 1e-6, "{sum}");
    for k in 0..8 {
        assert!((l[480 - k] - l[481 + k]).abs() < 1e-6, "{k}");
    }
    assert!((l[480] as f64 - 2.0 / PI).abs() < 0.01, "{}", l[480]);
    assert!(l[..472].iter().skip(1).chain(&l[489..]).all(|&v| v == 0.0));
}

/// DTFT of `x` at `hz` (sample rate `fs`), with index 0 at frame `origin`: (magnitude, phase).
fn dtft(x: &[f32], origin: f64, hz: f64, fs: f64) -> (f64, f64) {
    let w = 2.0 * PI * hz / fs;
    let (mut re, mut im) = (0.0, 0.0);
    for (n, &v) in x.iter().enumerate() {
        let (s, c) = (w * (n as f64 - origin)).sin_cos();
        re += v as f64 * c;
        im -= v as f64 * s;
    }
    (re.hypot(im), im.atan2(re))
}

#[test]
fn repeats_keep_their_level_and_time_at_fractional_delays() {
    // Reference: an ideal echo of an impulse is an impulse at k·D with gain fb^(k−1), so each
    // repeat's spectrum is flat at fb^(k−1) with linear phase −ω·k·D. Each repeat is cut out
    // of the output with ±100 frames (its interpolated impulse spans ±8·k frames), its DTFT
    // taken at 1, 5, 10, 15 and 16 kHz.
    let fb = 0.7;
    let mut worst: f64 = 0.0;
    let mut worst_time: f64 = 0.0;
    for fs in [44_100.0, 48_000.0] {
        for frames in [16_537.5, 11_025.25, 7_000.8, 4_999.37] {
            let mut e = Echo::new(fs, 1.0, plain(frames / fs, fb)).unwrap();
            let len = (frames * 5.0) as usize + 200;
            let (l, r) = run(&mut e, &impulse(len));
            assert_eq!(l, r);
            let mut line = format!(
                "echo {fs} Hz, {frames} frames, fb {fb}: dB vs fb^(k−1) at 1/5/10/15/16 kHz:"
            );
            for k in 1..=5 {
                let centre = k as f64 * frames;
                let start = centre as usize - 100;
                let seg = &l[start..start + 201];
                let want = fb.powi(k - 1);
                line += &format!("\n  repeat {k}:");
                for hz in [1000.0, 5000.0, 10_000.0, 15_000.0, 16_000.0] {
                    let (mag, phase) = dtft(seg, centre - start as f64, hz, fs);
                    let dev = 20.0 * (mag / want).log10();
                    line += &format!(" {dev:+.4}");
                    worst = worst.max(dev.abs());
                    if hz == 1000.0 {
                        // Phase 0 relative to the ideal centre: the repeat is at k·D.
                        let frames_off = phase / (2.0 * PI * hz / fs);
                        worst_time = worst_time.max(frames_off.abs());
                    }
                }
            }
            eprintln!("{line}");
        }
    }
    eprintln!("echo repeats: worst level deviation {worst:.4} dB up to 16 kHz, worst timing {worst_time:.2e} frames");
    assert!(worst < 0.1, "{worst} dB");
    // 0.01 frames = 0.2 µs after five passes (a pure delay line would give 0).
    assert!(worst_time < 0.01, "{worst_time} frames");
}

#[test]
fn the_read_is_flat_to_16k_and_never_gains() {
    // The tabulated read (rows and in between) against its own promise: |H| within 0.008 dB
    // up to 16 kHz at 44.1 kHz, at most 1.0007 anywhere (the loop stays stable at 0.99).
    let table = table();
    let (mut flat, mut peak): (f64, f64) = (0.0, 0.0);
    for i in 0..=256 {
        let taps = taps_for(table, 100.0 + i as f64 / 256.0 + 0.37 / 1024.0);
        for m in 0..=400 {
            let w = PI * m as f64 / 400.0;
            let (re, im) = taps
                .iter()
                .enumerate()
                .fold((0.0, 0.0), |(re, im), (j, &h)| {
                    let (s, c) = (w * j as f64).sin_cos();
                    (re + h as f64 * c, im - h as f64 * s)
                });
            let mag = re.hypot(im);
            peak = peak.max(mag);
            if w <= 2.0 * PI * 16_000.0 / 44_100.0 {
                flat = flat.max((20.0 * mag.log10()).abs());
            }
        }
    }
    eprintln!("echo read: |H| within {flat:.4} dB up to 16 kHz at 44.1 kHz, peak {peak:.5}");
    assert!(flat < 0.008 && peak < 1.0007, "{flat} {peak}");
    assert_eq!(taps_for(table, 200.0)[TAPS / 2 - 1], 1.0);
}

#[test]
fn ping_pong_alternates_channels() {
    let p = EchoParams {
        ping_pong: true,
        ..plain(0.01, 0.7)
    };
    let mut e = Echo::new(FS, 1.0, p).unwrap();
    let (l, r) = run(&mut e, &impulse(480 * 8 + 1));
    for k in 1..=8 {
        let want = 0.7f32.powi(k - 1);
        let (on, off) = if k % 2 == 1 { (&l, &r) } else { (&r, &l) };
        let n = 480 * k as usize;
        assert!(
            (on[n] - want).abs() < 1e-6 && off[n] == 0.0,
            "echo {k}: {} / {}",
            on[n],
            off[n]
        );
    }
    let nonzero = l.iter().chain(&r).filter(|&&v| v != 0.0).count();
    assert_eq!(nonzero, 8);
}

/// Fraction of `x`'s energy above `hz` (plain DFT).
fn energy_above(x: &[f32], hz: f64) -> f64 {
    let n = x.len();
    let (mut hi, mut total) = (0.0, 0.0);
    for k in 0..=n / 2 {
        let w = 2.0 * PI * k as f64 / n as f64;
        let (re, im) = x.iter().enumerate().fold((0.0, 0.0), |(re, im), (i, &v)| {
            let (s, c) = (w * i as f64).sin_cos();
            (re + v as f64 * c, im - v as f64 * s)
        });
        let p = re * re + im * im;
        total += p;
        if k as f64 * FS / n as f64 > hz {
            hi += p;
        }
    }
    hi / total
}

#[test]
fn filtered_feedback_darkens_later_repeats() {
    let p = EchoParams {
        lowpass_hz: Some(3000.0),
        highpass_hz: Some(150.0),
        ..plain(0.01, 0.8)
    };
    let mut e = Echo::new(FS, 1.0, p).unwrap();
    let (l, _) = run(&mut e, &impulse(480 * 7));
    let mut ratios = Vec::new();
    for k in 1..=6 {
        // Each repeat, from 16 frames before its tap to the next one.
        let seg = &l[480 * k - 16..480 * (k + 1) - 16];
        ratios.push(energy_above(seg, 6000.0));
    }
    eprintln!("echo LP 3 kHz: energy fraction above 6 kHz per repeat {ratios:.3?}");
    assert!(
        (ratios[0] - 0.75).abs() < 0.01,
        "first repeat is unfiltered: {}",
        ratios[0]
    );
    assert!(ratios.windows(2).all(|w| w[1] < 0.8 * w[0]), "{ratios:?}");
}

#[test]
fn stable_at_feedback_099() {
    for (time_s, lp) in [(0.05, None), (0.0503217, None), (0.0503217, Some(8000.0))] {
        let p = EchoParams {
            lowpass_hz: lp,
            ..plain(time_s, 0.99)
        };
        let mut e = Echo::new(FS, 1.0, p).unwrap();
        let sec = FS as usize;
        let mut x = noise(sec / 2, 9);
        x.resize(6 * sec, 0.0);
        let (l, _) = run(&mut e, &x);
        assert!(l.iter().all(|v| v.is_finite()));
        let energy = |s: usize| {
            l[s * sec..(s + 1) * sec]
                .iter()
                .map(|&v| v as f64 * v as f64)
                .sum::<f64>()
        };
        let db_per_s = 10.0 * (energy(5) / energy(1)).log10() / 4.0;
        let peak = l.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
        // The repeats can never decay more slowly than the loop gain 0.99 allows.
        let theory = 20.0 * 0.99f64.log10() / time_s;
        eprintln!("echo fb 0.99 time {time_s} s lp {lp:?}: peak {peak:.2}, decay {db_per_s:.3} dB/s (loop gain alone: {theory:.3})");
        assert!(db_per_s < theory + 0.02 && peak < 20.0, "{db_per_s} {peak}");
    }
}

#[test]
fn time_changes_glide_without_clicks() {
    let mut e = Echo::new(FS, 1.0, plain(0.1, 0.0)).unwrap();
    let x: Vec<f32> = (0..3 * FS as usize)
        .map(|n| (2.0 * PI * 440.0 * n as f64 / FS).sin() as f32 * 0.5)
        .collect();
    let sec = FS as usize;
    let (a, _) = run(&mut e, &x[..sec / 2]);
    e.set_params(plain(0.3, 0.0)).unwrap();
    let (b, _) = run(&mut e, &x[sec / 2..]);
    let y: Vec<f32> = a.into_iter().chain(b).collect();
    let sine_step = 0.5 * 2.0 * PI as f32 * 440.0 / FS as f32;
    let max_step = y[sec / 4..]
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    eprintln!("echo 0.1 → 0.3 s glide: largest sample step {max_step:.4} (sine's own {sine_step:.4}; a jump would be up to 1.0)");
    assert!(max_step < 1.6 * sine_step, "{max_step}");
    // The glide ends exactly on the new time.
    assert_eq!(e.delay_frames(), 14_400.0);
    let n = y.len() - 1;
    assert!((y[n] - x[n - (0.3 * FS) as usize]).abs() < 1e-6);
}

#[test]
fn fractional_time_glides_with_feedback_without_clicks() {
    // A 440 Hz sine (amplitude 0.5) into 16 537.5 frames at 44.1 kHz with feedback 0.5, then
    // the time moves to 0.25 s. The output is that sine, delayed and summed, pitch-bent by at
    // most 1.5× while the time glides: its largest sample step may grow by that factor over
    // the steady state's, not more (a click is a jump on top).
    let fs = 44_100.0;
    let mut e = Echo::new(fs, 1.0, plain(16_537.5 / fs, 0.5)).unwrap();
    let x: Vec<f32> = (0..4 * fs as usize)
        .map(|n| (2.0 * PI * 440.0 * n as f64 / fs).sin() as f32 * 0.5)
        .collect();
    let split = 2 * fs as usize;
    let (a, _) = run(&mut e, &x[..split]);
    e.set_params(plain(0.25, 0.5)).unwrap();
    let (b, _) = run(&mut e, &x[split..]);
    let y: Vec<f32> = a.into_iter().chain(b).collect();
    let step = |r: std::ops::Range<usize>| {
        y[r].windows(2)
            .map(|v| (v[1] - v[0]).abs())
            .fold(0.0, f32::max)
    };
    let (before, during) = (step(fs as usize..split), step(split..y.len()));
    eprintln!("echo glide 16537.5 frames → 0.25 s at 44.1 kHz, fb 0.5: largest sample step {during:.4} (steady state before: {before:.4})");
    assert!(during < 1.55 * before, "{during} vs {before}");
    assert_eq!(e.delay_frames(), 11_025.0);
}

#[test]
fn mono_output_and_block_size_invariance() {
    let x = noise(5000, 4);
    let p = EchoParams {
        dry: 0.5,
        ..EchoParams::default()
    };
    let mut e = Echo::new(FS, 0.5, EchoParams { time_s: 0.01, ..p }).unwrap();
    let mut reference = vec![0.0; 5000];
    e.process(&[&x], &mut [&mut reference]);
    for block in [1, 17, 64, 512] {
        e.reset();
        let mut y = vec![0.0; 5000];
        for (xi, yi) in x.chunks(block).zip(y.chunks_mut(block)) {
            e.process(&[xi], &mut [yi]);
        }
        assert_eq!(y, reference, "block {block}");
    }
}

#[test]
fn tail_goes_silent() {
    let mut e = Echo::new(FS, 0.2, plain(0.05, 0.5)).unwrap();
    let (l, _) = run(&mut e, &impulse(3000));
    assert!(!e.tail_silent() && l[2400] == 1.0);
    let zeros = vec![0.0f32; 300];
    let mut frames = 3000;
    while !e.tail_silent() && frames < 200_000 {
        run(&mut e, &zeros);
        frames += 300;
    }
    eprintln!(
        "echo 50 ms fb 0.5: silent after {frames} frames (tail_frames() {} + buffer {})",
        e.tail_frames(),
        e.mask + 1
    );
    assert!(e.tail_silent() && frames <= e.tail_frames() + e.mask + 1 + 600);
    let (l, r) = run(&mut e, &zeros);
    assert!(l.iter().chain(&r).all(|&v| v == 0.0));
}

#[test]
fn validation_names_the_parameter() {
    let bad = |p: EchoParams| Echo::new(FS, 1.0, p).unwrap_err();
    let d = EchoParams::default();
    assert_eq!(bad(EchoParams { time_s: -0.1, ..d }).param, "time_s");
    assert_eq!(bad(EchoParams { time_s: 1.5, ..d }).value, 1.5);
    assert_eq!(bad(EchoParams { feedback: 1.0, ..d }).param, "feedback");
    assert_eq!(
        bad(EchoParams {
            feedback: -0.1,
            ..d
        })
        .param,
        "feedback"
    );
    assert_eq!(
        bad(EchoParams {
            lowpass_hz: Some(24_000.0),
            ..d
        })
        .param,
        "lowpass_hz"
    );
    assert_eq!(
        bad(EchoParams {
            highpass_hz: Some(0.0),
            ..d
        })
        .param,
        "highpass_hz"
    );
    assert_eq!(bad(EchoParams { wet: f64::NAN, ..d }).param, "wet");
    assert_eq!(bad(EchoParams { dry: 1.5, ..d }).param, "dry");
    let e = bad(EchoParams { feedback: 1.2, ..d });
    assert_eq!(
        e.to_string(),
        "feedback = 1.2 is out of range; expected 0..=0.99 (1 or more never decays)"
    );
    assert_eq!(Echo::new(FS, 100.0, d).unwrap_err().param, "max_time_s");
    let mut e = Echo::new(FS, 1.0, d).unwrap();
    assert!(e
        .set_params(EchoParams {
            feedback: 0.995,
            ..d
        })
        .is_err());
    assert_eq!(e.params(), &d);
}

#[test]
fn a_nan_input_costs_one_block_not_the_echo() {
    let mut e = Echo::new(FS, 0.5, plain(0.01, 0.9)).unwrap();
    let mut x = noise(600, 5);
    x[100] = f32::NAN;
    let (mut l, mut r) = (vec![0.0; 600], vec![0.0; 600]);
    e.process(&[&x], &mut [&mut l, &mut r]);
    assert!(
        l[580].is_nan(),
        "the echo of the NaN, within the same block"
    );
    e.flush();
    let (l, r) = run(&mut e, &noise(2000, 6));
    assert!(l.iter().chain(&r).all(|v| v.is_finite()));
}

/// CPU cost of one stereo instance (no assert: timing depends on the machine). Run with
/// `--nocapture` to read it; the best of five passes over 1 s of stereo noise at 48 kHz.
#[test]
fn cost_per_stereo_frame() {
    let x = noise(48_000, 11);
    let p = EchoParams {
        time_s: 16_537.5 / 44_100.0,
        ..plain(0.0, 0.5)
    };
    let mut e = Echo::new(FS, 1.0, p).unwrap();
    let (mut l, mut r) = (vec![0.0; 512], vec![0.0; 512]);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        for c in x.chunks(512) {
            e.process(&[c, c], &mut [&mut l[..c.len()], &mut r[..c.len()]]);
        }
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(&l);
    }
    eprintln!(
        "echo cost (fractional time, feedback 0.5): {:.1} ns per stereo frame ({:.0}× real time at 48 kHz)",
        best * 1e9 / x.len() as f64,
        1.0 / best
    );
}
