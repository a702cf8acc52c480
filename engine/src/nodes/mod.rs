//! The node catalogue, one node per file.

pub mod clip;
pub mod control;
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

/// Every node kind scripts and deserialised graphs may use: the registry
/// ([`crate::registry`]). Inserts appear in this order in the docs.
pub static KINDS: &[&crate::registry::NodeKind] = &[
    &eq::KIND,
    &filter::HIGHPASS_KIND,
    &filter::LOWPASS_KIND,
    &compressor::KIND,
    &gate::KIND,
    &deess::KIND,
    &limiter::KIND,
    &loudness::KIND,
    &echo::KIND,
    &delay::KIND,
    &reverb::KIND,
    &saturate::KIND,
    &width::KIND,
    &multiband::KIND,
    &gain::KIND,
    &polarity::KIND,
    &mute::KIND,
    &meter::KIND,
    &generators::OSC_KIND,
    &generators::NOISE_KIND,
    &generators::DRUM_KIND,
    &generators::SYNTH_KIND,
    &player::KIND,
    &sum::KIND,
    &pan::KIND,
    &crate::plugin::node::KIND,
];

/// Hidden option of the wet/dry effects: whether the effect sits on a track (`"track"`: its dry
/// signal stays, the effect is mixed in) or on a bus (`"bus"`: wet only, the usual send
/// return). Set by the script layer from the strip it is inserted on.
pub const PLACEMENT: crate::registry::OptionDesc = crate::registry::OptionDesc::choice(
    "on",
    &["track", "bus"],
    crate::registry::OptDefault::Text("bus"),
    "where the effect is inserted",
)
.hidden();

/// The wet/dry defaults of an effect by placement: on a track dry 1 and `track_wet`; on a bus
/// the declared defaults (wet 1, dry 0).
pub fn placement_defaults(
    c: &crate::registry::Config,
    wet: usize,
    dry: usize,
    track_wet: f32,
) -> Vec<(usize, f32)> {
    if c.text("on") == Some("track") {
        vec![(wet, track_wet), (dry, 1.0)]
    } else {
        Vec::new()
    }
}
