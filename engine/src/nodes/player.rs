//! `player`: streams an audio file (WAV, FLAC, MP3, Ogg Vorbis) from disk, decoded — and
//! resampled to the session rate when the file's rate differs (see [`crate::io::resample`]) —
//! chunk by chunk. Live, a reader thread does that into a lock-free ring ahead of the playhead
//! and the audio thread only pops from the ring. The whole file is never in memory. Placement: the file starts at
//! `start_s` on the song's timeline; `trim_start_s` skips into the file, `length_s` cuts it
//! short (seconds of the file; frames are counted at the session rate).
//!
//! WAVs in 16/24/32-bit integer or 32-bit float are read directly (no symphonia, no copy beyond
//! the sample conversion) and, at the session rate, need no resampler: the common case of many
//! long stems stays as fast as a plain file read.
//!
//! Offline there is no reader thread: the node reads (and resamples) the frames of each block
//! itself, synchronously — exact by construction, no ring to copy through, and with a parallel
//! render the reading is spread over the worker threads with the rest of the track's work. Live,
//! a reader thread fills the ring and a late ring plays silence and is counted as an underrun —
//! the callback never blocks.
//!
//! Seeks: when the transport jumps, the node asks the reader (through atomics) to restart at the
//! new position and plays silence until the fresh data arrives. The handshake — request (`want`),
//! reader stops and acknowledges (`ack`), node flushes the stale ring and confirms (`flushed`),
//! reader streams the new range — keeps stale and fresh frames apart without locks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rtrb::{Consumer, Producer, RingBuffer};

use crate::io::decode::AudioInfo;
use crate::io::resample::{frames_at_rate, AudioStream};
use crate::io::wav::WavInfo;
use crate::node::{Mode, Node, NodeDesc, ProcessConfig, ProcessContext, ProcessStatus};
use crate::param::Unit;
use crate::registry::{
    all_params, no_initial, Config, NodeKind, OptDefault, OptKind, OptionDesc, Role,
};

/// Kind description.
pub static DESC: NodeDesc = NodeDesc {
    kind: "player",
    inputs: &[],
    params: &[],
};

/// Registry entry: the source of a file track, `mix.track(name, { file = "x.wav", ... })`.
pub static KIND: NodeKind = NodeKind {
    name: "player",
    doc: "Streams an audio file (WAV, FLAC, MP3, Ogg Vorbis; any rate, resampled to the session's) placed on the timeline.",
    role: Role::Internal,
    desc: &DESC,
    options: &[
        OptionDesc {
            key: "file",
            kind: OptKind::Text(4096),
            default: OptDefault::None,
            doc: "the audio file (resolved against the script's folder)",
            user: true,
        },
        OptionDesc::num(
            "start_s",
            Unit::Seconds,
            0.0,
            1e6,
            OptDefault::Num(0.0),
            "song time at which the file starts",
        ),
        OptionDesc::num(
            "trim_start_s",
            Unit::Seconds,
            0.0,
            1e6,
            OptDefault::Num(0.0),
            "seconds skipped at the start of the file",
        ),
        OptionDesc::num(
            "length_s",
            Unit::Seconds,
            0.0,
            1e6,
            OptDefault::None,
            "seconds played at most, after the trim",
        ),
        OptionDesc {
            key: "stamp",
            kind: OptKind::Text(64),
            default: OptDefault::None,
            doc: "the file's size and modification time (a changed file is a new node)",
            user: false,
        },
    ],
    aliases: &[],
    check: |c, _| match c.text("file") {
        Some(_) => Ok(()),
        None => Err("needs a file".into()),
    },
    has_param: all_params,
    initial_params: no_initial,
    build: build_player,
};

fn build_player(c: &Config) -> Result<Box<dyn Node>, String> {
    let file = c.text("file").ok_or("needs a file")?;
    let info = crate::io::decode::probe_audio(std::path::Path::new(file))
        .map_err(|e| e.message.to_string())?;
    let placement = Placement {
        start_s: c.num("start_s"),
        trim_start_s: c.num("trim_start_s"),
        length_s: c.opt_num("length_s"),
    };
    Ok(Box::new(Player::new(info, placement)))
}

static READERS_STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Reader threads realtime players have started in this process (each opens its file): a
/// reload that keeps a player must not start another.
pub fn readers_started() -> u64 {
    READERS_STARTED.load(Ordering::Relaxed)
}

