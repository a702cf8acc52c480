//! Step-sequencer patterns: parsing a pattern string, and a [`Sequencer`] that turns it into
//! sample-accurate note events at a tempo.
//!
//! # Pattern syntax
//!
//! A pattern is a loop of any number of steps; each step lasts a 16th note by default (4 steps
//! per beat, changed with [`Sequencer::set_steps_per_beat`]). The pattern repeats forever.
//!
//! **Drum lane** — every character is one step (spaces and `|` may be used freely to group steps
//! and are ignored):
//!
//! | char      | meaning                         |
//! |-----------|---------------------------------|
//! | `X`       | accented hit, velocity 1.0      |
//! | `x`       | hit, velocity 0.7               |
//! | `o`       | ghost hit, velocity 0.4         |
//! | `.` `-`   | rest                            |
//! | `\|` space | ignored (bar / group separator) |
//!
//! `"x...x...x...x..."` is four-on-the-floor; `"X..x ..x. |X..x ..xx"` is the same as
//! `"X..x..x.X..x..xx"`. A pattern made only of these characters is a drum lane.
//!
//! **Melodic lane** — steps are separated by spaces; each step is one token:
//!
//! | token                  | meaning                                                     |
//! |------------------------|-------------------------------------------------------------|
//! | `c2` `f#3` `eb4` `Bb1` | a note: letter `a`–`g` (any case), optional `#`/`b` (or `##`/`bb`), octave; `c4` = MIDI 60 = 261.63 Hz, `a4` = 440 Hz, `c-1` = 0 |
//! | `60`                   | a MIDI note number, 0–127                                    |
//! | `c3+e3+g3`             | a chord: notes (or MIDI numbers) joined by `+`               |
//! | `c3:maj7` `a2:m` `g:7` | a chord symbol: root, `:`, quality; without an octave the root is in octave 3 |
//! | `.` `-`                | rest: the previous note stops at the start of this step      |
//! | `_`                    | tie: the previous note (or chord) keeps sounding             |
//! | `\|`                   | ignored (bar separator); it is not a step                    |
//!
//! Chord qualities: `maj` (or `M`, or nothing: `c3:`), `m`/`min`, `5`, `6`, `m6`, `7`, `maj7`/`M7`,
//! `m7`/`min7`, `m7b5`, `dim`, `dim7`, `aug`, `sus2`, `sus4`/`sus`, `9`, `maj9`, `m9`, `add9`.
//! Parts combine: `c3:maj7+c5`. A step holds at most [`MAX_CHORD_NOTES`] notes. (Symbols
//! without the colon, like `C7`, are not accepted: `C7` would also be the note c7.)
//!
//! A note sounds from the start of its step until the start of the next step that is not `_`;
//! a new note ends the previous one at the same sample (note-off first). Melodic notes have
//! velocity 1.0. Example bass line, one bar of eighth notes (16 steps of a 16th):
//! `"c2 _ c2 _ eb2 _ . g1 | c2 _ c2 _ bb1 _ g1 _"`.
//!
//! Errors name the step (1-based) and the character column:
//! `step 5 (column 13): 'h2' is not a note; expected a note name like c2, f#3, eb4, …`.
//!
//! Thread: any. Allocation: only in [`Pattern::parse`]; [`Sequencer::events_in_block`] never
//! allocates, locks or panics.

use std::fmt;

/// Most notes one step can hold.
pub const MAX_CHORD_NOTES: usize = 8;

/// Note number carried by drum-lane events (drum voices ignore it).
pub const DRUM_NOTE: u8 = 36;

/// Velocities of the drum-lane hit characters `X`, `x` and `o`.
pub const DRUM_VELOCITIES: [(char, f32); 3] = [('X', 1.0), ('x', 0.7), ('o', 0.4)];

/// Frequency in Hz of a (possibly fractional) MIDI note number: `440 · 2^((note − 69) / 12)`.
pub fn midi_to_hz(note: f32) -> f32 {
    440.0 * ((note - 69.0) / 12.0).exp2()
}

/// Up to [`MAX_CHORD_NOTES`] MIDI notes sounding together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chord {
    notes: [u8; MAX_CHORD_NOTES],
    len: u8,
}

