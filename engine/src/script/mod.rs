//! The Lua front end. [`evaluate`] runs a mix script in a fresh sandboxed Lua state and returns
//! the [`GraphSpec`] it describes, plus its render jobs. No Lua ever runs on the audio thread.
//!
//! Sandbox: only the `table`, `string`, `math`, `utf8` and `coroutine` libraries; no `io`, `os`
//! (except `os.clock`/`os.time`), `debug`, `package`, `dofile`, `loadfile`; `load` accepts text
//! chunks only. Files are reached only through the engine and only under the script's folder or
//! the graph-module folders. Evaluation has a memory limit and a time limit.

mod album_api;
mod api;
mod inserts;
mod param_api;
/// The insert builder type, shared with the node catalogue.
pub mod inserts_built {
    pub use super::inserts::Built;
}
mod model;
pub mod options;
mod sources;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Value, VmState};

pub use api::{NodeRef, ParamRef, StripRef};
pub use inserts::{
    parse_note, sidechain as inserts_sidechain, time_option as inserts_time, BAND_TYPES,
};
pub use model::{Model, RenderJob, StripKind, StripModel};
pub use options::Opts;

use crate::error::{Error, ErrorKind, Errors, Span};
use crate::graph::{GraphSpec, Session};

/// Graph modules shipped with mixdown, available to `require` from any script.
pub const EMBEDDED_MODULES: &[(&str, &str)] = &[
    (
        "strips.vocal",
        include_str!("../../../graphs/strips/vocal.lua"),
    ),
    (
        "strips.drums",
        include_str!("../../../graphs/strips/drums.lua"),
    ),
    (
        "strips.bass",
        include_str!("../../../graphs/strips/bass.lua"),
    ),
    (
        "mastering.streaming",
        include_str!("../../../graphs/mastering/streaming.lua"),
    ),
    (
        "mastering.broadcast",
        include_str!("../../../graphs/mastering/broadcast.lua"),
    ),
    (
        "mastering.loud",
        include_str!("../../../graphs/mastering/loud.lua"),
    ),
    (
        "buses.parallel",
        include_str!("../../../graphs/buses/parallel.lua"),
    ),
];

/// The embedded demo song (`scripts/demo.lua`), rendered when no script is given.
pub const DEMO_SCRIPT: &str = include_str!("../../../scripts/demo.lua");

/// How to evaluate.
#[derive(Clone, Debug)]
pub struct ScriptOptions {
    /// Memory limit for the Lua state.
    pub memory_limit_bytes: usize,
    /// Wall-clock limit for evaluation.
    pub time_limit: Duration,
    /// Extra folders searched by `require` (after the script's own folder).
    pub module_dirs: Vec<PathBuf>,
    /// Extra folders the script may read audio files from (`--allow-read`).
    pub read_dirs: Vec<PathBuf>,
    /// Values given on the command line (`--set key=value`), visible as `mix.args.key`.
    pub args: Vec<(String, String)>,
}

impl Default for ScriptOptions {
    fn default() -> Self {
        Self {
            memory_limit_bytes: 256 << 20,
            time_limit: Duration::from_secs(5),
            module_dirs: Vec::new(),
            read_dirs: Vec::new(),
            args: Vec::new(),
        }
    }
}

/// Per-evaluation context shared with the bindings.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The script's folder; relative paths resolve here.
    pub dir: PathBuf,
    /// Folders where files may be read: the script's folder and module folders.
    pub roots: Vec<PathBuf>,
    /// Module folders.
    pub module_dirs: Vec<PathBuf>,
}

impl Ctx {
    /// Accepts `path` only if it lies under one of the allowed roots.
    pub fn check_path(&self, path: &Path) -> Result<PathBuf, Error> {
        let canon = match path.canonicalize() {
            Ok(c) => c,
            // A missing file is reported by the caller with the path as written.
            Err(_) => return Ok(path.to_path_buf()),
        };
        if self
            .roots
            .iter()
            .filter_map(|r| r.canonicalize().ok())
            .any(|r| canon.starts_with(r))
        {
            Ok(canon)
        } else {
            Err(Error::new(
                ErrorKind::Script,
                format!(
                    "{} is outside the script's folder; scripts may only read files under {}",
                    path.display(),
                    self.dir.display()
                ),
            ))
        }
    }
}