/// Fade-out of a file that the session's `length_s` ends early, seconds.
pub const END_FADE_S: f64 = 0.01;

/// Frames the ring holds ahead of the playhead.
pub const RING_FRAMES: usize = 1 << 15;
const CHUNK_FRAMES: usize = 2048;
/// Frames an offline player reads at a time: large enough that a WAV read goes straight from
/// the file into the player's buffer (past the reader's 64 KiB buffer, saving a copy).
const DIRECT_READ_FRAMES: usize = 8192;
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
}

/// What [`Player::new`] accepts: a probed file ([`AudioInfo`] from
/// [`crate::io::decode::probe_audio`], or a [`WavInfo`] from [`crate::io::wav::probe`]).
pub trait IntoAudioInfo {
    /// The shared description.
    fn into_audio_info(self) -> Arc<AudioInfo>;
}

impl IntoAudioInfo for Arc<AudioInfo> {
    fn into_audio_info(self) -> Arc<AudioInfo> {
        self
    }
}

impl IntoAudioInfo for AudioInfo {
    fn into_audio_info(self) -> Arc<AudioInfo> {
        Arc::new(self)
    }
}

impl IntoAudioInfo for Arc<WavInfo> {
    fn into_audio_info(self) -> Arc<AudioInfo> {
        Arc::new(AudioInfo::from((*self).clone()))
    }
}

impl IntoAudioInfo for WavInfo {
    fn into_audio_info(self) -> Arc<AudioInfo> {
        Arc::new(AudioInfo::from(self))
    }
}

/// Streams one audio file.
pub struct Player {
    info: Arc<AudioInfo>,
    /// The session rate the frame counts below are in (the file's rate until prepared).
    rate: u32,
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
    /// Offline: the stream read synchronously; the region frame of the next unread frame; read
    /// interleaved frames and the unread part of them (`scratch[ahead.0 .. ahead.1]`, in frames).
    direct: Option<Box<AudioStream>>,
    direct_pos: u64,
    scratch: Vec<f32>,
    ahead: (usize, usize),
    /// Offline: why the file stopped being read (the render fails with it).
    failed: Option<crate::error::Error>,
    /// Frames of fade before the end when the session's length cuts the file (0: no cut).
    end_fade: u64,
}

impl Clone for Player {
    /// A fresh, unprepared player of the same file and placement.
    fn clone(&self) -> Self {
        Self::new(self.info.clone(), self.placement)
    }
}

impl Player {
    /// A player of `info` (already probed) at `placement`. The file may be at any rate: it is
    /// resampled to the session's rate (known at `prepare`) as it is read.
    pub fn new(info: impl IntoAudioInfo, placement: Placement) -> Self {
        let info = info.into_audio_info();
        let mut me = Self {
            rate: info.sample_rate,
            start: 0,
            trim: 0,
            len: 0,
            info,
            placement,
            ring: None,
            hs: Arc::new(Handshake::default()),
            consumed: 0,
            gen: 0,
            direct: None,
            direct_pos: u64::MAX,
            scratch: Vec::new(),
            ahead: (0, 0),
            failed: None,
            end_fade: 0,
        };
        me.place(me.info.sample_rate);
        me
    }

    /// Counts the placement in frames at `rate`.
    fn place(&mut self, rate: u32) {
        let sr = rate as f64;
        let total = frames_at_rate(self.info.frames, self.info.sample_rate, rate);
        let p = self.placement;
        self.rate = rate;
        self.trim = ((p.trim_start_s * sr).round() as u64).min(total);
        let avail = total - self.trim;
        self.len = p
            .length_s
            .map_or(avail, |l| ((l * sr).round() as u64).min(avail));
        self.start = (p.start_s * sr).round() as u64;
    }

    /// Frames that were late in realtime mode (played as silence).
    pub fn underruns(&self) -> u64 {
        self.hs.underruns.load(Ordering::Relaxed)
    }

    fn spawn_reader(&mut self, from: u64) {
        READERS_STARTED.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = RingBuffer::<f32>::new(RING_FRAMES * self.info.channels);
        let rate = self.rate;
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
            .spawn(move || reader_thread(tx, &hs, &info, rate, trim, len));
        if let Err(e) = spawned {
            // Plays silence (counted as underruns), as when the file cannot be opened.
            eprintln!("mixdown: cannot start a reader thread: {e}");
        }
    }
}

