//! The realtime side: [`Processor`] (the only code the audio thread runs) and the control-side
//! [`Controller`] that talks to it through lock-free queues.

pub mod msg;
mod processor;

pub use msg::{ControlMsg, ReturnMsg};
pub use processor::{processor_pair, Controller, Processor, Shared, SwapError, RELOAD_FADE_S};
