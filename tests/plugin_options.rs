//! Plugin options and semantics beyond processing, with real plugins: zam-plugins (CLAP and
//! LV2) and x42-plugins (LV2: `nodelay`, a delay that reports its delay as latency, and
//! `matrixmixer`, 64 parameters), both installed by `.ci/run`.
//!
//! - An LV2 sidechain input (ZamComp's `lv2:isSideChain` port) is fed by `sidechain = strip`.
//! - A plugin starts at the script's settings: its latency is that of those settings.
//! - A latency change while rendering is reported with the plugin's name.
//! - `state_out` writes the plugin's state when the render ends (CLAP, LV2, VST3); a script
//!   loads it back.
//! - A mono plugin on a stereo track runs one copy per channel (CLAP, LV2, VST3).
//! - A plugin with more parameters than a node's slots: the script reaches the ones it names.
//! - LV2 bundles outside the plugin folders load only with `--allow-plugin DIR`.
//!
//! Without the plugins each test says so and passes, except under CI (`CI` set).

mod harness;

use std::process::Command;

use harness::plugins::*;
use harness::*;
use mixdown::io::output::WritePolicy;
use mixdown::render::RenderOptions;

const BIN: &str = env!("CARGO_BIN_EXE_mixdown");

fn have_zam_lv2() -> bool {
    installed("/usr/lib/lv2/ZamComp.lv2", "zam-plugins")
}

fn have_x42() -> bool {
    installed("/usr/lib/lv2/nodelay.lv2", "x42-plugins")
}

#[test]
fn a_sidechain_input_is_fed_by_the_strip_it_names_in_clap_and_lv2() {
    if !have_zam_lv2() || !installed("/usr/lib/clap/ZamComp.clap", "zam-plugins") {
        return;
    }
    let dir = Dir::new();
    // The key: silent for 0.5 s, then loud noise.
    let mut key = noise(48000, 0.9, 7);
    key[..24000].fill(0.0);
    dir.wav("key.wav", 48000, &[&key]);
    // ZamComp's second audio input: a CLAP port, an LV2 `lv2:isSideChain` port. (Its VST3
    // build takes the aux bus — activated, 1 channel, passed in `process` — but does not duck
    // from it: a known gap, see the README.)
    for id in ["clap:com.zamaudio.ZamComp", "lv2:urn:zamaudio:ZamComp"] {
        let song = |opts: &str| {
            format!(
                "mix.session {{ sample_rate = 48000, length_s = 1 }}\n\
                 local k = mix.track('k', 'key.wav')\n\
                 local silent = mix.bus('silent')\nsilent:mute {{}}\nk:to(silent)\n\
                 local t = mix.track('t', {{ osc = 'sine', hz = 1000, level_db = -12 }})\n\
                 t:plugin('{id}', {{ threshold = -40, ratio = 20, attack = 1, \
                 release = 20, sidechain = 1 }}{opts})\n"
            )
        };
        let keyed = dir.render(&song(", { sidechain = k }"));
        let level =
            |r: &Rendered, from: usize| db(tone_amp(&r.l()[from..from + 9600], 1000.0, 48000.0));
        let (before, during) = (level(&keyed, 9600), level(&keyed, 33600));
        eprintln!(
            "{id} keyed by noise: tone {before:.1} dB before the key, {during:.1} dB with it"
        );
        assert!(
            before - during > 10.0,
            "{id}: the key should duck the tone: {before:.1} → {during:.1} dB"
        );
        // The same plugin with nothing on its sidechain leaves the tone alone.
        let unkeyed = dir.render(&song(""));
        let (a, b) = (level(&unkeyed, 9600), level(&unkeyed, 33600));
        assert!((a - b).abs() < 0.5, "{id}: {a} vs {b}");
        // `mixdown plugins` lists the sidechain port.
        let info = mixdown::plugin::resolve(id).unwrap();
        assert_eq!(info.inputs, vec![1, 1], "{id}");
    }
}

