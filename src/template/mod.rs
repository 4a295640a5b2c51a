//! Stage 2b: render a Tera template into layout text (YAML).
//!
//! Safety invariant: every `{{ expression }}` is written as a quoted YAML scalar (our escape
//! function quotes and escapes it), so a title containing quotes, colons, newlines, `{{ }}` or
//! YAML syntax stays one literal string and can never add or change layers. Layout numbers accept
//! quoted numerals for the same reason. Rendering stops as soon as the output exceeds the
//! template-output limit, before it can grow without bound.

mod guard;

use crate::files::Roots;
use crate::limits::Limits;
use crate::metadata::{closest, Metadata};
use crate::model::{Diagnostic, Diagnostics};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A template's text and where it came from.
#[derive(Debug, Clone)]
pub struct TemplateSource {
    /// Short name (file stem without `.yaml.tera`).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// Finds a template by name (`douyin-9x16` → `templates/douyin-9x16.yaml.tera`) or by path
/// (anything with a `/` or ending in `.tera`).
///
/// # Errors
/// A diagnostic naming the template, the folder searched and the closest known name.
pub fn find(
    name_or_path: &str,
    templates_dir: &Path,
    referrer: &Path,
    limits: &Limits,
) -> Result<TemplateSource, Diagnostics> {
    let as_path = is_path(name_or_path);
    let path = if as_path {
        PathBuf::from(name_or_path)
    } else {
        templates_dir.join(format!("{name_or_path}.yaml.tera"))
    };
    let text = match crate::files::read_text_bounded(&path, limits.max_template_bytes, "template") {
        Ok(t) => t,
        // Found but unusable (too long, a FIFO, not UTF-8): say so about the template itself.
        Err(e) if path.exists() => return Err(crate::metadata::read_diagnostic(&e).into()),
        Err(e) => {
            let known = available(templates_dir);
            let mut d = if as_path {
                Diagnostic::new(
                    referrer,
                    format!("cannot read template {}: {}", path.display(), io_reason(&e)),
                )
            } else {
                Diagnostic::new(
                    referrer,
                    format!(
                        "unknown template `{name_or_path}` (looked for {}; available: {})",
                        path.display(),
                        known.join(", ")
                    ),
                )
            };
            let refs: Vec<&str> = known.iter().map(String::as_str).collect();
            if let Some(best) = closest(name_or_path, &refs) {
                d = d.hint(format!("did you mean `{best}`?"));
            }
            return Err(d.into());
        }
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.trim_end_matches(".tera").trim_end_matches(".yaml").to_string())
        .unwrap_or_else(|| name_or_path.to_string());
    Ok(TemplateSource { name, path, text })
}

/// The template a job uses: `template_override` (a name or a path relative to the current
/// folder), else the metadata's `template` key (a path there is relative to the metadata's
/// folder, like the watermark).
///
/// # Errors
/// A diagnostic pointing at whoever named the template (the flag, or the metadata's
/// `template:` line) when neither names one or the named one does not exist.
pub fn find_for(
    meta: &Metadata,
    template_override: Option<&str>,
    templates_dir: &Path,
    limits: &Limits,
    roots: &Roots,
) -> Result<TemplateSource, Diagnostics> {
    let name = template_override.or(meta.template.as_deref()).ok_or_else(|| {
        Diagnostics::from(
            Diagnostic::new(&meta.source, "no template: add `template: NAME` or pass --template")
                .hint(format!("available: {}", available(templates_dir).join(", "))),
        )
    })?;
    let name = match (template_override, meta.source.parent()) {
        (None, Some(dir)) if is_path(name) => dir.join(name).to_string_lossy().into_owned(),
        _ => name.to_string(),
    };
    // A template the metadata names must lie in a root or beside the metadata; one given on the
    // command line is the operator's choice.
    if template_override.is_none() && is_path(&name) {
        let here = meta.source.parent().unwrap_or(Path::new("."));
        roots.check(Path::new(&name), &[here]).map_err(|m| {
            let text =
                crate::files::read_text_bounded(&meta.source, limits.max_metadata_bytes, "metadata file")
                    .unwrap_or_default();
            Diagnostic::new(&meta.source, format!("template {m}"))
                .at(crate::metadata::line_of_key(&text, "template"), None)
        })?;
    }
    find(&name, templates_dir, &meta.source, limits).map_err(|mut d| {
        if d.0.first().is_some_and(|d| d.file != meta.source) {
            return d; // about the template file itself, not about who named it
        }
        // Point at whoever named the template: the flag, or the metadata's `template:` line
        // (looked up only now, on failure, to keep the file read off the success path).
        let (file, line) = match template_override {
            Some(_) => (PathBuf::from("--template"), None),
            None => {
                let text =
                    crate::files::read_text_bounded(&meta.source, limits.max_metadata_bytes, "metadata file")
                        .unwrap_or_default();
                (meta.source.clone(), crate::metadata::line_of_key(&text, "template"))
            }
        };
        for diag in &mut d.0 {
            diag.file = file.clone();
            diag.line = line;
        }
        d
    })
}

/// The OS's reason alone (the path is already in the message).
fn io_reason(e: &crate::files::ReadError) -> String {
    match e {
        crate::files::ReadError::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Whether a template reference is a path rather than a name under `templates/`.
pub fn is_path(name_or_path: &str) -> bool {
    name_or_path.contains('/') || name_or_path.ends_with(".tera")
}

/// The template names in a folder, sorted.
pub fn available(templates_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(templates_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".yaml.tera").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Quotes any rendered value as a YAML double-quoted scalar (JSON strings are valid YAML).
/// Characters outside YAML's printable set, and those it reads as line breaks, are escaped as
/// `\uXXXX` too (JSON leaves DEL, the C1 controls and U+2028/2029 raw).
fn yaml_scalar(s: &str) -> String {
    let json = serde_json::to_string(s).expect("a string always serialises");
    // NEL and the Unicode line and paragraph separators are line breaks to YAML: folded to a
    // space unless escaped.
    let unprintable =
        |c: char| matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}');
    if !json.contains(unprintable) {
        return json;
    }
    json.chars()
        .map(|c| if unprintable(c) { format!("\\u{:04x}", c as u32) } else { c.to_string() })
        .collect()
}

/// The values a template sees.
fn context(meta: &Metadata) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("title", &meta.title);
    ctx.insert("subtitle", &meta.subtitle);
    ctx.insert("author", &meta.author);
    ctx.insert("watermark", &meta.watermark.as_ref().map(|p| p.to_string_lossy().into_owned()));
    ctx.insert("link", &meta.link.as_ref().map(|l| l.tracked.clone()));
    ctx.insert("link_url", &meta.link.as_ref().map(|l| l.url.clone()));
    ctx.insert("vars", &meta.vars);
    ctx
}

/// How a `range` past [`MAX_RANGE_ITEMS`] is worded (and recognised as a limit).
const RANGE_LIMIT: &str = "exceeds the limit of";

/// Most items Tera's `range` may produce in a template.
pub const MAX_RANGE_ITEMS: i64 = 10_000;

/// Tera's `range(end, start=0, step_by=1)`, refusing to build huge arrays: the stock one
/// allocates the whole array before the output limit can stop a runaway loop.
fn capped_range(args: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let int = |key: &str, default: Option<i64>| -> tera::Result<i64> {
        match args.get(key) {
            Some(v) => v
                .as_i64()
                .ok_or_else(|| tera::Error::msg(format!("range: `{key}` must be an integer, got {v}"))),
            None => default.ok_or_else(|| tera::Error::msg(format!("range: `{key}` is required"))),
        }
    };
    let (start, end, step) = (int("start", Some(0))?, int("end", None)?, int("step_by", Some(1))?);
    if step <= 0 {
        return Err(tera::Error::msg(format!("range: step_by {step} must be positive")));
    }
    let count = if end > start { (end - start + step - 1) / step } else { 0 };
    if count > MAX_RANGE_ITEMS {
        return Err(tera::Error::msg(format!("range of {count} items {RANGE_LIMIT} {MAX_RANGE_ITEMS}")));
    }
    Ok(tera::Value::Array((start..end).step_by(step as usize).map(tera::Value::from).collect()))
}

/// A writer that fails once more than `limit` bytes have been written.
struct Capped {
    buf: Vec<u8>,
    limit: usize,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            return Err(std::io::Error::other("template output limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `template` with the metadata's values.
///
/// # Errors
/// Diagnostics with the template's file, line and column for syntax errors, the variable's line
/// for unknown variables, and a limit message when the output would exceed `max_output` bytes.
pub fn render(template: &TemplateSource, meta: &Metadata, limits: &Limits) -> Result<String, Diagnostics> {
    Compiled::new(template.clone())?.render(meta, limits)
}

/// A parsed template, reusable across jobs (parsing is most of a small render's cost).
pub struct Compiled {
    /// Where it came from.
    pub source: TemplateSource,
    tera: tera::Tera,
}

impl Compiled {
    /// Parses a template.
    ///
    /// # Errors
    /// A diagnostic with file, line and column for syntax errors.
    pub fn new(source: TemplateSource) -> Result<Self, Diagnostics> {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![""]);
        tera.set_escape_fn(yaml_scalar);
        tera.register_function("range", capped_range);
        guard::register(&mut tera);
        tera.add_raw_template(&source.name, &source.text).map_err(|e| tera_diagnostic(&source, &e))?;
        guard::instrument(&mut tera, &source.name).map_err(|m| Diagnostic::limit(&source.path, m))?;
        Ok(Compiled { source, tera })
    }

    /// Renders with the metadata's values; see [`render`].
    ///
    /// # Errors
    /// As [`render`].
    pub fn render(&self, meta: &Metadata, limits: &Limits) -> Result<String, Diagnostics> {
        render_compiled(&self.tera, &self.source, meta, limits)
    }
}

fn render_compiled(
    tera: &tera::Tera,
    template: &TemplateSource,
    meta: &Metadata,
    limits: &Limits,
) -> Result<String, Diagnostics> {
    let max_output = limits.max_template_output;
    let mut out = Capped { buf: Vec::new(), limit: max_output };
    let time = std::time::Duration::from_secs_f64(limits.max_template_seconds.clamp(0.0, 3600.0));
    let budget = guard::Running::start(limits.max_template_iterations, max_output, time);
    let rendered = tera.render_to(&template.name, &context(meta), &mut out);
    drop(budget);
    if let Err(e) = rendered {
        let full = chain(&e);
        if full.contains("template output limit") {
            return Err(Diagnostic::limit(
                &template.path,
                format!("template output exceeds the limit of {max_output} bytes"),
            )
            .hint("a loop in the template may be running away")
            .into());
        }
        if let Some(i) = full.find(guard::MARK) {
            let why = full[i + guard::MARK.len()..].split(": ").next().unwrap_or_default();
            return Err(Diagnostic::limit(&template.path, format!("template stopped: {why}")).into());
        }
        if let Some(i) = full.find("range of ").filter(|_| full.contains(RANGE_LIMIT)) {
            let why = full[i..].split(": ").next().unwrap_or_default();
            let line = tera_diagnostic(template, &e).line;
            return Err(Diagnostic::limit(&template.path, format!("template stopped: {why}"))
                .at(line, None)
                .into());
        }
        return Err(tera_diagnostic(template, &e).into());
    }
    String::from_utf8(out.buf)
        .map_err(|_| Diagnostic::new(&template.path, "template output is not UTF-8").into())
}

/// The error and its causes in one line, without the guard's wrapper calls (which are not in
/// the template the user wrote).
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.retain(|p| !guard::is_wrapper_failure(p));
    parts.join(": ")
}

/// Locates a Tera error: pest syntax errors carry ` --> line:col`; for unknown variables we
/// point at the first line that mentions the variable.
fn tera_diagnostic(template: &TemplateSource, e: &tera::Error) -> Diagnostic {
    let full = chain(e);
    let mut line = None;
    let mut column = None;
    if let Some(i) = full.find("--> ") {
        let loc: String = full[i + 4..].chars().take_while(|c| c.is_ascii_digit() || *c == ':').collect();
        let mut it = loc.split(':').map(|n| n.parse::<usize>().ok());
        line = it.next().flatten();
        column = it.next().flatten();
    }
    // The pest message is multi-line; keep its last line ("expected ...") for one-line output.
    let message = if line.is_some() {
        let expected = full
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('='))
            .map(|l| l.trim_start_matches([' ', '=']).trim().to_string());
        format!("template syntax error: {}", expected.unwrap_or_else(|| "invalid syntax".into()))
    } else {
        let msg = full
            .split(": ")
            .filter(|p| !p.starts_with("Failed to render") && !p.starts_with("Failed to parse"))
            .collect::<Vec<_>>()
            .join(": ");
        // Tera's render errors carry no position: point at the first line using the culprit.
        let culprit = if msg.starts_with("Variable") {
            msg.split('`').nth(1).map(str::to_owned)
        } else if msg.starts_with("Function call '") || msg.starts_with("Filter call '") {
            msg.split('\'').nth(1).map(|f| format!("{f}("))
        } else {
            None
        };
        if let Some(needle) = culprit {
            line = template.text.lines().position(|l| l.contains(&needle)).map(|i| i + 1);
        }
        format!("template error: {}", msg.replace('\n', " "))
    };
    Diagnostic::new(&template.path, message).at(line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_stay_one_yaml_string() {
        for title in [
            "a\u{7f}b",
            "a\u{85}b\u{9f}c",
            "tab\there\u{1}",
            "\u{ffff}",
            "a\u{2028}b\u{2029}",
            "plain \"quoted\"",
        ] {
            let quoted = yaml_scalar(title);
            let back: String = serde_yaml_ng::from_str(&quoted).unwrap_or_else(|e| panic!("{quoted}: {e}"));
            assert_eq!(back, title);
        }
    }
}
