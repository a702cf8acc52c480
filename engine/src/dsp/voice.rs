//! Instruments that turn [`Event`]s into sound: drum voices (`kick`, `snare`, `hat`,
//! `open_hat`, `clap`) and a polyphonic subtractive synth with presets (`bass`, `pad`, `lead`,
//! `pluck`).
//!
//! All output is mono and *written* (not added) to the buffer. Levels: one drum hit or one synth
//! note at velocity 1 peaks at about −6 dBFS (0.5); a `pad` voice at about −12 dBFS so a
//! four-note chord stays near −6 dBFS. Level scales linearly with velocity.
//!
//! Drum voices ignore note numbers and note-offs; a new hit restarts the sound (the kick keeps
//! its oscillator phase if still ringing). The synth has a fixed pool of voices; a note-on takes
//! the voice already playing that note, else a free one, else steals the oldest releasing voice,
//! else the oldest. Envelopes restart from their current level, so retriggers do not click.
//!
//! Thread: any. Allocation: only in constructors. [`Instrument::process`],
//! [`Instrument::play`], [`Instrument::render`] and [`Instrument::handle_event`] never allocate,
//! lock or panic.

use super::envelope::Adsr;
use super::noise::WhiteNoise;
use super::osc::{Oscillator, Waveform};
use super::pattern::{midi_to_hz, Event, Sequencer};

/// Something that plays [`Event`]s: a drum voice or a synth.
pub trait Instrument {
    /// Applies an event immediately (it affects the next rendered sample).
    fn handle_event(&mut self, event: Event);

    /// Writes the next `out.len()` samples.
    fn render(&mut self, out: &mut [f32]);

    /// True when every envelope is idle (output is silent until the next note-on).
    fn is_silent(&self) -> bool;

    /// Writes `out`, applying each `(offset, event)` at its sample offset. Events must be in
    /// time order; an offset past the block applies after its last sample, one earlier than a
    /// previous event applies at that event's offset.
    fn process(&mut self, events: &[(usize, Event)], out: &mut [f32]) {
        let mut pos = 0;
        for &(offset, event) in events {
            let at = offset.clamp(pos, out.len());
            self.render(&mut out[pos..at]);
            pos = at;
            self.handle_event(event);
        }
        self.render(&mut out[pos..]);
    }

    /// Writes song samples `start_sample .. start_sample + out.len()` of `sequencer`'s pattern.
    fn play(&mut self, sequencer: &Sequencer, start_sample: u64, out: &mut [f32]) {
        let mut pos = 0;
        sequencer.events_in_block(start_sample, out.len(), &mut |offset, event| {
            let at = offset.clamp(pos, out.len());
            self.render(&mut out[pos..at]);
            pos = at;
            self.handle_event(event);
        });
        self.render(&mut out[pos..]);
    }
}

/// Topology-preserving state-variable filter (Simper): low-, band- and high-pass outputs.
#[derive(Debug, Clone, Copy, Default)]
struct Svf {
    ic1: f32,
    ic2: f32,
    k: f32,
    a1: f32,
    a2: f32,
    a3: f32,
}

impl Svf {
    /// Sets the cutoff (clamped to 10 Hz … 0.45 · sample rate) and Q (≥ 0.3).
    #[inline]
    fn set(&mut self, cutoff_hz: f32, q: f32, sample_rate_hz: f32) {
        let fc = cutoff_hz.clamp(10.0, 0.45 * sample_rate_hz);
        let g = (std::f32::consts::PI * fc / sample_rate_hz).tan();
        self.k = 1.0 / q.max(0.3);
        self.a1 = 1.0 / (1.0 + g * (g + self.k));
        self.a2 = g * self.a1;
        self.a3 = g * self.a2;
    }

    /// One sample in; (low, band, high) out.
    #[inline]
    fn tick(&mut self, x: f32) -> (f32, f32, f32) {
        let v3 = x - self.ic2;
        let v1 = self.a1 * self.ic1 + self.a2 * v3;
        let v2 = self.ic2 + self.a2 * self.ic1 + self.a3 * v3;
        self.ic1 = 2.0 * v1 - self.ic1;
        self.ic2 = 2.0 * v2 - self.ic2;
        (v2, v1, x - self.k * v1 - v2)
    }
}

