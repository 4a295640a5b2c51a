//! `coverforge ctr fit` / `ctr rank`: a model of click-through rate learned from a team's own
//! past covers, honest about how much it knows.
//!
//! A history is a CSV with one row per cover: its CTR (`ctr`, or `impressions` and `clicks`) and
//! its measures (the columns `analyze --csv` writes), or a `file` column naming the cover so it
//! can be measured here. Histories are small (often a few hundred covers), so the learner is
//! chosen by 5-fold cross-validation among a constant baseline, ridge regressions on the
//! standardised measures and their squares (the seed's guidance has optima, such as saturation
//! 65–82, which a square can express), and a random forest — all from `smartcore`. The fit
//! reports the cross-validated error of each against the baseline; a model is saved only when it
//! beats the baseline clearly in every sense the folds allow. `rank` scores new covers and says
//! which measures moved each score (the change when that measure is put back to the history's
//! mean).

use crate::analyze::{features, Measures, FEATURES};
use crate::stats::{mean, sd, Rng};
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::{RandomForestRegressor, RandomForestRegressorParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};
use std::path::{Path, PathBuf};

/// Fewer covers than this and a cross-validated fit means nothing.
pub const MIN_HISTORY: usize = 30;
/// Folds of the cross-validation.
const FOLDS: usize = 5;
/// The smallest cross-validated gain over the baseline (1 − RMSE / baseline RMSE) worth a model.
pub const MIN_SKILL: f64 = 0.02;
/// Ridge penalties tried (on standardised measures).
const ALPHAS: &[f64] = &[0.3, 3.0, 30.0];

type Matrix = DenseMatrix<f64>;
type Ridge = RidgeRegression<f64, f64, Matrix, Vec<f64>>;
type Forest = RandomForestRegressor<f64, f64, Matrix, Vec<f64>>;

/// A cover to score: its name and its measures in [`FEATURES`] order.
pub type Scored = (String, Vec<Option<f64>>);

/// Why a history or a model cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CtrError {
    /// A file could not be read.
    #[error(transparent)]
    Read(#[from] crate::files::ReadError),
    /// Its content is wrong: the message names the file and the problem.
    #[error("{0}")]
    Invalid(String),
    /// Too little history to learn from.
    #[error("{0}")]
    TooLittle(String),
    /// The learner failed.
    #[error("{0}")]
    Learner(String),
}

/// A team's past covers: measures and CTR.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// A name per cover (its file, or its line).
    pub names: Vec<String>,
    /// The measures, in [`FEATURES`] order (`None` when unknown).
    pub x: Vec<Vec<Option<f64>>>,
    /// Observed CTR per cover.
    pub ctr: Vec<f64>,
    /// Doubtful values kept (file:line and why).
    pub warnings: Vec<String>,
}

/// Other names a team's spreadsheet may use for a measure.
const ALIASES: &[(&str, &str)] = &[
    ("aspect", "aspect_ratio"),
    ("saturation", "saturation_mean"),
    ("text_area", "text_coverage"),
    ("text_share", "text_coverage"),
    ("text", "text_coverage"),
    ("contrast", "title_contrast"),
    ("clutter", "edge_density"),
    ("colorfulness", "colourfulness"),
];

/// A header cell as the measure name it stands for (trimmed, lower case, aliases resolved).
fn header_name(h: &str) -> String {
    let h = h.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    ALIASES.iter().find(|(a, _)| *a == h).map_or(h, |(_, f)| f.to_string())
}

