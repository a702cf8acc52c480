//! Planar audio buffers. The compiler sizes one buffer pool per schedule; the processor hands
//! nodes slices of it. Every buffer is one channel of [`MAX_BLOCK`] samples.

/// The largest block the processor hands to a node. Host blocks of any size are sliced into
/// blocks of at most this many frames. Offline renders use it whole: per-block costs (parameter
/// evaluation, checks, and with several threads the hand-over between workers) are paid a
/// quarter as often as at 512 (mix16: 1.54 → 1.46 s on one thread, more on two).
pub const MAX_BLOCK: usize = 2048;

/// The most channels one port may carry (5.1 and 7.1 fit).
pub const MAX_CHANNELS: usize = 8;

/// A pool of channel buffers owned by one schedule (crate-internal: the executor reaches its
/// buffers through raw pointers, by indices the compiler assigned and `graph::validate` checks).
///
/// Allocation: only in [`BufferPool::new`]. The processor reads and writes buffers by index; the
/// compiler guarantees that a node's output buffers never alias any buffer it reads.
#[derive(Debug)]
pub(crate) struct BufferPool {
    data: Box<[f32]>,
    silent: Box<[SilentFlag]>,
    count: usize,
}

/// A buffer's silence flag on its own cache line (parallel workers write neighbouring flags).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub(crate) struct SilentFlag(pub(crate) bool);

impl BufferPool {
    /// Allocates `count` zeroed buffers.
    pub(crate) fn new(count: usize) -> Self {
        Self {
            data: vec![0.0; count.max(1) * MAX_BLOCK].into_boxed_slice(),
            silent: vec![SilentFlag(true); count.max(1)].into_boxed_slice(),
            count,
        }
    }

    /// Number of channel buffers.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Channel buffer `i`, first `frames` samples (bounds-checked).
    #[inline]
    pub(crate) fn get(&self, i: u32, frames: usize) -> &[f32] {
        let s = i as usize * MAX_BLOCK;
        &self.data[s..s + frames]
    }

    /// Raw base pointer, for the processor's split borrows (see `rt::exec`).
    #[inline]
    pub(crate) fn base_ptr(&mut self) -> *mut f32 {
        self.data.as_mut_ptr()
    }

    /// Raw pointer to the silence flags (see `rt::exec`).
    #[inline]
    pub(crate) fn silent_ptr(&mut self) -> *mut SilentFlag {
        self.silent.as_mut_ptr()
    }
}
