//! LV2 hosting through `livi` (lilv, the system's `liblilv-0`): discovery in lilv's search
//! path (`LV2_PATH`, else `~/.lv2`, `/usr/local/lib/lv2`, `/usr/lib/lv2`), description from the
//! plugin's ports, and one running instance ([`Lv2Instance`]).
//!
//! Parameters are the plugin's control input ports (key: the port index); latency is the
//! control output port named `latency` (LV2's `reportsLatency` convention), read after a
//! one-frame silent run at activation and after every run (a change is flagged for the node:
//! [`Lv2Instance::latency_now`]). Audio inputs with the `lv2:isSideChain` property form the
//! sidechain port. State is lilv's Turtle serialisation (the LV2 state extension plus every
//! control port), as LV2 presets are written.
//!
//! Threads: as for CLAP — everything but [`Lv2Instance::process`] runs on the control thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use livi::{EmptyPortConnections, PortIndex, PortType};

use super::changes::Changes;
use super::{names, ParamInfo, PluginFormat, PluginInfo};

/// The folders lilv itself searches: `LV2_PATH`, else `~/.lv2`, `/usr/local/lib/lv2`,
/// `/usr/lib/lv2`.
fn lilv_dirs() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("LV2_PATH") {
        return std::env::split_paths(&p)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
    }
    let mut v = Vec::new();
    if let Some(h) = std::env::var_os("HOME") {
        v.push(PathBuf::from(h).join(".lv2"));
    }
    v.push(PathBuf::from("/usr/local/lib/lv2"));
    v.push(PathBuf::from("/usr/lib/lv2"));
    v
}

/// The LV2 folders searched: lilv's ([`lilv_dirs`]), then the folders allowed with
/// `--allow-plugin`.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut v = lilv_dirs();
    v.extend(extra_only());
    v
}

/// The folders allowed with `--allow-plugin` that lilv does not search itself.
fn extra_only() -> Vec<PathBuf> {
    let base = lilv_dirs();
    super::extra_dirs()
        .into_iter()
        .filter(|d| !base.contains(d))
        .collect()
}

/// Which of the plugin's audio inputs (in port order) are sidechain inputs.
fn side_inputs(world: &livi::lilv::World, p: &livi::Plugin) -> Vec<bool> {
    let side = world.new_uri("http://lv2plug.in/ns/lv2core#isSideChain");
    p.ports_with_type(PortType::AudioInput)
        .map(|port| {
            p.raw()
                .port_by_index(port.index.0)
                .is_some_and(|q| q.has_property(&side))
        })
        .collect()
}

/// The symbol of an LV2 unit (`units:db` → `dB`); the unit's own name for others.
fn unit_symbol(uri: &str) -> String {
    let name = uri.rsplit(['#', '/']).next().unwrap_or("");
    match name {
        "db" => "dB",
        "hz" => "Hz",
        "khz" => "kHz",
        "mhz" => "MHz",
        "ms" => "ms",
        "s" => "s",
        "min" => "min",
        "pc" => "%",
        "bpm" => "BPM",
        "cent" => "cents",
        "semitone12TET" => "semitones",
        "oct" => "octaves",
        "frame" => "frames",
        "bar" => "bars",
        "beat" => "beats",
        "m" => "m",
        "cm" => "cm",
        "mm" => "mm",
        "km" => "km",
        "degree" => "°",
        "coef" | "midiNote" => "",
        other => other,
    }
    .to_string()
}

