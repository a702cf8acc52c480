//! The mastering end: `:limit` (true-peak ceiling, transparency below it) and `:loudness`
//! (offline two-pass normalisation to a target, reporting targets the ceiling keeps out of
//! reach). References: dsp-references.md §4.3 (limiter guarantees), §1.1 (EBU Tech 3341 cases
//! 15–23, synthesised as in `make_ebu_signals.py`), §2 (BS.1770 true peak).

mod harness;

use std::f64::consts::PI;

use harness::*;

/// Linear fade in and out over `n` frames.
fn fade(mut x: Vec<f64>, n: usize) -> Vec<f64> {
    let len = x.len();
    for i in 0..n {
        let g = i as f64 / n as f64;
        x[i] *= g;
        x[len - 1 - i] *= g;
    }
    x
}

/// Tech 3341 cases 15–19: a sine at fs/`div`, amplitude `amp`, phase `phase_deg`, 10 ms fades.
fn tp_sine(div: f64, amp: f64, phase_deg: f64, secs: f64) -> Vec<f32> {
    let n = frames(secs);
    let x = (0..n)
        .map(|i| amp * (2.0 * PI * i as f64 / div + phase_deg.to_radians()).sin())
        .collect();
    fade(x, frames(0.01))
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// Modified Bessel function I0 (series).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..50 {
        term *= (x / (2.0 * k as f64)).powi(2);
        sum += term;
    }
    sum
}

