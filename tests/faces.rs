//! Faces: a committed frame with a face at the side (NASA's public-domain astronaut portrait,
//! from scikit-image's sample data, at the left of a 1280x720 frame). The portrait crop keeps the
//! face, and the title moves off it to its alternative placement.

mod common;
use common::*;
use coverforge::layout::doc::{Layer, Rect};
use coverforge::pixels::Image;
use coverforge::{composite, pipeline};

fn model() -> std::path::PathBuf {
    repo("assets/face_detection_yunet_2022mar.onnx")
}

fn frame() -> Image {
    Image::load(&repo("tests/faces/frame.jpg")).unwrap()
}

fn overlaps(a: &Rect, b: &Rect) -> bool {
    a.x < b.x + b.width as i32
        && b.x < a.x + a.width as i32
        && a.y < b.y + b.height as i32
        && b.y < a.y + a.height as i32
}

#[test]
fn the_astronaut_is_found_at_the_left() {
    let faces = frame().detect_faces(&model()).unwrap();
    assert_eq!(faces.len(), 1, "{faces:?}");
    let Rect { x, y, width: w, height: h } = faces[0];
    let (cx, cy) = (x + w as i32 / 2, y + h as i32 / 2);
    assert!((150..300).contains(&cx) && (200..360).contains(&cy), "{faces:?}");
}

fn render(faces: bool) -> (Image, composite::CompositeReport, coverforge::layout::doc::LayoutDoc) {
    let dir = tempdir();
    let meta = dir.path().join("m.yaml");
    std::fs::write(
        &meta,
        format!(
            "template: {}\ntitle: 宇航员的封面\nvars: {{faces: {faces}}}\n",
            repo("tests/faces/faces.yaml.tera").display()
        ),
    )
    .unwrap();
    let env = test_env();
    let (_, doc) = pipeline::layout_for(&meta, None, &env).unwrap();
    let (canvas, report) = composite::composite_with_report(&frame(), &doc, &env, false).unwrap();
    (canvas, report, doc)
}

#[test]
fn the_crop_keeps_the_face_and_the_title_moves_off_it() {
    let (canvas, report, doc) = render(true);
    assert_eq!(report.faces.len(), 1, "{report:?}");
    let face = report.faces[0];
    assert!(
        face.x >= 0 && face.x + face.width as i32 <= 1080 && face.y >= 0,
        "face inside the cover: {face:?}"
    );
    // The face is still a face in the cover (a tool nobody here wrote finds it).
    assert_eq!(canvas.detect_faces(&model()).unwrap().len(), 1);
    // The title's own placement is on the face; its alternative is used instead.
    let Layer::Text(title) = &doc.layers[0] else { panic!("title first") };
    assert!(overlaps(&title.bbox, &face), "the test template puts the title on the face");
    assert_eq!(report.moved_off_faces, vec!["title".to_string()]);
    assert!(!overlaps(&title.alternatives[0], &face));
}

#[test]
fn without_face_awareness_the_centre_crop_cuts_the_face_out() {
    let (_, report, _) = render(false);
    assert!(report.faces.is_empty(), "no detection unless the template asks for it");
    // The centred 9:16 window of the 1280x720 frame spans x 437..842; the face is further left.
    let Rect { x, width: w, .. } = frame().detect_faces(&model()).unwrap()[0];
    assert!(x + (w as i32) < 437, "the face ({x}+{w}) lies outside the centred crop");
}

#[test]
fn auto_frame_scores_penalise_text_over_a_face() {
    use coverforge::keyframe::{FrameScore, TextRegions};
    let regions = |boxes| TextRegions { canvas: (1280, 720), cover: true, boxes, face_model: Some(model()) };
    let over_face = FrameScore::with_layout(&frame(), &regions(vec![Rect::new(150, 180, 150, 150)])).unwrap();
    let elsewhere = FrameScore::with_layout(&frame(), &regions(vec![Rect::new(800, 40, 200, 100)])).unwrap();
    assert_eq!((over_face.faces_under_text, elsewhere.faces_under_text), (1, 0));
    assert!(elsewhere.total > over_face.total, "{over_face:?} {elsewhere:?}");
}

/// A marked face: its centre, and whether it is marked small.
type Marked = ((i32, i32), bool);

/// The faces of `tests/faces/recall/faces.txt`, by file.
fn annotated() -> Vec<(String, Vec<Marked>)> {
    let text = std::fs::read_to_string(repo("tests/faces/recall/faces.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (file, centres) = l.split_once(':').unwrap();
            let centres = centres
                .split_whitespace()
                .map(|c| {
                    let mut parts = c.split(',');
                    let (x, y) = (parts.next().unwrap(), parts.next().unwrap());
                    ((x.parse().unwrap(), y.parse().unwrap()), parts.next() == Some("small"))
                })
                .collect();
            (file.to_string(), centres)
        })
        .collect()
}

