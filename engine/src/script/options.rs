//! Option tables: `{ threshold_db = -18, ratio = 4 }` read key by key with typed, located errors.
//! Unknown keys are errors with a did-you-mean; wrong types say what was expected.

use mlua::{Table, Value};

use crate::error::{Error, ErrorKind, Span};
use crate::graph::spec::did_you_mean;

/// The keys of one option table, consumed as they are read.
pub struct Opts {
    entries: Vec<(String, Value)>,
    subject: String,
    span: Option<Span>,
    /// Problems found so far (reported together).
    pub errors: Vec<Error>,
    known: Vec<&'static str>,
}

/// A short name for a Lua value's type, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "a boolean",
        Value::Integer(_) | Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Table(_) => "a table",
        Value::Function(_) => "a function",
        Value::UserData(_) => "a handle",
        _ => "a value",
    }
}

impl Opts {
    /// Reads every string key of `table` (none when `table` is `None`). `subject` names what the
    /// options are for in messages (`comp "bass/comp"`).
    pub fn new(table: Option<&Table>, subject: impl Into<String>, span: Option<Span>) -> Self {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        let subject = subject.into();
        if let Some(t) = table {
            for pair in t.pairs::<Value, Value>() {
                match pair {
                    Ok((Value::String(k), v)) => entries.push((k.to_string_lossy(), v)),
                    Ok((Value::Integer(_), _)) => {} // positional entries are read separately
                    Ok((k, _)) => errors.push(
                        Error::new(
                            ErrorKind::Param,
                            format!(
                                "{subject}: option keys must be names, got {}",
                                type_name(&k)
                            ),
                        )
                        .at(span.as_ref()),
                    ),
                    Err(e) => errors.push(Error::new(ErrorKind::Script, e.to_string())),
                }
            }
        }
        // Lua's table order is not stable: sort, so messages come in the same order every run.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Self {
            entries,
            subject,
            span,
            errors,
            known: Vec::new(),
        }
    }

    /// The subject used in messages.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Records an error at this table's span.
    pub fn error(&mut self, msg: impl Into<String>) {
        let m = format!("{}: {}", self.subject, msg.into());
        self.errors
            .push(Error::new(ErrorKind::Param, m).at(self.span.as_ref()));
    }

    fn take(&mut self, key: &'static str) -> Option<Value> {
        self.known.push(key);
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.swap_remove(i).1)
    }

    /// The number under `key` without consuming it (for cross-checks between options).
    pub fn peek_num(&self, key: &str) -> Option<f64> {
        match self.entries.iter().find(|(k, _)| k == key)?.1 {
            Value::Integer(i) => Some(i as f64),
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// Whether `key` is present (does not consume it).
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// A number option.
    pub fn num(&mut self, key: &'static str) -> Option<f64> {
        match self.take(key)? {
            Value::Integer(i) => Some(i as f64),
            Value::Number(n) => Some(n),
            other => {
                self.error(format!(
                    "'{key}' must be a number, got {}",
                    type_name(&other)
                ));
                None
            }
        }
    }

    /// A string option.
    pub fn str(&mut self, key: &'static str) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(s.to_string_lossy()),
            other => {
                self.error(format!(
                    "'{key}' must be a string, got {}",
                    type_name(&other)
                ));
                None
            }
        }
    }

    /// A boolean option.
    pub fn bool(&mut self, key: &'static str) -> Option<bool> {
        match self.take(key)? {
            Value::Boolean(b) => Some(b),
            other => {
                self.error(format!(
                    "'{key}' must be true or false, got {}",
                    type_name(&other)
                ));
                None
            }
        }
    }

    /// Any value.
    pub fn value(&mut self, key: &'static str) -> Option<Value> {
        self.take(key)
    }

    /// Takes every entry not read so far (the caller maps them itself).
    pub fn drain(&mut self) -> Vec<(String, Value)> {
        std::mem::take(&mut self.entries)
    }

    /// The span errors are reported at.
    pub fn span(&self) -> Option<&Span> {
        self.span.as_ref()
    }

    /// A number that must lie in `[min, max]`; `unit` is shown in the message.
    pub fn num_in(&mut self, key: &'static str, min: f64, max: f64, unit: &str) -> Option<f64> {
        let v = self.num(key)?;
        if !(min..=max).contains(&v) {
            self.error(format!(
                "{key} = {}{unit} is out of range; allowed {}{unit} to {}{unit}",
                crate::param::trim(v),
                crate::param::trim(min),
                crate::param::trim(max)
            ));
            return None;
        }
        Some(v)
    }

    /// Reports every key not read so far as unknown (with a did-you-mean) and returns the errors.
    pub fn finish(mut self) -> Vec<Error> {
        let known = std::mem::take(&mut self.known);
        let left = std::mem::take(&mut self.entries);
        for (k, _) in left {
            let hint = did_you_mean(&k, &known);
            let list = if hint.is_empty() {
                let mut ks = known.clone();
                ks.sort();
                ks.dedup();
                format!("; known options: {}", ks.join(", "))
            } else {
                String::new()
            };
            self.error(format!("unknown option '{k}'{hint}{list}"));
        }
        self.errors
    }
}
