//! `mixdown render`: a mix (or an album) to files.

use std::path::{Path, PathBuf};

use super::{evaluator, parse_time, script_options, write_policy, ScriptArgs};
use crate::error::{Error, ErrorKind, Errors};
use crate::io::output::WritePolicy;
use crate::io::wav::OutputFormat;
use crate::render::{prepare_schedule, render_to_file, RenderOptions};
use crate::script::StripKind;

/// `mixdown render`'s arguments.
#[derive(clap::Args)]
pub(crate) struct RenderArgs {
    /// The mix script; omit to render the built-in demo.
    script: Option<PathBuf>,
    /// Output file (default: the script's mix.render path, else out/<script>.wav).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Folder for the outputs: relative output paths of the script (mix.render, an album's out
    /// and continuous files) resolve here instead of the script's folder.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Let the script write under this folder too (repeatable).
    #[arg(long = "allow-write", value_name = "DIR")]
    allow_write: Vec<PathBuf>,
    /// wav16 | wav24 | wav32f | flac16 | flac24 (integer formats get TPDF dither). Default: the
    /// script's mix.render format, else the output name's extension (.flac: flac24), else wav24.
    #[arg(long)]
    format: Option<OutputFormat>,
    /// Fail (exit status 1, after writing the files) when a loudness target is not reached.
    #[arg(long)]
    strict: bool,
    /// Start of the written range: seconds (12.5) or bar:beat (17:1).
    #[arg(long, allow_hyphen_values = true)]
    from: Option<String>,
    /// End of the written range: seconds or bar:beat.
    #[arg(long, allow_hyphen_values = true)]
    to: Option<String>,
    /// Processing block size in frames (1..=2048); the output does not depend on it.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=2048))]
    block: u64,
    /// Worker threads for independent tracks and buses (default: all cores); the output is
    /// bit-identical whatever the count.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: Option<u64>,
    /// Do not print the loudness summary.
    #[arg(long)]
    quiet: bool,
    /// With --from/--to, loudness nodes normalise the excerpt on its own (default: they apply
    /// the gain computed for the whole song, so the excerpt matches the full render).
    #[arg(long)]
    excerpt_loudness: bool,
    /// Also write the report as JSON and pictures (loudness over time, waveform with true-peak
    /// overs, long-term spectrum; PNG and SVG) into this folder.
    #[arg(long)]
    report: Option<PathBuf>,
    #[command(flatten)]
    script_args: ScriptArgs,
}

/// Checks a `--report` folder before any work: it must be a folder (created when missing).
fn prepare_report_dir(dir: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::new(
            ErrorKind::Io,
            format!(
                "--report {}: exists and is not a folder; give a folder for the report files",
                dir.display()
            ),
        )),
        Err(_) => std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(dir, format!("cannot create the report folder: {e}"))),
    }
}

/// Stems: one file per track and per bus that feeds the master (each strip's output as it
/// enters the master, after its fader and pan), each exactly as long as the mix and starting
/// where it starts, so the stems sum to the master's input — the mix before the master's own
/// inserts and fader.
fn write_stems(
    ev: &mut crate::script::Evaluated,
    out: &Path,
    format: OutputFormat,
    opts: &RenderOptions,
    frames: u64,
    sample_rate: f64,
) -> Result<Vec<PathBuf>, Errors> {
    let feeds_master: Vec<_> = ev
        .strips
        .iter()
        .filter(|s| s.kind != StripKind::Master && s.dest.is_none_or(|d| d == 0))
        .map(|s| (s.name.clone(), s.tail()))
        .collect();
    let master_out = ev.spec.output;
    let from = opts.from_s.map_or(0, |f| (f * sample_rate).round() as u64);
    let stem_opts = RenderOptions {
        measure: false,
        from_s: Some(from as f64 / sample_rate),
        to_s: Some((from + frames) as f64 / sample_rate),
        progress_label: Some("stems".into()),
        ..opts.clone()
    };
    let base = out
        .file_stem()
        .map_or("mix".into(), |s| s.to_string_lossy().to_string());
    let mut written = Vec::new();
    for (name, tail) in feeds_master {
        ev.spec.set_output(tail);
        let (sched, _) = prepare_schedule(&ev.spec, &stem_opts)?;
        let stem = out.with_file_name(format!("{base}.{name}.{}", format.extension()));
        render_to_file(sched, &stem, format, &stem_opts)?;
        written.push(stem);
    }
    ev.spec.output = master_out;
    Ok(written)
}

