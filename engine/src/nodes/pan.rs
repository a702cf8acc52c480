//! `pan`: places a mono source in a stereo image with the constant-power sin/cos law (−3.01 dB at
//! centre, L² + R² = 1 everywhere), or balances a stereo source (0 dB at centre:
//! L × min(1, 1 − p), R × min(1, 1 + p)). Wider sources pass through unchanged.

use crate::registry::{all_params, no_check, no_initial, NodeKind, Role};
use std::f32::consts::FRAC_PI_4;

use crate::node::{
    Node, NodeDesc, ParamValue, ProcessConfig, ProcessContext, ProcessStatus, IN_FOLLOW,
};
use crate::param::{ParamDesc, Unit};

/// Parameters of [`Pan`].
pub const PARAMS: &[ParamDesc] = &[ParamDesc::new(
    "pan",
    Unit::Pan,
    -1.0,
    1.0,
    0.0,
    "position: −1 hard left, 0 centre, +1 hard right",
)];

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "pan",
    inputs: &[IN_FOLLOW],
    params: PARAMS,
};

/// Registry entry: the pan stage of every strip.
pub static KIND: NodeKind = NodeKind {
    name: "pan",
    doc: "Constant-power (−3 dB) panner for mono sources, balance for stereo ones.",
    role: Role::Internal,
    desc: &DESC,
    options: &[],
    aliases: &[],
    check: no_check,
    has_param: all_params,
    initial_params: no_initial,
    build: |_| Ok(Box::new(Pan)),
};

/// The panner.
#[derive(Clone, Debug, Default)]
pub struct Pan;

/// Constant-power gains (left, right) for a mono source at `p`: `cos θ`, `sin θ` with
/// `θ = (p + 1)·π/4`, written as two sines so both sides are mirror images and a hard pan is
/// exactly 0 on the other side (`cos(π/2)` in `f32` is −4.4e-8, not 0).
#[inline]
pub fn constant_power(p: f32) -> (f32, f32) {
    let p = p.clamp(-1.0, 1.0);
    (((1.0 - p) * FRAC_PI_4).sin(), ((1.0 + p) * FRAC_PI_4).sin())
}

/// Balance gains (left, right) for a stereo source at `p`.
#[inline]
pub fn balance(p: f32) -> (f32, f32) {
    ((1.0 - p).min(1.0), (1.0 + p).min(1.0))
}

impl Node for Pan {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn output_channels(&self, input_channels: &[usize]) -> usize {
        input_channels.first().copied().unwrap_or(1).max(2)
    }

    fn prepare(&mut self, _cfg: &ProcessConfig) -> Result<(), String> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        if cx.input_silent {
            for o in cx.outputs.iter_mut() {
                o.fill(0.0);
            }
            return ProcessStatus::Silent;
        }
        let inp = cx.input(0);
        let p = cx.param(0);
        let law: fn(f32) -> (f32, f32) = match inp.len() {
            1 => constant_power,
            2 => balance,
            _ => {
                cx.pass_through();
                return ProcessStatus::Continue;
            }
        };
        let (l_in, r_in) = (inp[0], inp[inp.len() - 1]);
        let [l, r] = cx.outputs else {
            return ProcessStatus::Continue;
        };
        match p {
            ParamValue::Const(v) => {
                let (gl, gr) = law(v);
                for (y, x) in l.iter_mut().zip(l_in.iter()) {
                    *y = x * gl;
                }
                for (y, x) in r.iter_mut().zip(r_in.iter()) {
                    *y = x * gr;
                }
            }
            ParamValue::Varying(vs) => {
                for (((yl, yr), (xl, xr)), v) in l
                    .iter_mut()
                    .zip(r.iter_mut())
                    .zip(l_in.iter().zip(r_in.iter()))
                    .zip(vs)
                {
                    let (gl, gr) = law(*v);
                    *yl = xl * gl;
                    *yr = xr * gr;
                }
            }
        }
        ProcessStatus::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_power_law_matches_reference_table() {
        // dsp-references.md §5: centre −3.0103 dB per channel; p = −0.5 → −0.688 / −8.343 dB.
        let (l, r) = constant_power(0.0);
        assert!((20.0 * l.log10() + 3.0103).abs() < 1e-3);
        assert!((20.0 * r.log10() + 3.0103).abs() < 1e-3);
        let (l, r) = constant_power(-0.5);
        assert!((20.0 * l.log10() + 0.688).abs() < 1e-3);
        assert!((20.0 * r.log10() + 8.343).abs() < 1e-3);
        for p in [-1.0, -0.3, 0.2, 0.9] {
            let (l, r) = constant_power(p);
            assert!((l * l + r * r - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn balance_law_is_unity_at_centre() {
        assert_eq!(balance(0.0), (1.0, 1.0));
        let (l, r) = balance(-0.5);
        assert_eq!(l, 1.0);
        assert!((20.0 * r.log10() + 6.021).abs() < 1e-3);
    }
}
