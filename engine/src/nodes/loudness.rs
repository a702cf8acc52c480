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
//! resumes), silence after its last sound does not (the render trims it). Offline the meter
//! is fed in pieces aligned to the song's timeline ([`FLUSH_FRAMES`] frames), up to the last
//! non-zero frame, so what it measures — and so the gain — is the same at every block size.
//! Live (where the future is unknown) the gain follows the integrated loudness heard so far,
//! gliding, within ±20 dB.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::control::{exact_silence, QuietRun, FLUSH_FRAMES};
use crate::buffer::MAX_CHANNELS;
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
    /// Consecutive silent input frames (to report `Silent` once the limiter has settled).
    quiet: QuietRun,
    /// What the meter hears offline, on the song's timeline.
    feed: MeterFeed,
}

/// Feeds a loudness meter the frames of the song in order, in pieces that end at multiples of
/// [`FLUSH_FRAMES`] song frames (the meter's own flushes then fall on the same frames at every
/// block size), holding back a run of zeros until a non-zero frame follows it (silence after
/// the last sound is not metered). Frames never handed over (the processor skipped the node)
/// are zeros.
#[derive(Clone, Debug, Default)]
struct MeterFeed {
    /// One piece per channel, `FLUSH_FRAMES` long; `len` frames filled, from song frame `start`.
    acc: Vec<Vec<f32>>,
    start: u64,
    len: usize,
    /// Zeros heard but not yet metered.
    zeros: u64,
    /// Song frame after the last one handed over.
    next: Option<u64>,
}

impl MeterFeed {
    fn new(channels: usize) -> Self {
        Self {
            acc: vec![vec![0.0; FLUSH_FRAMES as usize]; channels],
            ..Self::default()
        }
    }

    fn clear(&mut self) {
        (self.start, self.len, self.zeros, self.next) = (0, 0, 0, None);
    }

    /// Hands over `chans` (the song frames from `pos`). No allocation.
    fn feed(&mut self, meter: &mut LoudnessMeter, chans: &[&[f32]], pos: u64) {
        let n = chans.first().map_or(0, |c| c.len());
        match self.next {
            Some(p) => self.zeros += pos.saturating_sub(p),
            None => self.start = pos,
        }
        self.next = Some(pos + n as u64);
        let last = (0..n).rev().find(|&i| chans.iter().any(|c| c[i] != 0.0));
        let Some(k) = last else {
            self.zeros += n as u64;
            return;
        };
        let zeros = std::mem::take(&mut self.zeros);
        self.push(meter, None, zeros);
        self.push(meter, Some(chans), k as u64 + 1);
        self.zeros = (n - k - 1) as u64;
    }

    /// Appends `count` frames of `chans` (zeros for `None`), metering each completed piece.
    fn push(&mut self, meter: &mut LoudnessMeter, chans: Option<&[&[f32]]>, count: u64) {
        let mut done = 0u64;
        while done < count {
            let at = self.start + self.len as u64;
            let room = FLUSH_FRAMES - at % FLUSH_FRAMES;
            let t = room.min(count - done) as usize;
            let (a, d) = (self.len, done as usize);
            for (c, acc) in self.acc.iter_mut().enumerate() {
                match chans {
                    Some(x) => acc[a..a + t].copy_from_slice(&x[c][d..d + t]),
                    None => acc[a..a + t].fill(0.0),
                }
            }
            self.len += t;
            done += t as u64;
            if (at + t as u64) % FLUSH_FRAMES == 0 {
                self.meter_piece(meter);
            }
        }
    }

    /// Meters what is held (a whole piece, or the last part of the programme).
    fn meter_piece(&mut self, meter: &mut LoudnessMeter) {
        if self.len > 0 {
            let views: [&[f32]; MAX_CHANNELS] =
                std::array::from_fn(|c| self.acc.get(c).map_or(&[][..], |a| &a[..self.len]));
            meter.process(&views[..self.acc.len()]);
            self.start += self.len as u64;
            self.len = 0;
        }
    }
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
            quiet: QuietRun::default(),
            feed: MeterFeed::default(),
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
            Limiter::new(ch, cfg.sample_rate, self.ceiling_db, 5.0, 100.0, true)
                .map_err(|e| e.to_string())?,
        );
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
        limiter.process_in_place(cx.outputs);
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
