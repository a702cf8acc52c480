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
use crate::script::Opts;
use crate::units::db_to_gain;

pub use crate::script::inserts_built::Built;

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

/// Builds a generator source from a track's option table; `length_s` of the session is the
/// default length of sequenced and continuous sources.
pub fn from_options(o: &mut Opts, session: Session) -> Result<Built, String> {
    let tempo = session.tempo;
    let start_s = match (
        o.num_in("start_s", 0.0, 1e6, " s"),
        o.num_in("start_bar", 1.0, 1e5, ""),
    ) {
        (Some(s), _) => s,
        (None, Some(b)) => tempo.bar_s(b),
        (None, None) => 0.0,
    };
    let length_s = match (
        o.num_in("length_s", 0.0, 1e6, " s"),
        o.num_in("bars", 0.0, 1e5, ""),
    ) {
        (Some(l), _) => Some(l),
        (None, Some(b)) => Some(b * tempo.beats_per_bar as f64 * tempo.beat_s()),
        (None, None) => None,
    };
    let seed = o.num_in("seed", 0.0, 1e15, "").unwrap_or(1.0) as u64;
    let steps_per_beat = o.num_in("steps_per_beat", 1.0, 64.0, "").unwrap_or(4.0) as u32;
    let swing = o.num_in("swing", 0.0, 0.75, "").unwrap_or(0.0);
    let pattern = |o: &mut Opts| -> Result<Arc<Pattern>, String> {
        let text = o
            .str("pattern")
            .ok_or("needs pattern = \"...\" (e.g. \"x...x...\" or \"c2 . eb2 .\")")?;
        Pattern::parse(&text)
            .map(Arc::new)
            .map_err(|e| format!("pattern: {e}"))
    };
    let (kind, desc) = if let Some(w) = o.str("osc") {
        let wf = Waveform::from_name(&w).ok_or_else(|| {
            format!("osc = \"{w}\" is not a waveform; use sine, saw, square or triangle")
        })?;
        (Kind::Osc(wf), &OSC_DESC)
    } else if let Some(n) = o.str("noise") {
        match n.as_str() {
            "white" => (Kind::White(seed), &NOISE_DESC),
            "pink" => (Kind::Pink(seed), &NOISE_DESC),
            other => return Err(format!("noise = \"{other}\"; use \"white\" or \"pink\"")),
        }
    } else if let Some(d) = o.str("drum") {
        let k = DrumKind::from_name(&d).ok_or_else(|| {
            format!("drum = \"{d}\" is not a drum; use kick, snare, hat, open_hat or clap")
        })?;
        (Kind::Drum(k, seed, pattern(o)?), &DRUM_DESC)
    } else if let Some(s) = o.str("synth") {
        let p = SynthPreset::from_name(&s).ok_or_else(|| {
            format!("synth = \"{s}\" is not a preset; use bass, pad, lead or pluck")
        })?;
        (Kind::Synth(p, pattern(o)?), &SYNTH_DESC)
    } else {
        return Err("no generator given".into());
    };
    let cfg = GenConfig {
        kind,
        tempo_bpm: tempo.bpm,
        steps_per_beat,
        swing,
        start_s,
        length_s,
        desc,
    };
    let config = format!("{cfg:?}");
    let initial: Vec<(usize, f32)> = o.params(desc);
    Ok(Built {
        desc,
        factory: Arc::new(move || Box::new(Generator::from(cfg.clone()))),
        config,
        sidechain: None,
        initial,
    })
}

impl Node for Generator {
    fn desc(&self) -> &'static NodeDesc {
        self.cfg.desc
    }

    fn output_channels(&self, _input_channels: &[usize]) -> usize {
        1
    }

    fn prepare(&mut self, cfg: &ProcessConfig) {
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
                    if b == a && inst.is_silent() {
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
