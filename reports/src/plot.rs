//! Plots (SVG and PNG, drawn with plotters; text uses the DejaVu Sans font from the
//! `dejavu` crate, registered with ab_glyph, so no system font library is needed).
//!
//! A plot is a [`Chart`] (data only) plus the file names it is written to; the same chart
//! is drawn on the SVG and on the PNG backend.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::Once;

use crate::error::ReportError;
use crate::fmt as f;
use crate::record::{Report, Target};

/// Width and height in pixels of every plot (SVG and PNG).
pub const PLOT_SIZE: (u32, u32) = (1000, 600);

/// The font family name registered for all plot text.
pub const FONT: &str = "sans-serif";

static FONT_INIT: Once = Once::new();

fn ensure_font() {
    FONT_INIT.call_once(|| {
        // DejaVu Sans is a valid TrueType font shipped inside the `dejavu` crate; a failure
        // here would only make text invisible, never break the plot.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// The relative paths of one plot's files and its title.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotFile {
    pub title: String,
    /// Relative path of the SVG (e.g. `plots/latency-kws.svg`).
    pub svg: String,
    /// Relative path of the PNG.
    pub png: String,
}

impl PlotFile {
    /// `plots/<stem>.svg` and `plots/<stem>.png`.
    pub fn new(title: &str, stem: &str) -> Self {
        let stem = sanitize(stem);
        PlotFile {
            title: title.to_string(),
            svg: format!("plots/{stem}.svg"),
            png: format!("plots/{stem}.png"),
        }
    }
}

/// A file-name-safe version of `s` (letters, digits, `-`, `_`, `.`).
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Named, coloured groups of (x, y) points.
pub type PointGroups = Vec<(String, RGBColor, Vec<(f64, f64)>)>;

/// One data series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub values: Vec<f64>,
}

/// A chart's data.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// Grouped bars on a log-scale y axis: one group per x label, one bar per series.
    /// Non-positive values are not drawn. `reference` draws a dashed horizontal line.
    GroupedBarsLog {
        title: String,
        y_label: String,
        x_labels: Vec<String>,
        series: Vec<Series>,
        reference: Option<f64>,
    },
    /// Horizontal grouped bars: one row per category (`labels`, first at the top), one
    /// bar per series; a log x axis when `log`, else linear from zero. The legend is drawn
    /// above the plot area (never over the bars); the height grows with the rows.
    /// Non-positive values are not drawn. With `stacked`, one bar per row whose segments
    /// are the series.
    HBars {
        title: String,
        x_label: String,
        labels: Vec<String>,
        series: Vec<Series>,
        log: bool,
        /// One bar per row with the series as its segments (linear axis only).
        stacked: bool,
        /// With `log`: the axis starts at or below this value (e.g. 1 for ratios, so that
        /// a bar's length shows how far above 1x it is), and a dashed line marks it.
        floor: Option<f64>,
    },
    /// Stacked bars (linear y): one bar per x label, one segment per series.
    Stacked {
        title: String,
        y_label: String,
        x_labels: Vec<String>,
        series: Vec<Series>,
    },
    /// Log-log roofline: `y = min(compute_roof, bus_roof * x)` and points per group.
    Roofline {
        title: String,
        compute_roof: f64,
        bus_roof: f64,
        groups: PointGroups,
    },
    /// Log-log scatter of (x, y) points coloured by `c` (blue = low, yellow = high), with
    /// the points in `front` drawn larger, outlined and joined by a line.
    ParetoScatter {
        title: String,
        x_label: String,
        y_label: String,
        c_label: String,
        points: Vec<(f64, f64, f64)>,
        front: Vec<usize>,
    },
    /// Values against the values of one parameter, one panel per entry of `panels`
    /// (panel title, y label, series); log-scale y. Lines for an ordered (numeric)
    /// parameter, grouped bars for a categorical one (`bars`).
    CategoryLines {
        title: String,
        x_label: String,
        x_labels: Vec<String>,
        panels: Vec<(String, String, Vec<Series>)>,
        bars: bool,
    },
    /// Stacked bars (linear y), one panel per memory: one bar per x label, one segment per
    /// series (a named part), and each bar's capacity as a dashed red line across it.
    StackedCapacity {
        title: String,
        y_label: String,
        panels: Vec<CapacityPanel>,
    },
    /// Log-log lines of average power against rate, one per (name, colour, dashed); the
    /// battery-life levels of `battery` as dotted horizontal lines with their labels, and
    /// the chosen rate as a vertical line.
    PowerVsRate {
        title: String,
        lines: Vec<PowerLine>,
        rate_hz: Option<f64>,
        /// `(label, uW)`: the average power at which the battery lasts a given time.
        levels: Vec<(String, f64)>,
    },
}

/// One panel of [`Chart::StackedCapacity`].
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityPanel {
    pub title: String,
    pub x_labels: Vec<String>,
    pub series: Vec<Series>,
    /// One capacity per x label.
    pub capacity: Vec<f64>,
}

/// One line of [`Chart::PowerVsRate`]: `(rate Hz, average power uW)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerLine {
    pub name: String,
    pub color: RGBColor,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

/// A chart and the files it is written to.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSpec {
    pub file: PlotFile,
    pub chart: Chart,
}

impl Chart {
    /// Width and height in pixels: [`PLOT_SIZE`], taller for horizontal bars with many
    /// rows (22 px per row and series pair).
    pub fn size(&self) -> (u32, u32) {
        match self {
            Chart::HBars {
                labels,
                series,
                stacked,
                ..
            } => {
                let bars = if *stacked { 2 } else { series.len().max(2) };
                let per_row = 11 * bars as u32;
                let head = head_height(series, PLOT_SIZE.0);
                (
                    PLOT_SIZE.0,
                    (head + 70 + per_row * labels.len() as u32).max(300),
                )
            }
            Chart::StackedCapacity { panels, .. } => (
                PLOT_SIZE.0,
                40 + panels.iter().map(capacity_panel_height).sum::<u32>(),
            ),
            _ => PLOT_SIZE,
        }
    }
}

impl PlotSpec {
    /// Draws the chart as SVG text.
    pub fn render_svg(&self) -> Result<String, ReportError> {
        ensure_font();
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, self.chart.size()).into_drawing_area();
            draw(&self.chart, &root).map_err(|message| ReportError::Plot {
                path: self.file.svg.clone().into(),
                message,
            })?;
            root.present().map_err(|e| ReportError::Plot {
                path: self.file.svg.clone().into(),
                message: e.to_string(),
            })?;
        }
        Ok(s)
    }

    /// Draws the chart as a PNG file at `path`.
    pub fn render_png(&self, path: &Path) -> Result<(), ReportError> {
        ensure_font();
        let root = BitMapBackend::new(path, self.chart.size()).into_drawing_area();
        let err = |message: String| ReportError::Plot {
            path: path.to_path_buf(),
            message,
        };
        draw(&self.chart, &root).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))
    }
}

