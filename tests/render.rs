//! Offline render: determinism (same bytes run to run, same samples at every block size),
//! tails, trimming and latency shift.

mod common;

use common::*;
use mixdown::buffer::MAX_BLOCK;
use mixdown::graph::GraphSpec;
use mixdown::io::wav::OutputFormat;
use mixdown::nodes::{Delay, DelayTime, Gain, Mute, Pan, Polarity, Sum};
use mixdown::param::AutomationEvent;
use mixdown::render::{render_to_file, render_to_vec, RenderOptions};

const BLOCKS: [usize; 5] = [1, 17, 64, 512, MAX_BLOCK];

fn opts(block: usize) -> RenderOptions {
    RenderOptions {
        block,
        max_tail_s: 2.0,
        ..RenderOptions::default()
    }
}

/// A small session that exercises most of the core: two tracks (a noise-like stereo-panned
/// one and a tone), automation, a mute toggle, a polarity flip, a delay send with a tail,
/// a feedback echo and a stereo master.
fn session() -> GraphSpec {
    let mut g = spec();
    let n = 30_000;
    let mut seed = 0x1234_5678u32;
    let noise: Vec<f32> = (0..n)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect();
    let tone: Vec<f32> = (0..n / 2).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
    let a = add_clip(&mut g, "drums/clip", noise);
    let b = g
        .add(
            "bass/clip",
            mixdown::nodes::Clip::new(vec![tone], 4000),
            None,
        )
        .unwrap();
    let ga = g.add("drums/gain", Gain, None).unwrap();
    g.automate(
        ga,
        "gain_db",
        AutomationEvent::Set {
            t_s: 0.1,
            value: -6.0,
        },
    )
    .unwrap();
    g.automate(
        ga,
        "gain_db",
        AutomationEvent::Linear {
            t_s: 0.4,
            value: 3.0,
        },
    )
    .unwrap();
    let pa = g.add("drums/pan", Pan, None).unwrap();
    g.automate(
        pa,
        "pan",
        AutomationEvent::Linear {
            t_s: 0.5,
            value: 0.8,
        },
    )
    .unwrap();
    let mb = g.add("bass/mute", Mute::default(), None).unwrap();
    g.set_param(mb, "mute", 0.0).unwrap();
    g.automate(
        mb,
        "mute",
        AutomationEvent::Set {
            t_s: 0.2,
            value: 1.0,
        },
    )
    .unwrap();
    g.automate(
        mb,
        "mute",
        AutomationEvent::Set {
            t_s: 0.3,
            value: 0.0,
        },
    )
    .unwrap();
    let pol = g.add("bass/polarity", Polarity, None).unwrap();
    let pb = g.add("bass/pan", Pan, None).unwrap();
    g.set_param(pb, "pan", -0.3).unwrap();
    let send = g
        .add("fx/delay", Delay::new(DelayTime::Frames(3000)), None)
        .unwrap();
    g.set_param(send, "gain_db", -3.0).unwrap();
    let echo_bus = g.add("fx/bus", Sum::new(2), None).unwrap();
    let echo = g
        .add("fx/echo", Delay::new(DelayTime::Frames(700)), None)
        .unwrap();
    g.set_param(echo, "gain_db", -9.0).unwrap();
    let master = g.add("master", Sum::new(2), None).unwrap();
    g.connect(a, ga, "in", None).unwrap();
    g.connect(ga, pa, "in", None).unwrap();
    g.connect(pa, master, "in", None).unwrap();
    g.connect(b, mb, "in", None).unwrap();
    g.connect(mb, pol, "in", None).unwrap();
    g.connect(pol, pb, "in", None).unwrap();
    g.connect(pb, master, "in", None).unwrap();
    g.connect(pb, send, "in", None).unwrap();
    g.connect(send, echo_bus, "in", None).unwrap();
    g.connect(echo_bus, echo, "in", None).unwrap();
    g.connect(echo, echo_bus, "in", None).unwrap();
    g.connect(echo_bus, master, "in", None).unwrap();
    g.set_output(master);
    g
}

