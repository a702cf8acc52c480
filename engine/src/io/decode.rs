//! Reading every supported audio file: WAV (8/16/24/32-bit integer, 32/64-bit float), FLAC,
//! MP3 and Ogg Vorbis, decoded with [symphonia](https://docs.rs/symphonia) (plain integer and
//! 32-bit float WAV take a faster direct path through [`crate::io::wav`]).
//!
//! - [`probe_audio`] checks a file and says what it holds ([`AudioInfo`]). Compressed files (and
//!   WAVs the direct path does not read) are decoded once from end to end, so a corrupt or
//!   truncated file is reported up front — naming the path, what was wrong and where (frame and
//!   second) — and the frame count is exact, MP3 included. The result is cached per path, size
//!   and modification time, so a live reload does not decode unchanged files again.
//! - [`Decoder`] streams interleaved f32 frames at the file's own rate, in chunks, with
//!   [`Decoder::seek`] to any frame. Live, it runs on a reader thread, never on the audio thread.
//! - [`crate::io::resample::AudioStream`] puts a [`Decoder`] behind a resampler when the file's
//!   rate differs from the session's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::Timestamp;

use crate::error::{Error, ErrorKind};
use crate::io::wav::{self, WavInfo, WavStream};

/// What an audio file holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AudioInfo {
    /// Path as given to [`probe_audio`].
    pub path: PathBuf,
    /// Channel count (1 to [`crate::buffer::MAX_CHANNELS`]).
    pub channels: usize,
    /// The file's own frames per second.
    pub sample_rate: u32,
    /// Frames in the file at its own rate. Exact for every format: [`probe_audio`] decodes
    /// compressed files once to count them (an MP3's header alone gives only an estimate).
    pub frames: u64,
    /// Short codec name: `"pcm"` (WAV), `"flac"`, `"mp3"`, `"vorbis"`.
    pub codec: String,
    /// Set when the file is a WAV the direct (non-symphonia) reader streams.
    pub wav: Option<WavInfo>,
}

impl AudioInfo {
    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames as f64 / self.sample_rate as f64
    }
}

impl From<WavInfo> for AudioInfo {
    fn from(w: WavInfo) -> Self {
        Self {
            path: w.path.clone(),
            channels: w.channels,
            sample_rate: w.sample_rate,
            frames: w.frames,
            codec: "pcm".into(),
            wav: Some(w),
        }
    }
}

fn format_err(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Format, format!("{}: {what}", path.display()))
}

const SUPPORTED: &str = "mixdown reads WAV, FLAC, MP3 and Ogg Vorbis";

fn has_riff_header(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 12];
    super::open_regular(path)
        .ok()
        .and_then(|mut f| f.read_exact(&mut head).ok())
        .is_some()
        && &head[..4] == b"RIFF"
        && &head[8..] == b"WAVE"
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

type CacheKey = (PathBuf, u64, Option<std::time::SystemTime>);

fn cache() -> &'static Mutex<HashMap<CacheKey, AudioInfo>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, AudioInfo>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Every cached probe whose file is unchanged, with its stamp (sent to the evaluator process so
/// a reload does not decode unchanged compressed files again).
pub fn known_probes() -> Vec<(String, AudioInfo)> {
    let Ok(c) = cache().lock() else {
        return Vec::new();
    };
    c.iter()
        .filter(|((p, len, t), _)| {
            std::fs::metadata(p).is_ok_and(|m| m.len() == *len && m.modified().ok() == *t)
        })
        .map(|((p, _, _), info)| (file_stamp(p), info.clone()))
        .collect()
}

/// Caches a probe made elsewhere (the evaluator process, or the parent for the child). Only
/// plausible results of compressed files are kept (a WAV's header is re-read in no time, and
/// its layout must come from this process's own reading); the decoders check channels and rate
/// again when they open the file.
pub fn remember_probe(info: AudioInfo) {
    let plausible = (1..=crate::buffer::MAX_CHANNELS).contains(&info.channels)
        && (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&info.sample_rate)
        && info.frames > 0
        && info.wav.is_none()
        && !has_riff_header(&info.path);
    if !plausible {
        return;
    }
    let Ok(meta) = std::fs::metadata(&info.path) else {
        return;
    };
    let key = (info.path.clone(), meta.len(), meta.modified().ok());
    if let Ok(mut c) = cache().lock() {
        if c.len() > 4096 {
            c.clear();
        }
        c.insert(key, info);
    }
}

