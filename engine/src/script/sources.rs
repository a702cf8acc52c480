//! Track sources: an audio file (`"stems/bass.wav"` or `{ file = ..., start_s, trim }`; WAV,
//! FLAC, MP3 or Ogg Vorbis at any sample rate) or a
//! generator (`{ synth = "bass", pattern = "c2 . c3 ." }`, `{ drum = "kick", pattern = "x..." }`,
//! `{ osc = "saw", hz = 110 }`, `{ noise = "pink" }`).

use std::sync::Arc;

use mlua::{Lua, Result as LuaResult, Value};

use super::model::Model;
use super::options::{type_name, Opts};
use super::Ctx;
use crate::error::{Error, ErrorKind, Span};
use crate::graph::NodeKey;
use crate::nodes::{Clip, Placement, Player};

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
            let head = file_source(lua, ctx, name, &file, Placement::default(), span)?;
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
            let head = if let Some(file) = o.str("file") {
                let start_s = o.num_in("start_s", 0.0, 1e6, " s").unwrap_or(0.0);
                let mut placement = Placement {
                    start_s,
                    ..Default::default()
                };
                match o.value("trim") {
                    None => {}
                    Some(Value::Integer(i)) => placement.trim_start_s = i as f64,
                    Some(Value::Number(n)) => placement.trim_start_s = n,
                    Some(Value::Table(tt)) => {
                        let mut to = Opts::new(Some(&tt), format!("{subject} trim"), span.clone());
                        placement.trim_start_s = to.num_in("start_s", 0.0, 1e6, " s").unwrap_or(0.0);
                        placement.length_s = to.num_in("length_s", 0.0, 1e6, " s");
                        o.errors.extend(to.finish());
                    }
                    Some(other) => o.error(format!(
                        "'trim' must be seconds from the start or {{ start_s = .., length_s = .. }}, got {}",
                        type_name(&other)
                    )),
                }
                if placement.trim_start_s < 0.0 {
                    o.error("trim must not be negative");
                    placement.trim_start_s = 0.0;
                }
                let errs = std::mem::take(&mut o.errors);
                push_errors(lua, errs);
                file_source(lua, ctx, name, &file, placement, span.clone())?
            } else if GENERATOR_KEYS.iter().any(|k| o.has(k)) {
                if !(o.has("bars") || o.has("length_s")) {
                    let mut m = lua.app_data_mut::<Model>().expect("model");
                    m.open_ended.push((name.to_string(), span.clone()));
                }
                let r = crate::nodes::generators::from_options(&mut o, lua_session(lua));
                match r {
                    Ok(g) => {
                        let mut m = lua.app_data_mut::<Model>().expect("model");
                        let key = m
                            .spec
                            .add_with(
                                format!("{name}/source"),
                                g.desc,
                                g.config,
                                g.factory,
                                span.clone(),
                            )
                            .map_err(raise)?;
                        for (i, v) in g.initial {
                            m.spec.nodes[key].params[i].value = v;
                        }
                        key
                    }
                    Err(msg) => {
                        o.error(msg);
                        silent(lua, name, span.clone())?
                    }
                }
            } else {
                o.error(
                    "needs a source: file = \"x.wav\", or a generator: synth = \"bass\"|\"pad\"|\"lead\"|\"pluck\", \
                     drum = \"kick\"|\"snare\"|\"hat\"|\"clap\", osc = \"sine\"|\"saw\"|\"square\"|\"triangle\", \
                     noise = \"white\"|\"pink\"",
                );
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

/// Keys that make a table a generator source.
pub const GENERATOR_KEYS: &[&str] = &["synth", "drum", "osc", "noise"];

fn lua_session(lua: &Lua) -> crate::graph::Session {
    lua.app_data_ref::<Model>()
        .expect("model")
        .spec
        .session
        .clone()
}

fn push_errors(lua: &Lua, errs: Vec<Error>) {
    if !errs.is_empty() {
        lua.app_data_mut::<Model>()
            .expect("model")
            .errors
            .extend(errs);
    }
}

fn silent(lua: &Lua, name: &str, span: Option<Span>) -> LuaResult<NodeKey> {
    let mut m = lua.app_data_mut::<Model>().expect("model");
    m.spec
        .add(format!("{name}/source"), Clip::new(vec![vec![]], 0), span)
        .map_err(raise)
}

fn file_source(
    lua: &Lua,
    ctx: &Ctx,
    name: &str,
    file: &str,
    placement: Placement,
    span: Option<Span>,
) -> LuaResult<NodeKey> {
    let subject = format!("track \"{name}\"");
    let resolved = ctx.dir.join(file);
    let check = ctx.check_path(&resolved).and_then(|_| {
        crate::io::decode::probe_audio(&resolved).map_err(|e| {
            let msg = if e.message.contains("file not found") {
                format!(
                    "{subject}: audio file \"{file}\" not found (looked for {})",
                    resolved.display()
                )
            } else {
                let shown = resolved.display().to_string();
                let what = e
                    .message
                    .strip_prefix(&format!("{shown}: "))
                    .unwrap_or(&e.message);
                format!("{subject}: audio file \"{file}\": {what}")
            };
            Error::new(e.kind, msg)
        })
    });
    match check {
        Ok(info) => {
            let mut m = lua.app_data_mut::<Model>().expect("model");
            m.files.push(info.path.clone());
            // Any rate plays: the player resamples to the session rate as it reads.
            let info = Arc::new(info);
            let config = format!("{}|{placement:?}", info.path.display());
            m.spec
                .add_with(
                    format!("{name}/source"),
                    &crate::nodes::player::DESC,
                    config,
                    Arc::new(move || Box::new(Player::new(info.clone(), placement))),
                    span,
                )
                .map_err(raise)
        }
        Err(e) => {
            push_errors(lua, vec![e.at(span.as_ref())]);
            silent(lua, name, span)
        }
    }
}
