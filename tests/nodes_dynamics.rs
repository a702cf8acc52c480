//! Dynamics inserts through the engine: `:comp` (static curve, time constants, sidechain,
//! lookahead compensation, automatic makeup), `:gate`, `:deess` and `:multiband`.
//! References: dsp-references.md §4.1 (Giannoulis–Massberg–Reiss static curve, example points
//! checked against ffmpeg `acompressor`), §4.2 (one-pole time constants: 63.2 % at τ).

mod harness;

use harness::*;

/// A stereo DC staircase: `levels` (dBFS) for `seg` frames each.
fn staircase(levels: &[f64], seg: usize) -> Vec<f32> {
    levels
        .iter()
        .flat_map(|l| std::iter::repeat_n(lin(*l) as f32, seg))
        .collect()
}

/// Gain in dB of each output sample against its input sample.
fn gain_db(x: &[f32], y: &[f32]) -> Vec<f64> {
    x.iter()
        .zip(y)
        .map(|(a, b)| db(*b as f64 / *a as f64))
        .collect()
}

#[test]
fn comp_static_curve_matches_the_reference_points() {
    // dsp-references.md §4.1: T = -18.062 dBFS, R = 4, knee 0 / 9.03 / 18.06 dB.
    let inputs = [-24.0, -21.0, -18.062, -15.0, -12.0, 0.0];
    let table: [(f64, [f64; 6]); 3] = [
        (0.0, [-24.0, -21.0, -18.062, -17.296, -16.546, -13.546]),
        (9.03, [-24.0, -21.103, -18.908, -17.384, -16.546, -13.546]),
        (
            18.06,
            [-24.199, -21.771, -19.755, -18.036, -16.729, -13.546],
        ),
    ];
    let seg = frames(0.2);
    let x = staircase(&inputs, seg);
    let dir = Dir::new();
    dir.stereo("dc.wav", &x);
    for (knee, want) in table {
        let r = dir.render(&format!(
            r#"local t = mix.track("t", "dc.wav")
               t:comp {{ threshold_db = -18.062, ratio = 4, knee_db = {knee}, attack_ms = 1, release_ms = 1 }}"#
        ));
        for (i, (xin, yw)) in inputs.iter().zip(want).enumerate() {
            // Settled: the last 10 ms of each step.
            let k = (i + 1) * seg - frames(0.01);
            let y = xin + db(r.l()[k] as f64 / x[k] as f64);
            assert!(
                (y - yw).abs() < 0.1,
                "knee {knee} dB: {xin} dBFS in gives {y:.3} dBFS out, the curve says {yw}"
            );
            assert_eq!(r.l()[k], r.r()[k]);
        }
    }
}

#[test]
fn comp_attack_and_release_reach_63_percent_at_their_times() {
    // A DC step from -40 dBFS (no reduction) to 0 dBFS (13.546 dB of reduction at T -18.062,
    // R 4), and back. The gain-reduction trajectory in dB reaches 63.2 % of its final value at
    // attack_ms, and falls to 36.8 % at release_ms (dsp-references.md §4.2).
    let seg = frames(1.0);
    let x = staircase(&[-40.0, 0.0, -40.0], seg);
    let dir = Dir::new();
    dir.stereo("step.wav", &x);
    let r = dir.render(
        r#"local t = mix.track("t", "step.wav")
           t:comp { threshold_db = -18.062, ratio = 4, attack_ms = 10, release_ms = 100 }"#,
    );
    let g = gain_db(&x, r.l());
    let full = g[2 * seg - 1];
    assert!((full + 13.546).abs() < 0.05, "final reduction {full:.3} dB");
    let attack_at = (seg..2 * seg).find(|&n| g[n] <= 0.632 * full).unwrap() - seg;
    let release_at = (2 * seg..3 * seg).find(|&n| g[n] >= 0.368 * full).unwrap() - 2 * seg;
    eprintln!(
        "attack 63 % after {attack_at} frames (want 480), release 37 % after {release_at} (want 4800)"
    );
    assert!(attack_at.abs_diff(480) <= 2, "attack: {attack_at} frames");
    assert!(
        release_at.abs_diff(4800) <= 2,
        "release: {release_at} frames"
    );
}

#[test]
fn comp_auto_makeup_adds_half_the_full_scale_reduction() {
    // T -18, R 4: 0 dBFS is reduced by 13.5 dB, so auto makeup adds 6.75 dB.
    let seg = frames(0.2);
    let x = staircase(&[-40.0, 0.0], seg);
    let dir = Dir::new();
    dir.stereo("dc.wav", &x);
    let r = dir.render(
        r#"local t = mix.track("t", "dc.wav")
           t:comp { threshold_db = -18, ratio = 4, attack_ms = 1, release_ms = 1, auto_makeup = true }"#,
    );
    let g = gain_db(&x, r.l());
    let below = g[seg - 10];
    let top = g[2 * seg - 10];
    eprintln!("auto makeup: {below:+.3} dB below threshold, {top:+.3} dB at 0 dBFS");
    assert!(
        (below - 6.75).abs() < 0.05,
        "below threshold: {below:+.3} dB"
    );
    assert!((top + 6.75).abs() < 0.05, "at 0 dBFS: {top:+.3} dB");
}

