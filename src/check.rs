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

/// The check of one metadata file (one A/B variant of it, when it has `variants:`).
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The metadata file.
    pub meta: PathBuf,
    /// The variant, when the file has `variants:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The video measured for contrast, when one was found beside the metadata.
    pub video: Option<PathBuf>,
    /// Findings.
    pub findings: Vec<CheckFinding>,
    /// Errors that stopped the check (metadata, template, missing glyphs, unreadable video).
    pub errors: Vec<String>,
    /// Warnings that do not change the exit code: variants too alike to tell apart.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Advice from published cover guidance (text coverage, saturation, aspect ratio), measured
    /// on the composite; it never changes the exit code.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advice: Vec<String>,
}

/// Text over more of the cover than this costs clicks, by the guidance coverforge started from.
pub const ADVISED_TEXT_COVERAGE: f64 = 0.08;
/// HSL saturation (percent) that did best by the same guidance.
pub const ADVISED_SATURATION: (f64, f64) = (65.0, 82.0);

/// Advice for a composed cover (see [`CheckReport::advice`]).
fn advice(cover: &crate::pixels::Image, doc: &crate::layout::doc::LayoutDoc) -> Vec<String> {
    let mut out = Vec::new();
    let coverage = crate::analyze::text_coverage(doc);
    if coverage > ADVISED_TEXT_COVERAGE {
        out.push(format!(
            "text covers {:.1} % of the cover; covers with text over {:.0} % drew fewer clicks in the guidance",
            coverage * 100.0,
            ADVISED_TEXT_COVERAGE * 100.0
        ));
    }
    if let Ok(stats) = crate::pixels::image_stats(cover) {
        let (lo, hi) = ADVISED_SATURATION;
        if !(lo..=hi).contains(&stats.saturation_mean) {
            out.push(format!(
                "mean saturation is {:.0} %; {lo:.0}–{hi:.0} % did best in the guidance",
                stats.saturation_mean
            ));
        }
    }
    let platform_ratio =
        doc.safe_zones.first().map(|z| z.name.split(':').next().unwrap_or("")).and_then(|p| match p {
            "douyin" | "tiktok" | "youtube-shorts" => Some(9.0 / 16.0),
            "bilibili" => Some(16.0 / 9.0),
            _ => None,
        });
    let ratio = doc.canvas.width as f64 / doc.canvas.height.max(1) as f64;
    if let Some(want) = platform_ratio {
        if (ratio - want).abs() > 0.01 {
            out.push(format!("aspect ratio {ratio:.3} is not the platform's {want:.3}"));
        }
    }
    out
}

/// Two variants whose covers differ in less than this share of their area (see
/// [`crate::pixels::differing_share`]) are near duplicates: an A/B test cannot tell them apart.
/// A one-character subtitle change stays well under it; another title, or the same title over
/// another frame, is far over it (`tests/variants.rs` measures both).
pub const NEAR_DUPLICATE_SHARE: f64 = 0.005;

pub use crate::model::media::video_beside;

