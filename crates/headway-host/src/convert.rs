//! Between headway-core's columnar types and the contract's.

use headway_core::assessed::{AssessedBatch, FactorResults, MilestoneResults};
use headway_core::batch::TextColumn;
use headway_core::{AccountBatch, AccountError, Date, ErrorKind, Fit, LifecycleStage, PluginInfo};

use crate::contract::v0_2_0::headway::rules::types as v0_2_0;
use crate::contract::{Answer, latest as wit};

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

/// Checks a plugin's columnar answer to `batch` against the contract. A
/// malformed shape (wrong column lengths or counts) fails the whole batch with
/// the reason; a bad value in one row fails that row as `invalid-output`. A
/// 0.3.0 answer is weighed here with `info`'s weights (the tenant's, where it
/// sets `[weights]`); an older plugin weighed its own, and `tenant_weights`
/// reweigh it.
pub(crate) fn assessments(
    answer: Answer,
    info: &PluginInfo,
    batch: &AccountBatch,
    tenant_weights: Option<&[f64]>,
) -> Result<AssessedBatch, String> {
    let rows = batch.len();
    let (mut assessed, plugin_weighed) = match answer {
        Answer::V0_3_0(out) => (weighed_by_host(out, info, batch)?, false),
        Answer::V0_2_0(out) => (weighed_by_plugin(out, info, rows)?, true),
    };
    for row in 0..rows {
        if assessed.errors[row].is_none()
            && let Err(reason) = check_row(&assessed, row, info)
        {
            assessed.fail(row, AccountError::new(ErrorKind::InvalidOutput, reason));
        }
    }
    if let Some(weights) = tenant_weights
        && plugin_weighed
    {
        headway_core::weights::reweigh(&mut assessed, weights, info);
    }
    Ok(assessed)
}

/// What every version's answer has the same way: as many factor and milestone
/// columns as declared.
fn check_counts(factors: usize, milestones: usize, info: &PluginInfo) -> Result<(), String> {
    if factors != info.factors.len() {
        return Err(format!(
            "{factors} factor columns for {} declared factors",
            info.factors.len()
        ));
    }
    if milestones != info.milestones.len() {
        return Err(format!(
            "{milestones} milestone columns for {} declared milestones",
            info.milestones.len()
        ));
    }
    Ok(())
}

fn row_errors<E>(
    errors: Vec<E>,
    rows: usize,
    parts: impl Fn(E) -> (u32, String, String),
) -> Result<Vec<Option<AccountError>>, String> {
    let mut out: Vec<Option<AccountError>> = vec![None; rows];
    for e in errors {
        let (index, code, message) = parts(e);
        let slot = out
            .get_mut(index as usize)
            .ok_or_else(|| format!("error for account index {index} of {rows}"))?;
        *slot = Some(AccountError {
            code: Some(code),
            ..AccountError::new(ErrorKind::Rule, message)
        });
    }
    Ok(out)
}

/// A 0.3.0 answer: the host derives weights, contributions, the score and the
/// band from the credits, the milestones' reached days from the batch, and
/// writes the reasons' numbers in.
fn weighed_by_host(
    out: wit::AssessmentBatch,
    info: &PluginInfo,
    batch: &AccountBatch,
) -> Result<AssessedBatch, String> {
    let rows = batch.len();
    check_len(&out.forced_bands, rows, "forced-bands")?;
    check_len(&out.fit, rows, "fit")?;
    check_counts(out.factors.len(), out.milestones.len(), info)?;
    let mut errors = row_errors(out.errors, rows, |e| (e.index, e.code, e.message))?;
    let mut factors = Vec::with_capacity(out.factors.len());
    let mut credits = Vec::with_capacity(out.factors.len());
    for (col, f) in out.factors.into_iter().zip(&info.factors) {
        let what = format!("factor `{}`", f.id);
        check_len(&col.values, rows, &what)?;
        check_len(&col.credits, rows, &what)?;
        for (row, credit) in col.credits.iter().enumerate() {
            if !(credit.is_nan() || (0.0..=1.0).contains(credit)) && errors[row].is_none() {
                errors[row] = Some(AccountError::new(
                    ErrorKind::InvalidOutput,
                    format!("{what} has credit {credit}, outside 0-1"),
                ));
            }
        }
        factors.push(FactorResults {
            reasons: reasons(col.reasons, rows, &what)?,
            values: col.values,
            weights: vec![0.0; rows],
            contributions: vec![0.0; rows],
        });
        credits.push(col.credits);
    }
    let mut milestones = Vec::with_capacity(out.milestones.len());
    for (col, m) in out.milestones.into_iter().zip(&info.milestones) {
        let what = format!("milestone `{}`", m.id);
        check_len(&col.progress, rows, &what)?;
        check_len(&col.predicted_on, rows, &what)?;
        check_len(&col.likelihood, rows, &what)?;
        let recorded = batch.reached.iter().find(|r| r.milestone == m.id);
        let mut progress = col.progress;
        let reached_on = (0..rows)
            .map(|row| {
                let recorded = recorded.and_then(|r| r.on[row]);
                if recorded.is_some() {
                    progress[row] = 1.0;
                }
                recorded.or((progress[row] >= 1.0).then(|| batch.as_of[row]))
            })
            .collect();
        milestones.push(MilestoneResults {
            progress,
            reached_on,
            predicted_on: days(col.predicted_on),
            likelihood: col.likelihood,
        });
    }
    let mut assessed = AssessedBatch {
        scores: vec![f64::NAN; rows],
        bands: vec![0; rows],
        factors,
        milestones,
        fit: out.fit.into_iter().map(|f| f.map(fit)).collect(),
        errors,
    };
    headway_core::weights::weigh(&mut assessed, &credits, &out.forced_bands, info);
    Ok(assessed)
}

