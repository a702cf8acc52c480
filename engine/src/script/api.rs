//! The `mix` module: Lua bindings that build the [`Model`]. Every call records the script line it
//! came from, so problems found later (at compile time) still point at the user's line.
//!
//! Problems that do not stop evaluation (unknown option keys, values out of range, missing files)
//! are recorded and evaluation goes on, so one run reports them all; only misuse that makes the
//! rest meaningless raises a Lua error.

use mlua::{Lua, MetaMethod, Result as LuaResult, Table, UserData, UserDataMethods, Value};

use super::inserts::{self, insert, insert_kind};
use super::model::{Model, RenderJob, SendModel, StripId, StripKind, MASTER};
use super::options::{type_name, Opts};
use super::sources;
use super::Ctx;
use crate::error::{Error, ErrorKind, Span};
use crate::graph::spec::did_you_mean;
use crate::graph::NodeKey;
use crate::registry::{self, Config};

/// The script line calling into Rust.
pub fn call_span(lua: &Lua) -> Option<Span> {
    for level in 1..6 {
        let found = lua.inspect_stack(level, |d| {
            let src = d.source();
            let line = d.current_line()?;
            // Only frames of script files (chunks named "@path"), not internal helper chunks.
            let file = src.source.as_deref()?.strip_prefix('@')?.to_string();
            Some(Span::new(file, line as u32))
        });
        if let Some(Some(s)) = found {
            return Some(s);
        }
    }
    None
}

pub(super) fn raise(e: Error) -> mlua::Error {
    mlua::Error::external(e)
}

pub(super) fn with_model<R>(lua: &Lua, f: impl FnOnce(&mut Model) -> R) -> R {
    let mut m = lua.app_data_mut::<Model>().expect("model installed");
    f(&mut m)
}

/// Stops the script when a limit was reached (too many nodes or automation events): going on
/// would only repeat the same error.
pub(super) fn stop_on_limit(lua: &Lua) -> LuaResult<()> {
    match with_model(lua, |m| m.take_limit()) {
        Some(e) => Err(raise(e)),
        None => Ok(()),
    }
}

/// Handle of a channel strip (track, bus or master).
#[derive(Clone, Copy, Debug)]
pub struct StripRef(pub StripId);

/// Handle of a node (an insert).
#[derive(Clone, Copy, Debug)]
pub struct NodeRef(pub NodeKey);

/// Handle of one parameter of one node, for automation.
#[derive(Clone, Copy, Debug)]
pub struct ParamRef {
    pub(super) node: NodeKey,
    pub(super) id: &'static str,
}

fn param_ref(m: &Model, node: NodeKey, id: &str) -> Result<ParamRef, String> {
    let n = &m.spec.nodes[node];
    let desc = n.desc();
    match desc
        .params
        .iter()
        .enumerate()
        .find(|(i, p)| p.id == id && n.has_param(*i))
    {
        Some((_, p)) => Ok(ParamRef { node, id: p.id }),
        None => {
            let ids: Vec<&str> = desc
                .params
                .iter()
                .enumerate()
                .filter(|(i, _)| n.has_param(*i))
                .map(|(_, p)| p.id)
                .collect();
            let id = crate::registry::schema::printable(id);
            Err(format!(
                "{} \"{}\" has no parameter '{id}'{}; parameters: {}",
                desc.kind,
                n.path,
                did_you_mean(&id, &ids),
                if ids.is_empty() {
                    "none".into()
                } else {
                    ids.join(", ")
                }
            ))
        }
    }
}

fn strip_param(m: &Model, s: StripId, key: &str) -> Option<ParamRef> {
    let st = &m.strips[s];
    match key {
        "gain_db" => Some(ParamRef {
            node: st.fader,
            id: "gain_db",
        }),
        "pan" => st.pan.map(|p| ParamRef { node: p, id: "pan" }),
        _ => None,
    }
}

/// Strip methods that are not inserts.
const STRIP_ROUTING: &[&str] = &["to", "send", "insert"];

/// Every strip method name (routing, then the registry's inserts), for did-you-mean.
fn strip_methods() -> Vec<&'static str> {
    let mut m = STRIP_ROUTING.to_vec();
    m.extend(registry::inserts().map(|k| k.name));
    m.push("plugin");
    m
}

