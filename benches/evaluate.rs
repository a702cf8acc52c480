//! What evaluating a script costs, in this process and in the isolated evaluator process the
//! command line uses (`mixdown __evaluate` under OS limits): the built-in demo and a 64-track
//! script. The difference is the price of isolation (process start, JSON both ways, the
//! parent's validation). Run: `cargo bench --bench evaluate`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use mixdown::script::{Evaluator, Job, ScriptOptions, DEMO_SCRIPT};

mod common;

fn bench_evaluate(c: &mut Criterion) {
    let mut g = c.benchmark_group("evaluate");
    g.sample_size(20);
    let opts = ScriptOptions::default();
    let isolated = Evaluator::Isolated {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_mixdown")),
    };
    let jobs = [
        (
            "demo",
            Job::Source {
                text: DEMO_SCRIPT.to_string(),
                name: "demo.lua".into(),
                dir: Path::new(".").to_path_buf(),
            },
        ),
        (
            "64 tracks",
            Job::Source {
                text: common::tracks_script(64),
                name: "tracks.lua".into(),
                dir: Path::new(".").to_path_buf(),
            },
        ),
    ];
    for (name, job) in &jobs {
        g.bench_function(format!("{name}: in process"), |b| {
            b.iter(|| {
                black_box(
                    Evaluator::InProcess
                        .run(job, &opts, None)
                        .unwrap()
                        .spec
                        .nodes
                        .len(),
                )
            })
        });
        g.bench_function(format!("{name}: isolated"), |b| {
            b.iter(|| black_box(isolated.run(job, &opts, None).unwrap().spec.nodes.len()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_evaluate);
criterion_main!(benches);
