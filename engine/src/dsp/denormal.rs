//! Flush-to-zero / denormals-are-zero for the duration of a processing call.
//!
//! Denormal floats make IIR filters and reverbs decaying towards silence 10–100× slower. On x86-64
//! the MXCSR FTZ and DAZ bits turn them into zero; the guard restores the previous state on drop.
#![allow(unsafe_code)]

/// Sets FTZ/DAZ while alive (a no-op on other architectures).
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    old: u32,
}

impl FlushDenormals {
    /// Enables flushing. Never allocates.
    #[inline]
    #[allow(deprecated)]
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            // SAFETY: reading and writing MXCSR only changes floating-point modes of this thread.
            let old = unsafe { _mm_getcsr() };
            unsafe { _mm_setcsr(old | 0x8040) };
            Self { old }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self {}
        }
    }
}

impl Default for FlushDenormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushDenormals {
    #[inline]
    #[allow(deprecated)]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::_mm_setcsr;
            // SAFETY: restores the mode saved in `new`.
            unsafe { _mm_setcsr(self.old) };
        }
    }
}
