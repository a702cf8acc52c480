//! The `mixdown` command line: render, check, graph, measure.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mixdown::graph::{compile, CompileConfig, GraphSpec};
use mixdown::io::wav::OutputFormat;
use mixdown::measure::measure_file;
use mixdown::render::{render_to_file, RenderOptions};
use mixdown::script::{
    evaluate, evaluate_source, Evaluated, ScriptOptions, StripKind, DEMO_SCRIPT,
};
use mixdown::{Error, Errors};

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

#[derive(clap::Args, Clone)]
struct ScriptArgs {
    /// Wall-clock limit for evaluating the script, in seconds.
    #[arg(long, default_value_t = 5.0)]
    time_limit: f64,
    /// Memory limit for evaluating the script, in MiB.
    #[arg(long, default_value_t = 256)]
    memory_limit_mib: usize,
    /// Extra folder searched by `require` (repeatable). The project's graphs/ modules are built in.
    #[arg(long = "graphs")]
    graphs: Vec<PathBuf>,
    /// Let the script read audio files under this folder too (repeatable).
    #[arg(long = "allow-read")]
    allow_read: Vec<PathBuf>,
    /// A value for the script, read as mix.args.KEY (repeatable): --set stems=/data/song1.
    #[arg(long = "set", value_parser = parse_kv)]
    set: Vec<(String, String)>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("'{s}' must look like key=value"))
}

/// `mixdown render`'s arguments.
#[derive(clap::Args)]
struct RenderArgs {
    /// The mix script; omit to render the built-in demo.
    script: Option<PathBuf>,
    /// Output file (default: the script's mix.render path, else out/<script>.wav).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// wav16 | wav24 | wav32f (16/24-bit get TPDF dither).
    #[arg(long)]
    format: Option<OutputFormat>,
    /// Start of the written range: seconds (12.5) or bar:beat (17:1).
    #[arg(long)]
    from: Option<String>,
    /// End of the written range: seconds or bar:beat.
    #[arg(long)]
    to: Option<String>,
    /// Processing block size in frames (1..=2048); the output does not depend on it.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=2048))]
    block: u64,
    /// Worker threads for independent tracks and buses (default: all cores); the output is
    /// bit-identical whatever the count.
    #[arg(long)]
    threads: Option<usize>,
    /// Do not print the loudness summary.
    #[arg(long)]
    quiet: bool,
    /// Also write the report as JSON and pictures (loudness over time, waveform with true-peak
    /// overs, long-term spectrum; PNG and SVG) into this folder.
    #[arg(long)]
    report: Option<PathBuf>,
    #[command(flatten)]
    script_args: ScriptArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Render a mix script to a WAV file (no script: the built-in demo song).
    Render(RenderArgs),
    /// Evaluate and compile a script, report every problem, render nothing.
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
    /// Play a mix script through the sound card, reloading it on every save.
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
        #[arg(long)]
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
}

fn script_options(a: &ScriptArgs) -> ScriptOptions {
    ScriptOptions {
        memory_limit_bytes: a.memory_limit_mib << 20,
        time_limit: Duration::from_secs_f64(a.time_limit.max(0.01)),
        module_dirs: a.graphs.clone(),
        read_dirs: a.allow_read.clone(),
        args: a.set.clone(),
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

fn load(script: Option<&Path>, a: &ScriptArgs) -> Result<Evaluated, Errors> {
    let ev = match script {
        Some(p) => evaluate(p, &script_options(a))?,
        None => evaluate_source(
            DEMO_SCRIPT,
            "scripts/demo.lua",
            Path::new("."),
            &script_options(a),
        )?,
    };
    for w in &ev.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ev)
}

fn parse_time(s: &str, spec: &GraphSpec) -> Result<f64, Error> {
    if let Some((bar, beat)) = s.split_once(':') {
        if let (Ok(bar), Ok(beat)) = (bar.trim().parse::<f64>(), beat.trim().parse::<f64>()) {
            let t = spec.session.tempo;
            return Ok(t.bar_s(bar) + (beat - 1.0) * t.beat_s());
        }
    }
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0)
        .ok_or_else(|| {
            Error::new(
                mixdown::ErrorKind::Other,
                format!("time '{s}' must be seconds (e.g. 12.5) or bar:beat (e.g. 17:1)"),
            )
        })
}

fn compile_or_report(spec: &GraphSpec) -> Result<mixdown::graph::Schedule, Errors> {
    let s = compile(spec, CompileConfig::default())?;
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    Ok(s)
}