/// A render never writes over its own inputs (the script, its modules, its audio files).
pub(crate) fn refuse_overwriting_inputs(out: &Path, inputs: &[PathBuf]) -> Result<(), Error> {
    let Ok(o) = out.canonicalize() else {
        return Ok(());
    };
    for i in inputs {
        if i.canonicalize().is_ok_and(|c| c == o) {
            return Err(Error::new(
                ErrorKind::Denied,
                format!(
                    "{}: this is an input of the render (the script, a module or an audio file it reads); choose another output file",
                    out.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks, before anything renders, where the plugins' `state_out` files go: inside the
/// folders the script may write to, not onto an input or the mix, not two onto one file.
fn check_state_outputs(
    spec: &crate::graph::GraphSpec,
    policy: &WritePolicy,
    mix: &Path,
    inputs: &[PathBuf],
) -> Result<(), Errors> {
    let mut seen: Vec<PathBuf> = vec![mix.to_path_buf()];
    let mut errs = Vec::new();
    for (node, dest) in spec.state_outputs() {
        let at = |e: Error| {
            Error::new(
                e.kind,
                format!("plugin \"{}\": state_out: {}", node.path, e.message),
            )
            .at(node.span.as_ref())
        };
        let checked = policy
            .prepare(&dest)
            .and_then(|d| refuse_overwriting_inputs(&d, inputs).map(|()| d));
        match checked {
            Ok(d) if seen.contains(&d) => errs.push(at(Error::new(
                ErrorKind::Denied,
                format!(
                    "{} is written by another output of this render; give each its own file",
                    d.display()
                ),
            ))),
            Ok(d) => seen.push(d),
            Err(e) => errs.push(at(e)),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Errors(errs))
    }
}

pub(crate) fn cmd_render(a: RenderArgs) -> Result<(), Errors> {
    let RenderArgs {
        script,
        output,
        out_dir,
        allow_write,
        format,
        strict,
        from,
        to,
        block,
        threads,
        quiet,
        excerpt_loudness,
        report,
        script_args,
    } = a;
    let threads = threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |t| t as usize,
    );
    let task = RenderTask {
        script,
        output,
        out_dir,
        allow_write,
        format,
        strict,
        from,
        to,
        block: block as usize,
        threads: threads.max(1),
        measure: !quiet,
        progress: true,
        excerpt_loudness,
        report,
        script_options: script_options(&script_args),
    };
    render_task(&task, &mut |line| eprintln!("{line}")).map(|_| ())
}

/// One render: what `mixdown render` does, and each job of `mixdown batch`.
#[derive(Clone)]
pub(crate) struct RenderTask {
    pub script: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub out_dir: Option<PathBuf>,
    pub allow_write: Vec<PathBuf>,
    pub format: Option<OutputFormat>,
    pub strict: bool,
    pub from: Option<String>,
    pub to: Option<String>,
    pub block: usize,
    pub threads: usize,
    pub measure: bool,
    pub progress: bool,
    pub excerpt_loudness: bool,
    pub report: Option<PathBuf>,
    pub script_options: crate::script::ScriptOptions,
}

/// What a render wrote and read.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rendered {
    /// Files written (the mix, stems, album songs and continuous file).
    pub outputs: Vec<PathBuf>,
    /// Files read: the script, its modules and audio files (album songs included).
    pub inputs: Vec<PathBuf>,
    /// Seconds of audio in the main output (an album: all songs).
    pub audio_s: f64,
    /// The main output's (an album's) integrated loudness, LUFS.
    pub integrated_lufs: Option<f64>,
    /// Its true peak, dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Its loudness range, LU.
    pub loudness_range_lu: Option<f64>,
    /// Loudness targets not reached, one sentence each.
    pub missed: Vec<String>,
}

/// Runs `t`; every line `mixdown render` prints goes to `log`.
pub(crate) fn render_task(t: &RenderTask, log: &mut dyn FnMut(String)) -> Result<Rendered, Errors> {
    let RenderTask {
        script,
        output,
        out_dir,
        allow_write,
        format,
        strict,
        from,
        to,
        block,
        threads,
        measure,
        progress,
        excerpt_loudness,
        report,
        script_options: so,
    } = t.clone();
    if let Some(dir) = &report {
        prepare_report_dir(dir)?;
    }
    let mut ev = evaluator().run(&super::job_of(script.as_deref()), &so, None)?;
    for w in &ev.warnings {
        log(format!("warning: {w}"));
    }
    let mut done = Rendered {
        inputs: ev.watched.clone(),
        ..Default::default()
    };
    // Where the script's own output paths may go.
    let mut roots = allow_write.clone();
    roots.extend(out_dir.iter().cloned());
    let script_policy = write_policy(script.as_deref(), &roots);
    let base = out_dir.clone().unwrap_or_else(|| {
        script
            .as_deref()
            .map_or_else(|| PathBuf::from("."), crate::script::script_dir)
    });
    let job = ev.renders.first().cloned();
    let stem_name = script
        .as_ref()
        .and_then(|p| p.file_stem())
        .map_or("demo".to_string(), |s| s.to_string_lossy().to_string());
    // The output: -o (the command line's choice), the script's mix.render path (checked), or
    // out/<script>.wav under --out-dir or the current folder.
    let out = match (&output, &job) {
        (Some(o), _) => WritePolicy::new([o.parent().map_or_else(
            || PathBuf::from("."),
            |p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            },
        )])
        .prepare(o)?,
        (None, Some(j)) => script_policy.prepare(&base.join(&j.path)).map_err(|e| {
            Errors::from(
                Error::new(e.kind, format!("mix.render: {}", e.message)).at(j.span.as_ref()),
            )
        })?,
        (None, None) => {
            let d = out_dir.clone().unwrap_or_else(|| PathBuf::from("out"));
            let p = d.join(format!("{stem_name}.wav"));
            WritePolicy::new([d]).prepare(&p)?
        }
    };
    refuse_overwriting_inputs(&out, &ev.watched)?;
    check_state_outputs(&ev.spec, &script_policy, &out, &ev.watched)?;
    let chosen = format.or(job.as_ref().and_then(|j| j.format));
    let format = OutputFormat::check_extension(&out, chosen)
        .map_err(|m| Error::new(ErrorKind::Other, m))?
        .or(chosen)
        .unwrap_or(OutputFormat::Wav24);
    let opts = RenderOptions {
        block,
        from_s: from.map(|f| parse_time(&f, &ev.spec)).transpose()?,
        to_s: to.map(|t| parse_time(&t, &ev.spec)).transpose()?,
        progress,
        measure,
        threads: threads.max(1),
        collect_report: report.is_some(),
        excerpt_loudness,
        state_policy: Some(script_policy.clone()),
        ..Default::default()
    };
    if let (Some(a), Some(b)) = (opts.from_s, opts.to_s) {
        if b <= a {
            return Err(Error::new(
                ErrorKind::Other,
                format!("--to ({b} s) must be after --from ({a} s)"),
            )
            .into());
        }
    }
    if !ev.albums.is_empty() {
        for job in &ev.albums {
            let mut job = job.clone();
            if let Some(d) = &out_dir {
                job.out_base = Some(d.clone());
            }
            let r = crate::album::render_album(
                &job,
                &so,
                &evaluator(),
                &script_policy,
                &opts,
                report.as_deref(),
            )?;
            for s in &r.songs {
                log(format!("wrote {}", s.path.display()));
                done.outputs.push(s.path.clone());
            }
            if let Some(c) = &r.continuous {
                log(format!("wrote {}", c.display()));
                done.outputs.push(c.clone());
            }
            log(r.table());
            done.inputs.extend(r.inputs.iter().cloned());
            done.integrated_lufs = r.album_lufs;
            done.true_peak_dbtp = r.album_true_peak_dbtp;
            done.missed.extend(r.missed.iter().cloned());
            if strict && !r.missed.is_empty() {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!(
                        "--strict: {} loudness target(s) not reached (the files are written)",
                        r.missed.len()
                    ),
                )
                .into());
            }
        }
        if ev.strips.len() <= 1 {
            return Ok(done);
        }
    }
    let t0 = std::time::Instant::now();
    let (schedule, passes) = prepare_schedule(&ev.spec, &opts)?;
    for w in &schedule.warnings {
        log(format!("warning: {w}"));
    }
    if let Some(f) = opts.from_s {
        let end = schedule.length_frames as f64 / schedule.sample_rate;
        if opts.to_s.is_none() && f >= end {
            return Err(Error::new(
                ErrorKind::Other,
                format!("--from {f} s is at or after the end of the song ({end:.1} s); nothing to render"),
            )
            .into());
        }
    }
    let mut r = render_to_file(schedule, &out, format, &opts)?;
    done.outputs.push(out.clone());
    r.analysis_passes = passes;
    // Analysis passes are part of the work: the speed counts them.
    r.elapsed_s = t0.elapsed().as_secs_f64();
    done.audio_s += r.frames as f64 / r.sample_rate;
    log(format!(
        "rendered {} ({:.1} s of audio in {:.2} s, {:.0}x realtime{})",
        out.display(),
        r.frames as f64 / r.sample_rate,
        r.elapsed_s,
        r.realtime_factor(),
        match passes {
            0 => String::new(),
            1 => ", including 1 analysis pass".to_string(),
            n => format!(", including {n} analysis passes"),
        }
    ));
    if let Some(m) = &r.measurement {
        done.integrated_lufs = m.integrated_lufs;
        done.true_peak_dbtp = m.true_peak_dbtp;
        done.loudness_range_lu = m.loudness_range_lu;
        log(m.to_text());
        let rows = crate::delivery::table(m);
        if !rows.is_empty() {
            log(crate::delivery::to_text(&rows));
        }
    }
    for n in &r.notes {
        log(format!("  {n}"));
        if n.contains("target not reached") {
            done.missed.push(n.clone());
        }
    }
    if let (Some(dir), Some(rep)) = (&report, &r.report) {
        let mut rep = rep.clone();
        rep.song = stem_name.clone();
        let files = rep.write_dir(dir, &stem_name, None)?;
        log(format!(
            "report: {} files in {}",
            files.len(),
            dir.display()
        ));
    }
    if r.clipped_samples > 0 {
        let after_limiter = ev
            .warnings
            .iter()
            .any(|w| w.message.contains("the master fader"));
        log(format!(
            "warning: {} samples at or over full scale (they clip in 16/24-bit files); {}",
            r.clipped_samples,
            if after_limiter {
                "the master fader lifts them past the limiter (see the warning above)"
            } else {
                "add a limiter (mix.master:limit { ceiling_db = -1 }) as the master's last insert"
            }
        ));
    }
    for (node, n) in &r.nan_report {
        log(format!("warning: node \"{node}\" produced {n} NaN/infinite samples; they were replaced by silence"));
    }
    if job.as_ref().is_some_and(|j| j.stems) {
        let stems = write_stems(&mut ev, &out, format, &opts, r.frames, r.sample_rate)?;
        for s in stems {
            log(format!("stem {}", s.display()));
            done.outputs.push(s);
        }
    }
    if strict && !done.missed.is_empty() {
        return Err(Error::new(
            ErrorKind::Other,
            format!(
                "--strict: {} loudness target(s) not reached (the file is written)",
                done.missed.len()
            ),
        )
        .into());
    }
    Ok(done)
}
