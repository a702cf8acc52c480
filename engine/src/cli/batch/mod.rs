//! `mixdown batch`: many render and measure jobs from one manifest, on every core of one
//! process, restartable, and sharded over machines by the launchers clusters already have.
//!
//! - [`manifest`]: the job list (JSON Lines or TSV), each job's index and line;
//! - [`shard`]: which jobs this process takes (`--shard I/N`, Slurm arrays, Kubernetes
//!   Indexed Jobs);
//! - [`digest`]: what a job was made from, for `--resume`;
//! - [`results`]: one JSON line per job, per shard file, and their merge.
//!
//! Each job is what `mixdown render` does with the same script and values
//! ([`super::render::render_task`]): its own isolated evaluation, graph and output file, written
//! under a temporary name and renamed. Nothing is shared between jobs but read-only data (the
//! probe cache of audio files), so the outputs are byte for byte those of single renders.

mod digest;
mod manifest;
mod results;
mod shard;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use self::manifest::{Bases, JobKind, JobSpec, Manifest};
use self::results::{Output, Record, ResultsFile, Status};
use self::shard::Shard;
use super::render::{render_task, RenderTask};
use super::{script_options, ScriptArgs};
use crate::error::{Error, ErrorKind, Errors};
use crate::io::output::WritePolicy;
use crate::io::wav::OutputFormat;

/// `mixdown batch`'s arguments.
#[derive(clap::Args)]
pub(crate) struct BatchArgs {
    /// The manifest: JSON Lines (one job a line: {"script": "mix.lua", "set": {"vocal_db": -2},
    /// "out": "v1.wav"} or {"measure": "song.flac"}), or TSV with a header line.
    manifest: PathBuf,
    /// Jobs run at once (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// Only the jobs whose index ≡ I (mod N), e.g. 0/4. Default: from SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX with --shard-count, when set.
    #[arg(long, value_parser = shard::parse, value_name = "I/N")]
    shard: Option<Shard>,
    /// Number of shards, for a Kubernetes Indexed Job (its completions), or to override
    /// SLURM_ARRAY_TASK_COUNT.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    shard_count: Option<u64>,
    /// Folder for outputs and reports: a job's relative "out" and "report" resolve here
    /// (default: the manifest's folder).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Skip every job whose output files are intact and whose inputs (definition, engine,
    /// script, modules, audio files) are unchanged since it last succeeded (any shard's results
    /// count); clears leftovers of a killed run.
    #[arg(long)]
    resume: bool,
    /// Results file, one JSON line per job (default: MANIFEST.results.jsonl beside the manifest;
    /// a shard writes NAME.shard-I-of-N.jsonl).
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
    /// Start no more jobs after the first failure (default: every job runs).
    #[arg(long)]
    fail_fast: bool,
    /// Combine the shards' results files into one (MANIFEST.results.jsonl or --results), report
    /// jobs without a result, and exit.
    #[arg(long)]
    merge_results: bool,
    /// Output format of jobs that name none: wav16 | wav24 | wav32f | flac16 | flac24.
    #[arg(long)]
    format: Option<OutputFormat>,
    /// Let scripts and jobs write under this folder too (repeatable).
    #[arg(long = "allow-write", value_name = "DIR")]
    allow_write: Vec<PathBuf>,
    #[command(flatten)]
    script_args: ScriptArgs,
}

/// Everything every job shares.
struct Common<'a> {
    args: &'a BatchArgs,
    /// Part of every job's key: what the command line adds to each job.
    key: String,
    engine: String,
    /// Input files' content hashes, each file hashed once per batch.
    hashes: digest::FileHashes,
    policy: WritePolicy,
    out_base: PathBuf,
    prior: BTreeMap<usize, Record>,
    cores: usize,
    running: AtomicUsize,
    unstarted: AtomicUsize,
}