#[test]
fn a_value_the_script_sets_applies_over_a_loaded_state_even_at_the_default() {
    if !installed("/usr/lib/clap/ZamEQ2.clap", "zam-plugins") || !have_zam_lv2() {
        return;
    }
    let dir = Dir::new();
    for (id, file) in [
        ("clap:com.zamaudio.ZamEQ2", "eq.state"),
        ("lv2:urn:zamaudio:ZamEQ2", "eq.ttl"),
        ("vst3:ZamEQ2", "eq.vstpreset"),
    ] {
        // A state with +6 dB at 1 kHz; the script sets the boost back to 0 dB, the default.
        let info = mixdown::plugin::resolve(id).unwrap();
        let key = |n: &str| info.param(n).unwrap().1.key;
        let blob = mixdown::plugin::state::save_with(
            &info,
            &[(key("boost_cut_1"), 6.0), (key("frequency_1"), 1000.0)],
        )
        .unwrap();
        std::fs::write(dir.path().join(file), blob).unwrap();
        let script = |p: &str| {
            eq_script(p, &format!("state = '{file}'")).replace("'ZamEQ2'", &format!("'{id}'"))
        };
        let flat = dir.render(&eq_script("", "").replace("'ZamEQ2'", &format!("'{id}'")));
        let from_state = gain_at_1k(dir.render(&script("")).l(), flat.l());
        let reset = gain_at_1k(dir.render(&script("boost_cut_1 = 0")).l(), flat.l());
        eprintln!(
            "{id}: state alone {from_state:+.2} dB at 1 kHz, with boost_cut_1 = 0 {reset:+.2} dB"
        );
        assert!((from_state - 6.0).abs() < 0.3, "{id}: {from_state}");
        assert!(
            reset.abs() < 0.1,
            "{id}: the script's 0 dB did not apply: {reset}"
        );
    }
}

#[test]
fn a_plugin_starts_at_the_scripts_settings_so_its_latency_is_compensated() {
    if !have_x42() {
        return;
    }
    let dir = Dir::new();
    // nodelay delays by `delay_time` frames and reports them as latency: set from the start,
    // the graph compensates the dry path and the two clicks meet.
    let r = click_through(
        &dir,
        "b:plugin('lv2:http://gareus.org/oss/lv2/nodelay', { delay_time = 480 })",
    );
    eprintln!("nodelay at 480 frames: graph latency {}", r.latency);
    assert_eq!(r.latency, 480);
    // Each path alone (the other routed to a muted bus): both clicks at 4800, and the mix is
    // their sum there.
    let alone = |route: &str| {
        click_through(
            &dir,
            &format!(
                "b:plugin('lv2:http://gareus.org/oss/lv2/nodelay', {{ delay_time = 480 }})\n\
                 local silent = mix.bus('silent')\nsilent:mute {{}}\n{route}"
            ),
        )
    };
    let wet = alone("t:to(silent)");
    let dry = alone("b:to(silent)");
    let l = r.l();
    let sum = wet.l()[4800] + dry.l()[4800];
    assert!(wet.l()[4800] > 0.1 && dry.l()[4800] > 0.1);
    assert!(
        (l[4800] - sum).abs() < 1e-6,
        "one click of both paths: {} vs {sum}",
        l[4800]
    );
    let rest = peak_outside(l, 4800);
    assert!(rest < 1e-6, "a second click: {rest}");
    assert!(r
        .report
        .notes
        .iter()
        .all(|n| !n.contains("latency changed")));
}

#[test]
fn a_latency_change_while_rendering_is_reported_with_the_plugins_name() {
    if !have_x42() {
        return;
    }
    let dir = Dir::new();
    let r = click_through(
        &dir,
        "local d = b:plugin('lv2:http://gareus.org/oss/lv2/nodelay', { delay_time = 0 })\n\
         d.delay_time:set(0.5, 960)",
    );
    let note = r
        .report
        .notes
        .iter()
        .find(|n| n.contains("latency changed"))
        .unwrap_or_else(|| panic!("no note: {:?}", r.report.notes));
    eprintln!("{note}");
    assert!(note.contains("No Delay Line"), "{note}");
    assert!(note.contains("0 → 960 frames"), "{note}");
}

fn eq_script(params: &str, opts: &str) -> String {
    format!(
        "mix.session {{ sample_rate = 48000, length_s = 1 }}\n\
         local t = mix.track('t', {{ osc = 'sine', hz = 1000, level_db = -12 }})\n\
         t:plugin('ZamEQ2', {{ {params} }}, {{ {opts} }})\n"
    )
}

