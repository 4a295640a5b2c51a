//! Watch time per variant, compared with a bootstrap rather than the click model: watch time is
//! not a yes/no outcome, and its spread between days or regions is what an interval must carry.
//!
//! The units are the results file's rows (a day, a region, a traffic source): each replicate
//! draws every variant's rows again with replacement and takes the mean watch time weighted by
//! the row's views (its `views` column, or its clicks). A variant needs two rows or more for an
//! interval; with fewer the report says so instead of showing a zero-width one.

use crate::stats::{quantile, Rng};
use serde::Serialize;

/// Bootstrap replicates.
const REPLICATES: usize = 4_000;
/// Probability of holding viewers longest that names a variant.
pub const LONGEST_PROBABILITY: f64 = 0.95;

/// One row's watch time.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchRow {
    /// Views behind it (the weight).
    pub views: f64,
    /// Mean seconds watched per view.
    pub seconds: f64,
}

/// One variant's watch time.
#[derive(Debug, Clone, Serialize)]
pub struct VariantWatch {
    /// The variant id.
    pub variant: String,
    /// Mean seconds per view (weighted by views).
    pub mean_seconds: f64,
    /// 95 % bootstrap interval (absent below two rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, f64)>,
    /// Share of replicates in which it had the longest mean (absent when some variant has
    /// fewer than two rows: the bootstrap cannot vary it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability_longest: Option<f64>,
    /// Rows behind it.
    pub rows: usize,
}

/// A video's watch-time comparison.
#[derive(Debug, Clone, Serialize)]
pub struct WatchResult {
    /// Per variant, in the file's order.
    pub variants: Vec<VariantWatch>,
    /// The variant that holds viewers longest with probability ≥ 95 %, if one does.
    pub longest: Option<String>,
    /// Why there is no interval, when there is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn weighted_mean(rows: &[&WatchRow]) -> f64 {
    let w: f64 = rows.iter().map(|r| r.views).sum();
    if w > 0.0 {
        rows.iter().map(|r| r.views * r.seconds).sum::<f64>() / w
    } else {
        rows.iter().map(|r| r.seconds).sum::<f64>() / rows.len().max(1) as f64
    }
}

/// Compares the variants' watch time; `None` when no variant has any.
pub fn compare(video: &str, variants: &[(String, Vec<WatchRow>)]) -> Option<WatchResult> {
    if variants.iter().all(|(_, rows)| rows.is_empty()) {
        return None;
    }
    let mut rng = Rng::for_name(&format!("watch {video}"));
    let k = variants.len();
    let mut samples = vec![Vec::with_capacity(REPLICATES); k];
    let mut longest = vec![0usize; k];
    for _ in 0..REPLICATES {
        let means: Vec<f64> = variants
            .iter()
            .map(|(_, rows)| {
                if rows.is_empty() {
                    return f64::NAN;
                }
                let pick: Vec<&WatchRow> = (0..rows.len()).map(|_| &rows[rng.below(rows.len())]).collect();
                weighted_mean(&pick)
            })
            .collect();
        let best = (0..k).filter(|&i| !means[i].is_nan()).max_by(|&a, &b| means[a].total_cmp(&means[b]));
        if let Some(b) = best {
            longest[b] += 1;
        }
        for (s, m) in samples.iter_mut().zip(means) {
            s.push(m);
        }
    }
    let thin = variants.iter().any(|(_, rows)| rows.len() < 2);
    let out: Vec<VariantWatch> = variants
        .iter()
        .zip(samples.iter_mut())
        .zip(&longest)
        .map(|(((id, rows), s), wins)| {
            s.sort_by(f64::total_cmp);
            VariantWatch {
                variant: id.clone(),
                mean_seconds: weighted_mean(&rows.iter().collect::<Vec<_>>()),
                interval: (rows.len() >= 2).then(|| (quantile(s, 0.025), quantile(s, 0.975))),
                probability_longest: (!thin).then(|| *wins as f64 / REPLICATES as f64),
                rows: rows.len(),
            }
        })
        .collect();
    let longest = out
        .iter()
        .find(|v| v.probability_longest.is_some_and(|p| p >= LONGEST_PROBABILITY))
        .map(|v| v.variant.clone());
    let note = thin.then(|| {
        "a variant has fewer than two rows of watch time: no interval; give watch time per day or per region".to_string()
    });
    Some(WatchResult { variants: out, longest, note })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(seconds: &[f64]) -> Vec<WatchRow> {
        seconds.iter().map(|s| WatchRow { views: 100.0, seconds: *s }).collect()
    }

    #[test]
    fn a_clearly_longer_variant_is_named_and_overlapping_ones_are_not() {
        let clear = compare(
            "v",
            &[
                ("A".into(), rows(&[20.0, 21.0, 19.5, 20.5, 20.2, 19.8, 20.1])),
                ("B".into(), rows(&[25.0, 24.0, 26.0, 25.5, 24.8, 25.2, 25.1])),
            ],
        )
        .unwrap();
        assert_eq!(clear.longest.as_deref(), Some("B"), "{clear:?}");
        let (lo, hi) = clear.variants[1].interval.unwrap();
        assert!(lo > 24.0 && hi < 26.0 && lo < 25.1 && hi > 25.1, "{clear:?}");

        let noisy = compare(
            "w",
            &[("A".into(), rows(&[10.0, 30.0, 20.0, 15.0])), ("B".into(), rows(&[12.0, 28.0, 22.0, 14.0]))],
        )
        .unwrap();
        assert_eq!(noisy.longest, None, "{noisy:?}");

        let thin = compare("x", &[("A".into(), rows(&[10.0])), ("B".into(), rows(&[30.0]))]).unwrap();
        assert!(thin.longest.is_none() && thin.note.is_some() && thin.variants[0].interval.is_none());
        assert!(compare("y", &[("A".into(), vec![])]).is_none());
    }
}
