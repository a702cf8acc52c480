//! Writing FLAC files (16 or 24 bits, TPDF-dithered) with the pure-Rust `flacenc` encoder,
//! streamed frame by frame to disk (memory does not grow with the song), with ReplayGain 2.0
//! tags (track gain and peak, album gain and peak when known, reference −18 LUFS) in a
//! VORBIS_COMMENT block.
//!
//! Layout: `fLaC`, STREAMINFO, VORBIS_COMMENT, PADDING (together [`HEADER_BYTES`], reserved up
//! front and rewritten by [`FlacSink::finish`] with the sample count, MD5, frame sizes and
//! tags), then the frames.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flacenc::bitsink::ByteSink;
use flacenc::component::{BitRepr, MetadataBlockData, Stream, StreamInfo};
use flacenc::config;
use flacenc::error::Verify;
use flacenc::source::{Context, Fill, FrameBuf};

use super::output::PartFile;
use super::sink::{Delivery, OutputFormat, Quantizer, REPLAYGAIN_REFERENCE_LUFS};
use crate::error::Error;

/// Bytes reserved at the start for the metadata blocks.
pub const HEADER_BYTES: usize = 4096;
/// Frames per FLAC block.
const BLOCK: usize = 4096;

/// A FLAC file being written.
pub struct FlacSink {
    out: BufWriter<File>,
    part: Option<PartFile>,
    path: PathBuf,
    channels: usize,
    sample_rate: u32,
    bits: usize,
    quantizer: Quantizer,
    config: flacenc::error::Verified<config::Encoder>,
    framebuf: FrameBuf,
    context: Context,
    info: StreamInfo,
    pending: Vec<i32>,
    frames: u64,
}

fn enc_err(path: &Path, what: impl std::fmt::Debug) -> Error {
    Error::io(path, format!("FLAC encoding failed: {what:?}"))
}

impl FlacSink {
    /// Creates the temporary file with room for the header.
    pub fn create(
        path: &Path,
        channels: usize,
        sample_rate: u32,
        format: OutputFormat,
    ) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io(dir, format!("cannot create folder: {e}")))?;
            }
        }
        if !(1..=8).contains(&channels) {
            return Err(Error::io(
                path,
                format!("FLAC holds 1 to 8 channels, not {channels}"),
            ));
        }
        let bits = format.bits() as usize;
        let mut part = PartFile::create(path)?;
        let file = part
            .file()
            .try_clone()
            .map_err(|e| Error::io(path, format!("cannot create output: {e}")))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        out.write_all(&[0u8; HEADER_BYTES])
            .map_err(|e| Error::io(path, format!("write failed: {e}")))?;
        let config = config::Encoder::default()
            .into_verified()
            .map_err(|e| enc_err(path, e))?;
        let info =
            StreamInfo::new(sample_rate as usize, channels, bits).map_err(|e| enc_err(path, e))?;
        Ok(Self {
            out,
            part: Some(part),
            path: path.to_path_buf(),
            channels,
            sample_rate,
            bits,
            quantizer: Quantizer::new(format.int_scale().unwrap_or(8_388_608.0)),
            config,
            framebuf: FrameBuf::with_size(channels, BLOCK).map_err(|e| enc_err(path, e))?,
            context: Context::new(bits, channels),
            info,
            pending: Vec::with_capacity(BLOCK * channels),
            frames: 0,
        })
    }

    /// Appends planar frames.
    pub fn write_planar(&mut self, planar: &[&[f32]]) -> Result<(), Error> {
        let frames = planar.first().map_or(0, |c| c.len());
        for i in 0..frames {
            for c in 0..self.channels {
                let x = planar.get(c).map_or(0.0, |ch| ch[i]);
                self.pending.push(self.quantizer.quantize(x));
            }
            if self.pending.len() == BLOCK * self.channels {
                self.encode_pending()?;
            }
        }
        self.frames += frames as u64;
        Ok(())
    }

    fn encode_pending(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let n = self.pending.len() / self.channels;
        if n != BLOCK {
            self.framebuf.resize(n);
        }
        let mut fill = (&mut self.framebuf, &mut self.context);
        fill.fill_interleaved(&self.pending)
            .map_err(|e| enc_err(&self.path, e))?;
        let number = self.context.current_frame_number().unwrap_or(0);
        let frame =
            flacenc::encode_fixed_size_frame(&self.config, &self.framebuf, number, &self.info)
                .map_err(|e| enc_err(&self.path, e))?;
        self.info.update_frame_info(&frame);
        let mut sink = ByteSink::new();
        frame.write(&mut sink).map_err(|e| enc_err(&self.path, e))?;
        self.out
            .write_all(sink.as_slice())
            .map_err(|e| Error::io(&self.path, format!("write failed: {e}")))?;
        self.pending.clear();
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Encodes what is left, writes the header (sample count, MD5, ReplayGain tags) and moves
    /// the file into place.
    pub fn finish(mut self, delivery: Option<&Delivery>) -> Result<(), Error> {
        self.encode_pending()?;
        let path = self.path.clone();
        let mut info = self.info.clone();
        info.set_md5_digest(&self.context.md5_digest());
        info.set_total_samples(self.frames as usize);
        // A fixed-blocksize stream states one block size (its last block may be shorter);
        // counting the short last block as the minimum would make decoders read the stream as
        // variable-blocksize.
        let _ = info.set_block_sizes(BLOCK, BLOCK);
        let mut stream = Stream::with_stream_info(info);
        let comments = vorbis_comment(&tags(delivery));
        stream.add_metadata_block(
            MetadataBlockData::new_unknown(4, &comments).map_err(|e| enc_err(&path, e))?,
        );
        // STREAMINFO block 4 + 34 bytes, the comment block 4 + its body, a padding block's
        // 4-byte header: the padding fills the rest of the reserved space.
        let used = 4 + 38 + 4 + comments.len() + 4;
        if used > HEADER_BYTES {
            return Err(Error::io(&path, "FLAC tags do not fit the reserved header"));
        }
        stream.add_metadata_block(
            MetadataBlockData::new_unknown(1, &vec![0u8; HEADER_BYTES - used])
                .map_err(|e| enc_err(&path, e))?,
        );
        let mut sink = ByteSink::new();
        stream.write(&mut sink).map_err(|e| enc_err(&path, e))?;
        let header = sink.as_slice();
        debug_assert_eq!(header.len(), HEADER_BYTES);
        let w = |e: std::io::Error| Error::io(&path, format!("write failed: {e}"));
        self.out.flush().map_err(w)?;
        let f = self.out.get_mut();
        f.seek(SeekFrom::Start(0)).map_err(w)?;
        f.write_all(&header[..HEADER_BYTES.min(header.len())])
            .map_err(w)?;
        let part = self.part.take().expect("open until finished");
        let _ = (self.sample_rate, self.bits);
        drop(self.out);
        part.commit()
    }
}

