//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz) and for `tests/fuzz_corpus.rs`,
//! which replays every saved corpus and crash input on stable. One function per parser; each
//! takes arbitrary bytes and must return (an error is fine) without panicking, hanging or
//! allocating without bound.

use crate::env::Env;
use crate::limits::Limits;
use crate::metadata::{self, Metadata, Utm};
use crate::template::{Compiled, TemplateSource};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The data folder the targets use: the repository (templates, fonts, assets).
fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| Env::new(Path::new(env!("CARGO_MANIFEST_DIR")), Limits::default()))
}

/// Metadata parsing: YAML text → [`Metadata`] or diagnostics.
pub fn metadata(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = metadata::parse(text, Path::new("fuzz.yaml"), &Limits::default());
}

/// A fixed metadata for the template and layout targets.
fn sample_meta() -> Metadata {
    let text = "title: 三分钟学会红烧肉 Braised pork\nsubtitle: 家常做法\nauthor: \"@cook\"\n\
                link:\n  url: https://example.com/a?b=c\n  utm: {source: douyin}\nvars: {n: 3, list: [a, b], flag: true}\n";
    metadata::parse(text, Path::new("fuzz.yaml"), &Limits::default()).expect("the sample metadata parses")
}

fn template_source(text: String) -> TemplateSource {
    TemplateSource { name: "fuzz".into(), path: PathBuf::from("fuzz.yaml.tera"), text }
}

/// Template rendering into a layout: Tera text → rendered YAML → resolved layout.
pub fn template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = env();
    let source = template_source(text.to_string());
    let Ok(compiled) = Compiled::new(source.clone()) else { return };
    let Ok(rendered) = compiled.render(&sample_meta(), &env.limits) else { return };
    let _ = crate::layout::from_rendered(&rendered, &source, env);
}

/// Layout resolution: rendered layout YAML → resolved layout (boxes, wrapped text, QR).
pub fn layout(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = env();
    let _ = crate::layout::from_rendered(text, &template_source(String::new()), env);
}

/// The UTM link builder: the bytes split into a URL and UTM values at NUL bytes.
pub fn utm(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0').map(str::to_string);
    let url = parts.next().unwrap_or_default();
    let mut next = || parts.next().filter(|p| !p.is_empty());
    let utm = Utm { source: next(), medium: next(), campaign: next(), term: next(), content: next() };
    if let Ok(tracked) = metadata::tracked_url(&url, &utm) {
        // What we build must parse back as an absolute http(s) URL.
        let back = url::Url::parse(&tracked).expect("a tracked URL parses");
        assert!(matches!(back.scheme(), "http" | "https"), "{tracked}");
    }
}

/// Media probing and keyframe decoding on arbitrary bytes (written to a temporary file: FFmpeg
/// reads files).
pub fn media(data: &[u8]) {
    let Ok(mut file) = tempfile::Builder::new().suffix(".mp4").tempfile() else { return };
    if std::io::Write::write_all(&mut file, data).is_err() {
        return;
    }
    let limits = Limits::default();
    let _deadline = crate::av::start_deadline(5.0);
    if crate::probe::probe(file.path(), &limits).is_ok() {
        let _ = crate::keyframe::extract(file.path(), crate::model::FrameSpec::Seconds(0.0), &limits);
    }
}
