//! Stage 2a: read one video's metadata YAML into [`Metadata`].
//!
//! Invariants: unknown keys are errors (with a "did you mean" hint), every error names the file
//! and line, relative paths are resolved against the YAML's folder, and a link is an absolute
//! `http`/`https` URL. All validation problems of one file are reported together.

use crate::limits::Limits;
use crate::model::FrameSpec;
use crate::model::{Diagnostic, Diagnostics};
use serde::{Deserialize, Serialize};

pub mod variants;
use std::path::{Path, PathBuf};

/// The keys a metadata file may have, for typo hints.
const KEYS: &[&str] =
    &["template", "title", "subtitle", "author", "watermark", "link", "frame", "vars", "variants"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetadata {
    template: Option<String>,
    title: String,
    subtitle: Option<String>,
    author: Option<String>,
    watermark: Option<PathBuf>,
    link: Option<RawLink>,
    frame: Option<RawFrame>,
    #[serde(default)]
    vars: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    url: String,
    #[serde(default)]
    utm: Utm,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFrame {
    Seconds(f64),
    Text(String),
}

/// UTM campaign parameters, added to a link's query in this order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Utm {
    /// `utm_source`, e.g. `douyin`.
    pub source: Option<String>,
    /// `utm_medium`, e.g. `cover_qr`.
    pub medium: Option<String>,
    /// `utm_campaign`.
    pub campaign: Option<String>,
    /// `utm_term`.
    pub term: Option<String>,
    /// `utm_content`, e.g. an A/B variant.
    pub content: Option<String>,
}

impl Utm {
    fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("utm_source", &self.source),
            ("utm_medium", &self.medium),
            ("utm_campaign", &self.campaign),
            ("utm_term", &self.term),
            ("utm_content", &self.content),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    }
}

/// A link as written and as tracked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// The URL as written in the metadata.
    pub url: String,
    /// UTM parameters.
    pub utm: Utm,
    /// The URL with the UTM parameters added: what the QR code encodes.
    pub tracked: String,
}

/// One video's metadata, validated, with paths resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    /// The file this came from.
    pub source: PathBuf,
    /// Template name or path, if the file names one.
    pub template: Option<String>,
    /// The title.
    pub title: String,
    /// Optional subtitle.
    pub subtitle: Option<String>,
    /// Optional author line.
    pub author: Option<String>,
    /// Watermark image, resolved against the YAML's folder; it exists.
    pub watermark: Option<PathBuf>,
    /// Optional link, becomes a QR code.
    pub link: Option<Link>,
    /// Which frame to use.
    pub frame: FrameSpec,
    /// Free values for templates.
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// The A/B variant this is, when the file has `variants:`.
    pub variant: Option<String>,
}

/// Where a job's metadata comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaSource {
    /// A sidecar or `meta:` file.
    File(PathBuf),
    /// Values written in a manifest, as YAML text; `origin` names the manifest and row.
    Inline {
        /// The manifest (for messages and relative paths).
        origin: PathBuf,
        /// Which job in it, 1-based.
        row: usize,
        /// The values as a YAML document.
        yaml: String,
    },
    /// The job cannot run; the text says why.
    Invalid(String),
}

impl MetaSource {
    /// How reports name it: the file, or the manifest and job number.
    pub fn label(&self) -> String {
        match self {
            MetaSource::File(p) => p.display().to_string(),
            MetaSource::Inline { origin, row, .. } => format!("{} (job {row})", origin.display()),
            MetaSource::Invalid(_) => String::new(),
        }
    }
}