/// A 0.3.0 reason column written out: each account's words with its numbers
/// written in where the plugin put them.
fn reasons(col: wit::ReasonColumn, rows: usize, what: &str) -> Result<TextColumn, String> {
    let words = texts(col.words, rows, what)?;
    check_len(&col.number_ends, rows, what)?;
    let count = col.numbers.len();
    if col.at.len() != count || col.styles.len() != count {
        return Err(format!(
            "{what}: {count} reason numbers with {} offsets and {} styles",
            col.at.len(),
            col.styles.len()
        ));
    }
    let mut out = TextColumn {
        data: String::with_capacity(words.data.len() + count * 4),
        ends: Vec::with_capacity(rows),
    };
    let (mut start, mut first) = (0, 0);
    for row in 0..rows {
        let end = words.ends[row] as usize;
        let last = col.number_ends[row] as usize;
        if last < first || last > count {
            return Err(format!(
                "{what}: reason number end {last} out of order or bounds"
            ));
        }
        let mut from = start;
        for k in first..last {
            let at = col.at[k] as usize;
            if at < from || at > end || !words.data.is_char_boundary(at) {
                return Err(format!(
                    "{what}: reason number {k} is at byte {at}, outside account {row}'s words"
                ));
            }
            let (decimals, signed) = headway_format::unstyle(col.styles[k])
                .ok_or_else(|| format!("{what}: reason number {k} has style {}", col.styles[k]))?;
            out.data.push_str(&words.data[from..at]);
            headway_format::fixed(&mut out.data, col.numbers[k], decimals, signed);
            from = at;
        }
        out.data.push_str(&words.data[from..end]);
        out.end_value();
        (start, first) = (end, last);
    }
    if first != count {
        return Err(format!(
            "{what}: {} of {count} reason numbers belong to no account",
            count - first
        ));
    }
    Ok(out)
}

