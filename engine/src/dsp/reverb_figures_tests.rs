//! The reverb's stated figures, measured on impulse responses against references computed
//! here: echo density, flutter, ringing modes, onset at the predelay, RT60 per octave.

use super::*;
use std::f64::consts::PI;

/// Stereo impulse response (mono impulse in), at `fs`.
fn ir(fs: f64, p: ReverbParams, seconds: f64) -> (Vec<f32>, Vec<f32>) {
    let mut rv = Reverb::new(fs, 100.0, p).unwrap();
    let n = (seconds * fs) as usize;
    let mut x = vec![0.0f32; n];
    x[0] = 1.0;
    let (mut l, mut r) = (vec![0.0; n], vec![0.0; n]);
    for ((xi, li), ri) in x.chunks(256).zip(l.chunks_mut(256)).zip(r.chunks_mut(256)) {
        rv.process(&[xi], &mut [li, ri]);
    }
    (l, r)
}

fn p(decay_s: f64, damping: f64, size: f64, predelay_ms: f64) -> ReverbParams {
    ReverbParams {
        decay_s,
        predelay_ms,
        damping,
        size,
        wet: 1.0,
        dry: 0.0,
    }
}

/// First frame whose magnitude reaches 1 % (−40 dB) of the response's peak, either side.
fn onset(l: &[f32], r: &[f32]) -> usize {
    let peak = l.iter().chain(r).fold(0.0f32, |a, &b| a.max(b.abs()));
    let first = |x: &[f32]| x.iter().position(|v| v.abs() >= 0.01 * peak).unwrap();
    first(l).min(first(r))
}

#[test]
fn the_wet_signal_starts_at_the_predelay() {
    for fs in [44_100.0, 48_000.0] {
        for size in [0.0, 0.5, 1.0] {
            for ms in [0.0, 10.0, 37.3] {
                let (l, r) = ir(fs, p(2.0, 0.5, size, ms), 0.2);
                let want = (ms * 1e-3 * fs).round() as usize;
                let first_any = l
                    .iter()
                    .chain(&r)
                    .position(|&v| v != 0.0)
                    .map(|i| i % l.len());
                let at = onset(&l, &r);
                eprintln!("reverb {fs} Hz size {size} predelay {ms} ms: onset (−40 dB re peak) at frame {at}, want {want}; first non-zero {first_any:?}");
                assert!(at.abs_diff(want) <= 1, "onset {at}, want {want}");
                assert!(l[..want].iter().chain(&r[..want]).all(|&v| v == 0.0));
            }
        }
    }
}

/// Echo density over `[from, from + len)`: an echo is a frame whose magnitude exceeds the
/// local RMS (centred 2 ms window) divided by √10, i.e. lies no more than 10 dB below it. An
/// isolated reflection counts once; Gaussian noise counts 75 % of its frames. Also the
/// Abel–Huang normalised echo density of the same span (fraction of frames outside one
/// standard deviation, over erfc(1/√2) = 0.3173; 1 for Gaussian noise), in 10 ms windows.
fn echo_density(x: &[f32], from: usize, len: usize, fs: f64) -> (f64, f64) {
    let half = (0.001 * fs) as usize;
    let mut count = 0;
    for n in from..from + len {
        let w = &x[n.saturating_sub(half)..(n + half + 1).min(x.len())];
        let rms = (w.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / w.len() as f64).sqrt();
        if rms > 0.0 && (x[n] as f64).abs() > rms / 10f64.sqrt() {
            count += 1;
        }
    }
    let win = (0.01 * fs) as usize;
    let mut ned = Vec::new();
    for start in (from..from + len + 1 - win).step_by(win / 2) {
        let w = &x[start..start + win];
        let sd = (w.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / win as f64).sqrt();
        let outside = w.iter().filter(|&&v| (v as f64).abs() > sd).count();
        ned.push(outside as f64 / win as f64 / 0.317_310_507_862_914);
    }
    (
        count as f64 / (len as f64 / fs),
        ned.iter().sum::<f64>() / ned.len() as f64,
    )
}

#[test]
fn echo_density_is_high_from_the_start() {
    for fs in [44_100.0, 48_000.0] {
        for size in [0.0, 0.5, 1.0] {
            let (l, r) = ir(fs, p(2.0, 0.5, size, 0.0), 0.3);
            let from = onset(&l, &r);
            let len = (0.02 * fs) as usize;
            let (dl, nl) = echo_density(&l, from, len, fs);
            let (dr, nr) = echo_density(&r, from, len, fs);
            eprintln!("reverb {fs} Hz size {size}: first 20 ms: {dl:.0} / {dr:.0} echoes/s (L/R), Abel–Huang density {nl:.2} / {nr:.2}");
            assert!(dl.min(dr) >= 1000.0, "{dl} {dr}");
            // And noise-like already: Gaussian noise scores 1, the old network 0.02.
            assert!(nl.min(nr) >= 0.7, "{nl} {nr}");
        }
    }
}

