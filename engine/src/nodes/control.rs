//! How nodes follow their parameters so that the output never depends on the block size.
//!
//! The processor cuts the song into blocks whose length is a setting (`--block`, the sound
//! card's buffer) and may skip silent nodes; neither may change a single output sample. Every
//! node therefore makes its decisions at frames of the *song*, never at the edges of the calls
//! it happens to get:
//!
//! - **Parameters** arrive evaluated per frame ([`crate::node::ParamValue`]): automation and
//!   glides are sample-accurate in the values themselves. Nodes use them in one of two ways:
//!   - *audio rate*: applied frame by frame (gains, pans, mutes, polarity, generator levels and
//!     frequencies, the delay line's gain): a set at frame n takes effect at frame n;
//!   - *control rate*: anything that costs a computation to apply (filter coefficients,
//!     compressor, gate and limiter settings, the effects' settings) is applied at the first
//!     frame a node processes and then at every frame of the song whose position is a multiple
//!     of [`CONTROL_FRAMES`], from the parameter's value at that frame, and takes effect at
//!     once (no glide of its own from the block edge: the parameter's smoothing already glides).
//!     A set at frame n takes effect at the first multiple of 16 at or after n (at most 0.33 ms
//!     late at 48 kHz). Effects that ramp a level themselves (echo, reverb, saturation, width)
//!     start that ramp at the same song frame, so it too is the same at every block size.
//!
//!   [`ControlParams`] walks a block in these periods; the node processes each period (a
//!   sub-slice of its buffers, [`sub_in`], [`sub_out`]) with the settings that apply to it. A
//!   block whose parameters are constant and already applied is one period (cut only at a
//!   flush frame, below), so steady playback costs nothing extra.
//! - **State flushes**: filters and envelopes set tiny states (below about 1e-20) to exactly
//!   zero so that tails end and denormals never appear. Where that happens changes the
//!   following samples, so DSPs never flush on their own: they expose `flush()`, and the node
//!   calls it when a period ends at a song frame that is a multiple of [`FLUSH_FRAMES`]
//!   ([`Period::flush`]). Snapping a released envelope to exactly zero is part of the flush.
//! - **Silence**: a node reports [`ProcessStatus::Silent`] only when processing more silence
//!   would change neither its output nor its state: every memory exactly zero, no gain
//!   reduction, ramp or glide pending, and every control-rate parameter constant and applied
//!   ([`exact_silence`], [`ControlParams::settled`]). The processor then skips the node while
//!   its input stays silent, which is exact only under that rule.
//! - **Internal chunks** (vector code working 32 or 64 frames at a time) either give every frame
//!   the same result wherever the chunk starts, or are aligned to song frames.

use std::ops::Range;

use crate::buffer::MAX_CHANNELS;
use crate::node::{ProcessContext, ProcessStatus};

/// Frames between control-rate updates, on the song's timeline (0.33 ms at 48 kHz).
pub const CONTROL_FRAMES: u64 = 16;
// Filters glide from one control frame to the next in one ramp step (`Cascade::glide`).
const _: () = assert!(CONTROL_FRAMES as usize == crate::dsp::biquad::RAMP_STEP);

/// Frames between state flushes, on the song's timeline (a multiple of [`CONTROL_FRAMES`]). As
/// long as the largest block, so a steady block of an offline render is one period.
pub const FLUSH_FRAMES: u64 = 2048;

/// Frames of the windows over which limiters keep gain-reduction statistics (the maximum of
/// each window, averaged over the run) and in which the loudness node feeds its meter; the
/// limiters flush on this finer grid ([`ControlParams::next_every`]).
pub const WINDOW_FRAMES: u64 = 512;
const _: () = assert!(FLUSH_FRAMES % WINDOW_FRAMES == 0 && WINDOW_FRAMES % CONTROL_FRAMES == 0);

const _: () = assert!(FLUSH_FRAMES % CONTROL_FRAMES == 0);

/// The values of a node's first `N` parameters last applied, and the walk through a block's
/// control periods.
#[derive(Clone, Debug)]
pub struct ControlParams<const N: usize> {
    current: [f32; N],
    started: bool,
}

impl<const N: usize> Default for ControlParams<N> {
    fn default() -> Self {
        Self {
            current: [f32::NAN; N],
            started: false,
        }
    }
}

/// One control period of a block, from [`ControlParams::next`].
#[derive(Clone, Debug, PartialEq)]
pub struct Period<const N: usize> {
    /// The block frames of the period.
    pub frames: Range<usize>,
    /// The values to apply at the period's first frame, when they changed (or are the first).
    pub change: Option<[f32; N]>,
    /// Whether these are the first values the node applies (start there: no ramp from the
    /// defaults).
    pub first: bool,
    /// Whether the period ends at a multiple of [`FLUSH_FRAMES`] (or of the interval given to
    /// [`ControlParams::next_every`]): call the DSP's `flush()` after processing it.
    pub flush: bool,
}

