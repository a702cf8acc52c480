//! What a script builds, before it becomes a [`GraphSpec`]: channel strips (tracks, buses, the
//! master) with ordered inserts, a fader and a pan, an output and sends. Wired into edges once the
//! script has finished, because a script may add inserts after routing a strip.

use std::path::PathBuf;

use crate::error::{Error, ErrorKind, Span};
use crate::graph::{GraphSpec, NodeKey};
use crate::io::wav::OutputFormat;
use crate::registry::{Config, NodeKind};

/// Index of a strip in [`Model::strips`].
pub type StripId = usize;

/// Track, bus or master.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StripKind {
    /// Has a source.
    Track,
    /// Sums what is routed or sent to it.
    Bus,
    /// The final bus; its output is the mix.
    Master,
}

/// A send from one strip to a bus.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SendModel {
    /// Destination bus.
    pub dest: StripId,
    /// The send's own gain node.
    pub gain: NodeKey,
    /// Taken before the fader.
    pub pre: bool,
    /// Where it was made.
    pub span: Option<Span>,
}

/// One channel strip.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StripModel {
    /// User-facing name (`"bass"`).
    pub name: String,
    /// Kind.
    pub kind: StripKind,
    /// First node: the source of a track, the summing node of a bus.
    pub head: NodeKey,
    /// Inserts in order.
    pub inserts: Vec<NodeKey>,
    /// Fader.
    pub fader: NodeKey,
    /// Panner (not on the master).
    pub pan: Option<NodeKey>,
    /// Output destination (`None` = master; the master's is always `None`).
    pub dest: Option<StripId>,
    /// Span of the `:to` call that set `dest`.
    pub dest_span: Option<Span>,
    /// Sends.
    pub sends: Vec<SendModel>,
    /// Where the strip was made.
    pub span: Option<Span>,
}

impl StripModel {
    /// The node whose output is the strip's post-fader output.
    pub fn tail(&self) -> NodeKey {
        self.pan.unwrap_or(self.fader)
    }

    /// The node just before the fader (pre-fader tap).
    pub fn pre_fader(&self) -> NodeKey {
        *self.inserts.last().unwrap_or(&self.head)
    }
}

/// A `mix.render { ... }` job.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RenderJob {
    /// Output path as the script wrote it (relative paths resolve against the script's folder,
    /// or the command line's `--out-dir`).
    pub path: PathBuf,
    /// Sample format, if the script chose one (else the command line's, or the extension's).
    pub format: Option<OutputFormat>,
    /// Also write one file per bus.
    pub stems: bool,
    /// Where it was asked for.
    pub span: Option<Span>,
}

/// Everything the script has built so far.
pub struct Model {
    /// The graph being built.
    pub spec: GraphSpec,
    /// Strips; index 0 is the master.
    pub strips: Vec<StripModel>,
    /// Render jobs.
    pub renders: Vec<RenderJob>,
    /// Problems found (reported together at the end).
    pub errors: Vec<Error>,
    /// Non-fatal findings.
    pub warnings: Vec<Error>,
    /// Audio files the script uses (for reload watching).
    pub files: Vec<PathBuf>,
    /// What those files hold.
    pub probes: Vec<crate::io::decode::AudioInfo>,
    /// Sidechain connections to make: (node with a sidechain port, source strip, span).
    pub sidechains: Vec<(NodeKey, StripId, Option<Span>)>,
    /// Album jobs (`mix.album`).
    pub albums: Vec<crate::album::AlbumJob>,
    /// Generator tracks given no length (they need the session's `length_s`).
    pub open_ended: Vec<(String, Option<Span>)>,
    /// Where the script last set or automated the master fader (for the warning about gain
    /// after the master's limiter).
    pub master_fader_span: Option<Span>,
    /// A limit reached (stops the script).
    pub limit: Option<Error>,
    /// Errors past [`MAX_ERRORS`], counted.
    pub dropped_errors: usize,
    /// Counter for unique insert names per strip.
    pub insert_counts: std::collections::HashMap<String, usize>,
    /// Strip by name.
    pub strip_index: std::collections::HashMap<String, StripId>,
}

/// Most errors one evaluation reports.
pub const MAX_ERRORS: usize = 100;

/// The master strip's id.
pub const MASTER: StripId = 0;

impl Model {
    /// A model with an empty master.
    pub fn new(spec: GraphSpec) -> Self {
        let mut m = Self {
            spec,
            strips: Vec::new(),
            renders: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            files: Vec::new(),
            probes: Vec::new(),
            sidechains: Vec::new(),
            open_ended: Vec::new(),
            albums: Vec::new(),
            master_fader_span: None,
            limit: None,
            dropped_errors: 0,
            insert_counts: Default::default(),
            strip_index: Default::default(),
        };
        let head = m
            .add_node("master/in", &crate::nodes::sum::KIND, None)
            .expect("fresh graph");
        let fader = m
            .add_node("master/fader", &crate::nodes::gain::KIND, None)
            .expect("fresh graph");
        m.strips.push(StripModel {
            name: "master".into(),
            kind: StripKind::Master,
            head,
            inserts: Vec::new(),
            fader,
            pan: None,
            dest: None,
            dest_span: None,
            sends: Vec::new(),
            span: None,
        });
        m
    }

