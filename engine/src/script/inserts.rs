//! Inserts: what `strip:eq{}`, `strip:comp{}`, … build. The kind comes from the registry; the
//! option table is mapped onto its schema ([`super::mapping`]). The one piece of Lua sugar that
//! is specific to a kind lives here too: an EQ's bands written as positional tables
//! (`mix.bell { hz = 1000, q = 1, gain_db = 3 }`), which become the `bands` option and the
//! `b<n>_hz`, `b<n>_q`, `b<n>_gain_db` parameters.

use mlua::{Lua, Table, Value};

use super::api::{call_span, raise, with_model, NodeRef};
use super::mapping::{map_options, param_number, Mapped};
use super::model::StripId;
use super::options::{type_name, Opts};
use crate::dsp::biquad::shelf_slope_to_q;
use crate::error::{Error, ErrorKind};
use crate::graph::spec::did_you_mean;
use crate::nodes::eq::{BAND_TYPES, MAX_BANDS};
use crate::param::Unit;
use crate::registry::{self, NodeKind, OptValue, Role};

/// The insert kind called `name` (a `strip:<name>{}` method).
pub fn insert_kind(name: &str) -> Option<&'static NodeKind> {
    registry::get(name).filter(|k| k.role == Role::Insert)
}

/// Adds insert `kind` with the option table `opts` to `strip`.
pub fn insert(
    lua: &Lua,
    strip: StripId,
    kind: &'static NodeKind,
    opts: Value,
) -> mlua::Result<NodeRef> {
    let span = call_span(lua);
    let table = match &opts {
        Value::Table(t) => Some(t.clone()),
        Value::Nil => None,
        other => {
            return Err(raise(
                Error::new(
                    ErrorKind::Script,
                    format!(
                        ":{}{{...}} takes an option table, got {}; call it with a colon: strip:{}{{ ... }}",
                        kind.name,
                        type_name(other),
                        kind.name
                    ),
                )
                .at(span.as_ref()),
            ))
        }
    };
    let (tempo, sample_rate, path) = with_model(lua, |m| {
        (
            m.spec.session.tempo,
            m.spec.session.sample_rate,
            m.insert_path(strip, kind.name),
        )
    });
    let mut o = Opts::new(
        table.as_ref(),
        format!("{} \"{path}\"", kind.name),
        span.clone(),
    );
    let mut mapped = Mapped::default();
    if kind.name == "eq" {
        if let Some(t) = &table {
            eq_bands(t, &mut o, &mut mapped, sample_rate / 2.0);
        }
    }
    map_options(kind, &mut o, tempo, &mut mapped);
    if kind.option("on").is_some() {
        let on_track = with_model(lua, |m| {
            m.strips[strip].kind == super::model::StripKind::Track
        });
        mapped.config.set(
            "on",
            OptValue::Text(if on_track { "track" } else { "bus" }.into()),
        );
    }
    let errs = o.finish();
    with_model(lua, |m| {
        m.extend_errors(errs);
        let (key, built) = match m
            .spec
            .add_kind(path.clone(), kind, mapped.config, span.clone())
        {
            Ok(k) => (k, true),
            Err(es) => {
                m.extend_errors(es);
                // Keep going with a pass-through so later lines can still be checked.
                let k = m
                    .spec
                    .add_kind(
                        path,
                        &crate::nodes::gain::KIND,
                        Default::default(),
                        span.clone(),
                    )
                    .map_err(|mut e| raise(e.remove(0)))?;
                (k, false)
            }
        };
        if built {
            for (i, v) in mapped.params {
                let id = m.spec.nodes[key].desc().params[i].id;
                if let Err(e) = m.spec.set_param(key, id, v) {
                    m.error(e.at(span.as_ref()));
                }
            }
        }
        if let Some(sc) = mapped.sidechain {
            m.sidechains.push((key, sc, span.clone()));
        }
        m.strips[strip].inserts.push(key);
        Ok(NodeRef(key))
    })
    .and_then(|r| super::api::stop_on_limit(lua).map(|()| r))
}

