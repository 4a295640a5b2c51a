//! Layout snapshot tests: metadata → resolved `LayoutDoc`, dumped as YAML text and compared
//! with `tests/layout/NAME.layout.yaml`. `UPDATE_GOLDEN=1 cargo test` rewrites the snapshots.

mod common;
use common::*;
use coverforge::layout::doc::{Layer, LayoutDoc};
use coverforge::pipeline;

fn resolve(name: &str) -> LayoutDoc {
    let env = test_env();
    let (_, doc) = pipeline::layout_for(&repo(&format!("tests/layout/{name}.yaml")), None, &env)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    doc
}

fn dump(doc: &LayoutDoc) -> String {
    // Absolute asset paths differ between checkouts.
    serde_yaml_ng::to_string(doc).unwrap().replace(root().to_str().unwrap(), "<repo>")
}

#[test]
fn layouts_match_their_snapshots() {
    let mut failures = Vec::new();
    for name in ["cooking", "hostile", "benign", "long-mixed", "thumb-minimal"] {
        let actual = dump(&resolve(name));
        let path = repo(&format!("tests/layout/{name}.layout.yaml"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != actual {
            let failed = repo(&format!("tests/layout/failed/{name}.layout.yaml"));
            std::fs::create_dir_all(failed.parent().unwrap()).unwrap();
            std::fs::write(&failed, &actual).unwrap();
            failures.push(format!(
                "{name}: differs from {} (actual written to {})",
                path.display(),
                failed.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}\n(run with UPDATE_GOLDEN=1 to accept)", failures.join("\n"));
}

#[test]
fn hostile_values_stay_literal_and_cannot_change_layers() {
    let hostile = resolve("hostile");
    let benign = resolve("benign");
    let kinds = |d: &LayoutDoc| {
        d.layers.iter().map(|l| format!("{:?}", std::mem::discriminant(l))).collect::<Vec<_>>()
    };
    assert_eq!(kinds(&hostile), kinds(&benign));
    assert!(!hostile.layers.iter().any(|l| matches!(l, Layer::Rect(_))));
    let Layer::Text(title) = &hostile.layers[2] else { panic!("layer 3 is the title") };
    // The wrapped lines, rejoined, are a prefix of the literal title (newlines read as spaces).
    let joined: Vec<&str> = title.lines.iter().map(|l| l.text.as_str()).collect();
    let joined = joined.join(" ");
    let body = joined.strip_suffix('…').expect("cut with an ellipsis");
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let literal = "Evil\" title: {{ vars }} {% if true %}x{% endif %}\n  - kind: rect\n    color: \"#FF0000\"\nlayers: []";
    assert!(squash(literal).starts_with(&squash(body)), "{body:?}");
    assert!(body.contains("{{ vars }} {% if true %}x{% endif %}"), "{body:?}");
    assert!(title.truncated, "the 5-line hostile title is cut to 3 lines");
    let Layer::Text(sub) = &hostile.layers[3] else { panic!("layer 4 is the subtitle") };
    let joined: String = sub.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join(" ");
    assert_eq!(joined, "'single' & #hash: [flow, seq] {a: b} *alias &anchor !tag |");
    let qr = hostile.layers.iter().find_map(|l| if let Layer::Qr(q) = l { Some(q) } else { None }).unwrap();
    assert_eq!(
        qr.data,
        "https://shop.example.com/item/1?q=a%20b&x=%22&utm_source=dou+yin&utm_medium=a%26b%3Dc&utm_campaign=%22quoted%22&utm_content=%23frag"
    );
}

#[test]
fn long_titles_wrap_within_the_box_and_end_with_an_ellipsis() {
    let doc = resolve("long-mixed");
    let Layer::Text(title) = &doc.layers[1] else { panic!("layer 2 is the title") };
    assert_eq!(title.lines.len(), 3);
    assert!(title.truncated);
    assert!(title.lines[2].text.ends_with('…'), "{:?}", title.lines);
    for line in &title.lines {
        assert!(line.width <= title.bbox.width, "{line:?} wider than {}", title.bbox.width);
        // No line starts with closing punctuation.
        assert!(!line.text.starts_with(['，', '。', '？', '：', '｜']), "{line:?}");
    }
    // Latin words are not split across lines.
    let all: Vec<&str> = title.lines.iter().map(|l| l.text.as_str()).collect();
    assert!(all.iter().any(|l| l.contains("Citywalk")), "{all:?}");
    assert_eq!(title.color.to_string(), "#FFE082", "vars reach the template");
    assert_eq!(title.size, 56.0);
}

#[test]
fn subtitle_is_anchored_below_the_title() {
    let doc = resolve("cooking");
    let b = |i: usize| doc.layers[i].bbox();
    let (title, subtitle) = (b(2), b(3));
    assert_eq!(subtitle.y, title.y + title.height as i32 + 28);
    assert_eq!(subtitle.x, title.x);
}
