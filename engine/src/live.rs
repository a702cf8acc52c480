//! `mixdown play`: live playback with hot reload, keys, and a status line.
//!
//! Threads: the cpal callback runs the processor; this (control) thread watches files, rebuilds
//! and sends schedules, drops retired ones, reads keys and meters, and draws the status line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Errors};
use crate::io::playback::{self, PlaybackConfig};
use crate::measure::Analyzer;
use crate::reload::{Reloader, Watcher, DEBOUNCE};
use crate::rt::{processor_pair, ControlMsg};
use crate::script::{Evaluator, Job, ScriptOptions};
use crate::units::Tempo;

/// How long the device may go without a callback before playback stops with an error.
const STALL: Duration = Duration::from_secs(3);

/// Options of `mixdown play`.
#[derive(Clone, Debug)]
pub struct PlayOptions {
    /// The mix script (or the built-in demo).
    pub script: Job,
    /// Evaluation limits and module folders.
    pub script_options: ScriptOptions,
    /// Where scripts are evaluated.
    pub evaluator: Evaluator,
    /// Output device id.
    pub device: Option<String>,
    /// Frames per callback.
    pub buffer_frames: Option<u32>,
    /// Start position in seconds.
    pub from_s: f64,
    /// Loop range in seconds.
    pub loop_s: Option<(f64, f64)>,
    /// Stop after this many seconds of playback.
    pub duration_s: Option<f64>,
    /// Watch files and reload on save.
    pub watch: bool,
    /// Debounce for saves.
    pub debounce: Duration,
    /// Write a reload log line per reload to stderr (tests and benchmarks).
    pub log_reloads: bool,
}

impl Default for PlayOptions {
    fn default() -> Self {
        Self {
            script: Job::File(PathBuf::new()),
            script_options: ScriptOptions::default(),
            evaluator: Evaluator::InProcess,
            device: None,
            buffer_frames: None,
            from_s: 0.0,
            loop_s: None,
            duration_s: None,
            watch: true,
            debounce: DEBOUNCE,
            log_reloads: false,
        }
    }
}

/// What a session did.
#[derive(Clone, Debug, Default)]
pub struct PlaySummary {
    /// Seconds of audio delivered.
    pub played_s: f64,
    /// Reloads applied.
    pub reloads: u64,
    /// Reloads that failed (old graph kept playing).
    pub failed_reloads: u64,
    /// Host-reported stream errors.
    pub xruns: u64,
    /// Save-to-swap latency of each reload, in ms.
    pub reload_latency_ms: Vec<f64>,
}

