//! The Lua front end. [`evaluate`] runs a mix script in a fresh sandboxed Lua state and returns
//! the [`GraphSpec`] it describes, plus its render jobs. No Lua ever runs on the audio thread.
//!
//! Two ways to run it:
//! - in this process ([`evaluate`], [`evaluate_source`]): for trusted scripts and tests;
//! - in a separate process ([`isolate`]): the `mixdown` command line always does this. The child
//!   runs under operating-system limits (address space, CPU time, a wall-clock kill, no writable
//!   files, no inherited descriptors) and sends back the plain-data result, which the parent
//!   checks again before using it. Whatever the script does — endless loops inside C functions,
//!   coroutines or finalizers, runaway memory — ends at the limit with a clear message.
//!
//! Sandbox: only the `table`, `string`, `math`, `utf8` and `coroutine` libraries; no `io`, `os`
//! (except `os.clock`/`os.time`, which return 0), `debug`, `package`, `dofile`, `loadfile`;
//! `load` accepts text chunks only. Files are reached only through the engine: audio files under
//! the script's folder (or `--allow-read` folders), modules by name under the script's folder,
//! the `--graphs` folders or the built-in ones — always after resolving symbolic links.

mod album_api;
mod api;
mod inserts;
pub mod isolate;
pub mod mapping;
mod model;
pub mod options;
mod param_api;
mod plugin_api;
mod sandbox;
mod sources;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use api::{NodeRef, ParamRef, StripRef};
pub use mapping::parse_note;
pub use model::{Model, RenderJob, StripKind, StripModel};
pub use options::Opts;

use crate::error::{Error, ErrorKind, Errors};
use crate::graph::GraphSpec;
use crate::io::decode::AudioInfo;

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

/// Smallest and largest `--memory-limit-mib`.
pub const MEMORY_LIMIT_RANGE_MIB: (usize, usize) = (16, 65536);
/// Smallest and largest `--time-limit`, seconds.
pub const TIME_LIMIT_RANGE_S: (f64, f64) = (0.05, 3600.0);

/// How to evaluate.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ScriptOptions {
    /// Memory limit for the Lua state (and, isolated, the evaluator process's address space
    /// beyond its own needs).
    pub memory_limit_bytes: usize,
    /// Limit on evaluation time (isolated: CPU time and wall-clock time of the evaluator).
    pub time_limit: Duration,
    /// Extra folders searched by `require` (after the script's own folder).
    pub module_dirs: Vec<PathBuf>,
    /// Extra folders the script may read audio files from (`--allow-read`).
    pub read_dirs: Vec<PathBuf>,
    /// Values given on the command line (`--set key=value`), visible as `mix.args.key`.
    pub args: Vec<(String, String)>,
    /// Folders plugins may be loaded from besides the standard ones (`--allow-plugin`; the
    /// parent hands the evaluator its whole search list, the evaluator has no environment).
    #[serde(default)]
    pub plugin_dirs: Vec<PathBuf>,
}

impl Default for ScriptOptions {
    fn default() -> Self {
        Self {
            memory_limit_bytes: 256 << 20,
            time_limit: Duration::from_secs(5),
            module_dirs: Vec::new(),
            read_dirs: Vec::new(),
            args: Vec::new(),
            plugin_dirs: Vec::new(),
        }
    }
}

/// Per-evaluation context shared with the bindings: where files may be read.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The script's folder; relative paths resolve here.
    pub dir: PathBuf,
    /// Folders (resolved) under which audio files may be read.
    pub read_roots: Vec<PathBuf>,
    /// Folders (resolved) searched by `require` after the script's own.
    pub module_dirs: Vec<PathBuf>,
}

/// Resolves symbolic links of `p` (the folder `.` when empty).
fn canonical(p: &Path) -> Option<PathBuf> {
    let p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    p.canonicalize().ok()
}

impl Ctx {
    /// A context for a script in `dir` with these options.
    pub fn new(dir: &Path, opts: &ScriptOptions) -> Self {
        crate::plugin::allow_dirs(&opts.plugin_dirs);
        let dir_c = canonical(dir).unwrap_or_else(|| dir.to_path_buf());
        let mut read_roots = vec![dir_c.clone()];
        let module_dirs: Vec<PathBuf> = opts
            .module_dirs
            .iter()
            .filter_map(|d| canonical(d))
            .collect();
        read_roots.extend(module_dirs.iter().cloned());
        read_roots.extend(opts.read_dirs.iter().filter_map(|d| canonical(d)));
        Self {
            dir: dir.to_path_buf(),
            read_roots,
            module_dirs,
        }
    }

