//! The compiled [`Schedule`]: an index-only list of [`Step`]s over a buffer pool, with the node
//! instances and their parameter slots. Built by [`super::compile`], run by
//! [`crate::rt::Processor`]. Nothing here hashes or looks up strings while processing.

use crate::buffer::{BufferPool, MAX_CHANNELS};
use crate::dsp::delay_line::DelayLine;
use crate::error::Error;
use crate::node::{Node, ProcessStatus};
use crate::param::ParamSlot;
use std::path::PathBuf;

pub use super::validate::{NodeLayout, ScheduleLayout, Violation, ZERO_BUFFER};

/// The buffers of one port: up to [`MAX_CHANNELS`] buffer indices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortBufs {
    /// Buffer index per channel.
    pub bufs: [u32; MAX_CHANNELS],
    /// Channel count.
    pub len: u8,
}

impl PortBufs {
    /// The used indices.
    pub fn as_slice(&self) -> &[u32] {
        &self.bufs[..self.len as usize]
    }
}

/// One instruction of the schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// `buf = 0`.
    Clear {
        /// Buffer index.
        buf: u32,
    },
    /// `dst += gain · src`.
    Mix {
        /// Source buffer.
        src: u32,
        /// Destination buffer.
        dst: u32,
        /// Gain (channel adaptation or 1).
        gain: f32,
    },
    /// `dst += gain · fade · src`, where `fade` is the equal-power ramp of a reload crossfade:
    /// `sin` rising (a connection only the new graph has) or `cos` falling (only the old one).
    MixFade {
        /// Source buffer.
        src: u32,
        /// Destination buffer.
        dst: u32,
        /// Gain (channel adaptation or 1).
        gain: f32,
        /// Rising (true) or falling.
        fade_in: bool,
    },
    /// `dst = src` delayed by a latency-compensation line.
    Delay {
        /// Index into the schedule's delay lines.
        line: u32,
        /// Source buffer.
        src: u32,
        /// Destination buffer.
        dst: u32,
    },
    /// Evaluate parameters and run a node.
    Process {
        /// Node index.
        node: u32,
    },
    /// Read the output of a feedback node (before its input is known).
    FeedbackRead {
        /// Node index.
        node: u32,
    },
    /// Write the input of a feedback node (after everything feeding it ran).
    FeedbackWrite {
        /// Node index.
        node: u32,
    },
}

/// A node instance in a schedule (opaque outside the crate: the processor runs it through raw
/// pointers, trusting its port buffers). Aligned to a cache line: with parallel rendering,
/// neighbouring slots are written by different worker threads every block.
#[repr(align(64))]
pub struct NodeSlot {
    /// The instance: prepared, unless `vacant`.
    pub(crate) node: Box<dyn Node>,
    /// The instance was never prepared: a reload planned it to keep the running instance, which
    /// the processor moves in when it applies the swap. A schedule is never run with a vacant
    /// slot (the processor refuses such a swap instead).
    pub(crate) vacant: bool,
    /// Stable path (for reports).
    pub(crate) path: Box<str>,
    /// Input port buffers (`in`, `sidechain`).
    pub(crate) inputs: [PortBufs; 2],
    /// Output buffers.
    pub(crate) output: PortBufs,
    /// Parameters.
    pub(crate) params: Box<[ParamSlot]>,
    /// Status returned by the last `process`.
    pub(crate) status: ProcessStatus,
    /// Whether any input port is connected (sources are never skipped).
    pub(crate) has_inputs: bool,
    /// Non-finite samples this node produced (replaced by silence).
    pub(crate) nan_count: u64,
}

/// What makes a node instance reusable across a reload: same path, kind, construction options
/// and channel layout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeIdentity {
    /// Stable path.
    pub path: Box<str>,
    /// Kind.
    pub kind: &'static str,
    /// Construction options (compared by value).
    pub config: crate::registry::Config,
    /// Input channel counts (in, sidechain) and output channel count.
    pub channels: [u8; 3],
}

/// What the compiler needs to know of a prepared node instance. A reload that keeps an instance
/// takes these from the running schedule's summary instead of preparing the instance again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    /// The node's own latency ([`Node::latency_frames`]).
    pub latency_frames: u32,
    /// Where its output ends ([`Node::length_frames`]).
    pub length_frames: Option<u64>,
    /// For a feedback node, its shortest delay (the block limit of the loop).
    pub min_delay_frames: Option<usize>,
}

