//! Parallel offline rendering: independent branches (tracks, buses) of one block run on a small
//! pool of worker threads; the output is bit-identical to one thread.
//!
//! The schedule's steps are cut into tasks — one node's input assembly (clears, mixes,
//! compensation delays) plus the node itself — and a chain of nodes each feeding only the next
//! (a track: player, EQ, compressor, fader, pan) is fused into one task, so it stays on one core
//! and nobody waits on anybody inside it. A task depends on the tasks that wrote the buffers it
//! reads; the schedule must be compiled without buffer reuse (`CompileConfig::parallel`) so every
//! buffer has one writer and reuse creates no hidden ordering. Each block: the main thread
//! publishes the block (an epoch counter); every thread, the main one included, claims the next
//! task in topological order from a shared counter, waits for the per-task epochs of its
//! dependencies (acquire/release atomics, no locks) and runs it, until none are left. Claiming in
//! topological order cannot deadlock (a claimed task's dependencies were claimed earlier) and
//! balances uneven tracks by itself. The arithmetic of each task is the same whichever thread
//! runs it, so the result does not depend on the thread count.
//!
//! The tail — the last chain, which mixes everything (the master bus and its inserts) — runs
//! one block behind, at the same time as the tracks of the next block, so no core idles while it
//! runs. It reads the tracks' outputs of its block from a second buffer pool: the pools swap
//! after every block. Its output (the mix) therefore comes one block late, which the render
//! treats like latency ([`ParallelRunner::lag_blocks`]); the samples are the same.
//!
//! Offline only: workers spin (then yield) between blocks, which suits a render running flat
//! out, not an audio callback.
//!
//! Safety rests on three things, each checked in release builds:
//! - **The plan is proven, not assumed.** The tasks and their dependencies come from
//!   `ScheduleLayout::parallel_plan`, after the schedule passed `ScheduleLayout::validate`
//!   (indices in range, no aliasing, one writer task per buffer, reads only of earlier tasks'
//!   buffers); a schedule that fails either gets no runner.
//! - **A runner runs only its schedule.** It records the schedule's identity (serial, address,
//!   sizes) and [`ParallelRunner::run_block`] compares it before any step runs. The processor
//!   builds a runner only when no other schedule can reach it (see `Processor::set_threads`), so
//!   through the public API the check never fails; if it does, nothing runs on the workers.
//! - **Workers never outlive what they run on.** A block returns — or unwinds, when a node
//!   panics on the calling thread — only after every worker reported the block finished (the
//!   `BlockDone` guard stops them first when unwinding), and the processor drops the runner,
//!   joining its threads, before its schedule.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::exec::Exec;
use crate::graph::{Schedule, Step};
use crate::node::Transport;

struct Task {
    /// Step ranges, in order (a fused chain has several).
    steps: Box<[std::ops::Range<usize>]>,
    deps: Box<[u32]>,
    /// The pipelined tail: runs on the previous block.
    tail: bool,
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

/// The claim counter, on a cache line of its own.
#[repr(align(64))]
struct Next(AtomicUsize);

struct Shared {
    tasks: Box<[Task]>,
    steps: Box<[Step]>,
    /// Claim order: the pipelined tail first (it waits for nothing, and started first it runs
    /// beside the tracks instead of after them), then the rest in topological order.
    order: Box<[u32]>,
    next: Next,
    done: Box<[Done]>,
    epoch: AtomicU64,
    finished: AtomicUsize,
    stop: AtomicBool,
    /// This block, and the previous one (for the tail; `frames == 0` before the first).
    block: UnsafeCell<[Block; 2]>,
}

// SAFETY: `block` is written by the main thread only between blocks (all workers idle, waiting
// for the next epoch) and read by workers only after they observed the new epoch (acquire).
unsafe impl Sync for Shared {}

/// Runs blocks of one schedule on several threads. Built by [`crate::rt::Processor::set_threads`]
/// for the schedule it runs, and bound to it: [`ParallelRunner::run_block`] refuses any other.
pub struct ParallelRunner {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// The second buffer pool: the tracks' outputs of the previous block, read by the tail.
    spare: crate::buffer::BufferPool,
    /// The previous block (for the tail), if any.
    prev: Option<(usize, Transport)>,
    /// The schedule this runner was planned for (its steps are copied here).
    bound: Binding,
}

/// What identifies the schedule a runner was planned for. The serial alone does (every compiled
/// schedule has its own, and a schedule's fields cannot be changed outside the crate); address and
/// sizes are checked as well because they cost nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Binding {
    serial: u64,
    address: usize,
    steps: usize,
    nodes: usize,
    buffers: usize,
    lines: usize,
}

impl Binding {
    fn of(s: &Schedule) -> Self {
        Self {
            serial: s.serial,
            address: s as *const Schedule as usize,
            steps: s.steps.len(),
            nodes: s.nodes.len(),
            buffers: s.pool.len(),
            lines: s.lines.len(),
        }
    }
}