/// Fixed series colours (colour-blind-friendly Okabe-Ito palette).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// A blue -> green -> yellow colour for `t` in `[0, 1]` (viridis-like).
pub fn ramp(t: f64) -> RGBColor {
    let stops = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let u = x - i as f64;
    let (a, b) = (stops[i], stops[i + 1]);
    RGBColor(
        (a.0 + (b.0 - a.0) * u) as u8,
        (a.1 + (b.1 - a.1) * u) as u8,
        (a.2 + (b.2 - a.2) * u) as u8,
    )
}

fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = 0.0f64;
    for v in values {
        if v > 0.0 && v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        return (0.1, 10.0);
    }
    if hi <= lo {
        return (lo / 10.0, lo * 10.0);
    }
    (lo / 2.0, hi * 2.0)
}

/// A log axis fitted to the data: 6 % of the data's span (in log space) as margin on each
/// side; +-20 % around a single value. Non-positive and non-finite values are ignored.
fn fitted_log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values {
        if v > 0.0 && v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        return (0.1, 10.0);
    }
    if hi <= lo * 1.000_001 {
        return (lo / 1.2, hi * 1.2);
    }
    let m = ((hi / lo).ln() * 0.06).exp();
    (lo / m, hi * m)
}

/// Tick values for a log axis over `[lo, hi]`: 1-2-5 per decade; 1..9 per decade when that
/// gives fewer than four; evenly spaced round values (1, 2, 2.5, 5 x 10^k steps) when the
/// range is narrower still. Always at least two ticks inside the range.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let per_decade = |mantissas: &[f64]| -> Vec<f64> {
        let mut t = Vec::new();
        let mut e = lo.log10().floor() as i32;
        while 10f64.powi(e) <= hi {
            for m in mantissas {
                let v = m * 10f64.powi(e);
                if v >= lo && v <= hi {
                    t.push(v);
                }
            }
            e += 1;
        }
        t
    };
    let t = per_decade(&[1.0, 2.0, 5.0]);
    if t.len() >= 4 {
        // Too many decades: keep the decades only when there are more than 12 ticks.
        if t.len() > 12 {
            return per_decade(&[1.0]);
        }
        return t;
    }
    let t = per_decade(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if t.len() >= 4 {
        return t;
    }
    // Narrow range: linear steps of a round size, about five of them.
    let raw = (hi - lo) / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|st| *st >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi * (1.0 + 1e-12) {
        t.push(v);
        v += step;
    }
    t
}

fn cat_label(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
        labels[i as usize].clone()
    } else {
        String::new()
    }
}

type DrawResult = Result<(), String>;

/// The legend box every chart uses, at `pos`.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
        .map_err(e2s)
}

fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn draw<DB: DrawingBackend>(chart: &Chart, root: &DrawingArea<DB, Shift>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(e2s)?;
    match chart {
        Chart::GroupedBarsLog {
            title,
            y_label,
            x_labels,
            series,
            reference,
        } => draw_grouped(root, title, y_label, x_labels, series, *reference),
        Chart::Stacked {
            title,
            y_label,
            x_labels,
            series,
        } => draw_stacked(root, title, y_label, x_labels, series),
        Chart::HBars {
            title,
            x_label,
            labels,
            series,
            log,
            stacked,
            floor,
        } => draw_hbars(root, title, x_label, labels, series, *log, *stacked, *floor),
        Chart::Roofline {
            title,
            compute_roof,
            bus_roof,
            groups,
        } => draw_roofline(root, title, *compute_roof, *bus_roof, groups),
        Chart::ParetoScatter {
            title,
            x_label,
            y_label,
            c_label,
            points,
            front,
        } => draw_pareto(root, title, x_label, y_label, c_label, points, front),
        Chart::CategoryLines {
            title,
            x_label,
            x_labels,
            panels,
            bars,
        } => {
            let (top, rest) = root.split_vertically(40);
            top.draw(&Text::new(
                title.clone(),
                (10, 10),
                (FONT, 22).into_font().style(FontStyle::Bold),
            ))
            .map_err(e2s)?;
            let n = panels.len().max(1);
            let areas = rest.split_evenly((1, n));
            for (area, (ptitle, ylabel, series)) in areas.iter().zip(panels) {
                draw_lines(area, ptitle, x_label, ylabel, x_labels, series, *bars)?;
            }
            Ok(())
        }
        Chart::StackedCapacity {
            title,
            y_label,
            panels,
        } => {
            let (top, rest) = root.split_vertically(40);
            top.draw(&Text::new(
                title.clone(),
                (10, 10),
                (FONT, 22).into_font().style(FontStyle::Bold),
            ))
            .map_err(e2s)?;
            let mut rest = rest;
            for p in panels {
                let (area, below) = rest.split_vertically(capacity_panel_height(p));
                draw_capacity(&area, p, y_label)?;
                rest = below;
            }
            Ok(())
        }
        Chart::PowerVsRate {
            title,
            lines,
            rate_hz,
            levels,
        } => draw_power(root, title, lines, *rate_hz, levels),
    }
}

/// Height of one [`CapacityPanel`] drawn as horizontal bars: its legend, the axis and
/// 24 px per row.
fn capacity_panel_height(p: &CapacityPanel) -> u32 {
    let mut legend = p.series.clone();
    legend.push(Series {
        name: "capacity".into(),
        color: RGBColor(200, 0, 0),
        values: Vec::new(),
    });
    head_height(&legend, PLOT_SIZE.0) + 60 + 24 * p.x_labels.len().max(1) as u32
}

/// One memory as horizontal stacked bars (one row per label, first on top), the
/// capacity as a dashed red line across each row, "does not fit (+N KiB)" after a bar
/// over it; the panel's title and legend above the bars.
fn draw_capacity<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &CapacityPanel,
    y_label: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let red = RGBColor(200, 0, 0);
    let mut legend = p.series.clone();
    legend.push(Series {
        name: "capacity".into(),
        color: red,
        values: Vec::new(),
    });
    let (head, body) = root.split_vertically(head_height(&legend, root.dim_in_pixel().0));
    draw_head(&head, &p.title, &legend)?;
    let n = p.x_labels.len().max(1);
    let mut used = vec![0.0f64; n];
    let mut top = 0.0f64;
    for (i, u) in used.iter_mut().enumerate() {
        *u = p
            .series
            .iter()
            .map(|s| s.values.get(i).copied().unwrap_or(0.0).max(0.0))
            .sum();
        top = top.max(*u).max(p.capacity.get(i).copied().unwrap_or(0.0));
    }
    // Room on the right for the "does not fit" notes.
    let top = if top > 0.0 { top * 1.3 } else { 1.0 };
    let row = |i: usize| (n - 1 - i) as f64;
    let labels = &p.x_labels;
    let label_at = |y: f64| -> String {
        let k = y.round();
        if (y - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < n {
            labels.get(n - 1 - k as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32;
    let mut chart = ChartBuilder::on(&body)
        .margin(8)
        .margin_right(30)
        .x_label_area_size(40)
        .y_label_area_size(20 + 8 * longest.min(40))
        .build_cartesian_2d(0.0..top, -0.5f64..(n as f64 - 0.5))
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .label_style((FONT, 13))
        .light_line_style(WHITE)
        .disable_y_mesh()
        .y_labels(n + 1)
        .y_label_formatter(&|y| label_at(*y))
        .x_labels(10)
        .x_desc(y_label)
        .x_label_formatter(&|x| f::axis(*x))
        .draw()
        .map_err(e2s)?;
    let mut base = vec![0.0f64; n];
    for s in &p.series {
        let color = s.color;
        let mut rects = Vec::new();
        for (i, b) in base.iter_mut().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0.0).max(0.0);
            if v > 0.0 && v.is_finite() {
                rects.push(Rectangle::new(
                    [(*b, row(i) - 0.35), (*b + v, row(i) + 0.35)],
                    color.filled(),
                ));
                *b += v;
            }
        }
        chart.draw_series(rects).map_err(e2s)?;
    }
    for (i, &c) in p.capacity.iter().enumerate().take(n) {
        if !(c > 0.0 && c.is_finite()) {
            continue;
        }
        let y = row(i);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(c, y - 0.48), (c, y + 0.48)],
                4,
                3,
                red.stroke_width(3),
            ))
            .map_err(e2s)?;
        if used[i] > c {
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("does not fit (+{} KiB)", f::num(used[i] - c)),
                    (used[i] + top * 0.01, y),
                    (FONT, 12)
                        .into_font()
                        .color(&red)
                        .pos(plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Left,
                            plotters::style::text_anchor::VPos::Center,
                        )),
                )))
                .map_err(e2s)?;
        }
    }
    Ok(())
}

