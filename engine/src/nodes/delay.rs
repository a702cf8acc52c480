//! `delay`: a plain delay by a whole number of frames (given in frames, seconds, or note values
//! converted by the caller). It is the one node allowed to close a feedback loop: inside a loop it
//! reads its output before its input is written, so the processor uses blocks no longer than the
//! delay (Web Audio's DelayNode rule).

use crate::graph::Session;
use crate::node::{
    FeedbackNode, Node, NodeDesc, ParamValue, ProcessConfig, ProcessContext, ProcessStatus,
    IN_FOLLOW,
};
use crate::param::{ParamDesc, Unit};
use crate::registry::{
    all_params, no_initial, Alias, Config, Conversion, NodeKind, OptDefault, OptionDesc, Role,
};
use crate::units::db_to_gain;

/// Parameters of [`Delay`].
pub const PARAMS: &[ParamDesc] = &[ParamDesc::new(
    "gain_db",
    Unit::Db,
    -120.0,
    24.0,
    0.0,
    "gain of the delayed signal in dB",
)];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "delay_line",
    inputs: &[IN_FOLLOW],
    params: PARAMS,
};

/// Longest delay of a `delay_line`, seconds.
pub const MAX_TIME_S: f64 = 10.0;

/// Registry entry: `strip:delay_line { time_ms | time_s | frames | note }`.
pub static KIND: NodeKind = NodeKind {
    name: "delay_line",
    doc: "A plain delay by a whole number of frames (`gain_db` automatable); the one node that may close a feedback loop in the routing.",
    role: Role::Insert,
    desc: &DESC,
    options: &[
        OptionDesc::num(
            "time_s",
            Unit::Seconds,
            0.0,
            MAX_TIME_S,
            OptDefault::Num(0.25),
            "delay in seconds (rounded to the nearest frame)",
        ),
        OptionDesc::num(
            "frames",
            Unit::Count,
            0.0,
            MAX_TIME_S * 768_000.0,
            OptDefault::None,
            "delay in frames (overrides the time); at most 10 s",
        )
        .integer(),
    ],
    aliases: &[
        Alias {
            key: "time_ms",
            target: "time_s",
            conversion: Conversion::Scale(0.001),
            doc: "delay in milliseconds",
        },
        Alias {
            key: "note",
            target: "time_s",
            conversion: Conversion::NoteSeconds(1.0),
            doc: "delay as a note value at the session tempo: \"1/8\", \"1/8.\" (dotted), \"1/8t\" (triplet)",
        },
    ],
    check: check_frames,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| Ok(Box::new(Delay::new(time_of(c)))),
};

fn time_of(c: &Config) -> DelayTime {
    match c.opt_num("frames") {
        Some(f) => DelayTime::Frames(f as u64),
        None => DelayTime::Seconds(c.num("time_s")),
    }
}

fn check_frames(c: &Config, s: &Session) -> Result<(), String> {
    match c.opt_num("frames") {
        Some(f) if f > MAX_TIME_S * s.sample_rate => Err(format!(
            "frames = {f} is out of range; allowed 0 to {} (10 s at {} Hz)",
            MAX_TIME_S * s.sample_rate,
            s.sample_rate
        )),
        _ => Ok(()),
    }
}

/// How long the delay is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DelayTime {
    /// Frames.
    Frames(u64),
    /// Seconds (rounded to the nearest frame).
    Seconds(f64),
}

/// The delay node.
#[derive(Clone, Debug)]
pub struct Delay {
    time: DelayTime,
    frames: usize,
    channels: usize,
    ring: Vec<Vec<f32>>,
    write: usize,
    quiet_frames: usize,
}

impl Delay {
    /// A delay of `time`.
    pub fn new(time: DelayTime) -> Self {
        Self {
            time,
            frames: 0,
            channels: 1,
            ring: Vec::new(),
            write: 0,
            quiet_frames: 0,
        }
    }

    /// The delay in frames (after prepare).
    pub fn delay_frames(&self) -> usize {
        self.frames
    }
}

