//! CLAP hosting through `clack-host`: loading a bundle's entry, describing its plugins, and one
//! running instance ([`ClapInstance`]) — activation, processing with timestamped parameter
//! events, parameter values, state, latency.
//!
//! Threads: everything but [`ClapInstance::process`] is a main-thread call in CLAP's sense and
//! runs on the engine's control thread (compile, reload planning, CLI); `process` runs on the
//! audio thread (or a render worker) and allocates nothing on the host side.

use std::ffi::CString;
use std::path::Path;

use clack_extensions::audio_ports::{AudioPortInfoBuffer, PluginAudioPorts};
use clack_extensions::latency::{HostLatency, HostLatencyImpl, PluginLatency};
use clack_extensions::params::{
    HostParams, HostParamsImplMainThread, HostParamsImplShared, ParamClearFlags, ParamInfoBuffer,
    ParamInfoFlags, ParamRescanFlags, PluginParams,
};
use clack_extensions::state::{HostState, HostStateImpl, PluginState};
use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;

use super::changes::Changes;
use super::{names, ParamInfo, PluginFormat, PluginInfo};

/// The host side of every instance. Requests from the plugin are noted (a latency change is
/// flagged for the node to see) or ignored: processing runs every block anyway, and a restart
/// request is not honoured. Some plugins (DPF's CLAP wrapper) call the host's latency, params
/// and state extensions without checking they exist, so all three are provided.
pub struct MdHost;

/// Shared host handler.
#[derive(Default)]
pub struct MdShared {
    /// Set when the plugin asks for a restart (as it must to change its latency while active).
    pub restart_requested: std::sync::atomic::AtomicBool,
}

/// Main-thread host handler. (A latency change the plugin announces while activating is read
/// from its latency extension after activation; nothing needs keeping here.)
#[derive(Default)]
pub struct MdMain;

impl SharedHandler<'_> for MdShared {
    fn request_restart(&self) {
        self.restart_requested
            .store(true, std::sync::atomic::Ordering::Release);
    }
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

impl MainThreadHandler<'_> for MdMain {}

impl HostLatencyImpl for MdMain {
    fn changed(&self) {}
}

impl HostParamsImplShared for MdShared {
    fn request_flush(&self) {}
}

impl HostParamsImplMainThread for MdMain {
    fn rescan(&self, _flags: ParamRescanFlags) {}
    fn clear(&self, _param_id: ClapId, _flags: ParamClearFlags) {}
}

impl HostStateImpl for MdMain {
    fn mark_dirty(&self) {}
}

impl HostHandlers for MdHost {
    type Shared<'a> = MdShared;
    type MainThread<'a> = MdMain;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder
            .register::<HostLatency>()
            .register::<HostParams>()
            .register::<HostState>();
    }
}

fn host_info() -> Result<HostInfo, String> {
    HostInfo::new(
        "mixdown",
        "mixdown",
        "https://github.com/mixdown",
        env!("CARGO_PKG_VERSION"),
    )
    .map_err(|e| format!("host info: {e}"))
}

/// Loads the CLAP entry in `file`. Control thread.
pub fn load_entry(file: &Path) -> Result<PluginEntry, String> {
    // SAFETY: loading a CLAP bundle runs its initialisation code in this process. The bundle
    // comes from a folder the user allowed (the standard folders, CLAP_PATH or --allow-plugin),
    // checked by the caller; a plugin is trusted code, as in every host.
    unsafe { PluginEntry::load(file) }.map_err(|e| format!("cannot load {}: {e}", file.display()))
}

/// The `(id, name)` of each plugin in a CLAP bundle, from its factory alone (no instance).
/// Control thread.
pub fn list_bundle(file: &Path) -> Result<Vec<(String, String)>, String> {
    let entry = load_entry(file)?;
    let factory = entry
        .get_plugin_factory()
        .ok_or_else(|| format!("{}: no plugin factory", file.display()))?;
    Ok(factory
        .plugin_descriptors()
        .filter_map(|d| {
            let id = d.id()?.to_string_lossy().into_owned();
            let name = d
                .name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| id.clone());
            Some((id, name))
        })
        .collect())
}