fn describe_plugin(world: &livi::lilv::World, p: &livi::Plugin) -> PluginInfo {
    let uri = p.uri();
    let bundle = p
        .raw()
        .bundle_uri()
        .path()
        .map(|(_, path)| PathBuf::from(path))
        .unwrap_or_default();
    let vendor = p
        .raw()
        .author_name()
        .and_then(|n| n.as_str().map(str::to_string))
        .unwrap_or_default();
    let counts = p.port_counts();
    let lv2_uri = |u: &str| world.new_uri(u);
    let unit_pred = lv2_uri("http://lv2plug.in/ns/extensions/units#unit");
    let steps = [
        lv2_uri("http://lv2plug.in/ns/lv2core#integer"),
        lv2_uri("http://lv2plug.in/ns/lv2core#toggled"),
        lv2_uri("http://lv2plug.in/ns/lv2core#enumeration"),
    ];
    let mut params: Vec<ParamInfo> = p
        .ports_with_type(PortType::ControlInput)
        .map(|port| {
            let min = port.min_value.unwrap_or(0.0) as f64;
            let max = port.max_value.unwrap_or(1.0) as f64;
            let raw = p.raw().port_by_index(port.index.0);
            let unit = raw
                .as_ref()
                .and_then(|q| q.get(&unit_pred))
                .and_then(|n| n.as_uri().map(unit_symbol))
                .unwrap_or_default();
            ParamInfo {
                key: port.index.0 as u32,
                ident: String::new(),
                name: port.name.clone(),
                min: min.min(max),
                max: max.max(min),
                default: port.default_value as f64,
                stepped: raw
                    .as_ref()
                    .is_some_and(|q| steps.iter().any(|s| q.has_property(s))),
                unit,
            }
        })
        .collect();
    names::assign_idents(&mut params);
    let side = side_inputs(world, p);
    let audio_in = side.iter().filter(|s| !**s).count() as u32;
    let side_in = side.iter().filter(|s| **s).count() as u32;
    PluginInfo {
        id: format!("lv2:{uri}"),
        raw_id: uri,
        name: p.name(),
        vendor,
        format: PluginFormat::Lv2,
        file: bundle,
        inputs: match (audio_in, side_in) {
            (0, 0) => vec![],
            (m, 0) => vec![m],
            (m, s) => vec![m, s],
        },
        outputs: vec![counts.audio_outputs as u32],
        latency: 0,
        params,
        has_state: true,
    }
}

/// Every LV2 plugin lilv finds, with audio ports, then those of bundles in folders allowed
/// with `--allow-plugin`. Control thread.
pub fn scan() -> Vec<PluginInfo> {
    let world = livi::World::new();
    let mut v: Vec<PluginInfo> = world
        .iter_plugins()
        .filter(|p| p.port_counts().audio_outputs > 0)
        .map(|p| describe_plugin(world.raw(), &p))
        .collect();
    for dir in extra_only() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut bundles: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        bundles.sort();
        for b in bundles
            .into_iter()
            .filter(|b| b.join("manifest.ttl").is_file())
        {
            let w = bundle_world(&b);
            for p in w.iter_plugins() {
                if p.port_counts().audio_outputs > 0 && !v.iter().any(|i| i.raw_id == p.uri()) {
                    v.push(describe_plugin(w.raw(), &p));
                }
            }
        }
    }
    v
}

/// The LV2 plugin `uri` (only it is described). Control thread.
///
/// Loading every bundle's data takes seconds with a large catalogue installed, so the bundle
/// whose `manifest.ttl` names the URI is loaded alone first; lilv's full load is the fallback.
pub fn find(uri: &str) -> Option<PluginInfo> {
    let needle = format!("<{uri}>");
    for dir in search_dirs() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let b = e.path();
            let names_it =
                std::fs::read_to_string(b.join("manifest.ttl")).is_ok_and(|m| m.contains(&needle));
            if names_it {
                let w = bundle_world(&b);
                if let Some(p) = w.plugin_by_uri(uri) {
                    return Some(describe_plugin(w.raw(), &p));
                }
            }
        }
    }
    let world = livi::World::with_plugin_predicate(|p| p.uri() == uri);
    world
        .plugin_by_uri(uri)
        .map(|p| describe_plugin(world.raw(), &p))
}

fn bundle_world(bundle: &Path) -> livi::World {
    let mut uri = format!("file://{}", bundle.display());
    if !uri.ends_with('/') {
        uri.push('/');
    }
    livi::World::with_load_bundle(&uri)
}

/// Most silent one-frame runs at activation while the reported latency settles.
const PRIMING_RUNS: usize = 4;

/// One LV2 instance (made at activation, when the sample rate is known).
pub struct Lv2Instance {
    uri: String,
    bundle: PathBuf,
    inst: Option<livi::Instance>,
    features: Option<Arc<livi::Features>>,
    /// A state to restore at activation (Turtle).
    state: Option<String>,
    /// Control values set before activation: (port index, value).
    preset: Vec<(u32, f64)>,
    /// Preallocated control changes of the block being processed.
    pub changes: Changes,
    latency_port: Option<PortIndex>,
    /// The latency the plugin reported after its last run (frames).
    latency_now: u32,
    /// Per audio input in port order: whether it belongs to the sidechain port, and its
    /// channel there.
    inputs: Vec<(bool, usize)>,
    /// Event (atom) and CV ports, connected to preallocated empty buffers: mixdown sends the
    /// plugin no events and reads none back.
    extra: ExtraPorts,
    ins: usize,
    outs: usize,
}

