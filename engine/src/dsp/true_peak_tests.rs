//! Tests for `true_peak.rs`, and what the limiter's tests share with them: an independent
//! reference interpolator and a set of hostile signals.
//!
//! The reference is the design of `shared/reference/true-peak.md` written out directly, in f64:
//! 16 points per sample, each a 128-tap Kaiser(β 12)-windowed sinc with its cutoff at 0.98 of
//! Nyquist (scipy: `resample_poly(x, 16, 1, window=firwin(16*128+1, 0.98/16,
//! window=("kaiser", 12)))`). It shares no code with the meter, which reaches the same response
//! through four ×2 stages in f32.

use super::*;
use std::f64::consts::PI as PI64;

/// Stereo test signal.
pub(crate) type Stereo = [Vec<f32>; 2];

/// Reference taps: `REF_TAPS[p][j]` weighs `x[k − 63 + j]` for the point at `k + p/16`.
fn reference_taps() -> Vec<Vec<f64>> {
    fn i0(x: f64) -> f64 {
        let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
        while term > 1e-17 * sum {
            term *= (x / (2.0 * k)) * (x / (2.0 * k));
            sum += term;
            k += 1.0;
        }
        sum
    }
    let (fc, half, beta) = (0.49, 64.0, 12.0);
    let h = |tau: f64| -> f64 {
        let r = tau / half;
        if r.abs() >= 1.0 {
            return 0.0;
        }
        let x = 2.0 * fc * tau;
        let sinc = if x == 0.0 {
            1.0
        } else {
            (PI64 * x).sin() / (PI64 * x)
        };
        2.0 * fc * sinc * i0(beta * (1.0 - r * r).sqrt()) / i0(beta)
    };
    let mut t: Vec<Vec<f64>> = (0..16)
        .map(|p| {
            (0..128)
                .map(|j| h(p as f64 / 16.0 - (j as f64 - 63.0)))
                .collect()
        })
        .collect();
    // unit DC gain on average over the 16 points, as firwin + resample_poly scale it
    let mean = t.iter().flatten().sum::<f64>() / 16.0;
    t.iter_mut().flatten().for_each(|v| *v /= mean);
    t
}

/// Reference true peak of one channel (linear): the largest |point| at 16 points per sample,
/// the signal taken as zero outside `x`. Interpolated points only (no sample peak).
pub(crate) fn reference_peak(x: &[f32]) -> f64 {
    thread_local! {
        static TAPS: Vec<Vec<f64>> = reference_taps();
    }
    TAPS.with(|taps| {
        let mut padded = vec![0.0f64; x.len() + 128];
        for (d, &s) in padded[63..].iter_mut().zip(x) {
            *d = s as f64;
        }
        let mut peak = 0.0f64;
        for t in taps.iter() {
            for k in 0..x.len() {
                let w = &padded[k..k + 128];
                let acc: f64 = t.iter().zip(w).map(|(a, b)| a * b).sum();
                peak = peak.max(acc.abs());
            }
        }
        peak
    })
}

/// Reference true peak of a stereo signal in dBTP: max over channels of the reference
/// interpolator and the sample peak (the sample is a point of the waveform too).
pub(crate) fn reference_dbtp(y: &Stereo) -> (f64, f64) {
    let interp = y.iter().map(|c| reference_peak(c)).fold(0.0, f64::max);
    let sp = y
        .iter()
        .flatten()
        .fold(0.0f64, |a, &b| a.max((b as f64).abs()));
    (20.0 * interp.log10(), 20.0 * interp.max(sp).log10())
}

