//! The batch manifest: JSON Lines, or TSV with a header.
//!
//! ```text
//! {"script": "variations.lua", "set": {"vocal_db": -2}, "out": "out/v1.flac"}
//! {"script": "album.lua"}
//! {"measure": "masters/song1.flac"}
//! ```
//!
//! TSV: a header line naming the columns (`script`, `measure`, `id`, `out`, `format`, `report`,
//! `from`, `to`, and `set.KEY` for each `--set` value), then one job a line; an empty cell is
//! absent. Blank lines and lines starting with `#` are not jobs. A job's index is its position
//! among the job lines (from 0): the same manifest always numbers its jobs the same way, which
//! keeps `--shard` stable over re-runs. Relative paths resolve against the manifest's folder
//! (`out` and `report` against `--out-dir` when given).

use std::path::{Path, PathBuf};

use crate::graph::spec::did_you_mean;
use crate::io::wav::OutputFormat;
use crate::registry::schema::printable;

/// The keys a job line may have.
pub(crate) const KEYS: [&str; 9] = [
    "script", "measure", "id", "set", "out", "format", "report", "from", "to",
];

/// What a job does.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JobKind {
    /// Render a script (a mix or an album).
    Render { script: PathBuf },
    /// Measure an audio file's loudness and true peak.
    Measure { file: PathBuf },
}

/// One job of the manifest.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct JobSpec {
    /// Position among the job lines, from 0.
    pub index: usize,
    /// Line number in the manifest, from 1.
    pub line: usize,
    /// The job's name (its `id`, else the script's or file's name and the index).
    pub id: String,
    pub kind: JobKind,
    /// `--set` values of this job (added to, and overriding, the command line's).
    pub set: Vec<(String, String)>,
    /// Output file (render jobs of a mix; album scripts write their own files).
    pub out: Option<PathBuf>,
    pub format: Option<OutputFormat>,
    /// Report folder.
    pub report: Option<PathBuf>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A line that is not a job: its line number, index and what is wrong.
#[derive(Clone, Debug)]
pub(crate) struct BadLine {
    pub index: usize,
    pub line: usize,
    pub message: String,
}

/// The parsed manifest.
#[derive(Debug, Default)]
pub(crate) struct Manifest {
    /// Every job line, in order: a job or the reason it is not one.
    pub entries: Vec<Result<JobSpec, BadLine>>,
}

/// Where a manifest's relative paths point.
pub(crate) struct Bases<'a> {
    /// The manifest's folder.
    pub dir: &'a Path,
    /// `--out-dir`, for outputs and reports.
    pub out_dir: Option<&'a Path>,
}

/// One manifest line's keys and values, in their order.
type Row = Vec<(String, Value)>;

impl Manifest {
    /// Parses `text` (JSON Lines when the first job line starts with `{`, else TSV).
    pub fn parse(text: &str, bases: &Bases) -> Manifest {
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .collect();
        let Some((_, first)) = lines.first() else {
            return Manifest::default();
        };
        let rows: Vec<(usize, Result<Row, String>)> = if first.trim_start().starts_with('{') {
            lines.iter().map(|(n, l)| (*n, json_row(l))).collect()
        } else {
            let header: Vec<&str> = first.split('\t').map(str::trim).collect();
            lines[1..]
                .iter()
                .map(|(n, l)| (*n, tsv_row(&header, l)))
                .collect()
        };
        let entries = rows
            .into_iter()
            .enumerate()
            .map(|(index, (line, row))| {
                row.and_then(|r| job(index, r, bases))
                    .map_err(|message| BadLine {
                        index,
                        line,
                        message,
                    })
                    .map(|mut j| {
                        j.line = line;
                        j
                    })
            })
            .collect();
        let mut m = Manifest { entries };
        m.refuse_shared_outputs();
        m
    }

    /// Two jobs writing the same file would overwrite each other: the later one is refused.
    fn refuse_shared_outputs(&mut self) {
        let mut seen: Vec<(PathBuf, usize)> = Vec::new();
        for e in &mut self.entries {
            let Ok(j) = e else { continue };
            let Some(out) = &j.out else { continue };
            if let Some((_, line)) = seen.iter().find(|(p, _)| p == out) {
                *e = Err(BadLine {
                    index: j.index,
                    line: j.line,
                    message: format!(
                        "out \"{}\" is also written by the job on line {line}; give each job its own output file",
                        out.display()
                    ),
                });
            } else {
                seen.push((out.clone(), j.line));
            }
        }
    }

