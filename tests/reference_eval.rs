//! Property test: random DAGs of gain / pan / bus / delay / polarity / mute nodes (and a
//! test-only lookahead that reports latency) fed by clips, with random fan-in, fan-out,
//! mono/stereo mixes and automation, compiled and run by the engine, against a naive reference
//! evaluator written here: every node has its own buffers, each block pulls its inputs
//! recursively, edges are summed in (port, source creation order), channels are adapted with
//! `node::mix_gain` and every edge is delayed by the latency its path lacks. The results must be bit-identical (zeros compared without
//! their sign: the engine may write +0.0 where the arithmetic gives −0.0 for silent blocks).

mod common;

use std::collections::HashMap;

use common::*;
use mixdown::dsp::denormal::FlushDenormals;
use mixdown::graph::{GraphSpec, NodeKey};
use mixdown::node::mix_gain;
use mixdown::nodes::{Clip, Delay, DelayTime, Gain, Mute, Pan, Polarity, Sum};
use mixdown::param::AutomationEvent;
use mixdown::render::{render_to_vec, RenderOptions};
use mixdown::units::db_to_gain;
use proptest::prelude::*;
use proptest::sample::Index;

#[derive(Clone, Debug)]
enum Kind {
    Gain { db: f32 },
    Pan { p: f32 },
    Sum { ch: usize },
    Delay { frames: u64, db: f32 },
    Polarity { invert: bool },
    Mute { on: bool },
    Lookahead { n: usize },
}

/// One automation event: (linear ramp?, frames after the previous event, value in 0..1 mapped
/// onto the parameter's range).
type Event = (bool, u16, f32);

#[derive(Clone, Debug)]
struct ProcDesc {
    kind: Kind,
    inputs: Vec<Index>,
    auto: Option<Vec<Event>>,
    dangling: bool,
}

#[derive(Clone, Debug)]
struct ClipDesc {
    channels: Vec<Vec<f32>>,
    start: u64,
}

#[derive(Clone, Debug)]
struct Case {
    clips: Vec<ClipDesc>,
    procs: Vec<ProcDesc>,
    master_ch: usize,
    /// Long chain with local branches (inputs from the last few nodes), for the buffer check.
    chain: bool,
    /// Creation order: a permutation of the logical node indices (clips, procs, master).
    perm: Vec<usize>,
    host_block: usize,
    render_block: usize,
    ref_block: usize,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        (-24.0f32..3.0).prop_map(|db| Kind::Gain { db }),
        (-1.0f32..1.0).prop_map(|p| Kind::Pan { p }),
        (0usize..3).prop_map(|ch| Kind::Sum { ch }),
        (0u64..300, -24.0f32..3.0).prop_map(|(frames, db)| Kind::Delay { frames, db }),
        any::<bool>().prop_map(|invert| Kind::Polarity { invert }),
        any::<bool>().prop_map(|on| Kind::Mute { on }),
        (1usize..200).prop_map(|n| Kind::Lookahead { n }),
    ]
}

fn proc_desc() -> impl Strategy<Value = ProcDesc> {
    (
        kind(),
        prop::collection::vec(any::<Index>(), 1..4),
        prop::option::weighted(
            0.4,
            prop::collection::vec((any::<bool>(), 0u16..600, 0.0f32..1.0), 1..5),
        ),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(kind, inputs, auto, dangling)| ProcDesc {
            kind,
            inputs,
            auto,
            dangling,
        })
}

fn clip() -> impl Strategy<Value = ClipDesc> {
    (1usize..=2, 1usize..1200, 0u64..600).prop_flat_map(|(ch, len, start)| {
        (
            prop::collection::vec(prop::collection::vec(-1.0f32..1.0, len), ch),
            Just(start),
        )
            .prop_map(|(channels, start)| ClipDesc { channels, start })
    })
}

fn block() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![1usize, 17, 64, 100, 512, 1024])
}

