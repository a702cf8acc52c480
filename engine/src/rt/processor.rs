//! The processor: runs a [`Schedule`] block by block. The audio callback (and offline render) call
//! [`Processor::process`]; it never allocates, frees, locks, blocks, logs or does I/O.
//!
//! Schedules arrive as `ControlMsg::Swap` on a bounded SPSC ring; the queue is drained at the start
//! of each host block and only the newest schedule is kept; replaced schedules go back on a second
//! ring to be dropped by the control thread. A swap is only taken when the return ring has room,
//! so the audio thread never has to drop one itself.
//!
//! Three kinds of swap: a schedule that differs only in parameter values is applied at once (its
//! nodes glide); a *transition* schedule (see [`crate::graph::transition`]) is applied at once and
//! crossfades the changed paths inside the graph, then hands over to the schedule it carries; any
//! other change fades the whole output out, swaps, and fades in ([`RELOAD_FADE_S`] each way).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rtrb::{Consumer, Producer, RingBuffer};

use super::exec::Exec;
use super::msg::{ControlMsg, ReturnMsg, QUEUE_CAPACITY};
use super::parallel::ParallelRunner;
use crate::buffer::MAX_BLOCK;
use crate::graph::Schedule;
use crate::node::Transport;

/// Length of each half of the output fade used when a reload changes the routing in a way a
/// path-by-path crossfade cannot cover (e.g. the latency of kept paths changes).
pub const RELOAD_FADE_S: f64 = 0.015;

/// Figures the audio thread publishes for the control thread (lock-free).
#[derive(Debug, Default)]
pub struct Shared {
    /// Transport position in frames.
    pub position: AtomicU64,
    /// Serial of the last schedule sent that is now playing. When a transition hands over to the
    /// schedule it carries, this stays the transition's serial: the one the sender waits for.
    pub running_serial: AtomicU64,
    /// Swaps applied.
    pub swaps: AtomicU64,
    /// Swaps that faded the whole output (routing changed in a way no path crossfade covers).
    pub crossfades: AtomicU64,
    /// Swaps that crossfaded only the changed paths (transition schedules played to the end).
    pub path_crossfades: AtomicU64,
    /// Swaps refused because their vacant slots could not be filled from the running schedule
    /// (planned against another one); the running schedule plays on.
    pub refused: AtomicU64,
    /// Serial of the last refused schedule (0: none).
    pub refused_serial: AtomicU64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fade {
    None,
    /// Fading the running schedule out; frames done of `len`.
    Out(u32),
    /// Fading the new schedule in; frames done of `len`.
    In(u32),
}

/// The audio-thread side.
pub struct Processor {
    /// Worker threads for offline renders (see [`Processor::set_threads`]). Dropped before the
    /// schedule (see `Drop`): its workers hold pointers into it.
    parallel: Option<ParallelRunner>,
    schedule: Box<Schedule>,
    pending: Option<Box<Schedule>>,
    fade: Fade,
    fade_len: u32,
    /// Frames of silence before a fade-in (see `Schedule::fresh_latency`).
    hold: u32,
    rx: Consumer<ControlMsg>,
    tx: Producer<ReturnMsg>,
    position: u64,
    playing: bool,
    swaps: u64,
    shared: Arc<Shared>,
}

/// The control-thread side.
pub struct Controller {
    tx: Producer<ControlMsg>,
    rx: Consumer<ReturnMsg>,
    shared: Arc<Shared>,
}

/// A swap could not be queued (the ring is full); the schedule is handed back.
pub struct SwapError(pub Box<Schedule>);

impl std::fmt::Debug for SwapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SwapError(queue full)")
    }
}

/// Creates a processor running `schedule` and its controller. Allocates (control thread).
pub fn processor_pair(schedule: Schedule) -> (Processor, Controller) {
    let (ctx, crx) = RingBuffer::new(QUEUE_CAPACITY);
    let (rtx, rrx) = RingBuffer::new(QUEUE_CAPACITY);
    let shared = Arc::new(Shared::default());
    shared
        .running_serial
        .store(schedule.serial, Ordering::Relaxed);
    let fade_len = (RELOAD_FADE_S * schedule.sample_rate).round().max(1.0) as u32;
    (
        Processor {
            parallel: None,
            schedule: Box::new(schedule),
            pending: None,
            fade: Fade::None,
            fade_len,
            hold: 0,
            rx: crx,
            tx: rtx,
            position: 0,
            playing: true,
            swaps: 0,
            shared: shared.clone(),
        },
        Controller {
            tx: ctx,
            rx: rrx,
            shared,
        },
    )
}

impl Controller {
    /// Queues a new schedule. Control thread; never blocks.
    pub fn swap(&mut self, schedule: Box<Schedule>) -> Result<(), SwapError> {
        self.tx
            .push(ControlMsg::Swap(schedule))
            .map_err(|rtrb::PushError::Full(m)| match m {
                ControlMsg::Swap(s) => SwapError(s),
                _ => unreachable!("pushed a swap"),
            })
    }

