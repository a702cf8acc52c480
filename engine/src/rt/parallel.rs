//! Parallel offline rendering: independent branches (tracks, buses) of one block run on a small
//! pool of worker threads; the output is bit-identical to one thread.
//!
//! The schedule's steps are cut into tasks — one node's input assembly (clears, mixes,
//! compensation delays) plus the node itself. A task depends on the tasks that wrote the
//! buffers it reads; the schedule must be compiled without buffer reuse
//! (`CompileConfig::parallel`) so every buffer has one writer and reuse creates no hidden
//! ordering. Tasks are assigned to workers once, by list scheduling on estimated costs (a
//! track's chain tends to stay on one worker). Each block: the main thread publishes the block
//! (an epoch counter), every worker runs its tasks in order, waiting on the per-task epoch of
//! each dependency (acquire/release atomics, no locks), and the main thread, itself worker 0,
//! waits for the others. The arithmetic of each task is the same whichever thread runs it, so
//! the result does not depend on the thread count.
//!
//! Offline only: workers spin (then yield) between blocks, which suits a render running flat
//! out, not an audio callback.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::exec::Exec;
use crate::graph::{Schedule, Step};
use crate::node::Transport;

struct Task {
    steps: std::ops::Range<usize>,
    deps: Box<[u32]>,
}

struct Block {
    exec: Exec,
    frames: usize,
    transport: Transport,
}

/// One task's completion epoch, alone on its cache line: workers on different cores finish
/// neighbouring tasks, and sharing a line would make every completion a cache-line transfer.
#[repr(align(64))]
struct Done(AtomicU64);

struct Shared {
    tasks: Box<[Task]>,
    steps: Box<[Step]>,
    per_worker: Box<[Box<[u32]>]>,
    done: Box<[Done]>,
    epoch: AtomicU64,
    finished: AtomicUsize,
    stop: AtomicBool,
    block: UnsafeCell<Block>,
}

// SAFETY: `block` is written by the main thread only between blocks (all workers idle, waiting
// for the next epoch) and read by workers only after they observed the new epoch (acquire).
unsafe impl Sync for Shared {}

/// Runs blocks of one schedule on several threads.
pub struct ParallelRunner {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

fn cost(kind: &str, channels: usize) -> f64 {
    let base = match kind {
        "eq" => 4.0,
        "comp" | "limit" | "gate" | "deess" => 3.0,
        "loudness" => 6.0,
        "reverb" | "multiband" | "saturate" => 10.0,
        "player" | "synth" | "drum" => 1.5,
        _ => 0.5,
    };
    base * channels.max(1) as f64
}

impl ParallelRunner {
    /// Plans `s` for `threads` threads. `None` when one thread is asked for, or the schedule
    /// cannot run in parallel (a feedback loop, or buffers reused between nodes).
    pub fn new(s: &Schedule, threads: usize) -> Option<Self> {
        if threads < 2 {
            return None;
        }
        // Cut steps into tasks.
        let mut tasks = Vec::new();
        let mut start = 0;
        for (i, st) in s.steps.iter().enumerate() {
            match st {
                Step::Process { .. } => {
                    tasks.push(start..i + 1);
                    start = i + 1;
                }
                Step::FeedbackRead { .. } | Step::FeedbackWrite { .. } => return None,
                _ => {}
            }
        }
        if start != s.steps.len() || tasks.len() < 2 {
            return None;
        }
        // Buffer writers, reads.
        let mut writer = vec![u32::MAX; s.pool.len()];
        let mut reads: Vec<Vec<u32>> = vec![Vec::new(); tasks.len()];
        for (t, r) in tasks.iter().enumerate() {
            for st in &s.steps[r.clone()] {
                let (rd, wr): (Vec<u32>, Vec<u32>) = match *st {
                    Step::Clear { buf } => (vec![], vec![buf]),
                    Step::Mix { src, dst, .. } | Step::MixFade { src, dst, .. } => {
                        (vec![src], vec![dst])
                    }
                    Step::Delay { src, dst, .. } => (vec![src], vec![dst]),
                    Step::Process { node } => {
                        let n = &s.nodes[node as usize];
                        let rd = n
                            .inputs
                            .iter()
                            .flat_map(|p| p.as_slice().to_vec())
                            .collect();
                        (rd, n.output.as_slice().to_vec())
                    }
                    _ => return None,
                };
                reads[t].extend(rd);
                for b in wr {
                    let w = &mut writer[b as usize];
                    if *w != u32::MAX && *w != t as u32 {
                        return None; // a buffer reused by two tasks
                    }
                    *w = t as u32;
                }
            }
        }
        let mut deps: Vec<Vec<u32>> = Vec::with_capacity(tasks.len());
        for (t, rd) in reads.iter().enumerate() {
            let mut d: Vec<u32> = rd
                .iter()
                .map(|b| writer[*b as usize])
                .filter(|w| *w != u32::MAX && *w != t as u32)
                .collect();
            d.sort_unstable();
            d.dedup();
            if d.iter().any(|&x| x as usize >= t) {
                return None; // not in topological order (cannot happen for a valid schedule)
            }
            deps.push(d);
        }
        // List scheduling: earliest start, with a small penalty for crossing workers.
        let costs: Vec<f64> = tasks
            .iter()
            .map(|r| match s.steps[r.end - 1] {
                Step::Process { node } => {
                    let n = &s.nodes[node as usize];
                    cost(n.node.desc().kind, n.output.len as usize) + (r.len() - 1) as f64 * 0.2
                }
                _ => 1.0,
            })
            .collect();
        let mut ready = vec![0.0f64; threads];
        let mut finish = vec![0.0f64; tasks.len()];
        let mut worker_of = vec![0usize; tasks.len()];
        let mut per_worker: Vec<Vec<u32>> = vec![Vec::new(); threads];
        for t in 0..tasks.len() {
            let (mut best, mut best_start) = (0, f64::MAX);
            for (w, r) in ready.iter().enumerate() {
                let dep_ready = deps[t]
                    .iter()
                    .map(|&d| {
                        finish[d as usize] + if worker_of[d as usize] == w { 0.0 } else { 0.5 }
                    })
                    .fold(0.0, f64::max);
                let st = r.max(dep_ready);
                if st < best_start - 1e-9 {
                    (best, best_start) = (w, st);
                }
            }
            worker_of[t] = best;
            finish[t] = best_start + costs[t];
            ready[best] = finish[t];
            per_worker[best].push(t as u32);
        }
        let shared = Arc::new(Shared {
            tasks: tasks
                .into_iter()
                .zip(deps)
                .map(|(steps, d)| Task {
                    steps,
                    deps: d.into_boxed_slice(),
                })
                .collect(),
            steps: s.steps.clone(),
            per_worker: per_worker.into_iter().map(Vec::into_boxed_slice).collect(),
            done: (0..finish.len()).map(|_| Done(AtomicU64::new(0))).collect(),
            epoch: AtomicU64::new(0),
            finished: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            block: UnsafeCell::new(Block {
                exec: Exec::dangling(),
                frames: 0,
                transport: Transport::default(),
            }),
        });
        let threads = (1..threads)
            .filter_map(|w| {
                let sh = shared.clone();
                std::thread::Builder::new()
                    .name(format!("mixdown-worker-{w}"))
                    .spawn(move || worker(&sh, w))
                    .ok()
            })
            .collect();
        Some(Self { shared, threads })
    }

