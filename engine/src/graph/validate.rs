//! The schedule validator: proves, step by step, the properties the executor's raw-pointer code
//! (`rt::exec`) and the parallel runner (`rt::parallel`) rely on, instead of trusting the
//! compiler to have kept them.
//!
//! It works on a [`ScheduleLayout`] — the steps and every node's port buffers as plain data — so
//! tests can mutate one and see it refused. [`ScheduleLayout::validate`] checks, in one pass over
//! the steps in order (the order one thread runs them):
//!
//! - **ranges**: every buffer, node and delay-line index is in range, ports carry at most
//!   [`MAX_CHANNELS`] channels, the block limit is within [`MAX_BLOCK`];
//! - **ownership**: each node runs exactly once (a feedback node: its read half, then its write
//!   half), each delay line is used by one step;
//! - **aliasing**: no step writes a buffer twice or writes a buffer it reads (the executor forms a
//!   shared and a mutable slice from the same pool), and nothing writes the zero buffer;
//! - **definedness**: every buffer a step reads was written earlier in the block, or is the
//!   constant zero buffer ([`ZERO_BUFFER`]);
//! - **liveness**: a value is never overwritten before anything read it, and each read finds the
//!   value of the kind of step it expects — a node input reads one node's whole output port as that
//!   node wrote it, or a port assembled in front of it (cleared, then mixed into); a buffer another
//!   node still needed that was reused too early shows up as one or the other;
//! - **channels**: each port's width matches what the compiler resolved for the node (its
//!   identity) and the kind's fixed port widths; the output port is the last node's output.
//!
//! [`ScheduleLayout::parallel_plan`] adds what running steps on several threads needs: the steps
//! cut into tasks (one node with the mixing in front of it), each buffer written by one task only,
//! and every task reading only buffers written by itself or by tasks before it — which become its
//! dependencies, so no buffer is ever read by a task that may run at the same time as its writer.
//! The parallel runner is built from this plan, so it cannot run a schedule that fails it.

use super::schedule::{PortBufs, Step};
use crate::buffer::{MAX_BLOCK, MAX_CHANNELS};
use crate::node::Channels;

/// The buffer the compiler allocates first and never writes: unconnected ports read it.
pub const ZERO_BUFFER: u32 = 0;

/// A schedule as plain data: what the validator checks (see [`super::Schedule::layout`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleLayout {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Each node's ports, by node index.
    pub nodes: Vec<NodeLayout>,
    /// Buffers in the pool.
    pub buffers: usize,
    /// Latency-compensation delay lines.
    pub lines: usize,
    /// The buffers the processor reads the mix from after each block.
    pub output: PortBufs,
    /// The largest block the schedule may run.
    pub block_limit: usize,
}

/// One node's ports in a [`ScheduleLayout`].
#[derive(Clone, Debug, PartialEq)]
pub struct NodeLayout {
    /// Input port buffers (`in`, `sidechain`).
    pub inputs: [PortBufs; 2],
    /// Output buffers.
    pub output: PortBufs,
    /// The kind's declared input ports (channel rule of each).
    pub ports: Vec<Channels>,
    /// Channel counts the compiler resolved: `in`, `sidechain`, output.
    pub channels: [u8; 3],
}

