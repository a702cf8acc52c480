//! Third-party plugin hosting with the real plugins Debian's `zam-plugins` installs in
//! /usr/lib/clap (installed by `.ci/run`): listing, processing, an EQ boost measured at its
//! frequency, latency compensation, sample-accurate automation, block-size invariance, state
//! files, errors.
//!
//! Without /usr/lib/clap/ZamEQ2.clap each test says so and passes, except under CI (`CI` set),
//! where the plugins must be there.

mod harness;

use harness::plugins::*;
use harness::*;
use mixdown::plugin;
use mixdown::reload::Reloader;
use mixdown::rt::{processor_pair, Controller, Processor};
use mixdown::script::ScriptOptions;

// Counts allocations inside `assert_no_alloc` (debug-assertion builds, as the test profile is).
#[cfg(debug_assertions)]
#[global_allocator]
static A: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// Whether the zam plugins are here; under CI they must be.
fn have_plugins() -> bool {
    installed("/usr/lib/clap/ZamEQ2.clap", "zam-plugins")
}

#[test]
fn lists_the_installed_clap_plugins_with_parameters() {
    if !have_plugins() {
        return;
    }
    let (all, errs) = plugin::scan();
    assert!(errs.is_empty(), "{errs:?}");
    let eq = all
        .iter()
        .find(|p| p.name == "ZamEQ2")
        .expect("ZamEQ2 listed");
    assert_eq!(eq.id, "clap:com.zamaudio.ZamEQ2");
    assert_eq!((eq.main_inputs(), eq.main_outputs()), (1, 1));
    let (_, gain) = eq.param("boost_cut_1").expect("boost_cut_1");
    assert_eq!((gain.min, gain.max, gain.default), (-50.0, 20.0, 0.0));
    let comp = all.iter().find(|p| p.name == "ZamComp").unwrap();
    assert_eq!(comp.inputs, vec![1, 1], "ZamComp has a sidechain input");
    let maxim = all.iter().find(|p| p.name == "ZaMaximX2").unwrap();
    assert!(maxim.latency > 0, "ZaMaximX2 reports its lookahead");
    // A bare name matching one plugin resolves to it.
    assert_eq!(plugin::resolve("zameq2").unwrap().id, eq.id);
}

#[test]
fn eq_boost_is_measured_at_its_frequency() {
    if !have_plugins() {
        return;
    }
    let dir = Dir::new();
    let fx = "t:plugin('clap:com.zamaudio.ZamEQ2', { boost_cut_1 = 6, frequency_1 = 1000, bandwidth_1 = 1 })";
    let flat = "t:plugin('ZamEQ2', {})";
    for (hz, want, tol) in [(1000.0, 6.0, 0.3), (100.0, 0.0, 0.3)] {
        let a = dir.render(&tone_script(hz, fx));
        let b = dir.render(&tone_script(hz, flat));
        // A whole number of periods from 0.5 s (past any parameter smoothing).
        let w = 24000..(24000 + 4800);
        let g = db(tone_amp(&a.l()[w.clone()], hz, 48000.0) / tone_amp(&b.l()[w], hz, 48000.0));
        eprintln!("ZamEQ2 boost_cut_1 = 6 dB at 1 kHz: {g:.3} dB at {hz} Hz");
        assert!((g - want).abs() < tol, "{g} dB at {hz} Hz, want {want}");
    }
}

#[test]
fn plugin_latency_is_compensated_against_a_dry_path() {
    if !have_plugins() {
        return;
    }
    let dir = Dir::new();
    let r = click_through(
        &dir,
        "b:plugin('clap:com.zamaudio.ZaMaximX2', { threshold = 0, output_ceiling = 0 })",
    );
    let plain = click_through(&dir, "");
    eprintln!(
        "ZaMaximX2 latency compensated: graph latency {} frames",
        r.latency
    );
    assert!(r.latency >= 400, "latency {}", r.latency);
    let l = r.l();
    assert_eq!(loudest(l), 4800, "the two paths meet at the click");
    // One impulse: the dry and limited paths add up where the plain render (two unprocessed
    // paths) has its click, and nothing anywhere else.
    let p = plain.l();
    assert!(
        (l[4800] - p[4800]).abs() < 1e-3,
        "{} vs {}",
        l[4800],
        p[4800]
    );
    let rest = peak_outside(l, 4800);
    assert!(rest < 1e-3, "energy outside the click: {rest}");
}

