//! Fonts, loaded once per process from the fonts folder and shared across jobs.
//!
//! A font is named by its file stem (`fonts/wqy-microhei.ttc` is `wqy-microhei`). Sizes in
//! templates are em sizes in pixels, as in CSS: [`FontHandle::scale`] converts them to
//! ab_glyph's scale (which is the ascent-to-descent height). [`glyphs`] caches rasterised glyphs
//! across covers.

pub mod glyphs;
pub mod shape;

use ab_glyph::{Font, FontArc, FontVec, PxScale};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A loaded font and its name.
#[derive(Clone)]
pub struct FontHandle {
    /// The name templates use.
    pub name: String,
    /// The parsed font, cheap to clone.
    pub font: FontArc,
    /// The font file's bytes, which the shaper parses its own way.
    bytes: Arc<FontVec>,
    /// The face in the file (collections hold several).
    index: u32,
    /// The shaper's parse of the face, made once: parsing a CJK font's layout tables took
    /// ~0.15 ms, which every line shaped paid again (three or four lines a cover).
    shaping: Arc<ShapingFace>,
    /// The file it was read from, as [`crate::files::identity`] names it, and the face.
    identity: String,
}

/// The face as the shaper (rustybuzz) parses it; `None` when it cannot.
pub(crate) type ParsedFace<'a> = Option<rustybuzz::Face<'a>>;

self_cell::self_cell!(
    /// A font file's bytes with the shaper's face over them.
    pub(crate) struct ShapingFace {
        owner: Arc<FontVec>,
        #[covariant]
        dependent: ParsedFace,
    }
);

impl std::fmt::Debug for FontHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FontHandle({})", self.name)
    }
}

impl FontHandle {
    /// A handle over a parsed font file; `identity` says which file and face it is (what the
    /// hash of a cover that uses it records).
    pub fn new(name: &str, font: FontVec, index: u32, identity: String) -> Self {
        let bytes = Arc::new(font);
        let font = FontArc::from(bytes.clone() as Arc<dyn ab_glyph::Font + Send + Sync>);
        let shaping =
            Arc::new(ShapingFace::new(bytes.clone(), |b| rustybuzz::Face::from_slice(b.as_slice(), index)));
        FontHandle { name: name.to_owned(), font, bytes, index, shaping, identity }
    }

    /// Which file and face this is: the file's [`crate::files::identity`] and the face index.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The face as the shaper parses it (`None` when it cannot).
    pub(crate) fn shaping_face(&self) -> Option<&rustybuzz::Face<'_>> {
        self.shaping.borrow_dependent().as_ref()
    }

    /// The face's index in its file.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The font file's bytes.
    pub fn data(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// The ab_glyph scale for an em size of `size_px` pixels.
    pub fn scale(&self, size_px: f32) -> PxScale {
        let upem = self.font.units_per_em().unwrap_or(1000.0);
        let height = self.font.height_unscaled();
        PxScale::from(size_px * height / upem)
    }
}

/// The fonts of one folder, loaded on first use.
pub struct FontBook {
    dir: PathBuf,
    /// Largest font file read (see `Limits::max_font_bytes`).
    max_bytes: u64,
    loaded: crate::files::ReadOnce<String, Arc<FontHandle>>,
    /// Whether system fonts may stand in for folder fonts of the same name (see [`SYSTEM`]).
    system: bool,
}

/// A font the system may provide: its name in templates, its file and face, and the fonts
/// folder's font that stands in for it where the system has none (or system fonts are off).
pub struct SystemFont {
    /// The name templates use.
    pub name: &'static str,
    /// The system's file.
    pub path: &'static str,
    /// The face in a collection (.ttc).
    pub index: u32,
    /// The fonts folder's stand-in (the same name when the folder ships a subset of it).
    pub stand_in: &'static str,
}

