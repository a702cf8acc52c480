//! WAV files through hound: probing with clear errors, streaming reads (by a player, live on its
//! reader thread), and atomic writes (temporary file, then rename) with TPDF dither.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Error, ErrorKind};

/// Sample encoding of a WAV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WavEncoding {
    /// Integer PCM of this many bits (8, 16, 24, 32).
    Int(u16),
    /// 32-bit IEEE float.
    Float32,
}

/// What a WAV file holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WavInfo {
    /// Path as opened.
    pub path: PathBuf,
    /// Channel count.
    pub channels: usize,
    /// Frames per second.
    pub sample_rate: u32,
    /// Frames in the file.
    pub frames: u64,
    /// Sample encoding.
    pub encoding: WavEncoding,
    /// Byte offset of the first sample.
    pub data_offset: u64,
}

impl WavInfo {
    fn bytes_per_sample(&self) -> usize {
        match self.encoding {
            WavEncoding::Int(b) => (b as usize).div_ceil(8),
            WavEncoding::Float32 => 4,
        }
    }
}

fn format_err(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Format, format!("{}: {what}", path.display()))
}

/// Opens `path` and checks it is a WAV this engine can stream. Every failure names the path and
/// says what was wrong: missing file, not a WAV, truncated, unsupported encoding, empty.
pub fn probe(path: &Path) -> Result<WavInfo, Error> {
    if super::riff::is_rf64(path) {
        return probe_rf64(path);
    }
    let file = super::open_regular(path)?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = hound::WavReader::new(BufReader::new(file)).map_err(|e| {
        // Say precisely what is wrong when the header can be read at all.
        let head = sniff(path);
        if head.cut {
            return format_err(path, "truncated: the file ends inside its header");
        }
        if let Some(why) = head.fmt.as_ref().and_then(RawFmt::unsupported) {
            return format_err(path, why);
        }
        match e {
            hound::Error::FormatError(m) => format_err(
                path,
                format!("not a readable WAV file ({m}); mixdown reads RIFF/WAVE files"),
            ),
            hound::Error::Unsupported => format_err(
                path,
                "unsupported WAV encoding; use 16/24/32-bit integer or 32-bit float PCM",
            ),
            hound::Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                format_err(path, "truncated: the file ends inside its header")
            }
            other => format_err(path, format!("cannot read WAV: {other}")),
        }
    })?;
    // hound accepts samples narrower than their container (24 bits in 4 bytes), which the
    // streaming decoder below does not read.
    if let Some(why) = sniff(path).fmt.as_ref().and_then(RawFmt::unsupported) {
        return Err(format_err(path, why));
    }
    let spec = reader.spec();
    let frames = reader.duration() as u64;
    let encoding = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => WavEncoding::Float32,
        (hound::SampleFormat::Int, b @ (8 | 16 | 24 | 32)) => WavEncoding::Int(b),
        (f, b) => {
            return Err(format_err(
                path,
                format!(
                "unsupported sample format: {b}-bit {}; use 16/24/32-bit integer or 32-bit float",
                if f == hound::SampleFormat::Float {
                    "float"
                } else {
                    "integer"
                }
            ),
            ))
        }
    };
    let mut inner = reader.into_inner();
    let data_offset = inner.stream_position().map_err(|e| Error::io(path, e))?;
    let info = WavInfo {
        path: path.to_path_buf(),
        channels: spec.channels as usize,
        sample_rate: spec.sample_rate,
        frames,
        encoding,
        data_offset,
    };
    super::check_sample_rate(path, spec.sample_rate)?;
    if spec.channels == 0 || spec.channels as usize > crate::buffer::MAX_CHANNELS {
        return Err(format_err(
            path,
            format!(
                "{} channels; 1 to {} are supported",
                spec.channels,
                crate::buffer::MAX_CHANNELS
            ),
        ));
    }
    if frames == 0 {
        return Err(format_err(path, "the file holds no audio (0 frames)"));
    }
    let need = data_offset + frames * (info.channels * info.bytes_per_sample()) as u64;
    if file_len < need {
        let have =
            file_len.saturating_sub(data_offset) / (info.channels * info.bytes_per_sample()) as u64;
        return Err(format_err(
            path,
            format!(
                "truncated: the header promises {frames} frames but the file holds only {have} \
                 (it ends at byte {file_len} of {need})"
            ),
        ));
    }
    Ok(info)
}

