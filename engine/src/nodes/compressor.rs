//! `comp`: feed-forward compressor — threshold, ratio, soft knee (Giannoulis–Massberg–Reiss),
//! attack/release as one-pole time constants (63 % at the stated time), peak or RMS detection,
//! stereo link, manual or automatic makeup, an external `sidechain` input with its own
//! high-pass, and optional lookahead (reported as latency, so parallel paths are compensated).
//! The settings are control-rate parameters ([`super::control`]).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::control::{exact_silence, sub_in, sub_out, ControlParams, QuietRun};
use crate::buffer::MAX_CHANNELS;
use crate::dsp::delay_line::DelayLine;
use crate::dsp::dynamics::{Compressor as Dsp, CompressorParams, Detection, Link};
use crate::node::{
    Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW, SIDECHAIN_FOLLOW,
};
use crate::param::{ParamDesc, Unit};
use crate::registry::{
    all_params, no_check, no_initial, Config, NodeKind, OptDefault, OptionDesc, Role,
};

/// Parameters (automatable).
pub const PARAMS: &[ParamDesc] = &[
    ParamDesc::new(
        "threshold_db",
        Unit::Db,
        -80.0,
        0.0,
        -18.0,
        "threshold in dBFS",
    ),
    ParamDesc::new(
        "ratio",
        Unit::Ratio,
        1.0,
        100.0,
        4.0,
        "compression ratio n:1",
    ),
    ParamDesc::new(
        "knee_db",
        Unit::Db,
        0.0,
        48.0,
        0.0,
        "soft-knee width in dB (0 = hard)",
    ),
    ParamDesc::new(
        "attack_ms",
        Unit::Ms,
        0.0,
        2000.0,
        10.0,
        "attack time constant in ms",
    ),
    ParamDesc::new(
        "release_ms",
        Unit::Ms,
        0.0,
        10000.0,
        100.0,
        "release time constant in ms",
    ),
    ParamDesc::new("makeup_db", Unit::Db, -24.0, 48.0, 0.0, "makeup gain in dB"),
];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "comp",
    inputs: &[IN_FOLLOW, SIDECHAIN_FOLLOW],
    params: PARAMS,
};

/// Registry entry: `strip:comp { threshold_db, ratio, ..., sidechain = strip }`.
pub static KIND: NodeKind = NodeKind {
    name: "comp",
    doc: "Feed-forward compressor: soft knee (Giannoulis–Massberg–Reiss), one-pole attack/release (63 % at the stated time), peak or RMS detection, stereo link, makeup, sidechain input with its own high-pass, optional lookahead (compensated).",
    role: Role::Insert,
    desc: &DESC,
    options: &[
        OptionDesc::choice(
            "detection",
            &["peak", "rms"],
            OptDefault::Text("peak"),
            "level detector",
        ),
        OptionDesc::num(
            "rms_ms",
            Unit::Ms,
            0.1,
            500.0,
            OptDefault::Num(10.0),
            "RMS window (detection = \"rms\")",
        ),
        OptionDesc::choice(
            "link",
            &["max", "average", "off"],
            OptDefault::Text("max"),
            "stereo link: the loudest channel, the average, or each channel on its own",
        ),
        OptionDesc::num(
            "sidechain_hpf_hz",
            Unit::Hz,
            10.0,
            24000.0,
            OptDefault::None,
            "high-pass on the detector path",
        )
        .below_nyquist(0.99),
        OptionDesc::bool("auto_makeup", false, "add the makeup that restores the level at the threshold"),
        OptionDesc::num(
            "lookahead_ms",
            Unit::Ms,
            0.0,
            100.0,
            OptDefault::Num(0.0),
            "lookahead (reported as latency and compensated)",
        ),
    ],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| Ok(Box::new(Comp::new(CompOptions::from_config(c)))),
};

/// Construction options (not automatable).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompOptions {
    /// Peak or RMS detection.
    pub detection: Detection,
    /// RMS window in ms.
    pub rms_ms: f64,
    /// Channel linking.
    pub link: Link,
    /// High-pass on the detector path, Hz.
    pub sidechain_hpf_hz: Option<f64>,
    /// Add automatic makeup (see `CompressorParams::auto_makeup_db`).
    pub auto_makeup: bool,
    /// Lookahead in ms (adds that much latency).
    pub lookahead_ms: f64,
}

impl CompOptions {
    /// From a normalised config.
    pub fn from_config(c: &Config) -> Self {
        Self {
            detection: if c.text("detection") == Some("rms") {
                Detection::Rms
            } else {
                Detection::Peak
            },
            rms_ms: c.num("rms_ms"),
            link: match c.text("link") {
                Some("average") => Link::Average,
                Some("off") => Link::PerChannel,
                _ => Link::Max,
            },
            sidechain_hpf_hz: c.opt_num("sidechain_hpf_hz"),
            auto_makeup: c.flag("auto_makeup"),
            lookahead_ms: c.num("lookahead_ms"),
        }
    }
}

impl Default for CompOptions {
    fn default() -> Self {
        Self {
            detection: Detection::Peak,
            rms_ms: 10.0,
            link: Link::Max,
            sidechain_hpf_hz: None,
            auto_makeup: false,
            lookahead_ms: 0.0,
        }
    }
}