fn cmd_render(a: RenderArgs) -> Result<(), Errors> {
    let RenderArgs {
        script,
        output,
        format,
        from,
        to,
        block,
        threads,
        quiet,
        report,
        script_args,
    } = a;
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let sa = &script_args;
    let mut ev = load(script.as_deref(), sa)?;
    let job = ev.renders.first().cloned();
    let stem_name = script
        .as_ref()
        .and_then(|p| p.file_stem())
        .map_or("demo".to_string(), |s| s.to_string_lossy().to_string());
    let out = output
        .or_else(|| job.as_ref().map(|j| j.path.clone()))
        .unwrap_or_else(|| PathBuf::from(format!("out/{stem_name}.wav")));
    let format = format
        .or(job.as_ref().map(|j| j.format))
        .unwrap_or(OutputFormat::Wav24);
    let opts = RenderOptions {
        block: block as usize,
        from_s: from.map(|f| parse_time(&f, &ev.spec)).transpose()?,
        to_s: to.map(|t| parse_time(&t, &ev.spec)).transpose()?,
        progress: true,
        measure: !quiet,
        threads: threads.max(1),
        collect_report: report.is_some(),
        ..Default::default()
    };
    if let (Some(a), Some(b)) = (opts.from_s, opts.to_s) {
        if b <= a {
            return Err(Error::new(
                mixdown::ErrorKind::Other,
                format!("--to ({b} s) must be after --from ({a} s)"),
            )
            .into());
        }
    }
    if !ev.albums.is_empty() {
        for job in &ev.albums {
            let r =
                mixdown::album::render_album(job, &script_options(sa), &opts, report.as_deref())?;
            for s in &r.songs {
                eprintln!("wrote {}", s.path.display());
            }
            if let Some(c) = &r.continuous {
                eprintln!("wrote {}", c.display());
            }
            eprintln!("{}", r.table());
        }
        if ev.strips.len() <= 1 {
            return Ok(());
        }
    }
    let (schedule, passes) = mixdown::render::prepare_schedule(&ev.spec, &opts)?;
    for w in &schedule.warnings {
        eprintln!("warning: {w}");
    }
    let mut r = render_to_file(schedule, &out, format, &opts)?;
    r.analysis_passes = passes;
    eprintln!(
        "rendered {} ({:.1} s of audio in {:.2} s, {:.0}x realtime)",
        out.display(),
        r.frames as f64 / r.sample_rate,
        r.elapsed_s,
        r.realtime_factor()
    );
    if let Some(m) = &r.measurement {
        eprintln!("{}", m.to_text());
    }
    for n in &r.notes {
        eprintln!("  {n}");
    }
    if let (Some(dir), Some(rep)) = (&report, &r.report) {
        let mut rep = rep.clone();
        rep.song = stem_name.clone();
        let files = rep.write_dir(dir, &stem_name, None)?;
        eprintln!("report: {} files in {}", files.len(), dir.display());
    }
    if r.clipped_samples > 0 {
        eprintln!(
            "warning: {} samples at or over full scale (they clip in 16/24-bit files); add a limiter",
            r.clipped_samples
        );
    }
    for (node, n) in &r.nan_report {
        eprintln!("warning: node \"{node}\" produced {n} NaN/infinite samples; they were replaced by silence");
    }
    if job.as_ref().is_some_and(|j| j.stems) {
        let buses: Vec<_> = ev
            .strips
            .iter()
            .filter(|s| s.kind == StripKind::Bus)
            .map(|s| (s.name.clone(), s.tail()))
            .collect();
        let master_out = ev.spec.output;
        for (name, tail) in buses {
            ev.spec.set_output(tail);
            let (sched, _) = mixdown::render::prepare_schedule(&ev.spec, &opts)?;
            let stem = out.with_file_name(format!(
                "{}.{name}.wav",
                out.file_stem()
                    .map_or("mix".into(), |s| s.to_string_lossy())
            ));
            render_to_file(
                sched,
                &stem,
                format,
                &RenderOptions {
                    measure: false,
                    ..opts.clone()
                },
            )?;
            eprintln!("stem {}", stem.display());
        }
        ev.spec.output = master_out;
    }
    Ok(())
}

