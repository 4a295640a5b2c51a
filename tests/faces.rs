//! Faces: a committed frame with a face at the side (NASA's public-domain astronaut portrait,
//! from scikit-image's sample data, at the left of a 1280x720 frame). The portrait crop keeps the
//! face, and the title moves off it to its alternative placement.

mod common;
use common::*;
use coverforge::layout::doc::{Layer, Rect};
use coverforge::pixels::Image;
use coverforge::{composite, pipeline};

fn model() -> std::path::PathBuf {
    repo("assets/haarcascade_frontalface_default.xml")
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
