//! # mixdown: mixing and mastering as code
//!
//! A Lua script describes a session — tracks, buses, sends, inserts, automation, a mastering
//! chain. The engine turns it into a graph of processing nodes, compiles the graph into an
//! index-only schedule, and runs that schedule either against a sound card or offline to a file.
//!
//! ## The pipeline
//!
//! ```text
//!  script (Lua, control thread)        compile (control thread)         processor (audio thread)
//!  ─────────────────────────────       ────────────────────────         ─────────────────────────
//!  script::evaluate ──► GraphSpec ──►  graph::compile ──► Schedule ──►  rt::Processor::process
//!   nodes + edges + spans               validate, toposort,              steps over a buffer pool;
//!   params + automation                 cycles, channels, latency,       no alloc / lock / I/O
//!                                       buffers by liveness              swaps via rtrb queues
//! ```
//!
//! - [`graph::GraphSpec`] is plain data: nodes in a slotmap, edges in a petgraph `StableDiGraph`,
//!   each with the script line ([`error::Span`]) that created it, so errors found later still point
//!   at the user's line.
//! - [`graph::compile`] is pure and does all the allocation: it instantiates and prepares the
//!   nodes, rejects cycles that do not pass through a delay (naming every node), compensates
//!   latency so parallel paths meet sample-aligned, and assigns buffers by liveness. For a live
//!   reload it plans the instance hand-over first: a node the running schedule has is not
//!   prepared again (its slot stays vacant until the processor moves the running instance in, or
//!   refuses the swap if it cannot), and a node the save adds is prepared once.
//! - [`rt::Processor`] runs the schedule in blocks of at most [`buffer::MAX_BLOCK`] frames. It is
//!   the only code on the audio thread. New schedules arrive on a bounded lock-free queue; replaced
//!   ones go back on another queue and are dropped by the control thread. NaN and infinity never
//!   leave a node (they become silence and are counted per node); denormals are flushed.
//! - [`render`] drives the same processor offline, as fast as the CPU allows.
//!
//! ## Where things are
//! - [`node`]: the [`node::Node`] trait and port/parameter declarations; [`param`]: parameter
//!   descriptions, smoothing and sample-accurate automation timelines.
//! - [`nodes`]: the node catalogue, one node per file; [`dsp`]: the pure DSP they are built from.
//! - [`io`]: audio files (symphonia decoding, rubato resampling, WAV in and out) and the sound card
//!   (cpal, in `io::playback` only); [`units`]: dB, Hz and musical time; [`error`]: the error type.
//! - [`script`]: the sandboxed Lua front end that builds a [`graph::GraphSpec`].
//! - [`live`] and [`reload`]: `mixdown play` — file watching, rebuilding, instance hand-over;
//!   [`graph::transition`]: how a reload crossfades only the paths it changes.
//! - [`measure`] and [`report`]: loudness/peak figures, render reports and pictures;
//!   [`album`]: several songs mastered together.
//! - [`rt::ParallelRunner`]: offline renders on worker threads, bit-identical to one thread.
#![warn(missing_docs)]

pub mod album;
pub mod buffer;
pub mod cli;
pub mod delivery;
pub mod dsp;
pub mod error;
pub mod graph;
pub mod io;
pub mod live;
pub mod measure;
pub mod node;
pub mod nodes;
pub mod param;
pub mod plugin;
pub mod registry;
pub mod reload;
pub mod render;
pub mod report;
pub mod rt;
pub mod script;
pub mod units;

pub use error::{Error, ErrorKind, Errors, Span};
