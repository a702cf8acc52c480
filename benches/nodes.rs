//! Per-node cost in ns per sample per channel (stereo white noise at about -12 dBFS, 512-frame
//! blocks), through the real processor so the numbers include parameter evaluation and the NaN
//! guard. Run: `cargo bench --bench nodes`. Each benchmark processes one block of 512 stereo
//! frames; divide the reported time by 1024 for ns per sample per channel.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mixdown::node::Mode;
use mixdown::rt::Processor;

mod common;

const BLOCK: usize = 512;

fn insert_script(insert: &str) -> String {
    format!(
        "mix.session {{ sample_rate = 48000, length_s = 3600 }}\n\
         local b = mix.bus 'src'\n\
         local t = mix.track('n', {{ noise = 'white', level_db = -12 }})\n\
         local x = mix.bus 'x'\n\
         t:to(x)\n\
         x:{insert}\n"
    )
}

fn bench_inserts(c: &mut Criterion) {
    let mut g = c.benchmark_group("insert");
    g.throughput(Throughput::Elements((BLOCK * 2) as u64));
    let cases = [
        ("baseline (noise, fader, pan, bus)", "gain { gain_db = 0 }"),
        ("eq 4 bands", "eq { mix.low_shelf { hz = 100, gain_db = 2 }, mix.bell { hz = 400, q = 1.2, gain_db = -3 }, mix.bell { hz = 3000, q = 1, gain_db = 2 }, mix.high_shelf { hz = 10000, gain_db = -2 } }"),
        ("highpass 24 dB/oct", "highpass { hz = 80, slope_db = 24 }"),
        ("comp (above threshold)", "comp { threshold_db = -30, ratio = 4 }"),
        ("comp (below threshold)", "comp { threshold_db = -3, ratio = 4 }"),
        ("limit true-peak", "limit { ceiling_db = -18 }"),
        ("gate", "gate { threshold_db = -40 }"),
        ("reverb", "reverb { decay_s = 2 }"),
        ("delay (echo)", "delay { time_ms = 300, feedback = 0.4 }"),
        ("saturate 8x", "saturate { drive_db = 12 }"),
        ("multiband 3 splits", "multiband { crossovers_hz = { 200, 2000, 8000 } }"),
        ("width + mono below", "width { width = 1.2, mono_below_hz = 120 }"),
    ];
    for (name, ins) in cases {
        let s = common::schedule(&insert_script(ins), Mode::Offline);
        let mut p = Processor::new(s);
        let mut l = vec![0.0f32; BLOCK];
        let mut r = vec![0.0f32; BLOCK];
        g.bench_function(name, |b| {
            b.iter(|| {
                p.process(&mut [&mut l, &mut r]);
                black_box(l[0]);
            })
        });
    }
    g.finish();
}

fn bench_meter(c: &mut Criterion) {
    let mut g = c.benchmark_group("meter");
    let n = 48_000;
    let x: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.013).sin() * 0.5).collect();
    g.throughput(Throughput::Elements((n * 2) as u64));
    g.bench_function("loudness + true peak (measure)", |b| {
        b.iter(|| {
            let mut a = mixdown::measure::Analyzer::new(48_000.0, 2);
            a.process(&[&x, &x]);
            black_box(a.result())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_inserts, bench_meter);
criterion_main!(benches);
