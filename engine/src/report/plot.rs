//! The pictures of a report, drawn with plotters on a bitmap (PNG) and an SVG backend.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Report, SpectrumPoint};
use crate::error::Error;

/// DejaVu Sans, subset to ASCII and a few symbols (see `DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("DejaVuSans-subset.ttf");
const FAMILY: &str = "sans-serif";

type DrawResult = Result<(), Box<dyn StdError>>;

/// Registers the embedded font with plotters (once per process).
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType file (tested); a failure would only lose the text.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Something that can be drawn on any plotters backend.
pub(super) trait Picture {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// Draws `pic` to `<dir>/<name>.png` and `<dir>/<name>.svg` at `size`; returns both paths.
pub(super) fn both(
    dir: &Path,
    name: &str,
    size: (u32, u32),
    pic: &impl Picture,
) -> Result<Vec<PathBuf>, Error> {
    register_font();
    let png = dir.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        pic.draw(&root).map_err(|e| Error::io(&png, e))?;
        root.present().map_err(|e| Error::io(&png, e))?;
    }
    let svg = dir.join(format!("{name}.svg"));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        pic.draw(&root).map_err(|e| Error::io(&svg, e))?;
        root.present().map_err(|e| Error::io(&svg, e))?;
    }
    Ok(vec![png, svg])
}

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// `x` rounded down/up to a multiple of `step`.
fn floor_to(x: f64, step: f64) -> f64 {
    (x / step).floor() * step
}
fn ceil_to(x: f64, step: f64) -> f64 {
    (x / step).ceil() * step
}

/// "m:ss" for times of a minute or more, else seconds.
fn time_label(t: &f64) -> String {
    if *t >= 60.0 {
        format!(
            "{}:{:02}",
            (*t / 60.0).floor() as u64,
            (*t % 60.0).round() as u64
        )
    } else {
        format!("{t:.0}")
    }
}

fn hz_label(f: &f64) -> String {
    if *f >= 1000.0 {
        format!("{}k", (*f / 1000.0 * 10.0).round() / 10.0)
    } else {
        format!("{}", f.round())
    }
}

/// Momentary and short-term loudness over time, with the target.
pub(super) struct Loudness<'a> {
    pub report: &'a Report,
    pub target: Option<f64>,
}

const M_COLOUR: RGBColor = RGBColor(140, 175, 225);
const S_COLOUR: RGBColor = RGBColor(20, 60, 150);
const TARGET_COLOUR: RGBColor = RGBColor(210, 30, 30);

impl Picture for Loudness<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let r = self.report;
        root.fill(&WHITE)?;
        let finite: Vec<f64> = r
            .loudness_series
            .iter()
            .flat_map(|p| [p.momentary_lufs, p.short_term_lufs])
            .flatten()
            .filter(|v| v.is_finite() && *v > -70.0)
            .chain(self.target)
            .collect();
        let (lo, hi) = finite
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let (y0, y1) = if lo.is_finite() && hi.is_finite() {
            let y1 = ceil_to(hi + 2.0, 5.0);
            (floor_to(lo - 2.0, 5.0).max(-70.0).min(y1 - 10.0), y1)
        } else {
            (-60.0, 0.0)
        };
        let x1 = r.duration_s.max(SERIES_MIN_S);
        let caption = match r.integrated_lufs {
            Some(i) => format!("{}: loudness (integrated {i:.1} LUFS)", r.song),
            None => format!("{}: loudness", r.song),
        };
        let mut chart = ChartBuilder::on(root)
            .caption(caption, font(20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("LUFS")
            .x_label_formatter(&time_label)
            .label_style(font(13))
            .axis_desc_style(font(14))
            .draw()?;
        let clamp = |v: f64| if v.is_finite() { v.max(y0) } else { y0 };
        let m = r
            .loudness_series
            .iter()
            .filter_map(|p| p.momentary_lufs.map(|v| (p.t_s, clamp(v))));
        chart
            .draw_series(LineSeries::new(m, M_COLOUR.stroke_width(1)))?
            .label("momentary (400 ms)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], M_COLOUR.stroke_width(2)));
        let s = r
            .loudness_series
            .iter()
            .filter_map(|p| p.short_term_lufs.map(|v| (p.t_s, clamp(v))));
        chart
            .draw_series(LineSeries::new(s, S_COLOUR.stroke_width(2)))?
            .label("short-term (3 s)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], S_COLOUR.stroke_width(2)));
        if let Some(t) = self.target {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, t), (x1, t)],
                    10,
                    6,
                    TARGET_COLOUR.stroke_width(2),
                ))?
                .label(format!("target {t:.1} LUFS"))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], TARGET_COLOUR.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font(font(13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        Ok(())
    }
}

