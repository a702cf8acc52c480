//! What runs inside the sound card's callback, kept apart from cpal so tests can run exactly
//! this code: [`CallbackRenderer::render`] fills one device buffer.
//!
//! Each callback sets flush-to-zero/denormals-are-zero for its duration (x86_64 and aarch64),
//! and in debug and test builds runs under `assert_no_alloc`'s guard (a binary or test that
//! installs its allocator counts or reports any allocation). It renders the processor in blocks
//! of at most [`MAX_BLOCK`] frames into preallocated planar buffers, copies the first two
//! channels to the meter ring, and — when the device runs at another rate than the session —
//! converts the rate on the way ([`Resampled`], a short sinc resampler with small chunks) so a
//! 44.1 kHz session plays on a 48 kHz-only device. It never allocates, locks, logs or blocks.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::playback::PlaybackStats;
use super::resample::{FrameSource, Resampled};
use crate::buffer::{MAX_BLOCK, MAX_CHANNELS};
use crate::error::Error;
use crate::rt::Processor;

/// The processor as a source of interleaved frames (for the rate converter), feeding the meter.
pub struct ProcessorSource {
    processor: Processor,
    planar: Vec<Vec<f32>>,
    channels: usize,
    meter: Option<rtrb::Producer<f32>>,
}

impl ProcessorSource {
    fn new(processor: Processor, meter: Option<rtrb::Producer<f32>>) -> Self {
        let channels = processor.output_channels().clamp(1, MAX_CHANNELS);
        Self {
            processor,
            planar: vec![vec![0.0; MAX_BLOCK]; channels],
            channels,
            meter,
        }
    }

    /// Renders `n` (≤ MAX_BLOCK) frames into the planar scratch and feeds the meter.
    fn block(&mut self, n: usize) {
        let mut views: [&mut [f32]; MAX_CHANNELS] = Default::default();
        for (v, p) in views.iter_mut().zip(self.planar.iter_mut()) {
            *v = &mut p[..n];
        }
        self.processor.process(&mut views[..self.channels]);
        if let Some(m) = self.meter.as_mut() {
            let fit = (m.slots() / 2).min(n);
            if let Ok(w) = m.write_chunk_uninit(fit * 2) {
                let (l, r) = (
                    &self.planar[0],
                    self.planar.get(1).unwrap_or(&self.planar[0]),
                );
                w.fill_from_iter((0..fit).flat_map(|i| [l[i], r[i]]));
            }
        }
    }
}

impl FrameSource for ProcessorSource {
    fn channels(&self) -> usize {
        self.channels
    }

    /// The transport is the processor's own: the converter's seeks are ignored.
    fn seek(&mut self, _frame: u64) -> Result<(), Error> {
        Ok(())
    }

    fn read(&mut self, out: &mut [f32]) -> Result<usize, Error> {
        let ch = self.channels;
        let frames = out.len() / ch;
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(MAX_BLOCK);
            self.block(n);
            for (i, f) in out[done * ch..(done + n) * ch]
                .chunks_exact_mut(ch)
                .enumerate()
            {
                for (c, s) in f.iter_mut().enumerate() {
                    *s = self.planar[c][i];
                }
            }
            done += n;
        }
        Ok(frames)
    }
}

enum Source {
    Direct(Box<ProcessorSource>),
    Converted(Box<Resampled<ProcessorSource>>),
}

/// One device buffer at a time; see the module documentation.
pub struct CallbackRenderer {
    source: Source,
    /// Interleaved frames at the device rate, in the session's channel count.
    scratch: Vec<f32>,
    device_channels: usize,
    device_rate: f64,
    stats: Arc<PlaybackStats>,
}

/// Largest device buffer rendered in one piece (bigger ones are rendered in several).
const SCRATCH_FRAMES: usize = 4096;

impl CallbackRenderer {
    /// A renderer of `processor` (running at `session_rate`) for a device with
    /// `device_channels` channels at `device_rate`. Control thread; allocates.
    pub fn new(
        processor: Processor,
        session_rate: u32,
        device_rate: u32,
        device_channels: usize,
        stats: Arc<PlaybackStats>,
        meter: Option<rtrb::Producer<f32>>,
    ) -> Result<Self, Error> {
        let src = ProcessorSource::new(processor, meter);
        let ch = src.channels;
        let source = if session_rate == device_rate {
            Source::Direct(Box::new(src))
        } else {
            Source::Converted(Box::new(Resampled::live(src, session_rate, device_rate)?))
        };
        Ok(Self {
            source,
            scratch: vec![0.0; SCRATCH_FRAMES * ch],
            device_channels: device_channels.max(1),
            device_rate: f64::from(device_rate),
            stats,
        })
    }

    /// Whether the session's rate is converted to the device's.
    pub fn converts_rate(&self) -> bool {
        matches!(self.source, Source::Converted(_))
    }

    /// Fills one device buffer (interleaved, `device_channels` per frame), converting each
    /// sample with `convert`. Audio thread: never allocates, locks, logs or blocks; checked in
    /// debug and test builds.
    pub fn render<T: Copy>(&mut self, data: &mut [T], convert: impl Fn(f32) -> T) {
        let _ftz = crate::dsp::denormal::FlushDenormals::new();
        guard(|| self.render_inner(data, &convert));
    }

    fn render_inner<T: Copy>(&mut self, data: &mut [T], convert: &impl Fn(f32) -> T) {
        let t0 = Instant::now();
        let dch = self.device_channels;
        let frames = data.len() / dch;
        let sch = match &self.source {
            Source::Direct(s) => s.channels,
            Source::Converted(r) => r.source().channels,
        };
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(SCRATCH_FRAMES);
            let buf = &mut self.scratch[..n * sch];
            let got = match &mut self.source {
                Source::Direct(s) => s.read(buf).unwrap_or(0),
                Source::Converted(r) => r.read(buf).unwrap_or(0),
            };
            buf[got * sch..].fill(0.0);
            let out = &mut data[done * dch..(done + n) * dch];
            for (f, src) in out.chunks_exact_mut(dch).zip(buf.chunks_exact(sch)) {
                for (c, s) in f.iter_mut().enumerate() {
                    // Mono sessions on every channel; extra device channels silent.
                    let x = if sch == 1 {
                        src[0]
                    } else {
                        src.get(c).copied().unwrap_or(0.0)
                    };
                    *s = convert(x.clamp(-1.0, 1.0));
                }
            }
            done += n;
        }
        let stats = &self.stats;
        stats.callbacks.fetch_add(1, Ordering::Relaxed);
        stats.frames.fetch_add(frames as u64, Ordering::Relaxed);
        let period = frames as f64 / self.device_rate;
        let load = (t0.elapsed().as_secs_f64() / period.max(1e-9) * 1000.0) as u32;
        stats.load_permille.store(load, Ordering::Relaxed);
        stats.max_load_permille.fetch_max(load, Ordering::Relaxed);
    }
}

/// Runs `f` under the allocation guard in debug and test builds (a no-op in release).
#[inline]
fn guard<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(debug_assertions)]
    {
        assert_no_alloc::assert_no_alloc(f)
    }
    #[cfg(not(debug_assertions))]
    {
        f()
    }
}
