//! Generator sources for file-free music: oscillators, noise, drum voices and synths driven by a
//! step sequencer.

use crate::graph::Session;
use crate::script::Opts;

pub use crate::script::inserts_built::Built;

/// Builds a generator source from a track's option table.
pub fn from_options(o: &mut Opts, session: Session) -> Result<Built, String> {
    let _ = (o, session);
    Err("generators are not in this build yet".into())
}