    /// Queues any other message; returns false when the ring is full.
    pub fn send(&mut self, msg: ControlMsg) -> bool {
        self.tx.push(msg).is_ok()
    }

    /// Figures published by the audio thread.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Drops schedules the audio thread retired. Returns how many. Control thread.
    pub fn collect_garbage(&mut self) -> usize {
        let mut n = 0;
        while let Ok(ReturnMsg::Retired(s) | ReturnMsg::Refused(s)) = self.rx.pop() {
            drop(s);
            n += 1;
        }
        n
    }
}

impl Drop for Processor {
    fn drop(&mut self) {
        // Stop and join the workers before the schedule they run on is freed.
        self.parallel = None;
    }
}

impl Processor {
    /// A processor without a controller (offline render and tests).
    pub fn new(schedule: Schedule) -> Self {
        processor_pair(schedule).0
    }

    /// The running schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Runs independent branches on `threads` threads, this one included (offline render only;
    /// the schedule must have been compiled without buffer reuse, see `CompileConfig::parallel`).
    /// Output is bit-identical to one thread. Call it before the first block.
    ///
    /// Returns how many threads will run blocks: 1 when one is asked for, when the schedule
    /// cannot be split (it reuses buffers, has a feedback loop, or fails validation), or when
    /// another schedule could still be swapped in. The workers are planned for this schedule
    /// only, so only a processor that no schedule can reach any more runs on several threads:
    /// one made by [`Processor::new`], or whose [`Controller`] was dropped, with no swap queued
    /// or under way. (A processor that keeps its controller keeps taking swaps, on one thread.)
    ///
    /// Control thread; allocates, spawns threads, and joins those of an earlier call.
    pub fn set_threads(&mut self, threads: usize) -> usize {
        self.parallel = None;
        // In this order: once the controller is gone, nothing can be queued any more.
        let swappable = !self.rx.is_abandoned()
            || !self.rx.is_empty()
            || self.pending.is_some()
            || self.schedule.then.is_some();
        if threads < 2 || swappable {
            return 1;
        }
        self.parallel = ParallelRunner::new(&self.schedule, threads);
        self.parallel.as_ref().map_or(1, ParallelRunner::threads)
    }

    /// How many threads run each block: 1, or what [`Processor::set_threads`] returned.
    pub fn threads(&self) -> usize {
        self.parallel.as_ref().map_or(1, ParallelRunner::threads)
    }

    /// Blocks by which the output trails the transport: 1 when a parallel render runs its tail
    /// (the master chain) one block behind, else 0. Offline renders count it as latency.
    pub fn lag_blocks(&self) -> usize {
        self.parallel.as_ref().map_or(0, |r| r.lag_blocks())
    }

    /// The running schedule, mutably (control side, when not running on an audio thread).
    pub(crate) fn schedule_mut(&mut self) -> &mut Schedule {
        &mut self.schedule
    }

    /// Frames processed since the start (the transport position).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Schedule swaps applied so far.
    pub fn swaps(&self) -> u64 {
        self.swaps
    }

    /// Moves the transport (sources follow on their next block).
    pub fn seek(&mut self, frame: u64) {
        self.position = frame;
    }

    fn drain(&mut self) {
        loop {
            // Only take a message when anything it retires (and the swap it leads to) has
            // somewhere to go.
            if self.tx.slots() < 4 {
                return;
            }
            // While a transition or a fade-in plays, the next swap waits for it to finish.
            let busy = self.schedule.then.is_some() || matches!(self.fade, Fade::In(_));
            if busy && matches!(self.rx.peek(), Ok(ControlMsg::Swap(_))) {
                return;
            }
            let Ok(msg) = self.rx.pop() else { return };
            match msg {
                ControlMsg::Swap(new) if !self.can_take(&new) => self.refuse(new),
                ControlMsg::Swap(mut new) if new.then.is_some() => {
                    // (No fade-in is playing here, see `busy`; no fade-out means nothing pending.)
                    if new.based_on == self.schedule.serial && self.fade == Fade::None {
                        self.apply(new);
                    } else if new.then.as_ref().is_some_and(|f| f.vacant > 0) {
                        // The final schedule takes its instances from the transition: it cannot
                        // run without it.
                        self.refuse(new);
                    } else if let Some(fin) = new.then.take() {
                        // Planned against a schedule that is no longer running: no crossfade
                        // by paths; fade the output around the final schedule instead.
                        let _ = self.tx.push(ReturnMsg::Retired(new));
                        self.fade_out_to(fin);
                    }
                }
                ControlMsg::Swap(new) => {
                    let param_only = new
                        .only_parameters_differ_from(self.schedule.serial, self.schedule.topology);
                    if param_only && self.fade == Fade::None {
                        self.apply(new);
                    } else {
                        self.fade_out_to(new);
                    }
                }
                ControlMsg::SetParam { node, param, value } => {
                    if let Some(p) = self
                        .schedule
                        .nodes
                        .get_mut(node as usize)
                        .and_then(|n| n.params.get_mut(param as usize))
                    {
                        p.set(value);
                    }
                }
                ControlMsg::Seek(f) => self.position = f,
                ControlMsg::Play(p) => self.playing = p,
            }
        }
    }