/// Checks one metadata file: the job `render` would run for it, up to the composite; one report
/// per A/B variant, with a warning on variants whose covers are near duplicates.
pub fn check(
    meta_path: &Path,
    template_override: Option<&str>,
    opts: &RenderOptions,
    env: &Env,
) -> Vec<CheckReport> {
    let video = video_beside(meta_path);
    let job = Job {
        video: video.clone().unwrap_or_default(),
        meta: MetaSource::File(meta_path.to_owned()),
        defaults: None,
        template: template_override.map(str::to_owned),
        // Never written: check stops before the encoder.
        output: PathBuf::from("check.png"),
        kind: OutputKind::Still { quality: 90 },
        variant: None,
    };
    let ids = match pipeline::variant_ids(&job, env) {
        Ok(ids) => ids,
        Err(e) => {
            let mut report = CheckReport::new(meta_path, None);
            report.add_error(&e, meta_path);
            return vec![report];
        }
    };
    if ids.is_empty() {
        return vec![check_one(&job, video.as_deref(), opts, env).0];
    }
    let mut checked: Vec<(CheckReport, Option<Cover>)> = ids
        .into_iter()
        .map(|id| check_one(&Job { variant: Some(id), ..job.clone() }, video.as_deref(), opts, env))
        .collect();
    for j in 1..checked.len() {
        for i in 0..j {
            let (Some((a, qa)), Some((b, qb))) = (&checked[i].1, &checked[j].1) else { continue };
            // QR codes differ between variants by design (their tracking): left out.
            let qr: Vec<_> = qa.iter().chain(qb).copied().collect();
            let share = crate::pixels::differing_share(a, b, &qr);
            if share < NEAR_DUPLICATE_SHARE {
                let other = checked[i].0.variant.clone().unwrap_or_default();
                checked[j].0.warnings.push(format!(
                    "near duplicate of variant `{other}`: the covers differ in {:.2} % of their area (under {:.1} %); an A/B test cannot tell them apart",
                    share * 100.0,
                    NEAR_DUPLICATE_SHARE * 100.0
                ));
            }
        }
    }
    checked.into_iter().map(|(r, _)| r).collect()
}

impl CheckReport {
    fn new(meta: &Path, variant: Option<String>) -> Self {
        CheckReport {
            meta: meta.to_owned(),
            variant,
            video: None,
            findings: vec![],
            errors: vec![],
            warnings: vec![],
            advice: vec![],
        }
    }

    /// Problems of the metadata file are listed one by one; a template's as one line.
    fn add_error(&mut self, e: &Error, meta_path: &Path) {
        match e {
            Error::Layout(LayoutError::Diagnostics(d)) if d.0.iter().all(|d| d.file == meta_path) => {
                self.errors.extend(d.0.iter().map(|d| d.to_string()))
            }
            e => self.errors.push(e.to_string()),
        }
    }
}

/// A checked cover and its QR code boxes (left out when comparing variants).
type Cover = (crate::pixels::Image, Vec<crate::model::Rect>);

/// One job's check, and its cover when there was a video to composite on.
fn check_one(
    job: &Job,
    video: Option<&Path>,
    opts: &RenderOptions,
    env: &Env,
) -> (CheckReport, Option<Cover>) {
    let meta_path = match &job.meta {
        MetaSource::File(p) => p.as_path(),
        _ => Path::new(""),
    };
    let mut report = CheckReport::new(meta_path, job.variant.clone());
    let prepared = match pipeline::prepare(job, env) {
        Ok(p) => p,
        Err(e) => {
            report.add_error(&e, meta_path);
            return (report, None);
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
    let Some(video) = video else { return (report, None) };
    report.video = Some(video.to_owned());
    match pipeline::inspect(video, &prepared, opts, env) {
        Ok((cover, measured)) => {
            report.advice = advice(&cover, doc);
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
            for (id, placed) in &measured.text_boxes {
                let label = text_layer_label(&doc.layers, Some(id.as_str()));
                if measured.faces.iter().any(|f| f.overlaps(placed)) {
                    report.findings.push(CheckFinding {
                        file: prepared.template_path.clone(),
                        line: None,
                        kind: FindingKind::Face,
                        layer: label,
                        message: "text covers a face in this frame and no placement of it is clear; add `alternatives:` elsewhere or pick another frame".into(),
                    });
                } else if measured.moved_off_faces.contains(id) {
                    report.advice.push(format!(
                        "{label} moved to an alternative placement: a face is where it goes in this frame"
                    ));
                }
            }
            let qr = doc.layers.iter().filter(|l| matches!(l, Layer::Qr(_))).map(Layer::bbox).collect();
            (report, Some((cover, qr)))
        }
        Err(e) => {
            report.errors.push(e.to_string());
            (report, None)
        }
    }
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
