//! True-peak detection per ITU-R BS.1770-5 Annex 2: 4× oversampling with the published 48-tap
//! polyphase FIR, absolute value, and the maximum with the sample peak (as libebur128 does, because
//! the ITU filter's phase-0 branch is not a pass-through and can read below the sample peak).
//!
//! Thread: any. Allocation: only in [`TruePeak::new`].

/// The 48-tap interpolation filter of BS.1770-5 Annex 2, as 4 phases of 12 taps:
/// `y_k[n] = Σ_m PHASES[k][m] · x[n − m]`.
pub const PHASES: [[f32; 12]; 4] = [
    [
        0.001_708_984_4,
        0.010_986_328,
        -0.019_653_32,
        0.033_203_125,
        -0.059_448_242,
        0.137_329_1,
        0.972_167_97,
        -0.102_294_92,
        0.047_607_42,
        -0.026_611_328,
        0.014_892_578,
        -0.008_300_781,
    ],
    [
        -0.029_174_805,
        0.029_296_875,
        -0.051_757_81,
        0.089_111_33,
        -0.166_503_9,
        0.465_087_9,
        0.779_785_16,
        -0.200_317_38,
        0.101_562_5,
        -0.058_227_54,
        0.033_081_055,
        -0.018_920_898,
    ],
    [
        -0.018_920_898,
        0.033_081_055,
        -0.058_227_54,
        0.101_562_5,
        -0.200_317_38,
        0.779_785_16,
        0.465_087_9,
        -0.166_503_9,
        0.089_111_33,
        -0.051_757_81,
        0.029_296_875,
        -0.029_174_805,
    ],
    [
        -0.008_300_781,
        0.014_892_578,
        -0.026_611_328,
        0.047_607_42,
        -0.102_294_92,
        0.972_167_97,
        0.137_329_1,
        -0.059_448_242,
        0.033_203_125,
        -0.019_653_32,
        0.010_986_328,
        0.001_708_984_4,
    ],
];

/// Taps per phase.
pub const TAPS: usize = 12;

/// Group delay of the interpolator in input samples (the filter is symmetric: 47/2 taps at 4×).
pub const DELAY_SAMPLES: usize = 6;

/// Streaming true-peak detector for one channel.
#[derive(Clone, Debug)]
pub struct TruePeakChannel {
    /// History, newest first is `hist[pos]`; stored twice so a window is one contiguous slice.
    hist: [f32; 2 * TAPS],
    pos: usize,
}

impl Default for TruePeakChannel {
    fn default() -> Self {
        Self {
            hist: [0.0; 2 * TAPS],
            pos: 0,
        }
    }
}

impl TruePeakChannel {
    /// Feed one sample; returns the largest absolute value among the 4 interpolated points
    /// ending at this sample and the sample itself. Never allocates.
    #[inline]
    pub fn next(&mut self, x: f32) -> f32 {
        self.pos = if self.pos == 0 {
            TAPS - 1
        } else {
            self.pos - 1
        };
        self.hist[self.pos] = x;
        self.hist[self.pos + TAPS] = x;
        let w = &self.hist[self.pos..self.pos + TAPS];
        let mut peak = x.abs();
        for phase in &PHASES {
            let mut acc = 0.0f32;
            for (c, s) in phase.iter().zip(w) {
                acc += c * s;
            }
            peak = peak.max(acc.abs());
        }
        peak
    }

    /// Feeds a block; returns the largest absolute value among all interpolated points and
    /// samples of the block. Same result as calling [`TruePeakChannel::next`] per sample, but
    /// computed phase by phase over the block so the compiler vectorises it. Never allocates.
    pub fn process_block(&mut self, x: &[f32]) -> f32 {
        const CHUNK: usize = 256;
        let mut peak = 0.0f32;
        for chunk in x.chunks(CHUNK) {
            // buf = the 11 previous samples (oldest first), then the chunk.
            let mut buf = [0.0f32; CHUNK + TAPS - 1];
            for m in 0..TAPS - 1 {
                // hist[pos] is the newest; hist[pos + j] is j samples older.
                buf[TAPS - 2 - m] = self.hist[self.pos + m];
            }
            buf[TAPS - 1..TAPS - 1 + chunk.len()].copy_from_slice(chunk);
            let n = chunk.len();
            for phase in &PHASES {
                // y[i] = Σ_m c[m] · x[i − m], x[i] = buf[i + 11].
                let mut acc = [0.0f32; CHUNK];
                for (m, c) in phase.iter().enumerate() {
                    let src = &buf[TAPS - 1 - m..TAPS - 1 - m + n];
                    for (a, s) in acc[..n].iter_mut().zip(src) {
                        *a += c * s;
                    }
                }
                for a in &acc[..n] {
                    let v = a.abs();
                    peak = if v > peak { v } else { peak };
                }
            }
            for v in chunk {
                let a = v.abs();
                peak = if a > peak { a } else { peak };
            }
            // Keep the last 11 samples as history (newest first, stored twice).
            let tail = &buf[n..n + TAPS - 1]; // oldest first: buf[n] .. buf[n + 10]
            self.pos = 0;
            for (j, &v) in tail.iter().rev().enumerate() {
                self.hist[j] = v;
                self.hist[j + TAPS] = v;
            }
            self.hist[TAPS - 1] = 0.0;
            self.hist[2 * TAPS - 1] = 0.0;
        }
        peak
    }