#[test]
fn same_session_renders_identical_samples_at_every_block_size() {
    let g = session();
    let (reference, _) = render_to_vec(build(&g), &opts(1));
    assert_eq!(reference.len(), 2);
    // The echo tail rings past the 30 000-frame content, until it falls under −144 dBFS
    // (render::TAIL_SILENCE): −9 dB a repeat from about −14 dBFS is some 14 repeats of 700.
    assert!(reference[0].len() > 31_000, "len {}", reference[0].len());
    let last = reference[0].len() - 1;
    assert!(reference.iter().any(|c| c[last - 700..]
        .iter()
        .any(|x| x.abs() > mixdown::render::TAIL_SILENCE)));
    for block in BLOCKS {
        let (out, _) = render_to_vec(build(&g), &opts(block));
        assert_eq!(out[0].len(), reference[0].len(), "length at block {block}");
        for c in 0..2 {
            if let Some(i) = (0..out[c].len()).find(|&i| out[c][i] != reference[c][i]) {
                panic!(
                    "block {block}, channel {c}: first difference at frame {i}: {} vs {} (block 1)",
                    out[c][i], reference[c][i]
                );
            }
        }
    }
}

#[test]
fn same_session_renders_identical_wav24_bytes_twice() {
    let dir = tempfile::tempdir().unwrap();
    let g = session();
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    let ra = render_to_file(build(&g), &a, OutputFormat::Wav24, &opts(64)).unwrap();
    let rb = render_to_file(build(&g), &b, OutputFormat::Wav24, &opts(512)).unwrap();
    assert_eq!(ra.frames, rb.frames);
    let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(ba == bb, "two renders of one session differ");
    let info = mixdown::io::wav::probe(&a).unwrap();
    assert_eq!(info.frames, ra.frames);
    assert_eq!(info.channels, 2);
    assert_eq!(info.encoding, mixdown::io::wav::WavEncoding::Int(24));
    // Dither is there (the file is not just the rounded samples) but stays within ±1 LSB.
    let (_, planar) = mixdown::io::wav::read_all(&a).unwrap();
    let (exact, _) = render_to_vec(build(&g), &opts(64));
    let lsb = 1.0 / 8_388_608.0;
    let mut dithered = 0;
    for c in 0..2 {
        for (x, y) in planar[c].iter().zip(&exact[c]) {
            let q = (y * 8_388_608.0).round() / 8_388_608.0;
            assert!((x - y).abs() <= 1.5 * lsb, "{x} vs {y}");
            if *x != q {
                dithered += 1;
            }
        }
    }
    assert!(
        dithered > 1000,
        "only {dithered} samples differ from plain rounding"
    );
    // No temporary file is left next to the outputs.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

/// A delay's last block of sound must not be dropped when its input has just gone quiet: the
/// tail of `clip → delay → gain` is the clip, shifted, at every block size.
#[test]
fn delay_tail_is_complete_at_every_block_size() {
    for block in BLOCKS {
        let mut g = spec();
        let c = add_clip(&mut g, "clip", vec![1.0; 2000]);
        let d = g
            .add("delay", Delay::new(DelayTime::Frames(1000)), None)
            .unwrap();
        let out = g.add("gain", Gain, None).unwrap();
        g.connect(c, d, "in", None).unwrap();
        g.connect(d, out, "in", None).unwrap();
        g.set_output(out);
        let (o, _) = render_to_vec(build(&g), &opts(block));
        assert_eq!(o[0].len(), 3000, "block {block}");
        assert!(o[0][..1000].iter().all(|x| *x == 0.0), "block {block}");
        let ones = o[0][1000..].iter().filter(|x| **x == 1.0).count();
        assert_eq!(ones, 2000, "block {block}: delayed signal incomplete");
    }
}

/// Muting fades out over 5 ms at every block size; the fade must not be cut short when it ends
/// inside a block.
#[test]
fn mute_fades_out_over_5_ms_at_every_block_size() {
    let mut results = Vec::new();
    for block in BLOCKS {
        let mut g = spec();
        let c = add_clip(&mut g, "clip", vec![1.0; 4800]);
        let m = g.add("mute", Mute::default(), None).unwrap();
        g.set_param(m, "mute", 0.0).unwrap();
        g.automate(
            m,
            "mute",
            AutomationEvent::Set {
                t_s: 0.05,
                value: 1.0,
            },
        )
        .unwrap();
        g.connect(c, m, "in", None).unwrap();
        g.set_output(m);
        let (o, _) = render_to_vec(build(&g), &opts(block));
        let o = o[0].clone();
        // Fully open before, falling after frame 2400, closed 240 frames (5 ms) later.
        assert_eq!(o[2399], 1.0, "block {block}");
        assert!(
            o[2400] < 1.0 && o[2400] > 0.99,
            "block {block}: {}",
            o[2400]
        );
        assert!((o[2519] - 0.5).abs() < 0.01, "block {block}: {}", o[2519]);
        assert!(o[2638] > 0.0, "block {block}: fade cut short");
        assert!(o[2640..].iter().all(|x| *x == 0.0), "block {block}");
        results.push(o);
    }
    for (r, block) in results.iter().zip(BLOCKS) {
        assert_eq!(r, &results[0], "block {block} differs from block 1");
    }
}

/// Unmuting while the track is silent: the next note starts at full level (no fade-in left over
/// from a mute state that was frozen during the silence).
#[test]
fn unmute_during_silence_lets_the_next_note_start_at_full_level() {
    for block in BLOCKS {
        let mut g = spec();
        // Sound in [0, 4800) and [9600, 14400), silence in between.
        let mut x = vec![1.0; 14_400];
        x[4800..9600].fill(0.0);
        let c = g
            .add(
                "a",
                mixdown::nodes::Clip::new(vec![x[..4800].to_vec()], 0),
                None,
            )
            .unwrap();
        let c2 = g
            .add(
                "b",
                mixdown::nodes::Clip::new(vec![x[9600..].to_vec()], 9600),
                None,
            )
            .unwrap();
        let bus = g.add("bus", Sum::new(0), None).unwrap();
        let m = g.add("mute", Mute::default(), None).unwrap();
        // Muted for the first phrase, unmuted in the gap.
        g.set_param(m, "mute", 1.0).unwrap();
        g.automate(
            m,
            "mute",
            AutomationEvent::Set {
                t_s: 0.15,
                value: 0.0,
            },
        )
        .unwrap();
        g.connect(c, bus, "in", None).unwrap();
        g.connect(c2, bus, "in", None).unwrap();
        g.connect(bus, m, "in", None).unwrap();
        g.set_output(m);
        let (o, _) = render_to_vec(build(&g), &opts(block));
        assert!(o[0][..9600].iter().all(|v| *v == 0.0), "block {block}");
        assert_eq!(
            o[0][9600], 1.0,
            "block {block}: first sample after unmute faded"
        );
        assert!(
            o[0][9600..14_400].iter().all(|v| *v == 1.0),
            "block {block}"
        );
    }
}

/// A tail that never dies out (0 dB feedback) is cut at `max_tail_s`, at the same frame for
/// every block size.
#[test]
fn endless_tail_is_cut_at_max_tail_independent_of_block_size() {
    for block in BLOCKS {
        let mut g = spec();
        let c = add_clip(&mut g, "clip", impulses(10, &[0]));
        let bus = g.add("bus", Sum::new(0), None).unwrap();
        let d = g
            .add("echo", Delay::new(DelayTime::Frames(100)), None)
            .unwrap();
        g.connect(c, bus, "in", None).unwrap();
        g.connect(bus, d, "in", None).unwrap();
        g.connect(d, bus, "in", None).unwrap();
        g.set_output(bus);
        let o = RenderOptions {
            block,
            max_tail_s: 0.1,
            ..RenderOptions::default()
        };
        let (out, report) = render_to_vec(build(&g), &o);
        // Content 10 frames + 4800 frames of tail; the last echo inside is at 4800.
        assert_eq!(out[0].len(), 4801, "block {block}");
        assert_eq!(report.frames, 4801);
        assert_eq!(out[0][4800], 1.0);
    }
}

#[test]
fn render_window_from_to_is_exact() {
    let mut g = spec();
    let ramp: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
    let c = add_clip(&mut g, "clip", ramp);
    let out = g.add("gain", Gain, None).unwrap();
    g.connect(c, out, "in", None).unwrap();
    g.set_output(out);
    for block in [1, 64, 512] {
        let o = RenderOptions {
            block,
            from_s: Some(1000.0 / SR),
            to_s: Some(2500.0 / SR),
            ..RenderOptions::default()
        };
        let (v, report) = render_to_vec(build(&g), &o);
        assert_eq!(report.frames, 1500, "block {block}");
        assert_eq!(v[0][0], 1000.0);
        assert_eq!(v[0][1499], 2499.0);
    }
}

#[test]
fn trailing_silence_is_trimmed_but_content_length_is_kept() {
    let mut g = spec();
    // A clip that is mostly silence: the render still lasts as long as the clip.
    let c = add_clip(&mut g, "clip", impulses(5000, &[10]));
    let out = g.add("gain", Gain, None).unwrap();
    g.connect(c, out, "in", None).unwrap();
    g.set_output(out);
    let (v, report) = render_to_vec(build(&g), &opts(512));
    assert_eq!(v[0].len(), 5000);
    assert_eq!(report.frames, 5000);
    assert_eq!(report.sample_peak, 1.0);
    assert_eq!(nonzero(&v[0]), vec![(10, 1.0)]);
}
