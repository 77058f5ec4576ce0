//! Columnar batch in, columnar results out, one row at a time through the rules.

use crate::account::{Account, Lookups};
use crate::names::Key;
use crate::scorecard::{Answer, Layout, RuleError, Scorecard};
use crate::{Rules, wit};

pub(crate) fn assess<R: Rules>(batch: &wit::AccountBatch) -> wit::AssessmentBatch {
    let layout = Layout::from(R::describe());
    let rows = batch.ids.ends.len();
    let mut answer = Answer::new(&layout, rows);
    let lookups = Lookups::default();
    for row in 0..rows {
        lookups.start_row();
        let account = Account::new(batch, row, &lookups);
        let mut card = Scorecard {
            layout: &layout,
            answer: &mut answer,
            row,
            problem: None,
            next_factor: 0,
        };
        let outcome = R::assess(&account, &mut card);
        let problem = card.problem.take();
        let outcome =
            outcome
                .and_then(|()| problem.map_or(Ok(()), Err))
                .and_then(|()| match answer.unset_factor(row) {
                    None => Ok(()),
                    Some(i) => Err(RuleError::new(
                        "unset-factor",
                        format!(
                            "factor `{}` was neither set nor skipped",
                            layout.factor_ids[i]
                        ),
                    )),
                });
        if let Err(e) = outcome {
            answer.fail(row, e);
        }
    }
    answer.into_wit()
}

impl From<crate::PluginInfo> for Layout {
    fn from(info: crate::PluginInfo) -> Self {
        let factor_ids: Vec<String> = info.factors.into_iter().map(|(id, _, _)| id).collect();
        Layout {
            factor_keys: factor_ids.iter().map(|id| Key::of(id)).collect(),
            factor_ids,
            band_names: info.bands.into_iter().map(|(name, _)| name).collect(),
            milestone_ids: info.milestones.into_iter().map(|m| m.id).collect(),
        }
    }
}
