//! Documentation generated from the registry, so it cannot drift from what the engine accepts:
//! the LuaLS annotation file `scripts/.luals/mix.lua` ([`luals`]) and the README's table of
//! inserts and sources ([`readme_tables`]). Tests compare the committed files with these
//! (`MIXDOWN_BLESS=1 cargo test --test docs` rewrites them).

use std::fmt::Write as _;

use super::{NodeKind, OptKind, Role};
use crate::param::{trim, ParamDesc, Unit};

/// Where the generated README tables start and end.
pub const README_BEGIN: &str =
    "<!-- registry:begin (generated from the node registry; do not edit) -->";
/// See [`README_BEGIN`].
pub const README_END: &str = "<!-- registry:end -->";

fn param_range(p: &ParamDesc) -> String {
    let s = p.unit.suffix();
    match p.unit {
        Unit::Switch => "0/1 or false/true".to_string(),
        _ => format!("{}{s} to {}{s}", trim(p.min as f64), trim(p.max as f64)),
    }
}

fn param_default(p: &ParamDesc) -> String {
    match p.unit {
        Unit::Switch => (if p.default >= 0.5 { "1" } else { "0" }).to_string(),
        _ => trim(p.default as f64),
    }
}

/// One line per script key of `kind`: (key, LuaLS type, description).
fn fields(kind: &NodeKind) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for o in kind.options.iter().filter(|o| o.user) {
        let default = o
            .default
            .lua()
            .map(|d| format!(", default {d}"))
            .unwrap_or_default();
        let ty = match o.kind {
            OptKind::Number { integer: true, .. } => "integer".to_string(),
            _ => o.lua_type(),
        };
        out.push((
            o.key.to_string(),
            ty,
            format!("{} ({}{default})", o.doc, o.range_text()),
        ));
    }
    for p in kind.desc.params {
        let ty = if p.unit == Unit::Switch {
            "number|boolean"
        } else {
            "number"
        };
        out.push((
            p.id.to_string(),
            ty.to_string(),
            format!(
                "{} ({}, default {}; automatable)",
                p.doc,
                param_range(p),
                param_default(p)
            ),
        ));
    }
    for a in kind.aliases {
        let ty = match a.conversion {
            super::Conversion::NoteSeconds(_) => "string",
            _ => "number",
        };
        out.push((
            a.key.to_string(),
            ty.to_string(),
            format!("{} (instead of {})", a.doc, a.target),
        ));
    }
    if kind.desc.input_index("sidechain").is_some() {
        out.push((
            "sidechain".into(),
            "Strip".into(),
            "key the detector from another strip (its post-fader output)".into(),
        ));
    }
    out
}

fn class_name(kind: &NodeKind) -> String {
    let mut s = String::new();
    for part in kind.name.split('_') {
        let mut c = part.chars();
        if let Some(f) = c.next() {
            s.extend(f.to_uppercase());
            s.push_str(c.as_str());
        }
    }
    s.push_str("Options");
    s
}

/// The LuaLS annotation file: the fixed part ([`LUALS_FIXED`]) and one options class and one
/// `Strip` method per insert, and the generator keys of the track table, from the registry.
pub fn luals() -> String {
    let mut s = String::from(LUALS_FIXED);
    s.push_str("\n---@class TrackOptions\n");
    s.push_str(
        "---@field file? string Audio file (WAV, FLAC, MP3, Ogg Vorbis), relative to the script.\n",
    );
    s.push_str("---@field gain_db? number Fader in dB (-120 dB to 48 dB).\n");
    s.push_str("---@field pan? number -1 (left) to 1 (right).\n");
    s.push_str("---@field trim? number|{start_s?: number, length_s?: number} Seconds skipped at the file's start, or a range.\n");
    let mut seen: Vec<String> = vec!["file".into(), "gain_db".into(), "pan".into(), "trim".into()];
    for k in super::sources() {
        for (key, ty, doc) in fields(k) {
            if seen.contains(&key) {
                continue;
            }
            seen.push(key.clone());
            let _ = writeln!(s, "---@field {key}? {ty} {}: {doc}", k.name);
        }
    }
    s.push_str("\n---A track: a channel strip with a source (a file or a generator).\n");
    s.push_str("---@param name string Unique name (no '/' or ':').\n");
    s.push_str("---@param source string|TrackOptions An audio file or an option table.\n");
    s.push_str("---@return Strip\nfunction mix.track(name, source) end\n");
    for k in super::inserts() {
        if k.name == "eq" {
            continue;
        }
        let _ = writeln!(s, "\n---@class {}", class_name(k));
        for (key, ty, doc) in fields(k) {
            let _ = writeln!(s, "---@field {key}? {ty} {doc}");
        }
    }
    s.push('\n');
    for k in super::inserts() {
        let _ = writeln!(s, "---{}", k.doc);
        if k.name == "eq" {
            s.push_str(
                "---@param bands Band[] Up to 8 bands: mix.bell{...}, mix.low_shelf{...}, ...\n",
            );
            let _ = writeln!(s, "---@return Node\nfunction Strip:eq(bands) end");
        } else {
            let _ = writeln!(
                s,
                "---@param opts? {}\n---@return Node\nfunction Strip:{}(opts) end",
                class_name(k),
                k.name
            );
        }
    }
    s.push_str(PLUGIN_LUALS);
    s
}

