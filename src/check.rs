//! `coverforge check`: the pre-flight check. It runs metadata, template and layout (and, when
//! the video sits next to the metadata, the keyframe and the composite, but never the encoder)
//! and reports per cover, with file and line, what a designer should look at: text cut by an
//! ellipsis or shrunk below its minimum, missing glyphs, contrast under 4.5:1, layers in a
//! platform safe zone, QR codes with modules under 4 px or a short quiet zone.

use crate::composite::TARGET_CONTRAST;
use crate::env::Env;
use crate::error::Error;
use crate::layout::{doc::FindingKind, doc::Layer, LayoutError};
use crate::metadata::MetaSource;
use crate::pipeline::{self, Job, OutputKind, RenderOptions};
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

pub use crate::model::media::video_beside;

/// Checks one metadata file: the job `render` would run for it, up to the composite.
pub fn check(
    meta_path: &Path,
    template_override: Option<&str>,
    opts: &RenderOptions,
    env: &Env,
) -> CheckReport {
    let mut report =
        CheckReport { meta: meta_path.to_owned(), video: None, findings: Vec::new(), errors: Vec::new() };
    let video = video_beside(meta_path);
    let job = Job {
        video: video.clone().unwrap_or_default(),
        meta: MetaSource::File(meta_path.to_owned()),
        defaults: None,
        template: template_override.map(str::to_owned),
        // Never written: check stops before the encoder.
        output: PathBuf::from("check.png"),
        kind: OutputKind::Still { quality: 90 },
    };
    let prepared = match pipeline::prepare(&job, env) {
        Ok(p) => p,
        // Problems of the metadata file are listed one by one; a template's as one line.
        Err(Error::Layout(LayoutError::Diagnostics(d))) if d.0.iter().all(|d| d.file == meta_path) => {
            report.errors.extend(d.0.iter().map(|d| d.to_string()));
            return report;
        }
        Err(e) => {
            report.errors.push(e.to_string());
            return report;
        }
    };
    let doc = &prepared.doc;
    report.findings.extend(doc.findings.iter().map(|f| CheckFinding {
        file: prepared.template_path.clone(),
        line: f.line,
        kind: f.kind,
        layer: f.layer.clone(),
        message: f.message.clone(),
    }));
    let Some(video) = video else { return report };
    report.video = Some(video.clone());
    match pipeline::inspect(&video, &prepared, opts, env) {
        Ok(measured) => {
            for c in measured.contrast.iter().filter(|c| c.contrast < TARGET_CONTRAST) {
                report.findings.push(CheckFinding {
                    file: prepared.template_path.clone(),
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