/// Lowest sample rate of an audio file mixdown reads.
pub const MIN_SAMPLE_RATE: u32 = 8000;
/// Highest sample rate of an audio file mixdown reads.
pub const MAX_SAMPLE_RATE: u32 = 768_000;

/// The identity of a file's contents as far as the file system tells: size and modification
/// time (`"size:mtime_ns"`). A node reading a file whose stamp changed is a new node on reload.
pub fn file_stamp(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{t}", m.len())
        }
        Err(_) => String::new(),
    }
}

/// Opens `path`, finds out what it holds (by content; the extension is only a hint) and checks
/// that it decodes. Every failure names the path and says what was wrong: not found, not audio,
/// an unsupported codec, corrupt data at frame/second N, truncated.
pub fn probe_audio(path: &Path) -> Result<AudioInfo, Error> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            "file not found".to_string()
        } else {
            format!("cannot open: {e}")
        };
        Error::io(path, what)
    })?;
    if meta.is_dir() {
        return Err(Error::io(path, "is a folder, not an audio file"));
    }
    if !meta.is_file() {
        return Err(Error::io(
            path,
            "not a regular file (a FIFO or device); only audio files can be read",
        ));
    }
    let key = (path.to_path_buf(), meta.len(), meta.modified().ok());
    if let Some(hit) = cache().lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(hit);
    }
    let info = probe_uncached(path)?;
    if let Ok(mut c) = cache().lock() {
        if c.len() > 4096 {
            c.clear();
        }
        c.insert(key, info.clone());
    }
    Ok(info)
}

fn probe_uncached(path: &Path) -> Result<AudioInfo, Error> {
    let ext = extension(path);
    if has_riff_header(path) || ext.as_deref() == Some("wav") {
        match wav::probe(path) {
            Ok(w) => return Ok(w.into()),
            // Encodings the direct reader refuses (64-bit float, ...) may still decode below;
            // every other WAV problem (truncated, not a WAV, empty) is reported as it is.
            Err(e) if e.message.contains("unsupported") && has_riff_header(path) => {
                return probe_symphonia(path).map_err(|se| {
                    if se.message.contains("unsupported codec") {
                        e
                    } else {
                        se
                    }
                })
            }
            // Named .wav but something else inside (FLAC, MP3, ...): read it by content if
            // symphonia knows it, else keep the WAV reader's message.
            Err(e) if !has_riff_header(path) => return probe_symphonia(path).map_err(|_| e),
            Err(e) => return Err(e),
        }
    }
    probe_symphonia(path)
}

fn probe_symphonia(path: &Path) -> Result<AudioInfo, Error> {
    let mut d = guarded(path, || SymDecoder::open(path, true))?;
    let mut info = d.info.clone();
    // Decode everything once: catches corrupt and truncated data now rather than mid-render,
    // and counts the frames exactly.
    let mut buf = vec![0f32; 4096 * info.channels];
    let mut frames = 0u64;
    loop {
        let n = guarded(path, || d.read(&mut buf))?;
        if n == 0 {
            break;
        }
        frames += n as u64;
    }
    if d.verify_failed() {
        return Err(format_err(
            path,
            "corrupt data: the decoded audio does not match the checksum stored in the file",
        ));
    }
    if let Some(promised) = d.header_frames {
        // A header count a little above what decodes is encoder padding accounting; a big gap
        // means the file was cut short.
        let slack = (info.sample_rate as u64 / 10).max(4096);
        if frames + slack < promised {
            return Err(format_err(
                path,
                format!(
                    "truncated: the header promises {promised} frames ({:.3} s) but the audio \
                     ends at frame {frames} ({:.3} s)",
                    promised as f64 / info.sample_rate as f64,
                    frames as f64 / info.sample_rate as f64
                ),
            ));
        }
    }
    if frames == 0 {
        return Err(format_err(path, "the file holds no audio (0 frames)"));
    }
    info.frames = frames;
    Ok(info)
}

thread_local! {
    static QUIET: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs a call into the format decoders. A panic inside them (a hostile or corrupt file can
/// trigger one in symphonia) becomes a clear error naming the file, and prints nothing.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) == 0 {
                default(info);
            }
        }));
    });
    QUIET.with(|q| q.set(q.get() + 1));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    r.unwrap_or_else(|_| {
        Err(format_err(
            path,
            "corrupt data: the decoder could not make sense of the file",
        ))
    })
}

