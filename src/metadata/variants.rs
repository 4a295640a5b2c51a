//! A/B variant sets: `variants:` in a metadata file, as a list of named overrides or a matrix.
//!
//! ```yaml
//! variants:            # named: each item overrides any metadata keys; `id` is required
//!   - id: A
//!   - id: B
//!     title: 另一个标题
//!     link: {utm: {campaign: spring}}
//! ```
//!
//! ```yaml
//! variants:            # matrix: every combination, in the order written
//!   title: [三分钟学会红烧肉, 红烧肉零失败]
//!   frame: [2s, 5s]
//!   vars: {title_color: ["#FFFFFF", "#FFE082"]}
//! ```
//!
//! Ids are stable under edits. Named ids are the user's. A matrix id is made of one part per
//! dimension, each derived from the value (a slug of an ASCII value, else a short hash of it),
//! never from its position: adding a title does not rename the other variants and orphan their
//! click history. Ids are file-name parts (`NAME.<id>.jpg`): letters, digits, `-` and `_`.

use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};

/// Longest variant id.
pub const MAX_ID_LEN: usize = 48;

/// The metadata keys a matrix may vary (besides `vars`), in the order ids are built from them.
const MATRIX_KEYS: &[&str] = &["template", "title", "subtitle", "author", "watermark", "frame", "link"];

/// One variant: its id and the metadata keys it overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The id (`NAME.<id>.jpg`, `utm_content=<id>`).
    pub id: String,
    /// The keys it sets, merged over the file's.
    pub overrides: Mapping,
}

/// Why a `variants:` block cannot be expanded.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandError {
    /// What is wrong.
    pub message: String,
    /// Whether it is the size limit (`--max-variants`).
    pub limit: bool,
}

fn problem(message: impl Into<String>) -> ExpandError {
    ExpandError { message: message.into(), limit: false }
}

impl Variant {
    /// The file's mapping with this variant's keys merged in (theirs win; nested mappings merge
    /// key by key) and, unless the variant sets `link.utm.content` itself, `utm_content` = id.
    pub fn merged_over(&self, base: &Value) -> Value {
        let mut merged = Value::Mapping(self.overrides.clone());
        if let Value::Mapping(base) = base {
            super::merge_defaults(&mut merged, base);
        }
        let sets_content =
            self.overrides.get("link").and_then(|l| l.get("utm")).and_then(|u| u.get("content")).is_some();
        if !sets_content {
            if let Some(Value::Mapping(link)) = merged.get_mut("link") {
                let utm = link.entry("utm".into()).or_insert_with(|| Value::Mapping(Mapping::new()));
                if let Value::Mapping(utm) = utm {
                    utm.insert("content".into(), Value::String(self.id.clone()));
                }
            }
        }
        merged
    }
}

/// Whether `id` can be part of a file name: 1–48 of letters, digits, `-`, `_`, not starting
/// with `-`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with('-')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The deliverable file a variant id would collide with (`NAME.<id>.yaml` beside `NAME.yaml`):
/// both would write `NAME.<id>.jpg`.
pub fn deliverable_clash(meta: &Path, id: &str) -> Option<PathBuf> {
    let stem = meta.file_stem()?.to_str()?;
    ["yaml", "yml"].iter().map(|ext| meta.with_file_name(format!("{stem}.{id}.{ext}"))).find(|p| p.is_file())
}

/// Expands a `variants:` value into variants, in order.
///
/// # Errors
/// A message for a malformed block, a bad or repeated id, or more than `max` variants (a limit).
pub fn expand(spec: &Value, max: usize) -> Result<Vec<Variant>, ExpandError> {
    let list = match spec {
        Value::Sequence(items) => named(items)?,
        Value::Mapping(m) => matrix(m, max)?,
        _ => {
            return Err(problem(
                "`variants` must be a list of `- id: ...` overrides or a matrix of value lists",
            ))
        }
    };
    if list.is_empty() {
        return Err(problem("`variants` is empty"));
    }
    if list.len() > max {
        return Err(ExpandError {
            message: format!("{} variants exceed the limit of {max} (--max-variants)", list.len()),
            limit: true,
        });
    }
    let mut seen = std::collections::HashSet::new();
    for v in &list {
        if !seen.insert(v.id.to_ascii_lowercase()) {
            return Err(problem(format!("variant id `{}` is used twice", v.id)));
        }
    }
    Ok(list)
}