impl UserData for StripRef {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("to", |lua, this, dest: Value| {
            let span = call_span(lua);
            let d = expect_strip(&dest, "to", span.as_ref())?;
            with_model(lua, |m| {
                if d == this.0 {
                    let name = m.strips[d].name.clone();
                    m.error(Model::script_error(
                        span.as_ref(),
                        format!("\"{name}\":to(\"{name}\"): a strip cannot feed itself"),
                    ));
                } else if m.strips[d].kind == StripKind::Track {
                    let name = m.strips[d].name.clone();
                    m.error(Model::script_error(
                        span.as_ref(),
                        format!("to(\"{name}\"): \"{name}\" is a track; route to a bus (mix.bus) or mix.master"),
                    ));
                } else if m.strips[this.0].kind == StripKind::Master {
                    m.error(Model::script_error(span.as_ref(), "mix.master:to(): the master is the final output"));
                } else {
                    m.strips[this.0].dest = Some(d);
                    m.strips[this.0].dest_span = span.clone();
                }
            });
            Ok(*this)
        });
        methods.add_method("send", |lua, this, (dest, opts): (Value, Option<Table>)| {
            let span = call_span(lua);
            let d = expect_strip(&dest, "send", span.as_ref())?;
            let mut o = Opts::new(opts.as_ref(), "send", span.clone());
            let gain_db = o.num_in("gain_db", -120.0, 24.0, " dB").unwrap_or(0.0);
            let pre = o.bool("pre").unwrap_or(false);
            let errs = o.finish();
            with_model(lua, |m| {
                m.extend_errors(errs);
                if d == this.0 {
                    let name = m.strips[d].name.clone();
                    m.error(Model::script_error(
                        span.as_ref(),
                        format!(
                            "\"{name}\":send(\"{name}\"): a strip cannot send to itself; for feedback, put a delay_line in the loop (bus:delay_line {{ time_ms = 250 }}) and send through it"
                        ),
                    ));
                    return Ok(NodeRef(m.strips[this.0].fader));
                }
                if m.strips[d].kind == StripKind::Track {
                    let name = m.strips[d].name.clone();
                    m.error(Model::script_error(
                        span.as_ref(),
                        format!("send(\"{name}\"): \"{name}\" is a track; sends go to buses"),
                    ));
                    return Ok(NodeRef(m.strips[this.0].fader));
                }
                let path = format!("{}/send:{}", m.strips[this.0].name, m.strips[d].name);
                let key = m
                    .spec
                    .add_kind(path, &crate::nodes::gain::KIND, Config::new(), span.clone())
                    .map_err(|mut e| raise(e.remove(0)))?;
                m.spec.set_param(key, "gain_db", gain_db).map_err(raise)?;
                m.strips[this.0].sends.push(SendModel {
                    dest: d,
                    gain: key,
                    pre,
                    span,
                });
                Ok(NodeRef(key))
            })
        });
        for kind in registry::inserts() {
            methods.add_method(kind.name, move |lua, this, opts: Value| {
                insert(lua, this.0, kind, opts)
            });
        }
        methods.add_method("plugin", |lua, this, args: (Value, Value, Value)| {
            super::plugin_api::insert_plugin(lua, this.0, args)
        });
        methods.add_method("insert", |lua, this, (name, opts): (String, Value)| {
            let kind = insert_kind(&name).ok_or_else(|| {
                let names: Vec<&str> = registry::inserts().map(|k| k.name).collect();
                raise(
                    Error::new(
                        ErrorKind::Script,
                        format!(
                            "unknown insert '{}'{}; inserts: {}",
                            crate::registry::schema::printable(&name),
                            did_you_mean(&name, &names),
                            names.join(", ")
                        ),
                    )
                    .at(call_span(lua).as_ref()),
                )
            })?;
            insert(lua, this.0, kind, opts)
        });
        methods.add_meta_method(MetaMethod::Index, |lua, this, key: String| {
            if key == "name" {
                return with_model(lua, |m| {
                    Ok(Value::String(lua.create_string(&m.strips[this.0].name)?))
                });
            }
            if key == "source" {
                // A track's source node, for automating its own parameters
                // (`lead.source.hz:linear_to(t, 880)`).
                let head = with_model(lua, |m| {
                    let s = &m.strips[this.0];
                    (s.kind == StripKind::Track).then_some(s.head)
                });
                return match head {
                    Some(k) => Ok(Value::UserData(lua.create_userdata(NodeRef(k))?)),
                    None => Err(raise(
                        Error::new(
                            ErrorKind::Script,
                            "only a track has a source (strip.source); buses and the master sum what reaches them",
                        )
                        .at(call_span(lua).as_ref()),
                    )),
                };
            }
            match with_model(lua, |m| strip_param(m, this.0, &key)) {
                Some(p) => Ok(Value::UserData(lua.create_userdata(p)?)),
                None => {
                    let methods = strip_methods();
                    Err(raise(
                        Error::new(
                            ErrorKind::Script,
                            format!(
                                "strip has no field '{}'{}; fields: name, gain_db, pan, source; methods (call with a colon, strip:method{{...}}): {}",
                                crate::registry::schema::printable(&key),
                                did_you_mean(&key, &[&["name", "gain_db", "pan", "source"], methods.as_slice()].concat()),
                                methods.join(", ")
                            ),
                        )
                        .at(call_span(lua).as_ref()),
                    ))
                }
            }
        });
        methods.add_meta_method(
            MetaMethod::NewIndex,
            |lua, this, (key, v): (String, Value)| {
                let span = call_span(lua);
                let p = with_model(lua, |m| strip_param(m, this.0, &key));
                let Some(p) = p else {
                    return Err(raise(
                        Error::new(
                            ErrorKind::Script,
                            format!("cannot set '{key}' on a strip; settable: gain_db, pan"),
                        )
                        .at(span.as_ref()),
                    ));
                };
                set_static(lua, p, v, span)
            },
        );
    }
}

