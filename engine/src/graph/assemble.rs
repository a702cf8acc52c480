//! Buffer assignment and the mixing steps in front of each input port, for [`super::compile`]:
//! a port fed by one connection of the right width and no compensation reads its source's buffers
//! directly; otherwise the port gets its own buffers, cleared, and each connection is mixed in
//! (delayed first when its path is shorter, faded when a reload crossfades it).

use super::schedule::{LineKey, PortBufs, Step};
use super::spec::EdgeFade;
use crate::dsp::delay_line::DelayLine;
use crate::node::mix_gain;
use petgraph::stable_graph::EdgeIndex;

/// One incoming connection of a node, in dense node indices.
pub(super) struct Edge {
    pub src: usize,
    pub port: usize,
    pub id: EdgeIndex,
    pub fade: EdgeFade,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn assemble_port(
    b: &mut Builder,
    lines: &mut Vec<DelayLine>,
    line_keys: &mut Vec<LineKey>,
    dst: usize,
    incoming: &[Edge],
    port: usize,
    channels: usize,
    out_ch: &[usize],
    out_bufs: &[PortBufs],
    out_lat: &[u64],
    target_lat: u64,
    zero: u32,
    reaches: &[bool],
    fwd: &dyn Fn(&Edge) -> bool,
    owned: &mut Vec<PortBufs>,
) -> PortBufs {
    let edges: Vec<&Edge> = incoming
        .iter()
        .filter(|e| e.port == port && reaches[e.src])
        .collect();
    let comp = |e: &Edge| {
        if fwd(e) {
            target_lat.saturating_sub(out_lat[e.src])
        } else {
            0
        }
    };
    if edges.is_empty() {
        let mut pb = PortBufs::default();
        for c in 0..channels {
            pb.bufs[c] = zero;
        }
        pb.len = channels as u8;
        return pb;
    }
    if edges.len() == 1
        && out_ch[edges[0].src] == channels
        && comp(edges[0]) == 0
        && edges[0].fade == EdgeFade::None
    {
        return out_bufs[edges[0].src];
    }
    let pb = b.alloc_port(channels);
    owned.push(pb);
    for &c in pb.as_slice() {
        b.steps.push(Step::Clear { buf: c });
    }
    for e in edges {
        let from = out_ch[e.src];
        let mut src = out_bufs[e.src];
        let delay = comp(e);
        let mut tmp = None;
        if delay > 0 {
            let t = b.alloc_port(from);
            for c in 0..from {
                let line = lines.len() as u32;
                lines.push(DelayLine::new(delay as usize));
                // Dense indices for now; `compile` maps them to slots.
                line_keys.push(LineKey {
                    src: e.src as u32,
                    dst: dst as u32,
                    port: port as u8,
                    channel: c as u8,
                    delay_frames: delay as u32,
                });
                b.steps.push(Step::Delay {
                    line,
                    src: src.bufs[c],
                    dst: t.bufs[c],
                });
            }
            src = t;
            tmp = Some(t);
        }
        for s in 0..from {
            for d in 0..channels {
                let g = mix_gain(from, channels, s, d);
                if g == 0.0 {
                    continue;
                }
                let (src, dst) = (src.bufs[s], pb.bufs[d]);
                b.steps.push(match e.fade {
                    EdgeFade::None => Step::Mix { src, dst, gain: g },
                    EdgeFade::In | EdgeFade::Out => Step::MixFade {
                        src,
                        dst,
                        gain: g,
                        fade_in: e.fade == EdgeFade::In,
                    },
                });
            }
        }
        if let Some(t) = tmp {
            b.free_port(t);
        }
    }
    pb
}

#[allow(clippy::too_many_arguments)]
pub(super) fn release_sources(
    b: &mut Builder,
    incoming: &[Edge],
    readers: &mut [usize],
    out_bufs: &[PortBufs],
    reaches: &[bool],
    out_dense: usize,
    fwd: &dyn Fn(&Edge) -> bool,
    forward_only: bool,
) {
    for e in incoming {
        if !reaches[e.src] || (forward_only && !fwd(e)) {
            continue;
        }
        readers[e.src] -= 1;
        if readers[e.src] == 0 && e.src != out_dense {
            b.free_port(out_bufs[e.src]);
        }
    }
}

#[derive(Default)]
pub(super) struct Builder {
    pub steps: Vec<Step>,
    pub free: Vec<u32>,
    /// Whether each buffer is on the free list (keeps freeing linear in the graph's size).
    pub is_free: Vec<bool>,
    pub count: u32,
    pub no_reuse: bool,
}

impl Builder {
    pub fn alloc(&mut self) -> u32 {
        if let Some(i) = self.free.pop() {
            self.is_free[i as usize] = false;
            return i;
        }
        self.count += 1;
        self.is_free.push(false);
        self.count - 1
    }

    pub fn alloc_port(&mut self, channels: usize) -> PortBufs {
        let mut pb = PortBufs::default();
        for c in 0..channels {
            pb.bufs[c] = self.alloc();
        }
        pb.len = channels as u8;
        pb
    }

    pub fn free_port(&mut self, pb: PortBufs) {
        if self.no_reuse {
            return;
        }
        // Reverse so the next allocation reuses the lowest indices first (stable dumps).
        for &i in pb.as_slice().iter().rev() {
            if !self.is_free[i as usize] {
                self.is_free[i as usize] = true;
                self.free.push(i);
            }
        }
    }
}
