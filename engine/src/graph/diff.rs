//! Reload planning: which node instances of the running schedule the new one takes over.
//!
//! Nodes are matched by [`NodeIdentity`] (path, kind, construction options, channel layout). A
//! matched node keeps its instance — filter memories, compressor envelopes, reverb tails, playback
//! positions — and its parameters glide from their old values to the new ones. The plan is made on
//! the control thread; the audio thread only swaps boxed instances by index when it applies the
//! swap (no allocation, no lookup).

use std::collections::HashMap;

use super::schedule::{NodeIdentity, Schedule, ScheduleSummary};

/// Fills `new`'s migration plan against the running schedule described by `running`.
/// Returns how many nodes keep their instance. Control thread; allocates.
pub fn plan_migration(new: &mut Schedule, running: &ScheduleSummary) -> usize {
    new.based_on = running.serial;
    if running.sample_rate != new.sample_rate {
        new.migrate = Box::new([]);
        return 0;
    }
    let old: HashMap<&NodeIdentity, u32> = running
        .identities
        .iter()
        .enumerate()
        .map(|(i, id)| (id, i as u32))
        .collect();
    let plan: Vec<(u32, u32)> = new
        .identities
        .iter()
        .enumerate()
        .filter_map(|(i, id)| old.get(id).map(|&o| (i as u32, o)))
        .collect();
    let n = plan.len();
    new.migrate = plan.into_boxed_slice();
    n
}

/// Whether replacing `running` by `new` changes only parameter values (no node added, removed or
/// re-routed): such swaps need no crossfade.
pub fn is_parameter_only(new: &Schedule, running: &ScheduleSummary) -> bool {
    new.topology == running.topology && new.migrate.len() == new.identities.len()
}
