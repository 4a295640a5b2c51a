//! Turns a batch INPUT (a folder of videos with sidecars, or a YAML/CSV manifest) into a list of
//! jobs. Only paths and small metadata texts are held; nothing is decoded here.
//!
//! Folder: every `NAME.yaml` (except `defaults.yaml`) pairs with the video `NAME.<ext>` beside
//! it; a video without a sidecar, or a sidecar without a video, becomes a failed job with a clear
//! error instead of being silently skipped. `defaults.yaml` supplies values every sidecar may
//! override. Manifest (YAML): `{defaults: {...}, jobs: [{video, meta | inline keys, output}]}`.
//! Manifest (CSV): columns `video`, `output`, `meta` (a path) and/or metadata columns (`title`,
//! `subtitle`, `author`, `template`, `watermark`, `frame`, `link`, `utm_source`, `utm_medium`,
//! `utm_campaign`, `utm_term`, `utm_content`, `vars.NAME`). Paths are relative to the manifest.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::BatchError;
use crate::files::ReadError;
use crate::limits::Limits;
use crate::metadata::MetaSource;
use crate::model::media::video_stem_for;
use crate::model::VIDEO_EXTENSIONS;

/// One cover to make.
#[derive(Debug, Clone)]
pub struct BatchJob {
    /// The video.
    pub video: PathBuf,
    /// Its metadata.
    pub meta: MetaSource,
    /// The cover file to write.
    pub output: PathBuf,
    /// The A/B variant, for metadata with `variants:` (see [`expand_variants`]).
    pub variant: Option<String>,
}

/// The jobs and the defaults they share.
#[derive(Debug, Default)]
pub struct BatchInput {
    /// Jobs in a stable order (sorted by name in folder mode, manifest order otherwise).
    pub jobs: Vec<BatchJob>,
    /// `defaults.yaml` (or the manifest's `defaults:`), with the file it came from.
    pub defaults: Option<(PathBuf, serde_yaml_ng::Mapping)>,
}

/// Reads INPUT.
///
/// # Errors
/// A message naming INPUT when it is missing or unreadable, or a manifest is malformed: these
/// are usage errors (exit code 2). Problems with single jobs become failed jobs instead.
pub fn discover(
    input: &Path,
    outdir: &Path,
    ext: &str,
    limits: &Limits,
    allow_outside_output: bool,
) -> Result<BatchInput, BatchError> {
    let meta = std::fs::metadata(input).map_err(|source| io(input, "cannot read", source))?;
    let mut batch = if meta.is_dir() {
        folder(input, outdir, ext, limits)?
    } else {
        match input.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => csv_manifest(input, outdir, ext, limits)?,
            Some("yaml" | "yml") => yaml_manifest(input, outdir, ext, limits)?,
            _ => {
                return Err(BatchError::Usage(format!(
                    "{}: INPUT must be a folder or a .yaml/.csv manifest",
                    input.display()
                )))
            }
        }
    };
    // Two jobs writing one file would race; the later ones fail.
    let mut seen: HashMap<PathBuf, usize> = HashMap::new();
    for (i, job) in batch.jobs.iter_mut().enumerate() {
        if !allow_outside_output && escapes(outdir, &job.output) {
            job.meta = MetaSource::Invalid(format!(
                "output {} is outside the output folder {} (pass --allow-outside-output to allow it)",
                job.output.display(),
                outdir.display()
            ));
            continue;
        }
        if let Some(first) = seen.get(&job.output) {
            job.meta = MetaSource::Invalid(format!(
                "output {} is also written by job {} ({})",
                job.output.display(),
                first + 1,
                job.video.display()
            ));
        } else {
            seen.insert(job.output.clone(), i);
        }
    }
    Ok(batch)
}

/// A manifest's (or `defaults.yaml`'s) text, read within `limit` bytes.
fn read_text(path: &Path, limit: u64, what: &'static str) -> Result<String, BatchError> {
    crate::files::read_text_bounded(path, limit, what).map_err(|e| match e {
        ReadError::Io { path, source, .. } => BatchError::Io { path, what: "cannot read", source },
        other if other.is_limit() => BatchError::Limit(other.to_string()),
        other => BatchError::Usage(other.to_string()),
    })
}