/// Why [`ParallelRunner::run_block`] ran nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotRun {
    /// The schedule is not the one the runner was planned for.
    Unbound,
    /// A node panicked in an earlier block: the workers have stopped.
    Stopped,
}

impl ParallelRunner {
    /// Plans `s` for `threads` threads. `None` when one thread is asked for, or the schedule
    /// cannot run in parallel: it fails validation, has a feedback loop, reuses buffers between
    /// nodes or has a node after the pipelined tail's chain. Control thread; allocates and spawns
    /// threads.
    pub(crate) fn new(s: &Schedule, threads: usize) -> Option<Self> {
        if threads < 2 {
            return None;
        }
        // Checked in release builds too: the workers run steps through raw pointers on the
        // strength of this plan (each buffer written by one task, read after it).
        let layout = s.layout();
        layout.validate().ok()?;
        let plan = layout.parallel_plan().ok()?;
        let (tasks, deps) = (plan.tasks, plan.deps);
        if tasks.len() < 2 {
            return None;
        }
        // Fuse chains: a task whose only dependency feeds nothing else joins that task.
        let mut users = vec![0usize; tasks.len()];
        for d in deps.iter().flatten() {
            users[*d as usize] += 1;
        }
        let mut group_of = vec![0usize; tasks.len()];
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for t in 0..tasks.len() {
            match deps[t][..] {
                [d] if users[d as usize] == 1 => {
                    group_of[t] = group_of[d as usize];
                    groups[group_of[t]].push(t);
                }
                _ => {
                    group_of[t] = groups.len();
                    groups.push(vec![t]);
                }
            }
        }
        // Groups in order of their first task are in topological order: only a chain's first
        // task has dependencies outside it, and those come earlier.
        let mut fused: Vec<Task> = groups
            .iter()
            .enumerate()
            .map(|(g, members)| {
                let mut d: Vec<u32> = members
                    .iter()
                    .flat_map(|&t| deps[t].iter().map(|&x| group_of[x as usize] as u32))
                    .filter(|&x| x as usize != g)
                    .collect();
                d.sort_unstable();
                d.dedup();
                Task {
                    steps: members.iter().map(|&t| tasks[t].clone()).collect(),
                    deps: d.into_boxed_slice(),
                    tail: false,
                }
            })
            .collect();
        if fused.len() < 2 {
            return None;
        }
        // Pipeline the last chain (the one holding the output: the master). It runs one block
        // behind, beside the next block's tasks, so nothing may depend on it (checked here in
        // release builds: a dependent would read its buffers while it writes them).
        let last = fused.len() - 1;
        if fused[..last]
            .iter()
            .any(|t| t.deps.contains(&(last as u32)))
        {
            return None;
        }
        fused[last].tail = true;
        let shared = Arc::new(Shared {
            done: (0..fused.len()).map(|_| Done(AtomicU64::new(0))).collect(),
            order: {
                let n = fused.len() as u32;
                let mut o: Vec<u32> = (0..n).collect();
                o.rotate_right(1);
                o.into_boxed_slice()
            },
            tasks: fused.into_boxed_slice(),
            steps: s.steps.clone(),
            next: Next(AtomicUsize::new(0)),
            epoch: AtomicU64::new(0),
            finished: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            block: UnsafeCell::new([(); 2].map(|_| Block {
                exec: Exec::dangling(),
                frames: 0,
                transport: Transport::default(),
            })),
        });
        let threads = (1..threads)
            .filter_map(|w| {
                let sh = shared.clone();
                std::thread::Builder::new()
                    .name(format!("mixdown-worker-{w}"))
                    .spawn(move || worker(&sh))
                    .ok()
            })
            .collect();
        Some(Self {
            shared,
            threads,
            spare: crate::buffer::BufferPool::new(s.pool.len()),
            prev: None,
            bound: Binding::of(s),
        })
    }

    /// Threads running blocks: the workers and the caller's.
    pub(crate) fn threads(&self) -> usize {
        self.threads.len() + 1
    }

    /// Blocks by which the output lags the transport: the tail runs one block behind.
    pub(crate) fn lag_blocks(&self) -> usize {
        1
    }

