//! Third-party plugins as inserts: discovery, description and hosting.
//!
//! - Discovery ([`search_dirs`], [`scan`], [`resolve`]): CLAP bundles in the format's standard
//!   folders (`~/.clap`, `/usr/lib/clap`) and `CLAP_PATH`, plus folders the user allowed with
//!   `--allow-plugin` ([`allow_dirs`]). A plugin outside those folders is never loaded, whatever
//!   a script (or a graph from the evaluator process) names.
//! - Description ([`PluginInfo`]): id (`clap:<plugin id>`), name, vendor, channels, latency and
//!   parameters with their ranges, each parameter under a Lua identifier made from its own name
//!   ([`names`]).
//! - Hosting ([`clap::ClapInstance`]) and the graph node ([`node`]): the plugin runs in this
//!   process, on the audio thread (or a render worker), its main-thread calls on the control
//!   thread. A plugin that crashes ends the process; no GUI is ever opened.
//! - State ([`state`]): a CLAP state blob, or for a plugin without the state extension a text
//!   file of parameter values.
//!
//! CLAP is hosted through `clack-host`, LV2 through `livi` (lilv), VST3 through the `vst3`
//! crate's COM bindings ([`vst3`]: `vst3:<class id>` ids, `.vstpreset` state files). A bare
//! name is looked up among CLAP plugins first, then LV2, then VST3.

pub mod changes;
pub mod clap;
pub mod lv2;
pub mod names;
pub mod node;
pub mod state;
pub mod vst3;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use serde::Serialize;

/// A plugin format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginFormat {
    /// CLAP (`clap:` ids).
    Clap,
    /// LV2 (`lv2:` ids).
    Lv2,
    /// VST3 (`vst3:` ids).
    Vst3,
}

impl PluginFormat {
    /// The id prefix and the name shown in listings.
    pub fn name(self) -> &'static str {
        match self {
            PluginFormat::Clap => "clap",
            PluginFormat::Lv2 => "lv2",
            PluginFormat::Vst3 => "vst3",
        }
    }
}

/// One parameter of a plugin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParamInfo {
    /// The plugin's own key for it (CLAP param id).
    pub key: u32,
    /// The Lua identifier scripts use (the name in lower case, `_` for other characters).
    pub ident: String,
    /// The plugin's display name.
    pub name: String,
    /// Smallest value, in the plugin's units.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Default value.
    pub default: f64,
    /// Whether only whole steps are meaningful (switches, choices).
    pub stepped: bool,
    /// The unit the plugin shows its values in (`dB`, `Hz`, `ms`, `%`); empty when it names
    /// none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub unit: String,
}

/// The unit in a plugin's text for a value (`"-3.00 dB"` → `dB`): what follows the number,
/// when it is short and has no digits; empty otherwise.
pub fn unit_of_text(text: &str) -> String {
    let t = text.trim();
    let rest = t
        .trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
        .trim();
    let number = &t[..t.len() - rest.len()];
    let is_unit = number.contains(|c: char| c.is_ascii_digit())
        && !rest.is_empty()
        && rest.len() <= 8
        && !rest.contains(|c: char| c.is_ascii_digit());
    if is_unit {
        rest.to_string()
    } else {
        String::new()
    }
}

impl ParamInfo {
    /// Checks a value against the range: `Err` names the parameter, the value and the range.
    pub fn check(&self, v: f64) -> Result<f64, String> {
        let t = crate::param::trim;
        if !v.is_finite() {
            return Err(format!("{} must be a finite number, got {v}", self.ident));
        }
        // Plugins often declare f32 ranges widened to f64 (0.1 becomes 0.10000000149): a value
        // within f32 precision of an end is that end.
        let tol = 1e-6 * self.min.abs().max(self.max.abs()).max(1.0);
        if v < self.min - tol || v > self.max + tol {
            let u = if self.unit.is_empty() {
                String::new()
            } else {
                format!(" {}", self.unit)
            };
            return Err(format!(
                "{} = {} is out of range; allowed {}{u} to {}{u}",
                self.ident,
                t(v),
                t(self.min),
                t(self.max)
            ));
        }
        Ok(v.clamp(self.min, self.max))
    }
}

