//! Insert kinds of the mixing/mastering catalogue, built from Lua option tables. Construction
//! options that are not automatable parameters are read and checked here; out-of-range or
//! nonsensical settings are rejected with the node, the option, the value and the allowed range.

use mlua::{Table, Value};

use super::compressor::{Comp, CompOptions};
use super::eq::{band_kind, Eq, MAX_BANDS};
use super::filter::Filter;
use super::gate::Gate;
use super::limiter::Limit;
use super::loudness::Loudness;
use crate::dsp::biquad::{shelf_slope_to_q, FilterKind};
use crate::dsp::dynamics::{Detection, Link};
use crate::script::options::type_name;
use crate::script::Opts;
use crate::units::Tempo;

pub use crate::script::inserts_built::Built;

/// Builds catalogue insert `kind`.
pub fn build(
    kind: &str,
    o: &mut Opts,
    table: Option<&Table>,
    sample_rate: f64,
    tempo: Tempo,
) -> Result<Built, String> {
    let _ = tempo;
    let nyquist = sample_rate / 2.0;
    match kind {
        "eq" => eq(o, table, sample_rate),
        "highpass" | "lowpass" => {
            let slope = o.num("slope_db").unwrap_or(12.0);
            if ![12.0, 24.0, 36.0, 48.0].contains(&slope) {
                return Err(format!(
                    "slope_db = {slope} is not available; use 12, 24, 36 or 48 (dB/octave)"
                ));
            }
            if let Some(hz) = peek_num(o, "hz") {
                if hz >= nyquist {
                    return Err(format!(
                        "hz = {hz} Hz is out of range; allowed 10 Hz to below Nyquist ({nyquist} Hz at a {sample_rate} Hz session)"
                    ));
                }
            }
            let f = Filter::new(kind == "highpass", slope as u32);
            Ok(Built::of(f, format!("{kind}|{slope}")))
        }
        "comp" => {
            let detection = match o.str("detection").as_deref() {
                None | Some("peak") => Detection::Peak,
                Some("rms") => Detection::Rms,
                Some(x) => {
                    return Err(format!(
                        "detection = \"{x}\" is not a detection mode; use \"peak\" or \"rms\""
                    ))
                }
            };
            let link = match o.str("link").as_deref() {
                None | Some("max") => Link::Max,
                Some("average") => Link::Average,
                Some("off") | Some("none") => Link::PerChannel,
                Some(x) => {
                    return Err(format!(
                        "link = \"{x}\" is not a link mode; use \"max\", \"average\" or \"off\""
                    ))
                }
            };
            let opts = CompOptions {
                detection,
                link,
                rms_ms: o.num_in("rms_ms", 0.1, 500.0, " ms").unwrap_or(10.0),
                sidechain_hpf_hz: o.num_in("sidechain_hpf_hz", 10.0, nyquist * 0.99, " Hz"),
                auto_makeup: o.bool("auto_makeup").unwrap_or(false),
                lookahead_ms: o.num_in("lookahead_ms", 0.0, 100.0, " ms").unwrap_or(0.0),
            };
            let mut b = Built::of(Comp::new(opts), format!("{opts:?}"));
            b.sidechain = crate::script::inserts_sidechain(o);
            Ok(b)
        }
        "gate" => {
            let mut b = Built::of(Gate::default(), String::new());
            b.sidechain = crate::script::inserts_sidechain(o);
            Ok(b)
        }
        "limit" => {
            let lookahead = o.num_in("lookahead_ms", 0.0, 100.0, " ms").unwrap_or(5.0);
            let tp = o.bool("true_peak").unwrap_or(true);
            Ok(Built::of(
                Limit::new(lookahead, tp),
                format!("{lookahead}|{tp}"),
            ))
        }
        "loudness" => {
            let target = o
                .num_in("target_lufs", -70.0, 0.0, " LUFS")
                .unwrap_or(-14.0);
            let ceiling = o.num_in("ceiling_db", -60.0, 0.0, " dBTP").unwrap_or(-1.0);
            if let Some(g) = o.num_in("gain_db", -60.0, 60.0, " dB") {
                // A fixed gain instead of a target (album mastering: one gain for all songs).
                return Ok(Built::of(
                    Loudness::with_gain(g, ceiling),
                    format!("gain {g}|{ceiling}"),
                ));
            }
            if target > ceiling {
                return Err(format!(
                    "target_lufs = {target} LUFS is louder than ceiling_db = {ceiling} dBTP allows; \
                     allowed -70 LUFS to {ceiling} LUFS with this ceiling (music that loud would be \
                     limited flat) — lower the target or raise the ceiling"
                ));
            }
            Ok(Built::of(
                Loudness::new(target, ceiling),
                format!("{target}|{ceiling}"),
            ))
        }
        "reverb" => Ok(Built::of(super::reverb::Reverb::default(), String::new())),
        "delay" => {
            // Time as ms, seconds or a note value; the rest are options of the effect.
            let t = crate::script::inserts_time(o, tempo, 0.25)?;
            let ms = match t {
                super::DelayTime::Seconds(s) => s * 1000.0,
                super::DelayTime::Frames(f) => f as f64 / sample_rate * 1000.0,
            };
            if !(crate::dsp::echo::MIN_TIME_S * 1000.0..=super::echo::MAX_TIME_S * 1000.0)
                .contains(&ms)
            {
                return Err(format!(
                    "the delay time {ms:.1} ms is out of range; allowed 1 ms to 10 s"
                ));
            }
            let ping_pong = o.bool("ping_pong").unwrap_or(false);
            let lowpass_hz = o.num_in("lowpass_hz", 20.0, nyquist * 0.99, " Hz");
            let highpass_hz = o.num_in("highpass_hz", 10.0, nyquist * 0.99, " Hz");
            let mut b = Built::of(
                super::echo::Echo::new(ping_pong, lowpass_hz, highpass_hz),
                format!("{ping_pong}|{lowpass_hz:?}|{highpass_hz:?}"),
            );
            b.initial = vec![(0, ms as f32)];
            Ok(b)
        }
        "saturate" => {
            use crate::dsp::saturation::{Curve, Oversampling};
            let curve = match o.str("curve").as_deref() {
                None | Some("tanh") => Curve::Tanh,
                Some("soft") => Curve::SoftClip,
                Some("hard") => Curve::HardClip,
                Some(x) => {
                    return Err(format!(
                        "curve = \"{x}\" is not a curve; use \"tanh\", \"soft\" or \"hard\""
                    ))
                }
            };
            // Compared as given (2.5 is not rounded to 2).
            let os = match o.num("oversample") {
                None => Oversampling::X8,
                Some(1.0) => Oversampling::X1,
                Some(2.0) => Oversampling::X2,
                Some(4.0) => Oversampling::X4,
                Some(8.0) => Oversampling::X8,
                Some(16.0) => Oversampling::X16,
                Some(x) => {
                    return Err(format!(
                        "oversample = {} is not available; use 1, 2, 4, 8 or 16",
                        crate::param::trim(x)
                    ))
                }
            };
            let auto = o.bool("auto_gain").unwrap_or(false);
            Ok(Built::of(
                super::saturate::Saturate::new(curve, os, auto),
                format!("{curve:?}|{os:?}|{auto}"),
            ))
        }
        "width" => {
            let mono = o.num_in("mono_below_hz", 20.0, 1000.0, " Hz");
            Ok(Built::of(
                super::width::Width::new(mono),
                format!("{mono:?}"),
            ))
        }
        "deess" => {
            let hz = o
                .num_in("hz", 2000.0, nyquist * 0.9, " Hz")
                .unwrap_or(6000.0);
            Ok(Built::of(super::deess::Deess::new(hz), format!("{hz}")))
        }
        "multiband" => {
            let mut hz = Vec::new();
            match o.value("crossovers_hz") {
                Some(Value::Table(t)) => {
                    for v in t.sequence_values::<f64>() {
                        hz.push(v.map_err(|_| {
                            "crossovers_hz must be a list of frequencies in Hz".to_string()
                        })?);
                    }
                }
                None => hz = vec![200.0, 2000.0, 8000.0],
                Some(other) => {
                    return Err(format!(
                        "crossovers_hz must be a list like {{200, 2000, 8000}}, got {}",
                        type_name(&other)
                    ))
                }
            }
            if hz.is_empty() || hz.len() > super::multiband::MAX_BANDS - 1 {
                return Err(format!(
                    "crossovers_hz has {} frequencies; give 1 to 3 (2 to 4 bands)",
                    hz.len()
                ));
            }
            if hz.windows(2).any(|w| w[1] <= w[0])
                || hz.iter().any(|f| *f <= 10.0 || *f >= nyquist * 0.9)
            {
                return Err(format!(
                    "crossovers_hz = {hz:?} must rise and lie between 10 Hz and {:.0} Hz",
                    nyquist * 0.9
                ));
            }
            Ok(Built::of(
                super::multiband::Multiband::new(hz.clone()),
                format!("{hz:?}"),
            ))
        }
        other => Err(format!("unknown insert '{other}'")),
    }
}

