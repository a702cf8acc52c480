//! `:eq`, `:highpass` and `:lowpass` as a user reaches them: a Lua script plays a synthesised
//! WAV through the insert, the engine renders it, and the test measures the result.
//! References: RBJ Audio EQ Cookbook magnitudes (dsp-references.md §3, `rbj_table.json`, computed
//! with scipy and cross-checked against sox and ffmpeg to 0.0001 dB).

mod harness;

use harness::*;

/// A band constructor, its sample rate, and (f, dB) points.
type RbjRow = (&'static str, u32, &'static [(f64, f64)]);

/// (band constructor, sample rate, [(f, dB)]) from `rbj_table.json`.
const RBJ: &[RbjRow] = &[
    (
        "mix.bell { hz = 1000, q = 1, gain_db = 6 }",
        48000,
        &[
            (100.0, 0.0651868872309751),
            (500.0, 1.8793813596764464),
            (1000.0, 6.0),
            (2000.0, 1.8659910369475754),
            (10000.0, 0.047601908648717745),
        ],
    ),
    (
        "mix.bell { hz = 1000, q = 1, gain_db = -6 }",
        48000,
        &[
            (100.0, -0.06518688723102885),
            (1000.0, -6.0),
            (10000.0, -0.04760190864871476),
        ],
    ),
    (
        "mix.bell { hz = 1000, q = 4, gain_db = 12 }",
        48000,
        &[
            (500.0, 0.4239),
            (900.0, 6.8604),
            (1000.0, 12.0),
            (1100.0, 7.3646),
            (2000.0, 0.4196),
        ],
    ),
    (
        "mix.bell { hz = 1000, q = 1, gain_db = 6 }",
        44100,
        &[(100.0, 0.0652), (1000.0, 6.0), (10000.0, 0.0445)],
    ),
    (
        "mix.low_shelf { hz = 100, gain_db = 6, slope = 1 }",
        48000,
        &[
            (20.0, 5.9896),
            (50.0, 5.6236),
            (100.0, 3.0),
            (200.0, 0.3764),
            (1000.0, 0.0006),
            (10000.0, 0.0),
        ],
    ),
    (
        "mix.high_shelf { hz = 10000, gain_db = 6, slope = 1 }",
        48000,
        &[
            (1000.0, 0.0003),
            (5000.0, 0.2372),
            (10000.0, 3.0),
            (20000.0, 5.9884),
        ],
    ),
    (
        "mix.high_shelf { hz = 3000, gain_db = -6, slope = 0.5 }",
        48000,
        &[(300.0, -0.0625), (3000.0, -3.0), (20000.0, -5.9816)],
    ),
    (
        "mix.lowpass { hz = 1000, q = 0.7071 }",
        48000,
        &[
            (100.0, -0.0004),
            (1000.0, -3.0103),
            (2000.0, -12.3749),
            (10000.0, -42.7383),
        ],
    ),
    (
        "mix.highpass { hz = 100, q = 0.7071 }",
        48000,
        &[
            (10.0, -40.0007),
            (50.0, -12.3047),
            (100.0, -3.0103),
            (1000.0, -0.0004),
        ],
    ),
    (
        "mix.lowpass { hz = 5000, q = 2 }",
        48000,
        &[(1000.0, 0.2866), (5000.0, 6.0206), (15000.0, -25.3759)],
    ),
    (
        "mix.bandpass { hz = 1000, q = 1 }",
        48000,
        &[
            (100.0, -19.9692),
            (500.0, -5.1296),
            (1000.0, 0.0),
            (2000.0, -5.162),
            (10000.0, -21.3375),
        ],
    ),
    (
        "mix.notch { hz = 1000, q = 1 }",
        48000,
        &[
            (100.0, -0.044),
            (500.0, -1.5922),
            (900.0, -13.6776),
            (2000.0, -1.578),
            (10000.0, -0.032),
        ],
    ),
    (
        "mix.allpass { hz = 1000, q = 0.7071 }",
        48000,
        &[(100.0, 0.0), (1000.0, 0.0), (10000.0, 0.0)],
    ),
];