/// What a plugin is and offers.
#[derive(Clone, Debug, Serialize)]
pub struct PluginInfo {
    /// The id scripts use: `clap:<plugin id>`.
    pub id: String,
    /// The id inside its format (`com.zamaudio.ZamEQ2`).
    #[serde(skip)]
    pub raw_id: String,
    /// Display name.
    pub name: String,
    /// Vendor.
    pub vendor: String,
    /// Format.
    pub format: PluginFormat,
    /// The bundle file.
    pub file: PathBuf,
    /// Channels of each input port (main first, then a sidechain).
    pub inputs: Vec<u32>,
    /// Channels of each output port.
    pub outputs: Vec<u32>,
    /// Latency in frames as reported before activation (the node reports the live value).
    pub latency: u32,
    /// Automatable parameters.
    pub params: Vec<ParamInfo>,
    /// Whether the plugin saves its own state (otherwise state files hold parameter values).
    pub has_state: bool,
}

impl PluginInfo {
    /// The parameter scripts call `ident`.
    pub fn param(&self, ident: &str) -> Option<(usize, &ParamInfo)> {
        self.params
            .iter()
            .enumerate()
            .find(|(_, p)| p.ident == ident)
    }

    /// An error for an unknown parameter name: did-you-mean and the list.
    pub fn unknown_param(&self, ident: &str) -> String {
        let ids: Vec<&str> = self.params.iter().map(|p| p.ident.as_str()).collect();
        format!(
            "{} has no parameter '{}'{}; parameters: {}",
            self.name,
            crate::registry::schema::printable(ident),
            crate::graph::spec::did_you_mean(ident, &ids),
            if ids.is_empty() {
                "none".to_string()
            } else {
                ids.join(", ")
            }
        )
    }

    /// Main input channels (0 for an instrument).
    pub fn main_inputs(&self) -> u32 {
        self.inputs.first().copied().unwrap_or(0)
    }

    /// Main output channels.
    pub fn main_outputs(&self) -> u32 {
        self.outputs.first().copied().unwrap_or(0)
    }
}

/// Folders allowed beyond the standard ones (`--allow-plugin`, or the list the parent process
/// hands the evaluator).
static EXTRA_DIRS: RwLock<Vec<PathBuf>> = RwLock::new(Vec::new());

/// Allows plugins under `dirs` too (for this process). Control thread.
pub fn allow_dirs(dirs: &[PathBuf]) {
    let mut g = EXTRA_DIRS.write().unwrap_or_else(|e| e.into_inner());
    for d in dirs {
        if !g.contains(d) {
            g.push(d.clone());
        }
    }
}

