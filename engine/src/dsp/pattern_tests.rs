//! Tests for pattern parsing and the sequencer.

use super::*;

const SR: f32 = 48_000.0;

/// All events of `frames` samples from sample 0, asked for in blocks of `block`, with
/// absolute sample positions.
fn collect(seq: &Sequencer, frames: usize, block: usize) -> Vec<(u64, Event)> {
    let mut events = Vec::new();
    let mut start = 0;
    while start < frames {
        let n = block.min(frames - start);
        seq.events_in_block(start as u64, n, &mut |off, ev| {
            assert!(off < n, "offset {off} outside block of {n}");
            events.push((start as u64 + off as u64, ev));
        });
        start += n;
    }
    events
}

fn note_ons(events: &[(u64, Event)]) -> Vec<(u64, u8)> {
    events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::NoteOn { note, .. } => Some((*t, *note)),
            _ => None,
        })
        .collect()
}

fn chord_of(token: &str) -> Vec<u8> {
    match Pattern::parse(token).unwrap().steps()[0] {
        Step::Notes { chord, .. } => chord.notes().to_vec(),
        other => panic!("{token}: {other:?}"),
    }
}

#[test]
fn four_on_the_floor_is_sample_exact_at_any_block_size() {
    let pattern = Pattern::parse("x...x...x...x...").unwrap();
    assert_eq!(pattern.kind(), LaneKind::Drum);
    let seq = Sequencer::new(pattern, 120.0, SR);
    assert_eq!(seq.samples_per_step(), 6000.0);
    let reference = collect(&seq, 96_000, 96_000);
    let ons: Vec<u64> = note_ons(&reference).iter().map(|e| e.0).collect();
    assert_eq!(ons, [0, 24_000, 48_000, 72_000]);
    // Each hit lasts one step.
    let offs: Vec<u64> = reference
        .iter()
        .filter(|e| matches!(e.1, Event::NoteOff { .. }))
        .map(|e| e.0)
        .collect();
    assert_eq!(offs, [6_000, 30_000, 54_000, 78_000]);
    for block in [1, 17, 64, 512, 6000, 6001] {
        assert_eq!(collect(&seq, 96_000, block), reference, "block {block}");
    }
    // The loop repeats, and a block far into the song (a seek) sees the same grid.
    let mut late = Vec::new();
    seq.events_in_block(96_000 * 1000 - 10, 30, &mut |off, ev| late.push((off, ev)));
    assert_eq!(
        late,
        [(
            10,
            Event::NoteOn {
                note: DRUM_NOTE,
                velocity: 0.7
            }
        )]
    );
}

#[test]
fn drum_lane_velocities_and_separators() {
    let p = Pattern::parse("X..x | o-.. ").unwrap();
    assert_eq!(p.len(), 8);
    let v: Vec<f32> = p
        .steps()
        .iter()
        .filter_map(|s| match s {
            Step::Hit { velocity } => Some(*velocity),
            _ => None,
        })
        .collect();
    assert_eq!(v, [1.0, 0.7, 0.4]);
    assert_eq!(Pattern::parse("x... x...").unwrap().len(), 8);
}

#[test]
fn note_names_and_frequencies() {
    assert_eq!(chord_of("c4"), [60]);
    assert_eq!(chord_of("a4"), [69]);
    assert_eq!(chord_of("C4"), [60]);
    assert_eq!(chord_of("f#3"), [54]);
    assert_eq!(chord_of("eb4"), [63]);
    assert_eq!(chord_of("Bb1"), [34]);
    assert_eq!(chord_of("b3"), [59]);
    assert_eq!(chord_of("e#4"), [65]);
    assert_eq!(chord_of("c-1"), [0]);
    assert_eq!(chord_of("g9"), [127]);
    assert_eq!(chord_of("60"), [60]);
    assert!((midi_to_hz(60.0) - 261.6256).abs() < 1e-3);
    assert_eq!(midi_to_hz(69.0), 440.0);
    assert_eq!(midi_to_hz(57.0), 220.0);
}

#[test]
fn chords() {
    assert_eq!(chord_of("c3+e3+g3"), [48, 52, 55]);
    assert_eq!(chord_of("c3:maj7"), [48, 52, 55, 59]);
    assert_eq!(chord_of("a:m"), [57, 60, 64]);
    assert_eq!(chord_of("g2:7"), [43, 47, 50, 53]);
    assert_eq!(chord_of("f#:dim"), [54, 57, 60]);
    assert_eq!(chord_of("c3:+c5"), [48, 52, 55, 72]);
    assert_eq!(chord_of("d3:m9"), [50, 53, 57, 60, 64]);
}

