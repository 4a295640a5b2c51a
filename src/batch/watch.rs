//! `batch --watch`: a long run that renders again whatever an edit affects.
//!
//! After the first pass it watches folders, not files (editors that save by renaming would
//! drop a per-file watch): INPUT (or the manifest's folder), the data folder's `templates/`,
//! `fonts/` and `assets/`, and any other folders the caller adds. Changes (writes, creations,
//! renames, removals of input kinds of file; never reads, which every pass does) are debounced;
//! each burst starts a new pass, and the batch's input hash decides which covers to render again.
//!
//! Snapshots: one [`Env`] lives across passes and forgets, before each pass, what the burst
//! changed ([`Env::forget_changed`]): fonts, glyphs and file hashes stay warm, images and fonts
//! that changed are read afresh, and templates are compared with their text on every use. A job
//! reads each file once, so a cover never mixes two revisions of one file; an edit during a pass
//! starts another pass. An edit that breaks a template fails the jobs using it with the
//! error's file and line, and leaves their last good covers on disk (outputs are only ever
//! replaced by complete new ones); fixing it renders them again on the next pass.
//!
//! Frames: the caller gives the [`FrameCache`] a memory tier, kept across passes, so a re-render
//! decodes nothing unless `frame: auto` has to choose anew.

use super::{run, BatchError, Options, Summary};
use crate::env::Env;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// How long a burst of file events must be quiet before a pass starts.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// What the watcher reports after each pass.
pub struct Pass {
    /// 1 for the first pass.
    pub number: usize,
    /// The files whose change started it (empty for the first pass).
    pub changed: Vec<PathBuf>,
    /// The pass's outcome.
    pub result: Result<Summary, BatchError>,
}

/// Runs the batch, then runs it again after every burst of changes in `folders`, until
/// `on_pass` returns `false` or the watch fails. `make_env` gives each pass its snapshot.
///
/// # Errors
/// [`BatchError::Io`] when the folders cannot be watched.
pub fn watch(
    input: &Path,
    opts: &Options,
    folders: &[PathBuf],
    make_env: &dyn Fn() -> Env,
    on_pass: &mut dyn FnMut(&Pass) -> bool,
) -> Result<(), BatchError> {
    let env = make_env();
    let first = Pass { number: 1, changed: Vec::new(), result: run(input, opts, &env) };
    if !on_pass(&first) {
        return Ok(());
    }
    let mut number = 1;
    watch_folders(folders, &opts.outdir, &mut |changed| {
        number += 1;
        // Warm fonts, glyphs and hashes stay; what changed is read afresh.
        env.forget_changed(&changed);
        let pass = Pass { number, result: run(input, opts, &env), changed };
        on_pass(&pass)
    })
    .map_err(|(path, source)| BatchError::Io { path, what: "cannot watch", source })
}

/// Watches `folders` (not recursively) and calls `on_burst` with the input files changed in each
/// burst of changes (debounced by [`DEBOUNCE`]; reads, files under `ignore` and files that are
/// not inputs do not count), until it returns `false`.
///
/// # Errors
/// The folder that cannot be watched, and why.
pub fn watch_folders(
    folders: &[PathBuf],
    ignore: &Path,
    on_burst: &mut dyn FnMut(Vec<PathBuf>) -> bool,
) -> Result<(), (PathBuf, std::io::Error)> {
    let fail = |path: &Path, e: notify::Error| (path.to_owned(), std::io::Error::other(e.to_string()));
    let (tx, rx) = std::sync::mpsc::channel::<PathBuf>();
    let ignore = ignore.canonicalize().unwrap_or_else(|_| ignore.to_owned());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Reads are not changes: every pass reads its inputs, and must not start the next.
        if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
            return;
        }
        for path in event.paths.into_iter().filter(|p| relevant(p, &ignore)) {
            let _ = tx.send(path);
        }
    })
    .map_err(|e| fail(Path::new("."), e))?;
    for folder in folders.iter().filter(|f| f.is_dir()) {
        watcher.watch(folder, RecursiveMode::NonRecursive).map_err(|e| fail(folder, e))?;
    }
    // A burst ends when no change has come for DEBOUNCE.
    while let Ok(first) = rx.recv() {
        let mut changed = vec![first];
        loop {
            match rx.recv_timeout(DEBOUNCE) {
                Ok(path) => changed.push(path),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
        changed.sort();
        changed.dedup();
        if !on_burst(changed) {
            break;
        }
    }
    Ok(())
}

/// The kinds of file a cover can depend on: metadata, templates and manifests, fonts, images,
/// the face model, videos.
const INPUT_EXTENSIONS: &[&str] =
    &["yaml", "yml", "tera", "csv", "ttf", "otf", "ttc", "png", "jpg", "jpeg", "webp", "bmp", "xml"];

/// Whether a changed path can affect a cover: a file of an input kind, not in the output folder,
/// and not a temporary (ours, or an editor's). Reports, logs and proof sheets written beside the
/// inputs start no pass, or every pass would start the next.
fn relevant(path: &Path, outdir: &Path) -> bool {
    let real = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    if real.starts_with(outdir) || path.starts_with(outdir) {
        return false;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.starts_with(crate::files::TEMP_PREFIX) || name.starts_with(".#") || name.starts_with('.') {
        return false;
    }
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    INPUT_EXTENSIONS.contains(&ext.as_str()) || crate::model::VIDEO_EXTENSIONS.contains(&ext.as_str())
}

#[cfg(test)]
mod tests {
    use super::relevant;
    use std::path::Path;

    #[test]
    fn our_outputs_and_editor_litter_start_no_pass() {
        let out = Path::new("/w/out");
        assert!(relevant(Path::new("/w/tpl/brand.yaml.tera"), out));
        assert!(relevant(Path::new("/w/clip.yaml"), out));
        assert!(!relevant(Path::new("/w/out/clip.jpg"), out));
        assert!(!relevant(Path::new("/w/.coverforge-x1.tmp"), out));
        assert!(!relevant(Path::new("/w/tpl/.brand.yaml.tera.swp"), out));
        assert!(!relevant(Path::new("/w/tpl/brand.yaml.tera~"), out));
        assert!(!relevant(Path::new("/w/report.jsonl"), out), "a report beside the inputs");
        assert!(!relevant(Path::new("/w/proof.html"), out));
        assert!(relevant(Path::new("/w/clip.MP4"), out));
        assert!(relevant(Path::new("/w/fonts/x.ttc"), out));
    }
}
