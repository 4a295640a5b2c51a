//! Benchmark: the face detector on one frame, coverforge's own YuNet (`pixels::faces_in_sample`,
//! src/pixels/yunet.rs) against OpenCV's `FaceDetectorYN` on the same model and the same small
//! copy, one core, measured in the same run; prints both and the ratio.
//!
//! `make bench` (or `cargo bench --bench face_detector`). Env: BENCH_RUNS (default 1000, each side, in three
//! alternating rounds; the median round is printed).

use coverforge::pixels::{face_detection_size, faces_in_sample, opencv_single_threaded, Image};
use opencv::core::{Mat, MatTraitConst, Size};
use opencv::objdetect::{FaceDetectorYN, FaceDetectorYNTrait};
use std::path::PathBuf;

mod common;

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: do nothing there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("face_detector: skipped (run `make bench` or `cargo bench --bench face_detector`)");
        return;
    }
    opencv_single_threaded();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("assets/face_detection_yunet_2022mar.onnx");
    let frame = Image::load(&root.join("tests/faces/recall/astronaut-1080-in-1920.jpg")).expect("test frame");
    let (w, h) = (frame.width(), frame.height());
    let (dw, dh) = face_detection_size(w, h);
    let small = frame.crop_resized(frame.bounds(), dw, dh).expect("small copy");
    let runs = common::runs(1000);

    let mut opencv = FaceDetectorYN::create(
        model.to_str().expect("UTF-8 path"),
        "",
        Size::new(dw as i32, dh as i32),
        0.85,
        0.3,
        50,
        0,
        0,
    )
    .expect("OpenCV loads the model");
    let rgb = small.to_rgb();
    let bgr: Vec<u8> = rgb.chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
    let input = Mat::new_rows_cols_with_bytes::<opencv::core::Vec3b>(dh as i32, dw as i32, &bgr)
        .expect("borrow the copy");
    let ours_once = faces_in_sample(small.clone(), (w, h), &model).expect("our detector");
    let mut found = Mat::default();
    opencv.detect(&input, &mut found).expect("OpenCV's detector");
    println!(
        "frame {w}x{h}, detector input {dw}x{dh}: ours found {}, OpenCV {}",
        ours_once.len(),
        found.rows()
    );
    assert_eq!(ours_once.len() as i32, found.rows(), "both detectors find the same faces");

    let (o, c) = common::alternate(
        runs,
        || {
            faces_in_sample(small.clone(), (w, h), &model).expect("our detector");
        },
        || {
            opencv.detect(&input, &mut found).expect("OpenCV's detector");
        },
    );
    println!(
        "ours {o:.3} ms a frame, OpenCV's FaceDetectorYN {c:.3} ms a frame: ours / OpenCV = {:.2}",
        o / c
    );
}