/// BS.1770-5 Annex 2's example interpolator (4×, 12 taps per phase, dsp-references §2): per
/// input index `m`, the largest |point| of the four it makes from `x[m − 11 ..= m]` (zeros
/// before the signal).
pub(crate) fn annex2_points(x: &[f32]) -> Vec<f64> {
    const P0: [f64; 12] = [
        0.0017089843750,
        0.0109863281250,
        -0.0196533203125,
        0.0332031250000,
        -0.0594482421875,
        0.1373291015625,
        0.9721679687500,
        -0.1022949218750,
        0.0476074218750,
        -0.0266113281250,
        0.0148925781250,
        -0.0083007812500,
    ];
    const P1: [f64; 12] = [
        -0.0291748046875,
        0.0292968750000,
        -0.0517578125000,
        0.0891113281250,
        -0.1665039062500,
        0.4650878906250,
        0.7797851562500,
        -0.2003173828125,
        0.1015625000000,
        -0.0582275390625,
        0.0330810546875,
        -0.0189208984375,
    ];
    // phases 2 and 3 are phases 1 and 0 reversed
    let rev = |p: [f64; 12]| -> [f64; 12] { std::array::from_fn(|m| p[11 - m]) };
    let phases = [P0, P1, rev(P1), rev(P0)];
    let mut padded = vec![0.0f64; x.len() + 11];
    for (d, &v) in padded[11..].iter_mut().zip(x) {
        *d = v as f64;
    }
    padded
        .windows(12)
        .map(|w| {
            phases.iter().fold(0.0f64, |m, ph| {
                // y_k[m] = Σ_j PHASE[j] · x[m − j]; the window is oldest first
                let acc: f64 = ph.iter().zip(w.iter().rev()).map(|(a, b)| a * b).sum();
                m.max(acc.abs())
            })
        })
        .collect()
}

/// Annex 2's true peak (max with the sample peak), dBTP: what many compliance meters read.
pub(crate) fn annex2_dbtp(y: &Stereo) -> f64 {
    let peak = y.iter().fold(0.0f64, |m, c| {
        let p = annex2_points(c).into_iter().fold(m, f64::max);
        c.iter().fold(p, |a, &v| a.max((v as f64).abs()))
    });
    20.0 * peak.log10()
}

/// The engine's meter in dBTP.
pub(crate) fn meter_dbtp(y: &Stereo) -> f64 {
    let mut m = TruePeak::new(2);
    m.process(&[&y[0], &y[1]]);
    to_db(m.true_peak())
}