pub(crate) fn cmd_batch(a: BatchArgs) -> Result<(), Errors> {
    let text = read_manifest(&a.manifest)?;
    let dir = match a.manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let stem = a
        .manifest
        .file_stem()
        .map_or("batch".into(), |s| s.to_string_lossy().to_string());
    let out_base = a.out_dir.clone().unwrap_or_else(|| dir.clone());
    let manifest = Manifest::parse(
        &text,
        &Bases {
            dir: &dir,
            out_dir: a.out_dir.as_deref(),
        },
    );
    if a.merge_results {
        return merge(&a, &dir, &stem, &manifest);
    }
    let shard = pick_shard(&a)?;
    let base = results_base(&a, &dir, &stem);
    let results_path = shard_file(&base, shard);
    let prior = if a.resume {
        results::latest(&results::results_files(&base))
    } else {
        BTreeMap::new()
    };
    let results = ResultsFile::open(&results_path, a.resume)?;
    let owned: Vec<usize> = (0..manifest.len()).filter(|i| shard.owns(*i)).collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = a.jobs.map_or(cores, |j| j as usize).min(owned.len()).max(1);
    let mut roots = vec![out_base.clone()];
    roots.extend(a.allow_write.iter().cloned());
    let mut common_set = a.script_args.set.clone();
    common_set.sort();
    let common = Common {
        args: &a,
        key: format!("{:?}|{common_set:?}|{:?}", a.format, a.out_dir),
        engine: digest::engine_id(),
        hashes: digest::FileHashes::default(),
        policy: WritePolicy::new(roots),
        out_base,
        prior,
        cores,
        running: AtomicUsize::new(0),
        unstarted: AtomicUsize::new(owned.len()),
    };
    if shard != Shard::ALL {
        eprintln!(
            "shard {}/{}: {} of {} jobs",
            shard.index,
            shard.count,
            owned.len(),
            manifest.len()
        );
    }
    let bar = progress_bar(owned.len());
    let t0 = Instant::now();
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let tally = parking_lot::Mutex::new((0usize, 0usize, 0usize));
    let write_errors = parking_lot::Mutex::new(Vec::<Error>::new());
    std::thread::scope(|s| {
        for w in 0..workers {
            let worker = || loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = owned.get(k) else { break };
                common.unstarted.fetch_sub(1, Ordering::Relaxed);
                if a.fail_fast && failed.load(Ordering::Relaxed) > 0 {
                    tally.lock().2 += 1;
                    continue;
                }
                let rec = run_entry(&manifest.entries[i], &common);
                match rec.status {
                    Status::Ok => tally.lock().0 += 1,
                    Status::Skipped => tally.lock().1 += 1,
                    Status::Failed => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        bar.suspend(|| {
                            eprintln!(
                                "job {} ({}:{}, {}) failed: {}",
                                rec.index,
                                a.manifest.display(),
                                rec.line,
                                rec.id,
                                rec.error.as_deref().unwrap_or("")
                            )
                        });
                    }
                }
                if let Err(e) = results.write(&rec) {
                    write_errors.lock().push(e);
                }
                bar.set_message(format!("{} failed", failed.load(Ordering::Relaxed)));
                bar.inc(1);
            };
            std::thread::Builder::new()
                .name(format!("batch-{w}"))
                .stack_size(16 << 20)
                .spawn_scoped(s, worker)
                .expect("cannot start a batch worker thread");
        }
    });
    bar.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let (ok, skipped, not_run) = *tally.lock();
    let failed = failed.into_inner();
    eprintln!(
        "batch {}: {} job(s){}: {ok} done, {skipped} up to date, {failed} failed{} in {secs:.1} s ({:.0} jobs/min); results in {}",
        a.manifest.display(),
        owned.len(),
        if shard == Shard::ALL {
            String::new()
        } else {
            format!(" of shard {}/{}", shard.index, shard.count)
        },
        if not_run > 0 {
            format!(", {not_run} not run (--fail-fast)")
        } else {
            String::new()
        },
        (ok + failed) as f64 * 60.0 / secs.max(1e-9),
        results.path().display()
    );
    let mut errs = write_errors.into_inner();
    if failed > 0 {
        errs.push(Error::new(
            ErrorKind::Other,
            format!(
                "{failed} of {} job(s) failed (their lines and errors are above and in {})",
                owned.len(),
                results.path().display()
            ),
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Errors(errs))
    }
}

fn read_manifest(p: &Path) -> Result<String, Error> {
    let f = crate::io::open_regular(p)?;
    let mut text = String::new();
    use std::io::Read;
    f.take(1 << 30)
        .read_to_string(&mut text)
        .map_err(|e| Error::io(p, format!("cannot read the manifest as text: {e}")))?;
    Ok(text)
}

