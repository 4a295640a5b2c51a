//! The covers a preview server shows: found in FOLDER by the batch folder rule (deliverables and
//! A/B variants included), rendered into a cache outside FOLDER, and rendered again when an
//! edit changes what a cover depends on.
//!
//! Revisions: every burst of edits starts a new generation; a render pass stops as soon as a
//! newer generation starts, so only the latest revision of each cover is ever shown. A cover
//! whose inputs did not change (same input hash as its shown revision) is not rendered again.

use crate::batch::input::{discover, expand_variants, BatchJob};
use crate::env::Env;
use crate::error::{Error, ErrorReport};
use crate::keyframe::cache::FrameCache;
use crate::layout::doc::{Layer, LayoutDoc};
use crate::pipeline::{self, Delivery, Job, OutputKind, RenderOptions};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

/// JPEG quality of preview images.
const PREVIEW_QUALITY: u8 = 85;

/// What the page draws over a cover (canvas pixels).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overlays {
    /// Canvas size.
    pub width: u32,
    /// Canvas size.
    pub height: u32,
    /// The platform the template names, if any.
    pub platform: Option<String>,
    /// Text boxes: id (or `layer N`) and box.
    pub text: Vec<(String, crate::model::Rect)>,
    /// Areas the platform's UI covers.
    pub safe_zones: Vec<crate::layout::safe_zones::Zone>,
    /// Faces found in the frame.
    pub faces: Vec<crate::model::Rect>,
    /// Contrast reached by each text layer, `id: ratio`.
    pub contrast: Vec<String>,
    /// `check` findings of the layout.
    pub findings: Vec<String>,
}

/// One cover as the page sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Cover {
    /// Its key: the output name without extension (`cooking`, `travel.thumb`, `cooking.B`).
    pub key: String,
    /// The metadata file (relative to FOLDER).
    pub meta: String,
    /// The A/B variant, if any.
    pub variant: Option<String>,
    /// The key of the cover its variants belong with (the metadata's), for grouping.
    pub group: String,
    /// Shown revision: increases with every new image or error.
    pub revision: u64,
    /// Whether an image exists (the last good one, when `error` is set).
    pub has_image: bool,
    /// The latest error, shown over the last good image.
    pub error: Option<ErrorReport>,
    /// What the page can draw over the image.
    pub overlays: Overlays,
    /// Stage times of the shown image's render.
    pub times: Option<pipeline::StageTimes>,
    #[serde(skip)]
    fingerprint: Option<String>,
    #[serde(skip)]
    image: PathBuf,
}

/// Every cover, and who waits for news of them.
pub struct Covers {
    folder: PathBuf,
    cache_dir: PathBuf,
    state: Mutex<State>,
    /// Wakes the renderer when the generation moves on.
    changed: Condvar,
    frames: FrameCache,
    opts: RenderOptions,
}

#[derive(Default)]
struct State {
    generation: u64,
    /// Files changed since the last pass started (what the environment must read afresh).
    changed: Vec<PathBuf>,
    covers: BTreeMap<String, Cover>,
    subscribers: Vec<std::sync::mpsc::Sender<String>>,
}

