//! Lua values onto the registry's option schemas: a node's option table (`{ threshold_db = -18,
//! detection = "rms", sidechain = kick }`) becomes a raw [`Config`], parameter values and a
//! sidechain source. Types are checked here (a string where a number belongs); ranges and the
//! checks between options are the registry's ([`crate::registry::NodeKind::normalize`]) and the
//! spec's (parameters).

use mlua::Value;

use super::api::StripRef;
use super::model::StripId;
use super::options::{type_name, Opts};
use crate::graph::spec::did_you_mean;
use crate::param::Unit;
use crate::registry::schema::printable;
use crate::registry::{Config, Conversion, NodeKind, OptKind, OptValue};
use crate::units::Tempo;

/// A node's options as the registry wants them.
#[derive(Debug, Default)]
pub struct Mapped {
    /// Construction options (not yet normalised).
    pub config: Config,
    /// Parameter values given in the table: (index, value).
    pub params: Vec<(usize, f64)>,
    /// The strip feeding the sidechain port.
    pub sidechain: Option<StripId>,
}

/// Maps every entry left in `o` onto `kind`'s options, parameters and aliases. Problems are
/// recorded in `o` (the caller reports them with the rest).
pub fn map_options(kind: &'static NodeKind, o: &mut Opts, tempo: Tempo, out: &mut Mapped) {
    let has_sidechain = kind.desc.input_index("sidechain").is_some();
    // Aliases and their targets write the same thing: only one of them may be given.
    let mut written: Vec<(&'static str, String)> = Vec::new();
    for (key, value) in o.drain() {
        let target = kind
            .aliases
            .iter()
            .find(|a| a.key == key)
            .map(|a| (a.target, Some(a.conversion)))
            .or_else(|| {
                kind.option(&key)
                    .filter(|opt| opt.user)
                    .map(|opt| (opt.key, None))
            })
            .or_else(|| {
                kind.desc
                    .params
                    .iter()
                    .find(|p| p.id == key)
                    .map(|p| (p.id, None))
            });
        if key == "sidechain" && has_sidechain {
            out.sidechain = sidechain(o, &value);
            continue;
        }
        let Some((target, conversion)) = target else {
            let mut known = kind.script_keys();
            if has_sidechain {
                known.push("sidechain");
            }
            let hint = did_you_mean(&key, &known);
            let list = if hint.is_empty() {
                known.sort_unstable();
                format!("; known options: {}", known.join(", "))
            } else {
                String::new()
            };
            o.error(format!("unknown option '{}'{hint}{list}", printable(&key)));
            continue;
        };
        if let Some((_, first)) = written.iter().find(|(t, _)| *t == target) {
            o.error(format!(
                "'{}' and '{first}' both set {target}; give only one of them",
                printable(&key)
            ));
            continue;
        }
        written.push((target, key.clone()));
        let converted = match conversion {
            Some(c) => convert_alias(&key, &value, c, tempo).map(OptValue::Num),
            None => match kind.option(target) {
                Some(opt) => lua_to_opt(&key, &value, opt.kind),
                None => {
                    let unit = kind
                        .desc
                        .params
                        .iter()
                        .find(|p| p.id == target)
                        .map_or(Unit::Linear, |p| p.unit);
                    param_number(&key, &value, unit).map(OptValue::Num)
                }
            },
        };
        match converted {
            Err(m) => o.error(m),
            Ok(v) => match kind.desc.param_index(target) {
                Some(i) => {
                    if let OptValue::Num(x) = v {
                        out.params.push((i, x));
                    }
                }
                None => out.config.set(target, v),
            },
        }
    }
}

/// A parameter value from Lua: a number, or for switches also `true`/`false`.
pub fn param_number(key: &str, v: &Value, unit: Unit) -> Result<f64, String> {
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Number(n) => Ok(*n),
        Value::Boolean(b) if unit == Unit::Switch => Ok(f64::from(u8::from(*b))),
        other => Err(format!(
            "'{key}' must be {}, got {}",
            if unit == Unit::Switch {
                "true/false or 1/0"
            } else {
                "a number"
            },
            type_name(other)
        )),
    }
}

