//! OCR legibility: titles rendered with the shipped templates over busy frames must read back
//! (tesseract, chi_sim+eng) nearly as well as the same titles rendered plainly, light on dark,
//! in the same font and size. Tesseract misreads some glyphs even on clean renders, so the
//! comparison is against that best case: at least 95 % of its recognised characters.

mod common;
use common::*;
use coverforge::color::Rgba;
use coverforge::keyframe::{self, FrameSpec};
use coverforge::layout::doc::{Layer, LayoutDoc, Rect};
use coverforge::pixels::Image;
use coverforge::{composite, pipeline};
use std::collections::HashMap;
use std::path::Path;

const TITLES: [&str; 20] = [
    "三分钟学会红烧肉",
    "周末去哪儿",
    "城市夜景全攻略",
    "新手也能做的蛋糕",
    "十个省钱小技巧",
    "家常菜的正确做法",
    "Weekend city walk",
    "Street food at night",
    "How to cook rice",
    "Ten tips for travel",
    "Best coffee in town",
    "Morning routine ideas",
    "学会 iPhone 拍照技巧",
    "Vlog 我的一天",
    "春节回家 Day 3",
    "零失败！红烧肉做法",
    "为什么？原因在这里",
    "Hello, world! Again",
    "秋天的第一杯奶茶，你喝了吗",
    "从外滩到陆家嘴的夜景散步路线推荐",
];

/// Characters tesseract read from the title region of `img`. The crop is scaled so glyphs are
/// ~40 px tall (tesseract's comfort zone); Chinese titles are read with `chi_sim`, Latin ones
/// with `eng` (mixing the two models reads short Chinese titles worse).
fn ocr(img: &Image, region: Rect, size: f32, title: &str, dir: &Path, name: &str) -> String {
    let crop = img.clone_region(region);
    let k = (40.0 / size).min(1.0);
    let (w, h) = (((crop.width() as f32 * k) as u32).max(1), ((crop.height() as f32 * k) as u32).max(1));
    let crop = crop.crop_resized(crop.bounds(), w, h).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, crop.encode_png().unwrap()).unwrap();
    let cjk = title.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c));
    let out = std::process::Command::new("tesseract")
        .arg(&path)
        .arg("stdout")
        .args(["-l", if cjk { "chi_sim" } else { "eng" }, "--psm", "6"])
        .output()
        .expect("tesseract is installed (make test installs tesseract-ocr)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How many characters of `title` (ignoring spaces) appear in `read`, as a multiset.
fn hits(title: &str, read: &str) -> usize {
    let mut have: HashMap<char, usize> = HashMap::new();
    for c in read.chars().filter(|c| !c.is_whitespace()) {
        *have.entry(c.to_lowercase().next().unwrap()).or_default() += 1;
    }
    title
        .chars()
        .filter(|c| !c.is_whitespace())
        .filter(|c| {
            let k = c.to_lowercase().next().unwrap();
            match have.get_mut(&k) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            }
        })
        .count()
}

fn title_layer(doc: &LayoutDoc) -> coverforge::layout::doc::TextLayer {
    doc.layers
        .iter()
        .find_map(|l| match l {
            Layer::Text(t) if t.id.as_deref() == Some("title") => Some(t.clone()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn titles_on_busy_frames_read_back_as_well_as_plain_renders() {
    if std::process::Command::new("tesseract").arg("--version").output().is_err() {
        println!("SKIPPED: tesseract is not installed (make test installs it)");
        return;
    }
    let env = test_env();
    let limits = coverforge::limits::Limits::default();
    let frames: Vec<Image> = ["cooking", "travel", "rotated", "anamorphic"]
        .iter()
        .map(|s| {
            keyframe::extract(&repo(&format!("samples/{s}.mp4")), FrameSpec::Percent(50.0), &limits)
                .unwrap()
                .frame
                .pixels
        })
        .collect();
    let dir = tempdir();
    // OCR_KEEP=DIR keeps the crops for a look.
    let keep = std::env::var_os("OCR_KEEP").map(std::path::PathBuf::from);
    let dir_path = keep.clone().unwrap_or_else(|| dir.path().to_owned());
    std::fs::create_dir_all(&dir_path).unwrap();
    let (mut cover_hits, mut plain_hits, mut total) = (0, 0, 0);
    let mut lines = Vec::new();
    for (i, title) in TITLES.iter().enumerate() {
        let template = if i % 2 == 0 { "douyin-9x16" } else { "landscape-16x9" };
        let meta = dir.path().join(format!("t{i}.yaml"));
        std::fs::write(
            &meta,
            format!("template: {template}\ntitle: \"{title}\"\nsubtitle: 副标题 subtitle\n"),
        )
        .unwrap();
        let (_, doc) = pipeline::layout_for(&meta, None, &env).unwrap();
        let t = title_layer(&doc);
        let margin = (t.size * 0.25) as i32;
        let region = Rect::new(
            t.bbox.x - margin,
            t.bbox.y - margin,
            t.bbox.width + 2 * margin as u32,
            t.bbox.height + 2 * margin as u32,
        );
        let cover = composite::composite(&frames[i % frames.len()], &doc, &env).unwrap();
        // The best case: the same title layer alone, white on black.
        let mut plain_doc = doc.clone();
        let mut plain_title = t.clone();
        plain_title.auto_color = false;
        plain_title.color = Rgba::WHITE;
        plain_title.shadow = None;
        plain_doc.layers = vec![Layer::Text(plain_title)];
        let black = Image::filled(doc.canvas.width, doc.canvas.height, Rgba::BLACK);
        let plain = composite::composite(&black, &plain_doc, &env).unwrap();
        let (c, p) = (
            ocr(&cover, region, t.size, title, &dir_path, &format!("c{i}")),
            ocr(&plain, region, t.size, title, &dir_path, &format!("p{i}")),
        );
        let (hc, hp) = (hits(title, &c), hits(title, &p));
        cover_hits += hc;
        plain_hits += hp;
        total += title.chars().filter(|c| !c.is_whitespace()).count();
        lines.push(format!("{title}: cover {hc}, plain {hp} | read {:?} / {:?}", c.trim(), p.trim()));
    }
    let report = lines.join("\n");
    println!("{report}\ncover {cover_hits}, plain {plain_hits}, of {total} characters");
    assert!(
        plain_hits * 10 >= total * 7,
        "tesseract itself reads the plain renders (sanity): {plain_hits}/{total}\n{report}"
    );
    assert!(cover_hits * 100 >= plain_hits * 95, "covers read {cover_hits} vs plain {plain_hits}\n{report}");
}