/// Tech 3341 cases 20–23: an fs/6 sine (0.5) holding one period of fs/4 at 1.0, made at 4·fs,
/// low-passed at fs/2 (Kaiser-windowed sinc, 2047 taps, β 10) and decimated at `offset`.
fn tp_burst(offset: usize, secs: f64) -> Vec<f32> {
    let total = frames(secs) * 4;
    let (p6, p4) = (24usize, 16usize);
    let s0 = (total / 2 / p6) * p6;
    let mut x: Vec<f64> = Vec::with_capacity(total);
    x.extend((0..s0).map(|i| 0.5 * (2.0 * PI * i as f64 / p6 as f64).sin()));
    x.extend((0..p4).map(|i| (2.0 * PI * i as f64 / p4 as f64).sin()));
    x.extend((0..total - s0 - p4).map(|i| 0.5 * (2.0 * PI * i as f64 / p6 as f64).sin()));
    let x = fade(x, frames(0.01) * 4);
    let ntaps = 2047usize;
    let half = (ntaps - 1) / 2;
    let cutoff = 0.125; // fs/2 at 4·fs, cycles per sample
    let mut h: Vec<f64> = (0..ntaps)
        .map(|i| {
            let m = i as f64 - half as f64;
            let sinc = if m == 0.0 {
                1.0
            } else {
                (PI * 2.0 * cutoff * m).sin() / (PI * 2.0 * cutoff * m)
            };
            let r = 2.0 * i as f64 / (ntaps - 1) as f64 - 1.0;
            2.0 * cutoff * sinc * bessel_i0(10.0 * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(10.0)
        })
        .collect();
    let sum: f64 = h.iter().sum();
    h.iter_mut().for_each(|v| *v /= sum);
    (0..frames(secs))
        .map(|k| {
            let n = offset + 4 * k; // output sample n of the zero-phase filter
            let mut acc = 0.0;
            for (j, hj) in h.iter().enumerate() {
                let idx = n as isize + half as isize - j as isize;
                if idx >= 0 && (idx as usize) < total {
                    acc += hj * x[idx as usize];
                }
            }
            acc as f32
        })
        .collect()
}

/// Renders `x` (stereo, same on both sides) through `insert` on a track; returns the render.
fn through(dir: &Dir, x: &[f32], insert: &str) -> Rendered {
    dir.stereo("in.wav", x);
    dir.render(&format!(
        "local t = mix.track(\"t\", \"in.wav\")\nt{insert}\n"
    ))
}

#[test]
fn limiter_holds_the_true_peak_on_ebu_cases_boosted_6db() {
    let dir = Dir::new();
    let mut cases: Vec<(String, Vec<f32>)> = vec![
        ("3341-15".into(), tp_sine(4.0, 0.5, 0.0, 1.0)),
        ("3341-16".into(), tp_sine(4.0, 0.5, 45.0, 1.0)),
        ("3341-17".into(), tp_sine(6.0, 0.5, 60.0, 1.0)),
        ("3341-18".into(), tp_sine(8.0, 0.5, 67.5, 1.0)),
        ("3341-19".into(), tp_sine(4.0, 1.41, 45.0, 1.0)),
    ];
    for (k, id) in ["3341-20", "3341-21", "3341-22", "3341-23"]
        .iter()
        .enumerate()
    {
        cases.push((id.to_string(), tp_burst(k, 1.0)));
    }
    for (id, x) in cases {
        // The synthesised case reads as the table says before the boost (+0.2/-0.4 dB).
        let m = measure(&[x.clone(), x.clone()], SR as f64);
        let want = if id == "3341-19" {
            3.0
        } else if id.as_str() >= "3341-20" {
            0.0
        } else {
            -6.0
        };
        let tp_in = m.true_peak_dbtp.unwrap();
        assert!(
            tp_in - want <= 0.2 && want - tp_in <= 0.4,
            "case {id} synthesised at {tp_in:.3} dBTP, table {want}"
        );
        let boosted: Vec<f32> = x.iter().map(|v| v * 2.0).collect();
        for ceiling in [-1.0, -3.0] {
            let r = through(
                &dir,
                &boosted,
                &format!(":limit {{ ceiling_db = {ceiling} }}"),
            );
            let tp = r.tp();
            eprintln!(
                "{id} +6 dB ({:+.2} dBTP in), ceiling {ceiling}: {tp:.3} dBTP out",
                tp_in + 6.02
            );
            assert!(
                tp <= ceiling + 0.1,
                "case {id} +6 dB, ceiling {ceiling}: true peak {tp:.3} dBTP"
            );
            assert!(r.m().sample_peak_dbfs.unwrap() <= ceiling + 1e-4);
        }
    }
}

#[test]
fn limiter_holds_the_true_peak_on_squares_and_noise_bursts() {
    let dir = Dir::new();
    let n = frames(1.0);
    let square = |period: usize| -> Vec<f32> {
        (0..n)
            .map(|i| if (i % period) < period / 2 { 1.0 } else { -1.0 })
            .collect()
    };
    let bursts: Vec<f32> = noise(n, 4.0, 3)
        .into_iter()
        .enumerate()
        .map(|(i, v)| if (i / frames(0.05)) % 6 == 0 { v } else { 0.0 })
        .collect();
    let signals: Vec<(&str, Vec<f32>)> = vec![
        ("square 1 kHz", square(48)),
        ("square 100 Hz", square(480)),
        ("square fs/4", square(4)),
        ("square fs/6", square(6)),
        ("noise bursts +12 dB", bursts),
        ("noise +12 dB", noise(n, 4.0, 9)),
    ];
    for (name, x) in signals {
        let tp_in = measure(&[x.clone(), x.clone()], SR as f64)
            .true_peak_dbtp
            .unwrap();
        let r = through(&dir, &x, ":limit { ceiling_db = -1 }");
        let tp = r.tp();
        eprintln!("{name} ({tp_in:+.2} dBTP in): {tp:.3} dBTP out");
        assert!(
            tp <= -0.9,
            "{name}: true peak {tp:.3} dBTP over a -1 dBTP ceiling"
        );
        // Not by silencing it: the limited signal stays close to the ceiling.
        assert!(
            tp > -4.0,
            "{name}: limited to {tp:.2} dBTP, far below the ceiling"
        );
    }
}

#[test]
fn limiter_is_transparent_below_the_ceiling_and_aligned() {
    let dir = Dir::new();
    let n = frames(1.0);
    let x: Vec<f32> = sine(n, 440.0, lin(-12.0), SR as f64)
        .iter()
        .zip(noise(n, lin(-20.0), 5))
        .map(|(a, b)| a + b)
        .collect();
    let r = through(&dir, &x, ":limit { ceiling_db = -1, lookahead_ms = 5 }");
    assert!(r.latency >= 240, "lookahead latency {} frames", r.latency);
    assert_eq!(r.l().len(), x.len(), "the render is not delay-compensated");
    let worst = x
        .iter()
        .zip(r.l())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!(
        "below the ceiling: largest difference {worst:.2e} (latency {} frames)",
        r.latency
    );
    assert!(
        worst <= 1e-6,
        "output differs from the input by {worst:.2e}"
    );
}

/// A render of `source` (a generator table) through `:loudness` on the master.
fn loudness_render(dir: &Dir, sources: &str, target: f64, ceiling: f64) -> Rendered {
    dir.render(&format!(
        "mix.session {{ tempo_bpm = 120, length_s = 12 }}\n{sources}\nmix.master:loudness {{ target_lufs = {target}, ceiling_db = {ceiling} }}\n"
    ))
}

#[test]
fn loudness_hits_the_target_on_different_programmes() {
    let dir = Dir::new();
    // Dynamic material: drums and a bass line from the generators, with a quiet break.
    let dynamic = r#"
        local k = mix.track("kick", { drum = "kick", pattern = "X...x...X...x..." })
        local s = mix.track("snare", { drum = "snare", pattern = "....X.......X...", level_db = -6 })
        local b = mix.track("bass", { synth = "bass", pattern = "c2 . c2 eb2 . . g1 .", level_db = -8 })
        b.gain_db:set(4, 0):linear_to(6, -30):set(9, 0)
        k.gain_db:set(4, 0):linear_to(6, -30):set(9, 0)"#;
    let programmes = [
        (
            "quiet tone",
            r#"mix.track("tone", { osc = "sine", hz = 1000, level_db = -40 })"#,
            -16.0,
            -1.0,
        ),
        (
            "loud noise",
            r#"mix.track("noise", { noise = "white", level_db = 0 })"#,
            -14.0,
            -1.0,
        ),
        ("dynamic", dynamic, -14.0, -1.0),
        ("dynamic, broadcast", dynamic, -20.0, -2.0),
        (
            "loud noise, hot",
            r#"mix.track("noise", { noise = "pink", level_db = -3 })"#,
            -9.0,
            -0.3,
        ),
    ];
    for (name, src, target, ceiling) in programmes {
        let r = loudness_render(&dir, src, target, ceiling);
        let (i, tp) = (r.lufs(), r.tp());
        eprintln!(
            "{name}: {i:.3} LUFS (target {target}), {tp:.2} dBTP (ceiling {ceiling}), {} passes; {:?}",
            r.passes, r.report.notes
        );
        assert!(
            (i - target).abs() <= 0.1,
            "{name}: {i:.3} LUFS, target {target}"
        );
        assert!(
            tp <= ceiling + 0.1,
            "{name}: true peak {tp:.3} over {ceiling}"
        );
        assert!(r.passes >= 1, "{name}: no analysis pass ran");
        assert!(
            r.report.notes.iter().all(|n| !n.contains("not reached")),
            "{name}: {:?}",
            r.report.notes
        );
    }
}

#[test]
fn loudness_target_louder_than_the_ceiling_is_rejected() {
    let dir = Dir::new();
    let e = dir.error(
        r#"mix.track("t", { osc = "sine", hz = 100, length_s = 1 })
           mix.master:loudness { target_lufs = -6, ceiling_db = -9 }"#,
    );
    assert!(
        e.contains("loudness \"master/loudness\"")
            && e.contains("target_lufs = -6")
            && e.contains("ceiling_db = -9"),
        "{e}"
    );
}

/// The shortfall a "target not reached" note states, in LU.
fn shortfall(notes: &[String]) -> Option<f64> {
    let n = notes.iter().find(|n| n.contains("target not reached"))?;
    let tail = &n[n.find("holds it ")? + "holds it ".len()..];
    tail.split(' ').next()?.parse().ok()
}

#[test]
fn loudness_reports_a_target_the_ceiling_keeps_out_of_reach() {
    let dir = Dir::new();
    // A sine keeps its shape in the limiter, so at a -6 dBTP ceiling a 100 Hz sine tops out
    // near -7.8 LUFS (K-weighting takes 1.1 dB at 100 Hz); a lone kick drum, all peak, much
    // lower. Each render says "target not reached" with the shortfall, and holds the ceiling.
    for (src, target) in [
        (
            r#"mix.track("s", { osc = "sine", hz = 100, level_db = 0 })"#,
            -6.0,
        ),
        (
            r#"mix.track("k", { drum = "kick", pattern = "X..............." })"#,
            -8.0,
        ),
    ] {
        let r = loudness_render(&dir, src, target, -6.0);
        let (i, tp) = (r.lufs(), r.tp());
        eprintln!(
            "{src} at {target} LUFS / -6 dBTP: {i:.2} LUFS, {tp:.2} dBTP; {:?}",
            r.report.notes
        );
        let short = shortfall(&r.report.notes)
            .unwrap_or_else(|| panic!("{src}: no 'target not reached' note: {:?}", r.report.notes));
        assert!(i < target - 0.5, "{src}: {i:.2} LUFS");
        assert!(
            (short - (target - i)).abs() <= 0.1,
            "{src}: note says {short} LU short, the render is {:.2} LU short",
            target - i
        );
        assert!(
            tp <= -6.0 + 0.1,
            "{src}: true peak {tp:.2} over the ceiling"
        );
    }
    // A full-scale square, on the other hand, has almost no crest factor: -8 LUFS under a
    // -6 dBTP ceiling is reachable, and reached.
    let r = loudness_render(
        &dir,
        r#"mix.track("sq", { osc = "square", hz = 50, level_db = 0 })"#,
        -8.0,
        -6.0,
    );
    eprintln!(
        "square at -8 LUFS / -6 dBTP: {:.2} LUFS, {:.2} dBTP",
        r.lufs(),
        r.tp()
    );
    assert!((r.lufs() + 8.0).abs() <= 0.1 && r.tp() <= -5.9);
    assert_eq!(shortfall(&r.report.notes), None);
}

/// Transient-heavy material: a kick on every beat 24 dB over a quiet saw (−28 LUFS). After
/// each kick a slow release holds the saw down for a whole release time.
const PUNCHY: &str = r#"
    mix.track("k", { drum = "kick", pattern = "X...X...X...X...", level_db = -6 })
    mix.track("b", { osc = "saw", hz = 220, level_db = -30 })"#;

fn loudness_with(dir: &Dir, opts: &str) -> Rendered {
    dir.render(&format!(
        "mix.session {{ tempo_bpm = 120, length_s = 12 }}\n{PUNCHY}\nmix.master:loudness {{ target_lufs = -7, ceiling_db = -1{opts} }}\n"
    ))
}

/// The average gain reduction a loudness note states.
fn average_reduction(note: &str) -> f64 {
    note.split("average ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no average gain reduction in {note}"))
}

