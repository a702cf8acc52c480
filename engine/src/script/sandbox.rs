//! The Lua state a script runs in: the restricted libraries, `require` confined to module names
//! under the allowed folders, `print` to stderr (bounded), the in-process limits (memory limit of
//! the state, an instruction hook for the time limit), and the translation of Lua errors into
//! the engine's, with the script line.
//!
//! The in-process limits give the common mistakes (an endless Lua loop, a runaway table) a
//! message with the line. They cannot stop C functions, coroutines' own hooks or finalizers;
//! the evaluator process's OS limits do ([`super::isolate`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use mlua::{HookTriggers, Lua, LuaOptions, ObjectLike, StdLib, Value, VmState};

use super::api;
use super::model::Model;
use super::{Ctx, Evaluated, MasteringJob, ScriptOptions, EMBEDDED_MODULES};
use crate::error::{Error, ErrorKind, Errors, Span};
use crate::graph::{GraphSpec, Session};

/// Most bytes `print` writes in one evaluation.
const PRINT_LIMIT: usize = 64 << 10;
/// Deepest chain of `require`s.
const MAX_REQUIRE_DEPTH: usize = 32;

/// Runs `src` and collects what it built.
pub(super) fn run(
    src: &str,
    name: &str,
    dir: &Path,
    opts: &ScriptOptions,
) -> Result<Evaluated, Errors> {
    let lua = new_state(name, dir, opts)?;
    let result = lua
        .load(src)
        .set_name(format!("@{name}"))
        .set_mode(mlua::chunk::ChunkMode::Text)
        .exec();
    let ev = collect(&lua, result, name, dir);
    close(lua);
    ev
}

/// Drops a Lua state; in the evaluator process it is leaked instead, so no finalizer of the
/// script runs (the process exits right after). In-process, the time-limit hook stays set
/// while the state closes.
fn close(lua: Lua) {
    if super::isolate::IN_CHILD.load(std::sync::atomic::Ordering::Relaxed) {
        std::mem::forget(lua);
    }
}

/// Builds an album song's mastering graph: the premaster file as a track, the matching EQ on the
/// master, then the mastering chain module called as `chain(mix.master, { target_lufs,
/// ceiling_db, gain_db })` (or a loudness stage when there is no chain). The graph is built by
/// Rust; only the chain module is Lua.
pub(super) fn run_mastering(job: &MasteringJob, opts: &ScriptOptions) -> Result<Evaluated, Errors> {
    let name = "album mastering";
    let lua = new_state(name, &job.dir, opts)?;
    let result = (|| -> mlua::Result<()> {
        api::with_model(&lua, |m| {
            m.spec.session.sample_rate = job.sample_rate;
        });
        let file = job.file.to_string_lossy().to_string();
        let track: mlua::Function = lua.globals().get::<mlua::Table>("mix")?.get("track")?;
        let _: Value = track.call(("song", file))?;
        let master: Value = lua.globals().get::<mlua::Table>("mix")?.get("master")?;
        if job.eq_db.iter().any(|g| g.abs() > 1e-3) {
            let bands = lua.create_table()?;
            for (i, g) in job.eq_db.iter().enumerate() {
                let b = lua.create_table()?;
                let shape = match i {
                    0 => "low_shelf",
                    i if i + 1 == job.eq_db.len() => "high_shelf",
                    _ => "bell",
                };
                b.set("type", shape)?;
                b.set(
                    "hz",
                    crate::album::BANDS_HZ.get(i).copied().unwrap_or(1000.0),
                )?;
                b.set("q", 0.9)?;
                b.set("gain_db", *g)?;
                bands.push(b)?;
            }
            let strip = match &master {
                Value::UserData(ud) => ud.clone(),
                _ => return Err(mlua::Error::runtime("mix.master is not a strip")),
            };
            let _: Value = strip.call_method("eq", bands)?;
        }
        let o = lua.create_table()?;
        o.set("target_lufs", job.target_lufs)?;
        o.set("ceiling_db", job.ceiling_db)?;
        o.set("gain_db", job.gain_db)?;
        match &job.chain {
            Some(module) => {
                let require: mlua::Function = lua.globals().get("require")?;
                let chain: mlua::Function = require.call(module.as_str())?;
                let _: Value = chain.call((master, o))?;
            }
            None => {
                o.set("target_lufs", Value::Nil)?;
                let strip = match &master {
                    Value::UserData(ud) => ud.clone(),
                    _ => return Err(mlua::Error::runtime("mix.master is not a strip")),
                };
                let _: Value = strip.call_method("loudness", o)?;
            }
        }
        Ok(())
    })();
    let ev = collect(&lua, result, name, &job.dir);
    close(lua);
    ev
}

