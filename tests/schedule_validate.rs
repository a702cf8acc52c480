//! The schedule validator (`ScheduleLayout::validate`, `validate_parallel`): every schedule the
//! compiler makes from random graphs passes it — with and without buffer reuse, with feedback
//! loops through delays, sidechains, latency compensation, 5.1 down-mixes and unreachable nodes —
//! and schedules mutated the ways that would make the executor's raw-pointer code unsound (an
//! index out of range, a read of a buffer nothing wrote, a second writer, aliased buffers, two
//! tasks writing one buffer) are refused.

mod common;

use common::*;
use mixdown::graph::schedule::{ScheduleLayout, Violation, ZERO_BUFFER};
use mixdown::graph::{compile, CompileConfig, GraphSpec, NodeKey, Step};
use mixdown::nodes::{Clip, Delay, DelayTime, Gain, Pan, Sum};
use proptest::prelude::*;
use proptest::sample::Index;

#[derive(Clone, Debug)]
enum Kind {
    Gain,
    Pan,
    Sum(usize),
    Lookahead(usize),
    Sidechain,
    Delay(u64),
}

#[derive(Clone, Debug)]
struct Proc {
    kind: Kind,
    inputs: Vec<Index>,
    /// Sidechain source (earlier node), for `Sidechain`.
    sidechain: Index,
    /// For `Delay`: an input from a later node, closing a loop through the delay.
    feedback: Option<Index>,
    dangling: bool,
}

#[derive(Clone, Debug)]
struct Case {
    /// Channel count of each clip.
    clips: Vec<usize>,
    procs: Vec<Proc>,
    master_ch: usize,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Gain),
        Just(Kind::Pan),
        prop::sample::select(vec![0usize, 1, 2, 6]).prop_map(Kind::Sum),
        (1usize..64).prop_map(Kind::Lookahead),
        Just(Kind::Sidechain),
        (0u64..100).prop_map(Kind::Delay),
    ]
}

