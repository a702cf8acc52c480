//! Glides for direct parameter sets.

use super::Smoothing;

/// Default glide time for direct sets.
pub const SMOOTH_S: f64 = 0.020;

/// A linear (or log-linear) glide over a fixed number of frames. Never allocates.
#[derive(Clone, Debug)]
pub struct Smoother {
    style: Smoothing,
    /// Current value (in the smoothing domain: log for `Log`).
    current: f64,
    target: f64,
    step: f64,
    remaining: u32,
    glide_frames: u32,
}

impl Smoother {
    /// A smoother resting at `value`, gliding over `glide_frames` frames on each set.
    pub fn new(style: Smoothing, value: f32, glide_frames: u32) -> Self {
        let v = Self::encode(style, value);
        Self {
            style,
            current: v,
            target: v,
            step: 0.0,
            remaining: 0,
            glide_frames: glide_frames.max(1),
        }
    }

    fn encode(style: Smoothing, v: f32) -> f64 {
        match style {
            Smoothing::Log => (v.max(1e-9) as f64).ln(),
            _ => v as f64,
        }
    }

    fn decode(&self, v: f64) -> f32 {
        match self.style {
            Smoothing::Log => v.exp() as f32,
            _ => v as f32,
        }
    }

    /// Starts a glide to `value` (immediately for `Smoothing::None`).
    pub fn set_target(&mut self, value: f32) {
        self.target = Self::encode(self.style, value);
        if self.style == Smoothing::None {
            self.current = self.target;
            self.remaining = 0;
            return;
        }
        self.remaining = self.glide_frames;
        self.step = (self.target - self.current) / self.glide_frames as f64;
    }

    /// Jumps to `value` without a glide.
    pub fn jump(&mut self, value: f32) {
        self.target = Self::encode(self.style, value);
        self.current = self.target;
        self.remaining = 0;
    }

    /// Whether a glide is in progress.
    pub fn is_smoothing(&self) -> bool {
        self.remaining > 0
    }

    /// The current value.
    pub fn value(&self) -> f32 {
        self.decode(self.current)
    }

    /// Advances one frame and returns the new value.
    #[inline]
    pub fn tick(&mut self) -> f32 {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.current = if self.remaining == 0 {
                self.target
            } else {
                self.current + self.step
            };
        }
        self.decode(self.current)
    }

    /// Fills `out` with successive values (equal to `out.len()` calls to `tick`).
    pub fn fill(&mut self, out: &mut [f32]) {
        for o in out {
            *o = self.tick();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_target_exactly_on_step_n() {
        let mut s = Smoother::new(Smoothing::Linear, 0.0, 960);
        s.set_target(-6.0);
        let mut v = 0.0;
        for _ in 0..959 {
            v = s.tick();
        }
        assert!(v > -6.0);
        assert_eq!(s.tick(), -6.0);
        assert!(!s.is_smoothing());
    }

    #[test]
    fn log_glide_passes_the_geometric_mean_halfway() {
        let mut s = Smoother::new(Smoothing::Log, 100.0, 100);
        s.set_target(10000.0);
        let mut v = 0.0;
        for _ in 0..50 {
            v = s.tick();
        }
        assert!((v - 1000.0).abs() < 0.5, "{v}");
    }

    #[test]
    fn fill_equals_repeated_next() {
        let mut a = Smoother::new(Smoothing::Linear, 1.0, 64);
        let mut b = a.clone();
        a.set_target(3.0);
        b.set_target(3.0);
        let mut buf = [0.0; 100];
        a.fill(&mut buf);
        for x in buf {
            assert_eq!(x, b.tick());
        }
    }
}
