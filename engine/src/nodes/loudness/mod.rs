//! `loudness`: brings a programme to `target_lufs` (integrated, BS.1770 gated) and holds its true
//! peak at or below `ceiling_db` with the true-peak limiter.
//!
//! Offline it measures the whole programme first (an analysis pass), applies one gain, and — as
//! the limiter takes loudness off the loudest parts — measures the result and corrects, closed
//! loop, until the output is within 0.05 LU of the target. Each gain correction is scaled by how
//! much loudness the previous one bought (a secant step), so heavily limited material converges
//! too. The limiter's ballistics are part of the loop: with `release_ms = "auto"` (the default)
//! it starts at a 100 ms release and, when more gain no longer buys loudness (sparse material
//! whose peaks the limiter holds down for a whole release) or the average gain reduction goes
//! over `max_reduction_db`, tries faster releases (30, 10, 3, 1 ms) — the slowest that reaches
//! the target within the budget wins. When the target is out of reach the summary and report
//! say which limit stops it (the ceiling: gain no longer raises loudness; or the reduction
//! budget), with the numbers; the limiter's gain reduction (max and average per
//! [`WINDOW_FRAMES`] frames) is reported in every case.
//!
//! The meter hears the programme as it is written: silence inside the programme counts (the
//! frames the processor skipped while the node was silent are metered as silence when sound
//! resumes), silence after its last sound does not (the render trims it). Offline the meter
//! is fed in pieces aligned to the song's timeline ([`WINDOW_FRAMES`] frames), up to the last
//! non-zero frame, so what it measures — and so the gain — is the same at every block size.
//! Live (where the future is unknown) the gain follows the integrated loudness heard so far,
//! gliding, within ±20 dB.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::control::{exact_silence, QuietRun, WINDOW_FRAMES};
use crate::buffer::MAX_CHANNELS;
use crate::dsp::limiter::Limiter;
use crate::dsp::loudness::LoudnessMeter;
use crate::graph::Session;
use crate::node::{Mode, Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW};
use crate::param::Unit;
use crate::registry::{all_params, no_initial, Config, NodeKind, OptDefault, OptionDesc, Role};
use crate::units::db_to_gain;

mod feed;
use feed::{GrStats, MeterFeed};

/// Kind description (no automatable parameters: the gain is computed).
pub static DESC: NodeDesc = NodeDesc {
    kind: "loudness",
    inputs: &[IN_FOLLOW],
    params: &[],
};

/// Registry entry: `strip:loudness { target_lufs, ceiling_db }` or `{ gain_db, ceiling_db }`.
pub static KIND: NodeKind = NodeKind {
    name: "loudness",
    doc: "Brings the programme to `target_lufs` (integrated, BS.1770 gated) into a true-peak limiter at `ceiling_db`; offline it measures the whole programme and corrects closed loop (within 0.05 LU), choosing the limiter's release unless `release_ms` is given, within an average gain-reduction budget `max_reduction_db`, and says which limit (ceiling or budget) stops a target it cannot reach. `gain_db` applies a fixed gain instead.",
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
        OptionDesc::num(
            "release_ms",
            Unit::Ms,
            1.0,
            1000.0,
            OptDefault::None,
            "the limiter's release; default: chosen per programme, the slowest of 100/30/10/3/1 ms that reaches the target within max_reduction_db",
        ),
        OptionDesc::num(
            "lookahead_ms",
            Unit::Ms,
            1.0,
            20.0,
            OptDefault::Num(5.0),
            "the limiter's lookahead (its latency)",
        ),
        OptionDesc::num(
            "max_reduction_db",
            Unit::Db,
            0.5,
            30.0,
            OptDefault::Num(6.0),
            "budget of average gain reduction (per 512-frame maxima) the limiter may use to reach the target",
        ),
    ],
    aliases: &[],
    check: check_target,
    has_param: all_params,
    initial_params: no_initial,
    build: |c| {
        let ceiling = c.num("ceiling_db");
        let n = match c.opt_num("gain_db") {
            Some(g) => Loudness::with_gain(g, ceiling),
            None => Loudness::new(c.num("target_lufs"), ceiling),
        };
        Ok(Box::new(n.with_ballistics(
            c.opt_num("release_ms"),
            c.opt_num("lookahead_ms").unwrap_or(5.0),
            c.opt_num("max_reduction_db").unwrap_or(6.0),
        )))
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

/// Most analysis passes before giving up on the target: the input pass and up to nine output
/// passes (a heavily limited master can need four gain corrections to land within 0.05 LU, and
/// the automatic release may try four faster settings).
pub const MAX_PASSES: u32 = 10;

/// Releases the automatic mode tries, slowest first (ms).
pub const AUTO_RELEASES_MS: [f64; 5] = [100.0, 30.0, 10.0, 3.0, 1.0];

/// Why a target was not reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
enum Stop {
    /// Reached, or not decided.
    None = 0,
    /// More gain no longer raises the loudness: the ceiling holds it.
    Ceiling = 1,
    /// The limiter would need more than `max_reduction_db` of average gain reduction.
    Budget = 2,
}

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
    /// Index into [`AUTO_RELEASES_MS`] of the release in use (automatic mode).
    release_step: AtomicU32,
    /// Why the target was missed ([`Stop`]).
    stop: AtomicU32,
    /// Average gain reduction the previous output pass measured (f64 bits).
    prev_gr_avg_db: AtomicU64,
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
    /// Consecutive silent input frames (to report `Silent` once the limiter has settled).
    quiet: QuietRun,
    /// What the meter hears offline, on the song's timeline.
    feed: MeterFeed,
    /// Fixed release (ms), or `None` for the automatic choice.
    release_ms: Option<f64>,
    lookahead_ms: f64,
    max_reduction_db: f64,
    /// Gain reduction per [`WINDOW_FRAMES`] window of the song: the open window's maximum, the
    /// maximum and sum of the closed ones, their count.
    gr: GrStats,
}

