//! VST3 hosting through the `vst3` crate (coupler-rs/vst3-rs: COM bindings generated from
//! Steinberg's headers; MIT or Apache-2.0, no SDK to build).
//!
//! - Discovery ([`search_dirs`]): bundles `X.vst3` in `VST3_PATH`, `~/.vst3`, `/usr/lib/vst3`,
//!   `/usr/local/lib/vst3` and the `--allow-plugin` folders; the library is
//!   `X.vst3/Contents/<arch>-linux/X.so`. A module is loaded once (`dlopen`, then its
//!   `ModuleEntry`) and stays loaded for the process lifetime, so `ModuleExit` is never called.
//! - Ids: `vst3:<32 hex digits>`, the processor class id as `.vstpreset` files write it; a
//!   script may also give `vst3:<class name>` (case-insensitive) or a bare name.
//! - Description ([`describe_bundle`], cached by the caller): classes of category "Audio
//!   Module Class"; audio buses (main, then the first aux input as the sidechain); latency;
//!   the controller's parameters in plain units (`normalizedParamToPlain`), leaving out
//!   read-only, hidden, bypass and program-change ones.
//! - Hosting ([`Vst3Instance`], in `instance`), state files ([`preset`]: `.vstpreset`),
//!   audio-thread normalisation ([`params`]), the host's own COM objects ([`host`]) and the
//!   state stream ([`stream`]).

pub mod host;
mod instance;
pub mod params;
pub mod preset;
pub mod stream;

pub use instance::Vst3Instance;

use std::ffi::{c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use vst3::ComPtr;
use vst3::Steinberg::{kResultOk, IPluginFactory, IPluginFactoryTrait, PClassInfo, PFactoryInfo};

use super::{cache_key, cached, Cache, PluginFormat, PluginInfo};

/// The category of audio processors in a factory.
const AUDIO_CLASS: &str = "Audio Module Class";

/// The VST3 folders searched, in order: `VST3_PATH`, `~/.vst3`, `/usr/lib/vst3`,
/// `/usr/local/lib/vst3`, then the folders allowed with `--allow-plugin`.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("VST3_PATH") {
        v.extend(std::env::split_paths(&p).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(h) = std::env::var_os("HOME") {
        v.push(PathBuf::from(h).join(".vst3"));
    }
    v.push(PathBuf::from("/usr/lib/vst3"));
    v.push(PathBuf::from("/usr/local/lib/vst3"));
    v.extend(
        super::EXTRA_DIRS
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned(),
    );
    let mut seen = Vec::new();
    v.retain(|d| {
        let keep = !seen.contains(d);
        seen.push(d.clone());
        keep
    });
    v
}

/// The `*.vst3` bundles in the search folders (one level of sub-folders, as vendors group
/// them), first folder first.
pub fn bundles() -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.extension().is_some_and(|e| e == "vst3") {
                out.push(p);
            } else if p.is_dir() && depth > 0 {
                walk(&p, depth - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    for d in search_dirs() {
        walk(&d, 1, &mut out);
    }
    out
}

/// The shared library of a bundle: `X.vst3/Contents/<arch>-linux/X.so` (a plain file named
/// `X.vst3` is the library itself, the old single-file layout).
pub fn library_of(bundle: &Path) -> PathBuf {
    if bundle.is_file() {
        return bundle.to_path_buf();
    }
    let stem = bundle
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    bundle
        .join("Contents")
        .join(format!("{}-linux", std::env::consts::ARCH))
        .join(format!("{stem}.so"))
}

/// A loaded VST3 module: its library stays loaded and its factory referenced for the process
/// lifetime (plugins keep code and static data in it; unloading under a live instance would
/// crash, and most hosts never unload).
pub struct Module {
    /// The bundle.
    pub bundle: PathBuf,
    /// The plugin factory (`GetPluginFactory`).
    pub factory: ComPtr<IPluginFactory>,
}

// SAFETY: the factory is only used on the control thread, one call at a time (the module table
// is behind a mutex while loading; afterwards creation calls come from compile and the CLI,
// which run on one thread at a time per the engine's threading model). VST3 factories are
// meant to be called from the host's main thread, and the engine's control thread plays that
// role for every plugin.
unsafe impl Send for Module {}
// SAFETY: as above.
unsafe impl Sync for Module {}

type EntryFn = unsafe extern "C" fn(*mut c_void) -> bool;
type FactoryFn = unsafe extern "system" fn() -> *mut IPluginFactory;

static MODULES: Mutex<Vec<(PathBuf, &'static Module)>> = Mutex::new(Vec::new());

/// Loads a bundle's module once per process (`dlopen`, `ModuleEntry`, `GetPluginFactory`).
/// Control thread.
pub fn load_module(bundle: &Path) -> Result<&'static Module, String> {
    let canon = bundle
        .canonicalize()
        .unwrap_or_else(|_| bundle.to_path_buf());
    let mut g = MODULES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, m)) = g.iter().find(|(p, _)| *p == canon) {
        return Ok(m);
    }
    let lib = library_of(&canon);
    let c = CString::new(lib.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{}: path holds a NUL byte", lib.display()))?;
    // SAFETY: loading a plugin library runs its initialisers: plugins are trusted code, as in
    // every host, and only libraries under the allowed folders get here. The symbols are
    // looked up by their VST3 names and called with the signatures the SDK gives them.
    unsafe {
        let h = libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if h.is_null() {
            let e = libc::dlerror();
            let why = if e.is_null() {
                "unknown error".to_string()
            } else {
                CStr::from_ptr(e).to_string_lossy().into_owned()
            };
            return Err(format!("cannot load {}: {why}", lib.display()));
        }
        let entry = libc::dlsym(h, c"ModuleEntry".as_ptr());
        if !entry.is_null() {
            let entry: EntryFn = std::mem::transmute::<*mut c_void, EntryFn>(entry);
            if !entry(h) {
                return Err(format!("{}: ModuleEntry failed", lib.display()));
            }
        }
        let get = libc::dlsym(h, c"GetPluginFactory".as_ptr());
        if get.is_null() {
            return Err(format!("{}: no GetPluginFactory", lib.display()));
        }
        let get: FactoryFn = std::mem::transmute::<*mut c_void, FactoryFn>(get);
        // The factory comes with one reference, which the module keeps.
        let factory = ComPtr::from_raw(get())
            .ok_or_else(|| format!("{}: GetPluginFactory returned nothing", lib.display()))?;
        let m: &'static Module = Box::leak(Box::new(Module {
            bundle: canon.clone(),
            factory,
        }));
        g.push((canon, m));
        Ok(m)
    }
}