/// An RF64/BW64 file (EBU Tech 3306, a WAV past 4 GiB): `fmt ` and the 64-bit `data` size
/// from the chunk walk.
fn probe_rf64(path: &Path) -> Result<WavInfo, Error> {
    let chunks = super::riff::chunks(path)?;
    let find = |id: &[u8; 4]| chunks.iter().find(|c| &c.id == id);
    let (Some(fmt), Some(data)) = (find(b"fmt "), find(b"data")) else {
        return Err(format_err(path, "an RF64 file without fmt and data chunks"));
    };
    let b = super::riff::read_at(path, fmt.offset, (fmt.size as usize).clamp(16, 40))?;
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let raw = RawFmt {
        tag: u16_at(0),
        channels: u16_at(2),
        block_align: u16_at(12),
        bits: u16_at(14),
        extensible: (u16_at(0) == 0xFFFE && b.len() >= 26).then(|| (u16_at(18), u16_at(24))),
    };
    if let Some(why) = raw.unsupported() {
        return Err(format_err(path, why));
    }
    let rate = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    super::check_sample_rate(path, rate)?;
    let channels = raw.channels as usize;
    if channels == 0 || channels > crate::buffer::MAX_CHANNELS {
        return Err(format_err(
            path,
            format!(
                "{channels} channels; 1 to {} are supported",
                crate::buffer::MAX_CHANNELS
            ),
        ));
    }
    let float = raw.extensible.map_or(raw.tag, |(_, sub)| sub) == 3;
    let bits = raw
        .extensible
        .map_or(raw.bits, |(v, _)| if v > 0 { v } else { raw.bits });
    let encoding = if float {
        WavEncoding::Float32
    } else {
        WavEncoding::Int(bits)
    };
    let info = WavInfo {
        path: path.to_path_buf(),
        channels,
        sample_rate: rate,
        frames: data.size / raw.block_align.max(1) as u64,
        encoding,
        data_offset: data.offset,
    };
    let file_len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if info.frames == 0 {
        return Err(format_err(path, "the file holds no audio (0 frames)"));
    }
    if file_len < data.offset + data.size {
        return Err(format_err(
            path,
            "truncated: the file ends before its data chunk does",
        ));
    }
    Ok(info)
}

/// The `fmt ` chunk as the file states it, read without judging it (for precise messages).
#[derive(Debug)]
struct RawFmt {
    tag: u16,
    channels: u16,
    block_align: u16,
    bits: u16,
    /// WAVE_FORMAT_EXTENSIBLE: valid bits per sample and the sub-format's tag.
    extensible: Option<(u16, u16)>,
}

impl RawFmt {
    /// Why the engine cannot stream this format, if it cannot.
    fn unsupported(&self) -> Option<String> {
        const USE: &str = "use 16/24/32-bit integer or 32-bit float PCM";
        let (tag, bits) = match self.extensible {
            Some((valid, sub)) => (sub, if valid > 0 { valid } else { self.bits }),
            None => (self.tag, self.bits),
        };
        let float = match tag {
            1 => false,
            3 => true,
            t => {
                return Some(format!(
                    "unsupported WAV encoding (format tag {t:#06x}, e.g. compressed audio); {USE}"
                ))
            }
        };
        let kind = if float { "float" } else { "integer" };
        let ok = if float {
            bits == 32
        } else {
            matches!(bits, 8 | 16 | 24 | 32)
        };
        if !ok {
            return Some(format!(
                "unsupported sample format: {bits}-bit {kind}; {USE}"
            ));
        }
        let container = self.block_align / self.channels.max(1);
        if u32::from(container) * 8 != u32::from(bits) {
            return Some(format!(
                "unsupported sample format: {bits}-bit samples in {container}-byte containers; {USE}"
            ));
        }
        None
    }
}

/// What a walk over the RIFF chunks up to `data` found.
#[derive(Debug, Default)]
struct Sniffed {
    fmt: Option<RawFmt>,
    /// The file is RIFF/WAVE but ends before the `data` chunk starts.
    cut: bool,
}

fn sniff(path: &Path) -> Sniffed {
    fn u16_at(b: &[u8], i: usize) -> u16 {
        u16::from_le_bytes([b[i], b[i + 1]])
    }
    let mut out = Sniffed::default();
    let Ok(mut f) = super::open_regular(path).map(BufReader::new) else {
        return out;
    };
    let mut riff = [0u8; 12];
    if f.read_exact(&mut riff).is_err() || &riff[..4] != b"RIFF" || &riff[8..] != b"WAVE" {
        // Too short or not RIFF/WAVE at all: nothing to say beyond "not a WAV".
        return out;
    }
    loop {
        let mut head = [0u8; 8];
        if f.read_exact(&mut head).is_err() {
            out.cut = true;
            return out;
        }
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        match &head[..4] {
            b"data" => return out,
            b"fmt " => {
                let mut body = vec![0u8; (len as usize).min(40)];
                if len < 16 || f.read_exact(&mut body).is_err() {
                    out.cut = len >= 16;
                    return out;
                }
                let extensible = (u16_at(&body, 0) == 0xFFFE && body.len() >= 26)
                    .then(|| (u16_at(&body, 18), u16_at(&body, 24)));
                out.fmt = Some(RawFmt {
                    tag: u16_at(&body, 0),
                    channels: u16_at(&body, 2),
                    block_align: u16_at(&body, 12),
                    bits: u16_at(&body, 14),
                    extensible,
                });
                let rest = i64::from(len) - body.len() as i64;
                if f.seek_relative(rest).is_err() {
                    out.cut = true;
                    return out;
                }
            }
            _ => {
                if f.seek_relative(i64::from(len)).is_err() {
                    out.cut = true;
                    return out;
                }
            }
        }
    }
}

