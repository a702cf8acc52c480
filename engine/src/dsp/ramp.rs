//! A linear per-sample ramp shared by the effects (gains and mixes that must not click).

/// Linear per-sample ramp towards a target over a fixed number of frames (block-size independent).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ramp {
    pub(crate) value: f32,
    pub(crate) target: f32,
    pub(crate) step: f32,
    pub(crate) left: u32,
}

impl Ramp {
    pub(crate) fn new(v: f32) -> Self {
        Self {
            value: v,
            target: v,
            step: 0.0,
            left: 0,
        }
    }

    pub(crate) fn set(&mut self, target: f32, frames: u32) {
        if frames == 0 || target == self.value {
            *self = Self::new(target);
        } else {
            self.target = target;
            self.step = (target - self.value) / frames as f32;
            self.left = frames;
        }
    }

    #[inline(always)]
    pub(crate) fn next(&mut self) -> f32 {
        if self.left > 0 {
            self.left -= 1;
            self.value = if self.left == 0 {
                self.target
            } else {
                self.value + self.step
            };
        }
        self.value
    }
}