/// ReplayGain 2.0 tags for `delivery` (none without figures).
pub fn tags(delivery: Option<&Delivery>) -> Vec<(String, String)> {
    let mut t = vec![(
        "ENCODER".to_string(),
        format!("mixdown {}", env!("CARGO_PKG_VERSION")),
    )];
    let Some(d) = delivery else { return t };
    let gain = |lufs: f64| format!("{:+.2} dB", REPLAYGAIN_REFERENCE_LUFS - lufs);
    let peak = |dbtp: f64| format!("{:.6}", 10f64.powf(dbtp / 20.0));
    if let Some(l) = d.track.integrated_lufs {
        t.push(("REPLAYGAIN_TRACK_GAIN".into(), gain(l)));
    }
    if let Some(p) = d.track.true_peak_dbtp {
        t.push(("REPLAYGAIN_TRACK_PEAK".into(), peak(p)));
    }
    if let Some((l, p)) = d.album {
        if let Some(l) = l {
            t.push(("REPLAYGAIN_ALBUM_GAIN".into(), gain(l)));
        }
        if let Some(p) = p {
            t.push(("REPLAYGAIN_ALBUM_PEAK".into(), peak(p)));
        }
    }
    t.push((
        "REPLAYGAIN_REFERENCE_LOUDNESS".into(),
        format!("{REPLAYGAIN_REFERENCE_LUFS:.1} LUFS"),
    ));
    t
}

/// A VORBIS_COMMENT block body: vendor string and `KEY=value` entries.
fn vorbis_comment(tags: &[(String, String)]) -> Vec<u8> {
    let mut b = Vec::new();
    let vendor = b"mixdown";
    b.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    b.extend_from_slice(vendor);
    b.extend_from_slice(&(tags.len() as u32).to_le_bytes());
    for (k, v) in tags {
        let e = format!("{k}={v}");
        b.extend_from_slice(&(e.len() as u32).to_le_bytes());
        b.extend_from_slice(e.as_bytes());
    }
    b
}

/// The VORBIS_COMMENT entries of a FLAC file (`KEY`, value), read back (tests, `measure`).
pub fn read_tags(path: &Path) -> Result<Vec<(String, String)>, Error> {
    let bad = || {
        Error::new(
            crate::ErrorKind::Format,
            format!("{}: not a FLAC file", path.display()),
        )
    };
    let head = super::riff::read_at(path, 0, 4).map_err(|_| bad())?;
    if head != b"fLaC" {
        return Err(bad());
    }
    let mut at = 4u64;
    loop {
        let h = super::riff::read_at(path, at, 4)?;
        let (last, kind) = (h[0] & 0x80 != 0, h[0] & 0x7f);
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        if kind == 4 {
            let body = super::riff::read_at(path, at + 4, len)?;
            let u32_at = |i: usize| -> Option<usize> {
                Some(u32::from_le_bytes(body.get(i..i + 4)?.try_into().ok()?) as usize)
            };
            let mut i = 4 + u32_at(0).ok_or_else(bad)?;
            let n = u32_at(i).ok_or_else(bad)?;
            i += 4;
            let mut out = Vec::new();
            for _ in 0..n.min(1000) {
                let l = u32_at(i).ok_or_else(bad)?;
                let e = body.get(i + 4..i + 4 + l).ok_or_else(bad)?;
                let e = String::from_utf8_lossy(e);
                if let Some((k, v)) = e.split_once('=') {
                    out.push((k.to_string(), v.to_string()));
                }
                i += 4 + l;
            }
            return Ok(out);
        }
        if last {
            return Ok(Vec::new());
        }
        at += 4 + len as u64;
    }
}