/// Expands every job whose metadata has `variants:` into one job per variant, writing
/// `NAME.<id>.ext`; jobs whose metadata cannot be read stay as they are (the job reports why).
pub fn expand_variants(batch: BatchInput, limits: &Limits) -> BatchInput {
    let defaults = batch.defaults.as_ref().map(|(_, m)| m);
    let has_variants = defaults.is_some_and(|d| d.contains_key("variants"));
    // Manifests name the same sidecar for many jobs: read each once.
    let mut known: HashMap<PathBuf, Vec<String>> = HashMap::new();
    let mut jobs = Vec::with_capacity(batch.jobs.len());
    for job in batch.jobs {
        let ids_of = |job: &BatchJob| -> Vec<String> {
            match crate::metadata::load_variants(&job.meta, &job.video, defaults, limits) {
                Ok(all) => all.into_iter().filter_map(|m| m.variant).collect(),
                Err(_) => Vec::new(),
            }
        };
        let ids: Vec<String> = match &job.meta {
            MetaSource::File(path) => {
                if let Some(ids) = known.get(path) {
                    ids.clone()
                } else {
                    // Most files have no `variants:`; only those are parsed here.
                    let text = crate::files::read_bounded(path, limits.max_metadata_bytes, "metadata file")
                        .unwrap_or_default();
                    let ids = if has_variants || text.windows(9).any(|w| w == b"variants:") {
                        ids_of(&job)
                    } else {
                        Vec::new()
                    };
                    known.insert(path.clone(), ids.clone());
                    ids
                }
            }
            _ => ids_of(&job),
        };
        if ids.is_empty() {
            jobs.push(job);
            continue;
        }
        for id in ids {
            jobs.push(BatchJob {
                video: job.video.clone(),
                meta: job.meta.clone(),
                output: crate::pipeline::variant_output(&job.output, &id),
                variant: Some(id),
            });
        }
    }
    BatchInput { jobs, ..batch }
}

/// Whether `output` leaves `outdir` (an absolute path elsewhere, or `..` climbing out), judged on
/// the names alone: the files need not exist yet.
fn escapes(outdir: &Path, output: &Path) -> bool {
    use std::path::Component;
    let Ok(rel) = output.strip_prefix(outdir) else { return true };
    let mut depth = 0i32;
    for c in rel.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::RootDir | Component::Prefix(_) => return true,
        }
    }
    depth == 0
}

fn read_defaults(
    path: &Path,
    limits: &Limits,
) -> Result<Option<(PathBuf, serde_yaml_ng::Mapping)>, BatchError> {
    if !path.exists() {
        return Ok(None);
    }
    let text = read_text(path, limits.max_metadata_bytes, "defaults file")?;
    let map: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(&text)
        .map_err(|e| BatchError::Manifest(crate::metadata::yaml_diagnostic(path, &e, &[]).to_string()))?;
    Ok(Some((path.to_owned(), map)))
}

fn folder(dir: &Path, outdir: &Path, ext: &str, limits: &Limits) -> Result<BatchInput, BatchError> {
    let mut videos: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut sidecars: BTreeMap<String, PathBuf> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|source| io(dir, "cannot read folder", source))? {
        let path = entry.map_err(|source| io(dir, "cannot read folder", source))?.path();
        let (Some(stem), Some(e)) =
            (path.file_stem().and_then(|s| s.to_str()), path.extension().and_then(|e| e.to_str()))
        else {
            continue;
        };
        let e = e.to_ascii_lowercase();
        if !path.is_file() {
            continue;
        }
        if e == "yaml" || e == "yml" {
            if stem != "defaults" {
                sidecars.insert(stem.to_string(), path);
            }
        } else if VIDEO_EXTENSIONS.contains(&e.as_str()) {
            videos.insert(stem.to_string(), path);
        }
    }
    // Pair by the folder rule: `NAME.yaml` and `NAME.KIND.yaml` both belong to `NAME.mp4`.
    let mut jobs = Vec::new();
    let mut paired = std::collections::BTreeSet::new();
    for (stem, meta) in &sidecars {
        let output = outdir.join(format!("{stem}.{ext}"));
        match video_stem_for(stem, |s| videos.contains_key(s)) {
            Some(v) => {
                paired.insert(v.to_string());
                jobs.push(BatchJob {
                    video: videos[v].clone(),
                    meta: MetaSource::File(meta.clone()),
                    output,
                    variant: None,
                });
            }
            None => jobs.push(BatchJob {
                video: dir.join(format!("{stem}.mp4")),
                meta: MetaSource::Invalid(format!(
                    "{}: no video {stem}.* beside it (looked for {})",
                    meta.display(),
                    VIDEO_EXTENSIONS.join(", ")
                )),
                output,
                variant: None,
            }),
        }
    }
    for (stem, video) in videos.iter().filter(|(stem, _)| !paired.contains(*stem)) {
        jobs.push(BatchJob {
            video: video.clone(),
            meta: MetaSource::Invalid(format!("no sidecar {}", dir.join(format!("{stem}.yaml")).display())),
            output: outdir.join(format!("{stem}.{ext}")),
            variant: None,
        });
    }
    jobs.sort_by(|a, b| a.output.cmp(&b.output));
    Ok(BatchInput { jobs, defaults: read_defaults(&dir.join("defaults.yaml"), limits)? })
}

fn output_for(outdir: &Path, video: &Path, given: Option<&str>, ext: &str) -> PathBuf {
    match given {
        Some(name) => outdir.join(name),
        None => {
            outdir.join(format!("{}.{ext}", video.file_stem().and_then(|s| s.to_str()).unwrap_or("cover")))
        }
    }
}