fn named(items: &[Value]) -> Result<Vec<Variant>, ExpandError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Mapping(m) = item else {
                return Err(problem(format!("variant {} must be a mapping with an `id`", i + 1)));
            };
            let mut overrides = m.clone();
            let id = match overrides.remove("id") {
                Some(Value::String(s)) => s,
                Some(Value::Number(n)) => n.to_string(),
                Some(_) => return Err(problem(format!("variant {}: `id` must be a string", i + 1))),
                None => return Err(problem(format!("variant {} has no `id`", i + 1))),
            };
            if !valid_id(&id) {
                return Err(problem(format!(
                    "variant id `{}` must be 1–{MAX_ID_LEN} letters, digits, `-` or `_` (it names files)",
                    crate::model::diagnostics::excerpt(&id)
                )));
            }
            if overrides.contains_key("variants") {
                return Err(problem(format!("variant `{id}` cannot hold `variants`")));
            }
            Ok(Variant { id, overrides })
        })
        .collect()
}

/// One axis of a matrix: where its value goes (`["title"]`, `["vars", "k"]`) and its values.
struct Axis {
    path: Vec<String>,
    values: Vec<Value>,
    /// Each value's id part.
    parts: Vec<String>,
}

fn matrix(m: &Mapping, max: usize) -> Result<Vec<Variant>, ExpandError> {
    let mut axes = Vec::new();
    for (k, v) in m {
        let key = k.as_str().ok_or_else(|| problem("matrix keys must be metadata keys"))?;
        if key == "vars" {
            let Value::Mapping(vars) = v else {
                return Err(problem("matrix `vars` must map names to value lists"));
            };
            for (vk, vv) in vars {
                let name = vk.as_str().ok_or_else(|| problem("matrix `vars` keys must be names"))?;
                axes.push(axis(vec!["vars".into(), name.into()], vv)?);
            }
        } else if MATRIX_KEYS.contains(&key) {
            axes.push(axis(vec![key.into()], v)?);
        } else {
            let hint = super::closest(key, MATRIX_KEYS)
                .map(|b| format!(" (did you mean `{b}`?)"))
                .unwrap_or_default();
            return Err(problem(format!("matrix key `{key}` is not a metadata key{hint}")));
        }
    }
    if axes.is_empty() {
        return Err(problem("the variant matrix has no values"));
    }
    // Refuse before building: the product of the axes' lengths is the count.
    let count = axes
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()).filter(|n| *n <= max.max(1) * 1000));
    match count {
        Some(n) if n <= max => {}
        Some(n) => {
            return Err(ExpandError {
                message: format!("{n} variants exceed the limit of {max} (--max-variants)"),
                limit: true,
            })
        }
        None => {
            return Err(ExpandError {
                message: format!("the variant matrix exceeds the limit of {max} (--max-variants)"),
                limit: true,
            })
        }
    }
    let mut out = vec![(Vec::<String>::new(), Mapping::new())];
    for a in &axes {
        let mut next = Vec::with_capacity(out.len() * a.values.len());
        for (parts, overrides) in &out {
            for (value, part) in a.values.iter().zip(&a.parts) {
                let mut o = overrides.clone();
                set_path(&mut o, &a.path, value.clone());
                let mut p = parts.clone();
                p.push(part.clone());
                next.push((p, o));
            }
        }
        out = next;
    }
    Ok(out
        .into_iter()
        .map(|(parts, overrides)| {
            let id = parts.join("-");
            let id = if id.len() > MAX_ID_LEN { format!("v{}", short_hash(&id)) } else { id };
            Variant { id, overrides }
        })
        .collect())
}

fn axis(path: Vec<String>, v: &Value) -> Result<Axis, ExpandError> {
    let Value::Sequence(values) = v else {
        return Err(problem(format!("matrix `{}` must be a list of values", path.join("."))));
    };
    if values.is_empty() {
        return Err(problem(format!("matrix `{}` has no values", path.join("."))));
    }
    let slugs: Vec<Option<String>> = values.iter().map(slug).collect();
    // A value whose slug is empty, or shared with another value, goes by its hash.
    let parts = values
        .iter()
        .zip(&slugs)
        .map(|(v, s)| match s {
            Some(s) if slugs.iter().filter(|o| o.as_ref() == Some(s)).count() == 1 => s.clone(),
            _ => format!("h{}", short_hash(&canonical(v))),
        })
        .collect();
    Ok(Axis { path, values: values.clone(), parts })
}

/// The value as text, for hashing (strings as themselves, anything else as YAML).
fn canonical(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other).unwrap_or_default(),
    }
}

