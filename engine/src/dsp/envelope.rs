//! ADSR envelope generator, with a one-shot (attack + decay, gate-off ignored) mode for drums.
//!
//! Shape, for a gate-on at sample `g` with velocity `v` (the peak, clamped to `[0, 1]`):
//!
//! - **Attack: linear**, at a fixed slope of `v / A` per sample where
//!   `A = max(1, round(attack_ms · sample_rate / 1000))`. The gate sample itself is the first
//!   attack sample: from silence, sample `g + k` is `v · (k + 1) / A`, so sample `g + A − 1` is
//!   exactly `v` (a 10 ms attack at 48 kHz reaches the peak on its 480th sample). A retrigger
//!   starts from the current level (no click) and so reaches the peak sooner; one softer than the
//!   current level skips the attack and decays from there. `attack_ms = 0` jumps to the peak on
//!   the gate sample.
//! - **Decay: exponential** toward `sustain · v`: the distance to the sustain level shrinks by
//!   60 dB in `decay_ms` (a one-pole with coefficient `0.001^(1 / decay_samples)`). Once within
//!   −100 dB of the peak it snaps to the sustain level; with `sustain = 0` (or in one-shot mode)
//!   the envelope then becomes idle.
//! - **Sustain**: holds `sustain · v` until gate-off.
//! - **Release: exponential** toward 0 from the level at gate-off (whatever the stage): the level
//!   falls by exactly 60 dB after `release_ms` (sample `r + round(release_ms · sr / 1000) − 1` for
//!   a gate-off at sample `r`, the gate-off sample being the first release sample), then snaps to
//!   0 and goes idle below −100 dBFS.
//!
//! **One-shot mode** ([`Adsr::set_one_shot`]): gate-on runs attack then decays to silence with
//! the decay time (the `decay_ms` T60); sustain, release and gate-off are ignored.
//!
//! Sample accuracy: [`Adsr::gate_on`] / [`Adsr::gate_off`] act on the next sample produced;
//! [`Adsr::gate_on_at`] / [`Adsr::gate_off_at`] schedule a gate at an offset inside the next
//! [`Adsr::process`] block (up to [`MAX_PENDING_GATES`] pending; offsets past the block carry
//! over into the following blocks).
//!
//! Thread: any. Allocation: none.

/// How many scheduled gates [`Adsr`] can hold; a gate scheduled while full acts immediately.
pub const MAX_PENDING_GATES: usize = 8;

/// Below this the release (and a decay to 0) ends: −100 dB.
const FLOOR: f64 = 1e-5;

/// Which segment the envelope is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeStage {
    /// Silent, waiting for a gate-on.
    Idle,
    /// Linear rise to the peak.
    Attack,
    /// Exponential fall to the sustain level.
    Decay,
    /// Holding the sustain level.
    Sustain,
    /// Exponential fall to silence.
    Release,
}

#[derive(Debug, Clone, Copy)]
enum Gate {
    On(f32),
    Off,
}

/// ADSR envelope; see the module docs for the exact shape. Output is a gain in `[0, 1]`.
#[derive(Debug, Clone)]
pub struct Adsr {
    sample_rate_hz: f64,
    attack_ms: f32,
    decay_ms: f32,
    sustain: f32,
    release_ms: f32,
    one_shot: bool,
    attack_samples: f64,
    decay_coef: f64,
    release_coef: f64,
    stage: EnvelopeStage,
    level: f64,
    peak: f64,
    pending: [(usize, Gate); MAX_PENDING_GATES],
    pending_len: usize,
}

/// One-pole coefficient that shrinks a distance by 60 dB in `ms`.
fn t60_coef(ms: f32, sample_rate_hz: f64) -> f64 {
    let samples = ms as f64 * sample_rate_hz / 1000.0;
    if samples.is_finite() && samples > 0.0 {
        0.001f64.powf(1.0 / samples)
    } else {
        0.0
    }
}

/// Sanitises a time: non-finite or negative means 0.
fn ms_or_zero(ms: f32) -> f32 {
    if ms.is_finite() {
        ms.max(0.0)
    } else {
        0.0
    }
}

impl Adsr {
    /// An idle envelope with attack 5 ms, decay 100 ms, sustain 0.7, release 200 ms.
    pub fn new(sample_rate_hz: f32) -> Self {
        let mut env = Self {
            sample_rate_hz: (sample_rate_hz as f64).max(1.0),
            attack_ms: 0.0,
            decay_ms: 0.0,
            sustain: 0.0,
            release_ms: 0.0,
            one_shot: false,
            attack_samples: 1.0,
            decay_coef: 0.0,
            release_coef: 0.0,
            stage: EnvelopeStage::Idle,
            level: 0.0,
            peak: 0.0,
            pending: [(0, Gate::Off); MAX_PENDING_GATES],
            pending_len: 0,
        };
        env.set_params(5.0, 100.0, 0.7, 200.0);
        env
    }

    /// Sets all four parameters (see the individual setters).
    pub fn set_params(&mut self, attack_ms: f32, decay_ms: f32, sustain: f32, release_ms: f32) {
        self.set_attack_ms(attack_ms);
        self.set_decay_ms(decay_ms);
        self.set_sustain(sustain);
        self.set_release_ms(release_ms);
    }

    /// Time of a full attack from 0 to the peak, in ms (≥ 0). Applies from the next sample.
    pub fn set_attack_ms(&mut self, attack_ms: f32) {
        self.attack_ms = ms_or_zero(attack_ms);
        self.attack_samples = (self.attack_ms as f64 * self.sample_rate_hz / 1000.0)
            .round()
            .max(1.0);
    }

