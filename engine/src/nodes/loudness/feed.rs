//! What the loudness node keeps on the song's timeline: the meter's feed in pieces aligned to
//! [`WINDOW_FRAMES`] song frames, and the limiter's gain-reduction windows.

use super::super::control::WINDOW_FRAMES;
use crate::buffer::MAX_CHANNELS;
use crate::dsp::loudness::LoudnessMeter;

/// Gain-reduction statistics over windows of [`WINDOW_FRAMES`] song frames (block-size
/// independent: the limiter runs in pieces that end at the windows' edges).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct GrStats {
    window_db: f32,
    open: bool,
    max_db: f32,
    sum_db: f64,
    windows: u64,
}

impl GrStats {
    /// Records a piece's largest reduction into the open window.
    pub(super) fn add(&mut self, db: f32) {
        self.window_db = self.window_db.max(db);
        self.open = true;
    }

    /// Closes the open window (at a window edge).
    pub(super) fn close(&mut self) {
        if self.open {
            self.max_db = self.max_db.max(self.window_db);
            self.sum_db += self.window_db as f64;
            self.windows += 1;
            (self.window_db, self.open) = (0.0, false);
        }
    }

    /// `(max_db, average_db)`, the open window counted as one.
    pub(super) fn get(&self) -> Option<(f64, f64)> {
        let mut s = *self;
        s.close();
        (s.windows > 0).then(|| (s.max_db as f64, s.sum_db / s.windows as f64))
    }
}

/// Feeds a loudness meter the frames of the song in order, in pieces that end at multiples of
/// [`WINDOW_FRAMES`] song frames (the meter's own flushes then fall on the same frames at every
/// block size), holding back a run of zeros until a non-zero frame follows it (silence after
/// the last sound is not metered). Frames never handed over (the processor skipped the node)
/// are zeros.
#[derive(Clone, Debug, Default)]
pub(super) struct MeterFeed {
    /// One piece per channel, `WINDOW_FRAMES` long; `len` frames filled, from song frame `start`.
    acc: Vec<Vec<f32>>,
    start: u64,
    len: usize,
    /// Zeros heard but not yet metered.
    zeros: u64,
    /// Song frame after the last one handed over.
    next: Option<u64>,
}

impl MeterFeed {
    pub(super) fn new(channels: usize) -> Self {
        Self {
            acc: vec![vec![0.0; WINDOW_FRAMES as usize]; channels],
            ..Self::default()
        }
    }

    pub(super) fn clear(&mut self) {
        (self.start, self.len, self.zeros, self.next) = (0, 0, 0, None);
    }

    /// Hands over `chans` (the song frames from `pos`). No allocation.
    pub(super) fn feed(&mut self, meter: &mut LoudnessMeter, chans: &[&[f32]], pos: u64) {
        let n = chans.first().map_or(0, |c| c.len());
        match self.next {
            Some(p) => self.zeros += pos.saturating_sub(p),
            None => self.start = pos,
        }
        self.next = Some(pos + n as u64);
        let last = (0..n).rev().find(|&i| chans.iter().any(|c| c[i] != 0.0));
        let Some(k) = last else {
            self.zeros += n as u64;
            return;
        };
        let zeros = std::mem::take(&mut self.zeros);
        self.push(meter, None, zeros);
        self.push(meter, Some(chans), k as u64 + 1);
        self.zeros = (n - k - 1) as u64;
    }

    /// Appends `count` frames of `chans` (zeros for `None`), metering each completed piece.
    fn push(&mut self, meter: &mut LoudnessMeter, chans: Option<&[&[f32]]>, count: u64) {
        let mut done = 0u64;
        while done < count {
            let at = self.start + self.len as u64;
            let room = WINDOW_FRAMES - at % WINDOW_FRAMES;
            let t = room.min(count - done) as usize;
            let (a, d) = (self.len, done as usize);
            for (c, acc) in self.acc.iter_mut().enumerate() {
                match chans {
                    Some(x) => acc[a..a + t].copy_from_slice(&x[c][d..d + t]),
                    None => acc[a..a + t].fill(0.0),
                }
            }
            self.len += t;
            done += t as u64;
            if (at + t as u64) % WINDOW_FRAMES == 0 {
                self.meter_piece(meter);
            }
        }
    }

    /// Meters what is held (a whole piece, or the last part of the programme).
    pub(super) fn meter_piece(&mut self, meter: &mut LoudnessMeter) {
        if self.len > 0 {
            let views: [&[f32]; MAX_CHANNELS] =
                std::array::from_fn(|c| self.acc.get(c).map_or(&[][..], |a| &a[..self.len]));
            meter.process(&views[..self.acc.len()]);
            self.start += self.len as u64;
            self.len = 0;
        }
    }
}
