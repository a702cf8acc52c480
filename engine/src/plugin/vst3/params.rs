//! Plain → normalised parameter values without asking the plugin.
//!
//! VST3 parameters travel normalised (0..1) and only the plugin's controller knows its mapping
//! (`normalizedParamToPlain`). The controller is a main-thread object, so the audio thread
//! cannot call it. At activation each slot gets a [`NormTable`]: the plugin's plain value at
//! [`TABLE_POINTS`] evenly spaced normalised values (a stepped parameter: at each step). The
//! audio thread inverts it by binary search and linear interpolation.
//!
//! Error: for a linear mapping (DPF plugins, the zam ones among them) the interpolation is exact
//! and only floating-point rounding remains (|Δn| ≲ 1e-15). For a curved mapping the error is
//! the linear interpolation error of the inverse between two table points: for a logarithmic
//! frequency parameter over 20 Hz..20 kHz with 1025 points it is at most 8.3e-7 in normalised
//! units, a relative frequency error of 5.7e-6 (0.01 cent): the interval between table points
//! spans a ratio of 1.0068, and the chord under a logarithm over a ratio 1 + d sags by d²/8
//! (the unit test measures it). A stepped parameter maps exactly onto its
//! steps (the nearest step). A table that is not monotone (a plugin with a folded mapping) falls
//! back to linear between the ends.

/// Points in the table of a continuous parameter.
pub const TABLE_POINTS: usize = 1025;

/// The plain value at evenly spaced normalised values of one parameter. Built on the control
/// thread (allocates); [`NormTable::normalize`] runs on the audio thread and allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct NormTable {
    /// Plain values, rising (a falling mapping is stored reversed, see `falling`).
    plain: Vec<f64>,
    /// Whether plain values fall as the normalised value rises.
    falling: bool,
    /// Whether the table is not monotone (then linear between the ends).
    linear_fallback: bool,
    /// Step count for a stepped parameter (0: continuous).
    steps: u32,
}

impl NormTable {
    /// Samples `to_plain` (the controller's `normalizedParamToPlain`) at `TABLE_POINTS`
    /// points, or at every step for `steps > 0`. Control thread.
    pub fn build(steps: u32, mut to_plain: impl FnMut(f64) -> f64) -> Self {
        let n = if steps > 0 {
            (steps as usize).min(1 << 16) + 1
        } else {
            TABLE_POINTS
        };
        let mut plain: Vec<f64> = (0..n)
            .map(|i| to_plain(i as f64 / (n - 1) as f64))
            .collect();
        // An end at ±infinity (a gain down to "−inf dB") holds the nearest finite value, so
        // everything beyond it maps to that end; NaN points take their neighbour's value.
        let finite = plain.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        let mut prev = if lo <= hi { lo } else { 0.0 };
        for v in plain.iter_mut() {
            *v = if v.is_nan() {
                prev
            } else if *v == f64::NEG_INFINITY {
                lo.min(hi)
            } else if *v == f64::INFINITY {
                hi.max(lo)
            } else {
                *v
            };
            prev = *v;
        }
        let falling = plain[n - 1] < plain[0];
        if falling {
            plain.reverse();
        }
        let linear_fallback = !plain.windows(2).all(|w| w[0] <= w[1]);
        Self {
            plain,
            falling,
            linear_fallback,
            steps,
        }
    }

    /// The normalised value for plain value `v` (clamped to 0..1). Audio thread; no allocation.
    pub fn normalize(&self, v: f64) -> f64 {
        let p = &self.plain;
        let n = p.len();
        if n < 2 {
            return 0.0;
        }
        let (lo, hi) = (p[0], p[n - 1]);
        if hi <= lo {
            return 0.0;
        }
        let t = if self.linear_fallback {
            ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else if v <= lo {
            0.0
        } else if v >= hi {
            1.0
        } else {
            // First index whose value exceeds v: p[i - 1] <= v < p[i].
            let i = p.partition_point(|&x| x <= v).clamp(1, n - 1);
            let (a, b) = (p[i - 1], p[i]);
            let step = 1.0 / (n - 1) as f64;
            if self.steps > 0 {
                // The nearest step.
                let k = if v - a <= b - v { i - 1 } else { i };
                k as f64 * step
            } else if b > a {
                ((i - 1) as f64 + (v - a) / (b - a)) * step
            } else {
                (i - 1) as f64 * step
            }
        };
        let t = if t.is_finite() { t } else { 0.0 };
        if self.falling {
            1.0 - t
        } else {
            t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linear_mapping_inverts_exactly() {
        let (min, max) = (20.0, 14000.0);
        let t = NormTable::build(0, |n| min + n * (max - min));
        for v in [20.0, 21.5, 1000.0, 7777.7, 13999.0, 14000.0] {
            let n = t.normalize(v);
            let back = min + n * (max - min);
            assert!((back - v).abs() < 1e-9, "{v} -> {n} -> {back}");
        }
        assert_eq!(t.normalize(-5.0), 0.0);
        assert_eq!(t.normalize(1e9), 1.0);
    }

    #[test]
    fn an_infinite_end_maps_to_that_end_and_never_to_nan() {
        // A gain from -inf dB (normalised 0) to +12 dB, linear in dB above 0.
        let t = NormTable::build(0, |n| {
            if n == 0.0 {
                f64::NEG_INFINITY
            } else {
                -60.0 + n * 72.0
            }
        });
        for v in [
            f64::NEG_INFINITY,
            -200.0,
            -60.0,
            0.0,
            12.0,
            f64::INFINITY,
            f64::NAN,
        ] {
            let n = t.normalize(v);
            assert!((0.0..=1.0).contains(&n), "{v} -> {n}");
        }
        assert_eq!(t.normalize(-200.0), 0.0);
        assert_eq!(t.normalize(12.0), 1.0);
        let n = t.normalize(0.0);
        assert!((n - 60.0 / 72.0).abs() < 1e-3, "{n}");
    }

    #[test]
    fn a_falling_mapping_inverts() {
        let t = NormTable::build(0, |n| 10.0 - 20.0 * n);
        assert!((t.normalize(10.0) - 0.0).abs() < 1e-12);
        assert!((t.normalize(0.0) - 0.5).abs() < 1e-12);
        assert!((t.normalize(-10.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_log_mapping_inverts_within_the_documented_error() {
        let (min, max) = (20.0f64, 20000.0f64);
        let to_plain = |n: f64| min * (max / min).powf(n);
        let t = NormTable::build(0, to_plain);
        let mut worst = 0.0f64;
        for i in 0..=100_000 {
            let n = i as f64 / 100_000.0;
            worst = worst.max((t.normalize(to_plain(n)) - n).abs());
        }
        // Measured: 8.2e-7 normalised (d²/8 / ln 1000 with d = 0.0068).
        assert!(worst < 9e-7, "{worst}");
        assert!(worst > 0.0, "a curved map cannot be exact with a table");
    }

    #[test]
    fn a_stepped_mapping_lands_on_its_steps() {
        // Four choices 0..3.
        let t = NormTable::build(3, |n| (n * 3.0).round());
        assert_eq!(t.normalize(0.0), 0.0);
        assert!((t.normalize(1.0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((t.normalize(2.2) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(t.normalize(3.0), 1.0);
    }

    #[test]
    fn a_folded_mapping_falls_back_to_linear() {
        let t = NormTable::build(0, |n| if n < 0.5 { n } else { 1.0 - n + 1.0 });
        assert!(t.normalize(0.5) >= 0.0 && t.normalize(0.5) <= 1.0);
    }
}