    /// Adds a track or bus strip around `head`, with its fader and pan.
    pub fn add_strip(
        &mut self,
        name: &str,
        kind: StripKind,
        head: NodeKey,
        span: Option<Span>,
    ) -> Result<StripId, Error> {
        let fader = self.add_node(
            &format!("{name}/fader"),
            &crate::nodes::gain::KIND,
            span.clone(),
        )?;
        let pan = self.add_node(
            &format!("{name}/pan"),
            &crate::nodes::pan::KIND,
            span.clone(),
        )?;
        self.strips.push(StripModel {
            name: name.to_string(),
            kind,
            head,
            inserts: Vec::new(),
            fader,
            pan: Some(pan),
            dest: None,
            dest_span: None,
            sends: Vec::new(),
            span,
        });
        self.strip_index
            .insert(name.to_string(), self.strips.len() - 1);
        Ok(self.strips.len() - 1)
    }

    /// Adds a node of `kind` with its default options.
    pub fn add_node(
        &mut self,
        path: &str,
        kind: &'static NodeKind,
        span: Option<Span>,
    ) -> Result<NodeKey, Error> {
        self.spec
            .add_kind(path, kind, Config::new(), span)
            .map_err(|mut e| e.remove(0))
    }

    /// The strip called `name`.
    pub fn strip_named(&self, name: &str) -> Option<StripId> {
        if name == "master" {
            return Some(MASTER);
        }
        self.strip_index.get(name).copied()
    }

    /// A unique node path for an insert of `kind` on strip `s` (`bass/comp`, `bass/comp2`).
    pub fn insert_path(&mut self, s: StripId, kind: &str) -> String {
        let base = format!("{}/{kind}", self.strips[s].name);
        let n = self.insert_counts.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            base
        } else {
            format!("{base}{n}")
        }
    }

    /// Connects everything: each strip's chain, outputs and sends. Records errors.
    pub fn wire(&mut self) {
        let strips = self.strips.clone();
        let mut errs = Vec::new();
        for s in &strips {
            let mut chain = vec![s.head];
            chain.extend(&s.inserts);
            chain.push(s.fader);
            chain.extend(s.pan);
            for w in chain.windows(2) {
                if let Err(e) = self.spec.connect(w[0], w[1], "in", s.span.clone()) {
                    errs.push(e);
                }
            }
            if s.kind != StripKind::Master {
                let dest = s.dest.unwrap_or(MASTER);
                if let Err(e) =
                    self.spec
                        .connect(s.tail(), strips[dest].head, "in", s.dest_span.clone())
                {
                    errs.push(e);
                }
            }
            for send in &s.sends {
                let from = if send.pre { s.pre_fader() } else { s.tail() };
                for r in [
                    self.spec.connect(from, send.gain, "in", send.span.clone()),
                    self.spec
                        .connect(send.gain, strips[send.dest].head, "in", send.span.clone()),
                ] {
                    if let Err(e) = r {
                        errs.push(e);
                    }
                }
            }
        }
        for (node, src, span) in self.sidechains.clone() {
            if let Err(e) = self
                .spec
                .connect(strips[src].tail(), node, "sidechain", span)
            {
                errs.push(e);
            }
        }
        let master = &strips[MASTER];
        self.spec.set_output(master.tail());
        self.extend_errors(errs);
    }

    /// Records an error. A limit reached (too many nodes or events) is kept aside: the next
    /// API call stops the script with it ([`Model::take_limit`]). Past [`MAX_ERRORS`] errors
    /// are only counted.
    pub fn error(&mut self, e: Error) {
        if e.kind == ErrorKind::Limit {
            if self.limit.is_none() {
                self.limit = Some(e);
            }
            return;
        }
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        } else {
            self.dropped_errors += 1;
        }
    }

    /// Records several errors (see [`Model::error`]).
    pub fn extend_errors(&mut self, es: impl IntoIterator<Item = Error>) {
        for e in es {
            self.error(e);
        }
    }

    /// The limit reached, if any: evaluation cannot usefully go on.
    pub fn take_limit(&self) -> Option<Error> {
        self.limit.clone()
    }

    /// Every error, the limit reached last, and a line for those not shown.
    pub fn all_errors(&mut self) -> Vec<Error> {
        let mut v = std::mem::take(&mut self.errors);
        if let Some(l) = self.limit.take() {
            v.push(l);
        }
        if self.dropped_errors > 0 {
            v.push(Error::new(
                ErrorKind::Script,
                format!(
                    "... and {} more problems (only the first {MAX_ERRORS} are shown)",
                    self.dropped_errors
                ),
            ));
        }
        v
    }

    /// An error of kind `Script` at `span`.
    pub fn script_error(span: Option<&Span>, msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Script, msg.into()).at(span)
    }
}
