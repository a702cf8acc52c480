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
//! `(1 − cos²(ω/2))³`), so 20 kHz at a 192 kHz rate (4×) loses 0.009 dB, at 8× 0.0002 dB. The
//! pair delays by exactly 3 samples, which the saturator adds to its latency.
//!
//! Precision: `F` is evaluated in `f64` (F grows like |x|, and the difference quotient cancels),
//! for `tanh` with its own branch-free `e^{−y}` and `ln(1 + e)` (within 3e-16 of the library
//! functions, which do not vectorise); when `|x[n] − x[n−1]| <` [`TOL`], the output is the mean
//! of `f` at both ends (the midpoint value to within `|f''|·Δ²/8`, below 1e-12 there).
//!
//! Thread: any. No allocation. No panics.

use super::saturation::Curve;

/// Below this input step the mean of the curve at both ends replaces the difference quotient.
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

/// One channel's memory: the last input, its antiderivative and curve value, the corrector's
/// last 5 inputs.
#[derive(Clone, Copy, Debug, Default)]
pub struct AdaaState {
    x: f64,
    big_f: f64,
    curve: f64,
    hist: [f32; 5],
}

impl AdaaState {
    /// Whether the last input and the corrector's memory are zero (shaping zeros then gives
    /// zeros and changes nothing).
    pub fn is_at_rest(&self) -> bool {
        self.x == 0.0 && self.curve == 0.0 && self.hist.iter().all(|&v| v == 0.0)
    }
}

/// Samples per pass of the `f64` work arrays.
const PASS: usize = 256;

/// Work arrays (inputs, antiderivatives, curve values, each with the previous sample first),
/// kept by the caller so that nothing is zeroed or allocated per call.
#[derive(Clone, Debug)]
pub struct Work {
    x: [f64; PASS + 1],
    big_f: [f64; PASS + 1],
    curve: [f64; PASS + 1],
}

impl Default for Work {
    fn default() -> Self {
        Self {
            x: [0.0; PASS + 1],
            big_f: [0.0; PASS + 1],
            curve: [0.0; PASS + 1],
        }
    }
}

/// `1/k!` for k = 13 down to 0.
const EXP_TAYLOR: [f64; 14] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

/// `2/(2k + 1)` for k = 10 down to 0 (the series of `2·atanh`).
const ATANH_SERIES: [f64; 11] = [
    2.0 / 21.0,
    2.0 / 19.0,
    2.0 / 17.0,
    2.0 / 15.0,
    2.0 / 13.0,
    2.0 / 11.0,
    2.0 / 9.0,
    2.0 / 7.0,
    2.0 / 5.0,
    2.0 / 3.0,
    2.0,
];

/// `e^{−y}` for `y ≥ 0` (capped at 700), relative error below 3e-16, branch-free so loops over
/// it vectorise: `y = k·ln 2 − r` with `k` rounded (1.5·2⁵² trick) and `r` in ±ln 2/2 by
/// Cody–Waite (ln 2 split in two), `e^r` by its Taylor series to `r¹³/13!`, `2^{−k}` by
/// assembling the exponent bits.
#[inline(always)]
fn exp_neg(y: f64) -> f64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    // ln 2 = LN_2_HI + LN_2_LO, the first with 20 trailing zero bits (k·LN_2_HI is exact).
    const LN_2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN_2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    let y = y.min(700.0);
    let t = y * std::f64::consts::LOG2_E + MAGIC;
    let k = t.to_bits().wrapping_sub(MAGIC.to_bits()) as i64;
    let kf = t - MAGIC;
    let r = (kf * LN_2_HI - y) + kf * LN_2_LO;
    let mut p = EXP_TAYLOR[0];
    for &c in &EXP_TAYLOR[1..] {
        p = p * r + c;
    }
    p * f64::from_bits((1023i64.wrapping_sub(k) as u64) << 52)
}

