//! [`Config`]: the construction options of one node, as plain, comparable, serialisable data.
//!
//! A config holds only what the node kind's option schema declares ([`super::OptionDesc`]),
//! checked and completed with defaults by [`super::NodeKind::normalize`]. Two nodes with equal
//! configs (and path and kind) are the same node across a live reload: the running instance is
//! kept. Equality and hashing compare numbers bit for bit.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// One option value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum OptValue {
    /// A number (units are the option's).
    Num(f64),
    /// A switch.
    Bool(bool),
    /// A word or a text (a choice, a pattern, a path).
    Text(String),
    /// A list of numbers (crossover frequencies).
    List(Vec<f64>),
    /// A list of words (the band shapes of an EQ).
    Words(Vec<String>),
}

impl PartialEq for OptValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (OptValue::Num(a), OptValue::Num(b)) => a.to_bits() == b.to_bits(),
            (OptValue::Bool(a), OptValue::Bool(b)) => a == b,
            (OptValue::Text(a), OptValue::Text(b)) => a == b,
            (OptValue::List(a), OptValue::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (OptValue::Words(a), OptValue::Words(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for OptValue {}

impl Hash for OptValue {
    fn hash<H: Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            OptValue::Num(x) => x.to_bits().hash(h),
            OptValue::Bool(b) => b.hash(h),
            OptValue::Text(s) => s.hash(h),
            OptValue::List(v) => v.iter().for_each(|x| x.to_bits().hash(h)),
            OptValue::Words(v) => v.hash(h),
        }
    }
}

impl OptValue {
    /// A short description of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            OptValue::Num(_) => "a number",
            OptValue::Bool(_) => "a boolean",
            OptValue::Text(_) => "a string",
            OptValue::List(_) => "a list of numbers",
            OptValue::Words(_) => "a list of words",
        }
    }
}

/// The construction options of one node, by key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Config(BTreeMap<String, OptValue>);

impl Config {
    /// An empty config (every option at its default once normalised).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` (builder style).
    pub fn with(mut self, key: &str, value: OptValue) -> Self {
        self.set(key, value);
        self
    }

    /// Sets `key`.
    pub fn set(&mut self, key: &str, value: OptValue) {
        self.0.insert(key.to_string(), value);
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&OptValue> {
        self.0.get(key)
    }

    /// Whether `key` is set.
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<OptValue> {
        self.0.remove(key)
    }

    /// Every entry, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &OptValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number under `key`, if set.
    pub fn opt_num(&self, key: &str) -> Option<f64> {
        match self.0.get(key)? {
            OptValue::Num(x) => Some(*x),
            _ => None,
        }
    }

    /// The number under `key`; 0 when absent (normalised configs hold every option that has a
    /// default).
    pub fn num(&self, key: &str) -> f64 {
        self.opt_num(key).unwrap_or(0.0)
    }

    /// The switch under `key`; false when absent.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.0.get(key), Some(OptValue::Bool(true)))
    }

    /// The text under `key`, if set.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.0.get(key)? {
            OptValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The list of numbers under `key` (empty when absent).
    pub fn list(&self, key: &str) -> &[f64] {
        match self.0.get(key) {
            Some(OptValue::List(v)) => v,
            _ => &[],
        }
    }

    /// The list of words under `key` (empty when absent).
    pub fn words(&self, key: &str) -> &[String] {
        match self.0.get(key) {
            Some(OptValue::Words(v)) => v,
            _ => &[],
        }
    }

    /// The config as one line of text (`key=value, ...`), for schedule dumps and messages.
    pub fn summary(&self) -> String {
        let fmt = |v: &OptValue| match v {
            OptValue::Num(x) => crate::param::trim(*x),
            OptValue::Bool(b) => b.to_string(),
            OptValue::Text(s) => format!("{s:?}"),
            OptValue::List(l) => format!(
                "{{{}}}",
                l.iter()
                    .map(|x| crate::param::trim(*x))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            OptValue::Words(w) => format!("{{{}}}", w.join(", ")),
        };
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={}", fmt(v)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
