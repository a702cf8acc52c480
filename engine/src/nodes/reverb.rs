//! `reverb`: algorithmic stereo reverb: input diffusion, then a 16-line feedback delay network
//! with modulated lines, Hadamard mixing and per-line damping (see `dsp::reverb`). All parameters are automatable; `size` and `predelay_ms`
//! changes take effect at once (they re-tune the network).

use super::control::{exact_silence, sub_in, sub_out, ControlParams};
use crate::dsp::reverb::{Reverb as Dsp, ReverbParams};
use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::{ParamDesc, Unit};
use crate::registry::{all_params, no_check, NodeKind, Role};

/// Default wet level of a reverb inserted on a track (the dry signal stays at 1).
pub const TRACK_WET: f32 = 0.25;

/// Longest predelay.
pub const MAX_PREDELAY_MS: f64 = 500.0;

/// Parameters (automatable).
pub const PARAMS: &[ParamDesc] = &[
    ParamDesc::new(
        "decay_s",
        Unit::Seconds,
        0.1,
        30.0,
        2.0,
        "RT60 decay time in seconds",
    ),
    ParamDesc::new(
        "predelay_ms",
        Unit::Ms,
        0.0,
        500.0,
        20.0,
        "delay before the reverb starts, ms",
    ),
    ParamDesc::new(
        "damping",
        Unit::Linear,
        0.0,
        1.0,
        0.5,
        "high-frequency damping 0..1 (1: highs decay 10x faster)",
    ),
    ParamDesc::new(
        "size",
        Unit::Linear,
        0.0,
        1.0,
        0.7,
        "room size 0..1 (scales the delay lines)",
    ),
    ParamDesc::new(
        "wet",
        Unit::Linear,
        0.0,
        1.0,
        1.0,
        "reverb level, linear 0..1",
    ),
    ParamDesc::new(
        "dry",
        Unit::Linear,
        0.0,
        1.0,
        0.0,
        "direct level, linear 0..1 (0 on a send bus)",
    ),
];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "reverb",
    inputs: &[IN_FOLLOW],
    params: PARAMS,
};

/// Registry entry: `strip:reverb { decay_s, predelay_ms, damping, size, wet, dry }`.
pub static KIND: NodeKind = NodeKind {
    name: "reverb",
    doc: "Algorithmic stereo reverb: input diffusion and a modulated 16-line feedback delay network that starts exactly at `predelay_ms` and is dense from the first millisecond; RT60 `decay_s` within 5 % per octave, high-frequency damping, size. On a bus it defaults to wet only (wet 1, dry 0, for sends); as a track insert to dry 1, wet 0.25.",
    role: Role::Insert,
    desc: &DESC,
    options: &[super::PLACEMENT],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: |c| super::placement_defaults(c, 4, 5, TRACK_WET),
    build: |_| Ok(Box::new(Reverb::default())),
};

/// The reverb node: stereo out.
#[derive(Clone, Debug, Default)]
pub struct Reverb {
    dsp: Option<Box<Dsp>>,
    ctl: ControlParams<6>,
}

fn params(v: [f32; 6]) -> ReverbParams {
    ReverbParams {
        decay_s: v[0] as f64,
        predelay_ms: v[1] as f64,
        damping: v[2] as f64,
        size: v[3] as f64,
        wet: v[4] as f64,
        dry: v[5] as f64,
    }
}

impl Node for Reverb {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn output_channels(&self, _input_channels: &[usize]) -> usize {
        2
    }

    fn state_bytes(&self, cfg: &ProcessConfig) -> usize {
        // 16 lines of up to about 0.3 s and a 0.5 s predelay per channel (a generous bound).
        let frames = (cfg.sample_rate * (16.0 * 0.3 + 2.0 * MAX_PREDELAY_MS / 1000.0)) as usize;
        2 * frames * std::mem::size_of::<f32>() + 64 * cfg.max_block
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        let v: [f32; 6] = std::array::from_fn(|i| PARAMS[i].default);
        self.dsp = Dsp::new(cfg.sample_rate, MAX_PREDELAY_MS, params(v))
            .ok()
            .map(Box::new);
        // The script's values are applied at the first frame, at once: see `process`.
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
        let Some(dsp) = &mut self.dsp else {
            return ProcessStatus::Silent;
        };
        let mut at = 0;
        while let Some(p) = self.ctl.next(cx, &mut at) {
            if let Some(v) = p.change {
                let _ = dsp.set_params(params(v));
                if p.first {
                    // Start at the script's wet/dry, not ramping from the defaults.
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
