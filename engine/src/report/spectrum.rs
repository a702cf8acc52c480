//! Long-term average spectrum (Welch): Hann windows of [`WINDOW`] frames with 50 % overlap,
//! power averaged over windows and channels, then reduced to a log-frequency axis.
//!
//! Level convention: the power of bin `k` is `(2·|X[k]| / Σw)²`, so a full-scale sine reads
//! 0 dB at its peak bin and a sine of amplitude A reads 20·log10(A) dB. Broadband signals read
//! per-bin levels (a density at the 11.7 Hz resolution of 4096 points at 48 kHz).
//!
//! The FFT is a plain iterative radix-2 complex FFT in f64 (tables built once per analyser).

use std::f64::consts::PI;

/// Window length in frames (Hann, 50 % overlap, so a hop of `WINDOW / 2`).
pub const WINDOW: usize = 4096;
/// Points per octave of the log-frequency axis in [`Spectrum::log_points`].
pub const POINTS_PER_OCTAVE: usize = 24;
/// Lowest frequency of the log-frequency axis, Hz.
pub const LOW_HZ: f64 = 20.0;
/// Highest frequency of the log-frequency axis, Hz (capped below Nyquist).
pub const HIGH_HZ: f64 = 20_000.0;

/// In-place radix-2 complex FFT of a fixed power-of-two size.
#[derive(Clone, Debug)]
pub struct Fft {
    n: usize,
    /// `(cos, −sin)` of `2πk/n` for `k < n/2`.
    twiddles: Vec<(f64, f64)>,
    bitrev: Vec<usize>,
}

impl Fft {
    /// Tables for size `n` (a power of two ≥ 2).
    ///
    /// # Panics
    /// If `n` is not a power of two or is below 2.
    pub fn new(n: usize) -> Self {
        assert!(
            n >= 2 && n.is_power_of_two(),
            "Fft: size {n} is not a power of two"
        );
        let bits = n.trailing_zeros();
        let twiddles = (0..n / 2)
            .map(|k| {
                let a = 2.0 * PI * k as f64 / n as f64;
                (a.cos(), -a.sin())
            })
            .collect();
        let bitrev = (0..n)
            .map(|i| i.reverse_bits() >> (usize::BITS - bits))
            .collect();
        Self {
            n,
            twiddles,
            bitrev,
        }
    }

