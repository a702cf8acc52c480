//! `compile`: GraphSpec → Schedule. Pure (reads the spec, builds new instances) and the only place
//! that allocates. In order it:
//! 1. instantiates every node;
//! 2. finds cycles (every member named, with its script line); a cycle is allowed only through a
//!    node that supports feedback (the delay), whose input edges from inside the loop become
//!    feedback edges;
//! 3. orders the nodes topologically (Kahn, ties broken by creation order: deterministic);
//! 4. drops nodes that reach no output, with a warning;
//! 5. resolves channel counts (fixed rules; see [`crate::node::mix_gain`]) and prepares nodes —
//!    except, for a reload ([`compile_reusing`]), the nodes the running schedule already has
//!    prepared: those slots stay vacant and the processor moves the running instance in;
//! 6. compensates latency: every edge into a node is delayed so all its inputs (main and
//!    sidechain) arrive aligned;
//! 7. assigns buffers by liveness (a buffer is reused once its last reader ran);
//! 8. emits index-only steps.

use petgraph::algo::tarjan_scc;
use petgraph::stable_graph::NodeIndex;
use petgraph::visit::{EdgeIndexable, EdgeRef, IntoEdgeReferences};

use super::assemble::{assemble_port, release_sources, Builder, Edge};
use super::schedule::{
    LineKey, NodeFacts, NodeIdentity, NodeSlot, PortBufs, Schedule, ScheduleSummary, Step,
};
use super::spec::GraphSpec;
use crate::buffer::{BufferPool, MAX_BLOCK, MAX_CHANNELS};
use crate::dsp::delay_line::DelayLine;
use crate::error::{Error, ErrorKind, Errors};
use crate::node::{Channels, Mode, Node, ProcessConfig, ProcessStatus};
use crate::param::ParamSlot;

/// Most memory the nodes of one graph may hold for their state (delay lines, reverbs, rings):
/// a graph needing more is refused before any node is prepared.
pub const MAX_STATE_BYTES: usize = 4 << 30;

static PREPARED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Node instances prepared by compiles in this process so far: a reload must prepare only the
/// nodes it adds or changes, each once.
pub fn nodes_prepared() -> u64 {
    PREPARED.load(std::sync::atomic::Ordering::Relaxed)
}

/// How to compile.
#[derive(Clone, Copy, Debug)]
pub struct CompileConfig {
    /// Realtime or offline (passed to nodes).
    pub mode: Mode,
    /// Transport position at which the schedule will start running (sources pre-roll from it).
    pub start_frame: u64,
    /// Give every node its own buffers (no reuse), so independent branches can run on several
    /// threads (`rt::ParallelRunner`). Costs memory, not time.
    pub parallel: bool,
}

impl Default for CompileConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Offline,
            start_frame: 0,
            parallel: false,
        }
    }
}

/// Compiles `spec` into a runnable schedule, or reports every problem found.
///
/// Control thread; allocates.
pub fn compile(spec: &GraphSpec, cfg: CompileConfig) -> Result<Schedule, Errors> {
    compile_reusing(spec, cfg, &[])
}