fn contains(r: &Rect, (x, y): (i32, i32)) -> bool {
    x >= r.x && x < r.x + r.width as i32 && y >= r.y && y < r.y + r.height as i32
}

/// Real photographs and film frames (OpenCV's samples, scikit-image's photographs, and those
/// pasted at several sizes and as a close-up): at least 90 % of the marked faces from 1/16 of
/// the frame's long side up found, and of all marked faces, and no face in frames without one
/// (a baboon, a cat, gravel, a colour wheel among them).
#[test]
fn faces_are_found_in_real_frames_and_nowhere_else() {
    let (mut marked, mut found, mut misses, mut false_alarms) = ([0; 2], [0; 2], Vec::new(), Vec::new());
    for (file, centres) in annotated() {
        let image = Image::load(&repo(&format!("tests/faces/recall/{file}"))).unwrap();
        let faces = image.detect_faces(&model()).unwrap();
        for &(c, small) in &centres {
            marked[small as usize] += 1;
            if faces.iter().any(|f| contains(f, c)) {
                found[small as usize] += 1;
            } else {
                misses.push(format!("{file} {c:?} (small: {small}): {faces:?}"));
            }
        }
        // Every detection is a marked face.
        for f in faces.iter().filter(|f| !centres.iter().any(|&(c, _)| contains(f, c))) {
            false_alarms.push(format!("{file}: {f:?}"));
        }
    }
    let recall = found[0] as f64 / marked[0] as f64;
    eprintln!(
        "face recall {}/{} = {recall:.3} (faces from 1/16 of the long side); smaller faces {}/{}; all {}/{}; missed: {misses:#?}",
        found[0], marked[0], found[1], marked[1], found[0] + found[1], marked[0] + marked[1]
    );
    assert!(recall >= 0.9, "recall {recall:.3}: missed {misses:#?}");
    let all = (found[0] + found[1]) as f64 / (marked[0] + marked[1]) as f64;
    assert!(all >= 0.9, "recall of faces of every size {all:.3}: missed {misses:#?}");
    assert!(false_alarms.is_empty(), "faces where there are none: {false_alarms:#?}");
}

/// Faces too small for the detector's first look at the whole frame (~1/21 of its long side,
/// and the basketball player's) come back from it as weak candidates; the closer look at each
/// finds them, and nothing else.
#[test]
fn a_closer_look_finds_faces_the_first_look_only_half_saw() {
    use coverforge::pixels::{face_sample_size, faces_in_sample, FrameSampler};
    for (file, centre) in [
        ("astronaut-480-in-1920-at-1100-500.jpg", (1311, 614)),
        ("astronaut-480-in-1920-at-200-150.jpg", (411, 264)),
        ("basketball.jpg", (88, 114)),
    ] {
        let image = Image::load(&repo(&format!("tests/faces/recall/{file}"))).unwrap();
        let (w, h) = (image.width(), image.height());
        let sampled = image.sample(image.bounds(), face_sample_size(w, h)).unwrap();
        let first = faces_in_sample(sampled, (w, h), &model()).unwrap();
        assert!(!first.iter().any(|f| contains(f, centre)), "{file}: the first look alone found {first:?}");
        let faces = image.detect_faces(&model()).unwrap();
        assert!(faces.len() == 1 && contains(&faces[0], centre), "{file}: {faces:?}");
    }
}

/// The shipped portrait and landscape templates (faces on by default) never leave a title or
/// subtitle box over a face found in the frame, unless every placement they have covers one (a
/// close-up); then they take the one covering least.
#[test]
fn shipped_templates_keep_text_off_faces() {
    let env = test_env();
    let dir = tempdir();
    let mut moved = 0;
    for (file, _) in annotated().into_iter().filter(|(_, c)| !c.is_empty()) {
        let frame = Image::load(&repo(&format!("tests/faces/recall/{file}"))).unwrap();
        for template in ["douyin-9x16", "landscape-16x9"] {
            let meta = dir.path().join("m.yaml");
            std::fs::write(
                &meta,
                format!(
                    "template: {template}\ntitle: 这是一个相当长的标题，要占两行\nsubtitle: 副标题也在\n"
                ),
            )
            .unwrap();
            let (_, doc) = pipeline::layout_for(&meta, None, &env).unwrap();
            assert!(doc.faces, "{template} keeps faces clear by default");
            let (_, report) = composite::composite_with_report(&frame, &doc, &env, false).unwrap();
            moved += report.moved_off_faces.len();
            for (id, placed) in &report.text_boxes {
                let over: Vec<_> = report.faces.iter().filter(|f| placed.overlaps(f)).collect();
                if over.is_empty() {
                    continue;
                }
                // Only allowed when no placement of this layer is clear.
                let Some(Layer::Text(t)) = doc
                    .layers
                    .iter()
                    .find(|l| matches!(l, Layer::Text(t) if t.id.as_deref() == Some(id.as_str())))
                else {
                    panic!("{id} not in the layout")
                };
                let all_covered = std::iter::once(&t.bbox)
                    .chain(&t.alternatives)
                    .all(|b| report.faces.iter().any(|f| b.overlaps(f)));
                assert!(
                    all_covered || t.follows.is_some(),
                    "{template} on {file}: {id} at {placed:?} covers {over:?} although a placement is clear"
                );
            }
        }
    }
    assert!(moved > 0, "some frame put a face where a title goes");
}