fn lcg(s: &mut u64) -> f64 {
    *s = s
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    ((*s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

fn one_pole_lowpass(x: &mut [f64], a: f64) {
    let mut s = 0.0;
    for v in x.iter_mut() {
        s += a * (*v - s);
        *v = s;
    }
}

/// Synthetic drums: pitched thumps (150 → 50 Hz) and snares (noise + 190 Hz) on the beats,
/// differentiated-noise hats on the eighths.
fn drums(fs: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    let mut x = vec![0.0; n];
    let beat = (0.25 * fs) as usize;
    for (bi, start) in (0..n).step_by(beat).enumerate() {
        for i in 0..(n - start).min((0.4 * fs) as usize) {
            let t = i as f64 / fs;
            x[start + i] += match bi % 4 {
                0 | 2 => {
                    let ph = 2.0 * PI64 * (50.0 * t + 3.0 * (1.0 - (-t / 0.03).exp()));
                    ph.sin() * (-t / 0.15).exp()
                }
                1 => {
                    0.7 * lcg(&mut s) * (-t / 0.06).exp()
                        + 0.4 * (2.0 * PI64 * 190.0 * t).sin() * (-t / 0.04).exp()
                }
                _ => 0.0,
            };
        }
    }
    for start in (beat / 4..n).step_by(beat / 2) {
        let mut prev = 0.0;
        for i in 0..(n - start).min((0.08 * fs) as usize) {
            let w = lcg(&mut s);
            x[start + i] += 0.3 * (w - prev) * (-(i as f64) / (0.02 * fs)).exp();
            prev = w;
        }
    }
    x
}

fn saw(fs: f64, n: usize, f: f64, phase: f64) -> Vec<f64> {
    (0..n)
        .map(|i| 2.0 * (i as f64 * f / fs + phase).fract() - 1.0)
        .collect()
}

/// Five parts: drums, a low-passed saw bass, three-saw chords, a pulse lead, noise "air".
fn mix5(fs: f64, n: usize) -> [Vec<f64>; 2] {
    let d = drums(fs, n, 11);
    let mut bass = saw(fs, n, 55.0, 0.0);
    one_pole_lowpass(&mut bass, 0.05);
    let mut chords = vec![0.0; n];
    for (f, p) in [(220.0, 0.1), (277.18, 0.4), (329.63, 0.7)] {
        for (c, v) in chords.iter_mut().zip(saw(fs, n, f, p)) {
            *c += 0.3 * v;
        }
    }
    one_pole_lowpass(&mut chords, 0.3);
    let lead = |i: usize| {
        if (i as f64 * 880.0 / fs).fract() < 0.3 {
            0.25
        } else {
            -0.25
        }
    };
    let mut s = 77u64;
    let air: Vec<f64> = (0..n).map(|_| 0.08 * lcg(&mut s)).collect();
    let l = (0..n)
        .map(|i| d[i] + 0.8 * bass[i] + 0.7 * chords[i] + 0.8 * lead(i) + air[i])
        .collect();
    let r = (0..n)
        .map(|i| d[i] + 0.8 * bass[i] + 0.5 * chords[i] + 0.4 * lead(i) - air[i])
        .collect();
    [l, r]
}

/// Scales both channels so the larger sample peak is `peak_db` dBFS; 10 ms fades; 300 zeros
/// before and after (more than the meter's support, so every point is read).
fn finish(x: [Vec<f64>; 2], peak_db: f64, fs: f64) -> Stereo {
    let m = x.iter().flatten().fold(0.0f64, |a, b| a.max(b.abs()));
    let g = 10f64.powf(peak_db / 20.0) / m;
    let nf = (0.01 * fs) as usize;
    x.map(|c| {
        let n = c.len();
        let mut y = vec![0.0f32; 300];
        y.extend(c.iter().enumerate().map(|(i, v)| {
            let f = (i.min(n - 1 - i) as f64 / nf as f64).min(1.0);
            (v * g * f) as f32
        }));
        y.extend(std::iter::repeat_n(0.0, 300));
        y
    })
}

/// The hostile signals at `fs`, `secs` long: +6 dB white and pink noise, +6 dBFS naive squares
/// (including frequencies that do not divide the rate) and band-limited ones up to 11 kHz, a
/// sweep to 0.49·fs, +12 dB drums, a +8 dB five-part mix, sines near
/// Nyquist with inter-sample peaks.
pub(crate) fn hostile(fs: f64, secs: f64) -> Vec<(String, Stereo)> {
    let n = (secs * fs) as usize;
    let mut v = Vec::new();
    let mut s = 5u64;
    let noise = [(); 2].map(|_| (0..n).map(|_| lcg(&mut s)).collect::<Vec<f64>>());
    v.push(("white noise +6 dB".into(), finish(noise, 6.02, fs)));
    for f in [997.0, 1000.0, 3000.0, 7000.0] {
        let sq = |f: f64| -> Vec<f64> {
            (0..n)
                .map(|i| {
                    if (i as f64 * f / fs).fract() < 0.5 {
                        1.0
                    } else {
                        -1.0
                    }
                })
                .collect()
        };
        v.push((
            format!("square {f}/{} Hz +6 dBFS", f * 1.5),
            finish([sq(f), sq(f * 1.5)], 6.02, fs),
        ));
    }
    v.push((
        "drums +12 dB".into(),
        finish([drums(fs, n, 1), drums(fs, n, 2)], 12.0, fs),
    ));
    v.push(("5-part mix +8 dB".into(), finish(mix5(fs, n), 8.0, fs)));
    for (f1, f2) in [(19000.0, 19700.0), (20000.0, 20600.0)] {
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 / fs;
                (2.0 * PI64 * f1 * t + 0.26).sin() + 0.5 * (2.0 * PI64 * f2 * t).sin()
            })
            .collect();
        v.push((
            format!("sines {f1}+{f2} Hz +3 dB"),
            finish([x.clone(), x], 3.0, fs),
        ));
    }
    // fs·5/12 (20 kHz at 48 kHz) at a phase that puts every sample 15° off a crest
    let x: Vec<f64> = (0..n)
        .map(|i| (2.0 * PI64 * 5.0 * i as f64 / 12.0 + PI64 / 12.0 + PI64 / 2.0).sin())
        .collect();
    v.push(("sine 5/12·fs, crests between samples".into(), {
        let mut y = finish([x.clone(), x], 0.0, fs);
        // `finish` normalised the sample peak; the waveform's crest is 0.3 dB above it
        y.iter_mut().flatten().for_each(|v| *v *= 1.41);
        y
    }));
    // Pink noise (Kellet's filter over white noise), also at +6 dB.
    let pink = [(); 2].map(|_| {
        let mut b = [0.0f64; 3];
        (0..n)
            .map(|_| {
                let w = lcg(&mut s);
                b[0] = 0.99765 * b[0] + w * 0.0990460;
                b[1] = 0.96300 * b[1] + w * 0.2965164;
                b[2] = 0.57000 * b[2] + w * 1.0526913;
                b[0] + b[1] + b[2] + w * 0.1848
            })
            .collect::<Vec<f64>>()
    });
    v.push(("pink noise +6 dB".into(), finish(pink, 6.02, fs)));
    // Band-limited squares (odd harmonics below Nyquist), up to 11 kHz.
    for f in [1000.0, 5500.0, 11000.0] {
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 / fs;
                (1..)
                    .step_by(2)
                    .take_while(|k| *k as f64 * f < 0.5 * fs)
                    .map(|k| (2.0 * PI64 * k as f64 * f * t).sin() / k as f64)
                    .sum::<f64>()
            })
            .collect();
        v.push((
            format!("band-limited square {f} Hz +6 dBFS"),
            finish([x.clone(), x], 6.02, fs),
        ));
    }
    // A logarithmic sweep from 5 kHz to 0.49·fs, +3 dB.
    let (f0, f1) = (5000.0, 0.49 * fs);
    let dur = n as f64 / fs;
    let k = (f1 / f0).ln();
    let sweep: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 / fs;
            (2.0 * PI64 * f0 * dur / k * ((t / dur * k).exp() - 1.0)).sin()
        })
        .collect();
    v.push((
        "sweep 5 kHz to 0.49 fs +3 dB".into(),
        finish([sweep.clone(), sweep], 3.0, fs),
    ));
    v
}