/// Something a schedule must not do. Step and node numbers are indices into the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// A buffer index past the pool (`step` is `None` for the output port).
    BufferOutOfRange {
        /// Offending step.
        step: Option<usize>,
        /// The index.
        buf: u32,
    },
    /// A node index past the node list.
    NodeOutOfRange {
        /// Offending step.
        step: usize,
        /// The index.
        node: u32,
    },
    /// A delay-line index past the line list.
    LineOutOfRange {
        /// Offending step.
        step: usize,
        /// The index.
        line: u32,
    },
    /// A delay line used by two steps.
    LineShared {
        /// The second step using it.
        step: usize,
        /// The line.
        line: u32,
    },
    /// A node run twice, a feedback half out of order, or a node never run (`step` is `None`).
    NodeRuns {
        /// Offending step.
        step: Option<usize>,
        /// The node.
        node: u32,
    },
    /// A step reads a buffer nothing wrote earlier in the block.
    ReadBeforeWrite {
        /// Offending step.
        step: usize,
        /// The buffer.
        buf: u32,
    },
    /// A step writes the constant zero buffer.
    WritesZero {
        /// Offending step.
        step: usize,
    },
    /// A step writes one buffer twice, or a buffer it also reads.
    Aliased {
        /// Offending step.
        step: usize,
        /// The buffer.
        buf: u32,
    },
    /// A value overwritten before anything read it.
    LostWrite {
        /// The buffer.
        buf: u32,
        /// The step that wrote the value.
        written: usize,
        /// The step that overwrote it.
        overwritten: usize,
    },
    /// A step reads a buffer that holds another value than the one it needs (reused too early).
    Clobbered {
        /// The reading step (`None`: the output port, after the last step).
        step: Option<usize>,
        /// The buffer.
        buf: u32,
    },
    /// A port's width disagrees with the node's resolved channels or its kind.
    Channels {
        /// The node.
        node: u32,
    },
    /// The block limit is 0 or above `MAX_BLOCK`.
    BlockLimit(usize),
    /// Parallel plan: a buffer written by two tasks (they could run at the same time).
    SharedWriter {
        /// The buffer.
        buf: u32,
        /// The two tasks (by order).
        tasks: (usize, usize),
    },
    /// Parallel plan: a task reads a buffer written by a later task.
    ReadsLater {
        /// The reading task.
        task: usize,
        /// The buffer.
        buf: u32,
    },
    /// Parallel plan: feedback steps (or steps outside any task) cannot be split into tasks.
    NotSplittable {
        /// Offending step.
        step: usize,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use Violation::*;
        match *self {
            BufferOutOfRange { step: Some(s), buf } => {
                write!(f, "step {s}: buffer {buf} out of range")
            }
            BufferOutOfRange { step: None, buf } => write!(f, "output buffer {buf} out of range"),
            NodeOutOfRange { step, node } => write!(f, "step {step}: node {node} out of range"),
            LineOutOfRange { step, line } => write!(f, "step {step}: line {line} out of range"),
            LineShared { step, line } => write!(f, "step {step}: line {line} used twice"),
            NodeRuns {
                step: Some(s),
                node,
            } => write!(f, "step {s}: node {node} run out of turn"),
            NodeRuns { step: None, node } => write!(f, "node {node} never runs (fully)"),
            ReadBeforeWrite { step, buf } => write!(f, "step {step}: reads unwritten buffer {buf}"),
            WritesZero { step } => write!(f, "step {step}: writes the zero buffer"),
            Aliased { step, buf } => write!(f, "step {step}: buffer {buf} aliased"),
            LostWrite {
                buf,
                written,
                overwritten,
            } => write!(
                f,
                "buffer {buf}: step {overwritten} overwrites the value of step {written} unread"
            ),
            Clobbered { step: Some(s), buf } => write!(f, "step {s}: buffer {buf} was reused"),
            Clobbered { step: None, buf } => write!(f, "output buffer {buf} was reused"),
            Channels { node } => write!(f, "node {node}: port widths inconsistent"),
            BlockLimit(n) => write!(f, "block limit {n} outside 1..={MAX_BLOCK}"),
            SharedWriter { buf, tasks } => {
                write!(
                    f,
                    "buffer {buf} written by tasks {} and {}",
                    tasks.0, tasks.1
                )
            }
            ReadsLater { task, buf } => write!(f, "task {task} reads buffer {buf} of a later task"),
            NotSplittable { step } => write!(f, "step {step} cannot run in a parallel task"),
        }
    }
}

/// The steps cut into tasks for the parallel runner.
#[derive(Debug)]
pub(crate) struct ParallelPlan {
    /// Step range of each task, in order; they cover every step.
    pub tasks: Vec<std::ops::Range<usize>>,
    /// Each task's dependencies (earlier tasks that wrote buffers it reads), sorted.
    pub deps: Vec<Vec<u32>>,
}

/// What kind of step last wrote a buffer, as its reader sees it.
#[derive(Clone, Copy, PartialEq)]
enum Writer {
    /// A node's output port (`Process`, `FeedbackRead`).
    Node,
    /// An assembled input port (`Clear`, `Mix`, `MixFade`).
    Port,
    /// A compensation delay's temporary (`Delay`).
    Delay,
}

fn writer_kind(s: Step) -> Writer {
    match s {
        Step::Process { .. } | Step::FeedbackRead { .. } => Writer::Node,
        Step::Delay { .. } => Writer::Delay,
        Step::Clear { .. }
        | Step::Mix { .. }
        | Step::MixFade { .. }
        | Step::FeedbackWrite { .. } => Writer::Port,
    }
}

