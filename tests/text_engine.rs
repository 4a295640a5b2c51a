//! The text engine: fit-to-box, balanced lines, highlight spans, letter spacing, strokes and
//! automatic colour with a measured WCAG contrast. Pixels are covered by the `text` golden case
//! in tests/golden.rs; these tests assert the decisions.

mod common;
use common::*;
use coverforge::color::Rgba;
use coverforge::layout::doc::{Layer, LayoutDoc, TextLayer};
use coverforge::pixels::Image;
use coverforge::{composite, pipeline, Env};

fn env() -> Env {
    test_env()
}

/// Resolves the text test template for a metadata text written to a temp folder.
fn layout(meta: &str) -> LayoutDoc {
    let dir = tempdir();
    let path = dir.path().join("m.yaml");
    let template = repo("tests/golden/text.yaml.tera");
    std::fs::write(&path, format!("template: {}\n{meta}", template.display())).unwrap();
    pipeline::layout_for(&path, None, &env()).unwrap_or_else(|e| panic!("{e}")).1
}

fn text<'a>(doc: &'a LayoutDoc, id: &str) -> &'a TextLayer {
    doc.layers
        .iter()
        .find_map(|l| match l {
            Layer::Text(t) if t.id.as_deref() == Some(id) => Some(t),
            _ => None,
        })
        .unwrap()
}

const BASE: &str = "subtitle: s\nauthor: a\nvars: {balanced: b}\n";

#[test]
fn fit_to_box_keeps_short_titles_large_and_shrinks_long_ones_before_any_ellipsis() {
    let short = layout(&format!("title: 短标题\n{BASE}"));
    assert_eq!(text(&short, "fit").size, 48.0);
    let long = layout(&format!(
        "title: 这是一个很长很长的标题，需要自动缩小字号才能放进两行之内 Fit to box\n{BASE}"
    ));
    let t = text(&long, "fit");
    assert!(t.size < 48.0 && t.size >= 16.0, "size {}", t.size);
    assert!(!t.truncated, "shrinking made it fit: no ellipsis");
    assert!(t.lines.len() <= 2 && t.bbox.height <= 90, "{} lines, {} px", t.lines.len(), t.bbox.height);
    // One pixel larger would not have fitted: the largest fitting size was chosen.
    let huge = layout(&format!("title: {}\n{BASE}", "很长的标题".repeat(30)));
    let t = text(&huge, "fit");
    assert_eq!(t.size, 16.0);
    assert!(t.truncated && t.lines.last().unwrap().text.ends_with('…'));
}

#[test]
fn balanced_lines_have_similar_widths() {
    let doc = layout(
        "title: t\nsubtitle: s\nauthor: a\nvars: {balanced: Balanced lines keep two rows of similar width instead of one long and one short}\n",
    );
    let t = text(&doc, "balanced");
    let widths: Vec<u32> = t.lines.iter().map(|l| l.width).collect();
    let (min, max) = (*widths.iter().min().unwrap(), *widths.iter().max().unwrap());
    assert!(widths.len() >= 2);
    assert!(max - min < max / 4, "balanced widths {widths:?}");
}

#[test]
fn highlight_spans_are_located_per_line_without_their_markers() {
    let doc =
        layout("title: t\nsubtitle: \"【爆款】三分钟学会 **红烧肉**\"\nauthor: a\nvars: {balanced: b}\n");
    let t = text(&doc, "highlight");
    let all: String = t.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(all.replace(' ', ""), "【爆款】三分钟学会红烧肉");
    let highlighted: String = t
        .lines
        .iter()
        .flat_map(|l| l.highlights.iter().flat_map(move |r| l.text.chars().skip(r[0]).take(r[1] - r[0])))
        .collect();
    assert_eq!(highlighted, "【爆款】红烧肉");
}

#[test]
fn letter_spacing_widens_the_line() {
    let doc = layout(&format!("title: t\n{BASE}"));
    let spaced = text(&doc, "spaced");
    assert_eq!(spaced.letter_spacing, 5.0);
    let chars = spaced.lines[0].text.chars().count() as u32;
    // Without spacing the same text at 24 px is narrower by 5 px per gap.
    let font = [env().fonts.get("wqy-microhei").unwrap()];
    let plain = coverforge::layout::text::Measurer::new(&font, 24.0, 0.0).width(&spaced.lines[0].text);
    assert_eq!(spaced.lines[0].width, (plain + 5.0 * (chars - 1) as f32).ceil() as u32);
}

fn auto_contrast_on(frame: &Image) -> composite::TextContrast {
    let doc = layout(&format!("title: t\n{BASE}"));
    let (_, report) = composite::composite_with_report(frame, &doc, &env(), false).unwrap();
    assert_eq!(report.contrast.len(), 1, "one auto layer");
    report.contrast[0].clone()
}