/// `ln(1 + e)` for `e` in [0, 1], absolute error below 2e-16, branch-free: `2·atanh(z)` with
/// `z = e/(2 + e)`, or above `1 + e = √2` with `ln 2 + 2·atanh((e − 1)/(e + 3))`, so
/// |z| ≤ 0.1716 and eleven odd terms of the series suffice.
#[inline(always)]
fn ln_1p_unit(e: f64) -> f64 {
    let hi = e > std::f64::consts::SQRT_2 - 1.0;
    let (num, den) = if hi { (e - 1.0, e + 3.0) } else { (e, 2.0 + e) };
    let z = num / den;
    let w = z * z;
    let mut s = ATANH_SERIES[0];
    for &c in &ATANH_SERIES[1..] {
        s = s * w + c;
    }
    z * s + if hi { std::f64::consts::LN_2 } else { 0.0 }
}

impl Curve {
    /// `(F(x), f(x))`: the antiderivative with `F(0) = 0` (even, continuous, slope → ±1 far
    /// out) and the curve, in `f64`, branch-free.
    #[inline(always)]
    fn both(self, x: f64) -> (f64, f64) {
        let a = x.abs();
        match self {
            // ln cosh x = |x| + ln(1 + e^{−2|x|}) − ln 2, tanh |x| = (1 − e^{−2|x|})/(1 + …).
            Curve::Tanh => {
                let e = exp_neg(2.0 * a);
                let big = a + ln_1p_unit(e) - std::f64::consts::LN_2;
                (big, ((1.0 - e) / (1.0 + e)).copysign(x))
            }
            // ∫ x − 4x³/27 = x²/2 − x⁴/27 up to 1.5 (0.9375 there), then + (|x| − 1.5).
            Curve::SoftClip => {
                let c = a.min(1.5);
                let c2 = c * c;
                let xc = x.clamp(-1.5, 1.5);
                (
                    0.5 * c2 - c2 * c2 / 27.0 + (a - c),
                    xc - (4.0 / 27.0) * xc * xc * xc,
                )
            }
            // x²/2 up to 1, then + (|x| − 1).
            Curve::HardClip => {
                let c = a.min(1.0);
                (0.5 * c * c + (a - c), x.clamp(-1.0, 1.0))
            }
        }
    }

    /// The antiderivative with `F(0) = 0` (see [`Curve::apply`] for the curves).
    pub fn antiderivative(self, x: f64) -> f64 {
        self.both(x).0
    }
}

/// Shapes `v` in place (ADAA, then the droop corrector). `scratch` must hold `v.len() + 5`.
pub fn shape(
    curve: Curve,
    st: &mut AdaaState,
    v: &mut [f32],
    scratch: &mut [f32],
    work: &mut Work,
) {
    match curve {
        Curve::Tanh => shape_with(Curve::Tanh, st, v, scratch, work),
        Curve::SoftClip => shape_with(Curve::SoftClip, st, v, scratch, work),
        Curve::HardClip => shape_with(Curve::HardClip, st, v, scratch, work),
    }
}

/// The antiderivative and curve value of every input. Vector code, also built for AVX2 + FMA
/// (chosen at run time).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn first_pass(curve: Curve, vin: &[f32], xs: &mut [f64], fs: &mut [f64], cs: &mut [f64]) {
    let each = |c: Curve, xs: &mut [f64], fs: &mut [f64], cs: &mut [f64]| {
        for (((&xi, xo), fo), co) in vin.iter().zip(xs).zip(fs).zip(cs) {
            let xi = xi as f64;
            (*fo, *co) = c.both(xi);
            *xo = xi;
        }
    };
    match curve {
        Curve::Tanh => each(Curve::Tanh, xs, fs, cs),
        Curve::SoftClip => each(Curve::SoftClip, xs, fs, cs),
        Curve::HardClip => each(Curve::HardClip, xs, fs, cs),
    }
}

