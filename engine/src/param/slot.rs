//! Per-instance parameter state used by the processor.

use super::automation::Segments;
use super::smoother::{Smoother, SMOOTH_S};
use super::{ParamDesc, ParamSetting};
use crate::buffer::MAX_BLOCK;
use crate::node::ParamValue;

/// One parameter of one node instance, as the processor holds it.
///
/// Built on the control thread (allocates its block buffer); [`ParamSlot::advance`] runs on the
/// audio thread and never allocates.
#[derive(Debug)]
pub struct ParamSlot {
    min: f32,
    max: f32,
    automation: Option<Segments>,
    smoother: Smoother,
    buf: Box<[f32]>,
    varying: bool,
    value: f32,
}

impl ParamSlot {
    /// A slot for `desc` with `setting` at `sample_rate`.
    pub fn new(desc: &ParamDesc, setting: &ParamSetting, sample_rate: f64) -> Self {
        let automation = (!setting.timeline.is_empty())
            .then(|| setting.timeline.compile(setting.initial(), sample_rate));
        Self {
            min: desc.min,
            max: desc.max,
            automation,
            smoother: Smoother::new(
                desc.smoothing,
                setting.value,
                (SMOOTH_S * sample_rate) as u32,
            ),
            buf: vec![0.0; MAX_BLOCK].into_boxed_slice(),
            varying: false,
            value: setting.value.clamp(desc.min, desc.max),
        }
    }

    /// Direct set: glides to `value` unless the parameter is automated (automation wins, as in
    /// Web Audio). Audio thread; never allocates.
    pub fn set(&mut self, value: f32) {
        if self.automation.is_none() {
            self.smoother.set_target(value);
        }
    }

    /// Takes over the glide state of `old` (same parameter of the instance being replaced), so a
    /// reload glides from where the old value was rather than jumping.
    pub fn continue_from(&mut self, old: &ParamSlot) {
        if self.automation.is_none() {
            let target = self.smoother.value();
            self.smoother.jump(old.smoother.value());
            self.smoother.set_target(target);
        }
    }

    /// Evaluates the block `start .. start + frames`. Returns whether the value moved: it varies
    /// in this block or the last one, or differs from the last block's. Audio thread; never
    /// allocates.
    #[inline]
    pub fn advance(&mut self, start: u64, frames: usize) -> bool {
        let before = (self.varying, self.value);
        self.advance_inner(start, frames);
        self.varying || before.0 || self.value != before.1
    }

    #[inline]
    fn advance_inner(&mut self, start: u64, frames: usize) {
        let buf = &mut self.buf[..frames];
        if let Some(seg) = &mut self.automation {
            match seg.fill(start, buf) {
                Some(v) => {
                    self.value = v.clamp(self.min, self.max);
                    self.varying = false;
                }
                None => {
                    for x in buf.iter_mut() {
                        *x = x.clamp(self.min, self.max);
                    }
                    self.varying = true;
                }
            }
        } else if self.smoother.is_smoothing() {
            self.smoother.fill(buf);
            for x in buf.iter_mut() {
                *x = x.clamp(self.min, self.max);
            }
            self.varying = true;
        } else {
            self.value = self.smoother.value().clamp(self.min, self.max);
            self.varying = false;
        }
    }

    /// The block's value (after [`ParamSlot::advance`]).
    #[inline]
    pub fn value(&self, frames: usize) -> ParamValue<'_> {
        if self.varying {
            ParamValue::Varying(&self.buf[..frames])
        } else {
            ParamValue::Const(self.value)
        }
    }
}