fn peek_num(o: &Opts, key: &str) -> Option<f64> {
    o.peek_num(key)
}

/// `:eq { mix.bell{...}, mix.high_shelf{...}, ... }`: bands in order.
fn eq(o: &mut Opts, table: Option<&Table>, sample_rate: f64) -> Result<Built, String> {
    let mut kinds = Vec::new();
    let mut initial = Vec::new();
    let nyquist = sample_rate / 2.0;
    if let Some(t) = table {
        for (i, v) in t.clone().sequence_values::<Value>().enumerate() {
            let n = i + 1;
            let band = match v {
                Ok(Value::Table(b)) => b,
                Ok(other) => {
                    return Err(format!(
                        "band {n} must be a band such as mix.bell {{ hz = 1000, q = 1, gain_db = 3 }}, got {}",
                        type_name(&other)
                    ))
                }
                Err(e) => return Err(e.to_string()),
            };
            if n > MAX_BANDS {
                return Err(format!(
                    "{} bands given; one eq holds at most {MAX_BANDS} (add a second :eq)",
                    t.raw_len()
                ));
            }
            let ty: String = band.get("type").unwrap_or_default();
            let kind = band_kind(&ty).ok_or_else(|| {
                format!("band {n} has no type; build bands with mix.bell{{}}, mix.low_shelf{{}}, mix.high_shelf{{}}, mix.highpass{{}}, mix.lowpass{{}}, mix.notch{{}}, mix.bandpass{{}} or mix.allpass{{}}")
            })?;
            let mut bo = Opts::new(
                Some(&band),
                format!("{} band {n} ({ty})", o.subject()),
                None,
            );
            let _ = bo.str("type");
            let hz = bo
                .num("hz")
                .ok_or_else(|| format!("band {n} ({ty}) needs hz"))?;
            if !(10.0..nyquist).contains(&hz) {
                return Err(format!("band {n} ({ty}): hz = {hz} Hz is out of range; allowed 10 Hz to below Nyquist ({nyquist} Hz)"));
            }
            let gain = bo.num("gain_db").unwrap_or(0.0);
            if !(-48.0..=48.0).contains(&gain) {
                return Err(format!(
                    "band {n} ({ty}): gain_db = {gain} dB is out of range; allowed -48 dB to 48 dB"
                ));
            }
            let shelf = matches!(kind, FilterKind::LowShelf | FilterKind::HighShelf);
            let q = match (bo.num("q"), if shelf { bo.num("slope") } else { None }) {
                (Some(q), _) => q,
                (None, Some(s)) => {
                    if !(s > 0.0 && s <= 1.0) {
                        return Err(format!(
                            "band {n} ({ty}): slope = {s} is out of range; allowed above 0 up to 1"
                        ));
                    }
                    shelf_slope_to_q(s, gain)
                }
                (None, None) => std::f64::consts::FRAC_1_SQRT_2,
            };
            if !(q > 0.0 && q <= 40.0) {
                return Err(format!(
                    "band {n} ({ty}): q = {q} is out of range; allowed above 0 up to 40"
                ));
            }
            let errs = bo.finish();
            if let Some(e) = errs.first() {
                return Err(e
                    .message
                    .to_string()
                    .replacen(&format!("{}: ", o.subject()), "", 1));
            }
            kinds.push(kind);
            initial.push((3 * i, hz as f32));
            initial.push((3 * i + 1, q as f32));
            initial.push((3 * i + 2, gain as f32));
        }
    }
    if kinds.is_empty() {
        return Err(
            "needs at least one band, e.g. :eq { mix.bell { hz = 1000, q = 1, gain_db = 3 } }"
                .into(),
        );
    }
    let config = format!("{kinds:?}");
    let mut b = Built::of(Eq::new(kinds), config);
    b.initial = initial;
    Ok(b)
}
