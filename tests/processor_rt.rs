//! Realtime safety of the processor: thousands of blocks, 1 000 schedule swaps from the control
//! thread (crossfaded and parameter-only ones), parameter sets, seeks and a streaming WAV player,
//! all without a single allocation or deallocation on the audio thread.
//!
//! The check uses `assert_no_alloc` with `warn_debug`, which counts violations in builds with
//! debug assertions (`cargo test`; `[profile.test]` keeps them on). In builds without debug
//! assertions the crate compiles its checks out, and only the functional assertions remain.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use mixdown::graph::diff::plan_migration;
use mixdown::graph::{compile, CompileConfig, GraphSpec, NodeFactory, Schedule};
use mixdown::io::wav::{probe, WavInfo};
use mixdown::node::Mode;
use mixdown::nodes::{Clip, Delay, DelayTime, Gain, Mute, Pan, Placement, Player, Polarity, Sum};
use mixdown::param::AutomationEvent;
use mixdown::rt::{processor_pair, ControlMsg, SwapError};

#[cfg(debug_assertions)]
#[global_allocator]
static A: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// Allocations seen inside `assert_no_alloc` on this thread so far.
#[cfg(debug_assertions)]
fn violations() -> u32 {
    assert_no_alloc::violation_count()
}

#[cfg(not(debug_assertions))]
fn violations() -> u32 {
    0
}

#[cfg(debug_assertions)]
fn no_alloc<T>(f: impl FnOnce() -> T) -> T {
    assert_no_alloc::assert_no_alloc(f)
}

#[cfg(not(debug_assertions))]
fn no_alloc<T>(f: impl FnOnce() -> T) -> T {
    f()
}

const FILE_FRAMES: usize = 20_000;
const BLOCK: usize = 256;

fn file_sample(i: usize) -> i16 {
    (((i * 7919) % 4001) as i32 * 8 - 16_000) as i16
}

/// A mono 16-bit WAV whose samples are `file_sample(i)`.
fn write_wav(path: &std::path::Path) {
    let data: Vec<u8> = (0..FILE_FRAMES)
        .flat_map(|i| file_sample(i).to_le_bytes())
        .collect();
    let mut f = Vec::new();
    f.extend_from_slice(b"RIFF");
    f.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    f.extend_from_slice(b"WAVEfmt ");
    f.extend_from_slice(&16u32.to_le_bytes());
    f.extend_from_slice(&1u16.to_le_bytes());
    f.extend_from_slice(&1u16.to_le_bytes());
    f.extend_from_slice(&48_000u32.to_le_bytes());
    f.extend_from_slice(&96_000u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&16u16.to_le_bytes());
    f.extend_from_slice(b"data");
    f.extend_from_slice(&(data.len() as u32).to_le_bytes());
    f.extend_from_slice(&data);
    std::fs::write(path, f).unwrap();
}

