//! Effects through the engine: `:reverb` (decay time by Schroeder integration), `:saturate`
//! (aliasing with and without oversampling), `:width` and `:delay` (the echo).

mod harness;

use harness::*;

/// RT60 from an impulse response by Schroeder backward integration, fitted by least squares
/// on the energy decay curve between `hi` and `lo` dB (e.g. -5 and -25 for T20).
fn rt60(channels: &[Vec<f32>], hi: f64, lo: f64) -> f64 {
    let n = channels[0].len();
    let e: Vec<f64> = (0..n)
        .map(|i| channels.iter().map(|c| (c[i] as f64).powi(2)).sum())
        .collect();
    let mut edc = vec![0.0; n];
    let mut acc = 0.0;
    for i in (0..n).rev() {
        acc += e[i];
        edc[i] = acc;
    }
    let total = edc[0];
    let pts: Vec<(f64, f64)> = edc
        .iter()
        .enumerate()
        .map(|(i, v)| (i as f64 / SR as f64, 10.0 * (v / total).log10()))
        .filter(|(_, d)| *d <= hi && *d >= lo)
        .collect();
    let m = pts.len() as f64;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / m, sy / m);
    let (num, den) = pts.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx).powi(2))
    });
    -60.0 / (num / den)
}

#[test]
fn reverb_decays_in_about_decay_s() {
    let dir = Dir::new();
    dir.stereo("imp.wav", &impulse(frames(0.1), 0, 1.0));
    for decay in [0.8, 2.0, 4.0] {
        let r = dir.render(&format!(
            r#"local t = mix.track("t", "imp.wav")
               t:reverb {{ decay_s = {decay}, damping = 0, predelay_ms = 10, wet = 1, dry = 0 }}"#
        ));
        let t20 = rt60(&r.out, -5.0, -25.0);
        let t30 = rt60(&r.out, -5.0, -35.0);
        eprintln!(
            "reverb decay_s {decay}: T20 → RT60 {t20:.3} s, T30 → {t30:.3} s ({:.1} s rendered)",
            r.l().len() as f64 / SR as f64
        );
        for (name, t) in [("T20", t20), ("T30", t30)] {
            assert!(
                (t / decay - 1.0).abs() <= 0.2,
                "decay_s {decay}: RT60 from {name} is {t:.3} s"
            );
        }
        // The predelay: nothing before 10 ms.
        assert!(
            peak(&r.l()[..frames(0.0099)]) == 0.0,
            "sound before the predelay"
        );
        // A stereo reverb: the two sides are decorrelated, not copies.
        assert_ne!(r.l(), r.r());
    }
}

/// Levels (dB relative to the 10 kHz fundamental) of the aliases of a 10 kHz tone at 48 kHz:
/// its odd harmonics fold onto 2, 6, 14, 18 and 22 kHz. Also the residual power (everything
/// but the fundamental) in dB relative to it.
fn alias_levels(y: &[f32]) -> (f64, f64) {
    let sr = SR as f64;
    // 24000 frames: a whole number of periods of every 2 kHz multiple.
    let w = &y[frames(0.5)..frames(0.5) + 24000];
    let fund = tone_amp(w, 10000.0, sr);
    let worst = [2000.0, 6000.0, 14000.0, 18000.0, 22000.0]
        .iter()
        .map(|f| db(tone_amp(w, *f, sr) / fund))
        .fold(f64::NEG_INFINITY, f64::max);
    let total = rms(w).powi(2);
    let residual = (total - fund * fund / 2.0).max(1e-30);
    (worst, 10.0 * (residual / (fund * fund / 2.0)).log10())
}

#[test]
fn saturation_aliasing_is_below_60db_with_oversampling_only() {
    let dir = Dir::new();
    dir.stereo("hf.wav", &sine(frames(1.2), 10000.0, lin(-6.0), SR as f64));
    let render = |os: &str| {
        let r = dir.render(&format!(
            r#"local t = mix.track("t", "hf.wav")
               t:saturate {{ drive_db = 24 {os} }}"#
        ));
        alias_levels(r.l())
    };
    let (a8, res8) = render("");
    let (a1, res1) = render(", oversample = 1");
    eprintln!("10 kHz at -6 dBFS, drive 24 dB: worst alias {a8:.1} dB (residual {res8:.1} dB) with 8x, {a1:.1} dB ({res1:.1} dB) without");
    assert!(
        a8 < -60.0 && res8 < -60.0,
        "8x oversampling: aliases at {a8:.1} dB"
    );
    assert!(
        a1 > -60.0,
        "without oversampling the aliases should show: {a1:.1} dB"
    );
}