#[test]
fn state_out_writes_the_state_a_script_loads_back() {
    if !installed("/usr/lib/clap/ZamEQ2.clap", "zam-plugins") || !have_zam_lv2() {
        return;
    }
    let dir = Dir::new();
    let policy = || Some(WritePolicy::new([dir.path().to_path_buf()]));
    let opts = || RenderOptions {
        state_policy: policy(),
        ..Default::default()
    };
    for (id, file) in [
        ("clap:com.zamaudio.ZamEQ2", "eq.state"),
        ("lv2:urn:zamaudio:ZamEQ2", "eq.ttl"),
        ("vst3:ZamEQ2", "eq.vstpreset"),
    ] {
        let script = |p: &str, o: &str| eq_script(p, o).replace("'ZamEQ2'", &format!("'{id}'"));
        let set = "boost_cut_1 = 6, frequency_1 = 1000";
        let first = dir.render_with(&script(set, &format!("state_out = '{file}'")), opts());
        let saved = dir.path().join(file);
        assert!(saved.is_file(), "{id}: no state written");
        assert!(
            first
                .report
                .notes
                .iter()
                .any(|n| n.contains("plugin state written to")),
            "{:?}",
            first.report.notes
        );
        let loaded = dir.render(&script("", &format!("state = '{file}'")));
        let flat = dir.render(&script("", ""));
        let g = gain_at_1k(loaded.l(), flat.l());
        eprintln!("{id}: the state it saved boosts 1 kHz by {g:.3} dB when loaded");
        assert!((g - 6.0).abs() < 0.3, "{id}: {g}");
        let d = loaded.l()[4800..]
            .iter()
            .zip(&first.l()[4800..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            d < 1e-6,
            "{id}: loaded state vs the settings that made it: {d}"
        );
        std::fs::remove_file(&saved).unwrap();
    }
    // A render that writes no side files says so and writes nothing.
    let r = dir.render(&eq_script("", "state_out = 'x.state'"));
    assert!(!dir.path().join("x.state").exists());
    assert!(
        r.report
            .notes
            .iter()
            .any(|n| n.contains("state_out not written")),
        "{:?}",
        r.report.notes
    );
}

#[test]
fn state_out_outside_the_allowed_folders_is_refused_and_no_mix_is_left() {
    if !installed("/usr/lib/clap/ZamEQ2.clap", "zam-plugins") {
        return;
    }
    let dir = Dir::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("eq.state");
    let script = dir.script(
        "s.lua",
        &eq_script(
            "boost_cut_1 = 6",
            &format!("state_out = '{}'", target.display()),
        ),
    );
    let out_wav = dir.path().join("mix.wav");
    let out = Command::new(BIN)
        .args(["render", script.to_str().unwrap(), "-o"])
        .arg(&out_wav)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("writing here is not allowed"), "{err}");
    assert!(!target.exists() && !out_wav.exists(), "{err}");
    // In the script's folder it is written, next to the mix.
    let script = dir.script(
        "t.lua",
        &eq_script("boost_cut_1 = 6", "state_out = 'presets/eq.state'"),
    );
    let out = Command::new(BIN)
        .args(["render", script.to_str().unwrap(), "-o"])
        .arg(&out_wav)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(dir.path().join("presets/eq.state").is_file(), "{err}");
    assert!(out_wav.is_file());
}

