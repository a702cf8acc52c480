//! Decoding (WAV 16/24/32-bit integer and 32/64-bit float, FLAC, MP3, Ogg Vorbis), seeking,
//! resampling to the session rate, clear errors for broken files, and measurement of every
//! format. Fixtures in tests/fixtures are a 1 kHz sine at amplitude 0.5 (RMS −9.03 dBFS); the
//! stereo ones carry 0.25 on the right (−15.05 dBFS). They were made with ffmpeg and are
//! committed, so these tests need no tools.

use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::process::Command;

use mixdown::error::Error;
use mixdown::io::decode::{probe_audio, read_all_audio, Decoder};
use mixdown::io::resample::{frames_at_rate, AudioStream, FrameSource, Resampled};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn rms_db(x: &[f32]) -> f64 {
    let s: f64 = x.iter().map(|v| (*v as f64).powi(2)).sum();
    10.0 * (s / x.len() as f64).log10()
}

/// Frequency from rising zero crossings (interpolated), over `x` at `sr`.
fn zc_hz(x: &[f32], sr: f64) -> f64 {
    let mut crossings = vec![];
    for i in 1..x.len() {
        if x[i - 1] < 0.0 && x[i] >= 0.0 {
            let t = (i - 1) as f64 + (-x[i - 1] / (x[i] - x[i - 1])) as f64;
            crossings.push(t);
        }
    }
    let n = crossings.len() - 1;
    n as f64 * sr / (crossings[n] - crossings[0])
}

/// Amplitude of the `hz` component (least squares against sin and cos).
fn amplitude(x: &[f32], hz: f64, sr: f64) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let w = 2.0 * PI * hz * i as f64 / sr;
        s += *v as f64 * w.sin();
        c += *v as f64 * w.cos();
    }
    2.0 * (s * s + c * c).sqrt() / x.len() as f64
}

/// The middle of a signal: skips `edge` frames at both ends (encoder ramps, filter edges).
fn middle(x: &[f32], edge: usize) -> &[f32] {
    &x[edge..x.len() - edge]
}

const LEFT_DB: f64 = -9.0309; // 0.5 amplitude
const RIGHT_DB: f64 = -15.0515; // 0.25 amplitude

