//! Writing WAV files: 16/24-bit integer (TPDF-dithered) or 32-bit float PCM, with
//! - a BWF `bext` chunk, version 2 (EBU Tech 3285), whose loudness fields (integrated
//!   loudness, loudness range, maximum true peak, maximum momentary and short-term loudness,
//!   each ×100 as a 16-bit integer) are filled in when the render is complete;
//! - RF64/BW64 (EBU Tech 3306) when the file passes 4 GiB: the header reserves a `JUNK` chunk
//!   where the `ds64` chunk goes, so the switch needs no rewrite of the audio — the `RIFF` id
//!   becomes `RF64`, the 32-bit sizes `0xFFFFFFFF`, and the 64-bit sizes go into `ds64`.
//!
//! Layout: `RIFF` `WAVE`, `JUNK`/`ds64` (28 bytes), `bext` (602 bytes + coding history),
//! `fmt ` (16 bytes; 40 with WAVE_FORMAT_EXTENSIBLE for more than two channels), `fact` for
//! float, `data`. The file is written through a [`PartFile`] and renamed when complete.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::output::PartFile;
use super::sink::{Delivery, OutputFormat, Quantizer};
use crate::error::Error;

/// Size of a `ds64` chunk's body (RIFF size, data size, sample count: 64 bits each; an empty
/// table).
const DS64_BODY: usize = 28;
/// Size of a version-2 `bext` chunk's fixed part.
const BEXT_FIXED: usize = 602;
/// Offset of the loudness fields inside the `bext` body.
const BEXT_LOUDNESS: usize = 412;

/// A WAV file being written.
pub struct WavSink {
    out: BufWriter<File>,
    part: Option<PartFile>,
    path: PathBuf,
    format: OutputFormat,
    channels: usize,
    quantizer: Option<Quantizer>,
    frames: u64,
    /// Where the `bext` body, the `fact` body and the `data` size field are.
    bext_at: u64,
    fact_at: Option<u64>,
    data_size_at: u64,
    data_start: u64,
    /// Files bigger than this become RF64 (4 GiB; lowered by tests).
    rf64_threshold: u64,
    scratch: Vec<u8>,
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::io(path, format!("write failed: {e}"))
}