/// Streams interleaved f32 frames of a probed file at the file's own rate.
pub struct Decoder {
    inner: Inner,
    channels: usize,
    /// Frames in the file (as probed) and the position of the next frame read.
    frames: u64,
    pos: u64,
}

enum Inner {
    Wav(WavStream),
    Sym(Box<SymDecoder>),
}

impl Decoder {
    /// Opens a file [`probe_audio`] accepted, positioned at frame 0.
    pub fn open(info: &AudioInfo) -> Result<Self, Error> {
        let inner = match &info.wav {
            Some(w) => Inner::Wav(WavStream::open(w)?),
            None => Inner::Sym(Box::new(guarded(&info.path, || {
                SymDecoder::open(&info.path, false)
            })?)),
        };
        Ok(Self {
            inner,
            channels: info.channels,
            frames: info.frames,
            pos: 0,
        })
    }

    /// Channel count.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Moves to `frame` (at the file's rate). Sample-accurate for every format.
    pub fn seek(&mut self, frame: u64) -> Result<(), Error> {
        self.pos = frame.min(self.frames);
        if frame >= self.frames {
            return Ok(());
        }
        match &mut self.inner {
            Inner::Wav(w) => w.seek(frame),
            Inner::Sym(s) => {
                let path = s.info.path.clone();
                guarded(&path, || s.seek(frame))
            }
        }
    }