/// The unit of the parameter behind `p`.
pub(super) fn param_unit(m: &Model, p: ParamRef) -> crate::param::Unit {
    let desc = m.spec.nodes[p.node].desc();
    desc.params
        .iter()
        .find(|d| d.id == p.id)
        .map_or(crate::param::Unit::Linear, |d| d.unit)
}

fn set_static(lua: &Lua, p: ParamRef, v: Value, span: Option<Span>) -> LuaResult<()> {
    let unit = with_model(lua, |m| param_unit(m, p));
    let x = super::mapping::param_number(p.id, &v, unit)
        .map_err(|m| raise(Error::new(ErrorKind::Param, m).at(span.as_ref())))?;
    super::plugin_api::check_value(lua, p, x)
        .map_err(|m| raise(Error::new(ErrorKind::Param, m).at(span.as_ref())))?;
    with_model(lua, |m| {
        if p.node == m.strips[MASTER].fader {
            m.master_fader_span = span.clone();
        }
        if let Err(e) = m.spec.set_param(p.node, p.id, x) {
            m.error(e.at(span.as_ref()));
        }
    });
    Ok(())
}

pub(super) fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

fn expect_strip(v: &Value, what: &str, span: Option<&Span>) -> LuaResult<StripId> {
    if let Value::UserData(ud) = v {
        if let Ok(s) = ud.borrow::<StripRef>() {
            return Ok(s.0);
        }
    }
    let hint = if matches!(v, Value::Nil) {
        "; is the bus defined (mix.bus \"name\") before it is used?"
    } else if matches!(v, Value::String(_)) {
        "; pass the bus itself (local b = mix.bus \"b\"), not its name"
    } else {
        ""
    };
    Err(raise(
        Error::new(
            ErrorKind::Script,
            format!(
                "{what}: expected a bus or mix.master, got {}{hint}",
                type_name(v)
            ),
        )
        .at(span),
    ))
}

impl UserData for NodeRef {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::Index, |lua, this, key: String| {
            if key == "path" {
                return with_model(lua, |m| {
                    Ok(Value::String(
                        lua.create_string(&m.spec.nodes[this.0].path)?,
                    ))
                });
            }
            match super::plugin_api::param_ref(lua, this.0, &key)
                .unwrap_or_else(|| with_model(lua, |m| param_ref(m, this.0, &key)))
            {
                Ok(p) => Ok(Value::UserData(lua.create_userdata(p)?)),
                Err(msg) => Err(raise(
                    Error::new(ErrorKind::Script, msg).at(call_span(lua).as_ref()),
                )),
            }
        });
        methods.add_meta_method(
            MetaMethod::NewIndex,
            |lua, this, (key, v): (String, Value)| {
                let span = call_span(lua);
                match super::plugin_api::param_ref(lua, this.0, &key)
                    .unwrap_or_else(|| with_model(lua, |m| param_ref(m, this.0, &key)))
                {
                    Ok(p) => set_static(lua, p, v, span),
                    Err(msg) => Err(raise(Error::new(ErrorKind::Script, msg).at(span.as_ref()))),
                }
            },
        );
    }
}

