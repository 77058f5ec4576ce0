//! What a rule writes for one account.

use std::fmt::{self, Write as _};

use crate::{Day, same, wit};

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

/// A factor's reason: text written straight into the result, piece by piece.
///
/// Write a reason as a tuple of pieces, `(fixed(active, 0), " of ",
/// fixed(seats, 0), " seats in use")`: each piece appends itself, which in the
/// sandbox costs a fraction of `format_args!("{} of {} seats in use", ...)`
/// (still accepted, as are `&str` and `String`).
pub trait Reason {
    /// Appends the text to `out`.
    fn write_to(&self, out: &mut String);
}

impl Reason for str {
    fn write_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Reason for String {
    fn write_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl<T: Reason + ?Sized> Reason for &T {
    fn write_to(&self, out: &mut String) {
        (**self).write_to(out);
    }
}

impl Reason for fmt::Arguments<'_> {
    fn write_to(&self, out: &mut String) {
        match self.as_str() {
            Some(text) => out.push_str(text),
            None => {
                let _ = out.write_fmt(*self);
            }
        }
    }
}

macro_rules! reason_tuple {
    ($($piece:ident),+) => {
        impl<$($piece: Reason),+> Reason for ($($piece,)+) {
            #[allow(non_snake_case)]
            fn write_to(&self, out: &mut String) {
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
    pub factor_ids: Vec<String>,
    pub weights: Vec<f64>,
    pub band_names: Vec<String>,
    pub band_floors: Vec<f64>,
    pub milestone_ids: Vec<String>,
}

#[derive(Default)]
pub(crate) struct FactorSlot {
    pub value: f64,
    pub score: Option<f64>,
    pub skipped: bool,
}

#[derive(Default)]
pub(crate) struct MilestoneSlot {
    pub progress: f64,
    pub predicted: Option<Day>,
    pub likelihood: Option<f64>,
}

/// Per-row state, reused across the rows of a batch so a row allocates nothing.
pub(crate) struct Scratch {
    pub factors: Vec<FactorSlot>,
    pub milestones: Vec<MilestoneSlot>,
    pub band: Option<u8>,
    pub fit: Option<Fit>,
    pub problem: Option<RuleError>,
    /// The factor after the one set last.
    pub next_factor: usize,
}

impl Scratch {
    pub fn new(layout: &Layout) -> Self {
        Self {
            factors: layout
                .factor_ids
                .iter()
                .map(|_| FactorSlot::default())
                .collect(),
            milestones: layout
                .milestone_ids
                .iter()
                .map(|_| MilestoneSlot::default())
                .collect(),
            band: None,
            fit: None,
            problem: None,
            next_factor: 0,
        }
    }

    pub fn reset(&mut self) {
        for f in &mut self.factors {
            f.value = f64::NAN;
            f.score = None;
            f.skipped = false;
        }
        for m in &mut self.milestones {
            *m = MilestoneSlot::default();
        }
        self.band = None;
        self.fit = None;
        self.problem = None;
        self.next_factor = 0;
    }
}

/// Where a rule writes one account's result: a value, a 0-1 score and a reason per
/// factor, and progress per milestone. The kit derives the 0-100 health score (the
/// weighted sum of factor scores), each factor's contribution, and the band.
pub struct Scorecard<'a> {
    pub(crate) layout: &'a Layout,
    pub(crate) scratch: &'a mut Scratch,
    /// One reasons column per factor: a reason is written straight into it, after
    /// the rows already finished.
    pub(crate) reasons: &'a mut [wit::TextColumn],
}

impl Scorecard<'_> {
    fn note_problem(&mut self, code: &str, message: String) {
        if self.scratch.problem.is_none() {
            self.scratch.problem = Some(RuleError::new(code, message));
        }
    }

    fn factor_index(&mut self, id: &str) -> Option<usize> {
        // Rules mostly set factors in declared order: try the next one first.
        let ids = &self.layout.factor_ids;
        let next = self.scratch.next_factor;
        let found = if ids.get(next).is_some_and(|f| same(f, id)) {
            Some(next)
        } else {
            ids.iter().position(|f| same(f, id))
        };
        match found {
            Some(i) => {
                self.scratch.next_factor = i + 1;
                Some(i)
            }
            None => {
                self.note_problem(
                    "unknown-factor",
                    format!("factor `{id}` is not declared in describe()"),
                );
                None
            }
        }
    }

    /// Writes factor `i`'s reason for this row (replacing one written before).
    fn write_reason(&mut self, i: usize, reason: impl Reason) {
        let column = &mut self.reasons[i];
        column
            .data
            .truncate(column.ends.last().map_or(0, |e| *e as usize));
        reason.write_to(&mut column.data);
    }

    /// Sets a declared factor: the raw `value` it looked at, its `score` from 0
    /// (worst) to 1 (best; clamped to that range), and a short human reason.
    pub fn factor(&mut self, id: &str, value: f64, score: f64, reason: impl Reason) {
        if score.is_nan() {
            self.note_problem("invalid-factor", format!("factor `{id}` scored NaN"));
            return;
        }
        if let Some(i) = self.factor_index(id) {
            let slot = &mut self.scratch.factors[i];
            slot.value = value;
            // `+ 0.0` turns a -0.0 (a reversed ramp at its start) into 0.0.
            slot.score = Some(score.clamp(0.0, 1.0) + 0.0);
            slot.skipped = false;
            self.write_reason(i, reason);
        }
    }

    /// Marks a factor as not applicable to this account (e.g. no NPS answer yet):
    /// its weight is shared among the other factors.
    pub fn skip(&mut self, id: &str, reason: impl Reason) {
        if let Some(i) = self.factor_index(id) {
            let slot = &mut self.scratch.factors[i];
            slot.value = f64::NAN;
            slot.score = None;
            slot.skipped = true;
            self.write_reason(i, reason);
        }
    }

    /// Sets progress (0-1, clamped) toward a declared milestone. Unset milestones
    /// stay at 0; a milestone the account has already reached is always 1.
    pub fn milestone(&mut self, id: &str, progress: f64) -> MilestoneMark<'_> {
        let index = self.layout.milestone_ids.iter().position(|m| same(m, id));
        if index.is_none() {
            self.note_problem(
                "unknown-milestone",
                format!("milestone `{id}` is not declared in describe()"),
            );
        }
        let slot = index.map(|i| &mut self.scratch.milestones[i]);
        let mut mark = MilestoneMark { slot };
        if let Some(s) = mark.slot.as_deref_mut() {
            s.progress = if progress.is_nan() {
                0.0
            } else {
                progress.clamp(0.0, 1.0)
            };
        }
        mark
    }

    /// Overrides the band the score would fall in (e.g. red whatever the score when a
    /// critical signal fires).
    pub fn band(&mut self, name: &str) {
        match self.layout.band_names.iter().position(|b| same(b, name)) {
            Some(i) => self.scratch.band = Some(i as u8),
            None => self.note_problem(
                "unknown-band",
                format!("band `{name}` is not declared in describe()"),
            ),
        }
    }

    /// Labels how well the account fits the ideal customer profile.
    pub fn fit(&mut self, fit: Fit) {
        self.scratch.fit = Some(fit);
    }
}

/// Optional details of a milestone's progress.
pub struct MilestoneMark<'a> {
    slot: Option<&'a mut MilestoneSlot>,
}

impl MilestoneMark<'_> {
    /// The rule's own prediction of the day the milestone will be reached.
    pub fn predicted(mut self, day: Day) -> Self {
        if let Some(s) = self.slot.as_deref_mut() {
            s.predicted = Some(day);
        }
        self
    }

    /// The rule's own likelihood (0-1) that the account takes the milestone's upsell.
    pub fn likelihood(mut self, p: f64) -> Self {
        if let Some(s) = self.slot.as_deref_mut() {
            s.likelihood = Some(p.clamp(0.0, 1.0));
        }
        self
    }
}