/// The plugins a CLAP bundle holds, described by instantiating each once (parameters, ports and
/// latency need an instance). Control thread.
pub fn describe_bundle(file: &Path) -> Result<Vec<PluginInfo>, String> {
    let entry = load_entry(file)?;
    let factory = entry
        .get_plugin_factory()
        .ok_or_else(|| format!("{}: no plugin factory", file.display()))?;
    let mut out = Vec::new();
    for d in factory.plugin_descriptors() {
        let Some(id) = d.id() else { continue };
        let raw_id = id.to_string_lossy().into_owned();
        let name = d
            .name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| raw_id.clone());
        let vendor = d
            .vendor()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut info = PluginInfo {
            id: format!("clap:{raw_id}"),
            raw_id,
            name,
            vendor,
            format: PluginFormat::Clap,
            file: file.to_path_buf(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            latency: 0,
            params: Vec::new(),
            has_state: false,
        };
        match ClapInstance::new(&entry, &info.raw_id) {
            Ok(mut inst) => inst.describe(&mut info),
            Err(e) => return Err(format!("{}: {e}", info.id)),
        }
        out.push(info);
    }
    Ok(out)
}

use super::changes::MAX_EVENTS_PER_BLOCK;

/// One instance of a CLAP plugin, activated for a stream format.
pub struct ClapInstance {
    // Field order is drop order: the processor goes before the instance (and `Drop` stops and
    // deactivates it first anyway), the instance before its entry.
    processor: Option<StartedPluginAudioProcessor<MdHost>>,
    instance: PluginInstance<MdHost>,
    _entry: PluginEntry,
    params: Option<PluginParams>,
    state: Option<PluginState>,
    latency: Option<PluginLatency>,
    ports: Option<PluginAudioPorts>,
    /// Preallocated input and output port descriptions (channel pointer lists).
    in_ports: AudioPorts,
    out_ports: AudioPorts,
    /// Preallocated parameter changes of the block being processed.
    pub changes: Changes,
    /// Preallocated events of the piece of the block being processed.
    events: Vec<ParamValueEvent>,
}

// SAFETY: `PluginInstance` is `!Send` because CLAP requires main-thread calls (activation,
// parameter queries, state, destruction) to come from one thread at a time and never overlap
// audio-thread calls. The engine upholds that: an instance is created, activated, queried and
// finally deactivated and dropped on the control thread, while `process` (the only audio-thread
// call) runs on whichever single thread owns the node at that moment. A node is owned by exactly
// one thread at a time (moved through the schedule queues, never shared), so no two calls ever
// overlap. The processor handle itself is `Send` in clack.
unsafe impl Send for ClapInstance {}

impl ClapInstance {
    /// Instantiates plugin `raw_id` from a loaded entry (not yet active). Control thread.
    pub fn new(entry: &PluginEntry, raw_id: &str) -> Result<Self, String> {
        let cid = CString::new(raw_id).map_err(|_| "plugin id holds a NUL byte".to_string())?;
        let instance = PluginInstance::<MdHost>::new(
            |_| MdShared::default(),
            |_| MdMain,
            entry,
            &cid,
            &host_info()?,
        )
        .map_err(|e| format!("cannot instantiate: {e}"))?;
        let shared = instance.plugin_shared_handle();
        let params = shared.get_extension::<PluginParams>();
        let state = shared.get_extension::<PluginState>();
        let latency = shared.get_extension::<PluginLatency>();
        let ports = shared.get_extension::<PluginAudioPorts>();
        Ok(Self {
            processor: None,
            instance,
            _entry: entry.clone(),
            params,
            state,
            latency,
            ports,
            in_ports: AudioPorts::with_capacity(0, 0),
            out_ports: AudioPorts::with_capacity(0, 0),
            changes: Changes::default(),
            events: Vec::new(),
        })
    }

    /// Fills ports, parameters, latency (before activation: usually 0) and state support.
    pub fn describe(&mut self, info: &mut PluginInfo) {
        info.inputs = self.port_channels(true);
        info.outputs = self.port_channels(false);
        info.params = self.param_infos();
        info.has_state = self.state.is_some();
        if let Some(l) = self.latency {
            info.latency = l.get(&self.instance.plugin_handle());
        }
    }

    /// Channel count of each audio port (main first).
    pub fn port_channels(&mut self, input: bool) -> Vec<u32> {
        let Some(ports) = self.ports else {
            // No audio-ports extension: CLAP hosts assume one stereo port each way.
            return vec![2];
        };
        let h = self.instance.plugin_handle();
        let mut buf = AudioPortInfoBuffer::new();
        (0..ports.count(&h, input))
            .filter_map(|i| ports.get(&h, i, input, &mut buf).map(|p| p.channel_count))
            .collect()
    }

