//! Script semantics as a mix engineer means them: where a session ends, what a parameter is
//! before its first automation event, how switches and note values are written, what `--set`
//! values look like in the script.

mod harness;

use harness::*;
use mixdown::script::ScriptOptions;

/// The session's length ends every source: a 20 s file in a 10 s session stops at 10 s with a
/// 10 ms fade (no cut), and the render is 10 s long.
#[test]
fn the_session_length_ends_file_sources_with_a_short_fade() {
    let dir = Dir::new();
    dir.stereo("long.wav", &vec![0.5; frames(20.0)]);
    let r = dir.render("mix.session { length_s = 10 }\nmix.track('a', 'long.wav')\n");
    assert_eq!(r.l().len(), frames(10.0), "render length");
    let fade = frames(0.01);
    let n = r.l().len();
    // Full level until the fade, then a linear ramp down to the last frame.
    assert!((r.l()[n - fade - 1] - 0.5).abs() < 1e-6);
    for (i, x) in r.l()[n - fade..].iter().enumerate() {
        let want = 0.5 * (fade - i) as f32 / fade as f32;
        assert!(
            (x - want).abs() < 1e-6,
            "frame {i} of the fade: {x}, want {want}"
        );
    }
    // The check of the compiled graph agrees on the length.
    let ev = dir
        .eval("mix.session { length_s = 10 }\nmix.track('a', 'long.wav')\n")
        .unwrap();
    let s = mixdown::graph::compile(&ev.spec, Default::default()).unwrap();
    assert_eq!(s.length_frames, frames(10.0) as u64);
}

/// A tone track through a mute automated from 0.5 s to 1 s; returns the RMS of each 0.25 s.
fn mute_profile(insert: &str, automation: &str) -> Vec<f64> {
    let dir = Dir::new();
    let r = dir.render(&format!(
        "mix.session {{ length_s = 1.5 }}\nlocal t = mix.track('t', {{ osc = 'sine', hz = 500, level_db = -6 }})\n\
         local m = t:{insert}\nm.mute{automation}\n"
    ));
    r.l().chunks(frames(0.25)).map(rms).collect()
}

/// Before its first automation event a parameter holds its static value when the script set
/// one, else the first event's value (the usual DAW rule).
#[test]
fn a_parameter_before_its_first_event() {
    // Static value given (not muted): audible, muted 0.5–1 s, audible again.
    let p = mute_profile("mute { mute = false }", ":set(0.5, true):set(1, false)");
    let on: Vec<bool> = p.iter().map(|r| *r > 0.1).collect();
    assert_eq!(on, [true, true, false, false, true, true], "{p:?}");
    // No static value: the first event's value (unmuted) holds from the start.
    let p = mute_profile("mute {}", ":set(0.5, false)");
    assert!(p.iter().all(|r| *r > 0.1), "{p:?}");
    // The default of a mute insert is muted, until its first event says otherwise.
    let p = mute_profile("mute {}", ":set(1, true)");
    assert!(p.iter().all(|r| *r < 1e-3), "{p:?}");
}

#[test]
fn a_static_value_overridden_by_automation_is_a_warning() {
    let dir = Dir::new();
    let ev = dir
        .eval(
            "mix.session { length_s = 2 }\nlocal t = mix.track('t', { osc = 'sine' })\n\
             local c = t:comp { threshold_db = -20 }\nc.threshold_db:set(1, -30)\n",
        )
        .unwrap();
    let w: Vec<String> = ev.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        w.iter().any(|w| w.contains("test.lua:3")
            && w.contains("threshold_db is set to -20 and also automated")
            && w.contains("first event (-30 at 1 s)")),
        "{w:?}"
    );
}

/// Switches take booleans (options, static sets, automation); a wrong type names the parameter.
#[test]
fn switches_take_booleans_and_errors_name_the_parameter() {
    let dir = Dir::new();
    dir.eval(
        "mix.session { length_s = 1 }\nlocal t = mix.track('t', { osc = 'sine' })\n\
         local m = t:mute { mute = true }\nm.mute = false\nm.mute:set(0.5, true)\n\
         t:polarity { invert = false }\n",
    )
    .unwrap();
    let e = dir.error(
        "mix.session { length_s = 1 }\nlocal t = mix.track('t', { osc = 'sine' })\n\
         t.gain_db:set(0.5, 'loud')\n",
    );
    assert!(
        e.contains("test.lua:3")
            && e.contains("gain_db: the automation value must be a number, got a string"),
        "{e}"
    );
}

