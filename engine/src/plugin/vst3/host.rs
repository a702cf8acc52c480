//! The host side's COM objects, implemented in Rust with the `vst3` crate's [`Class`] trait:
//!
//! - [`HostApp`]: the context handed to `initialize` (`IHostApplication`: name "mixdown"; it
//!   makes `IMessage`/`IAttributeList` objects for plugins whose component and controller talk
//!   through messages);
//! - [`Handler`]: the controller's `IComponentHandler` (edits from the plugin are ignored, a
//!   latency change is flagged);
//! - [`ParamChanges`]/[`ParamQueue`]: the audio thread's `IParameterChanges`, over storage
//!   allocated at activation.
//!
//! Threads: everything but the parameter changes is used on the control thread. The parameter
//! changes are filled and read on the thread that calls `process` (one at a time: see
//! `Vst3Instance`'s `Send`), so they use plain cells, no locks.

#![allow(non_snake_case)] // The trait methods carry the SDK's names.

use std::cell::{Cell, UnsafeCell};
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use vst3::Steinberg::Vst::{
    IAttributeList, IAttributeListTrait, IComponentHandler, IComponentHandlerTrait,
    IHostApplication, IHostApplicationTrait, IMessage, IMessageTrait, IParamValueQueue,
    IParamValueQueueTrait, IParameterChanges, IParameterChangesTrait, ParamID, ParamValue,
    RestartFlags_, String128, TChar,
};
use vst3::Steinberg::{
    int32, int64, kInvalidArgument, kNoInterface, kResultFalse, kResultOk, tresult, uint32,
    FIDString, TUID,
};
use vst3::{Class, ComWrapper, Interface};

/// The host context (`IHostApplication`).
pub struct HostApp;

impl Class for HostApp {
    type Interfaces = (IHostApplication,);
}

impl IHostApplicationTrait for HostApp {
    unsafe fn getName(&self, name: *mut String128) -> tresult {
        if name.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: the caller hands a String128 to fill.
        let out = unsafe { &mut *name };
        out.fill(0);
        for (d, s) in out.iter_mut().zip("mixdown".encode_utf16()) {
            *d = s as TChar;
        }
        kResultOk
    }

    unsafe fn createInstance(
        &self,
        cid: *mut TUID,
        _iid: *mut TUID,
        obj: *mut *mut c_void,
    ) -> tresult {
        if cid.is_null() || obj.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: a TUID is 16 bytes; the caller passes a valid one.
        let want: [u8; 16] = unsafe { std::ptr::read_unaligned(cid as *const [u8; 16]) };
        let made = if want == IMessage::IID {
            ComWrapper::new(Message::default())
                .to_com_ptr::<IMessage>()
                .map(|p| p.into_raw() as *mut c_void)
        } else if want == IAttributeList::IID {
            ComWrapper::new(Attributes::default())
                .to_com_ptr::<IAttributeList>()
                .map(|p| p.into_raw() as *mut c_void)
        } else {
            None
        };
        // SAFETY: `obj` is the caller's out pointer; ownership of one reference passes to it.
        unsafe {
            match made {
                Some(p) => {
                    *obj = p;
                    kResultOk
                }
                None => {
                    *obj = std::ptr::null_mut();
                    kNoInterface
                }
            }
        }
    }
}

/// An `IMessage` a plugin asked the host to make.
pub struct Message {
    id: Mutex<Option<CString>>,
    attrs: Option<ComWrapper<Attributes>>,
}

impl Class for Message {
    type Interfaces = (IMessage,);
}

impl IMessageTrait for Message {
    unsafe fn getMessageID(&self) -> FIDString {
        let g = self.id.lock().unwrap_or_else(|e| e.into_inner());
        // The string lives as long as the message or until the next setMessageID, as in the
        // SDK's own host message.
        g.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
    }

