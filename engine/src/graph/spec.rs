//! [`GraphSpec`]: the graph as plain data, built by the Lua front end (or by Rust code), compiled
//! by [`super::compile`]. Nodes live in a slotmap (stable keys for the outside), edges in a petgraph
//! `StableDiGraph`. Everything carries the [`Span`] of the script line that made it.
//!
//! A node is a registered kind ([`crate::registry::NodeKind`]) with a [`Config`]: plain data,
//! serialisable, compared by value (a live reload keeps the running instance of a node whose path,
//! kind and config are unchanged). Rust code may also add *custom* nodes built from a prototype;
//! those cannot be serialised (they never come from a script).
//!
//! A spec that arrives from elsewhere (the evaluator process) is checked with
//! [`GraphSpec::validate`] before anything uses it.

use std::collections::HashMap;
use std::sync::Arc;

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use serde::{Deserialize, Serialize};
use slotmap::{new_key_type, SlotMap};

use crate::error::{Error, ErrorKind, Span};
use crate::node::{Node, NodeDesc};
use crate::param::{AutomationEvent, ParamSetting, Timeline, Unit};
use crate::registry::{Config, NodeKind};
use crate::units::Tempo;

new_key_type! {
    /// Handle of a node in a [`GraphSpec`]. Stale keys return `None`, never another node.
    pub struct NodeKey;
}

/// Makes a fresh, unprepared instance of a custom node.
pub type NodeFactory = Arc<dyn Fn() -> Box<dyn Node> + Send + Sync>;

/// Most nodes one graph may hold.
pub const MAX_NODES: usize = 10_000;
/// Most automation events one graph may hold (all parameters together).
pub const MAX_EVENTS: usize = 1_000_000;
/// Most connections one graph may hold.
pub const MAX_EDGES: usize = 200_000;
/// Longest node path, in characters.
pub const MAX_PATH_CHARS: usize = 512;

/// What a node is.
#[derive(Clone)]
pub enum NodeImpl {
    /// A registered kind, built from the node's config.
    Kind(&'static NodeKind),
    /// A node built by Rust code from a prototype (tests, embedding). Not serialisable.
    Custom {
        /// Ports and parameters.
        desc: &'static NodeDesc,
        /// Builds an instance.
        factory: NodeFactory,
    },
}

/// One node of the spec.
#[derive(Clone)]
pub struct NodeSpec {
    /// Stable path name, unique in the graph (`"bass/comp"`).
    pub path: String,
    /// Kind (or custom prototype).
    pub imp: NodeImpl,
    /// Construction options (normalised against the kind's schema).
    pub config: Config,
    /// The script line that created it.
    pub span: Option<Span>,
    /// One setting per parameter, in `desc().params` order.
    pub params: Vec<ParamSetting>,
    pub(crate) index: NodeIndex,
}

impl NodeSpec {
    /// Ports and parameters.
    pub fn desc(&self) -> &'static NodeDesc {
        match &self.imp {
            NodeImpl::Kind(k) => k.desc,
            NodeImpl::Custom { desc, .. } => desc,
        }
    }

    /// The kind name shown in messages (`comp`).
    pub fn kind_name(&self) -> &'static str {
        self.desc().kind
    }

    /// A fresh, unprepared instance. Control thread; allocates.
    pub fn instantiate(&self) -> Result<Box<dyn Node>, String> {
        match &self.imp {
            NodeImpl::Kind(k) => (k.build)(&self.config),
            NodeImpl::Custom { factory, .. } => Ok(factory()),
        }
    }

    /// Whether parameter `i` exists with this node's config (an EQ's fifth band does not exist
    /// when it has three).
    pub fn has_param(&self, i: usize) -> bool {
        match &self.imp {
            NodeImpl::Kind(k) => (k.has_param)(&self.config, i),
            NodeImpl::Custom { .. } => true,
        }
    }
}