/// Reads a history CSV. Measures come from the row's columns named as [`FEATURES`]; a row
/// without them but with a `file` column is measured with `measure_file` (paths relative to
/// the CSV's folder).
///
/// # Errors
/// [`CtrError`] naming the file and, for a bad value, the line.
pub fn read_history(
    path: &Path,
    measure_file: &mut dyn FnMut(&Path) -> Result<Measures, String>,
) -> Result<History, CtrError> {
    let text = crate::files::read_text_bounded(path, 64 << 20, "history file")?;
    let bad = |line: usize, m: String| CtrError::Invalid(format!("{}:{line}: {m}", path.display()));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> =
        reader.headers().map_err(|e| bad(1, e.to_string()))?.iter().map(header_name).collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (ctr_col, imp_col, clicks_col, file_col) =
        (col("ctr"), col("impressions"), col("clicks"), col("file"));
    if ctr_col.is_none() && (imp_col.is_none() || clicks_col.is_none()) {
        return Err(bad(
            1,
            format!("no `ctr` column, nor `impressions` and `clicks` (found: {})", headers.join(", ")),
        ));
    }
    let feature_cols: Vec<Option<usize>> = FEATURES.iter().map(|f| col(f)).collect();
    let has_measures = feature_cols.iter().any(Option::is_some);
    if !has_measures && file_col.is_none() {
        return Err(bad(
            1,
            format!(
                "no measure columns ({}) and no `file` column to measure the covers from (found: {})",
                FEATURES.join(", "),
                headers.join(", ")
            ),
        ));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut history = History::default();
    for (n, row) in reader.records().enumerate() {
        let line = n + 2;
        let row = row.map_err(|e| bad(line, e.to_string()))?;
        let field = |i: usize| row.get(i).unwrap_or("").trim();
        let number = |i: usize, what: &str| -> Result<f64, CtrError> {
            let v = field(i);
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(line, format!("`{v}` is not a number ({what})")))
        };
        let ctr = match (ctr_col, imp_col, clicks_col) {
            (Some(c), _, _) => number(c, "ctr")?,
            (None, Some(i), Some(c)) => {
                let (imp, clicks) = (number(i, "impressions")?, number(c, "clicks")?);
                if imp <= 0.0 {
                    continue; // never shown: nothing to learn from
                }
                if clicks > imp || clicks < 0.0 {
                    return Err(bad(line, format!("{clicks} clicks from {imp} impressions")));
                }
                clicks / imp
            }
            _ => unreachable!("checked above"),
        };
        if !(0.0..=1.0).contains(&ctr) {
            // Kept (a smoothed or modelled CTR can stray), but said.
            history.warnings.push(format!(
                "{}:{line}: a CTR of {ctr} is not between 0 and 1; used as given",
                path.display()
            ));
        }
        let name = file_col.map(|i| field(i).to_string()).unwrap_or_else(|| format!("line {line}"));
        let x = if has_measures {
            let mut x = Vec::with_capacity(FEATURES.len());
            for (c, f) in feature_cols.iter().zip(FEATURES) {
                x.push(match c.map(field) {
                    None | Some("") => None,
                    Some(_) => Some(number(c.unwrap_or_default(), f)?),
                });
            }
            x
        } else {
            let file = base.join(field(file_col.unwrap_or_default()));
            features(&measure_file(&file).map_err(|e| bad(line, e))?)
        };
        history.names.push(name);
        history.x.push(x);
        history.ctr.push(ctr);
    }
    Ok(history)
}

/// The learner inside a model.
#[derive(Debug, Serialize, Deserialize)]
enum Learner {
    /// Ridge on standardised measures and their squares, centred here: smartcore's ridge fits
    /// an intercept only when it rescales every column itself, which fails on a constant square
    /// (a measure with two values symmetric about its mean).
    Ridge { model: Ridge, design_means: Vec<f64>, y_mean: f64 },
    /// A random forest on standardised measures.
    Forest(Forest),
}

/// A fitted model, saved as JSON.
#[derive(Debug, Serialize, Deserialize)]
pub struct Model {
    /// The measures used, by name.
    pub features: Vec<String>,
    /// Their means in the history (missing values take these).
    pub means: Vec<f64>,
    /// Their standard deviations in the history.
    pub sds: Vec<f64>,
    /// What the fit found.
    pub fit: FitReport,
    learner: Learner,
}

/// One candidate learner's cross-validated error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Candidate {
    /// Its name (`baseline`, `ridge α=…`, `forest`).
    pub name: String,
    /// Root mean squared error of CTR over the held-out folds.
    pub cv_rmse: f64,
}

