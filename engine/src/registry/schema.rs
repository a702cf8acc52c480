//! The option schema of a node kind: each construction option declared once, with its type,
//! unit, range and default. The declaration serves validation (script and deserialised graphs
//! alike), error messages, the LuaLS annotations and the README's option tables.

use super::config::OptValue;
use crate::param::{trim, Unit};

/// What values an option takes.
#[derive(Clone, Copy, Debug)]
pub enum OptKind {
    /// A number in `[min, max]`, in `unit`; `integer` refuses fractions. With `nyquist` the
    /// upper bound is also that fraction of the session's Nyquist frequency (exclusive at 1.0).
    Number {
        /// Unit, for messages and docs.
        unit: Unit,
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
        /// Whole numbers only.
        integer: bool,
        /// Upper bound as a fraction of Nyquist, if any.
        nyquist: Option<f64>,
    },
    /// `true` or `false`.
    Bool,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// Free text of at most this many characters.
    Text(usize),
    /// A list of numbers, each in `[min, max]` (and below `nyquist` × Nyquist if set), of
    /// `min_len..=max_len` entries, strictly rising when `rising`.
    List {
        /// Unit of each entry.
        unit: Unit,
        /// Smallest entry.
        min: f64,
        /// Largest entry.
        max: f64,
        /// Upper bound as a fraction of Nyquist, if any.
        nyquist: Option<f64>,
        /// Fewest entries.
        min_len: usize,
        /// Most entries.
        max_len: usize,
        /// Entries must rise.
        rising: bool,
    },
    /// A list of words from `choices`, `1..=max_len` entries.
    Words {
        /// Allowed words.
        choices: &'static [&'static str],
        /// Most entries.
        max_len: usize,
    },
}