impl Chord {
    fn single(note: u8) -> Self {
        let mut notes = [0; MAX_CHORD_NOTES];
        notes[0] = note;
        Self { notes, len: 1 }
    }

    /// The MIDI note numbers, in the order written.
    pub fn notes(&self) -> &[u8] {
        &self.notes[..self.len as usize]
    }
}

/// One step of a parsed pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Silence; ends the previous note.
    Rest,
    /// Keeps the previous note or chord sounding.
    Tie,
    /// A drum hit with its velocity.
    Hit {
        /// Velocity in `[0, 1]`.
        velocity: f32,
    },
    /// A note or chord starting on this step.
    Notes {
        /// The notes.
        chord: Chord,
        /// Velocity in `[0, 1]`.
        velocity: f32,
    },
}

/// What kind of lane a pattern string was parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneKind {
    /// One character per step: `x X o . - |`.
    Drum,
    /// Space-separated note tokens.
    Melodic,
}

/// What went wrong in a pattern string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternErrorKind {
    /// The pattern has no steps.
    Empty,
    /// The token is not a note, MIDI number, chord, rest or tie.
    NotANote,
    /// The note lies outside MIDI 0–127.
    OutOfRange,
    /// The chord quality after `:` is unknown.
    UnknownChordQuality(String),
    /// The chord has more than [`MAX_CHORD_NOTES`] notes.
    TooManyNotes,
}

/// A user-facing pattern error, naming the step and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// 1-based step number (0 for [`PatternErrorKind::Empty`]).
    pub step: usize,
    /// 1-based character column of the token in the pattern string.
    pub column: usize,
    /// The offending token.
    pub token: String,
    /// What went wrong.
    pub kind: PatternErrorKind,
}

const EXPECTED: &str =
    "expected a note name like c2, f#3, eb4, a MIDI number (0-127), a chord like \
     c3+e3+g3 or c3:maj7, '.' (rest) or '_' (tie)";

const QUALITIES: &str =
    "maj, m, 5, 6, m6, 7, maj7, m7, m7b5, dim, dim7, aug, sus2, sus4, 9, maj9, m9, add9";

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (step, col, tok) = (self.step, self.column, &self.token);
        match &self.kind {
            PatternErrorKind::Empty => write!(
                f,
                "pattern is empty; expected steps such as \"x...x...\" (drums) or \"c2 _ eb2 .\" (notes)"
            ),
            PatternErrorKind::NotANote => {
                write!(f, "step {step} (column {col}): '{tok}' is not a note; {EXPECTED}")?;
                if tok.chars().any(|c| matches!(c, 'x' | 'X' | 'o')) {
                    write!(f, " (a drum lane may only contain x X o . - | and spaces)")?;
                }
                Ok(())
            }
            PatternErrorKind::OutOfRange => write!(
                f,
                "step {step} (column {col}): '{tok}' is outside the MIDI range; expected c-1 (0) to g9 (127)"
            ),
            PatternErrorKind::UnknownChordQuality(q) => write!(
                f,
                "step {step} (column {col}): '{tok}' has an unknown chord quality '{q}'; expected one of {QUALITIES}"
            ),
            PatternErrorKind::TooManyNotes => write!(
                f,
                "step {step} (column {col}): '{tok}' has more than {MAX_CHORD_NOTES} notes"
            ),
        }
    }
}

impl std::error::Error for PatternError {}

/// A parsed, looping pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    kind: LaneKind,
    steps: Vec<Step>,
    /// What sounds during each step once the loop is running (ties resolved around the loop).
    sounding: Vec<Option<Chord>>,
    /// Index of the first step that is not a tie (`steps.len()` when all are ties): before it,
    /// in the very first pass, nothing sounds.
    first_onset: usize,
}