fn pick_shard(a: &BatchArgs) -> Result<Shard, Error> {
    if let Some(s) = a.shard {
        return Ok(s);
    }
    let count = a.shard_count.map(|n| n as usize);
    match shard::from_env(&|k| std::env::var(k).ok(), count) {
        Ok(Some((s, from))) => {
            eprintln!("shard {}/{} from {from}", s.index, s.count);
            Ok(s)
        }
        Ok(None) => Ok(Shard::ALL),
        Err(m) => Err(Error::new(ErrorKind::Other, m)),
    }
}

/// The batch's results file: `--results`, else MANIFEST.results.jsonl beside the manifest.
fn results_base(a: &BatchArgs, dir: &Path, stem: &str) -> PathBuf {
    a.results
        .clone()
        .unwrap_or_else(|| dir.join(format!("{stem}.results.jsonl")))
}

/// A shard's own results file beside `base`.
fn shard_file(base: &Path, shard: Shard) -> PathBuf {
    if shard == Shard::ALL {
        return base.to_path_buf();
    }
    let name = base
        .file_stem()
        .map_or("results".into(), |s| s.to_string_lossy().to_string());
    base.with_file_name(format!("{name}{}.jsonl", shard.suffix()))
}

fn progress_bar(n: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(n as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:30} {pos}/{len} jobs, {msg}, {elapsed} elapsed, ETA {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message("0 failed");
    bar
}

/// Runs one manifest entry (a bad line is a failed job) and returns its record.
fn run_entry(entry: &Result<JobSpec, manifest::BadLine>, c: &Common) -> Record {
    let job = match entry {
        Ok(j) => j,
        Err(b) => {
            return Record {
                index: b.index,
                line: b.line,
                id: format!("line-{}", b.line),
                status: Status::Failed,
                key: String::new(),
                digest: String::new(),
                outputs: Vec::new(),
                inputs: Vec::new(),
                seconds: 0.0,
                audio_s: None,
                integrated_lufs: None,
                true_peak_dbtp: None,
                loudness_range_lu: None,
                missed_targets: Vec::new(),
                warnings: Vec::new(),
                error: Some(format!("bad manifest line: {}", b.message)),
                finished_unix: results::now_unix(),
            }
        }
    };
    let key = digest::job_key(job, &c.key);
    let mut rec = Record {
        index: job.index,
        line: job.line,
        id: job.id.clone(),
        status: Status::Failed,
        key: key.clone(),
        digest: String::new(),
        outputs: Vec::new(),
        inputs: Vec::new(),
        seconds: 0.0,
        audio_s: None,
        integrated_lufs: None,
        true_peak_dbtp: None,
        loudness_range_lu: None,
        missed_targets: Vec::new(),
        warnings: Vec::new(),
        error: None,
        finished_unix: 0.0,
    };
    if let Some(done) = c.prior.get(&job.index).filter(|p| up_to_date(p, &key, c)) {
        rec = Record {
            status: Status::Skipped,
            seconds: 0.0,
            warnings: Vec::new(),
            finished_unix: results::now_unix(),
            ..done.clone()
        };
        return rec;
    }
    let t0 = Instant::now();
    let r = match &job.kind {
        JobKind::Render { script } => render(job, script, c, &mut rec),
        JobKind::Measure { file } => crate::measure::measure_file(file)
            .map(|m| {
                rec.inputs = vec![file.clone()];
                rec.integrated_lufs = m.integrated_lufs;
                rec.true_peak_dbtp = m.true_peak_dbtp;
                rec.loudness_range_lu = m.loudness_range_lu;
            })
            .map_err(Errors::from),
    };
    rec.seconds = t0.elapsed().as_secs_f64();
    match r {
        Ok(()) => {
            rec.status = Status::Ok;
            rec.digest =
                digest::inputs_digest(&key, &c.engine, &rec.inputs, &c.hashes).unwrap_or_default();
        }
        Err(e) => {
            let shown: Vec<String> = e.0.iter().take(10).map(|e| e.to_string()).collect();
            rec.error = Some(shown.join("\n"));
        }
    }
    if c.args.resume {
        for o in &rec.outputs {
            crate::io::output::remove_stale_parts(&o.path);
        }
    }
    rec.finished_unix = results::now_unix();
    rec
}

/// A previous success whose outputs are intact and whose inputs are unchanged.
fn up_to_date(p: &Record, key: &str, c: &Common) -> bool {
    matches!(p.status, Status::Ok | Status::Skipped)
        && p.key == key
        && !p.digest.is_empty()
        && p.outputs.iter().all(Output::intact)
        && digest::inputs_digest(key, &c.engine, &p.inputs, &c.hashes).as_deref()
            == Some(p.digest.as_str())
}

/// A render job: `mixdown render` with the job's values and output.
fn render(job: &JobSpec, script: &Path, c: &Common, rec: &mut Record) -> Result<(), Errors> {
    let a = c.args;
    let format = job.format.or(a.format);
    let out = match &job.out {
        Some(o) => o.clone(),
        None => c.out_base.join(format!(
            "{}.{}",
            job.id,
            format.unwrap_or(OutputFormat::Wav24).extension()
        )),
    };
    let out = c.policy.prepare(&out).map_err(|e| {
        Error::new(
            e.kind,
            format!(
                "out: {} (a job writes under --out-dir, the manifest's folder or an --allow-write folder)",
                e.message
            ),
        )
    })?;
    if a.resume {
        crate::io::output::remove_stale_parts(&out);
    }
    let mut so = script_options(&a.script_args);
    so.args
        .retain(|(k, _)| !job.set.iter().any(|(jk, _)| jk == k));
    so.args.extend(job.set.iter().cloned());
    // Threads: one per job while jobs wait; the last jobs share the cores.
    let running = c.running.fetch_add(1, Ordering::Relaxed) + 1;
    let threads = if c.unstarted.load(Ordering::Relaxed) == 0 {
        (c.cores / running).max(1)
    } else {
        1
    };
    let task = RenderTask {
        script: Some(script.to_path_buf()),
        output: Some(out),
        out_dir: a.out_dir.clone(),
        allow_write: a.allow_write.clone(),
        format,
        strict: false,
        from: job.from.clone(),
        to: job.to.clone(),
        block: crate::buffer::MAX_BLOCK,
        threads,
        measure: true,
        progress: false,
        excerpt_loudness: false,
        report: job.report.clone(),
        script_options: so,
    };
    let mut warnings = Vec::new();
    let r = render_task(&task, &mut |line| {
        if let Some(w) = line.strip_prefix("warning: ") {
            if warnings.len() < 20 {
                warnings.push(w.to_string());
            }
        }
    });
    c.running.fetch_sub(1, Ordering::Relaxed);
    rec.warnings = warnings;
    let done = r?;
    rec.outputs = done.outputs.iter().map(|p| Output::of(p)).collect();
    rec.inputs = done.inputs;
    rec.audio_s = Some(done.audio_s);
    rec.integrated_lufs = done.integrated_lufs;
    rec.true_peak_dbtp = done.true_peak_dbtp;
    rec.loudness_range_lu = done.loudness_range_lu;
    rec.missed_targets = done.missed;
    Ok(())
}

/// `--merge-results`: the shards' files into one, in job order.
fn merge(a: &BatchArgs, dir: &Path, stem: &str, m: &Manifest) -> Result<(), Errors> {
    let dest = results_base(a, dir, stem);
    let files = results::results_files(&dest);
    let records = results::latest(&files);
    results::write_merged(&dest, &records)?;
    let failed = records
        .values()
        .filter(|r| r.status == Status::Failed)
        .count();
    let missing: Vec<usize> = (0..m.len()).filter(|i| !records.contains_key(i)).collect();
    eprintln!(
        "merged {} file(s) into {}: {} of {} jobs have a result, {failed} failed",
        files.len(),
        dest.display(),
        records.len(),
        m.len()
    );
    let mut errs = Vec::new();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(|i| i.to_string()).collect();
        errs.push(Error::new(
            ErrorKind::Other,
            format!(
                "{} job(s) have no result yet (indices {}{}); run their shards again with --resume",
                missing.len(),
                shown.join(", "),
                if missing.len() > 20 { ", …" } else { "" }
            ),
        ));
    }
    if failed > 0 {
        errs.push(Error::new(
            ErrorKind::Other,
            format!("{failed} job(s) failed; see {}", dest.display()),
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Errors(errs))
    }
}
