//! A live reload plans which node instances carry over *before* it prepares anything: a node the
//! running graph already has is never prepared again (no second reader thread or file handle for
//! a file player, no second delay line), and a node the save adds is prepared exactly once, even
//! when the change crossfades its path through a transition schedule. A schedule planned against
//! a graph that is no longer running is refused by the audio thread (it never runs a node that
//! was not prepared), and the reloader recovers by planning again.
//!
//! The counters are process-wide, so the tests in this file take turns.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use mixdown::graph::compile::nodes_prepared;
use mixdown::nodes::player::readers_started;
use mixdown::reload::Reloader;
use mixdown::rt::{processor_pair, Controller, Processor};
use mixdown::script::ScriptOptions;

static TURN: Mutex<()> = Mutex::new(());
const BLOCK: usize = 256;

fn write_tone(path: &std::path::Path, hz: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..48000 * 4 {
        let t = i as f32 / 48000.0;
        w.write_sample(0.25 * (std::f32::consts::TAU * hz * t).sin())
            .unwrap();
    }
    w.finalize().unwrap();
}

/// Four file tracks with inserts; `extra` is appended.
fn script(extra: &str) -> String {
    format!(
        "mix.session {{ sample_rate = 48000, length_s = 4 }}\n\
         local drums = mix.bus 'drums'\n\
         local a = mix.track('a', {{ file = 'a.wav' }})\n\
         a:eq {{ mix.bell {{ hz = 1000, q = 1, gain_db = 2 }} }}\n\
         a:to(drums)\n\
         local b = mix.track('b', {{ file = 'b.wav' }})\n\
         b:comp {{ threshold_db = -20, ratio = 3 }}\n\
         b:to(drums)\n\
         local c = mix.track('c', {{ file = 'c.wav' }})\n\
         c.pan = -0.5\n\
         local d = mix.track('d', {{ file = 'd.wav' }})\n\
         d:reverb {{ decay_s = 1.2, wet = 0.3 }}\n\
         mix.master:limit {{ ceiling_db = -1 }}\n\
         {extra}\n"
    )
}

struct Live {
    dir: tempfile::TempDir,
    reloader: Reloader,
    proc: Processor,
    ctl: Controller,
}

impl Live {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, hz) in [
            ("a", 110.0),
            ("b", 220.0),
            ("c", 330.0),
            ("d", 440.0),
            ("e", 550.0),
        ] {
            write_tone(&dir.path().join(format!("{name}.wav")), hz);
        }
        let path = dir.path().join("song.lua");
        std::fs::write(&path, script("")).unwrap();
        let mut reloader = Reloader::new(path, ScriptOptions::default());
        let first = reloader.build(0).unwrap();
        reloader.mark_sent(&first.schedule);
        let (proc, ctl) = processor_pair(*first.schedule);
        Self {
            dir,
            reloader,
            proc,
            ctl,
        }
    }

    fn play(&mut self, blocks: usize) -> f32 {
        let (mut l, mut r) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
        let mut peak = 0.0f32;
        for _ in 0..blocks {
            self.proc.process(&mut [&mut l, &mut r]);
            peak = l.iter().chain(&r).fold(peak, |m, x| m.max(x.abs()));
            self.ctl.collect_garbage();
        }
        peak
    }

    /// Plays until the output is audible (file players read ahead on their own threads, which a
    /// busy machine may delay), for at most about 2 s; returns the peak.
    fn play_until_heard(&mut self) -> f32 {
        let mut peak = 0.0f32;
        for _ in 0..400 {
            peak = peak.max(self.play(4));
            if peak > 0.05 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        peak
    }

    /// Saves `extra`, builds, sends and plays until the swap (and any crossfade) is done.
    /// Returns (nodes prepared, reader threads started, nodes kept, nodes) for the reload.
    fn reload(&mut self, extra: &str) -> (u64, u64, usize, usize) {
        std::fs::write(self.dir.path().join("song.lua"), script(extra)).unwrap();
        let (p0, r0) = (nodes_prepared(), readers_started());
        let b = self.reloader.build(self.proc.position()).unwrap();
        let counts = (
            nodes_prepared() - p0,
            readers_started() - r0,
            b.migrated,
            b.nodes,
        );
        self.reloader.mark_sent(&b.schedule);
        let serial = b.schedule.summary().serial;
        assert!(self.ctl.swap(b.schedule).is_ok());
        let shared = self.ctl.shared().clone();
        for _ in 0..200 {
            self.play(4);
            if shared.running_serial.load(Ordering::Relaxed) == serial
                && self.proc.swaps() > 0
                && self.play(0) == 0.0
            {
                break;
            }
        }
        assert_eq!(shared.running_serial.load(Ordering::Relaxed), serial);
        assert_eq!(shared.refused.load(Ordering::Relaxed), 0);
        // Past any crossfade: nothing prepared or started while playing.
        self.play(20);
        counts
    }
}