fn check_sine(name: &str, tol_db: f64, edge_s: f64) {
    let (info, x) = read_all_audio(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let sr = info.sample_rate as f64;
    let edge = (edge_s * sr) as usize;
    let l = middle(&x[0], edge);
    let got = rms_db(l);
    assert!(
        (got - LEFT_DB).abs() <= tol_db,
        "{name}: left RMS {got:.3} dB"
    );
    let hz = zc_hz(l, sr);
    assert!((hz - 1000.0).abs() < 0.5, "{name}: {hz:.2} Hz");
    if info.channels == 2 {
        let got = rms_db(middle(&x[1], edge));
        assert!(
            (got - RIGHT_DB).abs() <= tol_db,
            "{name}: right RMS {got:.3} dB"
        );
    }
    println!(
        "{name}: {} Hz, {} ch, {} frames, codec {}, left {got:.3} dBFS RMS, {hz:.3} Hz",
        info.sample_rate, info.channels, info.frames, info.codec
    );
}

#[test]
fn lossless_formats_decode_level_and_frequency() {
    for name in [
        "sine1k_44k_mono_s16.wav",
        "sine1k_44k_mono_s24.wav",
        "sine1k_44k_mono_s32.wav",
        "sine1k_44k_mono_f32.wav",
        "sine1k_44k_mono_f64.wav",
        "sine1k_48k_stereo_s16.wav",
        "sine1k_48k_stereo_f64.wav",
        "sine1k_44k_mono.flac",
        "sine1k_48k_stereo.flac",
    ] {
        check_sine(name, 0.1, 0.0);
    }
}

#[test]
fn lossy_formats_decode_level_and_frequency() {
    // The encoders ramp the first and last few milliseconds; measure the steady part.
    for name in [
        "sine1k_44k_mono.mp3",
        "sine1k_48k_stereo.mp3",
        "sine1k_44k_mono.ogg",
        "sine1k_48k_stereo.ogg",
    ] {
        check_sine(name, 0.5, 0.05);
    }
}

#[test]
fn probe_reports_channels_rate_length_and_codec() {
    let cases = [
        ("sine1k_44k_mono_s16.wav", 1, 44100, 22050, "pcm"),
        ("sine1k_44k_mono_f64.wav", 1, 44100, 4410, "pcm_f64le"),
        ("sine1k_48k_stereo_f64.wav", 2, 48000, 4800, "pcm_f64le"),
        ("sine1k_44k_mono.flac", 1, 44100, 22050, "flac"),
        ("sine1k_48k_stereo.flac", 2, 48000, 12000, "flac"),
        // Gapless MP3 and Vorbis: the encoder delay and padding are removed.
        ("sine1k_44k_mono.mp3", 1, 44100, 22050, "mp3"),
        ("sine1k_48k_stereo.mp3", 2, 48000, 24000, "mp3"),
        ("sine1k_44k_mono.ogg", 1, 44100, 22050, "vorbis"),
        ("sine1k_48k_stereo.ogg", 2, 48000, 24000, "vorbis"),
    ];
    for (name, ch, sr, frames, codec) in cases {
        let i = probe_audio(&fixture(name)).unwrap();
        assert_eq!(
            (i.channels, i.sample_rate, i.frames, i.codec.as_str()),
            (ch, sr, frames, codec),
            "{name}"
        );
    }
    // Plain WAVs take the direct path; 64-bit float goes through symphonia.
    assert!(probe_audio(&fixture("sine1k_44k_mono_s24.wav"))
        .unwrap()
        .wav
        .is_some());
    assert!(probe_audio(&fixture("sine1k_44k_mono_f64.wav"))
        .unwrap()
        .wav
        .is_none());
}

fn read_from(info: &mixdown::io::decode::AudioInfo, at: u64, n: usize) -> Vec<f32> {
    let mut d = Decoder::open(info).unwrap();
    d.seek(at).unwrap();
    let mut out = vec![0f32; n * info.channels];
    let mut got = 0;
    while got < n {
        let k = d.read(&mut out[got * info.channels..]).unwrap();
        if k == 0 {
            break;
        }
        got += k;
    }
    out.truncate(got * info.channels);
    out
}

#[test]
fn seeking_lands_on_the_exact_frame() {
    for (name, tol) in [
        ("sine1k_44k_mono_s16.wav", 0.0),
        ("sine1k_48k_stereo_f64.wav", 0.0),
        ("sine1k_44k_mono.flac", 0.0),
        ("sine1k_48k_stereo.flac", 0.0),
        ("sine1k_48k_stereo.mp3", 0.02),
        ("sine1k_48k_stereo.ogg", 0.02),
    ] {
        let info = probe_audio(&fixture(name)).unwrap();
        let all = read_from(&info, 0, info.frames as usize);
        assert_eq!(all.len(), info.frames as usize * info.channels, "{name}");
        for at in [1u64, 1000, 4097, 7919, info.frames - 300] {
            if at + 256 > info.frames {
                continue;
            }
            let got = read_from(&info, at, 256);
            let want = &all[at as usize * info.channels..][..got.len()];
            assert_eq!(got.len(), 256 * info.channels, "{name} at {at}");
            let err = got
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err as f64 <= tol, "{name}: seek to {at} differs by {err}");
        }
        // Past the end: nothing, no error.
        assert!(read_from(&info, info.frames + 10, 16).is_empty(), "{name}");
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// An in-memory sine source for the resampler.
struct Sine {
    hz: f64,
    sr: f64,
    amp: f64,
    pos: u64,
    frames: u64,
}

impl FrameSource for Sine {
    fn channels(&self) -> usize {
        1
    }
    fn seek(&mut self, frame: u64) -> Result<(), Error> {
        self.pos = frame;
        Ok(())
    }
    fn read(&mut self, out: &mut [f32]) -> Result<usize, Error> {
        let n = (out.len() as u64).min(self.frames.saturating_sub(self.pos)) as usize;
        for (i, o) in out[..n].iter_mut().enumerate() {
            let t = (self.pos + i as u64) as f64 / self.sr;
            *o = (self.amp * (2.0 * PI * self.hz * t).sin()) as f32;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn resample_sine(hz: f64, from: u32, to: u32, secs: f64) -> Vec<f32> {
    let frames = (secs * from as f64) as u64;
    let src = Sine {
        hz,
        sr: from as f64,
        amp: 0.5,
        pos: 0,
        frames,
    };
    let mut r = Resampled::new(src, frames, from, to).unwrap();
    assert_eq!(r.frames(), frames_at_rate(frames, from, to));
    let mut out = vec![0f32; r.frames() as usize];
    let mut got = 0;
    while got < out.len() {
        let k = r.read(&mut out[got..]).unwrap();
        assert!(k > 0);
        got += k;
    }
    assert_eq!(r.read(&mut [0.0; 16]).unwrap(), 0);
    out
}

/// Passband ripple documented in io/resample.rs.
const PASSBAND_RIPPLE_DB: f64 = 0.001;
/// Stopband (aliases and images) documented in io/resample.rs.
const STOPBAND_DB: f64 = -130.0;

#[test]
fn resampler_passband_is_flat_and_in_phase() {
    for (from, to) in [
        (44100, 48000),
        (48000, 44100),
        (22050, 48000),
        (48000, 96000),
    ] {
        for hz in [100.0, 1000.0, 10000.0, 18000.0, 20000.0] {
            if hz > 0.455 * from.min(to) as f64 {
                continue;
            }
            let out = resample_sine(hz, from, to, 0.5);
            let sr = to as f64;
            // A whole number of cycles, so the estimate has no leakage.
            let period = to as u64 / gcd(to as u64, hz as u64);
            let n = ((out.len() as u64 - 4800) / period * period) as usize;
            let mid = &out[2400..2400 + n];
            let a = amplitude(mid, hz, sr);
            let db = 20.0 * (a / 0.5).log10();
            println!("{from} -> {to}: {hz} Hz at {db:+.5} dB");
            assert!(
                db.abs() <= PASSBAND_RIPPLE_DB,
                "{from}->{to} {hz} Hz: {db:+.4} dB"
            );
            // Timing: the output is the same sine on the output clock (no delay, no drift).
            let worst = mid
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let t = (i + 2400) as f64 / sr;
                    (*v as f64 - 0.5 * (2.0 * PI * hz * t).sin()).abs()
                })
                .fold(0.0, f64::max);
            assert!(
                worst < 1e-3 * (hz / 1000.0).max(1.0),
                "{from}->{to} {hz} Hz: off by {worst}"
            );
        }
    }
}

#[test]
fn resampler_images_and_aliases_are_below_the_stopband() {
    // Upsampling 44.1 -> 48 kHz: an 18 kHz tone images at 44.1 - 18 = 26.1 kHz, which folds to
    // 21.9 kHz at 48 kHz.
    let out = resample_sine(18000.0, 44100, 48000, 0.5);
    let img = amplitude(middle(&out, 2400), 48000.0 - 26100.0, 48000.0);
    let img_db = 20.0 * (img / 0.5).log10();
    // Downsampling 48 -> 44.1 kHz: a 23 kHz tone (above the new Nyquist) would alias to 21.1 kHz.
    let out = resample_sine(23000.0, 48000, 44100, 0.5);
    let total_db = rms_db(middle(&out, 2400)) - rms_db(&[0.5, -0.5]) + 3.0103;
    println!("image {img_db:.1} dB, alias (all output) {total_db:.1} dB");
    assert!(img_db < STOPBAND_DB, "image at {img_db:.1} dB");
    assert!(total_db < STOPBAND_DB, "alias at {total_db:.1} dB");
}

#[test]
fn a_44k_file_in_a_48k_stream_keeps_pitch_length_and_level() {
    for name in ["sine1k_44k_mono_s16.wav", "sine1k_44k_mono.flac"] {
        let info = probe_audio(&fixture(name)).unwrap();
        let mut s = AudioStream::open(&info, 48000).unwrap();
        let mut out = vec![0f32; 30000];
        let mut got = 0;
        loop {
            let k = s.read(&mut out[got..]).unwrap();
            if k == 0 {
                break;
            }
            got += k;
        }
        out.truncate(got);
        let want = 0.5 * 48000.0;
        assert!((got as f64 - want).abs() <= 48.0, "{name}: {got} frames");
        let mid = middle(&out, 1200);
        let hz = zc_hz(mid, 48000.0);
        let db = rms_db(mid);
        assert!((hz - 1000.0).abs() < 0.1, "{name}: {hz} Hz");
        assert!((db - LEFT_DB).abs() < 0.05, "{name}: {db} dB");
        // Seeks land on the same samples a straight read gives.
        for at in [1u64, 159, 160, 4800, 10007] {
            s.seek(at).unwrap();
            let mut b = vec![0f32; 512];
            let k = s.read(&mut b).unwrap();
            assert_eq!(k, 512);
            let err = b
                .iter()
                .zip(&out[at as usize..])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 1e-4, "{name}: seek to {at} differs by {err}");
        }
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mixdown"))
}

#[test]
fn a_44k_track_renders_in_a_48k_session_at_pitch_and_length() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("sine1k_44k_mono.flac"),
        dir.path().join("tone.flac"),
    )
    .unwrap();
    std::fs::copy(fixture("sine1k_48k_stereo.ogg"), dir.path().join("st.ogg")).unwrap();
    let script = dir.path().join("s.lua");
    std::fs::write(
        &script,
        "mix.session { sample_rate = 48000 }\n\
         local t = mix.track(\"t\", { file = \"tone.flac\", start_s = 0.25 })\n\
         t.pan = -1\n",
    )
    .unwrap();
    let out = dir.path().join("o.wav");
    let r = bin()
        .args([
            "render",
            script.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--format",
            "wav32f",
        ])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let (info, x) = read_all_audio(&out).unwrap();
    assert_eq!(info.sample_rate, 48000);
    let l = &x[0];
    let first = l.iter().position(|v| v.abs() > 1e-3).unwrap();
    let last = l.iter().rposition(|v| v.abs() > 1e-3).unwrap();
    let dur = (last + 1 - first) as f64 / 48000.0;
    assert!(
        (first as f64 / 48000.0 - 0.25).abs() < 0.001,
        "starts at frame {first}"
    );
    assert!((dur - 0.5).abs() < 0.001, "lasts {dur} s");
    let mid = &l[first + 2400..last - 2400];
    let hz = zc_hz(mid, 48000.0);
    assert!((hz - 1000.0).abs() < 0.1, "{hz} Hz");
    // Hard left: the full level on the left (a mono source panned with the −3 dB law reaches
    // 0 dB at the edge).
    let db = rms_db(mid);
    println!("rendered: starts {first}, {dur:.5} s, {hz:.3} Hz, {db:.3} dB");
    assert!((db - LEFT_DB).abs() < 0.1, "{db} dB");
}

fn err_of(name: &str) -> String {
    let p = fixture(name);
    let e = probe_audio(&p).unwrap_err().to_string();
    assert!(
        e.contains(&p.display().to_string()),
        "does not name the file: {e}"
    );
    e
}

#[test]
fn broken_files_give_clear_errors() {
    let e = err_of("corrupt.flac");
    assert!(e.contains("corrupt data at frame 9216 (0.209 s)"), "{e}");
    let e = err_of("truncated.mp3");
    assert!(e.contains("truncated") && e.contains("frame 10415"), "{e}");
    let e = err_of("truncated.ogg");
    assert!(e.contains("truncated"), "{e}");
    let e = err_of("text.flac");
    assert!(e.contains("not an audio file"), "{e}");
    let e = err_of("missing.flac");
    assert!(e.contains("file not found"), "{e}");
    // A WAV named after its content still gets the WAV reader's precise messages.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.wav");
    let w = std::fs::read(fixture("sine1k_44k_mono_s16.wav")).unwrap();
    std::fs::write(&p, &w[..w.len() / 2]).unwrap();
    let e = probe_audio(&p).unwrap_err().to_string();
    assert!(e.contains("truncated") && e.contains("cut.wav"), "{e}");
    // An FLAC file named .wav is read by content.
    let p = dir.path().join("really_flac.wav");
    std::fs::copy(fixture("sine1k_44k_mono.flac"), &p).unwrap();
    let e = probe_audio(&p)
        .map(|i| i.codec)
        .unwrap_or_else(|e| e.to_string());
    println!("flac named .wav: {e}");
}

fn measure_json(p: &Path) -> String {
    let r = bin().args(["measure", "--json"]).arg(p).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    String::from_utf8(r.stdout).unwrap()
}

fn field(json: &str, key: &str) -> f64 {
    let at = json.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
    json[at..]
        .split([',', '}'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn measure_reads_every_format_alike() {
    let wav = measure_json(&fixture("sine1k_44k_mono_s16.wav"));
    let flac = measure_json(&fixture("sine1k_44k_mono.flac"));
    let (a, b) = (
        field(&wav, "integrated_lufs"),
        field(&flac, "integrated_lufs"),
    );
    println!("{wav}{flac}");
    assert!((a - b).abs() <= 0.05, "WAV {a} LUFS, FLAC {b} LUFS");
    assert_eq!(
        field(&wav, "sample_peak_dbfs"),
        field(&flac, "sample_peak_dbfs")
    );
    // The lossy ones measure close (their level is within 0.5 dB of the source).
    for name in [
        "sine1k_44k_mono.mp3",
        "sine1k_44k_mono.ogg",
        "sine1k_44k_mono_f64.wav",
    ] {
        let j = measure_json(&fixture(name));
        let m = mixdown::measure::measure_file(&fixture(name)).unwrap();
        assert!(m.sample_peak_dbfs.is_some(), "{name}");
        assert!(j.contains("true_peak_dbtp"), "{name}");
    }
    // A broken file fails with its path in the message.
    let r = bin()
        .args(["measure"])
        .arg(fixture("corrupt.flac"))
        .output()
        .unwrap();
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("corrupt.flac"));
}
