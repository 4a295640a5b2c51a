//! The A/B report: one self-contained HTML page. Per video, one SVG figure drawn with `plotters`
//! (left: each variant's CTR as a mark with its 95 % interval; right: the posterior of each
//! variant's CTR), the verdict naming the winner, a table beside the covers, and watch time when
//! the results have it. Across videos, one SVG of CTR against each cover measure and the table
//! of effects. No scripts, no external files: covers are embedded as small JPEGs.

use super::effects::Effect;
use super::VideoResult;
use crate::model::html::escape;
use crate::stats::beta_pdf;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Thumbnail height in the report.
const THUMB_HEIGHT: u32 = 200;

/// Colours of the variants, in order (the winner keeps its own).
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];
const WINNER: RGBColor = RGBColor(44, 160, 44);

/// A cover's embedded thumbnail (`data:` URI), or `None` when the file cannot be read.
pub fn thumbnail(path: &Path) -> Option<String> {
    use base64::Engine;
    let img = crate::pixels::Image::load(path).ok()?;
    let h = THUMB_HEIGHT.min(img.height());
    let w = ((img.width() as u64 * h as u64) / img.height().max(1) as u64).max(1) as u32;
    let small = img.crop_resized(img.bounds(), w, h).ok()?;
    let bytes = crate::encode::jpeg(&small, 80).ok()?;
    Some(format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

fn colour(v: &VideoResult, i: usize) -> RGBColor {
    if v.winner.as_deref() == Some(v.variants[i].variant.as_str()) {
        WINNER
    } else {
        PALETTE[i % PALETTE.len()]
    }
}

type PlotResult<T> = Result<T, Box<dyn std::error::Error>>;

/// One video's figure: intervals (a mark per variant) and posteriors, as SVG.
fn video_svg(v: &VideoResult) -> PlotResult<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 60 + 34 * v.variants.len().max(3) as u32))
            .into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(380);
        let lo = v.variants.iter().map(|x| x.interval.0).fold(f64::INFINITY, f64::min);
        let hi = v.variants.iter().map(|x| x.interval.1).fold(0.0, f64::max);
        let pad = ((hi - lo) * 0.15).max(1e-4);
        let (x0, x1) = ((lo - pad).max(0.0) * 100.0, (hi + pad).min(1.0) * 100.0);
        let k = v.variants.len();
        let names: Vec<String> = v.variants.iter().map(|x| x.variant.clone()).collect();

        let mut chart = ChartBuilder::on(&left)
            .caption("CTR with 95 % interval", ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, -0.5..(k as f64 - 0.5))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(k)
            .y_label_formatter(&|y| {
                let i = y.round();
                if (y - i).abs() < 0.01 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("CTR %")
            .x_label_formatter(&|x| format!("{x:.2}"))
            .draw()?;
        for (i, r) in v.variants.iter().enumerate() {
            let y = i as f64;
            let c = colour(v, i);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(r.interval.0 * 100.0, y), (r.interval.1 * 100.0, y)],
                c.stroke_width(3),
            )))?;
            // The variant's mark: exactly one per variant in the figure.
            chart.draw_series(std::iter::once(Circle::new((r.ctr * 100.0, y), 6, c.filled())))?;
        }

        let curves: Vec<Vec<(f64, f64)>> = v
            .variants
            .iter()
            .map(|r| {
                let (a, b) = (1.0 + r.clicks as f64, 1.0 + (r.impressions - r.clicks) as f64);
                (0..=200)
                    .map(|s| {
                        let x = x0 + (x1 - x0) * s as f64 / 200.0;
                        (x, beta_pdf(x / 100.0, a, b) / 100.0)
                    })
                    .collect()
            })
            .collect();
        let top = curves.iter().flatten().map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.1;
        let mut chart = ChartBuilder::on(&right)
            .caption("Posterior of the CTR", ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(40)
            .build_cartesian_2d(x0..x1, 0.0..top)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("CTR %")
            .x_label_formatter(&|x| format!("{x:.2}"))
            .draw()?;
        for (i, curve) in curves.into_iter().enumerate() {
            let c = colour(v, i);
            chart
                .draw_series(LineSeries::new(curve, c.stroke_width(2)))?
                .label(v.variants[i].variant.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// CTR against each measure, one panel per measure, in one SVG.
fn measures_svg(effects: &[Effect]) -> PlotResult<String> {
    let shown: Vec<&Effect> = effects.iter().filter(|e| e.points.len() >= 2).collect();
    let mut svg = String::new();
    if shown.is_empty() {
        return Ok(svg);
    }
    let cols = 3usize;
    let rows = shown.len().div_ceil(cols);
    {
        let root = SVGBackend::with_string(&mut svg, (900, 220 * rows as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let panels = root.split_evenly((rows, cols));
        for (panel, e) in panels.iter().zip(&shown) {
            let (xmin, xmax) =
                e.points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |m, p| (m.0.min(p.0), m.1.max(p.0)));
            let ymax = e.points.iter().map(|p| p.1 * 100.0).fold(0.0, f64::max) * 1.1;
            let pad = ((xmax - xmin) * 0.05).max(1e-6);
            let mut chart = ChartBuilder::on(panel)
                .caption(&e.feature, ("sans-serif", 13))
                .margin(6)
                .x_label_area_size(22)
                .y_label_area_size(40)
                .build_cartesian_2d((xmin - pad)..(xmax + pad), 0.0..ymax.max(1e-6))?;
            chart.configure_mesh().x_labels(4).y_labels(4).y_desc("CTR %").draw()?;
            chart.draw_series(
                e.points.iter().map(|p| Circle::new((p.0, p.1 * 100.0), 3, PALETTE[0].filled())),
            )?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// What the page shows beside the numbers.
#[derive(Default)]
pub struct Extras {
    /// Thumbnails by (video, variant).
    pub covers: BTreeMap<(String, String), String>,
    /// Effects of the measures across videos (empty without covers).
    pub effects: Vec<Effect>,
}

fn pct(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

/// The verdict in words.
pub fn verdict_sentence(v: &VideoResult) -> String {
    match (v.verdict.as_str(), &v.winner) {
        ("winner", Some(w)) => format!("Winner: {w}"),
        ("no difference", _) => "No difference: whichever variant is kept costs under 1 % of the CTR".into(),
        _ if v.note.is_some() => format!("Keep testing: {}", v.note.as_deref().unwrap_or_default()),
        _ => match v.more_impressions_per_variant {
            Some(n) => format!(
                "Keep testing: about {n} more impressions per variant would settle it at the current rates"
            ),
            None => "Keep testing: at the current rates no reasonable test tells these variants apart".into(),
        },
    }
}

/// The page.
///
/// # Errors
/// When a plot cannot be drawn.
pub fn html(results: &Path, videos: &[VideoResult], extras: &Extras) -> PlotResult<String> {
    let mut h = String::new();
    write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>A/B results — {}</title>\n<style>\
         body{{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}}\
         section.video{{border-top:1px solid #ccc;padding-top:12px;margin-top:20px}}\
         .verdict{{font-size:18px;font-weight:600}} .winner{{color:#2c8f2c}} .keep{{color:#b26b00}}\
         table{{border-collapse:collapse;margin:8px 0}} td,th{{padding:4px 10px;text-align:right;border-bottom:1px solid #eee}}\
         td:first-child,th:first-child{{text-align:left}} .covers{{display:flex;gap:10px;flex-wrap:wrap}}\
         figure{{margin:0}} figure img{{height:{THUMB_HEIGHT}px;border:3px solid #ddd;border-radius:4px}}\
         figure.won img{{border-color:#2c8f2c}} .note{{color:#666}}\
         </style></head><body>\n<h1>A/B results</h1>\n<p class=\"note\">From {}. Each variant's CTR has a Beta posterior (flat prior); \
         a winner is best with probability ≥ {:.0} % and its expected loss is under {:.0} % of its CTR.</p>\n",
        escape(&results.display().to_string()),
        escape(&results.display().to_string()),
        super::WIN_PROBABILITY * 100.0,
        super::LOSS_TOLERANCE * 100.0,
    )?;
    for v in videos {
        let class = match v.verdict.as_str() {
            "winner" => "winner",
            "keep testing" => "keep",
            _ => "same",
        };
        write!(
            h,
            "<section class=\"video\" data-video=\"{}\" data-verdict=\"{}\" data-winner=\"{}\">\n<h2>{}</h2>\n<p class=\"verdict {class}\">{}</p>\n",
            escape(&v.video),
            escape(&v.verdict),
            escape(v.winner.as_deref().unwrap_or("")),
            escape(&v.video),
            escape(&verdict_sentence(v)),
        )?;
        let figure = video_svg(v)?;
        write!(h, "<div class=\"plot\">{figure}</div>\n<div class=\"covers\">")?;
        for r in &v.variants {
            if let Some(uri) = extras.covers.get(&(v.video.clone(), r.variant.clone())) {
                let won = if v.winner.as_deref() == Some(r.variant.as_str()) { " class=\"won\"" } else { "" };
                write!(
                    h,
                    "<figure{won}><img alt=\"{0}\" src=\"{uri}\"><figcaption>{0}</figcaption></figure>",
                    escape(&r.variant)
                )?;
            }
        }
        h.push_str("</div>\n<table><tr><th>variant</th><th>impressions</th><th>clicks</th><th>CTR</th><th>95 % interval</th><th>P(best)</th><th>expected loss</th></tr>\n");
        for r in &v.variants {
            writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td><td>{:.1} %</td><td>{:.4} %</td></tr>",
                escape(&r.variant),
                r.impressions,
                r.clicks,
                pct(r.ctr),
                pct(r.interval.0),
                pct(r.interval.1),
                r.probability_best * 100.0,
                r.expected_loss * 100.0
            )?;
        }
        h.push_str("</table>\n");
        if let Some(w) = &v.watch {
            h.push_str("<h3>Watch time (bootstrap over the file's rows)</h3>\n<table><tr><th>variant</th><th>mean s per view</th><th>95 % interval</th><th>P(longest)</th><th>rows</th></tr>\n");
            for r in &w.variants {
                let interval = r.interval.map_or("—".into(), |(a, b)| format!("{a:.1} – {b:.1}"));
                let longest = r.probability_longest.map_or("—".into(), |p| format!("{:.1} %", p * 100.0));
                writeln!(
                    h,
                    "<tr><td>{}</td><td>{:.1}</td><td>{interval}</td><td>{longest}</td><td>{}</td></tr>",
                    escape(&r.variant),
                    r.mean_seconds,
                    r.rows
                )?;
            }
            h.push_str("</table>\n");
            match (&w.longest, &w.note) {
                (Some(l), _) => writeln!(h, "<p>Holds viewers longest: {}</p>", escape(l))?,
                (None, Some(n)) => writeln!(h, "<p class=\"note\">{}</p>", escape(n))?,
                (None, None) => {
                    h.push_str("<p class=\"note\">No variant holds viewers clearly longer.</p>\n")
                }
            }
        }
        h.push_str("</section>\n");
    }
    if !extras.effects.is_empty() {
        h.push_str("<section id=\"measures\"><h2>What went with higher CTR, across videos</h2>\n<p class=\"note\">Within each video the variants differ only in their cover; effects are per one within-video standard deviation of the measure, with 95 % intervals from a bootstrap over videos.</p>\n");
        let plot = measures_svg(&extras.effects)?;
        if !plot.is_empty() {
            writeln!(h, "<div class=\"plot\">{plot}</div>")?;
        }
        h.push_str("<table><tr><th>measure</th><th>videos</th><th>variants</th><th>effect per step</th><th>95 % interval</th><th>reading</th></tr>\n");
        for e in &extras.effects {
            let effect = e.effect.map_or("—".into(), |x| format!("{:+.1} %", x * 100.0));
            let interval = e
                .interval
                .map_or("—".into(), |(a, b)| format!("{:+.1} % – {:+.1} %", a * 100.0, b * 100.0));
            writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{effect}</td><td>{interval}</td><td style=\"text-align:left\">{}</td></tr>",
                escape(&e.feature),
                e.videos,
                e.variants,
                escape(&e.reading)
            )?;
        }
        h.push_str("</table></section>\n");
    }
    h.push_str("</body></html>\n");
    Ok(h)
}
