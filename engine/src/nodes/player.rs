//! `player`: streams a WAV file from disk. A reader thread decodes chunks into a lock-free ring
//! ahead of the playhead; the audio thread only pops from the ring. The whole file is never in
//! memory. Placement: the file starts at `start_s` on the song's timeline; `trim_start_s` skips
//! into the file, `length_s` cuts it short.
//!
//! Offline, a block waits for the reader (render must be exact); live, a late ring plays silence
//! and is counted as an underrun — the callback never blocks.
//!
//! Seeks: when the transport jumps, the node asks the reader (through atomics) to restart at the
//! new position and plays silence until the fresh data arrives. The handshake — request (`want`),
//! reader stops and acknowledges (`ack`), node flushes the stale ring and confirms (`flushed`),
//! reader streams the new range — keeps stale and fresh frames apart without locks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rtrb::{Consumer, Producer, RingBuffer};

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
const CHUNK_FRAMES: usize = 2048;
/// How far ahead of the playhead a seek restarts the reader (its pre-roll).
pub const SEEK_PREROLL_S: f64 = 0.05;

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

#[derive(Debug, Default)]
struct Handshake {
    stop: AtomicBool,
    /// Region frame (0 = first trimmed frame) the reader should stream from, for `want`.
    seek_to: AtomicU64,
    want: AtomicU64,
    ack: AtomicU64,
    flushed: AtomicU64,
    underruns: AtomicU64,
    done: AtomicBool,
}

/// Streams one WAV file.
pub struct Player {
    info: Arc<WavInfo>,
    placement: Placement,
    start: u64,
    trim: u64,
    len: u64,
    ring: Option<Consumer<f32>>,
    hs: Arc<Handshake>,
    /// Region frame the next ring frame belongs to.
    consumed: u64,
    /// Generation of the data expected in the ring.
    gen: u64,
    mode: Mode,
}

impl Clone for Player {
    /// A fresh, unprepared player of the same file and placement.
    fn clone(&self) -> Self {
        Self::new(self.info.clone(), self.placement)
    }
}

impl Player {
    /// A player of `info` (already probed) at `placement`, assuming the file's rate equals the
    /// session's.
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
            hs: Arc::new(Handshake::default()),
            consumed: 0,
            gen: 0,
            mode: Mode::Offline,
        }
    }

    /// Frames that were late in realtime mode (played as silence).
    pub fn underruns(&self) -> u64 {
        self.hs.underruns.load(Ordering::Relaxed)
    }

    fn spawn_reader(&mut self, from: u64) {
        let (tx, rx) = RingBuffer::<f32>::new(RING_FRAMES * self.info.channels);
        self.hs.stop.store(true, Ordering::Relaxed);
        self.hs = Arc::new(Handshake::default());
        self.hs.seek_to.store(from, Ordering::Relaxed);
        self.ring = Some(rx);
        self.consumed = from;
        self.gen = 0;
        let (hs, info) = (self.hs.clone(), self.info.clone());
        let (trim, len) = (self.trim, self.len);
        let spawned = std::thread::Builder::new()
            .name("mixdown-reader".into())
            .spawn(move || reader_thread(tx, &hs, &info, trim, len));
        if spawned.is_err() {
            self.hs.done.store(true, Ordering::Release);
        }
    }
}

