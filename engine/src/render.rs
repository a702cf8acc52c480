//! Offline render: the same [`Processor`] the sound card uses, driven as fast as the CPU allows.
//!
//! Length: the longest source (or the session's `length_s`) plus the tails, until every node
//! reports silence (at most [`RenderOptions::max_tail_s`]); the output is shifted by the graph's
//! latency so it lines up with the sources, and trailing silence after the content is trimmed, so
//! the result is identical at every block size.

use std::any::Any;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::buffer::MAX_BLOCK;
use crate::error::{Error, ErrorKind, Errors};
use crate::graph::{compile, CompileConfig, GraphSpec, Schedule};
use crate::io::sink::{AudioSink, Delivery, OutputFormat};
use crate::measure::{Analyzer, Measurement};
use crate::rt::Processor;

/// Below this level (2^-24, about −144 dBFS, under half an LSB of 24-bit audio) a tail counts
/// as silence when deciding where the render ends. Nodes decide they have gone quiet block by
/// block, which can change samples far below this level with the block size; judging the end
/// at this level keeps the length the same at every block size.
pub const TAIL_SILENCE: f32 = 1.0 / 16_777_216.0;

/// How to render.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// Frames per processing block (1..=MAX_BLOCK); the output does not depend on it.
    pub block: usize,
    /// Start of the written range in seconds (processing still starts at 0 so state is right).
    pub from_s: Option<f64>,
    /// End of the written range in seconds (exact; no tail added).
    pub to_s: Option<f64>,
    /// Longest tail rendered after the content ends.
    pub max_tail_s: f64,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Measure loudness and true peak of what is written.
    pub measure: bool,
    /// Collect a full report (loudness series, waveform, overs, spectrum) for `--report`.
    pub collect_report: bool,
    /// Worker threads for independent branches (1 = single-threaded). Output is bit-identical
    /// whatever the count.
    pub threads: usize,
    /// With a range (`from_s`/`to_s`), loudness nodes measure only the range (normalising the
    /// excerpt on its own) instead of the whole song (the default: the excerpt then matches
    /// the same span of the full render).
    pub excerpt_loudness: bool,
    /// What the progress bar says it is doing (default "rendering").
    pub progress_label: Option<String>,
    /// Where files nodes ask for when the render ends (a plugin's `state_out`) may be written;
    /// `None`: they are not written (analysis passes, tests), and a note says so.
    pub state_policy: Option<crate::io::output::WritePolicy>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            block: MAX_BLOCK,
            from_s: None,
            to_s: None,
            max_tail_s: 10.0,
            progress: false,
            measure: false,
            collect_report: false,
            threads: 1,
            excerpt_loudness: false,
            progress_label: None,
            state_policy: None,
        }
    }
}

/// What a render did.
#[derive(Clone, Debug, Default)]
pub struct RenderReport {
    /// Frames written.
    pub frames: u64,
    /// Frames per second.
    pub sample_rate: f64,
    /// Wall-clock seconds spent.
    pub elapsed_s: f64,
    /// Largest absolute sample written (before dither).
    pub sample_peak: f32,
    /// Samples at or beyond full scale (clipped in integer formats).
    pub clipped_samples: u64,
    /// Nodes that produced NaN/Inf, with the number of samples replaced by silence.
    pub nan_report: Vec<(String, u64)>,
    /// Loudness and peaks of the output (when asked for).
    pub measurement: Option<Measurement>,
    /// Lines from nodes for the summary (gain applied by loudness nodes, targets missed).
    pub notes: Vec<String>,
    /// Analysis passes run before the render (two-pass loudness).
    pub analysis_passes: u32,
    /// The full report, when `collect_report` was set.
    pub report: Option<Box<crate::report::Report>>,
}

impl RenderReport {
    /// Audio seconds per wall second.
    pub fn realtime_factor(&self) -> f64 {
        self.frames as f64 / self.sample_rate / self.elapsed_s.max(1e-9)
    }
}

