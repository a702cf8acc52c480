//! Live playback on a machine with no sound card (see ../shared/reference/headless-audio.md):
//! - the ALSA null device plays a counted number of frames;
//! - without a usable device, `play` says so and lists devices (no panic, no ALSA noise);
//! - end to end under JACK's dummy driver (real-time paced) with ALSA recording what was played:
//!   the script is rewritten while it plays (fader −6 dB, an insert added, a track removed, a
//!   syntax error, then the fix) and the recording is analysed.
//!
//! The JACK test needs `jackd` and the ALSA jack plugin (`.ci/run` installs them). Where they are
//! missing it is skipped, except under CI (`CI=true`), where it fails.

use std::f64::consts::PI;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mixdown");

fn write(path: &Path, text: &str) {
    // Atomic save, as editors do: write a temporary file, then rename it over the original.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

const SONG: &str = r#"
mix.session { sample_rate = 48000, length_s = 600 }
local a = mix.track("a", { osc = "sine", hz = 440, level_db = -12 })
local b = mix.track("b", { osc = "sine", hz = 660, level_db = -12 })
"#;

#[test]
fn null_device_plays_a_counted_number_of_frames() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("song.lua");
    write(&script, SONG);
    let out = Command::new(BIN)
        .args([
            "play",
            script.to_str().unwrap(),
            "--device",
            "alsa:null",
            "--duration",
            "1",
            "--buffer",
            "256",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // The null device is not paced; the run stops once one second of frames was delivered.
    let played: f64 = err
        .split("played ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no summary in: {err}"));
    assert!(played >= 1.0, "{err}");
}

#[test]
fn without_a_device_play_explains_and_lists_devices() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("song.lua");
    write(&script, SONG);
    let out = Command::new(BIN)
        .args([
            "play",
            script.to_str().unwrap(),
            "--device",
            "alsa:nonexistent-device",
            "--duration",
            "1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("nonexistent-device"), "{err}");
    assert!(
        err.contains("alsa:null"),
        "should list the devices that exist: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("ALSA lib"),
        "{err}"
    );
}

/// One JACK server at a time: the tests that use it run one after the other.
static JACK: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Jack(
    Child,
    #[allow(dead_code)] std::sync::MutexGuard<'static, ()>,
);

impl Drop for Jack {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_jack() -> Option<Jack> {
    let guard = JACK.lock().unwrap_or_else(|e| e.into_inner());
    let has = |p: &str| Path::new(p).exists();
    let plugin = [
        "/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_jack.so",
        "/usr/lib/aarch64-linux-gnu/alsa-lib/libasound_module_pcm_jack.so",
    ];
    let jackd = Command::new("jackd").arg("--version").output().is_ok();
    if !jackd || !plugin.iter().any(|p| has(p)) {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide jackd and libasound2-plugins"
        );
        eprintln!("skipping: jackd or the ALSA jack plugin is not installed");
        return None;
    }
    let child = Command::new("jackd")
        .args(["--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"])
        .env("JACK_NO_AUDIO_RESERVATION", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(1500));
    Some(Jack(child, guard))
}

/// Plays `script` through JACK (started by the caller) until the song ends, without watching
/// for saves; stderr is captured.
fn play_to_the_end(script: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args([
            "play",
            script.to_str().unwrap(),
            "--device",
            "alsa:jack",
            "--no-watch",
        ])
        .args(extra)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn read_wav_s16(path: &Path) -> Vec<f32> {
    let mut d = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_end(&mut d)
        .unwrap();
    let i = d.windows(4).position(|w| w == b"data").expect("data chunk");
    d[i + 8..]
        .chunks_exact(2)
        .map(|f| i16::from_le_bytes([f[0], f[1]]) as f32 / 32768.0)
        .collect()
}

/// Amplitude of frequency `f` in `x` (Goertzel), as dBFS of a sine's peak.
fn level_db(x: &[f32], f: f64) -> f64 {
    let w = 2.0 * PI * f / 48000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = v as f64 + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let p = (s1 * s1 + s2 * s2 - c * s1 * s2).max(0.0);
    20.0 * (p.sqrt() * 2.0 / x.len() as f64 + 1e-9).log10()
}

#[test]
fn edit_the_script_while_it_plays() {
    let Some(_jack) = start_jack() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rec: PathBuf = dir.path().join("live.wav");
    let conf = dir.path().join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "pcm.!default {{\n type plug\n slave {{ pcm \"tap\" format S16_LE rate 48000 channels 2 }}\n}}\n\
             pcm.tap {{\n type file\n slave.pcm \"plug:jack\"\n file \"{}\"\n format \"wav\"\n}}\n",
            rec.display()
        ),
    )
    .unwrap();
    let script = dir.path().join("song.lua");
    write(&script, SONG);
    let child = Command::new(BIN)
        .args([
            "play",
            script.to_str().unwrap(),
            "--duration",
            "6.5",
            "--buffer",
            "256",
            "--log-reloads",
        ])
        .env(
            "ALSA_CONFIG_PATH",
            format!("/usr/share/alsa/alsa.conf:{}", conf.display()),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let at = |s: f64| {
        let d = Duration::from_secs_f64(s).saturating_sub(t0.elapsed());
        std::thread::sleep(d);
    };
    // 1. fader −6 dB on "a"
    at(1.5);
    let v1 = SONG.replace(
        "level_db = -12 })\nlocal b",
        "level_db = -12, gain_db = -6 })\nlocal b",
    );
    write(&script, &v1);
    // 2. add an insert (a gain stage of −6 dB on "b")
    at(2.5);
    let v2 = format!("{v1}b:gain {{ gain_db = -6 }}\n");
    write(&script, &v2);
    // 3. remove track "b"
    at(3.5);
    let v3: String = v1
        .lines()
        .filter(|l| !l.contains("\"b\""))
        .map(|l| format!("{l}\n"))
        .collect();
    write(&script, &v3);
    // 4. a syntax error: the old graph keeps playing
    at(4.5);
    write(&script, &format!("{v3}broken (\n"));
    // 5. the fix
    at(5.2);
    write(&script, &format!("{v3}-- fixed\n"));
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("reload failed"),
        "the broken save must be reported: {err}"
    );
    assert!(err.contains("syntax error"), "{err}");
    // Save-to-swap latency within debounce (50 ms) + 50 ms for each applied reload.
    let lat: Vec<f64> = err
        .lines()
        .filter_map(|l| l.trim().strip_prefix("reload applied: "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(lat.len(), 4, "four good saves: {err}");
    for l in &lat {
        assert!(
            *l <= 100.0,
            "reload took {l} ms after the save (bound 100 ms): {err}"
        );
    }

    let x = read_wav_s16(&rec);
    let left: Vec<f32> = x.iter().step_by(2).copied().collect();
    let secs = left.len() as f64 / 48000.0;
    assert!(
        (6.3..7.0).contains(&secs),
        "recorded {secs} s for a 6.5 s run: {err}"
    );
    // Levels in 50 ms windows.
    let win = 2400;
    let frames: Vec<(f64, f64, f64)> = left
        .chunks_exact(win)
        .enumerate()
        .map(|(i, c)| (i as f64 * 0.05, level_db(c, 440.0), level_db(c, 660.0)))
        .collect();
    let find =
        |pred: &dyn Fn(&(f64, f64, f64)) -> bool| frames.iter().find(|f| pred(f)).map(|f| f.0);
    // Constant-power pan at centre: −12 dB − 3.01 dB per channel.
    let (a0, b0) = (frames[4].1, frames[4].2);
    assert!(
        (a0 + 15.0).abs() < 0.3 && (b0 + 15.0).abs() < 0.3,
        "{a0} {b0}"
    );
    // 1. the fader change is −6 dB and lands after the first save
    let t1 = find(&|f| f.1 < a0 - 3.0).expect("fader change heard");
    let settled: Vec<f64> = frames
        .iter()
        .filter(|f| f.0 > t1 + 0.2 && f.0 < t1 + 0.8)
        .map(|f| f.1)
        .collect();
    for a in &settled {
        assert!(
            (a - (a0 - 6.0)).abs() < 0.3,
            "fader level {a}, expected {}",
            a0 - 6.0
        );
    }
    // 2. the insert: "b" drops by 6 dB
    let t2 = find(&|f| f.0 > t1 && f.2 < b0 - 3.0).expect("insert heard");
    // 3. the removal: "b" disappears
    let t3 = find(&|f| f.0 > t2 && f.2 < -60.0).expect("removal heard");
    // Relative timing of the changes follows the saves (1 s apart) within 150 ms.
    assert!((t2 - t1 - 1.0).abs() < 0.15, "t1 {t1} t2 {t2}");
    assert!((t3 - t2 - 1.0).abs() < 0.15, "t2 {t2} t3 {t3}");
    // 4./5. after the failed save the music goes on unchanged, and keeps advancing to the end.
    for f in frames.iter().filter(|f| f.0 > t3 + 0.2) {
        assert!((f.1 - (a0 - 6.0)).abs() < 0.5, "at {} s: {} dB", f.0, f.1);
    }
    // No gap of silence anywhere: every 10 ms window carries the tone.
    for (i, c) in left.chunks_exact(480).enumerate() {
        let rms = (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt();
        assert!(
            rms > 0.02,
            "near-silence at {:.2} s (rms {rms})",
            i as f64 * 0.01
        );
    }
    // No click: no sample step larger than the music itself makes (two sines at 0.177 peak
    // per channel step by at most 2π(440+660)/48000 · 0.177 ≈ 0.026).
    let max_step = left
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    assert!(max_step < 0.03, "a step of {max_step} is a click");
}

/// Under JACK's dummy driver: a save whose evaluation never ends (inside a C function, where no
/// Lua hook reaches) is stopped at the time limit and reported while the old graph keeps
/// playing; a later good save is applied; SIGTERM during a stuck evaluation ends `play` within
/// a second.
#[test]
fn a_save_that_hits_a_limit_keeps_playing_and_sigterm_always_ends_play() {
    let Some(_jack) = start_jack() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("song.lua");
    write(&script, SONG);
    let child = Command::new(BIN)
        .args([
            "play",
            script.to_str().unwrap(),
            "--device",
            "alsa:jack",
            "--buffer",
            "256",
            "--time-limit",
            "1",
            "--log-reloads",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let t0 = Instant::now();
    let at = |s: f64| {
        let d = Duration::from_secs_f64(s).saturating_sub(t0.elapsed());
        std::thread::sleep(d);
    };
    at(1.0);
    write(&script, &format!("{SONG}string.rep('', 2^62)\n"));
    at(3.0);
    write(
        &script,
        &SONG.replace("level_db = -12 })\nlocal b", "level_db = -18 })\nlocal b"),
    );
    at(4.5);
    write(
        &script,
        &format!("{SONG}string.find(string.rep('a', 40), string.rep('a*', 40) .. 'b')\n"),
    );
    at(4.8);
    // SAFETY: signals our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let t1 = Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = t1.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        took < Duration::from_secs(1),
        "SIGTERM took {took:?}: {err}"
    );
    assert!(
        err.contains("reload failed") && err.contains("1 s time limit"),
        "the stuck save is reported with its limit: {err}"
    );
    assert_eq!(
        err.matches("reload applied").count(),
        1,
        "the good save after it is applied: {err}"
    );
    assert!(err.contains("played "), "{err}");
}

/// Under JACK's dummy driver (48 kHz only): a 44.1 kHz session plays, converted to the device's
/// rate, and playback ends by itself after the end of the song (no `--duration`).
#[test]
fn any_session_rate_plays_and_playback_ends_with_the_song() {
    let Some(_jack) = start_jack() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("short.lua");
    write(
        &script,
        "mix.session { sample_rate = 44100, length_s = 1.2 }\nmix.track('a', { osc = 'sine', hz = 440, level_db = -12 })\n",
    );
    let t0 = Instant::now();
    let out = play_to_the_end(&script, &[]);
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("cannot run at 44100 Hz: playing at 48000 Hz, converted"),
        "{err}"
    );
    assert!(
        took < Duration::from_secs(8),
        "playback did not end with the song: {took:?}"
    );
    let played: f64 = err
        .split("played ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no summary in: {err}"));
    assert!((1.2..4.0).contains(&played), "played {played} s: {err}");
}

#[test]
fn a_plugin_that_changes_its_latency_while_playing_is_compiled_again() {
    if !Path::new("/usr/lib/lv2/nodelay.lv2").exists() {
        assert!(std::env::var("CI").is_err(), "CI needs x42-plugins");
        eprintln!("skipping: x42-plugins (nodelay) is not installed");
        return;
    }
    let Some(_jack) = start_jack() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("delay.lua");
    // x42's nodelay reports its delay as latency; the delay steps from 0 to 960 frames at 0.5 s.
    write(
        &script,
        "mix.session { sample_rate = 48000, length_s = 2 }\n\
         local t = mix.track('t', { osc = 'sine', hz = 440, level_db = -12 })\n\
         local d = t:plugin('lv2:http://gareus.org/oss/lv2/nodelay', { delay_time = 0 })\n\
         d.delay_time:set(0.5, 960)\n",
    );
    let out = play_to_the_end(&script, &["--log-reloads"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("a plugin changed its latency: compiling the graph again"),
        "{err}"
    );
    // The new graph (the plugin prepared at its new setting) was swapped in, once.
    assert_eq!(err.matches("reload applied").count(), 1, "{err}");
}
