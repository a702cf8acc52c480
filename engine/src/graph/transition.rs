//! Reloads that change the graph, crossfaded path by path.
//!
//! When a save adds, removes or re-routes nodes, the processor does not fade the whole mix. It
//! plays a *transition* graph for [`CROSSFADE_S`]: every node of the new graph, plus the nodes
//! of the old graph that the new one no longer has (or has with another kind or construction
//! options). Connections that both graphs have play at unity; a connection only the old graph
//! has fades out (`cos`) where it enters a node both graphs share, and one only the new graph
//! has fades in (`sin`) there. So an EQ inserted on the bass crossfades the bass between its dry
//! and its equalised path, a removed track fades out at the bus it fed, and every other path
//! plays on untouched, sample for sample. When the fade is done the transition hands over to the
//! new graph proper (all instances and delay-line contents carry over; nothing audible changes).
//!
//! A transition is only used when it can be seamless: the master is the same node in both
//! versions, every kept node keeps its instance and its input latency in all three schedules.
//! Otherwise — a lookahead added to a track changes when the other tracks must arrive — the
//! processor falls back to a short fade of the whole output around the swap.

use std::collections::{HashMap, HashSet};

use super::diff::{is_parameter_only, plan_migration};
use super::schedule::{NodeIdentity, Schedule, ScheduleSummary};
use super::spec::{EdgeFade, EdgeSpec, GraphSpec, NodeKey, NodeSpec};
use super::{compile, CompileConfig};
use crate::error::Errors;

/// Length of the equal-power crossfade of a reload's changed paths.
pub const CROSSFADE_S: f64 = 0.03;

/// A node across versions of a script: path, kind and construction options.
type Ident<'a> = (&'a str, &'static str, &'a crate::registry::Config);

fn ident(n: &NodeSpec) -> Ident<'_> {
    (&n.path, n.kind_name(), &n.config)
}

fn ident_of(id: &NodeIdentity) -> Ident<'_> {
    (&id.path, id.kind, &id.config)
}

/// A connection across versions: source, destination, destination port.
type EdgeKey<'a> = (Ident<'a>, Ident<'a>, usize);

fn edge_keys(g: &GraphSpec) -> Vec<(petgraph::stable_graph::EdgeIndex, EdgeKey<'_>)> {
    use petgraph::visit::{EdgeRef, IntoEdgeReferences};
    (&g.graph)
        .edge_references()
        .map(|e| {
            let s = &g.nodes[g.key_at(e.source())];
            let d = &g.nodes[g.key_at(e.target())];
            (e.id(), (ident(s), ident(d), e.weight().port))
        })
        .collect()
}

/// The graph to play while a reload from `old` to `new` crossfades, or `None` when the two have
/// different masters (nothing is shared to crossfade into). Control thread; allocates.
pub fn transition_spec(old: &GraphSpec, new: &GraphSpec) -> Option<GraphSpec> {
    let (old_out, new_out) = (old.output?, new.output?);
    if ident(&old.nodes[old_out]) != ident(&new.nodes[new_out]) {
        return None;
    }
    let new_keys: HashMap<Ident, NodeKey> = new.nodes.iter().map(|(k, n)| (ident(n), k)).collect();
    let old_idents: HashSet<Ident> = old.nodes.values().map(ident).collect();
    let mut spec = new.clone();

    // Old nodes: the kept ones map to the new node, the others come along as outgoing copies.
    let mut map: HashMap<NodeKey, NodeKey> = HashMap::new();
    for (k, n) in old.nodes.iter() {
        let to = match new_keys.get(&ident(n)) {
            Some(&nk) => nk,
            None => spec.insert_copy(n),
        };
        map.insert(k, to);
    }

    // Connections as multisets: a key present m times in both graphs is kept m times.
    let mut shared: HashMap<EdgeKey, (usize, usize)> = HashMap::new();
    let (old_edges, new_edges) = (edge_keys(old), edge_keys(new));
    for (_, k) in &old_edges {
        shared.entry(*k).or_default().0 += 1;
    }
    for (_, k) in &new_edges {
        shared.entry(*k).or_default().1 += 1;
    }
    let mut used_new: HashMap<EdgeKey, usize> = HashMap::new();
    for (id, k) in &new_edges {
        let (o, n) = shared[k];
        let used = used_new.entry(*k).or_default();
        *used += 1;
        if *used > o.min(n) && old_idents.contains(&k.1) {
            // Only in the new graph, entering a node the old one has: fade in there.
            if let Some(w) = spec.graph.edge_weight_mut(*id) {
                w.fade = EdgeFade::In;
            }
        }
    }
    let mut used_old: HashMap<EdgeKey, usize> = HashMap::new();
    for (id, k) in &old_edges {
        let (o, n) = shared[k];
        let used = used_old.entry(*k).or_default();
        *used += 1;
        if *used <= o.min(n) {
            continue;
        }
        let (a, b) = old.graph.edge_endpoints(*id)?;
        let (src, dst) = (map[&old.key_at(a)], map[&old.key_at(b)]);
        let w = &old.graph[*id];
        let fade = if new_keys.contains_key(&k.1) {
            EdgeFade::Out
        } else {
            EdgeFade::None
        };
        spec.connect_index(
            src,
            dst,
            EdgeSpec {
                port: w.port,
                span: w.span.clone(),
                fade,
            },
        );
    }
    Some(spec)
}

