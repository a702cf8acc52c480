//! Evaluation in a child process under operating-system limits.
//!
//! The parent starts this executable as `mixdown __evaluate`, with:
//! - `RLIMIT_AS` = the memory limit plus [`ENGINE_OVERHEAD_BYTES`] for the engine itself;
//! - `RLIMIT_CPU` = the time limit rounded up (the kernel stops a CPU-bound child), and a
//!   wall-clock kill from the parent shortly after the limit, whatever the child is doing;
//! - `RLIMIT_FSIZE` = 0 (it can write no file; SIGXFSZ ignored, so a write fails instead of
//!   killing it), `RLIMIT_CORE` = 0, few descriptors;
//! - of the environment only `HOME` and the plugin path variables (plugin lookup); every
//!   inherited descriptor but its three pipes closed on exec; death when the parent dies
//!   (`PR_SET_PDEATHSIG`).
//!
//! The request (job, options, what the parent already knows of the audio files) goes in on
//! stdin as JSON; the result (the [`Evaluated`] plain data, or the errors) comes back on stdout;
//! stderr carries the script's `print` output, relayed (bounded, control characters removed).
//! The parent survives every outcome — killed, crashed, garbage or too much on the pipe — and
//! checks the result again ([`crate::graph::GraphSpec::validate`], the file confinement) before
//! using it. Inside the child the in-process limits still apply, so the common mistakes get a
//! message with the script line.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{evaluate_job, Ctx, Evaluated, Job, ScriptOptions};
use crate::error::{Error, ErrorKind, Errors};
use crate::io::decode::AudioInfo;

/// Address space the evaluator needs beyond the script's own memory limit (the executable, the
/// Lua state's bookkeeping, audio-file probing).
pub const ENGINE_OVERHEAD_BYTES: u64 = 256 << 20;
/// Grace after the time limit before the parent kills the child (the in-process hook usually
/// stops the script first, with its line).
const KILL_GRACE: Duration = Duration::from_millis(150);
/// Most bytes of result accepted from the child.
const MAX_RESULT_BYTES: u64 = 256 << 20;
/// Most bytes of the child's stderr relayed.
const MAX_STDERR_BYTES: usize = 64 << 10;

/// Set in the evaluator process: Lua states are leaked rather than closed, so no finalizer of
/// a script runs after its evaluation.
pub(super) static IN_CHILD: AtomicBool = AtomicBool::new(false);

/// What the parent sends.
#[derive(serde::Serialize, serde::Deserialize)]
struct Request {
    job: Job,
    opts: ScriptOptions,
    /// Audio files already probed (so a reload does not decode unchanged MP3s again).
    known: Vec<(String, AudioInfo)>,
}

/// What the child sends back.
#[derive(serde::Serialize, serde::Deserialize)]
enum Response {
    Done(Box<Evaluated>),
    Failed(Errors),
}

