//! `coverforge ab` on results files: a planted winner, a planted tie, and a file with a missing
//! column.

mod common;
use common::*;

#[test]
fn ab_finds_the_planted_winner_does_not_call_the_tie_and_names_a_missing_column() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(
        d.join("r.csv"),
        "video,variant,impressions,clicks\nwin,A,20000,600\nwin,B,20000,800\nwin,C,20000,590\n\
         tie,A,200000,6000\ntie,B,200000,6004\n",
    )
    .unwrap();
    let r = run_in(d, &["ab", "r.csv", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let video = |name: &str| v.iter().find(|x| x["video"] == name).unwrap().clone();
    assert_eq!(video("win")["verdict"], "winner");
    assert_eq!(video("win")["winner"], "B");
    assert_ne!(video("tie")["verdict"], "winner");
    let p: f64 = video("win")["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["probability_best"].as_f64().unwrap())
        .sum();
    assert!((p - 1.0).abs() < 1e-9, "probabilities of being best sum to 1: {p}");

    std::fs::write(d.join("bad.csv"), "video,variant,views\nx,A,10\n").unwrap();
    let r = run_in(d, &["ab", "bad.csv"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.csv:1: no `impressions` column"), "{}", r.stderr);
    std::fs::write(d.join("bad2.csv"), "video,variant,impressions,clicks\nx,A,10,11\n").unwrap();
    let r = run_in(d, &["ab", "bad2.csv"]);
    assert!(r.stderr.contains("bad2.csv:2: 11 clicks from 10 impressions"), "{}", r.stderr);
}

#[test]
fn watch_time_is_bootstrapped_and_the_report_embeds_the_covers_of_a_batch() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir(d.join("videos")).unwrap();
    std::fs::copy(repo("samples/cooking.mp4"), d.join("videos/cooking.mp4")).unwrap();
    std::fs::write(
        d.join("videos/cooking.yaml"),
        "template: douyin-9x16\ntitle: 三分钟学会番茄炒蛋\nvariants:\n  - id: A\n  - id: B\n    title: 番茄炒蛋的秘密\n",
    )
    .unwrap();
    let r = run_in(d, &["batch", "videos", "-o", "out", "--report", "report.jsonl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Watch time by day: B holds viewers clearly longer; clicks are even.
    let mut csv = String::from("video,variant,impressions,clicks,watch_time\n");
    for day in 0..7 {
        csv += &format!("cooking,A,1000,30,{}\ncooking,B,1000,30,{}\n", 20 + day % 3, 26 + day % 2);
    }
    std::fs::write(d.join("r.csv"), csv).unwrap();
    let r = run_in(d, &["ab", "r.csv", "--json", "--covers", "report.jsonl", "--report", "ab.html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0]["watch"]["longest"], "B", "{}", r.stdout);
    assert_ne!(v[0]["verdict"], "winner", "even clicks name no CTR winner");
    let html = std::fs::read_to_string(d.join("ab.html")).unwrap();
    assert_eq!(html.matches("data:image/jpeg;base64,").count(), 2, "both variants' covers embedded");
    assert!(html.contains("Holds viewers longest: B"));
    assert_eq!(html.matches("<svg").count(), 2, "the video's figure and the measures' figure");
}

#[test]
fn nothing_is_called_without_two_shown_variants_and_an_empty_file_is_an_error() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(
        d.join("r.csv"),
        "video,variant,impressions,clicks\nsolo,A,1000,50\nunseen,A,1000,40\nunseen,B,0,0\n",
    )
    .unwrap();
    let r = run_in(d, &["ab", "r.csv", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    for video in &v {
        assert_eq!(video["verdict"], "keep testing", "{video}");
        assert!(video["winner"].is_null() && video["more_impressions_per_variant"].is_null(), "{video}");
    }
    assert!(v.iter().any(|x| x["note"].as_str().is_some_and(|n| n.contains("only one variant"))));
    assert!(v.iter().any(|x| x["note"].as_str().is_some_and(|n| n.contains("no impressions yet for B"))));
    std::fs::write(d.join("empty.csv"), "video,variant,impressions,clicks\n").unwrap();
    let r = run_in(d, &["ab", "empty.csv"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("empty.csv: no results"), "{}", r.stderr);
}
