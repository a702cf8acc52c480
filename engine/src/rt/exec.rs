//! Step execution over raw views of a schedule, shared by the single-threaded processor and the
//! parallel offline runner.
//!
//! Why raw pointers: with several worker threads, steps of different nodes run at the same time
//! on the same schedule. They touch disjoint memory — each node slot, delay line and written
//! buffer belongs to exactly one task, and a buffer is read only after its writer finished —
//! but no `&mut Schedule` can express that. [`Exec`] holds raw pointers taken once from the
//! schedule, and each step forms references only to what it owns.

use crate::buffer::{MAX_BLOCK, MAX_CHANNELS};
use crate::dsp::delay_line::DelayLine;
use crate::graph::{NodeSlot, Schedule, Step};
use crate::node::{ParamValue, ProcessContext, ProcessStatus, Transport};

/// Most parameters one node may declare.
pub const MAX_PARAMS: usize = 48;

/// Raw views of one schedule, valid while the schedule is alive and not moved.
#[derive(Clone, Copy)]
pub(crate) struct Exec {
    nodes: *mut NodeSlot,
    lines: *mut DelayLine,
    line_quiet: *mut u64,
    data: *mut f32,
    silent: *mut crate::buffer::SilentFlag,
    /// Reload crossfade: frames done before this block (less the wait before it starts; may be
    /// negative), and its length (0: none).
    fade_done: i64,
    fade_len: u32,
}

// SAFETY: `Exec` is only a set of pointers; the parallel runner upholds the disjointness rules
// documented on `Exec::step` and orders tasks with acquire/release atomics.
unsafe impl Send for Exec {}
unsafe impl Sync for Exec {}

impl Exec {
    /// Views of `s`. Never allocates.
    pub(crate) fn new(s: &mut Schedule) -> Self {
        Self {
            nodes: s.nodes.as_mut_ptr(),
            lines: s.lines.as_mut_ptr(),
            line_quiet: s.line_quiet.as_mut_ptr(),
            data: s.pool.base_ptr(),
            silent: s.pool.silent_ptr(),
            fade_done: s.fade_done as i64 - s.fade_delay as i64,
            fade_len: s.fade_len,
        }
    }

    /// The same views with the buffers of `pool` instead of the schedule's (the parallel
    /// runner's second pool, for the pipelined tail). Never allocates.
    ///
    /// Derived from `self`, not from the schedule again: taking `as_mut_ptr` of the node slots a
    /// second time would invalidate the first pointers (Stacked Borrows), and both are used in
    /// the same block.
    pub(crate) fn with_pool(self, pool: &mut crate::buffer::BufferPool) -> Self {
        Self {
            data: pool.base_ptr(),
            silent: pool.silent_ptr(),
            ..self
        }
    }

    /// Views of nothing (placeholder before the first block; never stepped).
    pub(crate) fn dangling() -> Self {
        Self {
            nodes: std::ptr::NonNull::dangling().as_ptr(),
            lines: std::ptr::NonNull::dangling().as_ptr(),
            line_quiet: std::ptr::NonNull::dangling().as_ptr(),
            data: std::ptr::NonNull::dangling().as_ptr(),
            silent: std::ptr::NonNull::dangling().as_ptr(),
            fade_done: 0,
            fade_len: 0,
        }
    }

    #[inline]
    unsafe fn buf<'a>(&self, i: u32, frames: usize) -> &'a [f32] {
        std::slice::from_raw_parts(self.data.add(i as usize * MAX_BLOCK), frames)
    }

    #[inline]
    #[allow(clippy::mut_from_ref)]
    unsafe fn buf_mut<'a>(&self, i: u32, frames: usize) -> &'a mut [f32] {
        std::slice::from_raw_parts_mut(self.data.add(i as usize * MAX_BLOCK), frames)
    }

    #[inline]
    unsafe fn is_silent(&self, i: u32) -> bool {
        (*self.silent.add(i as usize)).0
    }

    #[inline]
    unsafe fn set_silent(&self, i: u32, v: bool) {
        (*self.silent.add(i as usize)).0 = v;
    }

    /// Runs one step.
    ///
    /// # Safety
    /// The schedule behind `self` is alive; every index in `step` is in range (the compiler
    /// guarantees it); no other thread concurrently touches the node slot or delay line this step
    /// uses, writes a buffer it reads, or reads or writes a buffer it writes.
    pub(crate) unsafe fn step(&self, step: Step, frames: usize, transport: Transport) {
        match step {
            Step::Clear { buf } => {
                self.buf_mut(buf, frames).fill(0.0);
                self.set_silent(buf, true);
            }
            Step::Mix { src, dst, gain } => {
                if !self.is_silent(src) {
                    let (a, b) = (self.buf(src, frames), self.buf_mut(dst, frames));
                    for (o, x) in b.iter_mut().zip(a) {
                        *o += gain * x;
                    }
                    self.set_silent(dst, false);
                }
            }
            Step::MixFade {
                src,
                dst,
                gain,
                fade_in,
            } => {
                if !self.is_silent(src) {
                    let (a, b) = (self.buf(src, frames), self.buf_mut(dst, frames));
                    let len = self.fade_len.max(1) as f32;
                    for (i, (o, x)) in b.iter_mut().zip(a).enumerate() {
                        let t = ((self.fade_done + i as i64) as f32 / len).clamp(0.0, 1.0);
                        // sin(π/2·t) rising, sin(π/2·(1 − t)) falling: exactly 0 and 1 at the
                        // ends, so the hand-over to the final schedule changes nothing.
                        let t = if fade_in { t } else { 1.0 - t };
                        *o += gain * (std::f32::consts::FRAC_PI_2 * t).sin() * x;
                    }
                    self.set_silent(dst, false);
                }
            }
            Step::Delay { line, src, dst } => {
                let src_silent = self.is_silent(src);
                let (a, b) = (self.buf(src, frames), self.buf_mut(dst, frames));
                let l = &mut *self.lines.add(line as usize);
                l.process(a, b);
                // The block played what came in `delay` frames ago: silence once the line has
                // been fed silence for the delay plus this block.
                let q = &mut *self.line_quiet.add(line as usize);
                *q = if src_silent {
                    q.saturating_add(frames as u64)
                } else {
                    0
                };
                self.set_silent(dst, *q >= (l.delay_frames() + frames) as u64);
            }
            Step::Process { node } => self.run_node(node as usize, frames, transport, false),
            Step::FeedbackRead { node } => self.run_node(node as usize, frames, transport, true),
            Step::FeedbackWrite { node } => self.feedback_write(node as usize, frames),
        }
    }