/// A short readable id part for an ASCII value: lowercase words joined by `-`, at most 16
/// characters; `None` when the value has no ASCII letters or digits or is mostly not ASCII.
fn slug(v: &Value) -> Option<String> {
    let text = canonical(v);
    if text.chars().filter(|c| !c.is_ascii()).count() * 2 > text.chars().count() {
        return None;
    }
    let mut s = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
        if s.len() >= 16 {
            break;
        }
    }
    let s = s.trim_end_matches('-').to_string();
    (!s.is_empty()).then_some(s)
}

/// Six hex digits of BLAKE3: stable across runs and machines.
fn short_hash(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex()[..6].to_string()
}

fn set_path(m: &mut Mapping, path: &[String], value: Value) {
    match path {
        [last] => {
            m.insert(Value::String(last.clone()), value);
        }
        [first, rest @ ..] => {
            let inner =
                m.entry(Value::String(first.clone())).or_insert_with(|| Value::Mapping(Mapping::new()));
            if let Value::Mapping(inner) = inner {
                set_path(inner, rest, value);
            }
        }
        [] => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    fn ids(v: &[Variant]) -> Vec<&str> {
        v.iter().map(|v| v.id.as_str()).collect()
    }

    #[test]
    fn named_variants_keep_their_ids_and_order() {
        let v = expand(&yaml("- id: A\n- id: B\n  title: other\n- {id: c_3, frame: 2s}\n"), 10).unwrap();
        assert_eq!(ids(&v), ["A", "B", "c_3"]);
        assert_eq!(v[1].overrides.get("title"), Some(&Value::String("other".into())));
        for bad in ["- id: a.b\n", "- id: ../x\n", "- id: ''\n", "- title: x\n", "- id: A\n- id: a\n"] {
            assert!(expand(&yaml(bad), 10).is_err(), "{bad}");
        }
    }

    #[test]
    fn matrix_ids_come_from_values_not_positions() {
        let before = expand(&yaml("title: [Braised pork, 红烧肉]\nframe: [2s, 5s]\n"), 10).unwrap();
        assert_eq!(before.len(), 4);
        assert_eq!(before[0].id, "braised-pork-2s");
        // Inserting a title first renames nobody.
        let after = expand(&yaml("title: [New one, Braised pork, 红烧肉]\nframe: [2s, 5s]\n"), 10).unwrap();
        for v in &before {
            let same = after.iter().find(|a| a.id == v.id).expect("the id survives the edit");
            assert_eq!(same.overrides, v.overrides);
        }
        let chinese = &before[2];
        assert!(chinese.id.starts_with('h') && valid_id(&chinese.id), "{}", chinese.id);
        let vars = expand(&yaml("vars: {title_color: [\"#FFFFFF\", \"#FFE082\"]}\n"), 10).unwrap();
        assert_eq!(ids(&vars), ["ffffff", "ffe082"]);
        assert_eq!(
            vars[1].overrides.get("vars").and_then(|v| v.get("title_color")),
            Some(&Value::String("#FFE082".into()))
        );
    }

    #[test]
    fn too_many_variants_is_a_limit_naming_the_count() {
        let e = expand(&yaml("title: [a, b, c]\nframe: [1s, 2s]\n"), 3).unwrap_err();
        assert!(e.limit && e.message.contains("6 variants exceed the limit of 3"), "{}", e.message);
        let huge = format!(
            "title: [{}]\nframe: [{}]\nauthor: [{}]\n",
            (0..1000).map(|i| i.to_string()).collect::<Vec<_>>().join(","),
            (0..1000).map(|i| format!("{i}s")).collect::<Vec<_>>().join(","),
            (0..1000).map(|i| format!("a{i}")).collect::<Vec<_>>().join(",")
        );
        assert!(expand(&yaml(&huge), 10).unwrap_err().limit, "refused before the product is built");
    }

    #[test]
    fn utm_content_is_the_id_unless_the_variant_sets_it() {
        let base = yaml("title: t\nlink: {url: 'https://e.com', utm: {source: s, content: inherited}}\n");
        let v = expand(&yaml("- id: A\n- id: B\n  link: {utm: {content: mine}}\n"), 10).unwrap();
        let content = |m: &Value| m["link"]["utm"]["content"].as_str().unwrap().to_string();
        assert_eq!(content(&v[0].merged_over(&base)), "A");
        assert_eq!(content(&v[1].merged_over(&base)), "mine");
        assert_eq!(
            v[1].merged_over(&base)["link"]["utm"]["source"].as_str(),
            Some("s"),
            "the rest is inherited"
        );
    }
}
