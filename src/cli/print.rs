//! What the commands print: text for people, `--json` for programs.

use coverforge::check::CheckReport;
use coverforge::devices::{DecodeComparison, DevicesReport, MIN_PSNR_DB};
use coverforge::layout::doc::LayoutDoc;
use coverforge::pipeline::JobResult;
use coverforge::probe::MediaInfo;
use std::path::Path;

/// `render` of a file with A/B variants: each cover as `render` prints one; `--json` prints them
/// as one array.
pub fn render_all(results: &[JobResult], json: bool) {
    if json {
        for r in results {
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
        }
        println!("{}", serde_json::to_string_pretty(results).expect("report serialises"));
        return;
    }
    for r in results {
        render(r, false);
    }
}

/// `render`: the cover written (or its JSON report).
pub fn render(result: &JobResult, json: bool) {
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(result).expect("report serialises"));
        return;
    }
    match &result.clip {
        Some(c) => println!(
            "{}: {}x{} {} animated cover, {} frames at {:.2} fps ({:.2} s from {:.2} s), {} ({}), {} bytes",
            result.output.display(),
            c.width,
            c.height,
            result.template,
            c.frames,
            c.fps,
            c.seconds,
            c.start_s,
            c.encoder,
            c.backend,
            result.output_bytes
        ),
        None => println!(
            "{}: {}x{} {} cover, frame at {:.2} s of {}, {} bytes",
            result.output.display(),
            result.width,
            result.height,
            result.template,
            result.frame_time_s,
            result.media.path.display(),
            result.output_bytes
        ),
    }
}

/// `batch`'s closing line.
pub fn batch_summary(s: &coverforge::batch::Summary) {
    eprintln!(
        "batch: {} covers: {} rendered, {} unchanged, {} failed{} in {:.2} s ({:.1} covers/s{}, {} decoded, {} from cache)",
        s.total,
        s.ok,
        s.skipped,
        s.failed,
        if s.planned > 0 { format!(", {} planned", s.planned) } else { String::new() },
        s.wall_s,
        s.covers_per_s,
        if s.cpu_s > 0.0 { format!(", {:.2} s CPU = {:.2} cores busy", s.cpu_s, s.cores_busy) } else { String::new() },
        s.decodes,
        s.cache_hits
    );
}

/// `check`: one line per error and finding, `ok` for a clean file.
pub fn check(reports: &[CheckReport], json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(reports).expect("reports serialise"));
        return;
    }
    for r in reports {
        // A variant is named after its file: `meta.yaml#B`.
        let name = match &r.variant {
            Some(v) => format!("{}#{v}", r.meta.display()),
            None => r.meta.display().to_string(),
        };
        for e in &r.errors {
            println!("error: {}", e.replace('\n', " "));
        }
        for w in &r.warnings {
            println!("{name}: warning[near-duplicate]: {w}");
        }
        for a in &r.advice {
            println!("{name}: advice: {a}");
        }
        for f in &r.findings {
            let at = f.line.map(|l| format!(":{l}")).unwrap_or_default();
            println!(
                "{}: {}{at}: warning[{}]: {}: {}",
                name,
                f.file.display(),
                serde_json::to_value(f.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                f.layer,
                f.message
            );
        }
        if r.errors.is_empty() && r.findings.is_empty() {
            let measured = r.video.as_ref().map(|v| format!(" (contrast measured on {})", v.display()));
            println!("{name}: ok{}", measured.unwrap_or_default());
        }
    }
}

