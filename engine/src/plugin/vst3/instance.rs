//! One hosted VST3 plugin ([`Vst3Instance`]): the component and its edit controller, set up
//! the way the SDK's hosting guide lays out, processing with preallocated buffers and
//! parameter queues.
//!
//! Set-up (control thread): the component is created from the module's factory and
//! initialised with the host context ([`HostApp`]); the controller is the component itself
//! (single-component plugins) or created from `getControllerClassId`, initialised, given a
//! [`Handler`], connected to the component both ways through `IConnectionPoint`, and handed the
//! component's state (`setComponentState`). Activation sets the bus arrangements (mono or
//! stereo as the buses declare them), activates the main buses and the first aux input, calls
//! `setupProcessing` (32-bit, the rate, the largest block), `setActive(true)` and
//! `setProcessing(true)`. No view is ever created.
//!
//! Parameters reach the plugin as `IParameterChanges` points, normalised with per-slot tables
//! ([`NormTable`]) so the audio thread never calls the controller.
//!
//! Sample accuracy: VST3 points carry sample offsets, but what a plugin does with a point past
//! offset 0 is up to it. DPF's wrapper (every zam plugin) applies points at offset 0 before the
//! block and the last later point *after* it, so a change inside a block would be heard one
//! block late. Hence, as for CLAP and LV2, the block is cut at every change by default and each
//! piece gets its points at offset 0 ([`Vst3Instance::split_at_changes`]); with it off, one call
//! per block carries every point at its exact offset, for plugins that honour offsets.

use std::ffi::c_void;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use vst3::Steinberg::Vst::{
    AudioBusBuffers, BusDirections_, BusInfo, IAudioProcessor, IAudioProcessorTrait, IComponent,
    IComponentHandler, IComponentTrait, IConnectionPoint, IConnectionPointTrait, IEditController,
    IEditControllerTrait, MediaTypes_, ParameterInfo, ParameterInfo_::ParameterFlags_,
    ProcessContext, ProcessModes_, ProcessSetup, SpeakerArr, SpeakerArrangement,
    SymbolicSampleSizes_,
};
use vst3::Steinberg::{kResultOk, FUnknown, IBStream, IPluginBaseTrait, IPluginFactoryTrait, TUID};
use vst3::{ComPtr, ComWrapper, Interface};

use super::host::{Handler, HostApp, ParamChanges};
use super::params::NormTable;
use super::stream::MemStream;
use super::{load_module, preset, Module};
use crate::plugin::changes::Changes;
use crate::plugin::{names, ParamInfo, PluginInfo};

mod process;

use process::bus;

/// One VST3 plugin instance.
pub struct Vst3Instance {
    // Field order is drop order for the COM pointers: `Drop` first stops processing and
    // disconnects and terminates both halves, then the controller goes before the component.
    controller: Option<ComPtr<IEditController>>,
    processor: ComPtr<IAudioProcessor>,
    component: ComPtr<IComponent>,
    /// Whether the controller is a separate object (terminated on its own).
    separate: bool,
    /// The connection points (component's, controller's) while connected.
    points: Option<(ComPtr<IConnectionPoint>, ComPtr<IConnectionPoint>)>,
    /// The host context the plugin was initialised with: kept alive (not read) until the
    /// plugin is terminated, as the plugin may hold it without a reference of its own.
    _host: ComWrapper<HostApp>,
    handler: ComWrapper<Handler>,
    _module: &'static Module,
    cid: [u8; 16],
    /// Audio input and output buses' channel counts (main first).
    ins: Vec<u32>,
    outs: Vec<u32>,
    active: bool,
    /// Set when the plugin reports a latency change (`restartComponent(kLatencyChanged)`).
    pub latency_changed: Arc<AtomicBool>,
    /// Preallocated parameter changes of the block being processed (plain values).
    pub changes: Changes,
    /// Whether a block is cut at every change (each piece gets its points at offset 0); see
    /// the module docs. On by default.
    pub split_at_changes: bool,
    input_changes: ComWrapper<ParamChanges>,
    output_changes: ComWrapper<ParamChanges>,
    /// Normalisation tables by parameter id (sorted by id).
    tables: Vec<(u32, NormTable)>,
    /// Normalised values set before activation, delivered at offset 0 of the first call.
    pending: Vec<(u32, f64)>,
    in_ptrs: [Vec<*mut f32>; 2],
    out_ptrs: Vec<*mut f32>,
    in_buses: [AudioBusBuffers; 2],
    out_bus: AudioBusBuffers,
    context: ProcessContext,
}