/// The difference quotients of consecutive samples (`xs`, `fs`, `cs` start with the previous
/// one). Vector code, also built for AVX2 + FMA.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn second_pass(xs: &[f64], fs: &[f64], cs: &[f64], out: &mut [f32]) {
    let pairs = xs.windows(2).zip(fs.windows(2)).zip(cs.windows(2));
    for (o, ((xw, fw), cw)) in out.iter_mut().zip(pairs) {
        let d = xw[1] - xw[0];
        let q = (fw[1] - fw[0]) / d;
        let mid = 0.5 * (cw[1] + cw[0]);
        *o = (if d.abs() > TOL { q } else { mid }) as f32;
    }
}

/// Two passes per [`PASS`] samples, both free of branches and calls so they vectorise: the
/// antiderivative and curve at every input, then the difference quotients (or, where the
/// step is below [`TOL`], the mean of the curve at both ends: the midpoint value to within
/// `|f''|·Δ²/8`).
#[inline(always)]
fn shape_with(
    curve: Curve,
    st: &mut AdaaState,
    v: &mut [f32],
    scratch: &mut [f32],
    work: &mut Work,
) {
    let n = v.len();
    let buf = &mut scratch[..n + 5];
    buf[..5].copy_from_slice(&st.hist);
    let Work { x, big_f, curve: c } = work;
    (x[0], big_f[0], c[0]) = (st.x, st.big_f, st.curve);
    for (vin, out) in v.chunks(PASS).zip(buf[5..].chunks_mut(PASS)) {
        let m = vin.len();
        let (xs, fs, cs) = (&mut x[..=m], &mut big_f[..=m], &mut c[..=m]);
        first_pass(curve, vin, &mut xs[1..], &mut fs[1..], &mut cs[1..]);
        second_pass(xs, fs, cs, out);
        (xs[0], fs[0], cs[0]) = (xs[m], fs[m], cs[m]);
    }
    (st.x, st.big_f, st.curve) = (x[0], big_f[0], c[0]);
    for (i, o) in v.iter_mut().enumerate() {
        let w = &buf[i..i + 6];
        *o = COMP[0] * (w[0] + w[5]) + COMP[1] * (w[1] + w[4]) + COMP[2] * (w[2] + w[3]);
    }
    st.hist.copy_from_slice(&buf[n..n + 5]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The curves in `f64` with the library `tanh`.
    fn reference(curve: Curve, x: f64) -> f64 {
        match curve {
            Curve::Tanh => x.tanh(),
            Curve::SoftClip => {
                let c = x.clamp(-1.5, 1.5);
                c - (4.0 / 27.0) * c * c * c
            }
            Curve::HardClip => x.clamp(-1.0, 1.0),
        }
    }

    #[test]
    fn the_branch_free_tanh_parts_match_the_library() {
        let (mut worst_f, mut worst_t): (f64, f64) = (0.0, 0.0);
        for i in -400_000..=400_000 {
            let x = i as f64 * 1e-4;
            let a = x.abs();
            let want = a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2;
            let (f, t) = Curve::Tanh.both(x);
            worst_f = worst_f.max((f - want).abs() / want.abs().max(1.0));
            worst_t = worst_t.max((t - x.tanh()).abs());
        }
        eprintln!("adaa: ln cosh within {worst_f:.1e} (relative above 1), tanh within {worst_t:.1e} of the library");
        assert!(worst_f < 1e-15 && worst_t < 1e-15, "{worst_f} {worst_t}");
        for y in [0.0f64, 1e-300, 0.5, 1.0, 30.0, 699.0, 1e6] {
            let want = (-y.min(700.0)).exp();
            assert!((exp_neg(y) - want).abs() <= 3e-16 * want, "{y}");
        }
    }

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
                        w * reference(curve, i as f64 * h)
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
        shape(
            Curve::HardClip,
            &mut st,
            &mut v,
            &mut scratch,
            &mut Work::default(),
        );
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