/// The result of evaluating a script.
pub struct Evaluated {
    /// The graph.
    pub spec: GraphSpec,
    /// Render jobs the script asked for.
    pub renders: Vec<RenderJob>,
    /// Non-fatal findings.
    pub warnings: Vec<Error>,
    /// Files the script depends on: itself, required modules and audio files (for watching).
    pub watched: Vec<PathBuf>,
    /// The strips, for stems and reports.
    pub strips: Vec<StripModel>,
    /// Album jobs (`mix.album`).
    pub albums: Vec<crate::album::AlbumJob>,
}

/// Evaluates the script at `path`.
pub fn evaluate(path: &Path, opts: &ScriptOptions) -> Result<Evaluated, Errors> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        Error::io(
            path,
            if e.kind() == std::io::ErrorKind::NotFound {
                "script not found".to_string()
            } else {
                format!("cannot read script: {e}")
            },
        )
    })?;
    let dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    evaluate_source(&src, &path.display().to_string(), &dir, opts)
}

/// Evaluates script text `src`, shown in messages as `name`, with relative paths under `dir`.
pub fn evaluate_source(
    src: &str,
    name: &str,
    dir: &Path,
    opts: &ScriptOptions,
) -> Result<Evaluated, Errors> {
    let lua = sandbox(opts).map_err(|e| lua_error(e, name))?;
    let mut roots = vec![dir.to_path_buf()];
    roots.extend(opts.module_dirs.iter().cloned());
    roots.extend(opts.read_dirs.iter().cloned());
    let ctx = Ctx {
        dir: dir.to_path_buf(),
        roots,
        module_dirs: opts.module_dirs.clone(),
    };
    lua.set_app_data(ctx.clone());
    lua.set_app_data(Model::new(GraphSpec::new(Session::default())));
    lua.set_app_data(Vec::<PathBuf>::new()); // required module files
    api::install(&lua).map_err(|e| lua_error(e, name))?;
    let install_args = || -> mlua::Result<()> {
        let args = lua.create_table()?;
        for (k, v) in &opts.args {
            match v.parse::<f64>() {
                Ok(n) => args.set(k.as_str(), n)?,
                Err(_) => args.set(k.as_str(), v.as_str())?,
            }
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
                    "the script ran longer than the {:.1} s limit (an endless loop?); raise it with --time-limit",
                    limit.as_secs_f64()
                )))
            } else {
                Ok(VmState::Continue)
            }
        },
    )
    .map_err(|e| lua_error(e, name))?;

    let run = lua
        .load(src)
        .set_name(format!("@{name}"))
        .set_mode(mlua::chunk::ChunkMode::Text)
        .exec();
    lua.remove_hook();
    let mut model = lua.remove_app_data::<Model>().expect("model");
    let modules = lua.remove_app_data::<Vec<PathBuf>>().unwrap_or_default();
    if let Err(e) = run {
        let mut errs = model.errors;
        errs.push(lua_error(e, name));
        return Err(Errors(errs));
    }
    if model.spec.session.length_s.is_none() {
        for (track, span) in model.open_ended.clone() {
            model.errors.push(
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
    if !model.errors.is_empty() {
        return Err(Errors(model.errors));
    }
    let mut watched = vec![dir.join(Path::new(name).file_name().unwrap_or_default())];
    watched.extend(modules);
    watched.extend(model.files.iter().cloned());
    Ok(Evaluated {
        spec: model.spec,
        renders: model.renders,
        warnings: model.warnings,
        watched,
        strips: model.strips,
        albums: model.albums,
    })
}

fn sandbox(opts: &ScriptOptions) -> mlua::Result<Lua> {
    let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::UTF8 | StdLib::COROUTINE;
    let lua = Lua::new_with(libs, LuaOptions::default())?;
    lua.set_memory_limit(opts.memory_limit_bytes)?;
    let g = lua.globals();
    for name in ["dofile", "loadfile", "require", "collectgarbage"] {
        g.set(name, Value::Nil)?;
    }
    // Text chunks only: no precompiled bytecode.
    lua.load(
        r#"
        local raw_load = load
        load = function(chunk, name, _mode, env) return raw_load(chunk, name, "t", env) end
        local clock, time = os and os.clock, os and os.time
        os = { clock = function() return 0 end, time = function() return 0 end }
        print = function(...)
            local t = table.pack(...)
            for i = 1, t.n do t[i] = tostring(t[i]) end
            __mixdown_print(table.concat(t, "\t"))
        end
    "#,
    )
    .set_name("=sandbox")
    .exec()
    .or_else(|_| Ok::<(), mlua::Error>(()))?;
    g.set(
        "__mixdown_print",
        lua.create_function(|_, s: String| {
            eprintln!("{s}");
            Ok(())
        })?,
    )?;
    Ok(lua)
}

fn install_require(lua: &Lua) -> mlua::Result<()> {
    let loaded = lua.create_table()?;
    lua.set_named_registry_value("mixdown_loaded", loaded)?;
    let f = lua.create_function(|lua, name: String| {
        let loaded: mlua::Table = lua.named_registry_value("mixdown_loaded")?;
        if let Ok(v) = loaded.get::<Value>(name.as_str()) {
            if !v.is_nil() {
                return Ok(v);
            }
        }
        let span = api::call_span(lua);
        let ctx = lua.app_data_ref::<Ctx>().expect("ctx").clone();
        let rel = name.replace('.', "/");
        let mut found: Option<(String, String)> = None;
        let mut looked = Vec::new();
        let mut dirs = vec![ctx.dir.clone()];
        dirs.extend(ctx.module_dirs.iter().cloned());
        for d in &dirs {
            for cand in [d.join(format!("{rel}.lua")), d.join(&rel).join("init.lua")] {
                looked.push(cand.display().to_string());
                if cand.is_file() {
                    let text = std::fs::read_to_string(&cand).map_err(mlua::Error::external)?;
                    if let Some(mut mods) = lua.app_data_mut::<Vec<PathBuf>>() {
                        mods.push(cand.clone());
                    }
                    found = Some((cand.display().to_string(), text));
                    break;
                }
            }
            if found.is_some() {
                break;
            }
        }
        if found.is_none() {
            if let Some((n, text)) = EMBEDDED_MODULES.iter().find(|(n, _)| *n == name) {
                found = Some((format!("graphs/{}.lua", n.replace('.', "/")), text.to_string()));
            }
        }
        let Some((chunk_name, text)) = found else {
            let builtin: Vec<&str> = EMBEDDED_MODULES.iter().map(|(n, _)| *n).collect();
            return Err(mlua::Error::external(
                Error::new(
                    ErrorKind::Script,
                    format!(
                        "require \"{name}\": module not found{}; looked in {}; built-in modules: {}",
                        crate::graph::spec::did_you_mean(&name, &builtin),
                        looked.join(", "),
                        builtin.join(", ")
                    ),
                )
                .at(span.as_ref()),
            ));
        };
        let v: Value = lua
            .load(&text)
            .set_name(format!("@{chunk_name}"))
            .set_mode(mlua::chunk::ChunkMode::Text)
            .call(name.clone())?;
        let v = if v.is_nil() { Value::Boolean(true) } else { v };
        loaded.set(name.as_str(), v.clone())?;
        Ok(v)
    })?;
    lua.globals().set("require", f)
}

/// Turns an mlua error into the engine's error, keeping our own errors (with their spans) intact.
pub fn lua_error(e: mlua::Error, name: &str) -> Error {
    match e {
        mlua::Error::CallbackError { cause, .. } => lua_error((*cause).clone(), name),
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
            match location(&first) {
                Some(span) => Error::new(ErrorKind::Script, strip_location(&first)).at(Some(&span)),
                None => Error::new(ErrorKind::Script, first),
            }
        }
        mlua::Error::MemoryError(_) => Error::new(
            ErrorKind::Script,
            format!("{name}: the script used more memory than its limit allows (a runaway table?)"),
        ),
        mlua::Error::WithContext { cause, .. } => lua_error((*cause).clone(), name),
        other => Error::new(ErrorKind::Script, format!("{name}: {other}")),
    }
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
