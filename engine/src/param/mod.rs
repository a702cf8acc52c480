//! Parameters: declared once per node kind ([`ParamDesc`]), set per node instance with an initial
//! value and an optional automation [`Timeline`], evaluated per block by the processor into a
//! [`crate::node::ParamValue`].
//!
//! Direct sets (outside a timeline, e.g. a live reload changing a fader) glide over about 20 ms,
//! in dB or log-Hz where the unit calls for it ([`Smoothing`]). Automation is sample-accurate.

mod automation;
mod slot;
mod smoother;

pub use automation::{AutomationEvent, Timeline};
pub use slot::ParamSlot;
pub use smoother::Smoother;

/// The unit of a parameter (shown in messages and docs; decides smoothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Decibels.
    Db,
    /// Hertz.
    Hz,
    /// Milliseconds.
    Ms,
    /// Seconds.
    Seconds,
    /// A ratio (compressor ratio, `n:1`).
    Ratio,
    /// Plain linear factor (0..1 mixes, Q).
    Linear,
    /// Pan/balance position, −1 (left) … +1 (right).
    Pan,
    /// On/off as 0/1 (scripts may write `true`/`false`).
    Switch,
    /// Loudness units relative to full scale (BS.1770).
    Lufs,
    /// True-peak decibels (BS.1770).
    DbTp,
    /// A plain count or a quantity without a unit.
    Count,
}

impl Unit {
    /// Short suffix used in messages.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Db => " dB",
            Unit::Hz => " Hz",
            Unit::Ms => " ms",
            Unit::Seconds => " s",
            Unit::Ratio => ":1",
            Unit::Lufs => " LUFS",
            Unit::DbTp => " dBTP",
            Unit::Linear | Unit::Pan | Unit::Switch | Unit::Count => "",
        }
    }
}

/// How direct sets glide to their new value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Smoothing {
    /// Jump immediately (switches).
    None,
    /// Linear in the parameter's own unit (dB, pan, ms).
    Linear,
    /// Linear in log of the value (Hz, Q, ratios).
    Log,
}

/// Static description of one parameter.
#[derive(Clone, Copy, Debug)]
pub struct ParamDesc {
    /// Stable id, also the Lua option key (`threshold_db`).
    pub id: &'static str,
    /// Unit.
    pub unit: Unit,
    /// Smallest allowed value.
    pub min: f32,
    /// Largest allowed value.
    pub max: f32,
    /// Default value.
    pub default: f32,
    /// Glide style for direct sets.
    pub smoothing: Smoothing,
    /// One line of documentation.
    pub doc: &'static str,
}

impl ParamDesc {
    /// A parameter description (const-friendly).
    pub const fn new(
        id: &'static str,
        unit: Unit,
        min: f32,
        max: f32,
        default: f32,
        doc: &'static str,
    ) -> Self {
        let smoothing = match unit {
            Unit::Hz | Unit::Ratio => Smoothing::Log,
            Unit::Switch => Smoothing::None,
            _ => Smoothing::Linear,
        };
        Self {
            id,
            unit,
            min,
            max,
            default,
            smoothing,
            doc,
        }
    }

    /// The same parameter with another glide style.
    pub const fn with_smoothing(mut self, smoothing: Smoothing) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// Checks a user value, returning a sentence naming the parameter, the value, and the range.
    pub fn check(&self, value: f64) -> Result<f32, String> {
        if !value.is_finite() {
            return Err(format!("{} must be a finite number, got {value}", self.id));
        }
        if value < self.min as f64 || value > self.max as f64 {
            return Err(format!(
                "{} = {}{} is out of range; allowed {}{} to {}{}",
                self.id,
                trim(value),
                self.unit.suffix(),
                trim(self.min as f64),
                self.unit.suffix(),
                trim(self.max as f64),
                self.unit.suffix()
            ));
        }
        Ok(value as f32)
    }
}

/// Formats a number without trailing zeros.
pub fn trim(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Initial value and automation of one parameter of one node instance.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParamSetting {
    /// The static value (and the target of direct sets).
    pub value: f32,
    /// Whether the script set the static value. Before its first automation event a parameter
    /// holds its static value when one was set, else the first event's value (the usual DAW
    /// rule); see [`ParamSetting::initial`].
    #[serde(default)]
    pub explicit: bool,
    /// Automation, in seconds; empty when the parameter is static.
    pub timeline: Timeline,
}

impl ParamSetting {
    /// The value before the first automation event: the static value if the script set one,
    /// else the first event's value (or the static default when there is no automation).
    pub fn initial(&self) -> f32 {
        match (self.explicit, self.timeline.events.first()) {
            (false, Some(e)) => e.value(),
            _ => self.value,
        }
    }
}