#[test]
fn sidechain_ducks_only_while_the_key_plays() {
    // A pad keyed by a kick-like burst on another track; the key's own output goes to a muted
    // bus, so the master holds the pad alone.
    let dir = Dir::new();
    let pad = sine(frames(3.0), 220.0, lin(-12.0), SR as f64);
    let mut key = vec![0.0f32; frames(3.0)];
    for (i, v) in sine(frames(0.5), 1000.0, lin(-6.0), SR as f64)
        .into_iter()
        .enumerate()
    {
        key[frames(1.0) + i] = v;
    }
    dir.stereo("pad.wav", &pad);
    dir.stereo("key.wav", &key);
    let r = dir.render(
        r#"local pad = mix.track("pad", "pad.wav")
           local key = mix.track("key", "key.wav")
           local silent = mix.bus "silent"
           silent:mute {}
           key:to(silent)
           pad:comp { threshold_db = -30, ratio = 10, attack_ms = 1, release_ms = 50, sidechain = key }"#,
    );
    let level =
        |a: f64, b: f64| db(rms(&r.l()[frames(a)..frames(b)]) / rms(&pad[frames(a)..frames(b)]));
    let (before, during, after) = (level(0.5, 0.95), level(1.1, 1.45), level(2.0, 2.9));
    eprintln!(
        "pad level: {before:+.2} dB before, {during:+.2} dB under the key, {after:+.2} dB after"
    );
    assert!(before.abs() < 0.01, "ducked before the key: {before:.3} dB");
    assert!(during < -10.0, "not ducked under the key: {during:.2} dB");
    assert!(
        after.abs() < 0.01,
        "still ducked after the key: {after:.3} dB"
    );
}

#[test]
fn lookahead_is_compensated_on_a_parallel_path() {
    // One track feeds a bus with a 5 ms lookahead compressor and, through a send, a dry bus.
    // The engine delays the dry path by the lookahead, so an impulse arrives once, aligned.
    let dir = Dir::new();
    let at = 1000;
    let x = impulse(frames(0.5), at, 0.25);
    dir.stereo("imp.wav", &x);
    let r = dir.render(
        r#"local t = mix.track("t", "imp.wav")
           local comp = mix.bus "comp"
           local dry = mix.bus "dry"
           t:to(comp)
           t:send(dry, { gain_db = 0 })
           comp:comp { threshold_db = -6, ratio = 4, lookahead_ms = 5 }"#,
    );
    assert_eq!(r.latency, 240, "5 ms of lookahead at 48 kHz");
    for ch in &r.out {
        let nz: Vec<(usize, f32)> = ch
            .iter()
            .enumerate()
            .filter(|(_, v)| v.abs() > 1e-6)
            .map(|(i, v)| (i, *v))
            .collect();
        assert_eq!(nz, vec![(at, 0.5)], "the two paths do not meet aligned");
    }
}

#[test]
fn lookahead_lets_the_compressor_act_before_the_transient() {
    // With lookahead the gain is already falling when a step arrives; without it the first
    // samples of the step pass at full level.
    let dir = Dir::new();
    let x = staircase(&[-40.0, 0.0], frames(0.2));
    dir.stereo("step.wav", &x);
    let render = |la: f64| {
        dir.render(&format!(
            r#"local t = mix.track("t", "step.wav")
               t:comp {{ threshold_db = -20, ratio = 10, attack_ms = 1, release_ms = 50, lookahead_ms = {la} }}"#
        ))
    };
    let first = frames(0.2);
    let plain = render(0.0);
    let ahead = render(2.0);
    assert_eq!(
        ahead.l().len(),
        plain.l().len(),
        "the render is not aligned"
    );
    let g0 = db(plain.l()[first] as f64);
    let g2 = db(ahead.l()[first] as f64);
    eprintln!("first sample of the step: {g0:.2} dBFS without lookahead, {g2:.2} with 2 ms");
    assert!(g0 > -0.5, "without lookahead the step passes: {g0:.2}");
    assert!(
        g2 < -6.0,
        "with lookahead the step is already reduced: {g2:.2}"
    );
}

