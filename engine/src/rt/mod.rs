//! The realtime side: [`Processor`] (the only code the audio thread runs) and the control-side
//! [`Controller`] that talks to it through lock-free queues.

mod exec;
pub mod msg;
mod parallel;
mod processor;
#[cfg(test)]
mod tests;

pub use exec::MAX_PARAMS;
pub use msg::{ControlMsg, ReturnMsg};
pub use parallel::ParallelRunner;
pub use processor::{processor_pair, Controller, Processor, Shared, SwapError, RELOAD_FADE_S};
