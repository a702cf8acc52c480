//! The node model: what every processing node declares and implements.
//!
//! Lifecycle (nih-plug's): a node is built on a control thread, [`Node::prepare`]d once (it may
//! allocate there), then [`Node::process`]ed on the audio thread, which never allocates, locks,
//! blocks or does I/O. [`Node::reset`] clears state without allocating.
//!
//! Ports are declared in a [`NodeDesc`]; the compiler resolves channel counts and adapts mono,
//! stereo and multichannel connections by fixed rules, so a node sees exactly the channel counts
//! it was prepared with.

use crate::buffer::MAX_CHANNELS;
use crate::param::ParamDesc;

/// Whether the engine runs against a sound card or renders to a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Live playback: never wait for anything.
    Realtime,
    /// Offline render: sources read their files themselves, block by block; output must be
    /// deterministic.
    Offline,
}

/// Channel count rule of an input port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channels {
    /// Exactly this many channels; the compiler up- or down-mixes what is connected.
    Fixed(u16),
    /// As many as the widest connection (1 if nothing is connected).
    Follow,
}

/// One input port.
#[derive(Clone, Copy, Debug)]
pub struct PortDesc {
    /// Port name as used in routing (`"in"`, `"sidechain"`).
    pub name: &'static str,
    /// Channel rule.
    pub channels: Channels,
}

/// The main input port with a follow-the-input channel count.
pub const IN_FOLLOW: PortDesc = PortDesc {
    name: "in",
    channels: Channels::Follow,
};

/// A sidechain port with a follow-the-input channel count.
pub const SIDECHAIN_FOLLOW: PortDesc = PortDesc {
    name: "sidechain",
    channels: Channels::Follow,
};

/// Static description of a node kind.
#[derive(Debug)]
pub struct NodeDesc {
    /// Kind name (`"gain"`, `"comp"`), used in messages and for reload matching.
    pub kind: &'static str,
    /// Input ports in order (`in` first, then `sidechain`, …). Every node has one output, `out`.
    pub inputs: &'static [PortDesc],
    /// Automatable parameters, addressed by index.
    pub params: &'static [ParamDesc],
}

impl NodeDesc {
    /// Index of the input port called `name`.
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|p| p.name == name)
    }

    /// Index of the parameter whose id is `id`.
    pub fn param_index(&self, id: &str) -> Option<usize> {
        self.params.iter().position(|p| p.id == id)
    }
}

/// What `prepare` gets: the stream format and the resolved channel counts.
#[derive(Clone, Debug)]
pub struct ProcessConfig {
    /// Frames per second.
    pub sample_rate: f64,
    /// The largest `frames` `process` will see.
    pub max_block: usize,
    /// Realtime or offline.
    pub mode: Mode,
    /// Channel count of each input port, in `NodeDesc::inputs` order.
    pub input_channels: Vec<usize>,
    /// Channel count of the output.
    pub output_channels: usize,
    /// Where the transport will be when this node first runs (live reloads): sources start
    /// streaming from there. 0 for offline renders.
    pub start_frame: u64,
    /// The session's explicit length (`mix.session { length_s }`), if any: open-ended sources
    /// stop there.
    pub song_length_frames: Option<u64>,
    /// For a node that asks ([`Node::wants_start_params`]), each parameter's value where it
    /// first runs, in `NodeDesc::params` order: `Some` for a parameter the script set or
    /// automated (its static value, or its automation at `start_frame`), `None` for one left at
    /// its default. A hosted plugin is set to these before it is activated, so the latency it
    /// reports is that of the script's settings, and a loaded state keeps what the script left
    /// alone. Empty for other nodes.
    pub start_params: Vec<Option<f32>>,
}

/// Returned by `process`: lets the processor skip silent branches and offline render stop once
/// every tail has rung out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessStatus {
    /// Producing sound (or may at any moment).
    Continue,
    /// The input has gone silent but the output still rings for about this many frames.
    Tail(u32),
    /// The output of this block is silence, and stays so while the inputs are silent.
    Silent,
}

/// Position of the block being processed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Transport {
    /// Sample index of the first frame of the block, counted from the start of the song.
    pub position: u64,
    /// Frames per second.
    pub sample_rate: f64,
    /// Whether playback is running (false while paused: sources output silence).
    pub playing: bool,
}