/// Fonts found at run time: Debian's `fonts-noto-color-emoji` has every emoji sequence (the
/// folder ships a subset); `fonts-noto-cjk` has Noto Sans CJK in Regular and Bold, whose
/// Simplified Chinese faces (index 2 of the collections) title templates use, with WenQuanYi
/// Micro Hei standing in.
pub const SYSTEM: &[SystemFont] = &[
    SystemFont {
        name: "noto-color-emoji",
        path: "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
        index: 0,
        stand_in: "noto-color-emoji",
    },
    SystemFont {
        name: "noto-sans-cjk-sc-bold",
        path: "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
        index: 2,
        stand_in: "wqy-microhei",
    },
    SystemFont {
        name: "noto-sans-cjk-sc",
        path: "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        index: 2,
        stand_in: "wqy-microhei",
    },
];

/// Fonts [`FontBook::preload`] reads side by side.
const PRELOAD_AT_ONCE: usize = 4;

impl FontBook {
    /// A book over `dir` (nothing is read yet), reading font files of at most `max_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        let system = std::env::var_os("COVERFORGE_SYSTEM_FONTS").is_none_or(|v| v != "0");
        FontBook { dir: dir.into(), max_bytes, loaded: Default::default(), system }
    }

    /// Uses only the fonts folder (`false`), never the system's fuller fonts: for output that
    /// must not depend on the machine, such as golden tests. `COVERFORGE_SYSTEM_FONTS=0` does
    /// the same for the command line.
    pub fn use_system_fonts(&mut self, yes: bool) {
        self.system = yes;
        self.forget();
    }

    /// Whether the font called `name` has been loaded (and not forgotten since).
    pub fn is_loaded(&self, name: &str) -> bool {
        self.loaded.has(name)
    }

    /// Forgets every loaded font (they are loaded again on next use).
    pub fn forget(&self) {
        self.loaded.clear();
    }

    /// The folder fonts come from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The names of the fonts in the folder, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                let ext = p.extension()?.to_str()?.to_ascii_lowercase();
                matches!(ext.as_str(), "ttf" | "otf" | "ttc")
                    .then(|| p.file_stem()?.to_str().map(str::to_owned))?
            })
            .collect();
        names.extend(SYSTEM.iter().filter(|f| self.find(f.name).is_some()).map(|f| f.name.to_owned()));
        names.sort();
        names.dedup();
        names
    }

    /// The file of the font called `name`.
    ///
    /// # Errors
    /// [`FontError`] naming the font and the folder when the name is not a plain name or no
    /// such font is there.
    pub fn path(&self, name: &str) -> Result<PathBuf, FontError> {
        self.locate(name).map(|(p, _)| p)
    }

    /// The file and face index of the font called `name` (see [`SYSTEM`]).
    ///
    /// # Errors
    /// As [`FontBook::path`].
    pub fn locate(&self, name: &str) -> Result<(PathBuf, u32), FontError> {
        // A name, never a path: nothing outside the fonts folder.
        if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
            return Err(FontError::NotAName { name: name.to_owned(), dir: self.dir.clone() });
        }
        self.find(name).ok_or_else(|| FontError::NotFound {
            name: name.to_owned(),
            dir: self.dir.clone(),
            available: self.names(),
        })
    }

    /// The file and face of the font called `name` (a plain name), if there is one. Unlike
    /// [`FontBook::locate`] it builds no error: that error lists the folder's fonts, and the
    /// list asks here for each system font (asking `locate` recursed without end where a
    /// system font had neither its file nor its stand-in).
    fn find(&self, name: &str) -> Option<(PathBuf, u32)> {
        let system = SYSTEM.iter().find(|f| f.name == name);
        if let Some(f) = system.filter(|_| self.system) {
            if Path::new(f.path).is_file() {
                return Some((PathBuf::from(f.path), f.index));
            }
        }
        let stem = system.map_or(name, |f| f.stand_in);
        ["ttf", "otf", "ttc"]
            .iter()
            .map(|ext| self.dir.join(format!("{stem}.{ext}")))
            .find(|p| p.is_file())
            .map(|p| (p, 0))
    }

    /// Loads the fonts called `names` that no one has loaded yet, side by side: a layout's
    /// first render read its 20 MB CJK title font and then its 5 MB body font one after the
    /// other while every worker waited. Errors are left to [`FontBook::get`] to report where
    /// the font is used.
    pub fn preload<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut missing: Vec<&str> = names.into_iter().filter(|n| !self.is_loaded(n)).collect();
        missing.sort_unstable();
        missing.dedup();
        // A few at a time: a template naming many fonts does not start a thread for each.
        for batch in missing.chunks(PRELOAD_AT_ONCE) {
            let Some((first, rest)) = batch.split_first() else { return };
            std::thread::scope(|s| {
                for &name in rest {
                    // A failed spawn only means that font loads where it is first used.
                    let _ = std::thread::Builder::new().spawn_scoped(s, move || self.get(name).is_ok());
                }
                let _ = self.get(first);
            });
        }
    }

    /// Loads (once) and returns the font called `name`.
    ///
    /// # Errors
    /// [`FontError`] naming the font, or its file when it is unreadable or not a font.
    pub fn get(&self, name: &str) -> Result<Arc<FontHandle>, FontError> {
        self.loaded.get_or_try_make(name.to_owned(), || {
            let (path, index) = self.locate(name)?;
            // The identity before the bytes: a file replaced in between is rendered again next
            // time rather than skipped. (The read's error names the file and problem best.)
            let file = crate::files::identity(&path);
            let data = crate::files::read_bounded(&path, self.max_bytes, "font file")
                .map_err(|e| FontError::Unreadable { message: e.to_string() })?;
            let file =
                file.map_err(|e| FontError::Unreadable { message: format!("{}: {e}", path.display()) })?;
            // Collections (.ttc): the first face unless [`SYSTEM`] says otherwise; for WenQuanYi
            // that is Micro Hei.
            let font = FontVec::try_from_vec_and_index(data, index)
                .map_err(|e| FontError::NotAFont { path: path.clone(), reason: e.to_string() })?;
            Ok(Arc::new(FontHandle::new(name, font, index, format!("{file}\u{0}{index}"))))
        })
    }
}