fn dot(spec: &GraphSpec) -> String {
    use petgraph::visit::{EdgeRef, IntoEdgeReferences};
    let mut s =
        String::from("digraph mix {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for (k, n) in &spec.nodes {
        let _ = k;
        let shape = if Some(k) == spec.output {
            ", style=bold"
        } else {
            ""
        };
        s.push_str(&format!(
            "  \"{}\" [label=\"{}\\n[{}]\"{shape}];\n",
            n.path, n.path, n.desc.kind
        ));
    }
    for e in (&spec.graph).edge_references() {
        let (a, b) = (
            &spec.nodes[spec.graph[e.source()]],
            &spec.nodes[spec.graph[e.target()]],
        );
        let port = b.desc.inputs.get(e.weight().port).map_or("in", |p| p.name);
        let label = if port == "in" {
            String::new()
        } else {
            format!(" [label=\"{port}\", style=dashed]")
        };
        s.push_str(&format!("  \"{}\" -> \"{}\"{label};\n", a.path, b.path));
    }
    s.push_str("}\n");
    s
}

fn cmd_graph(
    script: PathBuf,
    output: Option<PathBuf>,
    schedule: bool,
    sa: &ScriptArgs,
) -> Result<(), Errors> {
    let ev = load(Some(&script), sa)?;
    let sched = compile_or_report(&ev.spec)?;
    let text = if schedule {
        sched.dump()
    } else {
        dot(&ev.spec)
    };
    drop(sched);
    match output {
        None => print!("{text}"),
        Some(p) => {
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("dot")
                .to_string();
            if ext == "dot" || schedule {
                std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
            } else {
                let child = std::process::Command::new("dot")
                    .arg(format!("-T{ext}"))
                    .arg("-o")
                    .arg(&p)
                    .stdin(std::process::Stdio::piped())
                    .spawn();
                let mut child = child.map_err(|_| {
                    Error::new(
                        mixdown::ErrorKind::Other,
                        format!("writing {} needs Graphviz's `dot` program (apt-get install graphviz); use -o FILE.dot for DOT text", p.display()),
                    )
                })?;
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin
                        .write_all(text.as_bytes())
                        .map_err(|e| Error::io(&p, e))?;
                }
                let st = child.wait().map_err(|e| Error::io(&p, e))?;
                if !st.success() {
                    return Err(Error::io(&p, "dot failed").into());
                }
            }
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}

fn run(cli: Cli) -> Result<(), Errors> {
    match cli.cmd {
        Cmd::Render(a) => cmd_render(a),
        Cmd::Check {
            script,
            script_args,
        } => {
            let ev = load(Some(&script), &script_args)?;
            let s = compile_or_report(&ev.spec)?;
            eprintln!(
                "{}: ok ({} nodes, {} buffers, latency {} frames, {:.1} s)",
                script.display(),
                s.node_count(),
                s.buffer_count(),
                s.latency_frames,
                s.length_frames as f64 / s.sample_rate
            );
            Ok(())
        }
        Cmd::Graph {
            script,
            output,
            schedule,
            script_args,
        } => cmd_graph(script, output, schedule, &script_args),
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
        } => {
            if list_devices {
                println!("{}", mixdown::live::device_list());
                return Ok(());
            }
            let Some(script) = script else {
                return Err(Error::new(
                    mixdown::ErrorKind::Other,
                    "play needs a SCRIPT (or --list-devices)",
                )
                .into());
            };
            let ev = load(Some(&script), &script_args)?;
            let from_s = from
                .map(|f| parse_time(&f, &ev.spec))
                .transpose()?
                .unwrap_or(0.0);
            let loop_s = match loop_range {
                Some(v) if v.len() == 2 => {
                    let (a, b) = (parse_time(&v[0], &ev.spec)?, parse_time(&v[1], &ev.spec)?);
                    mixdown::live::check_loop(a, b)?;
                    Some((a, b))
                }
                _ => None,
            };
            drop(ev);
            let opts = mixdown::live::PlayOptions {
                script,
                script_options: script_options(&script_args),
                device,
                buffer_frames: buffer,
                from_s,
                loop_s,
                duration_s: duration,
                watch: !no_watch,
                debounce: Duration::from_millis(debounce_ms),
                log_reloads,
            };
            let s = mixdown::live::play(&opts)?;
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
        Cmd::Measure { files, json } => {
            let mut errs = Vec::new();
            for f in files {
                match measure_file(&f) {
                    Ok(m) if json => println!("{}", m.to_json(&f.display().to_string())),
                    Ok(m) => println!("{}\n{}", f.display(), m.to_text()),
                    Err(e) => errs.push(e),
                }
            }
            if errs.is_empty() {
                Ok(())
            } else {
                Err(Errors(errs))
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}
