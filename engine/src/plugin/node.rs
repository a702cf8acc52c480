//! `plugin`: a hosted plugin as a graph node (`strip:plugin(id, { params }, { options })`).
//!
//! The registry needs static parameter declarations, so a plugin node has [`MAX_PARAMS`]
//! generic parameter slots (`p0`, `p1`, …): slot `i` is the plugin's `i`-th parameter, as
//! listed by [`super::PluginInfo::params`]. The script layer maps the plugin's own names onto
//! slots and checks values against the plugin's ranges; the config carries the plugin id, its
//! bundle file, each slot's plugin key and range, and the state file — plain data, so a live
//! reload keeps the running instance (and its state) while none of that changes.
//!
//! Parameter values reach the plugin as timestamped CLAP events, built into a preallocated list:
//! an event whenever a slot's value moves, at its exact frame for a jump of more than 1 % of
//! the range, and on a grid of every [`EVENT_GRID`] frames of song time for smaller moves
//! (ramps), so the events do not depend on how the song is cut into blocks. A slot whose value
//! never leaves the plugin's default sends nothing, so a loaded state keeps its values.

use super::clap::{load_entry, ClapInstance};
use super::lv2::Lv2Instance;
use super::state;
use super::vst3::Vst3Instance;
use crate::buffer::MAX_CHANNELS;
use crate::node::{
    Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW, SIDECHAIN_FOLLOW,
};
use crate::param::{ParamDesc, Smoothing, Unit};
use crate::registry::{Config, NodeKind, OptDefault, OptKind, OptionDesc, Role};

/// Most parameters of one plugin that scripts can reach (the processor's limit per node).
pub const MAX_PARAMS: usize = crate::rt::MAX_PARAMS;
/// Smaller moves than 1 % of a parameter's range are sent on this grid of song frames.
pub const EVENT_GRID: u64 = 8;

const SLOT_NAMES: [&str; MAX_PARAMS] = [
    "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11", "p12", "p13", "p14",
    "p15", "p16", "p17", "p18", "p19", "p20", "p21", "p22", "p23", "p24", "p25", "p26", "p27",
    "p28", "p29", "p30", "p31", "p32", "p33", "p34", "p35", "p36", "p37", "p38", "p39", "p40",
    "p41", "p42", "p43", "p44", "p45", "p46", "p47",
];

const fn slots() -> [ParamDesc; MAX_PARAMS] {
    let mut a = [ParamDesc::new(
        "p0",
        Unit::Linear,
        -1e30,
        1e30,
        0.0,
        "plugin parameter slot",
    )
    .with_smoothing(Smoothing::None); MAX_PARAMS];
    let mut i = 0;
    while i < MAX_PARAMS {
        a[i] = ParamDesc::new(
            SLOT_NAMES[i],
            Unit::Linear,
            -1e30,
            1e30,
            0.0,
            "plugin parameter slot",
        )
        .with_smoothing(Smoothing::None);
        i += 1;
    }
    a
}

/// The parameter slots.
pub static PARAMS: [ParamDesc; MAX_PARAMS] = slots();

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "plugin",
    inputs: &[IN_FOLLOW, SIDECHAIN_FOLLOW],
    params: &PARAMS,
};

const fn text(key: &'static str, max: usize, doc: &'static str) -> OptionDesc {
    OptionDesc {
        key,
        kind: OptKind::Text(max),
        default: OptDefault::None,
        doc,
        user: false,
    }
}

const fn list(key: &'static str, doc: &'static str) -> OptionDesc {
    OptionDesc {
        key,
        kind: OptKind::List {
            unit: Unit::Count,
            min: -f64::MAX,
            max: f64::MAX,
            nyquist: None,
            min_len: 0,
            max_len: MAX_PARAMS,
            rising: false,
        },
        default: OptDefault::List(&[]),
        doc,
        user: false,
    }
}