impl std::fmt::Debug for NodeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSpec")
            .field("path", &self.path)
            .field("kind", &self.kind_name())
            .field("config", &self.config)
            .field("span", &self.span)
            .finish()
    }
}

/// The serialised form of a node: the kind by name.
#[derive(Serialize, Deserialize)]
struct NodeData {
    path: String,
    kind: String,
    config: Config,
    span: Option<Span>,
    params: Vec<ParamSetting>,
    index: NodeIndex,
}

impl Serialize for NodeSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let NodeImpl::Kind(k) = &self.imp else {
            return Err(serde::ser::Error::custom(format!(
                "node \"{}\" is a custom Rust node and cannot be serialised",
                self.path
            )));
        };
        NodeData {
            path: self.path.clone(),
            kind: k.name.to_string(),
            config: self.config.clone(),
            span: self.span.clone(),
            params: self.params.clone(),
            index: self.index,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for NodeSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = NodeData::deserialize(d)?;
        let kind = crate::registry::get(&n.kind).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown node kind \"{}\"",
                crate::registry::schema::printable(&n.kind)
            ))
        })?;
        Ok(NodeSpec {
            path: n.path,
            imp: NodeImpl::Kind(kind),
            config: n.config,
            span: n.span,
            params: n.params,
            index: n.index,
        })
    }
}

/// One connection: the source's output into input port `port` of the destination.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EdgeSpec {
    /// Destination input port index.
    pub port: usize,
    /// The script line that made the connection.
    pub span: Option<Span>,
    /// Reload crossfade on this connection (only in the transition graphs of a live reload).
    #[serde(skip)]
    pub fade: EdgeFade,
}

/// How a connection's gain moves while a reload crossfades (see [`super::transition`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EdgeFade {
    /// Unity gain: a connection in both the old and the new graph.
    #[default]
    None,
    /// Equal-power fade from 1 to 0: a connection only the old graph has.
    Out,
    /// Equal-power fade from 0 to 1: a connection only the new graph has.
    In,
}

/// The session-wide settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// Frames per second of the mix.
    pub sample_rate: f64,
    /// Tempo and time signature for musical time.
    pub tempo: Tempo,
    /// Explicit song length; otherwise the longest source plus tails.
    pub length_s: Option<f64>,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            sample_rate: 48000.0,
            tempo: Tempo::default(),
            length_s: None,
        }
    }
}

/// The graph as data.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct GraphSpec {
    /// Nodes by key.
    pub nodes: SlotMap<NodeKey, NodeSpec>,
    /// Edges between node keys.
    pub graph: StableDiGraph<NodeKey, EdgeSpec>,
    /// The node whose output is the mix (the master).
    pub output: Option<NodeKey>,
    /// Session settings.
    pub session: Session,
    /// Node by path (rebuilt by [`GraphSpec::validate`] after deserialising).
    #[serde(skip)]
    paths: HashMap<String, NodeKey>,
    /// Automation events held (all parameters).
    #[serde(skip)]
    events: usize,
}

impl GraphSpec {
    /// An empty graph.
    pub fn new(session: Session) -> Self {
        Self {
            session,
            ..Default::default()
        }
    }

    /// Adds a node of a registered kind. The config is checked against the kind's schema and
    /// completed with defaults; every problem is reported (`kind "path": problem`).
    pub fn add_kind(
        &mut self,
        path: impl Into<String>,
        kind: &'static NodeKind,
        config: Config,
        span: Option<Span>,
    ) -> Result<NodeKey, Vec<Error>> {
        let path = path.into();
        let config = kind.normalize(config, &self.session).map_err(|msgs| {
            msgs.into_iter()
                .map(|m| {
                    Error::new(ErrorKind::Param, format!("{} \"{path}\": {m}", kind.name))
                        .at(span.as_ref())
                })
                .collect::<Vec<_>>()
        })?;
        let initial = (kind.initial_params)(&config);
        let key = self
            .insert(path, NodeImpl::Kind(kind), config, span)
            .map_err(|e| vec![e])?;
        for (i, v) in initial {
            if let Some(p) = self.nodes[key].params.get_mut(i) {
                p.value = v;
            }
        }
        Ok(key)
    }