    /// Clears the history. Never allocates.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Multichannel true-peak meter holding the running maximum (linear).
#[derive(Clone, Debug)]
pub struct TruePeak {
    channels: Vec<TruePeakChannel>,
    max: f32,
    sample_max: f32,
}

impl TruePeak {
    /// Allocates the per-channel state.
    pub fn new(channels: usize) -> Self {
        Self {
            channels: vec![TruePeakChannel::default(); channels],
            max: 0.0,
            sample_max: 0.0,
        }
    }

    /// Feeds planar audio. Never allocates.
    pub fn process(&mut self, planar: &[&[f32]]) {
        for (st, ch) in self.channels.iter_mut().zip(planar) {
            let p = st.process_block(ch);
            if p > self.max {
                self.max = p;
            }
            let a = ch.iter().fold(0.0f32, |m, x| {
                let v = x.abs();
                if v > m {
                    v
                } else {
                    m
                }
            });
            if a > self.sample_max {
                self.sample_max = a;
            }
        }
    }

    /// Maximum of true and sample peak, linear.
    pub fn true_peak(&self) -> f32 {
        self.max
    }

    /// Maximum sample peak, linear.
    pub fn sample_peak(&self) -> f32 {
        self.sample_max
    }

    /// Forgets everything. Never allocates.
    pub fn reset(&mut self) {
        for c in &mut self.channels {
            c.reset();
        }
        self.max = 0.0;
        self.sample_max = 0.0;
    }
}

/// Linear amplitude to dB (−∞ for zero).
pub fn to_db(lin: f32) -> f64 {
    20.0 * (lin as f64).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_processing_equals_sample_by_sample() {
        let x: Vec<f32> = (0..3000)
            .map(|i| {
                ((i as f32 * 0.37).sin() * 0.8 + (i as f32 * 2.9).cos() * 0.3)
                    * if i % 700 < 5 { 1.4 } else { 1.0 }
            })
            .collect();
        for split in [1usize, 7, 256, 300, 3000] {
            let mut a = TruePeakChannel::default();
            let mut b = TruePeakChannel::default();
            let mut pa = 0.0f32;
            let mut pb = 0.0f32;
            for chunk in x.chunks(split) {
                pa = pa.max(a.process_block(chunk));
                for &v in chunk {
                    pb = pb.max(b.next(v));
                }
                assert!(
                    (pa - pb).abs() <= 1e-6 * pb.max(1.0),
                    "split {split}: {pa} vs {pb}"
                );
            }
            // The histories agree too.
            assert!((a.next(0.5) - b.next(0.5)).abs() < 1e-6);
        }
    }

    /// EBU Tech 3341 case 15..19: stereo sine at fs/k with a phase, amplitude 0.50119 (1.4141 for #19).
    fn sine_case(fs_div: f64, phase_deg: f64, amp: f64) -> Vec<f32> {
        let fs = 48000.0;
        let f = fs / fs_div;
        let n = 48000;
        (0..n)
            .map(|i| {
                let t = i as f64 / fs;
                let fade = ((i as f64 / 4800.0).min(1.0)).min((n - i) as f64 / 4800.0);
                (amp * fade * (2.0 * std::f64::consts::PI * f * t + phase_deg.to_radians()).sin())
                    as f32
            })
            .collect()
    }

    #[test]
    fn ebu_3341_cases_15_to_19_within_tolerance() {
        // (fs divisor, phase, amplitude, expected dBTP) from EBU Tech 3341 Table 1; tol +0.2/−0.4.
        let cases = [
            (4.0, 0.0, 0.50119, -6.0),
            (4.0, 45.0, 0.50119, -6.0),
            (6.0, 60.0, 0.50119, -6.0),
            (8.0, 67.5, 0.50119, -6.0),
            (4.0, 45.0, 1.4141, 3.0),
        ];
        for (k, ph, amp, expected) in cases {
            let x = sine_case(k, ph, amp);
            let mut tp = TruePeak::new(2);
            tp.process(&[&x, &x]);
            let db = to_db(tp.true_peak());
            assert!(
                db <= expected + 0.2 && db >= expected - 0.4,
                "fs/{k} {ph}°: {db:.3} dBTP, expected {expected} +0.2/−0.4"
            );
        }
    }

    #[test]
    fn a_sample_peak_meter_would_fail_case_16_but_this_does_not() {
        let x = sine_case(4.0, 45.0, 0.50119);
        let mut tp = TruePeak::new(1);
        tp.process(&[&x]);
        assert!(
            to_db(tp.sample_peak()) < -8.9,
            "sample peak reads about −9.03"
        );
        assert!(to_db(tp.true_peak()) > -6.4);
    }
}
