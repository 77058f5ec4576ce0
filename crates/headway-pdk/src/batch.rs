//! Columnar batch in, columnar results out, one row at a time through the rules.

use crate::account::Account;
use crate::scorecard::{Layout, RuleError, Scorecard, Scratch};
use crate::{Rules, wit};

pub(crate) fn assess<R: Rules>(batch: &wit::AccountBatch) -> wit::AssessmentBatch {
    let layout = Layout::from(R::describe());
    let rows = batch.ids.ends.len();
    let mut out = Columns::new(&layout, rows);
    let mut scratch = Scratch::new(&layout);
    for row in 0..rows {
        scratch.reset();
        let account = Account::new(batch, row);
        let mut card = Scorecard {
            layout: &layout,
            scratch: &mut scratch,
            reasons: &mut out.reasons,
        };
        let outcome = R::assess(&account, &mut card)
            .and_then(|()| scratch.problem.take().map_or(Ok(()), Err))
            .and_then(|()| out.push(&layout, &scratch, &account));
        if let Err(e) = outcome {
            out.push_failed(row, e);
        }
    }
    out.finish()
}

impl From<crate::PluginInfo> for Layout {
    fn from(info: crate::PluginInfo) -> Self {
        let (band_names, band_floors) = info.bands.into_iter().unzip();
        let (factor_ids, weights) = info.factors.into_iter().map(|(id, _, w)| (id, w)).unzip();
        Layout {
            factor_ids,
            weights,
            band_names,
            band_floors,
            milestone_ids: info.milestones.into_iter().map(|m| m.id).collect(),
        }
    }
}

struct Columns {
    scores: Vec<f64>,
    bands: Vec<u8>,
    /// Factor columns without their reasons, which rules write into `reasons`.
    factors: Vec<wit::FactorColumn>,
    reasons: Vec<wit::TextColumn>,
    milestones: Vec<wit::MilestoneColumn>,
    fit: Vec<Option<wit::Fit>>,
    errors: Vec<wit::AccountError>,
}

impl Columns {
    fn new(layout: &Layout, rows: usize) -> Self {
        let factor = || wit::FactorColumn {
            values: Vec::with_capacity(rows),
            weights: Vec::with_capacity(rows),
            contributions: Vec::with_capacity(rows),
            reasons: wit::TextColumn {
                data: String::new(),
                ends: Vec::new(),
            },
        };
        let reasons = || wit::TextColumn {
            data: String::with_capacity(rows * 32),
            ends: Vec::with_capacity(rows),
        };
        let milestone = || wit::MilestoneColumn {
            progress: Vec::with_capacity(rows),
            reached_on: Vec::with_capacity(rows),
            predicted_on: Vec::with_capacity(rows),
            likelihood: Vec::with_capacity(rows),
        };
        Self {
            scores: Vec::with_capacity(rows),
            bands: Vec::with_capacity(rows),
            factors: layout.factor_ids.iter().map(|_| factor()).collect(),
            reasons: layout.factor_ids.iter().map(|_| reasons()).collect(),
            milestones: layout.milestone_ids.iter().map(|_| milestone()).collect(),
            fit: Vec::with_capacity(rows),
            errors: Vec::new(),
        }
    }