fn yaml_manifest(path: &Path, outdir: &Path, ext: &str, limits: &Limits) -> Result<BatchInput, BatchError> {
    let text = read_text(path, limits.max_manifest_bytes, "manifest")?;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Manifest {
        defaults: Option<serde_yaml_ng::Mapping>,
        jobs: Vec<serde_yaml_ng::Mapping>,
    }
    let m: Manifest = serde_yaml_ng::from_str(&text).map_err(|e| {
        BatchError::Manifest(crate::metadata::yaml_diagnostic(path, &e, &["defaults", "jobs"]).to_string())
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let defaults = match m.defaults {
        Some(d) => Some((path.to_owned(), d)),
        None => read_defaults(&base.join("defaults.yaml"), limits)?,
    };
    let jobs = m
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, mut row)| {
            let take = |row: &mut serde_yaml_ng::Mapping, key: &str| {
                row.remove(key).and_then(|v| v.as_str().map(str::to_owned))
            };
            let video = take(&mut row, "video");
            let meta = take(&mut row, "meta");
            let output = take(&mut row, "output");
            let Some(video) = video else {
                return BatchJob {
                    video: PathBuf::from(format!("(job {})", i + 1)),
                    meta: MetaSource::Invalid(format!("{}: job {} has no `video`", path.display(), i + 1)),
                    output: outdir.join(format!("job-{}.{ext}", i + 1)),
                    variant: None,
                };
            };
            let video = base.join(video);
            let output = output_for(outdir, &video, output.as_deref(), ext);
            let meta = match meta {
                Some(file) if row.is_empty() => MetaSource::File(base.join(file)),
                Some(_) => MetaSource::Invalid(format!(
                    "{}: job {} has both `meta:` and inline metadata keys",
                    path.display(),
                    i + 1
                )),
                None => MetaSource::Inline {
                    origin: path.to_owned(),
                    row: i + 1,
                    yaml: serde_yaml_ng::to_string(&row).unwrap_or_default(),
                },
            };
            BatchJob { video, meta, output, variant: None }
        })
        .collect();
    Ok(BatchInput { jobs, defaults })
}

fn csv_manifest(path: &Path, outdir: &Path, ext: &str, limits: &Limits) -> Result<BatchInput, BatchError> {
    let text = read_text(path, limits.max_manifest_bytes, "manifest")?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| BatchError::Manifest(format!("{}: {e}", path.display())))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    const COLUMNS: &[&str] = &[
        "video",
        "output",
        "meta",
        "template",
        "title",
        "subtitle",
        "author",
        "watermark",
        "frame",
        "link",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ];
    for h in &headers {
        if !COLUMNS.contains(&h.as_str()) && !h.starts_with("vars.") {
            let hint = crate::metadata::closest(h, COLUMNS)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(BatchError::Manifest(format!("{}:1: unknown column `{h}`{hint}", path.display())));
        }
    }
    if !headers.iter().any(|h| h == "video") {
        return Err(BatchError::Manifest(format!("{}:1: no `video` column", path.display())));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut jobs = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| BatchError::Manifest(format!("{}:{line}: {e}", path.display())))?;
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let video = base.join(get("video").unwrap_or(""));
        let output = output_for(outdir, &video, get("output"), ext);
        let meta = if let Some(file) = get("meta") {
            MetaSource::File(base.join(file))
        } else {
            let mut map = serde_yaml_ng::Mapping::new();
            let mut link = serde_yaml_ng::Mapping::new();
            let mut utm = serde_yaml_ng::Mapping::new();
            let mut vars = serde_yaml_ng::Mapping::new();
            for (h, v) in headers.iter().zip(record.iter()) {
                let v = v.trim();
                if v.is_empty() || ["video", "output", "meta"].contains(&h.as_str()) {
                    continue;
                }
                let s = serde_yaml_ng::Value::String(v.to_string());
                if h == "link" {
                    link.insert("url".into(), s);
                } else if let Some(k) = h.strip_prefix("utm_") {
                    utm.insert(k.into(), s);
                } else if let Some(k) = h.strip_prefix("vars.") {
                    vars.insert(k.into(), s);
                } else {
                    map.insert(h.as_str().into(), s);
                }
            }
            if !utm.is_empty() {
                link.insert("utm".into(), utm.into());
            }
            if !link.is_empty() {
                map.insert("link".into(), link.into());
            }
            if !vars.is_empty() {
                map.insert("vars".into(), vars.into());
            }
            MetaSource::Inline {
                origin: path.to_owned(),
                row: line,
                yaml: serde_yaml_ng::to_string(&map).unwrap_or_default(),
            }
        };
        jobs.push(BatchJob { video, meta, output, variant: None });
    }
    Ok(BatchInput { jobs, defaults: read_defaults(&base.join("defaults.yaml"), limits)? })
}

fn io(path: &Path, what: &'static str, source: std::io::Error) -> BatchError {
    BatchError::Io { path: path.to_owned(), what, source }
}