fn reader_thread(mut tx: Producer<f32>, hs: &Handshake, info: &WavInfo, trim: u64, len: u64) {
    let mut gen = 0u64;
    let mut from = hs.seek_to.load(Ordering::Relaxed);
    loop {
        if from < len {
            let r = read_frames(info, trim + from, trim + len, CHUNK_FRAMES, |chunk| {
                let mut off = 0;
                while off < chunk.len() {
                    if hs.stop.load(Ordering::Relaxed) || hs.want.load(Ordering::Acquire) != gen {
                        return false;
                    }
                    let n = tx.slots().min(chunk.len() - off);
                    if n == 0 {
                        std::thread::sleep(Duration::from_micros(300));
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
        }
        hs.done
            .store(hs.want.load(Ordering::Acquire) == gen, Ordering::Release);
        // Wait for a seek request (or stop).
        loop {
            if hs.stop.load(Ordering::Relaxed) {
                return;
            }
            let want = hs.want.load(Ordering::Acquire);
            if want != gen {
                gen = want;
                from = hs.seek_to.load(Ordering::Acquire);
                hs.done.store(false, Ordering::Release);
                hs.ack.store(gen, Ordering::Release);
                // Wait until the node has flushed what we pushed before.
                while hs.flushed.load(Ordering::Acquire) != gen {
                    if hs.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if hs.want.load(Ordering::Acquire) != gen {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                if hs.want.load(Ordering::Acquire) == gen {
                    break;
                }
                continue;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.hs.stop.store(true, Ordering::Relaxed);
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
        let from = cfg.start_frame.saturating_sub(self.start).min(self.len);
        self.spawn_reader(from);
    }

    fn reset(&mut self) {
        // Rewinding goes through the seek handshake on the next block.
        self.consumed = u64::MAX;
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        for o in cx.outputs.iter_mut() {
            o.fill(0.0);
        }
        let pos = cx.transport.position;
        let frames = cx.frames;
        let end = self.start + self.len;
        if !cx.transport.playing || pos + frames as u64 <= self.start || pos >= end {
            return ProcessStatus::Silent;
        }
        let ch = self.info.channels;
        let Some(ring) = self.ring.as_mut() else {
            return ProcessStatus::Silent;
        };
        // A seek in flight: flush stale frames once the reader has stopped, then wait for data.
        let want = self.hs.want.load(Ordering::Relaxed);
        if self.gen != want || self.hs.flushed.load(Ordering::Acquire) != want {
            if self.hs.ack.load(Ordering::Acquire) == want {
                let n = ring.slots();
                if let Ok(c) = ring.read_chunk(n) {
                    c.commit_all();
                }
                self.gen = want;
                self.hs.flushed.store(want, Ordering::Release);
            }
            return ProcessStatus::Continue;
        }
        // Frames of this block inside the file region, as region frames.
        let first = self.start.saturating_sub(pos) as usize;
        let last = ((end - pos) as usize).min(frames);
        let region_first = pos + first as u64 - self.start;
        let region_last = pos + last as u64 - self.start;
        if region_first > self.consumed {
            // Behind the transport: skip what is buffered, or seek if it is not enough.
            let skip = region_first - self.consumed;
            if self.mode == Mode::Offline && skip < RING_FRAMES as u64 {
                // Offline is exact: wait for the frames to skip, unless the stream has ended.
                while ((ring.slots() / ch) as u64) < skip && !self.hs.done.load(Ordering::Acquire) {
                    std::thread::yield_now();
                }
            }
            if (ring.slots() / ch) as u64 >= skip && skip < RING_FRAMES as u64 {
                if let Ok(c) = ring.read_chunk(skip as usize * ch) {
                    c.commit_all();
                }
                self.consumed = region_first;
            } else if self.mode == Mode::Realtime || skip >= RING_FRAMES as u64 {
                self.request_seek(region_first, cx.transport.sample_rate);
                return ProcessStatus::Continue;
            } else {
                // Offline, and the stream ended before this point (the file is shorter than it
                // was when probed): nothing more will come, so play silence from here.
                if let Ok(c) = ring.read_chunk(ring.slots()) {
                    c.commit_all();
                }
                self.consumed = region_first;
            }
        } else if region_last <= self.consumed {
            // The transport is before the buffered data (pre-roll): wait.
            if self.consumed - region_first > RING_FRAMES as u64 {
                self.request_seek(region_first, cx.transport.sample_rate);
            }
            return ProcessStatus::Continue;
        }
        let ring = self.ring.as_mut().expect("ring");
        let out_from = first + (self.consumed - region_first) as usize;
        let want_frames = last - out_from;
        if self.mode == Mode::Offline {
            while ring.slots() < want_frames * ch && !self.hs.done.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
        }
        let got = (ring.slots() / ch).min(want_frames);
        if got < want_frames {
            self.hs
                .underruns
                .fetch_add((want_frames - got) as u64, Ordering::Relaxed);
        }
        if let Ok(chunk) = ring.read_chunk(got * ch) {
            let (a, b) = chunk.as_slices();
            for (k, x) in a.iter().chain(b.iter()).enumerate() {
                cx.outputs[k % ch][out_from + k / ch] = *x;
            }
            chunk.commit_all();
        }
        // Late frames are lost (played as silence); keep the region position in step.
        self.consumed += want_frames as u64;
        if got < want_frames {
            // Discard the frames that arrive late so the stream stays aligned.
            let late = (want_frames - got) as u64;
            self.consumed -= late;
        }
        ProcessStatus::Continue
    }

    fn length_frames(&self) -> Option<u64> {
        Some(self.start + self.len)
    }
}

impl Player {
    fn request_seek(&mut self, region_frame: u64, sample_rate: f64) {
        let target = (region_frame + (SEEK_PREROLL_S * sample_rate) as u64).min(self.len);
        self.hs.seek_to.store(target, Ordering::Release);
        self.hs.want.fetch_add(1, Ordering::AcqRel);
        self.hs.done.store(false, Ordering::Release);
        self.consumed = target;
    }
}