/// A reload, compiled and planned against the running schedule.
pub struct Planned {
    /// What to send: a transition schedule (carrying the new one), or the new one alone.
    pub schedule: Box<Schedule>,
    /// Nodes of the new graph that keep their running instance.
    pub kept: usize,
    /// Whether the change crossfades path by path (false: parameters only, or a fade of the
    /// whole output).
    pub crossfades_paths: bool,
}

/// Compiles `new` to replace the running schedule (`running`, built from `old`), choosing how the
/// processor will make the change: a parameter glide, a crossfade of the changed paths, or (when
/// that cannot be seamless) a short fade of the whole output. Control thread; allocates.
pub fn plan_reload(
    old: Option<&GraphSpec>,
    running: &ScheduleSummary,
    new: &GraphSpec,
    cfg: CompileConfig,
) -> Result<Planned, Errors> {
    let mut fin = Box::new(compile(new, cfg)?);
    let kept = plan_migration(&mut fin, running);
    let plain = |schedule| Planned {
        schedule,
        kept,
        crossfades_paths: false,
    };
    let Some(old) = old.filter(|_| running.serial != 0) else {
        return Ok(plain(fin));
    };
    if is_parameter_only(&fin, running) {
        return Ok(plain(fin));
    }
    let Some(spec) = transition_spec(old, new) else {
        return Ok(plain(fin));
    };
    // A union that closes a loop (a → b before, b → a now) cannot play: fall back.
    let Ok(mut trans) = compile(&spec, cfg) else {
        return Ok(plain(fin));
    };
    plan_migration(&mut trans, running);
    plan_migration(&mut fin, &trans.summary());
    if seamless(running, &trans, &fin) {
        trans.fade_delay = trans.fresh_latency;
        fin.ack_serial = trans.serial;
        trans.then = Some(fin);
        return Ok(Planned {
            schedule: Box::new(trans),
            kept,
            crossfades_paths: true,
        });
    }
    plan_migration(&mut fin, running);
    Ok(plain(fin))
}

/// Whether `running → trans → fin` changes nothing but the fading connections: every node the
/// old graph had keeps its instance and input latency, and `fin` takes over all of `trans`'s.
fn seamless(running: &ScheduleSummary, trans: &Schedule, fin: &Schedule) -> bool {
    let old: HashSet<Ident> = running.identities.iter().map(ident_of).collect();
    let from_old = trans
        .identities
        .iter()
        .filter(|id| old.contains(&ident_of(id)))
        .count();
    let same_latency = |pairs: &[(u32, u32)], to: &[u32], from: &[u32]| {
        pairs
            .iter()
            .all(|&(n, o)| to.get(n as usize) == from.get(o as usize))
    };
    from_old == trans.migrate.len()
        && fin.migrate.len() == fin.nodes.len()
        && fin.migrate_lines.len() == fin.line_keys.len()
        && same_latency(&trans.migrate, &trans.in_latency, &running.in_latency)
        && same_latency(&fin.migrate, &fin.in_latency, &trans.in_latency)
        && trans.latency_frames == fin.latency_frames
}
