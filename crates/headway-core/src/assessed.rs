//! What a plugin concluded about a batch, column by column and checked against
//! the contract: the form results travel in from the sandbox to the writers, so a
//! run never builds a `String` per factor per account. [`AssessedBatch::result`]
//! gives the row-wise [`Assessment`] where one is needed.

use crate::Date;
use crate::assessment::{Assessment, FactorScore, Fit, MilestoneProgress, PluginInfo};
use crate::batch::TextColumn;
use crate::report::AccountError;

/// One factor's results for every row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FactorResults {
    /// The raw value the factor looked at; NaN where none.
    pub values: Vec<f64>,
    /// The weight applied.
    pub weights: Vec<f64>,
    /// The points it added.
    pub contributions: Vec<f64>,
    /// The reason.
    pub reasons: TextColumn,
}

/// Progress toward one milestone for every row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MilestoneResults {
    /// Progress 0-1.
    pub progress: Vec<f64>,
    /// When reached.
    pub reached_on: Vec<Option<Date>>,
    /// The plugin's predicted day.
    pub predicted_on: Vec<Option<Date>>,
    /// The plugin's upsell likelihood.
    pub likelihood: Vec<Option<f64>>,
}

/// A batch's results. Every column has one entry per row; a row with an error
/// has placeholders in the others.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssessedBatch {
    /// Score 0-100.
    pub scores: Vec<f64>,
    /// Band, as an index into the plugin's declared bands.
    pub bands: Vec<u8>,
    /// One entry per declared factor.
    pub factors: Vec<FactorResults>,
    /// One entry per declared milestone.
    pub milestones: Vec<MilestoneResults>,
    /// Fit, where judged.
    pub fit: Vec<Option<Fit>>,
    /// Why a row has no result.
    pub errors: Vec<Option<AccountError>>,
}

impl AssessedBatch {
    /// Results for `rows` rows that all failed with `error`.
    pub fn failed(rows: usize, info: &PluginInfo, error: &AccountError) -> Self {
        let mut out = Self::empty(info);
        for _ in 0..rows {
            out.push_failed(error.clone());
        }
        out
    }

    /// No rows yet, with the plugin's columns.
    pub fn empty(info: &PluginInfo) -> Self {
        Self {
            factors: vec![FactorResults::default(); info.factors.len()],
            milestones: vec![MilestoneResults::default(); info.milestones.len()],
            ..Self::default()
        }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Appends a failed row.
    pub fn push_failed(&mut self, error: AccountError) {
        self.scores.push(f64::NAN);
        self.bands.push(0);
        for f in &mut self.factors {
            f.values.push(f64::NAN);
            f.weights.push(0.0);
            f.contributions.push(0.0);
            f.reasons.push("");
        }
        for m in &mut self.milestones {
            m.progress.push(0.0);
            m.reached_on.push(None);
            m.predicted_on.push(None);
            m.likelihood.push(None);
        }
        self.fit.push(None);
        self.errors.push(Some(error));
    }

    /// Marks row `row` as failed (its other entries stay as placeholders).
    pub fn fail(&mut self, row: usize, error: AccountError) {
        self.errors[row] = Some(error);
    }

    /// Appends `other`'s rows.
    pub fn append(&mut self, other: AssessedBatch) {
        self.scores.extend(other.scores);
        self.bands.extend(other.bands);
        for (f, o) in self.factors.iter_mut().zip(other.factors) {
            f.values.extend(o.values);
            f.weights.extend(o.weights);
            f.contributions.extend(o.contributions);
            for i in 0..o.reasons.len() {
                f.reasons.push(o.reasons.get(i));
            }
        }
        for (m, o) in self.milestones.iter_mut().zip(other.milestones) {
            m.progress.extend(o.progress);
            m.reached_on.extend(o.reached_on);
            m.predicted_on.extend(o.predicted_on);
            m.likelihood.extend(o.likelihood);
        }
        self.fit.extend(other.fit);
        self.errors.extend(other.errors);
    }

    /// Row `row` as an [`Assessment`], or its error.
    pub fn result(&self, row: usize, info: &PluginInfo) -> Result<Assessment, AccountError> {
        if let Some(e) = &self.errors[row] {
            return Err(e.clone());
        }
        Ok(Assessment {
            score: self.scores[row],
            band: info.bands[usize::from(self.bands[row])].name.clone(),
            factors: self
                .factors
                .iter()
                .zip(&info.factors)
                .map(|(f, declared)| FactorScore {
                    name: declared.id.clone(),
                    value: f.values[row],
                    weight: f.weights[row],
                    contribution: f.contributions[row],
                    reason: f.reasons.get(row).to_owned(),
                })
                .collect(),
            milestones: self
                .milestones
                .iter()
                .zip(&info.milestones)
                .map(|(m, declared)| MilestoneProgress {
                    id: declared.id.clone(),
                    progress: m.progress[row],
                    reached_on: m.reached_on[row],
                    predicted_on: m.predicted_on[row],
                    likelihood: m.likelihood[row],
                })
                .collect(),
            fit: self.fit[row],
        })
    }

    /// The index of the factor holding row `row` back most: the largest shortfall
    /// (weight x 100 - contribution), the first declared on a tie.
    pub fn top_factor(&self, row: usize) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for (i, f) in self.factors.iter().enumerate() {
            let shortfall = f.weights[row] * 100.0 - f.contributions[row];
            if best.is_none_or(|(_, b)| shortfall.total_cmp(&b).is_gt()) {
                best = Some((i, shortfall));
            }
        }
        best.map(|(i, _)| i)
    }

    /// The index of the first milestone not reached in row `row`.
    pub fn next_milestone(&self, row: usize) -> Option<usize> {
        self.milestones.iter().position(|m| m.progress[row] < 1.0)
    }
}
