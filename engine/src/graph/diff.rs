//! Reload planning: which node instances of the running schedule the new one takes over.
//!
//! Nodes are matched by [`NodeIdentity`] (path, kind, construction options, channel layout). A
//! matched node keeps its instance — filter memories, compressor envelopes, reverb tails, playback
//! positions — and its parameters glide from their old values to the new ones. The plan is made on
//! the control thread; the audio thread only swaps boxed instances by index when it applies the
//! swap (no allocation, no lookup).

use std::collections::HashMap;

use super::schedule::{LineKey, NodeIdentity, Schedule, ScheduleSummary};

/// Fills `new`'s migration plan against the running schedule described by `running`: node
/// instances and the contents of latency-compensation lines that carry the same connection with
/// the same delay. Returns how many nodes keep their instance. Control thread; allocates.
pub fn plan_migration(new: &mut Schedule, running: &ScheduleSummary) -> usize {
    new.based_on = running.serial;
    if running.sample_rate != new.sample_rate {
        new.migrate = Box::new([]);
        new.migrate_lines = Box::new([]);
        new.fresh_latency = new.latency_frames;
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

    let old_lines: HashMap<LineId, u32> = running
        .lines
        .iter()
        .enumerate()
        .filter_map(|(i, k)| line_id(&running.identities, k).map(|id| (id, i as u32)))
        .collect();
    let lines: Vec<(u32, u32)> = new
        .line_keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| {
            let id = line_id(&new.identities, k)?;
            old_lines.get(&id).map(|&o| (i as u32, o))
        })
        .collect();
    new.migrate_lines = lines.into_boxed_slice();
    new.fresh_latency = fresh_latency(new);
    n
}

/// The longest delay of `s` that will start empty: a compensation line or node lookahead that
/// does not carry over from the running schedule.
fn fresh_latency(s: &Schedule) -> u32 {
    let mut kept_node = vec![false; s.nodes.len()];
    for &(n, _) in s.migrate.iter() {
        kept_node[n as usize] = true;
    }
    let mut kept_line = vec![false; s.lines.len()];
    for &(l, _) in s.migrate_lines.iter() {
        kept_line[l as usize] = true;
    }
    let nodes = s
        .facts
        .iter()
        .zip(&kept_node)
        .filter(|(_, k)| !**k)
        .map(|(f, _)| f.latency_frames);
    let lines = s
        .lines
        .iter()
        .zip(&kept_line)
        .filter(|(_, k)| !**k)
        .map(|(l, _)| l.delay_frames() as u32);
    nodes.chain(lines).max().unwrap_or(0)
}

/// A delay line in terms of node identities: (source, destination, port, channel, delay).
type LineId<'a> = (&'a NodeIdentity, &'a NodeIdentity, u8, u8, u32);

fn line_id<'a>(ids: &'a [NodeIdentity], k: &LineKey) -> Option<LineId<'a>> {
    Some((
        ids.get(k.src as usize)?,
        ids.get(k.dst as usize)?,
        k.port,
        k.channel,
        k.delay_frames,
    ))
}

/// Whether replacing `running` by `new` changes only parameter values (no node added, removed or
/// re-routed): such swaps need no crossfade.
pub fn is_parameter_only(new: &Schedule, running: &ScheduleSummary) -> bool {
    new.only_parameters_differ_from(running.serial, running.topology)
}
