//! Track sources: an audio file (`"stems/bass.wav"` or `{ file = ..., start_s, trim }`; WAV,
//! FLAC, MP3 or Ogg Vorbis at any sample rate) or a generator from the registry, chosen by its
//! selector key (`{ synth = "bass", pattern = "c2 . c3 ." }`, `{ drum = "kick", ... }`,
//! `{ osc = "saw", hz = 110 }`, `{ noise = "pink" }`).

use mlua::{Lua, Result as LuaResult, Value};

use super::mapping::{map_options, Mapped};
use super::model::Model;
use super::options::{type_name, Opts};
use super::Ctx;
use crate::error::{Error, ErrorKind, Span};
use crate::graph::NodeKey;
use crate::registry::{self, Config, NodeKind, OptValue, Role};

/// The source node plus strip settings given in the same table.
pub struct Source {
    /// The source node.
    pub head: NodeKey,
    /// `gain_db` for the fader.
    pub gain_db: Option<f64>,
    /// `pan` for the panner.
    pub pan: Option<f64>,
}

fn raise(e: Error) -> mlua::Error {
    mlua::Error::external(e)
}

/// Builds the source node of track `name` from the second argument of `mix.track`.
pub fn build(
    lua: &Lua,
    ctx: &Ctx,
    name: &str,
    src: &Value,
    span: Option<Span>,
) -> LuaResult<Source> {
    let subject = format!("track \"{name}\"");
    match src {
        Value::String(s) => {
            let file = s.to_string_lossy();
            let head = file_source(lua, ctx, name, &file, Config::new(), span)?;
            Ok(Source {
                head,
                gain_db: None,
                pan: None,
            })
        }
        Value::Table(t) => {
            let mut o = Opts::new(Some(t), subject.clone(), span.clone());
            let gain_db = o.num_in("gain_db", -120.0, 48.0, " dB");
            let pan = o.num_in("pan", -1.0, 1.0, "");
            let generator = registry::sources().find(|k| match k.role {
                Role::Source { selector } => o.has(selector),
                _ => false,
            });
            let head = if let Some(file) = o.str("file") {
                let mut placement = Config::new();
                if let Some(s) = o.num_in("start_s", 0.0, 1e6, " s") {
                    placement.set("start_s", OptValue::Num(s));
                }
                trim(&mut o, &subject, span.as_ref(), &mut placement);
                push_errors(lua, std::mem::take(&mut o.errors));
                file_source(lua, ctx, name, &file, placement, span.clone())?
            } else if let Some(kind) = generator {
                if !(o.has("bars") || o.has("length_s")) {
                    let mut m = lua.app_data_mut::<Model>().expect("model");
                    m.open_ended.push((name.to_string(), span.clone()));
                }
                generator_source(lua, name, kind, &mut o, span.clone())?
            } else {
                o.error(format!(
                    "needs a source: file = \"x.wav\", or a generator: {}",
                    registry::sources()
                        .map(|k| {
                            let choices = k
                                .option(match k.role {
                                    Role::Source { selector } => selector,
                                    _ => "",
                                })
                                .map(|opt| opt.range_text())
                                .unwrap_or_default();
                            format!("{} = {choices}", k.name)
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
                silent(lua, name, span.clone())?
            };
            push_errors(lua, o.finish());
            Ok(Source { head, gain_db, pan })
        }
        other => Err(raise(
            Error::new(
                ErrorKind::Script,
                format!(
                    "{subject}: the source must be a file name or an option table, got {}",
                    type_name(other)
                ),
            )
            .at(span.as_ref()),
        )),
    }
}

/// `trim = seconds` or `trim = { start_s = .., length_s = .. }`.
fn trim(o: &mut Opts, subject: &str, span: Option<&Span>, placement: &mut Config) {
    match o.value("trim") {
        None => {}
        Some(Value::Integer(i)) => placement.set("trim_start_s", OptValue::Num(i as f64)),
        Some(Value::Number(n)) => placement.set("trim_start_s", OptValue::Num(n)),
        Some(Value::Table(tt)) => {
            let mut to = Opts::new(Some(&tt), format!("{subject} trim"), span.cloned());
            if let Some(s) = to.num_in("start_s", 0.0, 1e6, " s") {
                placement.set("trim_start_s", OptValue::Num(s));
            }
            if let Some(l) = to.num_in("length_s", 0.0, 1e6, " s") {
                placement.set("length_s", OptValue::Num(l));
            }
            o.errors.extend(to.finish());
        }
        Some(other) => o.error(format!(
            "'trim' must be seconds from the start or {{ start_s = .., length_s = .. }}, got {}",
            type_name(&other)
        )),
    }
    if placement.opt_num("trim_start_s").is_some_and(|t| t < 0.0) {
        o.error("trim must not be negative");
        placement.remove("trim_start_s");
    }
}

fn generator_source(
    lua: &Lua,
    name: &str,
    kind: &'static NodeKind,
    o: &mut Opts,
    span: Option<Span>,
) -> LuaResult<NodeKey> {
    let session = lua
        .app_data_ref::<Model>()
        .expect("model")
        .spec
        .session
        .clone();
    let mut mapped = Mapped::default();
    map_options(kind, o, session.tempo, &mut mapped);
    if kind.option("tempo_bpm").is_some() {
        mapped
            .config
            .set("tempo_bpm", OptValue::Num(session.tempo.bpm));
    }
    let mut m = lua.app_data_mut::<Model>().expect("model");
    let path = format!("{name}/source");
    match m.spec.add_kind(path, kind, mapped.config, span.clone()) {
        Ok(key) => {
            for (i, v) in mapped.params {
                let id = kind.desc.params[i].id;
                if let Err(e) = m.spec.set_param(key, id, v) {
                    m.error(e.at(span.as_ref()));
                }
            }
            Ok(key)
        }
        Err(es) => {
            // Report as the track (the user wrote a track, not a node).
            for e in es {
                let msg = e.message.replacen(
                    &format!("{} \"{name}/source\"", kind.name),
                    &format!("track \"{name}\""),
                    1,
                );
                m.error(Error::new(e.kind, msg).at(span.as_ref()));
            }
            drop(m);
            silent(lua, name, span)
        }
    }
}

fn push_errors(lua: &Lua, errs: Vec<Error>) {
    if !errs.is_empty() {
        lua.app_data_mut::<Model>()
            .expect("model")
            .extend_errors(errs);
    }
}

/// A stand-in source that plays nothing (a track whose source was wrong), so evaluation goes on.
fn silent(lua: &Lua, name: &str, span: Option<Span>) -> LuaResult<NodeKey> {
    let mut m = lua.app_data_mut::<Model>().expect("model");
    m.spec
        .add_kind(
            format!("{name}/source"),
            &crate::nodes::sum::KIND,
            Config::new().with("channels", OptValue::Num(1.0)),
            span,
        )
        .map_err(|mut e| raise(e.remove(0)))
}

fn file_source(
    lua: &Lua,
    ctx: &Ctx,
    name: &str,
    file: &str,
    mut placement: Config,
    span: Option<Span>,
) -> LuaResult<NodeKey> {
    let subject = format!("track \"{name}\"");
    let shown = crate::registry::schema::printable(file);
    let check = ctx.resolve_read(file).and_then(|resolved| {
        crate::io::decode::probe_audio(&resolved).map_err(|e| {
            let msg = if e.message.contains("file not found") {
                format!(
                    "{subject}: audio file \"{shown}\" not found (looked for {})",
                    crate::registry::schema::printable(&resolved.display().to_string())
                )
            } else {
                let p = resolved.display().to_string();
                let what = e
                    .message
                    .strip_prefix(&format!("{p}: "))
                    .unwrap_or(&e.message);
                format!("{subject}: audio file \"{shown}\": {what}")
            };
            Error::new(e.kind, msg)
        })
    });
    let info = match check {
        Ok(info) => info,
        Err(e) => {
            push_errors(lua, vec![e.at(span.as_ref())]);
            return silent(lua, name, span);
        }
    };
    let Some(path) = info.path.to_str() else {
        push_errors(
            lua,
            vec![Error::new(
                ErrorKind::Io,
                format!(
                    "{subject}: audio file \"{shown}\": its path is not valid UTF-8; rename it"
                ),
            )
            .at(span.as_ref())],
        );
        return silent(lua, name, span);
    };
    placement.set("file", OptValue::Text(path.to_string()));
    placement.set(
        "stamp",
        OptValue::Text(crate::io::decode::file_stamp(&info.path)),
    );
    let mut m = lua.app_data_mut::<Model>().expect("model");
    m.files.push(info.path.clone());
    m.probes.push(info);
    match m.spec.add_kind(
        format!("{name}/source"),
        &crate::nodes::player::KIND,
        placement,
        span.clone(),
    ) {
        Ok(k) => Ok(k),
        Err(es) => {
            m.extend_errors(es);
            drop(m);
            silent(lua, name, span)
        }
    }
}