fn draw_power<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    lines: &[PowerLine],
    rate_hz: Option<f64>,
    levels: &[(String, f64)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (xlo, xhi) = log_range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)));
    let (ylo, yhi) = log_range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)));
    // The legend in its own column on the right when there are many lines (it would
    // cover them inside the plot area).
    let outside = lines.len() > 6;
    let width = root.dim_in_pixel().0;
    let (root, side) = if outside {
        let longest = lines
            .iter()
            .map(|l| l.name.chars().count())
            .max()
            .unwrap_or(10) as u32;
        let w = (40 + 8 * longest).min(width / 3);
        root.split_horizontally(width - w)
    } else {
        root.split_horizontally(width)
    };
    let root = &root;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((xlo..xhi).log_scale(), (ylo..yhi).log_scale())
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .label_style((FONT, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .x_labels(10)
        .y_labels(10)
        .x_desc("inference rate (Hz, log scale)")
        .y_desc("average power (uW, log scale)")
        .x_label_formatter(&|x| f::axis(*x))
        .y_label_formatter(&|y| f::axis(*y))
        .draw()
        .map_err(e2s)?;
    let grey = RGBColor(110, 110, 110);
    for (label, uw) in levels {
        if !(*uw > ylo && *uw < yhi) {
            continue;
        }
        chart
            .draw_series(DashedLineSeries::new(
                vec![(xlo, *uw), (xhi, *uw)],
                2,
                4,
                grey.stroke_width(1),
            ))
            .map_err(e2s)?;
        chart
            .draw_series(std::iter::once(Text::new(
                label.clone(),
                (xlo * 1.15, *uw * 1.45),
                (FONT, 13).into_font().color(&grey),
            )))
            .map_err(e2s)?;
    }
    if let Some(r) = rate_hz.filter(|r| *r > xlo && *r < xhi) {
        chart
            .draw_series(LineSeries::new(
                vec![(r, ylo), (r, yhi)],
                RGBColor(200, 0, 0).stroke_width(2),
            ))
            .map_err(e2s)?
            .label(format!("chosen rate {} Hz", f::num(r)))
            .legend(|(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 14, y)],
                    RGBColor(200, 0, 0).stroke_width(2),
                )
            });
    }
    for l in lines {
        let color = l.color;
        let pts: Vec<(f64, f64)> = l
            .points
            .iter()
            .copied()
            .filter(|p| p.0 > 0.0 && p.1 > 0.0 && p.0.is_finite() && p.1.is_finite())
            .collect();
        if l.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts, 8, 5, color.stroke_width(2)))
                .map_err(e2s)?
                .label(l.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 6, y)], color.stroke_width(2))
                });
        } else {
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(e2s)?
                .label(l.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
        }
    }
    if !outside {
        return draw_legend(&mut chart, SeriesLabelPosition::LowerRight);
    }
    let red = RGBColor(200, 0, 0);
    let mut y = 60i32;
    if let Some(r) = rate_hz {
        side.draw(&PathElement::new(
            vec![(6, y), (30, y)],
            red.stroke_width(2),
        ))
        .map_err(e2s)?;
        side.draw(&Text::new(
            format!("chosen rate {} Hz", f::num(r)),
            (36, y - 8),
            (FONT, 13),
        ))
        .map_err(e2s)?;
        y += 22;
    }
    for l in lines {
        let style = l.color.stroke_width(2);
        if l.dashed {
            for x0 in [6, 18] {
                side.draw(&PathElement::new(vec![(x0, y), (x0 + 8, y)], style))
                    .map_err(e2s)?;
            }
        } else {
            side.draw(&PathElement::new(vec![(6, y), (30, y)], style))
                .map_err(e2s)?;
        }
        side.draw(&Text::new(l.name.clone(), (36, y - 8), (FONT, 13)))
            .map_err(e2s)?;
        y += 22;
    }
    Ok(())
}

fn draw_grouped<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    x_labels: &[String],
    series: &[Series],
    reference: Option<f64>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let n = x_labels.len().max(1);
    let (lo, hi) = log_range(
        series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .chain(reference),
    );
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (lo..hi).log_scale())
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .label_style((FONT, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .y_labels(10)
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_formatter(&|x| cat_label(x_labels, *x))
        .y_desc(y_label)
        .y_label_formatter(&|y| f::axis(*y))
        .draw()
        .map_err(e2s)?;
    let k = series.len().max(1) as f64;
    let w = 0.8 / k;
    for (si, s) in series.iter().enumerate() {
        let color = s.color;
        let bars = s.values.iter().enumerate().filter_map(|(i, &v)| {
            if v > 0.0 && v.is_finite() {
                let x0 = i as f64 - 0.4 + si as f64 * w;
                Some(Rectangle::new([(x0, lo), (x0 + w, v)], color.filled()))
            } else {
                None
            }
        });
        chart
            .draw_series(bars)
            .map_err(e2s)?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    if let Some(r) = reference {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(-0.5, r), (n as f64 - 0.5, r)],
                6,
                4,
                BLACK.stroke_width(1),
            ))
            .map_err(e2s)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Where the legend entries of [`draw_head`] go: `(x, line)` per series, wrapping at
/// `width` pixels.
fn legend_places(series: &[Series], width: u32) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let (mut x, mut line) = (14i32, 0i32);
    for s in series {
        let w = 34 + 8 * s.name.chars().count() as i32;
        if x > 14 && x + w > width as i32 - 14 {
            x = 14;
            line += 1;
        }
        out.push((x, line));
        x += w;
    }
    out
}

/// Height of the title and legend lines of [`draw_head`].
fn head_height(series: &[Series], width: u32) -> u32 {
    let lines = legend_places(series, width)
        .last()
        .map_or(1, |&(_, l)| l + 1) as u32;
    40 + 24 * lines
}

