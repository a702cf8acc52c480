//! The parallel runner cannot be handed a schedule it was not planned for through the public
//! API. The review's scenario — `processor_pair(A)`, `set_threads(2)`, `Controller::swap(B)`,
//! `process()` — used to run A's steps on B's memory (a segfault); now the processor refuses the
//! threads while it can still be sent schedules, takes the swap, and plays B exactly as B alone.
//! (Panics inside a parallel block, and a schedule replaced behind the runner from inside the
//! crate, are tested in `engine/src/rt/tests.rs`, small enough to run under Miri.)

mod common;

use common::*;
use mixdown::graph::{compile, CompileConfig, GraphSpec, Schedule};
use mixdown::nodes::{Gain, Sum};
use mixdown::rt::{processor_pair, Processor};

/// `n` mono tracks (clip → gain) into a stereo master; compiled for several threads.
fn tracks(n: usize) -> Schedule {
    let mut g: GraphSpec = spec();
    let master = g.add("master", Sum::new(2), None).unwrap();
    for t in 0..n {
        let data = (0..8000)
            .map(|i| ((i * (t + 3)) % 11) as f32 / 11.0 - 0.5)
            .collect();
        let clip = add_clip(&mut g, &format!("t{t}"), data);
        let gain = g.add(format!("t{t}/gain"), Gain, None).unwrap();
        g.set_param(gain, "gain_db", -2.0 * t as f64).unwrap();
        g.connect(clip, gain, "in", None).unwrap();
        g.connect(gain, master, "in", None).unwrap();
    }
    g.set_output(master);
    let cfg = CompileConfig {
        parallel: true,
        ..CompileConfig::default()
    };
    compile(&g, cfg).unwrap()
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn swap_after_set_threads_plays_the_new_schedule_on_one_thread() {
    let (mut p, mut ctl) = processor_pair(tracks(6));
    assert_eq!(
        p.set_threads(2),
        1,
        "a processor that takes swaps stays on one thread"
    );
    assert_eq!(p.threads(), 1);
    let b = tracks(2);
    let nodes = b.node_count();
    assert!(ctl.swap(Box::new(b)).is_ok());
    let got = run_processor(&mut p, 2, 6000, 256);
    assert_eq!(p.schedule().node_count(), nodes, "the swap was taken");
    assert_eq!(
        ctl.shared()
            .swaps
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // The output fades out and in around the swap (15 ms each); after that, B as B alone.
    let want = run(tracks(2), 6000, 256);
    let from = 2 * 720;
    for (g, w) in got.iter().zip(&want) {
        assert!(w[from..].iter().any(|x| x.abs() > 0.1));
        assert_eq!(bits(&g[from..]), bits(&w[from..]));
    }
}

#[test]
fn threads_once_no_schedule_can_arrive() {
    let one = run(tracks(4), 6000, 512);
    // `Processor::new` drops the controller; so may the caller.
    let (mut p, ctl) = processor_pair(tracks(4));
    drop(ctl);
    assert_eq!(p.set_threads(3), 3);
    assert_eq!(p.lag_blocks(), 1);
    let many = run_processor(&mut p, 2, 6000, 512);
    for (a, b) in one.iter().zip(&many) {
        // One block late, the same bits.
        assert!(b[..512].iter().all(|x| *x == 0.0));
        assert_eq!(bits(&b[512..]), bits(&a[..a.len() - 512]));
    }
    let mut p = Processor::new(tracks(4));
    assert_eq!(p.set_threads(2), 2);
    assert_eq!(p.set_threads(1), 1);
    assert_eq!(p.threads(), 1);
}