/// `x` with its decay envelope removed: each frame divided by the RMS of a centred 20 ms window.
fn flatten(x: &[f32], fs: f64) -> Vec<f64> {
    let half = (0.01 * fs) as usize;
    let sq: Vec<f64> = x.iter().map(|&v| v as f64 * v as f64).collect();
    let mut acc = vec![0.0; sq.len() + 1];
    for (i, v) in sq.iter().enumerate() {
        acc[i + 1] = acc[i] + v;
    }
    (0..x.len())
        .map(|n| {
            let (a, b) = (n.saturating_sub(half), (n + half + 1).min(x.len()));
            let rms = ((acc[b] - acc[a]) / (b - a) as f64).sqrt();
            if rms > 0.0 {
                x[n] as f64 / rms
            } else {
                0.0
            }
        })
        .collect()
}

/// Largest |normalised autocorrelation| of `x` over lags `lags` (frames), and its lag.
fn max_autocorrelation(x: &[f64], lags: std::ops::Range<usize>) -> (f64, usize) {
    let mut best = (0.0, 0);
    for lag in lags {
        let (a, b) = (&x[..x.len() - lag], &x[lag..]);
        let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
        for (&u, &v) in a.iter().zip(b) {
            ab += u * v;
            aa += u * u;
            bb += v * v;
        }
        let r = (ab / (aa * bb).sqrt()).abs();
        if r > best.0 {
            best = (r, lag);
        }
    }
    best
}

#[test]
fn the_tail_does_not_flutter() {
    // Tail from 50 ms after the onset to 1.05 s, envelope removed, lags 5–150 ms (every line
    // length and many of their sums). Noise of this length gives about 0.02 at most.
    let fs = 48_000.0;
    for size in [0.0, 0.5, 1.0] {
        let (l, r) = ir(fs, p(2.0, 0.5, size, 0.0), 1.3);
        let from = onset(&l, &r) + (0.05 * fs) as usize;
        let to = from + fs as usize;
        let lags = (0.005 * fs) as usize..(0.15 * fs) as usize;
        let mut worst: (f64, usize) = (0.0, 0);
        for x in [&l, &r] {
            let f = flatten(&x[..to + (0.01 * fs) as usize], fs);
            let m = max_autocorrelation(&f[from..to], lags.clone());
            if m.0 > worst.0 {
                worst = m;
            }
        }
        eprintln!(
            "reverb size {size}: tail autocorrelation beyond 5 ms at most {:.3} (lag {:.2} ms)",
            worst.0,
            worst.1 as f64 / fs * 1e3
        );
        assert!(worst.0 < 0.05, "size {size}: {worst:?}");
    }
}

/// In-place radix-2 FFT (length a power of two).
fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let w = -2.0 * PI / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (s, c) = (w * k as f64).sin_cos();
                let (a, b) = (start + k, start + k + len / 2);
                let (tr, ti) = (re[b] * c - im[b] * s, re[b] * s + im[b] * c);
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

/// Ringing modes: the tail (100 ms after the onset, 1.9 s long) times `10^(3t/decay_s)`
/// (the nominal decay undone, so a mode that rings longer than the rest grows), Welch power
/// spectrum (8192-frame Hann segments, half overlap, both channels: 2 × 22 averages, so
/// chance peaks stay within about 3 dB), each bin against the median of its third of an
/// octave. Returns the largest excess (dB) between 100 Hz and 16 kHz, its frequency and the
/// fraction of bins more than 6 dB above their median. (A single long periodogram would not
/// do: its bins scatter exponentially, and the largest of 30 000 lies about 11.5 dB above
/// the median for white noise.)
fn mode_prominence(l: &[f32], r: &[f32], from: usize, fs: f64, decay_s: f64) -> (f64, f64, f64) {
    const N: usize = 8192;
    let len = (1.9 * fs) as usize;
    let hann: Vec<f64> = (0..N)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / N as f64).cos())
        .collect();
    let mut power = vec![0.0; N / 2];
    for x in [l, r] {
        let comp: Vec<f64> = (0..len)
            .map(|i| x[from + i] as f64 * 10f64.powf(3.0 * i as f64 / fs / decay_s))
            .collect();
        for start in (0..=len - N).step_by(N / 2) {
            let mut re: Vec<f64> = (0..N).map(|i| comp[start + i] * hann[i]).collect();
            let mut im = vec![0.0; N];
            fft(&mut re, &mut im);
            for k in 0..N / 2 {
                power[k] += re[k] * re[k] + im[k] * im[k];
            }
        }
    }
    let bin = fs / N as f64;
    let (mut worst, mut at, mut over6, mut total) = (f64::MIN, 0.0, 0, 0);
    for k in (100.0 / bin) as usize..=(16_000.0 / bin) as usize {
        let f = k as f64 * bin;
        let lo = ((f * 2f64.powf(-1.0 / 6.0)) / bin).floor() as usize;
        let hi = ((f * 2f64.powf(1.0 / 6.0)) / bin).ceil() as usize;
        let mut band: Vec<f64> = power[lo..=hi.min(N / 2 - 1)].to_vec();
        band.sort_by(f64::total_cmp);
        let median = band[band.len() / 2];
        let excess = 10.0 * (power[k] / median).log10();
        if excess > worst {
            (worst, at) = (excess, f);
        }
        over6 += usize::from(excess > 6.0);
        total += 1;
    }
    (worst, at, over6 as f64 / total as f64)
}