/// Renders `schedule` into planar buffers (tests, analysis, two-pass nodes). Fails only when a
/// node failed (a file that could not be read to the end).
pub fn try_render_to_vec(
    schedule: Schedule,
    opts: &RenderOptions,
) -> Result<(Vec<Vec<f32>>, RenderReport), Error> {
    let ch = schedule.output_channels();
    let mut out = vec![Vec::new(); ch];
    let (report, _) = run(schedule, opts, |planar| {
        for (o, p) in out.iter_mut().zip(planar) {
            o.extend_from_slice(p);
        }
        Ok(())
    })?;
    Ok((out, report))
}

/// [`try_render_to_vec`] for graphs that read no files (tests).
///
/// # Panics
/// When a node failed.
pub fn render_to_vec(schedule: Schedule, opts: &RenderOptions) -> (Vec<Vec<f32>>, RenderReport) {
    try_render_to_vec(schedule, opts).unwrap_or_else(|e| panic!("render failed: {e}"))
}

/// Renders `schedule` to a file at `path` in `format` (WAV or FLAC), written under a temporary
/// name and renamed when complete. When the render is measured (`opts.measure`), the file
/// carries its loudness: a BWF `bext` chunk in a WAV, ReplayGain tags in a FLAC.
pub fn render_to_file(
    schedule: Schedule,
    path: &Path,
    format: OutputFormat,
    opts: &RenderOptions,
) -> Result<RenderReport, Error> {
    let mut sink = AudioSink::create(
        path,
        schedule.output_channels(),
        schedule.sample_rate.round() as u32,
        format,
    )?;
    let (report, _) = run(schedule, opts, |planar| sink.write_planar(planar))?;
    let delivery = report
        .measurement
        .clone()
        .map(|track| Delivery { track, album: None });
    sink.finish(delivery.as_ref())?;
    Ok(report)
}

/// Where kept frames go: peak and clip counts, the measurement and report collectors, and the
/// sink. (Running it on a thread of its own was tried: on two cores the third thread only got in
/// the way of the render workers — mix16 on two threads took 1.02–1.27 s instead of 0.9 s.)
struct Outlet<W> {
    write: W,
    analyzer: Option<Analyzer>,
    collector: Option<crate::report::ReportCollector>,
    peak: f32,
    clipped: u64,
}

impl<W: FnMut(&[&[f32]]) -> Result<(), Error>> Outlet<W> {
    fn take(&mut self, views: &[&[f32]]) -> Result<(), Error> {
        for v in views {
            self.peak = self.peak.max(crate::dsp::max_abs(v));
            self.clipped += v.iter().filter(|x| x.abs() >= 1.0).count() as u64;
        }
        if let Some(a) = self.analyzer.as_mut() {
            a.process(views);
        }
        if let Some(c) = self.collector.as_mut() {
            c.process(views);
        }
        (self.write)(views)
    }
}

fn run<W>(
    schedule: Schedule,
    opts: &RenderOptions,
    write: W,
) -> Result<(RenderReport, Processor), Error>
where
    W: FnMut(&[&[f32]]) -> Result<(), Error>,
{
    let t0 = Instant::now();
    let sr = schedule.sample_rate;
    let ch = schedule.output_channels();
    let mut outlet = Outlet {
        write,
        analyzer: opts.measure.then(|| Analyzer::new(sr, ch)),
        collector: opts
            .collect_report
            .then(|| crate::report::ReportCollector::new(sr, ch)),
        peak: 0.0,
        clipped: 0,
    };
    let (mut r, mut p) = render_loop(schedule, opts, &mut |v| outlet.take(v))?;
    if let Some(e) = p.schedule().failure() {
        return Err(e);
    }
    let mut written = Vec::new();
    for (dest, contents) in p.schedule_mut().state_outputs() {
        let Some(policy) = &opts.state_policy else {
            written.push(format!(
                "{}: state_out not written (this render writes no side files)",
                dest.display()
            ));
            continue;
        };
        let bytes = contents.map_err(|m| Error::new(ErrorKind::Other, m))?;
        let dest = policy.prepare(&dest)?;
        crate::io::output::write_file(&dest, &bytes)?;
        written.push(format!("plugin state written to {}", dest.display()));
    }
    r.elapsed_s = t0.elapsed().as_secs_f64();
    let mut r = finish_report(r, p.schedule(), outlet);
    r.notes.extend(written);
    Ok((r, p))
}

