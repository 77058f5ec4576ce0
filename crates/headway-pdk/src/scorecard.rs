//! What a rule writes for one account.

use std::fmt;

use crate::names::{Key, same};
use crate::{Day, wit};

/// How well an account fits the tenant's ideal customer profile.
pub use crate::wit::Fit;

/// Why a rule could not assess one account. Only that account fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// A stable, machine-readable code such as `missing-measure`.
    pub code: String,
    /// A human message naming what is wrong.
    pub message: String,
}

impl RuleError {
    /// An error with a code and a message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A factor's reason, written piece by piece into the batch's reason column.
///
/// Write a reason as a tuple of pieces, `(fixed(active, 0), " of ",
/// fixed(seats, 0), " seats in use")`: words are copied, numbers are sent as
/// numbers and written in by the host. `format_args!` (formatted in the
/// sandbox, many times dearer), `&str` and `String` are accepted too.
pub trait Reason {
    /// Appends this piece to the reason being written.
    fn write_to(&self, out: &mut ReasonText<'_>);
}

/// The reason being written for one factor of one account.
pub struct ReasonText<'a> {
    column: &'a mut wit::ReasonColumn,
}

impl ReasonText<'_> {
    /// Appends words.
    #[inline(always)]
    pub fn push_str(&mut self, words: &str) {
        self.column.words.data.push_str(words);
    }

    /// Appends a number, which the host writes with `decimals` decimals (0-6,
    /// halves away from zero) and a `+` in front when `signed` and positive.
    #[inline(always)]
    pub fn number(&mut self, x: f64, decimals: u8, signed: bool) {
        let column = &mut *self.column;
        column.numbers.push(x);
        column.at.push(column.words.data.len() as u32);
        column.styles.push(headway_format::style(decimals, signed));
    }
}

impl Reason for str {
    #[inline(always)]
    fn write_to(&self, out: &mut ReasonText<'_>) {
        out.push_str(self);
    }
}

impl Reason for String {
    fn write_to(&self, out: &mut ReasonText<'_>) {
        out.push_str(self);
    }
}

impl<T: Reason + ?Sized> Reason for &T {
    #[inline(always)]
    fn write_to(&self, out: &mut ReasonText<'_>) {
        (**self).write_to(out);
    }
}

impl Reason for fmt::Arguments<'_> {
    fn write_to(&self, out: &mut ReasonText<'_>) {
        match self.as_str() {
            Some(text) => out.push_str(text),
            None => out.push_str(&self.to_string()),
        }
    }
}

macro_rules! reason_tuple {
    ($($piece:ident),+) => {
        impl<$($piece: Reason),+> Reason for ($($piece,)+) {
            #[allow(non_snake_case)]
            #[inline(always)]
            fn write_to(&self, out: &mut ReasonText<'_>) {
                let ($($piece,)+) = self;
                $($piece.write_to(out);)+
            }
        }
    };
}

reason_tuple!(A);
reason_tuple!(A, B);
reason_tuple!(A, B, C);
reason_tuple!(A, B, C, D);
reason_tuple!(A, B, C, D, E);
reason_tuple!(A, B, C, D, E, F);
reason_tuple!(A, B, C, D, E, F, G);
reason_tuple!(A, B, C, D, E, F, G, H);

/// What [`PluginInfo`](crate::PluginInfo) declared, resolved once per batch.
pub(crate) struct Layout {
    pub factors: Declared,
    pub band_names: Vec<String>,
    pub milestones: Declared,
}

/// Declared ids (of factors or milestones) in order, with their keys, to
/// recognise the one a rule names in a few instructions.
pub(crate) struct Declared {
    pub ids: Vec<String>,
    keys: Vec<Option<Key>>,
}

