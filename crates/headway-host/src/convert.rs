//! Between headway-core's columnar types and the contract's.

use headway_core::assessed::{AssessedBatch, FactorResults, MilestoneResults};
use headway_core::batch::TextColumn;
use headway_core::{AccountBatch, AccountError, Date, ErrorKind, Fit, LifecycleStage, PluginInfo};

use crate::contract::latest as wit;

/// The contract's batch for a core batch: the same columns, copied.
pub(crate) fn batch(b: &AccountBatch) -> wit::AccountBatch {
    let text = |c: &TextColumn| wit::TextColumn {
        data: c.data.clone(),
        ends: c.ends.clone(),
    };
    let days = |d: &[Date]| d.iter().map(|d| d.days()).collect();
    let opt_days = |d: &[Option<Date>]| d.iter().map(|d| d.map(Date::days)).collect();
    wit::AccountBatch {
        ids: text(&b.ids),
        names: text(&b.names),
        segments: text(&b.segments),
        plans: text(&b.plans),
        stages: b.stages.iter().map(|s| stage(*s)).collect(),
        arr: b.arr.clone(),
        start_dates: days(&b.start_dates),
        renewal_dates: opt_days(&b.renewal_dates),
        as_of: days(&b.as_of),
        measures: b
            .measures
            .iter()
            .map(|m| wit::MeasureColumn {
                name: m.name.clone(),
                values: m.values.clone(),
            })
            .collect(),
        history: b
            .history
            .iter()
            .map(|s| wit::SeriesColumn {
                name: s.name.clone(),
                ends: s.ends.clone(),
                days: days(&s.days),
                values: s.values.clone(),
            })
            .collect(),
        outcomes: b
            .outcomes
            .iter()
            .map(|o| wit::OutcomeColumn {
                name: o.name.clone(),
                higher_is_better: o.higher_is_better,
                values: o.values.clone(),
                targets: o.targets.clone(),
            })
            .collect(),
        attributes: b
            .attributes
            .iter()
            .map(|a| wit::AttributeColumn {
                key: a.key.clone(),
                values: text(&a.values),
            })
            .collect(),
        milestones_reached: b
            .reached
            .iter()
            .map(|r| wit::ReachedColumn {
                milestone: r.milestone.clone(),
                on: opt_days(&r.on),
            })
            .collect(),
    }
}

fn stage(s: LifecycleStage) -> wit::LifecycleStage {
    match s {
        LifecycleStage::Trial => wit::LifecycleStage::Trial,
        LifecycleStage::Onboarding => wit::LifecycleStage::Onboarding,
        LifecycleStage::Active => wit::LifecycleStage::Active,
        LifecycleStage::Renewing => wit::LifecycleStage::Renewing,
        LifecycleStage::Churned => wit::LifecycleStage::Churned,
    }
}

pub(crate) fn plugin_info(info: wit::PluginInfo) -> PluginInfo {
    PluginInfo {
        name: info.name,
        version: info.version,
        bands: info
            .bands
            .into_iter()
            .map(|b| headway_core::BandInfo {
                name: b.name,
                min_score: b.min_score,
            })
            .collect(),
        factors: info
            .factors
            .into_iter()
            .map(|f| headway_core::FactorInfo {
                id: f.id,
                label: f.label,
                weight: f.weight,
            })
            .collect(),
        milestones: info
            .milestones
            .into_iter()
            .map(|m| headway_core::MilestoneInfo {
                id: m.id,
                name: m.name,
                description: m.description,
                upsell: m.upsell.map(|u| headway_core::Upsell {
                    offer: u.offer,
                    arr: u.arr,
                    take_rate: u.take_rate,
                }),
            })
            .collect(),
        reads: info.reads,
    }
}

/// A text column with its offsets checked: in order, in bounds and on character
/// boundaries, one per row.
fn texts(col: wit::TextColumn, rows: usize, what: &str) -> Result<TextColumn, String> {
    check_len(&col.ends, rows, what)?;
    let mut start = 0usize;
    for &end in &col.ends {
        let end = end as usize;
        if col.data.get(start..end).is_none() {
            return Err(format!("{what}: offset {end} out of order or bounds"));
        }
        start = end;
    }
    Ok(TextColumn {
        data: col.data,
        ends: col.ends,
    })
}

fn check_len<T>(list: &[T], rows: usize, what: &str) -> Result<(), String> {
    if list.len() == rows {
        Ok(())
    } else {
        Err(format!("{what}: {} values for {rows} accounts", list.len()))
    }
}

fn days(d: Vec<Option<i32>>) -> Vec<Option<Date>> {
    d.into_iter().map(|d| d.map(Date::from_days)).collect()
}