#[test]
fn block_processing_equals_sample_by_sample() {
    let x: Vec<f32> = (0..3000)
        .map(|i| {
            ((i as f32 * 0.37).sin() * 0.8 + (i as f32 * 2.9).cos() * 0.3)
                * if i % 700 < 5 { 1.4 } else { 1.0 }
        })
        .collect();
    let mut whole = TruePeakChannel::default();
    let mut want = vec![0.0f32; x.len()];
    whole.readings(&x, &mut want);
    for split in [1usize, 7, 64, 128, 300, 3000] {
        let mut a = TruePeakChannel::default();
        let mut b = TruePeakChannel::default();
        let mut got = vec![0.0f32; x.len()];
        let mut block_max = 0.0f32;
        for (k, chunk) in x.chunks(split).enumerate() {
            let o = &mut got[k * split..k * split + chunk.len()];
            a.readings(chunk, o);
            block_max = block_max.max(b.process_block(chunk));
        }
        assert_eq!(got, want, "split {split}: readings differ");
        let m = want.iter().fold(0.0f32, |a, &b| a.max(b));
        assert_eq!(block_max, m, "split {split}");
    }
    let mut c = TruePeakChannel::default();
    let one: Vec<f32> = x.iter().map(|&v| c.next(v)).collect();
    assert_eq!(one, want, "next() per sample");
}

