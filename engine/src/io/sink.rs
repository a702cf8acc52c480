//! Output files: the formats mixdown writes ([`OutputFormat`]), the loudness figures written
//! into them ([`Delivery`]), and [`AudioSink`], which picks the writer for a format: WAV
//! ([`super::wav_write`], RF64/BW64 past 4 GiB, a BWF `bext` chunk with loudness) or FLAC
//! ([`super::flac_write`], ReplayGain 2.0 tags). Integer formats get flat TPDF dither from a
//! fixed seed, so renders are bit-identical run to run.

use std::path::Path;

use crate::error::Error;
use crate::measure::Measurement;

/// Output sample format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OutputFormat {
    /// 16-bit integer WAV with TPDF dither.
    Wav16,
    /// 24-bit integer WAV with TPDF dither.
    Wav24,
    /// 32-bit float WAV, no dither.
    Wav32f,
    /// 16-bit FLAC with TPDF dither.
    Flac16,
    /// 24-bit FLAC with TPDF dither.
    Flac24,
}

impl OutputFormat {
    /// The file extension this format is written with.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav16 | Self::Wav24 | Self::Wav32f => "wav",
            Self::Flac16 | Self::Flac24 => "flac",
        }
    }

    /// Bits per sample.
    pub fn bits(self) -> u16 {
        match self {
            Self::Wav16 | Self::Flac16 => 16,
            Self::Wav24 | Self::Flac24 => 24,
            Self::Wav32f => 32,
        }
    }

    /// Full scale of the integer formats (`None` for float).
    pub fn int_scale(self) -> Option<f32> {
        match self.bits() {
            16 => Some(32768.0),
            24 => Some(8_388_608.0),
            _ => None,
        }
    }

    /// The format an output file name asks for: `Err` when its extension names a format that
    /// contradicts `chosen` or that mixdown does not write; `Ok(None)` when it says nothing.
    pub fn check_extension(path: &Path, chosen: Option<Self>) -> Result<Option<Self>, String> {
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            return Ok(None);
        };
        let ext = ext.to_ascii_lowercase();
        let by_ext = match ext.as_str() {
            "wav" | "wave" | "bwf" | "rf64" => "wav",
            "flac" => "flac",
            other => {
                return Err(format!(
                    "{}: '.{other}' is not a format mixdown writes; use .wav (wav16, wav24, wav32f) or .flac (flac16, flac24)",
                    path.display()
                ))
            }
        };
        match chosen {
            Some(f) if f.extension() != by_ext => Err(format!(
                "{}: the name says .{ext} but the format is {f}; use a .{} name or format = \"{}\"",
                path.display(),
                f.extension(),
                if by_ext == "flac" { "flac24" } else { "wav24" }
            )),
            Some(f) => Ok(Some(f)),
            None if by_ext == "flac" => Ok(Some(Self::Flac24)),
            None => Ok(None),
        }
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Wav16 => "wav16",
            Self::Wav24 => "wav24",
            Self::Wav32f => "wav32f",
            Self::Flac16 => "flac16",
            Self::Flac24 => "flac24",
        })
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "wav16" => Ok(Self::Wav16),
            "wav24" => Ok(Self::Wav24),
            "wav32f" | "wav32" => Ok(Self::Wav32f),
            "flac16" => Ok(Self::Flac16),
            "flac24" | "flac" => Ok(Self::Flac24),
            other => Err(format!(
                "unknown format '{other}'; use wav16, wav24, wav32f, flac16 or flac24"
            )),
        }
    }
}

/// Loudness figures written into a delivered file: BWF `bext` loudness fields (EBU Tech 3285)
/// in a WAV, ReplayGain 2.0 tags in a FLAC.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delivery {
    /// The file's own figures.
    pub track: Measurement,
    /// The album's integrated loudness and true peak (dBTP), for album gain tags.
    pub album: Option<(Option<f64>, Option<f64>)>,
}

/// ReplayGain 2.0's reference loudness, LUFS.
pub const REPLAYGAIN_REFERENCE_LUFS: f64 = -18.0;

/// Flat TPDF dither (±1 LSB triangular) and rounding to `scale`, from a fixed seed.
#[derive(Clone, Debug)]
pub struct Quantizer {
    scale: f32,
    rng: u64,
}

impl Quantizer {
    /// A quantizer to integers of full scale `scale` (32768 for 16 bits).
    pub fn new(scale: f32) -> Self {
        Self {
            scale,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn uniform(&mut self) -> f32 {
        // xorshift64*: deterministic, so renders are bit-identical run to run.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        ((self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32) / (1u64 << 24) as f32
    }

    /// One sample, dithered, rounded and clamped to the integer range.
    #[inline]
    pub fn quantize(&mut self, x: f32) -> i32 {
        let d = self.uniform() - self.uniform();
        (x * self.scale + d)
            .round()
            .clamp(-self.scale, self.scale - 1.0) as i32
    }
}

/// A file being written in any [`OutputFormat`].
pub enum AudioSink {
    /// WAV / RF64.
    Wav(Box<super::wav_write::WavSink>),
    /// FLAC.
    Flac(Box<super::flac_write::FlacSink>),
}

impl AudioSink {
    /// Creates the output (under a temporary name until [`AudioSink::finish`]).
    pub fn create(
        path: &Path,
        channels: usize,
        sample_rate: u32,
        format: OutputFormat,
    ) -> Result<Self, Error> {
        Ok(match format {
            OutputFormat::Flac16 | OutputFormat::Flac24 => Self::Flac(Box::new(
                super::flac_write::FlacSink::create(path, channels, sample_rate, format)?,
            )),
            _ => Self::Wav(Box::new(super::wav_write::WavSink::create(
                path,
                channels,
                sample_rate,
                format,
            )?)),
        })
    }

    /// Appends planar frames.
    pub fn write_planar(&mut self, planar: &[&[f32]]) -> Result<(), Error> {
        match self {
            Self::Wav(w) => w.write_planar(planar),
            Self::Flac(f) => f.write_planar(planar),
        }
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        match self {
            Self::Wav(w) => w.frames(),
            Self::Flac(f) => f.frames(),
        }
    }

    /// Finishes the file (with loudness metadata when given) and moves it into place.
    pub fn finish(self, delivery: Option<&Delivery>) -> Result<(), Error> {
        match self {
            Self::Wav(w) => w.finish(delivery),
            Self::Flac(f) => f.finish(delivery),
        }
    }
}
