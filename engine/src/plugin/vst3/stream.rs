//! An in-memory `IBStream`, for component and controller states. Control thread.

#![allow(non_snake_case)] // The trait methods carry the SDK's names.

use std::ffi::c_void;
use std::sync::Mutex;

use vst3::Steinberg::{
    int32, int64, kInvalidArgument, kResultOk, tresult, IBStream, IBStreamTrait,
    IBStream_::IStreamSeekMode_,
};
use vst3::{Class, ComWrapper};

/// An in-memory `IBStream` (states).
#[derive(Default)]
pub struct MemStream(Mutex<(Vec<u8>, usize)>);

impl Class for MemStream {
    type Interfaces = (IBStream,);
}

impl MemStream {
    /// A stream to read `bytes` from.
    pub fn reading(bytes: &[u8]) -> ComWrapper<Self> {
        ComWrapper::new(Self(Mutex::new((bytes.to_vec(), 0))))
    }

    /// An empty stream to write to.
    pub fn writing() -> ComWrapper<Self> {
        ComWrapper::new(Self::default())
    }

    /// Everything written.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }
}

impl IBStreamTrait for MemStream {
    unsafe fn read(
        &self,
        buffer: *mut c_void,
        numBytes: int32,
        numBytesRead: *mut int32,
    ) -> tresult {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (data, pos) = &mut *g;
        let n = (numBytes.max(0) as usize).min(data.len().saturating_sub(*pos));
        if n > 0 {
            if buffer.is_null() {
                return kInvalidArgument;
            }
            // SAFETY: `buffer` holds `numBytes` bytes.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr().add(*pos), buffer as *mut u8, n) };
        }
        *pos += n;
        if !numBytesRead.is_null() {
            // SAFETY: the caller's out pointer.
            unsafe { *numBytesRead = n as int32 };
        }
        kResultOk
    }

    unsafe fn write(
        &self,
        buffer: *mut c_void,
        numBytes: int32,
        numBytesWritten: *mut int32,
    ) -> tresult {
        let n = numBytes.max(0) as usize;
        if n > 0 && buffer.is_null() {
            return kInvalidArgument;
        }
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (data, pos) = &mut *g;
        if data.len() < *pos + n {
            data.resize(*pos + n, 0);
        }
        if n > 0 {
            // SAFETY: `buffer` holds `numBytes` bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(buffer as *const u8, data.as_mut_ptr().add(*pos), n)
            };
        }
        *pos += n;
        if !numBytesWritten.is_null() {
            // SAFETY: the caller's out pointer.
            unsafe { *numBytesWritten = n as int32 };
        }
        kResultOk
    }

    unsafe fn seek(&self, pos: int64, mode: int32, result: *mut int64) -> tresult {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let base = match mode as u32 {
            IStreamSeekMode_::kIBSeekSet => 0i64,
            IStreamSeekMode_::kIBSeekCur => g.1 as i64,
            IStreamSeekMode_::kIBSeekEnd => g.0.len() as i64,
            _ => return kInvalidArgument,
        };
        let to = base.saturating_add(pos);
        if to < 0 {
            return kInvalidArgument;
        }
        g.1 = to as usize;
        if !result.is_null() {
            // SAFETY: the caller's out pointer.
            unsafe { *result = to };
        }
        kResultOk
    }

    unsafe fn tell(&self, pos: *mut int64) -> tresult {
        if pos.is_null() {
            return kInvalidArgument;
        }
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the caller's out pointer.
        unsafe { *pos = g.1 as int64 };
        kResultOk
    }
}