#[test]
fn a_reading_depends_on_its_support_only_and_holds_its_sample() {
    // An impulse at input 0 shows in readings 0 ..= SUPPORT − 1 at most (SUPPORT is computed
    // from the stages' windows; a tap at the edge of one may be zero); reading DELAY_SAMPLES
    // holds the impulse itself (the sample), at exactly 1.
    let n = SUPPORT + 300;
    let mut x = vec![0.0f32; n];
    x[0] = 1.0;
    let mut r = vec![0.0f32; n];
    TruePeakChannel::default().readings(&x, &mut r);
    let last = r.iter().rposition(|&v| v != 0.0).unwrap();
    eprintln!(
        "impulse: readings 0..={last} non-zero (SUPPORT {SUPPORT}); reading {DELAY_SAMPLES} = {}; max gain {:.3}",
        r[DELAY_SAMPLES],
        max_gain()
    );
    assert!(
        last < SUPPORT && last + 3 >= SUPPORT,
        "support {SUPPORT}, last {last}"
    );
    assert_eq!(r[DELAY_SAMPLES], 1.0);
    assert!(r.iter().all(|&v| v <= 1.0));
    // the bound the limiter's idle test uses holds for the worst sign pattern of each point
    assert!(max_gain() > 2.0 && max_gain() < 3.5);
}

#[test]
fn reads_sines_at_their_amplitude_up_to_0_46_fs() {
    // The ITU 4× filter reads a 20 kHz sine at 48 kHz 0.22 dB low; this one within 0.01 dB.
    for (fs, f) in [
        (48_000.0, 1000.0),
        (48_000.0, 12_000.0),
        (48_000.0, 20_000.0),
        (48_000.0, 22_000.0),
        (44_100.0, 17_000.0),
        (44_100.0, 20_000.0),
        (44_100.0, 20_300.0),
    ] {
        // 10 ms fades: an abrupt start would ring (Gibbs) above the amplitude
        let x: Vec<f32> = (0..9600)
            .map(|i| {
                let fade = (i.min(9599 - i) as f64 / 480.0).min(1.0);
                (0.5 * fade * (2.0 * PI64 * f * i as f64 / fs + 0.3).sin()) as f32
            })
            .collect();
        let mut m = TruePeak::new(1);
        m.process(&[&x]);
        let db = to_db(m.true_peak()) + 6.0206;
        eprintln!("{f} Hz at {fs}: {db:+.4} dB re amplitude");
        assert!(db.abs() < 0.01, "{f} Hz at {fs}: {db:+.4} dB");
    }
}

#[test]
fn meter_agrees_with_the_reference_on_hostile_signals() {
    let mut worst = 0.0f64;
    for fs in [44_100.0, 48_000.0, 96_000.0] {
        for (name, y) in hostile(fs, 0.5) {
            let (interp, with_sp) = reference_dbtp(&y);
            let m = meter_dbtp(&y);
            eprintln!(
                "{fs} {name:<38} reference {with_sp:+.4} dBTP (interpolated points {interp:+.4}), meter {m:+.4} (Δ {:+.4})",
                m - with_sp
            );
            worst = worst.max((m - with_sp).abs());
            assert!(
                (m - with_sp).abs() <= 0.01,
                "{fs} {name}: meter {m:.4} vs reference {with_sp:.4} dBTP"
            );
        }
    }
    eprintln!("worst |meter − reference| {worst:.4} dB");
}