/// Semitones of a chord quality.
fn chord_intervals(quality: &str) -> Option<&'static [u8]> {
    Some(match quality {
        "" | "maj" | "M" => &[0, 4, 7],
        "m" | "min" => &[0, 3, 7],
        "5" => &[0, 7],
        "6" => &[0, 4, 7, 9],
        "m6" => &[0, 3, 7, 9],
        "7" => &[0, 4, 7, 10],
        "maj7" | "M7" => &[0, 4, 7, 11],
        "m7" | "min7" => &[0, 3, 7, 10],
        "m7b5" => &[0, 3, 6, 10],
        "dim" => &[0, 3, 6],
        "dim7" => &[0, 3, 6, 9],
        "aug" => &[0, 4, 8],
        "sus2" => &[0, 2, 7],
        "sus4" | "sus" => &[0, 5, 7],
        "9" => &[0, 4, 7, 10, 14],
        "maj9" => &[0, 4, 7, 11, 14],
        "m9" => &[0, 3, 7, 10, 14],
        "add9" => &[0, 4, 7, 14],
        _ => return None,
    })
}

/// Parses a note name (`c4`, `f#3`, `eb-1`) or MIDI number. With `default_octave`, the octave
/// may be omitted. Returns the MIDI number, or the error kind.
fn parse_note(text: &str, default_octave: Option<i32>) -> Result<u8, PatternErrorKind> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(n) if n <= 127 => Ok(n as u8),
            _ => Err(PatternErrorKind::OutOfRange),
        };
    }
    let mut chars = text.chars().peekable();
    let letter = chars.next().ok_or(PatternErrorKind::NotANote)?;
    let pitch_class: i32 = match letter.to_ascii_lowercase() {
        'c' => 0,
        'd' => 2,
        'e' => 4,
        'f' => 5,
        'g' => 7,
        'a' => 9,
        'b' => 11,
        _ => return Err(PatternErrorKind::NotANote),
    };
    let mut accidental = 0;
    for _ in 0..2 {
        match chars.peek() {
            Some('#') => accidental += 1,
            Some('b') => accidental -= 1,
            _ => break,
        }
        chars.next();
    }
    let rest: String = chars.collect();
    let octave = if rest.is_empty() {
        default_octave.ok_or(PatternErrorKind::NotANote)?
    } else {
        let digits = rest.strip_prefix('-').unwrap_or(&rest);
        if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PatternErrorKind::NotANote);
        }
        rest.parse::<i32>()
            .map_err(|_| PatternErrorKind::NotANote)?
    };
    let midi = (octave + 1) * 12 + pitch_class + accidental;
    u8::try_from(midi)
        .ok()
        .filter(|&m| m <= 127)
        .ok_or(PatternErrorKind::OutOfRange)
}

/// Parses one melodic token that is not a rest, tie or separator.
fn parse_chord(token: &str) -> Result<Chord, PatternErrorKind> {
    let mut chord = Chord {
        notes: [0; MAX_CHORD_NOTES],
        len: 0,
    };
    for part in token.split('+') {
        let mut push = |note: u8| -> Result<(), PatternErrorKind> {
            let slot = chord
                .notes
                .get_mut(chord.len as usize)
                .ok_or(PatternErrorKind::TooManyNotes)?;
            *slot = note;
            chord.len += 1;
            Ok(())
        };
        match part.split_once(':') {
            None => push(parse_note(part, None)?)?,
            Some((root, quality)) => {
                let root = parse_note(root, Some(3))?;
                let intervals = chord_intervals(quality)
                    .ok_or_else(|| PatternErrorKind::UnknownChordQuality(quality.to_string()))?;
                for &i in intervals {
                    let note = root.checked_add(i).filter(|&n| n <= 127);
                    push(note.ok_or(PatternErrorKind::OutOfRange)?)?;
                }
            }
        }
    }
    Ok(chord)
}