/// `devices`: the decode devices, encoders, nvJPEG and the GPU compositor, and decode checks.
pub fn devices(report: &DevicesReport, comparisons: &[DecodeComparison], asked_to_compare: bool, json: bool) {
    if json {
        let v = serde_json::json!({ "devices": report, "decode_checks": comparisons });
        println!("{}", serde_json::to_string_pretty(&v).expect("report serialises"));
        return;
    }
    println!("decode (tried in this order by --hwaccel auto; software always works):");
    for d in &report.decode {
        let state = if d.available { "available" } else { "unavailable" };
        println!("  {:<6} {state}  codecs: {}", d.device.name(), d.codecs.join(", "));
        if let Some(r) = &d.reason {
            println!("         {r}");
        }
    }
    println!(
        "encode (--encoder auto takes the first that opens; at most {} hardware sessions):",
        report.max_hw_sessions
    );
    for e in &report.encode {
        let state = if e.available { "available" } else { "unavailable" };
        let codec =
            if e.format == "webp" { "-".to_string() } else { format!("{:?}", e.codec).to_lowercase() };
        println!("  {:<4} {:<5} {:<8} {:<13} {state}", e.format, codec, e.backend.name(), e.encoder);
        if let Some(r) = &e.reason {
            println!("         {r}");
        }
    }
    match &report.nvjpeg {
        Ok(()) => println!("still covers: nvjpeg available (--jpeg-encoder nvjpeg)"),
        Err(why) => println!("still covers: nvjpeg unavailable: {why}"),
    }
    match &report.gpu_compositor {
        Ok(()) => println!("compositing: cuda available (--compositor cuda)"),
        Err(why) => println!("compositing: cuda unavailable: {why}"),
    }
    if asked_to_compare && comparisons.is_empty() {
        println!("decode check: no hardware decode device available; nothing to compare");
    }
    for c in comparisons {
        println!(
            "decode check: {} vs software on {}: {} keyframes, PSNR min {:.2} dB, mean {:.2} dB ({}), {:.1} ms vs {:.1} ms a keyframe",
            c.device,
            c.video.display(),
            c.keyframes,
            c.min_psnr_db,
            c.mean_psnr_db,
            if c.min_psnr_db >= MIN_PSNR_DB { "ok" } else { "BELOW 45 dB" },
            c.device_ms,
            c.software_ms
        );
    }
}

/// `probe`: what a video is.
pub fn probe(info: &MediaInfo, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(info).expect("info serialises"));
        return;
    }
    println!("file:       {}", info.path.display());
    println!("container:  {}", info.container);
    println!("codec:      {}", info.codec);
    println!("coded size: {}x{}", info.width, info.height);
    println!("pixel AR:   {}:{}", info.sample_aspect_ratio.0, info.sample_aspect_ratio.1);
    println!("rotation:   {}°", info.rotation_degrees);
    println!("display:    {}x{}", info.display_width, info.display_height);
    println!("duration:   {:.3} s", info.duration_s);
    println!("frame rate: {:.3} fps", info.frame_rate);
}

/// `layout`: one line, or the resolved layout as YAML with `--dump`.
pub fn layout(meta: &Path, variant: Option<&str>, doc: &LayoutDoc, dump: bool) {
    let name = match variant {
        Some(v) => format!("{}#{v}", meta.display()),
        None => meta.display().to_string(),
    };
    if dump {
        if variant.is_some() {
            println!("# {name}");
        }
        print!("{}", serde_yaml_ng::to_string(doc).expect("layout serialises"));
    } else {
        println!(
            "{}: template {} ok, {}x{}, {} layers",
            name,
            doc.template,
            doc.canvas.width,
            doc.canvas.height,
            doc.layers.len()
        );
    }
}

/// `batch --watch`: a line per pass (what changed, what was rendered), and every failure.
pub fn watch_pass(pass: &coverforge::batch::watch::Pass, quiet: bool) {
    match &pass.result {
        Ok(s) => {
            if !quiet {
                let why = match pass.changed.as_slice() {
                    [] => String::new(),
                    [one] => format!(" after a change to {}", one.display()),
                    many => format!(" after changes to {} files", many.len()),
                };
                eprintln!(
                    "watch: pass {}{why}: {} rendered, {} unchanged, {} failed ({:.2} s); watching for changes",
                    pass.number, s.ok, s.skipped, s.failed, s.wall_s
                );
            }
        }
        Err(e) => eprintln!("error: watch: pass {}: {e}", pass.number),
    }
}