/// Checks a plugin's columnar answer against the contract. A malformed shape
/// (wrong column lengths or counts) fails the whole batch with the reason; a bad
/// value in one row fails that row as `invalid-output`.
pub(crate) fn assessments(
    out: wit::AssessmentBatch,
    info: &PluginInfo,
    rows: usize,
) -> Result<AssessedBatch, String> {
    check_len(&out.scores, rows, "scores")?;
    check_len(&out.bands, rows, "bands")?;
    check_len(&out.fit, rows, "fit")?;
    if out.factors.len() != info.factors.len() {
        return Err(format!(
            "{} factor columns for {} declared factors",
            out.factors.len(),
            info.factors.len()
        ));
    }
    if out.milestones.len() != info.milestones.len() {
        return Err(format!(
            "{} milestone columns for {} declared milestones",
            out.milestones.len(),
            info.milestones.len()
        ));
    }
    let mut factors = Vec::with_capacity(out.factors.len());
    for (col, f) in out.factors.into_iter().zip(&info.factors) {
        let what = format!("factor `{}`", f.id);
        check_len(&col.values, rows, &what)?;
        check_len(&col.weights, rows, &what)?;
        check_len(&col.contributions, rows, &what)?;
        factors.push(FactorResults {
            reasons: texts(col.reasons, rows, &what)?,
            values: col.values,
            weights: col.weights,
            contributions: col.contributions,
        });
    }
    let mut milestones = Vec::with_capacity(out.milestones.len());
    for (col, m) in out.milestones.into_iter().zip(&info.milestones) {
        let what = format!("milestone `{}`", m.id);
        check_len(&col.progress, rows, &what)?;
        check_len(&col.reached_on, rows, &what)?;
        check_len(&col.predicted_on, rows, &what)?;
        check_len(&col.likelihood, rows, &what)?;
        milestones.push(MilestoneResults {
            progress: col.progress,
            reached_on: days(col.reached_on),
            predicted_on: days(col.predicted_on),
            likelihood: col.likelihood,
        });
    }
    let mut errors: Vec<Option<AccountError>> = vec![None; rows];
    for e in out.errors {
        let slot = errors
            .get_mut(e.index as usize)
            .ok_or_else(|| format!("error for account index {} of {rows}", e.index))?;
        *slot = Some(AccountError {
            code: Some(e.code),
            ..AccountError::new(ErrorKind::Rule, e.message)
        });
    }
    let mut batch = AssessedBatch {
        scores: out.scores,
        bands: out.bands,
        factors,
        milestones,
        fit: out
            .fit
            .into_iter()
            .map(|f| {
                f.map(|f| match f {
                    wit::Fit::Ideal => Fit::Ideal,
                    wit::Fit::Stretch => Fit::Stretch,
                    wit::Fit::BadFit => Fit::BadFit,
                })
            })
            .collect(),
        errors,
    };
    for row in 0..rows {
        if batch.errors[row].is_none()
            && let Err(reason) = check_row(&batch, row, info)
        {
            batch.fail(row, AccountError::new(ErrorKind::InvalidOutput, reason));
        }
    }
    Ok(batch)
}

/// What the contract requires of one row's values.
fn check_row(b: &AssessedBatch, row: usize, info: &PluginInfo) -> Result<(), String> {
    let score = b.scores[row];
    if !(0.0..=100.0).contains(&score) {
        return Err(format!("score {score} is outside 0-100"));
    }
    if usize::from(b.bands[row]) >= info.bands.len() {
        return Err(format!(
            "band index {} but {} bands declared",
            b.bands[row],
            info.bands.len()
        ));
    }
    let negative_zero = |x: f64| x == 0.0 && x.is_sign_negative();
    if negative_zero(score) {
        return Err("score is -0.0".to_owned());
    }
    let (mut weights, mut contributions) = (0.0, 0.0);
    for (col, f) in b.factors.iter().zip(&info.factors) {
        let (weight, contribution) = (col.weights[row], col.contributions[row]);
        if !weight.is_finite() || !contribution.is_finite() || weight < 0.0 {
            return Err(format!(
                "factor `{}` has weight {weight}, contribution {contribution}",
                f.id
            ));
        }
        if negative_zero(weight) || negative_zero(contribution) {
            return Err(format!(
                "factor `{}` has a weight or contribution of -0.0",
                f.id
            ));
        }
        weights += weight;
        contributions += contribution;
    }
    // What the output promises: applied weights share the 100 points, and the
    // contributions add up to the score.
    if !b.factors.is_empty() {
        if (weights - 1.0).abs() > SUM_TOLERANCE {
            return Err(format!("applied factor weights sum to {weights}, not 1"));
        }
        if (contributions - score).abs() > SUM_TOLERANCE * 100.0 {
            return Err(format!(
                "factor contributions sum to {contributions}, the score is {score}"
            ));
        }
    }
    for (col, m) in b.milestones.iter().zip(&info.milestones) {
        let p = col.progress[row];
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("milestone `{}` progress {p} is outside 0-1", m.id));
        }
        if col.likelihood[row].is_some_and(|l| !(0.0..=1.0).contains(&l)) {
            return Err(format!("milestone `{}` likelihood is outside 0-1", m.id));
        }
        for (what, day) in [
            ("reached_on", col.reached_on[row]),
            ("predicted_on", col.predicted_on[row]),
        ] {
            if let Some(day) = day.filter(|d| !(FIRST_DAY..=LAST_DAY).contains(d)) {
                return Err(format!(
                    "milestone `{}` {what} is day {}, outside the years 0000-9999",
                    m.id,
                    day.days()
                ));
            }
        }
    }
    Ok(())
}

/// How far sums may stray from what they must equal (floating-point rounding).
const SUM_TOLERANCE: f64 = 1e-6;
/// 0000-01-01 and 9999-12-31: days a store, a report and a person can read.
const FIRST_DAY: Date = Date::from_days(-719_528);
const LAST_DAY: Date = Date::from_days(2_932_896);