// SAFETY: the COM objects are `!Send` through raw pointers only. VST3 requires the component
// and controller's main-thread calls (set-up, state, activation, termination) to come from one
// thread and never overlap `process`; the engine makes every such call on the control thread
// while the node is not processing, and `process` (the only audio-thread call) runs on the
// single thread that owns the node at that moment (nodes move between threads through the
// schedule queues, never shared). The channel pointer arrays point into the caller's buffers
// only during a `process` call.
unsafe impl Send for Vst3Instance {}

fn utf16(s: &[u16]) -> String {
    let n = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    String::from_utf16_lossy(&s[..n])
}

impl Vst3Instance {
    /// Creates and connects the component and controller of class `raw_id` (32 hex digits)
    /// from `bundle` (not yet active). Control thread.
    pub fn new(bundle: &Path, raw_id: &str) -> Result<Self, String> {
        let module = load_module(bundle)?;
        let cid = preset::parse_class_id(raw_id)
            .ok_or_else(|| format!("'{raw_id}' is not a VST3 class id (32 hex digits)"))?;
        let host = ComWrapper::new(HostApp);
        let latency_changed = Arc::new(AtomicBool::new(false));
        let handler = ComWrapper::new(Handler {
            latency_changed: latency_changed.clone(),
        });
        let ctx = host
            .as_com_ref::<vst3::Steinberg::Vst::IHostApplication>()
            .map(|r| r.as_ptr() as *mut FUnknown)
            .ok_or("no host context")?;
        // SAFETY: factory and plugin calls with the argument types the SDK declares; every
        // returned interface pointer carries one reference, which the ComPtr takes over.
        unsafe {
            let component = create::<IComponent>(module, &cid)
                .ok_or("the factory could not create the component")?;
            if component.initialize(ctx) != kResultOk {
                return Err("the component's initialize failed".into());
            }
            let processor = component
                .cast::<IAudioProcessor>()
                .ok_or("the component has no IAudioProcessor")?;
            let (controller, separate) = match component.cast::<IEditController>() {
                Some(c) => (Some(c), false),
                None => {
                    let mut ccid: TUID = [0; 16];
                    let c = if component.getControllerClassId(&mut ccid) == kResultOk {
                        create::<IEditController>(module, &ccid.map(|b| b as u8))
                    } else {
                        None
                    };
                    match c {
                        Some(c) if c.initialize(ctx) == kResultOk => (Some(c), true),
                        _ => (None, false),
                    }
                }
            };
            let mut inst = Self {
                controller,
                processor,
                component,
                separate,
                points: None,
                _host: host,
                handler,
                _module: module,
                cid,
                ins: Vec::new(),
                outs: Vec::new(),
                active: false,
                latency_changed,
                changes: Changes::default(),
                split_at_changes: true,
                input_changes: ParamChanges::new(1, 0, false),
                output_changes: ParamChanges::new(1, 0, true),
                tables: Vec::new(),
                pending: Vec::new(),
                in_ptrs: [Vec::new(), Vec::new()],
                out_ptrs: Vec::new(),
                in_buses: [bus(0, &mut []), bus(0, &mut [])],
                out_bus: bus(0, &mut []),
                context: std::mem::zeroed(),
            };
            if let Some(c) = &inst.controller {
                if let Some(h) = inst.handler.as_com_ref::<IComponentHandler>() {
                    c.setComponentHandler(h.as_ptr());
                }
                if inst.separate {
                    if let (Some(a), Some(b)) = (
                        inst.component.cast::<IConnectionPoint>(),
                        c.cast::<IConnectionPoint>(),
                    ) {
                        a.connect(b.as_ptr());
                        b.connect(a.as_ptr());
                        inst.points = Some((a, b));
                    }
                }
            }
            inst.sync_controller();
            inst.ins = inst.bus_channels(BusDirections_::kInput as i32);
            inst.outs = inst.bus_channels(BusDirections_::kOutput as i32);
            Ok(inst)
        }
    }

    /// Hands the component's state to the controller (`setComponentState`). Control thread.
    fn sync_controller(&mut self) {
        let Some(c) = &self.controller else { return };
        let s = MemStream::writing();
        // SAFETY: state calls with a live stream object.
        unsafe {
            if self.component.getState(stream_ptr(&s)) == kResultOk {
                let r = MemStream::reading(&s.bytes());
                c.setComponentState(stream_ptr(&r));
            }
        }
    }

