//! Generator sources, so a mix can be made with no files at all: band-limited oscillators, white
//! and pink noise, drum voices and synths driven by step patterns at the session tempo.
//!
//! All are mono sources (the strip's pan places them). A sequenced source plays its pattern in a
//! loop from `start_s` for `bars` bars (or `length_s` seconds, or to the session's end), then lets
//! its voices ring out. Pattern positions are computed from the transport, so seeking is free and
//! the output is identical at every block size.

use std::sync::Arc;

use crate::dsp::noise::{PinkNoise, WhiteNoise};
use crate::dsp::osc::{Oscillator, Waveform};
use crate::dsp::pattern::{Event, Pattern, Sequencer};
use crate::dsp::voice::{Drum, DrumKind, Instrument, Synth, SynthPreset};
use crate::graph::Session;
use crate::node::{Node, NodeDesc, ParamValue, ProcessConfig, ProcessContext, ProcessStatus};
use crate::param::{ParamDesc, Unit};
use crate::registry::{
    all_params, no_initial, Alias, Config, Conversion, NodeKind, OptDefault, OptionDesc, Role,
};
use crate::units::db_to_gain;

const LEVEL: ParamDesc = ParamDesc::new(
    "level_db",
    Unit::Db,
    -120.0,
    24.0,
    0.0,
    "output level in dB",
);

/// `osc`: parameters `hz`, `level_db`.
pub static OSC_DESC: NodeDesc = NodeDesc {
    kind: "osc",
    inputs: &[],
    params: &[
        ParamDesc::new("hz", Unit::Hz, 1.0, 20000.0, 440.0, "frequency in Hz"),
        ParamDesc::new(
            "level_db",
            Unit::Db,
            -120.0,
            24.0,
            -12.0,
            "output level in dB",
        ),
    ],
};

/// `noise`: parameter `level_db`.
pub static NOISE_DESC: NodeDesc = NodeDesc {
    kind: "noise",
    inputs: &[],
    params: &[LEVEL],
};

/// `drum`: parameter `level_db`.
pub static DRUM_DESC: NodeDesc = NodeDesc {
    kind: "drum",
    inputs: &[],
    params: &[LEVEL],
};

/// `synth`: parameter `level_db`.
pub static SYNTH_DESC: NodeDesc = NodeDesc {
    kind: "synth",
    inputs: &[],
    params: &[LEVEL],
};

/// Longest step pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 100_000;

const START: OptionDesc = OptionDesc::num(
    "start_s",
    Unit::Seconds,
    0.0,
    36_000.0,
    OptDefault::Num(0.0),
    "when the source starts, seconds into the song",
);
const LENGTH: OptionDesc = OptionDesc::num(
    "length_s",
    Unit::Seconds,
    0.0,
    36_000.0,
    OptDefault::None,
    "how long it plays (default: to the session's length_s)",
);
const SEED: OptionDesc = OptionDesc::num(
    "seed",
    Unit::Count,
    0.0,
    1e15,
    OptDefault::Num(1.0),
    "random seed (the same seed gives the same sound)",
)
.integer();
const STEPS: OptionDesc = OptionDesc::num(
    "steps_per_beat",
    Unit::Count,
    1.0,
    64.0,
    OptDefault::Num(4.0),
    "pattern steps per beat (4 = 16th notes)",
)
.integer();
const SWING: OptionDesc = OptionDesc::num(
    "swing",
    Unit::Linear,
    0.0,
    0.75,
    OptDefault::Num(0.0),
    "delay of every second step, as a share of a step",
);
const TEMPO: OptionDesc = OptionDesc::num(
    "tempo_bpm",
    Unit::Count,
    20.0,
    400.0,
    OptDefault::Num(120.0),
    "tempo of the pattern (the session's)",
)
.hidden();
const PATTERN: OptionDesc = OptionDesc {
    key: "pattern",
    kind: crate::registry::OptKind::Text(MAX_PATTERN_CHARS),
    default: OptDefault::None,
    doc: "the step pattern: drums one character a step (X x o . -), synths space-separated notes, chords, . rests, _ holds",
    user: true,
};
const PLACEMENT_ALIASES: &[Alias] = &[
    Alias {
        key: "start_bar",
        target: "start_s",
        conversion: Conversion::BarSeconds,
        doc: "when the source starts, as a bar number (1 = the start)",
    },
    Alias {
        key: "bars",
        target: "length_s",
        conversion: Conversion::BarsSeconds,
        doc: "how long it plays, in bars",
    },
];

/// Registry entry: `{ osc = "saw", hz = 110, level_db = -12 }`.
pub static OSC_KIND: NodeKind = NodeKind {
    name: "osc",
    doc: "Band-limited oscillator: sine, saw, square or triangle at `hz` (automatable).",
    role: Role::Source { selector: "osc" },
    desc: &OSC_DESC,
    options: &[
        OptionDesc::choice(
            "osc",
            &["sine", "saw", "square", "triangle"],
            OptDefault::None,
            "waveform",
        ),
        START,
        LENGTH,
    ],
    aliases: PLACEMENT_ALIASES,
    check: check_generator,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| build(c, &OSC_DESC),
};