/// Installs the `mix` global.
pub fn install(lua: &Lua) -> LuaResult<()> {
    let mix = lua.create_table()?;
    mix.set("master", StripRef(MASTER))?;

    mix.set(
        "session",
        lua.create_function(|lua, opts: Option<Table>| {
            let span = call_span(lua);
            let mut o = Opts::new(opts.as_ref(), "mix.session", span.clone());
            let first_strip = with_model(lua, |m| m.strips.get(1).map(|s| s.span.clone()));
            if let Some(at) = first_strip {
                o.error(format!(
                    "call mix.session before any track or bus (the first one is made at {}); the session's rate and tempo apply to everything after it",
                    at.map_or_else(|| "an earlier line".to_string(), |s| s.to_string())
                ));
            }
            let sr = o.num_in("sample_rate", 8000.0, 384000.0, " Hz");
            let sr = match sr {
                Some(r) if r.fract() != 0.0 => {
                    o.error(format!(
                        "sample_rate = {} Hz must be a whole number of frames per second (e.g. 44100 or 48000)",
                        crate::param::trim(r)
                    ));
                    None
                }
                other => other,
            };
            let bpm = o.num_in("tempo_bpm", 20.0, 400.0, " BPM");
            let ts = o.value("time_signature");
            let len = o.num_in("length_s", 0.001, 36000.0, " s");
            let len_bars = o.num_in("length_bars", 0.01, 10000.0, " bars");
            let mut sig = None;
            if let Some(v) = ts {
                match &v {
                    Value::Table(t) => {
                        let a: Option<u32> = t.get(1).ok();
                        let b: Option<u32> = t.get(2).ok();
                        match (a, b) {
                            (Some(a), Some(b)) if a > 0 && [1, 2, 4, 8, 16].contains(&b) => {
                                sig = Some((a, b))
                            }
                            _ => o.error("time_signature must look like {4, 4} or {6, 8}"),
                        }
                    }
                    Value::String(s) => {
                        let s = s.to_string_lossy();
                        match s
                            .split_once('/')
                            .map(|(a, b)| (a.trim().parse::<u32>(), b.trim().parse::<u32>()))
                        {
                            Some((Ok(a), Ok(b))) if a > 0 && [1, 2, 4, 8, 16].contains(&b) => {
                                sig = Some((a, b))
                            }
                            _ => o.error(format!(
                                "time_signature '{s}' must look like \"4/4\" or \"6/8\""
                            )),
                        }
                    }
                    other => o.error(format!(
                        "time_signature must be \"4/4\" or {{4, 4}}, got {}",
                        type_name(other)
                    )),
                }
            }
            let errs = o.finish();
            with_model(lua, |m| {
                m.extend_errors(errs);
                let s = &mut m.spec.session;
                if let Some(sr) = sr {
                    s.sample_rate = sr;
                }
                if let Some(b) = bpm {
                    s.tempo.bpm = b;
                }
                if let Some((a, b)) = sig {
                    s.tempo.beats_per_bar = a;
                    s.tempo.beat_unit = b;
                }
                if len.is_some() {
                    s.length_s = len;
                }
                if let Some(b) = len_bars {
                    // Counted with this call's tempo and time signature.
                    s.length_s = Some(b * s.tempo.beats_per_bar as f64 * s.tempo.beat_s());
                }
            });
            Ok(())
        })?,
    )?;

    mix.set(
        "track",
        lua.create_function(|lua, (name, src): (Value, Value)| {
            let span = call_span(lua);
            let name = expect_name(lua, &name, "mix.track", span.as_ref())?;
            check_unique(lua, &name, span.as_ref())?;
            let ctx = lua.app_data_ref::<Ctx>().expect("ctx").clone();
            let src = sources::build(lua, &ctx, &name, &src, span.clone())?;
            with_model(lua, |m| {
                let id = m
                    .add_strip(&name, StripKind::Track, src.head, span.clone())
                    .map_err(raise)?;
                let st = m.strips[id].clone();
                if let Some(g) = src.gain_db {
                    m.spec.set_param(st.fader, "gain_db", g).map_err(raise)?;
                }
                if let (Some(p), Some(pan)) = (src.pan, st.pan) {
                    m.spec.set_param(pan, "pan", p).map_err(raise)?;
                }
                Ok(StripRef(id))
            })
        })?,
    )?;

    mix.set(
        "bus",
        lua.create_function(|lua, name: Value| {
            let span = call_span(lua);
            let name = expect_name(lua, &name, "mix.bus", span.as_ref())?;
            check_unique(lua, &name, span.as_ref())?;
            with_model(lua, |m| {
                let head = m
                    .spec
                    .add_kind(
                        format!("{name}/in"),
                        &crate::nodes::sum::KIND,
                        Config::new(),
                        span.clone(),
                    )
                    .map_err(|mut e| raise(e.remove(0)))?;
                let id = m
                    .add_strip(&name, StripKind::Bus, head, span)
                    .map_err(raise)?;
                Ok(StripRef(id))
            })
        })?,
    )?;

    mix.set(
        "bar",
        lua.create_function(|lua, n: f64| Ok(with_model(lua, |m| m.spec.session.tempo.bar_s(n))))?,
    )?;
    mix.set(
        "beat",
        lua.create_function(|lua, n: f64| {
            Ok(with_model(lua, |m| m.spec.session.tempo.beats_s(n)))
        })?,
    )?;
    mix.set(
        "note",
        lua.create_function(|lua, v: Value| {
            let frac = match &v {
                Value::String(s) => super::mapping::parse_note(&s.to_string_lossy()),
                other => as_number(other),
            };
            let Some(frac) = frac.filter(|f| *f > 0.0) else {
                return Err(raise(
                    Error::new(
                        ErrorKind::Script,
                        format!(
                            "mix.note: expected a note value like 1/8 or \"1/8.\", got {}",
                            type_name(&v)
                        ),
                    )
                    .at(call_span(lua).as_ref()),
                ));
            };
            Ok(with_model(lua, |m| m.spec.session.tempo.note_s(frac)))
        })?,
    )?;

    for band in crate::nodes::eq::BAND_TYPES {
        mix.set(*band, inserts::band_constructor(lua, band)?)?;
    }

    mix.set(
        "render",
        lua.create_function(|lua, opts: Option<Table>| {
            let span = call_span(lua);
            let mut o = Opts::new(opts.as_ref(), "mix.render", span.clone());
            let path = o.str("path");
            let format = o.str("format");
            let stems = o.bool("stems").unwrap_or(false);
            let fmt = match format
                .as_deref()
                .map(str::parse::<crate::io::sink::OutputFormat>)
            {
                None => Some(None),
                Some(Ok(f)) => Some(Some(f)),
                Some(Err(e)) => {
                    o.error(e);
                    None
                }
            };
            if let (Some(p), Some(f)) = (&path, fmt) {
                if let Err(m) =
                    crate::io::sink::OutputFormat::check_extension(std::path::Path::new(p), f)
                {
                    o.error(m);
                }
            }
            if path.is_none() {
                o.error("missing 'path'; e.g. mix.render { path = \"out/song.wav\" }");
            }
            let errs = o.finish();
            with_model(lua, |m| {
                m.extend_errors(errs);
                if let (Some(p), Some(format)) = (path, fmt) {
                    m.renders.push(RenderJob {
                        path: std::path::PathBuf::from(p),
                        format,
                        stems,
                        span,
                    });
                }
            });
            Ok(())
        })?,
    )?;

    mix.set("album", lua.create_function(super::album_api::album)?)?;

    lua.globals().set("mix", mix)?;
    Ok(())
}