    /// Channel counts of the audio buses in direction `dir`: the main bus, then (inputs) the
    /// first aux bus.
    fn bus_channels(&self, dir: i32) -> Vec<u32> {
        let mut out = Vec::new();
        // SAFETY: bus queries with an out structure of the declared type.
        unsafe {
            let n = self.component.getBusCount(MediaTypes_::kAudio as i32, dir);
            for i in 0..n.min(2) {
                let mut b: BusInfo = std::mem::zeroed();
                if self
                    .component
                    .getBusInfo(MediaTypes_::kAudio as i32, dir, i, &mut b)
                    == kResultOk
                {
                    out.push(b.channelCount.max(0) as u32);
                }
                if dir == BusDirections_::kOutput as i32 {
                    break;
                }
            }
        }
        out
    }

    /// Channels of each input bus (main, then sidechain) and output bus (main).
    pub fn channels(&self) -> (&[u32], &[u32]) {
        (&self.ins, &self.outs)
    }

    /// Fills buses, latency and parameters. Control thread.
    pub fn describe(&self, info: &mut PluginInfo) {
        info.inputs = self.ins.clone();
        info.outputs = self.outs.clone();
        // SAFETY: a plain query.
        info.latency = unsafe { self.processor.getLatencySamples() };
        info.params = self.param_infos();
        info.has_state = true;
    }

    /// The controller's parameters that a script may set, in plain units.
    pub fn param_infos(&self) -> Vec<ParamInfo> {
        let Some(c) = &self.controller else {
            return Vec::new();
        };
        let skip = ParameterFlags_::kIsReadOnly
            | ParameterFlags_::kIsHidden
            | ParameterFlags_::kIsBypass
            | ParameterFlags_::kIsProgramChange;
        let mut out = Vec::new();
        // SAFETY: controller queries with out structures of the declared types.
        unsafe {
            for i in 0..c.getParameterCount() {
                let mut p: ParameterInfo = std::mem::zeroed();
                if c.getParameterInfo(i, &mut p) != kResultOk || p.flags & skip != 0 {
                    continue;
                }
                let a = c.normalizedParamToPlain(p.id, 0.0);
                let b = c.normalizedParamToPlain(p.id, 1.0);
                let (min, max) = (a.min(b), a.max(b));
                // The default travels normalised, often through f32 (DPF: 50/70 for a -50..20
                // dB gain whose default is 0 comes back as 1.2e-6): within a millionth of the
                // range of zero or an end, it is that value.
                let mut default = c.normalizedParamToPlain(p.id, p.defaultNormalizedValue);
                let tol = 1e-6 * (max - min).abs().max(1e-9);
                for snap in [0.0, min, max] {
                    if tol.is_finite() && (default - snap).abs() < tol {
                        default = snap;
                    }
                }
                out.push(ParamInfo {
                    key: p.id,
                    ident: String::new(),
                    name: utf16(&p.title),
                    min,
                    max,
                    default,
                    stepped: p.stepCount > 0,
                    unit: utf16(&p.units).trim().to_string(),
                });
            }
        }
        names::assign_idents(&mut out);
        out
    }

    /// Sets plain values before activation: the controller takes them now, the processor at
    /// offset 0 of the first `process` call. Control thread.
    pub fn set_params_inactive(&mut self, values: &[(u32, f64)]) {
        let Some(c) = &self.controller else { return };
        for &(k, v) in values {
            // SAFETY: plain controller calls.
            let n = unsafe { c.plainParamToNormalized(k, v) }.clamp(0.0, 1.0);
            // SAFETY: as above.
            unsafe { c.setParamNormalized(k, n) };
            self.pending.retain(|p| p.0 != k);
            self.pending.push((k, n));
        }
    }

    /// The state as a `.vstpreset` (component and controller chunks). Control thread.
    pub fn save_preset(&mut self) -> Result<Vec<u8>, String> {
        // The controller learns automated values only from the component's state.
        self.sync_controller();
        let comp = MemStream::writing();
        let cont = MemStream::writing();
        // SAFETY: state calls with live stream objects.
        unsafe {
            if self.component.getState(stream_ptr(&comp)) != kResultOk {
                return Err("the component's getState failed".into());
            }
            // A single-object plugin's controller state is its component state: written once.
            if let Some(c) = self.controller.as_ref().filter(|_| self.separate) {
                c.getState(stream_ptr(&cont));
            }
        }
        Ok(preset::write(
            &preset::class_id_text(&self.cid),
            &comp.bytes(),
            &cont.bytes(),
        ))
    }