    /// The plugin's parameters (hidden and read-only ones left out), with unique Lua names.
    pub fn param_infos(&mut self) -> Vec<ParamInfo> {
        let Some(params) = self.params else {
            return Vec::new();
        };
        let h = self.instance.plugin_handle();
        let mut buf = ParamInfoBuffer::new();
        let mut out: Vec<ParamInfo> = Vec::new();
        for i in 0..params.count(&h) {
            let Some(p) = params.get_info(&h, i, &mut buf) else {
                continue;
            };
            if p.flags
                .intersects(ParamInfoFlags::IS_HIDDEN | ParamInfoFlags::IS_READONLY)
            {
                continue;
            }
            let name = String::from_utf8_lossy(p.name).into_owned();
            let mut text = [0u8; 64];
            let unit = params
                .value_to_text(&h, p.id, p.default_value, &mut text)
                .map(|t| super::unit_of_text(&String::from_utf8_lossy(t)))
                .unwrap_or_default();
            out.push(ParamInfo {
                key: p.id.get(),
                ident: String::new(),
                name,
                min: p.min_value,
                max: p.max_value,
                default: p.default_value,
                stepped: p.flags.contains(ParamInfoFlags::IS_STEPPED),
                unit,
            });
        }
        names::assign_idents(&mut out);
        out
    }

    /// The current value of parameter `key`. Control thread.
    pub fn param_value(&mut self, key: u32) -> Option<f64> {
        let params = self.params?;
        let id = ClapId::from_raw(key)?;
        params.get_value(&self.instance.plugin_handle(), id)
    }

    /// Sets parameters while inactive (before `activate`) through the params extension's flush.
    /// Control thread.
    pub fn set_params_inactive(&mut self, values: &[(u32, f64)]) {
        let Some(params) = self.params else { return };
        let evs: Vec<ParamValueEvent> = values
            .iter()
            .filter_map(|&(k, v)| {
                Some(ParamValueEvent::new(
                    0,
                    ClapId::from_raw(k)?,
                    Pckn::match_all(),
                    v,
                ))
            })
            .collect();
        let input = InputEvents::from_buffer(&evs);
        let mut out = OutputEvents::void();
        if let Some(mut h) = self.instance.inactive_plugin_handle() {
            params.flush(&mut h, &input, &mut out);
        }
    }

    /// Whether the plugin saves and loads state blobs.
    pub fn has_state(&self) -> bool {
        self.state.is_some()
    }

    /// The plugin's state blob. Control thread.
    pub fn save_state(&mut self) -> Result<Vec<u8>, String> {
        let st = self
            .state
            .ok_or_else(|| "the plugin has no state extension".to_string())?;
        let mut v = Vec::new();
        st.save(&self.instance.plugin_handle(), &mut v)
            .map_err(|e| format!("saving state failed: {e}"))?;
        Ok(v)
    }

    /// Loads a state blob. Control thread.
    pub fn load_state(&mut self, blob: &[u8]) -> Result<(), String> {
        let st = self
            .state
            .ok_or_else(|| "the plugin has no state extension".to_string())?;
        let mut r = blob;
        st.load(&self.instance.plugin_handle(), &mut r)
            .map_err(|e| format!("loading state failed: {e}"))
    }

    /// Activates for a stream format and starts processing; returns the latency. Control
    /// thread; allocates the port and event lists.
    pub fn activate(
        &mut self,
        sample_rate: f64,
        max_block: usize,
        channels: usize,
    ) -> Result<u32, String> {
        if let Some(p) = self.processor.take() {
            self.instance.deactivate(p.stop_processing());
        }
        let cfg = PluginAudioConfiguration {
            sample_rate,
            min_frames_count: 1,
            max_frames_count: max_block as u32,
        };
        let stopped = self
            .instance
            .activate(|_, _| (), cfg)
            .map_err(|e| format!("activation failed: {e}"))?;
        let started = stopped
            .start_processing()
            .map_err(|e| format!("start_processing failed: {e}"))?;
        self.processor = Some(started);
        self.in_ports = AudioPorts::with_capacity(channels, 2);
        self.out_ports = AudioPorts::with_capacity(channels, 2);
        self.changes = Changes::with_capacity(MAX_EVENTS_PER_BLOCK);
        self.events = Vec::with_capacity(MAX_EVENTS_PER_BLOCK);
        // Requests made while instantiating and activating are answered by this activation.
        if let Some(p) = self.processor.as_ref() {
            p.access_shared_handler(|s| {
                s.restart_requested
                    .store(false, std::sync::atomic::Ordering::Release)
            });
        }
        Ok(self.latency())
    }

