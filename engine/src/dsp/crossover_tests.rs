use super::*;

const FS: f64 = 48_000.0;

/// `|Σ h[n]·e^(−jωn)|` in dB (phasor recurrence in f64, renormalised every 1024 steps).
fn dtft_db(h: &[f32], hz: f64) -> f64 {
    let w = 2.0 * PI * hz / FS;
    let (mut re, mut im) = (0.0f64, 0.0f64);
    let (sw, cw) = w.sin_cos();
    let (mut c, mut s) = (1.0f64, 0.0f64);
    for (n, &x) in h.iter().enumerate() {
        re += x as f64 * c;
        im -= x as f64 * s;
        let nc = c * cw - s * sw;
        s = s * cw + c * sw;
        c = nc;
        if n % 1024 == 1023 {
            let (ss, cc) = (w * (n + 1) as f64).sin_cos();
            c = cc;
            s = ss;
        }
    }
    10.0 * (re * re + im * im).log10()
}

fn log_freqs(n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n)
        .map(|i| lo * (hi / lo).powf(i as f64 / (n - 1) as f64))
        .collect()
}

/// Impulse responses of every band of a mono crossover, `len` frames.
fn band_irs(x: &mut Crossover, len: usize) -> Vec<Vec<f32>> {
    let mut input = vec![0.0f32; len];
    input[0] = 1.0;
    let mut bands = vec![vec![0.0f32; len]; x.bands()];
    let mut refs: Vec<&mut [f32]> = bands.iter_mut().map(|b| b.as_mut_slice()).collect();
    x.process(&[&input], &mut refs);
    bands
}

fn summed(bands: &[Vec<f32>]) -> Vec<f32> {
    let mut s = vec![0.0f32; bands[0].len()];
    for b in bands {
        s.iter_mut().zip(b).for_each(|(a, v)| *a += v);
    }
    s
}

fn worst_sum_deviation_db(hz: &[f64], slope: Slope) -> f64 {
    let mut x = Crossover::new(FS, 1, hz, slope).unwrap();
    let sum = summed(&band_irs(&mut x, 1 << 15));
    log_freqs(200, 20.0, 20_000.0)
        .iter()
        .map(|&f| dtft_db(&sum, f).abs())
        .fold(0.0, f64::max)
}

#[test]
fn bands_sum_flat_within_001_db() {
    let cases: [&[f64]; 5] = [
        &[1000.0],
        &[200.0, 2000.0],
        &[120.0, 1000.0, 6000.0],
        &[30.0, 300.0, 15_000.0],
        &[80.0, 100.0, 125.0],
    ];
    for slope in [Slope::Lr4, Slope::Lr8] {
        for hz in cases {
            let dev = worst_sum_deviation_db(hz, slope);
            eprintln!(
                "crossover {slope:?} {hz:?}: worst |sum| deviation 20 Hz..20 kHz = {dev:.6} dB"
            );
            assert!(dev < 0.01, "{slope:?} {hz:?}: {dev} dB");
        }
    }
}

