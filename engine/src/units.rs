//! Unit conversions. Parameters carry their unit in their name (`gain_db`, `hz`, `attack_ms`).

/// Decibels to linear amplitude.
#[inline]
pub fn db_to_gain(db: f32) -> f32 {
    if db <= -200.0 {
        0.0
    } else {
        10f32.powf(db / 20.0)
    }
}

/// Linear amplitude to decibels (−∞ for 0).
#[inline]
pub fn gain_to_db(gain: f32) -> f32 {
    20.0 * gain.abs().log10()
}

/// Milliseconds to samples at `sample_rate`.
#[inline]
pub fn ms_to_samples(ms: f64, sample_rate: f64) -> f64 {
    ms * 0.001 * sample_rate
}

/// Musical time: the session's tempo and time signature turn bars and beats into seconds.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tempo {
    /// Quarter-note beats per minute.
    pub bpm: f64,
    /// Beats per bar (the numerator of the time signature).
    pub beats_per_bar: u32,
    /// The note value of one beat (the denominator: 4 = quarter).
    pub beat_unit: u32,
}

impl Default for Tempo {
    fn default() -> Self {
        Self {
            bpm: 120.0,
            beats_per_bar: 4,
            beat_unit: 4,
        }
    }
}

impl Tempo {
    /// Length of one beat (of the time signature's unit) in seconds.
    pub fn beat_s(&self) -> f64 {
        60.0 / self.bpm * 4.0 / self.beat_unit as f64
    }

    /// Start of bar `n` (1-based, bar 1 starts at 0 s) in seconds.
    pub fn bar_s(&self, bar: f64) -> f64 {
        (bar - 1.0) * self.beats_per_bar as f64 * self.beat_s()
    }

    /// Start of beat `n` (1-based, counted from the start of the song) in seconds.
    pub fn beats_s(&self, beat: f64) -> f64 {
        (beat - 1.0) * self.beat_s()
    }

    /// A note value (`1/4` = 0.25 of a whole note) in seconds.
    pub fn note_s(&self, fraction_of_whole: f64) -> f64 {
        fraction_of_whole * 4.0 * 60.0 / self.bpm
    }

    /// Position in seconds as 1-based (bar, beat).
    pub fn bar_beat(&self, t_s: f64) -> (u64, f64) {
        let beats = (t_s / self.beat_s()).max(0.0);
        let bar = (beats / self.beats_per_bar as f64).floor();
        (
            bar as u64 + 1,
            beats - bar * self.beats_per_bar as f64 + 1.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_round_trip() {
        assert!((db_to_gain(-6.0206) - 0.5).abs() < 1e-5);
        assert!((gain_to_db(0.5) + 6.0206).abs() < 1e-3);
    }

    #[test]
    fn bars_and_beats_at_120_in_4_4() {
        let t = Tempo::default();
        assert_eq!(t.bar_s(1.0), 0.0);
        assert_eq!(t.bar_s(2.0), 2.0);
        assert_eq!(t.beats_s(3.0), 1.0);
        assert_eq!(t.note_s(0.25), 0.5);
        assert_eq!(t.bar_beat(2.5), (2, 2.0));
    }
}