    /// Forward transform of `re + i·im` in place (no scaling).
    pub fn forward(&self, re: &mut [f64], im: &mut [f64]) {
        let n = self.n;
        assert!(re.len() == n && im.len() == n, "Fft::forward: wrong length");
        for i in 0..n {
            let j = self.bitrev[i];
            if j > i {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let half = len / 2;
            let step = n / len;
            for start in (0..n).step_by(len) {
                for k in 0..half {
                    let (wr, wi) = self.twiddles[k * step];
                    let (a, b) = (start + k, start + k + half);
                    let tr = re[b] * wr - im[b] * wi;
                    let ti = re[b] * wi + im[b] * wr;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            len *= 2;
        }
    }
}

/// Streaming Welch analyser: feed planar audio, read the averaged one-sided power spectrum.
#[derive(Clone, Debug)]
pub struct WelchAnalyzer {
    sample_rate: f64,
    fft: Fft,
    window: Vec<f64>,
    /// `(2 / Σw)²`: scales `|X|²` so a full-scale sine reads 1.0 at its peak bin.
    scale: f64,
    /// Pending input per channel (at most `WINDOW` frames kept).
    pending: Vec<Vec<f32>>,
    /// Sum of the power of every window of every channel, bins `0..=WINDOW/2`.
    acc: Vec<f64>,
    /// Windows summed into `acc` (per channel).
    windows: u64,
    re: Vec<f64>,
    im: Vec<f64>,
}

impl WelchAnalyzer {
    /// For `channels` channels at `sample_rate`. Allocates the tables and buffers.
    pub fn new(sample_rate: f64, channels: usize) -> Self {
        let window: Vec<f64> = (0..WINDOW)
            .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / WINDOW as f64).cos())
            .collect();
        let sum: f64 = window.iter().sum();
        Self {
            sample_rate,
            fft: Fft::new(WINDOW),
            window,
            scale: (2.0 / sum).powi(2),
            pending: vec![Vec::with_capacity(2 * WINDOW); channels.max(1)],
            acc: vec![0.0; WINDOW / 2 + 1],
            windows: 0,
            re: vec![0.0; WINDOW],
            im: vec![0.0; WINDOW],
        }
    }

    /// Feeds planar audio (one slice per channel, equal lengths). Non-finite samples count as 0.
    pub fn process(&mut self, planar: &[&[f32]]) {
        let frames = planar.first().map_or(0, |c| c.len());
        let mut start = 0;
        while start < frames {
            let room = WINDOW - self.pending[0].len();
            let n = room.min(frames - start);
            for (p, ch) in self.pending.iter_mut().zip(planar) {
                p.extend(
                    ch[start..start + n]
                        .iter()
                        .map(|x| if x.is_finite() { *x } else { 0.0 }),
                );
            }
            start += n;
            if self.pending[0].len() == WINDOW {
                self.analyse_window();
                for p in &mut self.pending {
                    p.drain(..WINDOW / 2);
                }
            }
        }
    }

    fn analyse_window(&mut self) {
        for c in 0..self.pending.len() {
            for i in 0..WINDOW {
                self.re[i] = f64::from(self.pending[c][i]) * self.window[i];
                self.im[i] = 0.0;
            }
            self.fft.forward(&mut self.re, &mut self.im);
            for (k, a) in self.acc.iter_mut().enumerate() {
                *a += self.re[k] * self.re[k] + self.im[k] * self.im[k];
            }
        }
        self.windows += 1;
    }

    /// The averaged spectrum so far (empty if less than one full window was fed).
    pub fn spectrum(&self) -> Spectrum {
        let n = self.windows * self.pending.len() as u64;
        let power = if n == 0 {
            Vec::new()
        } else {
            self.acc.iter().map(|a| a * self.scale / n as f64).collect()
        };
        Spectrum {
            bin_hz: self.sample_rate / WINDOW as f64,
            power,
            windows: self.windows,
        }
    }
}

/// An averaged one-sided power spectrum on the linear FFT grid.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spectrum {
    /// Spacing of the bins, Hz (`sample_rate / WINDOW`).
    pub bin_hz: f64,
    /// Power of bins `0..=WINDOW/2` (linear, see the module doc for the scale); empty when no
    /// full window was analysed.
    pub power: Vec<f64>,
    /// Windows averaged.
    pub windows: u64,
}

/// A point of a log-frequency spectrum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectrumPoint {
    /// Centre frequency, Hz.
    pub hz: f64,
    /// Level, dB (see the module doc); `-inf` for a band with no energy.
    pub db: f64,
}

impl Spectrum {
    /// Index of the loudest bin above DC, if any.
    pub fn peak_bin(&self) -> Option<usize> {
        (1..self.power.len()).max_by(|&a, &b| self.power[a].total_cmp(&self.power[b]))
    }

    /// Reduced to [`POINTS_PER_OCTAVE`] points per octave from [`LOW_HZ`] to [`HIGH_HZ`] (or
    /// Nyquist), on a grid through 1 kHz: each point is the mean power over the fractional-octave
    /// band ±½ step around its centre, with the spectrum taken as linear between bins. Where the
    /// band is narrower than a bin (the low end) that is the interpolated power at the centre,
    /// so the curve is smooth there too, not a staircase of bins. Empty if the spectrum is.
    pub fn log_points(&self) -> Vec<SpectrumPoint> {
        if self.power.len() < 2 || self.bin_hz <= 0.0 {
            return Vec::new();
        }
        let nyq = self.bin_hz * (self.power.len() - 1) as f64;
        let high = HIGH_HZ.min(nyq * 0.999);
        let step = 2f64.powf(1.0 / POINTS_PER_OCTAVE as f64);
        let half = step.sqrt();
        let mut out = Vec::new();
        // The grid is anchored on 1 kHz: f = 1000 · 2^(k / POINTS_PER_OCTAVE).
        let k0 = ((LOW_HZ / 1000.0).log2() * POINTS_PER_OCTAVE as f64).ceil() as i32;
        let mut f = 1000.0 * 2f64.powf(k0 as f64 / POINTS_PER_OCTAVE as f64);
        while f <= high {
            let p = self.band_mean(f / half / self.bin_hz, f * half / self.bin_hz);
            out.push(SpectrumPoint {
                hz: f,
                db: 10.0 * p.log10(),
            });
            f *= step;
        }
        out
    }
}