/// Frames of any shape, down to a few pixels, go through the detector without an OpenCV error.
#[test]
fn tiny_and_thin_frames_are_searched_without_error() {
    for (w, h) in [(1, 1), (25, 25), (40, 900), (1920, 30), (64, 64)] {
        let frame = Image::filled(w, h, coverforge::color::Rgba::WHITE);
        assert!(frame.detect_faces(&model()).unwrap().is_empty(), "{w}x{h}");
    }
}

/// End to end, through the decoder: a 1280x720 clip with a face right of centre, the shipped
/// portrait template. Faces are found on the decoder's planes before the colour conversion;
/// the 9:16 crop moves to keep the face (a centred one would cut it), the report gives it in
/// cover pixels, and a second run from the keyframe cache gives the same faces and cover.
#[test]
fn the_pipeline_keeps_the_face_in_the_crop_and_caches_it_with_the_frame() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir(d.join("in")).unwrap();
    still_clip("astronaut-720-in-1280.jpg", None, &d.join("in/clip.mp4"));
    std::fs::write(d.join("in/clip.yaml"), "template: douyin-9x16\ntitle: 宇航员的封面\n").unwrap();
    let mut reports = Vec::new();
    for (run, extra) in [("first", None), ("cached", Some("--force"))] {
        let mut args = vec!["batch", "in", "-o", "out", "-q", "--cache-dir", "cache", "--report"];
        let report = format!("{run}.jsonl");
        args.push(&report);
        args.extend(extra);
        let r = run_in(d, &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let text = std::fs::read_to_string(d.join(&report)).unwrap();
        let job: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let cover = std::fs::read(d.join("out/clip.jpg")).unwrap();
        reports.push((job, cover));
    }
    let (first, cached) = (&reports[0], &reports[1]);
    assert_eq!(cached.0["frame_source"], "cache", "{}", cached.0);
    assert_eq!(first.0["faces"], cached.0["faces"]);
    assert_eq!(first.1, cached.1, "the cover from the cache is the same");
    let faces: Vec<Rect> =
        serde_json::from_value(first.0["faces"].clone()).unwrap_or_else(|e| panic!("{e}: {}", first.0));
    assert_eq!(faces.len(), 1, "{}", first.0);
    let f = faces[0];
    assert!(f.x >= 0 && f.x + f.width as i32 <= 1080 && f.y >= 0, "the face is inside the cover: {f:?}");
    // A face detector run on the cover itself finds it where the report says.
    let cover = Image::load(&d.join("out/clip.jpg")).unwrap();
    let seen = cover.detect_faces(&model()).unwrap();
    assert!(seen.iter().any(|s| s.overlaps(&f)), "{seen:?} vs {f:?}");
}

/// Every pixel format is sampled alike for the detector: a face at ~1/21 of the frame, found
/// only by the closer look, comes out in the same place from 4:2:0 (sampled from the decoder's
/// planes), 10-bit 4:2:0 and 4:4:4 clips (through swscale on a cropped reference to the frame).
#[test]
fn a_small_face_is_found_whatever_the_pixel_format() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("clip.yaml"), "template: douyin-9x16\ntitle: 宇航员的封面\n").unwrap();
    let mut found = Vec::new();
    for pix_fmt in ["yuv420p", "yuv420p10le", "yuv444p"] {
        let clip = format!("{pix_fmt}.mp4");
        still_clip_as("astronaut-480-in-1920-at-1100-500.jpg", None, pix_fmt, &d.join(&clip));
        let out = format!("{pix_fmt}.jpg");
        let r = run_in(d, &["render", &clip, "--meta", "clip.yaml", "-o", &out, "--json"]);
        assert_eq!(r.code, 0, "{pix_fmt}: {}", r.stderr);
        let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let faces: Vec<Rect> = serde_json::from_value(report["faces"].clone()).unwrap_or_default();
        assert_eq!(faces.len(), 1, "{pix_fmt}: {}", report["faces"]);
        found.push((pix_fmt, faces[0]));
    }
    let (_, first) = found[0];
    for &(pix_fmt, f) in &found {
        let close = |a: i32, b: i32| (a - b).abs() <= 8;
        assert!(
            close(f.x, first.x) && close(f.y, first.y) && close(f.width as i32, first.width as i32),
            "{pix_fmt}: {f:?} against 4:2:0's {first:?}"
        );
    }
}