/// A measure's weight in the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Importance {
    /// The measure.
    pub feature: String,
    /// Mean absolute change of the predicted CTR when it is put back to its mean.
    pub mean_effect: f64,
}

/// What `ctr fit` found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FitReport {
    /// Covers in the history.
    pub covers: usize,
    /// Measures used.
    pub features: Vec<String>,
    /// Measures left out, and why.
    pub dropped: Vec<String>,
    /// Every candidate's cross-validated error, the baseline first.
    pub candidates: Vec<Candidate>,
    /// The chosen learner.
    pub chosen: String,
    /// 1 − chosen RMSE / baseline RMSE, cross-validated.
    pub skill: f64,
    /// Folds in which the chosen learner beat the baseline.
    pub folds_better: usize,
    /// Folds.
    pub folds: usize,
    /// Whether the model predicts better than the history's mean CTR.
    pub has_skill: bool,
    /// The measures that move predictions most, largest first.
    pub importance: Vec<Importance>,
    /// One sentence for people.
    pub summary: String,
}

/// The measures kept for learning: known for at least 80 % of covers and not constant.
fn usable_features(h: &History) -> (Vec<usize>, Vec<String>) {
    let mut keep = Vec::new();
    let mut dropped = Vec::new();
    for (j, name) in FEATURES.iter().enumerate() {
        let known: Vec<f64> = h.x.iter().filter_map(|r| r[j]).collect();
        if known.is_empty() {
            continue;
        }
        if (known.len() as f64) < 0.8 * h.x.len() as f64 {
            dropped.push(format!("{name}: known for only {} of {} covers", known.len(), h.x.len()));
        } else if sd(&known) == 0.0 {
            dropped.push(format!("{name}: the same on every cover"));
        } else {
            keep.push(j);
        }
    }
    (keep, dropped)
}

/// Standardised rows (missing values at the mean, which standardises to 0).
fn standardise(rows: &[Vec<Option<f64>>], cols: &[usize], means: &[f64], sds: &[f64]) -> Vec<Vec<f64>> {
    rows.iter()
        .map(|r| {
            cols.iter().enumerate().map(|(k, &j)| r[j].map_or(0.0, |v| (v - means[k]) / sds[k])).collect()
        })
        .collect()
}

/// Ridge's design: the standardised measures and their squares.
fn with_squares(z: &[Vec<f64>]) -> Vec<Vec<f64>> {
    z.iter().map(|r| r.iter().copied().chain(r.iter().map(|v| v * v)).collect()).collect()
}

fn centre(rows: &[Vec<f64>], means: &[f64]) -> Vec<Vec<f64>> {
    rows.iter().map(|r| r.iter().zip(means).map(|(v, m)| v - m).collect()).collect()
}

fn matrix(rows: &[Vec<f64>]) -> Result<Matrix, CtrError> {
    DenseMatrix::from_2d_vec(&rows.to_vec()).map_err(|e| CtrError::Learner(e.to_string()))
}

/// The kinds of learner tried.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Baseline,
    Ridge(f64),
    Forest,
}

impl Kind {
    fn name(self) -> String {
        match self {
            Kind::Baseline => "baseline (the history's mean CTR)".into(),
            Kind::Ridge(a) => format!("ridge on measures and their squares, alpha {a}"),
            Kind::Forest => "random forest, 200 trees".into(),
        }
    }

    fn train(self, z: &[Vec<f64>], y: &[f64]) -> Result<Option<Learner>, CtrError> {
        let fail = |e: smartcore::error::Failed| CtrError::Learner(e.to_string());
        Ok(match self {
            Kind::Baseline => None,
            Kind::Ridge(alpha) => {
                let design = with_squares(z);
                let width = design.first().map_or(0, Vec::len);
                let design_means: Vec<f64> = (0..width)
                    .map(|j| design.iter().map(|r| r[j]).sum::<f64>() / design.len() as f64)
                    .collect();
                let y_mean = mean(y);
                let centred: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
                let model = Ridge::fit(
                    &matrix(&centre(&design, &design_means))?,
                    &centred,
                    RidgeRegressionParameters::default().with_alpha(alpha).with_normalize(false),
                )
                .map_err(fail)?;
                Some(Learner::Ridge { model, design_means, y_mean })
            }
            Kind::Forest => Some(Learner::Forest(
                Forest::fit(
                    &matrix(z)?,
                    &y.to_vec(),
                    RandomForestRegressorParameters::default()
                        .with_n_trees(200)
                        .with_min_samples_leaf(5)
                        .with_seed(7),
                )
                .map_err(fail)?,
            )),
        })
    }
}