#[test]
fn no_mode_rings_out_of_the_tail() {
    let fs = 48_000.0;
    for size in [0.0, 0.5, 1.0] {
        let (l, r) = ir(fs, p(2.0, 0.0, size, 0.0), 2.2);
        let from = onset(&l, &r) + (0.1 * fs) as usize;
        let (worst, at, over6) = mode_prominence(&l, &r, from, fs, 2.0);
        eprintln!("reverb size {size}: largest mode {worst:.1} dB above its third-octave median at {at:.0} Hz; {:.2} % of bins more than 6 dB above", 100.0 * over6);
        assert!(worst < 10.0, "size {size}: {worst:.1} dB at {at:.0} Hz");
    }
}

/// RBJ band-pass (0 dB peak) in f64.
fn bandpass(x: &[f64], hz: f64, q: f64, fs: f64) -> Vec<f64> {
    let w0 = 2.0 * PI * hz / fs;
    let alpha = w0.sin() / (2.0 * q);
    let a0 = 1.0 + alpha;
    let (b0, b2, a1, a2) = (
        alpha / a0,
        -alpha / a0,
        -2.0 * w0.cos() / a0,
        (1.0 - alpha) / a0,
    );
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    x.iter()
        .map(|&v| {
            let y = b0 * v + b2 * x2 - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, v, y1, y);
            y
        })
        .collect()
}

/// RT60 by Schroeder backward integration, a line fitted from −5 to −35 dB (T30).
fn t30(energy: &[f64], fs: f64) -> f64 {
    let mut edc = vec![0.0; energy.len()];
    let mut acc = 0.0;
    for i in (0..energy.len()).rev() {
        acc += energy[i];
        edc[i] = acc;
    }
    let (mut n, mut st, mut sl, mut stt, mut stl) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &e) in edc.iter().enumerate() {
        let db = 10.0 * (e / edc[0]).log10();
        if (-35.0..=-5.0).contains(&db) {
            let t = i as f64 / fs;
            n += 1.0;
            st += t;
            sl += db;
            stt += t * t;
            stl += t * db;
        }
    }
    -60.0 / ((n * stl - st * sl) / (n * stt - st * st))
}

/// The documented decay rule: a line of `d` frames loses 60 dB per `decay_s` at DC and per
/// `decay_s·(1 − 0.9·damping)` at Nyquist, through a one-pole in between; RT60 at `hz`.
fn predicted_rt60(fs: f64, decay_s: f64, damping: f64, hz: f64) -> f64 {
    let d = 0.03 * fs; // any length: the rule makes RT60 independent of it
    let g_dc = 10f64.powf(-3.0 * d / (fs * decay_s));
    let g_ny = 10f64.powf(-3.0 * d / (fs * decay_s * (1.0 - 0.9 * damping)));
    let pole = (g_dc - g_ny) / (g_dc + g_ny);
    let w = 2.0 * PI * hz / fs;
    let mag = g_dc * (1.0 - pole) / (1.0 + pole * pole - 2.0 * pole * w.cos()).sqrt();
    -3.0 * d / (fs * mag.log10())
}

#[test]
fn rt60_per_octave_within_5_percent() {
    let fs = 48_000.0;
    let mut worst: f64 = 0.0;
    for (decay, damping, size) in [(2.0, 0.0, 0.5), (2.0, 0.5, 0.0), (1.0, 0.5, 1.0)] {
        let (l, r) = ir(fs, p(decay, damping, size, 0.0), decay * 1.2 + 0.3);
        let (l, r): (Vec<f64>, Vec<f64>) = (
            l.iter().map(|&v| v as f64).collect(),
            r.iter().map(|&v| v as f64).collect(),
        );
        let mut line = format!("reverb RT60 decay {decay} damping {damping} size {size}:");
        for hz in [125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0] {
            // Octave band: two cascaded band-passes (Q 1.41 each, about an octave together).
            let bp = |x: &[f64]| bandpass(&bandpass(x, hz, 1.41, fs), hz, 1.41, fs);
            let (bl, br) = (bp(&l), bp(&r));
            let e: Vec<f64> = bl.iter().zip(&br).map(|(a, b)| a * a + b * b).collect();
            let rt = t30(&e, fs);
            let want = predicted_rt60(fs, decay, damping, hz);
            let err = rt / want - 1.0;
            worst = worst.max(err.abs());
            line += &format!(" {hz} Hz {rt:.3} s ({:+.1} %)", 100.0 * err);
        }
        eprintln!("{line}");
    }
    assert!(worst < 0.05, "{worst}");
}