#[test]
fn bands_match_the_analytic_response() {
    for slope in [Slope::Lr4, Slope::Lr8] {
        let mut x = Crossover::new(FS, 1, &[150.0, 1500.0, 8000.0], slope).unwrap();
        let irs = band_irs(&mut x, 1 << 15);
        for (b, ir) in irs.iter().enumerate() {
            for f in log_freqs(40, 20.0, 20_000.0) {
                let (re, im) = x.band_response(b, f);
                let want = 10.0 * (re * re + im * im).log10();
                let got = dtft_db(ir, f);
                if want > -80.0 {
                    assert!(
                        (got - want).abs() < 0.01,
                        "{slope:?} band {b} at {f:.0} Hz: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn each_band_is_minus_6_db_at_its_crossover_and_slopes_correctly() {
    for (slope, db_per_oct) in [(Slope::Lr4, 24.0), (Slope::Lr8, 48.0)] {
        let mut x = Crossover::new(FS, 1, &[250.0], slope).unwrap();
        let irs = band_irs(&mut x, 1 << 16);
        for ir in &irs {
            let at = dtft_db(ir, 250.0);
            assert!((at + 6.0206).abs() < 0.01, "{slope:?}: {at} dB at f0");
        }
        // One to two octaves from f0 the stop band is within 1 dB of its asymptotic slope (further
        // out LR8 reaches the f32 noise floor of the impulse response).
        let lo_oct = dtft_db(&irs[0], 1000.0) - dtft_db(&irs[0], 500.0);
        let hi_oct = dtft_db(&irs[1], 62.5) - dtft_db(&irs[1], 125.0);
        eprintln!("crossover {slope:?} 250 Hz: low band {lo_oct:.2} dB/oct (0.5→1 kHz), high band {hi_oct:.2} dB/oct (125→62.5 Hz)");
        assert!(
            (lo_oct + db_per_oct).abs() < 1.0,
            "{slope:?} low band: {lo_oct} dB/oct"
        );
        assert!(
            (hi_oct + db_per_oct).abs() < 1.0,
            "{slope:?} high band: {hi_oct} dB/oct"
        );
    }
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

fn run_blocks(x: &mut Crossover, input: &[Vec<f32>], block: usize) -> Vec<Vec<f32>> {
    let (ch, nb, len) = (x.channels(), x.bands(), input[0].len());
    let mut out = vec![vec![0.0f32; len]; ch * nb];
    let mut start = 0;
    while start < len {
        let end = (start + block).min(len);
        let ins: Vec<&[f32]> = input.iter().map(|c| &c[start..end]).collect();
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|o| &mut o[start..end]).collect();
        x.process(&ins, &mut outs);
        start = end;
    }
    out
}

#[test]
fn block_size_and_reset_do_not_change_the_output() {
    let input = vec![noise(3000, 1), noise(3000, 2)];
    let mut x = Crossover::new(FS, 2, &[300.0, 3000.0], Slope::Lr4).unwrap();
    let reference = run_blocks(&mut x, &input, 3000);
    for block in [1, 17, 64, 512] {
        x.reset();
        assert_eq!(
            run_blocks(&mut x, &input, block),
            reference,
            "block {block}"
        );
    }
    // Channels are independent: channel 1 of every band differs from channel 0.
    assert_ne!(reference[0], reference[1]);
}

#[test]
fn mismatched_buffers_write_nothing() {
    let mut x = Crossover::new(FS, 2, &[500.0], Slope::Lr4).unwrap();
    let a = [1.0f32; 8];
    let mut b = [[7.0f32; 8]; 3];
    let mut refs: Vec<&mut [f32]> = b.iter_mut().map(|v| v.as_mut_slice()).collect();
    x.process(&[&a, &a], &mut refs); // 3 < 2 bands × 2 channels
    assert!(b.iter().all(|v| v.iter().all(|&s| s == 7.0)));
}

#[test]
fn validation_names_the_parameter() {
    let e = Crossover::new(FS, 1, &[24_000.0], Slope::Lr4).unwrap_err();
    assert_eq!((e.param, e.value), ("hz", 24_000.0));
    assert!(e.to_string().contains("Nyquist"), "{e}");
    let e = Crossover::new(FS, 1, &[2000.0, 1000.0], Slope::Lr4).unwrap_err();
    assert_eq!((e.param, e.value), ("hz", 1000.0));
    assert_eq!(
        Crossover::new(FS, 1, &[], Slope::Lr4).unwrap_err().param,
        "hz"
    );
    assert_eq!(
        Crossover::new(FS, 1, &[1.0, 2.0, 3.0, 4.0], Slope::Lr4)
            .unwrap_err()
            .value,
        4.0
    );
    assert_eq!(
        Crossover::new(FS, 0, &[100.0], Slope::Lr4)
            .unwrap_err()
            .param,
        "channels"
    );
    assert_eq!(
        Crossover::new(-1.0, 1, &[100.0], Slope::Lr4)
            .unwrap_err()
            .param,
        "sample_rate"
    );
    assert!(Crossover::new(FS, 1, &[f64::NAN], Slope::Lr4).is_err());
    let mut x = Crossover::new(FS, 1, &[100.0, 1000.0], Slope::Lr4).unwrap();
    assert!(x.set_frequencies(&[100.0]).is_err());
    assert!(x.set_frequencies(&[200.0, 100.0]).is_err());
    assert_eq!(x.frequencies(), &[100.0, 1000.0]);
    x.set_frequencies(&[200.0, 2000.0]).unwrap();
    assert_eq!(x.frequencies(), &[200.0, 2000.0]);
}

#[test]
fn a_nan_input_costs_one_block() {
    let mut x = Crossover::new(FS, 1, &[200.0, 2000.0], Slope::Lr4).unwrap();
    let mut a = noise(256, 3);
    a[7] = f32::NAN;
    run_blocks(&mut x, &[a], 256);
    x.flush();
    let out = run_blocks(&mut x, &[noise(256, 4)], 256);
    assert!(out.iter().flatten().all(|v| v.is_finite()));
}
