//! Pure DSP building blocks, independent of the graph: filters, dynamics, meters, generators.
//! Nodes in [`crate::nodes`] wrap them.

pub mod adaa;
pub mod allpass;
pub mod biquad;
pub mod crossover;
pub mod delay_line;
pub mod denormal;
pub mod dynamics;
pub mod echo;
pub mod envelope;
pub mod limiter;
pub mod loudness;
pub mod noise;
pub mod osc;
pub mod pattern;
mod ramp;
pub mod reverb;
pub mod saturation;
pub mod stereo;
pub mod true_peak;
pub mod voice;

/// The planar I/O of a stereo effect: 1 or 2 inputs (a mono input feeds both sides), 1 or 2
/// outputs, and the frame count (the shortest slice). Shared by the echo and the reverb.
pub(crate) struct StereoIo<'a> {
    /// Left (or mono) input.
    pub il: &'a [f32],
    /// Right input (the left one again for a mono input).
    pub ir: &'a [f32],
    /// Left (or mono) output.
    pub ol: &'a mut [f32],
    /// Right output, if stereo.
    pub or: Option<&'a mut [f32]>,
    /// Frames to process.
    pub n: usize,
}

impl<'a> StereoIo<'a> {
    /// `None` when there is no input or no output.
    pub fn new(inputs: &[&'a [f32]], outputs: &'a mut [&mut [f32]]) -> Option<Self> {
        let il = *inputs.first()?;
        let ir = *inputs.get(1).unwrap_or(&il);
        let (ol, or): (&'a mut [f32], Option<&'a mut [f32]>) = match outputs {
            [l, r, ..] => (&mut **l, Some(&mut **r)),
            [l] => (&mut **l, None),
            [] => return None,
        };
        let n = il
            .len()
            .min(ir.len())
            .min(ol.len())
            .min(or.as_deref().map_or(usize::MAX, <[f32]>::len));
        Some(Self { il, ir, ol, or, n })
    }
}

/// The largest value of `x` (0 for an empty slice; NaN is ignored), as vector code: eight
/// running maxima side by side instead of one serial `f32::max` chain, which LLVM cannot
/// reorder (and `f32::max` adds NaN handling to every step).
#[inline]
pub fn max_of(x: &[f32]) -> f32 {
    max_by(x, |v| v)
}

/// The largest magnitude in `x` (sample peak), as vector code (see [`max_of`]).
#[inline]
pub fn max_abs(x: &[f32]) -> f32 {
    max_by(x, f32::abs)
}

#[inline(always)]
fn max_by(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut m = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for j in 0..8 {
            let v = f(c[j]);
            m[j] = if v > m[j] { v } else { m[j] };
        }
    }
    for &v in chunks.remainder() {
        let v = f(v);
        m[0] = if v > m[0] { v } else { m[0] };
    }
    m.iter().fold(0.0f32, |a, &b| if b > a { b } else { a })
}
