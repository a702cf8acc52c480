//! Playback through 1,000 script reloads: each reload evaluates the script again, compiles it,
//! plans which instances carry over, and swaps it into a processor running on another thread.
//! The audio thread must not allocate or free (counted with assert_no_alloc), every reload must
//! be applied, the music must not click, and the fader must end where the last save put it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mixdown::reload::Reloader;
use mixdown::rt::processor_pair;
use mixdown::script::ScriptOptions;

#[cfg(debug_assertions)]
#[global_allocator]
static A: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn script(i: usize) -> String {
    // The fader moves on every save; every 10th save adds an EQ (a routing change: its paths
    // crossfade);
    // every 25th save a second track comes and goes.
    let gain = -6.0 - (i % 7) as f64;
    let mut s = format!(
        "mix.session {{ sample_rate = 48000, length_s = 36000 }}\n\
         local a = mix.track('a', {{ osc = 'sine', hz = 440, level_db = -6 }})\n\
         a.gain_db = {gain}\n"
    );
    if i % 10 == 5 {
        s.push_str("a:eq { mix.bell { hz = 2000, q = 1, gain_db = -3 } }\n");
    }
    if i % 25 == 12 {
        s.push_str("local b = mix.track('b', { osc = 'sine', hz = 660, level_db = -30 })\n");
    }
    s
}

#[test]
// The allocation counter only exists in debug builds.
#[cfg_attr(not(debug_assertions), ignore)]
fn a_thousand_reloads_without_allocating_on_the_audio_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("song.lua");
    std::fs::write(&path, script(0)).unwrap();
    let mut reloader = Reloader::new(path.clone(), ScriptOptions::default());
    let first = reloader.build(0).unwrap();
    reloader.mark_sent(&first.schedule);
    let (mut proc, mut ctl) = processor_pair(*first.schedule);
    let shared = ctl.shared().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let blocks = Arc::new(AtomicU64::new(0));
    let audio = {
        let (stop, blocks) = (stop.clone(), blocks.clone());
        std::thread::spawn(move || {
            let mut l = vec![0.0f32; 128];
            let mut r = vec![0.0f32; 128];
            let mut prev = 0.0f32;
            let mut max_step = 0.0f32;
            let mut last_peak = 0.0f32;
            #[cfg(debug_assertions)]
            let before = assert_no_alloc::violation_count();
            while !stop.load(Ordering::Relaxed) {
                let run = || {
                    proc.process(&mut [&mut l, &mut r]);
                    let mut peak = 0.0f32;
                    for &x in l.iter() {
                        max_step = max_step.max((x - prev).abs());
                        prev = x;
                        peak = peak.max(x.abs());
                    }
                    last_peak = peak;
                };
                #[cfg(debug_assertions)]
                assert_no_alloc::assert_no_alloc(run);
                #[cfg(not(debug_assertions))]
                run();
                blocks.fetch_add(1, Ordering::Relaxed);
            }
            #[cfg(debug_assertions)]
            let violations = assert_no_alloc::violation_count() - before;
            #[cfg(not(debug_assertions))]
            let violations = 0;
            (violations, max_step, last_peak, proc)
        })
    };
    let t0 = Instant::now();
    let mut migrated_total = 0;
    for i in 1..=1000 {
        std::fs::write(&path, script(i)).unwrap();
        let pos = shared.position.load(Ordering::Relaxed);
        let b = reloader
            .build(pos)
            .unwrap_or_else(|e| panic!("reload {i}: {e}"));
        migrated_total += b.migrated;
        let serial = b.schedule.summary().serial;
        reloader.mark_sent(&b.schedule);
        let mut s = b.schedule;
        while let Err(e) = ctl.swap(s) {
            s = e.0;
            ctl.collect_garbage();
            std::thread::yield_now();
        }
        // Wait for the audio thread to take it (crossfaded swaps take 30 ms of audio).
        let wait = Instant::now();
        while shared.running_serial.load(Ordering::Relaxed) != serial {
            ctl.collect_garbage();
            assert!(
                wait.elapsed() < Duration::from_secs(5),
                "reload {i} never applied"
            );
            std::thread::yield_now();
        }
        ctl.collect_garbage();
    }
    // Let the last glide finish, then stop.
    let settle = blocks.load(Ordering::Relaxed) + 400;
    while blocks.load(Ordering::Relaxed) < settle {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let (violations, max_step, last_peak, proc) = audio.join().unwrap();
    drop(proc);
    ctl.collect_garbage();
    assert_eq!(violations, 0, "the audio thread allocated or freed memory");
    // A routing change plays a transition schedule, then hands over to the final one: two swaps.
    let by_path = shared.path_crossfades.load(Ordering::Relaxed);
    assert_eq!(shared.swaps.load(Ordering::Relaxed), 1000 + by_path);
    // Saves i with i % 10 in {5, 6} add or remove the EQ, those with i % 25 in {12, 13} add or
    // remove track b: 200 + 80 routing changes, every one crossfaded by path.
    assert_eq!(by_path, 280, "routing changes crossfade their paths");
    assert_eq!(
        shared.crossfades.load(Ordering::Relaxed),
        0,
        "no change here needs a fade of the whole output"
    );
    assert!(
        migrated_total >= 3 * 900,
        "unchanged nodes keep their instances: {migrated_total}"
    );
    // A 440 Hz sine of peak p steps by at most 2π·440/48000·p per sample: p is the loudest
    // the faders allow (sine −6 dB, fader −6 dB, centre pan). Crossfading the dry and the
    // equalised path of the same sine swells by up to √2; anything beyond is a click.
    let p = 10f32.powf((-6.0 - 6.0) / 20.0) * std::f32::consts::FRAC_1_SQRT_2;
    assert!(max_step < 0.0576 * p * 1.6, "click: step {max_step}");
    // The last save put the fader at -6 - (1000 % 7) dB = -12 dB; the sine is at -6 dB and the
    // centre pan takes 3.01 dB per channel.
    let want = 10f32.powf((-6.0 - 12.0 - 3.0103) / 20.0);
    assert!(
        (last_peak / want - 1.0).abs() < 0.02,
        "peak {last_peak}, want {want}"
    );
    eprintln!("1000 reloads in {:.1} s", t0.elapsed().as_secs_f64());
}
