//! The node catalogue, one node per file.

pub mod clip;
pub mod delay;
pub mod gain;
pub mod meter;
pub mod mute;
pub mod pan;
pub mod player;
pub mod polarity;
pub mod sum;

pub use clip::Clip;
pub use delay::{Delay, DelayTime};
pub use gain::Gain;
pub use meter::{Meter, MeterReadings};
pub use mute::Mute;
pub use pan::Pan;
pub use player::{Placement, Player};
pub use polarity::Polarity;
pub use sum::Sum;
pub mod catalogue;
pub mod generators;
pub mod compressor;
pub mod eq;
pub mod filter;
pub mod limiter;
pub mod loudness;
pub mod gate;