/// Shortest time axis drawn, seconds (so an empty programme still has an axis).
const SERIES_MIN_S: f64 = 0.1;

/// Waveform overview with the ceiling and the overs.
pub(super) struct Waveform<'a> {
    pub report: &'a Report,
}

const WAVE_COLOUR: RGBColor = RGBColor(40, 90, 160);
/// Overs: the waveform inside them, a band behind it and a marker along the top.
const OVER_COLOUR: RGBColor = RGBColor(220, 0, 0);
const CEILING_COLOUR: RGBColor = RGBColor(230, 140, 0);

impl Picture for Waveform<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let r = self.report;
        root.fill(&WHITE)?;
        let peak = r.waveform.iter().fold(0f64, |m, c| {
            m.max(f64::from(c.max.abs())).max(f64::from(c.min.abs()))
        });
        let y = (peak.max(1.0) * 1.05).min(16.0);
        let x1 = r.duration_s.max(SERIES_MIN_S);
        let caption = format!(
            "{}: waveform (true peak {}, {} over{} above {:.1} dBTP)",
            r.song,
            r.true_peak_dbtp
                .map_or("n/a".to_string(), |v| format!("{v:.1} dBTP")),
            r.overs.len(),
            if r.overs.len() == 1 { "" } else { "s" },
            r.overs_ceiling_dbtp
        );
        let mut chart = ChartBuilder::on(root)
            .caption(caption, font(20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x1, -y..y)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("amplitude")
            .x_label_formatter(&time_label)
            .y_label_formatter(&|v: &f64| format!("{:.1}", if v.abs() < 1e-9 { 0.0 } else { *v }))
            .label_style(font(13))
            .axis_desc_style(font(14))
            .draw()?;
        // Overs first, so the waveform stays visible on top; at least ~2 px wide.
        let min_w = x1 / 600.0;
        chart.draw_series(r.overs.iter().map(|o| {
            let mid = 0.5 * (o.start_s + o.end_s);
            let half = (0.5 * (o.end_s - o.start_s)).max(min_w / 2.0);
            Rectangle::new(
                [(mid - half, -y), (mid + half, y)],
                OVER_COLOUR.mix(0.3).filled(),
            )
        }))?;
        if !r.waveform.is_empty() {
            let mut outline: Vec<(f64, f64)> = r
                .waveform
                .iter()
                .map(|c| (0.5 * (c.start_s + c.end_s), f64::from(c.max).clamp(-y, y)))
                .collect();
            outline.extend(
                r.waveform
                    .iter()
                    .rev()
                    .map(|c| (0.5 * (c.start_s + c.end_s), f64::from(c.min).clamp(-y, y))),
            );
            chart.draw_series(std::iter::once(Polygon::new(outline, WAVE_COLOUR.filled())))?;
            // The envelope as lines too, so thin columns are not lost at small sizes.
            let top = r
                .waveform
                .iter()
                .map(|c| (0.5 * (c.start_s + c.end_s), f64::from(c.max).clamp(-y, y)));
            chart.draw_series(LineSeries::new(top, WAVE_COLOUR))?;
            let bottom = r
                .waveform
                .iter()
                .map(|c| (0.5 * (c.start_s + c.end_s), f64::from(c.min).clamp(-y, y)));
            chart.draw_series(LineSeries::new(bottom, WAVE_COLOUR))?;
        }
        // The waveform inside each over, redrawn in red.
        for o in &r.overs {
            let cols: Vec<_> = r
                .waveform
                .iter()
                .filter(|c| c.end_s > o.start_s && c.start_s < o.end_s)
                .collect();
            if cols.is_empty() {
                continue;
            }
            let mut outline: Vec<(f64, f64)> = cols
                .iter()
                .map(|c| (c.start_s.max(o.start_s), f64::from(c.max).clamp(-y, y)))
                .collect();
            let last = cols[cols.len() - 1];
            outline.push((last.end_s.min(o.end_s), f64::from(last.max).clamp(-y, y)));
            outline.push((last.end_s.min(o.end_s), f64::from(last.min).clamp(-y, y)));
            outline.extend(
                cols.iter()
                    .rev()
                    .map(|c| (c.start_s.max(o.start_s), f64::from(c.min).clamp(-y, y))),
            );
            chart.draw_series(std::iter::once(Polygon::new(outline, OVER_COLOUR.filled())))?;
        }
        let ceiling = 10f64.powf(r.overs_ceiling_dbtp / 20.0);
        for c in [ceiling, -ceiling] {
            chart.draw_series(DashedLineSeries::new(
                [(0.0, c), (x1, c)],
                8,
                6,
                CEILING_COLOUR.stroke_width(1),
            ))?;
        }
        // Over markers along the top edge.
        chart.draw_series(r.overs.iter().map(|o| {
            let mid = 0.5 * (o.start_s + o.end_s);
            let half = (0.5 * (o.end_s - o.start_s)).max(min_w / 2.0);
            Rectangle::new(
                [(mid - half, y * 0.97), (mid + half, y)],
                OVER_COLOUR.filled(),
            )
        }))?;
        Ok(())
    }
}

