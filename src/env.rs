//! The job environment (typst's `World`): where templates, fonts and assets come from, and the
//! caches shared by every job of a process. Nothing here is per-job state, and no option: device
//! choices travel in [`crate::pipeline::RenderOptions`].

use crate::files::{Memo, Roots};
use crate::fonts::FontBook;
use crate::limits::Limits;
use crate::model::Diagnostics;
use crate::pixels::{Overlay, TextMasks};
use crate::template::{Compiled, TemplateSource};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Templates, fonts, decoded images and limits for a process.
pub struct Env {
    templates_dir: PathBuf,
    assets_dir: PathBuf,
    /// Fonts by name.
    pub fonts: FontBook,
    images: Mutex<HashMap<PathBuf, Arc<Overlay>>>,
    templates: Mutex<HashMap<PathBuf, Arc<Compiled>>>,
    /// Content hashes of files, keyed by path, size and modification time.
    file_hashes: crate::files::ReadOnce<(PathBuf, u64, std::time::SystemTime), [u8; 32]>,
    /// Rasterised glyphs shared by every job.
    pub glyphs: crate::fonts::glyphs::GlyphCache,
    /// Text layers drawn as masks, by everything that shapes them (see [`TextMasks`]).
    pub text_masks: Memo<TextMasks>,
    /// Images resized to the boxes they are drawn in, by file and size.
    sized_images: Memo<Overlay>,
    /// Limits every job runs under.
    pub limits: Limits,
    /// Folders metadata and templates may read from (see [`Roots`]).
    pub roots: Roots,
}

/// Bytes of text masks kept (a douyin title's masks are about 2 MB).
const TEXT_MASK_BUDGET: usize = 64 << 20;
/// Bytes of resized images kept.
const SIZED_IMAGE_BUDGET: usize = 64 << 20;

/// Where Debian and most Linux systems keep fonts.
const SYSTEM_FONT_DIRS: &[&str] = &["/usr/share/fonts", "/usr/local/share/fonts"];

impl Env {
    /// An environment over a data folder holding `templates/` and `fonts/`.
    pub fn new(data_dir: &Path, limits: Limits) -> Self {
        Env {
            templates_dir: data_dir.join("templates"),
            assets_dir: data_dir.join("assets"),
            fonts: FontBook::new(data_dir.join("fonts"), limits.max_font_bytes),
            roots: Roots::new(
                ["templates", "assets", "fonts"]
                    .iter()
                    .map(|d| data_dir.join(d))
                    .chain(SYSTEM_FONT_DIRS.iter().map(PathBuf::from)),
            ),
            images: Mutex::new(HashMap::new()),
            templates: Mutex::new(HashMap::new()),
            file_hashes: Default::default(),
            glyphs: Default::default(),
            text_masks: Memo::new(TEXT_MASK_BUDGET),
            sized_images: Memo::new(SIZED_IMAGE_BUDGET),
            limits,
        }
    }

