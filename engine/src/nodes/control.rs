//! How nodes follow their parameters so that the output never depends on the block size.
//!
//! Parameters arrive evaluated per frame ([`crate::node::ParamValue`]): automation and glides
//! are sample-accurate in the values themselves. Nodes use them in one of two ways:
//! - **audio rate**: applied frame by frame (gains, pans, mutes, polarity, generator levels and
//!   frequencies, the delay line's gain);
//! - **control rate**: anything that costs a computation to apply (filter coefficients,
//!   compressor and gate settings, the limiter's ceiling, the effects' settings) is applied at
//!   the first frame a node processes and then at every frame of the song whose position is a
//!   multiple of [`CONTROL_FRAMES`], from the parameter's value at that frame — never at block
//!   boundaries, which move with the block size. [`ControlParams`] walks a block in those
//!   periods; the node processes each period with the settings that apply to it.
//!
//! A node reports [`ProcessStatus::Silent`] only when processing more silence would change
//! neither its output nor its state ([`exact_silence`]), so that skipping it is exact.

use std::ops::Range;

use crate::buffer::MAX_CHANNELS;
use crate::node::{ProcessContext, ProcessStatus};

/// Frames between control-rate updates, on the song's timeline (0.33 ms at 48 kHz).
pub const CONTROL_FRAMES: u64 = 16;

/// The values of a node's first `N` parameters last applied, and the walk through a block's
/// control periods.
#[derive(Clone, Debug)]
pub struct ControlParams<const N: usize> {
    current: [f32; N],
}

impl<const N: usize> Default for ControlParams<N> {
    fn default() -> Self {
        Self {
            current: [f32::NAN; N],
        }
    }
}

/// What [`ControlParams::next`] yields: the frames of one period and, when the settings change
/// at its first frame, the new values and whether they are the first ever applied.
pub type Period<const N: usize> = (Range<usize>, Option<([f32; N], bool)>);

impl<const N: usize> ControlParams<N> {
    /// Forgets the values applied (the next frame processed counts as the first).
    pub fn clear(&mut self) {
        self.current = [f32::NAN; N];
    }

    /// The values last applied.
    pub fn current(&self) -> &[f32; N] {
        &self.current
    }

    /// The next period of the block from frame `*at` on, advancing `*at` past it; `None` at the
    /// end of the block. A period runs to the next control frame, or to the end of the block
    /// when every parameter is constant and already applied. Never allocates.
    #[inline]
    pub fn next(&mut self, cx: &ProcessContext<'_>, at: &mut usize) -> Option<Period<N>> {
        let frames = cx.frames;
        let o = *at;
        if o >= frames {
            return None;
        }
        let pos = cx.transport.position + o as u64;
        let first = self.current[0].is_nan() && N > 0;
        let change = if first || pos % CONTROL_FRAMES == 0 {
            let v: [f32; N] = std::array::from_fn(|i| cx.param(i).at(o));
            if first || v != self.current {
                self.current = v;
                Some((v, first))
            } else {
                None
            }
        } else {
            None
        };
        let settled = (0..N).all(|i| {
            let p = cx.param(i);
            p.is_const() && p.at(0) == self.current[i]
        });
        let end = if settled {
            frames
        } else {
            let to_grid = (CONTROL_FRAMES - pos % CONTROL_FRAMES) as usize;
            (o + to_grid).min(frames)
        };
        *at = end;
        Some((o..end, change))
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

/// `Silent` when the input is silent, every output sample is exactly zero and the node says
/// its state is at rest (all memories exactly zero, no gain reduction pending: processing
/// more silence would change nothing, so the processor may skip the node), else `Continue`.
/// Denormals are flushed, so decaying filter memories reach exactly zero.
#[inline]
pub fn exact_silence(cx: &ProcessContext<'_>, at_rest: bool) -> ProcessStatus {
    if at_rest && cx.input_silent && cx.outputs.iter().all(|o| o.iter().all(|x| *x == 0.0)) {
        ProcessStatus::Silent
    } else {
        ProcessStatus::Continue
    }
}