#[test]
fn automation_takes_effect_at_its_sample_whatever_the_block_size() {
    if !have_plugins() {
        return;
    }
    let dir = Dir::new();
    let base = tone_script(
        440.0,
        "local eq = t:plugin('clap:com.zamaudio.ZamEQ2', { master_gain = 0 })",
    );
    let auto = format!("{base}eq.master_gain:set(0.25, 9)\n");
    for block in [64, 512] {
        let a = render_block(&dir, &auto, block);
        let b = render_block(&dir, &base, block);
        let first = a
            .l()
            .iter()
            .zip(b.l())
            .position(|(x, y)| x != y)
            .expect("the automation changes the output");
        eprintln!(
            "master_gain:set(0.25, 9) first changes frame {first} at block {block}: {:?} vs {:?}",
            &a.l()[first..first + 3],
            &b.l()[first..first + 3]
        );
        assert_eq!(first, 12000, "block {block}");
    }
}

#[test]
fn output_is_bit_identical_across_block_sizes() {
    if !have_plugins() {
        return;
    }
    let dir = Dir::new();
    let src = format!(
        "{}eq.boost_cut_1:set(0.1, -6):linear_to(0.6, 9)\neq.frequency_1:set(0.2, 300):linear_to(0.9, 3000)\n",
        tone_script(
            700.0,
            "local eq = t:plugin('ZamEQ2', { boost_cut_1 = 3 })"
        )
    );
    assert_block_invariant(&dir, &src);
}

#[test]
fn unknown_parameter_gets_did_you_mean_and_range_errors_name_the_plugin() {
    if !have_plugins() {
        return;
    }
    let dir = Dir::new();
    let e = dir.error(&tone_script(
        440.0,
        "t:plugin('ZamEQ2', { boost_cut1 = 3 })",
    ));
    assert!(e.contains("test.lua:3"), "{e}");
    assert!(e.contains("ZamEQ2"), "{e}");
    assert!(e.contains("did you mean 'boost_cut_1'"), "{e}");
    let e = dir.error(&tone_script(
        440.0,
        "t:plugin('ZamEQ2', { boost_cut_1 = 30 })",
    ));
    assert!(e.contains("allowed -50 to 20"), "{e}");
    let e = dir.error(&tone_script(
        440.0,
        "local h = t:plugin('ZamEQ2', {})\nh.master_gain:linear_to(0.5, 40)",
    ));
    assert!(
        e.contains("test.lua:4") && e.contains("allowed -12 to 12"),
        "{e}"
    );
    let e = dir.error(&tone_script(
        440.0,
        "local h = t:plugin('ZamEQ2', {})\nh.mastergain:set(0.5, 1)",
    ));
    assert!(e.contains("did you mean 'master_gain'"), "{e}");
    let e = dir.error(&tone_script(440.0, "t:plugin('ZamEQ3', {})"));
    assert!(e.contains("not installed") && e.contains("ZamEQ2"), "{e}");
    eprintln!("{e}");
}

#[test]
fn state_file_round_trip_gives_identical_output() {
    if !have_plugins() {
        return;
    }
    let dir = Dir::new();
    let info = plugin::resolve("ZamEQ2").unwrap();
    let key = |n: &str| info.param(n).unwrap().1.key;
    let blob = plugin::state::save_with(
        &info,
        &[(key("boost_cut_1"), 6.0), (key("frequency_1"), 1000.0)],
    )
    .unwrap();
    std::fs::write(dir.path().join("eq.state"), blob).unwrap();
    let from_state = dir.render(&tone_script(
        1000.0,
        "t:plugin('ZamEQ2', {}, { state = 'eq.state' })",
    ));
    let direct = dir.render(&tone_script(
        1000.0,
        "t:plugin('ZamEQ2', { boost_cut_1 = 6, frequency_1 = 1000 })",
    ));
    let flat = dir.render(&tone_script(1000.0, "t:plugin('ZamEQ2', {})"));
    let g = gain_at_1k(from_state.l(), flat.l());
    assert!((g - 6.0).abs() < 0.3, "state boost {g} dB");
    // From 0.1 s on (the directly set values reach the plugin as events in the first block,
    // which it may smooth) the two are the same.
    let diff = from_state.l()[4800..]
        .iter()
        .zip(&direct.l()[4800..])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("state vs direct parameters: max difference {diff:e} after 0.1 s");
    assert!(diff < 1e-6, "{diff}");
    // The state's own render is reproducible.
    let again = dir.render(&tone_script(
        1000.0,
        "t:plugin('ZamEQ2', {}, { state = 'eq.state' })",
    ));
    assert_eq!(again.l(), from_state.l());
}

