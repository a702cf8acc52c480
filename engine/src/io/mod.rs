//! Audio files and devices: [`wav`] reads (streaming, on a reader thread) and writes WAV.

pub mod playback;
pub mod wav;
