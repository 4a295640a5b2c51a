//! On-disk keyframe cache: when only a template or metadata changed, covers are re-rendered
//! without decoding the video again.
//!
//! Invariants: entries are keyed by the video's identity (canonical path, size, modification
//! time) and the frame spec; they store the frame losslessly after a JSON header, so a cover
//! rendered from the cache is byte-identical to one rendered from a fresh decode. A frame fitted
//! from the decoder's 4:2:0 planes is stored as those planes, cropped to what the canvas shows,
//! and fitted again on a hit by the same code (see `av::fitted`): ~1 MB for a 1080p landscape
//! clip on a 1080x1920 canvas, where its BGR canvas is 6 MB (writing those cost a default batch
//! ~5 ms of system time a cover). Other frames are stored as raw BGR. Raw, not compressed: film
//! grain barely compresses (LZ4 saved ~25 % of a 1080p frame) while compressing cost ~20 ms a
//! frame. Entries are written to a temporary name and renamed. The total size is bounded:
//! least-recently-used entries (by modification time, refreshed on every hit) are evicted.

use super::{Extracted, Frame, FrameScore, FrameSpec};
use crate::pixels::Image;
use crate::probe::MediaInfo;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped whenever the entry format or what a frame means changes.
const FORMAT: u32 = 5;
const SUFFIX: &str = ".cfk";

/// A bounded keyframe cache: in one folder (losslessly, across runs), in memory (for long runs
/// that re-render: `batch --watch`), or both, the memory tier first.
#[derive(Debug, Clone)]
pub struct FrameCache {
    /// The folder, unless memory only.
    dir: Option<PathBuf>,
    max_bytes: u64,
    memory: Option<std::sync::Arc<MemoryTier>>,
}

/// Decoded frames kept in memory within a byte budget, least recently used evicted first.
#[derive(Debug)]
struct MemoryTier {
    budget: u64,
    state: std::sync::Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    used: u64,
    clock: u64,
    entries: std::collections::HashMap<String, (u64, std::sync::Arc<Extracted>)>,
}