fn reader_thread(
    mut tx: Producer<f32>,
    hs: &Handshake,
    info: &AudioInfo,
    rate: u32,
    trim: u64,
    len: u64,
) {
    let mut stream = match AudioStream::open(info, rate) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("mixdown: {e}");
            None
        }
    };
    let ch = info.channels;
    let mut buf = vec![0f32; CHUNK_FRAMES * ch];
    let mut gen = 0u64;
    let mut from = hs.seek_to.load(Ordering::Relaxed);
    loop {
        if let Some(stream) = stream.as_mut().filter(|_| from < len) {
            let r = stream_region(stream, &mut buf, &mut tx, hs, gen, trim + from, trim + len);
            if let Err(e) = r {
                eprintln!("mixdown: {e}");
            }
        }
        // Wait for a seek request (or stop).
        loop {
            if hs.stop.load(Ordering::Relaxed) {
                return;
            }
            let want = hs.want.load(Ordering::Acquire);
            if want != gen {
                gen = want;
                from = hs.seek_to.load(Ordering::Acquire);
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

/// Streams frames `[from, end)` of `stream` into the ring until done, stopped or re-targeted.
fn stream_region(
    stream: &mut AudioStream,
    buf: &mut [f32],
    tx: &mut Producer<f32>,
    hs: &Handshake,
    gen: u64,
    from: u64,
    end: u64,
) -> Result<(), crate::error::Error> {
    let ch = buf.len() / CHUNK_FRAMES;
    stream.seek(from)?;
    let mut pos = from;
    while pos < end {
        let n = ((end - pos) as usize).min(CHUNK_FRAMES);
        let got = stream.read(&mut buf[..n * ch])?;
        if got == 0 {
            return Ok(());
        }
        let chunk = &buf[..got * ch];
        let mut off = 0;
        while off < chunk.len() {
            if hs.stop.load(Ordering::Relaxed) || hs.want.load(Ordering::Acquire) != gen {
                return Ok(());
            }
            let k = tx.slots().min(chunk.len() - off);
            if k == 0 {
                std::thread::sleep(Duration::from_micros(300));
                continue;
            }
            if let Ok(w) = tx.write_chunk_uninit(k) {
                w.fill_from_iter(chunk[off..off + k].iter().copied());
            }
            off += k;
        }
        pos += got as u64;
    }
    Ok(())
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

    fn prepare(&mut self, cfg: &ProcessConfig) -> Result<(), String> {
        self.place(cfg.sample_rate.round() as u32);
        // The session's length ends the file too, with a short fade instead of a cut.
        self.end_fade = 0;
        if let Some(song) = cfg.song_length_frames {
            if self.start + self.len > song {
                self.len = song.saturating_sub(self.start);
                self.end_fade = ((END_FADE_S * cfg.sample_rate) as u64).min(self.len);
            }
        }
        let from = cfg.start_frame.saturating_sub(self.start).min(self.len);
        if cfg.mode == Mode::Offline {
            self.hs.stop.store(true, Ordering::Relaxed);
            self.ring = None;
            match AudioStream::open(&self.info, self.rate) {
                Ok(s) => self.direct = Some(Box::new(s)),
                // Probed when the script ran; vanished since: the render fails with this.
                Err(e) => self.failed = Some(e),
            }
            self.direct_pos = u64::MAX;
            self.scratch = vec![0.0; DIRECT_READ_FRAMES * self.info.channels];
        } else {
            self.spawn_reader(from);
        }
        Ok(())
    }

    fn reset(&mut self) {
        // Rewinding goes through the seek handshake on the next block.
        self.consumed = u64::MAX;
        self.direct_pos = u64::MAX;
    }

    fn process(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let status = self.play(cx);
        if self.end_fade > 0 {
            // Fade out over the last frames before the session's end.
            let end = self.start + self.len;
            let from = end - self.end_fade;
            let pos = cx.transport.position;
            if pos + cx.frames as u64 > from && pos < end {
                for o in cx.outputs.iter_mut() {
                    for (i, y) in o.iter_mut().enumerate() {
                        let t = pos + i as u64;
                        if t >= from {
                            *y *= end.saturating_sub(t) as f32 / self.end_fade as f32;
                        }
                    }
                }
            }
        }
        status
    }

    fn length_frames(&self) -> Option<u64> {
        Some(self.start + self.len)
    }

    fn failure(&self) -> Option<&crate::error::Error> {
        self.failed.as_ref()
    }
}

impl Player {
    /// The block's frames of the file (before the end fade).
    fn play(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        for o in cx.outputs.iter_mut() {
            o.fill(0.0);
        }
        let pos = cx.transport.position;
        let frames = cx.frames;
        let end = self.start + self.len;
        if !cx.transport.playing || pos + frames as u64 <= self.start || pos >= end {
            return ProcessStatus::Silent;
        }
        if self.direct.is_some() {
            return self.read_direct(cx);
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
            if (ring.slots() / ch) as u64 >= skip && skip < RING_FRAMES as u64 {
                if let Ok(c) = ring.read_chunk(skip as usize * ch) {
                    c.commit_all();
                }
                self.consumed = region_first;
            } else {
                self.request_seek(region_first, cx.transport.sample_rate);
                return ProcessStatus::Continue;
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
        let got = (ring.slots() / ch).min(want_frames);
        if got < want_frames {
            self.hs
                .underruns
                .fetch_add((want_frames - got) as u64, Ordering::Relaxed);
        }
        if let Ok(chunk) = ring.read_chunk(got * ch) {
            let (a, b) = chunk.as_slices();
            // Deinterleave frame by frame (the ring may wrap inside a frame only at a frame
            // boundary, since it holds whole frames).
            let mut i = out_from;
            for part in [a, b] {
                deinterleave(part, ch, cx.outputs, i);
                i += part.len() / ch;
            }
            chunk.commit_all();
        }
        // Late frames played as silence; when they arrive, the next block skips them (above),
        // so the stream stays aligned with the transport.
        self.consumed += got as u64;
        ProcessStatus::Continue
    }
}

/// Copies interleaved `frames` of `ch` channels into planar `outputs` from frame `at` on.
#[inline]
fn deinterleave(frames: &[f32], ch: usize, outputs: &mut [&mut [f32]], at: usize) {
    if ch == 2 {
        let (l, r) = outputs.split_at_mut(1);
        for (f, (yl, yr)) in frames
            .chunks_exact(2)
            .zip(l[0][at..].iter_mut().zip(r[0][at..].iter_mut()))
        {
            *yl = f[0];
            *yr = f[1];
        }
    } else {
        for (k, f) in frames.chunks_exact(ch).enumerate() {
            for (c, x) in f.iter().enumerate() {
                outputs[c][at + k] = *x;
            }
        }
    }
}

impl Player {
    /// Offline: reads the block's frames from the file.
    fn read_direct(&mut self, cx: &mut ProcessContext<'_>) -> ProcessStatus {
        let (pos, frames) = (cx.transport.position, cx.frames);
        let ch = self.info.channels;
        let Some(stream) = self.direct.as_mut() else {
            return ProcessStatus::Silent;
        };
        let first = self.start.saturating_sub(pos) as usize;
        let last = ((self.start + self.len - pos) as usize).min(frames);
        let region = pos + first as u64 - self.start;
        if self.direct_pos != region {
            if let Err(e) = stream.seek(self.trim + region) {
                self.failed = Some(e);
                self.direct = None;
                return ProcessStatus::Silent;
            }
            self.direct_pos = region;
            self.ahead = (0, 0);
        }
        let mut at = first;
        while at < last {
            if self.ahead.0 == self.ahead.1 {
                match stream.read(&mut self.scratch) {
                    Ok(0) => break,
                    Ok(n) => self.ahead = (0, n),
                    Err(e) => {
                        // The file changed under us (truncated): silence from here, and the
                        // render fails with this.
                        self.failed = Some(e);
                        self.direct = None;
                        break;
                    }
                }
            }
            let n = (last - at).min(self.ahead.1 - self.ahead.0);
            let buf = &self.scratch[self.ahead.0 * ch..(self.ahead.0 + n) * ch];
            deinterleave(buf, ch, cx.outputs, at);
            at += n;
            self.ahead.0 += n;
            self.direct_pos += n as u64;
        }
        ProcessStatus::Continue
    }

    fn request_seek(&mut self, region_frame: u64, sample_rate: f64) {
        let target = (region_frame + (SEEK_PREROLL_S * sample_rate) as u64).min(self.len);
        self.hs.seek_to.store(target, Ordering::Release);
        self.hs.want.fetch_add(1, Ordering::AcqRel);
        self.consumed = target;
    }
}
