//! Channel rules and pan law through compiled graphs: mono/stereo/5.1 adaptation by
//! `node::mix_gain` (in the compiler, in the bus node and at the processor's host output), and the
//! constant-power pan law measured in LUFS (dsp-references.md §5: −23.0036 LUFS at every position).
// 0.70711 is the value the Web Audio spec publishes for the mixing rules; the test compares
// against the published figure on purpose, not against std's constant.
#![allow(clippy::approx_constant)]

mod common;

use std::f32::consts::FRAC_1_SQRT_2 as H;

use common::*;
use mixdown::dsp::loudness::LoudnessMeter;
use mixdown::graph::GraphSpec;
use mixdown::node::{Node, NodeDesc, PortDesc, ProcessConfig, ProcessContext, ProcessStatus};
use mixdown::nodes::{Clip, Pan, Sum};
use mixdown::render::{render_to_vec, RenderOptions};
use mixdown::rt::Processor;

static MONO_IN: [PortDesc; 1] = [fixed_port("in", 1)];
static STEREO_IN: [PortDesc; 1] = [fixed_port("in", 2)];
static MONO_DESC: NodeDesc = NodeDesc {
    kind: "test_mono_input",
    inputs: &MONO_IN,
    params: &[],
};
static STEREO_DESC: NodeDesc = NodeDesc {
    kind: "test_stereo_input",
    inputs: &STEREO_IN,
    params: &[],
};

/// A pass-through whose input port has a fixed width, so the compiler must adapt what is
/// connected to it.
#[derive(Clone, Debug)]
struct FixedInput(&'static NodeDesc);

impl Node for FixedInput {
    fn desc(&self) -> &'static NodeDesc {
        self.0
    }

    fn prepare(&mut self, _cfg: &ProcessConfig) -> Result<(), String> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        cx.pass_through();
        ProcessStatus::Continue
    }
}

/// A clip holding the constant `values[c]` on channel c for 64 frames.
fn dc(g: &mut GraphSpec, path: &str, values: &[f32]) -> mixdown::graph::NodeKey {
    let ch = values.iter().map(|v| vec![*v; 64]).collect();
    g.add(path, Clip::new(ch, 0), None).unwrap()
}

/// Frame 10 of every output channel of `src → sink`.
fn through(values: &[f32], sink: FixedInput) -> Vec<f32> {
    let mut g = spec();
    let c = dc(&mut g, "src", values);
    let s = g.add("sink", sink, None).unwrap();
    g.connect(c, s, "in", None).unwrap();
    g.set_output(s);
    run(build(&g), 64, 64).iter().map(|ch| ch[10]).collect()
}

/// 5.1 in the order L R C LFE Ls Rs, with values that keep every contribution visible.
const SURROUND: [f32; 6] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

#[test]
fn mono_to_stereo_copies_to_both_sides() {
    assert_eq!(through(&[0.25], FixedInput(&STEREO_DESC)), vec![0.25, 0.25]);
}

#[test]
fn stereo_to_mono_averages() {
    assert_eq!(through(&[0.5, 0.25], FixedInput(&MONO_DESC)), vec![0.375]);
}

#[test]
fn surround_to_stereo_folds_centre_and_surrounds_and_drops_lfe() {
    let (l, r) = (1.0 + H * 4.0 + H * 16.0, 2.0 + H * 4.0 + H * 32.0);
    assert_eq!(through(&SURROUND, FixedInput(&STEREO_DESC)), vec![l, r]);
    assert!((l - (1.0 + 0.70711 * 20.0)).abs() < 1e-3);
    assert!((r - (2.0 + 0.70711 * 36.0)).abs() < 1e-3);
}

#[test]
fn surround_to_mono_weights_each_channel() {
    let m = H * 1.0 + H * 2.0 + 4.0 + 0.5 * 16.0 + 0.5 * 32.0;
    assert_eq!(through(&SURROUND, FixedInput(&MONO_DESC)), vec![m]);
    assert!((m - (0.70711 * 3.0 + 4.0 + 24.0)).abs() < 1e-3);
}

/// A bus follows its widest input and up-mixes the narrower ones.
#[test]
fn bus_follows_widest_input_and_upmixes_the_rest() {
    let mut g = spec();
    let m = dc(&mut g, "mono", &[0.5]);
    let s = dc(&mut g, "stereo", &[0.25, -0.25]);
    let bus = g.add("bus", Sum::new(0), None).unwrap();
    g.connect(m, bus, "in", None).unwrap();
    g.connect(s, bus, "in", None).unwrap();
    g.set_output(bus);
    let out = run(build(&g), 64, 64);
    assert_eq!((out[0][5], out[1][5]), (0.75, 0.25));
}

