//! `player`: streams a WAV file from disk. A reader thread decodes chunks into a lock-free ring
//! ahead of the playhead; the audio thread only pops from the ring. The whole file is never in
//! memory. Placement: the file starts at `start_s` on the song's timeline; `trim_start_s` skips
//! into the file, `length_s` cuts it short.
//!
//! Offline, a block waits for the reader (render must be exact); live, a late ring plays silence
//! and is counted as an underrun — the callback never blocks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use rtrb::{Consumer, RingBuffer};

use crate::io::wav::{read_frames, WavInfo};
use crate::node::{Mode, Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus};

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "player",
    inputs: &[],
    params: &[],
};

/// Frames the ring holds ahead of the playhead.
pub const RING_FRAMES: usize = 1 << 15;
const CHUNK_FRAMES: usize = 4096;

/// Where a file sits on the timeline.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Placement {
    /// Song time at which the file's first (trimmed) frame plays, in seconds.
    pub start_s: f64,
    /// Seconds skipped at the start of the file.
    pub trim_start_s: f64,
    /// Seconds played at most (after the trim); `None` plays to the end.
    pub length_s: Option<f64>,
}

/// Streams one WAV file.
pub struct Player {
    info: Arc<WavInfo>,
    placement: Placement,
    start: u64,
    trim: u64,
    len: u64,
    ring: Option<Consumer<f32>>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    consumed: u64,
    mode: Mode,
    underruns: Arc<AtomicU64>,
}

impl Clone for Player {
    /// A fresh, unprepared player of the same file and placement.
    fn clone(&self) -> Self {
        Self::new(self.info.clone(), self.placement)
    }
}

impl Player {
    /// A player of `info` (already probed) at `placement`. Frames are computed in `prepare`,
    /// assuming the file's rate equals the session's.
    pub fn new(info: Arc<WavInfo>, placement: Placement) -> Self {
        let sr = info.sample_rate as f64;
        let trim = ((placement.trim_start_s * sr).round() as u64).min(info.frames);
        let avail = info.frames - trim;
        let len = placement
            .length_s
            .map_or(avail, |l| ((l * sr).round() as u64).min(avail));
        Self {
            start: (placement.start_s * sr).round() as u64,
            trim,
            len,
            info,
            placement,
            ring: None,
            stop: Arc::new(AtomicBool::new(false)),
            done: Arc::new(AtomicBool::new(false)),
            consumed: 0,
            mode: Mode::Offline,
            underruns: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Frames that were late in realtime mode (played as silence).
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }

    fn spawn_reader(&mut self) {
        let (mut tx, rx) = RingBuffer::<f32>::new(RING_FRAMES * self.info.channels);
        self.stop.store(true, Ordering::Relaxed);
        self.stop = Arc::new(AtomicBool::new(false));
        self.done = Arc::new(AtomicBool::new(false));
        let (stop, done, info) = (self.stop.clone(), self.done.clone(), self.info.clone());
        let (from, to) = (self.trim, self.trim + self.len);
        self.ring = Some(rx);
        self.consumed = 0;
        let spawned = std::thread::Builder::new()
            .name("mixdown-reader".into())
            .spawn(move || {
                let r = read_frames(&info, from, to, CHUNK_FRAMES, |chunk| {
                    let mut off = 0;
                    while off < chunk.len() {
                        if stop.load(Ordering::Relaxed) {
                            return false;
                        }
                        let n = tx.slots().min(chunk.len() - off);
                        if n == 0 {
                            std::thread::sleep(std::time::Duration::from_micros(500));
                            continue;
                        }
                        if let Ok(w) = tx.write_chunk_uninit(n) {
                            w.fill_from_iter(chunk[off..off + n].iter().copied());
                        }
                        off += n;
                    }
                    true
                });
                if let Err(e) = r {
                    eprintln!("mixdown: {e}");
                }
                done.store(true, Ordering::Release);
            });
        if spawned.is_err() {
            self.done.store(true, Ordering::Release);
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Node for Player {
    fn desc(&self) -> &'static NodeDesc {
        &DESC
    }

    fn output_channels(&self, _input_channels: &[usize]) -> usize {
        self.info.channels
    }

    fn prepare(&mut self, cfg: &ProcessConfig) {
        self.mode = cfg.mode;
        self.spawn_reader();
    }

    fn reset(&mut self) {
        // Rewinding needs the reader thread; done by the control side (re-prepare).
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let pos = cx.transport.position;
        let frames = cx.frames;
        let end = self.start + self.len;
        if !cx.transport.playing || pos + frames as u64 <= self.start || pos >= end {
            for o in cx.outputs.iter_mut() {
                o.fill(0.0);
            }
            return ProcessStatus::Silent;
        }
        let ch = self.info.channels;
        // Frames of this block inside the file region.
        let first = self.start.saturating_sub(pos) as usize;
        let last = ((end - pos) as usize).min(frames);
        let want = last - first;
        let in_sync = pos + first as u64 - self.start == self.consumed;
        for o in cx.outputs.iter_mut() {
            o[..first].fill(0.0);
            o[last..].fill(0.0);
        }
        let Some(ring) = self.ring.as_mut() else {
            return ProcessStatus::Silent;
        };
        if !in_sync {
            // A transport jump: the ring holds other material. Silence until a reload re-seeks.
            for o in cx.outputs.iter_mut() {
                o[first..last].fill(0.0);
            }
            return ProcessStatus::Continue;
        }
        if self.mode == Mode::Offline {
            while ring.slots() < want * ch && !self.done.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
        }
        let got = (ring.slots() / ch).min(want);
        if got < want {
            self.underruns.fetch_add((want - got) as u64, Ordering::Relaxed);
        }
        if let Ok(chunk) = ring.read_chunk(got * ch) {
            let (a, b) = chunk.as_slices();
            for (k, x) in a.iter().chain(b.iter()).enumerate() {
                cx.outputs[k % ch][first + k / ch] = *x;
            }
            chunk.commit_all();
        }
        for o in cx.outputs.iter_mut() {
            o[first + got..last].fill(0.0);
        }
        self.consumed += want as u64;
        ProcessStatus::Continue
    }

    fn length_frames(&self) -> Option<u64> {
        Some(self.start + self.len)
    }
}
