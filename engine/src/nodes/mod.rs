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
pub mod compressor;
pub mod deess;
pub mod echo;
pub mod eq;
pub mod filter;
pub mod gate;
pub mod generators;
pub mod limiter;
pub mod loudness;
pub mod multiband;
pub mod reverb;
pub mod saturate;
pub mod width;

/// `Silent` once the input is silent and the node's output has decayed below −180 dBFS, else
/// `Continue`: for nodes with short internal memories (filters, oversamplers).
pub fn quiet_status(cx: &crate::node::ProcessContext<'_>) -> crate::node::ProcessStatus {
    if cx.input_silent && cx.outputs.iter().all(|o| o.iter().all(|x| x.abs() < 1e-9)) {
        crate::node::ProcessStatus::Silent
    } else {
        crate::node::ProcessStatus::Continue
    }
}
