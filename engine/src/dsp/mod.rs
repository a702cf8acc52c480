//! Pure DSP building blocks, independent of the graph: filters, dynamics, meters, generators.
//! Nodes in [`crate::nodes`] wrap them.

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