#[test]
fn the_screened_meter_equals_the_full_computation() {
    // TruePeak::process computes the 16 points per sample only where the 4 per sample can
    // reach the maximum; the result must be the maximum of every reading, bit for bit.
    let full = |y: &Stereo| -> f32 {
        let r = y
            .iter()
            .map(|c| TruePeakChannel::default().process_block(c));
        let sp = y.iter().flatten().fold(0.0f32, |a, v| a.max(v.abs()));
        r.fold(sp, f32::max)
    };
    let mut cases: Vec<(String, Stereo)> = Vec::new();
    for fs in [44_100.0, 48_000.0] {
        cases.extend(
            hostile(fs, 0.25)
                .into_iter()
                .map(|(n, y)| (format!("{fs} {n}"), y)),
        );
    }
    // a loud bed and one inter-sample peak (fs/4 at 45°, crest 3 dB above its samples) at every
    // offset around a block edge
    let mut s = 9u64;
    let bed: Vec<f32> = (0..3000).map(|_| (0.5 * lcg(&mut s)) as f32).collect();
    for at in 1900..2100 {
        let mut x = bed.clone();
        for (k, v) in x[at..at + 8].iter_mut().enumerate() {
            *v = (0.9 * (PI64 / 2.0 * k as f64 + PI64 / 4.0).sin()) as f32;
        }
        cases.push((format!("peak at {at}"), [x.clone(), x]));
    }
    for (name, y) in &cases {
        let want = full(y);
        for split in [1usize, 100, 128, 4096] {
            let mut m = TruePeak::new(2);
            for k in (0..y[0].len()).step_by(split) {
                let e = (k + split).min(y[0].len());
                m.process(&[&y[0][k..e], &y[1][k..e]]);
            }
            assert_eq!(m.true_peak(), want, "{name}, blocks of {split}");
        }
    }
    eprintln!("{} signals: screened maximum = full maximum", cases.len());
}

#[test]
fn annex2_readings_add_bs1770s_interpolator_at_the_same_instants() {
    // with_annex2: every reading is the larger of this interpolator's and Annex 2's points at
    // the same instants; over a signal, the maximum of the two meters (f32 vs the test's f64)
    let mut worst = 0.0f64;
    for fs in [44_100.0, 48_000.0] {
        for (name, y) in hostile(fs, 0.25) {
            let both = y
                .iter()
                .map(|c| {
                    let mut r = vec![0.0f32; c.len()];
                    TruePeakChannel::default().with_annex2().readings(c, &mut r);
                    r.iter().fold(0.0f32, |a, &b| a.max(b))
                })
                .fold(0.0f32, f32::max);
            let plain = meter_dbtp(&y);
            let a2 = annex2_dbtp(&y);
            let want = plain.max(a2);
            let got = to_db(both);
            eprintln!("{fs} {name:<38} this {plain:+.4}, Annex 2 {a2:+.4}, with_annex2 {got:+.4}");
            worst = worst.max((got - want).abs());
            assert!((got - want).abs() < 1e-3, "{fs} {name}: {got} vs {want}");
        }
    }
    // and aligned: where Annex 2 reads higher, reading n is Annex 2's points from the inputs
    // up to n − 65 (their phase 0 lies at the reading's sample, n − 71)
    let y = &hostile(48_000.0, 0.1)[7].1[0]; // 19 + 19.7 kHz: Annex 2 reads 0.12 dB higher
    let a2 = annex2_points(y);
    let (mut r, mut plain) = (vec![0.0f32; y.len()], vec![0.0f32; y.len()]);
    TruePeakChannel::default().with_annex2().readings(y, &mut r);
    TruePeakChannel::default().readings(y, &mut plain);
    let raised: Vec<usize> = (0..y.len()).filter(|&n| r[n] > plain[n]).collect();
    eprintln!(
        "worst mismatch {worst:.2e} dB; Annex 2 raises {} of {} readings",
        raised.len(),
        y.len()
    );
    assert!(raised.len() > 100);
    for n in raised {
        let want = a2[n - DELAY_SAMPLES + 6];
        assert!(
            (r[n] as f64 - want).abs() < 1e-5,
            "reading {n}: {} vs {want}",
            r[n]
        );
    }
}

