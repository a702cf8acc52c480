//! Audio files and devices: [`decode`] reads every supported format (WAV, FLAC, MP3, Ogg Vorbis)
//! with clear errors, [`resample`] converts a file's rate to the session's, [`wav`] streams WAV
//! directly and writes renders, [`output`] writes files safely (confined, temporary name,
//! renamed when complete), [`signals`] cleans up on SIGINT/SIGTERM.

pub mod decode;
pub mod output;
pub mod playback;
pub mod resample;
pub mod signals;
pub mod wav;
