//! The effects' stated figures through scripts (issue 11), short: `:saturate` aliasing at the
//! default oversampling on every curve, `:delay` repeats on a dotted eighth at 44.1 kHz (a
//! fractional delay), `:reverb` onset at the predelay. The full measurements are the DSP
//! tests in `engine/src/dsp/{saturation,echo,reverb_figures}_tests.rs`.

mod harness;

use harness::*;

#[test]
fn saturate_aliases_stay_below_60_db_on_every_curve_by_default() {
    // A full-scale 10 kHz sine driven by 24 dB. At 48 kHz its harmonics fold onto even kHz:
    // every even kHz that is not 10 or 20 kHz is an alias (Goertzel over 0.5 s, a whole
    // number of periods of each).
    let dir = Dir::new();
    dir.stereo("hf.wav", &sine(frames(0.8), 10_000.0, 1.0, SR as f64));
    for curve in ["tanh", "soft", "hard"] {
        let r = dir.render(&format!(
            r#"local t = mix.track("t", "hf.wav")
               t:saturate {{ drive_db = 24, curve = "{curve}" }}"#
        ));
        let w = &r.l()[frames(0.2)..frames(0.2) + 24_000];
        let fund = tone_amp(w, 10_000.0, SR as f64);
        let worst = (1..12)
            .map(|k| 2000.0 * k as f64)
            .filter(|&f| f != 10_000.0 && f != 20_000.0)
            .map(|f| db(tone_amp(w, f, SR as f64) / fund))
            .fold(f64::NEG_INFINITY, f64::max);
        eprintln!(
            "saturate {curve}, default oversampling: worst alias {worst:.1} dB re the fundamental"
        );
        assert!(worst < -60.0, "{curve}: {worst:.1} dB");
    }
}

#[test]
fn delay_repeats_of_a_dotted_eighth_at_44k1_keep_their_level() {
    // 1/8. at 120 BPM = 375 ms = 16 537.5 frames at 44.1 kHz. Impulse in, dry on: each repeat's
    // spectrum against the dry impulse's must be fb^(k−1) (0.5 here) at every frequency.
    let dir = Dir::new();
    let imp = impulse(110_250, 100, 0.5);
    dir.wav("imp.wav", 44_100, &[&imp, &imp]);
    let r = dir.render(
        r#"mix.session { sample_rate = 44100, tempo_bpm = 120 }
           local t = mix.track("t", "imp.wav")
           t:delay { note = "1/8.", feedback = 0.5, wet = 1, dry = 1 }"#,
    );
    let x = r.l();
    let seg = |centre: f64| &x[centre as usize - 100..centre as usize + 101];
    let direct = seg(100.0);
    let mut worst: f64 = 0.0;
    for k in 1..=5 {
        let rep = seg(100.0 + 16_537.5 * k as f64);
        for hz in [1000.0, 5000.0, 10_000.0, 15_000.0, 16_000.0] {
            let dev =
                dtft_db(rep, hz, 44_100.0) - dtft_db(direct, hz, 44_100.0) - db(0.5f64.powi(k - 1));
            worst = worst.max(dev.abs());
        }
    }
    eprintln!("delay 1/8. at 44.1 kHz: repeats 1–5 within {worst:.4} dB of 0.5^(k−1) up to 16 kHz");
    assert!(worst < 0.1, "{worst} dB");
}

#[test]
fn reverb_starts_at_the_predelay() {
    let dir = Dir::new();
    dir.stereo("imp.wav", &impulse(frames(0.5), 0, 1.0));
    for ms in [0.0, 10.0] {
        let r = dir.render(&format!(
            r#"local t = mix.track("t", "imp.wav")
               t:reverb {{ predelay_ms = {ms}, wet = 1, dry = 0 }}"#
        ));
        let p = peak(r.l()).max(peak(r.r())) as f32;
        let first = |x: &[f32]| x.iter().position(|v| v.abs() >= 0.01 * p).unwrap();
        let at = first(r.l()).min(first(r.r()));
        let want = (ms * 1e-3 * SR as f64).round() as usize;
        eprintln!("reverb predelay {ms} ms: wet onset (−40 dB re peak) at frame {at}, want {want}");
        assert!(at.abs_diff(want) <= 1, "{ms} ms: {at}");
    }
}