fn predict(learner: &Learner, z: &[Vec<f64>]) -> Result<Vec<f64>, CtrError> {
    let fail = |e: smartcore::error::Failed| CtrError::Learner(e.to_string());
    match learner {
        Learner::Ridge { model, design_means, y_mean } => Ok(model
            .predict(&matrix(&centre(&with_squares(z), design_means))?)
            .map_err(fail)?
            .into_iter()
            .map(|v| v + y_mean)
            .collect()),
        Learner::Forest(m) => m.predict(&matrix(z)?).map_err(fail),
    }
}

/// Fits a model of CTR on the history, choosing the learner by cross-validation. Returns the
/// report, and the model when it has skill.
///
/// # Errors
/// [`CtrError::TooLittle`] below [`MIN_HISTORY`] covers or without a usable measure.
pub fn fit(h: &History) -> Result<(FitReport, Option<Model>), CtrError> {
    let n = h.ctr.len();
    if n < MIN_HISTORY {
        return Err(CtrError::TooLittle(format!(
            "too little history: {n} covers; a cross-validated fit needs at least {MIN_HISTORY}, and a few hundred to find more than the strongest effects"
        )));
    }
    let (cols, dropped) = usable_features(h);
    if cols.is_empty() {
        return Err(CtrError::TooLittle(format!(
            "no measure varies across the history's covers ({})",
            dropped.join("; ")
        )));
    }
    // Folds: a seeded shuffle so the fit is reproducible.
    let order = Rng(0x5eed).permutation(n);
    let fold_of: Vec<usize> = {
        let mut f = vec![0; n];
        for (pos, &i) in order.iter().enumerate() {
            f[i] = pos % FOLDS;
        }
        f
    };
    let kinds: Vec<Kind> = std::iter::once(Kind::Baseline)
        .chain(ALPHAS.iter().map(|a| Kind::Ridge(*a)))
        .chain([Kind::Forest])
        .collect();
    // Squared errors per kind per fold.
    let mut fold_sse = vec![vec![0.0; FOLDS]; kinds.len()];
    let mut fold_n = [0usize; FOLDS];
    for fold in 0..FOLDS {
        let train: Vec<usize> = (0..n).filter(|&i| fold_of[i] != fold).collect();
        let test: Vec<usize> = (0..n).filter(|&i| fold_of[i] == fold).collect();
        fold_n[fold] = test.len();
        let pick = |idx: &[usize]| idx.iter().map(|&i| h.x[i].clone()).collect::<Vec<_>>();
        let y_train: Vec<f64> = train.iter().map(|&i| h.ctr[i]).collect();
        let (means, sds) = moments(&pick(&train), &cols);
        let z_train = standardise(&pick(&train), &cols, &means, &sds);
        let z_test = standardise(&pick(&test), &cols, &means, &sds);
        let base = mean(&y_train);
        for (k, kind) in kinds.iter().enumerate() {
            let pred = match kind.train(&z_train, &y_train)? {
                None => vec![base; test.len()],
                Some(l) => predict(&l, &z_test)?,
            };
            fold_sse[k][fold] = test.iter().zip(&pred).map(|(&i, p)| (h.ctr[i] - p).powi(2)).sum();
        }
    }
    let rmse = |k: usize| (fold_sse[k].iter().sum::<f64>() / n as f64).sqrt();
    let candidates: Vec<Candidate> =
        kinds.iter().enumerate().map(|(k, kind)| Candidate { name: kind.name(), cv_rmse: rmse(k) }).collect();
    let best = (1..kinds.len()).min_by(|&a, &b| rmse(a).total_cmp(&rmse(b))).unwrap_or(1);
    let skill = if rmse(0) > 0.0 { 1.0 - rmse(best) / rmse(0) } else { 0.0 };
    let folds_better = (0..FOLDS).filter(|&f| fold_sse[best][f] < fold_sse[0][f]).count();
    // Per-fold gains in mean squared error: clearly positive, not one lucky fold.
    let gains: Vec<f64> =
        (0..FOLDS).map(|f| (fold_sse[0][f] - fold_sse[best][f]) / fold_n[f].max(1) as f64).collect();
    let clear = mean(&gains) > 2.0 * sd(&gains) / (FOLDS as f64).sqrt();
    let has_skill = skill >= MIN_SKILL && folds_better >= FOLDS - 1 && clear;

    let (means, sds) = moments(&h.x, &cols);
    let z = standardise(&h.x, &cols, &means, &sds);
    let names: Vec<String> = cols.iter().map(|&j| FEATURES[j].to_string()).collect();
    let learner = kinds[best].train(&z, &h.ctr)?.ok_or_else(|| CtrError::Learner("no learner".into()))?;
    let importance = if has_skill { importance(&learner, &z, &names)? } else { Vec::new() };
    let summary = if has_skill {
        format!(
            "skill: {} predicts CTR {:.0} % better than the history's mean (cross-validated RMSE {:.5} against {:.5}, better in {folds_better} of {FOLDS} folds) from {n} covers",
            kinds[best].name(),
            skill * 100.0,
            rmse(best),
            rmse(0)
        )
    } else {
        format!(
            "no skill: the best learner ({}) does not predict CTR clearly better than the history's mean (cross-validated RMSE {:.5} against {:.5}, better in {folds_better} of {FOLDS} folds) from {n} covers; no model saved",
            kinds[best].name(),
            rmse(best),
            rmse(0)
        )
    };
    let report = FitReport {
        covers: n,
        features: names.clone(),
        dropped,
        candidates,
        chosen: kinds[best].name(),
        skill,
        folds_better,
        folds: FOLDS,
        has_skill,
        importance,
        summary,
    };
    let model = has_skill.then(|| Model { features: names, means, sds, fit: report.clone(), learner });
    Ok((report, model))
}