/// The folders allowed with `--allow-plugin` (for every format).
pub fn extra_dirs() -> Vec<PathBuf> {
    EXTRA_DIRS.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Plugin latency changes seen on the audio thread, process-wide (a node counts one when its
/// plugin reports a latency other than the one the schedule was compiled with, or asks for a
/// restart). `mixdown play` polls this and recompiles; an atomic add is all the audio thread
/// does.
static LATENCY_CHANGES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many plugin latency changes have been seen (see [`LATENCY_CHANGES`]).
pub fn latency_changes() -> u64 {
    LATENCY_CHANGES.load(std::sync::atomic::Ordering::Acquire)
}

/// Counts one latency change. Audio thread.
pub(crate) fn note_latency_change() {
    LATENCY_CHANGES.fetch_add(1, std::sync::atomic::Ordering::Release);
}

/// The CLAP folders searched, in order: `CLAP_PATH`, `~/.clap`, `/usr/lib/clap`, then the
/// allowed extra folders.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("CLAP_PATH") {
        v.extend(std::env::split_paths(&p).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(h) = std::env::var_os("HOME") {
        v.push(PathBuf::from(h).join(".clap"));
    }
    v.push(PathBuf::from("/usr/lib/clap"));
    v.extend(extra_dirs());
    let mut seen = Vec::new();
    v.retain(|d| {
        let keep = !seen.contains(d);
        seen.push(d.clone());
        keep
    });
    v
}

/// Every format's search folders: CLAP's, lilv's LV2 folders, the VST3 folders (each with
/// the `--allow-plugin` ones).
pub fn all_search_dirs() -> Vec<PathBuf> {
    let mut v = search_dirs();
    for d in lv2::search_dirs().into_iter().chain(vst3::search_dirs()) {
        if !v.contains(&d) {
            v.push(d);
        }
    }
    v
}

/// Whether `file` lies (after resolving links) under one of the search folders
/// ([`all_search_dirs`]).
pub fn is_allowed(file: &Path) -> bool {
    let Ok(f) = file.canonicalize() else {
        return false;
    };
    all_search_dirs()
        .iter()
        .filter_map(|d| d.canonicalize().ok())
        .any(|d| f.starts_with(d))
}

/// CLAP bundle files under `dir` (`*.clap`, files or macOS-style folders are not followed into;
/// one level of sub-folders is searched).
fn bundles_in(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.extension().is_some_and(|e| e == "clap") && p.is_file() {
            out.push(p);
        } else if p.is_dir() && depth > 0 {
            bundles_in(&p, depth - 1, out);
        }
    }
}

/// Serialises the plugins' main-thread calls across threads. CLAP and VST3 allow those calls
/// (instantiate, activate, state, destroy) from one thread at a time, and a process can run
/// several compiles at once (`mixdown batch --jobs N` renders on worker threads): every such
/// call holds this lock. Reentrant, so a nested call (an instance dropped while preparing
/// another) does not deadlock. Never taken on the audio thread.
pub(crate) fn host_lock() -> parking_lot::ReentrantMutexGuard<'static, ()> {
    static HOST: parking_lot::ReentrantMutex<()> = parking_lot::const_reentrant_mutex(());
    HOST.lock()
}

/// A bundle as cached: its path, and its file's (or library's) modification time and size.
pub(crate) type CacheKey = (PathBuf, Option<std::time::SystemTime>, u64);
/// A cache of results by bundle.
pub(crate) type Cache<T> = Mutex<Option<HashMap<CacheKey, T>>>;

/// The key of a bundle whose code is in `file`.
pub(crate) fn cache_key(bundle: &Path, file: &Path) -> Result<CacheKey, String> {
    let meta = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((bundle.to_path_buf(), meta.modified().ok(), meta.len()))
}

/// `make()`'s result for `key`, made once per process (describing or listing a bundle
/// instantiates its plugins), with plugin chatter on stdout/stderr silenced while it runs.
/// Control thread.
pub(crate) fn cached<T: Clone>(cache: &Cache<T>, key: CacheKey, make: impl FnOnce() -> T) -> T {
    let mut g = cache.lock().unwrap_or_else(|e| e.into_inner());
    let map = g.get_or_insert_with(HashMap::new);
    if let Some(r) = map.get(&key) {
        return r.clone();
    }
    let r = {
        let _host = host_lock();
        let _quiet = Quiet::new();
        make()
    };
    map.insert(key, r.clone());
    r
}

/// The plugins of one CLAP bundle (cached). Control thread.
pub fn describe(file: &Path) -> Result<Vec<PluginInfo>, String> {
    static CACHE: Cache<Result<Vec<PluginInfo>, String>> = Mutex::new(None);
    cached(&CACHE, cache_key(file, file)?, || {
        clap::describe_bundle(file)
    })
}

/// Silences the process's stdout and stderr while plugins are described: some print chatter
/// when instantiated (and in the evaluator process stdout carries the result).
struct Quiet {
    saved: Option<(i32, i32)>,
    // One at a time: two overlapping redirections would restore each other's descriptors.
    _one: std::sync::MutexGuard<'static, ()>,
}

