//! Unit tests of the realtime core on tiny schedules (a few nodes, blocks of 16 frames), small
//! enough for Miri: `cargo +nightly miri test --lib rt::` (see `benches/sanitize.sh`). They cover
//! the ways a parallel runner could be handed memory it was not planned for, or outlive it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use super::{processor_pair, Processor};
use crate::graph::{compile, CompileConfig, GraphSpec, Schedule, Session};
use crate::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus};
use crate::nodes::{Clip, Gain, Sum};

const BLOCK: usize = 16;

/// `n` mono tracks (clip → gain) into a bus, which feeds the master directly and through a
/// send; `len` frames of content. With several threads the bus waits for the tracks and the send
/// for the bus (the runner's per-task dependencies), and the master runs a block behind (the
/// pipelined tail).
fn tracks(n: usize, len: usize, parallel: bool) -> Schedule {
    let mut g = GraphSpec::new(Session::default());
    let master = g.add("master", Sum::new(0), None).unwrap();
    let bus = g.add("bus", Sum::new(0), None).unwrap();
    let send = g.add("bus/send", Gain, None).unwrap();
    g.set_param(send, "gain_db", -12.0).unwrap();
    g.connect(bus, master, "in", None).unwrap();
    g.connect(bus, send, "in", None).unwrap();
    g.connect(send, master, "in", None).unwrap();
    for t in 0..n {
        let data = (0..len)
            .map(|i| ((i * (t + 2)) % 7) as f32 * 0.125 - 0.375)
            .collect();
        let clip = g
            .add(format!("t{t}"), Clip::new(vec![data], 0), None)
            .unwrap();
        let gain = g.add(format!("t{t}/gain"), Gain, None).unwrap();
        g.set_param(gain, "gain_db", -3.0 * t as f64).unwrap();
        g.connect(clip, gain, "in", None).unwrap();
        g.connect(gain, bus, "in", None).unwrap();
    }
    g.set_output(master);
    let cfg = CompileConfig {
        parallel,
        ..CompileConfig::default()
    };
    compile(&g, cfg).unwrap()
}

/// Runs `blocks` blocks of [`BLOCK`] frames into one output channel.
fn run(p: &mut Processor, blocks: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(blocks * BLOCK);
    let mut buf = [0.0f32; BLOCK];
    for _ in 0..blocks {
        p.process(&mut [&mut buf[..]]);
        out.extend_from_slice(&buf);
    }
    out
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn two_threads_match_one_thread_one_block_late() {
    let one = run(&mut Processor::new(tracks(3, 64, true)), 6);
    assert!(one.iter().any(|x| x.abs() > 0.1), "the mix is audible");
    let mut p = Processor::new(tracks(3, 64, true));
    assert_eq!(p.set_threads(2), 2);
    assert_eq!(p.lag_blocks(), 1);
    let two = run(&mut p, 6);
    assert!(two[..BLOCK].iter().all(|x| *x == 0.0));
    assert_eq!(bits(&two[BLOCK..]), bits(&one[..one.len() - BLOCK]));
}

#[test]
fn a_schedule_with_buffer_reuse_stays_on_one_thread() {
    let mut p = Processor::new(tracks(3, 64, false));
    assert_eq!(p.set_threads(2), 1);
    assert_eq!(p.lag_blocks(), 0);
}

/// The review's scenario: a processor with a controller, asked for threads, then sent another
/// schedule. The threads are refused (a swap could hand the workers memory they were not planned
/// for); the swap is taken and the new schedule plays, exactly as on its own.
#[test]
fn swap_after_set_threads_on_a_processor_with_a_controller() {
    let (mut p, mut ctl) = processor_pair(tracks(4, 4000, true));
    assert_eq!(
        p.set_threads(2),
        1,
        "a processor that takes swaps runs on one thread"
    );
    let b = tracks(1, 4000, true);
    let serial = b.serial;
    assert!(ctl.swap(Box::new(b)).is_ok());
    // The whole output fades out (15 ms) and in again (15 ms) around the swap: 1440 frames.
    let got = run(&mut p, 120);
    assert_eq!(ctl.shared().running_serial.load(SeqCst), serial);
    assert_eq!(p.schedule().node_count(), 5);
    let want = run(&mut Processor::new(tracks(1, 4000, true)), 120);
    let from = 1440;
    assert!(want[from..].iter().any(|x| x.abs() > 0.1));
    assert_eq!(bits(&got[from..]), bits(&want[from..]));
}

#[test]
fn threads_once_the_controller_is_gone_but_not_with_a_swap_queued() {
    let (mut p, ctl) = processor_pair(tracks(2, 64, true));
    drop(ctl);
    assert_eq!(p.set_threads(3), 3);

    let (mut p, mut ctl) = processor_pair(tracks(2, 64, true));
    assert!(ctl.swap(Box::new(tracks(3, 64, true))).is_ok());
    drop(ctl);
    assert_eq!(p.set_threads(2), 1, "the queued swap still comes");
    run(&mut p, 50);
    assert_eq!(p.schedule().node_count(), 9);
}

/// A schedule replaced behind the runner's back (only the crate can: `schedule_mut`) is caught
/// by the runner's identity check before any step runs, and played on one thread.
#[test]
fn a_runner_refuses_a_schedule_it_was_not_planned_for() {
    let mut p = Processor::new(tracks(4, 256, true));
    assert_eq!(p.set_threads(2), 2);
    run(&mut p, 2);
    let mut small = tracks(1, 256, true);
    std::mem::swap(p.schedule_mut(), &mut small);
    let got = run(&mut p, 4);
    assert_eq!(p.threads(), 1, "the runner was dropped");
    let mut alone = Processor::new(tracks(1, 256, true));
    alone.seek(2 * BLOCK as u64);
    let want = run(&mut alone, 4);
    assert_eq!(bits(&got), bits(&want));
}

/// What the tripwire nodes saw.
#[derive(Default)]
struct Probe {
    /// Panic on a worker thread (else on the main thread).
    on_worker: bool,
    panicked: AtomicBool,
    /// Tripwires running on a worker thread right now.
    running: AtomicUsize,
    /// A worker ran a tripwire while the other thread panicked.
    overlapped: AtomicBool,
    /// The test caught the panic (the call to `process` is over).
    caught: AtomicBool,
    /// A tripwire instance was freed while another one was still running.
    freed_while_running: AtomicBool,
}

static TRIPWIRE_DESC: NodeDesc = NodeDesc {
    kind: "test_tripwire",
    inputs: &[],
    params: &[],
};

/// A source that panics on one kind of thread and, on the other, waits for that panic and then
/// keeps writing its output for a while (bounded waits, so a broken runner fails, not hangs).
#[derive(Clone)]
struct Tripwire(Arc<Probe>);

/// Waits until `flag` holds, or about `ms` milliseconds.
fn wait_for_ms(ms: usize, flag: impl Fn() -> bool) {
    for _ in 0..ms {
        if flag() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Node for Tripwire {
    fn desc(&self) -> &'static NodeDesc {
        &TRIPWIRE_DESC
    }

    fn prepare(&mut self, _cfg: &ProcessConfig) -> Result<(), String> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let p = &*self.0;
        let worker = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("mixdown-worker"));
        if worker == p.on_worker {
            if !p.on_worker {
                // Panic only once a worker is inside a tripwire.
                wait_for_ms(2000, || p.running.load(SeqCst) > 0);
            }
            p.panicked.store(true, SeqCst);
            panic!("tripwire");
        }
        if worker {
            p.running.fetch_add(1, SeqCst);
            wait_for_ms(2000, || p.panicked.load(SeqCst));
            p.overlapped.store(p.panicked.load(SeqCst), SeqCst);
            // Stay inside the node until the test is past `process` — which it must not be
            // while a worker still runs: then this gives up after a while.
            wait_for_ms(300, || p.caught.load(SeqCst));
        } else {
            wait_for_ms(2000, || p.panicked.load(SeqCst));
        }
        // Touches the schedule's buffers after the panic.
        for o in cx.outputs.iter_mut() {
            o.fill(0.25);
        }
        if worker {
            p.running.fetch_sub(1, SeqCst);
        }
        ProcessStatus::Continue
    }
}