    unsafe fn setMessageID(&self, id: FIDString) {
        let v = if id.is_null() {
            None
        } else {
            // SAFETY: a NUL-terminated string from the caller.
            Some(unsafe { CStr::from_ptr(id) }.to_owned())
        };
        *self.id.lock().unwrap_or_else(|e| e.into_inner()) = v;
    }

    unsafe fn getAttributes(&self) -> *mut IAttributeList {
        // No reference is added, as in the SDK: the list lives as long as the message.
        match &self.attrs {
            Some(a) => a
                .as_com_ref::<IAttributeList>()
                .map_or(std::ptr::null_mut(), |r| r.as_ptr()),
            None => std::ptr::null_mut(),
        }
    }
}

impl Default for Message {
    fn default() -> Self {
        Self {
            id: Mutex::new(None),
            attrs: Some(ComWrapper::new(Attributes::default())),
        }
    }
}

enum Attr {
    Int(i64),
    Float(f64),
    Str(Vec<TChar>),
    Bin(Vec<u8>),
}

/// An `IAttributeList`: values by name.
#[derive(Default)]
pub struct Attributes(Mutex<HashMap<String, Attr>>);

impl Class for Attributes {
    type Interfaces = (IAttributeList,);
}

/// The attribute name, or `None` for a null pointer.
unsafe fn key(id: *const c_char) -> Option<String> {
    // SAFETY: a NUL-terminated name from the caller.
    (!id.is_null()).then(|| unsafe { CStr::from_ptr(id) }.to_string_lossy().into_owned())
}

impl Attributes {
    fn set(&self, id: *const c_char, v: Attr) -> tresult {
        // SAFETY: forwarded from the trait method's caller.
        let Some(k) = (unsafe { key(id) }) else {
            return kInvalidArgument;
        };
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k, v);
        kResultOk
    }
}

impl IAttributeListTrait for Attributes {
    unsafe fn setInt(&self, id: *const c_char, value: int64) -> tresult {
        self.set(id, Attr::Int(value))
    }

    unsafe fn getInt(&self, id: *const c_char, value: *mut int64) -> tresult {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: name and out pointer from the caller.
        match (unsafe { key(id) }).and_then(|k| g.get(&k)) {
            Some(Attr::Int(v)) if !value.is_null() => {
                unsafe { *value = *v };
                kResultOk
            }
            _ => kResultFalse,
        }
    }

    unsafe fn setFloat(&self, id: *const c_char, value: f64) -> tresult {
        self.set(id, Attr::Float(value))
    }

    unsafe fn getFloat(&self, id: *const c_char, value: *mut f64) -> tresult {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: name and out pointer from the caller.
        match (unsafe { key(id) }).and_then(|k| g.get(&k)) {
            Some(Attr::Float(v)) if !value.is_null() => {
                unsafe { *value = *v };
                kResultOk
            }
            _ => kResultFalse,
        }
    }

    unsafe fn setString(&self, id: *const c_char, string: *const TChar) -> tresult {
        if string.is_null() {
            return kInvalidArgument;
        }
        let mut s = Vec::new();
        // SAFETY: a NUL-terminated UTF-16 string from the caller.
        unsafe {
            let mut p = string;
            while *p != 0 {
                s.push(*p);
                p = p.add(1);
            }
        }
        self.set(id, Attr::Str(s))
    }

    unsafe fn getString(
        &self,
        id: *const c_char,
        string: *mut TChar,
        sizeInBytes: uint32,
    ) -> tresult {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: name from the caller; `string` holds `sizeInBytes` bytes.
        match (unsafe { key(id) }).and_then(|k| g.get(&k)) {
            Some(Attr::Str(s)) if !string.is_null() && sizeInBytes >= 2 => {
                let room = sizeInBytes as usize / 2 - 1;
                let n = s.len().min(room);
                // SAFETY: `n + 1` UTF-16 units fit in the caller's `sizeInBytes`.
                unsafe {
                    std::ptr::copy_nonoverlapping(s.as_ptr(), string, n);
                    *string.add(n) = 0;
                }
                kResultOk
            }
            _ => kResultFalse,
        }
    }