#[test]
fn saturation_is_latency_compensated() {
    // A dry path next to an oversampled saturator stays aligned: an impulse too small to be
    // shaped comes out once, at its own frame.
    let dir = Dir::new();
    dir.stereo("imp.wav", &impulse(frames(0.2), 500, 1e-4));
    let r = dir.render(
        r#"local t = mix.track("t", "imp.wav")
           local sat = mix.bus "sat"
           local dry = mix.bus "dry"
           t:to(sat)
           t:send(dry)
           sat:saturate { drive_db = 0 }"#,
    );
    assert!(r.latency > 0, "an oversampler has latency");
    let (i, _) = r
        .l()
        .iter()
        .enumerate()
        .fold((0, 0.0f32), |(bi, bv), (i, v)| {
            if v.abs() > bv {
                (i, v.abs())
            } else {
                (bi, bv)
            }
        });
    assert_eq!(i, 500, "the saturated path is not aligned with the dry one");
}

#[test]
fn width_zero_is_mono_and_one_is_unchanged() {
    let dir = Dir::new();
    let n = frames(0.5);
    let l = noise(n, 0.3, 11);
    let r = sine(n, 440.0, 0.3, SR as f64);
    dir.wav("lr.wav", SR, &[&l, &r]);
    let out = dir.render(
        r#"local t = mix.track("t", "lr.wav")
                            t:width { width = 0 }"#,
    );
    let side = out
        .l()
        .iter()
        .zip(out.r())
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold(
            (0, 0.0f32),
            |(bi, bv), (i, v)| if v > bv { (i, v) } else { (bi, bv) },
        );
    assert!(
        side.1 == 0.0,
        "width 0 is not mono: L - R = {} at frame {}",
        side.1,
        side.0
    );
    let mid: Vec<f32> = l.iter().zip(&r).map(|(a, b)| 0.5 * (a + b)).collect();
    let err = mid
        .iter()
        .zip(out.l())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 1e-6, "width 0 is not the mid signal: {err}");
    let same = dir.render(
        r#"local t = mix.track("t", "lr.wav")
                             t:width { width = 1 }"#,
    );
    let err = l
        .iter()
        .zip(same.l())
        .chain(r.iter().zip(same.r()))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 1e-6, "width 1 changed the signal by {err}");
}

#[test]
fn width_mono_below_folds_only_the_low_end() {
    // A side-only signal (L = -R) at 40 Hz and at 1 kHz; mono_below_hz = 120 cancels the 40 Hz
    // side and keeps the 1 kHz one.
    let dir = Dir::new();
    let n = frames(1.0);
    let s: Vec<f32> = sine(n, 40.0, 0.25, SR as f64)
        .iter()
        .zip(sine(n, 1000.0, 0.25, SR as f64))
        .map(|(a, b)| a + b)
        .collect();
    let neg: Vec<f32> = s.iter().map(|v| -v).collect();
    dir.wav("side.wav", SR, &[&s, &neg]);
    let out = dir.render(
        r#"local t = mix.track("t", "side.wav")
                            t:width { width = 1, mono_below_hz = 120 }"#,
    );
    let w = &out.l()[frames(0.5)..frames(0.5) + 4800];
    let low = db(tone_amp(w, 40.0, SR as f64) / 0.25);
    let high = db(tone_amp(w, 1000.0, SR as f64) / 0.25);
    eprintln!("mono below 120 Hz: 40 Hz side at {low:.1} dB, 1 kHz side at {high:+.3} dB");
    assert!(
        low < -50.0,
        "the low side is not folded to mono: {low:.1} dB"
    );
    assert!(
        high.abs() < 0.1,
        "the side above the split changed: {high:.3} dB"
    );
}

/// Indices and values of the samples of `x` above `floor` in magnitude.
fn taps(x: &[f32], floor: f32) -> Vec<(usize, f32)> {
    x.iter()
        .enumerate()
        .filter(|(_, v)| v.abs() > floor)
        .map(|(i, v)| (i, *v))
        .collect()
}