fn case() -> impl Strategy<Value = Case> {
    prop::bool::weighted(0.25)
        .prop_flat_map(|chain| {
            let (nclips, nprocs) = if chain { (1..4, 28..45) } else { (1..5, 1..13) };
            (
                prop::collection::vec(clip(), nclips),
                prop::collection::vec(proc_desc(), nprocs),
                prop::sample::select(vec![0usize, 2]),
                Just(chain),
                (block(), block(), block()),
            )
        })
        .prop_flat_map(|(clips, procs, master_ch, chain, blocks)| {
            let n = clips.len() + procs.len() + 1;
            (
                Just((clips, procs, master_ch, chain, blocks)),
                Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            )
        })
        .prop_map(
            |((clips, procs, master_ch, chain, (host_block, render_block, ref_block)), perm)| {
                Case {
                    clips,
                    procs,
                    master_ch,
                    chain,
                    perm,
                    host_block,
                    render_block,
                    ref_block,
                }
            },
        )
}

/// The graph in logical form: node `i`'s inputs (logical indices, in connection order).
struct Logical {
    inputs: Vec<Vec<usize>>,
    master: usize,
    nclips: usize,
}

fn logical(c: &Case) -> Logical {
    let nclips = c.clips.len();
    let n = nclips + c.procs.len();
    let mut inputs: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    let mut consumed = vec![false; n];
    for (j, p) in c.procs.iter().enumerate() {
        let me = nclips + j;
        let cands: Vec<usize> = if c.chain {
            (me.saturating_sub(3)..me).collect()
        } else {
            (0..me).collect()
        };
        let mut ins: Vec<usize> = p.inputs.iter().map(|ix| *ix.get(&cands)).collect();
        if c.chain {
            ins[0] = me - 1;
        }
        for &i in &ins {
            consumed[i] = true;
        }
        inputs[me] = ins;
    }
    // The master takes every node nobody consumed, except dangling processors (never the last).
    for (i, used) in consumed.iter().enumerate() {
        let dangling = i >= nclips && i + 1 < n && c.procs[i - nclips].dangling;
        if !used && !dangling {
            inputs[n].push(i);
        }
    }
    Logical {
        inputs,
        master: n,
        nclips,
    }
}

fn auto_value(kind: &Kind, u: f32) -> f32 {
    match kind {
        Kind::Gain { .. } | Kind::Delay { .. } => -24.0 + 27.0 * u,
        Kind::Pan { .. } => -1.0 + 2.0 * u,
        Kind::Polarity { .. } | Kind::Mute { .. } => f32::from(u >= 0.5),
        Kind::Sum { .. } | Kind::Lookahead { .. } => 0.0,
    }
}

/// Automation events as (linear?, frame, value), frames strictly increasing.
fn events(kind: &Kind, ev: &[Event]) -> Vec<(bool, u64, f32)> {
    let mut t = 0u64;
    ev.iter()
        .enumerate()
        .map(|(k, (lin, gap, u))| {
            t += u64::from(*gap) + u64::from(k > 0 && *gap == 0);
            (*lin, t, auto_value(kind, *u))
        })
        .collect()
}

fn initial(kind: &Kind) -> Option<(&'static str, f32)> {
    match *kind {
        Kind::Gain { db } => Some(("gain_db", db)),
        Kind::Pan { p } => Some(("pan", p)),
        Kind::Delay { db, .. } => Some(("gain_db", db)),
        Kind::Polarity { invert } => Some(("invert", f32::from(invert))),
        Kind::Mute { on } => Some(("mute", f32::from(on))),
        Kind::Sum { .. } | Kind::Lookahead { .. } => None,
    }
}

fn delay_frames(c: &Case, frames: u64) -> u64 {
    if c.chain {
        frames % 64
    } else {
        frames
    }
}

fn lookahead_frames(c: &Case, n: usize) -> usize {
    if c.chain {
        n % 32 + 1
    } else {
        n
    }
}

