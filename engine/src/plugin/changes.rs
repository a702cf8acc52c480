//! A block's parameter changes for a plugin, and the walk that cuts the block at each of them.
//!
//! Plugins differ in when they apply a parameter: CLAP's DPF wrapper once per `process` call,
//! an LV2 control port for a whole `run`. Cutting the block at every frame where a change
//! happens, and handing each piece its changes at its first frame, makes automation land on its
//! frame whatever the plugin does, and the output independent of the block size.

use std::ops::Range;

/// Most parameter changes one block may carry for one plugin (all parameters together); more
/// are dropped and counted (the parameter then jumps at its next change).
pub const MAX_EVENTS_PER_BLOCK: usize = 4096;

/// Preallocated parameter changes of the next block: (frame, key, value). Audio thread after
/// [`Changes::with_capacity`]; never grows.
#[derive(Debug, Default)]
pub struct Changes {
    pending: Vec<(u32, u32, f64)>,
    /// Changes that did not fit in a block (counted and dropped).
    pub dropped: u64,
}

impl Changes {
    /// Room for `n` changes per block. Control thread; allocates.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            pending: Vec::with_capacity(n),
            dropped: 0,
        }
    }

    /// Forgets the changes of the block. Audio thread.
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// Queues a change at `frame` of the next block; one that does not fit is counted and
    /// dropped. Audio thread; never grows the list.
    #[inline]
    pub fn push(&mut self, frame: u32, key: u32, value: f64) {
        if self.pending.len() < self.pending.capacity() {
            self.pending.push((frame, key, value));
        } else {
            self.dropped += 1;
        }
    }

    /// Replaces this block's changes by `other`'s (copies of a replicated plugin hear the same
    /// events). Audio thread; never grows the list.
    pub fn copy_from(&mut self, other: &Changes) {
        self.pending.clear();
        let n = other.pending.len().min(self.pending.capacity());
        self.pending.extend_from_slice(&other.pending[..n]);
        self.dropped += (other.pending.len() - n) as u64;
    }

    /// The changes in frame order (then by key), for a plugin that takes a whole block's
    /// changes at their frames. Sorts in place; no allocation.
    pub fn sorted(&mut self) -> &[(u32, u32, f64)] {
        self.pending
            .sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        &self.pending
    }

    /// Cuts `0..frames` at every changed frame and calls `piece` for each piece in order with
    /// the (key, value) changes that take effect at its first frame. Sorts in place; no
    /// allocation. Stops at the first error.
    pub fn pieces<E>(
        &mut self,
        frames: usize,
        mut piece: impl FnMut(Range<usize>, &[(u32, u32, f64)]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.pending
            .sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let (mut start, mut next) = (0usize, 0usize);
        while start < frames {
            let first = next;
            while next < self.pending.len() && (self.pending[next].0 as usize) <= start {
                next += 1;
            }
            let end = self
                .pending
                .get(next)
                .map_or(frames, |e| (e.0 as usize).min(frames));
            piece(start..end, &self.pending[first..next])?;
            start = end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_cut_at_each_change_and_late_changes_are_dropped() {
        let mut c = Changes::with_capacity(3);
        c.push(100, 2, 0.5);
        c.push(0, 1, 1.0);
        c.push(100, 1, 0.25);
        c.push(50, 1, 9.0); // no room
        assert_eq!(c.dropped, 1);
        let mut seen = Vec::new();
        c.pieces(256, |r, ch| {
            seen.push((r, ch.iter().map(|e| (e.1, e.2)).collect::<Vec<_>>()));
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (0..100, vec![(1, 1.0)]),
                (100..256, vec![(1, 0.25), (2, 0.5)])
            ]
        );
    }
}