    /// Fills `out` (interleaved; its length a multiple of the channel count) and returns the
    /// frames written, fewer than asked only at the end of the file (0 once it has ended).
    /// Never reads past the probed length.
    pub fn read(&mut self, out: &mut [f32]) -> Result<usize, Error> {
        let left = (self.frames - self.pos) as usize;
        let want = (out.len() / self.channels).min(left);
        let out = &mut out[..want * self.channels];
        if out.is_empty() {
            return Ok(0);
        }
        let n = match &mut self.inner {
            Inner::Wav(w) => w.read(out)?,
            Inner::Sym(s) => {
                let path = s.info.path.clone();
                guarded(&path, || s.read(out))?
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// Reads a whole file into planar buffers at its own rate (tests, measurement of short files).
pub fn read_all_audio(path: &Path) -> Result<(AudioInfo, Vec<Vec<f32>>), Error> {
    let info = probe_audio(path)?;
    let ch = info.channels;
    let mut planar = vec![Vec::with_capacity(info.frames as usize); ch];
    let mut d = Decoder::open(&info)?;
    let mut buf = vec![0f32; 8192 * ch];
    loop {
        let n = d.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for frame in buf[..n * ch].chunks_exact(ch) {
            for (c, x) in frame.iter().enumerate() {
                planar[c].push(*x);
            }
        }
    }
    Ok((info, planar))
}

/// Frames decoded before the target of a seek in a lossy stream, so the decoder's state is
/// rebuilt (MP3: overlap and bit reservoir of the previous frames; Vorbis: the previous block).
const LOSSY_PREROLL: u64 = 8192;

/// A symphonia format reader and decoder over one file.
struct SymDecoder {
    path: PathBuf,
    info: AudioInfo,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track: u32,
    /// Timestamp of the first frame, and the time base as (numerator, denominator) when it is
    /// not 1/sample_rate.
    start_ts: i64,
    time_base: Option<(u64, u64)>,
    /// The container's own frame count, if it states one.
    header_frames: Option<u64>,
    pending: Vec<f32>,
    pending_off: usize,
    /// Frame index (file rate) of the next frame `read` returns.
    pos: u64,
    /// After a seek: the frame wanted; earlier decoded frames are dropped.
    seek_target: Option<u64>,
    ended: bool,
    verify: bool,
    verify_failed: bool,
    /// What packet timestamps read minus the frame index they decode to (see `next_buffer`).
    pts_offset: Option<i64>,
}

impl SymDecoder {
    fn open(path: &Path, verify: bool) -> Result<Self, Error> {
        let file = super::open_regular(path)?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = extension(path) {
            hint.with_extension(&ext);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| match e {
                SymError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                    format_err(
                        path,
                        "truncated: the file ends unexpectedly (while its header and stream \
                         layout were read)",
                    )
                }
                SymError::Unsupported(_) => format_err(
                    path,
                    format!("not an audio file mixdown can read (no known audio format found); {SUPPORTED}"),
                ),
                other => format_err(path, format!("not a readable audio file ({other}); {SUPPORTED}")),
            })?;
        let Some(track) = format.default_track(TrackType::Audio) else {
            return Err(format_err(
                path,
                format!("holds no audio track; {SUPPORTED}"),
            ));
        };
        let Some(params) = track.codec_params.as_ref().and_then(|p| p.audio()) else {
            return Err(format_err(
                path,
                format!(
                    "unsupported codec in a {} container; {SUPPORTED}",
                    format.format_info().short_name
                ),
            ));
        };
        let params = params.clone();
        let (track_id, start_ts, num_frames) = (track.id, track.start_ts.get(), track.num_frames);
        let time_base = track.time_base;
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default().verify(verify))
            .map_err(|e| {
                format_err(
                    path,
                    format!(
                        "unsupported codec (id {}) in a {} container ({e}); mixdown decodes PCM \
                         WAV, FLAC, MP3 and Ogg Vorbis",
                        params.codec,
                        format.format_info().short_name
                    ),
                )
            })?;
        let codec = decoder.codec_info().short_name.to_string();
        let channels = params
            .channels
            .as_ref()
            .map(|c| c.count())
            .or_else(|| decoder.codec_params().channels.as_ref().map(|c| c.count()))
            .unwrap_or(0);
        let Some(sample_rate) = params
            .sample_rate
            .or(decoder.codec_params().sample_rate)
            .filter(|&r| r > 0)
        else {
            return Err(format_err(path, "the file does not state its sample rate"));
        };
        super::check_sample_rate(path, sample_rate)?;
        if channels == 0 || channels > crate::buffer::MAX_CHANNELS {
            return Err(format_err(
                path,
                format!(
                    "{channels} channels; 1 to {} are supported",
                    crate::buffer::MAX_CHANNELS
                ),
            ));
        }
        let time_base = time_base
            .map(|tb| (u64::from(tb.numer.get()), u64::from(tb.denom.get())))
            .filter(|&(n, d)| !(n == 1 && d == u64::from(sample_rate)));
        let info = AudioInfo {
            path: path.to_path_buf(),
            channels,
            sample_rate,
            frames: num_frames.unwrap_or(0),
            codec,
            wav: None,
        };
        Ok(Self {
            path: path.to_path_buf(),
            info,
            format,
            decoder,
            track: track_id,
            start_ts,
            time_base,
            header_frames: num_frames,
            pending: Vec::new(),
            pending_off: 0,
            pos: 0,
            seek_target: None,
            ended: false,
            verify,
            verify_failed: false,
            pts_offset: None,
        })
        .and_then(|mut d: Self| {
            // Decode the first packet now, so the timestamp offset is known before any seek.
            d.next_buffer()?;
            Ok(d)
        })
    }

    fn verify_failed(&self) -> bool {
        self.verify_failed
    }

    /// Timestamp (track time base) to a frame index.
    fn ts_to_frame(&self, ts: i64) -> i64 {
        let rel = ts - self.start_ts;
        match self.time_base {
            None => rel,
            Some((n, d)) => {
                ((rel as i128 * n as i128 * self.info.sample_rate as i128) / d as i128) as i64
            }
        }
    }

    /// A duration in time-base units to frames.
    fn ts_to_frame_delta(&self, d: u64) -> i64 {
        match self.time_base {
            None => d as i64,
            Some((n, den)) => {
                ((d as i128 * n as i128 * self.info.sample_rate as i128) / den as i128) as i64
            }
        }
    }

    fn frame_to_ts(&self, frame: u64) -> i64 {
        let f = frame as i128;
        let rel = match self.time_base {
            None => f,
            Some((n, d)) => f * d as i128 / (n as i128 * self.info.sample_rate as i128),
        };
        rel as i64 + self.start_ts
    }

    fn secs(&self, frame: u64) -> f64 {
        frame as f64 / self.info.sample_rate as f64
    }

    fn corrupt(&self, e: &SymError) -> Error {
        let at = self.pos;
        match e {
            SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => format_err(
                &self.path,
                format!(
                    "truncated: the file ends in the middle of the audio, at frame {at} ({:.3} s)",
                    self.secs(at)
                ),
            ),
            other => format_err(
                &self.path,
                format!(
                    "corrupt data at frame {at} ({:.3} s): {other}",
                    self.secs(at)
                ),
            ),
        }
    }

    fn seek(&mut self, frame: u64) -> Result<(), Error> {
        if frame == self.pos && self.seek_target.is_none() {
            return Ok(());
        }
        self.pending.clear();
        self.pending_off = 0;
        self.ended = false;
        let offset = if self.time_base.is_none() {
            self.pts_offset.unwrap_or(0)
        } else {
            0
        };
        // Lossy codecs rebuild their state (overlap, bit reservoir) from the packets before the
        // wanted one: start a little earlier and drop the frames decoded before `frame`.
        let lossless = self.info.codec == "flac" || self.info.codec.starts_with("pcm");
        let from = if lossless {
            frame
        } else {
            frame.saturating_sub(LOSSY_PREROLL)
        };
        let r = self.format.seek(
            SeekMode::Accurate,
            SeekTo::Timestamp {
                ts: Timestamp::new(self.frame_to_ts(from) + offset),
                track_id: self.track,
            },
        );
        self.decoder.reset();
        match r {
            Ok(_) => {
                self.seek_target = Some(frame);
                self.pos = frame;
                Ok(())
            }
            Err(SymError::SeekError(_)) => {
                // Past the end (or unseekable): nothing more to play from there.
                self.ended = true;
                self.pos = frame;
                Ok(())
            }
            Err(e) => Err(self.corrupt(&e)),
        }
    }

    /// Decodes the next packet into `pending`; sets `ended` at the end of the stream.
    fn next_buffer(&mut self) -> Result<(), Error> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) | Err(SymError::ResetRequired) => {
                    self.ended = true;
                    if self.verify {
                        let r = self.decoder.finalize();
                        self.verify_failed = r.verify_ok == Some(false);
                    }
                    return Ok(());
                }
                Err(e) => return Err(self.corrupt(&e)),
            };
            if packet.track_id != self.track {
                continue;
            }
            // Frame index of the first frame this packet decodes to. Formats differ in what a
            // packet's timestamp marks (Vorbis: one short block ahead of the audio); the offset
            // learnt from the first packet at the start of the file corrects for it.
            let mut first = self.ts_to_frame(packet.pts.get())
                + self.ts_to_frame_delta(packet.trim_start.get())
                - self.pts_offset.unwrap_or(0);
            if self.verify
                && self.pts_offset.is_some()
                && self.seek_target.is_none()
                && first > self.pos as i64
            {
                // The demuxer skipped data it could not parse (it resynchronises on the next
                // good frame): the audio between is lost.
                return Err(format_err(
                    &self.path,
                    format!(
                        "corrupt data at frame {} ({:.3} s): {} frames ({:.3} s) could not be \
                         decoded",
                        self.pos,
                        self.secs(self.pos),
                        first as u64 - self.pos,
                        self.secs(first as u64 - self.pos)
                    ),
                ));
            }
            let buf = match self.decoder.decode(&packet) {
                Ok(b) => b,
                Err(e) => return Err(self.corrupt(&e)),
            };
            let n = buf.frames();
            if n == 0 {
                continue;
            }
            if self.pts_offset.is_none() && self.seek_target.is_none() {
                self.pts_offset = Some(first - self.pos as i64);
                first = self.pos as i64;
            }
            if buf.num_planes() != self.info.channels {
                return Err(format_err(
                    &self.path,
                    format!(
                        "the channel count changes from {} to {} at frame {} ({:.3} s)",
                        self.info.channels,
                        buf.num_planes(),
                        self.pos,
                        self.secs(self.pos)
                    ),
                ));
            }
            buf.copy_to_vec_interleaved(&mut self.pending);
            self.pending_off = 0;
            if let Some(target) = self.seek_target {
                let target = target as i64;
                if first + (n as i64) <= target {
                    continue;
                }
                let skip = (target - first).clamp(0, n as i64) as usize;
                self.pending_off = skip * self.info.channels;
                self.seek_target = None;
            }
            return Ok(());
        }
    }

    fn read(&mut self, out: &mut [f32]) -> Result<usize, Error> {
        let ch = self.info.channels;
        let want = out.len() / ch;
        let mut got = 0;
        while got < want {
            if self.pending_off < self.pending.len() {
                let n = ((self.pending.len() - self.pending_off) / ch).min(want - got);
                out[got * ch..(got + n) * ch]
                    .copy_from_slice(&self.pending[self.pending_off..self.pending_off + n * ch]);
                self.pending_off += n * ch;
                got += n;
                self.pos += n as u64;
                continue;
            }
            if self.ended {
                break;
            }
            self.next_buffer()?;
        }
        Ok(got)
    }
}