impl Spectrum {
    /// The power linearly interpolated at fractional bin `x`.
    fn at(&self, x: f64) -> f64 {
        let n = self.power.len() - 1;
        let x = x.clamp(0.0, n as f64);
        let i = (x.floor() as usize).min(n.saturating_sub(1));
        let t = x - i as f64;
        self.power[i] * (1.0 - t) + self.power[(i + 1).min(n)] * t
    }

    /// The mean of the linearly interpolated power over fractional bins `a..b`.
    fn band_mean(&self, a: f64, b: f64) -> f64 {
        let n = (self.power.len() - 1) as f64;
        let (a, b) = (a.clamp(0.0, n), b.clamp(0.0, n));
        if b - a < 1e-9 {
            return self.at(a);
        }
        // Trapezoids between the band's ends and every bin inside it.
        let mut xs = vec![a];
        let mut k = a.floor() + 1.0;
        while k < b {
            xs.push(k);
            k += 1.0;
        }
        xs.push(b);
        let area: f64 = xs
            .windows(2)
            .map(|w| 0.5 * (self.at(w[0]) + self.at(w[1])) * (w[1] - w[0]))
            .sum();
        area / (b - a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_matches_a_direct_dft() {
        let n = 64;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7 % 13) as f64 - 6.0) / 6.0).collect();
        let (mut re, mut im) = (x.clone(), vec![0.0; n]);
        Fft::new(n).forward(&mut re, &mut im);
        for k in 0..n {
            let (mut r, mut i) = (0.0, 0.0);
            for (t, v) in x.iter().enumerate() {
                let a = -2.0 * PI * (k * t) as f64 / n as f64;
                r += v * a.cos();
                i += v * a.sin();
            }
            assert!(
                (r - re[k]).abs() < 1e-9 && (i - im[k]).abs() < 1e-9,
                "bin {k}"
            );
        }
    }

    #[test]
    fn full_scale_sine_on_a_bin_reads_0_db() {
        let fs = 48000.0;
        let f = 100.0 * fs / WINDOW as f64;
        let x: Vec<f32> = (0..WINDOW * 8)
            .map(|i| (2.0 * PI * f * i as f64 / fs).sin() as f32)
            .collect();
        let mut w = WelchAnalyzer::new(fs, 1);
        w.process(&[&x]);
        let s = w.spectrum();
        assert_eq!(s.peak_bin(), Some(100));
        let db = 10.0 * s.power[100].log10();
        assert!(db.abs() < 0.01, "{db}");
        assert_eq!(s.windows, 15);
    }

    /// Below 150 Hz the bands are narrower than a bin: the curve must still be smooth (no
    /// staircase of equal values), here for a pink (1/f) spectrum.
    #[test]
    fn low_end_is_smooth_not_a_staircase() {
        let bin_hz = 48000.0 / WINDOW as f64;
        let spec = Spectrum {
            bin_hz,
            power: (0..=WINDOW / 2).map(|k| 1.0 / (k.max(1) as f64)).collect(),
            windows: 1,
        };
        let pts: Vec<_> = spec
            .log_points()
            .into_iter()
            .filter(|p| p.hz < 150.0)
            .collect();
        assert!(pts.len() > 10);
        for w in pts.windows(2) {
            let d = w[1].db - w[0].db;
            // 1/f falls 10·log10(step) dB per point; a staircase repeats values (d = 0).
            assert!(d < -0.01, "not falling at {} Hz: {d} dB", w[1].hz);
        }
        for w in pts.windows(3) {
            let curvature = (w[2].db - w[1].db) - (w[1].db - w[0].db);
            assert!(
                curvature.abs() < 0.5,
                "a step at {} Hz: {curvature} dB",
                w[1].hz
            );
        }
    }
}