#[test]
fn delay_echoes_at_the_time_with_feedback_gains() {
    let dir = Dir::new();
    dir.stereo("imp.wav", &impulse(frames(0.1), 0, 0.5));
    let check = |src: &str, period: usize, fb: f32, dry: bool| {
        // A session line (tempo) must come before the track.
        let (session, rest) = match src.split_once('\n') {
            Some((a, b)) if a.starts_with("mix.session") => (format!("{a}\n"), b),
            _ => (String::new(), src),
        };
        let r = dir.render(&format!(
            "{session}local t = mix.track(\"t\", \"imp.wav\")\n{rest}"
        ));
        let got = taps(r.l(), 1e-4);
        let mut want: Vec<(usize, f32)> = Vec::new();
        if dry {
            want.push((0, 0.5));
        }
        let mut g = 0.5f32;
        let mut k = 1;
        while g > 1e-4 && k * period < r.l().len() {
            want.push((k * period, g));
            g *= fb;
            k += 1;
        }
        assert_eq!(
            got.len(),
            want.len(),
            "{src}: echoes at {:?}, want {:?}",
            &got[..got.len().min(8)],
            want
        );
        for ((i, v), (wi, wv)) in got.iter().zip(&want) {
            assert_eq!(i, wi, "{src}: an echo at frame {i}, want {wi}");
            assert!(
                (v - wv).abs() < 1e-4 * wv.max(1e-3) + 1e-6,
                "{src}: echo {v} at {i}, want {wv}"
            );
        }
        assert_eq!(r.l(), r.r());
        eprintln!("{src}: {} echoes every {period} frames", got.len());
    };
    check(
        "t:delay { time_ms = 250, feedback = 0.5, wet = 1, dry = 0 }",
        12000,
        0.5,
        false,
    );
    check(
        "t:delay { time_ms = 100, feedback = 0.25, wet = 1, dry = 1 }",
        4800,
        0.25,
        true,
    );
    check(
        "mix.session { tempo_bpm = 120 }\nt:delay { note = \"1/8\", feedback = 0.5, wet = 1, dry = 0 }",
        12000,
        0.5,
        false,
    );
    check(
        "mix.session { tempo_bpm = 120 }\nt:delay { note = \"1/8.\", feedback = 0.3, wet = 1, dry = 0 }",
        18000,
        0.3,
        false,
    );
    // The tempo counts: an eighth at 100 BPM is 300 ms.
    check(
        "mix.session { tempo_bpm = 100 }\nt:delay { note = \"1/8\", feedback = 0.5, wet = 1, dry = 0 }",
        14400,
        0.5,
        false,
    );
}

#[test]
fn effects_start_at_the_script_settings_without_gliding_from_defaults() {
    // The first block already has the script's values: a reverb set fully dry passes the
    // input from frame 0, a saturator's first cycle is driven as hard as its last.
    let dir = Dir::new();
    let x = sine(frames(0.5), 1000.0, 0.5, SR as f64);
    dir.stereo("tone.wav", &x);
    let r = dir.render(
        r#"local t = mix.track("t", "tone.wav")
           t:reverb { wet = 0, dry = 1 }"#,
    );
    let err = x[..480]
        .iter()
        .zip(r.l())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 1e-6, "a dry reverb changes the first 10 ms by {err}");
    let r = dir.render(
        r#"local t = mix.track("t", "tone.wav")
           t:saturate { drive_db = 24, output_db = -12 }"#,
    );
    let first = peak(&r.l()[48..480]);
    let later = peak(&r.l()[frames(0.3)..frames(0.3) + 480]);
    eprintln!(
        "saturate: first 10 ms peak {:.3} dBFS, later {:.3} dBFS",
        db(first),
        db(later)
    );
    assert!((db(first) - db(later)).abs() < 0.1, "the drive ramps in");
}

/// Where a wet/dry effect sits decides its defaults: on a track the dry signal stays at unity
/// and the effect is mixed in; on a bus (a send return) it is wet only.
#[test]
fn reverb_and_delay_defaults_depend_on_placement() {
    let dir = Dir::new();
    dir.stereo("imp.wav", &impulse(frames(0.05), 0, 0.5));
    for (insert, wet) in [("reverb {}", 0.25), ("delay { time_ms = 100 }", 0.35)] {
        // On a track: the impulse itself passes at unity.
        let t = dir.render(&format!("local t = mix.track('t', 'imp.wav')\nt:{insert}"));
        assert!(
            (t.l()[0] - 0.5).abs() < 1e-6,
            "{insert} on a track keeps the dry signal: first sample {}",
            t.l()[0]
        );
        // On a bus: the dry impulse is gone, only the effect remains.
        let b = dir.render(&format!(
            "local b = mix.bus('b')\nb:{insert}\nmix.track('t', 'imp.wav'):to(b)"
        ));
        assert!(b.l()[0].abs() < 1e-6, "{insert} on a bus is wet only");
        // After the impulse, the track's output is the bus's effect times the insert's wet.
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for (x, y) in t.l()[1..].iter().zip(&b.l()[1..]) {
            num += (*x as f64) * (*y as f64);
            den += (*y as f64) * (*y as f64);
        }
        let ratio = num / den;
        assert!(
            den > 0.0 && (ratio - wet).abs() < 1e-3,
            "{insert}: wet on a track {ratio}, want {wet}"
        );
    }
}
