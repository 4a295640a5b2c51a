//! Reading input files with a bound, and writing files so that a reader never sees half of one.
//!
//! Reading: [`read_bounded`] opens without blocking, refuses anything but a regular file (a FIFO
//! would hang, `/dev/zero` would never end) and stops one byte past its limit, so the limit holds
//! whatever `stat` says.
//!
//! Writing: bytes go to a temporary file in the
//! destination's folder (`.coverforge-*.tmp`), which is renamed over the destination only when
//! complete. A failure or a killed process leaves the old file, or none, never a partial one.
//! Every output of the crate (covers, clips, reports, proof sheets, cached keyframes, batch
//! state) is written through here.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Prefix of every temporary file; a batch removes the ones a killed run left behind.
pub const TEMP_PREFIX: &str = ".coverforge-";
/// Suffix of every temporary file.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Whether a write is flushed to disk before the rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flushed (`fdatasync`) before the rename: the file survives a power cut once written.
    Synced,
    /// Renamed without a flush: still never partial after a crash of the process; the caller
    /// flushes later (batch does, on a thread of its own) or does not need to (caches).
    Unsynced,
}

/// A failed atomic write, naming the destination.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot write: {source}", path.display())]
pub struct WriteError {
    /// The destination.
    pub path: PathBuf,
    /// The OS error.
    pub source: std::io::Error,
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically (see the module docs).
///
/// # Errors
/// [`WriteError`] naming `path`.
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), WriteError> {
    let err = |source| WriteError { path: path.to_owned(), source };
    let mut staged = Staged::new(path).map_err(err)?;
    staged.file().write_all(bytes).map_err(err)?;
    staged.commit(durability).map_err(err)
}

/// A file being written under a temporary name, renamed over its destination by
/// [`Staged::commit`] and removed if dropped before that.
pub struct Staged {
    dest: PathBuf,
    tmp: tempfile::NamedTempFile,
}

impl Staged {
    /// A new empty temporary file beside `dest`, with an ordinary file's permissions (0644;
    /// temporary files are private by default).
    ///
    /// # Errors
    /// The OS error when the folder cannot take a new file.
    pub fn new(dest: &Path) -> std::io::Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .suffix(TEMP_SUFFIX)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .tempfile_in(folder_of(dest))?;
        Ok(Staged { dest: dest.to_owned(), tmp })
    }

    /// The temporary file's path (for writers that open it themselves, like FFmpeg's muxer).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Where the file goes.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.tmp.as_file_mut()
    }

    /// Renames the temporary file over the destination.
    ///
    /// # Errors
    /// The OS error of the flush or the rename; the destination is then untouched.
    pub fn commit(self, durability: Durability) -> std::io::Result<()> {
        if durability == Durability::Synced {
            // Flushes the file, whichever handle wrote it (FFmpeg's muxer writes by path).
            self.tmp.as_file().sync_data()?;
        }
        self.tmp.persist(&self.dest).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Why an input file could not be read within its bound.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not a regular file (a folder, FIFO, device or socket).
    #[error("{}: is {what}, not a regular file", path.display())]
    NotAFile {
        /// The file.
        path: PathBuf,
        /// What it is instead ("a folder", "a FIFO", ...).
        what: &'static str,
    },
    /// Longer than the limit for its kind.
    #[error("{}: {what} larger than the limit of {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Which kind of file ("metadata file", "font", ...).
        what: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
    /// The OS refused (missing, no permission, ...).
    #[error("{}: cannot read {what}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Which kind of file.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

impl ReadError {
    /// The file it names.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::NotAFile { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::Io { path, .. } => path,
        }
    }

    /// Whether it is the size limit (exit code 5) rather than an unreadable file.
    pub fn is_limit(&self) -> bool {
        matches!(self, ReadError::TooLarge { .. })
    }
}

/// What a non-regular file is, for messages.
fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads at most `limit` bytes of the regular file `path`; `what` names its kind in errors.
///
/// # Errors
/// [`ReadError`] naming the file: not a regular file, longer than `limit`, or unreadable.
pub fn read_bounded(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| ReadError::Io { path: path.to_owned(), what, source };
    // Non-blocking open: opening a FIFO for reading would otherwise wait for a writer forever.
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile { path: path.to_owned(), what: file_kind(meta.file_type()) });
    }
    let too_large = || ReadError::TooLarge { path: path.to_owned(), what, limit };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // One byte past the limit tells a file that grew while being read.
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Results computed once and shared by every job of a process, by a key that names all of
/// their inputs, within a byte budget: when an insert would exceed it, the cache starts over
/// (a batch's shared layers are back after one job each).
pub struct Memo<V, K = [u8; 32]> {
    entries: std::sync::Mutex<MemoEntries<K, V>>,
    budget: usize,
}