/// The title and the legend (a swatch and the name per series, wrapped into lines) above
/// a plot, so that the legend never covers data.
fn draw_head<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    series: &[Series],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    area.draw(&Text::new(
        title.to_string(),
        (12, 8),
        (FONT, 20).into_font().style(FontStyle::Bold),
    ))
    .map_err(e2s)?;
    let width = area.dim_in_pixel().0;
    for (s, (x, line)) in series.iter().zip(legend_places(series, width)) {
        let y = 42 + 24 * line;
        area.draw(&Rectangle::new(
            [(x, y), (x + 14, y + 12)],
            s.color.filled(),
        ))
        .map_err(e2s)?;
        area.draw(&Text::new(s.name.clone(), (x + 20, y - 2), (FONT, 15)))
            .map_err(e2s)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn draw_hbars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    labels: &[String],
    series: &[Series],
    log: bool,
    stacked: bool,
    floor: Option<f64>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (head, body) = root.split_vertically(head_height(series, root.dim_in_pixel().0));
    draw_head(&head, title, series)?;
    let n = labels.len().max(1);
    // Row i of `labels` at y = n - 1 - i: the first row on top.
    let row = |i: usize| (n - 1 - i) as f64;
    let label_at = |y: f64| -> String {
        let k = y.round();
        if (y - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < n {
            labels.get(n - 1 - k as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32;
    let values = || -> Vec<f64> {
        if stacked {
            (0..n)
                .map(|i| {
                    series
                        .iter()
                        .map(|s| s.values.get(i).copied().unwrap_or(0.0).max(0.0))
                        .sum()
                })
                .collect()
        } else {
            series
                .iter()
                .flat_map(|s| s.values.iter().copied())
                .collect()
        }
    };
    let k = if stacked {
        1.0
    } else {
        series.len().max(1) as f64
    };
    let h = 0.8 / k;
    let rect_y = |i: usize, si: usize| {
        let si = if stacked { 0 } else { si };
        let y1 = row(i) + 0.4 - si as f64 * h;
        (y1 - h, y1)
    };
    let mut b = ChartBuilder::on(&body);
    b.margin(12)
        .margin_right(30)
        .x_label_area_size(50)
        .y_label_area_size(20 + 8 * longest.min(40));
    if log && !stacked {
        let (lo, hi) = fitted_log_range(values().into_iter().chain(floor));
        let lo = floor.map_or(lo, |f| lo.min(f));
        let mut chart = b
            .build_cartesian_2d(
                (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)),
                -0.5f64..(n as f64 - 0.5),
            )
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .label_style((FONT, 13))
            .light_line_style(RGBColor(235, 235, 235))
            .disable_y_mesh()
            .y_labels(n + 1)
            .y_label_formatter(&|y| label_at(*y))
            .x_desc(x_label)
            .x_label_formatter(&|x| f::axis(*x))
            .draw()
            .map_err(e2s)?;
        for (si, s) in series.iter().enumerate() {
            let color = s.color;
            chart
                .draw_series(
                    s.values
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| **v > 0.0 && v.is_finite())
                        .map(|(i, &v)| {
                            let (y0, y1) = rect_y(i, si);
                            Rectangle::new([(floor.unwrap_or(lo), y0), (v, y1)], color.filled())
                        }),
                )
                .map_err(e2s)?;
            if n <= 16 {
                // The value at the end of each bar.
                chart
                    .draw_series(
                        s.values
                            .iter()
                            .enumerate()
                            .take(n)
                            .filter(|(_, v)| **v > 0.0 && v.is_finite())
                            .map(|(i, &v)| {
                                let (y0, y1) = rect_y(i, si);
                                Text::new(
                                    f::num(v),
                                    (v * (hi / lo).powf(0.005), (y0 + y1) / 2.0),
                                    TextStyle::from((FONT, 11).into_font()).pos(
                                        plotters::style::text_anchor::Pos::new(
                                            plotters::style::text_anchor::HPos::Left,
                                            plotters::style::text_anchor::VPos::Center,
                                        ),
                                    ),
                                )
                            }),
                    )
                    .map_err(e2s)?;
            }
        }
        if let Some(fl) = floor {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(fl, -0.5), (fl, n as f64 - 0.5)],
                    6,
                    4,
                    BLACK.stroke_width(1),
                ))
                .map_err(e2s)?;
        }
    } else {
        let max = values()
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let hi = if max > 0.0 { max * 1.12 } else { 1.0 };
        let mut chart = b
            .build_cartesian_2d(0f64..hi, -0.5f64..(n as f64 - 0.5))
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .label_style((FONT, 13))
            .light_line_style(WHITE)
            .disable_y_mesh()
            .y_labels(n + 1)
            .x_labels(10)
            .y_label_formatter(&|y| label_at(*y))
            .x_desc(x_label)
            .x_label_formatter(&|x| f::axis(*x))
            .draw()
            .map_err(e2s)?;
        let mut base = vec![0.0f64; n];
        for (si, s) in series.iter().enumerate() {
            let color = s.color;
            let mut rects = Vec::new();
            for (i, &v) in s.values.iter().enumerate().take(n) {
                if v > 0.0 && v.is_finite() {
                    let (y0, y1) = rect_y(i, si);
                    let x0 = if stacked { base[i] } else { 0.0 };
                    rects.push(Rectangle::new([(x0, y0), (x0 + v, y1)], color.filled()));
                    if stacked {
                        base[i] += v;
                    }
                }
            }
            chart.draw_series(rects).map_err(e2s)?;
            if !stacked {
                // The value at the end of each bar (short bars stay readable).
                chart
                    .draw_series(
                        s.values
                            .iter()
                            .enumerate()
                            .take(n)
                            .filter(|(_, v)| **v > 0.0 && v.is_finite())
                            .map(|(i, &v)| {
                                let (y0, y1) = rect_y(i, si);
                                Text::new(
                                    f::num(v),
                                    (v + hi * 0.005, (y0 + y1) / 2.0),
                                    TextStyle::from((FONT, 11).into_font()).pos(
                                        plotters::style::text_anchor::Pos::new(
                                            plotters::style::text_anchor::HPos::Left,
                                            plotters::style::text_anchor::VPos::Center,
                                        ),
                                    ),
                                )
                            }),
                    )
                    .map_err(e2s)?;
            }
        }
    }
    Ok(())
}