/// The single pass of [`ScheduleLayout::validate`].
struct Checker<'a> {
    l: &'a ScheduleLayout,
    out: Vec<Violation>,
    /// Step whose value each buffer holds (`None`: never written this block).
    last: Vec<Option<usize>>,
    /// Whether anything read the value each step wrote.
    read: Vec<bool>,
    /// Runs seen per node: 0, 1 (processed or feedback read), 2 (feedback written too).
    runs: Vec<u8>,
    feedback: Vec<bool>,
    line_used: Vec<bool>,
}

impl Checker<'_> {
    fn buf_ok(&mut self, step: usize, b: u32) -> bool {
        let ok = (b as usize) < self.l.buffers;
        if !ok {
            self.out.push(Violation::BufferOutOfRange {
                step: Some(step),
                buf: b,
            });
        }
        ok
    }

    fn port_ok(&mut self, step: usize, node: u32, p: &PortBufs) -> bool {
        if p.len as usize > MAX_CHANNELS {
            self.out.push(Violation::Channels { node });
            return false;
        }
        p.as_slice().iter().all(|&b| self.buf_ok(step, b))
    }

    /// Reads buffer `b` (in range), expecting a value written by a step of kind `want`.
    fn read(&mut self, step: usize, b: u32, want: &[Writer]) {
        if b == ZERO_BUFFER {
            return;
        }
        match self.last[b as usize] {
            None => self.out.push(Violation::ReadBeforeWrite { step, buf: b }),
            Some(w) => {
                self.read[w] = true;
                if !want.contains(&writer_kind(self.l.steps[w])) {
                    self.out.push(Violation::Clobbered {
                        step: Some(step),
                        buf: b,
                    });
                }
            }
        }
    }

    /// Reads a node input port (or the output port, `step == None`): all zero, one node's whole
    /// output port as it wrote it, or buffers assembled in front of the node.
    fn read_port(&mut self, step: Option<usize>, p: &PortBufs) {
        let at = step.unwrap_or(self.l.steps.len());
        let bufs = p.as_slice();
        if bufs.iter().all(|&b| b == ZERO_BUFFER) {
            return;
        }
        let node_writer = bufs.iter().find_map(|&b| {
            let w = self.last[b as usize]?;
            (writer_kind(self.l.steps[w]) == Writer::Node).then_some(w)
        });
        if let Some(w) = node_writer {
            let (Step::Process { node } | Step::FeedbackRead { node }) = self.l.steps[w] else {
                unreachable!("a node writer")
            };
            let whole = self.l.nodes[node as usize].output == *p;
            for &b in bufs {
                match self.last[b as usize] {
                    Some(x) if x == w && whole => self.read[w] = true,
                    None if b != ZERO_BUFFER => self
                        .out
                        .push(Violation::ReadBeforeWrite { step: at, buf: b }),
                    _ => self.out.push(Violation::Clobbered { step, buf: b }),
                }
            }
        } else {
            for &b in bufs {
                if b == ZERO_BUFFER {
                    self.out.push(Violation::Clobbered { step, buf: b });
                } else {
                    self.read(at, b, &[Writer::Port]);
                }
            }
        }
    }

    /// Step `step` writes `b` (in range).
    fn write(&mut self, step: usize, b: u32) {
        if b == ZERO_BUFFER {
            self.out.push(Violation::WritesZero { step });
            return;
        }
        if let Some(w) = self.last[b as usize] {
            // A delay's temporary may go unread (a source channel the mix drops, e.g. LFE).
            if w != step && !self.read[w] && writer_kind(self.l.steps[w]) != Writer::Delay {
                self.out.push(Violation::LostWrite {
                    buf: b,
                    written: w,
                    overwritten: step,
                });
            }
        }
        self.last[b as usize] = Some(step);
    }

    fn node(&mut self, step: usize, node: u32) -> Option<&NodeLayout> {
        if node as usize >= self.l.nodes.len() {
            self.out.push(Violation::NodeOutOfRange { step, node });
            return None;
        }
        Some(&self.l.nodes[node as usize])
    }

    /// A node's output port written by `step`: distinct buffers, none of them read by the step.
    fn write_output(&mut self, step: usize, n: &NodeLayout, reads: &[u32]) {
        let out = n.output.as_slice();
        for (i, &b) in out.iter().enumerate() {
            if out[..i].contains(&b) || reads.contains(&b) {
                self.out.push(Violation::Aliased { step, buf: b });
            }
            self.write(step, b);
        }
    }

    fn step(&mut self, k: usize, s: Step) {
        match s {
            Step::Clear { buf } => {
                if self.buf_ok(k, buf) {
                    self.write(k, buf);
                }
            }
            Step::Mix { src, dst, .. } | Step::MixFade { src, dst, .. } => {
                if self.buf_ok(k, src) & self.buf_ok(k, dst) {
                    if src == dst {
                        self.out.push(Violation::Aliased { step: k, buf: dst });
                    }
                    self.read(k, src, &[Writer::Node, Writer::Delay]);
                    self.read(k, dst, &[Writer::Port]);
                    self.write(k, dst);
                }
            }
            Step::Delay { line, src, dst } => {
                if line as usize >= self.l.lines {
                    self.out.push(Violation::LineOutOfRange { step: k, line });
                } else if std::mem::replace(&mut self.line_used[line as usize], true) {
                    self.out.push(Violation::LineShared { step: k, line });
                }
                if self.buf_ok(k, src) & self.buf_ok(k, dst) {
                    if src == dst {
                        self.out.push(Violation::Aliased { step: k, buf: dst });
                    }
                    self.read(k, src, &[Writer::Node]);
                    self.write(k, dst);
                }
            }
            Step::Process { node } | Step::FeedbackRead { node } => {
                let Some(n) = self.node(k, node) else { return };
                let n = n.clone();
                let i = node as usize;
                if self.runs[i] != 0 {
                    self.out.push(Violation::NodeRuns {
                        step: Some(k),
                        node,
                    });
                }
                self.runs[i] += 1;
                let feedback = matches!(s, Step::FeedbackRead { .. });
                self.feedback[i] = feedback;
                if !(self.port_ok(k, node, &n.inputs[0])
                    & self.port_ok(k, node, &n.inputs[1])
                    & self.port_ok(k, node, &n.output))
                {
                    return;
                }
                let mut reads: Vec<u32> = Vec::new();
                if !feedback {
                    for p in &n.inputs {
                        self.read_port(Some(k), p);
                        reads.extend_from_slice(p.as_slice());
                    }
                }
                self.write_output(k, &n, &reads);
            }
            Step::FeedbackWrite { node } => {
                let Some(n) = self.node(k, node) else { return };
                let n = n.clone();
                let i = node as usize;
                if !(self.feedback[i] && self.runs[i] == 1) {
                    self.out.push(Violation::NodeRuns {
                        step: Some(k),
                        node,
                    });
                }
                self.runs[i] = self.runs[i].saturating_add(1);
                if self.port_ok(k, node, &n.inputs[0]) {
                    self.read_port(Some(k), &n.inputs[0]);
                }
            }
        }
    }
}