    /// Queues `new` to replace the running schedule once the output has faded out.
    fn fade_out_to(&mut self, new: Box<Schedule>) {
        if let Some(old) = self.pending.replace(new) {
            let _ = self.tx.push(ReturnMsg::Retired(old));
        }
        // A swap is never taken during a fade-in (see `drain`), so this starts a fade-out or
        // lets the running one go on.
        if self.fade == Fade::None {
            self.fade = Fade::Out(0);
        }
    }

    /// Whether `new` can run once applied: each of its vacant slots (instances it was planned to
    /// take over instead of preparing them) is filled by a prepared instance of the running
    /// schedule. Audio thread; no allocation.
    fn can_take(&self, new: &Schedule) -> bool {
        if new.vacant == 0 {
            return true;
        }
        if new.based_on != self.schedule.serial {
            return false;
        }
        let filled = new
            .migrate
            .iter()
            .filter(|&&(n, o)| {
                new.nodes.get(n as usize).is_some_and(|s| s.vacant)
                    && self
                        .schedule
                        .nodes
                        .get(o as usize)
                        .is_some_and(|s| !s.vacant)
            })
            .count();
        filled == new.vacant as usize
    }

    /// Sends `new` back unrun (see [`ReturnMsg::Refused`]). The caller checked for room.
    fn refuse(&mut self, new: Box<Schedule>) {
        self.shared.refused.fetch_add(1, Ordering::Relaxed);
        self.shared
            .refused_serial
            .store(new.serial, Ordering::Relaxed);
        let _ = self.tx.push(ReturnMsg::Refused(new));
    }

    /// Replaces the running schedule, handing matched node instances (with their state) over to
    /// the new one. Never allocates: instances are swapped box for box.
    /// Returns whether instances were handed over (the schedule was planned against this one);
    /// false also when `new` is refused (see [`Self::can_take`]) and the running one plays on.
    fn apply(&mut self, mut new: Box<Schedule>) -> bool {
        if !self.can_take(&new) {
            self.refuse(new);
            return false;
        }
        let migrate = new.based_on == self.schedule.serial;
        if migrate {
            let old = &mut *self.schedule;
            for &(n, o) in new.migrate.iter() {
                let (Some(ns), Some(os)) =
                    (new.nodes.get_mut(n as usize), old.nodes.get_mut(o as usize))
                else {
                    continue;
                };
                std::mem::swap(&mut ns.node, &mut os.node);
                std::mem::swap(&mut ns.vacant, &mut os.vacant);
                ns.status = os.status;
                ns.nan_count = os.nan_count;
                for (np, op) in ns.params.iter_mut().zip(os.params.iter()) {
                    np.continue_from(op);
                }
            }
            for &(n, o) in new.migrate_lines.iter() {
                let (n, o) = (n as usize, o as usize);
                if n < new.lines.len() && o < old.lines.len() {
                    std::mem::swap(&mut new.lines[n], &mut old.lines[o]);
                    new.line_quiet[n] = old.line_quiet[o];
                }
            }
        }
        let old = std::mem::replace(&mut self.schedule, new);
        self.swaps += 1;
        self.shared.swaps.fetch_add(1, Ordering::Relaxed);
        self.shared
            .running_serial
            .store(self.schedule.ack_serial, Ordering::Relaxed);
        // Cannot fail: every caller checked for room (drain: 4 slots; the fade-out and the
        // transition hand-over: 1).
        let _ = self.tx.push(ReturnMsg::Retired(old));
        migrate
    }

    /// Equal-power fade gain for frame `k` of a fade, and advances the fade state.
    #[inline]
    fn fade_gain(&mut self) -> f32 {
        let len = self.fade_len as f32;
        match self.fade {
            Fade::None => 1.0,
            Fade::Out(k) => {
                // Silent past the end (while the swap waits for room on the return ring).
                let g = (std::f32::consts::FRAC_PI_2 * (1.0 - k as f32 / len).max(0.0)).sin();
                self.fade = Fade::Out(k.saturating_add(1));
                g
            }
            Fade::In(k) => {
                let g = if k < self.hold {
                    0.0
                } else {
                    (std::f32::consts::FRAC_PI_2 * (k - self.hold) as f32 / len).sin()
                };
                self.fade = if k + 1 >= self.hold + self.fade_len {
                    Fade::None
                } else {
                    Fade::In(k + 1)
                };
                g
            }
        }
    }