impl<const N: usize> ControlParams<N> {
    /// Forgets the values applied (the next frame processed counts as the first).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// The values last applied.
    pub fn current(&self) -> &[f32; N] {
        &self.current
    }

    /// Whether every parameter is constant over the block and equal to the value applied: no
    /// control-rate change is pending, so skipping the node's next silent blocks is exact.
    #[inline]
    pub fn settled(&self, cx: &ProcessContext<'_>) -> bool {
        self.started
            && (0..N).all(|i| {
                let p = cx.param(i);
                p.is_const() && p.at(0) == self.current[i]
            })
    }

    /// The next period of the block from frame `*at` on, advancing `*at` past it; `None` at the
    /// end of the block. A period ends at the next control frame while a parameter moves or
    /// differs from the value applied, else at the end of the block; and always at a flush
    /// frame. Never allocates.
    #[inline]
    pub fn next(&mut self, cx: &ProcessContext<'_>, at: &mut usize) -> Option<Period<N>> {
        self.next_every(cx, at, FLUSH_FRAMES)
    }

    /// [`Self::next`], with flush frames every `flush_frames` song frames instead of
    /// [`FLUSH_FRAMES`] (a multiple of [`CONTROL_FRAMES`]).
    #[inline]
    pub fn next_every(
        &mut self,
        cx: &ProcessContext<'_>,
        at: &mut usize,
        flush_frames: u64,
    ) -> Option<Period<N>> {
        let frames = cx.frames;
        let o = *at;
        if o >= frames {
            return None;
        }
        let pos = cx.transport.position + o as u64;
        let first = !self.started;
        let change = if first || pos % CONTROL_FRAMES == 0 {
            let v: [f32; N] = std::array::from_fn(|i| cx.param(i).at(o));
            if first || v != self.current {
                self.current = v;
                self.started = true;
                Some(v)
            } else {
                None
            }
        } else {
            None
        };
        let left = frames - o;
        let mut len = if self.settled(cx) {
            left
        } else {
            (CONTROL_FRAMES - pos % CONTROL_FRAMES) as usize
        };
        let to_flush = (flush_frames - pos % flush_frames) as usize;
        len = len.min(to_flush).min(left);
        *at = o + len;
        Some(Period {
            frames: o..o + len,
            change,
            first,
            flush: len == to_flush,
        })
    }
}