    /// Builds the node's view of the pool and runs it (or its feedback read half).
    unsafe fn run_node(
        &self,
        idx: usize,
        frames: usize,
        transport: Transport,
        feedback_read: bool,
    ) {
        let slot = &mut *self.nodes.add(idx);
        let pos = transport.position;
        let mut params_moved = false;
        for p in slot.params.iter_mut() {
            params_moved |= p.advance(pos, frames);
        }
        let params = param_values(&slot.params, frames);
        let params = &params[..slot.params.len().min(MAX_PARAMS)];
        if feedback_read {
            // Only the outputs: a feedback node's input may be its own output (a loop of one),
            // and its inputs are written later in the block anyway.
            let mut outs: [&mut [f32]; MAX_CHANNELS] = Default::default();
            for (c, &b) in slot.output.as_slice().iter().enumerate() {
                outs[c] = self.buf_mut(b, frames);
            }
            if let Some(f) = slot.node.as_feedback() {
                f.read(&mut outs[..slot.output.len as usize], params);
            }
            slot.status = ProcessStatus::Continue;
            self.guard_output(slot, frames);
            return;
        }
        let input_silent = slot
            .inputs
            .iter()
            .flat_map(|p| p.as_slice())
            .all(|&b| self.is_silent(b));
        // The compiler gives every node output buffers distinct from each other and from every
        // buffer it reads, so these shared and mutable slices never overlap.
        let mut ins: [[&[f32]; MAX_CHANNELS]; 2] = [[&[]; MAX_CHANNELS]; 2];
        for (p, port) in slot.inputs.iter().enumerate() {
            for (c, &b) in port.as_slice().iter().enumerate() {
                ins[p][c] = self.buf(b, frames);
            }
        }
        let mut outs: [&mut [f32]; MAX_CHANNELS] = Default::default();
        for (c, &b) in slot.output.as_slice().iter().enumerate() {
            outs[c] = self.buf_mut(b, frames);
        }
        let outs = &mut outs[..slot.output.len as usize];
        if slot.has_inputs && input_silent && slot.status == ProcessStatus::Silent && !params_moved
        {
            // Skipped: silent in, silent out. Not when a parameter moved, since a node's state
            // may follow its parameters (a mute's fade) even while it is silent.
            for o in outs.iter_mut() {
                o.fill(0.0);
            }
        } else {
            let mut cx = ProcessContext {
                frames,
                inputs: [
                    &ins[0][..slot.inputs[0].len as usize],
                    &ins[1][..slot.inputs[1].len as usize],
                ],
                outputs: outs,
                params,
                transport,
                input_silent,
            };
            slot.status = slot.node.process(&mut cx);
        }
        self.guard_output(slot, frames);
    }

    /// Replaces NaN and infinity in the node's output by silence (counted), and sets the output
    /// buffers' silence flags from its status.
    unsafe fn guard_output(&self, slot: &mut NodeSlot, frames: usize) {
        for &b in slot.output.as_slice() {
            let o = self.buf_mut(b, frames);
            if has_non_finite(o) {
                for x in o.iter_mut() {
                    if !x.is_finite() {
                        *x = 0.0;
                        slot.nan_count += 1;
                    }
                }
            }
        }
        let silent = slot.status == ProcessStatus::Silent;
        for &b in slot.output.as_slice() {
            self.set_silent(b, silent);
        }
    }

    unsafe fn feedback_write(&self, idx: usize, frames: usize) {
        let slot = &mut *self.nodes.add(idx);
        let params = param_values(&slot.params, frames);
        let params = &params[..slot.params.len().min(MAX_PARAMS)];
        let mut ins: [&[f32]; MAX_CHANNELS] = [&[]; MAX_CHANNELS];
        for (c, &b) in slot.inputs[0].as_slice().iter().enumerate() {
            ins[c] = self.buf(b, frames);
        }
        if let Some(f) = slot.node.as_feedback() {
            f.write(&ins[..slot.inputs[0].len as usize], params);
        }
    }
}

/// The block's values of `params` (the compiler keeps their count within [`MAX_PARAMS`]).
#[inline]
fn param_values(params: &[crate::param::ParamSlot], frames: usize) -> [ParamValue<'_>; MAX_PARAMS] {
    let mut v = [ParamValue::Const(0.0); MAX_PARAMS];
    for (o, p) in v.iter_mut().zip(params) {
        *o = p.value(frames);
    }
    v
}

/// Whether any sample is NaN or infinite: an OR over exponent tests, which vectorises (a float
/// sum would be a serial dependency chain); also built for AVX2, chosen at run time.
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn has_non_finite(x: &[f32]) -> bool {
    const EXP: u32 = 0x7f80_0000;
    x.iter()
        .fold(0u32, |acc, v| acc | u32::from(v.to_bits() & EXP == EXP))
        != 0
}