impl Pattern {
    /// Parses a pattern string (syntax in the module docs). Drum lane if every non-space
    /// character is one of `x X o . - |`, melodic lane otherwise.
    pub fn parse(src: &str) -> Result<Pattern, PatternError> {
        let is_drum = src
            .chars()
            .all(|c| c.is_whitespace() || matches!(c, 'x' | 'X' | 'o' | '.' | '-' | '|'));
        let mut steps = Vec::new();
        let kind = if is_drum {
            for c in src.chars() {
                match c {
                    '.' | '-' => steps.push(Step::Rest),
                    _ => {
                        if let Some(&(_, velocity)) =
                            DRUM_VELOCITIES.iter().find(|(ch, _)| *ch == c)
                        {
                            steps.push(Step::Hit { velocity });
                        }
                    }
                }
            }
            LaneKind::Drum
        } else {
            // Split on whitespace, keeping each token's 1-based character column.
            let mut tokens: Vec<(&str, usize)> = Vec::new();
            let mut open: Option<(usize, usize)> = None;
            for (column, (byte, c)) in src.char_indices().enumerate() {
                if c.is_whitespace() {
                    if let Some((b, col)) = open.take() {
                        tokens.push((&src[b..byte], col));
                    }
                } else if open.is_none() {
                    open = Some((byte, column + 1));
                }
            }
            if let Some((b, col)) = open {
                tokens.push((&src[b..], col));
            }
            for (token, column) in tokens {
                let step = match token {
                    "|" => continue,
                    "." | "-" => Step::Rest,
                    "_" => Step::Tie,
                    t => Step::Notes {
                        chord: parse_chord(t).map_err(|kind| PatternError {
                            step: steps.len() + 1,
                            column,
                            token: token.to_string(),
                            kind,
                        })?,
                        velocity: 1.0,
                    },
                };
                steps.push(step);
            }
            LaneKind::Melodic
        };
        if steps.is_empty() {
            return Err(PatternError {
                step: 0,
                column: 0,
                token: String::new(),
                kind: PatternErrorKind::Empty,
            });
        }
        Ok(Self::from_steps(kind, steps))
    }

    /// Builds a pattern from already-made steps (must not be empty; an empty list becomes a
    /// single rest).
    pub fn from_steps(kind: LaneKind, mut steps: Vec<Step>) -> Pattern {
        if steps.is_empty() {
            steps.push(Step::Rest);
        }
        let n = steps.len();
        let resolve = |step: &Step| match step {
            Step::Rest => Some(None),
            Step::Tie => None,
            Step::Hit { .. } => Some(Some(Chord::single(DRUM_NOTE))),
            Step::Notes { chord, .. } => Some(Some(*chord)),
        };
        let first_onset = steps.iter().position(|s| resolve(s).is_some()).unwrap_or(n);
        let mut sounding = vec![None; n];
        if first_onset < n {
            let mut current = None;
            for k in first_onset..first_onset + n {
                if let Some(now) = resolve(&steps[k % n]) {
                    current = now;
                }
                sounding[k % n] = current;
            }
        }
        Pattern {
            kind,
            steps,
            sounding,
            first_onset,
        }
    }

    /// Drum or melodic lane.
    pub fn kind(&self) -> LaneKind {
        self.kind
    }

    /// The steps of one loop.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Number of steps in one loop (at least 1).
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Always false: a pattern has at least one step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// What sounds during absolute step `k` (counted from the start of the song).
    fn sounding_at(&self, k: u64) -> Option<&Chord> {
        if k < self.first_onset as u64 {
            return None;
        }
        self.sounding
            .get((k % self.steps.len() as u64) as usize)
            .and_then(Option::as_ref)
    }
}

/// A note event produced by the [`Sequencer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// Start a note (drum hits use [`DRUM_NOTE`]).
    NoteOn {
        /// MIDI note number.
        note: u8,
        /// Velocity in `[0, 1]`.
        velocity: f32,
    },
    /// Stop a note (at the start of the step after it ends; drum hits end after one step).
    NoteOff {
        /// MIDI note number.
        note: u8,
    },
}

/// Plays a [`Pattern`] at a tempo: step `k` starts at sample
/// `round(k · samples_per_step + swing_offset)`, counted from song sample 0, so events do not
/// depend on block sizes and any block can be asked for (seeking is free).
#[derive(Debug, Clone)]
pub struct Sequencer {
    pattern: Pattern,
    sample_rate_hz: f64,
    tempo_bpm: f64,
    steps_per_beat: u32,
    swing: f64,
    samples_per_step: f64,
}

