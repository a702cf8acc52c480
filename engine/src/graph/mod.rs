//! The graph: [`spec`] (data built by scripts), [`compile`] (spec → schedule, all allocation),
//! [`schedule`] (what the audio thread runs).

pub mod compile;
pub mod diff;
pub mod schedule;
pub mod spec;

pub use compile::{compile, CompileConfig};
pub use schedule::{NodeIdentity, NodeSlot, PortBufs, Schedule, ScheduleSummary, Step};
pub use spec::{EdgeSpec, GraphSpec, NodeFactory, NodeKey, NodeSpec, Session};
