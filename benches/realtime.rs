//! Realtime load: how much of one core the processor needs to play N stereo tracks (each with
//! a 4-band EQ and a compressor) at 48 kHz. Criterion reports the time per host buffer; the
//! load is that time divided by the buffer period (128 frames = 2.667 ms). Target from the
//! issue: 128 tracks at 128-frame buffers under 50 % of one core, i.e. under 1.333 ms here.
//! Also the reload path: evaluating and compiling a 64-track script plus planning the swap.
//! Run: `cargo bench --bench realtime`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mixdown::graph::diff::plan_migration;
use mixdown::node::Mode;
use mixdown::rt::Processor;

mod common;

fn bench_tracks(c: &mut Criterion) {
    let mut g = c.benchmark_group("process");
    g.sample_size(20);
    for n in [8usize, 32, 128] {
        let s = common::schedule(&common::tracks_script(n), Mode::Realtime);
        let mut p = Processor::new(s);
        for block in [64usize, 128, 512] {
            let mut l = vec![0.0f32; block];
            let mut r = vec![0.0f32; block];
            g.bench_with_input(
                BenchmarkId::new(format!("{n} tracks"), block),
                &block,
                |b, _| {
                    b.iter(|| {
                        // Stay inside the song (3600 s): past its end everything is silent and
                        // skipped, which would time nothing.
                        if p.position() > 48_000 * 3_000 {
                            p.seek(0);
                        }
                        p.process(&mut [&mut l, &mut r]);
                        black_box(l[0]);
                    })
                },
            );
        }
    }
    g.finish();
}

fn bench_reload(c: &mut Criterion) {
    let mut g = c.benchmark_group("reload");
    g.sample_size(10);
    let src = common::tracks_script(64);
    let running = common::schedule(&src, Mode::Realtime).summary();
    g.bench_function("64 tracks: evaluate + compile + plan", |b| {
        b.iter(|| {
            let mut s = common::schedule(&src, Mode::Realtime);
            black_box(plan_migration(&mut s, &running))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_tracks, bench_reload);
criterion_main!(benches);