impl Loudness {
    /// Aims at `target_lufs` with a true-peak ceiling of `ceiling_db`.
    pub fn new(target_lufs: f64, ceiling_db: f64) -> Self {
        let cell = Arc::new(LoudnessCell::default());
        store(&cell.input_lufs, f64::NAN);
        store(&cell.output_lufs, f64::NAN);
        store(&cell.prev_gain_db, f64::NAN);
        store(&cell.prev_output_lufs, f64::NAN);
        store(&cell.prev_gr_avg_db, f64::NAN);
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
            quiet: QuietRun::default(),
            feed: MeterFeed::default(),
            release_ms: None,
            lookahead_ms: 5.0,
            max_reduction_db: 6.0,
            gr: GrStats::default(),
        }
    }

    /// The limiter's release (`None`: automatic), lookahead and gain-reduction budget.
    pub fn with_ballistics(
        mut self,
        release_ms: Option<f64>,
        lookahead_ms: f64,
        max_reduction_db: f64,
    ) -> Self {
        (self.release_ms, self.lookahead_ms, self.max_reduction_db) =
            (release_ms, lookahead_ms, max_reduction_db);
        self
    }

    /// The release in use: the fixed one, or the automatic mode's current choice.
    fn release_now_ms(&self) -> f64 {
        self.release_ms.unwrap_or_else(|| {
            let i = self.cell.release_step.load(Ordering::Relaxed) as usize;
            AUTO_RELEASES_MS[i.min(AUTO_RELEASES_MS.len() - 1)]
        })
    }

    /// Whether the automatic mode has a faster release to try.
    fn can_go_faster(&self) -> bool {
        self.release_ms.is_none()
            && (self.cell.release_step.load(Ordering::Relaxed) as usize) + 1
                < AUTO_RELEASES_MS.len()
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

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        let ch = cfg.output_channels;
        self.mode = cfg.mode;
        self.sample_rate = cfg.sample_rate;
        let meter = LoudnessMeter::for_channels(cfg.sample_rate, ch);
        // Live, the meter runs for as long as the music plays: no history that could grow.
        self.meter = Some(match cfg.mode {
            Mode::Realtime => meter.live(),
            Mode::Offline => meter,
        });
        self.limiter = Some(
            Limiter::new(
                ch,
                cfg.sample_rate,
                self.ceiling_db,
                self.lookahead_ms,
                self.release_now_ms(),
                true,
            )
            .map_err(|e| e.to_string())?,
        );
        self.gr = GrStats::default();
        self.gain = db_to_gain(load(&self.cell.gain_db) as f32);
        self.quiet.clear();
        self.feed = MeterFeed::new(ch);
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(m) = &mut self.meter {
            m.reset();
        }
        if let Some(l) = &mut self.limiter {
            l.reset();
        }
        self.quiet.clear();
        self.feed.clear();
        self.gr = GrStats::default();
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let input = cx.input(0);
        let (Some(meter), Some(limiter)) = (&mut self.meter, &mut self.limiter) else {
            return ProcessStatus::Silent;
        };
        let offline = self.mode == Mode::Offline;
        let pos = cx.transport.position;
        if offline && self.cell.state.load(Ordering::Relaxed) == 0 {
            // Measuring the input: a pass-through, silent exactly when its input is.
            self.feed.feed(meter, input, pos);
            cx.pass_through();
            return exact_silence(cx, || true);
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
        // The limiter in pieces that end at the song's WINDOW_FRAMES grid (gain-reduction windows).
        let mut at = 0;
        while at < cx.frames {
            let song = pos + at as u64;
            let end = (at + (WINDOW_FRAMES - song % WINDOW_FRAMES) as usize).min(cx.frames);
            let mut piece: [&mut [f32]; MAX_CHANNELS] = Default::default();
            let n = cx.outputs.len().min(MAX_CHANNELS);
            for (p, o) in piece.iter_mut().zip(cx.outputs.iter_mut()) {
                *p = &mut o[at..end];
            }
            limiter.process_in_place(&mut piece[..n]);
            self.gr.add(limiter.gain_reduction_db());
            if (pos + end as u64) % WINDOW_FRAMES == 0 {
                self.gr.close();
            }
            at = end;
        }
        if offline {
            let views: [&[f32]; MAX_CHANNELS] =
                std::array::from_fn(|c| cx.outputs.get(c).map_or(&[][..], |o| &o[..]));
            self.feed.feed(meter, &views[..cx.outputs.len()], pos);
        }
        // Silent once the limiter's lookahead holds only silence and its release has ended
        // (so the render can end, and trailing silence is not metered).
        let quiet = self.quiet.update(cx);
        let settle = 2 * (limiter.latency_samples() as u64 + 1) + 16;
        let status = exact_silence(cx, || quiet >= settle && limiter.gain_reduction_db() == 0.0);
        match status {
            ProcessStatus::Continue if cx.input_silent => {
                ProcessStatus::Tail(limiter.latency_samples() as u32)
            }
            s => s,
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
        if let Some(m) = &mut self.meter {
            // The programme's last piece (its trailing silence is not metered).
            self.feed.meter_piece(m);
        }
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
                let (_, gr_avg) = self.gr.get().unwrap_or((0.0, 0.0));
                let err = self.target_lufs - o;
                let g = load(&cell.gain_db);
                let (pg, po) = (load(&cell.prev_gain_db), load(&cell.prev_output_lufs));
                // Loudness bought per dB of gain since the previous pass (1 on the first).
                let slope = (o - po) / (g - pg);
                let slope = if slope.is_finite() { slope } else { 1.0 };
                let over_budget = gr_avg > self.max_reduction_db + 0.05;
                let mut next_gain = None;
                let mut faster = false;
                let budget_bound = cell.stop.load(Ordering::Relaxed) == Stop::Budget as u32;
                if over_budget || budget_bound {
                    if over_budget && self.can_go_faster() && !budget_bound {
                        faster = true;
                    } else {
                        // The budget binds: give up loudness until the average reduction
                        // fits (reduction grows about a dB per dB of gain when limiting).
                        cell.stop.store(Stop::Budget as u32, Ordering::Relaxed);
                        // Reduction bought per dB of gain since the previous pass (a secant, as
                        // for the loudness; 0.5 before there are two passes).
                        let pr = load(&cell.prev_gr_avg_db);
                        let gr_slope = (gr_avg - pr) / (g - pg);
                        let gr_slope = if gr_slope.is_finite() {
                            gr_slope.clamp(0.1, 1.0)
                        } else {
                            0.5
                        };
                        let excess = gr_avg - self.max_reduction_db;
                        if excess > 0.05 || (excess < -0.3 && err > 0.05) {
                            // On the last pass, err on the side of the budget.
                            let last = passes + 1 >= MAX_PASSES;
                            let step = excess / if last { 0.1 } else { gr_slope };
                            next_gain = Some(g - step.clamp(-6.0, 12.0));
                        }
                    }
                } else if err.abs() <= 0.05 {
                    cell.stop.store(Stop::None as u32, Ordering::Relaxed);
                } else if err > 0.0 && slope < 0.25 && !pg.is_nan() {
                    // More gain no longer raises the loudness: the limiter holds the peaks down.
                    if self.can_go_faster() {
                        faster = true;
                    } else {
                        cell.stop.store(Stop::Ceiling as u32, Ordering::Relaxed);
                    }
                } else {
                    let slope = slope.clamp(0.2, 1.0);
                    next_gain = Some(g + (err / slope).clamp(-12.0, 12.0));
                }
                if passes >= MAX_PASSES || (!faster && next_gain.is_none()) {
                    if err.abs() > 0.05 && cell.stop.load(Ordering::Relaxed) == 0 && err > 0.0 {
                        cell.stop.store(Stop::Ceiling as u32, Ordering::Relaxed);
                    }
                    cell.state.store(2, Ordering::Relaxed);
                } else if faster {
                    // Same gain, faster release: the secant restarts from this pass.
                    cell.release_step.fetch_add(1, Ordering::Relaxed);
                    store(&cell.prev_gain_db, f64::NAN);
                    store(&cell.prev_output_lufs, f64::NAN);
                } else if let Some(ng) = next_gain {
                    store(&cell.prev_gain_db, g);
                    store(&cell.prev_output_lufs, o);
                    store(&cell.prev_gr_avg_db, gr_avg);
                    store(&cell.gain_db, ng);
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
            // The release the closed loop chose so far (the lookahead, and with it the
            // latency the compiler compensated, stays as prepared).
            let release = self.release_now_ms();
            if let Some(l) = &mut self.limiter {
                let _ = l.set_release_ms(release);
            }
        }
    }

    fn gain_reduction_stats(&self) -> Option<(f64, f64)> {
        self.gr.get()
    }

    fn loudness_target(&self) -> Option<f64> {
        (!self.target_lufs.is_nan()).then_some(self.target_lufs)
    }

    fn report(&self) -> Option<String> {
        let cell = &self.cell;
        let input = load(&cell.input_lufs);
        if self.mode != Mode::Offline {
            return None;
        }
        // The output as metered, its last piece included (on a copy: control thread).
        let out = self
            .meter
            .clone()
            .and_then(|mut m| {
                self.feed.clone().meter_piece(&mut m);
                m.integrated_lufs()
            })
            .filter(|v| v.is_finite());
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
        let (gr_max, gr_avg) = self.gr.get().unwrap_or((0.0, 0.0));
        let mut s = format!(
            "{input:.1} LUFS in, gain {gain:+.2} dB, {} LUFS out (target {:.1}, ceiling {:.1} dBTP); limiter release {} ms{}, lookahead {} ms, gain reduction max {gr_max:.2} dB, average {gr_avg:.2} dB",
            out.map_or("-inf".into(), |o| format!("{o:.2}")),
            self.target_lufs,
            self.ceiling_db,
            self.release_now_ms(),
            if self.release_ms.is_none() { " (auto)" } else { "" },
            self.lookahead_ms,
        );
        if let Some(o) = out {
            if o < self.target_lufs - 0.1 {
                let short = self.target_lufs - o;
                let why = if cell.stop.load(Ordering::Relaxed) == Stop::Budget as u32 {
                    format!(
                        "the reduction budget (max_reduction_db = {:.1} dB average) holds it {short:.1} LU short — raise max_reduction_db, lower the target, or compress before the loudness node",
                        self.max_reduction_db
                    )
                } else {
                    format!(
                        "the {:.1} dBTP ceiling holds it {short:.1} LU short (more gain no longer raises the loudness) — lower the target or raise the ceiling",
                        self.ceiling_db
                    )
                };
                s.push_str(&format!("; target not reached: {why}"));
            }
        }
        Some(s)
    }
}