/// EBU Tech 3341 case 15..19: stereo sine at fs/k with a phase, amplitude 0.50119 (1.4141 for
/// #19), 100 ms fades as in the official files.
fn sine_case(fs_div: f64, phase_deg: f64, amp: f64) -> Vec<f32> {
    let fs = 48000.0;
    let f = fs / fs_div;
    let n = 48000;
    (0..n)
        .map(|i| {
            let t = i as f64 / fs;
            let fade = ((i as f64 / 4800.0).min(1.0)).min((n - i) as f64 / 4800.0);
            (amp * fade * (2.0 * PI64 * f * t + phase_deg.to_radians()).sin()) as f32
        })
        .collect()
}

#[test]
fn ebu_3341_cases_15_to_19_within_tolerance() {
    // (fs divisor, phase, amplitude, expected dBTP) from EBU Tech 3341 Table 1; tol +0.2/−0.4.
    // The waveform's own peak is the sine's amplitude (the fades are 100 ms long).
    let cases = [
        (4.0, 0.0, 0.50119, -6.0),
        (4.0, 45.0, 0.50119, -6.0),
        (6.0, 60.0, 0.50119, -6.0),
        (8.0, 67.5, 0.50119, -6.0),
        (4.0, 45.0, 1.4141, 3.0),
    ];
    for (k, ph, amp, expected) in cases {
        let exact = 20.0 * f64::log10(amp);
        let x = sine_case(k, ph, amp);
        let mut tp = TruePeak::new(2);
        tp.process(&[&x, &x]);
        let db = to_db(tp.true_peak());
        eprintln!("fs/{k} {ph}°: {db:.4} dBTP (waveform {exact})");
        assert!(
            db <= expected + 0.2 && db >= expected - 0.4,
            "fs/{k} {ph}°: {db:.3} dBTP, expected {expected} +0.2/−0.4"
        );
        assert!((db - exact).abs() < 0.005, "{db} vs the waveform's {exact}");
    }
}

#[test]
fn a_sample_peak_meter_would_fail_case_16_but_this_does_not() {
    let x = sine_case(4.0, 45.0, 0.50119);
    let mut tp = TruePeak::new(1);
    tp.process(&[&x]);
    assert!(
        to_db(tp.sample_peak()) < -8.9,
        "sample peak reads about −9.03"
    );
    assert!(to_db(tp.true_peak()) > -6.4);
}

/// Release-mode speed probe: `cargo test --release --lib -- --ignored --nocapture speed_meter`.
#[test]
#[ignore]
fn speed_meter() {
    let n = 48_000 * 60;
    let mut s = 3u64;
    let noise: Vec<f32> = (0..n).map(|_| (0.5 * lcg(&mut s)) as f32).collect();
    let mix = mix5(48_000.0, n).map(|c| c.iter().map(|&v| (0.3 * v) as f32).collect::<Vec<f32>>());
    for (what, x) in [("uniform noise", &noise), ("5-part mix", &mix[0])] {
        let mut m = TruePeak::new(2);
        let t = std::time::Instant::now();
        for c in (0..n).step_by(8192) {
            let e = (c + 8192).min(n);
            m.process(&[&x[c..e], &x[c..e]]);
        }
        let dt = t.elapsed().as_secs_f64();
        let mut full = TruePeakChannel::default();
        let t = std::time::Instant::now();
        let p = x
            .chunks(8192)
            .fold(0.0f32, |a, c| a.max(full.process_block(c)));
        let dt_full = t.elapsed().as_secs_f64();
        eprintln!(
            "true-peak meter, {what}: {:.2} ns per sample per channel (180 s stereo at 48 kHz: {:.3} s); every point: {:.2} ns",
            dt * 1e9 / (2 * n) as f64,
            dt * 3.0,
            dt_full * 1e9 / n as f64
        );
        assert_eq!(m.true_peak(), p.max(super::super::max_abs(x)));
    }
}