/// Plays until `q`, Ctrl-C/SIGTERM or `duration_s`.
pub fn play(opts: &PlayOptions) -> Result<PlaySummary, Errors> {
    let mut reloader = Reloader::with_evaluator(
        opts.script.clone(),
        opts.script_options.clone(),
        opts.evaluator.clone(),
    );
    let ev = reloader.evaluate()?;
    for w in &ev.warnings {
        eprintln!("warning: {w}");
    }
    let sr = ev.spec.session.sample_rate;
    let tempo = ev.spec.session.tempo;
    drop(ev);
    let start_frame = (opts.from_s * sr).round() as u64;
    let built = reloader.build(start_frame)?;
    reloader.mark_sent(&built.schedule);
    let (mut processor, mut controller) = processor_pair(*built.schedule);
    processor.seek(start_frame);
    let shared = controller.shared().clone();
    let (meter_tx, mut meter_rx) = rtrb::RingBuffer::<f32>::new(1 << 16);
    let pb = playback::start(
        processor,
        &PlaybackConfig {
            device: opts.device.clone(),
            buffer_frames: opts.buffer_frames,
            sample_rate: sr as u32,
        },
        Some(meter_tx),
    )?;

    // Ctrl-C / SIGTERM stop playback cleanly (a second one ends the process at once).
    crate::io::signals::install();
    crate::io::signals::set_exit_on_signal(false);
    let quit = AtomicBool::new(false);
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let _raw = interactive.then(RawMode::enable).flatten();

    let mut watcher = if opts.watch {
        Some(Watcher::new(&reloader.watched, opts.debounce)?)
    } else {
        None
    };
    let mut summary = PlaySummary::default();
    let mut analyzer = Analyzer::new(sr, 2);
    let mut planar = [Vec::with_capacity(1 << 15), Vec::with_capacity(1 << 15)];
    let mut last_status = String::from("ok");
    let mut looping = opts.loop_s.is_some();
    let mut playing = true;
    let mut awaiting: Option<(u64, Instant)> = None;
    let mut dirty: Option<Instant> = None;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    // A device that stops calling back (a sound server gone) ends playback with an error
    // instead of waiting forever.
    let mut last_frames = (0u64, Instant::now());
    loop {
        let frames = pb.stats.frames.load(Ordering::Relaxed);
        if frames != last_frames.0 {
            last_frames = (frames, Instant::now());
        } else if last_frames.1.elapsed() > STALL {
            drop(pb);
            return Err(Error::new(
                ErrorKind::Device,
                format!(
                    "the output device stopped asking for audio ({} s without a callback); is the sound server still running?",
                    STALL.as_secs()
                ),
            )
            .into());
        }
        if quit.load(Ordering::SeqCst) || crate::io::signals::quit_requested() {
            break;
        }
        if let Some(d) = opts.duration_s {
            if pb.stats.frames.load(Ordering::Relaxed) as f64 / sr >= d {
                break;
            }
        }
        controller.collect_garbage();
        // A swap acknowledged?
        if let Some((serial, saved)) = awaiting {
            if shared.running_serial.load(Ordering::Relaxed) == serial {
                let ms = saved.elapsed().as_secs_f64() * 1000.0;
                summary.reload_latency_ms.push(ms);
                summary.reloads += 1;
                if opts.log_reloads {
                    eprintln!("\rreload applied: {ms:.1} ms after the save");
                }
                awaiting = None;
            }
        }
        // File changes.
        if let Some(w) = &watcher {
            if let Some(t) = w.wait(Duration::from_millis(10)) {
                dirty.get_or_insert(t);
            }
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
        if let (Some(saved), None) = (dirty, awaiting) {
            dirty = None;
            let pos = shared.position.load(Ordering::Relaxed);
            match reloader.build(pos + (0.05 * sr) as u64) {
                Ok(b) => {
                    let serial = b.schedule.summary().serial;
                    reloader.mark_sent(&b.schedule);
                    let (migrated, nodes) = (b.migrated, b.nodes);
                    let how = if b.crossfades_paths {
                        ", changed paths crossfaded"
                    } else {
                        ""
                    };
                    let mut s = b.schedule;
                    loop {
                        match controller.swap(s) {
                            Ok(()) => break,
                            Err(e) => {
                                s = e.0;
                                controller.collect_garbage();
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                    }
                    awaiting = Some((serial, saved));
                    last_status = format!("ok ({migrated}/{nodes} nodes kept{how})");
                    if let Some(w) = watcher.as_mut() {
                        let _ = w.set_files(&reloader.watched);
                    }
                }
                Err(errs) => {
                    summary.failed_reloads += 1;
                    let first = errs.0.first().map(|e| e.to_string()).unwrap_or_default();
                    last_status = format!("error: {first}");
                    if opts.log_reloads || !interactive {
                        eprintln!("\rreload failed, still playing the previous version:\n{errs}");
                    }
                }
            }
        }
        // Meters.
        let n = meter_rx.slots() / 2;
        if n > 0 {
            if let Ok(c) = meter_rx.read_chunk(n * 2) {
                planar[0].clear();
                planar[1].clear();
                let (a, b) = c.as_slices();
                for pair in a.chunks_exact(2).chain(b.chunks_exact(2)) {
                    planar[0].push(pair[0]);
                    planar[1].push(pair[1]);
                }
                c.commit_all();
                analyzer.process(&[&planar[0], &planar[1]]);
            }
        }
        // Loop range.
        let pos = shared.position.load(Ordering::Relaxed);
        if let (true, Some((a, b))) = (looping, opts.loop_s) {
            if pos as f64 / sr >= b {
                controller.send(ControlMsg::Seek((a * sr) as u64));
            }
        }
        // Keys.
        if interactive {
            while let Some(k) = read_key() {
                match k {
                    Key::Quit => quit.store(true, Ordering::SeqCst),
                    Key::Pause => {
                        playing = !playing;
                        controller.send(ControlMsg::Play(playing));
                    }
                    Key::Seek(ds) => {
                        let t = (pos as f64 / sr + ds).max(0.0);
                        controller.send(ControlMsg::Seek((t * sr) as u64));
                    }
                    Key::Loop => looping = !looping,
                }
            }
        }
        if interactive && last_draw.elapsed() > Duration::from_millis(100) {
            last_draw = Instant::now();
            draw_status(
                pos as f64 / sr,
                tempo,
                &analyzer,
                &pb,
                &last_status,
                playing,
            );
        }
    }
    summary.played_s = pb.stats.frames.load(Ordering::Relaxed) as f64 / sr;
    summary.xruns = pb.stats.xruns.load(Ordering::Relaxed);
    drop(pb);
    controller.collect_garbage();
    if interactive {
        eprintln!();
    }
    Ok(summary)
}

fn draw_status(
    t: f64,
    tempo: Tempo,
    a: &Analyzer,
    pb: &playback::Playback,
    status: &str,
    playing: bool,
) {
    let m = a.result();
    let f = |v: Option<f64>| v.map_or("  -inf".to_string(), |x| format!("{x:6.1}"));
    let (bar, beat) = tempo.bar_beat(t);
    let line = format!(
        "{} {:02}:{:05.2} {bar:>3}:{:<4.2} | TP {} dBTP M {} S {} LUFS | load {:3}% xruns {} | {}",
        if playing { ">" } else { "||" },
        (t / 60.0) as u64,
        t % 60.0,
        beat,
        f(m.true_peak_dbtp),
        f(m.momentary_max_lufs),
        f(m.short_term_max_lufs),
        pb.stats.load_permille.load(Ordering::Relaxed) / 10,
        pb.stats.xruns.load(Ordering::Relaxed),
        status
    );
    let mut err = std::io::stderr();
    let _ = write!(err, "\r{:<150.150}", line);
    let _ = err.flush();
}

enum Key {
    Quit,
    Pause,
    Seek(f64),
    Loop,
}

fn read_key() -> Option<Key> {
    use crossterm::event::{poll, read, Event, KeyCode, KeyEvent, KeyModifiers};
    if !poll(Duration::ZERO).ok()? {
        return None;
    }
    match read().ok()? {
        Event::Key(KeyEvent {
            code, modifiers, ..
        }) => match code {
            KeyCode::Char('q') | KeyCode::Esc => Some(Key::Quit),
            KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => Some(Key::Quit),
            KeyCode::Char(' ') => Some(Key::Pause),
            KeyCode::Char('l') => Some(Key::Loop),
            KeyCode::Left => Some(Key::Seek(-5.0)),
            KeyCode::Right => Some(Key::Seek(5.0)),
            _ => None,
        },
        _ => None,
    }
}

/// Raw terminal mode for single keys; restored on drop (also on error paths).
struct RawMode;

impl RawMode {
    fn enable() -> Option<Self> {
        crossterm::terminal::enable_raw_mode().ok().map(|_| RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Lists output devices for `--list-devices`.
pub fn device_list() -> String {
    let devs = playback::list_devices();
    if devs.is_empty() {
        return "no output devices found".into();
    }
    devs.iter()
        .map(|(id, d)| format!("{id}\t{d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Error for a loop range that is not a range.
pub fn check_loop(a: f64, b: f64) -> Result<(), Error> {
    if b <= a {
        return Err(Error::new(
            ErrorKind::Other,
            format!("--loop {a} {b}: the end must be after the start"),
        ));
    }
    Ok(())
}
