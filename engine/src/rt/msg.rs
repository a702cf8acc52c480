//! Messages between the control thread and the audio thread, over bounded lock-free `rtrb` rings.
//! Payloads are `Copy` or boxed once; nothing is allocated or freed on the audio side.

use crate::graph::Schedule;

/// Control → audio.
pub enum ControlMsg {
    /// Replace the running schedule. The old one comes back as [`ReturnMsg::Retired`].
    Swap(Box<Schedule>),
    /// Direct set of a parameter (glides): node index in the running schedule, parameter index.
    SetParam {
        /// Node index (schedule order).
        node: u32,
        /// Parameter index.
        param: u16,
        /// New value.
        value: f32,
    },
    /// Move the transport to a frame.
    Seek(u64),
    /// Start or pause.
    Play(bool),
}

/// Audio → control.
pub enum ReturnMsg {
    /// A schedule the audio thread no longer uses, to be dropped on the control thread.
    Retired(Box<Schedule>),
    /// A schedule the audio thread would not run: it was planned to take node instances over
    /// from a schedule that is not the running one (see `Schedule::vacant_count`). Its serial is
    /// published in `Shared::refused_serial`; the sender plans the reload again.
    Refused(Box<Schedule>),
}

/// Capacity of each ring.
pub const QUEUE_CAPACITY: usize = 64;
