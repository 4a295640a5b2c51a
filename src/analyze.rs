//! `coverforge analyze`: measures of covers, for learning what wins. Every cover gets what its
//! pixels tell (aspect ratio, brightness, HSL saturation, colourfulness, clutter, dominant
//! colours, faces); a cover whose layout is known (given with its batch report, or rendered here
//! from its metadata) also gets what only the layout knows exactly: text coverage from the text
//! boxes, the title's contrast, the QR code's size and safe-zone conflicts. For a bare image
//! those fields are absent, not guessed.

use crate::env::Env;
use crate::layout::doc::{FindingKind, Layer, LayoutDoc};
use crate::pixels::{dominant_colours, image_stats, Image, ImageStats};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The measures of one cover.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Measures {
    /// The cover file.
    pub file: PathBuf,
    /// Width and height.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Width / height.
    pub aspect_ratio: f64,
    /// Colour and structure statistics.
    #[serde(flatten)]
    pub stats: ImageStats,
    /// The three commonest colours and their shares.
    pub dominant_colours: Vec<(String, f64)>,
    /// Faces found.
    pub faces: usize,
    /// Share of the cover the faces cover.
    pub face_area: f64,
    /// Where the faces are, in the cover's pixels, most confident first (JSON only).
    #[serde(default)]
    pub face_boxes: Vec<crate::model::Rect>,
    /// Share of the cover under text boxes (union), from the layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_coverage: Option<f64>,
    /// The title's (first text layer's) WCAG contrast reached on the frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_contrast: Option<f64>,
    /// The QR code's side in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_side: Option<u32>,
    /// Layers left in a platform safe zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safe_zone_conflicts: Option<usize>,
}

/// What the layout adds to the measures.
pub struct LayoutFacts<'a> {
    /// The resolved layout.
    pub doc: &'a LayoutDoc,
    /// The title's contrast, when it was measured on the frame.
    pub title_contrast: Option<f64>,
}

/// The share of the canvas under the union of the layout's text boxes (exact, on the pixel grid).
pub fn text_coverage(doc: &LayoutDoc) -> f64 {
    let (w, h) = (doc.canvas.width as usize, doc.canvas.height as usize);
    if w == 0 || h == 0 {
        return 0.0;
    }
    let mut covered = vec![false; w * h];
    for layer in &doc.layers {
        let Layer::Text(t) = layer else { continue };
        if t.lines.is_empty() {
            continue;
        }
        let Some(r) = t.bbox.clip_to(doc.canvas.width, doc.canvas.height) else { continue };
        for y in r.y as usize..r.y as usize + r.height as usize {
            covered[y * w + r.x as usize..y * w + r.x as usize + r.width as usize].fill(true);
        }
    }
    covered.iter().filter(|c| **c).count() as f64 / (w * h) as f64
}

/// Measures the cover at `path`, with what its layout knows when given.
///
/// # Errors
/// When the image cannot be read, or OpenCV fails.
pub fn measure(path: &Path, layout: Option<LayoutFacts<'_>>, env: &Env) -> Result<Measures, String> {
    let img = Image::load(path).map_err(|e| format!("{}: {}", path.display(), e.message))?;
    measure_image(&img, path, layout, env)
}

/// Measures a cover already in memory (batch's canvas); `path` names it in the result.
///
/// # Errors
/// When OpenCV fails.
pub fn measure_image(
    img: &Image,
    path: &Path,
    layout: Option<LayoutFacts<'_>>,
    env: &Env,
) -> Result<Measures, String> {
    let stats = image_stats(img).map_err(|e| format!("{}: {}", path.display(), e.message))?;
    let faces = img.detect_faces(&env.face_model()).unwrap_or_default();
    let area = (img.width() as f64 * img.height() as f64).max(1.0);
    // (`+ 0.0` turns a negative zero into a zero for printing.)
    let face_area = (faces.iter().map(|f| f.area() as f64).sum::<f64>() / area).max(0.0) + 0.0;
    let mut m = Measures {
        file: path.to_owned(),
        width: img.width(),
        height: img.height(),
        aspect_ratio: img.width() as f64 / img.height().max(1) as f64,
        stats,
        dominant_colours: dominant_colours(img, 3),
        faces: faces.len(),
        face_area,
        face_boxes: faces,
        text_coverage: None,
        title_contrast: None,
        qr_side: None,
        safe_zone_conflicts: None,
    };
    if let Some(facts) = layout {
        m.text_coverage = Some(text_coverage(facts.doc));
        m.title_contrast = facts.title_contrast;
        m.qr_side = facts.doc.layers.iter().find_map(|l| match l {
            Layer::Qr(q) => Some(q.bbox.width),
            _ => None,
        });
        m.safe_zone_conflicts =
            Some(facts.doc.findings.iter().filter(|f| matches!(f.kind, FindingKind::SafeZone)).count());
    }
    Ok(m)
}

/// A cover listed in a batch report, with its measures.
#[derive(Debug, Clone)]
pub struct ReportCover {
    /// The video, as the report names it.
    pub video: PathBuf,
    /// The A/B variant, if any.
    pub variant: Option<String>,
    /// The cover file.
    pub output: PathBuf,
    /// Its measures: from the report when batch ran with `--measures`, measured here otherwise
    /// (with the layout, rendered again from the metadata the report names).
    pub measures: Measures,
}

