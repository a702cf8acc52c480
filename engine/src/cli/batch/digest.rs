//! Input digests for `--resume`: a job is up to date when its output files are where the last
//! run left them and nothing it was made from changed — the job's definition, the engine, and
//! the bytes of every file it read (script, modules, audio files).
//!
//! BLAKE3 over a length-prefixed encoding, so no two different inputs share an encoding.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::manifest::{JobKind, JobSpec};

/// The engine's identity: its version and a hash of the executable itself, so a rebuilt engine
/// (different DSP, same version number) renders again.
pub(crate) fn engine_id() -> String {
    let mut h = blake3::Hasher::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    if let Some(exe) = crate::script::isolate::current_exe() {
        let _ = hash_file(&mut h, &exe);
    }
    h.finalize().to_hex()[..16].to_string()
}

fn field(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn path_field(h: &mut blake3::Hasher, p: &Path) {
    field(h, p.as_os_str().as_encoded_bytes());
}

/// Hashes the file's bytes into `h`; `None` when it cannot be read.
fn hash_file(h: &mut blake3::Hasher, p: &Path) -> Option<()> {
    let mut f = crate::io::open_regular(p).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let mut n_total = 0u64;
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        n_total += n as u64;
        h.update(&buf[..n]);
    }
    h.update(&n_total.to_le_bytes());
    Some(())
}

/// The job's definition: what it is, its values (in key order) and its options, plus the
/// batch's common options (`common`: format, limits, the command line's `--set`).
pub(crate) fn job_key(job: &JobSpec, common: &str) -> String {
    let mut h = blake3::Hasher::new();
    field(&mut h, common.as_bytes());
    match &job.kind {
        JobKind::Render { script } => {
            field(&mut h, b"render");
            path_field(&mut h, script);
        }
        JobKind::Measure { file } => {
            field(&mut h, b"measure");
            path_field(&mut h, file);
        }
    }
    let mut set = job.set.clone();
    set.sort();
    for (k, v) in &set {
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
    for o in [&job.out, &job.report] {
        path_field(&mut h, o.as_deref().unwrap_or(Path::new("")));
    }
    for t in [&job.from, &job.to] {
        field(&mut h, t.as_deref().unwrap_or("").as_bytes());
    }
    field(&mut h, format!("{:?}", job.format).as_bytes());
    h.finalize().to_hex()[..32].to_string()
}

/// Content hashes of the files a batch's jobs read, each computed once per batch while the
/// file's size, modification time and inode stay the same (200 jobs mixing the same stems hash
/// them once, not 200 times). A file changed during the run gets a new hash; at worst a job
/// records the older content's digest, and `--resume` then renders it again.
#[derive(Default)]
pub(crate) struct FileHashes(parking_lot::Mutex<HashMap<PathBuf, (Stamp, [u8; 32])>>);

/// What identifies a file's version without reading it.
type Stamp = (u64, Option<std::time::SystemTime>, u64);

fn stamp(p: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok(), m.ino()))
}

impl FileHashes {
    /// The BLAKE3 of the file's bytes (and length); `None` when it cannot be read.
    fn get(&self, p: &Path) -> Option<[u8; 32]> {
        let st = stamp(p)?;
        if let Some((s, h)) = self.0.lock().get(p) {
            if *s == st {
                return Some(*h);
            }
        }
        let mut h = blake3::Hasher::new();
        hash_file(&mut h, p)?;
        let h: [u8; 32] = h.finalize().into();
        self.0.lock().insert(p.to_path_buf(), (st, h));
        Some(h)
    }
}

/// The digest of a job's inputs: its key, the engine, and every input file's path and bytes
/// (sorted, each once). `None` when an input cannot be read (the job must run again).
pub(crate) fn inputs_digest(
    key: &str,
    engine: &str,
    inputs: &[PathBuf],
    hashes: &FileHashes,
) -> Option<String> {
    let mut files: Vec<PathBuf> = inputs
        .iter()
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .collect();
    files.sort();
    files.dedup();
    let mut h = blake3::Hasher::new();
    field(&mut h, key.as_bytes());
    field(&mut h, engine.as_bytes());
    for f in &files {
        path_field(&mut h, f);
        h.update(&hashes.get(f)?);
    }
    Some(h.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_changes_with_a_byte_of_an_input_and_not_with_order() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.lua");
        let b = d.path().join("b.wav");
        std::fs::write(&a, "x").unwrap();
        std::fs::write(&b, "yy").unwrap();
        let one = inputs_digest("k", "e", &[a.clone(), b.clone()], &FileHashes::default()).unwrap();
        assert_eq!(
            one,
            inputs_digest(
                "k",
                "e",
                &[b.clone(), a.clone(), a.clone()],
                &FileHashes::default()
            )
            .unwrap()
        );
        assert_ne!(
            one,
            inputs_digest("k2", "e", &[a.clone(), b.clone()], &FileHashes::default()).unwrap()
        );
        assert_ne!(
            one,
            inputs_digest("k", "e2", &[a.clone(), b.clone()], &FileHashes::default()).unwrap()
        );
        std::fs::write(&b, "yz").unwrap();
        assert_ne!(
            one,
            inputs_digest("k", "e", &[a.clone(), b.clone()], &FileHashes::default()).unwrap()
        );
        std::fs::remove_file(&b).unwrap();
        assert_eq!(
            inputs_digest("k", "e", &[a, b], &FileHashes::default()),
            None
        );
    }
}
