//! Writing output files safely.
//!
//! - [`WritePolicy`]: where a command may write. A script's render paths and album outputs must
//!   resolve (after symbolic links) under the script's folder, the `-o`/`--out-dir` given on the
//!   command line, or an `--allow-write` folder; anything else is refused with a message naming
//!   those options. Missing folders are created only inside those roots.
//! - [`PartFile`]: the file is written under a fresh temporary name in the destination folder,
//!   created with `O_CREAT | O_EXCL | O_NOFOLLOW` (never through a link, never onto an existing
//!   file), then synced and renamed over the destination. A destination that exists and is not
//!   a regular file (a link, folder, FIFO or device) is refused. Dropped unfinished, or on
//!   SIGINT/SIGTERM ([`super::signals`]), the temporary file is removed: a failed or interrupted
//!   render never leaves half a file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, ErrorKind};

/// Where a command may write.
#[derive(Clone, Debug, Default)]
pub struct WritePolicy {
    roots: Vec<PathBuf>,
}

/// The nearest existing ancestor of `p` (itself included), resolved, and the components below it.
pub(crate) fn existing_ancestor(p: &Path) -> Option<(PathBuf, Vec<std::ffi::OsString>)> {
    let mut rest = Vec::new();
    let mut cur = p.to_path_buf();
    loop {
        if let Ok(c) = cur.canonicalize() {
            rest.reverse();
            return Some((c, rest));
        }
        let name = cur.file_name()?.to_os_string();
        rest.push(name);
        if !cur.pop() {
            return None;
        }
        if cur.as_os_str().is_empty() {
            cur = PathBuf::from(".");
        }
    }
}

impl WritePolicy {
    /// Writes allowed under each of `roots` (resolved; roots that do not exist yet are created
    /// when first written to, so they are resolved through their nearest existing ancestor).
    pub fn new<I: IntoIterator<Item = PathBuf>>(roots: I) -> Self {
        let roots = roots
            .into_iter()
            .filter_map(|r| {
                let (base, rest) = existing_ancestor(&r)?;
                let mut p = base;
                for c in rest {
                    p.push(c);
                }
                Some(p)
            })
            .collect();
        Self { roots }
    }

    /// Allows everything (library use with trusted paths).
    pub fn anywhere() -> Self {
        Self {
            roots: vec![PathBuf::from("/")],
        }
    }

    /// Checks that `dest` may be written and creates its missing folders; returns the path with
    /// its folder resolved.
    pub fn prepare(&self, dest: &Path) -> Result<PathBuf, Error> {
        let shown = crate::registry::schema::printable(&dest.display().to_string());
        let denied = || {
            Error::new(
                ErrorKind::Denied,
                format!(
                    "{shown}: writing here is not allowed; outputs go under the script's folder, the -o/--out-dir path given on the command line, or a folder given with --allow-write DIR"
                ),
            )
        };
        let name = dest
            .file_name()
            .ok_or_else(|| Error::new(ErrorKind::Io, format!("{shown}: not a file name")))?;
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (base, rest) = existing_ancestor(&parent).ok_or_else(denied)?;
        let mut dir = base;
        for c in &rest {
            if c == ".." || c == "." {
                return Err(denied());
            }
            dir.push(c);
        }
        if !self.roots.iter().any(|r| dir.starts_with(r)) {
            return Err(denied());
        }
        if !rest.is_empty() {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::io(&dir, format!("cannot create folder: {e}")))?;
        }
        let full = dir.join(name);
        if let Ok(meta) = std::fs::symlink_metadata(&full) {
            if !meta.file_type().is_file() {
                return Err(Error::new(
                    ErrorKind::Denied,
                    format!(
                        "{shown} exists and is not a regular file (a link, folder, FIFO or device); refusing to replace it"
                    ),
                ));
            }
        }
        Ok(full)
    }
}

/// An output file being written under a temporary name (see the module documentation).
pub struct PartFile {
    file: Option<File>,
    part: PathBuf,
    dest: PathBuf,
}

impl PartFile {
    /// Creates the temporary file for `dest` in `dest`'s folder (which must exist). A `dest`
    /// that exists and is not a regular file is refused.
    pub fn create(dest: &Path) -> Result<Self, Error> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        if let Ok(meta) = std::fs::symlink_metadata(dest) {
            if !meta.file_type().is_file() {
                return Err(Error::new(
                    ErrorKind::Denied,
                    format!(
                        "{} exists and is not a regular file (a link, folder, FIFO or device); refusing to replace it",
                        dest.display()
                    ),
                ));
            }
        }
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .ok_or_else(|| Error::io(dest, "not a file name"))?
            .to_string_lossy()
            .to_string();
        for _ in 0..16 {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let part = dir.join(format!(".{name}.{}-{n}.part", std::process::id()));
            let opened = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&part);
            match opened {
                Ok(file) => {
                    super::signals::register_part(&part);
                    return Ok(Self {
                        file: Some(file),
                        part,
                        dest: dest.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::io(dest, format!("cannot create output: {e}")));
                }
            }
        }
        Err(Error::io(dest, "cannot create a temporary file beside it"))
    }

    /// The file being written.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until committed")
    }

    /// Takes the file out (for a writer that owns it); [`PartFile::commit_written`] finishes.
    pub fn take_file(&mut self) -> File {
        self.file.take().expect("open until committed")
    }

    /// Where the file will end up.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Syncs and renames the file into place.
    pub fn commit(mut self) -> Result<(), Error> {
        if let Some(mut f) = self.file.take() {
            f.flush()
                .and_then(|()| f.sync_all())
                .map_err(|e| Error::io(&self.dest, format!("cannot finish file: {e}")))?;
        }
        self.rename()
    }

    /// Renames into place after the file was taken out, written and closed by its writer.
    pub fn commit_written(mut self, file: File) -> Result<(), Error> {
        file.sync_all()
            .map_err(|e| Error::io(&self.dest, format!("cannot finish file: {e}")))?;
        drop(file);
        self.file = None;
        self.rename()
    }

    fn rename(&mut self) -> Result<(), Error> {
        let r = std::fs::rename(&self.part, &self.dest)
            .map_err(|e| Error::io(&self.dest, format!("cannot move into place: {e}")));
        if r.is_ok() {
            super::signals::unregister_part(&self.part);
            self.part = PathBuf::new();
        }
        r
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.part.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.part);
            super::signals::unregister_part(&self.part);
        }
    }
}

/// Removes temporary files a killed process left for `dest` (`.NAME.PID-N.part` beside it).
/// Only for a destination this process owns (a resumed batch's job): another process writing
/// the same destination at the same time would lose its temporary file.
pub fn remove_stale_parts(dest: &Path) {
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        let Some(rest) = n
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".part"))
        else {
            continue;
        };
        let looks_ours = rest
            .split_once('-')
            .is_some_and(|(pid, seq)| pid.parse::<u32>().is_ok() && seq.parse::<u64>().is_ok());
        if looks_ours && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Writes `bytes` to `dest` through a [`PartFile`].
pub fn write_file(dest: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut p = PartFile::create(dest)?;
    p.file()
        .write_all(bytes)
        .map_err(|e| Error::io(dest, format!("write failed: {e}")))?;
    p.commit()
}
