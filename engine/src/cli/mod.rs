//! The `mixdown` command line: render, check, graph, play, measure. The binary
//! (`engine/src/bin/mixdown.rs`) only calls [`main`].
//!
//! Every command that runs a script evaluates it in a separate process under OS limits
//! ([`crate::script::isolate`]); outputs are written only where [`WritePolicy`] allows.

mod batch;
mod graph;
mod plugins;
mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::error::{Error, ErrorKind, Errors};
use crate::graph::{compile, CompileConfig, GraphSpec};
use crate::io::output::WritePolicy;
use crate::measure::measure_file;
use crate::script::{Evaluated, Evaluator, Job, ScriptOptions, DEMO_SCRIPT};

#[derive(Parser)]
#[command(
    name = "mixdown",
    version,
    about = "Mixing and mastering as code: Lua mix scripts rendered offline or played live"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Options of every command that runs a script.
#[derive(clap::Args, Clone)]
pub(crate) struct ScriptArgs {
    /// Limit on evaluating the script, in seconds (CPU and wall-clock time).
    #[arg(long, default_value_t = 5.0, value_parser = parse_time_limit, allow_hyphen_values = true)]
    time_limit: f64,
    /// Limit on the memory the script may use, in MiB (16 to 65536).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(16..=65536))]
    memory_limit_mib: u64,
    /// Extra folder searched by `require` (repeatable). The project's graphs/ modules are built in.
    #[arg(long = "graphs", value_name = "DIR")]
    graphs: Vec<PathBuf>,
    /// Let the script read audio files under this folder too (repeatable).
    #[arg(long = "allow-read", value_name = "DIR")]
    allow_read: Vec<PathBuf>,
    /// Let the script load plugins from this folder too, besides the standard plugin folders
    /// and CLAP_PATH (repeatable).
    #[arg(long = "allow-plugin", value_name = "DIR")]
    allow_plugin: Vec<PathBuf>,
    /// A value for the script, read as mix.args.KEY (repeatable): --set stems=/data/song1.
    /// Integers arrive as integers, other numbers as floats, anything else as a string.
    #[arg(long = "set", value_parser = parse_kv, value_name = "KEY=VALUE")]
    set: Vec<(String, String)>,
}

fn parse_time_limit(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    let (lo, hi) = crate::script::TIME_LIMIT_RANGE_S;
    if !v.is_finite() || v < lo || v > hi {
        return Err(format!(
            "{s} s is out of range; allowed {lo} to {hi} seconds"
        ));
    }
    Ok(v)
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("'{s}' must look like key=value"))
}