/// Where the render loop hands kept frames (planar, one slice per channel).
type Take<'a> = dyn FnMut(&[&[f32]]) -> Result<(), Error> + 'a;

/// Fills in what the outlet measured and what the nodes report.
fn finish_report<W>(mut r: RenderReport, schedule: &Schedule, outlet: Outlet<W>) -> RenderReport {
    r.sample_peak = outlet.peak;
    r.clipped_samples = outlet.clipped;
    r.nan_report = schedule.nan_report();
    r.measurement = outlet.analyzer.map(|a| a.result());
    r.notes = schedule.reports();
    r.report = outlet.collector.map(|c| {
        let mut rep = c.report("mix");
        rep.notes = schedule.reports();
        rep.nan_report = schedule.nan_report();
        rep.target_lufs = schedule.loudness_target();
        if let Some((max, avg)) = schedule.limiter_stats() {
            rep.limiter_gr_max_db = Some(max);
            rep.limiter_gr_avg_db = Some(avg);
        }
        Box::new(rep)
    });
    r
}

/// Runs the processor to the end of the programme (its content, then tails until silence or
/// the tail limit), trims, and feeds the kept frames to the outlet.
fn render_loop(
    schedule: Schedule,
    opts: &RenderOptions,
    take: &mut Take<'_>,
) -> Result<(RenderReport, Processor), Error> {
    let sr = schedule.sample_rate;
    let ch = schedule.output_channels();
    let latency = schedule.latency_frames as u64;
    let content = schedule.length_frames;
    let from = opts.from_s.map_or(0, |s| (s * sr).round() as u64);
    let explicit_end = opts.to_s.map(|s| (s * sr).round() as u64);
    let max_end = explicit_end.unwrap_or(content + (opts.max_tail_s * sr) as u64);
    let block = opts.block.clamp(1, MAX_BLOCK);
    let mut proc = Processor::new(schedule);
    proc.set_threads(opts.threads);
    // A parallel render's mix comes one block late (its tail is pipelined): more latency.
    let latency = latency + (proc.lag_blocks() * block) as u64;
    let bar = progress_bar(opts.progress, max_end, opts.progress_label.as_deref());

    // Output frame k is processor frame k + latency. Frames after the content are kept in a
    // pending buffer until we know whether they are tail (kept) or trailing silence (trimmed).
    let mut pending: Vec<Vec<f32>> = vec![Vec::new(); ch];
    // Frames of `pending` up to and including its last non-zero frame (kept up to date as frames
    // arrive, so a long silent tail is not rescanned every block).
    let mut loud_to = 0usize;
    let mut written = 0u64;
    let mut bufs: Vec<Vec<f32>> = vec![vec![0.0; block]; ch];
    let mut produced = 0u64; // output frames produced so far (after latency shift)
    loop {
        let mut views: Vec<&mut [f32]> = bufs.iter_mut().map(|b| &mut b[..block]).collect();
        proc.process(&mut views);
        let pos = proc.position();
        // Output frames available: processor frames [pos-block, pos) minus latency.
        let blk_start = pos - block as u64;
        let skip = latency.saturating_sub(blk_start).min(block as u64) as usize;
        // Block frames [skip, block) are output frames produced.. ; keep those in [from, max_end).
        let n_out = (block - skip) as u64;
        let i0 = skip + from.saturating_sub(produced).min(n_out) as usize;
        let i1 = skip + max_end.saturating_sub(produced).min(n_out) as usize;
        produced += n_out;
        if i0 < i1 {
            let loud = (i0..i1)
                .rev()
                .find(|&i| bufs.iter().any(|b| b[i].abs() > TAIL_SILENCE));
            if let Some(i) = loud {
                loud_to = pending[0].len() + (i - i0) + 1;
            }
            for (p, b) in pending.iter_mut().zip(&bufs) {
                p.extend_from_slice(&b[i0..i1]);
            }
        }
        // Flush everything up to the content end, and any tail up to the last non-zero frame.
        let keep_to = if explicit_end.is_some() {
            pending[0].len()
        } else {
            let before_end = content.saturating_sub(written + from) as usize;
            before_end.min(pending[0].len()).max(loud_to)
        };
        if keep_to > 0 {
            let views: Vec<&[f32]> = pending.iter().map(|p| &p[..keep_to]).collect();
            take(&views)?;
            written += keep_to as u64;
            loud_to = loud_to.saturating_sub(keep_to);
            for p in &mut pending {
                p.drain(..keep_to);
            }
        }
        if let Some(b) = &bar {
            b.set_position(produced.min(max_end));
        }
        let done_content = produced >= content.max(from);
        let finished = match explicit_end {
            Some(e) => produced >= e,
            None => (done_content && proc.schedule().all_silent()) || produced >= max_end,
        };
        if finished {
            break;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = RenderReport {
        frames: written,
        sample_rate: sr,
        ..RenderReport::default()
    };
    Ok((report, proc))
}

/// Compiles `spec` and runs the analysis passes its nodes ask for (two-pass loudness), each over
/// the whole programme with fresh instances, and returns the schedule ready for the real render
/// with the number of passes run.
pub fn prepare_schedule(spec: &GraphSpec, opts: &RenderOptions) -> Result<(Schedule, u32), Errors> {
    let mut passes = 0;
    let mut carried: Vec<(Box<str>, Arc<dyn Any + Send + Sync>)> = Vec::new();
    loop {
        let mut s = compile(
            spec,
            CompileConfig {
                parallel: opts.threads > 1,
                ..CompileConfig::default()
            },
        )?;
        s.resume_analysis(&carried);
        if !s.needs_analysis() || passes >= crate::nodes::loudness::MAX_PASSES {
            return Ok((s, passes));
        }
        // Analysis hears the whole song (unless the excerpt is to be normalised on its own), so
        // a range render applies the gain the full render would.
        let whole = !opts.excerpt_loudness;
        let quiet = RenderOptions {
            measure: false,
            progress_label: Some(format!("analysing (pass {})", passes + 1)),
            from_s: if whole { None } else { opts.from_s },
            to_s: if whole { None } else { opts.to_s },
            // Side files are the real render's.
            state_policy: None,
            ..opts.clone()
        };
        let (_, mut proc) = run(s, &quiet, |_| Ok(()))?;
        proc.schedule_mut().finish_analysis();
        carried = proc.schedule().analysis_states();
        passes += 1;
    }
}

/// Renders `spec` to `path`: analysis passes first where nodes need them, then the render.
pub fn render_spec_to_file(
    spec: &GraphSpec,
    path: &Path,
    format: OutputFormat,
    opts: &RenderOptions,
) -> Result<RenderReport, Errors> {
    let (s, passes) = prepare_schedule(spec, opts)?;
    let mut r = render_to_file(s, path, format, opts)?;
    r.analysis_passes = passes;
    Ok(r)
}

fn progress_bar(enabled: bool, total: u64, label: Option<&str>) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(total);
    let label = label.unwrap_or("rendering").replace(['{', '}'], "");
    b.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{label:<22} {{bar:40}} {{percent:>3}}% {{eta}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(b)
}
