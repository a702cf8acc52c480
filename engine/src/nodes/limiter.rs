//! `limit`: the mastering limiter. Lookahead, true-peak aware — 16× windowed-sinc detection (as
//! `mixdown measure` reads), also held against BS.1770 Annex 2's 4× filter — linked across
//! channels; its output's true peak stays at or below `ceiling_db`. Latency: the lookahead, plus
//! 280 samples in true-peak mode; reported, so the rest of the graph is compensated.

use std::sync::Arc;

use super::compressor::GainReductionMeter;
use crate::dsp::limiter::Limiter as Dsp;
use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::{ParamDesc, Unit};
use crate::registry::{all_params, no_check, no_initial, NodeKind, OptDefault, OptionDesc, Role};

/// Parameters (automatable).
pub const PARAMS: &[ParamDesc] = &[
    ParamDesc::new(
        "ceiling_db",
        Unit::Db,
        -60.0,
        0.0,
        -1.0,
        "output ceiling in dBFS (dBTP when true_peak)",
    ),
    ParamDesc::new(
        "release_ms",
        Unit::Ms,
        1.0,
        10000.0,
        100.0,
        "release time constant in ms",
    ),
];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "limit",
    inputs: &[IN_FOLLOW],
    params: PARAMS,
};

/// Registry entry: `strip:limit { ceiling_db, release_ms, lookahead_ms, true_peak }`.
pub static KIND: NodeKind = NodeKind {
    name: "limit",
    doc: "Lookahead brick-wall limiter, true-peak aware: the output's true peak stays at or below `ceiling_db` as `mixdown measure` reads it (16 points per sample, 128-tap windowed sinc), and BS.1770's 4× filter reads no more. Latency: the lookahead plus 280 samples in true-peak mode (`lookahead_ms = 0` still holds the ceiling), compensated.",
    role: Role::Insert,
    desc: &DESC,
    options: &[
        OptionDesc::num(
            "lookahead_ms",
            Unit::Ms,
            0.0,
            100.0,
            OptDefault::Num(5.0),
            "lookahead (reported as latency and compensated)",
        ),
        OptionDesc::bool("true_peak", true, "hold the true (inter-sample) peak, not just the sample peak"),
    ],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| Ok(Box::new(Limit::new(c.num("lookahead_ms"), c.flag("true_peak")))),
};

/// The limiter node.
#[derive(Clone, Debug)]
pub struct Limit {
    lookahead_ms: f64,
    true_peak: bool,
    dsp: Option<Dsp>,
    current: [f32; 2],
    meter: Arc<GainReductionMeter>,
    quiet: usize,
    /// Gain reduction statistics over the run (control side reads them after a render).
    gr_max_db: f32,
    gr_sum_db: f64,
    gr_blocks: u64,
}

impl Limit {
    /// A limiter with `lookahead_ms` of lookahead, detecting true peaks when `true_peak`.
    pub fn new(lookahead_ms: f64, true_peak: bool) -> Self {
        Self {
            lookahead_ms,
            true_peak,
            dsp: None,
            current: [f32::NAN; 2],
            meter: Arc::new(GainReductionMeter::default()),
            quiet: 0,
            gr_max_db: 0.0,
            gr_sum_db: 0.0,
            gr_blocks: 0,
        }
    }

    /// The gain-reduction meter.
    pub fn meter(&self) -> Arc<GainReductionMeter> {
        self.meter.clone()
    }
}

impl Node for Limit {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, cfg: &ProcessConfig) {
        self.dsp = Dsp::new(
            cfg.output_channels,
            cfg.sample_rate,
            -1.0,
            self.lookahead_ms,
            100.0,
            self.true_peak,
        )
        .ok();
        self.current = [f32::NAN; 2];
    }

    fn reset(&mut self) {
        if let Some(d) = &mut self.dsp {
            d.reset();
        }
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let Some(dsp) = &mut self.dsp else {
            return ProcessStatus::Silent;
        };
        let v = [cx.param(0).last(), cx.param(1).last()];
        if v[0] != self.current[0] {
            let _ = dsp.set_ceiling_db(v[0] as f64);
        }
        if v[1] != self.current[1] {
            let _ = dsp.set_release_ms(v[1] as f64);
        }
        self.current = v;
        dsp.process(cx.input(0), cx.outputs);
        let gr = dsp.gain_reduction_db();
        self.meter.publish_db(gr);
        self.gr_max_db = self.gr_max_db.max(gr);
        self.gr_sum_db += gr as f64;
        self.gr_blocks += 1;
        if cx.input_silent {
            self.quiet += cx.frames;
            if self.quiet > dsp.latency_samples() + cx.frames {
                return ProcessStatus::Silent;
            }
        } else {
            self.quiet = 0;
        }
        ProcessStatus::Continue
    }

    fn latency_frames(&self) -> u32 {
        self.dsp.as_ref().map_or(0, |d| d.latency_samples() as u32)
    }

    fn gain_reduction_stats(&self) -> Option<(f64, f64)> {
        (self.gr_blocks > 0).then(|| {
            (
                self.gr_max_db as f64,
                self.gr_sum_db / self.gr_blocks as f64,
            )
        })
    }

    fn report(&self) -> Option<String> {
        (self.gr_blocks > 0).then(|| {
            format!(
                "gain reduction max {:.2} dB, average {:.2} dB (per-block maxima)",
                self.gr_max_db,
                self.gr_sum_db / self.gr_blocks as f64
            )
        })
    }
}