/// `Strip:plugin` (its parameters are the plugin's own, so there is no options class).
const PLUGIN_LUALS: &str = "\n---A third-party plugin (CLAP, LV2 or VST3) hosted in-process: `mixdown plugins` lists ids and parameters.\n\
---@param id string \"clap:<plugin id>\", \"lv2:<uri>\", \"vst3:<class id or name>\", or a name matching one installed plugin\n\
---@param params? table<string, number|boolean> Parameters by the plugin's names, in its units\n\
---@param opts? {state?: string, state_out?: string, sidechain?: Strip} A state file to load; where to save the state when a render ends; a strip for the sidechain input\n\
---@return Node\nfunction Strip:plugin(id, params, opts) end\n";

/// The README's insert and generator tables, between [`README_BEGIN`] and [`README_END`].
pub fn readme_tables() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{README_BEGIN}");
    s.push_str(
        "\n| insert | what it does | options (automatable parameters marked ⟳) |\n|---|---|---|\n",
    );
    for k in super::inserts() {
        let call = if k.name == "eq" {
            ":eq { band, band, ... }".to_string()
        } else {
            format!(":{} {{ ... }}", k.name)
        };
        let _ = writeln!(s, "| `{call}` | {} | {} |", k.doc, cells(k));
    }
    s.push_str("\n| generator (track table key) | what it does | options |\n|---|---|---|\n");
    for k in super::sources() {
        let Role::Source { selector } = k.role else {
            continue;
        };
        let _ = writeln!(s, "| `{selector} = ...` | {} | {} |", k.doc, cells(k));
    }
    let _ = writeln!(s, "\n{README_END}");
    s
}

/// `b3_hz` → `(3, "hz")`.
fn band_suffix(id: &str) -> Option<(u32, &str)> {
    let rest = id.strip_prefix('b')?;
    let (n, tail) = rest.split_once('_')?;
    Some((n.parse().ok()?, tail))
}

fn cells(k: &NodeKind) -> String {
    let mut parts = Vec::new();
    for o in k.options.iter().filter(|o| o.user) {
        let d = o
            .default
            .lua()
            .map(|d| format!(", default `{d}`"))
            .unwrap_or_default();
        parts.push(format!("`{}` {}{d}", o.key, o.range_text()));
    }
    for p in k.desc.params {
        // Per-band parameters (`b1_hz` … `b8_hz`) are listed once, as `b<n>_hz`.
        let id = match band_suffix(p.id) {
            Some((1, rest)) => format!("b<n>_{rest}"),
            Some(_) => continue,
            None => p.id.to_string(),
        };
        parts.push(format!(
            "`{id}` ⟳ {}, default `{}`",
            param_range(p),
            param_default(p)
        ));
    }
    for a in k.aliases {
        parts.push(format!("`{}` instead of `{}`: {}", a.key, a.target, a.doc));
    }
    if k.desc.input_index("sidechain").is_some() {
        parts.push("`sidechain = strip`".into());
    }
    parts.join("; ").replace('|', "\\|")
}

/// The hand-written part of the LuaLS file: the `mix` module, sessions, buses, time helpers,
/// bands, automation, routing, render and album jobs.
const LUALS_FIXED: &str = r#"---@meta
-- LuaLS annotations for mixdown mix scripts. Generated from mixdown's node registry
-- (engine/src/registry/docs.rs); do not edit by hand. Not loaded by mixdown; editors read it
-- for completion and type checks (see README, "Editor support").

---@class mix
mix = {}

---A number of seconds, or a time from mix.bar / mix.beat / mix.note.
---@alias Seconds number

---@class SessionOptions
---@field sample_rate? integer Frames per second (8000 to 384000), default 48000.
---@field tempo_bpm? number Quarter-note beats per minute (20 to 400), default 120.
---@field time_signature? string|integer[] "4/4", "6/8" or {4, 4}, default "4/4".
---@field length_s? number Song length in seconds; every source ends there (default: the longest source).
---@field length_bars? number Song length in bars at this call's tempo (instead of length_s).