fn draw_stacked<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    x_labels: &[String],
    series: &[Series],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let n = x_labels.len().max(1);
    let mut top = 0.0f64;
    for i in 0..n {
        let s: f64 = series
            .iter()
            .map(|s| s.values.get(i).copied().unwrap_or(0.0).max(0.0))
            .sum();
        top = top.max(s);
    }
    // Headroom above the tallest bar for the legend (one row per series, upper right).
    let headroom = (1.0 + 0.06 * series.len() as f64).max(1.25);
    let top = if top > 0.0 { top * headroom } else { 1.0 };
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0..top)
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .label_style((FONT, 14))
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_formatter(&|x| cat_label(x_labels, *x))
        .y_desc(y_label)
        .y_label_formatter(&|y| f::axis(*y))
        .draw()
        .map_err(e2s)?;
    let mut base = vec![0.0f64; n];
    for s in series {
        let color = s.color;
        let mut rects = Vec::new();
        for (i, b) in base.iter_mut().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0.0).max(0.0);
            if v > 0.0 && v.is_finite() {
                rects.push(Rectangle::new(
                    [(i as f64 - 0.35, *b), (i as f64 + 0.35, *b + v)],
                    color.filled(),
                ));
                *b += v;
            }
        }
        chart
            .draw_series(rects)
            .map_err(e2s)?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn draw_roofline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    compute_roof: f64,
    bus_roof: f64,
    groups: &PointGroups,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let ridge = if bus_roof > 0.0 {
        compute_roof / bus_roof
    } else {
        1.0
    };
    let (xlo, xhi) = log_range(
        groups
            .iter()
            .flat_map(|g| g.2.iter().map(|p| p.0))
            .chain([ridge / 4.0, ridge * 4.0]),
    );
    let (ylo, _) = log_range(
        groups
            .iter()
            .flat_map(|g| g.2.iter().map(|p| p.1))
            .chain([bus_roof * xlo]),
    );
    let yhi = compute_roof * 3.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((xlo..xhi).log_scale(), (ylo..yhi).log_scale())
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .label_style((FONT, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .x_labels(10)
        .y_labels(10)
        .x_desc("arithmetic intensity (MACs per bus byte)")
        .y_desc("achieved MACs per accelerator cycle")
        .x_label_formatter(&|x| f::axis(*x))
        .y_label_formatter(&|y| f::axis(*y))
        .draw()
        .map_err(e2s)?;
    // The roof: bus-bound left of the ridge, compute-bound right of it.
    let mut roof = Vec::new();
    let steps = 64;
    for i in 0..=steps {
        let x = xlo * (xhi / xlo).powf(i as f64 / steps as f64);
        roof.push((x, (bus_roof * x).min(compute_roof)));
    }
    chart
        .draw_series(LineSeries::new(roof, BLACK.stroke_width(2)))
        .map_err(e2s)?
        .label(format!(
            "roof: min({} MACs/cycle, {} B/cycle x intensity)",
            f::num(compute_roof),
            f::num(bus_roof)
        ))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(2)));
    for (name, color, pts) in groups {
        let color = *color;
        chart
            .draw_series(
                pts.iter()
                    .filter(|p| p.0 > 0.0 && p.1 > 0.0)
                    .map(|&p| Circle::new(p, 5, color.filled())),
            )
            .map_err(e2s)?
            .label(name.clone())
            .legend(move |(x, y)| Circle::new((x + 6, y), 5, color.filled()));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
}

fn draw_pareto<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    c_label: &str,
    points: &[(f64, f64, f64)],
    front: &[usize],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (xlo, xhi) = fitted_log_range(points.iter().map(|p| p.0));
    let (ylo, yhi) = fitted_log_range(points.iter().map(|p| p.1));
    let (clo, chi) = points
        .iter()
        .map(|p| p.2)
        .filter(|c| c.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), c| {
            (a.min(c), b.max(c))
        });
    let (clo, chi) = if clo.is_finite() {
        (clo, chi)
    } else {
        (0.0, 0.0)
    };
    let norm = |c: f64| {
        if chi > clo {
            (c - clo) / (chi - clo)
        } else {
            0.5
        }
    };
    // The colour bar of the third quantity on the right.
    let width = root.dim_in_pixel().0;
    let (main, bar) = root.split_horizontally(width.saturating_sub(110));
    let mut chart = ChartBuilder::on(&main)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (xlo..xhi).log_scale().with_key_points(log_ticks(xlo, xhi)),
            (ylo..yhi).log_scale().with_key_points(log_ticks(ylo, yhi)),
        )
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .label_style((FONT, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|x| f::axis(*x))
        .y_label_formatter(&|y| f::axis(*y))
        .draw()
        .map_err(e2s)?;
    chart
        .draw_series(
            points
                .iter()
                .map(|&(x, y, c)| Circle::new((x, y), 3, ramp(norm(c)).mix(0.6).filled())),
        )
        .map_err(e2s)?
        .label("design")
        .legend(|(x, y)| Circle::new((x + 6, y), 3, ramp(0.5).filled()));
    // The 2-D front of the two plotted quantities, as a staircase.
    let mut xy: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.0 > 0.0 && p.1 > 0.0 && p.0.is_finite() && p.1.is_finite())
        .map(|p| (p.0, p.1))
        .collect();
    xy.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut stairs: Vec<(f64, f64)> = Vec::new();
    let mut best = f64::INFINITY;
    for (x, y) in xy {
        if y < best {
            if let Some(&(_, py)) = stairs.last() {
                stairs.push((x, py));
            }
            stairs.push((x, y));
            best = y;
        }
    }
    if let Some(&(_, y)) = stairs.last() {
        stairs.push((xhi, y));
    }
    if let Some(&(x, _)) = stairs.first() {
        stairs.insert(0, (x, yhi));
    }
    chart
        .draw_series(LineSeries::new(stairs, RED.stroke_width(2)))
        .map_err(e2s)?
        .label("front of these two (staircase)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], RED.stroke_width(2)));
    let fp: Vec<(f64, f64, f64)> = front
        .iter()
        .filter_map(|&i| points.get(i).copied())
        .collect();
    chart
        .draw_series(fp.iter().map(|&(x, y, c)| {
            EmptyElement::at((x, y))
                + Circle::new((0, 0), 6, ramp(norm(c)).filled())
                + Circle::new((0, 0), 6, BLACK.stroke_width(2))
        }))
        .map_err(e2s)?
        .label("Pareto front (latency, energy, area)")
        .legend(|(x, y)| Circle::new((x + 6, y), 6, BLACK.stroke_width(2)));
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    draw_colour_bar(&bar, c_label, clo, chi)
}

/// A vertical colour bar of [`ramp`] from `lo` (bottom) to `hi` (top), labelled.
fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    label: &str,
    lo: f64,
    hi: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let mut chart = ChartBuilder::on(area)
        .margin_top(40)
        .margin_bottom(62)
        .margin_right(8)
        .y_label_area_size(62)
        .caption(label, (FONT, 14))
        .build_cartesian_2d(0f64..1f64, lo..hi)
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .disable_x_axis()
        .y_labels(6)
        .label_style((FONT, 13))
        .y_label_formatter(&|v| f::axis(*v))
        .draw()
        .map_err(e2s)?;
    let n = 100;
    chart
        .draw_series((0..n).map(|i| {
            let t0 = i as f64 / n as f64;
            let t1 = (i + 1) as f64 / n as f64;
            Rectangle::new(
                [(0.0, lo + t0 * (hi - lo)), (1.0, lo + t1 * (hi - lo))],
                ramp((t0 + t1) / 2.0).filled(),
            )
        }))
        .map_err(e2s)?;
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    x_labels: &[String],
    series: &[Series],
    bars: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    if bars {
        return draw_category_bars(root, title, x_label, y_label, x_labels, series);
    }
    let n = x_labels.len().max(1);
    let (lo, hi) = fitted_log_range(series.iter().flat_map(|s| s.values.iter().copied()));
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(
            -0.5f64..(n as f64 - 0.5),
            (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)),
        )
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .label_style((FONT, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .x_labels(n + 1)
        .x_label_formatter(&|x| cat_label(x_labels, *x))
        .x_desc(x_label)
        .y_desc(y_label)
        .y_label_formatter(&|y| f::axis(*y))
        .draw()
        .map_err(e2s)?;
    for s in series {
        let color = s.color;
        let pts: Vec<(f64, f64)> = s
            .values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.0 && v.is_finite())
            .map(|(i, v)| (i as f64, *v))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(e2s)?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
            });
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))
            .map_err(e2s)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Grouped bars from zero (linear y) against a categorical axis: bar lengths proportional