/// The impulse response of `insert` (Lua text applied to a track), 1 s long, rendered through
/// the engine at `sr`. The track plays a stereo WAV (balance pan: 0 dB at centre).
fn impulse_response(dir: &Dir, sr: u32, insert: &str) -> Vec<f32> {
    let x = impulse(sr as usize, 0, 1.0);
    dir.wav("imp.wav", sr, &[&x, &x]);
    let src = format!(
        "mix.session {{ sample_rate = {sr} }}\nlocal t = mix.track(\"t\", \"imp.wav\")\nt{insert}\n"
    );
    let r = dir.render(&src);
    assert_eq!(r.out[0], r.out[1], "stereo channels differ for {insert}");
    assert!(
        r.out[0].len() >= sr as usize - 1,
        "impulse response cut short"
    );
    r.out[0].clone()
}

#[test]
fn eq_bands_match_the_rbj_cookbook_table() {
    let dir = Dir::new();
    let mut worst = (0.0f64, String::new());
    for (band, sr, points) in RBJ {
        let h = impulse_response(&dir, *sr, &format!(":eq {{ {band} }}"));
        for (f, want) in points.iter() {
            let got = dtft_db(&h, *f, *sr as f64);
            let err = (got - want).abs();
            assert!(
                err <= 0.01,
                "{band} @ {sr} Hz: {f} Hz reads {got:.4} dB, the cookbook says {want:.4} dB"
            );
            if err > worst.0 {
                worst = (err, format!("{band} @ {f} Hz"));
            }
        }
    }
    eprintln!("largest deviation {:.5} dB ({})", worst.0, worst.1);
}

#[test]
fn eq_bands_in_one_insert_multiply() {
    // Two bands in one :eq are a cascade: the response is the sum of the bands' dB.
    let dir = Dir::new();
    let h = impulse_response(
        &dir,
        SR,
        ":eq { mix.bell { hz = 1000, q = 1, gain_db = 6 }, mix.low_shelf { hz = 100, gain_db = 6, slope = 1 } }",
    );
    for (f, want) in [
        (100.0, 0.0651868872309751 + 3.0),
        (1000.0, 6.0 + 0.0006),
        (10000.0, 0.047601908648717745),
    ] {
        let got = dtft_db(&h, f, SR as f64);
        assert!((got - want).abs() < 0.01, "{f} Hz: {got:.4} vs {want:.4}");
    }
}

/// |H(f)|² of an order-`n` Butterworth made by the (prewarped) bilinear transform, in dB.
fn butterworth_db(high: bool, n: f64, fc: f64, f: f64, sr: f64) -> f64 {
    let w = |x: f64| (std::f64::consts::PI * x / sr).tan();
    let r = if high { w(fc) / w(f) } else { w(f) / w(fc) };
    -10.0 * (1.0 + r.powf(2.0 * n)).log10()
}