/// Gain reduction as seen by meters: the largest reduction (dB) since the last read.
#[derive(Debug, Default)]
pub struct GainReductionMeter(AtomicU32);

impl GainReductionMeter {
    /// Largest reduction in dB since the last call, and resets it.
    pub fn take_db(&self) -> f32 {
        f32::from_bits(self.0.swap(0, Ordering::Relaxed))
    }

    /// Records a reduction of `db` (audio thread; lock-free).
    pub fn publish_db(&self, db: f32) {
        self.0.fetch_max(db.max(0.0).to_bits(), Ordering::Relaxed);
    }
}

/// The compressor node.
#[derive(Clone, Debug)]
pub struct Comp {
    opts: CompOptions,
    dsp: Option<Dsp>,
    lookahead: Vec<DelayLine>,
    delayed: Vec<Vec<f32>>,
    ctl: ControlParams<6>,
    quiet: QuietRun,
    latency: u32,
    meter: Arc<GainReductionMeter>,
}

impl Comp {
    /// A compressor with `opts`.
    pub fn new(opts: CompOptions) -> Self {
        Self {
            opts,
            dsp: None,
            lookahead: Vec::new(),
            delayed: Vec::new(),
            ctl: ControlParams::default(),
            quiet: QuietRun::default(),
            latency: 0,
            meter: Arc::new(GainReductionMeter::default()),
        }
    }

    /// The gain-reduction meter (shared with the running instance).
    pub fn meter(&self) -> Arc<GainReductionMeter> {
        self.meter.clone()
    }
}

/// The DSP settings for parameter values `v` (in [`PARAMS`] order) and options `o`.
fn params(o: &CompOptions, v: [f32; 6]) -> CompressorParams {
    CompressorParams {
        threshold_db: v[0] as f64,
        ratio: v[1] as f64,
        knee_db: v[2] as f64,
        attack_ms: v[3] as f64,
        release_ms: v[4] as f64,
        makeup_db: v[5] as f64,
        auto_makeup: o.auto_makeup,
        detection: o.detection,
        rms_window_ms: o.rms_ms,
        link: o.link,
        sidechain_hpf_hz: o.sidechain_hpf_hz,
    }
}

impl Node for Comp {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        let ch = cfg.output_channels;
        let p = params(&self.opts, [-18.0, 4.0, 0.0, 10.0, 100.0, 0.0]);
        self.dsp = Some(Dsp::new(ch, cfg.sample_rate, p).map_err(|e| e.to_string())?);
        let la = (self.opts.lookahead_ms * 1e-3 * cfg.sample_rate).round() as usize;
        self.latency = la as u32;
        self.lookahead = (0..ch).map(|_| DelayLine::new(la)).collect();
        self.delayed = vec![vec![0.0; cfg.max_block]; if la > 0 { ch } else { 0 }];
        self.ctl.clear();
        self.quiet.clear();
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(d) = &mut self.dsp {
            d.reset();
        }
        for l in &mut self.lookahead {
            l.reset();
        }
        self.ctl.clear();
        self.quiet.clear();
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let Some(dsp) = &mut self.dsp else {
            return ProcessStatus::Silent;
        };
        let input = cx.input(0);
        let sc = cx.input(1);
        let frames = cx.frames;
        // With lookahead the detector sees the signal `latency` frames before it is gained.
        let mut views: [&[f32]; MAX_CHANNELS] = [&[]; MAX_CHANNELS];
        let main = if self.latency > 0 {
            for ((line, buf), x) in self
                .lookahead
                .iter_mut()
                .zip(self.delayed.iter_mut())
                .zip(input)
            {
                line.process(x, &mut buf[..frames]);
            }
            for (v, b) in views.iter_mut().zip(self.delayed.iter()) {
                *v = &b[..frames];
            }
            &views[..input.len()]
        } else {
            input
        };
        let detector = match (sc.is_empty(), self.latency > 0) {
            (false, _) => Some(sc),
            (true, true) => Some(input),
            (true, false) => None,
        };
        let mut gr = 0.0f32;
        let mut at = 0;
        while let Some(p) = self.ctl.next(cx, &mut at) {
            if let Some(v) = p.change {
                // Out-of-range values were rejected when the script set them.
                let _ = dsp.set_params(params(&self.opts, v));
            }
            let (x, n) = sub_in(main, p.frames.clone());
            let det = detector.map(|d| sub_in(d, p.frames.clone()));
            let (mut o, m) = sub_out(cx.outputs, p.frames);
            dsp.process(&x[..n], det.as_ref().map(|(d, k)| &d[..*k]), &mut o[..m]);
            gr = gr.max(dsp.gain_reduction_db());
            if p.flush {
                dsp.flush();
            }
        }
        self.meter.publish_db(gr);
        let quiet = self.quiet.update(cx);
        let (ctl, latency) = (&self.ctl, self.latency as u64);
        exact_silence(cx, || {
            dsp.is_at_rest() && quiet >= latency && ctl.settled(cx)
        })
    }

    fn latency_frames(&self) -> u32 {
        self.latency
    }
}
