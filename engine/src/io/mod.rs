//! Audio files and devices: [`decode`] reads every supported format (WAV, FLAC, MP3, Ogg Vorbis)
//! with clear errors, [`resample`] converts a file's rate to the session's, [`wav`] streams WAV
//! directly (RF64 too, [`riff`]); [`sink`] writes renders as WAV ([`wav_write`]: BWF loudness,
//! RF64 past 4 GiB) or FLAC ([`flac_write`]: ReplayGain tags); [`output`] writes files safely
//! (confined, temporary name, renamed when complete); [`signals`] cleans up on SIGINT/SIGTERM.

pub mod callback;
pub mod decode;
pub mod flac_write;
pub mod output;
pub mod playback;
pub mod resample;
pub mod riff;
pub mod signals;
pub mod sink;
pub mod wav;
pub mod wav_write;

use std::fs::File;
use std::path::Path;

use crate::error::{Error, ErrorKind};

/// Opens `path` for reading if it is a regular file. A FIFO, device or folder is refused
/// without blocking (the open is non-blocking and the type checked on the open descriptor, so a
/// file swapped for a FIFO in between is caught too).
pub fn open_regular(path: &Path) -> Result<File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::io(path, "file not found")
            } else {
                Error::io(path, format!("cannot open: {e}"))
            }
        })?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "{}: not a regular file (a folder, FIFO or device); only audio files can be read",
                path.display()
            ),
        ));
    }
    // SAFETY: fcntl on a descriptor this function owns.
    unsafe {
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

/// Refuses sample rates mixdown does not read (below 8 kHz, above 768 kHz, or none at all).
pub fn check_sample_rate(path: &Path, rate: u32) -> Result<(), Error> {
    let (lo, hi) = (decode::MIN_SAMPLE_RATE, decode::MAX_SAMPLE_RATE);
    if (lo..=hi).contains(&rate) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Format,
            format!(
                "{}: sample rate {rate} Hz is not supported; mixdown reads files from {lo} Hz to {hi} Hz",
                path.display()
            ),
        ))
    }
}
