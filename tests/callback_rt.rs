//! The sound card's callback as it runs in `mixdown play` ([`CallbackRenderer::render`], the
//! very code cpal calls), with every node kind of the registry in a live schedule: thousands of
//! callbacks and hundreds of reloads of every kind of change (parameter glides, inserts added
//! and removed, a node changing kind, re-routing, a track coming and going), at the session's
//! rate and converted to another device rate, with zero allocations on the audio thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mixdown::io::callback::CallbackRenderer;
use mixdown::io::playback::PlaybackStats;
use mixdown::registry::{self, Role};
use mixdown::reload::Reloader;
use mixdown::rt::processor_pair;
use mixdown::script::ScriptOptions;

#[cfg(debug_assertions)]
#[global_allocator]
static A: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// Version `i` of a session holding every insert kind and every generator, plus a file track.
fn script(i: usize) -> String {
    let mut s = String::from(
        "mix.session { sample_rate = 48000, length_s = 36000, tempo_bpm = 120 }\n\
         local f = mix.track('file', { file = 'tone.wav', gain_db = -12 })\n\
         local bus = mix.bus('fx')\n\
         local side = mix.bus('side')\n",
    );
    for k in registry::sources() {
        let Role::Source { selector } = k.role else {
            continue;
        };
        let choice = k
            .option(selector)
            .map(|o| o.range_text())
            .unwrap_or_default();
        let first = choice.split('"').nth(1).unwrap_or("sine").to_string();
        let pattern = match k.name {
            "drum" => ", pattern = 'X.x.o.x.'",
            "synth" => ", pattern = 'c3 . eb3 _ g3:m .'",
            _ => "",
        };
        s.push_str(&format!(
            "local g_{n} = mix.track('{n}', {{ {selector} = '{first}', level_db = -24{pattern} }})\n\
             g_{n}:to(bus)\n",
            n = k.name
        ));
    }
    // Every insert on the bus (the routing changes every 7th save).
    for k in registry::inserts() {
        let opts = match k.name {
            "eq" => format!(
                "mix.bell {{ hz = {}, q = 1, gain_db = -3 }}",
                800 + 10 * (i % 5)
            ),
            "comp" => format!("threshold_db = {}, sidechain = f", -20 - (i % 4) as i32),
            "gate" => "threshold_db = -70".into(),
            "multiband" => "crossovers_hz = { 300, 3000 }".into(),
            "delay_line" => "time_ms = 5".into(),
            "loudness" => "gain_db = -3".into(),
            "reverb" => format!("decay_s = {}", 1.0 + (i % 3) as f64 * 0.2),
            _ => String::new(),
        };
        // Every 11th save drops the saturator; every 13th turns the width into a polarity.
        if k.name == "saturate" && i % 11 == 5 {
            continue;
        }
        let name = if k.name == "width" && i % 13 == 6 {
            "polarity"
        } else {
            k.name
        };
        s.push_str(&format!("bus:{name} {{ {opts} }}\n"));
    }
    if i % 7 == 3 {
        s.push_str("bus:to(side)\n");
    }
    if i % 17 == 8 {
        s.push_str("mix.track('extra', { osc = 'saw', hz = 220, level_db = -30 })\n");
    }
    s.push_str(&format!("mix.master.gain_db = {}\n", -3.0 - (i % 5) as f64));
    s
}

fn run(device_rate: u32, reloads: usize) {
    let dir = tempfile::tempdir().unwrap();
    let tone: Vec<f32> = (0..48000)
        .map(|n| 0.3 * (2.0 * std::f64::consts::PI * 330.0 * n as f64 / 48000.0).sin() as f32)
        .collect();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(dir.path().join("tone.wav"), spec).unwrap();
    for x in &tone {
        w.write_sample(*x).unwrap();
    }
    w.finalize().unwrap();
    let path = dir.path().join("song.lua");
    std::fs::write(&path, script(0)).unwrap();
    let mut reloader = Reloader::new(path.clone(), ScriptOptions::default());
    let first = reloader.build(0).unwrap();
    reloader.mark_sent(&first.schedule);
    let (proc, mut ctl) = processor_pair(*first.schedule);
    let shared = ctl.shared().clone();
    let stats = Arc::new(PlaybackStats::default());
    let mut renderer =
        CallbackRenderer::new(proc, 48000, device_rate, 2, stats.clone(), None).unwrap();
    assert_eq!(renderer.converts_rate(), device_rate != 48000);
    let stop = Arc::new(AtomicBool::new(false));
    let callbacks = Arc::new(AtomicU64::new(0));
    let audio = {
        let (stop, callbacks) = (stop.clone(), callbacks.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0.0f32; 2 * 512];
            let (mut loud, mut finite) = (0.0f32, true);
            #[cfg(debug_assertions)]
            let before = assert_no_alloc::violation_count();
            while !stop.load(Ordering::Relaxed) {
                let n = [64usize, 256, 512, 100][callbacks.load(Ordering::Relaxed) as usize % 4];
                renderer.render(&mut buf[..2 * n], |x| x);
                for x in &buf[..2 * n] {
                    finite &= x.is_finite();
                    loud = loud.max(x.abs());
                }
                callbacks.fetch_add(1, Ordering::Relaxed);
            }
            #[cfg(debug_assertions)]
            let v = assert_no_alloc::violation_count() - before;
            #[cfg(not(debug_assertions))]
            let v = 0;
            (v, loud, finite, renderer)
        })
    };
    for i in 1..=reloads {
        std::fs::write(&path, script(i)).unwrap();
        let pos = shared.position.load(Ordering::Relaxed);
        let b = reloader
            .build(pos)
            .unwrap_or_else(|e| panic!("reload {i}: {e}"));
        let serial = b.schedule.summary().serial;
        reloader.mark_sent(&b.schedule);
        let mut s = b.schedule;
        while let Err(e) = ctl.swap(s) {
            s = e.0;
            ctl.collect_garbage();
            std::thread::yield_now();
        }
        let wait = Instant::now();
        while shared.running_serial.load(Ordering::Relaxed) != serial {
            ctl.collect_garbage();
            assert!(
                wait.elapsed() < Duration::from_secs(10),
                "reload {i} never applied"
            );
            std::thread::yield_now();
        }
    }
    // Thousands of callbacks in all.
    while callbacks.load(Ordering::Relaxed) < 3000 {
        ctl.collect_garbage();
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let (violations, loud, finite, renderer) = audio.join().unwrap();
    drop(renderer);
    ctl.collect_garbage();
    eprintln!(
        "device {device_rate} Hz: {} callbacks, {reloads} reloads ({} swaps, {} path crossfades, {} output fades)",
        callbacks.load(Ordering::Relaxed),
        shared.swaps.load(Ordering::Relaxed),
        shared.path_crossfades.load(Ordering::Relaxed),
        shared.crossfades.load(Ordering::Relaxed)
    );
    assert_eq!(violations, 0, "the callback allocated or freed memory");
    assert!(finite, "a non-finite sample reached the device");
    assert!(loud > 0.01, "the music played: peak {loud}");
    assert!(stats.callbacks.load(Ordering::Relaxed) >= 3000);
    assert!(
        shared.path_crossfades.load(Ordering::Relaxed) + shared.crossfades.load(Ordering::Relaxed)
            > 20
    );
}

#[test]
#[cfg_attr(not(debug_assertions), ignore)]
fn every_node_kind_in_the_real_callback_without_allocating() {
    run(48000, 200);
}

#[test]
#[cfg_attr(not(debug_assertions), ignore)]
fn converted_to_another_device_rate_without_allocating() {
    run(44100, 60);
}