    /// Appends one assessed row; on error nothing has been appended.
    fn push(&mut self, layout: &Layout, row: &Scratch, account: &Account) -> Result<(), RuleError> {
        let mut applicable = 0.0;
        for (slot, (id, weight)) in row
            .factors
            .iter()
            .zip(layout.factor_ids.iter().zip(&layout.weights))
        {
            if slot.skipped {
                continue;
            }
            if slot.score.is_none() {
                return Err(RuleError::new(
                    "unset-factor",
                    format!("factor `{id}` was neither set nor skipped"),
                ));
            }
            applicable += weight;
        }
        if applicable <= 0.0 {
            return Err(RuleError::new(
                "no-applicable-factor",
                "every factor was skipped",
            ));
        }
        let mut score = 0.0;
        for ((column, reasons), (slot, weight)) in self
            .factors
            .iter_mut()
            .zip(&mut self.reasons)
            .zip(row.factors.iter().zip(&layout.weights))
        {
            let weight = if slot.skipped {
                0.0
            } else {
                weight / applicable
            };
            let contribution = weight * slot.score.unwrap_or(0.0) * 100.0;
            score += contribution;
            column.values.push(slot.value);
            column.weights.push(weight);
            column.contributions.push(contribution);
            // The reason is in its column already: close it.
            reasons.ends.push(reasons.data.len() as u32);
        }
        // Ten decimals: the binary noise of the sum (69.99999999999999) would
        // otherwise put a score shown as 70.0 in the band below 70.
        let score = to_ten_decimals(score.clamp(0.0, 100.0));
        let band = row.band.unwrap_or_else(|| {
            layout
                .band_floors
                .iter()
                .rposition(|floor| score >= *floor)
                .unwrap_or(0) as u8
        });
        for (column, (slot, id)) in self
            .milestones
            .iter_mut()
            .zip(row.milestones.iter().zip(&layout.milestone_ids))
        {
            let recorded = account.reached(id);
            let progress = if recorded.is_some() {
                1.0
            } else {
                slot.progress
            };
            let reached = recorded.or((progress >= 1.0).then(|| account.as_of()));
            column.progress.push(progress);
            column.reached_on.push(reached.map(|d| d.0));
            column.predicted_on.push(slot.predicted.map(|d| d.0));
            column.likelihood.push(slot.likelihood);
        }
        self.scores.push(score);
        self.bands.push(band);
        self.fit.push(row.fit);
        Ok(())
    }

    /// Appends placeholders for a failed row so every column keeps one entry per row.
    fn push_failed(&mut self, row: usize, error: RuleError) {
        self.scores.push(f64::NAN);
        self.bands.push(0);
        for (column, reasons) in self.factors.iter_mut().zip(&mut self.reasons) {
            column.values.push(f64::NAN);
            column.weights.push(0.0);
            column.contributions.push(0.0);
            // Take back what the row wrote, then an empty reason.
            reasons
                .data
                .truncate(reasons.ends.last().map_or(0, |e| *e as usize));
            reasons.ends.push(reasons.data.len() as u32);
        }
        for column in &mut self.milestones {
            column.progress.push(0.0);
            column.reached_on.push(None);
            column.predicted_on.push(None);
            column.likelihood.push(None);
        }
        self.fit.push(None);
        self.errors.push(wit::AccountError {
            index: row as u32,
            code: error.code,
            message: error.message,
        });
    }

    fn finish(mut self) -> wit::AssessmentBatch {
        for (column, reasons) in self.factors.iter_mut().zip(self.reasons) {
            column.reasons = reasons;
        }
        wit::AssessmentBatch {
            scores: self.scores,
            bands: self.bands,
            factors: self.factors,
            milestones: self.milestones,
            fit: self.fit,
            errors: self.errors,
        }
    }
}

/// `x` (0-100) rounded to ten decimals, halves up, without a library call.
fn to_ten_decimals(x: f64) -> f64 {
    let scaled = x * 1e10;
    let whole = scaled.trunc();
    (whole + if scaled - whole >= 0.5 { 1.0 } else { 0.0 }) / 1e10
}

#[cfg(test)]
mod tests {
    use super::to_ten_decimals;

    #[test]
    fn scores_lose_binary_noise_not_value() {
        assert_eq!(to_ten_decimals(69.999_999_999_999_99), 70.0);
        assert_eq!(to_ten_decimals(29.849_037_127_288_728), 29.849_037_127_3);
        assert_eq!(to_ten_decimals(0.0), 0.0);
        assert_eq!(to_ten_decimals(100.0), 100.0);
        assert_eq!(to_ten_decimals(45.000_000_000_04), 45.0);
    }
}