    /// Number of job lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// A cell's value.
#[derive(Clone, Debug)]
enum Value {
    Text(String),
    Set(Vec<(String, String)>),
}

fn json_row(line: &str) -> Result<Row, String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
        format!("not a JSON object ({e}); each line is one job, e.g. {{\"script\": \"mix.lua\", \"set\": {{\"vocal_db\": -2}}}}")
    })?;
    let serde_json::Value::Object(map) = v else {
        return Err("a job line must be a JSON object, e.g. {\"script\": \"mix.lua\"}".into());
    };
    let mut row = Vec::new();
    for (k, v) in map {
        let value = if k == "set" {
            Value::Set(set_values(&v)?)
        } else {
            match v {
                serde_json::Value::String(s) => Value::Text(s),
                serde_json::Value::Null => continue,
                other => {
                    return Err(format!(
                        "\"{}\" must be a string, not {other}",
                        printable(&k)
                    ))
                }
            }
        };
        row.push((k, value));
    }
    Ok(row)
}

/// `set` as an object (`{"vocal_db": -2}`) or a list of `"key=value"` strings.
fn set_values(v: &serde_json::Value) -> Result<Vec<(String, String)>, String> {
    let scalar = |x: &serde_json::Value| -> Option<String> {
        match x {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let bad = "\"set\" must be an object of values ({\"vocal_db\": -2, \"stems\": \"song1\"}) or a list of \"key=value\" strings";
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, x)| {
                let key = check_key(k)?;
                scalar(x)
                    .map(|s| (key, s))
                    .ok_or_else(|| format!("set.{}: {bad}", printable(k)))
            })
            .collect(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| {
                let s = x.as_str().ok_or(bad)?;
                let (k, v) = s.split_once('=').ok_or(bad)?;
                Ok((check_key(k)?, v.to_string()))
            })
            .collect(),
        _ => Err(bad.into()),
    }
}

fn check_key(k: &str) -> Result<String, String> {
    if k.is_empty() || k.len() > 200 || k.chars().any(|c| c.is_control() || c == '=') {
        return Err(format!(
            "set key \"{}\" must be a plain name (letters, digits, _)",
            printable(k)
        ));
    }
    Ok(k.to_string())
}

fn tsv_row(header: &[&str], line: &str) -> Result<Row, String> {
    let cells: Vec<&str> = line.split('\t').collect();
    if cells.len() > header.len() {
        return Err(format!(
            "{} cells but the header names {} columns ({})",
            cells.len(),
            header.len(),
            header.join(", ")
        ));
    }
    let mut row = Vec::new();
    let mut set = Vec::new();
    for (h, c) in header.iter().zip(cells) {
        let c = c.trim();
        if c.is_empty() {
            continue;
        }
        if let Some(k) = h.strip_prefix("set.") {
            set.push((check_key(k)?, c.to_string()));
        } else {
            row.push((h.to_string(), Value::Text(c.to_string())));
        }
    }
    if !set.is_empty() {
        row.push(("set".into(), Value::Set(set)));
    }
    Ok(row)
}