#[test]
fn triplets_take_either_case() {
    let dir = Dir::new();
    let a = dir.eval("local x = mix.note('1/4T')\nmix.render { path = 'x' .. x .. '.wav' }\n");
    let b = dir.eval("local x = mix.note('1/4t')\nmix.render { path = 'x' .. x .. '.wav' }\n");
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.renders[0].path, b.renders[0].path);
    // A quarter-note triplet at 120 BPM is a third of a second.
    assert!(a.renders[0]
        .path
        .display()
        .to_string()
        .starts_with("x0.333"));
    let dir = Dir::new();
    dir.eval(
        "mix.session { length_s = 1 }\nmix.track('t', { osc = 'sine' }):delay { note = '1/8T' }\n",
    )
    .unwrap();
}

/// `--set` values: integers stay integers, other numbers are floats, the rest strings.
#[test]
fn set_values_keep_their_type() {
    let dir = Dir::new();
    let opts = ScriptOptions {
        args: vec![
            ("n".into(), "1".into()),
            ("x".into(), "1.5".into()),
            ("s".into(), "stems/a".into()),
        ],
        ..Default::default()
    };
    let ev = mixdown::script::evaluate_source(
        "mix.render { path = tostring(mix.args.n) .. '_' .. math.type(mix.args.n) .. '_' .. tostring(mix.args.x) .. '_' .. mix.args.s .. '.wav' }\n",
        "t.lua",
        dir.path(),
        &opts,
    )
    .unwrap();
    assert_eq!(
        ev.renders[0].path.display().to_string(),
        "1_integer_1.5_stems/a.wav"
    );
}

/// A range render of a song with a loudness node applies the gain of the whole song: the
/// excerpt is sample for sample the same span of the full render. Asked to, the excerpt is
/// normalised on its own instead.
#[test]
fn a_range_render_keeps_the_whole_songs_loudness_gain() {
    let dir = Dir::new();
    let src = "mix.session { length_s = 6 }\n\
               mix.track('quiet', { osc = 'sine', hz = 300, level_db = -40, length_s = 3 })\n\
               mix.track('loud', { osc = 'sine', hz = 500, level_db = -10, start_s = 3, length_s = 3 })\n\
               mix.master:loudness { target_lufs = -20 }\n";
    let full = dir.render(src);
    let opts = |excerpt| mixdown::render::RenderOptions {
        from_s: Some(1.0),
        to_s: Some(2.0),
        excerpt_loudness: excerpt,
        ..Default::default()
    };
    let part = dir.render_with(src, opts(false));
    assert_eq!(part.l(), &full.l()[frames(1.0)..frames(2.0)]);
    let alone = dir.render_with(src, opts(true));
    assert!(
        (alone.lufs() - -20.0).abs() < 0.2,
        "the excerpt on its own reaches the target: {}",
        alone.lufs()
    );
    assert!(alone.lufs() > part.lufs() + 10.0);
}

/// The master fader comes after the master's inserts: a gain there behind the mastering chain's
/// limiter is pointed out with the line and where to put the gain instead.
#[test]
fn master_gain_after_the_limiter_is_explained() {
    let dir = Dir::new();
    let ev = dir
        .eval(
            "mix.session { length_s = 1 }\nmix.track('a', { osc = 'saw' })\n\
             local m = require 'mastering.streaming'\nm(mix.master, {})\nmix.master.gain_db = 3\n",
        )
        .unwrap();
    let w: Vec<String> = ev.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        w.iter().any(|w| w
            .starts_with("test.lua:5: the master fader (+3 dB) comes after the master's inserts")
            && w.contains("mix.master:gain { gain_db = 3 }")),
        "{w:?}"
    );
    // Below 0 dB it is fine.
    let ev = dir
        .eval("mix.track('a', { osc = 'saw', bars = 1 })\nmix.master:limit {}\nmix.master.gain_db = -1\n")
        .unwrap();
    assert!(ev.warnings.is_empty(), "{:?}", ev.warnings);
}