    /// Adds a custom node built by cloning `prototype`. Paths must be unique.
    pub fn add<N: Node + Clone + Sync>(
        &mut self,
        path: impl Into<String>,
        prototype: N,
        span: Option<Span>,
    ) -> Result<NodeKey, Error> {
        let desc = prototype.desc();
        self.add_with(
            path,
            desc,
            Arc::new(move || Box::new(prototype.clone())),
            span,
        )
    }

    /// Adds a custom node from an explicit factory.
    pub fn add_with(
        &mut self,
        path: impl Into<String>,
        desc: &'static NodeDesc,
        factory: NodeFactory,
        span: Option<Span>,
    ) -> Result<NodeKey, Error> {
        self.insert(
            path.into(),
            NodeImpl::Custom { desc, factory },
            Config::new(),
            span,
        )
    }

    fn insert(
        &mut self,
        path: String,
        imp: NodeImpl,
        config: Config,
        span: Option<Span>,
    ) -> Result<NodeKey, Error> {
        if let Some(&other) = self.paths.get(&path) {
            let at = self.nodes[other]
                .span
                .as_ref()
                .map(|s| format!(" (first defined at {s})"))
                .unwrap_or_default();
            return Err(Error::new(
                ErrorKind::Graph,
                format!(
                    "duplicate name \"{}\"{at}; give each track, bus and node its own name",
                    crate::registry::schema::printable(&path)
                ),
            )
            .at(span.as_ref()));
        }
        if self.nodes.len() >= MAX_NODES {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("the graph holds {MAX_NODES} nodes, the most one mix may have"),
            )
            .at(span.as_ref()));
        }
        let desc = match &imp {
            NodeImpl::Kind(k) => k.desc,
            NodeImpl::Custom { desc, .. } => desc,
        };
        let params = desc
            .params
            .iter()
            .map(|p| ParamSetting {
                value: p.default,
                explicit: false,
                timeline: Timeline::default(),
            })
            .collect();
        let key = self.nodes.insert(NodeSpec {
            path: path.clone(),
            imp,
            config,
            span,
            params,
            index: NodeIndex::end(),
        });
        let idx = self.graph.add_node(key);
        self.nodes[key].index = idx;
        self.paths.insert(path, key);
        Ok(key)
    }

    /// Inserts a copy of `node` without the unique-path check (a reload's transition graph holds
    /// an outgoing node next to the new node of the same path).
    pub(crate) fn insert_copy(&mut self, node: &NodeSpec) -> NodeKey {
        let key = self.nodes.insert(NodeSpec {
            index: NodeIndex::end(),
            ..node.clone()
        });
        let idx = self.graph.add_node(key);
        self.nodes[key].index = idx;
        key
    }

    /// Adds a connection by node keys and port index, with a reload fade.
    pub(crate) fn connect_index(&mut self, from: NodeKey, to: NodeKey, edge: EdgeSpec) {
        let (fi, ti) = (self.nodes[from].index, self.nodes[to].index);
        self.graph.add_edge(fi, ti, edge);
    }

    /// The node key behind a graph index.
    pub(crate) fn key_at(&self, ix: NodeIndex) -> NodeKey {
        self.graph[ix]
    }

    /// Connects `from`'s output to input port `port` (by name) of `to`.
    pub fn connect(
        &mut self,
        from: NodeKey,
        to: NodeKey,
        port: &str,
        span: Option<Span>,
    ) -> Result<(), Error> {
        let (Some(f), Some(t)) = (self.nodes.get(from), self.nodes.get(to)) else {
            return Err(
                Error::new(ErrorKind::Graph, "connection to a node that does not exist")
                    .at(span.as_ref()),
            );
        };
        let desc = t.desc();
        let Some(p) = desc.input_index(port) else {
            let ports: Vec<_> = desc.inputs.iter().map(|p| p.name).collect();
            return Err(Error::new(
                ErrorKind::Graph,
                format!(
                    "{} \"{}\" has no input port '{port}'; it has: {}",
                    desc.kind,
                    t.path,
                    if ports.is_empty() {
                        "none".to_string()
                    } else {
                        ports.join(", ")
                    }
                ),
            )
            .at(span.as_ref()));
        };
        if self.graph.edge_count() >= MAX_EDGES {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("the graph holds {MAX_EDGES} connections, the most one mix may have"),
            )
            .at(span.as_ref()));
        }
        let (fi, ti) = (f.index, t.index);
        self.graph.add_edge(
            fi,
            ti,
            EdgeSpec {
                port: p,
                span,
                fade: EdgeFade::None,
            },
        );
        Ok(())
    }

    /// Removes every connection from `from` to `to`.
    pub fn disconnect(&mut self, from: NodeKey, to: NodeKey) {
        let (Some(f), Some(t)) = (self.nodes.get(from), self.nodes.get(to)) else {
            return;
        };
        while let Some(e) = self.graph.find_edge(f.index, t.index) {
            self.graph.remove_edge(e);
        }
    }

    /// Sets the initial value of parameter `id` of `node`, checking its range.
    pub fn set_param(&mut self, node: NodeKey, id: &str, value: f64) -> Result<(), Error> {
        let (i, v) = self.check_param(node, id, value)?;
        let p = &mut self.nodes[node].params[i];
        p.value = v;
        p.explicit = true;
        Ok(())
    }

    /// Adds an automation event to parameter `id` of `node`, checking the value's range and that
    /// events come in time order.
    pub fn automate(
        &mut self,
        node: NodeKey,
        id: &str,
        event: AutomationEvent,
    ) -> Result<(), Error> {
        let (i, _) = self.check_param(node, id, event.value() as f64)?;
        if event.time_s() < 0.0 || !event.time_s().is_finite() {
            return Err(Error::new(
                ErrorKind::Param,
                format!(
                    "automation time {} s is negative; times start at 0",
                    event.time_s()
                ),
            ));
        }
        if self.events >= MAX_EVENTS {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("the mix holds {MAX_EVENTS} automation events, the most one mix may have"),
            ));
        }
        let n = &mut self.nodes[node];
        let (kind, path) = (n.desc().kind, n.path.clone());
        n.params[i].timeline.push(event).map_err(|(t, last)| {
            Error::new(
                ErrorKind::Param,
                format!(
                    "{kind} \"{path}\": {id} event at {} s comes before the previous event at {} s; write automation events in time order",
                    crate::param::trim(t),
                    crate::param::trim(last)
                ),
            )
        })?;
        self.events += 1;
        Ok(())
    }

    fn check_param(&self, node: NodeKey, id: &str, value: f64) -> Result<(usize, f32), Error> {
        let n = self
            .nodes
            .get(node)
            .ok_or_else(|| Error::new(ErrorKind::Graph, "no such node"))?;
        let desc = n.desc();
        let Some(i) = desc.param_index(id).filter(|&i| n.has_param(i)) else {
            let ids: Vec<_> = desc
                .params
                .iter()
                .enumerate()
                .filter(|(i, _)| n.has_param(*i))
                .map(|(_, p)| p.id)
                .collect();
            let list = if ids.is_empty() {
                "none".to_string()
            } else {
                ids.join(", ")
            };
            let shown = crate::registry::schema::printable(id);
            let msg = if desc.param_index(id).is_some() {
                format!(
                    "{} \"{}\": '{shown}' does not exist with these options ({}); parameters: {list}",
                    desc.kind,
                    n.path,
                    crate::registry::schema::printable(&n.config.summary())
                )
            } else {
                format!(
                    "{} \"{}\": unknown parameter '{shown}'{}; parameters: {list}",
                    desc.kind,
                    n.path,
                    did_you_mean(id, &ids)
                )
            };
            return Err(Error::new(ErrorKind::Param, msg));
        };
        let p = &desc.params[i];
        let nyquist = self.session.sample_rate / 2.0;
        if p.unit == Unit::Hz && value.is_finite() && value >= nyquist && value <= p.max as f64 {
            return Err(Error::new(
                ErrorKind::Param,
                format!(
                    "{} \"{}\": {} = {} Hz is out of range; allowed {} Hz to below Nyquist ({} Hz at a {} Hz session)",
                    desc.kind,
                    n.path,
                    p.id,
                    crate::param::trim(value),
                    crate::param::trim(p.min as f64),
                    crate::param::trim(nyquist),
                    crate::param::trim(self.session.sample_rate)
                ),
            ));
        }
        let v = p.check(value).map_err(|m| {
            Error::new(
                ErrorKind::Param,
                format!("{} \"{}\": {m}", desc.kind, n.path),
            )
        })?;
        Ok((i, v))
    }

    /// Parameters whose static value the script set and that are also automated, with a
    /// first event of another value: the static value holds only until that event. For a
    /// warning. `(node, parameter id, static value, first event time, first event value)`.
    pub fn static_values_overridden(&self) -> Vec<(NodeKey, &'static str, f32, f64, f32)> {
        let mut v = Vec::new();
        for (k, n) in &self.nodes {
            for (d, p) in n.desc().params.iter().zip(&n.params) {
                if let (true, Some(e)) = (p.explicit, p.timeline.events.first()) {
                    if e.value() != p.value {
                        v.push((k, d.id, p.value, e.time_s(), e.value()));
                    }
                }
            }
        }
        v
    }

    /// The files nodes will write when a render ends (a hosted plugin's `state_out` option),
    /// with the node that writes each: a render checks them before it starts.
    pub fn state_outputs(&self) -> Vec<(&NodeSpec, std::path::PathBuf)> {
        self.nodes
            .values()
            .filter_map(|n| {
                n.config
                    .text("state_out")
                    .map(|p| (n, std::path::PathBuf::from(p)))
            })
            .collect()
    }

    /// The node whose path is `path`.
    pub fn find(&self, path: &str) -> Option<NodeKey> {
        self.paths.get(path).copied()
    }

    /// Marks `node` as the graph's output.
    pub fn set_output(&mut self, node: NodeKey) {
        self.output = Some(node);
    }

    /// Checks a spec that came from elsewhere (deserialised from the evaluator process) so that
    /// compiling it can neither panic nor build what a script could not have built: every node
    /// a registered kind with a config its schema accepts, paths unique and printable, parameter
    /// values in range and automation in order, edges between existing nodes into existing
    /// ports, the output a node of the graph, and the size limits. Rebuilds the path index.
    pub fn validate(&mut self) -> Result<(), Error> {
        let bad = |m: String| Error::new(ErrorKind::Other, format!("invalid graph: {m}"));
        let sr = self.session.sample_rate;
        if !(sr.is_finite() && (8000.0..=768_000.0).contains(&sr) && sr.fract() == 0.0) {
            return Err(bad(format!("sample rate {sr}")));
        }
        if self.nodes.len() > MAX_NODES || self.graph.edge_count() > MAX_EDGES {
            return Err(bad("too many nodes or connections".into()));
        }
        if self.graph.node_count() != self.nodes.len() {
            return Err(bad("node tables disagree".into()));
        }
        let mut paths = HashMap::with_capacity(self.nodes.len());
        let mut events = 0usize;
        let session = self.session.clone();
        for (key, n) in self.nodes.iter_mut() {
            if self.graph.node_weight(n.index) != Some(&key) {
                return Err(bad(format!("node \"{}\" is not in the graph", n.path)));
            }
            if n.path.is_empty()
                || n.path.chars().count() > MAX_PATH_CHARS
                || n.path.chars().any(char::is_control)
                || paths.insert(n.path.clone(), key).is_some()
            {
                return Err(bad(
                    "a node path is empty, too long, unprintable or repeated".into(),
                ));
            }
            let NodeImpl::Kind(kind) = n.imp else {
                return Err(bad("custom node".into()));
            };
            n.config = kind
                .normalize(std::mem::take(&mut n.config), &session)
                .map_err(|m| bad(format!("node \"{}\": {}", n.path, m.join("; "))))?;
            let desc = kind.desc;
            if n.params.len() != desc.params.len() {
                return Err(bad(format!("node \"{}\" has the wrong parameters", n.path)));
            }
            for (p, s) in desc.params.iter().zip(&n.params) {
                let in_range = |v: f32| v.is_finite() && v >= p.min && v <= p.max;
                if !in_range(s.value) || !s.timeline.is_ordered() {
                    return Err(bad(format!("node \"{}\": parameter {}", n.path, p.id)));
                }
                for e in &s.timeline.events {
                    let (t, v, tau) = match *e {
                        AutomationEvent::Set { t_s, value }
                        | AutomationEvent::Linear { t_s, value }
                        | AutomationEvent::Exp { t_s, value } => (t_s, value, 1.0),
                        AutomationEvent::Target { t_s, value, tau_s } => (t_s, value, tau_s),
                    };
                    if !(t.is_finite() && t >= 0.0 && in_range(v) && tau.is_finite() && tau > 0.0) {
                        return Err(bad(format!("node \"{}\": automation of {}", n.path, p.id)));
                    }
                }
                events += s.timeline.events.len();
            }
        }
        if events > MAX_EVENTS {
            return Err(bad("too many automation events".into()));
        }
        for e in self.graph.edge_indices() {
            let (a, b) = self.graph.edge_endpoints(e).expect("edge index");
            let (ka, kb) = (self.graph[a], self.graph[b]);
            let (Some(_), Some(to)) = (self.nodes.get(ka), self.nodes.get(kb)) else {
                return Err(bad("a connection to a missing node".into()));
            };
            if self.graph[e].port >= to.desc().inputs.len() {
                return Err(bad(format!(
                    "a connection into a missing port of \"{}\"",
                    to.path
                )));
            }
        }
        if let Some(o) = self.output {
            if !self.nodes.contains_key(o) {
                return Err(bad("the output is not a node of the graph".into()));
            }
        }
        self.paths = paths;
        self.events = events;
        Ok(())
    }
}