---Session settings; call it before any track or bus.
---@param opts SessionOptions
function mix.session(opts) end

---A bus: a channel strip that sums what is routed or sent to it.
---@param name string
---@return Strip
function mix.bus(name) end

---The master bus; its output is the mix.
---@type Strip
mix.master = nil

---Start of bar n (1-based) in seconds at the session tempo.
---@param n number
---@return Seconds
function mix.bar(n) end

---Start of beat n (1-based, counted from the song's start) in seconds.
---@param n number
---@return Seconds
function mix.beat(n) end

---A note value in seconds: mix.note(1/8) or mix.note("1/8."), "1/8t".
---@param value number|string
---@return Seconds
function mix.note(value) end

---Values given with --set key=value: integers stay integers, other numbers are floats, the rest strings.
---@type table<string, string|number>
mix.args = {}

---@class RenderOptions
---@field path string Output file, relative to the script (inside its folder or the command line's -o/--out-dir/--allow-write).
---@field format? "wav16"|"wav24"|"wav32f" Default "wav24" (16/24-bit with TPDF dither).
---@field stems? boolean Also write one file per bus, default false.

---Records a render job for `mixdown render`.
---@param opts RenderOptions
function mix.render(opts) end

---@class AlbumOptions
---@field songs string[] Mix scripts or audio files, in order.
---@field target_lufs? number Default -14.
---@field ceiling_db? number True-peak ceiling, default -1.
---@field mode? "track"|"album" Default "track".
---@field chain? string|function A graph module (require "mastering.streaming") or its name; default: a loudness stage only.
---@field match_eq? boolean Gentle EQ toward the album's average balance, default false.
---@field reference? string Audio file whose balance the matching EQ aims at.
---@field out? string Output pattern with %s for the song name, default "out/%s.wav".
---@field continuous? string One album file with gaps and fades.
---@field gap_s? number Default 2.
---@field fade_s? number Default 0.
---@field format? "wav16"|"wav24"|"wav32f" Default "wav24".

---Masters several songs together (rendered by `mixdown render`).
---@param opts AlbumOptions
function mix.album(opts) end

---@class Band
---@field hz number Centre/corner frequency in Hz (10 Hz to below Nyquist).
---@field q? number Q (above 0 up to 40), default 0.7071.
---@field gain_db? number Gain in dB (bell and shelves), -48 to 48, default 0.
---@field slope? number Shelf slope S (above 0 up to 1), instead of q.

---@param b Band
---@return Band
function mix.bell(b) end
---@param b Band
---@return Band
function mix.low_shelf(b) end
---@param b Band
---@return Band
function mix.high_shelf(b) end
---@param b Band
---@return Band
function mix.highpass(b) end
---@param b Band
---@return Band
function mix.lowpass(b) end
---@param b Band
---@return Band
function mix.notch(b) end
---@param b Band
---@return Band
function mix.bandpass(b) end
---@param b Band
---@return Band
function mix.allpass(b) end

---An automatable parameter. Before its first event a parameter holds its static value (or,
---when none was given, the first event's value). Events must come in time order.
---@class Param
local Param = {}
---Jump to `value` at time `t`.
---@param t Seconds
---@param value number|boolean
---@return Param
function Param:set(t, value) end
---Linear ramp from the previous event to `value` at `t`.
---@param t Seconds
---@param value number|boolean
---@return Param
function Param:linear_to(t, value) end
---Exponential ramp from the previous event to `value` at `t`.
---@param t Seconds
---@param value number
---@return Param
function Param:exp_to(t, value) end
---From `t`, approach `value` with time constant `tau_s`.
---@param t Seconds
---@param value number
---@param tau_s number
---@return Param
function Param:target(t, value, tau_s) end
---A curve through points {t, v}.
---@param points number[][]
---@return Param
function Param:curve(points) end

---A node inserted on a strip; index it by parameter id for automation (e.g. comp.threshold_db).
---@class Node
---@field path string
---@field [string] Param

---A channel strip (track, bus or master).
---@class Strip
---@field name string
---@field gain_db Param Fader in dB (-120 to 48); on the master it comes after the inserts.
---@field pan Param -1 to 1.
---@field source Node A track's source, for automating its parameters (lead.source.hz:linear_to(t, 880)).
local Strip = {}
---@param dest Strip
---@return Strip
function Strip:to(dest) end
---@param dest Strip
---@param opts? {gain_db?: number, pre?: boolean}
---@return Node
function Strip:send(dest, opts) end
---Any insert by name: strip:insert("comp", { ... }).
---@param kind string
---@param opts? table
---@return Node
function Strip:insert(kind, opts) end
"#;
