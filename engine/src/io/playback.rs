//! Sound-card output through cpal (kept in this one file). The callback owns the
//! [`Processor`]; it renders planar blocks into preallocated buffers and interleaves them into the
//! device's sample format. It never allocates, locks, logs or blocks; errors and xruns are counted
//! in atomics for the control thread to show.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use crate::buffer::MAX_BLOCK;
use crate::error::{Error, ErrorKind};
use crate::rt::Processor;

/// What to open.
#[derive(Clone, Debug, Default)]
pub struct PlaybackConfig {
    /// Device id (as listed by [`list_devices`]); default device when `None`.
    pub device: Option<String>,
    /// Frames per callback; the host's default when `None`.
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

/// Opens the device and starts playing `processor`. When `meter` is given, the callback copies
/// the first two output channels (interleaved) into it for the control thread's meters, dropping
/// what does not fit. Control thread.
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
    let mut config: StreamConfig = default.config();
    config.sample_rate = cfg.sample_rate;
    if let Some(b) = cfg.buffer_frames {
        config.buffer_size = cpal::BufferSize::Fixed(b);
    }
    let stats = Arc::new(PlaybackStats::default());
    let stream = match default.sample_format() {
        SampleFormat::F32 => build::<f32>(&device, config, processor, stats.clone(), meter),
        SampleFormat::I16 => build::<i16>(&device, config, processor, stats.clone(), meter),
        SampleFormat::I32 => build::<i32>(&device, config, processor, stats.clone(), meter),
        SampleFormat::U16 => build::<u16>(&device, config, processor, stats.clone(), meter),
        SampleFormat::F64 => build::<f64>(&device, config, processor, stats.clone(), meter),
        other => {
            return Err(Error::new(
                ErrorKind::Device,
                format!("the device's sample format {other:?} is not supported"),
            ))
        }
    }
    .map_err(|e| {
        no_device(format!(
            "cannot open '{device_id}' at {} Hz: {e}",
            cfg.sample_rate
        ))
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
    })
}

fn build<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut processor: Processor,
    stats: Arc<PlaybackStats>,
    mut meter: Option<rtrb::Producer<f32>>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = config.channels as usize;
    let sr = config.sample_rate as f64;
    // Preallocated planar scratch: the callback renders at most MAX_BLOCK frames at a time.
    let mut planar: Vec<Vec<f32>> = vec![vec![0.0; MAX_BLOCK]; channels];
    let err_stats = stats.clone();
    device.build_output_stream(
        config,
        move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
            let t0 = Instant::now();
            let frames = data.len() / channels.max(1);
            let mut done = 0;
            while done < frames {
                let n = (frames - done).min(MAX_BLOCK);
                {
                    let mut views: [&mut [f32]; crate::buffer::MAX_CHANNELS] = Default::default();
                    for (v, p) in views.iter_mut().zip(planar.iter_mut()) {
                        *v = &mut p[..n];
                    }
                    processor.process(&mut views[..channels.min(crate::buffer::MAX_CHANNELS)]);
                }
                if let Some(m) = meter.as_mut() {
                    let fit = (m.slots() / 2).min(n);
                    if let Ok(w) = m.write_chunk_uninit(fit * 2) {
                        let (l, r) = (&planar[0], planar.get(1).unwrap_or(&planar[0]));
                        w.fill_from_iter((0..fit).flat_map(|i| [l[i], r[i]]));
                    }
                }
                let out = &mut data[done * channels..(done + n) * channels];
                for (i, frame) in out.chunks_mut(channels).enumerate() {
                    for (c, s) in frame.iter_mut().enumerate() {
                        let x = planar.get(c).map_or(0.0, |p| p[i]);
                        *s = T::from_sample(x.clamp(-1.0, 1.0));
                    }
                }
                done += n;
            }
            stats.callbacks.fetch_add(1, Ordering::Relaxed);
            stats.frames.fetch_add(frames as u64, Ordering::Relaxed);
            let period = frames as f64 / sr;
            let load = (t0.elapsed().as_secs_f64() / period.max(1e-9) * 1000.0) as u32;
            stats.load_permille.store(load, Ordering::Relaxed);
            stats.max_load_permille.fetch_max(load, Ordering::Relaxed);
        },
        move |_err| {
            err_stats.xruns.fetch_add(1, Ordering::Relaxed);
        },
        None,
    )
}