#[test]
fn auto_colour_reaches_wcag_contrast_on_white_black_and_busy_frames() {
    let on_white = auto_contrast_on(&Image::filled(360, 640, Rgba::WHITE));
    assert_ne!(on_white.color, Rgba::WHITE, "dark text on white");
    assert!(on_white.contrast >= 4.5, "{on_white:?}");
    let on_black = auto_contrast_on(&Image::filled(360, 640, Rgba::BLACK));
    assert_eq!(on_black.color, Rgba::WHITE);
    assert!(on_black.contrast >= 4.5 && on_black.scrim_alpha == 0.0, "{on_black:?}");
    // A black-and-white checkerboard defeats both colours: a scrim must make up the difference.
    let rgb: Vec<u8> = (0..360 * 640)
        .flat_map(|i| {
            let (x, y) = (i % 360, i / 360);
            let v = if (x / 8 + y / 8) % 2 == 0 { 0 } else { 255 };
            [v, v, v]
        })
        .collect();
    let busy = auto_contrast_on(&Image::from_rgb(360, 640, &rgb));
    assert!(busy.scrim_alpha > 0.0 && busy.contrast >= 4.5, "{busy:?}");
}

#[test]
fn auto_colour_is_reported_by_the_cli() {
    let dir = tempdir();
    let meta = format!("template: {}\ntitle: t\n{BASE}", repo("tests/golden/text.yaml.tera").display());
    let (r, report) = render_travel_json(dir.path(), &meta);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = &report["contrast"][0];
    assert_eq!(c["id"], "auto");
    assert!(c["contrast"].as_f64().unwrap() >= 4.5, "{c}");
}

#[test]
fn emoji_come_from_the_fallback_font_in_colour() {
    let doc = layout("title: t\nsubtitle: s\nauthor: 好吃 🍜😋\nvars: {balanced: b}\n");
    let t = text(&doc, "auto");
    assert_eq!(t.fallback, vec!["noto-color-emoji".to_string()], "the emoji font is used and named");
    // Draw just that layer, white, on black: the emoji must bring colour (a white-only render
    // would have r == g == b everywhere).
    let mut only = doc.clone();
    let mut layer = t.clone();
    layer.auto_color = false;
    layer.color = Rgba::WHITE;
    only.layers = vec![Layer::Text(layer)];
    let canvas = composite::composite(&Image::filled(360, 640, Rgba::BLACK), &only, &env()).unwrap();
    let colourful = canvas
        .to_rgb()
        .chunks_exact(3)
        .filter(|p| p.iter().max().unwrap() - p.iter().min().unwrap() > 80)
        .count();
    assert!(colourful > 200, "{colourful} colourful pixels");
}

#[test]
fn the_emoji_font_is_loaded_only_for_text_that_can_use_it() {
    // Text its font has every character of, and no emoji: the 10 MB colour font is not read.
    let resolve = |meta: &str, env: &Env| {
        let dir = tempdir();
        let path = dir.path().join("m.yaml");
        let template = repo("tests/golden/text.yaml.tera");
        std::fs::write(&path, format!("template: {}\n{meta}", template.display())).unwrap();
        pipeline::layout_for(&path, None, env).unwrap_or_else(|e| panic!("{e}")).1
    };
    let plain = env();
    let doc =
        resolve("title: 三分钟学会红烧肉\nsubtitle: Plain 1-2-3\nauthor: a\nvars: {balanced: b}\n", &plain);
    assert!(text(&doc, "auto").fallback.is_empty());
    assert!(!plain.fonts.is_loaded("noto-color-emoji"), "no text here needs the emoji font");
    // A keycap (a digit the font has, made an emoji sequence by VS16 and U+20E3) still goes to it.
    let keycap = env();
    let doc = resolve("title: t\nsubtitle: s\nauthor: 第1\u{FE0F}\u{20E3}名\nvars: {balanced: b}\n", &keycap);
    assert!(keycap.fonts.is_loaded("noto-color-emoji"));
    assert_eq!(text(&doc, "auto").fallback, vec!["noto-color-emoji".to_string()]);
}

#[test]
fn kinsoku_keeps_closing_punctuation_off_line_starts() {
    // Eight characters fit on the first line; the comma after the eighth must not start line 2,
    // so the eighth character moves down with it.
    let doc = layout(&format!("title: t\n{BASE}"));
    let t = text(&doc, "kinsoku");
    let lines: Vec<&str> = t.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(lines, vec!["一二三四五六七", "八，九十「引号」"]);
}