#[test]
fn butterworth_filters_are_3db_down_at_hz_with_the_stated_slope() {
    let dir = Dir::new();
    let sr = SR as f64;
    let hz = 1000.0;
    for kind in ["highpass", "lowpass"] {
        for slope in [12.0, 24.0, 36.0, 48.0] {
            let h = impulse_response(
                &dir,
                SR,
                &format!(":{kind} {{ hz = {hz}, slope_db = {slope} }}"),
            );
            let at = dtft_db(&h, hz, sr);
            assert!(
                (at + 3.0103).abs() < 0.01,
                "{kind} {slope} dB/oct: {at:.4} dB at hz, want -3.01"
            );
            // The whole curve is the bilinear Butterworth of order slope/6.
            for f in [
                62.5, 125.0, 250.0, 500.0, 707.0, 1414.0, 2000.0, 4000.0, 8000.0, 16000.0,
            ] {
                let want = butterworth_db(kind == "highpass", slope / 6.0, hz, f, sr);
                if want < -80.0 {
                    continue;
                }
                let got = dtft_db(&h, f, sr);
                assert!(
                    (got - want).abs() < 0.01,
                    "{kind} {slope}: {f} Hz reads {got:.4} dB, Butterworth {want:.4} dB"
                );
            }
        }
    }
    // The brief's case: a 24 dB/octave high-pass at 100 Hz is -3.01 dB at 100 Hz and falls
    // 24 dB per octave below it.
    let h = impulse_response(&dir, SR, ":highpass { hz = 100, slope_db = 24 }");
    let at = dtft_db(&h, 100.0, sr);
    let per_oct = dtft_db(&h, 25.0, sr) - dtft_db(&h, 12.5, sr);
    eprintln!("highpass 100 Hz / 24: {at:.4} dB at 100 Hz, {per_oct:.2} dB/oct (12.5 to 25 Hz)");
    assert!((at + 3.0103).abs() < 0.01);
    assert!((per_oct - 24.0).abs() < 0.3);
}

/// The 4th difference of `x`: ≈ (2 sin(πf/fs))⁴ times a smooth tone, large at any click.
fn fourth_difference(x: &[f32]) -> Vec<f64> {
    x.windows(5)
        .map(|w| {
            w[0] as f64 - 4.0 * w[1] as f64 + 6.0 * w[2] as f64 - 4.0 * w[3] as f64 + w[4] as f64
        })
        .collect()
}

#[test]
fn automating_band_gain_does_not_zipper() {
    // A 1 kHz sine through a bell at 1 kHz whose gain sweeps -20 → +20 dB in 50 ms and back
    // over 300 ms. A smooth sweep only modulates the tone's level; a coefficient jump (zipper)
    // puts a step into the output, which the 4th difference magnifies by ~10⁴ over the tone.
    let dir = Dir::new();
    let amp = 0.1;
    let x = sine(frames(1.5), 1000.0, amp, SR as f64);
    dir.stereo("tone.wav", &x);
    let r = dir.render(
        r#"
        local t = mix.track("t", "tone.wav")
        local e = t:eq { mix.bell { hz = 1000, q = 1, gain_db = -20 } }
        e.b1_gain_db:set(0.2, -20):linear_to(0.25, 20):linear_to(0.55, -20)
        "#,
    );
    let y = r.l();
    let step_in = x
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max) as f64;
    let step_out = y[..frames(1.4)]
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max) as f64;
    // At most the input's steepest step times the largest gain (+20 dB).
    assert!(
        step_out <= step_in * lin(20.0) * 1.02,
        "max step {step_out:.5} exceeds the input's {step_in:.5} × 10"
    );
    // Clicks: the 4th difference during the sweep stays within twice what the tone makes at
    // the sweep's loudest point (+20 dB, where the tone's 4th difference is largest).
    let tone4 = amp * lin(20.0) * (2.0 * (std::f64::consts::PI * 1000.0 / SR as f64).sin()).powi(4);
    let d4 = fourth_difference(&y[frames(0.15)..frames(0.65)]);
    let worst = d4.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    eprintln!("zipper: max 4th difference {worst:.2e} (tone at +20 dB: {tone4:.2e})");
    assert!(
        worst <= 2.0 * tone4,
        "the gain sweep clicks: 4th difference {worst:.3e} > 2 × {tone4:.3e}"
    );
    // And the sweep did happen: the tone's level follows the automation.
    let lvl = |t: f64| db(tone_amp(&y[frames(t)..frames(t) + 480], 1000.0, SR as f64) / amp);
    assert!((lvl(0.1) + 20.0).abs() < 0.1, "before: {:.2} dB", lvl(0.1));
    assert!((lvl(0.8) + 20.0).abs() < 0.1, "after: {:.2} dB", lvl(0.8));
    assert!(lvl(0.26) > 15.0, "peak of the sweep: {:.2} dB", lvl(0.26));
}