/// Variant `k` of a session: a streamed file through a fader; later, a clip through mute,
/// polarity, pan and a feedback echo. Every third variant adds a node (a routing change, which
/// the processor crossfades); the others differ only in parameter values.
fn session(info: &Arc<WavInfo>, k: usize) -> GraphSpec {
    let mut g = spec();
    let info = info.clone();
    let factory: NodeFactory =
        Arc::new(move || Box::new(Player::new(info.clone(), Placement::default())));
    let player = g
        .add_with("vox/player", &mixdown::nodes::player::DESC, factory, None)
        .unwrap();
    let fader = g.add("vox/gain", Gain, None).unwrap();
    g.set_param(fader, "gain_db", -((k % 7) as f64)).unwrap();
    let noise: Vec<f32> = (0..30_000)
        .map(|i| ((i * 31) % 97) as f32 / 97.0 - 0.5)
        .collect();
    let clip = g
        .add("synth/clip", Clip::new(vec![noise], 10_000), None)
        .unwrap();
    let mute = g.add("synth/mute", Mute::default(), None).unwrap();
    g.set_param(mute, "mute", 0.0).unwrap();
    g.automate(
        mute,
        "mute",
        AutomationEvent::Set {
            t_s: 0.3,
            value: 1.0,
        },
    )
    .unwrap();
    g.automate(
        mute,
        "mute",
        AutomationEvent::Set {
            t_s: 0.32,
            value: 0.0,
        },
    )
    .unwrap();
    let pol = g.add("synth/polarity", Polarity, None).unwrap();
    let pan = g.add("synth/pan", Pan, None).unwrap();
    g.automate(
        pan,
        "pan",
        AutomationEvent::Linear {
            t_s: 1.0,
            value: -0.7,
        },
    )
    .unwrap();
    let echo_bus = g.add("echo/bus", Sum::new(2), None).unwrap();
    let echo = g
        .add("echo/delay", Delay::new(DelayTime::Frames(300)), None)
        .unwrap();
    g.set_param(echo, "gain_db", -6.0 - (k % 5) as f64).unwrap();
    let master = g.add("master", Sum::new(2), None).unwrap();
    g.connect(player, fader, "in", None).unwrap();
    g.connect(fader, master, "in", None).unwrap();
    g.connect(clip, mute, "in", None).unwrap();
    g.connect(mute, pol, "in", None).unwrap();
    g.connect(pol, pan, "in", None).unwrap();
    g.connect(pan, echo_bus, "in", None).unwrap();
    g.connect(echo_bus, echo, "in", None).unwrap();
    g.connect(echo, echo_bus, "in", None).unwrap();
    if k % 3 == 0 {
        let extra = g.add("echo/trim", Gain, None).unwrap();
        g.connect(echo_bus, extra, "in", None).unwrap();
        g.connect(extra, master, "in", None).unwrap();
    } else {
        g.connect(echo_bus, master, "in", None).unwrap();
    }
    g.set_output(master);
    g
}