impl NodeFacts {
    /// The facts of a prepared instance.
    pub(crate) fn of(node: &mut dyn Node) -> Self {
        Self {
            latency_frames: node.latency_frames(),
            length_frames: node.length_frames(),
            min_delay_frames: node.as_feedback().map(|f| f.min_delay_frames()),
        }
    }
}

/// What a latency-compensation delay line carries: the connection (source and destination node
/// slots, port, source channel) and its delay. Lines with equal keys across a reload (in terms of
/// node identities) hand their contents over, so a kept path is not interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LineKey {
    /// Source node slot.
    pub src: u32,
    /// Destination node slot.
    pub dst: u32,
    /// Destination port.
    pub port: u8,
    /// Source channel.
    pub channel: u8,
    /// Delay.
    pub delay_frames: u32,
}

/// The control side's record of a schedule it sent: enough to plan the next reload.
#[derive(Clone, Debug, Default)]
pub struct ScheduleSummary {
    /// Serial of the schedule.
    pub serial: u64,
    /// Node identities in slot order.
    pub identities: Vec<NodeIdentity>,
    /// Latency at each node's input, in frames, in slot order.
    pub in_latency: Vec<u32>,
    /// What the compiler knows of each node's prepared instance, in slot order.
    pub facts: Vec<NodeFacts>,
    /// The compensation delay lines.
    pub lines: Vec<LineKey>,
    /// Fingerprint of nodes and routing.
    pub topology: u64,
    /// Frames per second.
    pub sample_rate: f64,
}

/// The compiled graph.
pub struct Schedule {
    pub(crate) steps: Box<[Step]>,
    pub(crate) nodes: Box<[NodeSlot]>,
    pub(crate) pool: BufferPool,
    pub(crate) lines: Box<[DelayLine]>,
    /// Per line: frames of silence fed in a row (the line outputs silence once this covers its
    /// delay and the block).
    pub(crate) line_quiet: Box<[u64]>,
    pub(crate) output: PortBufs,
    pub(crate) block_limit: usize,
    /// Latency from the sources to the output, in frames.
    pub latency_frames: u32,
    /// End of the longest source, in frames (0 when no source reports a length).
    pub length_frames: u64,
    /// Frames per second.
    pub sample_rate: f64,
    /// Non-fatal findings (e.g. nodes that reach no output).
    pub warnings: Vec<Error>,
    pub(crate) identities: Box<[NodeIdentity]>,
    pub(crate) topology: u64,
    /// Unique number of this schedule.
    pub(crate) serial: u64,
    /// Serial of the schedule `migrate` refers to.
    pub(crate) based_on: u64,
    /// The serial the processor publishes as running once this schedule plays: its own, or for
    /// the schedule a transition hands over to, the transition's (the one the control thread
    /// sent and waits for — the hand-over may be over before it looks).
    pub(crate) ack_serial: u64,
    /// Instances to take over on swap: (slot in this schedule, slot in the running one).
    pub(crate) migrate: Box<[(u32, u32)]>,
    /// What each delay line carries.
    pub(crate) line_keys: Box<[LineKey]>,
    /// Delay-line contents to take over on swap: (line here, line in the running one).
    pub(crate) migrate_lines: Box<[(u32, u32)]>,
    /// Latency at each node's input, in frames.
    pub(crate) in_latency: Box<[u32]>,
    /// Facts of each node's prepared instance (see [`NodeFacts`]).
    pub(crate) facts: Box<[NodeFacts]>,
    /// Slots whose instance is vacant (see [`NodeSlot::vacant`]).
    pub(crate) vacant: u32,
    /// Longest delay (compensation line or node lookahead) that starts empty when this schedule
    /// replaces the one it was planned against: a faded swap stays silent this long.
    pub(crate) fresh_latency: u32,
    /// Length of the reload crossfade in frames (0: this schedule has no fading connection).
    pub(crate) fade_len: u32,
    /// Frames the crossfade waits before it starts: the longest fresh delay (a compensation line
    /// on a new connection starts empty), so a new path rises from silence, not mid-waveform.
    pub(crate) fade_delay: u32,
    /// Frames of the crossfade done so far, counting the wait (the processor advances it).
    pub(crate) fade_done: u32,
    /// For a transition schedule: the schedule that replaces it once the crossfade is done.
    pub(crate) then: Option<Box<Schedule>>,
}

