use super::*;

const FS: f64 = 48_000.0;

fn noise(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

fn sine(len: usize, hz: f64, amp: f32) -> Vec<f32> {
    (0..len)
        .map(|n| amp * (2.0 * std::f64::consts::PI * hz * n as f64 / FS).sin() as f32)
        .collect()
}

fn run<F: FnMut(&[&[f32]], &mut [&mut [f32]])>(
    mut f: F,
    l: &[f32],
    r: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let (mut ol, mut or) = (vec![0.0; l.len()], vec![0.0; l.len()]);
    f(&[l, r], &mut [&mut ol, &mut or]);
    (ol, or)
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn width_zero_is_mono_and_one_is_bit_exact() {
    let (l, r) = (noise(1000, 1), noise(1000, 2));
    let mut w = Width::new(FS, 0.0).unwrap();
    let (ol, or) = run(|i, o| w.process(i, o), &l, &r);
    for i in 0..l.len() {
        assert_eq!(ol[i], (l[i] + r[i]) * 0.5);
        assert_eq!(or[i], ol[i]);
    }
    let mut w = Width::new(FS, 1.0).unwrap();
    let (ol, or) = run(|i, o| w.process(i, o), &l, &r);
    assert_eq!((ol, or), (l.clone(), r.clone()));
    // Also after ramping back to 1.
    let mut w = Width::new(FS, 0.3).unwrap();
    w.set_width(1.0).unwrap();
    let long_l = noise(2000, 3);
    run(|i, o| w.process(i, o), &long_l, &long_l);
    let (ol, or) = run(|i, o| w.process(i, o), &l, &r);
    assert_eq!((ol, or), (l, r));
}

#[test]
fn side_energy_scales_as_width_squared() {
    let (l, r) = (noise(4800, 4), noise(4800, 5));
    let side_in: Vec<f32> = l.iter().zip(&r).map(|(a, b)| (a - b) * 0.5).collect();
    let mid_in: Vec<f32> = l.iter().zip(&r).map(|(a, b)| (a + b) * 0.5).collect();
    for width in [0.0, 0.25, 0.5, 1.5, 2.0] {
        let mut w = Width::new(FS, width).unwrap();
        let (ol, or) = run(|i, o| w.process(i, o), &l, &r);
        let side: Vec<f32> = ol.iter().zip(&or).map(|(a, b)| (a - b) * 0.5).collect();
        let mid: Vec<f32> = ol.iter().zip(&or).map(|(a, b)| (a + b) * 0.5).collect();
        let ratio = (rms(&side) / rms(&side_in)).powi(2);
        assert!(
            (ratio - width * width).abs() < 1e-5,
            "width {width}: side energy ×{ratio}"
        );
        assert!((rms(&mid) / rms(&mid_in) - 1.0).abs() < 1e-6);
    }
}

#[test]
fn width_ramps_without_steps() {
    let mut w = Width::new(FS, 1.0).unwrap();
    w.set_width(0.0).unwrap();
    let ones = vec![1.0f32; 2000];
    let zeros = vec![0.0f32; 2000];
    let (ol, _) = run(|i, o| w.process(i, o), &ones, &zeros);
    // L = 0.5 + 0.5·w(t), w going 1 → 0 over 960 frames.
    let max_step = ol
        .windows(2)
        .map(|p| (p[1] - p[0]).abs())
        .fold(0.0, f32::max);
    assert!(max_step < 0.5 / 900.0, "{max_step}");
    assert_eq!(ol[1999], 0.5);
    assert!(w.set_width(2.5).is_err());
    assert_eq!(w.width(), 0.0);
    assert_eq!(Width::validate(-0.1).unwrap_err().param, "width");
}

fn settle_and_measure(m: &mut MonoBelow, hz: f64, anti: bool) -> (f64, f64) {
    let x = sine(48_000, hz, 0.5);
    let y: Vec<f32> = x.iter().map(|&v| if anti { -v } else { v }).collect();
    let (ol, or) = run(|i, o| m.process(i, o), &x, &y);
    let tail = 24_000..48_000;
    (
        20.0 * (rms(&ol[tail.clone()]) / rms(&x[tail.clone()])).log10(),
        20.0 * (rms(&or[tail.clone()]) / rms(&y[tail])).log10(),
    )
}

#[test]
fn mono_below_cancels_low_side_and_passes_high_side() {
    for (slope, want_50) in [(Slope::Lr8, -40.0), (Slope::Lr4, -29.0)] {
        let mut m = MonoBelow::new(FS, 120.0, slope).unwrap();
        let (l50, r50) = settle_and_measure(&mut m, 50.0, true);
        m.reset();
        let (l2k, r2k) = settle_and_measure(&mut m, 2000.0, true);
        eprintln!(
            "mono_below {slope:?} hz=120: L=−R at 50 Hz → {l50:.1} dB, at 2 kHz → {l2k:.4} dB"
        );
        assert!(l50 < want_50 && r50 < want_50, "{slope:?}: {l50} {r50}");
        assert!(l2k.abs() < 0.1 && r2k.abs() < 0.1, "{slope:?}: {l2k} {r2k}");
    }
    // The LR4 figure matches the analytic side high-pass: r⁴/(1+r⁴), r = 50/120 (prewarped).
    let mut m = MonoBelow::new(FS, 120.0, Slope::Lr4).unwrap();
    let (l50, _) = settle_and_measure(&mut m, 50.0, true);
    let r = (std::f64::consts::PI * 50.0 / FS).tan() / (std::f64::consts::PI * 120.0 / FS).tan();
    let want = 20.0 * (r.powi(4) / (1.0 + r.powi(4))).log10();
    assert!((l50 - want).abs() < 0.05, "{l50} vs {want}");
}

#[test]
fn mono_below_passes_a_mono_signal_with_flat_magnitude() {
    for slope in [Slope::Lr4, Slope::Lr8] {
        let mut m = MonoBelow::new(FS, 120.0, slope).unwrap();
        let mut imp = vec![0.0f32; 1 << 15];
        imp[0] = 1.0;
        let (ol, or) = run(|i, o| m.process(i, o), &imp, &imp);
        assert_eq!(ol, or);
        let mut worst = 0.0f64;
        for k in 0..200 {
            let f = 20.0 * 1000f64.powf(k as f64 / 199.0);
            let w = 2.0 * std::f64::consts::PI * f / FS;
            let (re, im) = ol.iter().enumerate().fold((0.0, 0.0), |(re, im), (n, &h)| {
                let (s, c) = (w * n as f64).sin_cos();
                (re + h as f64 * c, im - h as f64 * s)
            });
            worst = worst.max((10.0 * (re * re + im * im).log10()).abs());
        }
        eprintln!("mono_below {slope:?}: mono input, worst magnitude deviation 20 Hz..20 kHz = {worst:.6} dB");
        assert!(worst < 0.01, "{slope:?}: {worst}");
    }
}

#[test]
fn mono_below_validation() {
    assert_eq!(MonoBelow::new(FS, 0.0, Slope::Lr4).unwrap_err().param, "hz");
    assert_eq!(
        MonoBelow::new(FS, 30_000.0, Slope::Lr4).unwrap_err().value,
        30_000.0
    );
    let mut m = MonoBelow::new(FS, 100.0, Slope::Lr4).unwrap();
    assert!(m.set_hz(24_000.0).is_err());
    assert_eq!(m.hz(), 100.0);
}