/// `" (did you mean 'x'?)"` for the closest candidate within a small edit distance, else `""`.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    if word.len() > 64 {
        return String::new();
    }
    // Words people write for a key, and keys written without their unit.
    let synonyms: &[(&str, &str)] = &[
        ("freq", "hz"),
        ("frequency", "hz"),
        ("f", "hz"),
        ("gain", "gain_db"),
        ("volume", "gain_db"),
        ("level", "level_db"),
        ("threshold", "threshold_db"),
        ("attack", "attack_ms"),
        ("release", "release_ms"),
        ("ceiling", "ceiling_db"),
        ("target", "target_lufs"),
        ("time", "time_ms"),
        ("predelay", "predelay_ms"),
        ("decay", "decay_s"),
        ("drive", "drive_db"),
        ("knee", "knee_db"),
        ("makeup", "makeup_db"),
        ("lookahead", "lookahead_ms"),
    ];
    if let Some((_, to)) = synonyms
        .iter()
        .find(|(from, to)| *from == word && candidates.contains(to))
    {
        return format!(" (did you mean '{to}'?)");
    }
    for unit in ["_db", "_ms", "_hz", "_s", "_lufs"] {
        let with = format!("{word}{unit}");
        if candidates.contains(&with.as_str()) {
            return format!(" (did you mean '{with}'?)");
        }
    }
    let best = candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= 2.max(word.len() / 3) => format!(" (did you mean '{c}'?)"),
        _ => String::new(),
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