/// An option's default.
#[derive(Clone, Copy, Debug)]
pub enum OptDefault {
    /// No default: the option is absent unless given.
    None,
    /// A number.
    Num(f64),
    /// A switch.
    Bool(bool),
    /// A word.
    Text(&'static str),
    /// A list of numbers.
    List(&'static [f64]),
}

impl OptDefault {
    /// The default as a value.
    pub fn value(self) -> Option<OptValue> {
        match self {
            OptDefault::None => None,
            OptDefault::Num(x) => Some(OptValue::Num(x)),
            OptDefault::Bool(b) => Some(OptValue::Bool(b)),
            OptDefault::Text(s) => Some(OptValue::Text(s.to_string())),
            OptDefault::List(l) => Some(OptValue::List(l.to_vec())),
        }
    }

    /// The default as Lua source text (docs).
    pub fn lua(self) -> Option<String> {
        match self {
            OptDefault::None => None,
            OptDefault::Num(x) => Some(trim(x)),
            OptDefault::Bool(b) => Some(b.to_string()),
            OptDefault::Text(s) => Some(format!("{s:?}")),
            OptDefault::List(l) => Some(format!(
                "{{{}}}",
                l.iter().map(|x| trim(*x)).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

/// One construction option.
#[derive(Clone, Copy, Debug)]
pub struct OptionDesc {
    /// Key, also the Lua option name (`detection`, `lookahead_ms`).
    pub key: &'static str,
    /// Type and range.
    pub kind: OptKind,
    /// Default.
    pub default: OptDefault,
    /// One line of documentation.
    pub doc: &'static str,
    /// Settable by scripts. Hidden options are filled in by the script front end (the session's
    /// tempo for a sequencer, a file's identity for a player).
    pub user: bool,
}

impl OptionDesc {
    /// A number option.
    pub const fn num(
        key: &'static str,
        unit: Unit,
        min: f64,
        max: f64,
        default: OptDefault,
        doc: &'static str,
    ) -> Self {
        Self {
            key,
            kind: OptKind::Number {
                unit,
                min,
                max,
                integer: false,
                nyquist: None,
            },
            default,
            doc,
            user: true,
        }
    }

    /// A switch.
    pub const fn bool(key: &'static str, default: bool, doc: &'static str) -> Self {
        Self {
            key,
            kind: OptKind::Bool,
            default: OptDefault::Bool(default),
            doc,
            user: true,
        }
    }

    /// A choice among words.
    pub const fn choice(
        key: &'static str,
        choices: &'static [&'static str],
        default: OptDefault,
        doc: &'static str,
    ) -> Self {
        Self {
            key,
            kind: OptKind::Choice(choices),
            default,
            doc,
            user: true,
        }
    }

    /// The same option, hidden from scripts (filled in by the front end).
    pub const fn hidden(mut self) -> Self {
        self.user = false;
        self
    }

    /// The same number option, whole numbers only.
    pub const fn integer(mut self) -> Self {
        if let OptKind::Number {
            unit,
            min,
            max,
            nyquist,
            ..
        } = self.kind
        {
            self.kind = OptKind::Number {
                unit,
                min,
                max,
                integer: true,
                nyquist,
            };
        }
        self
    }

    /// The same number option, bounded by `frac` × the session's Nyquist frequency.
    pub const fn below_nyquist(mut self, frac: f64) -> Self {
        if let OptKind::Number {
            unit,
            min,
            max,
            integer,
            ..
        } = self.kind
        {
            self.kind = OptKind::Number {
                unit,
                min,
                max,
                integer,
                nyquist: Some(frac),
            };
        }
        self
    }

    /// Checks `v` against this option at `sample_rate`; the message names the option, the value
    /// and what is allowed.
    pub fn check(&self, v: &OptValue, sample_rate: f64) -> Result<(), String> {
        let key = self.key;
        let wrong = |want: &str| format!("'{key}' must be {want}, got {}", v.type_name());
        match (self.kind, v) {
            (
                OptKind::Number {
                    unit,
                    min,
                    max,
                    integer,
                    nyquist,
                },
                OptValue::Num(x),
            ) => check_number(key, *x, unit, min, max, integer, nyquist, sample_rate),
            (OptKind::Number { .. }, _) => Err(wrong("a number")),
            (OptKind::Bool, OptValue::Bool(_)) => Ok(()),
            (OptKind::Bool, _) => Err(wrong("true or false")),
            (OptKind::Choice(choices), OptValue::Text(s)) => {
                if choices.contains(&s.as_str()) {
                    Ok(())
                } else {
                    Err(format!(
                        "{key} = \"{}\" is not available{}; use {}",
                        printable(s),
                        crate::graph::spec::did_you_mean(s, choices),
                        quoted_list(choices)
                    ))
                }
            }
            (OptKind::Choice(choices), _) => {
                Err(wrong(&format!("one of {}", quoted_list(choices))))
            }
            (OptKind::Text(max_len), OptValue::Text(s)) => {
                let n = s.chars().count();
                if n > max_len {
                    Err(format!(
                        "{key} is {n} characters long; at most {max_len} are allowed"
                    ))
                } else {
                    Ok(())
                }
            }
            (OptKind::Text(_), _) => Err(wrong("a string")),
            (
                OptKind::List {
                    unit,
                    min,
                    max,
                    nyquist,
                    min_len,
                    max_len,
                    rising,
                },
                OptValue::List(l),
            ) => {
                if l.len() < min_len || l.len() > max_len {
                    return Err(format!(
                        "{key} has {} entries; give {min_len} to {max_len}",
                        l.len()
                    ));
                }
                for x in l {
                    check_number(key, *x, unit, min, max, false, nyquist, sample_rate)?;
                }
                if rising && l.windows(2).any(|w| w[1] <= w[0]) {
                    return Err(format!(
                        "{key} = {{{}}} must rise from entry to entry",
                        l.iter().map(|x| trim(*x)).collect::<Vec<_>>().join(", ")
                    ));
                }
                Ok(())
            }
            (OptKind::List { .. }, _) => Err(wrong("a list of numbers like {200, 2000}")),
            (OptKind::Words { choices, max_len }, OptValue::Words(w)) => {
                if w.is_empty() || w.len() > max_len {
                    return Err(format!(
                        "{key} has {} entries; give 1 to {max_len}",
                        w.len()
                    ));
                }
                for s in w {
                    if !choices.contains(&s.as_str()) {
                        return Err(format!(
                            "{key}: \"{}\" is not available; use {}",
                            printable(s),
                            quoted_list(choices)
                        ));
                    }
                }
                Ok(())
            }
            (OptKind::Words { .. }, _) => Err(wrong("a list of words")),
        }
    }

    /// The option's type as LuaLS writes it.
    pub fn lua_type(&self) -> String {
        match self.kind {
            OptKind::Number { .. } => "number".into(),
            OptKind::Bool => "boolean".into(),
            OptKind::Choice(c) => c
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join("|"),
            OptKind::Text(_) => "string".into(),
            OptKind::List { .. } => "number[]".into(),
            OptKind::Words { .. } => "string[]".into(),
        }
    }

    /// The allowed values in words (docs): `"-80 dB to 0 dB"`, `"\"peak\" or \"rms\""`.
    pub fn range_text(&self) -> String {
        match self.kind {
            OptKind::Number {
                unit,
                min,
                max,
                nyquist,
                ..
            }
            | OptKind::List {
                unit,
                min,
                max,
                nyquist,
                ..
            } => {
                let s = unit.suffix();
                match nyquist {
                    Some(_) if max.is_finite() => {
                        format!("{}{s} to {}{s}, below Nyquist", trim(min), trim(max))
                    }
                    Some(_) => format!("{}{s} to below Nyquist", trim(min)),
                    None => format!("{}{s} to {}{s}", trim(min), trim(max)),
                }
            }
            OptKind::Bool => "true or false".into(),
            OptKind::Choice(c) => quoted_list(c),
            OptKind::Text(n) => format!("text, at most {n} characters"),
            OptKind::Words { choices, max_len } => {
                format!("up to {max_len} of {}", quoted_list(choices))
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_number(
    key: &str,
    x: f64,
    unit: Unit,
    min: f64,
    max: f64,
    integer: bool,
    nyquist: Option<f64>,
    sample_rate: f64,
) -> Result<(), String> {
    let s = unit.suffix();
    if !x.is_finite() {
        return Err(format!("{key} must be a finite number, got {x}"));
    }
    if integer && x.fract() != 0.0 {
        return Err(format!("{key} = {} must be a whole number", trim(x)));
    }
    if let Some(frac) = nyquist {
        let ny = sample_rate / 2.0;
        let top = ny * frac;
        let above = if frac >= 1.0 { x >= top } else { x > top };
        if above && x <= max {
            return Err(format!(
                "{key} = {}{s} is out of range; allowed {}{s} to below Nyquist ({}{s} at a {} Hz session)",
                trim(x),
                trim(min),
                trim(top),
                trim(sample_rate)
            ));
        }
    }
    if x < min || x > max {
        return Err(format!(
            "{key} = {}{s} is out of range; allowed {}{s} to {}{s}",
            trim(x),
            trim(min),
            trim(max)
        ));
    }
    Ok(())
}

/// `"a", "b" or "c"`.
pub fn quoted_list(words: &[&str]) -> String {
    let q: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    match q.len() {
        0 => String::new(),
        1 => q[0].clone(),
        n => format!("{} or {}", q[..n - 1].join(", "), q[n - 1]),
    }
}

/// Text safe to show on a terminal: control characters become `?`, long text is cut.
pub fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// How an alias key's value converts into its target.
#[derive(Clone, Copy, Debug)]
pub enum Conversion {
    /// Multiply by this factor (`time_s` → `time_ms`: 1000).
    Scale(f64),
    /// A note value (`"1/8."`) at the session tempo, in seconds, times this factor.
    NoteSeconds(f64),
    /// A count of bars at the session tempo, in seconds.
    BarsSeconds,
    /// A bar number (1 = the start) at the session tempo, as seconds from the start.
    BarSeconds,
}

/// Another way to write an option or parameter: `time_s = 0.25` for `time_ms = 250`,
/// `note = "1/8."` for a tempo-synced time, `bars = 4` for a length.
#[derive(Clone, Copy, Debug)]
pub struct Alias {
    /// The key scripts write.
    pub key: &'static str,
    /// The option or parameter it sets.
    pub target: &'static str,
    /// How the value converts.
    pub conversion: Conversion,
    /// One line of documentation.
    pub doc: &'static str,
}
