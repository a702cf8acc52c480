//! Plugin state files.
//!
//! - A plugin with the CLAP state extension: the file is the plugin's own state blob, exactly
//!   as `clap_plugin_state.save` wrote it (the form other CLAP hosts save and load).
//! - A plugin without it: a text file of parameter values, one `key value` line each (the
//!   plugin's parameter key, then the value in the plugin's units), under a first line
//!   [`TEXT_MAGIC`]; `#` lines and the `ident` comments are for people.
//!
//! - An LV2 plugin: lilv's Turtle serialisation of its state (the state extension's properties
//!   and every control port), as LV2 presets are written.
//!
//! - A VST3 plugin: a Steinberg `.vstpreset` (component and controller states), as DAWs save
//!   them.
//!
//! Loading accepts a text file for any plugin (it sets only the parameters it names).

use std::path::Path;

use super::clap::ClapInstance;
use super::lv2::Lv2Instance;
use super::vst3::Vst3Instance;

/// First line of a parameter-values state file.
pub const TEXT_MAGIC: &str = "# mixdown plugin state: parameter values";

/// The state of `inst` as file contents: its blob, or parameter values as text (`params` gives
/// the keys and names to write). Control thread.
pub fn save(inst: &mut ClapInstance, params: &[super::ParamInfo], id: &str) -> Vec<u8> {
    let named: Vec<(u32, &str)> = params.iter().map(|p| (p.key, p.ident.as_str())).collect();
    save_named(inst, &named, id)
}

/// [`save`] for a running node, which knows its slots' keys only.
pub fn save_clap(inst: &mut ClapInstance, keys: &[u32], id: &str) -> Vec<u8> {
    let named: Vec<(u32, &str)> = keys.iter().map(|&k| (k, "")).collect();
    save_named(inst, &named, id)
}

fn save_named(inst: &mut ClapInstance, params: &[(u32, &str)], id: &str) -> Vec<u8> {
    if inst.has_state() {
        if let Ok(b) = inst.save_state() {
            return b;
        }
    }
    let mut s = format!("{TEXT_MAGIC}\n# plugin {id}\n");
    for &(key, ident) in params {
        if let Some(v) = inst.param_value(key) {
            if ident.is_empty() {
                s.push_str(&format!("{key} {v:?}\n"));
            } else {
                s.push_str(&format!("{key} {v:?} # {ident}\n"));
            }
        }
    }
    s.into_bytes()
}

/// Loads a state file into an inactive instance. Control thread.
pub fn load_into(inst: &mut ClapInstance, file: &Path) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    if let Some(values) = text_values(&bytes)? {
        inst.set_params_inactive(&values);
        Ok(())
    } else {
        inst.load_state(&bytes)
    }
}

/// Loads a state file into an LV2 instance before activation: lilv's Turtle state, or a text
/// file of parameter values. Control thread.
pub fn load_into_lv2(inst: &mut Lv2Instance, file: &Path) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    if let Some(values) = text_values(&bytes)? {
        inst.set_params(&values);
    } else {
        inst.set_state(String::from_utf8(bytes).map_err(|_| "not a Turtle state (not UTF-8)")?);
    }
    Ok(())
}

/// Loads a state file into a VST3 instance before activation: a `.vstpreset`, or a text file
/// of parameter values. Control thread.
pub fn load_into_vst3(inst: &mut Vst3Instance, file: &Path) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    if let Some(values) = text_values(&bytes)? {
        inst.set_params_inactive(&values);
        Ok(())
    } else {
        inst.load_preset(&bytes)
    }
}

/// The `(key, value)` lines of a parameter-values file; `None` for any other file.
fn text_values(bytes: &[u8]) -> Result<Option<Vec<(u32, f64)>>, String> {
    if bytes.starts_with(TEXT_MAGIC.as_bytes()) {
        let text = String::from_utf8_lossy(bytes);
        let mut values = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut it = line.split_whitespace();
            let (Some(k), Some(v)) = (it.next(), it.next()) else {
                return Err(format!("line {}: expected 'key value'", n + 1));
            };
            let (Ok(k), Ok(v)) = (k.parse::<u32>(), v.parse::<f64>()) else {
                return Err(format!(
                    "line {}: expected 'key value', got '{line}'",
                    n + 1
                ));
            };
            values.push((k, v));
        }
        Ok(Some(values))
    } else {
        Ok(None)
    }
}

/// The state file of a fresh instance of `info` with `values` (`(key, value)`) set: what
/// `mixdown plugin-state save` writes. Control thread.
pub fn save_with(info: &super::PluginInfo, values: &[(u32, f64)]) -> Result<Vec<u8>, String> {
    if info.format == super::PluginFormat::Lv2 {
        let mut inst = Lv2Instance::new(&info.file, &info.raw_id)?;
        inst.set_params(values);
        return inst.save_state().map(String::into_bytes);
    }
    if info.format == super::PluginFormat::Vst3 {
        let mut inst = Vst3Instance::new(&info.file, &info.raw_id)?;
        inst.set_params_inactive(values);
        // The processor takes values only in `process`: `settle` delivers them.
        let keys: Vec<u32> = values.iter().map(|v| v.0).collect();
        inst.activate(48000.0, 64, &keys)?;
        inst.settle()?;
        return inst.save_preset();
    }
    let entry = super::clap::load_entry(&info.file)?;
    let mut inst = ClapInstance::new(&entry, &info.raw_id)?;
    inst.set_params_inactive(values);
    Ok(save(&mut inst, &info.params, &info.id))
}