/// A fixed-size C string field as text.
fn c_text(field: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The audio processor classes of a module: (class id, name).
pub fn audio_classes(m: &Module) -> Vec<([u8; 16], String)> {
    let mut out = Vec::new();
    // SAFETY: factory calls with out structures of the declared types.
    unsafe {
        for i in 0..m.factory.countClasses() {
            let mut ci: PClassInfo = std::mem::zeroed();
            if m.factory.getClassInfo(i, &mut ci) != kResultOk {
                continue;
            }
            if c_text(&ci.category) == AUDIO_CLASS {
                out.push((ci.cid.map(|b| b as u8), c_text(&ci.name)));
            }
        }
    }
    out
}

/// The factory's vendor.
fn vendor(m: &Module) -> String {
    // SAFETY: a factory call with an out structure of its declared type.
    unsafe {
        let mut fi: PFactoryInfo = std::mem::zeroed();
        if m.factory.getFactoryInfo(&mut fi) == kResultOk {
            c_text(&fi.vendor)
        } else {
            String::new()
        }
    }
}

/// The `(raw id, name)` of each audio class in a bundle, from the factory alone (no instance).
/// Control thread.
pub fn list_bundle(bundle: &Path) -> Result<Vec<(String, String)>, String> {
    let m = load_module(bundle)?;
    Ok(audio_classes(m)
        .into_iter()
        .map(|(cid, name)| (preset::class_id_text(&cid), name))
        .collect())
}

/// The plugins of a bundle, each instantiated once to read buses, latency and parameters.
/// Control thread.
pub fn describe_bundle(bundle: &Path) -> Result<Vec<PluginInfo>, String> {
    let m = load_module(bundle)?;
    let vendor = vendor(m);
    let mut out = Vec::new();
    for (cid, name) in audio_classes(m) {
        let raw_id = preset::class_id_text(&cid);
        let mut info = PluginInfo {
            id: format!("vst3:{raw_id}"),
            raw_id,
            name,
            vendor: vendor.clone(),
            format: PluginFormat::Vst3,
            file: bundle.to_path_buf(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            latency: 0,
            params: Vec::new(),
            has_state: true,
        };
        let inst = Vst3Instance::new(bundle, &info.raw_id)
            .map_err(|e| format!("{} ({}): {e}", info.name, info.id))?;
        inst.describe(&mut info);
        out.push(info);
    }
    Ok(out)
}

/// [`describe_bundle`], once per bundle per process, with plugin chatter silenced. Control
/// thread.
pub fn describe(bundle: &Path) -> Result<Vec<PluginInfo>, String> {
    static CACHE: Cache<Result<Vec<PluginInfo>, String>> = Mutex::new(None);
    let key = cache_key(bundle, &library_of(bundle))?;
    cached(&CACHE, key, || describe_bundle(bundle))
}

/// [`list_bundle`], cached, silenced. Control thread.
pub fn list(bundle: &Path) -> Result<Vec<(String, String)>, String> {
    static CACHE: Cache<Result<Vec<(String, String)>, String>> = Mutex::new(None);
    let key = cache_key(bundle, &library_of(bundle))?;
    cached(&CACHE, key, || list_bundle(bundle))
}

/// Every VST3 plugin found (the first folder wins for a class id found twice), and the bundles
/// that failed. Control thread.
pub fn scan() -> (Vec<PluginInfo>, Vec<String>) {
    let (mut infos, mut errs) = (Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    for b in bundles() {
        match describe(&b) {
            Ok(v) => infos.extend(v.into_iter().filter(|i| seen.insert(i.id.clone()))),
            Err(e) => errs.push(e),
        }
    }
    (infos, errs)
}

/// The VST3 plugins whose class id (32 hex digits) or class name is `what`
/// (case-insensitive), from the factories alone; each as (bundle, raw id, name).
pub fn find(what: &str) -> Vec<(PathBuf, String, String)> {
    let w = what.to_lowercase();
    let mut seen = std::collections::HashSet::new();
    let mut hits = Vec::new();
    for b in bundles() {
        if let Ok(v) = list(&b) {
            for (id, name) in v {
                if (id.to_lowercase() == w || name.to_lowercase() == w) && seen.insert(id.clone()) {
                    hits.push((b.clone(), id, name));
                }
            }
        }
    }
    hits
}

/// The plugin a listing hit names, described.
pub fn describe_hit(bundle: &Path, raw: &str) -> Result<PluginInfo, String> {
    describe(bundle)?
        .into_iter()
        .find(|p| p.raw_id == raw)
        .ok_or_else(|| format!("vst3:{raw} could not be described"))
}