/// Buffers for the ports mixdown does not use but a plugin needs connected: empty atom
/// sequences in (cleared before each run), atom sequences out (reset to their capacity), silent
/// CV inputs and scratch CV outputs. Made at activation.
#[derive(Default)]
struct ExtraPorts {
    atom_in: Vec<livi::event::LV2AtomSequence>,
    atom_out: Vec<livi::event::LV2AtomSequence>,
    cv_in: Vec<Vec<f32>>,
    cv_out: Vec<Vec<f32>>,
}

/// Bytes of each atom output sequence (plugins write notifications for their GUIs there).
const ATOM_BYTES: usize = 8192;

/// Runs `inst` over `range` of the buffers: audio inputs in port order from `main_in` or
/// `side_in` as `inputs` says, the unused ports on `extra`. Audio thread; allocates nothing.
fn run_piece(
    inst: &mut livi::Instance,
    inputs: &[(bool, usize)],
    extra: &mut ExtraPorts,
    (main_in, side_in): (&[Vec<f32>], &[Vec<f32>]),
    out: &mut [Vec<f32>],
    range: std::ops::Range<usize>,
) -> Result<(), &'static str> {
    for a in &mut extra.atom_in {
        a.clear();
    }
    for a in &mut extra.atom_out {
        a.clear_as_chunk();
    }
    let (start, end) = (range.start, range.end);
    let audio = inputs.iter().map(|&(is_side, c)| {
        let b = if is_side { &side_in[c] } else { &main_in[c] };
        &b[start..end]
    });
    let ports = EmptyPortConnections::new()
        .with_audio_inputs(audio)
        .with_audio_outputs(out.iter_mut().map(|b| &mut b[start..end]))
        .with_atom_sequence_inputs(extra.atom_in.iter())
        .with_atom_sequence_outputs(extra.atom_out.iter_mut())
        .with_cv_inputs(extra.cv_in.iter().map(|b| &b[start..end]))
        .with_cv_outputs(extra.cv_out.iter_mut().map(|b| &mut b[start..end]));
    // SAFETY: buffers of the plugin's port counts, each at least `end - start` long, valid for
    // the call; no other thread touches the instance.
    unsafe { inst.run(end - start, ports) }.map_err(|_| "the plugin's run failed")
}

impl Lv2Instance {
    /// The plugin `uri` of `bundle` (not yet instantiated). Control thread.
    pub fn new(bundle: &Path, uri: &str) -> Result<Self, String> {
        let world = bundle_world(bundle);
        let p = world
            .plugin_by_uri(uri)
            .ok_or_else(|| format!("{uri} not found in {}", bundle.display()))?;
        let c = p.port_counts();
        let (mut m, mut sc) = (0, 0);
        let inputs = side_inputs(world.raw(), &p)
            .into_iter()
            .map(|is_side| {
                let n = if is_side { &mut sc } else { &mut m };
                *n += 1;
                (is_side, *n - 1)
            })
            .collect();
        let latency_port = p
            .ports_with_type(PortType::ControlOutput)
            .find(|q| q.symbol == "latency" || q.name.eq_ignore_ascii_case("latency"))
            .map(|q| q.index);
        Ok(Self {
            uri: uri.to_string(),
            bundle: bundle.to_path_buf(),
            inst: None,
            features: None,
            state: None,
            preset: Vec::new(),
            changes: Changes::default(),
            latency_port,
            latency_now: 0,
            inputs,
            extra: ExtraPorts::default(),
            ins: c.audio_inputs,
            outs: c.audio_outputs,
        })
    }

    /// Audio channels (main inputs, sidechain inputs, outputs).
    pub fn channels(&self) -> (usize, usize, usize) {
        let side = self.inputs.iter().filter(|i| i.0).count();
        (self.ins - side, side, self.outs)
    }

    /// The latency the plugin reported after its last run. Audio thread.
    pub fn latency_now(&self) -> u32 {
        self.latency_now
    }

    /// Restores this Turtle state at activation.
    pub fn set_state(&mut self, turtle: String) {
        self.state = Some(turtle);
    }

    /// Sets control values at activation (after any state).
    pub fn set_params(&mut self, values: &[(u32, f64)]) {
        self.preset.extend_from_slice(values);
    }