/// Registry entry. Built by `strip:plugin(...)` only (the script layer resolves the plugin).
pub static KIND: NodeKind = NodeKind {
    name: "plugin",
    doc: "A third-party plugin (CLAP, LV2 or VST3), hosted in-process: parameters by the plugin's own names, automatable; latency compensated; state from a file.",
    role: Role::Internal,
    desc: &DESC,
    options: &[
        text("id", 1024, "the plugin id (clap:<id>, lv2:<uri> or vst3:<class id>)"),
        text("name", 256, "the plugin's display name"),
        text("bundle", 4096, "the bundle file"),
        text("state", 4096, "a state file to load"),
        text("state_stamp", 64, "the state file's size and modification time"),
        list("keys", "the plugin's key of each parameter slot"),
        list("mins", "each slot's smallest value"),
        list("maxs", "each slot's largest value"),
        list("defaults", "each slot's default"),
    ],
    aliases: &[],
    check: |c, _| {
        if c.text("id").is_none() || c.text("bundle").is_none() {
            return Err("needs a plugin id and its file (use strip:plugin(id, ...))".into());
        }
        let n = c.list("keys").len();
        if c.list("mins").len() != n || c.list("maxs").len() != n || c.list("defaults").len() != n
        {
            return Err("parameter slot lists of different lengths".into());
        }
        Ok(())
    },
    has_param: |c, i| i < c.list("keys").len(),
    initial_params: |c| {
        c.list("defaults")
            .iter()
            .enumerate()
            .map(|(i, &d)| (i, d as f32))
            .collect()
    },
    build: |c| PluginNode::from_config(c).map(|n| Box::new(n) as Box<dyn Node>),
};

/// A hosted plugin.
pub struct PluginNode {
    name: String,
    state_file: Option<String>,
    keys: Vec<u32>,
    mins: Vec<f64>,
    maxs: Vec<f64>,
    /// The value each slot last sent (or the plugin's default / loaded value).
    last: Vec<f32>,
    inst: Backend,
    main_in: usize,
    side_in: usize,
    outs: usize,
    in_bufs: Vec<Vec<f32>>,
    side_bufs: Vec<Vec<f32>>,
    out_bufs: Vec<Vec<f32>>,
    latency: u32,
    failed: bool,
    /// The failure reported when the plugin's process call fails (made in advance: the audio
    /// thread does not allocate).
    failure: crate::error::Error,
}

impl PluginNode {
    /// Loads and instantiates the plugin a normalised config names (not yet active). Refuses a
    /// bundle outside the allowed folders. Control thread.
    pub fn from_config(c: &Config) -> Result<Self, String> {
        let id = c.text("id").unwrap_or_default();
        let file = std::path::PathBuf::from(c.text("bundle").unwrap_or_default());
        let name = c.text("name").unwrap_or(id).to_string();
        if !super::is_allowed(&file) {
            return Err(format!(
                "{name}: {} is outside the plugin folders; allow its folder with --allow-plugin DIR",
                file.display()
            ));
        }
        let inst = if let Some(uri) = id.strip_prefix("lv2:") {
            Backend::Lv2(Box::new(
                Lv2Instance::new(&file, uri).map_err(|e| format!("{name}: {e}"))?,
            ))
        } else if let Some(uid) = id.strip_prefix("vst3:") {
            Backend::Vst3(Box::new(
                Vst3Instance::new(&file, uid).map_err(|e| format!("{name}: {e}"))?,
            ))
        } else {
            let raw = id.strip_prefix("clap:").unwrap_or(id);
            let entry = load_entry(&file).map_err(|e| format!("{name}: {e}"))?;
            Backend::Clap(ClapInstance::new(&entry, raw).map_err(|e| format!("{name}: {e}"))?)
        };
        let keys: Vec<u32> = c.list("keys").iter().map(|&k| k as u32).collect();
        let defaults = c.list("defaults");
        let mut n = Self {
            name,
            state_file: c.text("state").map(str::to_string),
            keys,
            mins: c.list("mins").to_vec(),
            maxs: c.list("maxs").to_vec(),
            last: defaults.iter().map(|&d| d as f32).collect(),
            inst,
            main_in: 0,
            side_in: 0,
            outs: 0,
            in_bufs: Vec::new(),
            side_bufs: Vec::new(),
            out_bufs: Vec::new(),
            latency: 0,
            failed: false,
            failure: crate::error::Error::new(crate::error::ErrorKind::Other, String::new()),
        };
        n.failure = crate::error::Error::new(
            crate::error::ErrorKind::Other,
            format!(
                "plugin {}: its process call failed; its output was silenced",
                n.name
            ),
        );
        let (ins, outs) = match &mut n.inst {
            Backend::Clap(c) => (c.port_channels(true), c.port_channels(false)),
            Backend::Lv2(l) => {
                let (i, o) = l.channels();
                (vec![i as u32], vec![o as u32])
            }
            Backend::Vst3(v) => (v.channels().0.to_vec(), v.channels().1.to_vec()),
        };
        n.main_in = ins.first().copied().unwrap_or(0) as usize;
        n.side_in = ins.get(1).copied().unwrap_or(0) as usize;
        n.outs = (outs.first().copied().unwrap_or(0) as usize).clamp(1, MAX_CHANNELS);
        Ok(n)
    }

