//! Writing files so that a reader never sees half of one: bytes go to a temporary file in the
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

#[cfg(test)]
mod tests {
    use super::*;

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