/// A font that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FontError {
    /// The name is a path or empty: fonts are named, never located, by templates.
    #[error("font `{name}` is not a font name (a file name in {} without extension)", dir.display())]
    NotAName {
        /// The name given.
        name: String,
        /// The fonts folder.
        dir: PathBuf,
    },
    /// No such font in the folder.
    #[error("font `{name}` not found in {} (available: {})", dir.display(), available.join(", "))]
    NotFound {
        /// The name given.
        name: String,
        /// The fonts folder.
        dir: PathBuf,
        /// The fonts it has.
        available: Vec<String>,
    },
    /// The file could not be read within its limit.
    #[error("{message}")]
    Unreadable {
        /// The read error, naming the file.
        message: String,
    },
    /// The file is not a font ab_glyph can use.
    #[error("{}: not a usable font: {reason}", path.display())]
    NotAFont {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A book over a folder holding a copy of the shipped WenQuanYi font, without system fonts.
    fn book_with_copy() -> (tempfile::TempDir, FontBook) {
        let dir = tempfile::tempdir().unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("fonts/wqy-microhei.ttc");
        std::fs::copy(&shipped, dir.path().join("wqy-microhei.ttc")).unwrap();
        std::fs::copy(&shipped, dir.path().join("second.ttc")).unwrap();
        let mut book = FontBook::new(dir.path(), 64 << 20);
        book.use_system_fonts(false);
        (dir, book)
    }

    #[test]
    fn preloading_loads_each_font_named_once_and_leaves_errors_to_get() {
        let (_dir, book) = book_with_copy();
        book.preload(["wqy-microhei", "second", "wqy-microhei", "missing"]);
        assert!(book.is_loaded("wqy-microhei") && book.is_loaded("second"));
        assert!(!book.is_loaded("missing"));
        assert!(matches!(book.get("missing"), Err(FontError::NotFound { .. })));
    }

    #[test]
    fn a_rewritten_font_file_has_another_identity() {
        let (dir, book) = book_with_copy();
        let first = book.get("wqy-microhei").unwrap().identity().to_owned();
        assert_eq!(book.get("wqy-microhei").unwrap().identity(), first, "the same file, the same identity");
        assert_ne!(book.get("second").unwrap().identity(), first, "another file");
        // The same bytes written again: a new modification time.
        let path = dir.path().join("wqy-microhei.ttc");
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
        book.forget();
        assert_ne!(book.get("wqy-microhei").unwrap().identity(), first);
    }
}