    unsafe fn setBinary(
        &self,
        id: *const c_char,
        data: *const c_void,
        sizeInBytes: uint32,
    ) -> tresult {
        let v = if data.is_null() || sizeInBytes == 0 {
            Vec::new()
        } else {
            // SAFETY: `data` holds `sizeInBytes` bytes.
            unsafe { std::slice::from_raw_parts(data as *const u8, sizeInBytes as usize) }.to_vec()
        };
        self.set(id, Attr::Bin(v))
    }

    unsafe fn getBinary(
        &self,
        id: *const c_char,
        data: *mut *const c_void,
        sizeInBytes: *mut uint32,
    ) -> tresult {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: out pointers from the caller. The data stays where it is until the attribute
        // is set again (a Vec's buffer does not move when the map grows).
        match (unsafe { key(id) }).and_then(|k| g.get(&k)) {
            Some(Attr::Bin(b)) if !data.is_null() && !sizeInBytes.is_null() => {
                // SAFETY: both out pointers were checked non-null above.
                unsafe {
                    *data = b.as_ptr() as *const c_void;
                    *sizeInBytes = b.len() as uint32;
                }
                kResultOk
            }
            _ => kResultFalse,
        }
    }
}

/// The controller's component handler: plugin-side edits are ignored (mixdown's script owns
/// the values), a latency change is flagged for the node.
pub struct Handler {
    /// Set when the plugin calls `restartComponent(kLatencyChanged)`.
    pub latency_changed: Arc<AtomicBool>,
}

impl Class for Handler {
    type Interfaces = (IComponentHandler,);
}

impl IComponentHandlerTrait for Handler {
    unsafe fn beginEdit(&self, _id: ParamID) -> tresult {
        kResultOk
    }

    unsafe fn performEdit(&self, _id: ParamID, _valueNormalized: ParamValue) -> tresult {
        kResultOk
    }

    unsafe fn endEdit(&self, _id: ParamID) -> tresult {
        kResultOk
    }

    unsafe fn restartComponent(&self, flags: int32) -> tresult {
        if flags & RestartFlags_::kLatencyChanged as int32 != 0 {
            self.latency_changed.store(true, Ordering::Relaxed);
        }
        kResultOk
    }
}

/// The points of one parameter in one `process` call.
struct QueueData {
    id: ParamID,
    /// (sample offset, normalised value), offsets rising; capacity fixed at activation.
    points: Vec<(int32, ParamValue)>,
}

/// One parameter's `IParamValueQueue`.
pub struct ParamQueue(UnsafeCell<QueueData>);

impl Class for ParamQueue {
    type Interfaces = (IParamValueQueue,);
}

impl ParamQueue {
    /// Runs `f` on the queue's data.
    fn with<R>(&self, f: impl FnOnce(&mut QueueData) -> R) -> R {
        // SAFETY: only the thread running `process` touches a queue (the host filling it, then
        // the plugin reading it inside `process`), and `f` never reaches back into the queue,
        // so this is the only reference while it runs.
        f(unsafe { &mut *self.0.get() })
    }
}

impl IParamValueQueueTrait for ParamQueue {
    unsafe fn getParameterId(&self) -> ParamID {
        self.with(|d| d.id)
    }

    unsafe fn getPointCount(&self) -> int32 {
        self.with(|d| d.points.len() as int32)
    }

    unsafe fn getPoint(
        &self,
        index: int32,
        sampleOffset: *mut int32,
        value: *mut ParamValue,
    ) -> tresult {
        let point = self.with(|d| d.points.get(index.max(0) as usize).copied());
        match point {
            Some((o, v)) if index >= 0 && !sampleOffset.is_null() && !value.is_null() => {
                // SAFETY: the caller's out pointers.
                unsafe {
                    *sampleOffset = o;
                    *value = v;
                }
                kResultOk
            }
            _ => kResultFalse,
        }
    }