/// Registry entry: `{ noise = "pink", level_db = -20 }`.
pub static NOISE_KIND: NodeKind = NodeKind {
    name: "noise",
    doc: "White or pink noise (seeded, reproducible).",
    role: Role::Source { selector: "noise" },
    desc: &NOISE_DESC,
    options: &[
        OptionDesc::choice("noise", &["white", "pink"], OptDefault::None, "colour"),
        SEED,
        START,
        LENGTH,
    ],
    aliases: PLACEMENT_ALIASES,
    check: check_generator,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| build(c, &NOISE_DESC),
};

/// Registry entry: `{ drum = "kick", pattern = "X...x..." }`.
pub static DRUM_KIND: NodeKind = NodeKind {
    name: "drum",
    doc: "A drum voice (kick, snare, hat, open_hat, clap) played by a step pattern at the session tempo.",
    role: Role::Source { selector: "drum" },
    desc: &DRUM_DESC,
    options: &[
        OptionDesc::choice(
            "drum",
            &["kick", "snare", "hat", "open_hat", "clap"],
            OptDefault::None,
            "voice",
        ),
        PATTERN,
        SEED,
        STEPS,
        SWING,
        TEMPO,
        START,
        LENGTH,
    ],
    aliases: PLACEMENT_ALIASES,
    check: check_generator,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| build(c, &DRUM_DESC),
};

/// Registry entry: `{ synth = "bass", pattern = "c2 . eb2 _" }`.
pub static SYNTH_KIND: NodeKind = NodeKind {
    name: "synth",
    doc: "A synth preset (bass, pad, lead, pluck) played by a step pattern of notes and chords at the session tempo.",
    role: Role::Source { selector: "synth" },
    desc: &SYNTH_DESC,
    options: &[
        OptionDesc::choice(
            "synth",
            &["bass", "pad", "lead", "pluck"],
            OptDefault::None,
            "preset",
        ),
        PATTERN,
        STEPS,
        SWING,
        TEMPO,
        START,
        LENGTH,
    ],
    aliases: PLACEMENT_ALIASES,
    check: check_generator,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| build(c, &SYNTH_DESC),
};

#[derive(Clone, Debug)]
enum Kind {
    Osc(Waveform),
    White(u64),
    Pink(u64),
    Drum(DrumKind, u64, Arc<Pattern>),
    Synth(SynthPreset, Arc<Pattern>),
}

enum Runtime {
    None,
    Osc(Box<Oscillator>),
    White(WhiteNoise),
    Pink(PinkNoise),
    Seq(Box<dyn Instrument + Send>, Box<Sequencer>),
}

/// Construction options of a generator (plain data).
#[derive(Clone, Debug)]
struct GenConfig {
    kind: Kind,
    tempo_bpm: f64,
    steps_per_beat: u32,
    swing: f64,
    start_s: f64,
    length_s: Option<f64>,
    desc: &'static NodeDesc,
}

/// A generator source.
pub struct Generator {
    cfg: GenConfig,
    start: u64,
    end: Option<u64>,
    released: bool,
    rt: Runtime,
}

impl From<GenConfig> for Generator {
    fn from(cfg: GenConfig) -> Self {
        Self {
            cfg,
            start: 0,
            end: None,
            released: false,
            rt: Runtime::None,
        }
    }
}

fn check_generator(c: &Config, _: &Session) -> Result<(), String> {
    kind_of(c, &OSC_DESC).map(|_| ())
}

fn pattern(c: &Config) -> Result<Arc<Pattern>, String> {
    let text = c
        .text("pattern")
        .ok_or("needs pattern = \"...\" (e.g. \"x...x...\" or \"c2 . eb2 .\")")?;
    Pattern::parse(text)
        .map(Arc::new)
        .map_err(|e| format!("pattern: {e}"))
}

/// The generator a config selects (its selector option names the variant).
fn kind_of(c: &Config, fallback: &'static NodeDesc) -> Result<Kind, String> {
    let seed = c.num("seed") as u64;
    if let Some(w) = c.text("osc") {
        let wf =
            Waveform::from_name(w).ok_or_else(|| format!("osc = \"{w}\" is not a waveform"))?;
        return Ok(Kind::Osc(wf));
    }
    if let Some(n) = c.text("noise") {
        return Ok(if n == "pink" {
            Kind::Pink(seed)
        } else {
            Kind::White(seed)
        });
    }
    if let Some(d) = c.text("drum") {
        let k = DrumKind::from_name(d).ok_or_else(|| format!("drum = \"{d}\" is not a drum"))?;
        return Ok(Kind::Drum(k, seed, pattern(c)?));
    }
    if let Some(p) = c.text("synth") {
        let k =
            SynthPreset::from_name(p).ok_or_else(|| format!("synth = \"{p}\" is not a preset"))?;
        return Ok(Kind::Synth(k, pattern(c)?));
    }
    Err(format!(
        "{} needs its {} option",
        fallback.kind, fallback.kind
    ))
}