#[test]
fn gate_closes_between_bursts_and_opens_for_them() {
    // 1 kHz bursts at -10 dBFS over a -60 dBFS noise floor; the gate (threshold -40, range
    // -60) lets the bursts through untouched and takes the floor down by the range.
    let dir = Dir::new();
    let floor = noise(frames(3.0), lin(-60.0), 7);
    let tone = sine(frames(3.0), 1000.0, lin(-10.0), SR as f64);
    let x: Vec<f32> = (0..frames(3.0))
        .map(|n| {
            let on = (n / frames(0.5)) % 2 == 1;
            floor[n] + if on { tone[n] } else { 0.0 }
        })
        .collect();
    dir.stereo("gated.wav", &x);
    let r = dir.render(
        r#"local t = mix.track("t", "gated.wav")
           t:gate { threshold_db = -40, range_db = -60, attack_ms = 0.5, hold_ms = 20, release_ms = 30 }"#,
    );
    let level =
        |a: f64, b: f64| db(rms(&r.l()[frames(a)..frames(b)]) / rms(&x[frames(a)..frames(b)]));
    let open = level(0.6, 0.95);
    let closed = level(1.3, 1.45);
    let start = level(0.1, 0.45);
    eprintln!("gate: {open:+.3} dB in a burst, {closed:+.1} dB between bursts, {start:+.1} dB before the first");
    assert!(open.abs() < 0.05, "the burst is changed: {open:.3} dB");
    assert!(closed < -55.0, "the floor is not gated: {closed:.1} dB");
    assert!(
        start < -55.0,
        "the floor before the first burst is not gated: {start:.1} dB"
    );
}

#[test]
fn deesser_turns_down_the_sibilant_band_only() {
    // 1 kHz and 9 kHz tones at -12 dBFS each; a de-esser at 6 kHz (threshold -30, ratio 4)
    // reduces the 9 kHz tone and leaves the 1 kHz tone alone.
    let dir = Dir::new();
    let n = frames(1.0);
    let lo = sine(n, 1000.0, lin(-12.0), SR as f64);
    let hi = sine(n, 9000.0, lin(-12.0), SR as f64);
    let x: Vec<f32> = lo.iter().zip(&hi).map(|(a, b)| a + b).collect();
    dir.stereo("ess.wav", &x);
    let r = dir.render(
        r#"local t = mix.track("t", "ess.wav")
           t:deess { hz = 6000, threshold_db = -30, ratio = 4 }"#,
    );
    let w = &r.l()[frames(0.5)..frames(0.9)];
    let g_lo = db(tone_amp(w, 1000.0, SR as f64) / lin(-12.0));
    let g_hi = db(tone_amp(w, 9000.0, SR as f64) / lin(-12.0));
    eprintln!("de-esser: 1 kHz {g_lo:+.3} dB, 9 kHz {g_hi:+.2} dB");
    assert!(
        g_lo.abs() < 0.05,
        "the band below hz is changed: {g_lo:.3} dB"
    );
    assert!(
        g_hi < -6.0,
        "the sibilant band is not reduced: {g_hi:.2} dB"
    );
}

#[test]
fn multiband_bands_sum_flat_when_nothing_compresses() {
    let dir = Dir::new();
    let x = impulse(SR as usize, 0, 0.5);
    dir.stereo("imp.wav", &x);
    for xo in ["", "crossovers_hz = { 120, 1500 }"] {
        let r = dir.render(&format!(
            r#"local t = mix.track("t", "imp.wav")
               t:multiband {{ {xo} }}"#
        ));
        let mut worst = 0.0f64;
        let mut f = 20.0;
        while f < 20000.0 {
            let g = dtft_db(r.l(), f, SR as f64) - db(0.5);
            worst = worst.max(g.abs());
            assert!(
                g.abs() <= 0.01,
                "multiband {{{xo}}}: {f:.0} Hz at {g:+.4} dB"
            );
            f *= 1.25;
        }
        eprintln!("multiband {{{xo}}}: flat within {worst:.5} dB");
        // It did split the signal: the crossovers' phase shift spreads the impulse out.
        assert!(
            peak(r.l()) < 0.45,
            "the impulse came through untouched; was the signal split at all?"
        );
    }
}

#[test]
fn multiband_compresses_only_the_band_asked() {
    // Low band at ratio 8 from -30 dBFS: a 60 Hz tone is reduced, a 5 kHz tone is not.
    let dir = Dir::new();
    let n = frames(1.0);
    let x: Vec<f32> = sine(n, 60.0, lin(-12.0), SR as f64)
        .iter()
        .zip(sine(n, 5000.0, lin(-12.0), SR as f64))
        .map(|(a, b)| a + b)
        .collect();
    dir.stereo("two.wav", &x);
    let r = dir.render(
        r#"local t = mix.track("t", "two.wav")
           t:multiband { crossovers_hz = { 200, 2000 }, b1_threshold_db = -30, b1_ratio = 8 }"#,
    );
    let w = &r.l()[frames(0.5)..frames(0.9)];
    let g_lo = db(tone_amp(w, 60.0, SR as f64) / lin(-12.0));
    let g_hi = db(tone_amp(w, 5000.0, SR as f64) / lin(-12.0));
    eprintln!("multiband: 60 Hz {g_lo:+.2} dB, 5 kHz {g_hi:+.3} dB");
    assert!(g_lo < -6.0, "the low band is not compressed: {g_lo:.2}");
    assert!(g_hi.abs() < 0.05, "the high band is changed: {g_hi:.3}");
}