/// A parameter as evaluated for one block: constant, or one value per frame.
#[derive(Clone, Copy, Debug)]
pub enum ParamValue<'a> {
    /// The same value for the whole block.
    Const(f32),
    /// Per-frame values (automation ramp or smoothing in progress).
    Varying(&'a [f32]),
}

impl ParamValue<'_> {
    /// The value at frame `i`.
    #[inline]
    pub fn at(&self, i: usize) -> f32 {
        match self {
            ParamValue::Const(v) => *v,
            ParamValue::Varying(s) => s[i],
        }
    }

    /// The value at the last frame (for per-block coefficient updates).
    #[inline]
    pub fn last(&self) -> f32 {
        match self {
            ParamValue::Const(v) => *v,
            ParamValue::Varying(s) => *s.last().unwrap_or(&0.0),
        }
    }

    /// Whether the value is constant over the block.
    #[inline]
    pub fn is_const(&self) -> bool {
        matches!(self, ParamValue::Const(_))
    }
}

/// Everything a node sees in one `process` call.
pub struct ProcessContext<'a> {
    /// Frames in this block (1..=max_block).
    pub frames: usize,
    /// Input ports, each a list of channel slices of `frames` samples.
    pub inputs: [&'a [&'a [f32]]; 2],
    /// Output channels, each `frames` samples. Never aliases an input.
    pub outputs: &'a mut [&'a mut [f32]],
    /// Parameters evaluated for this block, in `NodeDesc::params` order.
    pub params: &'a [ParamValue<'a>],
    /// Transport position.
    pub transport: Transport,
    /// Whether every input buffer is silence this block (stateless nodes may return `Silent`).
    pub input_silent: bool,
}

impl<'a> ProcessContext<'a> {
    /// Input port `i` (empty if the node has no such port).
    #[inline]
    pub fn input(&self, port: usize) -> &'a [&'a [f32]] {
        self.inputs.get(port).copied().unwrap_or(&[])
    }

    /// Parameter `i`.
    #[inline]
    pub fn param(&self, i: usize) -> ParamValue<'a> {
        self.params[i]
    }

    /// Copies input port 0 to the output (channel counts equal by construction).
    pub fn pass_through(&mut self) {
        let inp = self.input(0);
        for (o, i) in self.outputs.iter_mut().zip(inp) {
            o.copy_from_slice(i);
        }
    }
}