fn gain(p: &[ParamValue<'_>], i: usize) -> f32 {
    db_to_gain(p.first().map_or(0.0, |v| v.at(i)))
}

impl Node for Delay {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn state_bytes(&self, cfg: &ProcessConfig) -> usize {
        let frames = match self.time {
            DelayTime::Frames(f) => f as usize,
            DelayTime::Seconds(s) => (s * cfg.sample_rate).round().max(0.0) as usize,
        };
        (frames.min(1 << 30) + cfg.max_block).next_power_of_two()
            * cfg.output_channels.max(1)
            * std::mem::size_of::<f32>()
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        self.frames = match self.time {
            DelayTime::Frames(f) => f as usize,
            DelayTime::Seconds(s) => (s * cfg.sample_rate).round().max(0.0) as usize,
        };
        self.channels = cfg.output_channels;
        let len = (self.frames + cfg.max_block).next_power_of_two();
        self.ring = vec![vec![0.0; len]; self.channels];
        self.write = 0;
        Ok(())
    }

    fn reset(&mut self) {
        for r in &mut self.ring {
            r.fill(0.0);
        }
        self.write = 0;
        self.quiet_frames = 0;
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let frames = cx.frames;
        let mask = self.ring.first().map_or(0, |r| r.len() - 1);
        let inp = cx.input(0);
        for (c, ring) in self.ring.iter_mut().enumerate() {
            let x = inp.get(c).copied().unwrap_or(&[]);
            let out = &mut cx.outputs[c];
            for i in 0..frames {
                let w = (self.write + i) & mask;
                ring[w] = x.get(i).copied().unwrap_or(0.0);
                out[i] = ring[(w.wrapping_sub(self.frames)) & mask] * gain(cx.params, i);
            }
        }
        self.write = (self.write + frames) & mask;
        if cx.input_silent {
            // This block played the input of `frames` frames ago: it is silence only once the
            // quiet stretch covers the whole block plus the delay.
            self.quiet_frames = self.quiet_frames.saturating_add(frames);
            if self.quiet_frames >= self.frames + frames {
                return ProcessStatus::Silent;
            }
            return ProcessStatus::Tail((self.frames + frames - self.quiet_frames) as u32);
        }
        self.quiet_frames = 0;
        ProcessStatus::Continue
    }

    fn latency_frames(&self) -> u32 {
        // A musical delay is an effect, not latency: it is not compensated.
        0
    }

    fn as_feedback(&mut self) -> Option<&mut dyn FeedbackNode> {
        Some(self)
    }

    fn supports_feedback(&self) -> bool {
        true
    }
}

impl FeedbackNode for Delay {
    fn read(&mut self, outputs: &mut [&mut [f32]], params: &[ParamValue<'_>]) {
        let mask = self.ring.first().map_or(0, |r| r.len() - 1);
        for (c, out) in outputs.iter_mut().enumerate() {
            let Some(ring) = self.ring.get(c) else {
                out.fill(0.0);
                continue;
            };
            // Inside a loop the delay is at least one frame (the output is read before the
            // input is written), as `min_delay_frames` tells the processor.
            let d = self.frames.max(1);
            for (i, o) in out.iter_mut().enumerate() {
                let w = (self.write + i) & mask;
                *o = ring[w.wrapping_sub(d) & mask] * gain(params, i);
            }
        }
    }

    fn write(&mut self, inputs: &[&[f32]], _params: &[ParamValue<'_>]) {
        let mask = self.ring.first().map_or(0, |r| r.len() - 1);
        let frames = inputs.first().map_or(0, |x| x.len());
        for (c, ring) in self.ring.iter_mut().enumerate() {
            let x = inputs.get(c).copied().unwrap_or(&[]);
            for i in 0..frames {
                ring[(self.write + i) & mask] = x.get(i).copied().unwrap_or(0.0);
            }
        }
        self.write = (self.write + frames) & mask;
    }

    fn min_delay_frames(&self) -> usize {
        self.frames.max(1)
    }
}