    /// Whether the plugin asked for a restart since the last call (clears the request), for a
    /// plugin that reports latency — the restart CLAP requires to change it. Audio thread: one
    /// atomic swap.
    pub fn take_latency_restart(&mut self) -> bool {
        match self.processor.as_ref().filter(|_| self.latency.is_some()) {
            Some(p) => p.access_shared_handler(|s| {
                s.restart_requested
                    .swap(false, std::sync::atomic::Ordering::AcqRel)
            }),
            None => false,
        }
    }

    /// The latency the plugin reports now. Control thread.
    pub fn latency(&mut self) -> u32 {
        match self.latency {
            Some(l) => l.get(&self.instance.plugin_handle()),
            None => 0,
        }
    }

    /// Processes one block of `frames`: `main_in` (and `side_in`, for a plugin with a second
    /// input port) into `out`, with the queued parameter changes.
    ///
    /// Sample accuracy does not depend on the plugin: the block is cut at every frame where a
    /// change happens, and each piece is processed with its changes at its first frame. So a
    /// plugin that applies parameters once per `process` call (as DPF's CLAP wrapper does) still
    /// hears each change on its frame, and the output does not depend on the block size.
    ///
    /// The buffers are the caller's (mutable because CLAP input buffers are not `const`).
    /// Audio thread; allocates nothing: the changes are sorted in place and the events are built
    /// in a preallocated list.
    pub fn process(
        &mut self,
        main_in: &mut [Vec<f32>],
        mut side_in: Option<&mut [Vec<f32>]>,
        out: &mut [Vec<f32>],
        frames: usize,
        steady_time: u64,
    ) -> Result<(), &'static str> {
        // (Taken out for the walk, which calls back into `self`; moving a Vec never allocates.)
        let mut changes = std::mem::take(&mut self.changes);
        let r = changes.pieces(frames, |range, at_start| {
            self.events.clear();
            for &(_, key, value) in at_start {
                if let Some(id) = ClapId::from_raw(key) {
                    self.events
                        .push(ParamValueEvent::new(0, id, Pckn::match_all(), value));
                }
            }
            let t = steady_time + range.start as u64;
            self.process_range(main_in, side_in.as_deref_mut(), out, range, t)
        });
        self.changes = changes;
        r
    }

    fn process_range(
        &mut self,
        main_in: &mut [Vec<f32>],
        side_in: Option<&mut [Vec<f32>]>,
        out: &mut [Vec<f32>],
        range: std::ops::Range<usize>,
        steady_time: u64,
    ) -> Result<(), &'static str> {
        let Some(proc) = self.processor.as_mut() else {
            return Err("not activated");
        };
        let events = &self.events[..];
        let input_events = InputEvents::from_buffer(&events);
        let mut output_events = OutputEvents::void();
        let main = AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(in_channels(main_in, range.clone())),
        };
        let input = match side_in {
            Some(side) => {
                let sc = AudioPortBuffer {
                    latency: 0,
                    channels: AudioPortBufferType::f32_input_only(in_channels(side, range.clone())),
                };
                self.in_ports.with_input_buffers([main, sc])
            }
            None => self.in_ports.with_input_buffers([main]),
        };
        let mut output = self.out_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                out.iter_mut().map(|b| &mut b[range.clone()]),
            ),
        }]);
        proc.process(
            &input,
            &mut output,
            &input_events,
            &mut output_events,
            Some(steady_time),
            None,
        )
        .map(|_| ())
        .map_err(|_| "the plugin's process call failed")
    }

    /// Clears the plugin's processing state (CLAP `reset`). Audio thread.
    pub fn reset(&mut self) {
        if let Some(p) = self.processor.as_mut() {
            p.reset();
        }
    }
}

/// The input channel list of one port (one function, so both ports have the same type).
fn in_channels(
    bufs: &mut [Vec<f32>],
    range: std::ops::Range<usize>,
) -> impl Iterator<Item = InputChannel<'_, f32>> {
    bufs.iter_mut()
        .map(move |b| InputChannel::variable(&mut b[range.clone()]))
}

impl Drop for ClapInstance {
    fn drop(&mut self) {
        if let Some(p) = self.processor.take() {
            self.instance.deactivate(p.stop_processing());
        }
    }
}
