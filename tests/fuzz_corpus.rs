//! Replays every saved fuzz input on stable: the minimised corpora in `fuzz/corpus/TARGET/` and
//! any crash or timeout the fuzzers found, kept in `fuzz/artifacts/TARGET/` once fixed. Each input
//! goes through the same entry point as the fuzz target (`coverforge::fuzzing`), so a fixed bug
//! stays fixed without nightly or cargo-fuzz.

mod common;
use common::repo;

fn replay(target: &str, run: fn(&[u8])) {
    let mut n = 0;
    for dir in [repo(&format!("fuzz/corpus/{target}")), repo(&format!("fuzz/artifacts/{target}"))] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            let started = std::time::Instant::now();
            run(&bytes);
            let took = started.elapsed().as_secs_f64();
            assert!(took < 10.0, "{}: {took:.1} s", path.display());
            n += 1;
        }
    }
    assert!(n > 0, "no saved inputs for {target}");
}

#[test]
fn metadata_corpus() {
    replay("metadata", coverforge::fuzzing::metadata);
}

#[test]
fn template_corpus() {
    replay("template", coverforge::fuzzing::template);
}

#[test]
fn layout_corpus() {
    replay("layout", coverforge::fuzzing::layout);
}

#[test]
fn utm_corpus() {
    replay("utm", coverforge::fuzzing::utm);
}

#[test]
fn media_corpus() {
    replay("media", coverforge::fuzzing::media);
}
