//! The audio-thread side of a [`Vst3Instance`]: parameter points normalised through the
//! slots' tables and queued in the preallocated `IParameterChanges`, the block cut at each
//! change (or one call per block with exact offsets), and the `process` call with preallocated
//! channel pointer lists. Allocates nothing.

use vst3::Steinberg::kResultOk;
use vst3::Steinberg::Vst::{
    AudioBusBuffers, AudioBusBuffers__type0, IAudioProcessorTrait, IParameterChanges,
    ProcessContext_::StatesAndFlags_, ProcessData, ProcessModes_, SymbolicSampleSizes_,
};

use super::Vst3Instance;

/// A bus of `channels` channels over the pointer list `ptrs`.
pub(super) fn bus(channels: i32, ptrs: &mut [*mut f32]) -> AudioBusBuffers {
    AudioBusBuffers {
        numChannels: channels,
        silenceFlags: 0,
        __field0: AudioBusBuffers__type0 {
            channelBuffers32: ptrs.as_mut_ptr(),
        },
    }
}

impl Vst3Instance {
    /// The normalised value of plain `v` for parameter `key`. Audio thread.
    #[inline]
    fn normalize(&self, key: u32, v: f64) -> f64 {
        match self.tables.binary_search_by_key(&key, |t| t.0) {
            Ok(i) => self.tables[i].1.normalize(v),
            Err(_) => v.clamp(0.0, 1.0),
        }
    }

    /// Queues the values set before activation (first call only). Audio thread.
    fn push_pending(&mut self) {
        for &(k, n) in &self.pending {
            self.input_changes.add(k, 0, n);
        }
        // Clearing keeps the capacity: no deallocation.
        self.pending.clear();
    }

    /// Points that did not fit in the preallocated queues so far.
    pub fn dropped_points(&self) -> u64 {
        self.input_changes.dropped()
    }

    /// Processes one block of `frames`: `main_in` (and `side_in` for a plugin with an aux
    /// input) into `out`, with the queued parameter changes; `position` is the song frame of
    /// the block's first frame. Audio thread; allocates nothing.
    pub fn process(
        &mut self,
        main_in: &mut [Vec<f32>],
        mut side_in: Option<&mut [Vec<f32>]>,
        out: &mut [Vec<f32>],
        frames: usize,
        position: u64,
    ) -> Result<(), &'static str> {
        if !self.active {
            return Err("not activated");
        }
        // (Taken out for the walk, which calls back into `self`; moving a Vec never allocates.)
        let mut changes = std::mem::take(&mut self.changes);
        let r = if self.split_at_changes {
            changes.pieces(frames, |range, at_start| {
                self.input_changes.clear();
                self.push_pending();
                for &(_, key, value) in at_start {
                    let n = self.normalize(key, value);
                    self.input_changes.add(key, 0, n);
                }
                let pos = position + range.start as u64;
                self.process_range(main_in, side_in.as_deref_mut(), out, range, pos)
            })
        } else {
            self.input_changes.clear();
            self.push_pending();
            for &(frame, key, value) in changes.sorted() {
                let n = self.normalize(key, value);
                self.input_changes
                    .add(key, frame.min(frames as u32) as i32, n);
            }
            self.process_range(main_in, side_in, out, 0..frames, position)
        };
        self.changes = changes;
        r
    }

    fn process_range(
        &mut self,
        main_in: &mut [Vec<f32>],
        side_in: Option<&mut [Vec<f32>]>,
        out: &mut [Vec<f32>],
        range: std::ops::Range<usize>,
        position: u64,
    ) -> Result<(), &'static str> {
        // Every pointer handed over must be fresh and cover the range: as many buffers as each
        // bus has channels, each at least `range.end` long (slicing checks the length).
        let side_needed = self.in_ptrs[1].len();
        if main_in.len() < self.in_ptrs[0].len()
            || out.len() < self.out_ptrs.len()
            || side_in.as_ref().map_or(0, |s| s.len()) < side_needed
        {
            return Err("fewer buffers than the plugin's buses have channels");
        }
        for (p, b) in self.in_ptrs[0].iter_mut().zip(main_in.iter_mut()) {
            *p = b[range.clone()].as_mut_ptr();
        }
        let mut n_in = usize::from(!self.in_ptrs[0].is_empty());
        if let Some(side) = side_in {
            for (p, b) in self.in_ptrs[1].iter_mut().zip(side.iter_mut()) {
                *p = b[range.clone()].as_mut_ptr();
            }
            if side_needed > 0 {
                n_in = 2;
            }
        }
        for (p, b) in self.out_ptrs.iter_mut().zip(out.iter_mut()) {
            *p = b[range.clone()].as_mut_ptr();
        }
        let [a, b] = &mut self.in_ptrs;
        self.in_buses = [bus(a.len() as i32, a), bus(b.len() as i32, b)];
        self.out_bus = bus(self.out_ptrs.len() as i32, &mut self.out_ptrs);
        self.context.state = StatesAndFlags_::kPlaying | StatesAndFlags_::kContTimeValid;
        self.context.projectTimeSamples = position as i64;
        self.context.continousTimeSamples = position as i64;
        let changes_in = self
            .input_changes
            .as_com_ref::<IParameterChanges>()
            .map_or(std::ptr::null_mut(), |r| r.as_ptr());
        let changes_out = self
            .output_changes
            .as_com_ref::<IParameterChanges>()
            .map_or(std::ptr::null_mut(), |r| r.as_ptr());
        let mut data = ProcessData {
            processMode: ProcessModes_::kRealtime as i32,
            symbolicSampleSize: SymbolicSampleSizes_::kSample32 as i32,
            numSamples: range.len() as i32,
            numInputs: n_in as i32,
            numOutputs: i32::from(!self.out_ptrs.is_empty()),
            inputs: self.in_buses.as_mut_ptr(),
            outputs: &mut self.out_bus,
            inputParameterChanges: changes_in,
            outputParameterChanges: changes_out,
            inputEvents: std::ptr::null_mut(),
            outputEvents: std::ptr::null_mut(),
            processContext: &mut self.context,
        };
        // SAFETY: every channel pointer points at `range.len()` valid frames of the caller's
        // buffers (each at least `range.end` long), alive for the call; the bus and parameter
        // structures live in `self`, which the call does not otherwise touch.
        let r = unsafe { self.processor.process(&mut data) };
        if r == kResultOk {
            Ok(())
        } else {
            Err("the plugin's process call failed")
        }
    }
}