    /// Runs one block of `s`: everything but the tail on this block, the tail on the previous
    /// one. Afterwards `s`'s pool holds the tail's output for the previous block (silence after
    /// the first).
    ///
    /// Runs nothing and says why when `s` is not the schedule this runner was planned for
    /// (checked in every build, before any step runs), or when a node panicked in an earlier
    /// block. If a node panics in this block — on a worker or on this thread — the workers stop,
    /// and this returns (or unwinds) only once none of them touches `s` any more.
    pub(crate) fn run_block(
        &mut self,
        s: &mut Schedule,
        frames: usize,
        transport: Transport,
    ) -> Result<(), NotRun> {
        if Binding::of(s) != self.bound {
            return Err(NotRun::Unbound);
        }
        let sh = &*self.shared;
        if sh.stop.load(Ordering::Acquire) {
            return Err(NotRun::Stopped);
        }
        // One set of pointers into the schedule per block, shared by both blocks' views.
        let exec = Exec::new(s);
        let prev = match self.prev {
            Some((f, t)) => Block {
                exec: exec.with_pool(&mut self.spare),
                frames: f,
                transport: t,
            },
            _ => Block {
                exec: Exec::dangling(),
                frames: 0,
                transport,
            },
        };
        // SAFETY: all workers are idle (they finished the previous epoch and wait for the next).
        unsafe {
            *sh.block.get() = [
                Block {
                    exec,
                    frames,
                    transport,
                },
                prev,
            ];
        }
        sh.finished.store(0, Ordering::Relaxed);
        sh.next.0.store(0, Ordering::Relaxed);
        let epoch = sh.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        {
            // Waits for the workers when it goes out of scope, also while a panic of a node run
            // by this thread unwinds: `s` (and, up the stack, the processor owning it) must not
            // be freed while a worker still runs steps on it.
            let _workers = BlockDone {
                sh,
                others: self.threads.len(),
            };
            run_tasks(sh, epoch);
        }
        assert!(
            !sh.stop.load(Ordering::Acquire),
            "a render worker thread panicked (see above)"
        );
        // The tail's output is in the spare pool: make it the schedule's, and keep this block's
        // track outputs for the tail's next run.
        std::mem::swap(&mut s.pool, &mut self.spare);
        self.prev = Some((frames, transport));
        Ok(())
    }
}

/// Ends a block: on drop, waits until every worker has finished the current epoch. When the
/// thread is panicking (a node it ran panicked), first tells the workers to stop, so they leave
/// the tasks they have not started and nobody waits for the task that will never finish.
struct BlockDone<'a> {
    sh: &'a Shared,
    others: usize,
}

impl Drop for BlockDone<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.sh.stop.store(true, Ordering::Release);
        }
        let mut spins = 0u32;
        while self.sh.finished.load(Ordering::Acquire) < self.others {
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

fn run_tasks(sh: &Shared, epoch: u64) {
    // SAFETY: written before the epoch was published (release), read after observing it.
    let block = unsafe { &*sh.block.get() };
    loop {
        if sh.stop.load(Ordering::Relaxed) {
            // A node panicked (here or on another thread), or the runner is going away.
            return;
        }
        let c = sh.next.0.fetch_add(1, Ordering::Relaxed);
        let Some(&t) = sh.order.get(c) else { return };
        let t = t as usize;
        let task = &sh.tasks[t];
        let block = &block[usize::from(task.tail)];
        if task.tail {
            // Its inputs were written in the previous epoch; nothing to wait for. Before the
            // first block there is nothing to run.
            if block.frames > 0 {
                for k in task.steps.iter().flat_map(|r| r.clone()) {
                    // SAFETY: as below; the tail alone uses the spare pool this block.
                    unsafe { block.exec.step(sh.steps[k], block.frames, block.transport) };
                }
            }
            sh.done[t].0.store(epoch, Ordering::Release);
            continue;
        }
        for &d in task.deps.iter() {
            let mut spins = 0;
            while sh.done[d as usize].0.load(Ordering::Acquire) != epoch {
                if sh.stop.load(Ordering::Relaxed) {
                    // A dependency will never finish (its node panicked).
                    return;
                }
                backoff(&mut spins);
            }
        }
        for k in task.steps.iter().flat_map(|r| r.clone()) {
            // SAFETY: tasks own disjoint nodes, lines and written buffers (one writer per
            // buffer, checked when planning); dependencies finished (acquire above).
            unsafe { block.exec.step(sh.steps[k], block.frames, block.transport) };
        }
        sh.done[t].0.store(epoch, Ordering::Release);
    }
}

fn worker(sh: &Shared) {
    // The same floating-point mode as the main thread (denormals flushed), or tasks would not
    // compute the same bits on every thread.
    #[cfg(not(miri))]
    let _ftz = crate::dsp::denormal::FlushDenormals::new();
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
            // The runner is going away, or a panic unwinds on the main thread, which waits for
            // every worker to report this epoch finished.
            sh.finished.fetch_add(1, Ordering::AcqRel);
            return;
        }
        // A node that panics (a bug) must not leave the others waiting for its task forever:
        // stop everyone, and let the main thread report it.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_tasks(sh, epoch)));
        if ran.is_err() {
            sh.stop.store(true, Ordering::Release);
        }
        sh.finished.fetch_add(1, Ordering::AcqRel);
        if ran.is_err() {
            return;
        }
    }
}