    /// The data folder the CLI uses: `$COVERFORGE_HOME`, else the current folder if it has a
    /// `templates/` folder, else the source tree this binary was built from.
    pub fn default_data_dir() -> PathBuf {
        if let Some(home) = std::env::var_os("COVERFORGE_HOME") {
            return PathBuf::from(home);
        }
        if Path::new("templates").is_dir() && Path::new("fonts").is_dir() {
            return PathBuf::from(".");
        }
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    /// The face detection model (YuNet, the 2022 model OpenCV 4.6 loads, shipped in `assets/`).
    pub fn face_model(&self) -> PathBuf {
        self.assets_dir.join("face_detection_yunet_2022mar.onnx")
    }

    /// The folder holding named templates.
    pub fn templates_dir(&self) -> &Path {
        &self.templates_dir
    }

    /// Looks templates up by name in `dir` (a preview folder's own `templates/`) instead of the
    /// data folder's; `dir` becomes readable.
    pub fn use_templates_dir(&mut self, dir: &Path) {
        self.templates_dir = dir.to_owned();
        self.roots.allow(dir);
    }

    /// Drops what the caches hold of `changed` files, so that a long-lived environment (the
    /// preview server's) reads them afresh: decoded images, and fonts with their rasterised
    /// glyphs when a font changed. Compiled templates are checked against their text on every
    /// use, and file hashes are keyed by size and modification time, so both stay.
    pub fn forget_changed(&self, changed: &[PathBuf]) {
        let ext =
            |p: &PathBuf| p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if changed
            .iter()
            .any(|p| matches!(ext(p).as_str(), "ttf" | "otf" | "ttc") || p.starts_with(self.fonts.dir()))
        {
            self.fonts.forget();
            self.glyphs.forget();
            crate::fonts::shape::forget();
            self.text_masks.clear();
        }
        if changed.iter().any(|p| matches!(ext(p).as_str(), "png" | "jpg" | "jpeg" | "webp" | "bmp")) {
            self.images.lock().expect("image cache poisoned").clear();
            self.sized_images.clear();
        }
    }

    /// The folder of shared images (logos, the face model).
    pub fn assets_dir(&self) -> &Path {
        &self.assets_dir
    }

    /// The parsed template for `source`, parsed once per process (again if its text changed).
    ///
    /// # Errors
    /// Template syntax diagnostics.
    pub fn compiled_template(&self, source: &TemplateSource) -> Result<Arc<Compiled>, Diagnostics> {
        if let Some(c) = self.templates.lock().expect("template cache poisoned").get(&source.path) {
            if c.source.text == source.text {
                return Ok(c.clone());
            }
        }
        let compiled = Arc::new(Compiled::new(source.clone())?);
        self.templates.lock().expect("template cache poisoned").insert(source.path.clone(), compiled.clone());
        Ok(compiled)
    }

    /// BLAKE3 hash of a file's content, computed once per (path, size, modification time).
    ///
    /// # Errors
    /// The OS error (the caller names the file).
    pub fn file_hash(&self, path: &Path) -> std::io::Result<[u8; 32]> {
        let meta = std::fs::metadata(path)?;
        let key = (path.to_owned(), meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH));
        // Streamed, however large the image. Workers starting together wait for one read.
        self.file_hashes.get_or_try_make(key, || {
            Ok(*blake3::Hasher::new().update_reader(std::fs::File::open(path)?)?.finalize().as_bytes())
        })
    }

    /// Loads (once) the image at `path`, keeping its alpha.
    ///
    /// # Errors
    /// [`ImageError`] naming the file when it cannot be read, is not an image, or is larger
    /// than the limits (in bytes, or in pixels as its header declares).
    pub fn image(&self, path: &Path) -> Result<Arc<Overlay>, ImageError> {
        if let Some(img) = self.images.lock().expect("image cache poisoned").get(path) {
            return Ok(img.clone());
        }
        if !path.exists() {
            return Err(ImageError::other(format!("image file {} does not exist", path.display())));
        }
        let bytes = crate::files::read_bounded(path, self.limits.max_image_bytes, "image")
            .map_err(|e| ImageError { limit: e.is_limit(), message: e.to_string() })?;
        let max_side = self.limits.max_image_side;
        if let Some((format, w, h)) =
            crate::pixels::declared_size(&bytes).filter(|(_, w, h)| (*w).max(*h) > max_side)
        {
            return Err(ImageError {
                limit: true,
                message: format!(
                    "{}: {format} image of {w}x{h} pixels exceeds the limit of {max_side} a side",
                    path.display()
                ),
            });
        }
        let img = Overlay::decode(&bytes, max_side)
            .map_err(|e| ImageError::other(format!("{}: {}", path.display(), e.message)))?;
        let img = Arc::new(img);
        self.images.lock().expect("image cache poisoned").insert(path.to_owned(), img.clone());
        Ok(img)
    }
}

impl Env {
    /// The image at `path` (as [`Env::image`]) resized to `width`×`height`, kept for the next
    /// layer of that file and size (a logo on every cover of a batch is resized once).
    ///
    /// # Errors
    /// As [`Env::image`]; a resize failure names the file.
    pub fn image_sized(&self, path: &Path, width: u32, height: u32) -> Result<Arc<Overlay>, ImageError> {
        let mut key = blake3::Hasher::new();
        key.update(path.as_os_str().as_encoded_bytes());
        key.update(&width.to_le_bytes());
        key.update(&height.to_le_bytes());
        self.sized_images.get_or_make(*key.finalize().as_bytes(), || {
            let sized = self
                .image(path)?
                .resized(width, height)
                .map_err(|e| ImageError::other(format!("{}: {}", path.display(), e.message)))?;
            let bytes = width as usize * height as usize * 4;
            Ok((sized, bytes))
        })
    }
}

/// An image layer's file could not be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ImageError {
    /// What went wrong, naming the file.
    pub message: String,
    /// Whether it is a size limit (exit code 5) rather than a bad or missing file.
    pub limit: bool,
}

impl ImageError {
    fn other(message: String) -> Self {
        ImageError { message, limit: false }
    }
}