/// Evaluates `job` in a child process running `exe`. Control thread; blocks until the child
/// is done, killed at the time limit, or `cancel` is set (then it is killed and the result is
/// an error saying so).
pub fn evaluate(
    exe: &Path,
    job: &Job,
    opts: &ScriptOptions,
    cancel: Option<&AtomicBool>,
) -> Result<Evaluated, Errors> {
    let who = job_name(job);
    let request = Request {
        job: job.clone(),
        opts: opts.clone(),
        known: crate::io::decode::known_probes(),
    };
    let body = serde_json::to_vec(&request)
        .map_err(|e| Error::new(ErrorKind::Other, format!("cannot encode the request: {e}")))?;
    let mem = opts.memory_limit_bytes as u64 + ENGINE_OVERHEAD_BYTES;
    let cpu = opts.time_limit.as_secs_f64().ceil() as u64 + 1;
    let mut cmd = Command::new(exe);
    cmd.arg("__evaluate")
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Plugin discovery looks where the parent looks (the plugin folders' variables and the
    // home folder's ~/.clap, ~/.lv2, ~/.vst3); nothing else of the environment goes through.
    for var in ["HOME", "CLAP_PATH", "LV2_PATH", "VST3_PATH"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (setrlimit, prctl, fcntl); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            limit(libc::RLIMIT_AS, mem)?;
            limit(libc::RLIMIT_CPU, cpu)?;
            limit(libc::RLIMIT_FSIZE, 0)?;
            // A write past the limit fails (EFBIG) instead of killing the evaluator: plugin
            // code described here may try to save its settings.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            limit(libc::RLIMIT_CORE, 0)?;
            limit(libc::RLIMIT_NOFILE, 64)?;
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // Every descriptor but the three pipes closes on exec (close_range since Linux
            // 5.11; one fcntl per descriptor before that).
            let r = libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if r != 0 {
                for fd in 3..1024 {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags >= 0 {
                        libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                    }
                }
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("cannot start the script evaluator ({}): {e}", exe.display()),
        )
    })?;
    // The request is small; write it from a thread so a child that does not read cannot
    // block us.
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = (&mut stdout)
            .take(MAX_RESULT_BYTES + 1)
            .read_to_end(&mut buf);
        r.map(|_| buf)
    });
    let mut stderr = child.stderr.take().expect("piped");
    let relay = std::thread::spawn(move || relay_stderr(&mut stderr));

    let deadline = started + opts.time_limit + KILL_GRACE;
    let mut stopped: Option<&'static str> = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) => {}
            Err(_) => break None,
        }
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            stopped = Some("cancelled");
        } else if Instant::now() >= deadline {
            stopped = Some("time");
        }
        if stopped.is_some() {
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let out = reader.join().ok().and_then(Result::ok).unwrap_or_default();
    let tail = relay.join().unwrap_or_default();
    let limit_s = crate::param::trim(opts.time_limit.as_secs_f64());
    let limit_mib = opts.memory_limit_bytes >> 20;
    match stopped {
        Some("cancelled") => {
            return Err(Error::new(ErrorKind::Other, format!("{who}: evaluation cancelled")).into())
        }
        Some(_) => return Err(time_error(&who, &limit_s).into()),
        None => {}
    }
    let Some(status) = status else {
        return Err(Error::new(
            ErrorKind::Other,
            format!("{who}: lost the script evaluator"),
        )
        .into());
    };
    if status.success() && out.len() as u64 <= MAX_RESULT_BYTES {
        if let Ok(resp) = serde_json::from_slice::<Response>(&out) {
            return match resp {
                Response::Done(ev) => accept(*ev, job, opts),
                Response::Failed(errs) => Err(errs),
            };
        }
    }
    let signal = status.signal();
    if signal == Some(libc::SIGXCPU) || signal == Some(libc::SIGKILL) {
        return Err(time_error(&who, &limit_s).into());
    }
    if tail.contains("memory allocation")
        || tail.contains("out of memory")
        || signal == Some(libc::SIGABRT)
        || signal == Some(libc::SIGSEGV) && tail.is_empty()
    {
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "{who}: the script used more memory than the {limit_mib} MiB limit allows; raise it with --memory-limit-mib MIB"
            ),
        )
        .into());
    }
    let how = match (signal, status.code()) {
        (Some(s), _) => format!("signal {s}"),
        (None, Some(c)) => format!("exit code {c}"),
        _ => "unknown".into(),
    };
    let last = tail.lines().last().unwrap_or("").trim().to_string();
    Err(Error::new(
        ErrorKind::Other,
        format!(
            "{who}: the script evaluator stopped unexpectedly ({how}){}",
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        ),
    )
    .into())
}

fn time_error(who: &str, limit_s: &str) -> Error {
    Error::new(
        ErrorKind::Limit,
        format!(
            "{who}: evaluation stopped at the {limit_s} s time limit (an endless loop?); raise it with --time-limit SECONDS"
        ),
    )
}

fn job_name(job: &Job) -> String {
    let s = match job {
        Job::File(p) => p.display().to_string(),
        Job::Source { name, .. } => name.clone(),
        Job::Mastering(m) => format!("mastering {}", m.file.display()),
    };
    crate::registry::schema::printable(&s)
}

/// Sets both limits of `resource` to `value`.
fn limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let r = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: plain system call with a valid pointer to a stack value.
    if unsafe { libc::setrlimit(resource, &r) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Copies the child's stderr to ours, line by line, without control characters, up to
/// [`MAX_STDERR_BYTES`]; returns the last few KiB (to explain a crash).
fn relay_stderr(r: &mut impl Read) -> String {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let mut relayed = 0usize;
    let mut pending = Vec::new();
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        all.extend_from_slice(&buf[..n]);
        if all.len() > 8192 {
            all.drain(..all.len() - 8192);
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            if relayed < MAX_STDERR_BYTES {
                relayed += line.len();
                let text = String::from_utf8_lossy(&line[..line.len() - 1]);
                let clean: String = text
                    .chars()
                    .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
                    .collect();
                if !is_internal(&clean) {
                    eprintln!("{clean}");
                }
            }
        }
        if pending.len() > 4096 {
            pending.clear();
        }
    }
    String::from_utf8_lossy(&all).to_string()
}