/// Means and standard deviations of the kept columns (over known values).
fn moments(rows: &[Vec<Option<f64>>], cols: &[usize]) -> (Vec<f64>, Vec<f64>) {
    cols.iter()
        .map(|&j| {
            let known: Vec<f64> = rows.iter().filter_map(|r| r[j]).collect();
            let s = sd(&known);
            (mean(&known), if s > 0.0 { s } else { 1.0 })
        })
        .unzip()
}

/// How much each measure moves predictions: put it back to the mean (0 standardised), see the
/// change, average its size over the rows.
fn importance(learner: &Learner, z: &[Vec<f64>], names: &[String]) -> Result<Vec<Importance>, CtrError> {
    let full = predict(learner, z)?;
    let mut out = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let muted: Vec<Vec<f64>> = z
            .iter()
            .map(|r| r.iter().enumerate().map(|(i, v)| if i == k { 0.0 } else { *v }).collect())
            .collect();
        let p = predict(learner, &muted)?;
        let effect = full.iter().zip(&p).map(|(a, b)| (a - b).abs()).sum::<f64>() / full.len().max(1) as f64;
        out.push(Importance { feature: name.clone(), mean_effect: effect });
    }
    out.sort_by(|a, b| b.mean_effect.total_cmp(&a.mean_effect));
    Ok(out)
}

/// A measure's push on one cover's score.
#[derive(Debug, Clone, Serialize)]
pub struct Driver {
    /// The measure.
    pub feature: String,
    /// The cover's value (`None`: unknown here, the history's mean was used).
    pub value: Option<f64>,
    /// Predicted CTR with this value minus predicted CTR with the history's mean.
    pub effect: f64,
}