/// A fresh sandboxed state with the `mix` module, `require` and the time-limit hook.
fn new_state(name: &str, dir: &Path, opts: &ScriptOptions) -> Result<Lua, Errors> {
    let lua = sandbox(opts).map_err(|e| lua_error(e, name))?;
    let ctx = Ctx::new(dir, opts);
    lua.set_app_data(ctx);
    lua.set_app_data(Model::new(GraphSpec::new(Session::default())));
    lua.set_app_data(Modules::default());
    api::install(&lua).map_err(|e| lua_error(e, name))?;
    let install_args = || -> mlua::Result<()> {
        let args = lua.create_table()?;
        for (k, v) in &opts.args {
            args.set(k.as_str(), arg_value(&lua, v)?)?;
        }
        let mix: mlua::Table = lua.globals().get("mix")?;
        mix.set("args", args)
    };
    install_args().map_err(|e| lua_error(e, name))?;
    install_require(&lua).map_err(|e| lua_error(e, name))?;

    let deadline = Instant::now() + opts.time_limit;
    let limit = opts.time_limit;
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(10_000),
        move |_, _| {
            if Instant::now() > deadline {
                Err(mlua::Error::runtime(format!(
                    "the script ran longer than the {} s time limit (an endless loop?); raise it with --time-limit SECONDS",
                    crate::param::trim(limit.as_secs_f64())
                )))
            } else {
                Ok(VmState::Continue)
            }
        },
    )
    .map_err(|e| lua_error(e, name))?;
    Ok(lua)
}

/// What the script built, once it has run (or its errors).
fn collect(
    lua: &Lua,
    result: mlua::Result<()>,
    name: &str,
    dir: &Path,
) -> Result<Evaluated, Errors> {
    let mut model = lua.remove_app_data::<Model>().expect("model");
    let modules = lua.remove_app_data::<Modules>().unwrap_or_default();
    if let Err(e) = result {
        let stopped_by_limit = model.limit.is_some();
        let mut errs = model.all_errors();
        // A script stopped by a limit raised that limit's error: do not report it twice.
        if !stopped_by_limit {
            errs.push(lua_error(e, name));
        }
        return Err(Errors(errs));
    }
    if model.spec.session.length_s.is_none() {
        for (track, span) in model.open_ended.clone() {
            model.error(
                Error::new(
                    ErrorKind::Script,
                    format!(
                        "track \"{track}\": a generator plays forever; give it bars = N or length_s = S, \
                         or set mix.session {{ length_s = ... }}"
                    ),
                )
                .at(span.as_ref()),
            );
        }
    }
    model.wire();
    if let Some(w) = master_gain_after_limiter(&model) {
        model.warnings.push(w);
    }
    for (k, id, v, t, ev) in model.spec.static_values_overridden() {
        let n = &model.spec.nodes[k];
        let w = Error::new(
            ErrorKind::Param,
            format!(
                "{} \"{}\": {id} is set to {} and also automated; the set value holds only until the first event ({} at {} s)",
                n.kind_name(),
                n.path,
                crate::param::trim(v as f64),
                crate::param::trim(ev as f64),
                crate::param::trim(t)
            ),
        )
        .at(n.span.as_ref());
        model.warnings.push(w);
    }
    let errs = model.all_errors();
    if !errs.is_empty() {
        return Err(Errors(errs));
    }
    let mut watched = vec![dir.join(Path::new(name).file_name().unwrap_or_default())];
    watched.extend(modules.files);
    watched.extend(model.files.iter().cloned());
    Ok(Evaluated {
        spec: model.spec,
        renders: model.renders,
        warnings: model.warnings,
        watched,
        strips: model.strips,
        albums: model.albums,
        probes: model.probes,
    })
}