#[derive(Subcommand)]
enum Cmd {
    /// Render a mix script to a WAV file (no script: the built-in demo song).
    Render(render::RenderArgs),
    /// Evaluate and compile a script (every song of an album), report every problem, render
    /// nothing.
    Check {
        /// The mix script.
        script: PathBuf,
        #[command(flatten)]
        script_args: ScriptArgs,
    },
    /// Print the compiled routing as Graphviz DOT (and SVG/PNG with -o when `dot` is installed).
    Graph {
        /// The mix script.
        script: PathBuf,
        /// Output file: .dot, .svg or .png (default: DOT on stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Print the compiled schedule (steps and buffers) instead.
        #[arg(long)]
        schedule: bool,
        #[command(flatten)]
        script_args: ScriptArgs,
    },
    /// Play a mix script through the sound card, reloading it on every save (no script: the
    /// built-in demo).
    Play {
        /// The mix script.
        script: Option<PathBuf>,
        /// Output device id (see --list-devices).
        #[arg(long)]
        device: Option<String>,
        /// List output devices and exit.
        #[arg(long)]
        list_devices: bool,
        /// Frames per audio callback.
        #[arg(long)]
        buffer: Option<u32>,
        /// Start position: seconds or bar:beat.
        #[arg(long, allow_hyphen_values = true)]
        from: Option<String>,
        /// Loop between two positions (seconds or bar:beat).
        #[arg(long = "loop", num_args = 2, value_names = ["A", "B"])]
        loop_range: Option<Vec<String>>,
        /// Stop after this many seconds.
        #[arg(long)]
        duration: Option<f64>,
        /// Do not watch the script and its files.
        #[arg(long)]
        no_watch: bool,
        /// Save debounce in milliseconds.
        #[arg(long, default_value_t = 50)]
        debounce_ms: u64,
        /// Print a line for every reload (with its latency).
        #[arg(long)]
        log_reloads: bool,
        #[command(flatten)]
        script_args: ScriptArgs,
    },
    /// Print loudness (integrated, range, max momentary/short-term) and true/sample peak.
    Measure {
        /// Audio files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// One JSON object per file, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Render many jobs from a manifest (JSON Lines or TSV) on every core; restartable
    /// (--resume) and sharded across machines (--shard, Slurm arrays, Kubernetes Indexed Jobs).
    Batch(batch::BatchArgs),
    /// List installed plugins (CLAP): id, name, vendor, channels, latency, parameters with
    /// their ranges.
    Plugins(plugins::PluginsArgs),
    /// Plugin state files: `plugin-state save ID FILE [--set param=value]`.
    #[command(name = "plugin-state", subcommand)]
    PluginState(plugins::PluginStateCmd),
    /// The evaluator process (internal: started by mixdown itself).
    #[command(name = "__evaluate", hide = true)]
    Evaluate,
}

pub(crate) fn script_options(a: &ScriptArgs) -> ScriptOptions {
    // Plugins load in this process (compile) and are looked up in the evaluator, which has no
    // environment: it gets the whole search list.
    crate::plugin::allow_dirs(&a.allow_plugin);
    ScriptOptions {
        plugin_dirs: crate::plugin::search_dirs(),
        memory_limit_bytes: (a.memory_limit_mib as usize) << 20,
        time_limit: Duration::from_secs_f64(a.time_limit),
        module_dirs: a.graphs.clone(),
        read_dirs: a.allow_read.clone(),
        args: a.set.clone(),
    }
}

/// The evaluator the command line uses: this executable in a child process.
pub(crate) fn evaluator() -> Evaluator {
    match crate::script::isolate::current_exe() {
        Some(exe) => Evaluator::Isolated { exe },
        None => Evaluator::InProcess,
    }
}

/// The job for `script`, or the built-in demo.
pub(crate) fn job_of(script: Option<&Path>) -> Job {
    match script {
        Some(p) => Job::File(p.to_path_buf()),
        None => Job::Source {
            text: DEMO_SCRIPT.to_string(),
            name: "scripts/demo.lua".into(),
            dir: PathBuf::from("."),
        },
    }
}

fn report(errs: &Errors) {
    for e in &errs.0 {
        eprintln!("{e}");
    }
    let n = errs.0.len();
    if n > 1 {
        eprintln!("{n} problems found");
    }
}

pub(crate) fn load(script: Option<&Path>, a: &ScriptArgs) -> Result<Evaluated, Errors> {
    let ev = evaluator().run(&job_of(script), &script_options(a), None)?;
    for w in &ev.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ev)
}

/// `12.5` (seconds) or `17:1` (bar:beat) at the session's tempo.
pub(crate) fn parse_time(s: &str, spec: &GraphSpec) -> Result<f64, Error> {
    let bad = || {
        Error::new(
            ErrorKind::Other,
            format!(
                "time '{}' must be seconds from the start (e.g. 12.5, not negative) or bar:beat (e.g. 17:1)",
                crate::registry::schema::printable(s)
            ),
        )
    };
    if let Some((bar, beat)) = s.split_once(':') {
        return match (bar.trim().parse::<f64>(), beat.trim().parse::<f64>()) {
            (Ok(bar), Ok(beat))
                if bar >= 1.0 && beat >= 1.0 && bar.is_finite() && beat.is_finite() =>
            {
                let t = spec.session.tempo;
                Ok(t.bar_s(bar) + (beat - 1.0) * t.beat_s())
            }
            _ => Err(bad()),
        };
    }
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0 && v.is_finite())
        .ok_or_else(bad)
}

pub(crate) fn compile_or_report(spec: &GraphSpec) -> Result<crate::graph::Schedule, Errors> {
    let s = compile(spec, CompileConfig::default())?;
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    Ok(s)
}