    /// Processes `outputs[0].len()` frames into planar `outputs` (any count: the mix's channels
    /// are mapped by the fixed channel rules). Audio thread: never allocates, locks or blocks.
    pub fn process(&mut self, outputs: &mut [&mut [f32]]) {
        // (Miri cannot emulate the MXCSR register; flushing changes values, not memory safety.)
        #[cfg(not(miri))]
        let _ftz = crate::dsp::denormal::FlushDenormals::new();
        self.drain();
        let total = outputs.first().map_or(0, |o| o.len());
        let mut done = 0;
        while done < total {
            // At the end of a fade-out, swap (once the retired schedule has somewhere to go:
            // until then the output stays silent).
            if matches!(self.fade, Fade::Out(k) if k >= self.fade_len) && self.tx.slots() >= 1 {
                // Fresh delay lines and lookaheads start empty: stay silent until they are
                // full, or their paths would start mid-waveform. Nothing carried over if the
                // schedule was planned against another one: then everything is fresh.
                self.hold = match self.pending.take() {
                    Some(p) => {
                        let migrated = self.apply(p);
                        self.shared.crossfades.fetch_add(1, Ordering::Relaxed);
                        if migrated {
                            self.schedule.fresh_latency
                        } else {
                            self.schedule.latency_frames
                        }
                    }
                    None => self.schedule.fresh_latency,
                };
                self.fade = Fade::In(0);
            }
            let mut frames = (total - done).min(self.schedule.block_limit).min(MAX_BLOCK);
            if let Fade::Out(k) = self.fade {
                // End the block where the fade-out ends, so the swap lands on that frame.
                frames = frames.min(self.fade_len.saturating_sub(k) as usize).max(1);
            }
            self.run_block(frames);
            let from = self.schedule.output.len as usize;
            let to = outputs.len();
            for (d, out) in outputs.iter_mut().enumerate() {
                let out = &mut out[done..done + frames];
                out.fill(0.0);
                for s in 0..from {
                    let g = crate::node::mix_gain(from, to, s, d);
                    if g != 0.0 {
                        let src = self.schedule.pool.get(self.schedule.output.bufs[s], frames);
                        for (o, x) in out.iter_mut().zip(src) {
                            *o += g * x;
                        }
                    }
                }
            }
            if self.fade != Fade::None {
                for i in 0..frames {
                    let g = self.fade_gain();
                    for out in outputs.iter_mut() {
                        out[done + i] *= g;
                    }
                }
            }
            self.advance_transition(frames);
            done += frames;
        }
        self.shared.position.store(self.position, Ordering::Relaxed);
    }

    /// Moves a transition schedule's crossfade on, and once it is complete hands over to the
    /// schedule it carries (the change is then inaudible: faded-out paths are at zero and
    /// faded-in ones at unity).
    fn advance_transition(&mut self, frames: usize) {
        let s = &mut *self.schedule;
        if s.then.is_none() {
            return;
        }
        s.fade_done = s.fade_done.saturating_add(frames as u32);
        if s.fade_done >= s.fade_delay + s.fade_len && self.tx.slots() >= 1 {
            if let Some(fin) = s.then.take() {
                let _ = self.apply(fin);
                self.shared.path_crossfades.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Runs one block of `frames` (clamped to the schedule's block limit) and leaves the result
    /// in the schedule's output buffers.
    fn run_block(&mut self, frames: usize) {
        let pos = self.position;
        let playing = self.playing;
        // The executor's buffers hold `MAX_BLOCK` frames: never ask for more.
        let frames = frames.min(self.schedule.block_limit).min(MAX_BLOCK);
        let s = &mut *self.schedule;
        let transport = Transport {
            position: pos,
            sample_rate: s.sample_rate,
            playing,
        };
        let ran = match &mut self.parallel {
            Some(runner) => runner.run_block(s, frames, transport).is_ok(),
            None => false,
        };
        if !ran {
            if self.parallel.is_some() {
                // Planned for another schedule (cannot happen through the public API, see
                // `set_threads`), or stopped by a panic: join its workers, go on alone.
                self.parallel = None;
            }
            let exec = Exec::new(s);
            for k in 0..s.steps.len() {
                // SAFETY: one thread runs the steps in order; the compiler's indices are in
                // range and a node's outputs never alias its inputs (`graph::validate` checks
                // both on every compiled schedule in debug and test builds).
                unsafe { exec.step(s.steps[k], frames, transport) };
            }
        }
        if playing {
            self.position += frames as u64;
        }
    }

    /// Output channel count of the running schedule.
    pub fn output_channels(&self) -> usize {
        self.schedule.output.len as usize
    }
}
