//! `coverforge ab`: A/B results of cover variants — which variant wins, how sure we are, and how
//! long to wait when we are not.
//!
//! Model: each variant's click-through rate has a Beta(1 + clicks, 1 + impressions − clicks)
//! posterior (a flat prior). From posterior draws (Monte Carlo, a fixed seed so a report is
//! reproducible) come the probability that each variant is best and its expected loss (how much
//! CTR is given up, on average, by picking it when another is better). The verdict:
//! - `winner`: one variant is best with probability ≥ 95 % and its expected loss is under 1 % of
//!   its CTR;
//! - `no difference`: every variant's expected loss is under 1 % of the best CTR (whichever is
//!   picked costs next to nothing);
//! - `keep testing`: otherwise, with the impressions per variant that would settle it if the
//!   current rates held.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

use crate::stats::Rng;

pub mod effects;
pub mod report;
pub mod watch;

use watch::{WatchResult, WatchRow};

/// Probability of being best a winner needs.
pub const WIN_PROBABILITY: f64 = 0.95;
/// Expected loss, relative to the CTR, under which a choice costs next to nothing.
pub const LOSS_TOLERANCE: f64 = 0.01;
/// Posterior draws per variant.
const DRAWS: usize = 20_000;

/// One variant's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counts {
    /// The variant id (`utm_content`).
    pub variant: String,
    /// Impressions.
    pub impressions: u64,
    /// Clicks.
    pub clicks: u64,
    /// Watch time per row, when the file has a `watch_time` column.
    #[serde(skip)]
    pub watch: Vec<WatchRow>,
}

/// One variant's result.
#[derive(Debug, Clone, Serialize)]
pub struct VariantResult {
    /// The variant id.
    pub variant: String,
    /// Impressions and clicks.
    pub impressions: u64,
    /// Clicks.
    pub clicks: u64,
    /// Observed CTR.
    pub ctr: f64,
    /// 95 % credible interval of the CTR.
    pub interval: (f64, f64),
    /// Probability that it is the best variant.
    pub probability_best: f64,
    /// Expected CTR lost by choosing it.
    pub expected_loss: f64,
}

/// A video's test.
#[derive(Debug, Clone, Serialize)]
pub struct VideoResult {
    /// The video (as the results file names it).
    pub video: String,
    /// Its variants, in the file's order.
    pub variants: Vec<VariantResult>,
    /// `winner`, `keep testing` or `no difference`.
    pub verdict: String,
    /// The winning variant, with `winner`.
    pub winner: Option<String>,
    /// With `keep testing`: more impressions per variant that would settle it at the current
    /// rates (`None` when the rates are too close for any reasonable test to tell them apart).
    pub more_impressions_per_variant: Option<u64>,
    /// Why the verdict is not a comparison (one variant only, a variant never shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Watch time compared by bootstrap, when the file has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchResult>,
}

/// Why a results file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AbError {
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] crate::files::ReadError),
    /// Its content is wrong: the message names the file, the line and the problem.
    #[error("{0}")]
    Invalid(String),
}

/// The columns a results file must have (by header name, any order, case-insensitive).
pub const COLUMNS: &[&str] = &["video", "variant", "impressions", "clicks"];

/// Names accepted for the optional watch-time column (mean seconds watched per view in the row).
pub const WATCH_COLUMNS: &[&str] = &["watch_time", "watch_time_s", "avg_watch_time", "watch_seconds"];