/// Reads interleaved frames `[start, end)` of `info` in chunks and hands each chunk (interleaved
/// f32) to `sink`, which returns `false` to stop. Runs on the calling (reader) thread.
pub fn read_frames(
    info: &WavInfo,
    start: u64,
    end: u64,
    chunk_frames: usize,
    mut sink: impl FnMut(&[f32]) -> bool,
) -> Result<(), Error> {
    let mut f = BufReader::with_capacity(1 << 16, super::open_regular(&info.path)?);
    let bps = info.bytes_per_sample();
    let frame_bytes = bps * info.channels;
    f.seek(SeekFrom::Start(
        info.data_offset + start * frame_bytes as u64,
    ))
    .map_err(|e| Error::io(&info.path, e))?;
    let mut raw = vec![0u8; chunk_frames * frame_bytes];
    let mut out = vec![0f32; chunk_frames * info.channels];
    let mut pos = start;
    while pos < end {
        let n = ((end - pos) as usize).min(chunk_frames);
        let bytes = &mut raw[..n * frame_bytes];
        f.read_exact(bytes).map_err(|e| {
            format_err(
                &info.path,
                format!("read failed at frame {pos}: {e} (file truncated?)"),
            )
        })?;
        let samples = &mut out[..n * info.channels];
        decode(info.encoding, bytes, samples);
        if !sink(samples) {
            return Ok(());
        }
        pos += n as u64;
    }
    Ok(())
}

/// A pull-style streaming reader of a probed WAV (the fast path of [`crate::io::decode`]):
/// [`WavStream::seek`] to a frame, then [`WavStream::read`] interleaved f32 frames. Runs on a
/// reader thread; its buffers are allocated once, when it is opened.
pub struct WavStream {
    info: WavInfo,
    file: BufReader<File>,
    raw: Vec<u8>,
    pos: u64,
}

impl WavStream {
    /// Opens `info.path` positioned at frame 0.
    pub fn open(info: &WavInfo) -> Result<Self, Error> {
        let file = super::open_regular(&info.path)?;
        let mut s = Self {
            info: info.clone(),
            file: BufReader::with_capacity(1 << 16, file),
            raw: Vec::new(),
            pos: u64::MAX,
        };
        s.seek(0)?;
        Ok(s)
    }

    /// Moves to `frame` (clamped to the end of the file).
    pub fn seek(&mut self, frame: u64) -> Result<(), Error> {
        let frame = frame.min(self.info.frames);
        if frame == self.pos {
            return Ok(());
        }
        let frame_bytes = (self.info.bytes_per_sample() * self.info.channels) as u64;
        self.file
            .seek(SeekFrom::Start(self.info.data_offset + frame * frame_bytes))
            .map_err(|e| Error::io(&self.info.path, e))?;
        self.pos = frame;
        Ok(())
    }

    /// Fills `out` (interleaved, a whole number of frames) from the current position and returns
    /// the frames read; 0 at the end of the file.
    pub fn read(&mut self, out: &mut [f32]) -> Result<usize, Error> {
        let ch = self.info.channels;
        let bps = self.info.bytes_per_sample();
        let n = ((out.len() / ch) as u64).min(self.info.frames - self.pos) as usize;
        if n == 0 {
            return Ok(0);
        }
        let bytes = n * ch * bps;
        if self.raw.len() < bytes {
            self.raw.resize(bytes, 0);
        }
        let pos = self.pos;
        self.file.read_exact(&mut self.raw[..bytes]).map_err(|e| {
            format_err(
                &self.info.path,
                format!("read failed at frame {pos}: {e} (file truncated?)"),
            )
        })?;
        decode(self.info.encoding, &self.raw[..bytes], &mut out[..n * ch]);
        self.pos += n as u64;
        Ok(n)
    }
}

fn decode(enc: WavEncoding, bytes: &[u8], out: &mut [f32]) {
    match enc {
        WavEncoding::Float32 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        WavEncoding::Int(8) => {
            for (o, b) in out.iter_mut().zip(bytes) {
                *o = (*b as f32 - 128.0) / 128.0;
            }
        }
        WavEncoding::Int(16) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0;
            }
        }
        WavEncoding::Int(24) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(3)) {
                let v = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                *o = v as f32 / 8_388_608.0;
            }
        }
        WavEncoding::Int(_) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0;
            }
        }
    }
}

/// Reads a whole file into planar buffers (tests, measurement of short files).
pub fn read_all(path: &Path) -> Result<(WavInfo, Vec<Vec<f32>>), Error> {
    let info = probe(path)?;
    let mut planar = vec![Vec::with_capacity(info.frames as usize); info.channels];
    read_frames(&info, 0, info.frames, 8192, |chunk| {
        for frame in chunk.chunks_exact(info.channels) {
            for (c, x) in frame.iter().enumerate() {
                planar[c].push(*x);
            }
        }
        true
    })?;
    Ok((info, planar))
}

pub use super::sink::OutputFormat;
pub use super::wav_write::WavSink;

/// A flag shared with a reader thread to stop it.
pub type StopFlag = Arc<AtomicBool>;

/// Sets a stop flag.
pub fn stop(flag: &StopFlag) {
    flag.store(true, Ordering::Relaxed);
}