#[test]
fn loudness_chooses_the_release_that_reaches_the_target_on_transient_material() {
    let dir = Dir::new();
    // A fixed 100 ms release needs more than the 6 dB average budget: the target is missed,
    // and the note says the budget is what stops it, by how much.
    let slow = loudness_with(&dir, ", release_ms = 100");
    eprintln!(
        "release 100 ms: {:.2} LUFS; {:?}",
        slow.lufs(),
        slow.report.notes
    );
    let note = slow
        .report
        .notes
        .iter()
        .find(|n| n.contains("not reached"))
        .unwrap_or_else(|| panic!("{:?}", slow.report.notes));
    assert!(note.contains("max_reduction_db = 6.0"), "{note}");
    assert!(slow.lufs() < -7.5, "{:.2}", slow.lufs());
    assert!(average_reduction(note) <= 6.1, "{note}");

    // The default chooses a faster release and lands on the target within the budget.
    let auto = loudness_with(&dir, "");
    let (i, tp) = (auto.lufs(), auto.tp());
    eprintln!(
        "auto: {i:.3} LUFS, {tp:.2} dBTP, {} passes; {:?}",
        auto.passes, auto.report.notes
    );
    assert!((i + 7.0).abs() <= 0.1, "{i:.3} LUFS");
    assert!(tp <= -1.0 + 0.05, "{tp:.2} dBTP");
    let n = auto
        .report
        .notes
        .iter()
        .find(|n| n.contains("(auto)"))
        .expect("the note names the release chosen");
    assert!(!n.contains("not reached"), "{n}");
    assert!(
        !n.contains("release 100 ms"),
        "a faster release was needed: {n}"
    );
    assert!(average_reduction(n) <= 6.05, "{n}");

    // A tight budget is respected and named as the limit, with the shortfall.
    let tight = loudness_with(&dir, ", max_reduction_db = 1");
    eprintln!(
        "budget 1 dB: {:.2} LUFS; {:?}",
        tight.lufs(),
        tight.report.notes
    );
    let note = tight
        .report
        .notes
        .iter()
        .find(|n| n.contains("not reached"))
        .unwrap_or_else(|| panic!("{:?}", tight.report.notes));
    assert!(note.contains("max_reduction_db = 1.0"), "{note}");
    assert!(average_reduction(note) <= 1.1, "{note}");
    let short = shortfall(&tight.report.notes).unwrap();
    assert!((short - (-7.0 - tight.lufs())).abs() <= 0.1, "{note}");
}