/// `ab`: a block per video (or JSON).
pub fn ab(videos: &[coverforge::ab::VideoResult], effects: &[coverforge::ab::effects::Effect], json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(videos).expect("results serialise"));
        return;
    }
    for v in videos {
        let verdict = match (&v.winner, v.more_impressions_per_variant) {
            (Some(w), _) => format!("winner: {w}"),
            (None, _) if v.note.is_some() => {
                format!("keep testing: {}", v.note.as_deref().unwrap_or_default())
            }
            (None, Some(n)) if v.verdict == "keep testing" => {
                format!("keep testing: about {n} more impressions per variant at the current rates")
            }
            (None, None) if v.verdict == "keep testing" => {
                "keep testing: the rates are too close to tell apart in any reasonable test".into()
            }
            _ => v.verdict.clone(),
        };
        println!("{}: {verdict}", v.video);
        for r in &v.variants {
            println!(
                "  {:<12} {:>9} impressions {:>7} clicks  CTR {:>6.3} % [{:.3}–{:.3}]  P(best) {:>5.1} %  expected loss {:.4} %",
                r.variant,
                r.impressions,
                r.clicks,
                r.ctr * 100.0,
                r.interval.0 * 100.0,
                r.interval.1 * 100.0,
                r.probability_best * 100.0,
                r.expected_loss * 100.0
            );
        }
        if let Some(w) = &v.watch {
            for r in &w.variants {
                let interval = r.interval.map_or("(no interval)".into(), |(a, b)| format!("[{a:.1}–{b:.1}]"));
                let longest = r
                    .probability_longest
                    .map(|p| format!("  P(longest) {:.1} %", p * 100.0))
                    .unwrap_or_default();
                println!(
                    "  {:<12} watch time {:.1} s per view {interval}{longest}",
                    r.variant, r.mean_seconds
                );
            }
            match (&w.longest, &w.note) {
                (Some(l), _) => println!("  watch time: {l} holds viewers longest"),
                (None, Some(n)) => println!("  watch time: {n}"),
                (None, None) => println!("  watch time: no variant holds viewers clearly longer"),
            }
        }
    }
    if !effects.is_empty() {
        println!("across videos (within-video effects of the cover measures):");
        for e in effects {
            match e.interval {
                Some((lo, hi)) => println!(
                    "  {}: {} [{:+.1} %, {:+.1} %] ({} videos, {} variants)",
                    e.feature,
                    e.reading,
                    lo * 100.0,
                    hi * 100.0,
                    e.videos,
                    e.variants
                ),
                None => println!("  {}: {}", e.feature, e.reading),
            }
        }
    }
}

/// `analyze`: one block per cover.
pub fn measures(m: &coverforge::analyze::Measures) {
    let s = &m.stats;
    println!(
        "{}: {}x{} (aspect {:.3}), brightness {:.0}, saturation {:.0} ± {:.0} %, colourfulness {:.0}, edges {:.1} %, {} face(s) over {:.1} %",
        m.file.display(),
        m.width,
        m.height,
        m.aspect_ratio,
        s.brightness,
        s.saturation_mean,
        s.saturation_spread,
        s.colourfulness,
        s.edge_density * 100.0,
        m.faces,
        m.face_area * 100.0
    );
    if let Some(t) = m.text_coverage {
        println!(
            "  layout: text over {:.1} % of the cover, title contrast {}, QR {}, {} safe-zone conflict(s)",
            t * 100.0,
            m.title_contrast.map_or("not measured".into(), |c| format!("{c:.2}:1")),
            m.qr_side.map_or("none".into(), |q| format!("{q} px")),
            m.safe_zone_conflicts.unwrap_or(0)
        );
    }
    let colours: Vec<String> =
        m.dominant_colours.iter().map(|(c, s)| format!("{c} {:.0} %", s * 100.0)).collect();
    println!("  colours: {}", colours.join(", "));
}

/// `ctr fit`'s report.
pub fn ctr_fit(r: &coverforge::ctr::FitReport, saved: Option<&std::path::Path>, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(r).expect("the fit report serialises"));
        return;
    }
    println!("{}", r.summary);
    println!("cross-validated RMSE of CTR ({} folds, {} covers):", r.folds, r.covers);
    for c in &r.candidates {
        println!("  {:.5}  {}", c.cv_rmse, c.name);
    }
    if !r.dropped.is_empty() {
        println!("measures left out: {}", r.dropped.join("; "));
    }
    for i in r.importance.iter().take(5) {
        println!(
            "  {}: moves the predicted CTR by {:.3} points on average",
            i.feature,
            i.mean_effect * 100.0
        );
    }
    if let Some(p) = saved {
        println!("model saved to {}", p.display());
    }
}

/// `ctr rank`'s scores, best first.
pub fn ctr_rank(ranked: &[coverforge::ctr::Ranked], fit: &coverforge::ctr::FitReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(ranked).expect("ranks serialise"));
        return;
    }
    println!(
        "model: {} (cross-validated skill {:.0} % over the mean, {} covers)",
        fit.chosen,
        fit.skill * 100.0,
        fit.covers
    );
    for (i, r) in ranked.iter().enumerate() {
        let drivers: Vec<String> = r
            .drivers
            .iter()
            .map(|d| {
                let value = d.value.map_or("unknown".into(), |v| format!("{v:.3}"));
                format!("{} {} ({:+.3} points)", d.feature, value, d.effect * 100.0)
            })
            .collect();
        println!("{:>3}. {:.3} %  {}  — {}", i + 1, r.predicted_ctr * 100.0, r.name, drivers.join(", "));
        if !r.unknown.is_empty() {
            println!("       not known for this cover (the history's mean used): {}", r.unknown.join(", "));
        }
    }
}