impl Schedule {
    /// The control-side record of this schedule.
    pub fn summary(&self) -> ScheduleSummary {
        ScheduleSummary {
            serial: self.serial,
            identities: self.identities.to_vec(),
            in_latency: self.in_latency.to_vec(),
            facts: self.facts.to_vec(),
            lines: self.line_keys.to_vec(),
            topology: self.topology,
            sample_rate: self.sample_rate,
        }
    }

    /// Nodes whose instance this schedule must take over from the running one (never prepared
    /// here): 0 for a schedule that can run on its own.
    pub fn vacant_count(&self) -> usize {
        self.vacant as usize
    }

    /// Counts the vacant slots again after instances moved (control thread).
    pub(crate) fn recount_vacant(&mut self) {
        self.vacant = self.nodes.iter().filter(|n| n.vacant).count() as u32;
    }

    /// Fingerprint of nodes and routing: equal fingerprints mean only parameter values differ.
    pub fn topology(&self) -> u64 {
        self.topology
    }

    /// For a transition schedule (a reload that crossfades only the paths it changes): the
    /// schedule that follows once the crossfade is done.
    pub fn then(&self) -> Option<&Schedule> {
        self.then.as_deref()
    }

    /// Nodes that will keep their running instance (state) when this schedule replaces the one it
    /// was planned against.
    pub fn migrated_count(&self) -> usize {
        self.migrate.len()
    }

    /// Whether this schedule, planned against the one with `serial` and `topology`, differs from
    /// it only in parameter values (same nodes and routing, every instance carried over): such
    /// swaps need no crossfade.
    pub(crate) fn only_parameters_differ_from(&self, serial: u64, topology: u64) -> bool {
        self.based_on == serial
            && self.topology == topology
            && self.migrate.len() == self.nodes.len()
    }

    /// The steps, for inspection and golden tests.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The steps and every node's port buffers as plain data (a copy), for validation and
    /// inspection. Control thread; allocates.
    pub fn layout(&self) -> ScheduleLayout {
        ScheduleLayout {
            steps: self.steps.to_vec(),
            nodes: self
                .nodes
                .iter()
                .zip(self.identities.iter())
                .map(|(n, id)| NodeLayout {
                    inputs: n.inputs,
                    output: n.output,
                    ports: n.node.desc().inputs.iter().map(|p| p.channels).collect(),
                    channels: id.channels,
                })
                .collect(),
            buffers: self.pool.len(),
            lines: self.lines.len(),
            output: self.output,
            block_limit: self.block_limit,
        }
    }

    /// Checks the schedule against everything the processor relies on (see
    /// [`ScheduleLayout::validate`]). `compile` runs this on every schedule in debug and test
    /// builds, and the parallel runner before it plans one. Control thread; allocates.
    pub fn validate(&self) -> Result<(), Vec<Violation>> {
        self.layout().validate()
    }

    /// Number of channel buffers in the pool (the liveness allocator reuses them).
    pub fn buffer_count(&self) -> usize {
        self.pool.len()
    }

    /// Number of nodes scheduled.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Output channel count.
    pub fn output_channels(&self) -> usize {
        self.output.len as usize
    }

    /// Nodes that produced NaN or infinity, with how many samples were replaced by silence.
    pub fn nan_report(&self) -> Vec<(String, u64)> {
        self.nodes
            .iter()
            .filter(|n| n.nan_count > 0)
            .map(|n| (n.path.to_string(), n.nan_count))
            .collect()
    }