/// The drum sounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrumKind {
    /// Sine with a pitch drop 150 → 50 Hz (τ 40 ms), amplitude T60 450 ms.
    Kick,
    /// 180 Hz sine body (pitch drop from 330 Hz) plus 1 kHz high-passed noise, T60 180/280 ms.
    Snare,
    /// Closed hi-hat: noise high-passed at 7 kHz (two 2-pole stages), T60 70 ms.
    ClosedHat,
    /// Open hi-hat: as the closed one with T60 450 ms.
    OpenHat,
    /// Hand clap: noise band-passed at 1.2 kHz, three 10 ms-spaced bursts and a 250 ms tail.
    Clap,
}

impl DrumKind {
    /// The names [`DrumKind::from_name`] accepts (first of each group is canonical).
    pub const NAMES: &'static [&'static str] = &["kick", "snare", "hat", "open_hat", "clap"];

    /// Parses `kick` (`bd`), `snare` (`sd`), `hat` (`hh`, `closed_hat`), `open_hat` (`oh`),
    /// `clap` (`cp`), case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "kick" | "bd" => Self::Kick,
            "snare" | "sd" => Self::Snare,
            "hat" | "hh" | "closed_hat" | "hihat" => Self::ClosedHat,
            "open_hat" | "oh" | "openhat" => Self::OpenHat,
            "clap" | "cp" => Self::Clap,
            _ => return None,
        })
    }
}

/// Samples between clap bursts (10 ms) are computed from this.
const CLAP_BURST_MS: f32 = 10.0;
/// Number of short clap bursts before the tail.
const CLAP_BURSTS: u32 = 3;

/// One drum voice (monophonic: a new hit restarts it). See [`DrumKind`] for the sounds.
pub struct Drum {
    kind: DrumKind,
    osc: Oscillator,
    noise: WhiteNoise,
    /// Body (kick, snare tone) or noise envelope (hats, clap).
    amp: Adsr,
    /// Snare noise envelope.
    amp2: Adsr,
    pitch: f32,
    pitch_coef: f32,
    filter: Svf,
    filter2: Svf,
    /// Samples since the hit, for the clap's bursts.
    clock: u32,
    burst_samples: u32,
    velocity: f32,
    gain: f32,
}

impl Drum {
    /// A drum voice of `kind`. `seed` picks the noise sequence (output is deterministic).
    pub fn new(kind: DrumKind, sample_rate_hz: f32, seed: u64) -> Self {
        let sr = sample_rate_hz.max(1000.0);
        let mut amp = Adsr::new(sr);
        amp.set_one_shot(true);
        let mut amp2 = amp.clone();
        let mut filter = Svf::default();
        let mut filter2 = Svf::default();
        let (pitch_tau_ms, gain) = match kind {
            DrumKind::Kick => {
                amp.set_params(0.0, 450.0, 0.0, 0.0);
                (40.0, 0.5)
            }
            DrumKind::Snare => {
                amp.set_params(0.0, 180.0, 0.0, 0.0);
                amp2.set_params(0.0, 280.0, 0.0, 0.0);
                filter.set(1000.0, 0.7, sr);
                (15.0, 0.47)
            }
            DrumKind::ClosedHat | DrumKind::OpenHat => {
                let (t60, gain) = match kind {
                    DrumKind::ClosedHat => (70.0, 0.5),
                    _ => (450.0, 0.42),
                };
                amp.set_params(0.0, t60, 0.0, 0.0);
                filter.set(7000.0, 0.7, sr);
                filter2.set(7000.0, 0.7, sr);
                (1.0, gain)
            }
            DrumKind::Clap => {
                amp.set_params(0.0, 25.0, 0.0, 0.0);
                filter.set(1200.0, 1.5, sr);
                (1.0, 1.0)
            }
        };
        Self {
            kind,
            osc: Oscillator::new(sr),
            noise: WhiteNoise::new(seed),
            amp,
            amp2,
            pitch: 0.0,
            pitch_coef: (-1000.0 / (pitch_tau_ms * sr)).exp(),
            filter,
            filter2,
            clock: u32::MAX,
            burst_samples: (CLAP_BURST_MS * sr / 1000.0).round() as u32,
            velocity: 0.0,
            gain,
        }
    }

    /// A drum voice from a user-facing name ([`DrumKind::from_name`]).
    pub fn from_name(name: &str, sample_rate_hz: f32, seed: u64) -> Option<Self> {
        DrumKind::from_name(name).map(|k| Self::new(k, sample_rate_hz, seed))
    }

    /// The drum sound.
    pub fn kind(&self) -> DrumKind {
        self.kind
    }

