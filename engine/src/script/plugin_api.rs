//! `strip:plugin(id, { param = value, ... }, { state = "preset.state", sidechain = strip })`:
//! a third-party plugin as an insert ([`crate::plugin`]). The plugin is looked up (and
//! described) while the script runs, so an unknown plugin or parameter, or a value outside the
//! plugin's range, is reported at the script line with the plugin's own names. The returned
//! handle reaches the parameters by those names (`h.boost_cut_1:linear_to(t, 6)`).

use std::collections::HashMap;
use std::sync::Arc;

use mlua::{Lua, Table, Value};

use super::api::{as_number, call_span, raise, with_model, NodeRef, ParamRef, StripRef};
use super::model::StripId;
use super::options::{type_name, Opts};
use crate::error::{Error, ErrorKind};
use crate::graph::NodeKey;
use crate::plugin::node::{KIND, MAX_PARAMS, PARAMS};
use crate::plugin::PluginInfo;
use crate::registry::{Config, OptValue};

/// The plugins of this evaluation's nodes (Lua app data).
#[derive(Default)]
struct PluginNodes(HashMap<NodeKey, Arc<PluginInfo>>);

fn info_of(lua: &Lua, node: NodeKey) -> Option<Arc<PluginInfo>> {
    lua.app_data_ref::<PluginNodes>()
        .and_then(|p| p.0.get(&node).cloned())
}

/// For a plugin node's handle: the parameter the plugin calls `key`. `None` for other nodes.
pub(super) fn param_ref(lua: &Lua, node: NodeKey, key: &str) -> Option<Result<ParamRef, String>> {
    let info = info_of(lua, node)?;
    Some(match info.param(key) {
        Some((i, _)) if i < MAX_PARAMS => Ok(ParamRef {
            node,
            id: PARAMS[i].id,
        }),
        Some(_) => Err(format!(
            "plugin {}: '{key}' is beyond the first {MAX_PARAMS} parameters, the most a script can reach",
            info.name
        )),
        None => Err(format!("plugin {}", info.unknown_param(key))),
    })
}

/// For values set on or automated through a plugin handle: the plugin's range. `Ok` for other
/// nodes.
pub(super) fn check_value(lua: &Lua, p: ParamRef, v: f64) -> Result<(), String> {
    let Some(info) = info_of(lua, p.node) else {
        return Ok(());
    };
    let Some(i) = PARAMS.iter().position(|d| d.id == p.id) else {
        return Ok(());
    };
    match info.params.get(i) {
        Some(q) => q
            .check(v)
            .map(|_| ())
            .map_err(|m| format!("plugin {}: {m}", info.name)),
        None => Ok(()),
    }
}

fn err(lua: &Lua, msg: String) -> mlua::Error {
    raise(Error::new(ErrorKind::Script, msg).at(call_span(lua).as_ref()))
}