fn expect_name(lua: &Lua, v: &Value, what: &str, span: Option<&Span>) -> LuaResult<String> {
    let _ = lua;
    match v {
        Value::String(s) => {
            let s = s.to_string_lossy();
            if s.is_empty()
                || s.chars().count() > 64
                || s.contains(['/', ':', '"', '\\'])
                || s.chars().any(char::is_control)
            {
                Err(raise(
                    Error::new(
                        ErrorKind::Script,
                        format!(
                            "{what}: name \"{}\" must be 1 to 64 characters with no '/', ':', '\"', '\\' or control characters",
                            crate::registry::schema::printable(&s)
                        ),
                    )
                    .at(span),
                ))
            } else {
                Ok(s)
            }
        }
        other => Err(raise(
            Error::new(
                ErrorKind::Script,
                format!(
                    "{what}: the first argument must be a name (string), got {}",
                    type_name(other)
                ),
            )
            .at(span),
        )),
    }
}

fn check_unique(lua: &Lua, name: &str, span: Option<&Span>) -> LuaResult<()> {
    with_model(lua, |m| match m.strip_named(name) {
        Some(i) => {
            let first = m.strips[i]
                .span
                .as_ref()
                .map(|s| format!(" (first defined at {s})"))
                .unwrap_or_else(|| " (the master)".into());
            Err(raise(
                Error::new(
                    ErrorKind::Script,
                    format!(
                        "duplicate name \"{name}\"{first}; give each track and bus its own name"
                    ),
                )
                .at(span),
            ))
        }
        None => Ok(()),
    })
}
