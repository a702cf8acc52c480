//! Tests for the band-limited oscillators, plus the small FFT the generator tests share.

use super::*;

/// In-place iterative radix-2 complex FFT (`re.len()` must be a power of two).
pub(crate) fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    assert!(n.is_power_of_two() && im.len() == n);
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let ang = -std::f64::consts::TAU / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (s, c) = (ang * k as f64).sin_cos();
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * c - im[b] * s;
                let ti = re[b] * s + im[b] * c;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

/// Power spectrum (bins 0..=n/2) of `x` with a rectangular window.
pub(crate) fn power_spectrum(x: &[f32]) -> Vec<f64> {
    let mut re: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let mut im = vec![0.0; re.len()];
    fft(&mut re, &mut im);
    (0..=re.len() / 2)
        .map(|k| re[k] * re[k] + im[k] * im[k])
        .collect()
}

/// Frequency of the strongest spectral peak of `x` between `lo_hz` and `hi_hz` (Hann window,
/// zero-padded to 2^18, parabolic interpolation on the log magnitude).
pub(crate) fn peak_freq_hz(x: &[f32], sample_rate_hz: f64, lo_hz: f64, hi_hz: f64) -> f64 {
    let n = 1 << 18;
    let len = x.len().min(n);
    let mut re = vec![0.0; n];
    let mut im = vec![0.0; n];
    for i in 0..len {
        let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / len as f64).cos();
        re[i] = x[i] as f64 * w;
    }
    fft(&mut re, &mut im);
    let mag = |k: usize| (re[k] * re[k] + im[k] * im[k]).max(1e-300).ln();
    let bin_hz = sample_rate_hz / n as f64;
    let lo = (lo_hz / bin_hz) as usize + 1;
    let hi = ((hi_hz / bin_hz) as usize).min(n / 2 - 1);
    let k = (lo..hi).max_by(|&a, &b| mag(a).total_cmp(&mag(b))).unwrap();
    let (a, b, c) = (mag(k - 1), mag(k), mag(k + 1));
    let delta = 0.5 * (a - c) / (a - 2.0 * b + c);
    (k as f64 + delta) * bin_hz
}

fn db(power_ratio: f64) -> f64 {
    10.0 * power_ratio.max(1e-30).log10()
}

const SR: f32 = 48_000.0;
const N: usize = 1 << 16;

/// `N` samples of a steady-state oscillator (the start-up transient skipped).
fn render(waveform: Waveform, freq_hz: f32) -> Vec<f32> {
    let mut osc = Oscillator::new(SR);
    osc.set_waveform(waveform);
    let mut out = vec![0.0; N + 256];
    osc.process(freq_hz, &mut out);
    out.split_off(256)
}

/// A naive (aliasing) saw with the same phase accumulator, for comparison.
fn naive_saw(freq_hz: f32) -> Vec<f32> {
    let dt = freq_hz as f64 / SR as f64;
    let mut p = 0.0f64;
    (0..N)
        .map(|_| {
            let y = 2.0 * p - 1.0;
            p = (p + dt).fract();
            y as f32
        })
        .collect()
}

/// For a signal whose frequency is exactly `k` bins: (level of harmonics 1..=`max_n` relative
/// to the fundamental in dB, strongest other (aliased) bin relative to the fundamental in dB).
fn harmonics_and_alias(x: &[f32], k: usize, max_n: usize) -> (Vec<f64>, f64) {
    let p = power_spectrum(x);
    let fund = p[k];
    let harmonic_bins: Vec<usize> = (1..).map(|n| n * k).take_while(|&b| b < N / 2).collect();
    let levels = harmonic_bins
        .iter()
        .take(max_n)
        .map(|&b| db(p[b] / fund))
        .collect();
    let worst = (1..=N / 2)
        .filter(|b| !harmonic_bins.contains(b))
        .map(|b| p[b])
        .fold(0.0, f64::max);
    (levels, db(worst / fund))
}

#[test]
fn saw_at_5khz_aliases_below_40_db_and_beats_naive() {
    // 6827 bins = 5000.24 Hz: every harmonic and alias falls exactly on a bin.
    let k = 6827;
    let f = (k as f64 * SR as f64 / N as f64) as f32;
    let (levels, alias_db) = harmonics_and_alias(&render(Waveform::Saw, f), k, 4);
    let (_, naive_alias_db) = harmonics_and_alias(&naive_saw(f), k, 4);
    println!("5 kHz saw: harmonics {levels:.2?} dB, worst alias {alias_db:.1} dB (naive {naive_alias_db:.1} dB)");
    assert!(alias_db < -40.0, "alias {alias_db} dB");
    assert!(naive_alias_db > -20.0, "naive alias {naive_alias_db} dB");
    assert!(alias_db < naive_alias_db - 30.0);
    // Harmonics 2 and 3 (10 and 15 kHz) are still 1/n within 1 dB.
    for (n, l) in levels.iter().enumerate().take(3) {
        let expect = -20.0 * ((n + 1) as f64).log10();
        assert!((l - expect).abs() < 1.0, "harmonic {}: {l} dB", n + 1);
    }
}

