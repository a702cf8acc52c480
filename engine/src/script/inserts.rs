//! Insert kinds: what `strip:eq{}`, `strip:comp{}`, … build. Each reads its construction options
//! (the ones that are not automatable parameters) here; automatable parameters are read from the
//! same table by the caller through the node's [`NodeDesc`].

use std::sync::Arc;

use mlua::{Table, Value};

use super::api::StripRef;
use super::model::StripId;
use super::options::Opts;
use crate::graph::NodeFactory;
use crate::node::{Node, NodeDesc};
use crate::nodes::{Delay, DelayTime, Gain, Meter, Mute, Polarity};
use crate::units::Tempo;

/// Band constructors offered as `mix.<type>{...}` for `:eq{}`.
pub const BAND_TYPES: &[&str] = &[
    "bell",
    "low_shelf",
    "high_shelf",
    "highpass",
    "lowpass",
    "notch",
    "bandpass",
    "allpass",
];

/// A node ready to add to the graph.
pub struct Built {
    /// Kind description.
    pub desc: &'static NodeDesc,
    /// Instance factory.
    pub factory: NodeFactory,
    /// Construction options as text (reload matching).
    pub config: String,
    /// Strip feeding the node's sidechain port.
    pub sidechain: Option<StripId>,
    /// Initial parameter values read with the construction options: (index, value).
    pub initial: Vec<(usize, f32)>,
}

impl Built {
    /// From a prototype node.
    pub fn of<N: Node + Clone + Sync>(node: N, config: String) -> Self {
        let desc = node.desc();
        Self {
            desc,
            factory: Arc::new(move || Box::new(node.clone())),
            config,
            sidechain: None,
            initial: Vec::new(),
        }
    }

    /// A gain at 0 dB: stands in for an insert whose options were wrong, so evaluation goes on.
    pub fn passthrough() -> Self {
        Self::of(Gain, String::new())
    }
}

/// Reads `sidechain = strip`.
pub fn sidechain(o: &mut Opts) -> Option<StripId> {
    match o.value("sidechain")? {
        Value::UserData(ud) => match ud.borrow::<StripRef>() {
            Ok(s) => Some(s.0),
            Err(_) => {
                o.error("sidechain must be a track or bus (the strip itself)");
                None
            }
        },
        other => {
            o.error(format!(
                "sidechain must be a track or bus, got {}",
                super::options::type_name(&other)
            ));
            None
        }
    }
}

/// Reads a time given as `ms`, `s`, `frames` or a note value (`note = "1/8"`, `"1/8."`, `"1/8t"`).
pub fn time_option(o: &mut Opts, tempo: Tempo, default_s: f64) -> Result<DelayTime, String> {
    let ms = o.num_in("time_ms", 0.0, 60_000.0, " ms");
    let s = o.num_in("time_s", 0.0, 60.0, " s");
    let f = o.num_in("frames", 0.0, 1e8, "");
    let note = o.str("note");
    if let Some(ms) = ms {
        return Ok(DelayTime::Seconds(ms / 1000.0));
    }
    if let Some(s) = s {
        return Ok(DelayTime::Seconds(s));
    }
    if let Some(f) = f {
        return Ok(DelayTime::Frames(f as u64));
    }
    if let Some(n) = note {
        return parse_note(&n)
            .map(|w| DelayTime::Seconds(tempo.note_s(w)))
            .ok_or_else(|| format!("note = \"{n}\" is not a note value; use e.g. \"1/4\", \"1/8.\" (dotted) or \"1/8t\" (triplet)"));
    }
    Ok(DelayTime::Seconds(default_s))
}

/// `"1/8"` → 0.125 of a whole note; `"1/8."` dotted (×1.5); `"1/8t"` triplet (×2/3).
pub fn parse_note(s: &str) -> Option<f64> {
    let s = s.trim();
    let (body, mul) = if let Some(b) = s.strip_suffix('.') {
        (b, 1.5)
    } else if let Some(b) = s.strip_suffix('t') {
        (b, 2.0 / 3.0)
    } else {
        (s, 1.0)
    };
    let (a, b) = body.split_once('/')?;
    let (a, b): (f64, f64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a > 0.0 && b > 0.0).then_some(a / b * mul)
}

/// Builds insert `kind` from its options.
pub fn build(
    kind: &str,
    o: &mut Opts,
    table: Option<&Table>,
    sample_rate: f64,
    tempo: Tempo,
) -> Result<Built, String> {
    let _ = (table, sample_rate);
    match kind {
        "gain" => Ok(Built::of(Gain, String::new())),
        "polarity" => Ok(Built::of(Polarity, String::new())),
        "mute" => Ok(Built::of(Mute::default(), String::new())),
        "meter" => Ok(Built::of(Meter::default(), String::new())),
        "delay_line" => {
            let t = time_option(o, tempo, 0.25)?;
            Ok(Built::of(Delay::new(t), format!("{t:?}")))
        }
        other => crate::nodes::catalogue::build(other, o, table, sample_rate, tempo),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_values() {
        assert_eq!(parse_note("1/4"), Some(0.25));
        assert_eq!(parse_note("1/8."), Some(0.1875));
        assert!((parse_note("1/8t").unwrap() - 1.0 / 12.0).abs() < 1e-12);
        assert_eq!(parse_note("x"), None);
    }
}