/// `strip:plugin(id, params, opts)`.
pub fn insert_plugin(
    lua: &Lua,
    strip: StripId,
    (id, params, opts): (Value, Value, Value),
) -> mlua::Result<NodeRef> {
    let span = call_span(lua);
    let id = match id {
        Value::String(s) => s.to_string_lossy(),
        other => {
            return Err(err(
                lua,
                format!(
                    ":plugin takes the plugin id first, like strip:plugin(\"clap:com.zamaudio.ZamEQ2\", {{ ... }}), got {}",
                    type_name(&other)
                ),
            ))
        }
    };
    let table = |v: Value, what: &str| -> mlua::Result<Option<Table>> {
        match v {
            Value::Table(t) => Ok(Some(t)),
            Value::Nil => Ok(None),
            other => Err(err(
                lua,
                format!(
                    ":plugin(\"{}\", ...): the {what} must be a table, got {}",
                    crate::registry::schema::printable(&id),
                    type_name(&other)
                ),
            )),
        }
    };
    let (params, opts) = (table(params, "parameters")?, table(opts, "options")?);
    let info = crate::plugin::resolve(&id).map_err(|m| err(lua, m))?;
    // The path carries the plugin's own name, so reports (NaN/Inf, failures) name it.
    let shown: String = info
        .name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = with_model(lua, |m| m.insert_path(strip, &shown));
    let subject = format!("plugin \"{path}\" ({})", info.name);

    // Options.
    let mut o = Opts::new(opts.as_ref(), subject.clone(), span.clone());
    let state = o.str("state");
    let sidechain = match o.value("sidechain") {
        None => None,
        Some(Value::UserData(ud)) => match ud.borrow::<StripRef>() {
            Ok(s) => Some(s.0),
            Err(_) => {
                o.error("sidechain must be a track or bus (the strip itself)");
                None
            }
        },
        Some(other) => {
            o.error(format!(
                "sidechain must be a track or bus, got {}",
                type_name(&other)
            ));
            None
        }
    };
    let mut errs = o.finish();
    if sidechain.is_some() && info.inputs.len() < 2 {
        errs.push(
            Error::new(
                ErrorKind::Param,
                format!("{subject}: the plugin has no sidechain input"),
            )
            .at(span.as_ref()),
        );
    }

    let n = info.params.len().min(MAX_PARAMS);
    let mut config = Config::new()
        .with("id", OptValue::Text(info.id.clone()))
        .with("name", OptValue::Text(info.name.clone()))
        .with(
            "bundle",
            OptValue::Text(info.file.to_string_lossy().into_owned()),
        );
    let list = |f: &dyn Fn(&crate::plugin::ParamInfo) -> f64| {
        OptValue::List(info.params[..n].iter().map(f).collect())
    };
    config.set("keys", list(&|p| p.key as f64));
    config.set("mins", list(&|p| p.min));
    config.set("maxs", list(&|p| p.max));
    config.set("defaults", list(&|p| p.default));
    if let Some(s) = &state {
        let ctx = lua.app_data_ref::<super::Ctx>().expect("ctx").clone();
        match ctx.resolve_read(s) {
            Ok(p) => match std::fs::metadata(&p) {
                Ok(meta) => {
                    let stamp = format!(
                        "{}:{:?}",
                        meta.len(),
                        meta.modified()
                            .ok()
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map(|d| d.as_nanos())
                    );
                    config.set("state", OptValue::Text(p.to_string_lossy().into_owned()));
                    config.set("state_stamp", OptValue::Text(stamp));
                }
                Err(_) => errs.push(
                    Error::new(
                        ErrorKind::Io,
                        format!(
                            "{subject}: state file \"{}\" not found",
                            crate::registry::schema::printable(s)
                        ),
                    )
                    .at(span.as_ref()),
                ),
            },
            Err(e) => errs.push(
                Error::new(e.kind, format!("{subject}: state: {}", e.message)).at(span.as_ref()),
            ),
        }
    }

    // Parameters by the plugin's own names.
    let mut values: Vec<(usize, f64)> = Vec::new();
    if let Some(t) = &params {
        let mut entries: Vec<(String, Value)> = Vec::new();
        for pair in t.pairs::<Value, Value>() {
            match pair {
                Ok((Value::String(k), v)) => entries.push((k.to_string_lossy(), v)),
                Ok((k, _)) => errs.push(
                    Error::new(
                        ErrorKind::Param,
                        format!(
                            "{subject}: parameter names must be strings, got {}",
                            type_name(&k)
                        ),
                    )
                    .at(span.as_ref()),
                ),
                Err(e) => errs.push(Error::new(ErrorKind::Script, e.to_string())),
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in entries {
            let e = |m: String| Error::new(ErrorKind::Param, m).at(span.as_ref());
            let Some((i, p)) = info.param(&k) else {
                errs.push(e(format!("{subject}: {}", info.unknown_param(&k))));
                continue;
            };
            if i >= MAX_PARAMS {
                errs.push(e(format!(
                    "{subject}: '{k}' is beyond the first {MAX_PARAMS} parameters, the most a script can reach"
                )));
                continue;
            }
            let x = match v {
                Value::Boolean(b) => Some(if b { 1.0 } else { 0.0 }),
                ref other => as_number(other),
            };
            let Some(x) = x else {
                errs.push(e(format!(
                    "{subject}: {k} must be a number, got {}",
                    type_name(&v)
                )));
                continue;
            };
            match p.check(x) {
                Ok(x) => values.push((i, x)),
                Err(m) => errs.push(e(format!("{subject}: {m}"))),
            }
        }
    }

    let info = Arc::new(info);
    let (key, is_plugin) = with_model(lua, |m| {
        m.extend_errors(errs);
        let key = match m.spec.add_kind(path.clone(), &KIND, config, span.clone()) {
            Ok(k) => k,
            Err(es) => {
                m.extend_errors(es);
                // Keep going with a pass-through so later lines can still be checked.
                m.spec
                    .add_kind(path, &crate::nodes::gain::KIND, Config::new(), span.clone())
                    .map_err(|mut e| raise(e.remove(0)))?
            }
        };
        let is_plugin = m.spec.nodes[key].desc().kind == KIND.name;
        if is_plugin {
            for (i, v) in values {
                if let Err(e) = m.spec.set_param(key, PARAMS[i].id, v) {
                    m.error(e.at(span.as_ref()));
                }
            }
            if let Some(sc) = sidechain {
                m.sidechains.push((key, sc, span.clone()));
            }
        }
        m.strips[strip].inserts.push(key);
        Ok::<_, mlua::Error>((key, is_plugin))
    })?;
    if is_plugin {
        if lua.app_data_ref::<PluginNodes>().is_none() {
            lua.set_app_data(PluginNodes::default());
        }
        lua.app_data_mut::<PluginNodes>()
            .expect("plugin nodes")
            .0
            .insert(key, info);
    }
    super::api::stop_on_limit(lua)?;
    Ok(NodeRef(key))
}