/// The master fader comes after the master's inserts: a positive master gain behind a limiter
/// (or a loudness stage) lifts the level past its ceiling. Returns the warning to give.
fn master_gain_after_limiter(model: &Model) -> Option<Error> {
    let master = &model.strips[super::model::MASTER];
    let limiter = master
        .inserts
        .iter()
        .rev()
        .find(|k| matches!(model.spec.nodes[**k].kind_name(), "limit" | "loudness"))?;
    let fader = &model.spec.nodes[master.fader];
    let p = fader.params.first()?;
    let max = p
        .timeline
        .events
        .iter()
        .map(|e| e.value())
        .fold(p.value, f32::max);
    (max > 0.0).then(|| {
        let lim = &model.spec.nodes[*limiter];
        Error::new(
            ErrorKind::Param,
            format!(
                "the master fader (+{} dB) comes after the master's inserts, so it lifts the level {} dB past the ceiling of {} \"{}\"; put the gain before the limiter (mix.master:gain {{ gain_db = {} }} before the mastering chain, or the chain's own gain) and leave mix.master.gain_db at 0 or below",
                crate::param::trim(max as f64),
                crate::param::trim(max as f64),
                lim.kind_name(),
                lim.path,
                crate::param::trim(max as f64)
            ),
        )
        .at(model.master_fader_span.as_ref().or(lim.span.as_ref()))
    })
}

/// A `--set` value as Lua sees it: an integer stays an integer (`1` is `1`, not `1.0`), a number
/// a float, anything else a string.
fn arg_value(lua: &Lua, v: &str) -> mlua::Result<Value> {
    if let Ok(i) = v.parse::<i64>() {
        return Ok(Value::Integer(i));
    }
    match v.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(Value::Number(n)),
        _ => Ok(Value::String(lua.create_string(v)?)),
    }
}

/// Modules loaded so far: their files (for watching) and the chain being loaded (to report a
/// module that requires itself).
#[derive(Default)]
struct Modules {
    files: Vec<PathBuf>,
    loading: Vec<String>,
    printed: usize,
}

fn sandbox(opts: &ScriptOptions) -> mlua::Result<Lua> {
    let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::UTF8 | StdLib::COROUTINE;
    let lua = Lua::new_with(libs, LuaOptions::default())?;
    lua.set_memory_limit(opts.memory_limit_bytes)?;
    let g = lua.globals();
    for name in ["dofile", "loadfile", "require", "collectgarbage"] {
        g.set(name, Value::Nil)?;
    }
    g.set(
        "__mixdown_print",
        lua.create_function(|lua, s: mlua::LuaString| {
            let mut m = lua.app_data_mut::<Modules>();
            let text = s.to_string_lossy();
            let room = m
                .as_deref_mut()
                .map_or(0, |m| PRINT_LIMIT.saturating_sub(m.printed));
            if room > 0 {
                let shown: String = text
                    .chars()
                    .take(room)
                    .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
                    .collect();
                if let Some(m) = m.as_deref_mut() {
                    m.printed += shown.len() + 1;
                }
                eprintln!("{shown}");
            }
            Ok(())
        })?,
    )?;
    // Text chunks only: no precompiled bytecode.
    lua.load(
        r#"
        local raw_load = load
        local out = __mixdown_print
        __mixdown_print = nil
        load = function(chunk, name, _mode, env) return raw_load(chunk, name, "t", env) end
        os = { clock = function() return 0 end, time = function() return 0 end }
        print = function(...)
            local t = table.pack(...)
            for i = 1, t.n do t[i] = tostring(t[i]) end
            out(table.concat(t, "\t"))
        end
    "#,
    )
    .set_name("=sandbox")
    .exec()?;
    // `math.random` draws from the job, never from the clock: the same script with the same
    // `--set` values draws the same numbers (in `mixdown render`, `play` and `batch` alike).
    let (hi, lo) = random_seed(&opts.args);
    lua.load(format!("math.randomseed({hi}, {lo})"))
        .set_name("=sandbox")
        .exec()?;
    Ok(lua)
}