impl WavSink {
    /// Creates the temporary file and writes the header. The destination folder is created
    /// when missing (see [`crate::io::output::WritePolicy::prepare`] for confined writes).
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
        let mut part = PartFile::create(path)?;
        let file = part
            .file()
            .try_clone()
            .map_err(|e| Error::io(path, format!("cannot create output: {e}")))?;
        let mut me = Self {
            out: BufWriter::with_capacity(1 << 16, file),
            part: Some(part),
            path: path.to_path_buf(),
            format,
            channels,
            quantizer: format.int_scale().map(Quantizer::new),
            frames: 0,
            bext_at: 0,
            fact_at: None,
            data_size_at: 0,
            data_start: 0,
            rf64_threshold: u32::MAX as u64,
            scratch: Vec::new(),
        };
        me.header(sample_rate).map_err(|e| io_err(path, e))?;
        Ok(me)
    }

    /// Makes the file switch to RF64 past `bytes` instead of 4 GiB (tests).
    #[doc(hidden)]
    pub fn with_rf64_threshold(mut self, bytes: u64) -> Self {
        self.rf64_threshold = bytes;
        self
    }

    fn header(&mut self, sample_rate: u32) -> std::io::Result<()> {
        let bits = self.format.bits();
        let float = self.format == OutputFormat::Wav32f;
        let ch = self.channels as u16;
        let block_align = ch * bits / 8;
        let coding = format!(
            "A=PCM,F={sample_rate},W={bits},M={},T=mixdown {}\r\n",
            match ch {
                1 => "mono".to_string(),
                2 => "stereo".to_string(),
                n => format!("{n} channels"),
            },
            env!("CARGO_PKG_VERSION")
        );
        let mut coding = coding.into_bytes();
        if coding.len() % 2 == 1 {
            coding.push(0);
        }
        let w = &mut self.out;
        w.write_all(b"RIFF\0\0\0\0WAVE")?;
        w.write_all(b"JUNK")?;
        w.write_all(&(DS64_BODY as u32).to_le_bytes())?;
        w.write_all(&[0u8; DS64_BODY])?;
        // bext, version 2: the loudness fields are filled in by `finish`.
        w.write_all(b"bext")?;
        w.write_all(&((BEXT_FIXED + coding.len()) as u32).to_le_bytes())?;
        let mut bext = vec![0u8; BEXT_FIXED];
        let put = |b: &mut [u8], at: usize, s: &str, len: usize| {
            let s = s.as_bytes();
            b[at..at + s.len().min(len)].copy_from_slice(&s[..s.len().min(len)]);
        };
        put(&mut bext, 0, "mixed and mastered with mixdown", 256);
        put(&mut bext, 256, "mixdown", 32);
        bext[346..348].copy_from_slice(&2u16.to_le_bytes()); // version
        for i in 0..5 {
            // "not known" until finish: 0x7fff
            bext[BEXT_LOUDNESS + 2 * i..BEXT_LOUDNESS + 2 * i + 2]
                .copy_from_slice(&0x7fffu16.to_le_bytes());
        }
        self.bext_at = 12 + 8 + DS64_BODY as u64 + 8;
        w.write_all(&bext)?;
        w.write_all(&coding)?;
        // fmt
        let extensible = ch > 2;
        w.write_all(b"fmt ")?;
        let (tag, len) = match (extensible, float) {
            (true, _) => (0xFFFEu16, 40u32),
            (false, true) => (3, 18),
            (false, false) => (1, 16),
        };
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&tag.to_le_bytes())?;
        w.write_all(&ch.to_le_bytes())?;
        w.write_all(&sample_rate.to_le_bytes())?;
        w.write_all(&(sample_rate * block_align as u32).to_le_bytes())?;
        w.write_all(&block_align.to_le_bytes())?;
        w.write_all(&bits.to_le_bytes())?;
        if extensible {
            w.write_all(&22u16.to_le_bytes())?;
            w.write_all(&bits.to_le_bytes())?;
            let mask: u32 = match ch {
                3 => 0x7,
                4 => 0x33,
                5 => 0x37,
                6 => 0x3F,
                7 => 0x13F,
                8 => 0x63F,
                _ => 0,
            };
            w.write_all(&mask.to_le_bytes())?;
            // KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT
            w.write_all(&(if float { 3u32 } else { 1u32 }).to_le_bytes())?;
            w.write_all(&[
                0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
            ])?;
        } else if float {
            w.write_all(&0u16.to_le_bytes())?;
        }
        let mut pos = self.bext_at + (BEXT_FIXED + coding.len()) as u64 + 8 + len as u64;
        if float {
            w.write_all(b"fact")?;
            w.write_all(&4u32.to_le_bytes())?;
            self.fact_at = Some(pos + 8);
            w.write_all(&0u32.to_le_bytes())?;
            pos += 12;
        }
        w.write_all(b"data\0\0\0\0")?;
        self.data_size_at = pos + 4;
        self.data_start = pos + 8;
        Ok(())
    }

    /// Appends planar frames.
    pub fn write_planar(&mut self, planar: &[&[f32]]) -> Result<(), Error> {
        let frames = planar.first().map_or(0, |c| c.len());
        let bytes = (self.format.bits() / 8) as usize;
        self.scratch.clear();
        self.scratch.reserve(frames * self.channels * bytes);
        for i in 0..frames {
            for c in 0..self.channels {
                let x = planar.get(c).map_or(0.0, |ch| ch[i]);
                match &mut self.quantizer {
                    None => self.scratch.extend_from_slice(&x.to_le_bytes()),
                    Some(q) => {
                        let v = q.quantize(x);
                        self.scratch.extend_from_slice(&v.to_le_bytes()[..bytes]);
                    }
                }
            }
        }
        self.out
            .write_all(&self.scratch)
            .map_err(|e| io_err(&self.path, e))?;
        self.frames += frames as u64;
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Fills in the sizes (switching to RF64 past 4 GiB) and the `bext` loudness fields, syncs
    /// and moves the file into place.
    pub fn finish(mut self, delivery: Option<&Delivery>) -> Result<(), Error> {
        let path = self.path.clone();
        self.finish_header(delivery).map_err(|e| io_err(&path, e))?;
        let part = self.part.take().expect("open until finished");
        drop(self.out);
        part.commit()
    }

    fn finish_header(&mut self, delivery: Option<&Delivery>) -> std::io::Result<()> {
        let data = self.frames * (self.channels * (self.format.bits() / 8) as usize) as u64;
        let mut end = self.data_start + data;
        if data % 2 == 1 {
            self.out.write_all(&[0])?;
            end += 1;
        }
        self.out.flush()?;
        let f = self.out.get_mut();
        let riff = end - 8;
        if riff > self.rf64_threshold || data > self.rf64_threshold {
            f.seek(SeekFrom::Start(0))?;
            f.write_all(b"RF64")?;
            f.write_all(&u32::MAX.to_le_bytes())?;
            f.seek(SeekFrom::Start(12))?;
            f.write_all(b"ds64")?;
            f.write_all(&(DS64_BODY as u32).to_le_bytes())?;
            f.write_all(&riff.to_le_bytes())?;
            f.write_all(&data.to_le_bytes())?;
            f.write_all(&self.frames.to_le_bytes())?;
            f.write_all(&0u32.to_le_bytes())?;
            f.seek(SeekFrom::Start(self.data_size_at))?;
            f.write_all(&u32::MAX.to_le_bytes())?;
        } else {
            f.seek(SeekFrom::Start(4))?;
            f.write_all(&(riff as u32).to_le_bytes())?;
            f.seek(SeekFrom::Start(self.data_size_at))?;
            f.write_all(&(data as u32).to_le_bytes())?;
        }
        if let Some(at) = self.fact_at {
            f.seek(SeekFrom::Start(at))?;
            f.write_all(&(self.frames.min(u32::MAX as u64) as u32).to_le_bytes())?;
        }
        if let Some(d) = delivery {
            let m = &d.track;
            let field = |v: Option<f64>| -> [u8; 2] {
                match v.filter(|x| x.is_finite()) {
                    Some(x) => ((x * 100.0).round().clamp(-32767.0, 32766.0) as i16).to_le_bytes(),
                    None => 0x7fffu16.to_le_bytes(),
                }
            };
            f.seek(SeekFrom::Start(self.bext_at + BEXT_LOUDNESS as u64))?;
            for v in [
                m.integrated_lufs,
                m.loudness_range_lu,
                m.true_peak_dbtp,
                m.momentary_max_lufs,
                m.short_term_max_lufs,
            ] {
                f.write_all(&field(v))?;
            }
        }
        Ok(())
    }
}

/// The loudness fields of a WAV's `bext` chunk (EBU Tech 3285 v2), if it has one that states
/// them: integrated loudness (LUFS), loudness range (LU), maximum true peak (dBTP), maximum
/// momentary and short-term loudness (LUFS). Fields marked "not known" are `None`.
pub fn read_bext_loudness(path: &Path) -> Result<Option<[Option<f64>; 5]>, Error> {
    let chunks = super::riff::chunks(path)?;
    let Some(c) = chunks.iter().find(|c| &c.id == b"bext") else {
        return Ok(None);
    };
    if c.size < (BEXT_LOUDNESS + 10) as u64 {
        return Ok(None);
    }
    let body = super::riff::read_at(path, c.offset + BEXT_LOUDNESS as u64, 10)?;
    let mut out = [None; 5];
    for (i, o) in out.iter_mut().enumerate() {
        let v = i16::from_le_bytes([body[2 * i], body[2 * i + 1]]);
        if v != 0x7fff {
            *o = Some(v as f64 / 100.0);
        }
    }
    Ok(Some(out))
}
