//! `coverforge ctr fit` and `ctr rank` through the command line: a synthetic history where CTR
//! depends on two measures plus noise as strong as the signal, held-out covers ranked against
//! their noise-free CTR, pure noise, too little history, and a bare image ranked.

mod common;
use common::*;
use coverforge::stats::{spearman, Rng};

const HEADER: &str = "file,aspect_ratio,brightness,saturation_mean,saturation_spread,colourfulness,edge_density,faces,face_area,text_coverage,title_contrast";

/// Rows of covers (CSV lines after `HEADER`, then `,ctr`) and their noise-free CTR. With
/// `signal`, CTR peaks at 74 % saturation and falls with text coverage; noise has the signal's
/// standard deviation.
fn covers(n: usize, seed: u64, signal: bool) -> (Vec<String>, Vec<f64>) {
    let mut rng = Rng(seed);
    let mut rows = Vec::new();
    let mut truth = Vec::new();
    for i in 0..n {
        let sat = 30.0 + 70.0 * rng.uniform();
        let text = 0.25 * rng.uniform();
        let others: Vec<String> = (0..5).map(|_| format!("{:.3}", 100.0 * rng.uniform())).collect();
        rows.push(format!(
            "c{i}.jpg,0.5625,{},{sat:.3},{},{},{},{},{:.3},{text:.4},{:.2}",
            others[0],
            others[1],
            others[2],
            others[3],
            rng.below(3),
            rng.uniform() * 0.2,
            1.0 + 20.0 * rng.uniform()
        ));
        truth.push(if signal { 0.08 - 0.00001 * (sat - 74.0).powi(2) - 0.08 * text } else { 0.04 });
    }
    (rows, truth)
}

fn history(n: usize, seed: u64, signal: bool) -> String {
    let (rows, truth) = covers(n, seed, signal);
    let m = truth.iter().sum::<f64>() / n as f64;
    let sd = (truth.iter().map(|t| (t - m).powi(2)).sum::<f64>() / n as f64).sqrt();
    let sd = if signal { sd } else { 0.01 };
    let mut rng = Rng(seed ^ 0xabc);
    let mut out = format!("{HEADER},ctr\n");
    for (r, t) in rows.iter().zip(&truth) {
        out += &format!("{r},{:.6}\n", t + sd * rng.normal());
    }
    out
}

#[test]
fn fit_beats_the_baseline_and_rank_orders_held_out_covers_like_their_true_ctr() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("history.csv"), history(300, 11, true)).unwrap();
    let r = run_in(d, &["ctr", "fit", "history.csv", "-o", "model.json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("skill: "), "{}", r.stdout);
    assert!(d.join("model.json").is_file());

    let (rows, truth) = covers(100, 12, true);
    std::fs::write(d.join("new.csv"), format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    let r = run_in(d, &["ctr", "rank", "new.csv", "-m", "model.json", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ranked: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(ranked.len(), 100);
    let score = |i: usize| {
        ranked.iter().find(|x| x["file"].is_null() && x["name"] == format!("c{i}.jpg")).unwrap()
            ["predicted_ctr"]
            .as_f64()
            .unwrap()
    };
    let predicted: Vec<f64> = (0..100).map(score).collect();
    let rho = spearman(&predicted, &truth);
    assert!(rho >= 0.8, "Spearman {rho} against the noise-free CTR");
    let first = &ranked[0]["drivers"];
    assert_eq!(first.as_array().unwrap().len(), 3, "{first}");

    // A bare image: ranked, and the layout measures it lacks are named.
    let r = run_in(d, &["ctr", "rank", repo("tests/golden/frame.png").to_str().unwrap(), "-m", "model.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("not known for this cover") && r.stdout.contains("text_coverage"),
        "{}",
        r.stdout
    );
}

#[test]
fn noise_has_no_skill_and_too_little_history_is_refused_by_name() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("noise.csv"), history(300, 21, false)).unwrap();
    let r = run_in(d, &["ctr", "fit", "noise.csv", "-o", "model.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("no skill"), "{}", r.stdout);
    assert!(!d.join("model.json").exists(), "no model from noise");

    std::fs::write(d.join("small.csv"), history(12, 22, true)).unwrap();
    let r = run_in(d, &["ctr", "fit", "small.csv"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("too little history: 12 covers"), "{}", r.stderr);

    std::fs::write(d.join("cols.csv"), "file,clicks\na.jpg,3\n").unwrap();
    let r = run_in(d, &["ctr", "fit", "cols.csv"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cols.csv:1: no `ctr` column"), "{}", r.stderr);

    let r = run_in(d, &["ctr", "rank", "cols.csv", "-m", "missing.json"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("missing.json"), "{}", r.stderr);
}
