//! Sound-card output through cpal (kept in this one file). The callback owns the
//! [`Processor`]; it renders planar blocks into preallocated buffers and interleaves them into the
//! device's sample format. It never allocates, locks, logs or blocks; errors and xruns are counted
//! in atomics for the control thread to show.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use super::callback::CallbackRenderer;
use crate::error::{Error, ErrorKind};
use crate::rt::Processor;

/// What to open.
#[derive(Clone, Debug, Default)]
pub struct PlaybackConfig {
    /// Device id (as listed by [`list_devices`]); default device when `None`.
    pub device: Option<String>,
    /// Frames per callback; [`DEFAULT_BUFFER_FRAMES`] (within what the device allows) when
    /// `None`.
    pub buffer_frames: Option<u32>,
    /// Frames per second the mix runs at (the device must accept it).
    pub sample_rate: u32,
}

/// Counters the callback publishes.
#[derive(Debug, Default)]
pub struct PlaybackStats {
    /// Callbacks run.
    pub callbacks: AtomicU64,
    /// Frames delivered to the device.
    pub frames: AtomicU64,
    /// Stream errors reported by the host (xruns included).
    pub xruns: AtomicU64,
    /// Last callback's processing time as a fraction of the buffer period, in 1/1000.
    pub load_permille: AtomicU32,
    /// Highest load seen, in 1/1000.
    pub max_load_permille: AtomicU32,
}

/// A running output stream. Dropping it stops playback.
pub struct Playback {
    stream: cpal::Stream,
    /// Counters.
    pub stats: Arc<PlaybackStats>,
    /// Output channel count of the device.
    pub channels: usize,
    /// Device id.
    pub device_id: String,
    /// Frames per second the device runs at (the session's, or its own with conversion).
    pub device_rate: u32,
    /// What was chosen differently from what was asked (rate conversion, buffer size).
    pub notes: Vec<String>,
}

impl Playback {
    /// Stops the stream (also done on drop).
    pub fn pause(&self) -> Result<(), Error> {
        self.stream
            .pause()
            .map_err(|e| Error::new(ErrorKind::Device, format!("cannot pause the stream: {e}")))
    }
}

/// Keeps alsa-lib from printing its own diagnostics to stderr while we probe devices.
fn quiet_alsa() -> Option<impl Drop> {
    #[cfg(target_os = "linux")]
    {
        alsa::Output::local_error_handler().ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None::<()>.map(|_| DropNothing)
    }
}

#[cfg(not(target_os = "linux"))]
struct DropNothing;
#[cfg(not(target_os = "linux"))]
impl Drop for DropNothing {
    fn drop(&mut self) {}
}

/// Output devices: (id, description).
pub fn list_devices() -> Vec<(String, String)> {
    let _quiet = quiet_alsa();
    let host = cpal::default_host();
    let mut out = Vec::new();
    if let Ok(devs) = host.output_devices() {
        for d in devs {
            let id = d.id().map(|i| i.to_string()).unwrap_or_else(|_| "?".into());
            let desc = d.description().map(|x| x.to_string()).unwrap_or_default();
            out.push((id, desc));
        }
    }
    out
}

fn no_device(why: String) -> Error {
    let devs = list_devices();
    let list = if devs.is_empty() {
        "no output devices were found".to_string()
    } else {
        let names: Vec<String> = devs.iter().map(|(id, d)| format!("  {id}  {d}")).collect();
        format!("available devices:\n{}", names.join("\n"))
    };
    Error::new(
        ErrorKind::Device,
        format!("{why}\n{list}\n(use --device ID, or `mixdown render` to write a file instead)"),
    )
}

/// The frames per callback used when none is asked for: small, for quick reloads and meters.
pub const DEFAULT_BUFFER_FRAMES: u32 = 256;