fn build(c: &Config, desc: &'static NodeDesc) -> Result<Box<dyn Node>, String> {
    let cfg = GenConfig {
        kind: kind_of(c, desc)?,
        tempo_bpm: c.num("tempo_bpm"),
        steps_per_beat: c.num("steps_per_beat").max(1.0) as u32,
        swing: c.num("swing"),
        start_s: c.num("start_s"),
        length_s: c.opt_num("length_s"),
        desc,
    };
    Ok(Box::new(Generator::from(cfg)))
}

impl Node for Generator {
    fn desc(&self) -> &'static NodeDesc {
        self.cfg.desc
    }

    fn output_channels(&self, _input_channels: &[usize]) -> usize {
        1
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        let sr = cfg.sample_rate;
        let c = &self.cfg;
        self.start = (c.start_s * sr).round() as u64;
        self.end = c
            .length_s
            .map(|l| self.start + (l * sr).round() as u64)
            .or(cfg.song_length_frames);
        self.rt = match &c.kind {
            Kind::Osc(w) => {
                let mut o = Oscillator::new(sr as f32);
                o.set_waveform(*w);
                Runtime::Osc(Box::new(o))
            }
            Kind::White(s) => Runtime::White(WhiteNoise::new(*s)),
            Kind::Pink(s) => Runtime::Pink(PinkNoise::new(*s)),
            Kind::Drum(k, seed, p) => {
                let mut sq = Sequencer::new((**p).clone(), c.tempo_bpm, sr as f32);
                sq.set_steps_per_beat(c.steps_per_beat);
                sq.set_swing(c.swing);
                Runtime::Seq(Box::new(Drum::new(*k, sr as f32, *seed)), Box::new(sq))
            }
            Kind::Synth(preset, p) => {
                let mut sq = Sequencer::new((**p).clone(), c.tempo_bpm, sr as f32);
                sq.set_steps_per_beat(c.steps_per_beat);
                sq.set_swing(c.swing);
                Runtime::Seq(Box::new(Synth::new(*preset, sr as f32)), Box::new(sq))
            }
        };
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let frames = cx.frames;
        let pos = cx.transport.position;
        let out = &mut *cx.outputs[0];
        out.fill(0.0);
        if !cx.transport.playing {
            return ProcessStatus::Silent;
        }
        // The active part of this block: [a, b) in block frames.
        let a = self.start.saturating_sub(pos).min(frames as u64) as usize;
        let b = self
            .end
            .map_or(frames, |e| {
                e.saturating_sub(pos).min(frames as u64) as usize
            })
            .max(a);
        let level_idx = self.cfg.desc.params.len() - 1;
        let status = match &mut self.rt {
            Runtime::None => ProcessStatus::Silent,
            Runtime::Osc(o) => {
                if a < b {
                    match cx.params[0] {
                        ParamValue::Const(hz) => o.process(hz, &mut out[a..b]),
                        ParamValue::Varying(hz) => o.process(&hz[a..b], &mut out[a..b]),
                    }
                }
                if a < b {
                    ProcessStatus::Continue
                } else {
                    ProcessStatus::Silent
                }
            }
            Runtime::White(n) => {
                n.process(&mut out[a..b]);
                if a < b {
                    ProcessStatus::Continue
                } else {
                    ProcessStatus::Silent
                }
            }
            Runtime::Pink(n) => {
                n.process(&mut out[a..b]);
                if a < b {
                    ProcessStatus::Continue
                } else {
                    ProcessStatus::Silent
                }
            }
            Runtime::Seq(inst, sq) => {
                if pos + (frames as u64) <= self.start {
                    ProcessStatus::Silent
                } else {
                    // Events only inside the active range; voices render through the whole block.
                    let rel = (pos + a as u64) - self.start;
                    if a > 0 {
                        inst.render(&mut out[..a]);
                    }
                    if b > a {
                        inst.play(sq, rel, &mut out[a..b]);
                    }
                    let ended = self.end.is_some_and(|e| pos + frames as u64 >= e);
                    if ended && !self.released {
                        // The pattern stops: release every held note so the tails ring out.
                        for note in 0..128u8 {
                            inst.handle_event(Event::NoteOff { note });
                        }
                        self.released = true;
                    } else if !ended {
                        self.released = false;
                    }
                    if b < frames {
                        inst.render(&mut out[b..]);
                    }
                    // Silent only once the block itself is silence (voices that went idle
                    // inside it still sounded at its start).
                    if b == a && inst.is_silent() && out.iter().all(|x| *x == 0.0) {
                        ProcessStatus::Silent
                    } else {
                        ProcessStatus::Continue
                    }
                }
            }
        };
        match cx.params[level_idx] {
            ParamValue::Const(db) => {
                let g = db_to_gain(db);
                if g != 1.0 {
                    for x in out.iter_mut() {
                        *x *= g;
                    }
                }
            }
            ParamValue::Varying(dbs) => {
                for (x, db) in out.iter_mut().zip(dbs) {
                    *x *= db_to_gain(*db);
                }
            }
        }
        status
    }

    fn length_frames(&self) -> Option<u64> {
        self.end
    }
}