static QUIET: Mutex<()> = Mutex::new(());

impl Quiet {
    fn new() -> Self {
        let _one = QUIET.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: plain descriptor calls; every descriptor used is checked, and the originals
        // are restored on drop. Only control-thread code (description) runs meanwhile.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if null < 0 {
                return Self { saved: None, _one };
            }
            let (o, e) = (libc::dup(1), libc::dup(2));
            if o < 0 || e < 0 {
                libc::close(null);
                return Self { saved: None, _one };
            }
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            libc::close(null);
            Self {
                saved: Some((o, e)),
                _one,
            }
        }
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        if let Some((o, e)) = self.saved {
            // SAFETY: restores the descriptors saved in `new`.
            unsafe {
                libc::dup2(o, 1);
                libc::dup2(e, 2);
                libc::close(o);
                libc::close(e);
            }
        }
    }
}

/// The `(id, name)` pairs of one CLAP bundle's plugins (cached; no instance is made). Control
/// thread.
fn list(file: &Path) -> Result<Vec<(String, String)>, String> {
    static CACHE: Cache<Result<Vec<(String, String)>, String>> = Mutex::new(None);
    cached(&CACHE, cache_key(file, file)?, || clap::list_bundle(file))
}

/// Every plugin found, and the bundles that failed to load (with why). Control thread.
pub fn scan() -> (Vec<PluginInfo>, Vec<String>) {
    let mut files = Vec::new();
    for d in search_dirs() {
        bundles_in(&d, 1, &mut files);
    }
    let mut seen = std::collections::HashSet::new();
    let (mut infos, mut errs) = (Vec::new(), Vec::new());
    for f in files {
        match describe(&f) {
            Ok(v) => {
                for i in v {
                    // The first folder wins for an id found twice (CLAP_PATH before ~/.clap).
                    if seen.insert(i.id.clone()) {
                        infos.push(i);
                    }
                }
            }
            Err(e) => errs.push(e),
        }
    }
    infos.extend(lv2_plugins());
    let (v, e) = vst3::scan();
    infos.extend(v);
    errs.extend(e);
    (infos, errs)
}

/// The LV2 plugins (scanned once per process). Control thread.
pub fn lv2_plugins() -> Vec<PluginInfo> {
    static LV2: Mutex<Option<Vec<PluginInfo>>> = Mutex::new(None);
    let mut g = LV2.lock().unwrap_or_else(|e| e.into_inner());
    g.get_or_insert_with(|| {
        let _quiet = Quiet::new();
        lv2::scan()
    })
    .clone()
}