/// One cover's score.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    /// The cover (or variant).
    pub name: String,
    /// Predicted CTR.
    pub predicted_ctr: f64,
    /// The measures that moved it most, largest first (three).
    pub drivers: Vec<Driver>,
    /// Measures the model uses that this cover lacks (a bare image has no layout).
    pub unknown: Vec<String>,
}

impl Model {
    /// Reads a saved model.
    ///
    /// # Errors
    /// When the file cannot be read or is not a model.
    pub fn load(path: &Path) -> Result<Model, CtrError> {
        let text = crate::files::read_text_bounded(path, 256 << 20, "model")?;
        serde_json::from_str(&text).map_err(|e| {
            CtrError::Invalid(format!(
                "{}: not a coverforge CTR model ({e}); make one with `coverforge ctr fit`",
                path.display()
            ))
        })
    }

    /// Saves the model (atomically).
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::files::write_atomic(path, &json, crate::files::Durability::Synced)
            .map_err(std::io::Error::other)
    }

    /// Scores covers, best first.
    ///
    /// # Errors
    /// When the learner fails.
    pub fn rank(&self, covers: &[Scored]) -> Result<Vec<Ranked>, CtrError> {
        let cols: Vec<usize> = self
            .features
            .iter()
            .map(|f| FEATURES.iter().position(|g| g == f).unwrap_or(usize::MAX))
            .collect();
        if cols.contains(&usize::MAX) {
            return Err(CtrError::Invalid("the model uses a measure this coverforge does not know".into()));
        }
        let rows: Vec<Vec<Option<f64>>> = covers.iter().map(|(_, x)| x.clone()).collect();
        let z = standardise(&rows, &cols, &self.means, &self.sds);
        let full = predict(&self.learner, &z)?;
        let mut out = Vec::new();
        for (i, (name, x)) in covers.iter().enumerate() {
            let mut drivers = Vec::new();
            for (k, &j) in cols.iter().enumerate() {
                let mut muted = z[i].clone();
                muted[k] = 0.0;
                let p = predict(&self.learner, &[muted])?[0];
                drivers.push(Driver { feature: self.features[k].clone(), value: x[j], effect: full[i] - p });
            }
            drivers.sort_by(|a, b| b.effect.abs().total_cmp(&a.effect.abs()));
            drivers.truncate(3);
            let unknown =
                cols.iter().filter(|&&j| x[j].is_none()).map(|&j| FEATURES[j].to_string()).collect();
            out.push(Ranked { name: name.clone(), predicted_ctr: full[i].clamp(0.0, 1.0), drivers, unknown });
        }
        out.sort_by(|a, b| b.predicted_ctr.total_cmp(&a.predicted_ctr));
        Ok(out)
    }
}

/// Reads a table of measures (as `analyze --csv` writes) for ranking: one cover per row, named
/// by its `file` column.
///
/// # Errors
/// [`CtrError`] naming the file and line.
pub fn read_measures_csv(path: &Path) -> Result<Vec<Scored>, CtrError> {
    let text = crate::files::read_text_bounded(path, 64 << 20, "measures file")?;
    let bad = |line: usize, m: String| CtrError::Invalid(format!("{}:{line}: {m}", path.display()));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> =
        reader.headers().map_err(|e| bad(1, e.to_string()))?.iter().map(header_name).collect();
    let cols: Vec<Option<usize>> = FEATURES.iter().map(|f| headers.iter().position(|h| h == f)).collect();
    if cols.iter().all(Option::is_none) {
        return Err(bad(1, format!("no measure columns ({})", FEATURES.join(", "))));
    }
    let file_col = headers.iter().position(|h| h == "file" || h == "variant" || h == "name");
    let mut out = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let line = n + 2;
        let row = row.map_err(|e| bad(line, e.to_string()))?;
        let mut x = Vec::new();
        for (c, f) in cols.iter().zip(FEATURES) {
            let v = c.and_then(|c| row.get(c)).unwrap_or("").trim();
            x.push(if v.is_empty() {
                None
            } else {
                Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| bad(line, format!("`{v}` is not a number ({f})")))?,
                )
            });
        }
        let name = file_col
            .and_then(|c| row.get(c))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}:{line}", path.display()));
        out.push((name, x));
    }
    Ok(out)
}

