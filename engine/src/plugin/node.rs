//! `plugin`: a hosted plugin as a graph node (`strip:plugin(id, { params }, { options })`).
//!
//! The registry needs static parameter declarations, so a plugin node has [`MAX_PARAMS`]
//! generic parameter slots (`p0`, `p1`, …): slot `i` is the plugin's `i`-th parameter, as
//! listed by [`super::PluginInfo::params`]. The script layer maps the plugin's own names onto
//! slots and checks values against the plugin's ranges; the config carries the plugin id, its
//! bundle file, each slot's plugin key and range, and the state file — plain data, so a live
//! reload keeps the running instance (and its state) while none of that changes.
//!
//! A mono plugin (one input, one output channel) on a wider strip runs one copy per channel,
//! as Ardour replicates plugins: each copy hears the same parameter events, a state file is
//! loaded into each, `state_out` saves the first.
//!
//! The config also carries the plugin's channel layout, so building a node is plain data: the
//! plugin is loaded and instantiated in `prepare`, and a reload that keeps the running
//! instance never loads a throw-away copy. Before activation the plugin is set to the
//! parameters' values where it starts (`ProcessConfig::start_params`), so the latency it
//! reports is that of the script's settings; a latency change while it runs is counted
//! ([`super::note_latency_change`]: `mixdown play` recompiles) and reported after a render.
//!
//! Parameter values reach the plugin as timestamped CLAP events, built into a preallocated list:
//! an event whenever a slot's value moves, at its exact frame for a jump of more than 1 % of
//! the range, and on a grid of every [`EVENT_GRID`] frames of song time for smaller moves
//! (ramps), so the events do not depend on how the song is cut into blocks. A slot whose value
//! never leaves the plugin's default sends nothing, so a loaded state keeps its values.