/// Builds the engine's graph, creating nodes in `perm` order.
fn build_spec(c: &Case, l: &Logical) -> GraphSpec {
    let mut g = spec();
    let mut keys: HashMap<usize, NodeKey> = HashMap::new();
    for &i in &c.perm {
        let path = format!("n{i}");
        let key = if i < l.nclips {
            let cl = &c.clips[i];
            g.add(path, Clip::new(cl.channels.clone(), cl.start), None)
        } else if i == l.master {
            g.add(path, Sum::new(c.master_ch), None)
        } else {
            let p = &c.procs[i - l.nclips];
            let k = match p.kind {
                Kind::Gain { .. } => g.add(path, Gain, None),
                Kind::Pan { .. } => g.add(path, Pan, None),
                Kind::Sum { ch } => g.add(path, Sum::new(ch), None),
                Kind::Delay { frames, .. } => g.add(
                    path,
                    Delay::new(DelayTime::Frames(delay_frames(c, frames))),
                    None,
                ),
                Kind::Polarity { .. } => g.add(path, Polarity, None),
                Kind::Mute { .. } => g.add(path, Mute::default(), None),
                Kind::Lookahead { n } => g.add(path, Lookahead::new(lookahead_frames(c, n)), None),
            }
            .unwrap();
            if let Some((id, v)) = initial(&p.kind) {
                g.set_param(k, id, f64::from(v)).unwrap();
                for (lin, t, v) in events(&p.kind, p.auto.as_deref().unwrap_or(&[])) {
                    let t_s = t as f64 / SR;
                    let e = if lin {
                        AutomationEvent::Linear { t_s, value: v }
                    } else {
                        AutomationEvent::Set { t_s, value: v }
                    };
                    g.automate(k, id, e).unwrap();
                }
            }
            Ok(k)
        }
        .unwrap();
        keys.insert(i, key);
    }
    for (dst, ins) in l.inputs.iter().enumerate() {
        for src in ins {
            g.connect(keys[src], keys[&dst], "in", None).unwrap();
        }
    }
    g.set_output(keys[&l.master]);
    g
}

/// Value of an automated parameter at frame `n`, straight from the definition: a `Set` holds
/// from its frame on; a linear ramp runs from the previous event (time and value, or frame 0
/// and the initial value) and reaches its value exactly at its frame.
fn param_at(initial: f32, ev: &[(bool, u64, f32)], n: u64) -> f32 {
    let (mut t0, mut v0) = (0u64, f64::from(initial));
    for &(lin, t1, v1) in ev {
        if n < t1 {
            return if lin {
                let v1 = f64::from(v1);
                (v0 + (v1 - v0) * (n - t0) as f64 / (t1 - t0) as f64) as f32
            } else {
                v0 as f32
            };
        }
        (t0, v0) = (t1, f64::from(v1));
    }
    v0 as f32
}

type Planar = Vec<Vec<f32>>;

/// The naive evaluator.
struct Reference<'a> {
    c: &'a Case,
    l: &'a Logical,
    /// Creation index of each logical node (the engine sums edges in this order).
    created: Vec<usize>,
    out_ch: Vec<usize>,
    /// Latency at each node's input and output.
    in_lat: Vec<usize>,
    out_lat: Vec<usize>,
    reach: Vec<bool>,
    /// Whole output history of every node (for the latency-compensation delays).
    hist: HashMap<usize, Planar>,
    /// Whole input history of each delay node.
    delay_hist: HashMap<usize, Planar>,
    /// Mute state: started, gain.
    mute: HashMap<usize, (bool, f32)>,
    /// Outputs of the current block.
    memo: HashMap<usize, Planar>,
}