/// The installed plugin `id` names: `clap:<id>`, or a bare name or id matching exactly one
/// plugin (case-insensitive). Control thread.
pub fn resolve(id: &str) -> Result<PluginInfo, String> {
    let shown = crate::registry::schema::printable(id);
    if let Some((fmt, _)) = id.split_once(':') {
        match fmt {
            "clap" => {}
            "lv2" => {
                let found = {
                    let _quiet = Quiet::new();
                    lv2::find(&id[4..])
                };
                return found.ok_or_else(|| {
                        format!(
                            "plugin \"{shown}\" is not installed; searched {} (list them with `mixdown plugins --format lv2`)",
                            joined(&lv2::search_dirs())
                        )
                    });
            }
            "vst3" => {
                let hits = vst3::find(&id[5..]);
                return match hits.as_slice() {
                    [(bundle, raw, _)] => vst3::describe_hit(bundle, raw),
                    [] => Err(format!(
                        "plugin \"{shown}\" is not installed; searched {} (list them with `mixdown plugins --format vst3`; other folders need --allow-plugin DIR)",
                        joined(&vst3::search_dirs())
                    )),
                    many => Err(format!(
                        "plugin \"{shown}\" matches {} VST3 plugins ({}); give the class id",
                        many.len(),
                        many.iter()
                            .map(|(_, i, _)| format!("vst3:{i}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
            }
            _ => {}
        }
    }
    // Find the bundle from the factories' descriptors alone (cheap), then describe only it:
    // the evaluator process does this on every evaluation.
    let mut files = Vec::new();
    for d in search_dirs() {
        bundles_in(&d, 1, &mut files);
    }
    let bare = id.strip_prefix("clap:").unwrap_or(id).to_lowercase();
    let mut listed: Vec<(PathBuf, String, String)> = Vec::new();
    for f in &files {
        if let Ok(v) = list(f) {
            listed.extend(v.into_iter().map(|(i, n)| (f.clone(), i, n)));
        }
    }
    let mut seen = std::collections::HashSet::new();
    listed.retain(|(_, i, _)| seen.insert(i.clone()));
    let exact: Vec<&(PathBuf, String, String)> = listed
        .iter()
        .filter(|(_, i, _)| format!("clap:{i}") == id)
        .collect();
    let hits: Vec<&(PathBuf, String, String)> = if exact.is_empty() {
        listed
            .iter()
            .filter(|(_, i, n)| n.to_lowercase() == bare || i.to_lowercase() == bare)
            .collect()
    } else {
        exact
    };
    if hits.is_empty() {
        // No CLAP plugin of that name or id: an LV2 one, else a VST3 one (bare names look in
        // CLAP first); several in the first format that has any is an ambiguity.
        let lv2: Vec<PluginInfo> = lv2_plugins()
            .into_iter()
            .filter(|p| p.name.to_lowercase() == bare || p.raw_id.to_lowercase() == bare)
            .collect();
        let vst = if lv2.is_empty() {
            vst3::find(&bare)
        } else {
            Vec::new()
        };
        let ids: Vec<String> = match (lv2.as_slice(), vst.as_slice()) {
            ([one], _) => return Ok(one.clone()),
            ([], [(bundle, raw, _)]) => return vst3::describe_hit(bundle, raw),
            ([], []) => Vec::new(),
            ([], many) => many.iter().map(|(_, i, _)| format!("vst3:{i}")).collect(),
            (many, _) => many.iter().map(|p| p.id.clone()).collect(),
        };
        if !ids.is_empty() {
            return Err(format!(
                "plugin \"{shown}\" matches {} plugins ({}); give the full id",
                ids.len(),
                ids.join(", ")
            ));
        }
    }
    match hits.as_slice() {
        [(file, raw, _)] => describe(file)?
            .into_iter()
            .find(|p| &p.raw_id == raw)
            .ok_or_else(|| format!("plugin \"{shown}\" could not be described")),
        [] => {
            let names: Vec<&str> = listed.iter().map(|(_, _, n)| n.as_str()).collect();
            let ids: Vec<String> = listed.iter().map(|(_, i, _)| format!("clap:{i}")).collect();
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let mut hint = crate::graph::spec::did_you_mean(id, &names);
            if hint.is_empty() {
                hint = crate::graph::spec::did_you_mean(id, &ids);
            }
            Err(format!(
                "plugin \"{shown}\" is not installed{hint}; searched {} (list them with `mixdown plugins`; other folders need --allow-plugin DIR)",
                joined(&all_search_dirs())
            ))
        }
        many => Err(format!(
            "plugin \"{shown}\" matches {} plugins ({}); give the full id",
            many.len(),
            many.iter()
                .map(|(_, i, _)| format!("clap:{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Folders as a message lists them.
pub fn joined(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::unit_of_text;

    #[test]
    fn the_unit_is_what_follows_the_number_in_a_plugins_text() {
        assert_eq!(unit_of_text("-3.00 dB"), "dB");
        assert_eq!(unit_of_text("440 Hz"), "Hz");
        assert_eq!(unit_of_text("12.5%"), "%");
        // No number, or nothing after it: no unit.
        assert_eq!(unit_of_text("Enabled"), "");
        assert_eq!(unit_of_text("0.5"), "");
        assert_eq!(unit_of_text("1 of 24 taps"), "");
    }
}