    /// Instantiates for a stream format, restores state and values; returns the latency.
    /// Control thread.
    pub fn activate(&mut self, sample_rate: f64, max_block: usize) -> Result<u32, String> {
        let world = bundle_world(&self.bundle);
        let p = world
            .plugin_by_uri(&self.uri)
            .ok_or_else(|| format!("{} not found", self.uri))?;
        let features = world
            .try_build_features(livi::FeaturesBuilder {
                min_block_length: 1,
                max_block_length: max_block.max(1),
            })
            .map_err(|e| format!("features: {e:?}"))?;
        // SAFETY: the plugin comes from an allowed LV2 folder and is trusted code, as in every
        // host; the instance is driven by one thread at a time (see `ClapInstance`'s `Send`).
        let mut inst = unsafe { p.instantiate(features.clone(), sample_rate) }
            .map_err(|e| format!("cannot instantiate: {e:?}"))?;
        if let Some(t) = &self.state {
            let st = world
                .state_from_string(&features, t)
                .map_err(|e| format!("state: {e:?}"))?;
            inst.restore_state(&st)
                .map_err(|e| format!("state: {e:?}"))?;
        }
        for &(k, v) in &self.preset {
            inst.set_control_input(PortIndex(k as usize), v as f32);
        }
        let counts = p.port_counts();
        // Each atom port's buffer: ATOM_BYTES, or the `rsz:minimumSize` the port asks for.
        let min_size = world
            .raw()
            .new_uri("http://lv2plug.in/ns/ext/resize-port#minimumSize");
        let sequences = |t: PortType| -> Vec<livi::event::LV2AtomSequence> {
            p.ports_with_type(t)
                .map(|port| {
                    let asked = p
                        .raw()
                        .port_by_index(port.index.0)
                        .and_then(|q| q.get(&min_size))
                        .and_then(|n| n.as_int())
                        .unwrap_or(0)
                        .max(0) as usize;
                    livi::event::LV2AtomSequence::new(&features, asked.max(ATOM_BYTES))
                })
                .collect()
        };
        self.extra = ExtraPorts {
            atom_in: sequences(PortType::AtomSequenceInput),
            atom_out: sequences(PortType::AtomSequenceOutput),
            cv_in: vec![vec![0.0; max_block.max(1)]; counts.cv_inputs],
            cv_out: vec![vec![0.0; max_block.max(1)]; counts.cv_outputs],
        };
        // Silent single frames until the plugin reports the same latency twice on its output
        // port (some, like x42's nodelay, apply a new setting one run after reporting it;
        // at most PRIMING_RUNS frames of silence go through it).
        let mut latency = 0;
        if let Some(lp) = self.latency_port {
            let (m, sc, o) = self.channels();
            let (main, side) = (vec![vec![0.0f32; 1]; m], vec![vec![0.0f32; 1]; sc]);
            let mut outs = vec![vec![0.0f32; 1]; o];
            let mut last = None;
            for _ in 0..PRIMING_RUNS {
                run_piece(
                    &mut inst,
                    &self.inputs,
                    &mut self.extra,
                    (&main, &side),
                    &mut outs,
                    0..1,
                )
                .map_err(|e| format!("first run: {e}"))?;
                latency = inst.control_output(lp).unwrap_or(0.0).max(0.0) as u32;
                if last == Some(latency) {
                    break;
                }
                last = Some(latency);
            }
        }
        self.latency_now = latency;
        self.changes = Changes::with_capacity(super::changes::MAX_EVENTS_PER_BLOCK);
        self.inst = Some(inst);
        self.features = Some(features);
        Ok(latency)
    }

    /// The state as Turtle. Control thread.
    pub fn save_state(&mut self) -> Result<String, String> {
        if self.inst.is_none() {
            self.activate(48000.0, 512)?;
        }
        let inst = self.inst.as_ref().expect("activated");
        let st = inst.state().map_err(|e| format!("state: {e:?}"))?;
        st.to_string(&format!("urn:mixdown:state:{}", self.uri))
            .map_err(|e| format!("state: {e:?}"))
    }

    /// Processes one block, cut at every change (LV2 controls hold for a whole `run`):
    /// `main_in` and `side_in` (the sidechain inputs, empty for a plugin without) into `out`.
    /// Reads the latency port after each run. Audio thread; allocates nothing.
    pub fn process(
        &mut self,
        main_in: &[Vec<f32>],
        side_in: &[Vec<f32>],
        out: &mut [Vec<f32>],
        frames: usize,
    ) -> Result<(), &'static str> {
        let Some(inst) = self.inst.as_mut() else {
            return Err("not activated");
        };
        let (inputs, extra, lp) = (&self.inputs, &mut self.extra, self.latency_port);
        let mut latency = self.latency_now;
        let r = self.changes.pieces(frames, |r, at_start| {
            for &(_, key, value) in at_start {
                inst.set_control_input(PortIndex(key as usize), value as f32);
            }
            let ran = run_piece(inst, inputs, extra, (main_in, side_in), out, r);
            if let Some(lp) = lp {
                latency = inst.control_output(lp).unwrap_or(0.0).max(0.0) as u32;
            }
            ran
        });
        self.latency_now = latency;
        r
    }
}