    unsafe fn addPoint(
        &self,
        sampleOffset: int32,
        value: ParamValue,
        index: *mut int32,
    ) -> tresult {
        // Only output queues are written by plugins, and those are discarded: accept and drop.
        let _ = (sampleOffset, value);
        if !index.is_null() {
            // SAFETY: the caller's out pointer.
            unsafe { *index = 0 };
        }
        kResultOk
    }
}

/// A block's `IParameterChanges`: input (filled by the host) or output (a sink: mixdown reads
/// no values back from the plugin).
pub struct ParamChanges {
    queues: Vec<ComWrapper<ParamQueue>>,
    used: Cell<usize>,
    /// Points that did not fit (counted, dropped).
    dropped: Cell<u64>,
    output: bool,
}

impl Class for ParamChanges {
    type Interfaces = (IParameterChanges,);
}

impl ParamChanges {
    /// Room for `params` parameters with `points` points each per call. Control thread.
    pub fn new(params: usize, points: usize, output: bool) -> ComWrapper<Self> {
        let queues = (0..params.max(1))
            .map(|_| {
                ComWrapper::new(ParamQueue(UnsafeCell::new(QueueData {
                    id: 0,
                    points: Vec::with_capacity(if output { 0 } else { points }),
                })))
            })
            .collect();
        ComWrapper::new(Self {
            queues,
            used: Cell::new(0),
            dropped: Cell::new(0),
            output,
        })
    }

    /// Empties every queue. Audio thread.
    pub fn clear(&self) {
        for q in &self.queues[..self.used.get()] {
            q.with(|d| d.points.clear());
        }
        self.used.set(0);
    }

    /// Adds a point (offsets must come in rising order per parameter). A second point at the
    /// same offset replaces the first. Returns false (and counts it) when there is no room.
    /// Audio thread; no allocation.
    pub fn add(&self, id: ParamID, offset: int32, value: ParamValue) -> bool {
        let n = self.used.get();
        let q = match self.queues[..n].iter().find(|q| q.with(|d| d.id) == id) {
            Some(q) => q,
            None if n < self.queues.len() => {
                let q = &self.queues[n];
                q.with(|d| {
                    d.id = id;
                    d.points.clear();
                });
                self.used.set(n + 1);
                q
            }
            None => {
                self.dropped.set(self.dropped.get() + 1);
                return false;
            }
        };
        let stored = q.with(|d| {
            let room = d.points.len() < d.points.capacity();
            match d.points.last_mut() {
                Some(last) if last.0 == offset => {
                    last.1 = value;
                    true
                }
                _ if room => {
                    d.points.push((offset, value));
                    true
                }
                _ => false,
            }
        });
        if !stored {
            self.dropped.set(self.dropped.get() + 1);
        }
        stored
    }

    /// Points dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }
}

impl IParameterChangesTrait for ParamChanges {
    unsafe fn getParameterCount(&self) -> int32 {
        self.used.get() as int32
    }

    unsafe fn getParameterData(&self, index: int32) -> *mut IParamValueQueue {
        // No reference is added, as in the SDK's own `ParameterChanges`.
        if index < 0 || index as usize >= self.used.get() {
            return std::ptr::null_mut();
        }
        self.queues[index as usize]
            .as_com_ref::<IParamValueQueue>()
            .map_or(std::ptr::null_mut(), |r| r.as_ptr())
    }

    unsafe fn addParameterData(
        &self,
        id: *const ParamID,
        index: *mut int32,
    ) -> *mut IParamValueQueue {
        if !self.output || id.is_null() {
            return std::ptr::null_mut();
        }
        if !index.is_null() {
            // SAFETY: the caller's out pointer.
            unsafe { *index = 0 };
        }
        // Every output parameter goes into the one sink queue, whose points are dropped.
        self.queues[0]
            .as_com_ref::<IParamValueQueue>()
            .map_or(std::ptr::null_mut(), |r| r.as_ptr())
    }
}
