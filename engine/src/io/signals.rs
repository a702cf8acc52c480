//! SIGINT and SIGTERM: one process-wide handler. It removes every temporary output file that
//! is being written ([`super::output::PartFile`] registers them), then either ends the process
//! with status 130 (a render) or, while live playback runs, sets a flag the control thread
//! polls ([`quit_requested`]) — and a second signal ends the process at once. Evaluations in a
//! child process watch the same flag, so a stuck evaluation never delays the exit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

static PARTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static QUIT: AtomicBool = AtomicBool::new(false);
static EXIT_ON_SIGNAL: AtomicBool = AtomicBool::new(true);

/// Exit status after SIGINT/SIGTERM (128 + SIGINT, as shells report it).
pub const INTERRUPTED_STATUS: i32 = 130;

/// Installs the handler (once per process; later calls do nothing).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let again = QUIT.swap(true, Ordering::SeqCst);
            remove_parts();
            if again || EXIT_ON_SIGNAL.load(Ordering::SeqCst) {
                eprintln!("interrupted");
                std::process::exit(INTERRUPTED_STATUS);
            }
        });
    });
}

/// Whether SIGINT/SIGTERM asks the process to stop at once (`true`, the default) or only
/// raises [`quit_requested`] (live playback stops cleanly by itself).
pub fn set_exit_on_signal(exit: bool) {
    EXIT_ON_SIGNAL.store(exit, Ordering::SeqCst);
}

/// Whether SIGINT/SIGTERM arrived.
pub fn quit_requested() -> bool {
    QUIT.load(Ordering::SeqCst)
}

/// The flag behind [`quit_requested`] (for waits that poll it).
pub fn quit_flag() -> &'static AtomicBool {
    &QUIT
}

/// Records a temporary output file to remove if the process is interrupted.
pub fn register_part(p: &Path) {
    if let Ok(mut v) = PARTS.lock() {
        v.push(p.to_path_buf());
    }
}

/// Forgets a temporary output file (renamed into place or removed).
pub fn unregister_part(p: &Path) {
    if let Ok(mut v) = PARTS.lock() {
        v.retain(|x| x != p);
    }
}

fn remove_parts() {
    if let Ok(v) = PARTS.lock() {
        for p in v.iter() {
            let _ = std::fs::remove_file(p);
        }
    }
}