    /// Starts a hit at `velocity` on the next sample.
    pub fn trigger(&mut self, velocity: f32) {
        let v = if velocity.is_finite() {
            velocity.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if self.amp.is_idle() {
            self.osc.reset(0.0);
        }
        self.velocity = v;
        self.pitch = 1.0;
        self.clock = 0;
        if self.kind == DrumKind::Clap {
            self.amp.set_decay_ms(25.0);
        }
        self.amp.gate_on(v);
        if self.kind == DrumKind::Snare {
            self.amp2.gate_on(v);
        }
    }

    #[inline]
    fn next_sample(&mut self) -> f32 {
        let y = match self.kind {
            DrumKind::Kick => {
                let f = 50.0 + 100.0 * self.pitch;
                self.pitch *= self.pitch_coef;
                self.osc.next_sample(f) * self.amp.next_sample()
            }
            DrumKind::Snare => {
                let f = 180.0 + 150.0 * self.pitch;
                self.pitch *= self.pitch_coef;
                let tone = self.osc.next_sample(f) * self.amp.next_sample();
                let (_, _, hp) = self.filter.tick(self.noise.next_sample());
                0.45 * tone + 0.55 * hp * self.amp2.next_sample()
            }
            DrumKind::ClosedHat | DrumKind::OpenHat => {
                let (_, _, hp) = self.filter.tick(self.noise.next_sample());
                let (_, _, hp) = self.filter2.tick(hp);
                hp * self.amp.next_sample()
            }
            DrumKind::Clap => {
                if self.clock < self.burst_samples * CLAP_BURSTS
                    && self.clock > 0
                    && self.clock % self.burst_samples == 0
                {
                    if self.clock == self.burst_samples * (CLAP_BURSTS - 1) {
                        self.amp.set_decay_ms(250.0);
                    }
                    self.amp.gate_on(self.velocity);
                }
                self.clock = self.clock.saturating_add(1);
                let (_, bp, _) = self.filter.tick(self.noise.next_sample());
                bp * self.amp.next_sample()
            }
        };
        y * self.gain
    }
}

impl Instrument for Drum {
    fn handle_event(&mut self, event: Event) {
        if let Event::NoteOn { velocity, .. } = event {
            self.trigger(velocity);
        }
    }

    fn render(&mut self, out: &mut [f32]) {
        // Check per sample so that the noise and filter states advance only while sounding,
        // whatever the block size.
        let mut i = 0;
        while i < out.len() && !self.is_silent() {
            out[i] = self.next_sample();
            i += 1;
        }
        out[i..].fill(0.0);
    }

    fn is_silent(&self) -> bool {
        self.amp.is_idle()
            && self.amp2.is_idle()
            && (self.kind != DrumKind::Clap || self.clock >= self.burst_samples * CLAP_BURSTS)
    }
}

/// Times and level of one ADSR (see [`Adsr`] for the exact shapes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvParams {
    /// Linear attack time, ms.
    pub attack_ms: f32,
    /// Exponential decay time (−60 dB toward sustain), ms.
    pub decay_ms: f32,
    /// Sustain level, 0–1 of the peak.
    pub sustain: f32,
    /// Exponential release time (−60 dB), ms.
    pub release_ms: f32,
}

impl EnvParams {
    fn apply(&self, env: &mut Adsr) {
        env.set_params(self.attack_ms, self.decay_ms, self.sustain, self.release_ms);
    }
}

/// The synth's sound: two oscillators → resonant low-pass (state-variable, 12 dB/octave) with
/// its own envelope → amplifier envelope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthParams {
    /// Main oscillator shape.
    pub osc1: Waveform,
    /// Second oscillator shape.
    pub osc2: Waveform,
    /// Transposition of the second oscillator, semitones.
    pub osc2_semitones: f32,
    /// Detune between the oscillators, cents: osc1 is tuned down and osc2 up by half of it.
    pub detune_cents: f32,
    /// Level of the second oscillator relative to the first: output = (1 − mix)·osc1 + mix·osc2.
    pub osc_mix: f32,
    /// Filter cutoff with the filter envelope at 0, for note c4 (MIDI 60), Hz.
    pub cutoff_hz: f32,
    /// Filter Q (0.707 = no resonance peak).
    pub resonance: f32,
    /// How far the filter envelope opens the cutoff at its peak, octaves.
    pub filter_env_octaves: f32,
    /// Cutoff key tracking: 1 = follows the note exactly, 0 = fixed.
    pub key_tracking: f32,
    /// Filter envelope (velocity-independent, peak 1).
    pub filter_env: EnvParams,
    /// Amplitude envelope (peak = velocity).
    pub amp_env: EnvParams,
    /// Number of voices, 1–16 (1 = monophonic, last note wins).
    pub polyphony: usize,
    /// Output gain of one voice (linear).
    pub voice_gain: f32,
}

