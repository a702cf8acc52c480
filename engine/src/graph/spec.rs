//! [`GraphSpec`]: the graph as plain data, built by the Lua front end (or by Rust code), compiled
//! by [`super::compile`]. Nodes live in a slotmap (stable keys for the outside), edges in a petgraph
//! `StableDiGraph`. Everything carries the [`Span`] of the script line that made it.

use std::sync::Arc;

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use slotmap::{new_key_type, SlotMap};

use crate::error::{Error, ErrorKind, Span};
use crate::node::{Node, NodeDesc};
use crate::param::{AutomationEvent, ParamSetting, Timeline};
use crate::units::Tempo;

new_key_type! {
    /// Handle of a node in a [`GraphSpec`]. Stale keys return `None`, never another node.
    pub struct NodeKey;
}

/// Makes a fresh, unprepared instance of a node.
pub type NodeFactory = Arc<dyn Fn() -> Box<dyn Node> + Send + Sync>;

/// One node of the spec.
#[derive(Clone)]
pub struct NodeSpec {
    /// Stable path name, unique in the graph (`"bass/comp"`).
    pub path: String,
    /// Kind, ports and parameters.
    pub desc: &'static NodeDesc,
    /// The script line that created it.
    pub span: Option<Span>,
    /// One setting per parameter, in `desc.params` order.
    pub params: Vec<ParamSetting>,
    /// Builds the instance.
    pub factory: NodeFactory,
    /// Construction options that are not parameters, as text (a changed config means a new
    /// instance on reload).
    pub config: String,
    pub(crate) index: NodeIndex,
}

impl std::fmt::Debug for NodeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSpec")
            .field("path", &self.path)
            .field("kind", &self.desc.kind)
            .field("span", &self.span)
            .finish()
    }
}

/// One connection: the source's output into input port `port` of the destination.
#[derive(Clone, Debug)]
pub struct EdgeSpec {
    /// Destination input port index.
    pub port: usize,
    /// The script line that made the connection.
    pub span: Option<Span>,
    /// Reload crossfade on this connection (only in the transition graphs of a live reload).
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
#[derive(Clone, Debug)]
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
#[derive(Clone, Default)]
pub struct GraphSpec {
    /// Nodes by key.
    pub nodes: SlotMap<NodeKey, NodeSpec>,
    /// Edges between node keys.
    pub graph: StableDiGraph<NodeKey, EdgeSpec>,
    /// The node whose output is the mix (the master).
    pub output: Option<NodeKey>,
    /// Session settings.
    pub session: Session,
}

impl GraphSpec {
    /// An empty graph.
    pub fn new(session: Session) -> Self {
        Self {
            session,
            ..Default::default()
        }
    }

    /// Adds a node built by cloning `prototype`. Paths must be unique.
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
            String::new(),
            Arc::new(move || Box::new(prototype.clone())),
            span,
        )
    }

    /// Adds a node from an explicit factory.
    pub fn add_with(
        &mut self,
        path: impl Into<String>,
        desc: &'static NodeDesc,
        config: String,
        factory: NodeFactory,
        span: Option<Span>,
    ) -> Result<NodeKey, Error> {
        let path = path.into();
        if let Some(other) = self.nodes.values().find(|n| n.path == path) {
            let at = other
                .span
                .as_ref()
                .map(|s| format!(" (first defined at {s})"))
                .unwrap_or_default();
            return Err(Error::new(
                ErrorKind::Graph,
                format!(
                    "duplicate name \"{path}\"{at}; give each track, bus and node its own name"
                ),
            )
            .at(span.as_ref()));
        }
        let params = desc
            .params
            .iter()
            .map(|p| ParamSetting {
                value: p.default,
                timeline: Timeline::default(),
            })
            .collect();
        let key = self.nodes.insert_with_key(|_| NodeSpec {
            path,
            desc,
            span,
            params,
            factory,
            config,
            index: NodeIndex::end(),
        });
        let idx = self.graph.add_node(key);
        self.nodes[key].index = idx;
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
        let Some(p) = t.desc.input_index(port) else {
            let ports: Vec<_> = t.desc.inputs.iter().map(|p| p.name).collect();
            return Err(Error::new(
                ErrorKind::Graph,
                format!(
                    "{} \"{}\" has no input port '{port}'; it has: {}",
                    t.desc.kind,
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
        self.nodes[node].params[i].value = v;
        Ok(())
    }

    /// Adds an automation event to parameter `id` of `node`, checking the value's range.
    pub fn automate(
        &mut self,
        node: NodeKey,
        id: &str,
        event: AutomationEvent,
    ) -> Result<(), Error> {
        let value = match event {
            AutomationEvent::Set { value, .. }
            | AutomationEvent::Linear { value, .. }
            | AutomationEvent::Exp { value, .. }
            | AutomationEvent::Target { value, .. } => value,
        };
        let (i, _) = self.check_param(node, id, value as f64)?;
        if event.time_s() < 0.0 || !event.time_s().is_finite() {
            return Err(Error::new(
                ErrorKind::Param,
                format!(
                    "automation time {} s is negative; times start at 0",
                    event.time_s()
                ),
            ));
        }
        self.nodes[node].params[i].timeline.push(event);
        Ok(())
    }

    fn check_param(&self, node: NodeKey, id: &str, value: f64) -> Result<(usize, f32), Error> {
        let n = self
            .nodes
            .get(node)
            .ok_or_else(|| Error::new(ErrorKind::Graph, "no such node"))?;
        let Some(i) = n.desc.param_index(id) else {
            let ids: Vec<_> = n.desc.params.iter().map(|p| p.id).collect();
            return Err(Error::new(
                ErrorKind::Param,
                format!(
                    "{} \"{}\": unknown parameter '{id}'{}; parameters: {}",
                    n.desc.kind,
                    n.path,
                    did_you_mean(id, &ids),
                    ids.join(", ")
                ),
            ));
        };
        let v = n.desc.params[i].check(value).map_err(|m| {
            Error::new(
                ErrorKind::Param,
                format!("{} \"{}\": {m}", n.desc.kind, n.path),
            )
        })?;
        Ok((i, v))
    }

    /// The node whose path is `path`.
    pub fn find(&self, path: &str) -> Option<NodeKey> {
        self.nodes
            .iter()
            .find(|(_, n)| n.path == path)
            .map(|(k, _)| k)
    }

    /// Marks `node` as the graph's output.
    pub fn set_output(&mut self, node: NodeKey) {
        self.output = Some(node);
    }
}

/// `" (did you mean 'x'?)"` for the closest candidate within a small edit distance, else `""`.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
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
