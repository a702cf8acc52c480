//! Hot reload: watch the script, its modules and its audio files; on a save, evaluate the script
//! again in a fresh sandboxed Lua state, compile, plan which node instances carry over, and hand
//! the new schedule to the audio thread as one message. A script that fails leaves the running
//! graph untouched.
//!
//! Editors save atomically (write a temporary file, rename it over the original), which silences a
//! watch on the file itself, so folders are watched and events filtered by path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

use crate::error::{Error, ErrorKind, Errors};
use crate::graph::transition::plan_reload;
use crate::graph::{CompileConfig, GraphSpec, Schedule, ScheduleSummary};
use crate::node::Mode;
use crate::script::{Evaluated, Evaluator, Job, ScriptOptions};

/// Default debounce time for saves.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// Watches files by watching their folders.
pub struct Watcher {
    debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    rx: mpsc::Receiver<DebounceEventResult>,
    files: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

fn canon(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

impl Watcher {
    /// Watches `files` (their folders), reporting a change at most once per `debounce`.
    pub fn new(files: &[PathBuf], debounce: Duration) -> Result<Self, Error> {
        let (tx, rx) = mpsc::channel();
        let debouncer = new_debouncer(debounce, None, tx)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot watch files: {e}")))?;
        let mut w = Self {
            debouncer,
            rx,
            files: BTreeSet::new(),
            dirs: BTreeSet::new(),
        };
        w.set_files(files)?;
        Ok(w)
    }

    /// Replaces the watched set (after a reload the script may use other files).
    pub fn set_files(&mut self, files: &[PathBuf]) -> Result<(), Error> {
        self.files = files.iter().map(|f| canon(f)).collect();
        let dirs: BTreeSet<PathBuf> = self
            .files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for d in dirs.difference(&self.dirs.clone()) {
            self.debouncer
                .watch(d, RecursiveMode::NonRecursive)
                .map_err(|e| Error::io(d, format!("cannot watch folder: {e}")))?;
        }
        for d in self.dirs.difference(&dirs.clone()) {
            let _ = self.debouncer.unwatch(d);
        }
        self.dirs = dirs;
        Ok(())
    }

    /// Waits up to `timeout` for a change to a watched file; returns the time of the first event.
    pub fn wait(&self, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Ok(events)) => {
                    let hit = events.iter().any(|e| {
                        !e.kind.is_access()
                            && e.paths.iter().any(|p| self.files.contains(&canon(p)))
                    });
                    if hit {
                        // The debouncer reports after the quiet period; the save happened then.
                        let first = events
                            .iter()
                            .map(|e| e.time)
                            .min()
                            .unwrap_or_else(Instant::now);
                        return Some(first);
                    }
                }
                Ok(Err(_)) => {}
                Err(_) => return None,
            }
        }
    }
}

/// Builds schedules for a live session and plans their migration.
pub struct Reloader {
    job: Job,
    opts: ScriptOptions,
    evaluator: Evaluator,
    running: ScheduleSummary,
    /// The graph behind the running schedule, and the one behind the last schedule built.
    running_spec: Option<GraphSpec>,
    built_spec: Option<GraphSpec>,
    /// Files the last good evaluation depended on.
    pub watched: Vec<PathBuf>,
}

/// The outcome of one reload attempt.
pub struct Built {
    /// The schedule to send.
    pub schedule: Box<Schedule>,
    /// Nodes keeping their running instance.
    pub migrated: usize,
    /// Whether the change crossfades only the changed paths (see
    /// [`crate::graph::transition`]).
    pub crossfades_paths: bool,
    /// Total nodes in the new schedule.
    pub nodes: usize,
    /// Time spent evaluating and compiling.
    pub build_time: Duration,
}

impl Reloader {
    /// A reloader for `script`, evaluated in this process.
    pub fn new(script: PathBuf, opts: ScriptOptions) -> Self {
        Self::with_evaluator(Job::File(script), opts, Evaluator::InProcess)
    }

    /// A reloader for `job`, evaluated by `evaluator`.
    pub fn with_evaluator(job: Job, opts: ScriptOptions, evaluator: Evaluator) -> Self {
        Self {
            job,
            opts,
            evaluator,
            running: ScheduleSummary::default(),
            running_spec: None,
            built_spec: None,
            watched: Vec::new(),
        }
    }

    /// Evaluates the script (control thread). An isolated evaluation stops early when
    /// SIGINT/SIGTERM arrives.
    pub fn evaluate(&self) -> Result<Evaluated, Errors> {
        self.evaluator
            .run(&self.job, &self.opts, Some(crate::io::signals::quit_flag()))
    }

    /// Evaluates and compiles for playback starting at `start_frame`, planning migration against
    /// the running schedule. On error nothing changes.
    pub fn build(&mut self, start_frame: u64) -> Result<Built, Errors> {
        let t0 = Instant::now();
        let ev = self.evaluate()?;
        if self.running.serial != 0 && ev.spec.session.sample_rate != self.running.sample_rate {
            return Err(Error::new(
                ErrorKind::Script,
                format!(
                    "the session sample rate changed from {} to {} Hz; restart playback to change it",
                    self.running.sample_rate, ev.spec.session.sample_rate
                ),
            )
            .into());
        }
        let cfg = CompileConfig {
            mode: Mode::Realtime,
            start_frame,
            parallel: false,
        };
        let planned = plan_reload(self.running_spec.as_ref(), &self.running, &ev.spec, cfg)?;
        self.watched = ev.watched;
        self.built_spec = Some(ev.spec);
        let s = planned.schedule;
        let nodes = s.then().unwrap_or(&s).node_count();
        Ok(Built {
            schedule: s,
            migrated: planned.kept,
            crossfades_paths: planned.crossfades_paths,
            nodes,
            build_time: t0.elapsed(),
        })
    }

    /// Forgets what is running (after the processor refused a schedule planned against another
    /// one): the next build prepares every node and fades the whole output over to it.
    pub fn forget_running(&mut self) {
        self.running = ScheduleSummary::default();
        self.running_spec = None;
    }

    /// Records that `schedule` (the last one built) is what the audio thread now runs, or will
    /// once a transition is over (call before sending it).
    pub fn mark_sent(&mut self, schedule: &Schedule) {
        self.running = schedule.then().unwrap_or(schedule).summary();
        self.running_spec = self.built_spec.take();
    }
}
