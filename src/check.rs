//! `coverforge check`: the pre-flight check. It runs metadata, template and layout (and, when
//! the video sits next to the metadata, the keyframe and the composite, but never the encoder)
//! and reports per cover, with file and line, what a designer should look at: text cut by an
//! ellipsis or shrunk below its minimum, missing glyphs, contrast under 4.5:1, layers in a
//! platform safe zone, QR codes with modules under 4 px or a short quiet zone.

use crate::batch::input::VIDEO_EXTENSIONS;
use crate::composite::{self, TARGET_CONTRAST};
use crate::env::Env;
use crate::keyframe;
use crate::layout::doc::{FindingKind, Layer};
use crate::{layout, metadata, pipeline};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One finding, located.
#[derive(Debug, Clone, Serialize)]
pub struct CheckFinding {
    /// The file to fix (the template for layout findings).
    pub file: PathBuf,
    /// 1-based line in the rendered layout (see `coverforge layout --raw`), when known.
    pub line: Option<usize>,
    /// What it is about.
    pub kind: FindingKind,
    /// The layer.
    pub layer: String,
    /// What is wrong.
    pub message: String,
}

/// The check of one metadata file.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The metadata file.
    pub meta: PathBuf,
    /// The video measured for contrast, when one was found beside the metadata.
    pub video: Option<PathBuf>,
    /// Findings.
    pub findings: Vec<CheckFinding>,
    /// Errors that stopped the check (metadata, template, missing glyphs, unreadable video).
    pub errors: Vec<String>,
}

/// The video for `NAME[.variant].yaml`: `NAME.<video extension>` in the same folder.
pub fn video_beside(meta: &Path) -> Option<PathBuf> {
    let stem = meta.file_stem()?.to_str()?;
    let name = stem.split('.').next()?;
    let dir = meta.parent().unwrap_or(Path::new("."));
    VIDEO_EXTENSIONS.iter().map(|ext| dir.join(format!("{name}.{ext}"))).find(|p| p.is_file())
}

/// Checks one metadata file.
pub fn check(meta_path: &Path, template_override: Option<&str>, env: &Env) -> CheckReport {
    let mut report =
        CheckReport { meta: meta_path.to_owned(), video: None, findings: Vec::new(), errors: Vec::new() };
    let meta = match metadata::load(meta_path, &env.limits) {
        Ok(m) => m,
        Err(e) => {
            report.errors.extend(e.0.iter().map(|d| d.to_string()));
            return report;
        }
    };
    let source = match pipeline::find_template(&meta, template_override, env) {
        Ok(s) => s,
        Err(e) => {
            report.errors.push(e.to_string());
            return report;
        }
    };
    let doc = match layout::resolve(&meta, &source, env) {
        Ok(d) => d,
        Err(e) => {
            report.errors.push(e.to_string());
            return report;
        }
    };
    report.findings.extend(doc.findings.iter().map(|f| CheckFinding {
        file: source.path.clone(),
        line: f.line,
        kind: f.kind,
        layer: f.layer.clone(),
        message: f.message.clone(),
    }));
    let Some(video) = video_beside(meta_path) else { return report };
    report.video = Some(video.clone());
    let regions = keyframe::TextRegions::of_layout(&doc, &env.face_model());
    let frame =
        match keyframe::extract_for_layout(&video, meta.frame, &env.limits, regions.as_ref(), env.hwaccel) {
            Ok(f) => f,
            Err(e) => {
                report.errors.push(e.to_string());
                return report;
            }
        };
    match composite::composite_with_report(&frame.frame.image, &doc, env, true) {
        Ok((_, contrasts)) => {
            for c in contrasts.contrast.iter().filter(|c| c.contrast < TARGET_CONTRAST) {
                report.findings.push(CheckFinding {
                    file: source.path.clone(),
                    // The resolved layout keeps no source lines; the layer is named instead.
                    line: None,
                    kind: FindingKind::Contrast,
                    layer: text_layer_label(&doc.layers, c.id.as_deref()),
                    message: format!(
                        "text {} reaches a contrast of {:.2}:1 on this frame (WCAG asks 4.5:1); try `color: auto`, a stronger scrim or a stroke",
                        c.color, c.contrast
                    ),
                });
            }
        }
        Err(e) => report.errors.push(e.to_string()),
    }
    report
}

/// A label for the text layer with `id`, as layout findings name layers.
fn text_layer_label(layers: &[Layer], id: Option<&str>) -> String {
    let index = layers.iter().position(|l| matches!(l, Layer::Text(t) if t.id.as_deref() == id));
    match (index, id) {
        (Some(i), Some(id)) => format!("layer {} (`{id}`)", i + 1),
        (Some(i), None) => format!("layer {}", i + 1),
        _ => "text layer".into(),
    }
}
