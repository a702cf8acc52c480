//! First-order antiderivative anti-aliasing (ADAA) of the saturation curves, with a droop
//! corrector, for the oversampled saturator ([`super::saturation`]).
//!
//! Instead of `y[n] = f(x[n])`, ADAA outputs the mean of `f` over the straight line from
//! `x[n−1]` to `x[n]`: `y[n] = (F(x[n]) − F(x[n−1])) / (x[n] − x[n−1])`, `F` an antiderivative
//! of `f` (Parker, Zavalishin & Le Bivic, DAFx 2016; Bilbao, Esqueda, Parker & Välimäki, IEEE
//! SPL 2017). That is the continuous-time curve applied to the linearly interpolated input,
//! then a one-sample box filter, then sampling: the box filter's sinc response puts nulls on
//! every multiple of the sample rate, so the harmonics that would fold back to low
//! frequencies are attenuated by roughly `(Δf/fs)/m` (Δf the distance of the harmonic from
//! the nearest multiple `m·fs`), which is −24 to −40 dB and more at 8× for a 48 kHz base rate.
//!
//! The box filter also delays by half a sample and droops as `cos(ω/2)`. A 6-tap symmetric
//! FIR after it, `[1, −7, 22, 22, −7, 1]/32` (delay 2.5 samples), makes the pair maximally flat:
//! `|H| = 1 − sin⁶(ω/2)` (derived by matching `cos(ω/2)·Σ a_k·cos((k − ½)ω)` to 1 up to
//! `(1 − cos²(ω/2))³`), so 20 kHz at a 192 kHz rate (4×) loses 0.009 dB, at 8× 0.0001 dB. The
//! pair delays by exactly 3 samples, which the saturator adds to its latency.
//!
//! Precision: `F` is evaluated in `f64` (F grows like |x|, and the difference quotient cancels);
//! when `|x[n] − x[n−1]| <` [`TOL`], the mean is `f` at the midpoint (exact to
//! `|f''|·Δ²/24`, below 1e-13 there).
//!
//! Thread: any. No allocation. No panics.

use super::saturation::Curve;

/// Below this input step the midpoint value replaces the difference quotient.
pub const TOL: f64 = 1e-6;

/// The droop corrector's taps (×1/32); symmetric, sum 32.
const COMP: [f32; 6] = [
    1.0 / 32.0,
    -7.0 / 32.0,
    22.0 / 32.0,
    22.0 / 32.0,
    -7.0 / 32.0,
    1.0 / 32.0,
];

/// Delay of ADAA plus corrector, in samples at the rate they run at.
pub const DELAY: usize = 3;

/// One channel's memory: the last input, its antiderivative, the corrector's last 5 inputs.
#[derive(Clone, Copy, Debug, Default)]
pub struct AdaaState {
    x: f64,
    big_f: f64,
    hist: [f32; 5],
}

impl Curve {
    /// The curve in `f64` (exact `tanh`).
    #[inline(always)]
    fn eval64(self, x: f64) -> f64 {
        match self {
            Curve::Tanh => x.tanh(),
            Curve::SoftClip => {
                let c = x.clamp(-1.5, 1.5);
                c - (4.0 / 27.0) * c * c * c
            }
            Curve::HardClip => x.clamp(-1.0, 1.0),
        }
    }

    /// The antiderivative with `F(0) = 0` (even, continuous, slope → ±1 far out).
    #[inline(always)]
    pub fn antiderivative(self, x: f64) -> f64 {
        let a = x.abs();
        match self {
            // ln cosh x = |x| + ln(1 + e^{−2|x|}) − ln 2, without overflow.
            Curve::Tanh => a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2,
            // ∫ x − 4x³/27 = x²/2 − x⁴/27 up to 1.5 (0.9375 there), then |x| − 0.5625.
            Curve::SoftClip => {
                if a <= 1.5 {
                    let a2 = a * a;
                    0.5 * a2 - a2 * a2 / 27.0
                } else {
                    a - 0.5625
                }
            }
            // x²/2 up to 1, then |x| − ½.
            Curve::HardClip => {
                if a <= 1.0 {
                    0.5 * a * a
                } else {
                    a - 0.5
                }
            }
        }
    }
}

/// Shapes `v` in place (ADAA, then the droop corrector). `scratch` must hold `v.len() + 5`.
pub fn shape(curve: Curve, st: &mut AdaaState, v: &mut [f32], scratch: &mut [f32]) {
    match curve {
        Curve::Tanh => shape_with(Curve::Tanh, st, v, scratch),
        Curve::SoftClip => shape_with(Curve::SoftClip, st, v, scratch),
        Curve::HardClip => shape_with(Curve::HardClip, st, v, scratch),
    }
}

#[inline(always)]
fn shape_with(curve: Curve, st: &mut AdaaState, v: &mut [f32], scratch: &mut [f32]) {
    let n = v.len();
    let buf = &mut scratch[..n + 5];
    buf[..5].copy_from_slice(&st.hist);
    let (mut x0, mut f0) = (st.x, st.big_f);
    for (o, &xi) in buf[5..].iter_mut().zip(v.iter()) {
        let x1 = xi as f64;
        let f1 = curve.antiderivative(x1);
        let d = x1 - x0;
        let y = if d.abs() > TOL {
            (f1 - f0) / d
        } else {
            curve.eval64(0.5 * (x0 + x1))
        };
        *o = y as f32;
        (x0, f0) = (x1, f1);
    }
    (st.x, st.big_f) = (x0, f0);
    for (i, o) in v.iter_mut().enumerate() {
        let w = &buf[i..i + 6];
        *o = COMP[0] * (w[0] + w[5]) + COMP[1] * (w[1] + w[4]) + COMP[2] * (w[2] + w[3]);
    }
    st.hist.copy_from_slice(&buf[n..n + 5]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn antiderivatives_integrate_the_curves() {
        // Reference: composite Simpson of the f64 curve from 0 to x, 20 000 intervals (the
        // clips' kinks cost Simpson its order there: 1e-8 at most).
        for curve in [Curve::Tanh, Curve::SoftClip, Curve::HardClip] {
            for x in [-7.3, -1.6, -1.0, -0.4, 0.0, 0.3, 1.2, 1.5, 2.5, 40.0] {
                let m = 20_000;
                let h = x / m as f64;
                let s: f64 = (0..=m)
                    .map(|i| {
                        let w = if i == 0 || i == m {
                            1.0
                        } else if i % 2 == 1 {
                            4.0
                        } else {
                            2.0
                        };
                        w * curve.eval64(i as f64 * h)
                    })
                    .sum();
                let want = s * h / 3.0;
                let got = curve.antiderivative(x);
                assert!(
                    (got - want).abs() < 3e-8,
                    "{curve:?} F({x}) = {got}, want {want}"
                );
            }
        }
    }

    #[test]
    fn linear_region_is_the_flat_corrector_with_three_samples_of_delay() {
        // Hard clip below 1 is linear: the output is the input through box + corrector.
        let mut st = AdaaState::default();
        let mut v = [0.0f32; 64];
        v[10] = 0.5;
        let mut scratch = [0.0f32; 69];
        shape(Curve::HardClip, &mut st, &mut v, &mut scratch);
        let sum: f32 = v.iter().sum();
        let centroid: f32 = v
            .iter()
            .enumerate()
            .map(|(i, &y)| i as f32 * y)
            .sum::<f32>()
            / sum;
        assert!(
            (sum - 0.5).abs() < 1e-7 && (centroid - 13.0).abs() < 1e-6,
            "{sum} {centroid}"
        );
    }
}
