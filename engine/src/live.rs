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
    let mut song_end = built
        .schedule
        .then()
        .unwrap_or(&built.schedule)
        .length_frames;
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
    for n in &pb.notes {
        eprintln!("note: {n}");
    }
    let device_rate = f64::from(pb.device_rate);

    // Ctrl-C / SIGTERM stop playback cleanly (a second one ends the process at once).
    crate::io::signals::install();
    crate::io::signals::set_exit_on_signal(false);
    let quit = AtomicBool::new(false);
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut keys = interactive;
    let _raw = interactive.then(RawMode::enable).flatten();

    let mut watcher = if opts.watch {
        Some(Watcher::new(&reloader.watched, opts.debounce)?)
    } else {
        None
    };
    let mut summary = PlaySummary::default();
    let mut meters = LiveMeters::new(sr);
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
    // Plugin latency changes seen so far (a change makes a fresh compile: see below).
    let mut latency_changes = crate::plugin::latency_changes();
    let mut last_latency_compile: Option<Instant> = None;
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
            if pb.stats.frames.load(Ordering::Relaxed) as f64 / device_rate >= d {
                break;
            }
        }
        controller.collect_garbage();
        // The end of the song (and its tails) ends playback, unless looping.
        if !looping
            && playing
            && shared.position.load(Ordering::Relaxed) >= song_end
            && meters.quiet_for() > 1.0
        {
            break;
        }
        // A swap acknowledged?
        if let Some((serial, saved)) = awaiting {
            if shared.refused_serial.load(Ordering::Relaxed) == serial {
                // Planned against a schedule that was no longer running: plan it again.
                reloader.forget_running();
                awaiting = None;
                dirty = Some(saved);
            } else if shared.running_serial.load(Ordering::Relaxed) == serial {
                let ms = saved.elapsed().as_secs_f64() * 1000.0;
                summary.reload_latency_ms.push(ms);
                summary.reloads += 1;
                if opts.log_reloads {
                    eprintln!("\rreload applied: {ms:.1} ms after the save");
                }
                awaiting = None;
            }
        }
        // A hosted plugin changed its latency while playing (a parameter that sets it moved):
        // compile again from scratch, so the new latency is compensated; the whole output
        // fades over, as for any change no path crossfade covers.
        // At most once a second: a plugin that announced a change on every start would
        // otherwise have the graph compiled again without end.
        let seen = crate::plugin::latency_changes();
        if seen != latency_changes
            && awaiting.is_none()
            && last_latency_compile.is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            latency_changes = seen;
            last_latency_compile = Some(Instant::now());
            reloader.forget_running();
            dirty.get_or_insert_with(Instant::now);
            if opts.log_reloads {
                eprintln!("\ra plugin changed its latency: compiling the graph again");
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
                    song_end = b.schedule.then().unwrap_or(&b.schedule).length_frames;
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
                meters.process(&[&planar[0], &planar[1]]);
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
        if keys {
            loop {
                let k = match read_key() {
                    Ok(Some(k)) => k,
                    Ok(None) => break,
                    Err(()) => {
                        // The terminal's input ended: play on without keys.
                        keys = false;
                        break;
                    }
                };
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
            draw_status(pos as f64 / sr, tempo, &meters, &pb, &last_status, playing);
        }
    }
    summary.played_s = pb.stats.frames.load(Ordering::Relaxed) as f64 / device_rate;
    summary.xruns = pb.stats.xruns.load(Ordering::Relaxed);
    drop(pb);
    controller.collect_garbage();
    if interactive {
        eprintln!();
    }
    Ok(summary)
}

/// The status line's meters: the momentary (400 ms) and short-term (3 s) loudness of what is
/// playing now, and a peak that holds and falls at 20 dB/s — they follow the music, unlike the
/// whole-session maxima. Fixed memory (the live loudness meter keeps no history).
struct LiveMeters {
    loudness: crate::dsp::loudness::LoudnessMeter,
    peak_db: f64,
    last: Instant,
    /// When the signal was last above −90 dBFS.
    heard: Instant,
}

impl LiveMeters {
    fn new(sample_rate: f64) -> Self {
        Self {
            loudness: crate::dsp::loudness::LoudnessMeter::stereo(sample_rate).live(),
            peak_db: f64::NEG_INFINITY,
            last: Instant::now(),
            heard: Instant::now(),
        }
    }

    fn process(&mut self, planar: &[&[f32]]) {
        self.loudness.process(planar);
        let peak = planar
            .iter()
            .map(|c| crate::dsp::max_abs(c))
            .fold(0.0f32, f32::max) as f64;
        let db = 20.0 * peak.max(1e-12).log10();
        let dt = self.last.elapsed().as_secs_f64();
        self.last = Instant::now();
        self.peak_db = (self.peak_db - 20.0 * dt).max(db);
        if db > -90.0 {
            self.heard = Instant::now();
        }
    }

    /// Seconds since anything louder than −90 dBFS played.
    fn quiet_for(&self) -> f64 {
        self.heard.elapsed().as_secs_f64()
    }
}

fn draw_status(
    t: f64,
    tempo: Tempo,
    m: &LiveMeters,
    pb: &playback::Playback,
    status: &str,
    playing: bool,
) {
    let f = |v: Option<f64>| v.map_or("  -inf".to_string(), |x| format!("{x:6.1}"));
    let (bar, beat) = tempo.bar_beat(t);
    let line = format!(
        "{} {:02}:{:05.2} {bar:>3}:{:<4.2} | peak {} dB M {} S {} LUFS | load {:3}% xruns {} | {}",
        if playing { ">" } else { "||" },
        (t / 60.0) as u64,
        t % 60.0,
        beat,
        f(m.peak_db.is_finite().then_some(m.peak_db)),
        f(m.loudness.momentary_lufs()),
        f(m.loudness.short_term_lufs()),
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

/// The next key press, if one is waiting. `Err` when the terminal cannot be read any more (its
/// input ended): the caller stops reading keys rather than misreading the end as a key.
fn read_key() -> Result<Option<Key>, ()> {
    use crossterm::event::{poll, read, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
    if !poll(Duration::ZERO).map_err(|_| ())? {
        return Ok(None);
    }
    Ok(match read().map_err(|_| ())? {
        Event::Key(KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press,
            ..
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
    })
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