use std::path::PathBuf;

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
        text("state_out", 4096, "where to save the plugin's state when a render ends"),
        list("channels", "main inputs, sidechain inputs, outputs"),
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
        if c.list("channels").len() != 3 {
            return Err("needs the plugin's channel layout (use strip:plugin(id, ...))".into());
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

thread_local! {
    /// Plugin instances loaded on this thread (see [`instances_loaded`]).
    static LOADED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many plugin instances nodes have loaded on this thread (compiles load them on the
/// thread that compiles; a reload that keeps a plugin loads none).
pub fn instances_loaded() -> u64 {
    LOADED.with(|c| c.get())
}

/// A latency change whose new value the audio thread cannot read (a CLAP restart request).
const UNKNOWN_LATENCY: u32 = u32::MAX;

/// A hosted plugin.
pub struct PluginNode {
    id: String,
    file: PathBuf,
    name: String,
    state_file: Option<String>,
    state_out: Option<PathBuf>,
    keys: Vec<u32>,
    mins: Vec<f64>,
    maxs: Vec<f64>,
    defaults: Vec<f64>,
    /// The value each slot last sent (or the plugin's default / loaded value).
    last: Vec<f32>,
    /// The running instances (made in `prepare`): one, or one per channel for a mono plugin on
    /// a wider strip (replicated, as Ardour does).
    insts: Vec<Backend>,
    main_in: usize,
    side_in: usize,
    outs: usize,
    in_bufs: Vec<Vec<f32>>,
    side_bufs: Vec<Vec<f32>>,
    out_bufs: Vec<Vec<f32>>,
    latency: u32,
    /// Where (song frame) and to what the plugin changed its latency while running, first
    /// time only (0 frames for a CLAP restart request: the value is read on the control thread).
    latency_change: Option<(u64, u32)>,
    failed: bool,
    /// The failure reported when the plugin's process call fails (made in advance: the audio
    /// thread does not allocate).
    failure: crate::error::Error,
}

impl PluginNode {
    /// A node for the plugin a normalised config names: plain data, the plugin is loaded in
    /// `prepare`. Refuses a bundle outside the allowed folders. Control thread.
    pub fn from_config(c: &Config) -> Result<Self, String> {
        let id = c.text("id").unwrap_or_default().to_string();
        let file = PathBuf::from(c.text("bundle").unwrap_or_default());
        let name = c.text("name").unwrap_or(&id).to_string();
        if !super::is_allowed(&file) {
            return Err(format!(
                "{name}: {} is outside the plugin folders; allow its folder with --allow-plugin DIR",
                file.display()
            ));
        }
        let ch = c.list("channels");
        let failure = crate::error::Error::new(
            crate::error::ErrorKind::Other,
            format!("plugin {name}: its process call failed; its output was silenced"),
        );
        let defaults = c.list("defaults").to_vec();
        Ok(Self {
            id,
            file,
            name,
            state_file: c.text("state").map(str::to_string),
            state_out: c.text("state_out").map(PathBuf::from),
            keys: c.list("keys").iter().map(|&k| k as u32).collect(),
            mins: c.list("mins").to_vec(),
            maxs: c.list("maxs").to_vec(),
            last: defaults.iter().map(|&d| d as f32).collect(),
            defaults,
            insts: Vec::new(),
            main_in: ch[0] as usize,
            side_in: ch[1] as usize,
            outs: (ch[2] as usize).clamp(1, MAX_CHANNELS),
            in_bufs: Vec::new(),
            side_bufs: Vec::new(),
            out_bufs: Vec::new(),
            latency: 0,
            latency_change: None,
            failed: false,
            failure,
        })
    }

    /// The plugin's name (messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin keys of the slots.
    pub fn keys(&self) -> &[u32] {
        &self.keys
    }

    /// Where and to what the plugin changed its latency while running (first change).
    pub fn latency_change(&self) -> Option<(u64, u32)> {
        self.latency_change
    }

    /// Queues the events of slot `i` for this block.
    fn slot_events(
        &mut self,
        changes: &mut super::changes::Changes,
        i: usize,
        v: crate::node::ParamValue<'_>,
        pos: u64,
        frames: usize,
    ) {
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
                changes.push(j as u32, key, (x as f64).clamp(lo, hi));
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
    /// Loads and instantiates plugin `id` from `file` (not yet active). Control thread.
    fn load(id: &str, file: &std::path::Path) -> Result<Self, String> {
        LOADED.with(|c| c.set(c.get() + 1));
        Ok(if let Some(uri) = id.strip_prefix("lv2:") {
            Backend::Lv2(Box::new(Lv2Instance::new(file, uri)?))
        } else if let Some(uid) = id.strip_prefix("vst3:") {
            Backend::Vst3(Box::new(Vst3Instance::new(file, uid)?))
        } else {
            let raw = id.strip_prefix("clap:").unwrap_or(id);
            Backend::Clap(ClapInstance::new(&load_entry(file)?, raw)?)
        })
    }

    /// Channels: main inputs, sidechain inputs, outputs.
    fn channels(&mut self) -> (usize, usize, usize) {
        match self {
            Backend::Clap(c) => {
                let (i, o) = (c.port_channels(true), c.port_channels(false));
                (
                    i.first().copied().unwrap_or(0) as usize,
                    i.get(1).copied().unwrap_or(0) as usize,
                    o.first().copied().unwrap_or(0) as usize,
                )
            }
            Backend::Lv2(l) => l.channels(),
            Backend::Vst3(v) => {
                let (i, o) = v.channels();
                (
                    i.first().copied().unwrap_or(0) as usize,
                    i.get(1).copied().unwrap_or(0) as usize,
                    o.first().copied().unwrap_or(0) as usize,
                )
            }
        }
    }

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

impl Drop for PluginNode {
    fn drop(&mut self) {
        // Destroying an instance is a main-thread call (see `host_lock`). Nodes are dropped on
        // the control thread: retired schedules go back to it.
        let _host = super::host_lock();
        self.insts.clear();
    }
}

/// How many copies of a plugin with `main_in` inputs and `outs` outputs run on a strip of
/// `in_ch` channels: one per channel for a mono plugin on a wider strip, else one.
fn copies_for(main_in: usize, outs: usize, in_ch: usize) -> usize {
    if main_in == 1 && outs == 1 && in_ch > 1 {
        in_ch.min(MAX_CHANNELS)
    } else {
        1
    }
}

impl Node for PluginNode {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn output_channels(&self, input_channels: &[usize]) -> usize {
        let in_ch = input_channels.first().copied().unwrap_or(0);
        self.outs * copies_for(self.main_in, self.outs, in_ch)
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        let _host = super::host_lock();
        let name = self.name.clone();
        let in_ch = cfg.input_channels.first().copied().unwrap_or(0);
        let copies = copies_for(self.main_in, self.outs, in_ch);
        // Where the plugin starts: every value the script set or automated, even one equal to
        // the plugin's default (it applies on top of a loaded state); a slot the script left
        // alone sends nothing until it moves, so a loaded state keeps its values.
        let mut start = Vec::new();
        for (i, &key) in self.keys.iter().enumerate() {
            self.last[i] = self.defaults[i] as f32;
            if let Some(v) = cfg.start_params.get(i).copied().flatten() {
                start.push((key, (v as f64).clamp(self.mins[i], self.maxs[i])));
                self.last[i] = v;
            }
        }
        let channels = self.main_in + self.side_in + self.outs;
        let mut insts = Vec::with_capacity(copies);
        let mut latency = 0;
        for _ in 0..copies {
            let mut inst =
                Backend::load(&self.id, &self.file).map_err(|e| format!("{name}: {e}"))?;
            let (m, s, o) = inst.channels();
            if (m, s, o.clamp(1, MAX_CHANNELS)) != (self.main_in, self.side_in, self.outs) {
                return Err(format!(
                    "{name}: the plugin now has {m} input, {s} sidechain and {o} output channel(s), not the {} / {} / {} it had when the script ran; run the script again",
                    self.main_in, self.side_in, self.outs
                ));
            }
            if let Some(f) = self.state_file.as_deref().map(std::path::Path::new) {
                match &mut inst {
                    Backend::Clap(c) => state::load_into(c, f),
                    Backend::Lv2(l) => state::load_into_lv2(l, f),
                    Backend::Vst3(v) => state::load_into_vst3(v, f),
                }
                .map_err(|e| format!("{name}: state {}: {e}", f.display()))?;
            }
            latency = match &mut inst {
                Backend::Clap(c) => {
                    c.set_params_inactive(&start);
                    c.activate(cfg.sample_rate, cfg.max_block, channels)
                }
                Backend::Lv2(l) => {
                    l.set_params(&start);
                    l.activate(cfg.sample_rate, cfg.max_block)
                }
                Backend::Vst3(v) => {
                    v.set_params_inactive(&start);
                    v.activate(cfg.sample_rate, cfg.max_block, &self.keys)
                        .and_then(|_| v.settle())
                }
            }
            .map_err(|e| format!("{name}: {e}"))?;
            insts.push(inst);
        }
        self.insts = insts;
        self.latency = latency;
        self.in_bufs = vec![vec![0.0; cfg.max_block]; self.main_in * copies];
        self.side_bufs = vec![vec![0.0; cfg.max_block]; self.side_in];
        self.out_bufs = vec![vec![0.0; cfg.max_block]; self.outs * copies];
        Ok(())
    }

    fn reset(&mut self) {
        // LV2 has no reset short of a new instance, VST3 none on the audio thread (its
        // setActive cycle is a main-thread call); their state stays.
        for inst in &mut self.insts {
            if let Backend::Clap(c) = inst {
                c.reset();
            }
        }
    }

    fn state_bytes(&self, cfg: &ProcessConfig) -> usize {
        let in_ch = cfg.input_channels.first().copied().unwrap_or(0);
        let copies = copies_for(self.main_in, self.outs, in_ch);
        (self.main_in + self.side_in + self.outs) * copies * cfg.max_block * 4
            + copies * super::changes::MAX_EVENTS_PER_BLOCK * 64
    }

    fn latency_frames(&self) -> u32 {
        self.latency
    }

    fn wants_start_params(&self) -> bool {
        true
    }

    fn failure(&self) -> Option<&crate::error::Error> {
        self.failed.then_some(&self.failure)
    }

    fn state_output(&mut self) -> Option<(PathBuf, Result<Vec<u8>, String>)> {
        let dest = self.state_out.clone()?;
        let _host = super::host_lock();
        let r = match self.insts.first_mut() {
            None => Err("the plugin never ran".to_string()),
            Some(Backend::Clap(c)) => Ok(state::save_clap(c, &self.keys, &self.id)),
            Some(Backend::Lv2(l)) => l.save_state().map(String::into_bytes),
            Some(Backend::Vst3(v)) => v.save_preset(),
        };
        Some((
            dest,
            r.map_err(|e| format!("plugin {}: state_out: {e}", self.name)),
        ))
    }

    fn report(&self) -> Option<String> {
        let dropped: u64 = self.insts.iter().map(Backend::dropped_changes).sum();
        let mut notes = Vec::new();
        if dropped > 0 {
            notes.push(format!(
                "plugin {}: {dropped} parameter events did not fit in their blocks",
                self.name
            ));
        }
        if let Some((at, _)) = self.latency_change.filter(|c| c.1 == UNKNOWN_LATENCY) {
            notes.push(format!(
                "plugin {}: it told the host its latency changed at frame {at} (the new value is read when the graph is compiled again, as `mixdown play` does); the paths around it stay aligned to {} frames",
                self.name, self.latency
            ));
        } else if let Some((at, now)) = self.latency_change {
            notes.push(format!(
                "plugin {}: its latency changed while it ran (frame {at}: {} → {now} frames); the paths around it stay aligned to {} frames — keep the parameter that sets its latency unautomated, or set it from the start",
                self.name, self.latency, self.latency
            ));
        }
        (!notes.is_empty()).then(|| notes.join("\n"))
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let frames = cx.frames;
        if self.failed || self.insts.is_empty() {
            for o in cx.outputs.iter_mut() {
                o.fill(0.0);
            }
            return ProcessStatus::Silent;
        }
        let input = cx.input(0);
        if self.insts.len() > 1 && !input.is_empty() {
            // One channel per copy.
            for (k, b) in self.in_bufs.iter_mut().enumerate() {
                b[..frames].copy_from_slice(&input[k.min(input.len() - 1)][..frames]);
            }
        } else {
            copy_port(&mut self.in_bufs, input, frames);
        }
        if self.side_in > 0 {
            copy_port(&mut self.side_bufs, cx.input(1), frames);
        }
        // The block's events, built into the first copy's list and copied to the others.
        let pos = cx.transport.position;
        let mut first = std::mem::take(self.insts[0].changes());
        first.clear();
        for i in 0..self.keys.len() {
            let v = cx.param(i);
            self.slot_events(&mut first, i, v, pos, frames);
        }
        for inst in &mut self.insts[1..] {
            inst.changes().copy_from(&first);
        }
        *self.insts[0].changes() = first;
        let (mi, mo) = (self.main_in, self.outs);
        let mut latency_now = None;
        for (k, inst) in self.insts.iter_mut().enumerate() {
            let ins = &mut self.in_bufs[k * mi..(k + 1) * mi];
            let outs = &mut self.out_bufs[k * mo..(k + 1) * mo];
            let r = match inst {
                Backend::Clap(c) => {
                    let side = (self.side_in > 0).then_some(&mut self.side_bufs[..]);
                    let r = c.process(ins, side, outs, frames, pos);
                    if c.take_latency_restart() {
                        latency_now = Some(UNKNOWN_LATENCY);
                    }
                    r
                }
                Backend::Lv2(l) => {
                    let r = l.process(ins, &self.side_bufs, outs, frames);
                    if l.latency_now() != self.latency {
                        latency_now = Some(l.latency_now());
                    }
                    r
                }
                Backend::Vst3(v) => {
                    let side = (self.side_in > 0).then_some(&mut self.side_bufs[..]);
                    let r = v.process(ins, side, outs, frames, pos);
                    if v.take_latency_change() {
                        latency_now = Some(UNKNOWN_LATENCY);
                    }
                    r
                }
            };
            if r.is_err() {
                // Its output this block is whatever the buffers held: silence instead.
                outs.iter_mut().for_each(|b| b[..frames].fill(0.0));
                self.failed = true;
            }
        }
        if let Some(now) = latency_now {
            if self.latency_change.is_none() {
                self.latency_change = Some((pos, now));
                super::note_latency_change();
            }
        }
        for (o, b) in cx.outputs.iter_mut().zip(&self.out_bufs) {
            o.copy_from_slice(&b[..frames]);
        }
        ProcessStatus::Continue
    }
}
