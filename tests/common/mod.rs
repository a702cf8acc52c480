//! Helpers shared by the engine-core integration tests: graph building, running the processor
//! and small test-only nodes. Each test file uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use mixdown::graph::{compile, CompileConfig, GraphSpec, NodeKey, Schedule, Session};
use mixdown::node::{
    Node, NodeDesc, PortDesc, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW,
    SIDECHAIN_FOLLOW,
};
use mixdown::nodes::Clip;
use mixdown::rt::Processor;
use mixdown::Span;

/// Session rate used by most tests.
pub const SR: f64 = 48000.0;

/// An empty graph at 48 kHz.
pub fn spec() -> GraphSpec {
    GraphSpec::new(Session {
        sample_rate: SR,
        ..Session::default()
    })
}

/// A span in the pretend script `mix.lua`.
pub fn line(n: u32) -> Option<Span> {
    Some(Span::new("mix.lua", n))
}

/// `len` zeros with a 1.0 at each of `at`.
pub fn impulses(len: usize, at: &[usize]) -> Vec<f32> {
    let mut v = vec![0.0; len];
    for &i in at {
        v[i] = 1.0;
    }
    v
}

/// Adds a mono clip of `data` starting at frame 0.
pub fn add_clip(g: &mut GraphSpec, path: &str, data: Vec<f32>) -> NodeKey {
    g.add(path, Clip::new(vec![data], 0), None).unwrap()
}

/// Compiles offline, panicking with the full error text.
pub fn build(g: &GraphSpec) -> Schedule {
    compile(g, CompileConfig::default()).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

/// Runs `frames` frames through a processor in host blocks of `host_block`, returning planar
/// output with the schedule's own channel count (no latency shift, no trimming).
pub fn run(schedule: Schedule, frames: usize, host_block: usize) -> Vec<Vec<f32>> {
    let ch = schedule.output_channels();
    let mut p = Processor::new(schedule);
    run_processor(&mut p, ch, frames, host_block)
}

/// Runs an existing processor for `frames` frames into `ch` host channels.
pub fn run_processor(
    p: &mut Processor,
    ch: usize,
    frames: usize,
    host_block: usize,
) -> Vec<Vec<f32>> {
    let mut out = vec![Vec::with_capacity(frames); ch];
    let mut bufs = vec![vec![0.0f32; host_block]; ch];
    let mut done = 0;
    while done < frames {
        let n = host_block.min(frames - done);
        let mut views: Vec<&mut [f32]> = bufs.iter_mut().map(|b| &mut b[..n]).collect();
        p.process(&mut views);
        for (o, b) in out.iter_mut().zip(&bufs) {
            o.extend_from_slice(&b[..n]);
        }
        done += n;
    }
    out
}

/// Indices and values of the non-zero samples of `x`.
pub fn nonzero(x: &[f32]) -> Vec<(usize, f32)> {
    x.iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(i, v)| (i, *v))
        .collect()
}

static LOOKAHEAD_DESC: NodeDesc = NodeDesc {
    kind: "test_lookahead",
    inputs: &[IN_FOLLOW],
    params: &[],
};

/// A test-only lookahead stage: delays its input by `n` frames and says so through
/// `latency_frames`, like a lookahead limiter would.
#[derive(Clone, Debug)]
pub struct Lookahead {
    n: usize,
    hist: Vec<Vec<f32>>,
    pos: usize,
    quiet: usize,
}

impl Lookahead {
    /// A lookahead of `n` frames (n ≥ 1).
    pub fn new(n: usize) -> Self {
        Self {
            n,
            hist: Vec::new(),
            pos: 0,
            quiet: 0,
        }
    }
}

impl Node for Lookahead {
    fn desc(&self) -> &'static NodeDesc {
        &LOOKAHEAD_DESC
    }

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        self.hist = vec![vec![0.0; self.n]; cfg.output_channels];
        self.pos = 0;
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let inp = cx.input(0);
        let start = self.pos;
        for (c, out) in cx.outputs.iter_mut().enumerate() {
            let h = &mut self.hist[c];
            let mut p = start;
            for (i, y) in out.iter_mut().enumerate() {
                *y = h[p];
                h[p] = inp[c][i];
                p = (p + 1) % self.n;
            }
        }
        self.pos = (start + cx.frames) % self.n;
        if cx.input_silent {
            self.quiet += cx.frames;
            if self.quiet >= self.n + cx.frames {
                return ProcessStatus::Silent;
            }
            return ProcessStatus::Tail(self.n as u32);
        }
        self.quiet = 0;
        ProcessStatus::Continue
    }

    fn latency_frames(&self) -> u32 {
        self.n as u32
    }
}

static SC_SUM_DESC: NodeDesc = NodeDesc {
    kind: "test_sidechain_sum",
    inputs: &[IN_FOLLOW, SIDECHAIN_FOLLOW],
    params: &[],
};

/// A test-only node with an `in` and a `sidechain` port whose output is `in + sidechain`
/// (channel by channel), so a test can see whether the two ports arrive aligned.
#[derive(Clone, Debug, Default)]
pub struct SidechainSum;

impl Node for SidechainSum {
    fn desc(&self) -> &'static NodeDesc {
        &SC_SUM_DESC
    }

    fn prepare(&mut self, _cfg: &ProcessConfig) -> Result<(), String> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let (a, b) = (cx.input(0), cx.input(1));
        for (c, out) in cx.outputs.iter_mut().enumerate() {
            for (i, y) in out.iter_mut().enumerate() {
                let sc = b.get(c).map_or(0.0, |s| s[i]);
                *y = a[c][i] + sc;
            }
        }
        if cx.input_silent {
            ProcessStatus::Silent
        } else {
            ProcessStatus::Continue
        }
    }
}

/// A port description with a fixed channel count (for channel-adaptation tests).
pub const fn fixed_port(name: &'static str, channels: u16) -> PortDesc {
    PortDesc {
        name,
        channels: mixdown::node::Channels::Fixed(channels),
    }
}