fn cmd_check(script: &Path, sa: &ScriptArgs) -> Result<(), Errors> {
    let ev = load(Some(script), sa)?;
    let mut errs = Vec::new();
    // Every song of an album is a script of its own: check them all.
    for album in &ev.albums {
        for song in &album.songs {
            if song.path.extension().is_some_and(|e| e == "lua") {
                match evaluator().run(&Job::File(song.path.clone()), &script_options(sa), None) {
                    Ok(sev) => {
                        if let Err(e) = compile(&sev.spec, CompileConfig::default()) {
                            errs.extend(e.0);
                        }
                    }
                    Err(e) => errs.extend(e.0),
                }
            }
        }
    }
    let s = compile_or_report(&ev.spec);
    match s {
        Ok(s) if errs.is_empty() => {
            eprintln!(
                "{}: ok ({} nodes, {} buffers, latency {} frames, {:.1} s{})",
                script.display(),
                s.node_count(),
                s.buffer_count(),
                s.latency_frames,
                s.length_frames as f64 / s.sample_rate,
                if ev.albums.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} album song(s) checked",
                        ev.albums.iter().map(|a| a.songs.len()).sum::<usize>()
                    )
                }
            );
            Ok(())
        }
        Ok(_) => Err(Errors(errs)),
        Err(e) => {
            errs.extend(e.0);
            Err(Errors(errs))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn cmd_play(
    script: Option<PathBuf>,
    device: Option<String>,
    list_devices: bool,
    buffer: Option<u32>,
    from: Option<String>,
    loop_range: Option<Vec<String>>,
    duration: Option<f64>,
    no_watch: bool,
    debounce_ms: u64,
    log_reloads: bool,
    script_args: &ScriptArgs,
) -> Result<(), Errors> {
    if list_devices {
        println!("{}", crate::live::device_list());
        return Ok(());
    }
    let ev = load(script.as_deref(), script_args)?;
    let from_s = from
        .map(|f| parse_time(&f, &ev.spec))
        .transpose()?
        .unwrap_or(0.0);
    let loop_s = match loop_range {
        Some(v) if v.len() == 2 => {
            let (a, b) = (parse_time(&v[0], &ev.spec)?, parse_time(&v[1], &ev.spec)?);
            crate::live::check_loop(a, b)?;
            Some((a, b))
        }
        _ => None,
    };
    drop(ev);
    let watch = !no_watch && script.is_some();
    let opts = crate::live::PlayOptions {
        script: job_of(script.as_deref()),
        script_options: script_options(script_args),
        evaluator: evaluator(),
        device,
        buffer_frames: buffer,
        from_s,
        loop_s,
        duration_s: duration,
        watch,
        debounce: Duration::from_millis(debounce_ms),
        log_reloads,
    };
    let s = crate::live::play(&opts)?;
    eprintln!(
        "played {:.1} s, {} reloads ({} failed), {} xruns",
        s.played_s, s.reloads, s.failed_reloads, s.xruns
    );
    if !s.reload_latency_ms.is_empty() {
        let max = s.reload_latency_ms.iter().cloned().fold(0.0, f64::max);
        eprintln!("reload latency (save to swap): max {max:.1} ms");
    }
    Ok(())
}

/// `mixdown measure`: every file is measured; a file that cannot be measured is reported and
/// the others still are (the exit status is non-zero at the end).
fn cmd_measure(files: &[PathBuf], json: bool) -> Result<(), Errors> {
    let mut errs = Vec::new();
    for f in files {
        match measure_file(f) {
            Ok(m) if json => println!("{}", m.to_json(&f.display().to_string())),
            Ok(m) => println!("{}\n{}", f.display(), m.to_text()),
            Err(e) => {
                eprintln!("{e}");
                errs.push(e);
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        let n = errs.len();
        Err(Error::new(
            ErrorKind::Other,
            format!("{n} of {} files could not be measured", files.len()),
        )
        .into())
    }
}

fn run(cli: Cli) -> Result<(), Errors> {
    match cli.cmd {
        Cmd::Render(a) => render::cmd_render(a),
        Cmd::Batch(a) => batch::cmd_batch(a),
        Cmd::Check {
            script,
            script_args,
        } => cmd_check(&script, &script_args),
        Cmd::Graph {
            script,
            output,
            schedule,
            script_args,
        } => graph::cmd_graph(script, output, schedule, &script_args),
        Cmd::Play {
            script,
            device,
            list_devices,
            buffer,
            from,
            loop_range,
            duration,
            no_watch,
            debounce_ms,
            log_reloads,
            script_args,
        } => cmd_play(
            script,
            device,
            list_devices,
            buffer,
            from,
            loop_range,
            duration,
            no_watch,
            debounce_ms,
            log_reloads,
            &script_args,
        ),
        Cmd::Measure { files, json } => cmd_measure(&files, json),
        Cmd::Plugins(a) => plugins::cmd_plugins(a),
        Cmd::PluginState(c) => plugins::cmd_plugin_state(c),
        Cmd::Evaluate => crate::script::isolate::child_main(),
    }
}

/// The write policy of a command: the script's folder, the command line's output paths and
/// `--allow-write` folders.
pub(crate) fn write_policy(script: Option<&Path>, extra: &[PathBuf]) -> WritePolicy {
    let mut roots = vec![script.map_or_else(|| PathBuf::from("."), crate::script::script_dir)];
    roots.extend(extra.iter().cloned());
    WritePolicy::new(roots)
}

/// Runs the command line; returns the process's exit status.
pub fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("__evaluate") {
        crate::script::isolate::child_main();
    }
    crate::io::signals::install();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}