fn compile_live(g: &GraphSpec, start_frame: u64) -> Schedule {
    compile(
        g,
        CompileConfig {
            mode: Mode::Realtime,
            start_frame,
            parallel: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Proves the harness: an allocation inside `assert_no_alloc` is counted.
#[cfg(debug_assertions)]
#[test]
fn the_allocation_checker_sees_allocations() {
    std::thread::spawn(|| {
        let before = violations();
        no_alloc(|| drop(std::hint::black_box(vec![1u8; 64])));
        assert!(violations() > before);
    })
    .join()
    .unwrap();
}

#[test]
fn thousand_swaps_under_load_never_allocate_on_the_audio_thread() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("vox.wav");
    write_wav(&wav);
    let info = Arc::new(probe(&wav).unwrap());

    let first = compile_live(&session(&info, 0), 0);
    let mut running = first.summary();
    let (mut proc, mut ctl) = processor_pair(first);
    let shared = ctl.shared().clone();
    // Let the reader thread fill the player's ring before the first block.
    std::thread::sleep(Duration::from_millis(100));

    let stop = Arc::new(AtomicBool::new(false));
    let stop_audio = stop.clone();
    let audio = std::thread::spawn(move || {
        let mut left = vec![0.0f32; BLOCK];
        let mut right = vec![0.0f32; BLOCK];
        let mut opening = vec![0.0f32; 4 * BLOCK];
        let mut blocks = 0usize;
        let mut finite = true;
        let mut energy = 0.0f64;
        let before = violations();
        while !stop_audio.load(Ordering::Acquire) || blocks < 5000 {
            no_alloc(|| {
                let mut outs: [&mut [f32]; 2] = [&mut left, &mut right];
                proc.process(&mut outs);
            });
            if blocks < 4 {
                opening[blocks * BLOCK..(blocks + 1) * BLOCK].copy_from_slice(&left);
            }
            for (l, r) in left.iter().zip(&right) {
                finite &= l.is_finite() && r.is_finite();
                energy += f64::from(l * l + r * r);
            }
            blocks += 1;
            if blocks % 8 == 0 {
                std::thread::yield_now();
            }
        }
        (violations() - before, blocks, opening, finite, energy, proc)
    });

    // The opening blocks play the first schedule untouched.
    while shared.position.load(Ordering::Acquire) < 4 * BLOCK as u64 {
        std::thread::yield_now();
    }
    let mut collected = 0usize;
    let swaps = 1000;
    let mut params_sent = 0;
    for k in 0..swaps {
        let pos = shared.position.load(Ordering::Relaxed);
        // Variant v changes routing when v % 3 == 0 and only parameters otherwise.
        let v = k + 1;
        let mut s = compile_live(&session(&info, v), pos);
        plan_migration(&mut s, &running);
        let gain_node = s.node_paths().position(|p| p == "vox/gain").unwrap() as u32;
        let summary = s.summary();
        let mut boxed = Box::new(s);
        loop {
            match ctl.swap(boxed) {
                Ok(()) => break,
                Err(SwapError(back)) => {
                    boxed = back;
                    collected += ctl.collect_garbage();
                    std::thread::yield_now();
                }
            }
        }
        running = summary;
        if ctl.send(ControlMsg::SetParam {
            node: gain_node,
            param: 0,
            value: -((k % 11) as f32),
        }) {
            params_sent += 1;
        }
        if k % 97 == 0 {
            ctl.send(ControlMsg::Seek(pos / 2));
            ctl.send(ControlMsg::Play(true));
        }
        // Most swaps wait until they are running; the last hundred come in a burst and are
        // coalesced by the processor.
        if k < swaps - 100 {
            let t0 = Instant::now();
            while shared.running_serial.load(Ordering::Acquire) != running.serial {
                assert!(
                    t0.elapsed() < Duration::from_secs(20),
                    "swap {k} never applied"
                );
                collected += ctl.collect_garbage();
                std::thread::yield_now();
            }
        }
        collected += ctl.collect_garbage();
    }
    // Wait for the last schedule to be running, then stop the audio thread.
    let t0 = Instant::now();
    while shared.running_serial.load(Ordering::Acquire) != running.serial {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "last swap never applied"
        );
        collected += ctl.collect_garbage();
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Release);
    let (violations, blocks, opening, finite, energy, proc) = audio.join().unwrap();
    collected += ctl.collect_garbage();

    assert_eq!(violations, 0, "the audio thread allocated or freed memory");
    assert!(blocks >= 5000, "{blocks} blocks");
    // Every schedule but the one running came back to the control thread and was dropped there.
    assert_eq!(collected, swaps, "retired schedules collected");
    assert!(
        proc.swaps() >= (swaps - 100) as u64,
        "{} swaps applied",
        proc.swaps()
    );
    // Both kinds of swap happened: crossfaded (routing changed) and parameter-only ones, which
    // hand node instances over on the audio thread.
    let crossfaded = shared.crossfades.load(Ordering::Relaxed);
    let applied = shared.swaps.load(Ordering::Relaxed);
    eprintln!("{applied} swaps applied, {crossfaded} crossfaded, {blocks} blocks");
    assert!(crossfaded > 100, "{crossfaded} crossfades");
    assert!(
        applied - crossfaded > 250,
        "{} parameter-only swaps",
        applied - crossfaded
    );
    assert!(params_sent > swaps / 2);
    assert!(finite, "non-finite output");
    assert!(energy > 0.0);
    // Before any swap the output is the streamed file, sample for sample, on both channels.
    for (i, y) in opening.iter().enumerate() {
        assert_eq!(*y, f32::from(file_sample(i)) / 32768.0, "frame {i}");
    }
    drop(proc);
}

/// Without swaps, a long run with parameter sets is allocation-free as well (the common case:
/// a mix playing while faders move).
#[test]
fn steady_playback_with_parameter_sets_never_allocates() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("vox.wav");
    write_wav(&wav);
    let info = Arc::new(probe(&wav).unwrap());
    let s = compile_live(&session(&info, 0), 0);
    let gain_node = s.node_paths().position(|p| p == "vox/gain").unwrap() as u32;
    let (mut proc, mut ctl) = processor_pair(s);
    std::thread::sleep(Duration::from_millis(50));
    let (v, blocks) = std::thread::scope(|sc| {
        let h = sc.spawn(|| {
            let mut l = vec![0.0f32; 64];
            let mut r = vec![0.0f32; 64];
            let before = violations();
            for _ in 0..20_000 {
                no_alloc(|| {
                    let mut outs: [&mut [f32]; 2] = [&mut l, &mut r];
                    proc.process(&mut outs);
                });
            }
            (violations() - before, 20_000)
        });
        for k in 0..2000 {
            ctl.send(ControlMsg::SetParam {
                node: gain_node,
                param: 0,
                value: -((k % 13) as f32),
            });
            std::thread::yield_now();
        }
        h.join().unwrap()
    });
    assert_eq!(v, 0);
    assert_eq!(blocks, 20_000);
}