/// to the values, with headroom for the legend.
fn draw_category_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    x_labels: &[String],
    series: &[Series],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let n = x_labels.len().max(1);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let hi = if max > 0.0 { max * 1.3 } else { 1.0 };
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..hi)
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .label_style((FONT, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .disable_x_mesh()
        .x_labels(n + 1)
        .y_labels(8)
        .x_label_formatter(&|x| cat_label(x_labels, *x))
        .x_desc(x_label)
        .y_desc(y_label.replace(", log", ""))
        .y_label_formatter(&|y| f::axis(*y))
        .draw()
        .map_err(e2s)?;
    let k = series.len().max(1) as f64;
    let w = 0.8 / k;
    for (si, s) in series.iter().enumerate() {
        let color = s.color;
        chart
            .draw_series(
                s.values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0.0 && v.is_finite())
                    .map(|(i, &v)| {
                        let x0 = i as f64 - 0.4 + si as f64 * w;
                        Rectangle::new([(x0, 0.0), (x0 + w, v)], color.filled())
                    }),
            )
            .map_err(e2s)?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// One energy part of a model's totals.
type TotalsPart = fn(&crate::record::ModelTotals) -> f64;

/// The parts of an accelerator's area in um^2 (`arch`'s area model, docs/area.md): the
/// PEs, the PPU lanes, the controller and DMA, the issue-16 units and command queues when
/// present, and the three scratchpads.
pub fn area_parts(cfg: &arch::AccelConfig) -> Vec<(String, f64)> {
    let a = cfg.area_table();
    let [input, weight, acc] = cfg.scratchpad_macros();
    let agu = if cfg.im2col { a.agu_um2 } else { 0.0 };
    let track = if cfg.dma_outstanding > 1 {
        cfg.dma_outstanding as f64 * a.dma_slot_um2
    } else {
        0.0
    };
    let parts = vec![
        (
            format!("PE array ({}x{})", cfg.rows, cfg.cols),
            a.pe_um2 * cfg.peak_macs_per_cycle() as f64,
        ),
        (
            format!("PPU ({} lanes)", cfg.cols),
            a.ppu_um2_per_col * cfg.cols as f64,
        ),
        ("controller and DMA".to_string(), a.control_um2),
        ("im2col address generator".to_string(), agu),
        ("DMA tracking FIFO".to_string(), track),
        ("command queues".to_string(), cfg.cmd_queue_area_um2()),
        ("vector unit".to_string(), cfg.vpu_area_um2()),
        (
            format!("input SRAM ({} KiB)", cfg.input_sram_kib),
            a.sram_um2(&input),
        ),
        (
            format!("weight SRAM ({} KiB)", cfg.weight_sram_kib),
            a.sram_um2(&weight),
        ),
        (
            format!("accumulator SRAM ({} KiB)", cfg.acc_sram_kib),
            a.sram_um2(&acc),
        ),
    ];
    parts.into_iter().filter(|(_, v)| *v > 0.0).collect()
}

/// The plots of a report, in the page's order: speedup and energy ratio per model run;
/// the accelerator-only energy by part; the system energy by part (with the CPU); per
/// model run the per-layer latency (CPU baseline vs accelerator run, labelled by index
/// and op) and the array utilization per offloaded layer; the area by part and the
/// roofline per distinct accelerator configuration; the budget plots.
pub fn report_plots(r: &Report) -> Result<Vec<PlotSpec>, ReportError> {
    let mut out = Vec::new();
    if r.models.is_empty() {
        return Ok(out);
    }
    let short = |m: &crate::record::ModelReport| crate::writer::short_run_name(r, m);
    let totals: Vec<_> = r.models.iter().map(|m| m.totals()).collect();
    out.push(PlotSpec {
        file: PlotFile::new("speedup and energy ratio per model", "speedup-energy"),
        chart: Chart::HBars {
            title:
                "Speedup and energy ratio vs the CPU baseline (CPU / accelerator run; dashed: 1x)"
                    .into(),
            x_label: "CPU / accelerator run (x, log scale)".into(),
            labels: r.models.iter().map(short).collect(),
            series: vec![
                Series {
                    name: "speedup (latency)".into(),
                    color: PALETTE[0],
                    values: totals.iter().map(|t| t.speedup.unwrap_or(0.0)).collect(),
                },
                Series {
                    name: "energy ratio".into(),
                    color: PALETTE[2],
                    values: totals
                        .iter()
                        .map(|t| t.energy_ratio.unwrap_or(0.0))
                        .collect(),
                },
            ],
            log: true,
            stacked: false,
            floor: Some(1.0),
        },
    });
    // The accelerator alone: every part but the CPU, as shares of the accelerator-only
    // energy (parts that are zero in every run left out).
    let accel_parts: [(&str, RGBColor, TotalsPart); 12] = [
        ("MACs", PALETTE[0], |t| t.mac_uj),
        ("scratchpads (SRAM)", PALETTE[2], |t| t.sram_uj),
        ("bus", PALETTE[1], |t| t.bus_uj),
        ("main memory", RGBColor(150, 90, 0), |t| t.main_memory_uj),
        ("clock tree and registers", PALETTE[6], |t| t.clock_uj),
        ("PPU", PALETTE[7], |t| t.ppu_uj),
        ("controller", RGBColor(120, 120, 120), |t| t.control_uj),
        ("DMA engine", PALETTE[4], |t| t.dma_uj),
        ("im2col AGU", RGBColor(0, 80, 60), |t| t.agu_uj),
        ("DMA tracking", RGBColor(180, 180, 255), |t| t.dma_track_uj),
        ("vector unit", RGBColor(120, 0, 120), |t| t.vpu_uj),
        ("leakage", PALETTE[3], |t| t.leakage_uj),
    ];
    let series: Vec<Series> = accel_parts
        .iter()
        .filter(|(_, _, get)| totals.iter().any(|t| get(t) > 0.0))
        .map(|(name, color, get)| Series {
            name: name.to_string(),
            color: *color,
            values: totals
                .iter()
                .map(|t| crate::record::ratio(get(t), t.accel_uj()).unwrap_or(0.0) * 100.0)
                .collect(),
        })
        .collect();
    out.push(PlotSpec {
        file: PlotFile::new(
            "accelerator-only energy by part (no CPU)",
            "energy-accelerator",
        ),
        chart: Chart::HBars {
            title: "Accelerator-only energy by part (label: accelerator-only uJ)".into(),
            x_label: "share of the accelerator-only energy (%)".into(),
            labels: r
                .models
                .iter()
                .zip(&totals)
                .map(|(m, t)| format!("{} ({} uJ)", short(m), f::num(t.accel_uj())))
                .collect(),
            series,
            log: false,
            stacked: true,
            floor: None,
        },
    });
    let parts = [
        "MACs (array, depthwise lanes)",
        "scratchpads",
        "bus and main memory",
        "clock tree and registers",
        "PPU, controller, DMA engine",
        "leakage",
        "CPU",
        "AGU, DMA tracking, vector unit",
    ];
    let colors = [
        PALETTE[0], PALETTE[2], PALETTE[1], PALETTE[6], PALETTE[7], PALETTE[3], PALETTE[5],
        PALETTE[4],
    ];
    // The address generator, DMA tracking and vector-unit part only when a model has it.
    let new_units = totals
        .iter()
        .any(|t| t.agu_uj + t.dma_track_uj + t.vpu_uj > 0.0);
    let series = (0..if new_units { 8 } else { 7 })
        .map(|k| Series {
            name: parts[k].into(),
            color: colors[k],
            values: totals
                .iter()
                .map(|t| {
                    let v = [
                        t.mac_uj,
                        t.sram_uj,
                        t.bus_uj + t.main_memory_uj,
                        t.clock_uj,
                        t.ppu_uj + t.control_uj + t.dma_uj,
                        t.leakage_uj,
                        t.offload_cpu_uj,
                        t.agu_uj + t.dma_track_uj + t.vpu_uj,
                    ][k];
                    crate::record::ratio(v, t.offload_uj).unwrap_or(0.0) * 100.0
                })
                .collect(),
        })
        .collect();
    out.push(PlotSpec {
        file: PlotFile::new(
            "system energy of the accelerator run by part (with the CPU)",
            "energy-breakdown",
        ),
        chart: Chart::HBars {
            title: "System energy of the accelerator run by part (label: system uJ)".into(),
            x_label: "share of the accelerator-run energy, CPU included (%)".into(),
            labels: r
                .models
                .iter()
                .zip(&totals)
                .map(|(m, t)| format!("{} ({} uJ)", short(m), f::num(t.offload_uj)))
                .collect(),
            series,
            log: false,
            stacked: true,
            floor: None,
        },
    });
    let mut seen_util: Vec<(String, String, Vec<String>, Vec<f64>)> = Vec::new();
    for m in &r.models {
        let labels: Vec<String> = m
            .layers
            .iter()
            .map(|l| format!("{} {}", l.index, l.op))
            .collect();
        out.push(PlotSpec {
            file: PlotFile::new(
                &format!("{}: per-layer latency", m.model),
                &format!("latency-{}", m.model),
            ),
            chart: Chart::HBars {
                title: format!(
                    "{}: per-layer latency, CPU baseline vs accelerator run",
                    short(m)
                ),
                x_label: "latency (us, log scale)".into(),
                labels,
                series: vec![
                    Series {
                        name: format!("CPU baseline ({})", m.cpu_profile.name),
                        color: PALETTE[1],
                        values: m.layers.iter().map(|l| l.cpu_us).collect(),
                    },
                    Series {
                        name: format!("accelerator run ({})", m.config.name),
                        color: PALETTE[0],
                        values: m.layers.iter().map(|l| l.offload_us).collect(),
                    },
                ],
                log: true,
                stacked: false,
                floor: None,
            },
        });
        let offloaded: Vec<&crate::record::LayerRow> = m
            .layers
            .iter()
            .filter(|l| l.target == Target::Accel)
            .collect();
        if offloaded.is_empty() {
            continue;
        }
        let labels: Vec<String> = offloaded
            .iter()
            .map(|l| format!("{} {}", l.index, l.op))
            .collect();
        let util: Vec<f64> = offloaded
            .iter()
            .map(|l| m.array_utilization(l) * 100.0)
            .collect();
        let key = (
            m.source.clone(),
            m.config.hash.clone(),
            labels.clone(),
            util.clone(),
        );
        // The same offloaded layers with the same utilization (another CPU library, the
        // accelerator's work unchanged): drawn once.
        if seen_util.contains(&key) {
            continue;
        }
        seen_util.push(key);
        out.push(PlotSpec {
            file: PlotFile::new(
                &format!("{}: array utilization per offloaded layer", m.model),
                &format!("utilization-{}", m.model),
            ),
            chart: Chart::HBars {
                title: format!(
                    "{} on {}: array utilization per offloaded layer",
                    crate::writer::base_model_name(m),
                    m.config.name
                ),
                x_label: "MACs / (peak MACs per cycle x accelerator cycles) (%)".into(),
                labels,
                series: vec![Series {
                    name: format!(
                        "array utilization ({}x{} {})",
                        m.config.rows, m.config.cols, m.config.dataflow
                    ),
                    color: PALETTE[2],
                    values: util,
                }],
                log: false,
                stacked: false,
                floor: None,
            },
        });
    }
    let mut cfgs: Vec<&crate::record::ConfigSummary> = Vec::new();
    for m in &r.models {
        if !cfgs.iter().any(|c| c.hash == m.config.hash) {
            cfgs.push(&m.config);
        }
    }
    for c in &cfgs {
        let cfg = arch::AccelConfig::from_toml_str(&c.toml, &format!("configuration {}", c.name))
            .map_err(|e| ReportError::Plot {
            path: format!("plots/area-{}-{}.svg", c.name, c.hash).into(),
            message: format!(
                "the report's configuration `{}` does not parse: {e}",
                c.name
            ),
        })?;
        let parts = area_parts(&cfg);
        let total: f64 = parts.iter().map(|p| p.1).sum();
        out.push(PlotSpec {
            file: PlotFile::new(
                &format!("area of {} ({}) by part", c.name, c.hash),
                &format!("area-{}-{}", c.name, c.hash),
            ),
            chart: Chart::HBars {
                title: format!(
                    "Area of {} by part: {} mm^2 at {} nm",
                    c.name,
                    f::num(total / 1e6),
                    c.tech_node_nm
                ),
                x_label: "area (um^2)".into(),
                labels: parts
                    .iter()
                    .map(|(n, v)| format!("{n} {}", f::pct(v / total)))
                    .collect(),
                series: vec![Series {
                    name: "area (arch area model, PE and PPU calibrated from yosys)".into(),
                    color: PALETTE[4],
                    values: parts.iter().map(|p| p.1).collect(),
                }],
                log: false,
                stacked: false,
                floor: None,
            },
        });
    }
    for c in cfgs {
        let groups = r
            .models
            .iter()
            .filter(|m| m.config.hash == c.hash)
            .enumerate()
            .map(|(i, m)| {
                let pts = m
                    .layers
                    .iter()
                    .filter(|l| l.target == Target::Accel && l.bus_bytes > 0 && l.accel_cycles > 0)
                    .map(|l| {
                        (
                            l.macs as f64 / l.bus_bytes as f64,
                            l.macs as f64 / l.accel_cycles as f64,
                        )
                    })
                    .collect();
                (short(m), PALETTE[i % PALETTE.len()], pts)
            })
            .fold(PointGroups::new(), |mut acc, (name, color, pts)| {
                // Runs with the same points (the accelerator's work unchanged against
                // another CPU library) are one group, named after all of them.
                match acc.iter_mut().find(|g| g.2 == pts) {
                    Some(g) => g.0 = format!("{}, {name}", g.0),
                    None => acc.push((name, color, pts)),
                }
                acc
            });
        out.push(PlotSpec {
            file: PlotFile::new(
                &format!("roofline of {} ({})", c.name, c.hash),
                &format!("roofline-{}-{}", c.name, c.hash),
            ),
            chart: Chart::Roofline {
                title: format!(
                    "Roofline of {} ({}x{}, {} B/cycle bus): offloaded layers",
                    c.name, c.rows, c.cols, c.bus_bytes_per_cycle
                ),
                compute_roof: c.peak_macs_per_cycle() as f64,
                bus_roof: c.bus_bytes_per_cycle as f64,
                groups,
            },
        });
    }
    out.extend(budget_plots(r));
    Ok(out)
}

/// The budget plots of a report whose models carry a budget: the memory footprint (flash
/// and SRAM, stacked parts per model and target against the capacity), and with a rate the
/// average power against the rate (CPU only dashed, offloaded solid; the battery-life
/// levels of the report's battery dotted).
pub fn budget_plots(r: &Report) -> Vec<PlotSpec> {
    let mut out = Vec::new();
    let with: Vec<(&crate::record::ModelReport, crate::record::BudgetJson)> = r
        .models
        .iter()
        .filter_map(|m| m.budget_view().map(|b| (m, b)))
        .collect();
    if with.is_empty() {
        return out;
    }
    let mut x_labels = Vec::new();
    let mut targets = Vec::new();
    for (m, b) in &with {
        x_labels.push(format!("{} CPU", crate::writer::short_run_name(r, m)));
        targets.push(b.cpu_only.clone());
        x_labels.push(format!("{} offload", crate::writer::short_run_name(r, m)));
        targets.push(b.offloaded.clone());
    }
    let panel =
        |title: &str,
         pick: &dyn Fn(&crate::record::TargetBudgetJson) -> &crate::record::MemoryJson| {
            // The per-kernel code parts are one segment here (the tables list them).
            let group = |name: &str| -> String {
                if name.starts_with("kernel ") && !name.starts_with("kernel scratch") {
                    "CPU kernels' code".to_string()
                } else {
                    name.to_string()
                }
            };
            let mut names: Vec<String> = Vec::new();
            for t in &targets {
                for p in &pick(t).memory.parts {
                    let g = group(&p.name);
                    if !names.contains(&g) {
                        names.push(g);
                    }
                }
            }
            let series = names
                .iter()
                .enumerate()
                .map(|(k, name)| Series {
                    name: name.clone(),
                    color: PALETTE[k % PALETTE.len()],
                    values: targets
                        .iter()
                        .map(|t| {
                            pick(t)
                                .memory
                                .parts
                                .iter()
                                .filter(|p| group(&p.name) == *name)
                                .map(|p| p.bytes as f64)
                                .sum::<f64>()
                                / 1024.0
                        })
                        .collect(),
                })
                .collect();
            CapacityPanel {
                title: title.to_string(),
                x_labels: x_labels.clone(),
                series,
                capacity: targets
                    .iter()
                    .map(|t| pick(t).memory.capacity_bytes as f64 / 1024.0)
                    .collect(),
            }
        };
    out.push(PlotSpec {
        file: PlotFile::new("memory footprint against capacity", "memory-footprint"),
        chart: Chart::StackedCapacity {
            title: "Memory footprint per model and target (dashed red: the part's capacity)".into(),
            y_label: "KiB".into(),
            panels: vec![panel("flash", &|t| &t.flash), panel("SRAM", &|t| &t.sram)],
        },
    });
    let settings = &with[0].1.settings;
    let Some(rate_hz) = settings.rate_hz else {
        return out;
    };
    // Rates from 1/day to the fastest feasible rate of any target (1 / its latency).
    let fastest = with
        .iter()
        .flat_map(|(_, b)| [b.cpu_only.inference_us, b.offloaded.inference_us])
        .filter(|l| *l > 0.0)
        .map(|l| 1e6 / l)
        .fold(rate_hz, f64::max);
    let (lo, hi) = ((1.0f64 / 86_400.0).min(rate_hz / 10.0), fastest);
    let steps = 80;
    let rates: Vec<f64> = (0..=steps)
        .map(|i| lo * (hi / lo).powf(i as f64 / steps as f64))
        .collect();
    let mut lines = Vec::new();
    for (i, (m, b)) in with.iter().enumerate() {
        for (target, t, dashed) in [
            ("CPU only", &b.cpu_only, true),
            ("offloaded", &b.offloaded, false),
        ] {
            let sleep = t
                .power
                .as_ref()
                .map_or(settings.cpu_sleep_uw, |p| p.sleep_uw);
            let points = rates
                .iter()
                .filter_map(|&hz| {
                    crate::record::power_at(hz, t.inference_us, t.inference_uj, sleep, None)
                        .avg_power_uw
                        .map(|uw| (hz, uw))
                })
                .collect();
            lines.push(PowerLine {
                name: format!("{} {target}", crate::writer::short_run_name(r, m)),
                color: PALETTE[i % PALETTE.len()],
                dashed,
                points,
            });
        }
    }
    let levels = settings
        .battery
        .as_ref()
        .map(|bat| {
            [
                ("1 week", 24.0 * 7.0),
                ("1 month", 24.0 * 30.44),
                ("1 year", 24.0 * 365.25),
                ("10 years", 24.0 * 3652.5),
            ]
            .iter()
            .map(|(label, hours)| {
                // mAh x V = mWh; x 1000 = uWh; / h = uW.
                (
                    format!("{} lasts {label}", bat.name),
                    bat.mah * bat.volts * 1000.0 / hours,
                )
            })
            .collect()
        })
        .unwrap_or_default();
    out.push(PlotSpec {
        file: PlotFile::new("average power against rate", "power-vs-rate"),
        chart: Chart::PowerVsRate {
            title: "Average power vs inference rate (dashed: CPU only, solid: offloaded)".into(),
            lines,
            rate_hz: Some(rate_hz),
            levels,
        },
    });
    out
}

#[cfg(test)]
mod tick_tests {
    use super::log_ticks;

    #[test]
    fn log_ticks_cover_narrow_and_wide_ranges() {
        assert_eq!(log_ticks(1.0, 1000.0).len(), 10); // 1 2 5 10 20 50 100 200 500 1000
        assert_eq!(
            log_ticks(1e-3, 1e6),
            vec![1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]
        );
        assert_eq!(
            log_ticks(38_500.0, 63_700.0),
            vec![40_000.0, 45_000.0, 50_000.0, 55_000.0, 60_000.0]
        );
        assert_eq!(log_ticks(3.0, 9.5), vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        let t = log_ticks(1_003.0, 1_008.0);
        assert!(
            t.len() >= 2 && t.iter().all(|v| (1_003.0..=1_008.0).contains(v)),
            "{t:?}"
        );
        assert!(log_ticks(0.0, 1.0).is_empty());
    }
}