impl MemoryTier {
    fn get(&self, key: &str) -> Option<Extracted> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.clock += 1;
        let now = s.clock;
        let entry = s.entries.get_mut(key)?;
        entry.0 = now;
        Some((*entry.1).clone())
    }

    fn put(&self, key: &str, e: &Extracted) {
        let size = e.frame.pixels.bgr_bytes().len() as u64;
        if size > self.budget {
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.clock += 1;
        let now = s.clock;
        // The memory tier holds the BGR frame itself; the planes are for the disk.
        let kept = Extracted { planes: None, ..e.clone() };
        if let Some((_, old)) = s.entries.insert(key.to_string(), (now, std::sync::Arc::new(kept))) {
            s.used -= old.frame.pixels.bgr_bytes().len() as u64;
        }
        s.used += size;
        while s.used > self.budget {
            let Some(oldest) = s.entries.iter().min_by_key(|(_, (t, _))| *t).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some((_, gone)) = s.entries.remove(&oldest) {
                s.used -= gone.frame.pixels.bgr_bytes().len() as u64;
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    width: u32,
    height: u32,
    time_s: f64,
    score: Option<FrameScore>,
    info: MediaInfo,
    warnings: Vec<String>,
    faces: Option<Vec<crate::model::Rect>>,
    /// When the entry holds the planes the canvas is fitted from (`width` x `height` is the
    /// canvas), not BGR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    planes: Option<crate::av::fitted::PlanesInfo>,
}

impl FrameCache {
    /// The default location: `$XDG_CACHE_HOME/coverforge/keyframes`, else
    /// `~/.cache/coverforge/keyframes`.
    pub fn default_dir() -> PathBuf {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("coverforge/keyframes")
    }

    /// A cache in `dir` holding at most `max_bytes`.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(FrameCache { dir: Some(dir), max_bytes, memory: None })
    }

    /// A cache in memory only, holding at most `budget` bytes of frames.
    pub fn memory_only(budget: u64) -> Self {
        FrameCache { dir: None, max_bytes: 0, memory: None }.with_memory(budget)
    }

    /// This cache with a memory tier of `budget` bytes in front of it.
    pub fn with_memory(self, budget: u64) -> Self {
        let memory = MemoryTier { budget, state: Default::default() };
        FrameCache { memory: Some(std::sync::Arc::new(memory)), ..self }
    }

    /// The folder, unless the cache is in memory only.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The cache key for a video identity and frame spec. `frame: auto` also depends on where
    /// the layout puts its text (`regions`), so a template change that moves text boxes decodes
    /// auto frames again; fixed frame times do not depend on the layout.
    pub fn key(
        identity: &str,
        spec: FrameSpec,
        regions: Option<&crate::keyframe::TextRegions>,
        fit: Option<crate::keyframe::FitTo>,
    ) -> String {
        let regions = match (spec, regions) {
            (FrameSpec::Auto | FrameSpec::Best, Some(r)) => r.key(),
            _ => String::new(),
        };
        // A fitted frame is only the part one canvas shows, at that canvas's size.
        let fit = fit.map(|f| format!("cover {}x{}", f.width, f.height)).unwrap_or_default();
        let mut h = blake3::Hasher::new();
        h.update(
            format!("coverforge-keyframe/{FORMAT}\u{0}{identity}\u{0}{spec}\u{0}{regions}\u{0}{fit}")
                .as_bytes(),
        );
        h.finalize().to_hex().to_string()
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{key}{SUFFIX}")))
    }

    /// The cached frame for `key` (memory first), refreshing its last-use time; `None` on a miss
    /// or a damaged entry (which is removed).
    pub fn get(&self, key: &str) -> Option<Extracted> {
        if let Some(hit) = self.memory.as_ref().and_then(|m| m.get(key)) {
            return Some(hit);
        }
        let hit = self.get_from_disk(key)?;
        if let Some(m) = &self.memory {
            m.put(key, &hit);
        }
        Some(hit)
    }

    fn get_from_disk(&self, key: &str) -> Option<Extracted> {
        let path = self.path(key)?;
        let mut bytes = std::fs::read(&path).ok()?;
        let parsed = (|| {
            let nl = bytes.iter().position(|&b| b == b'\n')?;
            let pixels = bytes.split_off(nl + 1); // the frame, moved out without a copy
            let header: Header = serde_json::from_slice(&bytes[..nl]).ok()?;
            if header.format != FORMAT {
                return None;
            }
            let (image, planes) = match header.planes {
                Some(info) => {
                    // The canvas is not bounded by the entry's length as BGR is: a damaged or
                    // forged header must not ask for a huge one (larger canvases than the
                    // default limits allow are decoded again instead).
                    let side = crate::limits::Limits::default().max_canvas_side;
                    if header.width > side || header.height > side {
                        return None;
                    }
                    let planes = crate::av::FittedPlanes::from_bytes(info, pixels)?;
                    let image = planes.to_canvas((header.width, header.height), &path).ok()?;
                    (image, Some(std::sync::Arc::new(planes)))
                }
                None => (Image::from_bgr_bytes(header.width, header.height, pixels)?, None),
            };
            Some(Extracted {
                info: header.info,
                frame: Frame {
                    pixels: image,
                    time_s: header.time_s,
                    decoded_by: crate::model::DecodedBy { decoder: "cache".into(), fallback: None },
                },
                score: header.score,
                warnings: header.warnings,
                faces: header.faces,
                planes,
            })
        })();
        match parsed {
            Some(e) => {
                if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
                Some(e)
            }
            None => {
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores a frame (in memory, and on disk atomically). Failures are ignored: the cache is an
    /// optimisation.
    pub fn put(&self, key: &str, e: &Extracted) {
        if let Some(m) = &self.memory {
            m.put(key, e);
        }
        let Some(path) = self.path(key) else { return };
        let header = Header {
            format: FORMAT,
            width: e.frame.pixels.width(),
            height: e.frame.pixels.height(),
            time_s: e.frame.time_s,
            score: e.score,
            info: e.info.clone(),
            warnings: e.warnings.clone(),
            faces: e.faces.clone(),
            planes: e.planes.as_ref().map(|p| p.info),
        };
        let pixels = match &e.planes {
            Some(planes) => planes.bytes(),
            None => e.frame.pixels.bgr_bytes(),
        };
        let Ok(mut head) = serde_json::to_vec(&header) else { return };
        head.push(b'\n');
        let Ok(mut staged) = crate::files::Staged::new(&path) else { return };
        // Header and pixels written in turn: no copy to join them.
        let file = staged.file();
        if file.write_all(&head).and_then(|()| file.write_all(pixels)).is_ok() {
            let _ = staged.commit(crate::files::Durability::Unsynced);
        }
    }

    /// Removes least-recently-used entries until the cache fits its bound. Returns how many
    /// entries were removed.
    pub fn evict(&self) -> usize {
        let Some(dir) = &self.dir else { return 0 };
        let Ok(dir) = std::fs::read_dir(dir) else { return 0 };
        let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = dir
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(SUFFIX))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((m.modified().ok()?, m.len(), e.path()))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        let mut removed = 0;
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
                removed += 1;
            }
        }
        removed
    }
}