/// A processing node.
pub trait Node: Send + 'static {
    /// Ports and parameters.
    fn desc(&self) -> &'static NodeDesc;

    /// Output channel count for the given resolved input channel counts. Called on the control
    /// thread before `prepare`. Default: the channel count of input 0, or 1.
    fn output_channels(&self, input_channels: &[usize]) -> usize {
        input_channels.first().copied().unwrap_or(1).max(1)
    }

    /// Sets up for the given format. May allocate. Control thread. An error (a design the
    /// sample rate cannot take, say) is a compile error naming the node and its script line;
    /// a node whose `prepare` failed never runs.
    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String>;

    /// Clears all state (filter memories, envelopes, positions). Must not allocate.
    fn reset(&mut self);

    /// Processes one block. Must not allocate, free, lock, block, log or panic.
    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus;

    /// About how many bytes `prepare` will allocate for this configuration (delay lines,
    /// rings). The compiler refuses a graph whose nodes together would need more than
    /// [`crate::graph::compile::MAX_STATE_BYTES`], before preparing any. Default: a few blocks.
    fn state_bytes(&self, cfg: &ProcessConfig) -> usize {
        4 * cfg.max_block * cfg.output_channels.max(1) * std::mem::size_of::<f32>()
    }

    /// Latency this node adds, in frames, valid after `prepare`. The compiler delays parallel
    /// paths to match.
    fn latency_frames(&self) -> u32 {
        0
    }

    /// For sources: the frame after their last sound (start offset + length), for render length.
    fn length_frames(&self) -> Option<u64> {
        None
    }

    /// Nodes that may close a feedback loop (the delay node) expose a split read/write interface.
    fn as_feedback(&mut self) -> Option<&mut dyn FeedbackNode> {
        None
    }

    /// Feedback capability without a mutable borrow (checked by the compiler).
    fn supports_feedback(&self) -> bool {
        false
    }

    /// Whether the node must hear the whole programme before the real render (two-pass
    /// loudness). Offline render runs analysis passes while any node says so.
    fn needs_analysis(&self) -> bool {
        false
    }

    /// Called on the control thread after an analysis pass over the whole programme.
    fn finish_analysis(&mut self) {}

    /// What an analysis pass learned, handed to the fresh instance of the next pass (each pass
    /// compiles the graph anew). Control thread.
    fn analysis_state(&self) -> Option<std::sync::Arc<dyn std::any::Any + Send + Sync>> {
        None
    }

    /// Takes over the state a previous pass's instance of the same node returned from
    /// [`Node::analysis_state`]. Control thread, after `prepare`, before processing.
    fn resume_analysis(&mut self, _state: std::sync::Arc<dyn std::any::Any + Send + Sync>) {}

    /// The loudness target a node aims at (drawn on report pictures).
    fn loudness_target(&self) -> Option<f64> {
        None
    }

    /// Gain reduction over the run, `(max_db, average_db)`, for limiters (render reports).
    fn gain_reduction_stats(&self) -> Option<(f64, f64)> {
        None
    }

    /// A line for the render summary (e.g. the gain a loudness node applied), after a render.
    fn report(&self) -> Option<String> {
        None
    }

    /// Whether `prepare` wants [`ProcessConfig::start_params`] (computing them costs a
    /// timeline evaluation per automated parameter, so only nodes that use them ask).
    fn wants_start_params(&self) -> bool {
        false
    }

    /// A file to write when an offline render ends (a hosted plugin's `state_out`):
    /// destination and contents, or why it cannot be made. Control thread.
    fn state_output(&mut self) -> Option<(std::path::PathBuf, Result<Vec<u8>, String>)> {
        None
    }

    /// What went wrong inside the node during a render, if anything did (an offline player
    /// whose file could not be read to the end). An offline render that ends with a failure
    /// fails with it, and writes no output file.
    fn failure(&self) -> Option<&crate::error::Error> {
        None
    }
}

/// A node that can sit on a feedback loop: its output for a block is read before its input for
/// that block is written, which works as long as its delay is at least one block.
pub trait FeedbackNode {
    /// Writes the next `out[0].len()` frames of delayed output.
    fn read(&mut self, outputs: &mut [&mut [f32]], params: &[ParamValue<'_>]);
    /// Feeds the block's input.
    fn write(&mut self, inputs: &[&[f32]], params: &[ParamValue<'_>]);
    /// The smallest delay, in frames, the node will apply (the processor uses blocks no longer).
    fn min_delay_frames(&self) -> usize;
}

/// Channel adaptation gains for connecting `from` channels to `to` channels (Web Audio's
/// "speakers" rules): returns the gain of source channel `s` into destination channel `d`.
///
/// - equal counts: identity;
/// - mono → stereo (or more): the mono signal on L and R (and nowhere else for 5.1);
/// - stereo → mono: (L + R) / 2;
/// - 5.1 (L R C LFE Ls Rs) → stereo: L + 0.7071·(C + Ls), R + 0.7071·(C + Rs); LFE dropped;
/// - 5.1 → mono: 0.7071·(L + R) + C + 0.5·(Ls + Rs);
/// - anything else: discrete (channel i to channel i, extra dropped or left silent).
pub fn mix_gain(from: usize, to: usize, s: usize, d: usize) -> f32 {
    const H: f32 = std::f32::consts::FRAC_1_SQRT_2;
    if from == to {
        return if s == d { 1.0 } else { 0.0 };
    }
    match (from, to) {
        (1, _) => {
            if to >= 2 && d < 2 || to == 1 {
                1.0
            } else {
                0.0
            }
        }
        (2, 1) => 0.5,
        (6, 2) => match (s, d) {
            (0, 0) | (1, 1) => 1.0,
            (2, _) | (4, 0) | (5, 1) => H,
            _ => 0.0,
        },
        (6, 1) => match s {
            0 | 1 => H,
            2 => 1.0,
            4 | 5 => 0.5,
            _ => 0.0,
        },
        _ => {
            if s == d {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// Asserts at compile time that a channel count fits a port.
pub const fn fits(channels: usize) -> bool {
    channels >= 1 && channels <= MAX_CHANNELS
}
