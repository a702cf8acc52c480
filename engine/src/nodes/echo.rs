//! `delay` (the effect): a musical echo — time in ms or note values, feedback, ping-pong,
//! filtered feedback (high-/low-pass), wet/dry. The time glides when automated (interpolated
//! reads), so sweeping it does not click. For a plain delay that may close a feedback loop in
//! the routing, see `delay_line` (`nodes::delay`).

use super::control::{exact_silence, sub_in, sub_out, ControlParams};
use crate::dsp::echo::{Echo as Dsp, EchoParams};
use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::{ParamDesc, Unit};
use crate::registry::{
    all_params, no_check, Alias, Conversion, NodeKind, OptDefault, OptionDesc, Role,
};

/// Default wet level of an echo inserted on a track (the dry signal stays at 1).
pub const TRACK_WET: f32 = 0.35;

/// Longest delay time.
pub const MAX_TIME_S: f64 = 10.0;

/// Parameters (automatable).
pub const PARAMS: &[ParamDesc] = &[
    ParamDesc::new("time_ms", Unit::Ms, 1.0, 10000.0, 250.0, "delay time in ms"),
    ParamDesc::new(
        "feedback",
        Unit::Linear,
        0.0,
        0.99,
        0.0,
        "share of the output fed back, 0..0.99",
    ),
    ParamDesc::new(
        "wet",
        Unit::Linear,
        0.0,
        1.0,
        1.0,
        "delayed level, linear 0..1",
    ),
    ParamDesc::new(
        "dry",
        Unit::Linear,
        0.0,
        1.0,
        0.0,
        "direct level, linear 0..1",
    ),
];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "delay",
    inputs: &[IN_FOLLOW],
    params: PARAMS,
};

/// Registry entry: `strip:delay { time_ms | time_s | note, feedback, ping_pong, ... }`.
pub static KIND: NodeKind = NodeKind {
    name: "delay",
    doc: "A musical echo: time in ms or note values (automatable, glides without clicks), feedback, ping-pong, filtered feedback, wet/dry. Fractional times (e.g. `1/8.` at 44.1 kHz) are read through a windowed-sinc interpolator, so every repeat keeps its level within 0.04 dB up to 16 kHz. On a bus it defaults to wet only (wet 1, dry 0); as a track insert to dry 1, wet 0.35.",
    role: Role::Insert,
    desc: &DESC,
    options: &[
        OptionDesc::bool("ping_pong", false, "alternate the repeats between left and right"),
        OptionDesc::num(
            "lowpass_hz",
            Unit::Hz,
            20.0,
            24000.0,
            OptDefault::None,
            "low-pass in the feedback path (darker repeats)",
        )
        .below_nyquist(0.99),
        OptionDesc::num(
            "highpass_hz",
            Unit::Hz,
            10.0,
            24000.0,
            OptDefault::None,
            "high-pass in the feedback path (thinner repeats)",
        )
        .below_nyquist(0.99),
        super::PLACEMENT,
    ],
    aliases: &[
        Alias {
            key: "time_s",
            target: "time_ms",
            conversion: Conversion::Scale(1000.0),
            doc: "delay time in seconds",
        },
        Alias {
            key: "note",
            target: "time_ms",
            conversion: Conversion::NoteSeconds(1000.0),
            doc: "delay time as a note value at the session tempo: \"1/8\", \"1/8.\", \"1/8t\"",
        },
    ],
    check: no_check,
    has_param: all_params,
    initial_params: |c| super::placement_defaults(c, 2, 3, TRACK_WET),
    build: |c| {
        Ok(Box::new(Echo::new(
            c.flag("ping_pong"),
            c.opt_num("lowpass_hz"),
            c.opt_num("highpass_hz"),
        )))
    },
};

/// The echo node.
#[derive(Clone, Debug)]
pub struct Echo {
    ping_pong: bool,
    lowpass_hz: Option<f64>,
    highpass_hz: Option<f64>,
    dsp: Option<Box<Dsp>>,
    ctl: ControlParams<4>,
}

impl Echo {
    /// An echo with fixed feedback filtering and ping-pong choice.
    pub fn new(ping_pong: bool, lowpass_hz: Option<f64>, highpass_hz: Option<f64>) -> Self {
        Self {
            ping_pong,
            lowpass_hz,
            highpass_hz,
            dsp: None,
            ctl: ControlParams::default(),
        }
    }

    fn params(&self, v: [f32; 4]) -> EchoParams {
        EchoParams {
            time_s: v[0] as f64 / 1000.0,
            feedback: v[1] as f64,
            ping_pong: self.ping_pong,
            lowpass_hz: self.lowpass_hz,
            highpass_hz: self.highpass_hz,
            wet: v[2] as f64,
            dry: v[3] as f64,
        }
    }
}

impl Node for Echo {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn output_channels(&self, input_channels: &[usize]) -> usize {
        let c = input_channels.first().copied().unwrap_or(1).max(1);
        if self.ping_pong {
            2
        } else {
            c.min(2)
        }
    }

    fn state_bytes(&self, cfg: &ProcessConfig) -> usize {
        // Two channels of the longest delay, plus filters and blocks.
        let frames = (MAX_TIME_S * cfg.sample_rate) as usize + cfg.max_block;
        2 * frames.next_power_of_two() * std::mem::size_of::<f32>() + 64 * cfg.max_block
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        let v: [f32; 4] = std::array::from_fn(|i| PARAMS[i].default);
        self.dsp = Dsp::new(cfg.sample_rate, MAX_TIME_S, self.params(v))
            .ok()
            .map(Box::new);
        // The script's values are applied at the first frame, at once (no glide from these
        // defaults): see `process`.
        self.ctl.clear();
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(d) = &mut self.dsp {
            d.reset();
        }
        self.ctl.clear();
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let fixed = self.params([0.0; 4]);
        let Some(dsp) = &mut self.dsp else {
            return ProcessStatus::Silent;
        };
        let mut at = 0;
        while let Some(p) = self.ctl.next(cx, &mut at) {
            if let Some(v) = p.change {
                let _ = dsp.set_params(EchoParams {
                    time_s: v[0] as f64 / 1000.0,
                    feedback: v[1] as f64,
                    wet: v[2] as f64,
                    dry: v[3] as f64,
                    ..fixed
                });
                if p.first {
                    // Start at the script's settings: no glide of the time, no gain ramps.
                    dsp.reset();
                }
            }
            let (x, n) = sub_in(cx.input(0), p.frames.clone());
            let (mut o, m) = sub_out(cx.outputs, p.frames);
            dsp.process(&x[..n], &mut o[..m]);
            if p.flush {
                dsp.flush();
            }
        }
        let ctl = &self.ctl;
        exact_silence(cx, || dsp.is_at_rest() && ctl.settled(cx))
    }
}