/// Reads and validates metadata from wherever a job has it, over `defaults` (a folder's
/// `defaults.yaml` or a manifest's `defaults:`).
///
/// # Errors
/// As [`load`]; an [`MetaSource::Invalid`] job's reason names `video`. Messages for inline
/// metadata name the manifest and job (`jobs.yaml#job3`); relative paths resolve against the
/// manifest's folder.
pub fn load_source(
    source: &MetaSource,
    video: &Path,
    defaults: Option<&serde_yaml_ng::Mapping>,
    limits: &Limits,
) -> Result<Metadata, Diagnostics> {
    match source {
        MetaSource::Invalid(msg) => Err(Diagnostic::new(video, msg.clone()).into()),
        MetaSource::File(path) => {
            let text = read_limited(path, limits)?;
            parse_with_defaults(&text, path, defaults, limits)
        }
        MetaSource::Inline { origin, row, yaml } => {
            let name = origin.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let label = origin.with_file_name(format!("{name}#job{row}"));
            parse_with_defaults(yaml, &label, defaults, limits)
        }
    }
}

/// As [`load_source`], one [`Metadata`] per A/B variant (see [`parse_variants`]).
///
/// # Errors
/// As [`load_source`].
pub fn load_variants(
    source: &MetaSource,
    video: &Path,
    defaults: Option<&serde_yaml_ng::Mapping>,
    limits: &Limits,
) -> Result<Vec<Metadata>, Diagnostics> {
    match source {
        MetaSource::Invalid(msg) => Err(Diagnostic::new(video, msg.clone()).into()),
        MetaSource::File(path) => {
            let text = read_limited(path, limits)?;
            parse_variants(&text, path, defaults, limits)
        }
        MetaSource::Inline { origin, row, yaml } => {
            let name = origin.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let label = origin.with_file_name(format!("{name}#job{row}"));
            parse_variants(yaml, &label, defaults, limits)
        }
    }
}

/// Reads and validates a metadata file.
///
/// # Errors
/// [`Diagnostics`] naming the file, line and column of each problem: unreadable file,
/// malformed YAML, unknown or missing keys, a bad link, frame or watermark, a title too long.
pub fn load(path: &Path, limits: &Limits) -> Result<Metadata, Diagnostics> {
    let text = read_limited(path, limits)?;
    parse(&text, path, limits)
}

/// A metadata file's text, read up to the limit (see [`crate::files::read_bounded`]).
fn read_limited(path: &Path, limits: &Limits) -> Result<String, Diagnostics> {
    crate::files::read_text_bounded(path, limits.max_metadata_bytes, "metadata file")
        .map_err(|e| read_diagnostic(&e).into())
}

/// A bounded read's failure as a diagnostic on its file (a limit for an over-long one).
pub fn read_diagnostic(e: &crate::files::ReadError) -> Diagnostic {
    let message = e.to_string();
    let message = message.strip_prefix(&format!("{}: ", e.path().display())).unwrap_or(&message).to_string();
    if e.is_limit() {
        Diagnostic::limit(e.path(), message)
    } else {
        Diagnostic::new(e.path(), message)
    }
}

/// Parses metadata text; `path` is used for messages and to resolve relative paths.
///
/// # Errors
/// As [`load`].
pub fn parse(text: &str, path: &Path, limits: &Limits) -> Result<Metadata, Diagnostics> {
    parse_with_defaults(text, path, None, limits)
}

/// Parses metadata text over `defaults` (a `defaults.yaml` mapping): keys missing from the text
/// come from the defaults; nested mappings (`link`, `utm`, `vars`) merge key by key.
///
/// # Errors
/// As [`load`]; type and unknown-key errors found after merging are located by key name.
pub fn parse_with_defaults(
    text: &str,
    path: &Path,
    defaults: Option<&serde_yaml_ng::Mapping>,
    limits: &Limits,
) -> Result<Metadata, Diagnostics> {
    let mut all = parse_variants(text, path, defaults, limits)?;
    if all.len() > 1 || all[0].variant.is_some() {
        let ids: Vec<&str> = all.iter().filter_map(|m| m.variant.as_deref()).collect();
        return Err(Diagnostic::new(path, format!("has variants ({}): pick one", ids.join(", ")))
            .at(line_of_key(text, "variants"), None)
            .into());
    }
    Ok(all.remove(0))
}