    /// Loads a `.vstpreset` before activation: the component's state, then the controller's
    /// copy of it and its own state. Control thread.
    pub fn load_preset(&mut self, bytes: &[u8]) -> Result<(), String> {
        let p = preset::read(bytes)?;
        let mine = preset::class_id_text(&self.cid);
        if !p.class_id.eq_ignore_ascii_case(&mine) {
            return Err(format!(
                "the preset is for class {}, this plugin is {mine}",
                p.class_id
            ));
        }
        let comp = MemStream::reading(&p.component);
        // SAFETY: state calls with live stream objects.
        unsafe {
            if self.component.setState(stream_ptr(&comp)) != kResultOk {
                return Err("the component refused the preset's state".into());
            }
            if let Some(c) = &self.controller {
                let again = MemStream::reading(&p.component);
                c.setComponentState(stream_ptr(&again));
                if let Some(ct) = p.controller.as_deref().filter(|b| !b.is_empty()) {
                    let s = MemStream::reading(ct);
                    c.setState(stream_ptr(&s));
                }
            }
        }
        Ok(())
    }

    /// Stops processing and deactivates, if active. Control thread.
    fn deactivate(&mut self) {
        if self.active {
            // SAFETY: the documented shutdown order.
            unsafe {
                self.processor.setProcessing(0);
                self.component.setActive(0);
            }
            self.active = false;
        }
    }

    /// Activates for a stream format; `keys` are the parameters the node may change (each
    /// gets a normalisation table). Returns the latency. Control thread; allocates every
    /// buffer `process` uses.
    pub fn activate(
        &mut self,
        sample_rate: f64,
        max_block: usize,
        keys: &[u32],
    ) -> Result<u32, String> {
        self.deactivate();
        let arr = |ch: u32| -> SpeakerArrangement {
            match ch {
                1 => SpeakerArr::kMono,
                2 => SpeakerArr::kStereo,
                n => (1u64 << n.min(63)) - 1,
            }
        };
        let mut ins: Vec<SpeakerArrangement> = self.ins.iter().map(|&c| arr(c)).collect();
        let mut outs: Vec<SpeakerArrangement> = self.outs.iter().map(|&c| arr(c)).collect();
        let mut setup = ProcessSetup {
            processMode: ProcessModes_::kRealtime as i32,
            symbolicSampleSize: SymbolicSampleSizes_::kSample32 as i32,
            maxSamplesPerBlock: max_block as i32,
            sampleRate: sample_rate,
        };
        // SAFETY: set-up calls in the SDK's order, with arrays of the lengths passed.
        let latency = unsafe {
            // A plugin may refuse an arrangement it already has; its own stays in force.
            self.processor.setBusArrangements(
                ins.as_mut_ptr(),
                ins.len() as i32,
                outs.as_mut_ptr(),
                outs.len() as i32,
            );
            let audio = MediaTypes_::kAudio as i32;
            for i in 0..self.ins.len() {
                self.component
                    .activateBus(audio, BusDirections_::kInput as i32, i as i32, 1);
            }
            if !self.outs.is_empty() {
                self.component
                    .activateBus(audio, BusDirections_::kOutput as i32, 0, 1);
            }
            if self.processor.setupProcessing(&mut setup) != kResultOk {
                return Err("setupProcessing failed".into());
            }
            if self.component.setActive(1) != kResultOk {
                return Err("setActive failed".into());
            }
            // Some plugins return kNotImplemented here; they process all the same.
            self.processor.setProcessing(1);
            self.processor.getLatencySamples()
        };
        self.active = true;
        // (A latency change the plugin announced since it was made stays flagged: `settle`
        // answers it with a restart.)
        // Normalisation tables for the slots.
        self.tables.clear();
        if let Some(c) = &self.controller {
            for &k in keys {
                // SAFETY: a plain-data struct, filled by the controller below.
                let mut info: ParameterInfo = unsafe { std::mem::zeroed() };
                let mut steps = 0;
                // SAFETY: controller queries.
                unsafe {
                    for i in 0..c.getParameterCount() {
                        if c.getParameterInfo(i, &mut info) == kResultOk && info.id == k {
                            steps = info.stepCount.max(0) as u32;
                            break;
                        }
                    }
                }
                // SAFETY: as above.
                let t = NormTable::build(steps, |n| unsafe { c.normalizedParamToPlain(k, n) });
                self.tables.push((k, t));
            }
        }
        self.tables.sort_by_key(|t| t.0);
        self.tables.dedup_by_key(|t| t.0);
        let points = max_block.min(crate::plugin::changes::MAX_EVENTS_PER_BLOCK) + 1;
        self.input_changes = ParamChanges::new(keys.len() + self.pending.len() + 1, points, false);
        self.output_changes = ParamChanges::new(1, 0, true);
        self.changes = Changes::with_capacity(crate::plugin::changes::MAX_EVENTS_PER_BLOCK);
        self.in_ptrs = [
            vec![std::ptr::null_mut(); self.ins.first().copied().unwrap_or(0) as usize],
            vec![std::ptr::null_mut(); self.ins.get(1).copied().unwrap_or(0) as usize],
        ];
        self.out_ptrs =
            vec![std::ptr::null_mut(); self.outs.first().copied().unwrap_or(0) as usize];
        // SAFETY: a plain-data struct; zero is "no field valid".
        self.context = unsafe { std::mem::zeroed() };
        self.context.sampleRate = sample_rate;
        Ok(latency)
    }