/// A [`Memo`]'s values and the bytes they hold.
type MemoEntries<K, V> = (std::collections::HashMap<K, std::sync::Arc<V>>, usize);

impl<V, K: std::hash::Hash + Eq> Memo<V, K> {
    /// An empty memo keeping at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Memo { entries: std::sync::Mutex::new((std::collections::HashMap::new(), 0)), budget }
    }

    /// The value for `key`, made by `make` (with its size in bytes) when missing. `make` runs
    /// outside the lock: two jobs may make the same value once each, never wait on each other.
    ///
    /// # Errors
    /// `make`'s error (nothing is kept).
    pub fn get_or_make<E>(
        &self,
        key: K,
        make: impl FnOnce() -> Result<(V, usize), E>,
    ) -> Result<std::sync::Arc<V>, E> {
        if let Some(hit) = self.entries.lock().unwrap_or_else(|e| e.into_inner()).0.get(&key) {
            return Ok(hit.clone());
        }
        let (value, bytes) = make()?;
        let value = std::sync::Arc::new(value);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.1 + bytes > self.budget {
            entries.0.clear();
            entries.1 = 0;
        }
        if bytes <= self.budget {
            entries.0.insert(key, value.clone());
            entries.1 += bytes;
        }
        Ok(value)
    }

    /// Drops every entry.
    pub fn clear(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.0.clear();
        entries.1 = 0;
    }
}

/// Identifies a file without reading it: canonical path, size, modification time. What a
/// cover's hash records of its video and fonts (a 20 MB font's bytes took ~3 ms to hash, at
/// the start of every batch); rewriting a file moves its modification time.
///
/// # Errors
/// When the file cannot be found or its metadata read.
pub fn identity(path: &Path) -> std::io::Result<String> {
    let canonical = std::fs::canonicalize(path)?;
    let meta = std::fs::metadata(&canonical)?;
    let mtime = meta.modified()?.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    Ok(format!("{}\u{0}{}\u{0}{mtime}", canonical.display(), meta.len()))
}

/// As [`read_bounded`], as UTF-8 text; a leading byte-order mark is dropped.
///
/// # Errors
/// As [`read_bounded`]; invalid UTF-8 is an I/O error of kind `InvalidData`.
pub fn read_text_bounded(path: &Path, limit: u64, what: &'static str) -> Result<String, ReadError> {
    let bytes = read_bounded(path, limit, what)?;
    let mut text = String::from_utf8(bytes).map_err(|e| ReadError::Io {
        path: path.to_owned(),
        what,
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()),
        ),
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..3);
    }
    Ok(text)
}

/// The folders files named by metadata and templates may be read from (a template path, a
/// watermark, an image layer): the data folder's `templates/`, `assets/` and `fonts/`, the system
/// font folders, and folders the operator adds (`--allow-path`, a batch's INPUT folder). The
/// metadata file's own folder and the template's are added per job. Symlinks are resolved first,
/// so a link inside a root that points out of it is outside.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    dirs: Vec<PathBuf>,
}

impl Roots {
    /// Roots over `dirs`; folders that do not exist are left out.
    pub fn new(dirs: impl IntoIterator<Item = PathBuf>) -> Self {
        let mut roots = Roots::default();
        for d in dirs {
            roots.allow(&d);
        }
        roots
    }

    /// Adds a folder (ignored when it does not exist).
    pub fn allow(&mut self, dir: &Path) {
        if let Ok(d) = dir.canonicalize() {
            if !self.dirs.contains(&d) {
                self.dirs.push(d);
            }
        }
    }

    /// The folders, resolved.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Fine when `path`, symlinks resolved, lies inside a root or one of `also`. A path that does
    /// not exist passes: reading it reports that it is missing.
    ///
    /// # Errors
    /// [`OutsideRoots`] naming the path, where it resolves to, and how to allow it.
    pub fn check(&self, path: &Path, also: &[&Path]) -> Result<(), OutsideRoots> {
        let Ok(real) = path.canonicalize() else { return Ok(()) };
        let inside = |d: &Path| real.starts_with(d);
        // An empty folder is the current one (the parent of a bare file name).
        let resolve = |d: &&Path| {
            if d.as_os_str().is_empty() {
                Path::new(".").canonicalize()
            } else {
                d.canonicalize()
            }
        };
        if self.dirs.iter().any(|d| inside(d))
            || also.iter().filter_map(|d| resolve(d).ok()).any(|d| inside(&d))
        {
            return Ok(());
        }
        Err(OutsideRoots { path: path.to_owned(), resolved: real })
    }
}