/// Synth presets, for `synth = "bass"` and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthPreset {
    /// Monophonic saw + square, low cutoff with a snappy filter envelope.
    Bass,
    /// 8 voices of two detuned saws, slow attack and release, for chords.
    Pad,
    /// Monophonic saw + square, resonant filter, quick attack.
    Lead,
    /// 8 voices, short percussive decay to silence with a closing filter.
    Pluck,
}

impl SynthPreset {
    /// The names [`SynthPreset::from_name`] accepts.
    pub const NAMES: &'static [&'static str] = &["bass", "pad", "lead", "pluck"];

    /// Parses `bass`, `pad`, `lead`, `pluck` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "bass" => Self::Bass,
            "pad" => Self::Pad,
            "lead" => Self::Lead,
            "pluck" => Self::Pluck,
            _ => return None,
        })
    }

    /// The preset's parameters.
    pub fn params(self) -> SynthParams {
        let env = |attack_ms, decay_ms, sustain, release_ms| EnvParams {
            attack_ms,
            decay_ms,
            sustain,
            release_ms,
        };
        let bass = SynthParams {
            osc1: Waveform::Saw,
            osc2: Waveform::Square,
            osc2_semitones: 0.0,
            detune_cents: 0.0,
            osc_mix: 0.35,
            cutoff_hz: 150.0,
            resonance: 1.0,
            filter_env_octaves: 3.5,
            key_tracking: 0.5,
            filter_env: env(1.0, 250.0, 0.15, 100.0),
            amp_env: env(2.0, 400.0, 0.8, 60.0),
            polyphony: 1,
            voice_gain: 0.4,
        };
        match self {
            Self::Bass => bass,
            Self::Pad => SynthParams {
                osc2: Waveform::Saw,
                detune_cents: 9.0,
                osc_mix: 0.5,
                cutoff_hz: 700.0,
                resonance: 0.8,
                filter_env_octaves: 1.5,
                key_tracking: 0.3,
                filter_env: env(800.0, 1500.0, 0.5, 1200.0),
                amp_env: env(350.0, 800.0, 0.8, 1200.0),
                polyphony: 8,
                voice_gain: 0.28,
                ..bass
            },
            Self::Lead => SynthParams {
                detune_cents: 6.0,
                cutoff_hz: 1200.0,
                resonance: 2.0,
                filter_env_octaves: 2.0,
                filter_env: env(5.0, 300.0, 0.4, 200.0),
                amp_env: env(5.0, 150.0, 0.85, 180.0),
                voice_gain: 0.28,
                ..bass
            },
            Self::Pluck => SynthParams {
                osc2_semitones: 12.0,
                osc_mix: 0.25,
                cutoff_hz: 300.0,
                resonance: 1.2,
                filter_env_octaves: 4.0,
                key_tracking: 0.6,
                filter_env: env(0.0, 180.0, 0.0, 150.0),
                amp_env: env(1.0, 600.0, 0.0, 250.0),
                polyphony: 8,
                voice_gain: 0.72,
                ..bass
            },
        }
    }
}

/// One synth voice.
struct Voice {
    osc1: Oscillator,
    osc2: Oscillator,
    amp: Adsr,
    filter_env: Adsr,
    filter: Svf,
    note: u8,
    freq1_hz: f32,
    freq2_hz: f32,
    /// Cutoff without the envelope (key tracking applied), Hz.
    base_cutoff_hz: f32,
    gate: bool,
    /// Note-on counter value when started (for stealing the oldest).
    started: u64,
}

/// Polyphonic subtractive synth with a fixed voice pool; see [`SynthParams`].
pub struct Synth {
    params: SynthParams,
    sample_rate_hz: f32,
    voices: Vec<Voice>,
    note_count: u64,
}

impl Synth {
    /// A synth with a preset's sound.
    pub fn new(preset: SynthPreset, sample_rate_hz: f32) -> Self {
        Self::with_params(preset.params(), sample_rate_hz)
    }

    /// A synth from a user-facing preset name ([`SynthPreset::from_name`]).
    pub fn from_name(name: &str, sample_rate_hz: f32) -> Option<Self> {
        SynthPreset::from_name(name).map(|p| Self::new(p, sample_rate_hz))
    }