    /// After activation: hands the values set before it (`set_params_inactive`) to the
    /// processor with one silent frame, and when the plugin then says its latency changed,
    /// restarts processing (the SDK's answer to `kLatencyChanged`) so the latency returned is
    /// that of those values. Control thread; allocates the frame's buffers.
    pub fn settle(&mut self) -> Result<u32, String> {
        if !self.pending.is_empty() {
            let mut ins = vec![vec![0.0f32; 1]; self.ins.first().copied().unwrap_or(0) as usize];
            let mut side = vec![vec![0.0f32; 1]; self.ins.get(1).copied().unwrap_or(0) as usize];
            let mut outs = vec![vec![0.0f32; 1]; self.outs.first().copied().unwrap_or(0) as usize];
            self.changes.clear();
            let side = (!side.is_empty()).then_some(&mut side[..]);
            self.process(&mut ins, side, &mut outs, 1, 0)
                .map_err(|e| format!("first process call: {e}"))?;
        }
        if self.latency_changed.swap(false, Ordering::AcqRel) {
            // SAFETY: the SDK's restart sequence, on the thread that activated the plugin.
            unsafe {
                self.processor.setProcessing(0);
                self.component.setActive(0);
                if self.component.setActive(1) != kResultOk {
                    return Err("setActive failed after a latency change".into());
                }
                self.processor.setProcessing(1);
            }
        }
        Ok(self.latency())
    }

    /// Whether the plugin said its latency changed since the last call (clears the flag).
    /// Audio thread: one atomic swap.
    pub fn take_latency_change(&self) -> bool {
        self.latency_changed.swap(false, Ordering::AcqRel)
    }

    /// The latency the plugin reports now. Control thread.
    pub fn latency(&self) -> u32 {
        // SAFETY: a plain query.
        unsafe { self.processor.getLatencySamples() }
    }
}

/// Creates class `cid` of a module's factory as interface `I`.
unsafe fn create<I: Interface>(m: &Module, cid: &[u8; 16]) -> Option<ComPtr<I>> {
    let mut obj: *mut c_void = std::ptr::null_mut();
    // SAFETY: class and interface ids are 16 bytes; the out pointer receives one reference.
    let r = unsafe {
        m.factory.createInstance(
            cid.as_ptr() as *const std::ffi::c_char,
            I::IID.as_ptr() as *const std::ffi::c_char,
            &mut obj,
        )
    };
    if r != kResultOk {
        return None;
    }
    // SAFETY: the factory returned an `I` (with one reference) for this iid.
    unsafe { ComPtr::from_raw(obj as *mut I) }
}

fn stream_ptr(s: &ComWrapper<MemStream>) -> *mut IBStream {
    s.as_com_ref::<IBStream>()
        .map_or(std::ptr::null_mut(), |r| r.as_ptr())
}

impl Drop for Vst3Instance {
    fn drop(&mut self) {
        self.deactivate();
        // SAFETY: the SDK's teardown order: disconnect, then terminate controller and
        // component; the pointers are released when the fields drop.
        unsafe {
            if let Some((a, b)) = self.points.take() {
                a.disconnect(b.as_ptr());
                b.disconnect(a.as_ptr());
            }
            if let Some(c) = &self.controller {
                c.setComponentHandler(std::ptr::null_mut());
                if self.separate {
                    c.terminate();
                }
            }
            self.component.terminate();
        }
        // (The host context, a field, is released after this, once the plugin let go of it.)
    }
}
