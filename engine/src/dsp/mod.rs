//! Pure DSP building blocks, independent of the graph: filters, dynamics, meters, generators.
//! Nodes in [`crate::nodes`] wrap them.

pub mod biquad;
pub mod crossover;
pub mod delay_line;
pub mod dynamics;
pub mod echo;
pub mod limiter;
pub mod envelope;
pub mod noise;
pub mod osc;
pub mod pattern;
pub mod reverb;
pub mod saturation;
pub mod stereo;
pub mod voice;
pub mod denormal;
pub mod loudness;
pub mod true_peak;