impl Sequencer {
    /// A sequencer at `tempo_bpm` (clamped to 1–10 000) and 4 steps per beat (16th notes).
    pub fn new(pattern: Pattern, tempo_bpm: f64, sample_rate_hz: f32) -> Self {
        let mut seq = Self {
            pattern,
            sample_rate_hz: (sample_rate_hz as f64).max(1.0),
            tempo_bpm: 120.0,
            steps_per_beat: 4,
            swing: 0.0,
            samples_per_step: 0.0,
        };
        seq.set_tempo_bpm(tempo_bpm);
        seq
    }

    fn update(&mut self) {
        self.samples_per_step =
            self.sample_rate_hz * 60.0 / (self.tempo_bpm * self.steps_per_beat as f64);
    }

    /// Sets the tempo (clamped to 1–10 000 BPM; NaN keeps the old one). The timeline is
    /// recomputed from sample 0, so change it between songs, not while playing.
    pub fn set_tempo_bpm(&mut self, tempo_bpm: f64) {
        if !tempo_bpm.is_nan() {
            self.tempo_bpm = tempo_bpm.clamp(1.0, 10_000.0);
        }
        self.update();
    }

    /// Steps per beat (clamped to 1–64): 4 = 16th notes (default), 2 = 8ths, 3 = 8th triplets.
    pub fn set_steps_per_beat(&mut self, steps_per_beat: u32) {
        self.steps_per_beat = steps_per_beat.clamp(1, 64);
        self.update();
    }

    /// Swing: every odd step is delayed by `swing` (clamped to `[0, 0.75]`) of a step; 1/3 gives
    /// a triplet shuffle. Default 0.
    pub fn set_swing(&mut self, swing: f64) {
        if !swing.is_nan() {
            self.swing = swing.clamp(0.0, 0.75);
        }
    }

    /// The pattern being played.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// The tempo in BPM.
    pub fn tempo_bpm(&self) -> f64 {
        self.tempo_bpm
    }

    /// Length of one step in samples (not rounded).
    pub fn samples_per_step(&self) -> f64 {
        self.samples_per_step
    }

    /// Length of one loop of the pattern in samples (not rounded).
    pub fn loop_length_samples(&self) -> f64 {
        self.samples_per_step * self.pattern.len() as f64
    }

    /// Song sample at which absolute step `step` starts.
    pub fn step_start_sample(&self, step: u64) -> u64 {
        let swing = if step % 2 == 1 { self.swing } else { 0.0 };
        ((step as f64 + swing) * self.samples_per_step).round() as u64
    }

    /// Calls `out(offset, event)` for every event in song samples
    /// `start_sample .. start_sample + frames`, in time order, with `offset` relative to
    /// `start_sample`. At one sample, note-offs come before note-ons.
    pub fn events_in_block(
        &self,
        start_sample: u64,
        frames: usize,
        out: &mut impl FnMut(usize, Event),
    ) {
        let end = start_sample.saturating_add(frames as u64);
        let mut k =
            ((start_sample as f64 / self.samples_per_step).floor() as u64).saturating_sub(2);
        while self.step_start_sample(k) < start_sample && k < u64::MAX {
            k += 1;
        }
        loop {
            let at = self.step_start_sample(k);
            if at >= end {
                break;
            }
            let offset = (at - start_sample) as usize;
            let onset = match self
                .pattern
                .steps
                .get((k % self.pattern.len() as u64) as usize)
            {
                Some(Step::Hit { velocity }) | Some(Step::Notes { velocity, .. }) => {
                    Some(*velocity)
                }
                _ => None,
            };
            let current = self.pattern.sounding_at(k);
            if onset.is_some() || current.is_none() {
                if let Some(prev) = k.checked_sub(1).and_then(|p| self.pattern.sounding_at(p)) {
                    for &note in prev.notes() {
                        out(offset, Event::NoteOff { note });
                    }
                }
            }
            if let (Some(velocity), Some(chord)) = (onset, current) {
                for &note in chord.notes() {
                    out(offset, Event::NoteOn { note, velocity });
                }
            }
            if k == u64::MAX {
                break;
            }
            k += 1;
        }
    }
}

#[cfg(test)]
#[path = "pattern_tests.rs"]
mod tests;