#[test]
fn plugin_state_cli_writes_a_file_scripts_load() {
    if !have_plugins() {
        return;
    }
    let dir = Dir::new();
    let exe = env!("CARGO_BIN_EXE_mixdown");
    let out = std::process::Command::new(exe)
        .args(["plugins", "--json", "--format", "clap", "ZamEQ2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["id"], "clap:com.zamaudio.ZamEQ2");
    assert_eq!(v["params"][0]["ident"], "boost_cut_1");
    assert_eq!(v["params"][0]["min"], -50.0);
    let bad = std::process::Command::new(exe)
        .args(["plugin-state", "save", "ZamEQ2"])
        .arg(dir.path().join("x.state"))
        .args(["--set", "boost_cut_1=60"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("allowed -50 to 20"));
    let g = state_file_boost_through_the_cli(&dir, "ZamEQ2", "boost.state");
    assert!((g - 6.0).abs() < 0.3, "{g} dB");
}

/// Runs `blocks` blocks of 128 frames, returning the left channel; counts allocations.
fn play(proc: &mut Processor, ctl: &mut Controller, blocks: usize, out: &mut Vec<f32>) -> u32 {
    let (mut l, mut r) = (vec![0.0f32; 128], vec![0.0f32; 128]);
    let before = violations();
    for _ in 0..blocks {
        no_alloc(|| proc.process(&mut [&mut l, &mut r]));
        out.extend_from_slice(&l);
        ctl.collect_garbage();
    }
    violations() - before
}

fn delay_script(output_gain: f64, extra: &str) -> String {
    format!(
        "mix.session {{ sample_rate = 48000, length_s = 3600 }}\n\
         local t = mix.track('t', {{ osc = 'sine', hz = 1000, level_db = -12, length_s = 0.05 }})\n\
         local d = t:plugin('ZamDelay', {{ time = 160, feedback = 0.7, dry_wet = 1, lpf = 20000, output_gain = {output_gain} }})\n\
         {extra}\n"
    )
}

/// RMS of the echo starting `n` delay times after the burst.
fn echo(x: &[f32], n: usize) -> f64 {
    let at = n * 7680 + 600;
    rms(&x[at..at + 1200])
}

#[test]
fn a_reload_keeps_the_plugin_instance_and_its_delay_tail() {
    if !have_plugins() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("song.lua");
    let run = |reload: bool| {
        std::fs::write(&path, delay_script(0.0, "")).unwrap();
        let mut reloader = Reloader::new(path.clone(), ScriptOptions::default());
        let first = reloader.build(0).unwrap();
        reloader.mark_sent(&first.schedule);
        let (mut proc, mut ctl) = processor_pair(*first.schedule);
        let mut out = Vec::new();
        // 0.25 s: the burst and its first echo (at 0.16 s) have played.
        assert_eq!(play(&mut proc, &mut ctl, 94, &mut out), 0);
        if reload {
            // Only the plugin's output gain changes: same id, state and options.
            std::fs::write(&path, delay_script(-6.0, "")).unwrap();
            let loaded = plugin::node::instances_loaded();
            let b = reloader.build(out.len() as u64).unwrap();
            assert!(!b.crossfades_paths, "nothing is crossfaded");
            assert_eq!(b.migrated, b.nodes, "every node keeps its instance");
            // No throw-away copy of the kept plugin was loaded to plan the reload.
            assert_eq!(plugin::node::instances_loaded(), loaded);
            reloader.mark_sent(&b.schedule);
            assert!(ctl.swap(b.schedule).is_ok());
        }
        assert_eq!(play(&mut proc, &mut ctl, 281, &mut out), 0);
        drop(proc);
        ctl.collect_garbage();
        out
    };
    let kept = run(true);
    let plain = run(false);
    for n in 1..=4 {
        eprintln!(
            "ZamDelay echo {n}: {:.2} dB without reload, {:.2} dB with output_gain -6 from 0.25 s",
            db(echo(&plain, n)),
            db(echo(&kept, n))
        );
    }
    // Echo 1 plays before the reload; echoes 2 to 4 come from the kept instance's delay line,
    // 6 dB down: a new instance would have an empty line.
    assert!((db(echo(&kept, 1)) - db(echo(&plain, 1))).abs() < 0.01);
    for n in 2..=4 {
        let d = db(echo(&kept, n)) - db(echo(&plain, n));
        assert!((d + 6.0).abs() < 0.2, "echo {n}: {d} dB");
    }
}

#[test]
fn a_thousand_blocks_and_a_hundred_reloads_allocate_nothing_on_the_audio_thread() {
    if !have_plugins() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("song.lua");
    // Parameter changes on every reload; every 10th reload adds (or removes) a second plugin,
    // a routing change whose paths crossfade.
    let script = |i: usize| {
        let extra = if i % 20 >= 10 {
            "local c = t:plugin('ZamComp', { threshold = -20 })\nc.ratio:linear_to(0.5, 8)"
        } else {
            ""
        };
        format!(
            "{}\nlocal eq = t:plugin('ZamEQ2', {{ boost_cut_1 = {} }})\neq.frequency_1:set(0, 300):linear_to(2, 3000)\nlocal l = t:plugin('lv2:urn:zamaudio:ZamEQ2', {{}})\nl.master_gain:set(0, -3):linear_to(2, 3)\n\
             -- a stereo file: mono ZamEQ2 runs one copy per channel; an LV2 sidechain keyed by t\n\
             local s = mix.track('s', 'lr.wav')\n\
             local se = s:plugin('ZamEQ2', {{ boost_cut_1 = 2 }})\nse.frequency_1:set(0, 500):linear_to(2, 2000)\n\
             s:plugin('lv2:urn:zamaudio:ZamCompX2', {{ threshold = -30, sidechain = 1 }}, {{ sidechain = t }})\n",
            delay_script(-((i % 7) as f64), extra),
            (i % 5) as f64
        )
    };
    let lr = sine(480000, 440.0, 0.3, 48000.0);
    write_wav(&dir.path().join("lr.wav"), 48000, &[&lr, &lr]);
    std::fs::write(&path, script(0)).unwrap();
    let mut reloader = Reloader::new(path.clone(), ScriptOptions::default());
    let first = reloader.build(0).unwrap();
    reloader.mark_sent(&first.schedule);
    let (mut proc, mut ctl) = processor_pair(*first.schedule);
    let mut out = Vec::new();
    let mut allocs = play(&mut proc, &mut ctl, 10, &mut out);
    let mut kept = 0;
    for i in 1..=100 {
        std::fs::write(&path, script(i)).unwrap();
        let b = reloader
            .build(out.len() as u64)
            .unwrap_or_else(|e| panic!("reload {i}: {e}"));
        kept += b.migrated;
        reloader.mark_sent(&b.schedule);
        let mut s = b.schedule;
        while let Err(e) = ctl.swap(s) {
            s = e.0;
            allocs += play(&mut proc, &mut ctl, 1, &mut out);
        }
        allocs += play(&mut proc, &mut ctl, 10, &mut out);
    }
    drop(proc);
    ctl.collect_garbage();
    // The counter works here: an allocation inside the checked scope is seen.
    #[cfg(debug_assertions)]
    {
        let before = violations();
        no_alloc(|| std::hint::black_box(vec![0u8; 16]));
        assert!(violations() > before, "the allocation checker is blind");
    }
    eprintln!(
        "{} blocks, 100 reloads ({kept} node instances kept), {allocs} allocations on the audio thread",
        out.len() / 128
    );
    assert!(out.len() / 128 >= 1000);
    assert!(out.iter().all(|x| x.is_finite()));
    assert_eq!(allocs, 0, "the audio thread allocated");
}

#[test]
fn nan_from_a_plugin_is_silenced_and_reported_with_its_name() {
    if !have_plugins() {
        return;
    }
    // ZamEQ2 accepts 14 kHz bands at any rate: above a 22.05 kHz session's Nyquist its
    // filters blow up, through infinity to NaN.
    let dir = Dir::new();
    let r = dir.render(
        "mix.session { sample_rate = 22050, length_s = 1 }\n\
         local t = mix.track('t', { noise = 'white', level_db = 0 })\n\
         t:plugin('ZamEQ2', { boost_cut_h = 20, frequency_h = 14000, boost_cut_1 = 20, frequency_1 = 14000, bandwidth_1 = 0.1 })\n",
    );
    eprintln!("NaN/Inf report: {:?}", r.report.nan_report);
    let (node, n) = &r.report.nan_report[0];
    assert_eq!(node, "t/ZamEQ2");
    assert!(*n > 0);
    assert!(r.l().iter().all(|x| x.is_finite()));
}

#[test]
fn the_same_zameq2_setting_in_clap_and_lv2_gives_the_same_output() {
    if !have_plugins() || !std::path::Path::new("/usr/lib/lv2/ZamEQ2.lv2").exists() {
        return;
    }
    let dir = Dir::new();
    let set = "{ boost_cut_1 = 6, frequency_1 = 1000, bandwidth_1 = 1, boost_cut_h = -4 }";
    let auto = "h.boost_cut_1:set(0.3, 6):linear_to(0.7, -3)\n";
    let clap = render_block(
        &dir,
        &format!(
            "{}{auto}",
            tone_script(
                700.0,
                &format!("local h = t:plugin('clap:com.zamaudio.ZamEQ2', {set})")
            )
        ),
        256,
    );
    let lv2 = render_block(
        &dir,
        &format!(
            "{}{auto}",
            tone_script(
                700.0,
                &format!("local h = t:plugin('lv2:urn:zamaudio:ZamEQ2', {set})")
            )
        ),
        256,
    );
    assert_eq!(clap.l().len(), lv2.l().len());
    // From 0.05 s: the CLAP instance gets the script's values as events in its first block,
    // the LV2 one as control values before its first run.
    let d = clap.l()[2400..]
        .iter()
        .zip(&lv2.l()[2400..])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("ZamEQ2 CLAP vs LV2, automated: max difference {d:e}");
    assert!(d < 1e-5, "{d}");
}

#[test]
fn lv2_latency_is_compensated_and_its_state_round_trips() {
    if !have_plugins() || !std::path::Path::new("/usr/lib/lv2/ZaMaximX2.lv2").exists() {
        return;
    }
    let dir = Dir::new();
    let r = click_through(&dir, "b:plugin('lv2:urn:zamaudio:ZaMaximX2', {})");
    eprintln!("LV2 ZaMaximX2: graph latency {} frames", r.latency);
    assert_eq!(r.latency, 480);
    assert_eq!(loudest(r.l()), 4800);
    // State: lilv's Turtle, saved with a boost, loaded by a script.
    let info = plugin::resolve("lv2:urn:zamaudio:ZamEQ2").unwrap();
    let key = |n: &str| info.param(n).unwrap().1.key;
    let blob = plugin::state::save_with(
        &info,
        &[(key("boost_cut_1"), 6.0), (key("frequency_1"), 1000.0)],
    )
    .unwrap();
    std::fs::write(dir.path().join("eq.ttl"), &blob).unwrap();
    let a = dir.render(&tone_script(
        1000.0,
        "t:plugin('lv2:urn:zamaudio:ZamEQ2', {}, { state = 'eq.ttl' })",
    ));
    let b = dir.render(&tone_script(
        1000.0,
        "t:plugin('lv2:urn:zamaudio:ZamEQ2', { boost_cut_1 = 6, frequency_1 = 1000 })",
    ));
    assert_eq!(a.l(), b.l(), "state and direct values give the same output");
    let flat = dir.render(&tone_script(
        1000.0,
        "t:plugin('lv2:urn:zamaudio:ZamEQ2', {})",
    ));
    let g = gain_at_1k(a.l(), flat.l());
    eprintln!("LV2 ZamEQ2 from its Turtle state: {g:.3} dB at 1 kHz");
    assert!((g - 6.0).abs() < 0.3, "{g}");
}