/// Parses metadata text over `defaults` into one [`Metadata`] per A/B variant: the file itself
/// when it has no `variants:` (its `variant` is `None`), else each variant with its overrides
/// merged over the file (nested `link`, `utm` and `vars` key by key) and its id as the link's
/// `utm_content` (unless the variant sets `utm_content` itself). See [`variants`] for the forms.
///
/// # Errors
/// As [`load`], for every variant at once; a set larger than `limits.max_variants` is a limit.
pub fn parse_variants(
    text: &str,
    path: &Path,
    defaults: Option<&serde_yaml_ng::Mapping>,
    limits: &Limits,
) -> Result<Vec<Metadata>, Diagnostics> {
    let mut value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| yaml_diagnostic(path, &e, KEYS))?;
    if value.is_null() {
        value = serde_yaml_ng::Value::Mapping(Default::default());
    }
    let spec = value.as_mapping_mut().and_then(|m| m.remove("variants"));
    if let Some(defaults) = defaults {
        merge_defaults(&mut value, defaults);
    }
    let Some(spec) = spec else {
        if defaults.is_none() {
            // Straight from the text: errors keep their exact line and column.
            let raw = serde_yaml_ng::from_str(text).map_err(|e| yaml_diagnostic(path, &e, KEYS))?;
            return Ok(vec![validate(raw, text, path, limits)?]);
        }
        return Ok(vec![from_value(value, text, path, limits)?]);
    };
    let at = line_of_key(text, "variants");
    let list = variants::expand(&spec, limits.max_variants).map_err(|m| {
        let d = if m.limit { Diagnostic::limit(path, m.message) } else { Diagnostic::new(path, m.message) };
        Diagnostics::from(d.at(at, None))
    })?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for v in list {
        if let Some(clash) = variants::deliverable_clash(path, &v.id) {
            problems.push(
                Diagnostic::new(
                    path,
                    format!("variant id `{}` clashes with the deliverable {}", v.id, clash.display()),
                )
                .at(at, None),
            );
            continue;
        }
        let merged = v.merged_over(&value);
        match from_value(merged, text, path, limits) {
            Ok(mut m) => {
                m.variant = Some(v.id);
                out.push(m);
            }
            Err(ds) => problems.extend(ds.0.into_iter().map(|mut d| {
                d.message = format!("variant `{}`: {}", v.id, d.message);
                d
            })),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(problems))
    }
}

/// Validates one merged metadata mapping (`text` locates problems by key).
fn from_value(
    value: serde_yaml_ng::Value,
    text: &str,
    path: &Path,
    limits: &Limits,
) -> Result<Metadata, Diagnostics> {
    let raw: RawMetadata = serde_yaml_ng::from_value(value).map_err(|e| {
        let mut d = yaml_diagnostic(path, &e, KEYS);
        // No position in a merged value: point at the key the message names, if any.
        if d.line.is_none() {
            if let Some(key) = d.message.split('`').nth(1) {
                d.line = line_of_key(text, key);
            }
        }
        d
    })?;
    validate(raw, text, path, limits)
}