impl Covers {
    /// Covers of `folder`, rendered into `cache_dir`.
    pub fn new(folder: &Path, cache_dir: &Path, opts: RenderOptions) -> std::io::Result<Self> {
        std::fs::create_dir_all(cache_dir)?;
        Ok(Covers {
            folder: folder.to_owned(),
            cache_dir: cache_dir.to_owned(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            frames: FrameCache::memory_only(256 << 20),
            opts,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A snapshot of every cover, in name order.
    pub fn list(&self) -> Vec<Cover> {
        self.lock().covers.values().cloned().collect()
    }

    /// One cover.
    pub fn get(&self, key: &str) -> Option<Cover> {
        self.lock().covers.get(key).cloned()
    }

    /// The image file of a cover, when it has one. Only files this server wrote, by key.
    pub fn image(&self, key: &str) -> Option<PathBuf> {
        self.lock().covers.get(key).filter(|c| c.has_image).map(|c| c.image.clone())
    }

    /// A new event stream: each message is a cover's JSON after it changed.
    pub fn subscribe(&self) -> std::sync::mpsc::Receiver<String> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.lock().subscribers.push(tx);
        rx
    }

    /// Open event streams.
    pub fn subscribers(&self) -> usize {
        let mut s = self.lock();
        s.subscribers.retain(|tx| tx.send(String::new()).is_ok());
        s.subscribers.len()
    }

    /// Marks `changed` files changed: a render in progress stops, and a new pass starts.
    pub fn invalidate(&self, changed: Vec<PathBuf>) {
        let mut s = self.lock();
        s.generation += 1;
        s.changed.extend(changed);
        self.changed.notify_all();
    }

    /// Renders passes forever: one now, then one per generation. The environment lives across
    /// passes (fonts, glyphs and hashes stay warm); before each pass it forgets what changed.
    pub fn run(&self, make_env: &dyn Fn() -> Env) -> ! {
        let env = make_env();
        let mut done = u64::MAX;
        loop {
            let (generation, changed) = {
                let mut s = self.lock();
                while s.generation == done {
                    s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
                }
                (s.generation, std::mem::take(&mut s.changed))
            };
            env.forget_changed(&changed);
            self.pass(generation, &env);
            done = generation;
        }
    }

    /// One pass over every cover of FOLDER at `generation`; stops early when it is outdated.
    pub fn pass(&self, generation: u64, env: &Env) {
        let jobs = match discover(&self.folder, &self.cache_dir, "jpg", &env.limits, false) {
            Ok(input) => {
                let defaults = input.defaults.as_ref().map(|(_, m)| m.clone());
                let input = expand_variants(input, &env.limits);
                input.jobs.into_iter().map(|j| (j, defaults.clone())).collect::<Vec<_>>()
            }
            Err(_) => Vec::new(),
        };
        let keys: Vec<String> = jobs.iter().map(|(j, _)| key_of(j)).collect();
        self.lock().covers.retain(|k, _| keys.contains(k));
        for (job, defaults) in jobs {
            if self.lock().generation != generation {
                return; // an edit came in: this revision is already stale
            }
            self.render(&job, defaults, env, generation);
        }
        self.prune_cache();
    }

    /// Keeps the cache to one image per current cover: images of covers that are gone (a
    /// renamed sidecar, a dropped variant) are removed, so the cache never outgrows the folder.
    fn prune_cache(&self) {
        let keep: Vec<PathBuf> = self.lock().covers.values().map(|c| c.image.clone()).collect();
        let Ok(entries) = std::fs::read_dir(&self.cache_dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "jpg") && !keep.contains(&p) {
                let _ = std::fs::remove_file(&p);
            }
        }
        crate::files::remove_stale_temporaries(&self.cache_dir);
    }

    fn render(&self, b: &BatchJob, defaults: Option<serde_yaml_ng::Mapping>, env: &Env, generation: u64) {
        let key = key_of(b);
        let meta_name = match &b.meta {
            crate::metadata::MetaSource::File(p) => {
                p.strip_prefix(&self.folder).unwrap_or(p).display().to_string()
            }
            other => other.label(),
        };
        let job = Job {
            video: b.video.clone(),
            meta: b.meta.clone(),
            defaults,
            template: None,
            output: b.output.clone(),
            kind: OutputKind::Still { quality: PREVIEW_QUALITY },
            variant: b.variant.clone(),
        };
        let group = meta_name.trim_end_matches(".yaml").trim_end_matches(".yml").to_string();
        let outcome = self.render_job(&job, env);
        let mut s = self.lock();
        if s.generation != generation {
            return; // finished after an edit: drop it, the next pass renders the new revision
        }
        let cover = s.covers.entry(key.clone()).or_insert_with(|| Cover {
            key: key.clone(),
            meta: meta_name.clone(),
            variant: b.variant.clone(),
            group: group.clone(),
            revision: 0,
            has_image: false,
            error: None,
            overlays: Overlays::default(),
            times: None,
            fingerprint: None,
            image: b.output.clone(),
        });
        match outcome {
            Outcome::Unchanged => {
                if cover.error.is_none() {
                    return;
                }
                cover.error = None;
            }
            Outcome::Rendered { fingerprint, overlays, times } => {
                cover.fingerprint = Some(fingerprint);
                cover.overlays = overlays;
                cover.times = Some(times);
                cover.has_image = true;
                cover.error = None;
            }
            Outcome::Failed(report) => {
                if cover.error.as_ref() == Some(&report) {
                    return;
                }
                cover.error = Some(report);
                cover.fingerprint = None;
            }
        }
        cover.revision += 1;
        let news = serde_json::to_string(&*cover).unwrap_or_default();
        s.subscribers.retain(|tx| tx.send(news.clone()).is_ok());
    }

    fn render_job(&self, job: &Job, env: &Env) -> Outcome {
        let fail = |e: Error| Outcome::Failed(ErrorReport::new(&e, e.to_string()));
        let _deadline = pipeline::Deadline::start(env);
        let prepared = match pipeline::prepare(job, env) {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        let identity = crate::files::identity(&job.video).unwrap_or_default();
        let fingerprint = match crate::batch::job_hash(
            &identity,
            &prepared.meta,
            &prepared.doc,
            "preview",
            &self.opts,
            env,
        ) {
            Ok(h) => h,
            Err(e) => return fail(e),
        };
        let key = job.output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let same =
            self.lock().covers.get(&key).and_then(|c| c.fingerprint.clone()) == Some(fingerprint.clone());
        if same {
            return Outcome::Unchanged;
        }
        let doc = prepared.doc.clone();
        let delivery = Delivery {
            cache: Some((&self.frames, identity.as_str())),
            durability: crate::files::Durability::Unsynced,
            keep_canvas: false,
            measure_contrast: false,
        };
        match pipeline::finish(job, prepared, &self.opts, env, &delivery) {
            Ok(result) => {
                Outcome::Rendered { fingerprint, overlays: overlays(&doc, &result), times: result.times }
            }
            Err(e) => fail(e),
        }
    }
}

enum Outcome {
    Unchanged,
    Rendered { fingerprint: String, overlays: Overlays, times: pipeline::StageTimes },
    Failed(ErrorReport),
}

/// A job's cover key: its output's name without the extension.
fn key_of(job: &BatchJob) -> String {
    job.output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn overlays(doc: &LayoutDoc, result: &pipeline::JobResult) -> Overlays {
    let text = doc
        .layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| match l {
            Layer::Text(t) => Some((t.id.clone().unwrap_or_else(|| format!("layer {}", i + 1)), t.bbox)),
            _ => None,
        })
        .collect();
    Overlays {
        width: doc.canvas.width,
        height: doc.canvas.height,
        platform: doc.safe_zones.first().map(|z| z.name.split(':').next().unwrap_or("").to_string()),
        text,
        safe_zones: doc.safe_zones.clone(),
        faces: result.faces.clone(),
        contrast: result
            .contrast
            .iter()
            .map(|c| format!("{}: {:.2}:1", c.id.as_deref().unwrap_or("text"), c.contrast))
            .collect(),
        findings: doc.findings.iter().map(|f| format!("{}: {}", f.layer, f.message)).collect(),
    }
}