#[test]
fn errors_name_the_step_and_what_was_expected() {
    let e = Pattern::parse("c2 d2 e2 f2 h2").unwrap_err();
    assert_eq!((e.step, e.column, e.token.as_str()), (5, 13, "h2"));
    assert_eq!(e.kind, PatternErrorKind::NotANote);
    let msg = e.to_string();
    println!("{msg}");
    assert!(msg.starts_with(
        "step 5 (column 13): 'h2' is not a note; expected a note name like c2, f#3, eb4, a MIDI number"
    ));
    // Bar separators are not steps; columns count characters, not bytes.
    let e = Pattern::parse("c2 | é3").unwrap_err();
    assert_eq!((e.step, e.column), (2, 6));
    let cases = [
        ("c2 c10", PatternErrorKind::OutOfRange),
        ("128", PatternErrorKind::OutOfRange),
        ("c2 c", PatternErrorKind::NotANote),
        (
            "c3:foo",
            PatternErrorKind::UnknownChordQuality("foo".into()),
        ),
        ("c1+c2+c3+c4+c5+c6+c7+c8+c9", PatternErrorKind::TooManyNotes),
        ("g9:maj", PatternErrorKind::OutOfRange),
        ("", PatternErrorKind::Empty),
        (" | ", PatternErrorKind::Empty),
        ("C7th", PatternErrorKind::NotANote),
    ];
    for (src, kind) in cases {
        let e = Pattern::parse(src).unwrap_err();
        assert_eq!(e.kind, kind, "{src}: {e}");
        println!("{src:?}: {e}");
    }
    let drumish = Pattern::parse("x..._...").unwrap_err().to_string();
    assert!(drumish.contains("drum lane may only contain"), "{drumish}");
}

#[test]
fn ties_rests_and_retriggers() {
    // Steps of 6000 samples at 120 BPM.
    let seq = Sequencer::new(Pattern::parse("c2 _ . e2 e2 _").unwrap(), 120.0, SR);
    let ev = collect(&seq, 6 * 6000 + 1, 64);
    use Event::*;
    let expect = [
        (
            0,
            NoteOn {
                note: 36,
                velocity: 1.0,
            },
        ),
        (12_000, NoteOff { note: 36 }),
        (
            18_000,
            NoteOn {
                note: 40,
                velocity: 1.0,
            },
        ),
        (24_000, NoteOff { note: 40 }),
        (
            24_000,
            NoteOn {
                note: 40,
                velocity: 1.0,
            },
        ),
        (36_000, NoteOff { note: 40 }),
        (
            36_000,
            NoteOn {
                note: 36,
                velocity: 1.0,
            },
        ),
    ];
    assert_eq!(ev, expect);
}

#[test]
fn leading_tie_continues_the_last_note_around_the_loop() {
    let seq = Sequencer::new(Pattern::parse("_ c3:m _ _").unwrap(), 120.0, SR);
    let ev = collect(&seq, 8 * 6000 + 1, 17);
    // First pass: nothing on step 0; chord on step 1; the second pass's step 0 ties, so the
    // next events are at step 5 (off + on).
    let times: Vec<u64> = ev.iter().map(|e| e.0).collect();
    assert_eq!(
        times,
        [6000, 6000, 6000, 30_000, 30_000, 30_000, 30_000, 30_000, 30_000]
    );
    let all_ties = Sequencer::new(Pattern::parse("_ _").unwrap(), 120.0, SR);
    assert!(collect(&all_ties, 48_000, 512).is_empty());
}

#[test]
fn steps_per_beat_and_swing() {
    let mut seq = Sequencer::new(Pattern::parse("xxxx").unwrap(), 120.0, SR);
    seq.set_steps_per_beat(2);
    let ons: Vec<u64> = note_ons(&collect(&seq, 48_000, 100))
        .iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(ons, [0, 12_000, 24_000, 36_000]);
    seq.set_steps_per_beat(4);
    seq.set_swing(1.0 / 3.0);
    let ons: Vec<u64> = note_ons(&collect(&seq, 24_000, 100))
        .iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(ons, [0, 8000, 12_000, 20_000]);
    // Odd tempos: positions are rounded, never drift.
    let seq = Sequencer::new(Pattern::parse("x").unwrap(), 127.0, 44_100.0);
    let ons = note_ons(&collect(&seq, 44_100 * 60, 333));
    assert_eq!(ons.len(), 127 * 4);
    for (k, (t, _)) in ons.iter().enumerate() {
        let exact = k as f64 * 44_100.0 * 60.0 / (127.0 * 4.0);
        assert_eq!(*t, exact.round() as u64);
    }
}

#[test]
fn extreme_positions_and_tempos_do_not_panic() {
    let mut seq = Sequencer::new(Pattern::parse("xx").unwrap(), f64::NAN, SR);
    for tempo in [0.0, -5.0, 1e12, f64::INFINITY] {
        seq.set_tempo_bpm(tempo);
        seq.set_steps_per_beat(u32::MAX);
        let mut n = 0;
        for start in [0, u64::MAX - 100, u64::MAX] {
            seq.events_in_block(start, 4096, &mut |_, _| n += 1);
        }
        assert!(n > 0);
    }
}