/// The seed of a job's `math.random`: a hash of its `--set` values, in key order (FNV-1a,
/// stable across builds and platforms).
pub(crate) fn random_seed(args: &[(String, String)]) -> (i64, i64) {
    let mut sorted: Vec<_> = args.iter().collect();
    sorted.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in sorted {
        for b in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    (0x6d69_7864_6f77_6e00, h as i64)
}

/// Whether `name` is a module name: words of letters, digits, `_` and `-`, joined by dots.
fn is_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// Finds module `name`: `name.lua` (dots are folders) or `name/init.lua` under the script's
/// folder, then the `--graphs` folders — each resolved, and refused when a link leads out of the
/// folder it was found in — then the built-in modules.
fn find_module(ctx: &Ctx, name: &str) -> Result<(String, String, Option<PathBuf>), Vec<String>> {
    let rel = name.replace('.', "/");
    let mut looked = Vec::new();
    let mut dirs = vec![ctx.dir.clone()];
    dirs.extend(ctx.module_dirs.iter().cloned());
    for d in &dirs {
        let Some(root) = super::canonical(d) else {
            continue;
        };
        for cand in [d.join(format!("{rel}.lua")), d.join(&rel).join("init.lua")] {
            looked.push(cand.display().to_string());
            let Ok(real) = cand.canonicalize() else {
                continue;
            };
            if !real.starts_with(&root) || !real.is_file() {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&real) else {
                continue;
            };
            if meta.len() > 16 << 20 {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(&real) {
                return Ok((cand.display().to_string(), text, Some(real)));
            }
        }
    }
    if let Some((n, text)) = EMBEDDED_MODULES.iter().find(|(n, _)| *n == name) {
        return Ok((
            format!("graphs/{}.lua", n.replace('.', "/")),
            text.to_string(),
            None,
        ));
    }
    Err(looked)
}

fn install_require(lua: &Lua) -> mlua::Result<()> {
    let loaded = lua.create_table()?;
    lua.set_named_registry_value("mixdown_loaded", loaded)?;
    let f = lua.create_function(|lua, name: Value| {
        let span = api::call_span(lua);
        let fail = |msg: String| {
            mlua::Error::external(Error::new(ErrorKind::Script, msg).at(span.as_ref()))
        };
        let name = match name {
            Value::String(s) => s.to_string_lossy(),
            other => {
                return Err(fail(format!(
                    "require: expected a module name like \"mastering.streaming\", got {}",
                    super::options::type_name(&other)
                )))
            }
        };
        let shown = crate::registry::schema::printable(&name);
        if !is_module_name(&name) {
            return Err(fail(format!(
                "require \"{shown}\": not a module name; modules are named like \"strips.vocal\" (letters, digits, _ and -, dots for folders) and are found beside the script or in --graphs folders, never by path"
            )));
        }
        let loaded: mlua::Table = lua.named_registry_value("mixdown_loaded")?;
        if let Ok(v) = loaded.get::<Value>(name.as_str()) {
            if !v.is_nil() {
                return Ok(v);
            }
        }
        {
            let mods = lua.app_data_ref::<Modules>().expect("modules");
            if mods.loading.contains(&name) {
                let chain: Vec<String> = mods
                    .loading
                    .iter()
                    .skip_while(|m| **m != name)
                    .cloned()
                    .chain(std::iter::once(name.clone()))
                    .collect();
                return Err(fail(format!(
                    "require \"{shown}\": the module requires itself ({}); a module cannot load itself, directly or through others",
                    chain.join(" → ")
                )));
            }
            if mods.loading.len() >= MAX_REQUIRE_DEPTH {
                return Err(fail(format!(
                    "require \"{shown}\": modules are nested more than {MAX_REQUIRE_DEPTH} deep"
                )));
            }
        }
        let ctx = lua.app_data_ref::<Ctx>().expect("ctx").clone();
        let (chunk_name, text, file) = find_module(&ctx, &name).map_err(|looked| {
            let builtin: Vec<&str> = EMBEDDED_MODULES.iter().map(|(n, _)| *n).collect();
            fail(format!(
                "require \"{shown}\": module not found{}; looked in {}; built-in modules: {}",
                crate::graph::spec::did_you_mean(&name, &builtin),
                looked.join(", "),
                builtin.join(", ")
            ))
        })?;
        if let Some(mut mods) = lua.app_data_mut::<Modules>() {
            mods.files.extend(file);
            mods.loading.push(name.clone());
        }
        let result: mlua::Result<Value> = lua
            .load(&text)
            .set_name(format!("@{chunk_name}"))
            .set_mode(mlua::chunk::ChunkMode::Text)
            .call(name.clone());
        if let Some(mut mods) = lua.app_data_mut::<Modules>() {
            mods.loading.pop();
        }
        let v = result?;
        let v = if v.is_nil() { Value::Boolean(true) } else { v };
        loaded.set(name.as_str(), v.clone())?;
        Ok(v)
    })?;
    lua.globals().set("require", f)
}

/// Turns an mlua error into the engine's error, keeping our own errors (with their spans) intact.
pub fn lua_error(e: mlua::Error, name: &str) -> Error {
    match e {
        mlua::Error::CallbackError { cause, traceback } => {
            let e = lua_error((*cause).clone(), name);
            // Errors raised while converting arguments carry no line of their own: take the
            // script line from the traceback.
            let span = e.span.clone().or_else(|| traceback_span(&traceback));
            e.at(span.as_ref())
        }
        mlua::Error::ExternalError(ext) => match ext.downcast_ref::<Error>() {
            Some(ours) => ours.clone(),
            None => Error::new(ErrorKind::Script, ext.to_string()),
        },
        mlua::Error::SyntaxError { message, .. } => Error::new(
            ErrorKind::Script,
            format!("syntax error: {}", strip_location(&message)),
        )
        .at(location(&message).as_ref()),
        mlua::Error::RuntimeError(message) => {
            let first = message.lines().next().unwrap_or("").to_string();
            let first = if first.contains("stack overflow") {
                format!("{first} (endless recursion: a function that calls itself without end?)")
            } else if let Some(field) = first
                .split("attempt to index a function value (field '")
                .nth(1)
                .and_then(|r| r.split('\'').next())
            {
                let fader = if field == "gain" {
                    "; the fader is strip.gain_db (e.g. mix.master.gain_db:set(t, v)), the gain insert is strip:gain { gain_db = .. }"
                } else {
                    ""
                };
                format!("{first}: '{field}' is a method, called with a colon (strip:{field}{{ ... }}){fader}")
            } else {
                first
            };
            match location(&first) {
                Some(span) => Error::new(ErrorKind::Script, strip_location(&first)).at(Some(&span)),
                None => Error::new(ErrorKind::Script, format!("{name}: {first}")),
            }
        }
        mlua::Error::MemoryError(_) => Error::new(
            ErrorKind::Limit,
            format!("{name}: the script used more memory than its limit allows (a runaway table?); raise it with --memory-limit-mib MIB"),
        ),
        mlua::Error::WithContext { cause, .. } => lua_error((*cause).clone(), name),
        mlua::Error::BadArgument { pos, cause, to, .. } => {
            let func = to.as_deref().map(|t| t.rsplit(['.', ':']).next().unwrap_or(t).to_string());
            let self_missing = pos == 1 && {
                let c = cause.to_string();
                c.contains("StripRef") || c.contains("NodeRef") || c.contains("ParamRef")
            };
            if self_missing {
                let f = func.unwrap_or_else(|| "method".into());
                return Error::new(
                    ErrorKind::Script,
                    format!(
                        "{f} was called with a dot; methods are called with a colon: strip:{f}{{ ... }}, not strip.{f}{{ ... }}"
                    ),
                );
            }
            let inner = lua_error((*cause).clone(), name);
            Error::new(
                ErrorKind::Script,
                format!(
                    "bad argument #{pos}{}: {}",
                    func.map(|f| format!(" to {f}")).unwrap_or_default(),
                    inner.message
                ),
            )
            .at(inner.span.as_ref())
        }
        other => Error::new(ErrorKind::Script, format!("{name}: {other}")),
    }
}

/// The first script line (a chunk named after a `.lua` file) in a Lua traceback.
fn traceback_span(tb: &str) -> Option<Span> {
    tb.lines().find_map(|l| {
        let l = l.trim();
        let (file, rest) = l.split_once(':')?;
        let (line, _) = rest.split_once(':')?;
        (file.ends_with(".lua") && !file.starts_with('[')).then_some(())?;
        Some(Span::new(file, line.trim().parse().ok()?))
    })
}

/// `scripts/x.lua:12: message` → the span.
fn location(msg: &str) -> Option<Span> {
    let mut parts = msg.splitn(3, ':');
    let file = parts.next()?;
    let line: u32 = parts.next()?.trim().parse().ok()?;
    parts.next()?;
    Some(Span::new(file, line))
}

fn strip_location(msg: &str) -> String {
    match location(msg) {
        Some(_) => msg.splitn(3, ':').nth(2).unwrap_or(msg).trim().to_string(),
        None => msg.to_string(),
    }
}