    /// Node paths in schedule order.
    pub fn node_paths(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| &*n.path)
    }

    /// Each node's path and last status (diagnostics).
    pub fn debug_statuses(&self) -> Vec<(String, ProcessStatus)> {
        self.nodes
            .iter()
            .map(|n| (n.path.to_string(), n.status))
            .collect()
    }

    /// Whether any node needs an analysis pass before the real render.
    pub fn needs_analysis(&self) -> bool {
        self.nodes.iter().any(|n| n.node.needs_analysis())
    }

    /// Tells every node an analysis pass is complete (control thread).
    pub fn finish_analysis(&mut self) {
        for n in self.nodes.iter_mut() {
            n.node.finish_analysis();
        }
    }

    /// What the nodes learned in an analysis pass, by node path (see
    /// [`crate::node::Node::analysis_state`]). Control thread.
    pub fn analysis_states(
        &self,
    ) -> Vec<(Box<str>, std::sync::Arc<dyn std::any::Any + Send + Sync>)> {
        self.nodes
            .iter()
            .filter_map(|n| n.node.analysis_state().map(|s| (n.path.clone(), s)))
            .collect()
    }

    /// Hands the states of a previous pass to this schedule's fresh instances, by node path.
    /// Control thread, before the schedule runs.
    pub fn resume_analysis(
        &mut self,
        states: &[(Box<str>, std::sync::Arc<dyn std::any::Any + Send + Sync>)],
    ) {
        if states.is_empty() {
            return;
        }
        let by_path: std::collections::HashMap<&str, _> =
            states.iter().map(|(p, s)| (&**p, s)).collect();
        for n in self.nodes.iter_mut() {
            if let Some(s) = by_path.get(&*n.path) {
                n.node.resume_analysis((*s).clone());
            }
        }
    }

    /// Gain reduction of the last limiter in the schedule (the master's), `(max_db, avg_db)`.
    pub fn limiter_stats(&self) -> Option<(f64, f64)> {
        self.nodes
            .iter()
            .rev()
            .find_map(|n| n.node.gain_reduction_stats())
    }

    /// The loudness target of the last loudness node, if any.
    pub fn loudness_target(&self) -> Option<f64> {
        self.nodes
            .iter()
            .rev()
            .find_map(|n| n.node.loudness_target())
    }

    /// Report lines of nodes, prefixed with their path.
    pub fn reports(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|n| n.node.report().map(|r| format!("{}: {r}", n.path)))
            .collect()
    }

    /// The files nodes ask to write when a render ends (a plugin's `state_out`): destination
    /// and contents, or why there are none. Control thread.
    pub fn state_outputs(&mut self) -> Vec<(PathBuf, Result<Vec<u8>, String>)> {
        self.nodes
            .iter_mut()
            .filter_map(|n| n.node.state_output())
            .collect()
    }

    /// The first failure a node recorded (see [`Node::failure`]), naming the node.
    pub fn failure(&self) -> Option<Error> {
        self.nodes.iter().find_map(|n| {
            n.node.failure().map(|e| {
                let mut e = e.clone();
                e.message = format!("{}: {}", n.path, e.message).into();
                e
            })
        })
    }

    /// Whether every node reported silence in the last block.
    pub fn all_silent(&self) -> bool {
        self.nodes.iter().all(|n| n.status == ProcessStatus::Silent)
    }

    /// A readable listing of the steps (`mixdown graph --schedule`, golden tests).
    pub fn dump(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# {} nodes, {} buffers, {} steps, latency {} frames",
            self.nodes.len(),
            self.pool.len(),
            self.steps.len(),
            self.latency_frames
        );
        for st in self.steps.iter() {
            let _ = match *st {
                Step::Clear { buf } => writeln!(s, "clear b{buf}"),
                Step::Mix { src, dst, gain } => writeln!(s, "mix b{src} -> b{dst} x{gain}"),
                Step::MixFade {
                    src,
                    dst,
                    gain,
                    fade_in,
                } => writeln!(
                    s,
                    "mix b{src} -> b{dst} x{gain} fading {}",
                    if fade_in { "in" } else { "out" }
                ),
                Step::Delay { line, src, dst } => writeln!(
                    s,
                    "delay b{src} -> b{dst} by {}",
                    self.lines[line as usize].delay_frames()
                ),
                Step::Process { node } => {
                    let n = &self.nodes[node as usize];
                    writeln!(
                        s,
                        "process {} [{}] in {:?} sc {:?} -> {:?}",
                        n.path,
                        n.node.desc().kind,
                        n.inputs[0].as_slice(),
                        n.inputs[1].as_slice(),
                        n.output.as_slice()
                    )
                }
                Step::FeedbackRead { node } => {
                    writeln!(s, "feedback-read {}", self.nodes[node as usize].path)
                }
                Step::FeedbackWrite { node } => {
                    writeln!(s, "feedback-write {}", self.nodes[node as usize].path)
                }
            };
        }
        s
    }
}
