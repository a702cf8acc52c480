//! Sample-accurate automation timelines, in the manner of Web Audio's AudioParam.
//!
//! A [`Timeline`] is a list of events in seconds. [`Timeline::compile`] turns it into segments in
//! frames for one sample rate (control thread, allocates); [`Segments::fill`] evaluates a block
//! (audio thread, never allocates). Events:
//! - `Set(t, v)`: the value is `v` from frame `round(t·fs)` on;
//! - `Linear(t, v)` / `Exp(t, v)`: a ramp from the previous event (its time and value) that reaches
//!   `v` exactly at frame `round(t·fs)`; exponential ramps need both ends non-zero and of one sign
//!   (otherwise they are linear);
//! - `Target(t, v, tau)`: from `t`, approach `v` with time constant `tau` (63 % after `tau`);
//! - a curve of points is a `Set` at its first point and `Linear` ramps through the rest.

/// One automation event; times in seconds from the start of the song.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AutomationEvent {
    /// Jump to `value` at `t_s`.
    Set {
        /// Time in seconds.
        t_s: f64,
        /// New value.
        value: f32,
    },
    /// Linear ramp from the previous event, ending at `value` at `t_s`.
    Linear {
        /// End time in seconds.
        t_s: f64,
        /// End value.
        value: f32,
    },
    /// Exponential ramp from the previous event, ending at `value` at `t_s`.
    Exp {
        /// End time in seconds.
        t_s: f64,
        /// End value.
        value: f32,
    },
    /// Approach `value` from `t_s` on, with time constant `tau_s`.
    Target {
        /// Start time in seconds.
        t_s: f64,
        /// Value approached.
        value: f32,
        /// Time constant in seconds.
        tau_s: f64,
    },
}

impl AutomationEvent {
    /// The event's value.
    pub fn value(&self) -> f32 {
        match *self {
            AutomationEvent::Set { value, .. }
            | AutomationEvent::Linear { value, .. }
            | AutomationEvent::Exp { value, .. }
            | AutomationEvent::Target { value, .. } => value,
        }
    }

    /// The event's time in seconds.
    pub fn time_s(&self) -> f64 {
        match *self {
            AutomationEvent::Set { t_s, .. }
            | AutomationEvent::Linear { t_s, .. }
            | AutomationEvent::Exp { t_s, .. }
            | AutomationEvent::Target { t_s, .. } => t_s,
        }
    }
}

/// The automation of one parameter.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timeline {
    /// Events in time order (insertion keeps order for equal times).
    pub events: Vec<AutomationEvent>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Const(f32),
    Linear {
        t0: u64,
        v0: f64,
        t1: u64,
        v1: f64,
    },
    Exp {
        t0: u64,
        v0: f64,
        t1: u64,
        ratio: f64,
    },
    Target {
        t0: u64,
        v0: f64,
        v: f64,
        inv_tau: f64,
    },
}