/// Opens the device and starts playing `processor`. When `meter` is given, the callback copies
/// the first two output channels (interleaved, at the session rate) into it for the control
/// thread's meters, dropping what does not fit. A device that cannot run at the session's rate
/// runs at its own, and the callback converts. Control thread.
pub fn start(
    processor: Processor,
    cfg: &PlaybackConfig,
    meter: Option<rtrb::Producer<f32>>,
) -> Result<Playback, Error> {
    let _quiet = quiet_alsa();
    let host = cpal::default_host();
    let device = match &cfg.device {
        Some(id) => {
            let parsed = id
                .parse()
                .map_err(|_| no_device(format!("'{id}' is not a device id")))?;
            host.device_by_id(&parsed)
                .ok_or_else(|| no_device(format!("no output device '{id}'")))?
        }
        None => host
            .default_output_device()
            .ok_or_else(|| no_device("no default output device".into()))?,
    };
    let device_id = device.id().map(|i| i.to_string()).unwrap_or_default();
    let default = device.default_output_config().map_err(|e| {
        no_device(format!(
            "the output device '{device_id}' is not usable ({e})"
        ))
    })?;
    let channels = default.channels() as usize;
    let format = default.sample_format();
    // The session's rate if the device offers it (in its default sample format), else the
    // device's own with conversion in the callback.
    let offers = |rate: u32| {
        device.supported_output_configs().is_ok_and(|mut it| {
            it.any(|c| {
                c.sample_format() == format
                    && c.channels() as usize == channels
                    && c.min_sample_rate() <= rate
                    && rate <= c.max_sample_rate()
            })
        })
    };
    let mut notes = Vec::new();
    let rate = if offers(cfg.sample_rate) {
        cfg.sample_rate
    } else {
        let r = default.sample_rate();
        notes.push(format!(
            "'{device_id}' cannot run at {} Hz: playing at {r} Hz, converted",
            cfg.sample_rate
        ));
        r
    };
    let buffer = match (cfg.buffer_frames, default.buffer_size()) {
        (Some(b), _) => Some(b),
        (None, cpal::SupportedBufferSize::Range { min, max }) => {
            let b = DEFAULT_BUFFER_FRAMES.clamp(*min, *max);
            if b != DEFAULT_BUFFER_FRAMES {
                notes.push(format!(
                    "'{device_id}' takes buffers of {min} to {max} frames: using {b}"
                ));
            }
            Some(b)
        }
        (None, cpal::SupportedBufferSize::Unknown) => Some(DEFAULT_BUFFER_FRAMES),
    };
    let stats = Arc::new(PlaybackStats::default());
    let session_rate = cfg.sample_rate;
    let make = |buffer: Option<u32>, processor: Processor, meter| -> Result<cpal::Stream, Error> {
        let mut config: StreamConfig = default.config();
        config.sample_rate = rate;
        if let Some(b) = buffer {
            config.buffer_size = cpal::BufferSize::Fixed(b);
        }
        let renderer = CallbackRenderer::new(
            processor,
            session_rate,
            rate,
            channels,
            stats.clone(),
            meter,
        )?;
        let built = match format {
            SampleFormat::F32 => build::<f32>(&device, config, renderer, stats.clone()),
            SampleFormat::I16 => build::<i16>(&device, config, renderer, stats.clone()),
            SampleFormat::I32 => build::<i32>(&device, config, renderer, stats.clone()),
            SampleFormat::U16 => build::<u16>(&device, config, renderer, stats.clone()),
            SampleFormat::F64 => build::<f64>(&device, config, renderer, stats.clone()),
            other => {
                return Err(Error::new(
                    ErrorKind::Device,
                    format!("the device's sample format {other:?} is not supported"),
                ))
            }
        };
        built.map_err(|e| no_device(format!("cannot open '{device_id}' at {rate} Hz: {e}")))
    };
    let stream = make(buffer, processor, meter).map_err(|e| {
        if cfg.buffer_frames.is_some() {
            e
        } else {
            Error::new(
                ErrorKind::Device,
                format!(
                    "{}; the default of {} frames per callback may not suit this device: try --buffer with another size",
                    e.message,
                    buffer.unwrap_or(0)
                ),
            )
        }
    })?;
    stream.play().map_err(|e| {
        Error::new(
            ErrorKind::Device,
            format!("cannot start '{device_id}': {e}"),
        )
    })?;
    Ok(Playback {
        stream,
        stats,
        channels,
        device_id,
        device_rate: rate,
        notes,
    })
}

fn build<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut renderer: CallbackRenderer,
    stats: Arc<PlaybackStats>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    device.build_output_stream(
        config,
        move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
            renderer.render(data, T::from_sample);
        },
        move |_err| {
            stats.xruns.fetch_add(1, Ordering::Relaxed);
        },
        None,
    )
}
