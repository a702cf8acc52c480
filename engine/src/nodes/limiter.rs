//! `limit`: the mastering limiter. Lookahead, true-peak aware — 16× windowed-sinc detection (as
//! `mixdown measure` reads), also held against BS.1770 Annex 2's 4× filter — linked across
//! channels; its output's true peak stays at or below `ceiling_db`. Latency: the lookahead, plus
//! 280 samples in true-peak mode; reported, so the rest of the graph is compensated.
//! `ceiling_db` and `release_ms` are control-rate parameters ([`super::control`]).

use std::sync::Arc;

use super::compressor::GainReductionMeter;
use super::control::{exact_silence, sub_in, sub_out, ControlParams, QuietRun, WINDOW_FRAMES};
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
        OptionDesc::bool(
            "program_release",
            true,
            "program-dependent release: back within milliseconds after a transient, at release_ms after sustained reduction (false: always release_ms)",
        ),
    ],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| {
        Ok(Box::new(
            Limit::new(c.num("lookahead_ms"), c.flag("true_peak"))
                .with_program_release(c.flag("program_release")),
        ))
    },
};

/// The limiter node.
#[derive(Clone, Debug)]
pub struct Limit {
    lookahead_ms: f64,
    true_peak: bool,
    program_release: bool,
    dsp: Option<Dsp>,
    ctl: ControlParams<2>,
    meter: Arc<GainReductionMeter>,
    quiet: QuietRun,
    /// Largest gain reduction since the last [`WINDOW_FRAMES`] boundary of the song, and
    /// whether any frame was processed since.
    window_gr_db: f32,
    window_open: bool,
    /// Gain reduction statistics over the run, per [`WINDOW_FRAMES`] frames of the song (the
    /// same at every block size); the control side reads them after a render.
    gr_max_db: f32,
    gr_sum_db: f64,
    gr_windows: u64,
}

impl Limit {
    /// A limiter with `lookahead_ms` of lookahead, detecting true peaks when `true_peak`.
    pub fn new(lookahead_ms: f64, true_peak: bool) -> Self {
        Self {
            lookahead_ms,
            true_peak,
            program_release: false,
            dsp: None,
            ctl: ControlParams::default(),
            meter: Arc::new(GainReductionMeter::default()),
            quiet: QuietRun::default(),
            window_gr_db: 0.0,
            window_open: false,
            gr_max_db: 0.0,
            gr_sum_db: 0.0,
            gr_windows: 0,
        }
    }

    /// With the program-dependent release (see [`crate::dsp::limiter`], step 4) on or off.
    pub fn with_program_release(mut self, on: bool) -> Self {
        self.program_release = on;
        self
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

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        self.dsp = Dsp::new(
            cfg.output_channels,
            cfg.sample_rate,
            -1.0,
            self.lookahead_ms,
            100.0,
            self.true_peak,
        )
        .map(Some)
        .map_err(|e| e.to_string())?;
        if let Some(d) = &mut self.dsp {
            d.set_program_release(self.program_release);
        }
        self.ctl.clear();
        self.quiet.clear();
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(d) = &mut self.dsp {
            d.reset();
        }
        self.ctl.clear();
        self.quiet.clear();
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let Some(dsp) = &mut self.dsp else {
            return ProcessStatus::Silent;
        };
        let mut block_gr = 0.0f32;
        let mut at = 0;
        while let Some(p) = self.ctl.next_every(cx, &mut at, WINDOW_FRAMES) {
            if let Some([ceiling, release]) = p.change {
                let _ = dsp.set_ceiling_db(ceiling as f64);
                let _ = dsp.set_release_ms(release as f64);
            }
            let (x, n) = sub_in(cx.input(0), p.frames.clone());
            let (mut o, m) = sub_out(cx.outputs, p.frames);
            dsp.process(&x[..n], &mut o[..m]);
            let gr = dsp.gain_reduction_db();
            block_gr = block_gr.max(gr);
            self.window_gr_db = self.window_gr_db.max(gr);
            self.window_open = true;
            if p.flush {
                self.gr_max_db = self.gr_max_db.max(self.window_gr_db);
                self.gr_sum_db += self.window_gr_db as f64;
                self.gr_windows += 1;
                (self.window_gr_db, self.window_open) = (0.0, false);
            }
        }
        self.meter.publish_db(block_gr);
        // At rest once the lookahead (and the moving average behind it) holds only silence and
        // the release has ended: then more silence changes nothing.
        let quiet = self.quiet.update(cx);
        let settle = 2 * (dsp.latency_samples() as u64 + 1) + 16;
        let ctl = &self.ctl;
        exact_silence(cx, || {
            quiet >= settle && dsp.gain_reduction_db() == 0.0 && ctl.settled(cx)
        })
    }

    fn latency_frames(&self) -> u32 {
        self.dsp.as_ref().map_or(0, |d| d.latency_samples() as u32)
    }

    fn gain_reduction_stats(&self) -> Option<(f64, f64)> {
        // (the last, incomplete window counts as one)
        let open = self.window_open as u64;
        let windows = self.gr_windows + open;
        let sum = self.gr_sum_db + open as f64 * self.window_gr_db as f64;
        let max = self.gr_max_db.max(self.window_gr_db);
        (windows > 0).then(|| (max as f64, sum / windows as f64))
    }

    fn report(&self) -> Option<String> {
        self.gain_reduction_stats().map(|(max, avg)| {
            format!(
                "gain reduction max {max:.2} dB, average {avg:.2} dB (maxima per {WINDOW_FRAMES} frames)"
            )
        })
    }
}
