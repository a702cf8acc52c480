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

/// A plugin node of this evaluation: what the plugin offers and which of its parameters each
/// slot carries (`slots[i]` indexes `info.params`).
struct PluginUse {
    info: Arc<PluginInfo>,
    slots: Vec<usize>,
}

/// The plugins of this evaluation's nodes (Lua app data).
#[derive(Default)]
struct PluginNodes(HashMap<NodeKey, PluginUse>);

fn info_of(lua: &Lua, node: NodeKey) -> Option<Arc<PluginInfo>> {
    lua.app_data_ref::<PluginNodes>()
        .and_then(|p| p.0.get(&node).map(|u| u.info.clone()))
}

/// The slots of a plugin's parameters: every parameter in the plugin's order when it has at
/// most [`MAX_PARAMS`] (the slot layout then never changes, so a reload that starts automating
/// another parameter keeps the running instance), else only the parameters the script sets or
/// automates, in the order it first names them.
fn initial_slots(info: &PluginInfo, named: &[usize]) -> Vec<usize> {
    if info.params.len() <= MAX_PARAMS {
        (0..info.params.len()).collect()
    } else {
        let mut v: Vec<usize> = Vec::new();
        for &i in named {
            if !v.contains(&i) {
                v.push(i);
            }
        }
        // More than the slots: the rest are refused by name.
        v.truncate(MAX_PARAMS);
        v
    }
}

/// The slot carrying the plugin's parameter `p` of `node`, given one when the plugin has more
/// parameters than slots and the script names a new one.
fn slot_for(lua: &Lua, node: NodeKey, p: usize) -> Result<usize, String> {
    let mut nodes = lua
        .app_data_mut::<PluginNodes>()
        .ok_or_else(|| "not a plugin".to_string())?;
    let u = nodes.0.get_mut(&node).ok_or("not a plugin")?;
    if let Some(s) = u.slots.iter().position(|&q| q == p) {
        return Ok(s);
    }
    if u.slots.len() >= MAX_PARAMS {
        return Err(format!(
            "plugin {}: a script may set or automate at most {MAX_PARAMS} of one plugin's {} parameters; '{}' would be one more",
            u.info.name,
            u.info.params.len(),
            u.info.params[p].ident
        ));
    }
    u.slots.push(p);
    let slot = u.slots.len() - 1;
    let q = u.info.params[p].clone();
    drop(nodes);
    with_model(lua, |m| {
        let n = &mut m.spec.nodes[node];
        for (key, v) in [
            ("keys", q.key as f64),
            ("mins", q.min),
            ("maxs", q.max),
            ("defaults", q.default),
        ] {
            let mut l = n.config.list(key).to_vec();
            l.push(v);
            n.config.set(key, OptValue::List(l));
        }
        n.params[slot].value = q.default as f32;
    });
    Ok(slot)
}

/// For a plugin node's handle: the parameter the plugin calls `key`. `None` for other nodes.
pub(super) fn param_ref(lua: &Lua, node: NodeKey, key: &str) -> Option<Result<ParamRef, String>> {
    let info = info_of(lua, node)?;
    Some(match info.param(key) {
        Some((i, _)) => slot_for(lua, node, i).map(|s| ParamRef {
            node,
            id: PARAMS[s].id,
        }),
        None => Err(format!("plugin {}", info.unknown_param(key))),
    })
}

/// For values set on or automated through a plugin handle: the plugin's range. `Ok` for other
/// nodes.
pub(super) fn check_value(lua: &Lua, p: ParamRef, v: f64) -> Result<(), String> {
    let Some(nodes) = lua.app_data_ref::<PluginNodes>() else {
        return Ok(());
    };
    let Some(u) = nodes.0.get(&p.node) else {
        return Ok(());
    };
    let Some(s) = PARAMS.iter().position(|d| d.id == p.id) else {
        return Ok(());
    };
    match u.slots.get(s).and_then(|&i| u.info.params.get(i)) {
        Some(q) => q
            .check(v)
            .map(|_| ())
            .map_err(|m| format!("plugin {}: {m}", u.info.name)),
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
    let state_out = o.str("state_out");
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

    // Parameters the table names (unknown ones are reported below).
    let mut named: Vec<usize> = Vec::new();
    if let Some(t) = &params {
        for (k, _) in t.pairs::<Value, Value>().flatten() {
            if let Value::String(k) = k {
                if let Some((i, _)) = info.param(&k.to_string_lossy()) {
                    named.push(i);
                }
            }
        }
        named.sort_unstable();
    }
    let slots = initial_slots(&info, &named);
    let mut config = Config::new()
        .with("id", OptValue::Text(info.id.clone()))
        .with("name", OptValue::Text(info.name.clone()))
        .with(
            "bundle",
            OptValue::Text(info.file.to_string_lossy().into_owned()),
        )
        .with(
            "channels",
            OptValue::List(vec![
                info.main_inputs() as f64,
                info.inputs.get(1).copied().unwrap_or(0) as f64,
                info.main_outputs() as f64,
            ]),
        );
    let list = |f: &dyn Fn(&crate::plugin::ParamInfo) -> f64| {
        OptValue::List(slots.iter().map(|&i| f(&info.params[i])).collect())
    };
    config.set("keys", list(&|p| p.key as f64));
    config.set("mins", list(&|p| p.min));
    config.set("maxs", list(&|p| p.max));
    config.set("defaults", list(&|p| p.default));
    if let Some(s) = &state_out {
        let ctx = lua.app_data_ref::<super::Ctx>().expect("ctx").clone();
        let p = ctx.dir.join(s);
        config.set(
            "state_out",
            OptValue::Text(p.to_string_lossy().into_owned()),
        );
    }
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
            let Some(i) = slots.iter().position(|&q| q == i) else {
                errs.push(e(format!(
                    "{subject}: a script may set or automate at most {MAX_PARAMS} of one plugin's {} parameters; '{k}' would be one more",
                    info.params.len()
                )));
                continue;
            };
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
            .insert(key, PluginUse { info, slots });
    }
    super::api::stop_on_limit(lua)?;
    Ok(NodeRef(key))
}
