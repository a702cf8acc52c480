//! Insert kinds of the mixing/mastering catalogue, built from Lua option tables.

use mlua::Table;

use crate::script::Opts;
use crate::units::Tempo;

pub use crate::script::inserts_built::Built;

/// Builds catalogue insert `kind`.
pub fn build(
    kind: &str,
    o: &mut Opts,
    table: Option<&Table>,
    sample_rate: f64,
    tempo: Tempo,
) -> Result<Built, String> {
    let _ = (o, table, sample_rate, tempo);
    Err(format!("the '{kind}' insert is not in this build yet"))
}