/// A file named by metadata or a template lies outside the [`Roots`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{} is outside the folders inputs may be read from; pass --allow-path DIR to allow its folder",
    path.display(),
    if resolved == path { String::new() } else { format!(" (resolves to {})", resolved.display()) })]
pub struct OutsideRoots {
    /// The path as named.
    pub path: PathBuf,
    /// Where it leads, symlinks resolved.
    pub resolved: PathBuf,
}

/// A video's identity by content, the same on every host (a fleet's job hash must not depend on
/// where a file sits): BLAKE3 of its bytes, streamed. Cached by (device, inode, size, modification
/// time) in memory and in `$XDG_CACHE_HOME/coverforge/hashes`, so only new or changed files are
/// read.
///
/// # Errors
/// The OS error when the file cannot be read.
pub fn content_identity(path: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt;
    static MEMORY: std::sync::Mutex<Option<std::collections::HashMap<String, String>>> =
        std::sync::Mutex::new(None);
    let m = std::fs::metadata(path)?;
    let key = format!("{}-{}-{}-{}.{}", m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec());
    if let Some(hit) =
        MEMORY.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(Default::default).get(&key)
    {
        return Ok(hit.clone());
    }
    let dir = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("coverforge/hashes");
    let on_disk = dir.join(&key);
    let id = match std::fs::read_to_string(&on_disk) {
        Ok(id) if id.len() == 64 => id,
        _ => {
            let file = std::fs::File::open(path)?;
            let id = blake3::Hasher::new().update_reader(file)?.finalize().to_hex().to_string();
            if std::fs::create_dir_all(&dir).is_ok() {
                let _ = write_atomic(&on_disk, id.as_bytes(), Durability::Unsynced);
            }
            id
        }
    };
    MEMORY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(Default::default)
        .insert(key, id.clone());
    Ok(id)
}

/// Removes temporary files a killed process left in `folder` (finished files are never
/// temporaries).
pub fn remove_stale_temporaries(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Values read once per key, a caller that asks while another is making the same one waiting
/// for it: for large deterministic reads (a font file, an image's hash, the face model) that
/// every worker of a batch asks for as it starts, and would otherwise all do at once (a 20 MB
/// font read by each of 16 workers). A failed read keeps nothing; the next caller tries again.
pub struct ReadOnce<K, V> {
    slots: std::sync::Mutex<std::collections::HashMap<K, std::sync::Arc<std::sync::Mutex<Option<V>>>>>,
}

impl<K, V> Default for ReadOnce<K, V> {
    fn default() -> Self {
        ReadOnce { slots: std::sync::Mutex::new(std::collections::HashMap::new()) }
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> ReadOnce<K, V> {
    /// The value for `key`, made by `make` if no caller has made it yet.
    ///
    /// # Errors
    /// `make`'s error, when this caller made it and it failed.
    pub fn get_or_try_make<E>(&self, key: K, make: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        let slot = self.slots.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone();
        // Only this key's slot is held while making: other keys go on.
        let mut value = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = value.as_ref() {
            return Ok(v.clone());
        }
        let made = make()?;
        *value = Some(made.clone());
        Ok(made)
    }

    /// Whether a value for `key` has been made.
    pub fn has<Q>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let slot = self.slots.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned();
        slot.is_some_and(|s| s.lock().unwrap_or_else(|e| e.into_inner()).is_some())
    }

    /// Forgets every value (each is made again on next use).
    pub fn clear(&self) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_resolve_symlinks_and_accept_the_folders_given() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("in");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(inside.join("t.tera"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", inside.join("link.tera")).unwrap();
        let roots = Roots::new([inside.clone()]);
        assert!(roots.check(&inside.join("t.tera"), &[]).is_ok());
        assert!(roots.check(&inside.join("../in/t.tera"), &[]).is_ok());
        let e = roots.check(&inside.join("link.tera"), &[]).unwrap_err().to_string();
        assert!(e.contains("resolves to /etc/passwd") && e.contains("--allow-path"), "{e}");
        assert!(roots.check(Path::new("/etc/passwd"), &[]).is_err());
        assert!(roots.check(Path::new("/etc/passwd"), &[Path::new("/etc")]).is_ok());
        assert!(roots.check(&inside.join("missing"), &[]).is_ok(), "reading reports it missing");
    }

    #[test]
    fn bounded_reads_refuse_devices_fifos_and_long_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_bounded(Path::new("/dev/zero"), 1024, "metadata file").unwrap_err();
        assert!(matches!(e, ReadError::NotAFile { what: "a character device", .. }), "{e}");
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = read_bounded(&fifo, 1024, "template").unwrap_err();
        assert!(matches!(e, ReadError::NotAFile { what: "a FIFO", .. }), "{e}");
        let e = read_bounded(dir.path(), 1024, "template").unwrap_err();
        assert!(e.to_string().ends_with("is a folder, not a regular file"), "{e}");
        let long = dir.path().join("long");
        std::fs::write(&long, vec![b'a'; 2000]).unwrap();
        let e = read_bounded(&long, 1024, "metadata file").unwrap_err();
        assert!(
            e.is_limit() && e.to_string().contains("metadata file larger than the limit of 1024 bytes"),
            "{e}"
        );
        assert_eq!(read_bounded(&long, 2000, "x").unwrap().len(), 2000);
        std::fs::write(&long, "\u{feff}title: a\n").unwrap();
        assert_eq!(read_text_bounded(&long, 100, "x").unwrap(), "title: a\n");
    }

    #[test]
    fn writes_whole_files_and_leaves_no_temporary_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.jpg");
        write_atomic(&out, b"first", Durability::Synced).unwrap();
        write_atomic(&out, b"second", Durability::Unsynced).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"second");
        {
            let mut s = Staged::new(&out).unwrap();
            s.file().write_all(b"partial").unwrap();
        } // dropped without commit
        assert_eq!(std::fs::read(&out).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let err = write_atomic(&dir.path().join("missing/x.jpg"), b"x", Durability::Synced).unwrap_err();
        assert!(err.to_string().contains("missing/x.jpg: cannot write"), "{err}");
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o644);
    }
    use std::os::unix::fs::PermissionsExt;
}

