//! NaN and infinity never leave a node: they become silence, are counted per node, and the
//! report names the node.

mod common;

use common::*;
use mixdown::graph::GraphSpec;
use mixdown::node::{Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus};
use mixdown::nodes::{Gain, Sum};
use mixdown::render::{render_to_vec, RenderOptions};
use mixdown::rt::Processor;

static DESC: NodeDesc = NodeDesc {
    kind: "test_broken",
    inputs: &[],
    params: &[],
};

/// A broken source: 0.25 everywhere, except NaN at every frame ≡ 0 (mod 100) and +∞ / −∞ at
/// frames ≡ 50 (mod 100) on the first / second channel, for `len` frames.
#[derive(Clone, Debug)]
struct Broken {
    len: u64,
    channels: usize,
}

impl Node for Broken {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn output_channels(&self, _input_channels: &[usize]) -> usize {
        self.channels
    }

    fn prepare(&mut self, _cfg: &ProcessConfig) -> Result<(), String> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let pos = cx.transport.position;
        for (c, out) in cx.outputs.iter_mut().enumerate() {
            for (i, y) in out.iter_mut().enumerate() {
                let t = pos + i as u64;
                *y = if t >= self.len {
                    0.0
                } else if t % 100 == 0 {
                    f32::NAN
                } else if t % 100 == 50 {
                    if c == 0 {
                        f32::INFINITY
                    } else {
                        f32::NEG_INFINITY
                    }
                } else {
                    0.25
                };
            }
        }
        if pos >= self.len {
            ProcessStatus::Silent
        } else {
            ProcessStatus::Continue
        }
    }

    fn length_frames(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// broken (stereo, 1000 frames) → gain → master, with a clean clip also into the master.
fn graph() -> GraphSpec {
    let mut g = spec();
    let bad = g
        .add(
            "synth/osc",
            Broken {
                len: 1000,
                channels: 2,
            },
            None,
        )
        .unwrap();
    let gain = g.add("synth/gain", Gain, None).unwrap();
    g.set_param(gain, "gain_db", 6.0).unwrap();
    let clean = add_clip(&mut g, "pad", vec![0.125; 1000]);
    let master = g.add("master", Sum::new(2), None).unwrap();
    g.connect(bad, gain, "in", None).unwrap();
    g.connect(gain, master, "in", None).unwrap();
    g.connect(clean, master, "in", None).unwrap();
    g.set_output(master);
    g
}

#[test]
fn render_replaces_non_finite_samples_and_names_the_node() {
    for block in [1, 64, 512] {
        let (out, report) = render_to_vec(
            build(&graph()),
            &RenderOptions {
                block,
                ..RenderOptions::default()
            },
        );
        assert_eq!(out[0].len(), 1000);
        for ch in &out {
            assert!(ch.iter().all(|x| x.is_finite()), "block {block}");
        }
        // 10 NaN + 10 ±inf per channel, two channels; only the broken node is named.
        assert_eq!(
            report.nan_report,
            vec![("synth/osc".to_string(), 40)],
            "block {block}"
        );
        // The bad samples became silence (only the clean pad is left); the rest went through.
        let g = mixdown::units::db_to_gain(6.0);
        for ch in &out {
            assert_eq!(ch[0], 0.125);
            assert_eq!(ch[50], 0.125);
            assert_eq!(ch[1], 0.25 * g + 0.125);
            assert_eq!(ch[999], 0.25 * g + 0.125);
        }
        assert!(report.sample_peak.is_finite());
    }
}

#[test]
fn processor_counts_per_node_as_it_goes() {
    let mut p = Processor::new(build(&graph()));
    run_processor(&mut p, 2, 500, 128);
    assert_eq!(
        p.schedule().nan_report(),
        vec![("synth/osc".to_string(), 20)]
    );
    let out = run_processor(&mut p, 2, 700, 128);
    assert!(out.iter().flatten().all(|x| x.is_finite()));
    assert_eq!(
        p.schedule().nan_report(),
        vec![("synth/osc".to_string(), 40)]
    );
}

/// A clean session reports nothing.
#[test]
fn clean_session_has_an_empty_report() {
    let mut g = spec();
    let c = add_clip(&mut g, "pad", vec![0.5; 100]);
    let gain = g.add("gain", Gain, None).unwrap();
    g.connect(c, gain, "in", None).unwrap();
    g.set_output(gain);
    let (_, report) = render_to_vec(build(&g), &RenderOptions::default());
    assert!(report.nan_report.is_empty());
}