/// A stereo bus fed 5.1 folds it down by the same rule, and so does the processor when a 5.1
/// mix is played on a stereo device.
#[test]
fn stereo_bus_and_stereo_device_fold_surround_down() {
    let want = [1.0 + H * 4.0 + H * 16.0, 2.0 + H * 4.0 + H * 32.0];
    let mut g = spec();
    let c = dc(&mut g, "surround", &SURROUND);
    let bus = g.add("bus", Sum::new(2), None).unwrap();
    g.connect(c, bus, "in", None).unwrap();
    g.set_output(bus);
    let out = run(build(&g), 64, 64);
    assert_eq!([out[0][3], out[1][3]], want);

    let mut g = spec();
    let c = dc(&mut g, "surround", &SURROUND);
    g.set_output(c);
    let mut p = Processor::new(build(&g));
    let out = run_processor(&mut p, 2, 64, 64);
    assert_eq!([out[0][3], out[1][3]], want);
    // And a mono mix on a stereo device plays on both sides.
    let mut g = spec();
    let c = dc(&mut g, "mono", &[0.3]);
    g.set_output(c);
    let mut p = Processor::new(build(&g));
    let out = run_processor(&mut p, 2, 64, 64);
    assert_eq!([out[0][3], out[1][3]], [0.3, 0.3]);
}

fn pan_gains_db(values: &[f32], p: f32) -> (f64, f64) {
    let mut g = spec();
    let c = dc(&mut g, "src", values);
    let pan = g.add("pan", Pan, None).unwrap();
    g.set_param(pan, "pan", f64::from(p)).unwrap();
    g.connect(c, pan, "in", None).unwrap();
    g.set_output(pan);
    let out = run(build(&g), 64, 64);
    assert_eq!(out.len(), 2);
    let db = |x: f32, v: f32| 20.0 * f64::from((x / v).abs()).log10();
    (
        db(out[0][7], values[0]),
        db(out[1][7], values[values.len() - 1]),
    )
}

#[test]
fn mono_source_pans_with_the_constant_power_law() {
    // dsp-references.md §5: centre −3.0103 dB per side; p = −0.5 → −0.688 / −8.343 dB.
    let (l, r) = pan_gains_db(&[0.5], 0.0);
    assert!(
        (l + 3.0103).abs() < 1e-3 && (r + 3.0103).abs() < 1e-3,
        "{l} {r}"
    );
    let (l, r) = pan_gains_db(&[0.5], -0.5);
    assert!(
        (l + 0.688).abs() < 1e-3 && (r + 8.343).abs() < 1e-3,
        "{l} {r}"
    );
    let (l, r) = pan_gains_db(&[0.5], 1.0);
    assert!(l < -100.0 && r.abs() < 1e-6, "{l} {r}");
}

#[test]
fn stereo_source_pans_with_the_balance_law() {
    let (l, r) = pan_gains_db(&[0.5, 0.25], 0.0);
    assert_eq!((l, r), (0.0, 0.0));
    let (l, r) = pan_gains_db(&[0.5, 0.25], -0.5);
    assert!(l == 0.0 && (r + 6.021).abs() < 1e-3, "{l} {r}");
}

/// A mono 1 kHz tone at −20 dBFS through the panner reads −23.0036 LUFS at every position
/// (BS.1770 sums the power of L and R; constant power keeps it).
#[test]
fn panned_tone_reads_the_same_loudness_at_every_position() {
    let sr = SR as f32;
    let tone: Vec<f32> = (0..(5.0 * SR) as usize)
        .map(|n| 0.1 * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / sr).sin())
        .collect();
    for p in [-1.0, -0.5, 0.0, 0.3, 1.0] {
        let mut g = spec();
        let c = add_clip(&mut g, "tone", tone.clone());
        let pan = g.add("pan", Pan, None).unwrap();
        g.set_param(pan, "pan", p).unwrap();
        g.connect(c, pan, "in", None).unwrap();
        g.set_output(pan);
        let (out, _) = render_to_vec(build(&g), &RenderOptions::default());
        let views: Vec<&[f32]> = out.iter().map(|c| c.as_slice()).collect();
        let mut meter = LoudnessMeter::stereo(SR);
        meter.process(&views);
        let lufs = meter.integrated_lufs().expect("loudness");
        assert!((lufs + 23.0036).abs() < 0.01, "pan {p}: {lufs} LUFS");
        // Independent cross-check with the ebur128 crate.
        let mut e = ebur128::EbuR128::new(2, 48_000, ebur128::Mode::I).unwrap();
        e.add_frames_planar_f32(&views).unwrap();
        let other = e.loudness_global().unwrap();
        assert!(
            (other + 23.0036).abs() < 0.01,
            "pan {p}: ebur128 {other} LUFS"
        );
    }
}