    /// Time for the decay to close 60 dB of the distance to the sustain level, in ms (≥ 0).
    pub fn set_decay_ms(&mut self, decay_ms: f32) {
        self.decay_ms = ms_or_zero(decay_ms);
        self.decay_coef = t60_coef(self.decay_ms, self.sample_rate_hz);
    }

    /// Sustain level as a fraction of the peak (velocity), clamped to `[0, 1]`.
    pub fn set_sustain(&mut self, sustain: f32) {
        self.sustain = if sustain.is_finite() {
            sustain.clamp(0.0, 1.0)
        } else {
            0.0
        };
    }

    /// Time for the release to fall 60 dB, in ms (≥ 0).
    pub fn set_release_ms(&mut self, release_ms: f32) {
        self.release_ms = ms_or_zero(release_ms);
        self.release_coef = t60_coef(self.release_ms, self.sample_rate_hz);
    }

    /// One-shot mode: attack then decay to silence, ignoring sustain, release and gate-off.
    pub fn set_one_shot(&mut self, one_shot: bool) {
        self.one_shot = one_shot;
    }

    /// The parameters as `(attack_ms, decay_ms, sustain, release_ms)`.
    pub fn params(&self) -> (f32, f32, f32, f32) {
        (self.attack_ms, self.decay_ms, self.sustain, self.release_ms)
    }

    /// Starts the attack on the next sample, toward `velocity` (clamped to `[0, 1]`), from the
    /// current level.
    pub fn gate_on(&mut self, velocity: f32) {
        self.peak = if velocity.is_finite() {
            velocity.clamp(0.0, 1.0) as f64
        } else {
            0.0
        };
        self.stage = EnvelopeStage::Attack;
    }

    /// Starts the release on the next sample (ignored when idle or in one-shot mode).
    pub fn gate_off(&mut self) {
        if !self.one_shot && self.stage != EnvelopeStage::Idle {
            self.stage = EnvelopeStage::Release;
        }
    }

    /// Schedules [`Adsr::gate_on`] at sample `offset` of the next [`Adsr::process`] block.
    pub fn gate_on_at(&mut self, offset: usize, velocity: f32) {
        self.schedule(offset, Gate::On(velocity));
    }

    /// Schedules [`Adsr::gate_off`] at sample `offset` of the next [`Adsr::process`] block.
    pub fn gate_off_at(&mut self, offset: usize) {
        self.schedule(offset, Gate::Off);
    }

    fn schedule(&mut self, offset: usize, gate: Gate) {
        match self.pending.get_mut(self.pending_len) {
            Some(slot) => {
                *slot = (offset, gate);
                self.pending_len += 1;
            }
            None => self.apply(gate),
        }
    }

    fn apply(&mut self, gate: Gate) {
        match gate {
            Gate::On(v) => self.gate_on(v),
            Gate::Off => self.gate_off(),
        }
    }

    /// Jumps to idle at level 0 and drops scheduled gates.
    pub fn reset(&mut self) {
        self.stage = EnvelopeStage::Idle;
        self.level = 0.0;
        self.pending_len = 0;
    }

    /// True when silent and waiting for a gate-on (scheduled gates aside).
    pub fn is_idle(&self) -> bool {
        self.stage == EnvelopeStage::Idle
    }

    /// The current stage.
    pub fn stage(&self) -> EnvelopeStage {
        self.stage
    }

    /// The last output level.
    pub fn level(&self) -> f32 {
        self.level as f32
    }

    /// Produces one sample (scheduled gates are applied only by [`Adsr::process`]).
    #[inline]
    pub fn next_sample(&mut self) -> f32 {
        match self.stage {
            EnvelopeStage::Idle => self.level = 0.0,
            EnvelopeStage::Attack => {
                if self.level >= self.peak {
                    // Retriggered softer than the current level: no attack, decay from here.
                    self.stage = EnvelopeStage::Decay;
                    return self.next_sample();
                }
                self.level += self.peak / self.attack_samples;
                if (self.level - self.peak).abs() <= self.peak * 1e-9 + 1e-12 {
                    self.level = self.peak;
                    self.stage = EnvelopeStage::Decay;
                }
            }
            EnvelopeStage::Decay => {
                let target = if self.one_shot {
                    0.0
                } else {
                    self.sustain as f64 * self.peak
                };
                self.level = target + (self.level - target) * self.decay_coef;
                if (self.level - target).abs() <= FLOOR * self.peak.max(FLOOR) {
                    self.level = target;
                    self.stage = if target <= FLOOR {
                        self.level = 0.0;
                        EnvelopeStage::Idle
                    } else {
                        EnvelopeStage::Sustain
                    };
                }
            }
            EnvelopeStage::Sustain => {}
            EnvelopeStage::Release => {
                self.level *= self.release_coef;
                if self.level <= FLOOR {
                    self.level = 0.0;
                    self.stage = EnvelopeStage::Idle;
                }
            }
        }
        self.level as f32
    }

    /// Fills `out` with the envelope, applying gates scheduled with `gate_on_at`/`gate_off_at`
    /// at their offsets (several at one offset act in the order they were scheduled).
    pub fn process(&mut self, out: &mut [f32]) {
        let len = out.len();
        let mut i = 0;
        while i < len {
            // Apply everything due now, keeping the rest in order.
            let mut kept = 0;
            let mut next = len;
            for k in 0..self.pending_len {
                let (offset, gate) = self.pending[k];
                if offset <= i {
                    self.apply(gate);
                } else {
                    next = next.min(offset);
                    self.pending[kept] = (offset, gate);
                    kept += 1;
                }
            }
            self.pending_len = kept;
            for o in &mut out[i..next] {
                *o = self.next_sample();
            }
            i = next;
        }
        for p in &mut self.pending[..self.pending_len] {
            p.0 -= len.min(p.0);
        }
    }
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
