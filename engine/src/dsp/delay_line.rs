//! A fixed-length delay line (latency compensation, delay node). Allocates only in `new`.

/// Delays one channel by a whole number of frames.
#[derive(Clone, Debug)]
pub struct DelayLine {
    buf: Box<[f32]>,
    pos: usize,
    delay: usize,
}

impl DelayLine {
    /// A line of `delay` frames (0 is a plain copy).
    pub fn new(delay: usize) -> Self {
        Self {
            buf: vec![0.0; delay.max(1)].into_boxed_slice(),
            pos: 0,
            delay,
        }
    }

    /// The delay in frames.
    pub fn delay_frames(&self) -> usize {
        self.delay
    }

    /// `output[i] = input[i − delay]`. Never allocates.
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        if self.delay == 0 {
            output.copy_from_slice(input);
            return;
        }
        let n = self.buf.len();
        for (o, &x) in output.iter_mut().zip(input) {
            *o = self.buf[self.pos];
            self.buf[self.pos] = x;
            self.pos += 1;
            if self.pos == n {
                self.pos = 0;
            }
        }
    }

    /// Clears the memory.
    pub fn reset(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_by_exactly_n() {
        let mut d = DelayLine::new(3);
        let mut out = [0.0; 6];
        d.process(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut out);
        assert_eq!(out, [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
    }
}
