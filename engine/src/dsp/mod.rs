//! Pure DSP building blocks, independent of the graph: filters, dynamics, meters, generators.
//! Nodes in [`crate::nodes`] wrap them.

pub mod delay_line;
pub mod denormal;
pub mod loudness;
pub mod true_peak;
