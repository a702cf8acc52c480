//! The graph: [`spec`] (data built by scripts), [`compile`] (spec → schedule, all allocation),
//! [`schedule`] (what the audio thread runs), [`diff`] and [`transition`] (live reloads: which
//! instances carry over, and the crossfade graph between the old and the new version).

mod assemble;
pub mod compile;
pub mod diff;
pub mod schedule;
pub mod spec;
pub mod transition;
mod validate;

pub use compile::{compile, compile_reusing, CompileConfig};
pub use schedule::{NodeFacts, NodeIdentity, NodeSlot, PortBufs, Schedule, ScheduleSummary, Step};
pub use spec::{EdgeFade, EdgeSpec, GraphSpec, NodeFactory, NodeKey, NodeSpec, Session};
