//! `mixdown plugins` (list installed plugins) and `mixdown plugin-state save` (write a plugin's
//! state file, optionally after setting parameters).

use std::path::PathBuf;

use crate::error::{Error, ErrorKind, Errors};
use crate::plugin::{self, PluginInfo};

/// `mixdown plugins` options.
#[derive(clap::Args)]
pub struct PluginsArgs {
    /// Only plugins whose name or id contains this (case-insensitive).
    name: Option<String>,
    /// One JSON object per plugin, one per line.
    #[arg(long)]
    json: bool,
    /// Only this format.
    #[arg(long, value_parser = ["clap", "lv2", "vst3"])]
    format: Option<String>,
    /// Also search this folder (repeatable).
    #[arg(long = "allow-plugin", value_name = "DIR")]
    allow_plugin: Vec<PathBuf>,
}

/// `mixdown plugin-state` subcommands.
#[derive(clap::Subcommand)]
pub enum PluginStateCmd {
    /// Save a plugin's state (its defaults, with --set changes) to FILE.
    Save {
        /// The plugin: clap:<id>, lv2:<uri>, vst3:<class id or name>, or a name matching one
        /// plugin.
        id: String,
        /// The state file to write.
        file: PathBuf,
        /// A parameter value, by the plugin's parameter name (repeatable): --set boost_cut_1=6.
        #[arg(long = "set", value_name = "PARAM=VALUE")]
        set: Vec<String>,
        /// Also search this folder (repeatable).
        #[arg(long = "allow-plugin", value_name = "DIR")]
        allow_plugin: Vec<PathBuf>,
    },
}

fn trim(v: f64) -> String {
    crate::param::trim((v * 1e6).round() / 1e6)
}

fn text_of(p: &PluginInfo) -> String {
    let mut s = format!(
        "{}\n  name {}, vendor {}, format {}, channels {} in / {} out{}, latency {} frames, state {}\n  file {}\n",
        p.id,
        p.name,
        if p.vendor.is_empty() { "?" } else { &p.vendor },
        p.format.name(),
        p.main_inputs(),
        p.main_outputs(),
        if p.inputs.len() > 1 {
            format!(" (+{} sidechain)", p.inputs[1])
        } else {
            String::new()
        },
        p.latency,
        match (p.format, p.has_state) {
            (crate::plugin::PluginFormat::Lv2, _) => "LV2 Turtle",
            (crate::plugin::PluginFormat::Vst3, _) => ".vstpreset",
            (_, true) => "plugin blob",
            _ => "parameter values",
        },
        p.file.display()
    );
    if p.params.is_empty() {
        s.push_str("  no parameters\n");
    }
    for q in &p.params {
        s.push_str(&format!(
            "  {:<24} {} to {}{}, default {}{}  ({})\n",
            q.ident,
            trim(q.min),
            trim(q.max),
            if q.unit.is_empty() {
                String::new()
            } else {
                format!(" {}", q.unit)
            },
            trim(q.default),
            if q.stepped { ", stepped" } else { "" },
            q.name
        ));
    }
    s
}

/// `mixdown plugins`.
pub fn cmd_plugins(a: PluginsArgs) -> Result<(), Errors> {
    plugin::allow_dirs(&a.allow_plugin);
    let (all, errs) = plugin::scan();
    for e in &errs {
        eprintln!("warning: {e}");
    }
    let needle = a.name.as_deref().map(str::to_lowercase);
    let shown: Vec<&PluginInfo> = all
        .iter()
        .filter(|p| a.format.as_deref().is_none_or(|f| p.format.name() == f))
        .filter(|p| {
            needle.as_deref().is_none_or(|n| {
                p.name.to_lowercase().contains(n) || p.id.to_lowercase().contains(n)
            })
        })
        .collect();
    if shown.is_empty() {
        let dirs = plugin::joined(&plugin::all_search_dirs());
        return Err(Error::new(
            ErrorKind::Other,
            format!(
                "no plugin{} found; searched {}",
                a.name
                    .as_deref()
                    .map(|n| format!(" matching \"{n}\""))
                    .unwrap_or_default(),
                dirs
            ),
        )
        .into());
    }
    for p in shown {
        if a.json {
            println!(
                "{}",
                serde_json::to_string(p)
                    .map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?
            );
        } else {
            println!("{}", text_of(p));
        }
    }
    Ok(())
}

/// `mixdown plugin-state ...`.
pub fn cmd_plugin_state(c: PluginStateCmd) -> Result<(), Errors> {
    let PluginStateCmd::Save {
        id,
        file,
        set,
        allow_plugin,
    } = c;
    plugin::allow_dirs(&allow_plugin);
    let bad = |m: String| Errors::from(Error::new(ErrorKind::Param, m));
    let info = plugin::resolve(&id).map_err(bad)?;
    let mut values = Vec::new();
    for kv in &set {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(bad(format!("--set {kv}: must look like param=value")));
        };
        let (_, p) = info
            .param(k.trim())
            .ok_or_else(|| bad(info.unknown_param(k.trim())))?;
        let x: f64 = v
            .trim()
            .parse()
            .map_err(|_| bad(format!("--set {kv}: '{v}' is not a number")))?;
        let x = p.check(x).map_err(|m| bad(format!("{}: {m}", info.name)))?;
        values.push((p.key, x));
    }
    let blob = plugin::state::save_with(&info, &values).map_err(bad)?;
    std::fs::write(&file, blob).map_err(|e| Errors::from(Error::io(&file, e)))?;
    eprintln!(
        "{}: state written to {} ({})",
        info.name,
        file.display(),
        if info.format == plugin::PluginFormat::Vst3 {
            "a .vstpreset"
        } else if info.format == plugin::PluginFormat::Lv2 {
            "LV2 Turtle state"
        } else if info.has_state {
            "the plugin's state blob"
        } else {
            "parameter values"
        }
    );
    Ok(())
}