fn proc_() -> impl Strategy<Value = Proc> {
    (
        kind(),
        prop::collection::vec(any::<Index>(), 1..4),
        any::<Index>(),
        prop::option::weighted(0.5, any::<Index>()),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(kind, inputs, sidechain, feedback, dangling)| Proc {
            kind,
            inputs,
            sidechain,
            feedback,
            dangling,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(prop::sample::select(vec![1usize, 2, 6]), 1..5),
        prop::collection::vec(proc_(), 0..14),
        prop::sample::select(vec![0usize, 1, 2]),
    )
        .prop_map(|(clips, procs, master_ch)| Case {
            clips,
            procs,
            master_ch,
        })
}

/// Node `i` is clip `i` for `i < clips`, then the processors, then the master.
fn graph_of(c: &Case) -> GraphSpec {
    let mut g = spec();
    let nclips = c.clips.len();
    let n = nclips + c.procs.len();
    let mut keys: Vec<NodeKey> = Vec::with_capacity(n + 1);
    for (i, &ch) in c.clips.iter().enumerate() {
        let data = (0..ch)
            .map(|k| impulses(300, &[k * 7, 100 + i]))
            .collect::<Vec<_>>();
        keys.push(g.add(format!("clip{i}"), Clip::new(data, 0), None).unwrap());
    }
    for (j, p) in c.procs.iter().enumerate() {
        let path = format!("p{j}");
        let k = match p.kind {
            Kind::Gain => g.add(path, Gain, None),
            Kind::Pan => g.add(path, Pan, None),
            Kind::Sum(ch) => g.add(path, Sum::new(ch), None),
            Kind::Lookahead(f) => g.add(path, Lookahead::new(f), None),
            Kind::Sidechain => g.add(path, SidechainSum, None),
            Kind::Delay(f) => g.add(path, Delay::new(DelayTime::Frames(f)), None),
        };
        keys.push(k.unwrap());
    }
    let master = g.add("master", Sum::new(c.master_ch), None).unwrap();
    let mut consumed = vec![false; n];
    for (j, p) in c.procs.iter().enumerate() {
        let me = nclips + j;
        for ix in &p.inputs {
            let src = ix.index(me);
            consumed[src] = true;
            g.connect(keys[src], keys[me], "in", None).unwrap();
        }
        if let Kind::Sidechain = p.kind {
            let src = p.sidechain.index(me);
            consumed[src] = true;
            g.connect(keys[src], keys[me], "sidechain", None).unwrap();
        }
        if let (Kind::Delay(_), Some(ix)) = (&p.kind, &p.feedback) {
            // Any node from this one on: a loop, closed through this delay (every edge to an
            // earlier node enters a delay, so every cycle passes through one).
            let src = me + ix.index(n - me);
            g.connect(keys[src], keys[me], "in", None).unwrap();
        }
    }
    for (i, used) in consumed.iter().enumerate() {
        let dangling = i >= nclips && c.procs[i - nclips].dangling;
        if !used && !dangling {
            g.connect(keys[i], master, "in", None).unwrap();
        }
    }
    g.set_output(master);
    g
}

fn layout(c: &Case, parallel: bool) -> ScheduleLayout {
    let cfg = CompileConfig {
        parallel,
        ..CompileConfig::default()
    };
    compile(&graph_of(c), cfg)
        .unwrap_or_else(|e| panic!("compile failed: {e}"))
        .layout()
}

fn has_feedback(l: &ScheduleLayout) -> bool {
    l.steps
        .iter()
        .any(|s| matches!(s, Step::FeedbackRead { .. } | Step::FeedbackWrite { .. }))
}

/// Indices of the steps that run a node (`Process`, `FeedbackRead`).
fn node_steps(l: &ScheduleLayout) -> Vec<(usize, usize)> {
    l.steps
        .iter()
        .enumerate()
        .filter_map(|(k, s)| match *s {
            Step::Process { node } | Step::FeedbackRead { node } => Some((k, node as usize)),
            _ => None,
        })
        .collect()
}

/// Where a buffer index is stored in a layout.
#[derive(Clone, Copy, Debug)]
enum Site {
    Step(usize, u8),
    NodeIn(usize, usize, usize),
    NodeOut(usize, usize),
    Output(usize),
}

fn sites(l: &ScheduleLayout, reads_only: bool) -> Vec<Site> {
    let mut v = Vec::new();
    for (k, s) in l.steps.iter().enumerate() {
        match s {
            Step::Clear { .. } if !reads_only => v.push(Site::Step(k, 0)),
            Step::Mix { .. } | Step::MixFade { .. } | Step::Delay { .. } => {
                v.push(Site::Step(k, 0));
                if !reads_only || !matches!(s, Step::Delay { .. }) {
                    v.push(Site::Step(k, 1));
                }
            }
            _ => {}
        }
    }
    for (i, n) in l.nodes.iter().enumerate() {
        for p in 0..2 {
            v.extend((0..n.inputs[p].len as usize).map(|c| Site::NodeIn(i, p, c)));
        }
        if !reads_only {
            v.extend((0..n.output.len as usize).map(|c| Site::NodeOut(i, c)));
        }
    }
    v.extend((0..l.output.len as usize).map(Site::Output));
    v
}

fn set(l: &mut ScheduleLayout, site: Site, b: u32) {
    match site {
        Site::Step(k, f) => match &mut l.steps[k] {
            Step::Clear { buf } => *buf = b,
            Step::Mix { src, dst, .. } | Step::MixFade { src, dst, .. } => {
                *(if f == 0 { src } else { dst }) = b
            }
            Step::Delay { src, dst, .. } => *(if f == 0 { src } else { dst }) = b,
            _ => unreachable!(),
        },
        Site::NodeIn(i, p, c) => l.nodes[i].inputs[p].bufs[c] = b,
        Site::NodeOut(i, c) => l.nodes[i].output.bufs[c] = b,
        Site::Output(c) => l.output.bufs[c] = b,
    }
}

fn refused(
    l: &ScheduleLayout,
    what: &str,
    want: impl Fn(&Violation) -> bool,
) -> Result<(), TestCaseError> {
    match l.validate() {
        Ok(()) => Err(TestCaseError::fail(format!("{what}: accepted"))),
        Err(v) => {
            prop_assert!(
                v.iter().any(want),
                "{}: refused for other reasons: {:?}",
                what,
                v
            );
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_compiled_schedule_validates(c in case(), parallel in any::<bool>()) {
        let l = layout(&c, parallel);
        prop_assert_eq!(l.validate(), Ok(()));
        if parallel && !has_feedback(&l) {
            prop_assert_eq!(l.validate_parallel(), Ok(()));
        }
    }

    #[test]
    fn mutated_schedules_are_refused(
        c in case(),
        parallel in any::<bool>(),
        pick in any::<Index>(),
        pick2 in any::<Index>(),
    ) {
        let good = layout(&c, parallel);
        let nodes = node_steps(&good);

        // A buffer index out of range, anywhere.
        let mut l = good.clone();
        let all = sites(&l, false);
        set(&mut l, *pick.get(&all), good.buffers as u32 + pick2.index(3) as u32);
        refused(&l, "buffer out of range", |v| matches!(v, Violation::BufferOutOfRange { .. }))?;

        // A node index out of range.
        let mut l = good.clone();
        let (k, _) = *pick.get(&nodes);
        match &mut l.steps[k] {
            Step::Process { node } | Step::FeedbackRead { node } => *node = good.nodes.len() as u32,
            _ => unreachable!(),
        }
        refused(&l, "node out of range", |v| matches!(v, Violation::NodeOutOfRange { .. }))?;

        // A delay-line index out of range.
        let delays: Vec<usize> = (0..good.steps.len())
            .filter(|&k| matches!(good.steps[k], Step::Delay { .. }))
            .collect();
        if !delays.is_empty() {
            let mut l = good.clone();
            if let Step::Delay { line, .. } = &mut l.steps[*pick.get(&delays)] {
                *line = good.lines as u32;
            }
            refused(&l, "line out of range", |v| matches!(v, Violation::LineOutOfRange { .. }))?;
        }

        // A read of a buffer nothing writes.
        let mut l = good.clone();
        l.buffers += 1;
        let fresh = good.buffers as u32;
        set(&mut l, *pick.get(&sites(&good, true)), fresh);
        refused(&l, "unwritten read", |v| {
            matches!(v, Violation::ReadBeforeWrite { buf, .. } if *buf == fresh)
        })?;

        // A second writer of a value before anything read it.
        let mut l = good.clone();
        let (k, node) = *pick.get(&nodes);
        let b = good.nodes[node].output.bufs[0];
        l.steps.insert(k + 1, Step::Clear { buf: b });
        refused(&l, "second writer", |v| {
            *v == Violation::LostWrite { buf: b, written: k, overwritten: k + 1 }
        })?;

        // A node writing a buffer it reads, or one buffer twice.
        let mut l = good.clone();
        let n = &mut l.nodes[node];
        let target = match n.inputs[0].as_slice().iter().find(|&&x| x != ZERO_BUFFER) {
            Some(&x) if matches!(good.steps[k], Step::Process { .. }) => Some(x),
            _ if n.output.len >= 2 => Some(n.output.bufs[1]),
            _ => None,
        };
        if let Some(x) = target {
            n.output.bufs[0] = x;
            refused(&l, "aliased output", |v| matches!(v, Violation::Aliased { .. }))?;
        }

        // Two tasks writing one buffer: could run at the same time.
        if parallel && !has_feedback(&good) && nodes.len() >= 2 {
            let mut l = good.clone();
            let a = pick.index(nodes.len() - 1);
            let b = a + 1 + pick2.index(nodes.len() - 1 - a);
            let (na, nb) = (nodes[a].1, nodes[b].1);
            l.nodes[nb].output.bufs[0] = l.nodes[na].output.bufs[0];
            prop_assert!(l.validate_parallel().is_err(), "shared writer accepted");
        }
    }
}

/// Each violation, once, on a hand-checked chain: clip → gain → master.
#[test]
fn each_violation_on_a_small_chain() {
    let mut g = spec();
    let clip = add_clip(&mut g, "clip", impulses(10, &[0]));
    let gain = g.add("gain", Gain, None).unwrap();
    let master = g.add("master", Sum::new(1), None).unwrap();
    g.connect(clip, gain, "in", None).unwrap();
    g.connect(gain, master, "in", None).unwrap();
    g.set_output(master);
    let cfg = CompileConfig {
        parallel: true,
        ..CompileConfig::default()
    };
    let s = compile(&g, cfg).unwrap();
    assert_eq!(s.validate(), Ok(()));
    let good = s.layout();
    // No buffer reuse: clip → b1, gain b1 → b2, master b2 → b3 (b0 is the zero buffer).
    assert_eq!(
        good.steps,
        vec![
            Step::Process { node: 0 },
            Step::Process { node: 1 },
            Step::Process { node: 2 }
        ]
    );
    let out = |l: &ScheduleLayout, i: usize| l.nodes[i].output.bufs[0];

    let mut l = good.clone();
    l.nodes[1].inputs[0].bufs[0] = 99;
    assert!(l
        .validate()
        .unwrap_err()
        .contains(&Violation::BufferOutOfRange {
            step: Some(1),
            buf: 99
        }));

    // The gain writes into its own input.
    let mut l = good.clone();
    l.nodes[1].output.bufs[0] = out(&good, 0);
    let v = l.validate().unwrap_err();
    assert!(
        v.contains(&Violation::Aliased {
            step: 1,
            buf: out(&good, 0)
        }),
        "{v:?}"
    );

    // The master runs before the gain: it reads a buffer nothing wrote yet.
    let mut l = good.clone();
    l.steps.swap(1, 2);
    let v = l.validate().unwrap_err();
    assert!(
        v.contains(&Violation::ReadBeforeWrite {
            step: 1,
            buf: out(&good, 1)
        }),
        "{v:?}"
    );

    // The gain runs twice, the master never.
    let mut l = good.clone();
    l.steps[2] = Step::Process { node: 1 };
    let v = l.validate().unwrap_err();
    assert!(
        v.contains(&Violation::NodeRuns {
            step: Some(2),
            node: 1
        }),
        "{v:?}"
    );
    assert!(
        v.contains(&Violation::NodeRuns {
            step: None,
            node: 2
        }),
        "{v:?}"
    );

    // The master writes the clip's buffer, which the gain has read: a legal reuse on one
    // thread, two writers for parallel tasks (the clip's task may run beside the master's).
    let mut l = good.clone();
    l.nodes[2].output.bufs[0] = out(&good, 0);
    l.output.bufs[0] = out(&good, 0);
    assert_eq!(l.validate(), Ok(()));
    assert_eq!(
        l.validate_parallel(),
        Err(vec![Violation::SharedWriter {
            buf: out(&good, 0),
            tasks: (0, 2)
        }])
    );

    // A mix into the gain's output before the master reads it: the mix expects a port
    // assembled in front of a node, and finds a node's output (reused while still needed).
    let mut l = good.clone();
    l.steps.insert(
        2,
        Step::Mix {
            src: out(&good, 0),
            dst: out(&good, 1),
            gain: 1.0,
        },
    );
    let v = l.validate().unwrap_err();
    assert!(
        v.contains(&Violation::Clobbered {
            step: Some(2),
            buf: out(&good, 1)
        }),
        "{v:?}"
    );

    // The clip's output cleared before the gain reads it: a second writer, the value is lost.
    let mut l = good.clone();
    l.steps.insert(1, Step::Clear { buf: out(&good, 0) });
    let v = l.validate().unwrap_err();
    assert!(
        v.contains(&Violation::LostWrite {
            buf: out(&good, 0),
            written: 0,
            overwritten: 1
        }),
        "{v:?}"
    );

    // A port width that disagrees with the node's resolved channels.
    let mut l = good.clone();
    l.nodes[1].channels[2] = 2;
    assert!(l
        .validate()
        .unwrap_err()
        .contains(&Violation::Channels { node: 1 }));

    // The zero buffer written.
    let mut l = good.clone();
    l.steps.insert(0, Step::Clear { buf: ZERO_BUFFER });
    assert!(l
        .validate()
        .unwrap_err()
        .contains(&Violation::WritesZero { step: 0 }));

    // A block limit the executor's buffers cannot hold.
    let mut l = good.clone();
    l.block_limit = mixdown::buffer::MAX_BLOCK + 1;
    assert!(l.validate().is_err());
}
