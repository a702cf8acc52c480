//! `width`: stereo width by mid/side (0 = mono, 1 = unchanged, 2 = twice the side), with an
//! optional `mono_below_hz` that folds the low end to mono through a Linkwitz–Riley 8th-order
//! split (a side signal at half that frequency is cancelled by about 60 dB).

use super::control::{exact_silence, sub_in, sub_out, ControlParams};
use crate::dsp::crossover::Slope;
use crate::dsp::stereo::{MonoBelow, Width as Dsp};
use crate::node::{
    Channels, Node, NodeDesc, PortDesc, ProcessConfig, ProcessContext, ProcessStatus,
};
use crate::param::{ParamDesc, Unit};
use crate::registry::{all_params, no_check, no_initial, NodeKind, OptDefault, OptionDesc, Role};

/// Parameters (automatable).
pub const PARAMS: &[ParamDesc] = &[ParamDesc::new(
    "width",
    Unit::Linear,
    0.0,
    2.0,
    1.0,
    "stereo width: 0 mono, 1 unchanged, 2 double side",
)];

/// Kind description (stereo in, stereo out).
pub static DESC: NodeDesc = NodeDesc {
    kind: "width",
    inputs: &[PortDesc {
        name: "in",
        channels: Channels::Fixed(2),
    }],
    params: PARAMS,
};

/// Registry entry: `strip:width { width, mono_below_hz }`.
pub static KIND: NodeKind = NodeKind {
    name: "width",
    doc: "Stereo width by mid/side (0 mono, 1 unchanged, 2 twice the side), optionally folding the low end to mono.",
    role: Role::Insert,
    desc: &DESC,
    options: &[OptionDesc::num(
        "mono_below_hz",
        Unit::Hz,
        20.0,
        1000.0,
        OptDefault::None,
        "fold everything below this to mono (Linkwitz–Riley 8th order)",
    )],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| Ok(Box::new(Width::new(c.opt_num("mono_below_hz")))),
};

/// The width node.
#[derive(Clone, Debug)]
pub struct Width {
    mono_below_hz: Option<f64>,
    dsp: Option<Dsp>,
    mono: Option<MonoBelow>,
    scratch: [Vec<f32>; 2],
    ctl: ControlParams<1>,
}

impl Width {
    /// A width stage, folding below `mono_below_hz` to mono when given.
    pub fn new(mono_below_hz: Option<f64>) -> Self {
        Self {
            mono_below_hz,
            dsp: None,
            mono: None,
            scratch: [Vec::new(), Vec::new()],
            ctl: ControlParams::default(),
        }
    }
}

impl Node for Width {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn output_channels(&self, _input_channels: &[usize]) -> usize {
        2
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        self.dsp = Some(Dsp::new(cfg.sample_rate, 1.0).map_err(|e| e.to_string())?);
        self.mono = match self.mono_below_hz {
            Some(hz) => {
                Some(MonoBelow::new(cfg.sample_rate, hz, Slope::Lr8).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        self.scratch = [vec![0.0; cfg.max_block], vec![0.0; cfg.max_block]];
        self.ctl.clear();
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(d) = &mut self.dsp {
            d.reset();
        }
        if let Some(m) = &mut self.mono {
            m.reset();
        }
        self.ctl.clear();
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let Some(dsp) = &mut self.dsp else {
            return ProcessStatus::Silent;
        };
        let mut at = 0;
        while let Some(p) = self.ctl.next(cx, &mut at) {
            if let Some([w]) = p.change {
                let _ = dsp.set_width(w as f64);
                if p.first {
                    // Start at the script's width, not ramping from 1.
                    dsp.reset();
                }
            }
            let r = p.frames.clone();
            let (x, n) = sub_in(cx.input(0), r.clone());
            let (mut o, m) = sub_out(cx.outputs, r.clone());
            match &mut self.mono {
                None => dsp.process(&x[..n], &mut o[..m]),
                Some(mono) => {
                    let [a, b] = &mut self.scratch;
                    let (a, b) = (&mut a[r.clone()], &mut b[r]);
                    dsp.process(&x[..n], &mut [&mut *a, &mut *b]);
                    mono.process(&[&*a, &*b], &mut o[..m]);
                    if p.flush {
                        mono.flush();
                    }
                }
            }
        }
        let (ctl, mono) = (&self.ctl, &self.mono);
        exact_silence(cx, || {
            dsp.is_at_rest() && mono.as_ref().is_none_or(MonoBelow::is_at_rest) && ctl.settled(cx)
        })
    }

    fn latency_frames(&self) -> u32 {
        self.mono.as_ref().map_or(0, |m| m.latency_frames() as u32)
    }
}