#[test]
fn a_plugin_with_more_parameters_than_slots_reaches_those_the_script_names() {
    if !installed("/usr/lib/lv2/matrixmixer.lv2", "x42-plugins") {
        return;
    }
    let dir = Dir::new();
    let id = "lv2:http://gareus.org/oss/lv2/matrixmixer#i8o8";
    let info = mixdown::plugin::resolve(id).unwrap();
    assert_eq!(info.params.len(), 64);
    assert_eq!(info.params[56].ident, "mix_8_1");
    // The identity routes to outputs 1 and 2 off, input 8 → output 1 (the 57th parameter)
    // carries the tone to the left channel.
    let song = |gain: f64, extra: &str| {
        format!(
            "mix.session {{ sample_rate = 48000, length_s = 1 }}\n\
             local t = mix.track('t', {{ osc = 'sine', hz = 1000, level_db = -12 }})\n\
             local m = t:plugin('{id}', {{ mix_1_1 = 0, mix_2_2 = 0, mix_8_1 = {gain} }})\n{extra}\n"
        )
    };
    let full = dir.render(&song(1.0, ""));
    let half = dir.render(&song(0.5, ""));
    let off = dir.render(&song(0.0, ""));
    let w = 24000..33600;
    let lvl = |r: &Rendered| tone_amp(&r.l()[w.clone()], 1000.0, 48000.0);
    let g = db(lvl(&half) / lvl(&full));
    eprintln!(
        "matrixmixer mix_8_1 = 0.5 vs 1: {g:.3} dB; 1: {:.2} dBFS; 0: {:.1} dBFS",
        db(lvl(&full)),
        db(lvl(&off))
    );
    assert!((db(lvl(&full)) + 12.0).abs() < 0.1);
    assert!((g + 6.02).abs() < 0.05, "{g}");
    assert!(lvl(&off) < 1e-6);
    // Automated through the handle, from silence to full at 0.5 s.
    let auto = dir.render(&song(0.0, "m.mix_8_1:set(0.5, 1)"));
    let late = 33600..43200;
    let g = db(tone_amp(&auto.l()[late.clone()], 1000.0, 48000.0)
        / tone_amp(&full.l()[late], 1000.0, 48000.0));
    assert!(tone_amp(&auto.l()[9600..19200], 1000.0, 48000.0) < 1e-6);
    assert!(g.abs() < 0.05, "after the automated step: {g} dB");
    // Naming more distinct parameters than a node has slots is refused by name.
    let many: Vec<String> = (1..=8)
        .flat_map(|i| (1..=7).map(move |o| format!("mix_{i}_{o} = 0")))
        .collect();
    let e = dir.error(&format!(
        "mix.session {{ sample_rate = 48000 }}\nlocal t = mix.track('t', {{ osc = 'sine' }})\n\
         t:plugin('{id}', {{ {} }})\n",
        many.join(", ")
    ));
    assert!(e.contains("at most 48"), "{e}");
}