/// Checks one deserialized metadata: lengths, watermark, link, frame.
fn validate(raw: RawMetadata, text: &str, path: &Path, limits: &Limits) -> Result<Metadata, Diagnostics> {
    let mut problems = Vec::new();
    let at_key = |key: &str| line_of_key(text, key);
    let base = path.parent().unwrap_or(Path::new("."));

    for (key, value) in
        [("title", Some(&raw.title)), ("subtitle", raw.subtitle.as_ref()), ("author", raw.author.as_ref())]
    {
        if let Some(v) = value {
            let n = v.chars().count();
            if n > limits.max_text_chars {
                problems.push(
                    Diagnostic::limit(
                        path,
                        format!("{key} has {n} characters, exceeding the limit of {}", limits.max_text_chars),
                    )
                    .at(at_key(key), None),
                );
            }
        }
    }
    if raw.title.trim().is_empty() {
        problems.push(Diagnostic::new(path, "title is empty").at(at_key("title"), None));
    }

    // Absolute, so templates in another folder can use it as is.
    let watermark = raw.watermark.map(|w| {
        let joined = base.join(w);
        std::path::absolute(&joined).unwrap_or(joined)
    });
    if let Some(w) = &watermark {
        if !w.is_file() {
            problems.push(
                Diagnostic::new(path, format!("watermark file {} does not exist", w.display()))
                    .at(at_key("watermark"), None)
                    .hint("relative paths are resolved against the metadata file's folder"),
            );
        }
    }

    let link = match raw.link {
        None => None,
        Some(l) => match tracked_url(&l.url, &l.utm) {
            Ok(tracked) => Some(Link { url: l.url, utm: l.utm, tracked }),
            Err(e) => {
                problems.push(Diagnostic::new(path, e.to_string()).at(at_key("url"), None));
                None
            }
        },
    };

    let frame = match raw.frame {
        None => FrameSpec::Auto,
        Some(RawFrame::Seconds(s)) if s.is_finite() && s >= 0.0 => FrameSpec::Seconds(s),
        Some(RawFrame::Seconds(s)) => {
            problems.push(
                Diagnostic::new(path, format!("frame {s} must be zero or positive seconds"))
                    .at(at_key("frame"), None),
            );
            FrameSpec::Auto
        }
        Some(RawFrame::Text(t)) => t.parse().unwrap_or_else(|msg: String| {
            problems.push(Diagnostic::new(path, msg).at(at_key("frame"), None));
            FrameSpec::Auto
        }),
    };

    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    Ok(Metadata {
        source: path.to_owned(),
        template: raw.template,
        title: raw.title,
        subtitle: raw.subtitle,
        author: raw.author,
        watermark,
        link,
        frame,
        vars: raw.vars,
        variant: None,
    })
}

/// Fills keys missing from `value` with those of `defaults`, recursing into nested mappings.
fn merge_defaults(value: &mut serde_yaml_ng::Value, defaults: &serde_yaml_ng::Mapping) {
    let serde_yaml_ng::Value::Mapping(map) = value else { return };
    for (k, dv) in defaults {
        match (map.get_mut(k), dv) {
            (None, _) => {
                map.insert(k.clone(), dv.clone());
            }
            (Some(v @ serde_yaml_ng::Value::Mapping(_)), serde_yaml_ng::Value::Mapping(dm)) => {
                merge_defaults(v, dm)
            }
            _ => {}
        }
    }
}