/// Whether a node's port widths agree with its resolved channels and its kind.
fn channels_ok(n: &NodeLayout) -> bool {
    let widths = [n.inputs[0].len, n.inputs[1].len, n.output.len];
    if widths != n.channels || n.output.len == 0 {
        return false;
    }
    (0..2).all(|p| match n.ports.get(p) {
        None => n.inputs[p].len == 0,
        Some(Channels::Fixed(c)) => u16::from(n.inputs[p].len) == *c,
        Some(Channels::Follow) => true,
    })
}

impl ScheduleLayout {
    /// Checks everything listed in the module documentation; returns every violation found.
    /// Control thread; allocates.
    pub fn validate(&self) -> Result<(), Vec<Violation>> {
        let mut c = Checker {
            l: self,
            out: Vec::new(),
            last: vec![None; self.buffers],
            read: vec![false; self.steps.len()],
            runs: vec![0; self.nodes.len()],
            feedback: vec![false; self.nodes.len()],
            line_used: vec![false; self.lines],
        };
        if self.block_limit == 0 || self.block_limit > MAX_BLOCK {
            c.out.push(Violation::BlockLimit(self.block_limit));
        }
        for (k, &s) in self.steps.iter().enumerate() {
            c.step(k, s);
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let want = if c.feedback[i] { 2 } else { 1 };
            if c.runs[i] != want {
                c.out.push(Violation::NodeRuns {
                    step: None,
                    node: i as u32,
                });
            }
            if !channels_ok(n) {
                c.out.push(Violation::Channels { node: i as u32 });
            }
        }
        let out = self.output;
        let in_range = out.len as usize <= MAX_CHANNELS
            && out.as_slice().iter().all(|&b| {
                let ok = (b as usize) < self.buffers;
                if !ok {
                    c.out
                        .push(Violation::BufferOutOfRange { step: None, buf: b });
                }
                ok
            });
        if in_range {
            if out.len == 0 || out.as_slice().contains(&ZERO_BUFFER) {
                c.out.push(Violation::Clobbered {
                    step: None,
                    buf: ZERO_BUFFER,
                });
            } else {
                c.read_port(None, &out);
            }
        }
        if c.out.is_empty() {
            Ok(())
        } else {
            Err(c.out)
        }
    }