impl<'a> Reference<'a> {
    fn new(c: &'a Case, l: &'a Logical) -> Self {
        let n = l.inputs.len();
        let mut created = vec![0; n];
        for (pos, &i) in c.perm.iter().enumerate() {
            created[i] = pos;
        }
        let mut out_ch = vec![0; n];
        let mut in_lat = vec![0; n];
        let mut out_lat = vec![0; n];
        for i in 0..n {
            in_lat[i] = l.inputs[i].iter().map(|&s| out_lat[s]).max().unwrap_or(0);
            out_lat[i] = in_lat[i]
                + match (i >= l.nclips && i < l.master).then(|| &c.procs[i - l.nclips].kind) {
                    Some(Kind::Lookahead { n }) => lookahead_frames(c, *n),
                    _ => 0,
                };
            let in_ch = l.inputs[i].iter().map(|&s| out_ch[s]).max().unwrap_or(1);
            out_ch[i] = if i < l.nclips {
                c.clips[i].channels.len()
            } else if i == l.master {
                if c.master_ch > 0 {
                    c.master_ch
                } else {
                    in_ch
                }
            } else {
                match c.procs[i - l.nclips].kind {
                    Kind::Pan { .. } => in_ch.max(2),
                    Kind::Sum { ch } if ch > 0 => ch,
                    _ => in_ch,
                }
            };
        }
        let mut reach = vec![false; n];
        let mut stack = vec![l.master];
        while let Some(i) = stack.pop() {
            if !reach[i] {
                reach[i] = true;
                stack.extend(&l.inputs[i]);
            }
        }
        Self {
            c,
            l,
            created,
            out_ch,
            in_lat,
            out_lat,
            reach,
            hist: HashMap::new(),
            delay_hist: HashMap::new(),
            mute: HashMap::new(),
            memo: HashMap::new(),
        }
    }

    fn content(&self) -> u64 {
        (0..self.l.nclips)
            .filter(|&i| self.reach[i])
            .map(|i| self.c.clips[i].start + self.c.clips[i].channels[0].len() as u64)
            .max()
            .unwrap_or(0)
    }

    fn unreachable(&self) -> usize {
        self.reach.iter().filter(|r| !**r).count()
    }

    /// Output of node `i` for frames `pos .. pos + len`.
    fn pull(&mut self, i: usize, pos: u64, len: usize) -> Planar {
        if let Some(v) = self.memo.get(&i) {
            return v.clone();
        }
        // Input port: edges sorted by source creation order (stable for parallel edges).
        let mut edges = self.l.inputs[i].clone();
        edges.sort_by_key(|&s| self.created[s]);
        let in_ch = edges.iter().map(|&s| self.out_ch[s]).max().unwrap_or(1);
        let mut srcs = Vec::new();
        for &s in &edges {
            let now = self.pull(s, pos, len);
            let comp = self.in_lat[i] - self.out_lat[s];
            let x = if comp == 0 {
                now
            } else {
                self.hist[&s]
                    .iter()
                    .map(|h| {
                        (0..len)
                            .map(|k| {
                                let t = pos as usize + k;
                                if t >= comp {
                                    h[t - comp]
                                } else {
                                    0.0
                                }
                            })
                            .collect()
                    })
                    .collect()
            };
            srcs.push((s, x, comp));
        }
        let input: Planar = if srcs.len() == 1 && self.out_ch[srcs[0].0] == in_ch && srcs[0].2 == 0
        {
            srcs[0].1.clone()
        } else {
            let mut acc = vec![vec![0.0f32; len]; in_ch];
            for (s, x, _) in &srcs {
                let from = self.out_ch[*s];
                for (sc, xs) in x.iter().enumerate() {
                    for (d, a) in acc.iter_mut().enumerate() {
                        let g = mix_gain(from, in_ch, sc, d);
                        if g != 0.0 {
                            for (o, v) in a.iter_mut().zip(xs) {
                                *o += g * v;
                            }
                        }
                    }
                }
            }
            acc
        };
        let out = self.node(i, input, pos, len);
        let h = self
            .hist
            .entry(i)
            .or_insert_with(|| vec![Vec::new(); out.len()]);
        for (h, o) in h.iter_mut().zip(&out) {
            h.extend_from_slice(o);
        }
        self.memo.insert(i, out.clone());
        out
    }

