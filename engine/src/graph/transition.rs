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

use super::compile::compile_reusing;
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
///
/// Migration is planned before anything is prepared: a node the running schedule has is never
/// prepared again (its slot stays vacant until the processor moves the running instance in), and
/// a node new in this version is prepared once — for a path crossfade, the transition schedule
/// borrows it from the final one, which takes it back from the transition when the fade ends.
pub fn plan_reload(
    old: Option<&GraphSpec>,
    running: &ScheduleSummary,
    new: &GraphSpec,
    cfg: CompileConfig,
) -> Result<Planned, Errors> {
    let plain = |schedule, kept| Planned {
        schedule,
        kept,
        crossfades_paths: false,
    };
    let Some(old) = old.filter(|_| running.serial != 0) else {
        let mut fin = Box::new(compile(new, cfg)?);
        let kept = plan_migration(&mut fin, running);
        return Ok(plain(fin, kept));
    };
    let mut fin = Box::new(compile_reusing(new, cfg, &[running])?);
    let kept = plan_migration(&mut fin, running);
    if is_parameter_only(&fin, running) {
        return Ok(plain(fin, kept));
    }
    let Some(spec) = transition_spec(old, new) else {
        return Ok(plain(fin, kept));
    };
    // The transition prepares nothing: its nodes are the running ones and the final's new ones.
    // A union that closes a loop (a → b before, b → a now) cannot play: fall back.
    let fin_summary = fin.summary();
    let Ok(mut trans) = compile_reusing(&spec, cfg, &[running, &fin_summary]) else {
        return Ok(plain(fin, kept));
    };
    plan_migration(&mut trans, running);
    let lent = lend_fresh(&mut fin, &mut trans);
    plan_migration(&mut fin, &trans.summary());
    if seamless(running, &trans, &fin) && trans.vacant as usize == trans.migrate.len() {
        trans.fade_delay = trans.fresh_latency;
        fin.ack_serial = trans.serial;
        trans.then = Some(fin);
        return Ok(Planned {
            schedule: Box::new(trans),
            kept,
            crossfades_paths: true,
        });
    }
    give_back(&mut fin, &mut trans, &lent);
    plan_migration(&mut fin, running);
    Ok(plain(fin, kept))
}

/// Moves the instances `fin` prepared (nodes new in this reload) into the vacant slots `trans`
/// has for them (those the running schedule does not fill); returns the (trans, fin) slot pairs.
fn lend_fresh(fin: &mut Schedule, trans: &mut Schedule) -> Vec<(usize, usize)> {
    let from_running: HashSet<u32> = trans.migrate.iter().map(|&(n, _)| n).collect();
    let fresh: HashMap<&super::schedule::NodeIdentity, usize> = fin
        .identities
        .iter()
        .enumerate()
        .filter(|(i, _)| !fin.nodes[*i].vacant)
        .map(|(i, id)| (id, i))
        .collect();
    let pairs: Vec<(usize, usize)> = trans
        .identities
        .iter()
        .enumerate()
        .filter(|(j, _)| trans.nodes[*j].vacant && !from_running.contains(&(*j as u32)))
        .filter_map(|(j, id)| fresh.get(id).map(|&i| (j, i)))
        .collect();
    give_back(fin, trans, &pairs);
    pairs
}

/// Swaps the instances of the (trans, fin) slot pairs (lending and giving back are the same move).
fn give_back(fin: &mut Schedule, trans: &mut Schedule, pairs: &[(usize, usize)]) {
    for &(j, i) in pairs {
        let (t, f) = (&mut trans.nodes[j], &mut fin.nodes[i]);
        std::mem::swap(&mut t.node, &mut f.node);
        std::mem::swap(&mut t.vacant, &mut f.vacant);
    }
    trans.recount_vacant();
    fin.recount_vacant();
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