    /// Runs one block of `s` (the schedule this runner was planned for).
    pub(crate) fn run_block(&mut self, s: &mut Schedule, frames: usize, transport: Transport) {
        let sh = &*self.shared;
        // SAFETY: all workers are idle (they finished the previous epoch and wait for the next).
        unsafe {
            *sh.block.get() = Block {
                exec: Exec::new(s),
                frames,
                transport,
            };
        }
        sh.finished.store(0, Ordering::Relaxed);
        let epoch = sh.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        run_tasks(sh, 0, epoch);
        let others = self.threads.len();
        let mut spins = 0u32;
        while sh.finished.load(Ordering::Acquire) < others {
            backoff(&mut spins);
        }
    }
}

impl Drop for ParallelRunner {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[inline]
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 100 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

fn run_tasks(sh: &Shared, w: usize, epoch: u64) {
    // SAFETY: written before the epoch was published (release), read after observing it.
    let block = unsafe { &*sh.block.get() };
    for &t in sh.per_worker[w].iter() {
        let task = &sh.tasks[t as usize];
        for &d in task.deps.iter() {
            let mut spins = 0;
            while sh.done[d as usize].0.load(Ordering::Acquire) != epoch {
                if sh.stop.load(Ordering::Relaxed) {
                    // The runner is going away (e.g. the main thread is unwinding).
                    return;
                }
                backoff(&mut spins);
            }
        }
        for k in task.steps.clone() {
            // SAFETY: tasks own disjoint nodes, lines and written buffers (one writer per
            // buffer, checked when planning); dependencies finished (acquire above).
            unsafe { block.exec.step(sh.steps[k], block.frames, block.transport) };
        }
        sh.done[t as usize].0.store(epoch, Ordering::Release);
    }
}

fn worker(sh: &Shared, w: usize) {
    let mut seen = 0u64;
    loop {
        let mut spins = 0;
        let epoch = loop {
            let e = sh.epoch.load(Ordering::Acquire);
            if e != seen {
                break e;
            }
            backoff(&mut spins);
        };
        seen = epoch;
        if sh.stop.load(Ordering::Acquire) {
            return;
        }
        run_tasks(sh, w, epoch);
        sh.finished.fetch_add(1, Ordering::AcqRel);
    }
}