impl Shape {
    #[inline]
    fn at(&self, n: u64) -> f32 {
        match *self {
            Shape::Const(v) => v,
            Shape::Linear { t0, v0, t1, v1 } => {
                if n >= t1 {
                    v1 as f32
                } else {
                    (v0 + (v1 - v0) * (n - t0) as f64 / (t1 - t0) as f64) as f32
                }
            }
            Shape::Exp { t0, v0, t1, ratio } => {
                if n >= t1 {
                    (v0 * ratio) as f32
                } else {
                    (v0 * ratio.powf((n - t0) as f64 / (t1 - t0) as f64)) as f32
                }
            }
            Shape::Target { t0, v0, v, inv_tau } => {
                (v + (v0 - v) * (-((n - t0) as f64) * inv_tau).exp()) as f32
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Segment {
    start: u64,
    shape: Shape,
}

/// A timeline compiled for one sample rate: segments in frames.
#[derive(Clone, Debug, PartialEq)]
pub struct Segments {
    segs: Box<[Segment]>,
    cursor: usize,
}

impl Timeline {
    /// Adds an event after the others. Events must come in time order: one earlier than the
    /// last event is refused, with the two times (seconds) in the error.
    pub fn push(&mut self, e: AutomationEvent) -> Result<(), (f64, f64)> {
        let t = e.time_s();
        if let Some(last) = self.events.last() {
            if t < last.time_s() {
                return Err((t, last.time_s()));
            }
        }
        self.events.push(e);
        Ok(())
    }

    /// Whether the events are in time order (a deserialised timeline is checked with it).
    pub fn is_ordered(&self) -> bool {
        self.events
            .windows(2)
            .all(|w| w[0].time_s() <= w[1].time_s())
    }

    /// Whether there is any automation.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Compiles to frame segments at `sample_rate`, starting from `initial`. Allocates.
    pub fn compile(&self, initial: f32, sample_rate: f64) -> Segments {
        let frame = |t: f64| (t.max(0.0) * sample_rate).round() as u64;
        let mut segs: Vec<Segment> = vec![Segment {
            start: 0,
            shape: Shape::Const(initial),
        }];
        let value_at = |segs: &[Segment], n: u64| -> f32 {
            let i = segs.partition_point(|s| s.start <= n).max(1) - 1;
            segs[i].shape.at(n)
        };
        let (mut prev_t, mut prev_v) = (0u64, initial as f64);
        for e in &self.events {
            match *e {
                AutomationEvent::Set { t_s, value } => {
                    let t = frame(t_s);
                    truncate_from(&mut segs, t);
                    segs.push(Segment {
                        start: t,
                        shape: Shape::Const(value),
                    });
                    (prev_t, prev_v) = (t, value as f64);
                }
                AutomationEvent::Linear { t_s, value } | AutomationEvent::Exp { t_s, value } => {
                    let t = frame(t_s).max(prev_t);
                    let v1 = value as f64;
                    truncate_from(&mut segs, prev_t);
                    let exp = matches!(e, AutomationEvent::Exp { .. })
                        && prev_v != 0.0
                        && v1 != 0.0
                        && prev_v.signum() == v1.signum();
                    if t > prev_t {
                        let shape = if exp {
                            Shape::Exp {
                                t0: prev_t,
                                v0: prev_v,
                                t1: t,
                                ratio: v1 / prev_v,
                            }
                        } else {
                            Shape::Linear {
                                t0: prev_t,
                                v0: prev_v,
                                t1: t,
                                v1,
                            }
                        };
                        segs.push(Segment {
                            start: prev_t,
                            shape,
                        });
                    }
                    segs.push(Segment {
                        start: t,
                        shape: Shape::Const(value),
                    });
                    (prev_t, prev_v) = (t, v1);
                }
                AutomationEvent::Target { t_s, value, tau_s } => {
                    let t = frame(t_s).max(prev_t);
                    let v0 = value_at(&segs, t) as f64;
                    truncate_from(&mut segs, t);
                    segs.push(Segment {
                        start: t,
                        shape: Shape::Target {
                            t0: t,
                            v0,
                            v: value as f64,
                            inv_tau: 1.0 / (tau_s.max(1e-9) * sample_rate),
                        },
                    });
                    (prev_t, prev_v) = (t, v0);
                }
            }
        }
        Segments {
            segs: segs.into_boxed_slice(),
            cursor: 0,
        }
    }
}

/// Drops the segments that start at or after frame `t`, keeping the first (frame 0) one: events
/// come in time order, so only trailing segments go and compiling stays linear.
fn truncate_from(segs: &mut Vec<Segment>, t: u64) {
    while segs.len() > 1 && segs.last().is_some_and(|s| s.start >= t) {
        segs.pop();
    }
    if t == 0 && segs.len() == 1 && segs[0].start >= t {
        segs.clear();
    }
}

impl Segments {
    /// No automation: a constant.
    pub fn constant(v: f32) -> Self {
        Timeline::default().compile(v, 48000.0)
    }

    /// Whether this is a single constant segment.
    pub fn is_static(&self) -> bool {
        self.segs.len() == 1 && matches!(self.segs[0].shape, Shape::Const(_))
    }

    /// The value at frame `n` (control thread helper; does not move the cursor).
    pub fn value_at(&self, n: u64) -> f32 {
        let i = self.segs.partition_point(|s| s.start <= n).max(1) - 1;
        self.segs[i].shape.at(n)
    }

    /// Evaluates frames `start .. start + out.len()`. Returns `Some(v)` when the whole block is the
    /// constant `v` (and leaves `out` untouched), else fills `out`. Never allocates.
    pub fn fill(&mut self, start: u64, out: &mut [f32]) -> Option<f32> {
        let segs = &self.segs;
        // Reposition the cursor (blocks usually move forward by one block; seeks jump).
        if self.cursor >= segs.len() || segs[self.cursor].start > start {
            self.cursor = segs.partition_point(|s| s.start <= start).max(1) - 1;
        }
        while self.cursor + 1 < segs.len() && segs[self.cursor + 1].start <= start {
            self.cursor += 1;
        }
        let end = start + out.len() as u64;
        let seg = segs[self.cursor];
        let next_start = segs.get(self.cursor + 1).map_or(u64::MAX, |s| s.start);
        if let Shape::Const(v) = seg.shape {
            if next_start >= end {
                return Some(v);
            }
        }
        let mut i = self.cursor;
        for (n, o) in (start..).zip(out.iter_mut()) {
            while i + 1 < segs.len() && segs[i + 1].start <= n {
                i += 1;
            }
            *o = segs[i].shape.at(n);
        }
        self.cursor = i;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(tl: &Timeline, init: f32, frames: usize, block: usize) -> Vec<f32> {
        let mut s = tl.compile(init, 1000.0);
        let mut out = vec![0.0; frames];
        let mut pos = 0;
        while pos < frames {
            let n = block.min(frames - pos);
            if let Some(v) = s.fill(pos as u64, &mut out[pos..pos + n]) {
                out[pos..pos + n].fill(v);
            }
            pos += n;
        }
        out
    }

    #[test]
    fn set_takes_effect_at_its_frame_at_every_block_size() {
        let mut tl = Timeline::default();
        tl.push(AutomationEvent::Set {
            t_s: 0.137,
            value: 1.0,
        })
        .unwrap();
        for block in [1, 17, 64, 512] {
            let out = render(&tl, 0.0, 400, block);
            assert_eq!(out[136], 0.0, "block {block}");
            assert_eq!(out[137], 1.0, "block {block}");
        }
    }

    #[test]
    fn linear_ramp_hits_exact_values() {
        let mut tl = Timeline::default();
        tl.push(AutomationEvent::Set {
            t_s: 0.1,
            value: 0.0,
        })
        .unwrap();
        tl.push(AutomationEvent::Linear {
            t_s: 0.2,
            value: 10.0,
        })
        .unwrap();
        let out = render(&tl, 5.0, 300, 17);
        assert_eq!(out[99], 5.0);
        assert_eq!(out[100], 0.0);
        assert!((out[150] - 5.0).abs() < 1e-6);
        assert!((out[110] - 1.0).abs() < 1e-6);
        assert_eq!(out[200], 10.0);
        assert_eq!(out[299], 10.0);
    }

    #[test]
    fn exp_ramp_and_target() {
        let mut tl = Timeline::default();
        tl.push(AutomationEvent::Set {
            t_s: 0.0,
            value: 100.0,
        })
        .unwrap();
        tl.push(AutomationEvent::Exp {
            t_s: 0.2,
            value: 10000.0,
        })
        .unwrap();
        tl.push(AutomationEvent::Target {
            t_s: 0.3,
            value: 0.0,
            tau_s: 0.05,
        })
        .unwrap();
        let out = render(&tl, 0.0, 500, 64);
        assert!((out[100] - 1000.0).abs() < 0.01, "{}", out[100]);
        assert_eq!(out[250], 10000.0);
        // 63.2 % of the way to 0 after one time constant
        assert!(
            (out[350] - 10000.0 * (-1f32).exp()).abs() < 0.5,
            "{}",
            out[350]
        );
    }
}