/// The gain a limiter applied to a steady tone, per window, in dB: output level over input
/// level (RMS over `win` frames from `at`).
fn gain_db_at(x: &[f32], y: &[f32], at: usize, win: usize) -> f64 {
    let rms =
        |v: &[f32]| (v.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    20.0 * (rms(&y[at..at + win]) / rms(&x[at..at + win])).log10()
}

#[test]
fn program_release_does_not_pump_after_transients_and_holds_after_sustained_reduction() {
    let dir = Dir::new();
    // A steady 200 Hz tone 3 dB under the ceiling with a 2 ms click 12 dB over it every 500 ms,
    // then 1 s of the tone 6 dB over the ceiling, then the quiet tone again.
    let n = frames(4.0);
    let tone = |amp: f64| sine(n, 200.0, amp, SR as f64);
    let (quiet, loud) = (tone(lin(-4.0)), tone(lin(5.0)));
    let mut x: Vec<f32> = quiet.clone();
    let clicks: Vec<usize> = (0..4).map(|k| frames(0.25 + 0.5 * k as f64)).collect();
    for &c in &clicks {
        for (i, v) in x.iter_mut().enumerate().skip(c).take(frames(0.002)) {
            *v += lin(12.0) as f32 * if (i / 24) % 2 == 0 { 1.0 } else { -1.0 };
        }
    }
    let (loud_from, loud_to) = (frames(2.2), frames(3.2));
    x[loud_from..loud_to].copy_from_slice(&loud[loud_from..loud_to]);
    let insert = |program: bool| {
        format!(":limit {{ ceiling_db = -1, release_ms = 200, program_release = {program} }}")
    };
    let fixed = through(&dir, &x, &insert(false));
    let program = through(&dir, &x, &insert(true));
    let win = frames(0.01);
    // Pumping: the tone's level 30–40 ms after each click.
    let dip = |r: &Rendered| {
        clicks
            .iter()
            .map(|&c| gain_db_at(&x, r.l(), c + frames(0.03), win))
            .fold(0.0f64, f64::min)
    };
    let (dip_fixed, dip_program) = (dip(&fixed), dip(&program));
    // Hold: the quiet tone's level 30–40 ms after the loud passage.
    let after = |r: &Rendered| gain_db_at(&x, r.l(), loud_to + frames(0.03), win);
    let (hold_fixed, hold_program) = (after(&fixed), after(&program));
    eprintln!(
        "30 ms after a click: fixed {dip_fixed:.2} dB, program {dip_program:.2} dB; \
         30 ms after 1 s of 6 dB reduction: fixed {hold_fixed:.2} dB, program {hold_program:.2} dB"
    );
    assert!(
        dip_fixed < -6.0,
        "a 200 ms release ducks the tone after a click: {dip_fixed:.2}"
    );
    assert!(
        dip_program > -1.0,
        "program release is back after a click: {dip_program:.2}"
    );
    assert!(
        hold_program < -2.0 && (hold_program - hold_fixed).abs() < 2.0,
        "after sustained reduction the program release is slow too: {hold_program:.2} vs {hold_fixed:.2}"
    );
    for r in [&fixed, &program] {
        assert!(r.tp() <= -1.0 + 0.05, "true peak {:.2}", r.tp());
    }
}