fn lua_to_opt(key: &str, v: &Value, kind: OptKind) -> Result<OptValue, String> {
    let wrong = |want: &str| format!("'{key}' must be {want}, got {}", type_name(v));
    match kind {
        OptKind::Number { .. } => match v {
            Value::Integer(i) => Ok(OptValue::Num(*i as f64)),
            Value::Number(n) => Ok(OptValue::Num(*n)),
            _ => Err(wrong("a number")),
        },
        OptKind::Bool => match v {
            Value::Boolean(b) => Ok(OptValue::Bool(*b)),
            _ => Err(wrong("true or false")),
        },
        OptKind::Choice(_) | OptKind::Text(_) => match v {
            Value::String(s) => Ok(OptValue::Text(s.to_string_lossy())),
            _ => Err(wrong("a string")),
        },
        OptKind::List { max_len, .. } => match v {
            Value::Table(t) => {
                let mut out = Vec::new();
                for (i, x) in t.clone().sequence_values::<Value>().enumerate() {
                    if i >= max_len.max(64) {
                        return Err(format!("'{key}' has too many entries"));
                    }
                    match x {
                        Ok(Value::Integer(n)) => out.push(n as f64),
                        Ok(Value::Number(n)) => out.push(n),
                        _ => {
                            return Err(format!(
                                "'{key}' must be a list of numbers like {{200, 2000}}"
                            ))
                        }
                    }
                }
                Ok(OptValue::List(out))
            }
            _ => Err(wrong("a list of numbers like {200, 2000}")),
        },
        OptKind::Words { max_len, .. } => match v {
            Value::Table(t) => {
                let mut out = Vec::new();
                for (i, x) in t.clone().sequence_values::<Value>().enumerate() {
                    if i >= max_len.max(64) {
                        return Err(format!("'{key}' has too many entries"));
                    }
                    match x {
                        Ok(Value::String(s)) => out.push(s.to_string_lossy()),
                        _ => return Err(format!("'{key}' must be a list of words")),
                    }
                }
                Ok(OptValue::Words(out))
            }
            _ => Err(wrong("a list of words")),
        },
    }
}

fn convert_alias(key: &str, v: &Value, c: Conversion, tempo: Tempo) -> Result<f64, String> {
    let num = || match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Number(n) => Ok(*n),
        other => Err(format!(
            "'{key}' must be a number, got {}",
            type_name(other)
        )),
    };
    match c {
        Conversion::Scale(f) => Ok(num()? * f),
        Conversion::BarsSeconds => {
            let b = num()?;
            if !(0.0..=1e5).contains(&b) {
                return Err(format!(
                    "{key} = {} is out of range; allowed 0 to 100000",
                    crate::param::trim(b)
                ));
            }
            Ok(b * tempo.beats_per_bar as f64 * tempo.beat_s())
        }
        Conversion::BarSeconds => {
            let b = num()?;
            if !(1.0..=1e5).contains(&b) {
                return Err(format!(
                    "{key} = {} is out of range; allowed 1 to 100000",
                    crate::param::trim(b)
                ));
            }
            Ok(tempo.bar_s(b))
        }
        Conversion::NoteSeconds(f) => {
            let frac = match v {
                Value::String(s) => parse_note(&s.to_string_lossy()),
                Value::Integer(i) => Some(*i as f64),
                Value::Number(n) => Some(*n),
                _ => None,
            };
            match frac.filter(|x| x.is_finite() && *x > 0.0) {
                Some(w) => Ok(tempo.note_s(w) * f),
                None => Err(format!(
                    "{key} = {} is not a note value; use e.g. \"1/4\", \"1/8.\" (dotted) or \"1/8t\" (triplet)",
                    match v {
                        Value::String(s) => format!("\"{}\"", printable(&s.to_string_lossy())),
                        other => type_name(other).to_string(),
                    }
                )),
            }
        }
    }
}

/// `"1/8"` → 0.125 of a whole note; `"1/8."` dotted (×1.5); `"1/8t"` or `"1/8T"` triplet (×2/3).
pub fn parse_note(s: &str) -> Option<f64> {
    let s = s.trim();
    let (body, mul) = if let Some(b) = s.strip_suffix('.') {
        (b, 1.5)
    } else if let Some(b) = s.strip_suffix(['t', 'T']) {
        (b, 2.0 / 3.0)
    } else {
        (s, 1.0)
    };
    let (a, b) = body.split_once('/')?;
    let (a, b): (f64, f64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()).then_some(a / b * mul)
}

fn sidechain(o: &mut Opts, v: &Value) -> Option<StripId> {
    match v {
        Value::UserData(ud) => match ud.borrow::<StripRef>() {
            Ok(s) => Some(s.0),
            Err(_) => {
                o.error("sidechain must be a track or bus (the strip itself)");
                None
            }
        },
        other => {
            o.error(format!(
                "sidechain must be a track or bus, got {}",
                type_name(other)
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_values() {
        assert_eq!(parse_note("1/4"), Some(0.25));
        assert_eq!(parse_note("1/8."), Some(0.1875));
        assert!((parse_note("1/8t").unwrap() - 1.0 / 12.0).abs() < 1e-12);
        assert_eq!(parse_note("1/4T"), parse_note("1/4t"));
        assert_eq!(parse_note("x"), None);
        assert_eq!(parse_note("1/0"), None);
    }
}
