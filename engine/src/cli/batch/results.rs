//! Results: one JSON line per job, appended (and flushed) as each job ends, so a killed batch
//! keeps what it finished. Shards write one file each (`NAME.shard-I-of-N.jsonl`), never the
//! same file; `mixdown batch --merge-results` combines them, the latest record of each job
//! winning, in job order.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::{Error, ErrorKind};

/// What happened to a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    /// Rendered (or measured).
    Ok,
    /// Up to date (`--resume`): its outputs and inputs are those of an earlier run.
    Skipped,
    /// Failed: see `error`.
    Failed,
}

/// One job's line.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Record {
    pub index: usize,
    pub line: usize,
    pub id: String,
    pub status: Status,
    /// The job's definition hash (what it is asked to do).
    pub key: String,
    /// Input digest (definition, engine, bytes of every input); empty for a failed job.
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub outputs: Vec<Output>,
    #[serde(default)]
    pub inputs: Vec<PathBuf>,
    /// Wall-clock seconds of the job (0 when skipped).
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_lufs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_peak_dbtp: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness_range_lu: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missed_targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What went wrong, with the script's file:line where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds since 1970 when the record was written (the newest wins in a merge).
    pub finished_unix: f64,
}

/// A file a job wrote, and its size (a resumed batch checks it is still there).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Output {
    pub path: PathBuf,
    pub bytes: u64,
}

impl Output {
    pub fn of(path: &Path) -> Output {
        Output {
            path: path.to_path_buf(),
            bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
        }
    }

    /// Still there, as large as when written.
    pub fn intact(&self) -> bool {
        std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.is_file() && m.len() == self.bytes)
    }
}

pub(crate) fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The results file being written.
pub(crate) struct ResultsFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl ResultsFile {
    /// Opens `path`: appended to when `append` (a resumed batch), else started afresh.
    pub fn open(path: &Path, append: bool) -> Result<ResultsFile, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(Error::new(
                ErrorKind::Denied,
                format!(
                    "{}: exists and is not a regular file; give another --results file",
                    path.display()
                ),
            ));
        }
        let mut o = OpenOptions::new();
        o.create(true);
        if append {
            o.append(true);
        } else {
            o.write(true).truncate(true);
        }
        let file = o
            .open(path)
            .map_err(|e| Error::io(path, format!("cannot open the results file: {e}")))?;
        Ok(ResultsFile {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line, flushed to the file before returning.
    pub fn write(&self, r: &Record) -> Result<(), Error> {
        let mut line = serde_json::to_vec(r).unwrap_or_default();
        line.push(b'\n');
        let mut f = self.file.lock();
        f.write_all(&line)
            .and_then(|()| f.sync_data())
            .map_err(|e| Error::io(&self.path, format!("cannot write a result: {e}")))
    }
}

/// Every results file of a batch whose results file is `base` (`NAME.jsonl`): `base` itself and
/// its shards' `NAME.shard-I-of-N.jsonl` beside it.
pub(crate) fn results_files(base: &Path) -> Vec<PathBuf> {
    let dir = match base.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = base
        .file_stem()
        .map_or(String::new(), |s| s.to_string_lossy().to_string());
    let exact = base.file_name().map(|n| n.to_string_lossy().to_string());
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                Some(n.to_string()) == exact
                    || n.starts_with(&format!("{prefix}.shard-")) && n.ends_with(".jsonl")
            })
        })
        .collect();
    v.sort();
    v
}

/// The newest record of each job found in `files` (lines that do not parse are skipped: a
/// batch killed while writing leaves at most its last line cut).
pub(crate) fn latest(files: &[PathBuf]) -> BTreeMap<usize, Record> {
    let mut m: BTreeMap<usize, Record> = BTreeMap::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for line in text.lines() {
            let Ok(r) = serde_json::from_str::<Record>(line) else {
                continue;
            };
            match m.get(&r.index) {
                Some(old) if old.finished_unix > r.finished_unix => {}
                _ => {
                    m.insert(r.index, r);
                }
            }
        }
    }
    m
}

/// Writes `records` in job order to `dest` (atomically).
pub(crate) fn write_merged(dest: &Path, records: &BTreeMap<usize, Record>) -> Result<(), Error> {
    let mut body = Vec::new();
    for r in records.values() {
        body.extend(serde_json::to_vec(r).unwrap_or_default());
        body.push(b'\n');
    }
    crate::io::output::write_file(dest, &body)
}