/// Lines the Rust runtime prints when the child dies (an allocation failure): not the script's.
fn is_internal(line: &str) -> bool {
    line.starts_with("memory allocation of") || line.starts_with("thread '")
}

/// Checks what came back before anything uses it: the graph ([`GraphSpec::validate`]), that
/// every file it reads lies under the folders the script may read, and the probes.
///
/// [`GraphSpec::validate`]: crate::graph::GraphSpec::validate
fn accept(mut ev: Evaluated, job: &Job, opts: &ScriptOptions) -> Result<Evaluated, Errors> {
    let invalid = |m: String| -> Errors {
        Error::new(
            ErrorKind::Other,
            format!("the script evaluator returned {m}"),
        )
        .into()
    };
    ev.spec
        .validate()
        .map_err(|e| invalid(e.message.to_string()))?;
    let dir = match job {
        Job::File(p) => super::script_dir(p),
        Job::Source { dir, .. } => dir.clone(),
        Job::Mastering(m) => m.dir.clone(),
    };
    let ctx = Ctx::new(&dir, opts);
    let allowed = |p: &Path| -> bool {
        p.canonicalize()
            .is_ok_and(|c| ctx.read_roots.iter().any(|r| c.starts_with(r)))
    };
    for n in ev.spec.nodes.values() {
        if let Some(f) = n.config.text("file") {
            if !allowed(Path::new(f)) {
                return Err(invalid(format!("a file outside the allowed folders: {f}")));
            }
        }
        // Plugins: the bundle must be in a plugin folder, a state file where files may be read.
        if n.kind_name() == crate::plugin::node::KIND.name {
            if let Some(b) = n.config.text("bundle") {
                if !crate::plugin::is_allowed(Path::new(b)) {
                    return Err(invalid(format!("a plugin outside the plugin folders: {b}")));
                }
            }
            if let Some(f) = n.config.text("state") {
                if !allowed(Path::new(f)) {
                    return Err(invalid(format!("a file outside the allowed folders: {f}")));
                }
            }
        }
    }
    for s in &ev.strips {
        let keys = [Some(s.head), Some(s.fader)]
            .into_iter()
            .chain(std::iter::once(s.pan))
            .flatten()
            .chain(s.inserts.iter().copied())
            .chain(s.sends.iter().map(|x| x.gain));
        for k in keys {
            if !ev.spec.nodes.contains_key(k) {
                return Err(invalid(
                    "a strip with a node that is not in the graph".into(),
                ));
            }
        }
        let strips = ev.strips.len();
        if s.dest.is_some_and(|d| d >= strips) || s.sends.iter().any(|x| x.dest >= strips) {
            return Err(invalid(
                "a strip routed to a strip that does not exist".into(),
            ));
        }
    }
    ev.probes.retain(|p| allowed(&p.path));
    for p in &ev.probes {
        crate::io::decode::remember_probe(p.clone());
    }
    ev.watched.retain(|p| p.components().count() < 256);
    Ok(ev)
}

/// The child's side: reads the request from stdin, evaluates, writes the result to stdout and
/// exits at once (no finalizers, no destructors). Called by `mixdown __evaluate`.
pub fn child_main() -> ! {
    IN_CHILD.store(true, Ordering::Relaxed);
    let mut body = Vec::new();
    let _ = std::io::stdin().take(64 << 20).read_to_end(&mut body);
    let response = match serde_json::from_slice::<Request>(&body) {
        Ok(req) => {
            for (_, info) in req.known {
                crate::io::decode::remember_probe(info);
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                evaluate_job(&req.job, &req.opts)
            }));
            match r {
                Ok(Ok(ev)) => Response::Done(Box::new(ev)),
                Ok(Err(errs)) => Response::Failed(errs),
                Err(_) => Response::Failed(
                    Error::new(
                        ErrorKind::Other,
                        "the script evaluator failed (an internal error); please report it with the script",
                    )
                    .into(),
                ),
            }
        }
        Err(e) => Response::Failed(
            Error::new(ErrorKind::Other, format!("bad evaluation request: {e}")).into(),
        ),
    };
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, &response);
    let _ = out.flush();
    // SAFETY: ends the process without running finalizers of the Lua state (a script's `__gc`
    // could loop) or any destructor.
    unsafe { libc::_exit(0) }
}

/// The `mixdown` executable for [`super::Evaluator::Isolated`] (this process's own).
pub fn current_exe() -> Option<PathBuf> {
    std::env::current_exe().ok()
}