/// Reads a results CSV (`video,variant,impressions,clicks`; `variant` is the `utm_content` the
/// variant carried) into counts per video, in file order. Rows of one video and variant add up.
/// An optional `watch_time` column (mean seconds per view in that row, weighted by a `views`
/// column or else the row's clicks) is kept per row for the bootstrap; other columns are ignored.
///
/// # Errors
/// [`AbError`] naming the file, and the line for a bad value.
pub fn read_results(path: &Path) -> Result<BTreeMap<String, Vec<Counts>>, AbError> {
    let text = crate::files::read_text_bounded(path, 64 << 20, "results file")?;
    let bad = |line: usize, m: String| AbError::Invalid(format!("{}:{line}: {m}", path.display()));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut index = Vec::new();
    for c in COLUMNS {
        match headers.iter().position(|h| h == c) {
            Some(i) => index.push(i),
            None => {
                return Err(bad(
                    1,
                    format!(
                        "no `{c}` column (the columns are {}; found: {})",
                        COLUMNS.join(", "),
                        headers.join(", ")
                    ),
                ))
            }
        }
    }
    let watch_col = headers.iter().position(|h| WATCH_COLUMNS.contains(&h.as_str()));
    let views_col = headers.iter().position(|h| h == "views");
    let mut out: BTreeMap<String, Vec<Counts>> = BTreeMap::new();
    for (n, row) in reader.records().enumerate() {
        let line = n + 2;
        let row = row.map_err(|e| bad(line, e.to_string()))?;
        let field = |i: usize| row.get(index[i]).unwrap_or("").trim().to_string();
        let number = |i: usize| -> Result<u64, AbError> {
            field(i)
                .parse::<u64>()
                .map_err(|_| bad(line, format!("`{}` is not a count of {}", field(i), COLUMNS[i])))
        };
        let (video, variant, impressions, clicks) = (field(0), field(1), number(2)?, number(3)?);
        if clicks > impressions {
            return Err(bad(line, format!("{clicks} clicks from {impressions} impressions")));
        }
        let cell = |col: Option<usize>| col.and_then(|i| row.get(i)).map(str::trim).filter(|v| !v.is_empty());
        let seconds = |col: Option<usize>, what: &str| -> Result<Option<f64>, AbError> {
            cell(col)
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x >= 0.0)
                        .ok_or_else(|| bad(line, format!("`{v}` is not a {what}")))
                })
                .transpose()
        };
        let watch = match seconds(watch_col, "watch time in seconds")? {
            Some(s) => {
                let views = seconds(views_col, "count of views")?.unwrap_or(clicks as f64);
                vec![WatchRow { views, seconds: s }]
            }
            None => Vec::new(),
        };
        let list = out.entry(video).or_default();
        match list.iter_mut().find(|c| c.variant == variant) {
            Some(c) => {
                c.impressions = c
                    .impressions
                    .checked_add(impressions)
                    .ok_or_else(|| bad(line, "impressions add up past 2^64".into()))?;
                c.clicks += clicks; // never more than the impressions
                c.watch.extend(watch);
            }
            None => list.push(Counts { variant, impressions, clicks, watch }),
        }
    }
    if out.is_empty() {
        return Err(AbError::Invalid(format!("{}: no results (a header and no rows)", path.display())));
    }
    Ok(out)
}

/// Draws from each variant's posterior (rows: draws; one vector per variant).
fn draws(counts: &[Counts], seed: u64) -> Vec<Vec<f64>> {
    let mut rng = Rng(seed);
    counts
        .iter()
        .map(|c| {
            let (a, b) = (1.0 + c.clicks as f64, 1.0 + (c.impressions - c.clicks) as f64);
            (0..DRAWS).map(|_| rng.beta(a, b)).collect()
        })
        .collect()
}

/// Probability best and expected loss per variant, from posterior draws.
fn summarise(samples: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let k = samples.len();
    let mut wins = vec![0usize; k];
    let mut loss = vec![0.0; k];
    for d in 0..DRAWS {
        let (best, max) =
            (0..k).map(|i| (i, samples[i][d])).fold((0, f64::MIN), |m, x| if x.1 > m.1 { x } else { m });
        wins[best] += 1;
        for (l, s) in loss.iter_mut().zip(samples) {
            *l += max - s[d];
        }
    }
    (wins.iter().map(|w| *w as f64 / DRAWS as f64).collect(), loss.iter().map(|l| l / DRAWS as f64).collect())
}

fn verdict_of(counts: &[Counts], p_best: &[f64], loss: &[f64]) -> (String, Option<usize>) {
    let best = (0..counts.len()).max_by(|&a, &b| p_best[a].total_cmp(&p_best[b])).unwrap_or(0);
    let ctr = |c: &Counts| (c.clicks as f64 + 1.0) / (c.impressions as f64 + 2.0);
    let top = counts.iter().map(ctr).fold(0.0, f64::max);
    if p_best[best] >= WIN_PROBABILITY && loss[best] < LOSS_TOLERANCE * ctr(&counts[best]) {
        return ("winner".into(), Some(best));
    }
    if loss.iter().all(|l| *l < LOSS_TOLERANCE * top) {
        return ("no difference".into(), None);
    }
    ("keep testing".into(), None)
}