/// A 0.2.0 answer (or a 0.1.0 one converted up): the plugin weighed its factors.
fn weighed_by_plugin(
    out: v0_2_0::AssessmentBatch,
    info: &PluginInfo,
    rows: usize,
) -> Result<AssessedBatch, String> {
    check_len(&out.scores, rows, "scores")?;
    check_len(&out.bands, rows, "bands")?;
    check_len(&out.fit, rows, "fit")?;
    check_counts(out.factors.len(), out.milestones.len(), info)?;
    let mut factors = Vec::with_capacity(out.factors.len());
    for (col, f) in out.factors.into_iter().zip(&info.factors) {
        let what = format!("factor `{}`", f.id);
        check_len(&col.values, rows, &what)?;
        check_len(&col.weights, rows, &what)?;
        check_len(&col.contributions, rows, &what)?;
        let text = wit::TextColumn {
            data: col.reasons.data,
            ends: col.reasons.ends,
        };
        factors.push(FactorResults {
            reasons: texts(text, rows, &what)?,
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
    Ok(AssessedBatch {
        scores: out.scores,
        bands: out.bands,
        factors,
        milestones,
        fit: out
            .fit
            .into_iter()
            .map(|f| {
                f.map(|f| match f {
                    v0_2_0::Fit::Ideal => Fit::Ideal,
                    v0_2_0::Fit::Stretch => Fit::Stretch,
                    v0_2_0::Fit::BadFit => Fit::BadFit,
                })
            })
            .collect(),
        errors: row_errors(out.errors, rows, |e| (e.index, e.code, e.message))?,
    })
}

fn fit(f: wit::Fit) -> Fit {
    match f {
        wit::Fit::Ideal => Fit::Ideal,
        wit::Fit::Stretch => Fit::Stretch,
        wit::Fit::BadFit => Fit::BadFit,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use headway_core::batch::Reads;
    use headway_core::input::{InputDefaults, parse_jsonl_batch};
    use headway_core::{BandInfo, FactorInfo, MilestoneInfo};

    fn info() -> PluginInfo {
        PluginInfo {
            name: "t".into(),
            version: "1.0.0".into(),
            bands: [("red", 0.0), ("green", 60.0)]
                .map(|(name, min_score)| BandInfo {
                    name: name.into(),
                    min_score,
                })
                .into(),
            factors: [("usage", 0.75), ("nps", 0.25)]
                .map(|(id, weight)| FactorInfo {
                    id: id.into(),
                    label: id.into(),
                    weight,
                })
                .into(),
            milestones: vec![MilestoneInfo {
                id: "launch".into(),
                name: "Launch".into(),
                description: String::new(),
                upsell: None,
            }],
            reads: None,
        }
    }

    /// Three accounts as of 2026-11-01; `b` reached `launch` on 2026-10-01.
    fn batch() -> AccountBatch {
        let text = [
            r#"{"id":"a","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01"}"#,
            r#"{"id":"b","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01","milestones_reached":{"launch":"2026-10-01"}}"#,
            r#"{"id":"c","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01"}"#,
        ]
        .join("\n");
        let (batch, errors) =
            parse_jsonl_batch("t", &text, 1, &InputDefaults::default(), Reads::default());
        assert!(errors.is_empty(), "{errors:?}");
        batch
    }

    fn words(values: &[&str]) -> wit::TextColumn {
        let mut col = wit::TextColumn {
            data: String::new(),
            ends: Vec::new(),
        };
        for v in values {
            col.data.push_str(v);
            col.ends.push(col.data.len() as u32);
        }
        col
    }

    /// A reason column of one number per row, shown where each row's words end.
    fn reasons_ending_in_numbers(texts: &[&str], numbers: &[f64], style: u8) -> wit::ReasonColumn {
        let words = words(texts);
        wit::ReasonColumn {
            at: words.ends.clone(),
            number_ends: (1..=numbers.len() as u32).collect(),
            styles: vec![style; numbers.len()],
            numbers: numbers.to_vec(),
            words,
        }
    }

    fn answer() -> wit::AssessmentBatch {
        let nan = f64::NAN;
        wit::AssessmentBatch {
            forced_bands: vec![None, None, Some(0)],
            factors: vec![
                wit::FactorColumn {
                    values: vec![0.8, 0.4, 1.0],
                    credits: vec![0.8, 0.4, 1.0],
                    reasons: wit::ReasonColumn {
                        // "8 of 10 seats", "4.0 of 10 seats", "+1 seat"
                        words: words(&[" of  seats", " of  seats", " seat"]),
                        numbers: vec![8.0, 10.0, 4.0, 10.0, 1.0],
                        at: vec![0, 4, 10, 14, 20],
                        styles: vec![0, 0, 1, 0, headway_format::style(0, true)],
                        number_ends: vec![2, 4, 5],
                    },
                },
                wit::FactorColumn {
                    values: vec![9.0, nan, 6.0],
                    credits: vec![0.9, nan, 0.6],
                    // "NPS 9", "no NPS", "NPS 6"
                    reasons: wit::ReasonColumn {
                        at: vec![4, 14],
                        number_ends: vec![1, 1, 2],
                        ..reasons_ending_in_numbers(&["NPS ", "no NPS", "NPS "], &[9.0, 6.0], 0)
                    },
                },
            ],
            milestones: vec![wit::MilestoneColumn {
                progress: vec![0.5, 0.2, 1.0],
                predicted_on: vec![Some(20_800), None, None],
                likelihood: vec![None, Some(0.3), None],
            }],
            fit: vec![Some(wit::Fit::Ideal), None, None],
            errors: Vec::new(),
        }
    }

    #[test]
    fn a_0_3_0_answer_is_weighed_and_its_reasons_written_by_the_host() {
        let b = batch();
        let got = assessments(Answer::V0_3_0(answer()), &info(), &b, None).unwrap();
        assert!(got.errors.iter().all(Option::is_none), "{:?}", got.errors);
        // a: 0.75 * 80 + 0.25 * 90 = 60 + 22.5 = 82.5, green.
        assert_eq!((got.scores[0], got.bands[0]), (82.5, 1));
        // 0.75 * 0.8 * 100 is 60.00000000000001 in floats; the score is rounded.
        assert!((got.factors[0].contributions[0] - 60.0).abs() < 1e-12);
        assert_eq!(got.factors[1].contributions[0], 22.5);
        // b: nps does not apply, usage carries it all: 40, red.
        assert_eq!((got.scores[1], got.bands[1]), (40.0, 0));
        assert_eq!(
            (got.factors[0].weights[1], got.factors[1].weights[1]),
            (1.0, 0.0)
        );
        // c: 0.75 * 100 + 0.25 * 60 = 90, forced into red.
        assert_eq!((got.scores[2], got.bands[2]), (90.0, 0));
        let reasons = |f: usize| {
            (0..3)
                .map(|r| got.factors[f].reasons.get(r).to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(reasons(0), ["8 of 10 seats", "4.0 of 10 seats", "+1 seat"]);
        assert_eq!(reasons(1), ["NPS 9", "no NPS", "NPS 6"]);
        // Reached: b had reached it (progress 1, its recorded day), c reaches it
        // on its as-of day, a has not.
        let m = &got.milestones[0];
        assert_eq!(m.progress, [0.5, 1.0, 1.0]);
        let as_of: Date = "2026-11-01".parse().unwrap();
        assert_eq!(
            m.reached_on,
            [None, Some("2026-10-01".parse().unwrap()), Some(as_of)]
        );
        assert_eq!(m.predicted_on[0], Some(Date::from_days(20_800)));
        assert_eq!(m.likelihood[1], Some(0.3));
        assert_eq!(got.fit[0], Some(Fit::Ideal));
    }

    #[test]
    fn the_tenants_weights_weigh_a_0_3_0_answer_directly() {
        let mut info = info();
        info.factors[0].weight = 0.5;
        info.factors[1].weight = 0.5;
        let got =
            assessments(Answer::V0_3_0(answer()), &info, &batch(), Some(&[0.5, 0.5])).unwrap();
        // a: 0.5 * 80 + 0.5 * 90 = 85.
        assert_eq!(got.scores[0], 85.0);
    }

    #[test]
    fn a_bad_credit_fails_its_row_and_a_bad_reason_column_the_batch() {
        let b = batch();
        let mut bad_credit = answer();
        let good = bad_credit.clone();
        bad_credit.factors[0].credits[2] = 1.5;
        let got = assessments(Answer::V0_3_0(bad_credit), &info(), &b, None).unwrap();
        let e = got.errors[2].as_ref().unwrap();
        assert_eq!(e.kind, ErrorKind::InvalidOutput);
        assert_eq!(e.message, "factor `usage` has credit 1.5, outside 0-1");
        assert!(got.errors[0].is_none() && got.errors[1].is_none());

        let refused = |change: fn(&mut wit::ReasonColumn)| {
            let mut out = good.clone();
            change(&mut out.factors[0].reasons);
            assessments(Answer::V0_3_0(out), &info(), &b, None).unwrap_err()
        };
        assert_eq!(
            refused(|r| r.at[1] = 11),
            "factor `usage`: reason number 1 is at byte 11, outside account 0's words"
        );
        assert_eq!(
            refused(|r| r.at[3] = 9),
            "factor `usage`: reason number 3 is at byte 9, outside account 1's words"
        );
        assert_eq!(
            refused(|r| r.styles[0] = 0x17),
            "factor `usage`: reason number 0 has style 23"
        );
        assert_eq!(
            refused(|r| r.number_ends = vec![2, 1, 5]),
            "factor `usage`: reason number end 1 out of order or bounds"
        );
        assert_eq!(
            refused(|r| r.number_ends[2] = 4),
            "factor `usage`: 1 of 5 reason numbers belong to no account"
        );
        assert_eq!(
            refused(|r| {
                r.styles.pop();
            }),
            "factor `usage`: 5 reason numbers with 5 offsets and 4 styles"
        );
        let mut short = good.clone();
        short.forced_bands.pop();
        assert_eq!(
            assessments(Answer::V0_3_0(short), &info(), &b, None).unwrap_err(),
            "forced-bands: 2 values for 3 accounts"
        );
    }

    #[test]
    fn an_empty_0_3_0_answer_is_an_empty_batch() {
        let b = batch().select(0..0);
        let out = wit::AssessmentBatch {
            forced_bands: vec![],
            factors: (0..2)
                .map(|_| wit::FactorColumn {
                    values: vec![],
                    credits: vec![],
                    reasons: reasons_ending_in_numbers(&[], &[], 0),
                })
                .collect(),
            milestones: vec![wit::MilestoneColumn {
                progress: vec![],
                predicted_on: vec![],
                likelihood: vec![],
            }],
            fit: vec![],
            errors: vec![],
        };
        let got = assessments(Answer::V0_3_0(out), &info(), &b, None).unwrap();
        assert!(got.is_empty());
    }
}