/// Where `ctr fit` saves its model by default.
pub fn default_model_path() -> PathBuf {
    PathBuf::from("ctr-model.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::spearman;

    /// Covers whose CTR depends on saturation (best near 74 %) and text coverage (less is
    /// better), plus noise with the signal's standard deviation; the other measures vary but do
    /// not matter. Returns the history and the noise-free CTR.
    fn synthetic(n: usize, seed: u64, signal: bool) -> (History, Vec<f64>) {
        let mut rng = Rng(seed);
        let mut h = History::default();
        let mut rows = Vec::new();
        let mut truth = Vec::new();
        for i in 0..n {
            let x: Vec<Option<f64>> = FEATURES
                .iter()
                .map(|f| {
                    Some(match *f {
                        "aspect_ratio" => [0.5625, 1.0, 1.7778][rng.below(3)],
                        "saturation_mean" => 30.0 + 70.0 * rng.uniform(),
                        "text_coverage" => 0.25 * rng.uniform(),
                        "faces" => rng.below(3) as f64,
                        _ => 100.0 * rng.uniform(),
                    })
                })
                .collect();
            let sat = x[2].unwrap_or_default();
            let text = x[8].unwrap_or_default();
            let t = if signal { 0.08 - 0.00001 * (sat - 74.0).powi(2) - 0.08 * text } else { 0.04 };
            truth.push(t);
            rows.push(x);
            h.names.push(format!("c{i}"));
        }
        let noise_sd = if signal { sd(&truth) } else { 0.01 };
        for (x, t) in rows.into_iter().zip(&truth) {
            h.x.push(x);
            h.ctr.push(t + noise_sd * rng.normal());
        }
        (h, truth)
    }

    #[test]
    fn a_model_learns_two_measures_through_noise_and_ranks_held_out_covers() {
        let (history, _) = synthetic(300, 1, true);
        let (report, model) = fit(&history).unwrap();
        assert!(report.has_skill, "{report:#?}");
        let model = model.unwrap();
        let top: Vec<&str> = report.importance.iter().take(2).map(|i| i.feature.as_str()).collect();
        assert!(top.contains(&"saturation_mean") && top.contains(&"text_coverage"), "{report:#?}");
        let (held_out, truth) = synthetic(100, 2, true);
        let covers: Vec<(String, Vec<Option<f64>>)> =
            held_out.names.iter().cloned().zip(held_out.x.iter().cloned()).collect();
        let ranked = model.rank(&covers).unwrap();
        let predicted: Vec<f64> = held_out
            .names
            .iter()
            .map(|n| ranked.iter().find(|r| &r.name == n).unwrap().predicted_ctr)
            .collect();
        let rho = spearman(&predicted, &truth);
        eprintln!("{}; held-out Spearman {rho:.3}", report.summary);
        assert!(rho >= 0.8, "Spearman {rho} on held-out covers; {report:#?}");
        // The JSON round trip keeps the predictions.
        let back: Model = serde_json::from_slice(&serde_json::to_vec(&model).unwrap()).unwrap();
        assert_eq!(back.rank(&covers).unwrap()[0].predicted_ctr, ranked[0].predicted_ctr);
    }

    #[test]
    fn pure_noise_reports_no_skill_and_too_little_history_is_refused() {
        let (history, _) = synthetic(300, 3, false);
        let (report, model) = fit(&history).unwrap();
        assert!(!report.has_skill && model.is_none(), "{report:#?}");
        eprintln!("{}", report.summary);
        assert!(report.summary.starts_with("no skill"), "{}", report.summary);
        let (small, _) = synthetic(20, 4, true);
        assert!(matches!(fit(&small), Err(CtrError::TooLittle(_))));
    }
}
