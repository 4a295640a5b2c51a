//! What the same-run benchmarks share.

use std::time::Instant;

/// Milliseconds a call of `a` and of `b` take: `runs` calls of each, in three alternating
/// rounds (so the machine's noise falls on both), the median round of each.
pub fn alternate(runs: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let (mut a_ms, mut b_ms) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        for (f, times) in [(&mut a as &mut dyn FnMut(), &mut a_ms), (&mut b as &mut dyn FnMut(), &mut b_ms)] {
            let t = Instant::now();
            for _ in 0..runs {
                f();
            }
            times.push(t.elapsed().as_secs_f64() * 1e3 / runs as f64);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[1]
    };
    (median(a_ms), median(b_ms))
}

/// Runs given with BENCH_RUNS, or `default`.
pub fn runs(default: usize) -> usize {
    std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