impl Drop for Tripwire {
    fn drop(&mut self) {
        if self.0.running.load(SeqCst) > 0 {
            self.0.freed_while_running.store(true, SeqCst);
        }
    }
}

fn tripwires(probe: &Arc<Probe>) -> Processor {
    let mut g = GraphSpec::new(Session::default());
    let master = g.add("master", Sum::new(1), None).unwrap();
    for t in 0..4 {
        let k = g
            .add(format!("trip{t}"), Tripwire(probe.clone()), None)
            .unwrap();
        g.connect(k, master, "in", None).unwrap();
    }
    g.set_output(master);
    let cfg = CompileConfig {
        parallel: true,
        ..CompileConfig::default()
    };
    let mut p = Processor::new(compile(&g, cfg).unwrap());
    assert_eq!(p.set_threads(2), 2);
    p
}

/// A node panics on the main thread while a worker runs another: `process` unwinds only once
/// the worker is done with the schedule.
#[test]
fn a_panic_on_the_main_thread_waits_for_the_workers() {
    let probe = Arc::new(Probe::default());
    let mut p = tripwires(&probe);
    let r = catch_unwind(AssertUnwindSafe(|| run(&mut p, 1)));
    probe.caught.store(true, SeqCst);
    assert!(r.is_err(), "the panic reaches the caller");
    assert!(
        probe.overlapped.load(SeqCst),
        "a worker ran during the panic"
    );
    assert_eq!(probe.running.load(SeqCst), 0, "a worker outlived process()");
    drop(p);
    assert!(!probe.freed_while_running.load(SeqCst));
}

/// The same panic with the processor owned by the unwinding frame: it is dropped while the
/// panic unwinds, and its schedule must outlive every worker still running a step of it.
#[test]
fn a_processor_dropped_by_a_panic_frees_its_schedule_after_the_workers() {
    let probe = Arc::new(Probe::default());
    let p = tripwires(&probe);
    let r = catch_unwind(AssertUnwindSafe(move || {
        let mut p = p;
        run(&mut p, 1)
    }));
    probe.caught.store(true, SeqCst);
    assert!(r.is_err());
    assert!(
        probe.overlapped.load(SeqCst),
        "a worker ran during the panic"
    );
    assert!(
        !probe.freed_while_running.load(SeqCst),
        "the schedule was freed while a worker ran one of its nodes"
    );
}

/// A node panics on a worker: the main thread reports it, and a later block runs on one thread
/// instead of waiting for workers that are gone.
#[test]
fn a_panic_on_a_worker_is_reported_and_the_processor_goes_on_alone() {
    let probe = Arc::new(Probe {
        on_worker: true,
        ..Probe::default()
    });
    let mut p = tripwires(&probe);
    let r = catch_unwind(AssertUnwindSafe(|| run(&mut p, 1)));
    assert!(
        r.is_err(),
        "the worker's panic is reported on the main thread"
    );
    assert!(probe.panicked.load(SeqCst));
    let out = run(&mut p, 2);
    assert_eq!(p.threads(), 1);
    assert!(
        out.iter().all(|x| *x == 1.0),
        "4 tripwires at 0.25: {out:?}"
    );
}