impl Declared {
    pub fn new(ids: Vec<String>) -> Self {
        Self {
            keys: ids.iter().map(|id| Key::of(id)).collect(),
            ids,
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The index of `id`. Rules mostly name ids in declared order, so the one
    /// after the last found (`*next`) is tried first; `*next` moves past it.
    #[inline(always)]
    fn find(&self, next: &mut usize, id: &str) -> Option<usize> {
        let k = *next;
        if let Some(Some(key)) = self.keys.get(k)
            && key.matches(id)
        {
            *next = k + 1;
            return Some(k);
        }
        self.search(next, id)
    }

    #[cold]
    #[inline(never)]
    fn search(&self, next: &mut usize, id: &str) -> Option<usize> {
        let found = self.ids.iter().position(|f| same(f, id));
        if let Some(i) = found {
            *next = i + 1;
        }
        found
    }
}

/// The batch's answer, written in place row by row: every per-account column is
/// allocated for the whole batch up front, so a rule's call writes its slot
/// instead of pushing, and a row needs no closing pass over its factors.
pub(crate) struct Answer {
    pub forced_bands: Vec<Option<u8>>,
    pub fit: Vec<Option<Fit>>,
    pub factors: Vec<wit::FactorColumn>,
    pub milestones: Vec<wit::MilestoneColumn>,
    pub errors: Vec<wit::AccountError>,
    /// Per factor, the row (plus one) it was last written for.
    written: Vec<usize>,
}

impl Answer {
    pub fn new(layout: &Layout, rows: usize) -> Self {
        let factor = || wit::FactorColumn {
            values: vec![f64::NAN; rows],
            credits: vec![f64::NAN; rows],
            reasons: wit::ReasonColumn {
                words: wit::TextColumn {
                    data: String::with_capacity(rows * 24),
                    ends: vec![0; rows],
                },
                numbers: Vec::with_capacity(rows * 2),
                at: Vec::with_capacity(rows * 2),
                styles: Vec::with_capacity(rows * 2),
                number_ends: vec![0; rows],
            },
        };
        let milestone = || wit::MilestoneColumn {
            progress: vec![0.0; rows],
            predicted_on: vec![None; rows],
            likelihood: vec![None; rows],
        };
        Self {
            forced_bands: vec![None; rows],
            fit: vec![None; rows],
            factors: layout.factors.ids.iter().map(|_| factor()).collect(),
            milestones: layout.milestones.ids.iter().map(|_| milestone()).collect(),
            errors: Vec::new(),
            written: vec![0; layout.factors.len()],
        }
    }

    /// Whether every factor was written for `row`; else the first one that was not.
    pub fn unset_factor(&self, row: usize) -> Option<usize> {
        self.written.iter().position(|w| *w != row + 1)
    }

    /// Marks `row` as failed: its reasons are closed where they stand (the host
    /// ignores a failed row's columns) and the error is listed.
    pub fn fail(&mut self, row: usize, error: RuleError) {
        for f in &mut self.factors {
            let r = &mut f.reasons;
            r.words.ends[row] = r.words.data.len() as u32;
            r.number_ends[row] = r.numbers.len() as u32;
        }
        self.errors.push(wit::AccountError {
            index: row as u32,
            code: error.code,
            message: error.message,
        });
    }

    pub fn into_wit(self) -> wit::AssessmentBatch {
        wit::AssessmentBatch {
            forced_bands: self.forced_bands,
            factors: self.factors,
            milestones: self.milestones,
            fit: self.fit,
            errors: self.errors,
        }
    }
}

/// Where a rule writes one account's result: a value, a 0-1 score and a reason per
/// factor, and progress per milestone. The host derives the 0-100 health score
/// (the weighted sum of factor scores), each factor's contribution, and the band.
pub struct Scorecard<'a> {
    pub(crate) layout: &'a Layout,
    pub(crate) answer: &'a mut Answer,
    pub(crate) row: usize,
    pub(crate) problem: Option<RuleError>,
    /// The factor and the milestone after the ones set last.
    pub(crate) next_factor: usize,
    pub(crate) next_milestone: usize,
    /// How many distinct factors this row has set or skipped.
    pub(crate) factors_written: usize,
}

impl Scorecard<'_> {
    #[cold]
    #[inline(never)]
    fn scored_nan(&mut self, id: &str) {
        self.note_problem("invalid-factor", format!("factor `{id}` scored NaN"));
    }

    #[cold]
    fn note_problem(&mut self, code: &str, message: String) {
        if self.problem.is_none() {
            self.problem = Some(RuleError::new(code, message));
        }
    }

    #[inline(always)]
    fn factor_index(&mut self, id: &str) -> Option<usize> {
        let found = self.layout.factors.find(&mut self.next_factor, id);
        if found.is_none() {
            self.undeclared("factor", id);
        }
        found
    }

    #[cold]
    #[inline(never)]
    fn undeclared(&mut self, what: &str, id: &str) {
        self.note_problem(
            &format!("unknown-{what}"),
            format!("{what} `{id}` is not declared in describe()"),
        );
    }