/// `coverforge check` tells a designer when text has to sit on a face: a portrait close-up
/// leaves the douyin title no clear placement.
#[test]
fn check_reports_text_that_cannot_leave_a_face() {
    let dir = tempdir();
    let d = dir.path();
    still_clip("astronaut-closeup.jpg", Some("crop=540:960:0:0"), &d.join("closeup.mp4"));
    std::fs::write(d.join("closeup.yaml"), "template: douyin-9x16\ntitle: 宇航员\n").unwrap();
    let r = run_in(d, &["check", "closeup.yaml"]);
    assert_eq!(r.code, 1, "a finding: {}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("warning[face]") && r.stdout.contains("`title`"), "{}", r.stdout);
}

/// A 1 s H.264 clip of a still from tests/faces/recall (through `filter` if given) at `out`.
fn still_clip(still: &str, filter: Option<&str>, out: &std::path::Path) {
    still_clip_as(still, filter, "yuv420p", out)
}

/// As [`still_clip`], in pixel format `pix_fmt`.
fn still_clip_as(still: &str, filter: Option<&str>, pix_fmt: &str, out: &std::path::Path) {
    let mut ffmpeg = std::process::Command::new("ffmpeg");
    ffmpeg
        .args(["-nostdin", "-loglevel", "error", "-loop", "1", "-i"])
        .arg(repo(&format!("tests/faces/recall/{still}")));
    if let Some(f) = filter {
        ffmpeg.args(["-vf", f]);
    }
    let made = ffmpeg
        .args(["-t", "1", "-r", "25", "-pix_fmt", pix_fmt, "-c:v", "libx264", "-g", "25"])
        .arg(out)
        .status();
    assert!(made.unwrap().success(), "ffmpeg made {}", out.display());
}

#[test]
fn a_portrait_copy_turned_through_the_transposed_model_finds_the_same_faces() {
    // Portrait copies run through the transposed network (x and y swapped, cheaper in OpenCV);
    // the same frames through the original network must give the same faces and scores.
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("face_detection_yunet_2022mar.onnx");
    std::fs::copy(model(), &alone).unwrap();
    assert!(coverforge::pixels::transposed_face_model(&model()).is_some(), "the transposed model ships");
    assert!(coverforge::pixels::transposed_face_model(&alone).is_none());
    let portrait = |file: &str, crop: Option<(i32, u32, u32)>| {
        let image = Image::load(&repo(&format!("tests/faces/recall/{file}"))).unwrap();
        match crop {
            Some((x, w, h)) => image.crop_resized(coverforge::model::Rect::new(x, 0, w, h), w, h).unwrap(),
            None => image,
        }
    };
    let frames = [
        ("astronaut-closeup.jpg", None, 1),
        ("astronaut.jpg", Some((96, 288, 512)), 1),
        ("cameraman.jpg", Some((82, 288, 512)), 1),
        ("megamind-1.jpg", Some((200, 297, 528)), 2),
        ("no-face-gravel.jpg", Some((100, 288, 512)), 0),
        ("no-face-chelsea.jpg", Some((100, 169, 300)), 0),
    ];
    for (file, crop, faces) in frames {
        let image = portrait(file, crop);
        assert!(image.height() > image.width(), "{file} is a portrait copy");
        let turned = image.detect_faces_scored(&model()).unwrap();
        let upright = image.detect_faces_scored(&alone).unwrap();
        assert_eq!(turned.len(), faces, "{file}: {turned:?}");
        assert_eq!(upright.len(), faces, "{file}: {upright:?}");
        // One detector pixel in frame pixels, plus rounding.
        let step = (image.height() as f64 / 160.0).ceil() as i32 + 1;
        for ((ts, t), (us, u)) in turned.iter().zip(&upright) {
            assert!((ts - us).abs() < 0.02, "{file}: scores {ts} and {us}");
            let near = (t.x - u.x).abs() <= step
                && (t.y - u.y).abs() <= step
                && (t.width as i32 - u.width as i32).abs() <= step
                && (t.height as i32 - u.height as i32).abs() <= step;
            assert!(near, "{file}: {t:?} turned against {u:?} upright");
        }
    }
}
