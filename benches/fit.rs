//! Benchmark: fitting a keyframe to the canvas, the one pass covers use (src/av/yuv_fit.rs)
//! against the two steps it replaced (OpenCV's resize of each plane, then swscale's
//! conversion), on the same synthetic frame, one core, in the same run; prints both and the
//! ratio.
//!
//! `make bench` (or `cargo bench --bench fit`). Env: BENCH_RUNS (default 200, each side, in
//! three alternating rounds; the median round is printed).

use coverforge::model::Rect;
use coverforge::pixels::opencv_single_threaded;
use coverforge::FitBench;

mod common;

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: do nothing there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("fit: skipped (run `make bench` or `cargo bench --bench fit`)");
        return;
    }
    opencv_single_threaded();
    let runs = common::runs(200);
    // A landscape 1080p keyframe on a portrait 1080x1920 cover: the centre 608x1080 enlarged.
    let bench = FitBench::new((1920, 1080), Rect::new(656, 0, 608, 1080), (1080, 1920));
    let (o, t) = common::alternate(
        runs,
        || {
            std::hint::black_box(bench.one_pass().expect("an enlarging fit takes the one pass"));
        },
        || {
            std::hint::black_box(bench.two_steps());
        },
    );
    println!(
        "1920x1080 → crop 608x1080 → 1080x1920: one pass {o:.3} ms, two steps {t:.3} ms: one pass / two steps = {:.2}",
        o / t
    );
}
