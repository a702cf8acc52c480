//! `loudness`: brings a programme to `target_lufs` (integrated, BS.1770 gated) and holds its true
//! peak at or below `ceiling_db` with the true-peak limiter.
//!
//! Offline it measures the whole programme first (an analysis pass), applies one gain, and — as
//! the limiter takes a little loudness off the loudest parts — measures the result and corrects
//! the gain, up to four times, until the output is within 0.05 LU of the target. Each correction
//! is scaled by how much loudness the previous one bought (a secant step), so heavily limited
//! material converges too. If the ceiling keeps the target out of reach, the render summary says
//! by how much.
//!
//! The meter hears the programme as it is written: silence inside the programme counts (the
//! frames the processor skipped while the node was silent are metered as silence when sound
//! resumes), silence after its end does not (the render trims it). Live (where the future is
//! unknown) the gain follows the integrated loudness heard so far, gliding, within ±20 dB.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use crate::dsp::limiter::Limiter;
use crate::dsp::loudness::LoudnessMeter;
use crate::graph::Session;
use crate::node::{Mode, Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::Unit;
use crate::registry::{all_params, no_initial, Config, NodeKind, OptDefault, OptionDesc, Role};
use crate::units::db_to_gain;

/// Kind description (no automatable parameters: the gain is computed).
pub static DESC: NodeDesc = NodeDesc {
    kind: "loudness",
    inputs: &[IN_FOLLOW],
    params: &[],
};

/// Registry entry: `strip:loudness { target_lufs, ceiling_db }` or `{ gain_db, ceiling_db }`.
pub static KIND: NodeKind = NodeKind {
    name: "loudness",
    doc: "Brings the programme to `target_lufs` (integrated, BS.1770 gated) into a true-peak limiter at `ceiling_db`; offline it measures the whole programme first. `gain_db` applies a fixed gain instead.",
    role: Role::Insert,
    desc: &DESC,
    options: &[
        OptionDesc::num(
            "target_lufs",
            Unit::Lufs,
            -70.0,
            0.0,
            OptDefault::Num(-14.0),
            "integrated loudness to reach",
        ),
        OptionDesc::num(
            "ceiling_db",
            Unit::DbTp,
            -60.0,
            0.0,
            OptDefault::Num(-1.0),
            "true-peak ceiling of the limiter",
        ),
        OptionDesc::num(
            "gain_db",
            Unit::Db,
            -60.0,
            60.0,
            OptDefault::None,
            "a fixed gain instead of a target (album mastering)",
        ),
    ],
    aliases: &[],
    check: check_target,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| {
        let ceiling = c.num("ceiling_db");
        Ok(Box::new(match c.opt_num("gain_db") {
            Some(g) => Loudness::with_gain(g, ceiling),
            None => Loudness::new(c.num("target_lufs"), ceiling),
        }))
    },
};

fn check_target(c: &Config, _: &Session) -> Result<(), String> {
    let (target, ceiling) = (c.num("target_lufs"), c.num("ceiling_db"));
    if c.opt_num("gain_db").is_none() && target > ceiling {
        return Err(format!(
            "target_lufs = {target} LUFS is louder than ceiling_db = {ceiling} dBTP allows; \
             allowed -70 LUFS to {ceiling} LUFS with this ceiling (music that loud would be \
             limited flat) — lower the target or raise the ceiling"
        ));
    }
    Ok(())
}

/// Most analysis passes before giving up on the target: the input pass and up to five
/// output passes (a heavily limited master can need four corrections to land within 0.05 LU).
pub const MAX_PASSES: u32 = 6;

/// State shared by the instances of one render (each pass compiles fresh instances).
#[derive(Debug, Default)]
pub struct LoudnessCell {
    /// Gain to apply, dB (f64 bits).
    gain_db: AtomicU64,
    /// Passes completed.
    passes: AtomicU32,
    /// 0 = measure the input, 1 = apply and measure the output, 2 = final.
    state: AtomicU32,
    /// Last measured input loudness (f64 bits; NaN when unknown).
    input_lufs: AtomicU64,
    /// Last measured output loudness.
    output_lufs: AtomicU64,
    /// Gain of the previous output pass (f64 bits; NaN before the first).
    prev_gain_db: AtomicU64,
    /// Output loudness the previous output pass measured.
    prev_output_lufs: AtomicU64,
}

fn load(a: &AtomicU64) -> f64 {
    f64::from_bits(a.load(Ordering::Relaxed))
}

fn store(a: &AtomicU64, v: f64) {
    a.store(v.to_bits(), Ordering::Relaxed);
}

/// The loudness node.
#[derive(Clone, Debug)]
pub struct Loudness {
    target_lufs: f64,
    ceiling_db: f64,
    cell: Arc<LoudnessCell>,
    meter: Option<LoudnessMeter>,
    limiter: Option<Limiter>,
    mode: Mode,
    gain: f32,
    live_gain_db: f64,
    sample_rate: f64,
    /// Consecutive silent input frames (to report `Silent` once the limiter has flushed).
    quiet: usize,
    /// Transport position the next block should start at, to meter skipped silence (offline).
    next_pos: Option<u64>,
    /// A block of zeros for metering skipped silence.
    zeros: Vec<f32>,
}

impl Loudness {
    /// Aims at `target_lufs` with a true-peak ceiling of `ceiling_db`.
    pub fn new(target_lufs: f64, ceiling_db: f64) -> Self {
        let cell = Arc::new(LoudnessCell::default());
        store(&cell.input_lufs, f64::NAN);
        store(&cell.output_lufs, f64::NAN);
        store(&cell.prev_gain_db, f64::NAN);
        store(&cell.prev_output_lufs, f64::NAN);
        Self {
            target_lufs,
            ceiling_db,
            cell,
            meter: None,
            limiter: None,
            mode: Mode::Offline,
            gain: 1.0,
            live_gain_db: 0.0,
            sample_rate: 48000.0,
            quiet: 0,
            next_pos: None,
            zeros: Vec::new(),
        }
    }

    /// Applies a fixed `gain_db` (no analysis) into the true-peak limiter: album mastering uses
    /// it to give every song the same gain.
    pub fn with_gain(gain_db: f64, ceiling_db: f64) -> Self {
        let n = Self::new(f64::NAN, ceiling_db);
        store(&n.cell.gain_db, gain_db);
        n.cell.state.store(2, Ordering::Relaxed);
        n
    }

    fn state(&self) -> u32 {
        self.cell.state.load(Ordering::Relaxed)
    }
}

impl Node for Loudness {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn prepare(&mut self, cfg: &ProcessConfig) {
        let ch = cfg.output_channels;
        self.mode = cfg.mode;
        self.sample_rate = cfg.sample_rate;
        let meter = LoudnessMeter::for_channels(cfg.sample_rate, ch);
        // Live, the meter runs for as long as the music plays: no history that could grow.
        self.meter = Some(match cfg.mode {
            Mode::Realtime => meter.live(),
            Mode::Offline => meter,
        });
        self.limiter = Limiter::new(ch, cfg.sample_rate, self.ceiling_db, 5.0, 100.0, true).ok();
        self.gain = db_to_gain(load(&self.cell.gain_db) as f32);
        self.quiet = 0;
        self.next_pos = None;
        self.zeros = vec![0.0; cfg.max_block];
    }

    fn reset(&mut self) {
        if let Some(m) = &mut self.meter {
            m.reset();
        }
        if let Some(l) = &mut self.limiter {
            l.reset();
        }
        self.quiet = 0;
        self.next_pos = None;
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let input = cx.input(0);
        let (Some(meter), Some(limiter)) = (&mut self.meter, &mut self.limiter) else {
            return ProcessStatus::Silent;
        };
        let offline = self.mode == Mode::Offline;
        if offline {
            // Blocks the processor skipped while this node was silent were silence: meter them,
            // so a gap inside the programme counts as it will in the written file.
            let pos = cx.transport.position;
            let skipped = self.next_pos.map_or(0, |p| pos.saturating_sub(p));
            self.next_pos = Some(pos + cx.frames as u64);
            if skipped > 0 && !self.zeros.is_empty() {
                let ch = cx.outputs.len();
                let mut left = skipped;
                while left > 0 {
                    let n = left.min(self.zeros.len() as u64) as usize;
                    let z: [&[f32]; crate::buffer::MAX_CHANNELS] =
                        std::array::from_fn(|_| &self.zeros[..n]);
                    meter.process(&z[..ch]);
                    left -= n as u64;
                }
            }
        }
        let offline_measure = offline && self.cell.state.load(Ordering::Relaxed) == 0;
        if offline_measure {
            meter.process(input);
            cx.pass_through();
            return if cx.input_silent {
                ProcessStatus::Silent
            } else {
                ProcessStatus::Continue
            };
        }
        let gain = if self.mode == Mode::Realtime {
            // Follow the loudness heard so far, updated every 100 ms, gliding per block.
            meter.process(input);
            if let Some(i) = meter.integrated_lufs().filter(|v| v.is_finite()) {
                let want = (self.target_lufs - i).clamp(-20.0, 20.0);
                self.live_gain_db += (want - self.live_gain_db) * 0.05;
            }
            db_to_gain(self.live_gain_db as f32)
        } else {
            self.gain
        };
        for (o, x) in cx.outputs.iter_mut().zip(input) {
            for (y, v) in o.iter_mut().zip(x.iter()) {
                *y = v * gain;
            }
        }
        limiter.process_in_place(cx.outputs);
        if self.mode == Mode::Offline {
            let views: [&[f32]; crate::buffer::MAX_CHANNELS] =
                std::array::from_fn(|c| cx.outputs.get(c).map_or(&[][..], |o| &o[..]));
            meter.process(&views[..cx.outputs.len()]);
        }
        if cx.input_silent {
            // Silent once the limiter's lookahead has flushed, so the render can end (and
            // trailing silence is not metered).
            self.quiet += cx.frames;
            if self.quiet > limiter.latency_samples() + cx.frames {
                return ProcessStatus::Silent;
            }
            ProcessStatus::Tail(limiter.latency_samples() as u32)
        } else {
            self.quiet = 0;
            ProcessStatus::Continue
        }
    }

    fn latency_frames(&self) -> u32 {
        self.limiter
            .as_ref()
            .map_or(0, |l| l.latency_samples() as u32)
    }

    fn needs_analysis(&self) -> bool {
        self.mode == Mode::Offline && self.state() < 2
    }

    fn finish_analysis(&mut self) {
        let Some(m) = &self.meter else { return };
        let measured = m.integrated_lufs().filter(|v| v.is_finite());
        let cell = &self.cell;
        let passes = cell.passes.fetch_add(1, Ordering::Relaxed) + 1;
        match (self.state(), measured) {
            (_, None) => {
                // Silence: nothing to normalise.
                cell.state.store(2, Ordering::Relaxed);
            }
            (0, Some(i)) => {
                store(&cell.input_lufs, i);
                store(&cell.gain_db, self.target_lufs - i);
                cell.state.store(1, Ordering::Relaxed);
            }
            (_, Some(o)) => {
                store(&cell.output_lufs, o);
                let err = self.target_lufs - o;
                if err.abs() <= 0.05 || passes >= MAX_PASSES {
                    cell.state.store(2, Ordering::Relaxed);
                } else {
                    // Secant step: the limiter gives back less than a dB of loudness per dB of
                    // gain on loud material, so scale the correction by the slope measured
                    // between the last two passes (1 on the first correction).
                    let g = load(&cell.gain_db);
                    let (pg, po) = (load(&cell.prev_gain_db), load(&cell.prev_output_lufs));
                    let slope = (o - po) / (g - pg);
                    let slope = if slope.is_finite() {
                        slope.clamp(0.2, 1.0)
                    } else {
                        1.0
                    };
                    store(&cell.prev_gain_db, g);
                    store(&cell.prev_output_lufs, o);
                    store(&cell.gain_db, g + (err / slope).clamp(-12.0, 12.0));
                }
            }
        }
    }

    fn analysis_state(&self) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        Some(self.cell.clone())
    }

    fn resume_analysis(&mut self, state: Arc<dyn std::any::Any + Send + Sync>) {
        if let Ok(cell) = state.downcast::<LoudnessCell>() {
            self.cell = cell;
            self.gain = db_to_gain(load(&self.cell.gain_db) as f32);
        }
    }

    fn loudness_target(&self) -> Option<f64> {
        (!self.target_lufs.is_nan()).then_some(self.target_lufs)
    }

    fn report(&self) -> Option<String> {
        let cell = &self.cell;
        let input = load(&cell.input_lufs);
        let out = self
            .meter
            .as_ref()
            .and_then(|m| m.integrated_lufs())
            .filter(|v| v.is_finite());
        if self.mode != Mode::Offline {
            return None;
        }
        if self.target_lufs.is_nan() {
            return Some(format!(
                "fixed gain {:+.2} dB, {} LUFS out (ceiling {:.1} dBTP)",
                load(&cell.gain_db),
                out.map_or("-inf".into(), |o| format!("{o:.2}")),
                self.ceiling_db
            ));
        }
        if input.is_nan() {
            return None;
        }
        let gain = load(&cell.gain_db);
        let mut s = format!(
            "{input:.1} LUFS in, gain {gain:+.2} dB, {} LUFS out (target {:.1}, ceiling {:.1} dBTP)",
            out.map_or("-inf".into(), |o| format!("{o:.2}")),
            self.target_lufs,
            self.ceiling_db
        );
        if let Some(o) = out {
            if o < self.target_lufs - 0.1 {
                s.push_str(&format!(
                    "; target not reached: the {:.1} dBTP ceiling holds it {:.1} LU short — lower the target or raise the ceiling",
                    self.ceiling_db,
                    self.target_lufs - o
                ));
            }
        }
        Some(s)
    }
}