/// Analyses one video's variants.
pub fn analyse(video: &str, counts: &[Counts]) -> VideoResult {
    let seed =
        blake3::hash(video.as_bytes()).as_bytes().iter().fold(0u64, |h, b| h.rotate_left(8) ^ *b as u64);
    let samples = draws(counts, seed);
    let (p_best, loss) = summarise(&samples);
    // A test needs two variants, each shown at least once; until then there is nothing to call.
    let unshown: Vec<&str> =
        counts.iter().filter(|c| c.impressions == 0).map(|c| c.variant.as_str()).collect();
    let note = if counts.len() < 2 {
        Some(format!("only one variant ({}): nothing to compare it with", counts[0].variant))
    } else if !unshown.is_empty() {
        Some(format!("no impressions yet for {}", unshown.join(", ")))
    } else {
        None
    };
    let (verdict, winner) =
        if note.is_some() { ("keep testing".to_string(), None) } else { verdict_of(counts, &p_best, &loss) };
    let variants = counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut s = samples[i].clone();
            s.sort_by(f64::total_cmp);
            let q = |p: f64| s[((p * (DRAWS - 1) as f64).round() as usize).min(DRAWS - 1)];
            VariantResult {
                variant: c.variant.clone(),
                impressions: c.impressions,
                clicks: c.clicks,
                ctr: if c.impressions == 0 { 0.0 } else { c.clicks as f64 / c.impressions as f64 },
                interval: (q(0.025), q(0.975)),
                probability_best: p_best[i],
                expected_loss: loss[i],
            }
        })
        .collect();
    let more =
        (verdict == "keep testing" && note.is_none()).then(|| impressions_to_settle(video, counts)).flatten();
    let watch = watch::compare(
        video,
        &counts.iter().map(|c| (c.variant.clone(), c.watch.clone())).collect::<Vec<_>>(),
    );
    VideoResult {
        video: video.to_string(),
        variants,
        verdict,
        winner: winner.map(|i| counts[i].variant.clone()),
        more_impressions_per_variant: more,
        note,
        watch,
    }
}

/// More impressions per variant after which, if the current rates held (clicks growing in
/// proportion), the test would reach a verdict. Doubling, then a binary search; `None` past ten
/// million per variant.
pub fn impressions_to_settle(video: &str, counts: &[Counts]) -> Option<u64> {
    let settles = |extra: u64| {
        let grown: Vec<Counts> = counts
            .iter()
            .map(|c| {
                let rate = (c.clicks as f64 + 0.5) / (c.impressions as f64 + 1.0);
                Counts {
                    variant: c.variant.clone(),
                    impressions: c.impressions + extra,
                    clicks: c.clicks + (extra as f64 * rate).round() as u64,
                    watch: Vec::new(),
                }
            })
            .collect();
        let seed = blake3::hash(video.as_bytes()).as_bytes()[0] as u64;
        let (p, l) = summarise(&draws(&grown, seed));
        verdict_of(&grown, &p, &l).0 != "keep testing"
    };
    let mut hi = 100u64;
    while !settles(hi) {
        hi *= 2;
        if hi > 10_000_000 {
            return None;
        }
    }
    let mut lo = hi / 2;
    while hi - lo > hi / 20 + 1 {
        let mid = (lo + hi) / 2;
        if settles(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Every video of a results file.
///
/// # Errors
/// As [`read_results`].
pub fn analyse_file(path: &Path) -> Result<Vec<VideoResult>, AbError> {
    Ok(read_results(path)?.iter().map(|(video, counts)| analyse(video, counts)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(variant: &str, impressions: u64, clicks: u64) -> Counts {
        Counts { variant: variant.into(), impressions, clicks, watch: Vec::new() }
    }

    #[test]
    fn a_planted_winner_is_found_and_a_tie_is_not_called() {
        let r = analyse("v", &[c("A", 20_000, 600), c("B", 20_000, 800), c("C", 20_000, 610)]);
        assert_eq!(r.verdict, "winner");
        assert_eq!(r.winner.as_deref(), Some("B"));
        assert!(r.variants[1].probability_best > 0.99);
        let tie = analyse("t", &[c("A", 200_000, 6_000), c("B", 200_000, 6_010)]);
        assert_ne!(tie.verdict, "winner", "{tie:?}");
        let small = analyse("s", &[c("A", 300, 9), c("B", 300, 14)]);
        assert_eq!(small.verdict, "keep testing");
        assert!(small.more_impressions_per_variant.is_some_and(|n| n > 0));
    }

    #[test]
    fn the_sample_size_estimate_settles_about_half_of_simulated_continuations() {
        // The estimate assumes the observed rates continue exactly; real continuations scatter
        // around them, so roughly half should reach a verdict by then.
        let now = [c("A", 2_000, 60), c("B", 2_000, 80)];
        let n = impressions_to_settle("sim", &now).expect("a verdict is reachable");
        let mut rng = Rng(42);
        let mut settled = 0;
        let runs = 40;
        for _ in 0..runs {
            let grown: Vec<Counts> = now
                .iter()
                .map(|v| {
                    let p = v.clicks as f64 / v.impressions as f64;
                    let more = (0..n).filter(|_| rng.uniform() < p).count() as u64;
                    c(&v.variant, v.impressions + n, v.clicks + more)
                })
                .collect();
            if analyse("sim", &grown).verdict != "keep testing" {
                settled += 1;
            }
        }
        assert!(
            (10..=38).contains(&settled),
            "{settled} of {runs} simulated continuations settled after {n} impressions"
        );
    }
}