/// `:eq { mix.bell{...}, mix.high_shelf{...}, ... }`: the positional band tables.
fn eq_bands(t: &Table, o: &mut Opts, out: &mut Mapped, nyquist: f64) {
    let mut shapes = Vec::new();
    let subject = o.subject().to_string();
    for (i, v) in t.clone().sequence_values::<Value>().enumerate() {
        let n = i + 1;
        if n > MAX_BANDS {
            o.error(format!(
                "{} bands given; one eq holds at most {MAX_BANDS} (add a second :eq)",
                t.raw_len()
            ));
            return;
        }
        let band = match v {
            Ok(Value::Table(b)) => b,
            Ok(other) => {
                o.error(format!(
                    "band {n} must be a band such as mix.bell {{ hz = 1000, q = 1, gain_db = 3 }}, got {}",
                    type_name(&other)
                ));
                continue;
            }
            Err(e) => {
                o.error(e.to_string());
                continue;
            }
        };
        let shape: String = band.get("type").unwrap_or_default();
        if !BAND_TYPES.contains(&shape.as_str()) {
            o.error(format!(
                "band {n} has no type; build bands with {}",
                BAND_TYPES
                    .iter()
                    .map(|b| format!("mix.{b}{{}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        }
        let shelf = shape.ends_with("_shelf");
        let mut bo = Opts::new(
            Some(&band),
            format!("{subject}: band {n} ({shape})"),
            o.span().cloned(),
        );
        let _ = bo.str("type");
        let mut fields: Vec<(&'static str, f64)> = Vec::new();
        let mut slope = None;
        for (key, value) in bo.drain() {
            let field = ["hz", "q", "gain_db"].into_iter().find(|f| *f == key);
            if key == "slope" && shelf {
                match param_number(&key, &value, Unit::Linear) {
                    Ok(s) => slope = Some(s),
                    Err(m) => bo.error(m),
                }
                continue;
            }
            let Some(field) = field else {
                let known: &[&str] = if shelf {
                    &["hz", "q", "gain_db", "slope"]
                } else {
                    &["hz", "q", "gain_db"]
                };
                let hint = did_you_mean(&key, known);
                let list = if hint.is_empty() {
                    format!("; band options: {}", known.join(", "))
                } else {
                    String::new()
                };
                bo.error(format!(
                    "unknown option '{}'{hint}{list}",
                    crate::registry::schema::printable(&key)
                ));
                continue;
            };
            match param_number(&key, &value, Unit::Linear) {
                Ok(x) => fields.push((field, x)),
                Err(m) => bo.error(m),
            }
        }
        if !fields.iter().any(|(f, _)| *f == "hz") && bo.errors.is_empty() {
            bo.error("needs hz (the band's frequency)");
        }
        if let Some(s) = slope {
            if fields.iter().any(|(f, _)| *f == "q") {
                bo.error("give q or slope, not both");
            } else if !(s > 0.0 && s <= 1.0) {
                bo.error(format!(
                    "slope = {} is out of range; allowed above 0 up to 1",
                    crate::param::trim(s)
                ));
            } else {
                let gain = fields
                    .iter()
                    .find(|(f, _)| *f == "gain_db")
                    .map_or(0.0, |(_, g)| *g);
                fields.push(("q", shelf_slope_to_q(s, gain)));
            }
        }
        let base = 3 * i;
        let descs = &crate::nodes::eq::DESC.params;
        fields.retain(|(f, x)| {
            let d = &descs[base + band_offset(f)];
            let (lo, hi) = (d.min as f64, d.max as f64);
            let ok = match *f {
                "hz" => *x >= lo && *x < nyquist,
                _ => *x >= lo && *x <= hi,
            };
            if !ok {
                let s = d.unit.suffix();
                let top = if *f == "hz" {
                    format!("below Nyquist ({}{s})", crate::param::trim(nyquist))
                } else {
                    format!("{}{s}", crate::param::trim(hi))
                };
                bo.error(format!(
                    "{f} = {}{s} is out of range; allowed {}{s} to {top}",
                    crate::param::trim(*x),
                    crate::param::trim(lo)
                ));
            }
            ok
        });
        for (f, x) in fields {
            out.params.push((base + band_offset(f), x));
        }
        o.errors.extend(bo.finish());
        shapes.push(shape);
    }
    if !shapes.is_empty() {
        out.config.set("bands", OptValue::Words(shapes));
    }
}

/// Index of a band field among the band's three parameters.
fn band_offset(field: &str) -> usize {
    match field {
        "hz" => 0,
        "q" => 1,
        _ => 2,
    }
}

/// Records an error at the current call.
pub fn script_error(lua: &Lua, msg: String) -> mlua::Error {
    raise(Error::new(ErrorKind::Script, msg).at(call_span(lua).as_ref()))
}

/// For `mix.<band>{...}` constructors: the band table with its type.
pub fn band_constructor(lua: &Lua, band: &'static str) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, t: Value| {
        let t = match t {
            Value::Table(t) => t,
            other => {
                return Err(script_error(
                    lua,
                    format!(
                        "mix.{band} takes an option table like mix.{band} {{ hz = 1000 }}, got {}",
                        type_name(&other)
                    ),
                ))
            }
        };
        t.set("type", band)?;
        Ok(t)
    })
}
