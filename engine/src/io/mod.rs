//! Audio files and devices: [`decode`] reads every supported format (WAV, FLAC, MP3, Ogg Vorbis)
//! with clear errors, [`resample`] converts a file's rate to the session's, [`wav`] streams WAV
//! directly and writes renders.

pub mod decode;
pub mod playback;
pub mod resample;
pub mod wav;