#[test]
fn an_lv2_bundle_outside_the_plugin_folders_needs_allow_plugin() {
    if !installed("/usr/lib/lv2/ZamEQ2.lv2", "zam-plugins") {
        return;
    }
    let dir = Dir::new();
    let empty = tempfile::tempdir().unwrap();
    let mine = dir.path().join("my-plugins");
    std::fs::create_dir(&mine).unwrap();
    let st = Command::new("cp")
        .args(["-r", "/usr/lib/lv2/ZamEQ2.lv2"])
        .arg(&mine)
        .status()
        .unwrap();
    assert!(st.success());
    let script = dir.script(
        "s.lua",
        &eq_script("boost_cut_1 = 6", "").replace("'ZamEQ2'", "'lv2:urn:zamaudio:ZamEQ2'"),
    );
    let render = |extra: &[&str]| {
        Command::new(BIN)
            .args(["render", script.to_str().unwrap(), "-o"])
            .arg(dir.path().join("out.wav"))
            .args(extra)
            // lilv's folders hold nothing: only the copy can be found.
            .env("LV2_PATH", empty.path())
            .output()
            .unwrap()
    };
    let out = render(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("not installed") && err.contains("s.lua:3"),
        "{err}"
    );
    let out = render(&["--allow-plugin", mine.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(dir.path().join("out.wav").is_file());
}

#[test]
fn a_mono_plugin_on_a_stereo_track_runs_one_copy_per_channel() {
    if !installed("/usr/lib/clap/ZamEQ2.clap", "zam-plugins") {
        return;
    }
    let dir = Dir::new();
    // Left: 1 kHz, right: 3 kHz. ZamEQ2 (mono) boosts 1 kHz by 6 dB.
    let l = sine(48000, 1000.0, 0.25, 48000.0);
    let r = sine(48000, 3000.0, 0.25, 48000.0);
    dir.wav("lr.wav", 48000, &[&l, &r]);
    for id in [
        "clap:com.zamaudio.ZamEQ2",
        "lv2:urn:zamaudio:ZamEQ2",
        "vst3:ZamEQ2",
    ] {
        let out = dir.render(&format!(
            "mix.session {{ sample_rate = 48000, length_s = 1 }}\n\
             local t = mix.track('t', 'lr.wav')\n\
             t:plugin('{id}', {{ boost_cut_1 = 6, frequency_1 = 1000, bandwidth_1 = 1 }})\n"
        ));
        let w = 24000..33600;
        let amp = |x: &[f32], hz: f64| tone_amp(&x[w.clone()], hz, 48000.0);
        let (l_1k, r_1k) = (amp(out.l(), 1000.0), amp(out.r(), 1000.0));
        let (l_3k, r_3k) = (amp(out.l(), 3000.0), amp(out.r(), 3000.0));
        let boost = db(l_1k / amp(&l, 1000.0));
        eprintln!(
            "{id} on a stereo track: L 1 kHz {boost:+.2} dB, R 1 kHz {:.1} dB, L 3 kHz {:.1} dB, R 3 kHz {:+.2} dB",
            db(r_1k / amp(&l, 1000.0)),
            db(l_3k / amp(&r, 3000.0)),
            db(r_3k / amp(&r, 3000.0))
        );
        // Each channel through its own copy: the boost on the left, nothing of the left in the
        // right (a mono fold-down would put both tones in both channels at −6 dB).
        assert!((boost - 6.0).abs() < 0.3, "{id}: {boost}");
        assert!(
            r_1k < 1e-4 && l_3k < 1e-4,
            "{id}: channels mixed: {r_1k} {l_3k}"
        );
        assert!(db(r_3k / amp(&r, 3000.0)).abs() < 1.0, "{id}");
    }
}

#[test]
fn state_out_onto_an_input_twice_or_outside_is_refused_before_rendering() {
    if !installed("/usr/lib/clap/ZamEQ2.clap", "zam-plugins") {
        return;
    }
    let dir = Dir::new();
    let mix = dir.path().join("mix.wav");
    let cases = [
        // Out of the folder through `..`.
        (
            "state_out = '../escaped.state'",
            "writing here is not allowed",
        ),
        // Onto the script itself.
        ("state_out = 's.lua'", "this is an input of the render"),
        // Onto the mix.
        ("state_out = 'mix.wav'", "written by another output"),
    ];
    for (opt, why) in cases {
        let script = dir.script("s.lua", &eq_script("boost_cut_1 = 6", opt));
        let t0 = std::time::Instant::now();
        let out = Command::new(BIN)
            .args(["render", script.to_str().unwrap(), "-o"])
            .arg(&mix)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{opt}: {err}");
        assert!(err.contains(why) && err.contains("s.lua:3"), "{opt}: {err}");
        assert!(!mix.exists(), "{opt}: a mix was written");
        assert!(t0.elapsed().as_secs_f64() < 10.0);
    }
    assert!(!dir.path().parent().unwrap().join("escaped.state").exists());
    // Two plugins onto one file.
    let two = eq_script("", "state_out = 'x.state'")
        + "t:plugin('ZamEQ2', {}, { state_out = 'x.state' })\n";
    let script = dir.script("s.lua", &two);
    let out = Command::new(BIN)
        .args(["render", script.to_str().unwrap(), "-o"])
        .arg(&mix)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("written by another output"),
        "{err}"
    );
    assert!(!mix.exists() && !dir.path().join("x.state").exists());
}

#[test]
fn an_lv2_plugin_with_event_ports_runs_and_a_bare_uri_finds_it() {
    if !installed("/usr/lib/lv2/fil4.lv2", "x42-plugins") {
        return;
    }
    let dir = Dir::new();
    // x42's parametric EQ has atom (event) ports for its GUI; its master gain is +6 dB here.
    // A bare URI (no `lv2:`) names it too.
    let song = |insert: &str| {
        format!(
            "mix.session {{ sample_rate = 48000, length_s = 1 }}\n\
             local t = mix.track('t', {{ osc = 'sine', hz = 1000, level_db = -12 }})\n{insert}\n"
        )
    };
    let plain = dir.render(&song(""));
    let flat = dir.render(&song("t:plugin('http://gareus.org/oss/lv2/fil4#mono', {})"));
    let boosted = dir.render(&song(
        "t:plugin('lv2:http://gareus.org/oss/lv2/fil4#mono', { gain = 6 })",
    ));
    let (g0, g6) = (
        gain_at_1k(flat.l(), plain.l()),
        gain_at_1k(boosted.l(), plain.l()),
    );
    eprintln!("x42 fil4 (event ports): {g0:+.3} dB flat, {g6:+.3} dB with gain = 6");
    assert!(g0.abs() < 0.05, "{g0}");
    assert!((g6 - 6.0).abs() < 0.05, "{g6}");
    assert!(flat.report.notes.iter().all(|n| !n.contains("failed")));
}