    fn node(&mut self, i: usize, x: Planar, pos: u64, len: usize) -> Planar {
        let l = self.l;
        let frames = pos..pos + len as u64;
        if i < l.nclips {
            let cl = &self.c.clips[i];
            let end = cl.start + cl.channels[0].len() as u64;
            return cl
                .channels
                .iter()
                .map(|ch| {
                    frames
                        .clone()
                        .map(|t| {
                            if t >= cl.start && t < end {
                                ch[(t - cl.start) as usize]
                            } else {
                                0.0
                            }
                        })
                        .collect()
                })
                .collect();
        }
        let out_ch = self.out_ch[i];
        let sum = |x: &Planar, m: usize| -> Planar {
            let n = x.len();
            (0..m)
                .map(|d| {
                    let mut o = vec![0.0f32; len];
                    for (s, xs) in x.iter().enumerate() {
                        let g = mix_gain(n, m, s, d);
                        if g != 0.0 {
                            for (y, v) in o.iter_mut().zip(xs) {
                                *y += g * v;
                            }
                        }
                    }
                    o
                })
                .collect()
        };
        if i == l.master {
            return sum(&x, out_ch);
        }
        let p = &self.c.procs[i - l.nclips];
        let ev = events(&p.kind, p.auto.as_deref().unwrap_or(&[]));
        let init = initial(&p.kind).map_or(0.0, |(_, v)| v);
        let param: Vec<f32> = frames.clone().map(|n| param_at(init, &ev, n)).collect();
        match p.kind {
            Kind::Sum { .. } => sum(&x, out_ch),
            Kind::Gain { .. } => x
                .iter()
                .map(|xs| {
                    xs.iter()
                        .zip(&param)
                        .map(|(v, db)| v * db_to_gain(*db))
                        .collect()
                })
                .collect(),
            Kind::Pan { .. } => {
                let law = |p: f32| -> (f32, f32) {
                    if x.len() == 1 {
                        // cos θ, sin θ for θ = (p + 1)·π/4, as sin((1 − p)·π/4), sin((1 + p)·π/4).
                        let p = p.clamp(-1.0, 1.0);
                        let q = std::f32::consts::FRAC_PI_4;
                        (((1.0 - p) * q).sin(), ((1.0 + p) * q).sin())
                    } else {
                        ((1.0 - p).min(1.0), (1.0 + p).min(1.0))
                    }
                };
                let (l_in, r_in) = (&x[0], &x[x.len() - 1]);
                let mut lo = vec![0.0; len];
                let mut ro = vec![0.0; len];
                for k in 0..len {
                    let (gl, gr) = law(param[k]);
                    lo[k] = l_in[k] * gl;
                    ro[k] = r_in[k] * gr;
                }
                vec![lo, ro]
            }
            Kind::Polarity { .. } => x
                .iter()
                .map(|xs| {
                    xs.iter()
                        .zip(&param)
                        .map(|(v, inv)| if *inv >= 0.5 { -v } else { *v })
                        .collect()
                })
                .collect(),
            Kind::Lookahead { n } => {
                let d = lookahead_frames(self.c, n);
                let hist = self
                    .delay_hist
                    .entry(i)
                    .or_insert_with(|| vec![Vec::new(); out_ch]);
                for (h, xs) in hist.iter_mut().zip(&x) {
                    h.extend_from_slice(xs);
                }
                hist.iter()
                    .map(|h| {
                        (0..len)
                            .map(|k| {
                                let t = pos as usize + k;
                                if t >= d {
                                    h[t - d]
                                } else {
                                    0.0
                                }
                            })
                            .collect()
                    })
                    .collect()
            }
            Kind::Delay { frames: d, .. } => {
                let d = delay_frames(self.c, d) as usize;
                let hist = self
                    .delay_hist
                    .entry(i)
                    .or_insert_with(|| vec![Vec::new(); out_ch]);
                for (h, xs) in hist.iter_mut().zip(&x) {
                    h.extend_from_slice(xs);
                }
                hist.iter()
                    .map(|h| {
                        (0..len)
                            .map(|k| {
                                let t = pos as usize + k;
                                let v = if t >= d { h[t - d] } else { 0.0 };
                                v * db_to_gain(param[k])
                            })
                            .collect()
                    })
                    .collect()
            }
            Kind::Mute { .. } => {
                let step = (1.0 / (5.0 * 0.001 * SR)) as f32;
                let st = self.mute.entry(i).or_insert((false, 0.0));
                if !st.0 {
                    st.1 = if param[0] >= 0.5 { 0.0 } else { 1.0 };
                    st.0 = true;
                }
                let mut g = st.1;
                let mut gains = Vec::with_capacity(len);
                for m in &param {
                    let target = if *m >= 0.5 { 0.0 } else { 1.0 };
                    g = if g < target {
                        (g + step).min(target)
                    } else {
                        (g - step).max(target)
                    };
                    gains.push(g);
                }
                st.1 = g;
                x.iter()
                    .map(|xs| xs.iter().zip(&gains).map(|(v, g)| v * g).collect())
                    .collect()
            }
        }
    }

