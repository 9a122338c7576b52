//! Plots as inline SVG, drawn by `plotters` (SVG backend only; it escapes every text it writes).
//! Two shapes cover the report: grouped bars with optional 95% CI error bars (accuracy per
//! variant, per question type, spatial vs other, caption metrics, MAE by count, histograms) and
//! lines over a numeric axis (Acc@IoU curves).

use plotters::prelude::*;

use crate::error::{ReportError, Result};

/// Series colours (colour-blind-safe Okabe–Ito order).
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

/// One value of a bar: mean and an optional (lo, hi) interval.
#[derive(Debug, Clone, Copy)]
pub struct Bar {
    /// The bar's height.
    pub value: f64,
    /// The 95% CI, drawn as an error bar.
    pub ci: Option<(f64, f64)>,
}

/// A named series of bars, one per group (`None`: no bar in that group).
#[derive(Debug, Clone)]
pub struct BarSeries {
    /// Legend name.
    pub name: String,
    /// One entry per group.
    pub bars: Vec<Option<Bar>>,
}

fn plot_err(title: &str, e: impl std::fmt::Display) -> ReportError {
    ReportError::Plot {
        title: title.to_string(),
        message: e.to_string(),
    }
}

/// Size of a plot in pixels, wider for many groups.
fn size(groups: usize) -> (u32, u32) {
    ((220 + 60 * groups as u32).clamp(420, 900), 300)
}

/// Grouped bars with CI error bars. `y` is the value range; `None` fits it to the data
/// (from zero).
pub fn bars(
    title: &str,
    y_desc: &str,
    groups: &[String],
    series: &[BarSeries],
    y: Option<(f64, f64)>,
) -> Result<String> {
    let ng = groups.len().max(1);
    let ns = series.len().max(1);
    let (y0, y1) = y.unwrap_or_else(|| {
        let top = series
            .iter()
            .flat_map(|s| s.bars.iter().flatten())
            .map(|b| b.ci.map_or(b.value, |c| c.1.max(b.value)))
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        (0.0, if top > 0.0 { top * 1.1 } else { 1.0 })
    });
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size(ng)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(title, e))?;
        // Groups are centred on integers, so the axis's key points (integers for up to `ng`
        // labels) fall on them; other key points get no label.
        let labels = groups.to_vec();
        let fmt = move |x: &f64| -> String {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                shorten(&labels[i as usize], 22)
            } else {
                String::new()
            }
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d(-0.5f64..ng as f64 - 0.5, y0..y1)
            .map_err(|e| plot_err(title, e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(ng)
            .x_label_formatter(&fmt)
            .y_desc(y_desc)
            .draw()
            .map_err(|e| plot_err(title, e))?;
        let slot = 0.8 / ns as f64;
        for (si, s) in series.iter().enumerate() {
            let color = PALETTE[si % PALETTE.len()];
            let x_of = |gi: usize| gi as f64 - 0.4 + slot * si as f64;
            let rects = s.bars.iter().enumerate().filter_map(|(gi, b)| {
                let b = (*b)?;
                b.value.is_finite().then(|| {
                    Rectangle::new(
                        [
                            (x_of(gi), y0.max(0.0).min(y1)),
                            (x_of(gi) + slot * 0.9, b.value),
                        ],
                        color.filled(),
                    )
                })
            });
            chart.draw_series(rects).map_err(|e| plot_err(title, e))?;
            let errs = s.bars.iter().enumerate().filter_map(|(gi, b)| {
                let b = (*b)?;
                let (lo, hi) = b.ci?;
                (lo.is_finite() && hi.is_finite()).then(|| {
                    ErrorBar::new_vertical(
                        x_of(gi) + slot * 0.45,
                        lo,
                        b.value,
                        hi,
                        BLACK.stroke_width(1),
                        6,
                    )
                })
            });
            chart.draw_series(errs).map_err(|e| plot_err(title, e))?;
        }
        root.present().map_err(|e| plot_err(title, e))?;
    }
    if series.len() > 1 {
        let names: Vec<String> = series.iter().map(|s| s.name.clone()).collect();
        svg.push_str(&legend(&names));
    }
    Ok(svg)
}

/// An HTML legend under a plot (it never hides data, unlike one drawn inside the axes).
pub fn legend(names: &[String]) -> String {
    let mut s = String::from("<div class=\"legend\">");
    for (i, n) in names.iter().enumerate() {
        let RGBColor(r, g, b) = PALETTE[i % PALETTE.len()];
        s.push_str(&format!(
            "<span><i style=\"background:rgb({r},{g},{b})\"></i>{}</span>",
            crate::html::esc(n)
        ));
    }
    s.push_str("</div>");
    s
}

/// Lines over a numeric x axis, one per series, with points.
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
    x: (f64, f64),
    y: (f64, f64),
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (520, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(title, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .map_err(|e| plot_err(title, e))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(|e| plot_err(title, e))?;
        for (si, (_, pts)) in series.iter().enumerate() {
            let color = PALETTE[si % PALETTE.len()];
            let pts: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1.is_finite()).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(|e| plot_err(title, e))?;
            chart
                .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(|e| plot_err(title, e))?;
        }
        root.present().map_err(|e| plot_err(title, e))?;
    }
    let names: Vec<String> = series.iter().map(|s| s.0.clone()).collect();
    svg.push_str(&legend(&names));
    Ok(svg)
}

/// At most `n` characters, with an ellipsis when cut.
pub fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Counts of `values` in `bins` equal bins over [lo, hi] (the last bin closed).
pub fn histogram(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<usize> {
    let mut out = vec![0usize; bins];
    for &v in values {
        if !v.is_finite() || v < lo || v > hi {
            continue;
        }
        let i = (((v - lo) / (hi - lo)) * bins as f64).floor() as usize;
        out[i.min(bins - 1)] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_lines_make_svg_with_escaped_labels() {
        let svg = bars(
            "acc <b>",
            "accuracy",
            &["<script>alert(1)</script>".into(), "b".into()],
            &[BarSeries {
                name: "v\"&'".into(),
                bars: vec![
                    Some(Bar {
                        value: 0.5,
                        ci: Some((0.4, 0.6)),
                    }),
                    Some(Bar {
                        value: f64::NAN,
                        ci: None,
                    }),
                ],
            }],
            Some((0.0, 1.0)),
        )
        .unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(!svg.contains("v\"&'"));
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("<b>"));
        let l = lines(
            "c",
            "x",
            "y",
            &[("a".into(), vec![(0.1, 0.5), (0.9, 0.1)])],
            (0.0, 1.0),
            (0.0, 1.0),
        )
        .unwrap();
        assert!(l.contains("<polyline") || l.contains("<path"));
        assert_eq!(
            histogram(&[0.0, 0.05, 1.0, 0.55], 0.0, 1.0, 10),
            vec![2, 0, 0, 0, 0, 1, 0, 0, 0, 1]
        );
    }
}