fn job(index: usize, row: Vec<(String, Value)>, bases: &Bases) -> Result<JobSpec, String> {
    let mut j = JobSpec {
        index,
        line: 0,
        id: String::new(),
        kind: JobKind::Measure {
            file: PathBuf::new(),
        },
        set: Vec::new(),
        out: None,
        format: None,
        report: None,
        from: None,
        to: None,
    };
    let (mut script, mut measure) = (None, None);
    let out_base = bases.out_dir.unwrap_or(bases.dir);
    for (k, v) in row {
        let text = match v {
            Value::Set(s) => {
                j.set = s;
                continue;
            }
            Value::Text(t) => t,
        };
        if text.chars().any(|c| c.is_control()) {
            return Err(format!(
                "\"{k}\" holds control characters; give a plain path or name"
            ));
        }
        match k.as_str() {
            "script" => script = Some(bases.dir.join(&text)),
            "measure" => measure = Some(bases.dir.join(&text)),
            "id" => j.id = text,
            "out" => j.out = Some(out_base.join(&text)),
            "report" => j.report = Some(out_base.join(&text)),
            "format" => j.format = Some(text.parse().map_err(|e: String| format!("format: {e}"))?),
            "from" => j.from = Some(text),
            "to" => j.to = Some(text),
            other => {
                return Err(format!(
                    "unknown key \"{}\"{}; a job has {}",
                    printable(other),
                    did_you_mean(other, &KEYS),
                    KEYS.join(", ")
                ))
            }
        }
    }
    let name = |p: &Path| {
        p.file_stem()
            .map_or("job".into(), |s| s.to_string_lossy().to_string())
    };
    j.kind =
        match (script, measure) {
            (Some(s), None) => {
                if j.id.is_empty() {
                    j.id = format!("{}-{index}", name(&s));
                }
                JobKind::Render { script: s }
            }
            (None, Some(f)) => {
                if j.out.is_some() || !j.set.is_empty() || j.format.is_some() {
                    return Err(
                    "a measure job reads a file and writes none: it takes no out, set or format"
                        .into(),
                );
                }
                if j.id.is_empty() {
                    j.id = format!("{}-{index}", name(&f));
                }
                JobKind::Measure { file: f }
            }
            (Some(_), Some(_)) => {
                return Err(
                    "a job has either \"script\" (render) or \"measure\" (a file), not both".into(),
                )
            }
            (None, None) => return Err(
                "a job needs \"script\" (a mix script to render) or \"measure\" (an audio file)"
                    .into(),
            ),
        };
    if j.id.chars().any(|c| c == '/' || c == '\\') || j.id.starts_with('.') {
        return Err(format!(
            "id \"{}\" names a file: no '/', no leading '.'",
            printable(&j.id)
        ));
    }
    Ok(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Manifest {
        Manifest::parse(
            text,
            &Bases {
                dir: Path::new("/m"),
                out_dir: None,
            },
        )
    }

    #[test]
    fn json_lines_with_comments_blank_lines_and_set_forms() {
        let m = parse(
            "# variations\n\n{\"script\": \"a.lua\", \"set\": {\"vocal_db\": -2, \"name\": \"x\"}, \"out\": \"o/1.wav\"}\n{\"script\": \"a.lua\", \"set\": [\"vocal_db=-3\"], \"format\": \"flac24\"}\n{\"measure\": \"m.flac\"}\n",
        );
        assert_eq!(m.len(), 3);
        let j0 = m.entries[0].as_ref().unwrap();
        assert_eq!((j0.index, j0.line), (0, 3));
        assert_eq!(
            j0.set,
            vec![
                ("name".into(), "x".into()),
                ("vocal_db".into(), "-2".into())
            ]
        );
        assert_eq!(j0.out.as_deref(), Some(Path::new("/m/o/1.wav")));
        let j1 = m.entries[1].as_ref().unwrap();
        assert_eq!(j1.set, vec![("vocal_db".into(), "-3".into())]);
        assert_eq!(j1.format, Some(OutputFormat::Flac24));
        assert_eq!(j1.id, "a-1");
        assert!(
            matches!(&m.entries[2].as_ref().unwrap().kind, JobKind::Measure { file } if file == Path::new("/m/m.flac"))
        );
    }

    #[test]
    fn tsv_with_set_columns() {
        let m = parse("script\tset.vocal_db\tout\na.lua\t-2\tv1.wav\na.lua\t\tv2.wav\n");
        assert_eq!(m.len(), 2);
        let j = m.entries[0].as_ref().unwrap();
        assert_eq!(
            (j.line, j.set.clone()),
            (2, vec![("vocal_db".into(), "-2".into())])
        );
        assert!(m.entries[1].as_ref().unwrap().set.is_empty());
    }

    #[test]
    fn bad_lines_say_what_is_wrong_and_keep_their_index() {
        let m = parse(
            "{\"scirpt\": \"a.lua\"}\nnot json\n{\"script\": \"a.lua\", \"out\": \"x.wav\"}\n{\"script\": \"b.lua\", \"out\": \"x.wav\"}\n{\"script\": 3}\n",
        );
        let errs: Vec<_> = m.entries.iter().filter_map(|e| e.as_ref().err()).collect();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(
            errs[0].message.contains("did you mean 'script'"),
            "{}",
            errs[0].message
        );
        assert_eq!(errs[0].line, 1);
        assert!(errs[1].message.contains("not a JSON object"));
        assert_eq!((errs[2].index, errs[2].line), (3, 4));
        assert!(errs[2]
            .message
            .contains("also written by the job on line 3"));
        assert!(errs[3].message.contains("must be a string"));
    }
}