/// A link that cannot carry tracking parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("link url `{url}` {reason}")]
pub struct LinkError {
    /// The URL as given (an excerpt when long).
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Adds UTM parameters to `url`, keeping its existing query (byte for byte, minus any `utm_*`
/// keys we set) and fragment, percent-encoding the values.
///
/// # Errors
/// [`LinkError`] quoting (an excerpt of) the URL when it is not an absolute `http`/`https` URL
/// with a host.
pub fn tracked_url(url: &str, utm: &Utm) -> Result<String, LinkError> {
    let quoted = crate::model::diagnostics::excerpt(url);
    let mut parsed = url::Url::parse(url.trim()).map_err(|e| LinkError {
        url: quoted.clone(),
        reason: format!("is not an absolute http(s) URL ({e})"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(LinkError { url: quoted, reason: "must be an absolute http or https URL".into() });
    }
    let ours: Vec<&str> = utm.pairs().map(|(k, _)| k).collect();
    let mut parts: Vec<String> = parsed
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| !ours.contains(&p.split('=').next().unwrap_or("")))
        .map(str::to_owned)
        .collect();
    for (k, v) in utm.pairs() {
        let v: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
        parts.push(format!("{k}={v}"));
    }
    let query = parts.join("&");
    parsed.set_query(if query.is_empty() { None } else { Some(&query) });
    Ok(parsed.into())
}

/// Turns a serde_yaml_ng error into a located diagnostic, with a "did you mean" hint for
/// unknown keys.
pub(crate) fn yaml_diagnostic(path: &Path, e: &serde_yaml_ng::Error, keys: &[&str]) -> Diagnostic {
    let full = e.to_string();
    // The location is reported separately: drop the first " at line N column M". Scanner
    // errors go on with a context ("while scanning a quoted scalar at line 2 column 8"), which
    // tells where the unclosed construct began: keep it.
    let message = match full.find(" at line ") {
        Some(i) => {
            let rest = &full[i + 9..];
            let after = rest.find(',').map_or("", |j| &rest[j..]);
            format!("{}{}", &full[..i], after.replace(" at line ", " that starts at line "))
        }
        None => full.clone(),
    };
    let loc = e.location();
    let mut d = Diagnostic::new(path, message.clone())
        .at(loc.as_ref().map(|l| l.line()), loc.as_ref().map(|l| l.column()));
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or("");
        if let Some(best) = closest(field, keys) {
            d = d.hint(format!("did you mean `{best}`?"));
        }
    }
    d
}

/// The closest of `candidates` to `word`, if any is close enough to be a plausible typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// 1-based line of the first `key:` in a YAML text, for diagnostics found after parsing.
pub(crate) fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            t.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Metadata, Diagnostics> {
        parse(s, Path::new("meta.yaml"), &Limits::default())
    }

    #[test]
    fn utm_parameters_are_appended_in_order_keeping_the_query() {
        let utm = Utm {
            source: Some("douyin".into()),
            medium: Some("cover qr".into()),
            campaign: Some("秋季".into()),
            term: None,
            content: Some("v1&2".into()),
        };
        let u = tracked_url("https://shop.example.com/item/123?ref=a%20b&utm_source=old#top", &utm).unwrap();
        assert_eq!(
            u,
            "https://shop.example.com/item/123?ref=a%20b&utm_source=douyin&utm_medium=cover+qr\
             &utm_campaign=%E7%A7%8B%E5%AD%A3&utm_content=v1%262#top"
        );
    }

    #[test]
    fn non_http_links_are_rejected_quoting_the_value() {
        for bad in ["javascript:alert(1)", "/item/123", "ftp://x.example/a", "item/123"] {
            let e = tracked_url(bad, &Utm::default()).unwrap_err();
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn unknown_key_gets_line_and_hint() {
        let e = parse_str("template: x\ntitel: hi\n").unwrap_err();
        let d = &e.0[0];
        assert_eq!(d.line, Some(2));
        assert_eq!(d.hint.as_deref(), Some("did you mean `title`?"));
        assert!(d.to_string().starts_with("meta.yaml:2:1: unknown field `titel`"), "{d}");
    }

    #[test]
    fn all_validation_problems_come_together() {
        let e = parse_str("title: hi\nframe: soon\nlink:\n  url: javascript:x\nwatermark: nope.png\n")
            .unwrap_err();
        assert_eq!(e.0.len(), 3, "{e}");
        let lines: Vec<_> = e.0.iter().map(|d| d.line).collect();
        assert!(
            lines.contains(&Some(2)) && lines.contains(&Some(4)) && lines.contains(&Some(5)),
            "{lines:?}"
        );
    }

    #[test]
    fn frame_forms() {
        assert_eq!(parse_str("title: a\nframe: 5.5\n").unwrap().frame, FrameSpec::Seconds(5.5));
        assert_eq!(parse_str("title: a\nframe: \"40%\"\n").unwrap().frame, FrameSpec::Percent(40.0));
        assert_eq!(parse_str("title: a\n").unwrap().frame, FrameSpec::Auto);
    }
}