#[test]
fn unchanged_nodes_are_never_prepared_again() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut live = Live::new();
    live.play(50);

    // A parameter change: nothing prepared, no file opened.
    let (prepared, readers, kept, nodes) = live.reload("a.gain_db = -3");
    assert_eq!((prepared, readers), (0, 0), "parameter-only reload");
    assert_eq!(kept, nodes);

    // An insert added on a track: the path crossfades through a transition schedule. Only the
    // new EQ is prepared, once (not once for the transition and once for the final schedule).
    let (prepared, readers, kept, nodes) =
        live.reload("a.gain_db = -3\nc:eq { mix.high_shelf { hz = 6000, gain_db = -3 } }");
    assert_eq!((prepared, readers), (1, 0), "EQ added");
    assert_eq!(kept + 1, nodes);

    // A track added with a new file: its player (one reader thread) and its channel strip.
    let before = nodes;
    let (prepared, readers, kept, nodes) = live.reload(
        "a.gain_db = -3\nc:eq { mix.high_shelf { hz = 6000, gain_db = -3 } }\n\
         mix.track('e', { file = 'e.wav' })",
    );
    assert_eq!(readers, 1, "one file added: one reader");
    assert_eq!(
        prepared as usize,
        nodes - before,
        "only the new track's nodes"
    );
    assert_eq!(kept, before);

    // A track's file changed: that player alone is replaced.
    let (_, readers, kept, nodes) = live.reload(
        "a.gain_db = -3\nc:eq { mix.high_shelf { hz = 6000, gain_db = -3 } }\n\
         mix.track('e', { file = 'a.wav' })",
    );
    assert_eq!(readers, 1, "one file changed: one reader");
    assert_eq!(kept + 1, nodes);

    // The whole thing still plays.
    assert!(live.play_until_heard() > 0.05);
}

#[test]
fn a_schedule_planned_against_another_is_refused_and_planned_again() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut live = Live::new();
    live.play(50);
    let shared = live.ctl.shared().clone();

    // Build B (never sent), then C planned against B: the audio thread still runs A, and C's
    // kept nodes were never prepared, so it must not run.
    std::fs::write(live.dir.path().join("song.lua"), script("a.gain_db = -2")).unwrap();
    let b = live.reloader.build(live.proc.position()).unwrap();
    live.reloader.mark_sent(&b.schedule);
    std::fs::write(live.dir.path().join("song.lua"), script("a.gain_db = -4")).unwrap();
    let c = live.reloader.build(live.proc.position()).unwrap();
    assert!(c.schedule.vacant_count() > 0);
    live.reloader.mark_sent(&c.schedule);
    let serial = c.schedule.summary().serial;
    drop(b);
    assert!(live.ctl.swap(c.schedule).is_ok());
    let swaps = live.proc.swaps();
    let peak = live.play_until_heard();
    assert_eq!(shared.refused.load(Ordering::Relaxed), 1);
    assert_eq!(shared.refused_serial.load(Ordering::Relaxed), serial);
    assert_eq!(live.proc.swaps(), swaps, "refused, not applied");
    assert!(peak > 0.05, "the running graph plays on: peak {peak}");

    // Planning again from scratch prepares everything and fades over to it.
    live.reloader.forget_running();
    let d = live.reloader.build(live.proc.position()).unwrap();
    assert_eq!(d.schedule.vacant_count(), 0);
    live.reloader.mark_sent(&d.schedule);
    let serial = d.schedule.summary().serial;
    assert!(live.ctl.swap(d.schedule).is_ok());
    live.play(40);
    assert_eq!(shared.running_serial.load(Ordering::Relaxed), serial);
    assert_eq!(shared.refused.load(Ordering::Relaxed), 1);
    assert!(live.play_until_heard() > 0.05);
}
