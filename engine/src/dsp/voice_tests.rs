//! Tests for the drum voices and the synth.

use super::super::osc::tests::peak_freq_hz;
use super::super::pattern::Pattern;
use super::*;

const SR: f32 = 48_000.0;

fn render_blocks(
    inst: &mut dyn Instrument,
    seq: &Sequencer,
    frames: usize,
    block: usize,
) -> Vec<f32> {
    let mut out = vec![0.0; frames];
    let mut start = 0;
    for chunk in out.chunks_mut(block) {
        inst.play(seq, start as u64, chunk);
        start += chunk.len();
    }
    out
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn db(x: f32) -> f32 {
    20.0 * x.log10()
}

#[test]
fn kick_pattern_is_identical_at_every_block_size() {
    let seq = Sequencer::new(Pattern::parse("x...x...x...x...").unwrap(), 120.0, SR);
    let reference = render_blocks(&mut Drum::new(DrumKind::Kick, SR, 1), &seq, 96_000, 96_000);
    for block in [1, 17, 64, 512] {
        let out = render_blocks(&mut Drum::new(DrumKind::Kick, SR, 1), &seq, 96_000, block);
        assert!(out == reference, "block {block} differs");
    }
    // The sine starts at phase 0 on the trigger sample: silent before, rising after.
    assert_eq!(reference[0], 0.0);
    assert!(reference[1] > 0.0);
    // The same through `process` with an explicit event list.
    let mut kick = Drum::new(DrumKind::Kick, SR, 1);
    let mut out = vec![0.0; 96_000];
    let on = Event::NoteOn {
        note: 36,
        velocity: 0.7,
    };
    let events: Vec<(usize, Event)> = [0, 24_000, 48_000, 72_000]
        .iter()
        .map(|&t| (t, on))
        .collect();
    kick.process(&events, &mut out);
    assert!(out == reference);
}

#[test]
fn noise_drums_start_on_the_trigger_sample_at_any_block_size() {
    for kind in [DrumKind::ClosedHat, DrumKind::Snare, DrumKind::Clap] {
        let seq = Sequencer::new(Pattern::parse("x...x...x...x...").unwrap(), 120.0, SR);
        let reference = render_blocks(&mut Drum::new(kind, SR, 9), &seq, 96_000, 96_000);
        for block in [1, 17, 64, 512] {
            let out = render_blocks(&mut Drum::new(kind, SR, 9), &seq, 96_000, block);
            assert!(out == reference, "{kind:?} block {block} differs");
        }
        for t in [24_000usize, 48_000, 72_000] {
            if kind == DrumKind::ClosedHat {
                assert_eq!(reference[t - 1], 0.0, "{kind:?} silent before {t}");
            }
            assert!(
                reference[t] != 0.0 && reference[t] != reference[t - 1],
                "{kind:?} at {t}"
            );
        }
    }
}

#[test]
fn drum_levels_are_about_minus_6_dbfs() {
    for kind in [
        DrumKind::Kick,
        DrumKind::Snare,
        DrumKind::ClosedHat,
        DrumKind::OpenHat,
        DrumKind::Clap,
    ] {
        let mut worst = (f32::MAX, f32::MIN);
        for seed in 1..6 {
            let mut d = Drum::new(kind, SR, seed);
            let mut out = vec![0.0; 48_000];
            d.trigger(1.0);
            d.render(&mut out);
            let p = db(peak(&out));
            worst = (worst.0.min(p), worst.1.max(p));
            assert!(d.is_silent() || kind == DrumKind::OpenHat);
        }
        println!("{kind:?}: peak {:.2} … {:.2} dBFS", worst.0, worst.1);
        assert!(worst.0 > -8.0 && worst.1 < -4.5, "{kind:?} {worst:?}");
    }
    // Velocity scales linearly.
    let mut a = vec![0.0; 4800];
    let mut b = vec![0.0; 4800];
    let mut d = Drum::new(DrumKind::Kick, SR, 1);
    d.trigger(1.0);
    d.render(&mut a);
    let mut d = Drum::new(DrumKind::Kick, SR, 1);
    d.trigger(0.5);
    d.render(&mut b);
    assert!((peak(&b) / peak(&a) - 0.5).abs() < 1e-6);
}

#[test]
fn kick_pitch_falls_from_150_to_50_hz() {
    let mut d = Drum::new(DrumKind::Kick, SR, 1);
    d.trigger(1.0);
    let mut out = vec![0.0; 24_000];
    d.render(&mut out);
    // Instantaneous frequency from successive upward zero crossings.
    let ups: Vec<usize> = (1..out.len())
        .filter(|&i| out[i - 1] <= 0.0 && out[i] > 0.0)
        .collect();
    let first_period_hz = SR / (ups[1] - ups[0]) as f32;
    let late: Vec<f32> = ups
        .windows(2)
        .filter(|w| w[0] > 12_000)
        .map(|w| SR / (w[1] - w[0]) as f32)
        .collect();
    println!(
        "kick: first cycle {first_period_hz:.1} Hz, after 250 ms {:.1} Hz",
        late[0]
    );
    assert!((100.0..150.0).contains(&first_period_hz));
    assert!(late.iter().all(|f| (f - 50.0).abs() < 1.0));
}

/// One held note through `params`, `frames` long.
fn synth_note(params: SynthParams, note: u8, frames: usize) -> Vec<f32> {
    let mut s = Synth::with_params(params, SR);
    let mut out = vec![0.0; frames];
    s.process(
        &[(
            0,
            Event::NoteOn {
                note,
                velocity: 1.0,
            },
        )],
        &mut out,
    );
    out
}

#[test]
fn synth_plays_the_requested_pitch() {
    let cases = [
        (SynthPreset::Bass, 36, 65.406),
        (SynthPreset::Bass, 45, 110.0),
        (SynthPreset::Lead, 69, 440.0),
        (SynthPreset::Lead, 60, 261.626),
        (SynthPreset::Pluck, 69, 440.0),
        (SynthPreset::Pad, 57, 220.0),
    ];
    for (preset, note, expect) in cases {
        // Detune removed: the fundamental is exact. 4 s for a fine frequency resolution.
        let mut params = preset.params();
        let detune = params.detune_cents;
        params.detune_cents = 0.0;
        let f = peak_freq_hz(
            &synth_note(params, note, 4 * 48_000)[4800..],
            SR as f64,
            30.0,
            2000.0,
        );
        // As shipped: the strongest component is one of the two detuned oscillators.
        let g = peak_freq_hz(
            &synth_note(preset.params(), note, 4 * 48_000)[4800..],
            SR as f64,
            30.0,
            2000.0,
        );
        let cents = 1200.0 * (g / expect).log2();
        println!("{preset:?} note {note}: {f:.3} Hz (expected {expect}); detuned ±{:.1} ct: peak {g:.2} Hz ({cents:+.2} ct)", detune / 2.0);
        assert!(
            (f - expect).abs() < expect * 0.0005,
            "{preset:?} {note}: {f}"
        );
        assert!(
            cents.abs() < detune as f64 / 2.0 + 1.0,
            "{preset:?} {note}: {g}"
        );
    }
}

#[test]
fn synth_levels_and_voice_pool() {
    for (preset, notes) in [
        (SynthPreset::Bass, &[36u8][..]),
        (SynthPreset::Bass, &[48][..]),
        (SynthPreset::Lead, &[69][..]),
        (SynthPreset::Lead, &[57][..]),
        (SynthPreset::Pluck, &[60][..]),
        (SynthPreset::Pluck, &[72][..]),
        (SynthPreset::Pad, &[57][..]),
        (SynthPreset::Pad, &[48, 52, 55, 59][..]),
    ] {
        let mut s = Synth::new(preset, SR);
        let events: Vec<(usize, Event)> = notes
            .iter()
            .map(|&note| {
                (
                    0,
                    Event::NoteOn {
                        note,
                        velocity: 1.0,
                    },
                )
            })
            .collect();
        let mut out = vec![0.0; 96_000];
        s.process(&events, &mut out[..4800]);
        assert_eq!(s.active_voices(), notes.len().min(s.polyphony()));
        s.render(&mut out[4800..]);
        let p = db(peak(&out));
        println!("{preset:?} {notes:?}: peak {p:.2} dBFS");
        let target = if preset == SynthPreset::Pad && notes.len() == 1 {
            -12.0
        } else {
            -6.0
        };
        assert!((p - target).abs() < 2.0, "{preset:?} {notes:?}: {p}");
    }
    // Chords from a pattern; releases free the voices; overflow steals without panicking.
    let seq = Sequencer::new(Pattern::parse("c3:maj7 _ _ _ . . . .").unwrap(), 120.0, SR);
    let mut pad = Synth::new(SynthPreset::Pad, SR);
    let mut out = vec![0.0; 30_000];
    // Steps of 6000 samples: the rest (note-offs) is at sample 24 000.
    pad.play(&seq, 0, &mut out);
    assert_eq!(pad.active_voices(), 4);
    let mut tail = vec![0.0; 96_000];
    pad.render(&mut tail);
    assert!(pad.is_silent(), "released after the rest");
    let many: Vec<(usize, Event)> = (40..60)
        .map(|note| {
            (
                0,
                Event::NoteOn {
                    note,
                    velocity: 1.0,
                },
            )
        })
        .collect();
    pad.process(&many, &mut out);
    assert_eq!(pad.active_voices(), 8);
    assert!(out.iter().all(|v| v.is_finite()));
}

#[test]
fn mono_bass_follows_the_last_note() {
    let seq = Sequencer::new(Pattern::parse("c2 _ _ _ g2 _ _ _").unwrap(), 120.0, SR);
    let mut bass = Synth::new(SynthPreset::Bass, SR);
    let out = render_blocks(&mut bass, &seq, 48_000, 64);
    let f1 = peak_freq_hz(&out[2_000..24_000], SR as f64, 30.0, 500.0);
    let f2 = peak_freq_hz(&out[26_000..48_000], SR as f64, 30.0, 500.0);
    println!("bass c2 → g2: {f1:.2} Hz → {f2:.2} Hz");
    assert!((f1 - 65.41).abs() < 0.5 && (f2 - 98.0).abs() < 0.5);
    // No click at the note change: the largest sample-to-sample jump stays small.
    let jump = out[23_990..24_100]
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    assert!(jump < 0.1, "jump {jump}");
}

#[test]
fn names() {
    for name in DrumKind::NAMES {
        assert!(Drum::from_name(name, SR, 0).is_some(), "{name}");
    }
    for name in SynthPreset::NAMES {
        assert!(Synth::from_name(name, SR).is_some(), "{name}");
    }
    assert!(DrumKind::from_name("cowbell").is_none());
    assert_eq!(SynthPreset::from_name(" Bass "), Some(SynthPreset::Bass));
}

#[test]
fn synth_output_is_identical_at_every_block_size() {
    for preset in [
        SynthPreset::Bass,
        SynthPreset::Pad,
        SynthPreset::Lead,
        SynthPreset::Pluck,
    ] {
        let pattern =
            Pattern::parse("c3:m7 _ . eb3 | g2 g2+bb2 _ . | f3 . c4 _ | . . a2:sus4 _").unwrap();
        let seq = Sequencer::new(pattern, 133.0, SR);
        let reference = render_blocks(&mut Synth::new(preset, SR), &seq, 120_000, 120_000);
        for block in [1, 17, 64, 512] {
            let out = render_blocks(&mut Synth::new(preset, SR), &seq, 120_000, block);
            assert!(out == reference, "{preset:?} block {block} differs");
        }
    }
}