    /// Validates, then plans the steps as parallel tasks (see the module documentation).
    pub fn validate_parallel(&self) -> Result<(), Vec<Violation>> {
        self.validate()?;
        self.parallel_plan().map(|_| ()).map_err(|v| vec![v])
    }

    /// The steps cut into tasks, each ending with one `Process`, and each task's dependencies.
    /// Assumes [`ScheduleLayout::validate`] passed (indices in range). Control thread; allocates.
    pub(crate) fn parallel_plan(&self) -> Result<ParallelPlan, Violation> {
        let mut tasks = Vec::new();
        let mut start = 0;
        for (i, st) in self.steps.iter().enumerate() {
            match st {
                Step::Process { .. } => {
                    tasks.push(start..i + 1);
                    start = i + 1;
                }
                Step::FeedbackRead { .. } | Step::FeedbackWrite { .. } => {
                    return Err(Violation::NotSplittable { step: i })
                }
                _ => {}
            }
        }
        if start != self.steps.len() {
            return Err(Violation::NotSplittable { step: start });
        }
        let mut writer = vec![u32::MAX; self.buffers];
        let mut deps: Vec<Vec<u32>> = Vec::with_capacity(tasks.len());
        for (t, r) in tasks.iter().enumerate() {
            let mut reads: Vec<u32> = Vec::new();
            let mut writes: Vec<u32> = Vec::new();
            for st in &self.steps[r.clone()] {
                match *st {
                    Step::Clear { buf } => writes.push(buf),
                    Step::Mix { src, dst, .. } | Step::MixFade { src, dst, .. } => {
                        reads.extend([src, dst]);
                        writes.push(dst);
                    }
                    Step::Delay { src, dst, .. } => {
                        reads.push(src);
                        writes.push(dst);
                    }
                    Step::Process { node } => {
                        let n = &self.nodes[node as usize];
                        reads.extend(n.inputs.iter().flat_map(|p| p.as_slice().iter().copied()));
                        writes.extend_from_slice(n.output.as_slice());
                    }
                    Step::FeedbackRead { .. } | Step::FeedbackWrite { .. } => {
                        unreachable!("refused above")
                    }
                }
            }
            for b in writes {
                let w = &mut writer[b as usize];
                if *w != u32::MAX && *w != t as u32 {
                    return Err(Violation::SharedWriter {
                        buf: b,
                        tasks: (*w as usize, t),
                    });
                }
                *w = t as u32;
            }
            let mut d = Vec::new();
            for b in reads {
                match writer[b as usize] {
                    w if w == t as u32 => {}
                    u32::MAX if b == ZERO_BUFFER => {}
                    // Not written yet: by a later task (`validate` refuses reads of buffers
                    // nothing wrote before).
                    u32::MAX => return Err(Violation::ReadsLater { task: t, buf: b }),
                    w => d.push(w),
                }
            }
            d.sort_unstable();
            d.dedup();
            deps.push(d);
        }
        Ok(ParallelPlan { tasks, deps })
    }
}

/// The check [`super::compile`] runs on every schedule in debug and test builds (and, for a
/// schedule compiled for several threads without feedback, its parallel plan). A violation is a
/// compiler bug, reported as an error rather than a crash.
pub(crate) fn compiled(s: &super::Schedule, parallel: bool) -> Result<(), crate::Errors> {
    let l = s.layout();
    let feedback = l
        .steps
        .iter()
        .any(|st| matches!(st, Step::FeedbackRead { .. } | Step::FeedbackWrite { .. }));
    let r = if parallel && !feedback {
        l.validate_parallel()
    } else {
        l.validate()
    };
    r.map_err(|v| {
        let list: Vec<String> = v.iter().take(8).map(|v| v.to_string()).collect();
        crate::Error::new(
            crate::ErrorKind::Other,
            format!(
                "internal error: the compiled schedule fails validation ({} problems: {}); \
                 please report this with the script",
                v.len(),
                list.join("; ")
            ),
        )
        .into()
    })
}