    /// Resolves `file` (relative to the script's folder) for reading: after symbolic links are
    /// followed it must lie under the script's folder or an allowed folder, and be a regular
    /// file. A missing file inside the allowed folders is reported by the caller as not found.
    pub fn resolve_read(&self, file: &str) -> Result<PathBuf, Error> {
        let joined = self.dir.join(file);
        let shown = crate::registry::schema::printable(file);
        let inside = |p: &Path| self.read_roots.iter().any(|r| p.starts_with(r));
        let outside = || {
            Error::new(
                ErrorKind::Denied,
                format!(
                    "\"{shown}\" is outside the script's folder; a script may read only under its own folder ({}), the --graphs folders and folders given with --allow-read DIR",
                    crate::registry::schema::printable(&self.dir.display().to_string())
                ),
            )
        };
        match joined.canonicalize() {
            Ok(c) => {
                if !inside(&c) {
                    return Err(outside());
                }
                let meta = std::fs::metadata(&c).map_err(|e| Error::io(&c, e))?;
                if !meta.is_file() {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!(
                            "\"{shown}\" is not a regular file (a folder, FIFO or device); only audio files can be read"
                        ),
                    ));
                }
                Ok(c)
            }
            Err(_) => {
                // Missing: say so only when the folder it would be in is allowed (no probing of
                // what exists elsewhere).
                let parent_inside = joined
                    .parent()
                    .and_then(crate::io::output::existing_ancestor)
                    .is_some_and(|(base, rest)| inside(&base) && !rest.iter().any(|c| c == ".."));
                if parent_inside {
                    Ok(joined)
                } else {
                    Err(outside())
                }
            }
        }
    }
}

/// The result of evaluating a script: plain data.
#[derive(serde::Serialize, serde::Deserialize)]
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
    /// What the audio files hold (probed while evaluating).
    pub probes: Vec<AudioInfo>,
}

/// An album song's mastering graph, built in Rust around the album's chain module (see
/// [`crate::album`]).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MasteringJob {
    /// The album script's folder (modules are found from there).
    pub dir: PathBuf,
    /// The song's premaster (an audio file).
    pub file: PathBuf,
    /// Session rate.
    pub sample_rate: f64,
    /// Matching-EQ gains per band of [`crate::album::BANDS_HZ`] (empty: none).
    pub eq_db: Vec<f64>,
    /// The chain module (`None`: a loudness stage only).
    pub chain: Option<String>,
    /// Loudness target, LUFS.
    pub target_lufs: f64,
    /// True-peak ceiling, dBTP.
    pub ceiling_db: f64,
    /// Gain into the chain's loudness stage, dB.
    pub gain_db: f64,
}

/// What to evaluate.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Job {
    /// A script file.
    File(PathBuf),
    /// Script text shown as `name`, with relative paths under `dir` (the built-in demo).
    Source {
        /// The text.
        text: String,
        /// Its name in messages.
        name: String,
        /// The folder relative paths start from.
        dir: PathBuf,
    },
    /// An album song's mastering graph.
    Mastering(MasteringJob),
}

/// Where evaluation runs.
#[derive(Clone, Debug, Default)]
pub enum Evaluator {
    /// In this process: for trusted scripts and tests.
    #[default]
    InProcess,
    /// In a child process running this executable (`mixdown __evaluate`), under OS limits.
    Isolated {
        /// The `mixdown` executable.
        exe: PathBuf,
    },
}

impl Evaluator {
    /// Evaluates `job` with `opts`. Isolated, `cancel` (when set) stops the evaluation early.
    pub fn run(
        &self,
        job: &Job,
        opts: &ScriptOptions,
        cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<Evaluated, Errors> {
        match self {
            Evaluator::InProcess => evaluate_job(job, opts),
            Evaluator::Isolated { exe } => isolate::evaluate(exe, job, opts, cancel),
        }
    }
}

/// Evaluates `job` in this process.
pub fn evaluate_job(job: &Job, opts: &ScriptOptions) -> Result<Evaluated, Errors> {
    match job {
        Job::File(p) => evaluate(p, opts),
        Job::Source { text, name, dir } => evaluate_source(text, name, dir, opts),
        Job::Mastering(m) => sandbox::run_mastering(m, opts),
    }
}

/// Evaluates the script at `path` in this process.
pub fn evaluate(path: &Path, opts: &ScriptOptions) -> Result<Evaluated, Errors> {
    let src = read_script(path)?;
    evaluate_source(&src, &path.display().to_string(), &script_dir(path), opts)
}

/// Reads a script file: a regular file of at most 16 MiB.
pub fn read_script(path: &Path) -> Result<String, Error> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::io(
            path,
            if e.kind() == std::io::ErrorKind::NotFound {
                "script not found".to_string()
            } else {
                format!("cannot read script: {e}")
            },
        )
    })?;
    if !meta.is_file() {
        return Err(Error::io(path, "is not a regular file; give a .lua script"));
    }
    if meta.len() > 16 << 20 {
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "{}: the script is {} MiB; scripts may be at most 16 MiB",
                path.display(),
                meta.len() >> 20
            ),
        ));
    }
    std::fs::read_to_string(path).map_err(|e| Error::io(path, format!("cannot read script: {e}")))
}

/// The folder of a script (`.` for a bare file name).
pub fn script_dir(path: &Path) -> PathBuf {
    path.parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Evaluates script text `src`, shown in messages as `name`, with relative paths under `dir`, in
/// this process.
pub fn evaluate_source(
    src: &str,
    name: &str,
    dir: &Path,
    opts: &ScriptOptions,
) -> Result<Evaluated, Errors> {
    sandbox::run(src, name, dir, opts)
}