#[test]
fn square_and_triangle_alias_below_40_db() {
    let k = 6827;
    let f = (k as f64 * SR as f64 / N as f64) as f32;
    let (sq, sq_alias) = harmonics_and_alias(&render(Waveform::Square, f), k, 3);
    let (tri, tri_alias) = harmonics_and_alias(&render(Waveform::Triangle, f), k, 3);
    println!("5 kHz square: {sq:.2?} dB, alias {sq_alias:.1} dB; triangle {tri:.2?} dB, alias {tri_alias:.1} dB");
    assert!(sq_alias < -40.0 && tri_alias < -40.0);
    // Odd harmonics only: square 1/n, triangle 1/n².
    assert!(sq[1] < -80.0 && tri[1] < -80.0, "even harmonics present");
    assert!(
        (sq[2] + 20.0 * 3f64.log10()).abs() < 1.0,
        "square h3 {}",
        sq[2]
    );
    assert!(
        (tri[2] + 40.0 * 3f64.log10()).abs() < 1.0,
        "triangle h3 {}",
        tri[2]
    );
}

#[test]
fn saw_harmonics_follow_one_over_n() {
    // 1365 bins = 999.76 Hz; harmonics 1..=10 (up to 10 kHz).
    let k = 1365;
    let f = (k as f64 * SR as f64 / N as f64) as f32;
    let x = render(Waveform::Saw, f);
    let (levels, alias_db) = harmonics_and_alias(&x, k, 10);
    let p = power_spectrum(&x);
    // Absolute level of the fundamental: amplitude 2/π of a ±1 saw.
    let amp = 2.0 * p[k].sqrt() / N as f64;
    println!("1 kHz saw: fundamental amplitude {amp:.5} (2/π = 0.63662), harmonics {levels:.3?} dB, alias {alias_db:.1} dB");
    assert!((amp - 2.0 / std::f64::consts::PI).abs() < 0.005);
    for (n, l) in levels.iter().enumerate() {
        let expect = -20.0 * ((n + 1) as f64).log10();
        assert!((l - expect).abs() < 0.1, "harmonic {}: {l} dB", n + 1);
    }
    assert!(alias_db < -80.0);
}

#[test]
fn sine_is_pure() {
    let k = 1365;
    let f = (k as f64 * SR as f64 / N as f64) as f32;
    let p = power_spectrum(&render(Waveform::Sine, f));
    let harmonics: f64 = (2..=10).map(|n| p[n * k]).sum();
    let thd = db(harmonics / p[k]);
    let rest: f64 = p
        .iter()
        .enumerate()
        .filter(|(b, _)| *b != k)
        .map(|(_, v)| v)
        .sum();
    println!("sine THD {thd:.1} dB, THD+N {:.1} dB", db(rest / p[k]));
    assert!(thd < -100.0);
}

#[test]
fn frequency_is_exact() {
    for wf in [
        Waveform::Sine,
        Waveform::Saw,
        Waveform::Square,
        Waveform::Triangle,
    ] {
        for f in [997.0f32, 1000.0, 440.0] {
            let mut osc = Oscillator::new(SR);
            osc.set_waveform(wf);
            osc.reset(0.1);
            let mut out = vec![0.0; SR as usize + BLEP_LATENCY_SAMPLES];
            osc.process(f, &mut out);
            let x = &out[BLEP_LATENCY_SAMPLES..];
            let crossings = x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
            assert_eq!(crossings, f as usize, "{wf:?} at {f} Hz");
        }
    }
}

#[test]
fn per_sample_frequency_and_glide() {
    // A slice input equals the constant input; a glide stays bounded and continuous.
    let mut a = Oscillator::new(SR);
    let mut b = Oscillator::new(SR);
    a.set_waveform(Waveform::Saw);
    b.set_waveform(Waveform::Saw);
    let freqs = vec![220.0f32; 4096];
    let mut ya = vec![0.0; 4096];
    let mut yb = vec![0.0; 4096];
    a.process(freqs.as_slice(), &mut ya);
    b.process(220.0, &mut yb);
    assert_eq!(ya, yb);
    let glide: Vec<f32> = (0..48_000)
        .map(|i| 50.0 * 200f32.powf(i as f32 / 48_000.0))
        .collect();
    let mut y = vec![0.0; glide.len()];
    for wf in [
        Waveform::Saw,
        Waveform::Square,
        Waveform::Triangle,
        Waveform::Sine,
    ] {
        a.set_waveform(wf);
        a.process(glide.as_slice(), &mut y);
        let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        // A band-limited square above fs/6 is nearly a sine of amplitude 4/π.
        assert!(
            peak < 4.0 / std::f32::consts::PI + 0.01 && y.iter().all(|v| v.is_finite()),
            "{wf:?} peak {peak}"
        );
    }
    // Out-of-range and NaN frequencies neither panic nor produce NaN.
    for f in [f32::NAN, -5.0, 1e9, f32::INFINITY] {
        a.process(f, &mut y[..64]);
        assert!(y[..64].iter().all(|v| v.is_finite()));
    }
    // A short slice holds its last value.
    a.set_waveform(Waveform::Sine);
    a.reset(0.0);
    a.process(&[0.0f32, 12_000.0], &mut y[..5]);
    assert_eq!(
        y[..5].iter().map(|v| v.round()).collect::<Vec<_>>(),
        [0.0, 0.0, 1.0, 0.0, -1.0]
    );
}

#[test]
fn blamp_residual_returns_to_zero() {
    let t = TABLES.get_or_init(BlepTables::build);
    let last = KERNEL_LEN * (TABLE_RES + 1) - 1;
    assert!(t.blep[0].abs() < 1e-6 && t.blep[last].abs() < 1e-6);
    assert!(
        t.blamp[0].abs() < 1e-6 && t.blamp[last].abs() < 1e-5,
        "{}",
        t.blamp[last]
    );
}