    /// Runs `total` frames in blocks of `block`.
    fn run(&mut self, total: usize, block: usize) -> Planar {
        let _ftz = FlushDenormals::new();
        let ch = self.out_ch[self.l.master];
        let mut out = vec![Vec::with_capacity(total); ch];
        let mut pos = 0;
        while pos < total {
            let len = block.min(total - pos);
            self.memo.clear();
            let y = self.pull(self.l.master, pos as u64, len);
            for (o, v) in out.iter_mut().zip(y) {
                o.extend(v);
            }
            pos += len;
        }
        out
    }
}

fn same(a: f32, b: f32) -> bool {
    (a + 0.0).to_bits() == (b + 0.0).to_bits()
}

fn compare(what: &str, got: &Planar, want: &Planar, len: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{}: channel count", what);
    for (c, (g, w)) in got.iter().zip(want).enumerate() {
        prop_assert_eq!(g.len(), len, "{}: length of channel {}", what, c);
        if let Some(k) = (0..len).find(|&k| !same(g[k], w[k])) {
            return Err(TestCaseError::fail(format!(
                "{what}: channel {c} frame {k}: engine {} vs reference {}",
                g[k], w[k]
            )));
        }
    }
    Ok(())
}

fn check(c: &Case) -> Result<(), TestCaseError> {
    let l = logical(c);
    let g = build_spec(c, &l);
    let mut r = Reference::new(c, &l);
    let content = r.content();
    let delays: u64 = c
        .procs
        .iter()
        .filter_map(|p| match p.kind {
            Kind::Delay { frames, .. } => Some(delay_frames(c, frames)),
            Kind::Lookahead { n } => Some(lookahead_frames(c, n) as u64),
            _ => None,
        })
        .sum();
    let latency = r.out_lat[l.master];
    let total = (content + delays + 64) as usize;
    let want = r.run(total, c.ref_block);

    let schedule = build(&g);
    prop_assert_eq!(schedule.latency_frames as usize, latency);
    prop_assert_eq!(schedule.warnings.len(), r.unreachable());
    prop_assert_eq!(schedule.node_count(), l.inputs.len() - r.unreachable());
    if c.chain {
        prop_assert!(
            schedule.buffer_count() < schedule.node_count(),
            "{} buffers for {} nodes",
            schedule.buffer_count(),
            schedule.node_count()
        );
    }
    let got = run(schedule, total, c.host_block);
    compare("processor", &got, &want, total)?;

    // The offline render: shifted back by the latency, the content, then the tail up to its
    // last frame above render::TAIL_SILENCE (−144 dBFS).
    let want: Planar = want.iter().map(|ch| ch[latency..].to_vec()).collect();
    let total = total - latency;
    let (rendered, report) = render_to_vec(
        build(&g),
        &RenderOptions {
            block: c.render_block,
            max_tail_s: 1.0,
            ..RenderOptions::default()
        },
    );
    let loud_to = (0..total)
        .rev()
        .find(|&k| {
            want.iter()
                .any(|ch| ch[k].abs() > mixdown::render::TAIL_SILENCE)
        })
        .map_or(0, |k| k + 1);
    let len = loud_to.max(content as usize);
    prop_assert_eq!(report.frames, len as u64);
    compare("render", &rendered, &want, len)?;
    prop_assert!(report.nan_report.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn engine_matches_naive_reference(c in case()) {
        check(&c)?;
    }
}