/// Compiles `spec` for a reload: a node whose identity (path, kind, options, channels) one of
/// the schedules summarised in `reuse` already has is not prepared — its slot stays vacant,
/// with the facts (latency, length) taken from the summary, for the running instance to move
/// in when the swap is applied ([`super::diff::plan_migration`] against the same summary plans
/// that). So a reload never re-prepares an unchanged node: no reader thread, decoder or delay
/// line is made for an instance that would be thrown away. The first summary wins where
/// several have a node. Control thread; allocates.
pub fn compile_reusing(
    spec: &GraphSpec,
    cfg: CompileConfig,
    reuse: &[&ScheduleSummary],
) -> Result<Schedule, Errors> {
    let sr = spec.session.sample_rate;
    let Some(out_key) = spec.output else {
        return Err(Error::new(ErrorKind::Graph, "the graph has no output (master)").into());
    };
    // Dense indices in creation order.
    let keys: Vec<_> = spec.nodes.keys().collect();
    let dense: slotmap::SecondaryMap<super::NodeKey, usize> =
        keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let dense_of = |ix: NodeIndex| -> usize { dense[spec.graph[ix]] };
    let n = keys.len();
    let spec_of = |i: usize| &spec.nodes[keys[i]];
    let mut instances: Vec<Option<Box<dyn Node>>> = Vec::with_capacity(n);
    let mut build_errors = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match spec.nodes[*k].instantiate() {
            Ok(node) => instances.push(Some(node)),
            Err(m) => {
                let s = spec_of(i);
                build_errors.push(
                    Error::new(
                        ErrorKind::Graph,
                        format!("{} \"{}\": {m}", s.kind_name(), s.path),
                    )
                    .at(s.span.as_ref()),
                );
                instances.push(None);
            }
        }
    }
    if !build_errors.is_empty() {
        return Err(Errors(build_errors));
    }
    // "name" (file:line) of each node on a cycle, sorted, for the error message.
    let cycle_names = |members: &[usize]| -> Vec<String> {
        let mut names: Vec<String> = members
            .iter()
            .map(|m| {
                let s = spec_of(*m);
                match &s.span {
                    Some(sp) => format!("\"{}\" ({sp})", s.path),
                    None => format!("\"{}\"", s.path),
                }
            })
            .collect();
        names.sort();
        names
    };

    // The processor evaluates at most MAX_PARAMS parameters per node.
    for i in 0..n {
        let s = spec_of(i);
        if s.desc().params.len() > crate::rt::MAX_PARAMS {
            return Err(Error::new(
                ErrorKind::Graph,
                format!(
                    "{} \"{}\" declares {} parameters; a node may have at most {}",
                    s.kind_name(),
                    s.path,
                    s.desc().params.len(),
                    crate::rt::MAX_PARAMS
                ),
            )
            .at(s.span.as_ref())
            .into());
        }
    }

    // Incoming edges per node, sorted by source (deterministic mixing order).
    let mut incoming: Vec<Vec<Edge>> = (0..n).map(|_| Vec::new()).collect();
    for e in (&spec.graph).edge_references() {
        let (s, d) = (dense_of(e.source()), dense_of(e.target()));
        incoming[d].push(Edge {
            src: s,
            port: e.weight().port,
            id: e.id(),
            fade: e.weight().fade,
        });
    }
    for v in &mut incoming {
        v.sort_by_key(|e| (e.port, e.src, e.id.index()));
    }

    // Cycles.
    let mut errors = Vec::new();
    let mut feedback_edge = vec![false; EdgeIndexable::edge_bound(&&spec.graph)];
    let feedback_ok: Vec<bool> = instances
        .iter()
        .map(|i| i.as_ref().is_some_and(|n| n.supports_feedback()))
        .collect();
    for scc in tarjan_scc(&spec.graph) {
        let members: Vec<usize> = scc.iter().map(|ix| dense_of(*ix)).collect();
        let self_loop =
            members.len() == 1 && incoming[members[0]].iter().any(|e| e.src == members[0]);
        if members.len() < 2 && !self_loop {
            continue;
        }
        let delays: Vec<usize> = members
            .iter()
            .copied()
            .filter(|m| feedback_ok[*m])
            .collect();
        if delays.is_empty() {
            let names = cycle_names(&members);
            // Point at the connection that closes the loop: the latest script line among the
            // loop's edges (falling back to the nodes' lines).
            let edge_span = members
                .iter()
                .flat_map(|m| incoming[*m].iter().filter(|e| members.contains(&e.src)))
                .filter_map(|e| spec.graph.edge_weight(e.id).and_then(|w| w.span.clone()))
                .max_by_key(|s| s.line);
            let first = edge_span.or_else(|| members.iter().find_map(|m| spec_of(*m).span.clone()));
            errors.push(
                Error::new(
                    ErrorKind::Graph,
                    format!(
                        "routing cycle through {}; feedback is allowed only through a delay node",
                        names.join(", ")
                    ),
                )
                .at(first.as_ref()),
            );
            continue;
        }
        for d in delays {
            for e in &incoming[d] {
                if members.contains(&e.src) {
                    feedback_edge[e.id.index()] = true;
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(Errors(errors));
    }

    // Topological order without feedback edges.
    let fwd = |e: &Edge| !feedback_edge[e.id.index()];
    let mut indeg: Vec<usize> = (0..n)
        .map(|i| incoming[i].iter().filter(|e| fwd(e)).count())
        .collect();
    let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (d, es) in incoming.iter().enumerate() {
        for e in es.iter().filter(|e| fwd(e)) {
            outgoing[e.src].push(d);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|i| indeg[*i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &outgoing[i] {
            indeg[d] -= 1;
            if indeg[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() != n {
        // A cycle left after cutting feedback edges: a loop that avoids the delay. Name the
        // members of each such loop (not the nodes merely downstream of it), with their lines.
        let forward =
            petgraph::visit::EdgeFiltered::from_fn(&spec.graph, |e| !feedback_edge[e.id().index()]);
        for scc in tarjan_scc(&forward) {
            let members: Vec<usize> = scc.iter().map(|ix| dense_of(*ix)).collect();
            let self_loop = members.len() == 1
                && incoming[members[0]]
                    .iter()
                    .any(|e| e.src == members[0] && fwd(e));
            if members.len() < 2 && !self_loop {
                continue;
            }
            let names = cycle_names(&members);
            let first = members.iter().find_map(|m| spec_of(*m).span.clone());
            errors.push(
                Error::new(
                    ErrorKind::Graph,
                    format!(
                        "routing cycle through {} that does not pass through a delay",
                        names.join(", ")
                    ),
                )
                .at(first.as_ref()),
            );
        }
        return Err(Errors(errors));
    }

    // Reachability to the output (through every edge).
    let out_dense = keys
        .iter()
        .position(|k| *k == out_key)
        .expect("output in spec");
    let mut reaches = vec![false; n];
    let mut stack = vec![out_dense];
    reaches[out_dense] = true;
    while let Some(i) = stack.pop() {
        for e in &incoming[i] {
            if !reaches[e.src] {
                reaches[e.src] = true;
                stack.push(e.src);
            }
        }
    }
    let mut warnings = Vec::new();
    for (i, _) in reaches.iter().enumerate().filter(|(_, r)| !**r) {
        {
            let s = spec_of(i);
            warnings.push(
                Error::new(
                    ErrorKind::Graph,
                    format!(
                        "{} \"{}\" reaches no output and will not be heard",
                        s.kind_name(),
                        s.path
                    ),
                )
                .at(s.span.as_ref()),
            );
        }
    }
    let order: Vec<usize> = order.into_iter().filter(|i| reaches[*i]).collect();

    // Channels: monotone fixpoint (feedback edges may carry counts backwards).
    let mut out_ch = vec![0usize; n];
    let mut in_ch: Vec<Vec<usize>> = (0..n)
        .map(|i| vec![0; spec_of(i).desc().inputs.len()])
        .collect();
    for _round in 0..4 {
        let mut changed = false;
        for &i in &order {
            let desc = spec_of(i).desc();
            for (p, port) in desc.inputs.iter().enumerate() {
                let widest = incoming[i]
                    .iter()
                    .filter(|e| e.port == p)
                    .map(|e| out_ch[e.src])
                    .max();
                in_ch[i][p] = match (port.channels, widest) {
                    (Channels::Fixed(c), _) => c as usize,
                    (Channels::Follow, Some(w)) => w.max(1),
                    (Channels::Follow, None) => usize::from(p == 0),
                };
            }
            let inst = instances[i].as_ref().expect("instance");
            let c = inst.output_channels(&in_ch[i]).clamp(1, MAX_CHANNELS);
            if c != out_ch[i] {
                out_ch[i] = c;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for &i in &order {
        for (p, &c) in in_ch[i].iter().enumerate() {
            if c > MAX_CHANNELS {
                let s = spec_of(i);
                errors.push(
                    Error::new(
                        ErrorKind::Graph,
                        format!(
                            "{} \"{}\": {c} channels into port '{}'; at most {MAX_CHANNELS} are supported",
                            s.kind_name(), s.path, s.desc().inputs[p].name
                        ),
                    )
                    .at(s.span.as_ref()),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(Errors(errors));
    }

    // Prepare (after checking what the nodes will allocate).
    let config_of = |i: usize| ProcessConfig {
        sample_rate: sr,
        max_block: MAX_BLOCK,
        mode: cfg.mode,
        input_channels: in_ch[i].clone(),
        output_channels: out_ch[i],
        start_frame: cfg.start_frame,
        song_length_frames: spec.session.length_s.map(|l| (l * sr).round() as u64),
        start_params: Vec::new(),
    };
    let mut state: usize = 0;
    let mut largest = (0usize, 0usize);
    for &i in &order {
        let b = instances[i]
            .as_ref()
            .expect("instance")
            .state_bytes(&config_of(i));
        state = state.saturating_add(b);
        if b > largest.0 {
            largest = (b, i);
        }
    }
    if state > MAX_STATE_BYTES {
        let s = spec_of(largest.1);
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "the graph's {} nodes would need about {} MiB for their delay lines and buffers; \
                 the limit is {} MiB (the largest, {} \"{}\", needs {} MiB)",
                order.len(),
                state >> 20,
                MAX_STATE_BYTES >> 20,
                s.kind_name(),
                s.path,
                largest.0 >> 20
            ),
        )
        .at(s.span.as_ref())
        .into());
    }
    let mut ident: Vec<Option<NodeIdentity>> = vec![None; n];
    for &i in &order {
        let s = spec_of(i);
        ident[i] = Some(NodeIdentity {
            path: s.path.clone().into_boxed_str(),
            kind: s.kind_name(),
            config: s.config.clone(),
            channels: [
                in_ch[i].first().copied().unwrap_or(0) as u8,
                in_ch[i].get(1).copied().unwrap_or(0) as u8,
                out_ch[i] as u8,
            ],
        });
    }
    let known: std::collections::HashMap<&NodeIdentity, NodeFacts> = reuse
        .iter()
        .rev()
        .filter(|r| r.sample_rate == sr && r.facts.len() == r.identities.len())
        .flat_map(|r| r.identities.iter().zip(r.facts.iter().copied()))
        .collect();
    let mut facts = vec![NodeFacts::default(); n];
    let mut vacant = vec![false; n];
    for &i in &order {
        if let Some(f) = ident[i].as_ref().and_then(|id| known.get(id)) {
            facts[i] = *f;
            vacant[i] = true;
            continue;
        }
        let mut c = config_of(i);
        let node = instances[i].as_mut().expect("instance");
        if node.wants_start_params() {
            c.start_params = start_values(spec_of(i), sr, cfg.start_frame);
        }
        PREPARED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Err(why) = node.prepare(&c) {
            let s = spec_of(i);
            return Err(Error::new(
                ErrorKind::Param,
                format!(
                    "{} \"{}\" cannot run at {} Hz with {} channel(s): {why}",
                    s.kind_name(),
                    s.path,
                    c.sample_rate,
                    c.output_channels
                ),
            )
            .at(s.span.as_ref())
            .into());
        }
        facts[i] = NodeFacts::of(node.as_mut());
    }

    // Latency.
    let mut in_lat = vec![0u64; n];
    let mut out_lat = vec![0u64; n];
    for &i in &order {
        in_lat[i] = incoming[i]
            .iter()
            .filter(|e| fwd(e) && reaches[e.src])
            .map(|e| out_lat[e.src])
            .max()
            .unwrap_or(0);
        out_lat[i] = in_lat[i] + facts[i].latency_frames as u64;
    }

    // Buffers and steps.
    let mut b = Builder {
        no_reuse: cfg.parallel,
        ..Builder::default()
    };
    let zero = b.alloc();
    let mut readers = vec![0usize; n];
    for d in 0..n {
        if reaches[d] {
            for e in &incoming[d] {
                readers[e.src] += 1;
            }
        }
    }
    let mut slot_of = vec![u32::MAX; n];
    let mut slots: Vec<NodeSlot> = Vec::with_capacity(order.len());
    for &i in &order {
        slot_of[i] = slots.len() as u32;
        let s = spec_of(i);
        let node = instances[i].take().expect("instance");
        let params = s
            .desc()
            .params
            .iter()
            .zip(&s.params)
            .map(|(d, st)| ParamSlot::new(d, st, sr))
            .collect();
        slots.push(NodeSlot {
            node,
            vacant: vacant[i],
            path: s.path.clone().into_boxed_str(),
            inputs: [PortBufs::default(); 2],
            output: PortBufs::default(),
            params,
            status: ProcessStatus::Continue,
            has_inputs: !incoming[i].is_empty(),
            nan_count: 0,
        });
    }
    let mut out_bufs: Vec<PortBufs> = vec![PortBufs::default(); n];
    let mut lines: Vec<DelayLine> = Vec::new();
    let mut line_keys: Vec<LineKey> = Vec::new();
    let mut block_limit = MAX_BLOCK;
    let mut deferred: Vec<usize> = Vec::new();
    for &i in &order {
        let slot = slot_of[i];
        if feedback_ok[i] && incoming[i].iter().any(|e| !fwd(e)) {
            // Feedback node: read now, write at the end.
            let ob = b.alloc_port(out_ch[i]);
            out_bufs[i] = ob;
            slots[slot as usize].output = ob;
            b.steps.push(Step::FeedbackRead { node: slot });
            let min = facts[i].min_delay_frames.unwrap_or(MAX_BLOCK);
            block_limit = block_limit.min(min.max(1));
            deferred.push(i);
            continue;
        }
        let mut port_bufs = [PortBufs::default(); 2];
        let mut owned: Vec<PortBufs> = Vec::new();
        for (p, pb) in port_bufs
            .iter_mut()
            .enumerate()
            .take(spec_of(i).desc().inputs.len().min(2))
        {
            *pb = assemble_port(
                &mut b,
                &mut lines,
                &mut line_keys,
                i,
                &incoming[i],
                p,
                in_ch[i][p],
                &out_ch,
                &out_bufs,
                &out_lat,
                in_lat[i],
                zero,
                &reaches,
                &fwd,
                &mut owned,
            );
        }
        let ob = b.alloc_port(out_ch[i]);
        out_bufs[i] = ob;
        let sl = &mut slots[slot as usize];
        sl.inputs = port_bufs;
        sl.output = ob;
        b.steps.push(Step::Process { node: slot });
        for pb in owned {
            b.free_port(pb);
        }
        release_sources(
            &mut b,
            &incoming[i],
            &mut readers,
            &out_bufs,
            &reaches,
            out_dense,
            &fwd,
            true,
        );
    }
    for i in deferred {
        let slot = slot_of[i] as usize;
        let mut owned = Vec::new();
        let pb = assemble_port(
            &mut b,
            &mut lines,
            &mut line_keys,
            i,
            &incoming[i],
            0,
            in_ch[i][0],
            &out_ch,
            &out_bufs,
            &out_lat,
            0,
            zero,
            &reaches,
            &|_| true,
            &mut owned,
        );
        slots[slot].inputs = [pb, PortBufs::default()];
        b.steps.push(Step::FeedbackWrite { node: slot as u32 });
        for pb in owned {
            b.free_port(pb);
        }
        release_sources(
            &mut b,
            &incoming[i],
            &mut readers,
            &out_bufs,
            &reaches,
            out_dense,
            &|_| true,
            false,
        );
    }

    let length_frames = order
        .iter()
        .filter_map(|&i| facts[i].length_frames)
        .max()
        .unwrap_or(0);
    let length_frames = match spec.session.length_s {
        Some(l) => (l * sr).round() as u64,
        None => length_frames,
    };
    let identities: Box<[NodeIdentity]> = order
        .iter()
        .map(|&i| ident[i].take().expect("identity of a scheduled node"))
        .collect();
    let topology = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        identities.hash(&mut h);
        for st in &b.steps {
            format!("{st:?}").hash(&mut h);
        }
        sr.to_bits().hash(&mut h);
        h.finish()
    };
    for k in &mut line_keys {
        k.src = slot_of[k.src as usize];
        k.dst = slot_of[k.dst as usize];
    }
    let in_latency = order.iter().map(|&i| in_lat[i] as u32).collect();
    let node_facts = order.iter().map(|&i| facts[i]).collect();
    let vacant_count = order.iter().filter(|&&i| vacant[i]).count() as u32;
    let fades = b.steps.iter().any(|s| matches!(s, Step::MixFade { .. }));
    let fade_len = if fades {
        (super::transition::CROSSFADE_S * sr).round().max(1.0) as u32
    } else {
        0
    };
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let schedule = Schedule {
        identities,
        topology,
        serial,
        ack_serial: serial,
        based_on: 0,
        migrate: Box::new([]),
        steps: b.steps.into_boxed_slice(),
        nodes: slots.into_boxed_slice(),
        pool: BufferPool::new(b.count as usize),
        line_quiet: vec![0; lines.len()].into_boxed_slice(),
        line_keys: line_keys.into_boxed_slice(),
        migrate_lines: Box::new([]),
        in_latency,
        facts: node_facts,
        vacant: vacant_count,
        fresh_latency: out_lat[out_dense] as u32,
        fade_len,
        fade_delay: 0,
        fade_done: 0,
        then: None,
        lines: lines.into_boxed_slice(),
        output: out_bufs[out_dense],
        block_limit,
        latency_frames: out_lat[out_dense] as u32,
        length_frames,
        sample_rate: sr,
        warnings,
    };
    if cfg!(any(debug_assertions, test)) {
        super::validate::compiled(&schedule, cfg.parallel)?;
    }
    Ok(schedule)
}

/// Each parameter's value at `start_frame` if the script set or automated it (its automation
/// there, else its static value); `None` for a parameter left at its default.
fn start_values(s: &super::spec::NodeSpec, sr: f64, start_frame: u64) -> Vec<Option<f32>> {
    s.params
        .iter()
        .map(|p| {
            if !p.timeline.is_empty() {
                Some(p.timeline.compile(p.initial(), sr).value_at(start_frame))
            } else if p.explicit {
                Some(p.value)
            } else {
                None
            }
        })
        .collect()
}