/// The covers of a batch report (`ok` and `skipped` lines), measured.
///
/// # Errors
/// When the report cannot be read, or a cover cannot be measured (the message names it).
pub fn measure_report(path: &Path, env: &Env) -> Result<Vec<ReportCover>, String> {
    let text = crate::files::read_text_bounded(path, 256 << 20, "report").map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if !matches!(v["status"].as_str(), Some("ok" | "skipped")) {
            continue;
        }
        let Some(output) = v["output"].as_str() else { continue };
        let variant = v["variant"].as_str().map(str::to_string);
        let mut measures = match serde_json::from_value::<Measures>(v["measures"].clone()) {
            Ok(m) => m,
            Err(_) => {
                let docs = v["meta"]
                    .as_str()
                    .and_then(|m| crate::pipeline::layouts_for(Path::new(m), None, env).ok());
                let doc =
                    docs.as_ref().and_then(|d| d.iter().find(|(m, _)| m.variant == variant)).map(|(_, d)| d);
                let title_contrast = v["contrast"].get(0).and_then(|c| c["contrast"].as_f64());
                measure(Path::new(output), doc.map(|doc| LayoutFacts { doc, title_contrast }), env)?
            }
        };
        measures.file = PathBuf::from(output);
        out.push(ReportCover {
            video: PathBuf::from(v["input"].as_str().or(v["video"].as_str()).unwrap_or_default()),
            variant,
            output: PathBuf::from(output),
            measures,
        });
    }
    Ok(out)
}

/// The numeric measures a model of CTR can learn from, by the names the CSV and JSON use.
pub const FEATURES: &[&str] = &[
    "aspect_ratio",
    "brightness",
    "saturation_mean",
    "saturation_spread",
    "colourfulness",
    "edge_density",
    "faces",
    "face_area",
    "text_coverage",
    "title_contrast",
    "qr_side",
    "safe_zone_conflicts",
];

/// The cover's values of [`FEATURES`], in that order (`None` where the layout is unknown).
pub fn features(m: &Measures) -> Vec<Option<f64>> {
    vec![
        Some(m.aspect_ratio),
        Some(m.stats.brightness),
        Some(m.stats.saturation_mean),
        Some(m.stats.saturation_spread),
        Some(m.stats.colourfulness),
        Some(m.stats.edge_density),
        Some(m.faces as f64),
        Some(m.face_area),
        m.text_coverage,
        m.title_contrast,
        m.qr_side.map(f64::from),
        m.safe_zone_conflicts.map(|n| n as f64),
    ]
}

/// The CSV header of [`to_csv_row`].
pub const CSV_HEADER: &str = "file,width,height,aspect_ratio,brightness,saturation_mean,saturation_spread,colourfulness,edge_density,faces,face_area,text_coverage,title_contrast,qr_side,safe_zone_conflicts,dominant_colours";

/// One CSV row (absent layout fields empty).
pub fn to_csv_row(m: &Measures) -> String {
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let colours: Vec<String> = m.dominant_colours.iter().map(|(c, s)| format!("{c}:{s:.3}")).collect();
    format!(
        "{},{},{},{:.4},{:.2},{:.2},{:.2},{:.2},{:.4},{},{:.4},{},{},{},{},{}",
        m.file.display(),
        m.width,
        m.height,
        m.aspect_ratio,
        m.stats.brightness,
        m.stats.saturation_mean,
        m.stats.saturation_spread,
        m.stats.colourfulness,
        m.stats.edge_density,
        m.faces,
        m.face_area,
        opt(m.text_coverage),
        opt(m.title_contrast),
        m.qr_side.map(|q| q.to_string()).unwrap_or_default(),
        m.safe_zone_conflicts.map(|q| q.to_string()).unwrap_or_default(),
        colours.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::Rgba;

    fn env() -> Env {
        Env::new(Path::new(env!("CARGO_MANIFEST_DIR")), Default::default())
    }

    #[test]
    fn a_flat_grey_frame_and_a_saturated_card_measure_as_expected() {
        let dir = tempfile::tempdir().unwrap();
        let grey = dir.path().join("grey.png");
        std::fs::write(&grey, Image::filled(320, 180, Rgba::rgb(128, 128, 128)).encode_png().unwrap())
            .unwrap();
        let m = measure(&grey, None, &env()).unwrap();
        assert!((m.stats.brightness - 128.0).abs() < 0.5, "{m:?}");
        assert!(
            m.stats.saturation_mean < 0.01 && m.stats.colourfulness < 0.01 && m.stats.edge_density == 0.0
        );
        assert!((m.aspect_ratio - 16.0 / 9.0).abs() < 1e-9);
        assert!(m.text_coverage.is_none(), "no layout, no guess");

        // Four pure colour bars: fully saturated, very colourful, edges only between bars.
        let mut card = Image::filled(400, 100, Rgba::rgb(255, 0, 0));
        card.fill_rect(crate::model::Rect::new(100, 0, 100, 100), Rgba::rgb(0, 255, 0));
        card.fill_rect(crate::model::Rect::new(200, 0, 100, 100), Rgba::rgb(0, 0, 255));
        card.fill_rect(crate::model::Rect::new(300, 0, 100, 100), Rgba::rgb(255, 255, 0));
        let path = dir.path().join("card.png");
        std::fs::write(&path, card.encode_png().unwrap()).unwrap();
        let m = measure(&path, None, &env()).unwrap();
        assert!((m.stats.saturation_mean - 100.0).abs() < 0.5, "{m:?}");
        assert!(m.stats.colourfulness > 100.0, "{m:?}");
        assert!(m.stats.edge_density > 0.0 && m.stats.edge_density < 0.05, "{m:?}");
        assert_eq!(m.dominant_colours.len(), 3);
        assert!(m.dominant_colours.iter().all(|(_, s)| (s - 0.25).abs() < 0.02), "{:?}", m.dominant_colours);
    }
}