    /// A synth with explicit parameters (`polyphony` clamped to 1–16).
    pub fn with_params(params: SynthParams, sample_rate_hz: f32) -> Self {
        let sr = sample_rate_hz.max(1000.0);
        let voices = (0..params.polyphony.clamp(1, 16))
            .map(|_| {
                let mut osc1 = Oscillator::new(sr);
                let mut osc2 = Oscillator::new(sr);
                osc1.set_waveform(params.osc1);
                osc2.set_waveform(params.osc2);
                let mut amp = Adsr::new(sr);
                let mut filter_env = Adsr::new(sr);
                params.amp_env.apply(&mut amp);
                params.filter_env.apply(&mut filter_env);
                Voice {
                    osc1,
                    osc2,
                    amp,
                    filter_env,
                    filter: Svf::default(),
                    note: 0,
                    freq1_hz: 0.0,
                    freq2_hz: 0.0,
                    base_cutoff_hz: params.cutoff_hz,
                    gate: false,
                    started: 0,
                }
            })
            .collect();
        Self {
            params,
            sample_rate_hz: sr,
            voices,
            note_count: 0,
        }
    }

    /// The parameters in use.
    pub fn params(&self) -> &SynthParams {
        &self.params
    }

    /// Number of voices in the pool.
    pub fn polyphony(&self) -> usize {
        self.voices.len()
    }

    /// Number of voices currently sounding (gate on or releasing).
    pub fn active_voices(&self) -> usize {
        self.voices.iter().filter(|v| !v.amp.is_idle()).count()
    }

    fn note_on(&mut self, note: u8, velocity: f32) {
        let pick = self
            .voices
            .iter()
            .position(|v| v.note == note && !v.amp.is_idle())
            .or_else(|| self.voices.iter().position(|v| v.amp.is_idle()))
            .or_else(|| {
                (0..self.voices.len())
                    .filter(|&i| !self.voices[i].gate)
                    .min_by_key(|&i| self.voices[i].started)
            })
            .or_else(|| (0..self.voices.len()).min_by_key(|&i| self.voices[i].started));
        let Some(v) = pick.and_then(|i| self.voices.get_mut(i)) else {
            return;
        };
        let p = &self.params;
        if v.amp.is_idle() {
            // Start every shape at its rising zero crossing, with the fundamentals in phase
            // (a rising saw's fundamental is inverted relative to the square's).
            let start = |w: Waveform| if w == Waveform::Saw { 0.5 } else { 0.0 };
            v.osc1.reset(start(p.osc1));
            v.osc2.reset(start(p.osc2));
            v.filter = Svf::default();
            v.filter_env.reset();
        }
        self.note_count += 1;
        v.note = note;
        v.started = self.note_count;
        v.gate = true;
        let spread = p.detune_cents / 200.0;
        v.freq1_hz = midi_to_hz(note as f32 - spread);
        v.freq2_hz = midi_to_hz(note as f32 + p.osc2_semitones + spread);
        v.base_cutoff_hz = p.cutoff_hz * (p.key_tracking * (note as f32 - 60.0) / 12.0).exp2();
        v.amp.gate_on(velocity);
        v.filter_env.gate_on(1.0);
    }

    fn note_off(&mut self, note: u8) {
        for v in self.voices.iter_mut().filter(|v| v.gate && v.note == note) {
            v.gate = false;
            v.amp.gate_off();
            v.filter_env.gate_off();
        }
    }
}

impl Instrument for Synth {
    fn handle_event(&mut self, event: Event) {
        match event {
            Event::NoteOn { note, velocity } => self.note_on(note, velocity),
            Event::NoteOff { note } => self.note_off(note),
        }
    }

    fn render(&mut self, out: &mut [f32]) {
        out.fill(0.0);
        let p = &self.params;
        let sr = self.sample_rate_hz;
        let (mix1, mix2) = (1.0 - p.osc_mix, p.osc_mix);
        for v in self.voices.iter_mut().filter(|v| !v.amp.is_idle()) {
            for o in out.iter_mut() {
                // Stop exactly when the voice goes idle, so state never depends on block size.
                if v.amp.is_idle() {
                    break;
                }
                let amp = v.amp.next_sample();
                let env = v.filter_env.next_sample();
                let x =
                    mix1 * v.osc1.next_sample(v.freq1_hz) + mix2 * v.osc2.next_sample(v.freq2_hz);
                v.filter.set(
                    v.base_cutoff_hz * (p.filter_env_octaves * env).exp2(),
                    p.resonance,
                    sr,
                );
                let (low, _, _) = v.filter.tick(x);
                *o += low * amp * p.voice_gain;
            }
            if v.amp.is_idle() {
                v.gate = false;
            }
        }
    }

    fn is_silent(&self) -> bool {
        self.voices.iter().all(|v| v.amp.is_idle())
    }
}

#[cfg(test)]
#[path = "voice_tests.rs"]
mod tests;
