//! Tests of the loudness meter: every synthesisable EBU Tech 3341 / 3342 case with its published
//! tolerance, the BS.1770 reference statements, the true-peak cases through `true_peak.rs`, and a
//! cross-check against the `ebur128` crate. Signals follow `make_ebu_signals.py`: amplitude
//! 10^(dBFS/20) per channel, 1 kHz phase referenced to the first sample (segments are whole
//! periods, so the phase is continuous), abrupt level changes, digital-zero silence.
//! Run with `--nocapture` to see the measured values.

use super::super::true_peak::{to_db, TruePeak};
use super::*;

const FS: f64 = 48000.0;

fn amp(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// A programme as (seconds, level in dBFS or `None` for silence) segments.
type Segments = Vec<(f64, Option<f64>)>;

fn nsamp(seconds: f64, fs: f64) -> usize {
    let n = seconds * fs;
    let r = n.round();
    assert!(
        (n - r).abs() < 1e-6,
        "segment is not a whole number of samples"
    );
    r as usize
}

/// 1 kHz tone sequence; `None` is digital silence.
fn tones(segments: &[(f64, Option<f64>)], fs: f64) -> Vec<f32> {
    let mut out = Vec::new();
    for &(sec, lev) in segments {
        let n = nsamp(sec, fs);
        let a = lev.map_or(0.0, amp);
        for _ in 0..n {
            let t = out.len() as f64;
            out.push((a * (2.0 * PI * 1000.0 * t / fs).sin()) as f32);
        }
    }
    out
}

fn check(label: &str, measured: f64, expected: f64, minus: f64, plus: f64) {
    println!("{label}: measured {measured:.4}, expected {expected} (+{plus}/-{minus})");
    assert!(
        measured >= expected - minus && measured <= expected + plus,
        "{label}: {measured} outside {expected} +{plus}/-{minus}"
    );
}

/// Feeds the signal in awkward chunk sizes (exercises the block splitting).
fn meter_for(fs: f64, weights: &[f64], chans: &[&[f32]]) -> LoudnessMeter {
    let mut m = LoudnessMeter::new(fs, weights);
    let n = chans[0].len();
    let mut start = 0;
    for chunk in [1, 7, 4801, 1023, 48000].iter().cycle() {
        if start >= n {
            break;
        }
        let end = (start + chunk).min(n);
        let v: Vec<&[f32]> = chans.iter().map(|c| &c[start..end]).collect();
        m.process(&v);
        start = end;
    }
    m
}

fn stereo_meter(x: &[f32]) -> LoudnessMeter {
    meter_for(FS, &[1.0, 1.0], &[x, x])
}

/// Feeds one frame at a time and calls `f(frames_so_far, meter)` after each frame.
fn stream(x: &[f32], mut f: impl FnMut(usize, &LoudnessMeter)) -> LoudnessMeter {
    let mut m = LoudnessMeter::stereo(FS);
    for i in 0..x.len() {
        let s = &x[i..i + 1];
        m.process(&[s, s]);
        f(i + 1, &m);
    }
    m
}

#[test]
fn k_weighting_at_48k_matches_the_bs1770_table() {
    let [p, r] = k_weighting(48000.0);
    let table = [
        (p.b0, 1.53512485958697),
        (p.b1, -2.69169618940638),
        (p.b2, 1.19839281085285),
        (p.a1, -1.69065929318241),
        (p.a2, 0.73248077421585),
        (r.b0, 1.0),
        (r.b1, -2.0),
        (r.b2, 1.0),
        (r.a1, -1.99004745483398),
        (r.a2, 0.99007225036621),
    ];
    for (i, (got, want)) in table.iter().enumerate() {
        assert!(
            (got - want).abs() < 1e-9,
            "coefficient {i}: {got} vs {want}"
        );
    }
}

#[test]
fn k_weighting_at_44k1_matches_the_reference_derivation() {
    let [p, r] = k_weighting(44100.0);
    let want = [
        (p.b0, 1.53084123005035),
        (p.b1, -2.65097999515473),
        (p.b2, 1.16907907992159),
        (p.a1, -1.66365511325602),
        (p.a2, 0.71259542807323),
        (r.a1, -1.98916967362980),
        (r.a2, 0.98919903578704),
    ];
    for (i, (got, want)) in want.iter().enumerate() {
        assert!(
            (got - want).abs() < 1e-12,
            "coefficient {i}: {got} vs {want}"
        );
    }
}

#[test]
fn tech3341_cases_1_and_2_m_s_i() {
    for (case, lev) in [(1, -23.0), (2, -33.0)] {
        let x = tones(&[(20.0, Some(lev))], FS);
        let (mut mlo, mut mhi, mut slo, mut shi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        let m = stream(&x, |_, m| {
            if let Some(v) = m.momentary_lufs() {
                (mlo, mhi) = (mlo.min(v), mhi.max(v));
            }
            if let Some(v) = m.short_term_lufs() {
                (slo, shi) = (slo.min(v), shi.max(v));
            }
        });
        let i = m.integrated_lufs().unwrap();
        check(&format!("3341-{case} I"), i, lev, 0.1, 0.1);
        check(&format!("3341-{case} M min"), mlo, lev, 0.1, 0.1);
        check(&format!("3341-{case} M max"), mhi, lev, 0.1, 0.1);
        check(&format!("3341-{case} S min"), slo, lev, 0.1, 0.1);
        check(&format!("3341-{case} S max"), shi, lev, 0.1, 0.1);
        // Peer consensus (ebur128 crate, pyloudnorm DeMan, numpy): lev + 0.0067.
        assert!((i - (lev + 0.0067)).abs() < 2e-4, "{i}");
    }
}

#[test]
fn tech3341_cases_3_4_5_integrated() {
    let s = |d: f64, l: f64| (d, Some(l));
    let cases: [(&str, Segments, f64); 3] = [
        (
            "3341-3",
            vec![s(10.0, -36.0), s(60.0, -23.0), s(10.0, -36.0)],
            -23.0139,
        ),
        (
            "3341-4",
            vec![
                s(10.0, -72.0),
                s(10.0, -36.0),
                s(60.0, -23.0),
                s(10.0, -36.0),
                s(10.0, -72.0),
            ],
            -23.0139,
        ),
        (
            "3341-5",
            vec![s(20.0, -26.0), s(20.1, -20.0), s(20.0, -26.0)],
            -22.9787,
        ),
    ];
    for (name, seg, consensus) in cases {
        let i = stereo_meter(&tones(&seg, FS)).integrated_lufs().unwrap();
        check(&format!("{name} I"), i, -23.0, 0.1, 0.1);
        assert!(
            (i - consensus).abs() < 2e-4,
            "{name}: {i} vs peer {consensus}"
        );
    }
}

#[test]
fn tech3341_case_6_five_channels() {
    let x = tones(&[(20.0, Some(0.0))], FS);
    let chans: Vec<Vec<f32>> = [-28.0, -28.0, -24.0, -30.0, -30.0]
        .iter()
        .map(|&l| x.iter().map(|&v| (f64::from(v) * amp(l)) as f32).collect())
        .collect();
    let refs: Vec<&[f32]> = chans.iter().map(|c| c.as_slice()).collect();
    let mut m = LoudnessMeter::for_channels(FS, 5);
    m.process(&refs);
    let i = m.integrated_lufs().unwrap();
    check("3341-6 I (5.0)", i, -23.0, 0.1, 0.1);
    assert!((i - -23.0163).abs() < 2e-4, "{i}");
    // 5.1 with a loud LFE reads the same: the LFE weight is 0.
    let lfe = vec![0.9f32; x.len()];
    let mut m6 = LoudnessMeter::for_channels(FS, 6);
    m6.process(&[refs[0], refs[1], refs[2], &lfe, refs[3], refs[4]]);
    assert_eq!(m6.integrated_lufs(), Some(i));
}

#[test]
fn tech3341_case_9_short_term_constant_after_3s() {
    let seg: Vec<_> = [(1.34, Some(-20.0)), (1.66, Some(-30.0))].repeat(5);
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    stream(&tones(&seg, FS), |_, m| {
        if let Some(v) = m.short_term_lufs() {
            (lo, hi) = (lo.min(v), hi.max(v));
        }
    });
    check("3341-9 S min after 3 s", lo, -23.0, 0.1, 0.1);
    check("3341-9 S max after 3 s", hi, -23.0, 0.1, 0.1);
}

#[test]
fn tech3341_case_10_max_short_term_20_files() {
    for i in 0..20 {
        let x = tones(
            &[(i as f64 * 0.15, None), (3.0, Some(-23.0)), (1.0, None)],
            FS,
        );
        let v = stereo_meter(&x).short_term_max_lufs().unwrap();
        check(&format!("3341-10-{} max S", i + 1), v, -23.0, 0.1, 0.1);
    }
}

#[test]
fn tech3341_case_11_max_short_term_per_segment() {
    let mut seg = Vec::new();
    for i in 0..20 {
        let i = i as f64;
        seg.extend([
            (i * 0.15, None),
            (3.0, Some(-38.0 + i)),
            (3.0 - i * 0.15, None),
        ]);
    }
    let mut maxima = [f64::NEG_INFINITY; 20];
    let seg_len = nsamp(6.0, FS);
    // Window ends t in (6i, 6i + 6] s belong to segment i.
    stream(&tones(&seg, FS), |n, m| {
        if let Some(v) = m.short_term_lufs() {
            let k = (n - 1) / seg_len;
            maxima[k] = maxima[k].max(v);
        }
    });
    for (i, v) in maxima.iter().enumerate() {
        check(
            &format!("3341-11 segment {i} max S"),
            *v,
            -38.0 + i as f64,
            0.1,
            0.1,
        );
    }
}

#[test]
fn tech3341_case_12_momentary_constant_after_1s() {
    let seg: Vec<_> = [(0.18, Some(-20.0)), (0.22, Some(-30.0))].repeat(25);
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    stream(&tones(&seg, FS), |n, m| {
        if n >= FS as usize {
            let v = m.momentary_lufs().unwrap();
            (lo, hi) = (lo.min(v), hi.max(v));
        }
    });
    check("3341-12 M min after 1 s", lo, -23.0, 0.1, 0.1);
    check("3341-12 M max after 1 s", hi, -23.0, 0.1, 0.1);
}

#[test]
fn tech3341_case_13_max_momentary_20_files() {
    for i in 0..20 {
        let x = tones(
            &[(i as f64 * 0.02, None), (0.4, Some(-23.0)), (1.0, None)],
            FS,
        );
        let v = stereo_meter(&x).momentary_max_lufs().unwrap();
        check(&format!("3341-13-{} max M", i + 1), v, -23.0, 0.1, 0.1);
    }
}

#[test]
fn max_momentary_is_sample_accurate() {
    // A 0.4 s burst starting off any 10 ms grid: only a window aligned to the sample catches
    // its full power (a 10 ms step could lose up to 0.1 dB, a 100 ms step far more).
    let full = stereo_meter(&tones(&[(2.0, Some(-23.0))], FS))
        .momentary_lufs()
        .unwrap();
    for offset in [1usize, 97, 241, 4801, 12345] {
        let n = nsamp(0.4, FS);
        let mut x = vec![0.0f32; offset];
        x.extend((0..n).map(|k| (amp(-23.0) * (2.0 * PI * k as f64 / 48.0).sin()) as f32));
        x.extend(vec![0.0f32; nsamp(1.0, FS)]);
        let v = stereo_meter(&x).momentary_max_lufs().unwrap();
        assert!((v - full).abs() < 1e-3, "offset {offset}: {v} vs {full}");
    }
}

#[test]
fn tech3341_case_14_max_momentary_per_segment() {
    let mut seg = Vec::new();
    for i in 0..20 {
        let i = i as f64;
        seg.extend([
            (i * 0.02, None),
            (0.4, Some(-38.0 + i)),
            (0.4 - i * 0.02, None),
        ]);
    }
    let mut maxima = [f64::NEG_INFINITY; 20];
    let seg_len = nsamp(0.8, FS);
    stream(&tones(&seg, FS), |n, m| {
        if let Some(v) = m.momentary_lufs() {
            let k = (n - 1) / seg_len;
            maxima[k] = maxima[k].max(v);
        }
    });
    for (i, v) in maxima.iter().enumerate() {
        check(
            &format!("3341-14 segment {i} max M"),
            *v,
            -38.0 + i as f64,
            0.1,
            0.1,
        );
    }
}

#[test]
fn calibration_tone_and_bs1770_997hz() {
    let i = stereo_meter(&tones(&[(20.0, Some(-18.0))], FS))
        .integrated_lufs()
        .unwrap();
    check("3341 cal -18 dBFS I", i, -18.0, 0.1, 0.1);
    let n = nsamp(20.0, FS);
    let x: Vec<f32> = (0..n)
        .map(|k| (2.0 * PI * 997.0 * k as f64 / FS).sin() as f32)
        .collect();
    let z = vec![0.0f32; n];
    let i = meter_for(FS, &[1.0, 1.0], &[&x, &z])
        .integrated_lufs()
        .unwrap();
    check("BS.1770 997 Hz 0 dBFS L only I", i, -3.01, 0.1, 0.1);
    assert!((i - -3.0103).abs() < 2e-4, "{i}");
}

#[test]
fn rate_44k1_minus_23_dbfs_tone() {
    let fs = 44100.0;
    let x = tones(&[(20.0, Some(-23.0))], fs);
    let m = meter_for(fs, &[1.0, 1.0], &[&x, &x]);
    let i = m.integrated_lufs().unwrap();
    check("44.1 kHz -23 dBFS I", i, -22.9906, 0.001, 0.001);
    check(
        "44.1 kHz M",
        m.momentary_lufs().unwrap(),
        -22.9906,
        0.01,
        0.01,
    );
    check(
        "44.1 kHz S",
        m.short_term_lufs().unwrap(),
        -22.9906,
        0.01,
        0.01,
    );
}

#[test]
fn tech3342_cases_1_to_4_loudness_range() {
    let s = |d: f64, l: f64| (d, Some(l));
    let cases = [
        (1, vec![s(20.0, -20.0), s(20.0, -30.0)], 10.0),
        (2, vec![s(20.0, -20.0), s(20.0, -15.0)], 5.0),
        (3, vec![s(20.0, -40.0), s(20.0, -20.0)], 20.0),
        (
            4,
            vec![
                s(20.0, -50.0),
                s(20.0, -35.0),
                s(20.0, -20.0),
                s(20.0, -35.0),
                s(20.0, -50.0),
            ],
            15.0,
        ),
    ];
    for (case, seg, want) in cases {
        let x = tones(&seg, FS);
        let lra = stereo_meter(&x).loudness_range_lu().unwrap();
        check(&format!("3342-{case} LRA"), lra, want, 1.0, 1.0);
        // "The expected response is unchanged if the test signal is repeated."
        let twice = [x.as_slice(), x.as_slice()].concat();
        let lra2 = stereo_meter(&twice).loudness_range_lu().unwrap();
        check(&format!("3342-{case} LRA repeated"), lra2, want, 1.0, 1.0);
    }
}

// ---------------------------------------------------------------- true peak (Tech 3341 15–23)

fn linear_fade(x: &mut [f64], n_fade: usize) {
    let n = x.len();
    for k in 0..n_fade {
        let r = k as f64 / n_fade as f64;
        x[k] *= r;
        x[n - 1 - k] *= r;
    }
}

fn true_peak_db(x: &[f32]) -> f64 {
    let mut tp = TruePeak::new(2);
    tp.process(&[x, x]);
    to_db(tp.true_peak())
}

#[test]
fn tech3341_cases_15_to_19_true_peak() {
    // The text's amplitudes (0.50 / 1.41 FFS) and 10 ms fades, 3.2 s, stereo.
    let cases = [
        (15, 4.0, 0.50, 0.0, -6.0),
        (16, 4.0, 0.50, 45.0, -6.0),
        (17, 6.0, 0.50, 60.0, -6.0),
        (18, 8.0, 0.50, 67.5, -6.0),
        (19, 4.0, 1.41, 45.0, 3.0),
    ];
    for (case, div, a, ph, want) in cases {
        let mut x: Vec<f64> = (0..nsamp(3.2, FS))
            .map(|n| a * (2.0 * PI * n as f64 / div + f64::to_radians(ph)).sin())
            .collect();
        linear_fade(&mut x, nsamp(0.01, FS));
        let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        check(&format!("3341-{case} TP"), true_peak_db(&x), want, 0.4, 0.2);
    }
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-17 * sum {
        term *= (x / (2.0 * k)).powi(2);
        sum += term;
        k += 1.0;
    }
    sum
}

/// Port of `make_ebu_signals.py` `tp_burst`: fs/6 tone at 0.5 with one fs/4 period at 1.0,
/// built at 4·fs, Kaiser-sinc low-passed (cutoff fs/2, 2047 taps, β 10), decimated at `offset`.
fn tp_burst(fs: f64, offset: usize) -> Vec<f32> {
    let total = nsamp(3.2, 4.0 * fs);
    let (p6, p4) = (24usize, 16usize);
    let s0 = (total / 2 / p6) * p6;
    let mut x: Vec<f64> = (0..total)
        .map(|n| {
            if n < s0 {
                0.5 * (2.0 * PI * n as f64 / p6 as f64).sin()
            } else if n < s0 + p4 {
                (2.0 * PI * (n - s0) as f64 / p4 as f64).sin()
            } else {
                0.5 * (2.0 * PI * (n - s0 - p4) as f64 / p6 as f64).sin()
            }
        })
        .collect();
    linear_fade(&mut x, nsamp(0.01, 4.0 * fs));
    let ntaps = 2047usize;
    let half = (ntaps - 1) / 2;
    let cutoff = 0.125;
    let i0b = bessel_i0(10.0);
    let mut h: Vec<f64> = (0..ntaps)
        .map(|k| {
            let m = k as f64 - half as f64;
            let arg = 2.0 * cutoff * m;
            let sinc = if arg == 0.0 {
                1.0
            } else {
                (PI * arg).sin() / (PI * arg)
            };
            let r = 2.0 * k as f64 / (ntaps - 1) as f64 - 1.0;
            2.0 * cutoff * sinc * bessel_i0(10.0 * (1.0 - r * r).max(0.0).sqrt()) / i0b
        })
        .collect();
    let hs: f64 = h.iter().sum();
    h.iter_mut().for_each(|v| *v /= hs);
    // y[j] = Σ_k h[k]·x[j + half − k] (np.convolve, "same" alignment), only at kept samples.
    (0..nsamp(3.2, fs))
        .map(|i| {
            let j = offset + 4 * i;
            let mut acc = 0.0;
            for (k, hk) in h.iter().enumerate() {
                let idx = j as isize + half as isize - k as isize;
                if idx >= 0 && (idx as usize) < total {
                    acc += hk * x[idx as usize];
                }
            }
            acc as f32
        })
        .collect()
}

#[test]
fn tech3341_cases_20_to_23_true_peak() {
    // Sample peaks of this construction per the reference: −0.130/−0.458/−2.498/−0.458 dBFS.
    let sample_peaks = [-0.130, -0.458, -2.498, -0.458];
    for (offset, want_sp) in sample_peaks.into_iter().enumerate() {
        let y = tp_burst(FS, offset);
        let sp = to_db(y.iter().fold(0.0f32, |a, v| a.max(v.abs())));
        assert!((sp - want_sp).abs() < 0.002, "offset {offset}: SP {sp}");
        check(
            &format!("3341-{} TP", 20 + offset),
            true_peak_db(&y),
            0.0,
            0.4,
            0.2,
        );
    }
}

// ---------------------------------------------------------------- behaviour

#[test]
fn chunking_does_not_change_results() {
    let x = noise(12.0, FS, 7, 0.3);
    let a = stereo_meter(&x);
    let mut b = LoudnessMeter::stereo(FS);
    b.process(&[&x, &x]);
    let q = |m: &LoudnessMeter| {
        [
            m.momentary_lufs(),
            m.short_term_lufs(),
            m.momentary_max_lufs(),
            m.short_term_max_lufs(),
            m.integrated_lufs(),
            m.loudness_range_lu(),
        ]
    };
    assert_eq!(q(&a), q(&b));
    b.reset();
    b.process(&[&x, &x]);
    assert_eq!(q(&a), q(&b), "reset restores the initial state");
}

#[test]
fn silence_and_short_input() {
    let mut m = LoudnessMeter::stereo(FS);
    assert_eq!(m.momentary_lufs(), None);
    assert_eq!(m.integrated_lufs(), None);
    let z = vec![0.0f32; nsamp(0.399, FS)];
    m.process(&[&z, &z]);
    assert_eq!(m.momentary_lufs(), None);
    let z = vec![0.0f32; nsamp(5.0, FS)];
    m.process(&[&z, &z]);
    assert_eq!(m.momentary_lufs(), Some(f64::NEG_INFINITY));
    assert_eq!(m.short_term_max_lufs(), Some(f64::NEG_INFINITY));
    assert_eq!(m.integrated_lufs(), None);
    assert_eq!(m.loudness_range_lu(), None);
}

#[test]
fn running_sums_do_not_drift_after_loud_passages() {
    // Full-scale noise for 10 s, then 10 s of silence: once the K-filter has rung down
    // (~100 ms) and the 400 ms window is past the noise, M must read (near) nothing.
    let mut x = noise(10.0, FS, 3, 1.0);
    x.extend(vec![0.0f32; nsamp(10.0, FS)]);
    let mut worst = f64::NEG_INFINITY;
    let mut m = LoudnessMeter::stereo(FS);
    let start = nsamp(10.5, FS);
    for (k, c) in x.chunks(480).enumerate() {
        m.process(&[c, c]);
        if (k + 1) * 480 >= start {
            worst = worst.max(m.momentary_lufs().unwrap());
        }
    }
    assert!(worst < -120.0, "M after the noise stopped: {worst}");
    assert_eq!(
        m.momentary_lufs(),
        Some(f64::NEG_INFINITY),
        "exact after a re-sum"
    );
}

// ---------------------------------------------------------------- cross-check with `ebur128`

/// Deterministic Gaussian-ish noise (sum of 4 uniforms), RMS `rms`.
fn noise(seconds: f64, fs: f64, seed: u64, rms: f64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uni = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    // Sum of 4 uniforms on [−1, 1) has variance 4/3.
    let k = rms / (4.0f64 / 3.0).sqrt();
    (0..nsamp(seconds, fs))
        .map(|_| (k * (uni() + uni() + uni() + uni())).clamp(-1.0, 1.0) as f32)
        .collect()
}

struct Deltas {
    i: f64,
    /// LRA from our short-term values taken at the crate's 1 s cadence.
    lra_1s: f64,
    /// LRA at our 10 Hz cadence (what `loudness_range_lu` reports).
    lra: f64,
    m: f64,
    s: f64,
    m_max: f64,
    s_max: f64,
}

fn cross_check(label: &str, fs: u32, chans: &[Vec<f32>]) -> Deltas {
    use ebur128::{Channel, EbuR128, Mode};
    let n_ch = chans.len();
    let mut theirs =
        EbuR128::new(n_ch as u32, fs, Mode::I | Mode::M | Mode::S | Mode::LRA).expect("ebur128");
    let map: &[Channel] = match n_ch {
        1 => &[Channel::Center],
        2 => &[Channel::Left, Channel::Right],
        6 => &[
            Channel::Left,
            Channel::Right,
            Channel::Center,
            Channel::Unused,
            Channel::LeftSurround,
            Channel::RightSurround,
        ],
        _ => panic!("unsupported layout"),
    };
    theirs.set_channel_map(map).unwrap();
    let mut ours = LoudnessMeter::for_channels(f64::from(fs), n_ch);
    let step = (fs / 100) as usize; // 10 ms, the refresh rate libebur128's tests use
    let len = chans[0].len();
    let (mut dm, mut ds) = (0.0f64, 0.0f64);
    let (mut their_mmax, mut their_smax) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (mut our_mmax, mut our_smax) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let mut start = 0;
    while start < len {
        let end = (start + step).min(len);
        let v: Vec<&[f32]> = chans.iter().map(|c| &c[start..end]).collect();
        theirs.add_frames_planar_f32(&v).unwrap();
        ours.process(&v);
        if let Some(m) = ours.momentary_lufs() {
            let t = theirs.loudness_momentary().unwrap();
            if m.is_finite() || t.is_finite() {
                dm = dm.max((m - t).abs());
            }
            their_mmax = their_mmax.max(t);
            our_mmax = our_mmax.max(m);
        }
        if let Some(s) = ours.short_term_lufs() {
            let t = theirs.loudness_shortterm().unwrap();
            if s.is_finite() || t.is_finite() {
                ds = ds.max((s - t).abs());
            }
            their_smax = their_smax.max(t);
            our_smax = our_smax.max(s);
        }
        start = end;
    }
    let d = Deltas {
        i: ours.integrated_lufs().unwrap() - theirs.loudness_global().unwrap(),
        lra_1s: loudness_range_of(&ours.short_terms, 10).unwrap()
            - theirs.loudness_range().unwrap(),
        lra: ours.loudness_range_lu().unwrap() - theirs.loudness_range().unwrap(),
        m: dm,
        s: ds,
        m_max: our_mmax - their_mmax,
        s_max: our_smax - their_smax,
    };
    // Our maxima are sample-accurate, so they can only be at or above the 10 ms-grid maxima.
    assert!(ours.momentary_max_lufs().unwrap() >= our_mmax - 1e-9);
    assert!(ours.short_term_max_lufs().unwrap() >= our_smax - 1e-9);
    println!(
        "ebur128 cross-check {label}: ΔI {:+.1e}  ΔLRA(1 s) {:+.1e}  ΔLRA(10 Hz) {:+.1e}  \
         max|ΔM| {:.1e}  max|ΔS| {:.1e}  ΔmaxM(10 ms grid) {:+.1e}  ΔmaxS {:+.1e}  \
         (ours: I {:.4}, LRA {:.4}, maxM {:.4})",
        d.i,
        d.lra_1s,
        d.lra,
        d.m,
        d.s,
        d.m_max,
        d.s_max,
        ours.integrated_lufs().unwrap(),
        ours.loudness_range_lu().unwrap(),
        ours.momentary_max_lufs().unwrap(),
    );
    d
}

fn assert_deltas(label: &str, d: &Deltas, lra_tol: f64) {
    for (what, v, tol) in [
        ("I", d.i, 0.01),
        ("LRA at the crate's 1 s cadence", d.lra_1s, 0.01),
        ("LRA", d.lra, lra_tol),
        ("M", d.m, 0.01),
        ("S", d.s, 0.01),
        ("max M", d.m_max, 0.01),
        ("max S", d.s_max, 0.01),
    ] {
        assert!(v.abs() <= tol, "{label}: Δ{what} = {v}");
    }
}

/// Level-modulated noise: gain in dB follows a slow staircase of 1 s steps (seeded).
fn stepped_noise(seconds: f64, fs: f64, seed: u64) -> Vec<f32> {
    let mut x = noise(seconds, fs, seed, 0.25);
    let mut s = seed | 1;
    let spb = fs as usize;
    for block in x.chunks_mut(spb) {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let g = amp(-(((s >> 33) % 25) as f64));
        block
            .iter_mut()
            .for_each(|v| *v = (f64::from(*v) * g) as f32);
    }
    x
}

#[test]
fn cross_check_with_ebur128_crate() {
    let s = |d: f64, l: f64| (d, Some(l));
    let tone = tones(&[s(30.0, -23.0)], FS);
    let d = cross_check("tone -23 dBFS", 48000, &[tone.clone(), tone]);
    assert_deltas("tone", &d, 0.01);

    let steps = tones(
        &[
            s(10.0, -36.0),
            s(20.0, -20.0),
            s(10.0, -30.0),
            s(15.0, -15.0),
            s(10.0, -45.0),
        ],
        FS,
    );
    let d = cross_check("1 kHz level steps", 48000, &[steps.clone(), steps]);
    assert_deltas("steps", &d, 0.01);

    let (a, b) = (noise(40.0, FS, 11, 0.1), noise(40.0, FS, 12, 0.05));
    let d = cross_check("stereo noise", 48000, &[a, b]);
    // The crate (like libebur128) takes its LRA short-term values every 1 s, where Tech 3342
    // asks for >= 10 Hz; `assert_deltas` checks our algorithm on the crate's 1 s subset to
    // 0.01 LU, and the 10 Hz value within a sampling allowance.
    assert_deltas("noise", &d, 0.05);

    let (a, b) = (stepped_noise(60.0, FS, 21), stepped_noise(60.0, FS, 22));
    let d = cross_check("stepped noise", 48000, &[a, b]);
    // Here the 1 s and 10 Hz sets of S differ a lot (level jumps of up to 24 dB every second,
    // 58 vs 571 values): the crate is exact at its own cadence (checked to 0.01 above), and
    // the 10 Hz value is ours by design, so only a loose sanity bound applies.
    assert_deltas("stepped noise", &d, 1.5);

    let x = noise(30.0, FS, 5, 0.2);
    let lfe = noise(30.0, FS, 6, 0.5);
    let chans = vec![x.clone(), x.clone(), x.clone(), lfe, x.clone(), x];
    let d = cross_check("5.1 noise", 48000, &chans);
    assert_deltas("5.1", &d, 0.05);

    let (a, b) = (noise(20.0, 96000.0, 31, 0.1), noise(20.0, 96000.0, 32, 0.2));
    let d = cross_check("96 kHz stereo noise", 96000, &[a, b]);
    assert_deltas("96k", &d, 0.05);

    let t = tones(&[s(10.0, -30.0), s(20.0, -18.0)], 44100.0);
    let d = cross_check("44.1 kHz tone steps", 44100, &[t.clone(), t]);
    assert_deltas("44.1k", &d, 0.01);
}

#[test]
fn live_meter_keeps_no_history_and_tracks_the_integrated_loudness() {
    // Segments of a 1 kHz sine at three levels and a silent gap: gating matters.
    let fs = 48_000.0;
    let mut full = LoudnessMeter::stereo(fs);
    let mut live = LoudnessMeter::stereo(fs).live();
    let mut phase = 0.0f64;
    for (seconds, amp) in [
        (5.0, 0.1),
        (3.0, 0.0),
        (4.0, 0.01),
        (6.0, 0.3),
        (2.0, 0.003),
    ] {
        let n = (seconds * fs) as usize;
        let mut x = vec![0.0f32; n];
        for v in x.iter_mut() {
            *v = (amp * (std::f64::consts::TAU * phase).sin()) as f32;
            phase = (phase + 1000.0 / fs).fract();
        }
        for c in x.chunks(4096) {
            full.process(&[c, c]);
            live.process(&[c, c]);
        }
        let (a, b) = (full.integrated_lufs(), live.integrated_lufs());
        match (a, b) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 0.1, "{a} vs {b}"),
            (a, b) => assert_eq!(a.is_some(), b.is_some()),
        }
    }
    assert!(live.integrated_lufs().is_some());
    assert_eq!(live.blocks.capacity(), 0, "no gating history kept live");
    assert_eq!(live.short_terms.capacity(), 0);
    assert_eq!(live.loudness_range_lu(), None);
}
