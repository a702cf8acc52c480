//! Helpers for the node-catalogue and example-script tests: a temporary folder that holds the
//! test's WAV files and scripts, evaluation and rendering of a script the way `mixdown render`
//! does it (analysis passes, latency shift, trailing-silence trim), and small measurements
//! (DTFT of an impulse response, Goertzel, RMS, dB). Each test file uses a subset.
#![allow(dead_code)]

pub mod plugins;

use std::path::{Path, PathBuf};

use mixdown::measure::{Analyzer, Measurement};
use mixdown::render::{prepare_schedule, render_to_vec, RenderOptions, RenderReport};
use mixdown::script::{evaluate_source, Evaluated, ScriptOptions};

/// Session rate of the tests.
pub const SR: u32 = 48000;

/// A temporary folder for one test's files.
pub struct Dir {
    tmp: tempfile::TempDir,
}

/// What a render produced.
pub struct Rendered {
    /// Planar output, shifted by the graph latency and trimmed as `mixdown render` does.
    pub out: Vec<Vec<f32>>,
    /// The render report (measurement included).
    pub report: RenderReport,
    /// The compiled graph's latency in frames.
    pub latency: u32,
    /// Analysis passes run before the render.
    pub passes: u32,
}

impl Rendered {
    /// Left channel.
    pub fn l(&self) -> &[f32] {
        &self.out[0]
    }

    /// Right channel.
    pub fn r(&self) -> &[f32] {
        &self.out[1]
    }

    /// The loudness and peak figures of the render.
    pub fn m(&self) -> &Measurement {
        self.report.measurement.as_ref().expect("measured")
    }

    /// Integrated loudness, LUFS.
    pub fn lufs(&self) -> f64 {
        self.m()
            .integrated_lufs
            .expect("integrated loudness defined")
    }

    /// True peak, dBTP.
    pub fn tp(&self) -> f64 {
        self.m().true_peak_dbtp.expect("true peak defined")
    }
}

impl Dir {
    /// A fresh empty folder.
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes a 32-bit float WAV of planar `channels` at `sr`; returns its path.
    pub fn wav(&self, name: &str, sr: u32, channels: &[&[f32]]) -> PathBuf {
        let path = self.path().join(name);
        write_wav(&path, sr, channels);
        path
    }

    /// Writes `x` on both channels of a stereo float WAV at [`SR`].
    pub fn stereo(&self, name: &str, x: &[f32]) -> PathBuf {
        self.wav(name, SR, &[x, x])
    }

    /// Writes a script file.
    pub fn script(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("write script");
        path
    }

    /// Evaluates `src` as if it were `test.lua` in this folder.
    pub fn eval(&self, src: &str) -> Result<Evaluated, mixdown::Errors> {
        evaluate_source(src, "test.lua", self.path(), &ScriptOptions::default())
    }

    /// The error text of a script that must fail (evaluation or compilation).
    pub fn error(&self, src: &str) -> String {
        match self.eval(src) {
            Err(e) => e.to_string(),
            Ok(ev) => match mixdown::graph::compile(&ev.spec, Default::default()) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("the script should have been rejected:\n{src}"),
            },
        }
    }

    /// Evaluates and renders `src` like `mixdown render` (analysis passes, measurement).
    pub fn render(&self, src: &str) -> Rendered {
        self.render_with(src, RenderOptions::default())
    }

    /// As [`Dir::render`] with explicit options (`measure` is always on).
    pub fn render_with(&self, src: &str, opts: RenderOptions) -> Rendered {
        let ev = self
            .eval(src)
            .unwrap_or_else(|e| panic!("script failed:\n{e}\n--- script ---\n{src}"));
        render_evaluated(&ev, opts)
    }
}

/// Renders an evaluated script to memory, measured.
pub fn render_evaluated(ev: &Evaluated, opts: RenderOptions) -> Rendered {
    let opts = RenderOptions {
        measure: true,
        ..opts
    };
    let (schedule, passes) =
        prepare_schedule(&ev.spec, &opts).unwrap_or_else(|e| panic!("compile failed:\n{e}"));
    let latency = schedule.latency_frames;
    let (out, report) = render_to_vec(schedule, &opts);
    Rendered {
        out,
        report,
        latency,
        passes,
    }
}

/// Writes a 32-bit float WAV.
pub fn write_wav(path: &Path, sr: u32, channels: &[&[f32]]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: sr,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    let n = channels.iter().map(|c| c.len()).max().unwrap_or(0);
    for i in 0..n {
        for c in channels {
            w.write_sample(c.get(i).copied().unwrap_or(0.0))
                .expect("write sample");
        }
    }
    w.finalize().expect("finalize wav");
}

/// Reads any WAV as planar f32 in [-1, 1) (integers scaled by 2^(bits-1)).
pub fn read_wav(path: &Path) -> (hound::WavSpec, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let spec = r.spec();
    let ch = spec.channels as usize;
    let inter: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.unwrap() as f32 / scale)
                .collect()
        }
    };
    let mut planar = vec![Vec::with_capacity(inter.len() / ch); ch];
    for f in inter.chunks_exact(ch) {
        for (c, x) in f.iter().enumerate() {
            planar[c].push(*x);
        }
    }
    (spec, planar)
}

/// Measures planar audio with the engine's meter.
pub fn measure(planar: &[Vec<f32>], sr: f64) -> Measurement {
    let mut a = Analyzer::new(sr, planar.len());
    let views: Vec<&[f32]> = planar.iter().map(|c| c.as_slice()).collect();
    a.process(&views);
    a.result()
}

/// `len` zeros with `value` at `at`.
pub fn impulse(len: usize, at: usize, value: f32) -> Vec<f32> {
    let mut v = vec![0.0; len];
    v[at] = value;
    v
}

/// A sine of `amp` (peak) at `hz`, `len` frames at `sr`.
pub fn sine(len: usize, hz: f64, amp: f64, sr: f64) -> Vec<f32> {
    (0..len)
        .map(|n| (amp * (2.0 * std::f64::consts::PI * hz * n as f64 / sr).sin()) as f32)
        .collect()
}

/// Deterministic white noise, uniform in [-amp, amp].
pub fn noise(len: usize, amp: f64, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            (amp * (2.0 * u - 1.0)) as f32
        })
        .collect()
}

/// 20·log10(x).
pub fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// 10^(db/20).
pub fn lin(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// |H(f)| in dB of the (finite) impulse response `h`, by direct DTFT.
pub fn dtft_db(h: &[f32], f: f64, sr: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f / sr;
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (n, x) in h.iter().enumerate() {
        if *x != 0.0 {
            let p = w * n as f64;
            re += *x as f64 * p.cos();
            im -= *x as f64 * p.sin();
        }
    }
    db((re * re + im * im).sqrt())
}

/// Amplitude of the `f` component of `x` (a window holding a whole number of its periods).
pub fn tone_amp(x: &[f32], f: f64, sr: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f / sr;
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (n, v) in x.iter().enumerate() {
        let p = w * n as f64;
        re += *v as f64 * p.cos();
        im += *v as f64 * p.sin();
    }
    2.0 * (re * re + im * im).sqrt() / x.len() as f64
}

/// RMS of `x`.
pub fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Largest |x|.
pub fn peak(x: &[f32]) -> f64 {
    x.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64))
}

/// Seconds to frames at [`SR`].
pub fn frames(s: f64) -> usize {
    (s * SR as f64).round() as usize
}