    /// The plugin's name (messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin keys of the slots.
    pub fn keys(&self) -> &[u32] {
        &self.keys
    }

    /// Queues the events of slot `i` for this block.
    fn slot_events(&mut self, i: usize, v: crate::node::ParamValue<'_>, pos: u64, frames: usize) {
        let range = (self.maxs[i] - self.mins[i]).abs().max(1e-12);
        let jump = (0.01 * range) as f32;
        let key = self.keys[i];
        let (lo, hi) = (self.mins[i], self.maxs[i]);
        let mut last = self.last[i];
        for j in 0..frames {
            let x = v.at(j);
            if x == last {
                if v.is_const() {
                    break;
                }
                continue;
            }
            let on_grid = (pos + j as u64) % EVENT_GRID == 0;
            if on_grid || (x - last).abs() > jump {
                self.inst
                    .changes()
                    .push(j as u32, key, (x as f64).clamp(lo, hi));
                last = x;
            }
        }
        self.last[i] = last;
    }
}

/// The hosted instance, by format.
// One per plugin node, built once on the control thread and never moved on the audio thread:
// the size difference costs nothing (the LV2 one is boxed as it is the larger).
#[allow(clippy::large_enum_variant)]
enum Backend {
    Clap(ClapInstance),
    Lv2(Box<Lv2Instance>),
    Vst3(Box<Vst3Instance>),
}

impl Backend {
    /// The parameter changes queued for the next block.
    #[inline]
    fn changes(&mut self) -> &mut super::changes::Changes {
        match self {
            Backend::Clap(c) => &mut c.changes,
            Backend::Lv2(l) => &mut l.changes,
            Backend::Vst3(v) => &mut v.changes,
        }
    }

    /// Changes that did not fit in a block so far.
    fn dropped_changes(&self) -> u64 {
        match self {
            Backend::Clap(c) => c.changes.dropped,
            Backend::Lv2(l) => l.changes.dropped,
            Backend::Vst3(v) => v.changes.dropped + v.dropped_points(),
        }
    }
}

/// Copies an engine port into a plugin port: channel by channel (the last channel repeated
/// for a wider plugin port), or the average of every channel for a mono plugin port.
fn copy_port(dst: &mut [Vec<f32>], src: &[&[f32]], frames: usize) {
    let m = src.len();
    let mono_mix = dst.len() == 1 && m > 1;
    for (c, d) in dst.iter_mut().enumerate() {
        let d = &mut d[..frames];
        if m == 0 {
            d.fill(0.0);
        } else if mono_mix {
            d.copy_from_slice(&src[0][..frames]);
            for s in &src[1..] {
                for (o, x) in d.iter_mut().zip(&s[..frames]) {
                    *o += x;
                }
            }
            let g = 1.0 / m as f32;
            d.iter_mut().for_each(|o| *o *= g);
        } else {
            d.copy_from_slice(&src[c.min(m - 1)][..frames]);
        }
    }
}