#[cfg(test)]
mod read_once_tests {
    use super::{Memo, ReadOnce};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn callers_at_once_share_one_read_and_a_failure_is_retried() {
        let cache: ReadOnce<&str, usize> = ReadOnce::default();
        let reads = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let v = cache.get_or_try_make("font", || -> Result<usize, ()> {
                        reads.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        Ok(42)
                    });
                    assert_eq!(v, Ok(42));
                });
            }
        });
        assert_eq!(reads.load(Ordering::SeqCst), 1, "eight callers at once, one read");
        assert_eq!(cache.get_or_try_make("bad", || Err::<usize, _>("unreadable")), Err("unreadable"));
        assert_eq!(cache.get_or_try_make("bad", || Ok::<_, &str>(7)), Ok(7), "a failure is not kept");
        assert_eq!(cache.get_or_try_make("bad", || Ok::<_, &str>(8)), Ok(7));
    }

    #[test]
    fn a_memo_starts_over_rather_than_grow_past_its_budget() {
        let memo: Memo<String, (u32, u8)> = Memo::new(10);
        let make = |made: &std::cell::Cell<u32>, s: &str| {
            made.set(made.get() + 1);
            Ok::<_, ()>((s.to_owned(), s.len()))
        };
        let made = std::cell::Cell::new(0);
        assert_eq!(*memo.get_or_make((1, 0), || make(&made, "four")).unwrap(), "four");
        assert_eq!(*memo.get_or_make((1, 0), || make(&made, "four")).unwrap(), "four");
        assert_eq!(made.get(), 1, "a kept value is not made again");
        memo.get_or_make((2, 0), || make(&made, "five!")).unwrap();
        // 4 + 5 + 3 bytes would exceed 10: the memo starts over with the newcomer alone.
        memo.get_or_make((3, 0), || make(&made, "six")).unwrap();
        memo.get_or_make((3, 0), || make(&made, "six")).unwrap();
        assert_eq!(made.get(), 3);
        memo.get_or_make((1, 0), || make(&made, "four")).unwrap();
        assert_eq!(made.get(), 4, "dropped when the memo started over");
        // A value larger than the whole budget is returned but never kept.
        memo.get_or_make((4, 0), || make(&made, "eleven byte")).unwrap();
        memo.get_or_make((4, 0), || make(&made, "eleven byte")).unwrap();
        assert_eq!(made.get(), 6);
    }
}