/// Channels `r` of planar input `chans`, without allocating: a fixed array and its length.
#[inline]
pub fn sub_in<'a>(chans: &[&'a [f32]], r: Range<usize>) -> ([&'a [f32]; MAX_CHANNELS], usize) {
    let mut out: [&[f32]; MAX_CHANNELS] = [&[]; MAX_CHANNELS];
    for (o, c) in out.iter_mut().zip(chans) {
        *o = &c[r.clone()];
    }
    (out, chans.len().min(MAX_CHANNELS))
}

/// Channels `r` of planar output `chans`, without allocating: a fixed array and its length.
#[inline]
pub fn sub_out<'a>(
    chans: &'a mut [&mut [f32]],
    r: Range<usize>,
) -> ([&'a mut [f32]; MAX_CHANNELS], usize) {
    let n = chans.len().min(MAX_CHANNELS);
    let mut out: [&mut [f32]; MAX_CHANNELS] = Default::default();
    for (o, c) in out.iter_mut().zip(chans.iter_mut()) {
        *o = &mut c[r.clone()];
    }
    (out, n)
}

/// `Silent` when the input is silent, every output sample is exactly zero and `at_rest` says
/// the node's state is at rest (all memories exactly zero, no gain reduction, ramp or
/// parameter change pending: processing more silence would change nothing, so the processor
/// may skip the node), else `Continue`. `at_rest` is only asked when the rest holds.
#[inline]
pub fn exact_silence(cx: &ProcessContext<'_>, at_rest: impl FnOnce() -> bool) -> ProcessStatus {
    if cx.input_silent && cx.outputs.iter().all(|o| o.iter().all(|x| *x == 0.0)) && at_rest() {
        ProcessStatus::Silent
    } else {
        ProcessStatus::Continue
    }
}

/// Consecutive frames of silent input a node has seen (by the processor's silence flags: a
/// lower bound of the true count, whatever the block size), to know when a delay line inside
/// it holds only zeros.
#[derive(Clone, Copy, Debug, Default)]
pub struct QuietRun(u64);

impl QuietRun {
    /// Counts this block's frames if its input is silent, else starts over; returns the count.
    #[inline]
    pub fn update(&mut self, cx: &ProcessContext<'_>) -> u64 {
        self.0 = if cx.input_silent {
            self.0.saturating_add(cx.frames as u64)
        } else {
            0
        };
        self.0
    }

    /// Starts over (a reset).
    pub fn clear(&mut self) {
        self.0 = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{ParamValue, Transport};

    fn periods<const N: usize>(
        c: &mut ControlParams<N>,
        params: &[ParamValue<'_>],
        position: u64,
        frames: usize,
    ) -> Vec<Period<N>> {
        let mut outs: [&mut [f32]; 0] = [];
        let cx = ProcessContext {
            frames,
            inputs: [&[], &[]],
            outputs: &mut outs,
            params,
            transport: Transport {
                position,
                sample_rate: 48000.0,
                playing: true,
            },
            input_silent: true,
        };
        let mut at = 0;
        let mut v = Vec::new();
        while let Some(p) = c.next(&cx, &mut at) {
            v.push(p);
        }
        v
    }

    #[test]
    fn constant_parameters_make_one_period_cut_only_at_flush_frames() {
        let mut c = ControlParams::<1>::default();
        let p = periods(&mut c, &[ParamValue::Const(3.0)], 0, 2048);
        let r: Vec<_> = p.iter().map(|p| p.frames.clone()).collect();
        assert_eq!(r, vec![0..2048], "a steady full block is one period");
        assert!(p[0].first && p[0].change == Some([3.0]) && p[0].flush);
        let p = periods(
            &mut c,
            &[ParamValue::Const(3.0)],
            2 * FLUSH_FRAMES - 12,
            100,
        );
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].frames.clone(), p[0].flush), (0..12, true));
        assert_eq!((p[1].frames.clone(), p[1].flush), (12..100, false));
        assert!(p.iter().all(|p| p.change.is_none() && !p.first));
        // The limiters' finer grid.
        let cx_params = [ParamValue::Const(3.0)];
        let mut outs: [&mut [f32]; 0] = [];
        let cx = ProcessContext {
            frames: 2048,
            inputs: [&[], &[]],
            outputs: &mut outs,
            params: &cx_params,
            transport: Transport {
                position: 0,
                sample_rate: 48000.0,
                playing: true,
            },
            input_silent: true,
        };
        let (mut at, mut r) = (0, Vec::new());
        while let Some(p) = c.next_every(&cx, &mut at, WINDOW_FRAMES) {
            assert!(p.flush);
            r.push(p.frames);
        }
        assert_eq!(r, [0..512, 512..1024, 1024..1536, 1536..2048]);
    }

    #[test]
    fn moving_parameters_apply_on_the_song_grid() {
        let mut c = ControlParams::<1>::default();
        let v: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let p = periods(&mut c, &[ParamValue::Varying(&v)], 10, 40);
        let r: Vec<_> = p.iter().map(|p| p.frames.clone()).collect();
        assert_eq!(r, [0..6, 6..22, 22..38, 38..40]);
        // first frame, then song frames 16, 32, 48: block frames 6, 22, 38
        let ch: Vec<_> = p.iter().map(|p| p.change).collect();
        assert_eq!(ch, [Some([0.0]), Some([6.0]), Some([22.0]), Some([38.0])]);
        // the value applied last is 38 (frame 39's 39 waits for the next control frame)
        assert!(c.settled_with(&[ParamValue::Const(38.0)]));
        assert!(!c.settled_with(&[ParamValue::Const(39.0)]));
    }

    impl<const N: usize> ControlParams<N> {
        fn settled_with(&self, params: &[ParamValue<'_>]) -> bool {
            let mut outs: [&mut [f32]; 0] = [];
            let cx = ProcessContext {
                frames: 1,
                inputs: [&[], &[]],
                outputs: &mut outs,
                params,
                transport: Transport::default(),
                input_silent: true,
            };
            self.settled(&cx)
        }
    }

    #[test]
    fn a_value_reached_between_control_frames_is_applied_at_the_next_one() {
        let mut c = ControlParams::<1>::default();
        periods(&mut c, &[ParamValue::Const(1.0)], 0, 16);
        // a set at song frame 20 (block of 8 from 16): applied at 32
        let v = [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0];
        let p = periods(&mut c, &[ParamValue::Varying(&v)], 16, 8);
        assert!(p.iter().all(|p| p.change.is_none()));
        assert!(!c.settled_with(&[ParamValue::Const(2.0)]));
        let p = periods(&mut c, &[ParamValue::Const(2.0)], 24, 16);
        let r: Vec<_> = p.iter().map(|p| (p.frames.clone(), p.change)).collect();
        assert_eq!(r, [(0..8, None), (8..16, Some([2.0]))]);
        assert!(c.settled_with(&[ParamValue::Const(2.0)]));
    }
}