/// One or more log-frequency spectra overlaid.
pub(super) struct SpectrumChart<'a> {
    pub title: String,
    pub series: Vec<(&'a str, &'a [SpectrumPoint])>,
    pub legend: bool,
}

/// Colours for overlaid songs (cycled).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

impl Picture for SpectrumChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let all = self.series.iter().flat_map(|s| s.1.iter());
        let hi = all
            .clone()
            .map(|p| p.db)
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let f1 = all.clone().map(|p| p.hz).fold(0f64, f64::max);
        let x1 = if f1 > super::spectrum::LOW_HZ * 2.0 {
            f1 * 1.02
        } else {
            super::spectrum::HIGH_HZ
        };
        let y1 = if hi.is_finite() {
            ceil_to(hi + 3.0, 10.0)
        } else {
            0.0
        };
        let y0 = y1 - 90.0;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d((super::spectrum::LOW_HZ..x1).log_scale(), y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("frequency (Hz)")
            .y_desc("dB")
            .x_label_formatter(&hz_label)
            .label_style(font(13))
            .axis_desc_style(font(14))
            .draw()?;
        let colour = |i: usize| {
            if self.series.len() == 1 {
                RGBColor(30, 110, 60)
            } else {
                PALETTE[i % PALETTE.len()]
            }
        };
        for (i, (name, pts)) in self.series.iter().enumerate() {
            let c = colour(i);
            let line = pts
                .iter()
                .map(|p| (p.hz, if p.db.is_finite() { p.db.max(y0) } else { y0 }));
            let drawn = chart.draw_series(LineSeries::new(line, c.stroke_width(2)))?;
            if self.legend {
                drawn.label(*name).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            }
        }
        if self.legend && !self.series.is_empty() {
            chart
                .configure_series_labels()
                .label_font(font(13))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerLeft)
                .draw()?;
        }
        Ok(())
    }
}

/// The album picture: before matching on top, after below.
pub(super) struct Album<'a> {
    pub before: Vec<(&'a str, &'a [SpectrumPoint])>,
    pub after: Vec<(&'a str, &'a [SpectrumPoint])>,
}

impl Picture for Album<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (_, h) = root.dim_in_pixel();
        let (top, bottom) = root.split_vertically(h / 2);
        SpectrumChart {
            title: "Album: long-term spectra before matching".into(),
            series: self.before.clone(),
            legend: true,
        }
        .draw(&top)?;
        SpectrumChart {
            title: "Album: long-term spectra after matching".into(),
            series: self.after.clone(),
            legend: true,
        }
        .draw(&bottom)?;
        Ok(())
    }
}
