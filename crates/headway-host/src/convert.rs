//! Between headway-core's row-wise types and the contract's columnar ones.

use std::collections::{BTreeMap, BTreeSet};

use headway_core::{
    Account, AccountError, Assessment, Date, ErrorKind, FactorScore, Fit, LifecycleStage,
    MilestoneProgress, PluginInfo,
};

use crate::contract::latest as wit;

/// Builds the columnar batch for `accounts`. Names of measures, KPIs, attributes and
/// milestones are sent once; accounts without a value get the contract's "missing"
/// marker (NaN, empty string, none). With `reads`, only the measures, histories,
/// outcomes and attributes it names are sent (milestones always are).
pub(crate) fn batch(accounts: &[Account], reads: Option<&[String]>) -> wit::AccountBatch {
    let n = accounts.len();
    let wanted = |name: &str| reads.is_none_or(|r| r.iter().any(|w| w == name));
    let text = |f: fn(&Account) -> &str| {
        let mut col = wit::TextColumn {
            data: String::new(),
            ends: Vec::with_capacity(n),
        };
        for a in accounts {
            col.data.push_str(f(a));
            col.ends.push(col.data.len() as u32);
        }
        col
    };

    // Column names first (each allocated once), then values row by row.
    let mut measures: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut history: BTreeSet<&str> = BTreeSet::new();
    let mut outcomes: BTreeMap<&str, (bool, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut attributes: BTreeSet<&str> = BTreeSet::new();
    let mut reached: BTreeMap<&str, Vec<Option<i32>>> = BTreeMap::new();
    for a in accounts {
        for k in a.measures.keys().filter(|k| wanted(k)) {
            measures.entry(k).or_insert_with(|| vec![f64::NAN; n]);
        }
        history.extend(a.history.keys().map(String::as_str).filter(|k| wanted(k)));
        for o in a.outcomes.iter().filter(|o| wanted(&o.name)) {
            outcomes
                .entry(&o.name)
                .or_insert_with(|| (o.higher_is_better, vec![f64::NAN; n], vec![f64::NAN; n]));
        }
        attributes.extend(
            a.attributes
                .keys()
                .map(String::as_str)
                .filter(|k| wanted(k)),
        );
        for k in a.milestones_reached.keys() {
            reached.entry(k).or_insert_with(|| vec![None; n]);
        }
    }
    for (row, a) in accounts.iter().enumerate() {
        for (k, v) in &a.measures {
            if let Some(col) = measures.get_mut(k.as_str()) {
                col[row] = *v;
            }
        }
        for o in &a.outcomes {
            if let Some((_, values, targets)) = outcomes.get_mut(o.name.as_str()) {
                values[row] = o.value;
                targets[row] = o.target.unwrap_or(f64::NAN);
            }
        }
        for (k, d) in &a.milestones_reached {
            if let Some(col) = reached.get_mut(k.as_str()) {
                col[row] = Some(d.days());
            }
        }
    }

    wit::AccountBatch {
        ids: text(|a| &a.id),
        names: text(|a| &a.name),
        segments: text(|a| &a.segment),
        plans: text(|a| &a.plan),
        stages: accounts.iter().map(|a| stage(a.stage)).collect(),
        arr: accounts.iter().map(|a| a.arr).collect(),
        start_dates: accounts.iter().map(|a| a.start_date.days()).collect(),
        renewal_dates: accounts
            .iter()
            .map(|a| a.renewal_date.map(Date::days))
            .collect(),
        as_of: accounts.iter().map(|a| a.as_of.days()).collect(),
        measures: measures
            .into_iter()
            .map(|(name, values)| wit::MeasureColumn {
                name: name.to_owned(),
                values,
            })
            .collect(),
        history: history
            .into_iter()
            .map(|name| {
                let mut col = wit::SeriesColumn {
                    name: name.to_owned(),
                    ends: Vec::with_capacity(n),
                    days: Vec::new(),
                    values: Vec::new(),
                };
                for a in accounts {
                    for p in a.history.get(name).into_iter().flatten() {
                        col.days.push(p.date.days());
                        col.values.push(p.value);
                    }
                    col.ends.push(col.days.len() as u32);
                }
                col
            })
            .collect(),
        outcomes: outcomes
            .into_iter()
            .map(
                |(name, (higher_is_better, values, targets))| wit::OutcomeColumn {
                    name: name.to_owned(),
                    higher_is_better,
                    values,
                    targets,
                },
            )
            .collect(),
        attributes: attributes
            .into_iter()
            .map(|key| {
                let mut values = wit::TextColumn {
                    data: String::new(),
                    ends: Vec::with_capacity(n),
                };
                for a in accounts {
                    values
                        .data
                        .push_str(a.attributes.get(key).map_or("", String::as_str));
                    values.ends.push(values.data.len() as u32);
                }
                wit::AttributeColumn {
                    key: key.to_owned(),
                    values,
                }
            })
            .collect(),
        milestones_reached: reached
            .into_iter()
            .map(|(id, on)| wit::ReachedColumn {
                milestone: id.to_owned(),
                on,
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

/// Splits a text column into its values, checking offsets are in order, in bounds
/// and on character boundaries.
fn texts(col: &wit::TextColumn, rows: usize, what: &str) -> Result<Vec<String>, String> {
    if col.ends.len() != rows {
        return Err(format!(
            "{what}: {} values for {rows} accounts",
            col.ends.len()
        ));
    }
    let mut start = 0usize;
    col.ends
        .iter()
        .map(|&end| {
            let end = end as usize;
            let s = col
                .data
                .get(start..end)
                .ok_or_else(|| format!("{what}: offset {end} out of order or bounds"))?;
            start = end;
            Ok(s.to_owned())
        })
        .collect()
}

fn check_len<T>(list: &[T], rows: usize, what: &str) -> Result<(), String> {
    if list.len() == rows {
        Ok(())
    } else {
        Err(format!("{what}: {} values for {rows} accounts", list.len()))
    }
}

/// Turns a plugin's columnar answer into one result per account. A malformed shape
/// (wrong column lengths or counts) fails the whole batch with the reason; a bad
/// value in one row fails that row as `invalid-output`.
pub(crate) fn assessments(
    out: wit::AssessmentBatch,
    info: &PluginInfo,
    rows: usize,
) -> Result<Vec<Result<Assessment, AccountError>>, String> {
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
    let mut reasons = Vec::with_capacity(out.factors.len());
    for (col, f) in out.factors.iter().zip(&info.factors) {
        let what = format!("factor `{}`", f.id);
        check_len(&col.values, rows, &what)?;
        check_len(&col.weights, rows, &what)?;
        check_len(&col.contributions, rows, &what)?;
        reasons.push(texts(&col.reasons, rows, &what)?.into_iter());
    }
    for (col, m) in out.milestones.iter().zip(&info.milestones) {
        let what = format!("milestone `{}`", m.id);
        check_len(&col.progress, rows, &what)?;
        check_len(&col.reached_on, rows, &what)?;
        check_len(&col.predicted_on, rows, &what)?;
        check_len(&col.likelihood, rows, &what)?;
    }
    let mut results: Vec<Option<Result<Assessment, AccountError>>> = vec![None; rows];
    for e in &out.errors {
        let slot = results
            .get_mut(e.index as usize)
            .ok_or_else(|| format!("error for account index {} of {rows}", e.index))?;
        *slot = Some(Err(AccountError {
            code: Some(e.code.clone()),
            ..AccountError::new(ErrorKind::Rule, e.message.clone())
        }));
    }
    Ok(results
        .into_iter()
        .enumerate()
        .map(|(row, done)| {
            // Reasons are consumed in row order, failed rows included.
            let row_reasons: Vec<String> = reasons
                .iter_mut()
                .map(|r| r.next().unwrap_or_default())
                .collect();
            done.unwrap_or_else(|| row_assessment(&out, row, row_reasons, info))
        })
        .collect())
}

fn row_assessment(
    out: &wit::AssessmentBatch,
    row: usize,
    reasons: Vec<String>,
    info: &PluginInfo,
) -> Result<Assessment, AccountError> {
    let invalid = |m: String| Err(AccountError::new(ErrorKind::InvalidOutput, m));
    let score = out.scores[row];
    if !(0.0..=100.0).contains(&score) {
        return invalid(format!("score {score} is outside 0-100"));
    }
    let Some(band) = info.bands.get(usize::from(out.bands[row])) else {
        return invalid(format!(
            "band index {} but {} bands declared",
            out.bands[row],
            info.bands.len()
        ));
    };
    let mut factor_scores = Vec::with_capacity(out.factors.len());
    for ((col, f), reason) in out.factors.iter().zip(&info.factors).zip(reasons) {
        let (weight, contribution) = (col.weights[row], col.contributions[row]);
        if !weight.is_finite() || !contribution.is_finite() {
            return invalid(format!(
                "factor `{}` has weight {weight}, contribution {contribution}",
                f.id
            ));
        }
        factor_scores.push(FactorScore {
            name: f.id.clone(),
            value: col.values[row],
            weight,
            contribution,
            reason,
        });
    }
    let mut progress = Vec::with_capacity(out.milestones.len());
    for (col, m) in out.milestones.iter().zip(&info.milestones) {
        let p = col.progress[row];
        if !(0.0..=1.0).contains(&p) {
            return invalid(format!("milestone `{}` progress {p} is outside 0-1", m.id));
        }
        let likelihood = col.likelihood[row];
        if likelihood.is_some_and(|l| !(0.0..=1.0).contains(&l)) {
            return invalid(format!("milestone `{}` likelihood is outside 0-1", m.id));
        }
        progress.push(MilestoneProgress {
            id: m.id.clone(),
            progress: p,
            reached_on: col.reached_on[row].map(Date::from_days),
            predicted_on: col.predicted_on[row].map(Date::from_days),
            likelihood,
        });
    }
    Ok(Assessment {
        score,
        band: band.name.clone(),
        factors: factor_scores,
        milestones: progress,
        fit: out.fit[row].map(|f| match f {
            wit::Fit::Ideal => Fit::Ideal,
            wit::Fit::Stretch => Fit::Stretch,
            wit::Fit::BadFit => Fit::BadFit,
        }),
    })
}
