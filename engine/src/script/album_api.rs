//! `mix.album { ... }`: records an album mastering job (see [`crate::album`]).

use mlua::{Lua, Result as LuaResult, Table, Value};

use super::api::{call_span, with_model};
use super::options::{type_name, Opts};
use super::Ctx;

/// `mix.album { songs = {...}, target_lufs, ceiling_db, mode, chain, out, continuous, gap_s,
/// fade_s, match_eq, reference, format }`.
pub(super) fn album(lua: &Lua, opts: Table) -> LuaResult<()> {
    use crate::album::{AlbumJob, AlbumMode, AlbumSong, MatchEq};
    let span = call_span(lua);
    let ctx = lua.app_data_ref::<Ctx>().expect("ctx").clone();
    let mut o = Opts::new(Some(&opts), "mix.album", span.clone());
    let mut songs = Vec::new();
    match o.value("songs") {
        Some(Value::Table(t)) => {
            for (i, v) in t.sequence_values::<Value>().enumerate() {
                match v {
                    Ok(Value::String(s)) => {
                        let file = s.to_string_lossy();
                        match ctx.resolve_read(&file) {
                            Err(e) => o.error(format!("song {}: {}", i + 1, e.message)),
                            Ok(path) if !path.is_file() => o.error(format!(
                                "song {}: \"{}\" not found (looked for {})",
                                i + 1,
                                crate::registry::schema::printable(&file),
                                path.display()
                            )),
                            Ok(path) => {
                                let name = path.file_stem().map_or(format!("song{}", i + 1), |s| {
                                    s.to_string_lossy().to_string()
                                });
                                songs.push(AlbumSong { name, path });
                            }
                        }
                    }
                    Ok(other) => o.error(format!(
                        "song {} must be a file name (a mix script or an audio file), got {}",
                        i + 1,
                        type_name(&other)
                    )),
                    Err(e) => o.error(e.to_string()),
                }
            }
        }
        _ => o.error("needs songs = { \"song1.lua\", \"song2.wav\", ... }"),
    }
    let target_lufs = o
        .num_in("target_lufs", -70.0, 0.0, " LUFS")
        .unwrap_or(-14.0);
    let ceiling_db = o.num_in("ceiling_db", -60.0, 0.0, " dBTP").unwrap_or(-1.0);
    if target_lufs > ceiling_db {
        o.error(format!(
            "target_lufs = {target_lufs} is louder than ceiling_db = {ceiling_db} allows"
        ));
    }
    let mode = match o.str("mode").as_deref() {
        None | Some("track") => AlbumMode::Track,
        Some("album") => AlbumMode::Album,
        Some(x) => {
            o.error(format!("mode = \"{x}\"; use \"track\" or \"album\""));
            AlbumMode::Track
        }
    };
    let chain = match o.value("chain") {
        None => None,
        Some(Value::String(s)) => Some(s.to_string_lossy()),
        Some(Value::Function(f)) => {
            // The function a `require` returned: find the module it came from.
            let loaded: Table = lua.named_registry_value("mixdown_loaded")?;
            let mut name = None;
            for pair in loaded.pairs::<String, Value>() {
                let (k, v) = pair?;
                if let Value::Function(g) = v {
                    if g == f {
                        name = Some(k);
                    }
                }
            }
            if name.is_none() {
                o.error("chain must be a graph module: chain = require \"mastering.streaming\" or chain = \"mastering.streaming\"");
            }
            name
        }
        Some(other) => {
            o.error(format!(
                "chain must be a graph module name or require(...), got {}",
                type_name(&other)
            ));
            None
        }
    };
    let out = o.str("out").unwrap_or_else(|| "out/%s.wav".into());
    if !out.contains("%s") {
        o.error(format!(
            "out = \"{out}\" must contain %s (the song name), e.g. \"out/%s.wav\""
        ));
    }
    let continuous = o.str("continuous").map(std::path::PathBuf::from);
    let gap_s = o.num_in("gap_s", 0.0, 60.0, " s").unwrap_or(2.0);
    let fade_s = o.num_in("fade_s", 0.0, 30.0, " s").unwrap_or(0.0);
    let reference = o.str("reference");
    let match_on = o.bool("match_eq").unwrap_or(false);
    let match_eq = match (reference, match_on) {
        (Some(r), _) => match ctx.resolve_read(&r) {
            Ok(p) if p.is_file() => MatchEq::Reference(p),
            Ok(p) => {
                o.error(format!(
                    "reference \"{}\" not found (looked for {})",
                    crate::registry::schema::printable(&r),
                    p.display()
                ));
                MatchEq::Off
            }
            Err(e) => {
                o.error(format!("reference: {}", e.message));
                MatchEq::Off
            }
        },
        (None, true) => MatchEq::Album,
        (None, false) => MatchEq::Off,
    };
    let chosen = match o.str("format").as_deref().map(str::parse) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            o.error(e);
            None
        }
    };
    let mut format = chosen.unwrap_or(crate::io::wav::OutputFormat::Wav24);
    for p in std::iter::once(out.as_str()).chain(continuous.iter().filter_map(|c| c.to_str())) {
        match crate::io::sink::OutputFormat::check_extension(std::path::Path::new(p), chosen) {
            Ok(Some(f)) => format = f,
            Ok(None) => {}
            Err(m) => o.error(m),
        }
    }
    let errs = o.finish();
    with_model(lua, |m| {
        m.extend_errors(errs);
        let sample_rate = m.spec.session.sample_rate;
        m.albums.push(AlbumJob {
            songs,
            target_lufs,
            ceiling_db,
            mode,
            chain,
            out,
            continuous,
            gap_s,
            fade_s,
            match_eq,
            format,
            sample_rate,
            dir: ctx.dir.clone(),
            out_base: None,
            span,
        });
    });
    Ok(())
}