    /// Drops what an earlier call wrote for factor `i` on this row.
    #[cold]
    #[inline(never)]
    fn rewrite(&mut self, i: usize) {
        let row = self.row;
        let reasons = &mut self.answer.factors[i].reasons;
        let start = |ends: &[u32]| if row == 0 { 0 } else { ends[row - 1] as usize };
        reasons.words.data.truncate(start(&reasons.words.ends));
        let numbers = start(&reasons.number_ends);
        reasons.numbers.truncate(numbers);
        reasons.at.truncate(numbers);
        reasons.styles.truncate(numbers);
    }

    /// Writes factor `i` for this row: value, credit (NaN: skipped) and reason,
    /// replacing what an earlier call wrote for the same row.
    #[inline(always)]
    fn write(&mut self, i: usize, value: f64, credit: f64, reason: impl Reason) {
        let row = self.row;
        if self.answer.written[i] == row + 1 {
            self.rewrite(i);
        } else {
            self.factors_written += 1;
        }
        self.answer.written[i] = row + 1;
        let column = &mut self.answer.factors[i];
        let reasons = &mut column.reasons;
        column.values[row] = value;
        column.credits[row] = credit;
        reason.write_to(&mut ReasonText { column: reasons });
        reasons.words.ends[row] = reasons.words.data.len() as u32;
        reasons.number_ends[row] = reasons.numbers.len() as u32;
    }

    /// Sets a declared factor: the raw `value` it looked at, its `score` from 0
    /// (worst) to 1 (best; clamped to that range), and a short human reason.
    #[inline(always)]
    pub fn factor(&mut self, id: &str, value: f64, score: f64, reason: impl Reason) {
        if score.is_nan() {
            self.scored_nan(id);
            return;
        }
        if let Some(i) = self.factor_index(id) {
            // `+ 0.0` turns a -0.0 (a reversed ramp at its start) into 0.0.
            self.write(i, value, score.clamp(0.0, 1.0) + 0.0, reason);
        }
    }

    /// Marks a factor as not applicable to this account (e.g. no NPS answer yet):
    /// its weight is shared among the other factors.
    #[inline(always)]
    pub fn skip(&mut self, id: &str, reason: impl Reason) {
        if let Some(i) = self.factor_index(id) {
            self.write(i, f64::NAN, f64::NAN, reason);
        }
    }

    /// Sets progress (0-1, clamped) toward a declared milestone. Unset milestones
    /// stay at 0; a milestone the account has already reached is always 1.
    #[inline]
    pub fn milestone(&mut self, id: &str, progress: f64) -> MilestoneMark<'_> {
        let index = self.layout.milestones.find(&mut self.next_milestone, id);
        if index.is_none() {
            self.undeclared("milestone", id);
        }
        let progress = if progress.is_nan() {
            0.0
        } else {
            progress.clamp(0.0, 1.0)
        };
        let row = self.row;
        let column = index.map(|i| &mut self.answer.milestones[i]);
        if let Some(c) = column {
            c.progress[row] = progress;
            MilestoneMark {
                slot: Some((c, row)),
            }
        } else {
            MilestoneMark { slot: None }
        }
    }

    /// Overrides the band the score would fall in (e.g. red whatever the score when a
    /// critical signal fires).
    pub fn band(&mut self, name: &str) {
        match self.layout.band_names.iter().position(|b| same(b, name)) {
            Some(i) => self.answer.forced_bands[self.row] = Some(i as u8),
            None => self.note_problem(
                "unknown-band",
                format!("band `{name}` is not declared in describe()"),
            ),
        }
    }

    /// Labels how well the account fits the ideal customer profile.
    pub fn fit(&mut self, fit: Fit) {
        self.answer.fit[self.row] = Some(fit);
    }
}

/// Optional details of a milestone's progress.
pub struct MilestoneMark<'a> {
    slot: Option<(&'a mut wit::MilestoneColumn, usize)>,
}

impl MilestoneMark<'_> {
    /// The rule's own prediction of the day the milestone will be reached.
    pub fn predicted(mut self, day: Day) -> Self {
        if let Some((c, row)) = self.slot.as_mut() {
            c.predicted_on[*row] = Some(day.0);
        }
        self
    }

    /// The rule's own likelihood (0-1) that the account takes the milestone's upsell.
    pub fn likelihood(mut self, p: f64) -> Self {
        if let Some((c, row)) = self.slot.as_mut() {
            c.likelihood[*row] = Some(p.clamp(0.0, 1.0));
        }
        self
    }
}