impl Node for PluginNode {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn output_channels(&self, _input_channels: &[usize]) -> usize {
        self.outs
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        let channels = self.main_in + self.side_in + self.outs;
        let state = self.state_file.as_deref().map(std::path::Path::new);
        self.latency = match &mut self.inst {
            Backend::Clap(c) => {
                if let Some(f) = state {
                    state::load_into(c, f)
                        .map_err(|e| format!("{}: state {}: {e}", self.name, f.display()))?;
                }
                c.activate(cfg.sample_rate, cfg.max_block, channels)
            }
            Backend::Lv2(l) => {
                if let Some(f) = state {
                    state::load_into_lv2(l, f)
                        .map_err(|e| format!("{}: state {}: {e}", self.name, f.display()))?;
                }
                l.activate(cfg.sample_rate, cfg.max_block)
            }
            Backend::Vst3(v) => {
                if let Some(f) = state {
                    state::load_into_vst3(v, f)
                        .map_err(|e| format!("{}: state {}: {e}", self.name, f.display()))?;
                }
                v.activate(cfg.sample_rate, cfg.max_block, &self.keys)
            }
        }
        .map_err(|e| format!("{}: {e}", self.name))?;
        // After a state load the plugin's values are the starting point: a slot sends an event
        // only when the script moves it away from the plugin's default.
        self.in_bufs = vec![vec![0.0; cfg.max_block]; self.main_in];
        self.side_bufs = vec![vec![0.0; cfg.max_block]; self.side_in];
        self.out_bufs = vec![vec![0.0; cfg.max_block]; self.outs];
        Ok(())
    }

    fn reset(&mut self) {
        // LV2 has no reset short of a new instance, VST3 none on the audio thread (its
        // setActive cycle is a main-thread call); their state stays.
        if let Backend::Clap(c) = &mut self.inst {
            c.reset();
        }
    }

    fn state_bytes(&self, cfg: &ProcessConfig) -> usize {
        (self.main_in + self.side_in + self.outs) * cfg.max_block * 4
            + super::clap::MAX_EVENTS_PER_BLOCK * 64
    }

    fn latency_frames(&self) -> u32 {
        self.latency
    }

    fn failure(&self) -> Option<&crate::error::Error> {
        self.failed.then_some(&self.failure)
    }

    fn report(&self) -> Option<String> {
        let dropped = self.inst.dropped_changes();
        (dropped > 0).then(|| {
            format!(
                "plugin {}: {dropped} parameter events did not fit in their blocks",
                self.name
            )
        })
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let frames = cx.frames;
        if self.failed {
            for o in cx.outputs.iter_mut() {
                o.fill(0.0);
            }
            return ProcessStatus::Silent;
        }
        copy_port(&mut self.in_bufs, cx.input(0), frames);
        if self.side_in > 0 {
            copy_port(&mut self.side_bufs, cx.input(1), frames);
        }
        self.inst.changes().clear();
        let pos = cx.transport.position;
        for i in 0..self.keys.len() {
            let v = cx.param(i);
            self.slot_events(i, v, pos, frames);
        }
        let side = if self.side_in > 0 {
            Some(&mut self.side_bufs[..])
        } else {
            None
        };
        let r = match &mut self.inst {
            Backend::Clap(c) => c.process(&mut self.in_bufs, side, &mut self.out_bufs, frames, pos),
            Backend::Lv2(l) => l.process(&mut self.in_bufs, &mut self.out_bufs, frames),
            Backend::Vst3(v) => v.process(&mut self.in_bufs, side, &mut self.out_bufs, frames, pos),
        };
        if r.is_err() {
            self.failed = true;
        }
        for (o, b) in cx.outputs.iter_mut().zip(&self.out_bufs) {
            o.copy_from_slice(&b[..frames]);
        }
        ProcessStatus::Continue
    }
}
