//! The contract versions this host loads.
//!
//! One generated binding module per version. The host works in the latest
//! version's types only; a plugin built for an older version runs through a small
//! adapter that converts the batch down to its version and its answers up to the
//! latest, so it keeps loading and scoring unchanged (see `wit/README.md`).

use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::{AsContextMut, Result};

use crate::sandbox::StoreState;

/// Bindings of the latest contract, `wit/since_v0.3.0`.
#[allow(missing_docs)]
pub mod v0_3_0 {
    wasmtime::component::bindgen!({
        path: "../../wit/since_v0.3.0",
        world: "health-rules",
    });
}

/// Bindings of contract 0.2.0, `wit/since_v0.2.0`, kept so its plugins still load.
#[allow(missing_docs)]
pub mod v0_2_0 {
    wasmtime::component::bindgen!({
        path: "../../wit/since_v0.2.0",
        world: "health-rules",
    });
}

/// Bindings of contract 0.1.0, `wit/since_v0.1.0`, kept so its plugins still load.
#[allow(missing_docs)]
pub mod v0_1_0 {
    wasmtime::component::bindgen!({
        path: "../../wit/since_v0.1.0",
        world: "health-rules",
    });
}

/// The latest contract's types: what the host and new plugins speak.
pub use v0_3_0::headway::rules::types as latest;

/// A contract version this host loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContractVersion {
    /// `headway:rules@0.1.0`: the first release.
    V0_1_0,
    /// `headway:rules@0.2.0`: adds `plugin-info.reads`.
    V0_2_0,
    /// `headway:rules@0.3.0`: factors return 0-1 credits and the host weighs
    /// them; reason numbers are written in by the host.
    V0_3_0,
}

impl ContractVersion {
    /// What new plugins target.
    pub const LATEST: Self = Self::V0_3_0;
    /// Every version the host loads, newest first.
    pub const SUPPORTED: [Self; 3] = [Self::V0_3_0, Self::V0_2_0, Self::V0_1_0];

    /// The semver number, e.g. `0.2.0`.
    pub fn number(self) -> &'static str {
        match self {
            Self::V0_1_0 => "0.1.0",
            Self::V0_2_0 => "0.2.0",
            Self::V0_3_0 => "0.3.0",
        }
    }

    /// The export that marks a component as built for this version.
    pub fn rules_export(self) -> String {
        format!("headway:rules/rules@{}", self.number())
    }

    /// The contract's own imports: host functions, and the function-free types.
    pub fn imports(self) -> [String; 2] {
        [
            format!("headway:rules/host@{}", self.number()),
            format!("headway:rules/types@{}", self.number()),
        ]
    }

    /// The version a component targets, read from its exports.
    pub fn of_exports<'a>(exports: impl IntoIterator<Item = &'a str> + Clone) -> Option<Self> {
        Self::SUPPORTED
            .into_iter()
            .find(|v| exports.clone().into_iter().any(|e| e == v.rules_export()))
    }
}

impl std::fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "headway:rules@{}", self.number())
    }
}

/// Adds every supported version's host functions to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> Result<()> {
    v0_3_0::HealthRules::add_to_linker::<StoreState, HasSelf<StoreState>>(linker, |s| s)?;
    v0_2_0::HealthRules::add_to_linker::<StoreState, HasSelf<StoreState>>(linker, |s| s)?;
    v0_1_0::HealthRules::add_to_linker::<StoreState, HasSelf<StoreState>>(linker, |s| s)
}

/// A linked plugin, ready to instantiate, in the contract version it was built for.
pub(crate) enum RulesPre {
    V0_1_0(v0_1_0::HealthRulesPre<StoreState>),
    V0_2_0(v0_2_0::HealthRulesPre<StoreState>),
    V0_3_0(v0_3_0::HealthRulesPre<StoreState>),
}

/// A plugin's answer to one batch, in the types of the version it was built
/// for: a 0.3.0 answer leaves the weighing to the host, an older one has done it.
#[derive(Debug)]
pub enum Answer {
    /// From a 0.2.0 plugin (or a 0.1.0 one, converted up).
    V0_2_0(v0_2_0::headway::rules::types::AssessmentBatch),
    /// From a plugin of the latest version.
    V0_3_0(latest::AssessmentBatch),
}

impl RulesPre {
    pub fn new(version: ContractVersion, pre: InstancePre<StoreState>) -> Result<Self> {
        Ok(match version {
            ContractVersion::V0_1_0 => Self::V0_1_0(v0_1_0::HealthRulesPre::new(pre)?),
            ContractVersion::V0_2_0 => Self::V0_2_0(v0_2_0::HealthRulesPre::new(pre)?),
            ContractVersion::V0_3_0 => Self::V0_3_0(v0_3_0::HealthRulesPre::new(pre)?),
        })
    }

    /// Instantiates into `store` and calls `describe`.
    pub fn describe(
        &self,
        mut store: impl AsContextMut<Data = StoreState>,
    ) -> Result<latest::PluginInfo> {
        match self {
            Self::V0_1_0(pre) => pre
                .instantiate(&mut store)?
                .headway_rules_rules()
                .call_describe(&mut store)
                .map(from_v0_1_0::plugin_info),
            Self::V0_2_0(pre) => pre
                .instantiate(&mut store)?
                .headway_rules_rules()
                .call_describe(&mut store)
                .map(from_v0_2_0::plugin_info),
            Self::V0_3_0(pre) => pre
                .instantiate(&mut store)?
                .headway_rules_rules()
                .call_describe(&mut store),
        }
    }

    /// Instantiates into `store` and calls `assess`.
    pub fn assess(
        &self,
        mut store: impl AsContextMut<Data = StoreState>,
        batch: &latest::AccountBatch,
    ) -> Result<Answer> {
        match self {
            Self::V0_1_0(pre) => pre
                .instantiate(&mut store)?
                .headway_rules_rules()
                .call_assess(&mut store, &from_v0_1_0::batch(batch))
                .map(|a| Answer::V0_2_0(from_v0_1_0::answer(a))),
            Self::V0_2_0(pre) => pre
                .instantiate(&mut store)?
                .headway_rules_rules()
                .call_assess(&mut store, &from_v0_2_0::batch(batch))
                .map(Answer::V0_2_0),
            Self::V0_3_0(pre) => pre
                .instantiate(&mut store)?
                .headway_rules_rules()
                .call_assess(&mut store, batch)
                .map(Answer::V0_3_0),
        }
    }
}

/// The latest host functions for a plugin of an older version: the same two,
/// with the log level converted.
macro_rules! host_of_older_version {
    ($old:ident) => {
        impl $old::headway::rules::host::Host for StoreState {
            fn log(&mut self, level: $old::headway::rules::host::LogLevel, message: String) {
                use v0_3_0::headway::rules::host::{Host, LogLevel};
                use $old::headway::rules::host::LogLevel as Old;
                let level = match level {
                    Old::Trace => LogLevel::Trace,
                    Old::Debug => LogLevel::Debug,
                    Old::Info => LogLevel::Info,
                    Old::Warn => LogLevel::Warn,
                    Old::Error => LogLevel::Error,
                };
                Host::log(self, level, message);
            }

            fn config(&mut self, key: String) -> Option<String> {
                v0_3_0::headway::rules::host::Host::config(self, key)
            }
        }

        impl $old::headway::rules::types::Host for StoreState {}
    };
}

host_of_older_version!(v0_1_0);
host_of_older_version!(v0_2_0);
impl v0_3_0::headway::rules::types::Host for StoreState {}

/// Converts the latest batch down to `old`'s types (`batch`) and `old`'s
/// plugin-info up (`plugin_info`, with `reads` from `$reads`): the batch's
/// columns are the same in every version so far, only copied.
macro_rules! adapt_batch_and_info {
    ($reads:expr) => {
        fn text(c: &new::TextColumn) -> old::TextColumn {
            old::TextColumn {
                data: c.data.clone(),
                ends: c.ends.clone(),
            }
        }

        pub fn batch(b: &new::AccountBatch) -> old::AccountBatch {
            old::AccountBatch {
                ids: text(&b.ids),
                names: text(&b.names),
                segments: text(&b.segments),
                plans: text(&b.plans),
                stages: b
                    .stages
                    .iter()
                    .map(|s| match s {
                        new::LifecycleStage::Trial => old::LifecycleStage::Trial,
                        new::LifecycleStage::Onboarding => old::LifecycleStage::Onboarding,
                        new::LifecycleStage::Active => old::LifecycleStage::Active,
                        new::LifecycleStage::Renewing => old::LifecycleStage::Renewing,
                        new::LifecycleStage::Churned => old::LifecycleStage::Churned,
                    })
                    .collect(),
                arr: b.arr.clone(),
                start_dates: b.start_dates.clone(),
                renewal_dates: b.renewal_dates.clone(),
                as_of: b.as_of.clone(),
                measures: b
                    .measures
                    .iter()
                    .map(|m| old::MeasureColumn {
                        name: m.name.clone(),
                        values: m.values.clone(),
                    })
                    .collect(),
                history: b
                    .history
                    .iter()
                    .map(|s| old::SeriesColumn {
                        name: s.name.clone(),
                        ends: s.ends.clone(),
                        days: s.days.clone(),
                        values: s.values.clone(),
                    })
                    .collect(),
                outcomes: b
                    .outcomes
                    .iter()
                    .map(|o| old::OutcomeColumn {
                        name: o.name.clone(),
                        higher_is_better: o.higher_is_better,
                        values: o.values.clone(),
                        targets: o.targets.clone(),
                    })
                    .collect(),
                attributes: b
                    .attributes
                    .iter()
                    .map(|a| old::AttributeColumn {
                        key: a.key.clone(),
                        values: text(&a.values),
                    })
                    .collect(),
                milestones_reached: b
                    .milestones_reached
                    .iter()
                    .map(|r| old::ReachedColumn {
                        milestone: r.milestone.clone(),
                        on: r.on.clone(),
                    })
                    .collect(),
            }
        }

        pub fn plugin_info(i: old::PluginInfo) -> new::PluginInfo {
            #[allow(clippy::redundant_closure_call)]
            let reads = ($reads)(&i);
            new::PluginInfo {
                name: i.name,
                version: i.version,
                bands: i
                    .bands
                    .into_iter()
                    .map(|b| new::BandInfo {
                        name: b.name,
                        min_score: b.min_score,
                    })
                    .collect(),
                factors: i
                    .factors
                    .into_iter()
                    .map(|f| new::FactorInfo {
                        id: f.id,
                        label: f.label,
                        weight: f.weight,
                    })
                    .collect(),
                milestones: i
                    .milestones
                    .into_iter()
                    .map(|m| new::MilestoneInfo {
                        id: m.id,
                        name: m.name,
                        description: m.description,
                        upsell: m.upsell.map(|u| new::Upsell {
                            offer: u.offer,
                            arr: u.arr,
                            take_rate: u.take_rate,
                        }),
                    })
                    .collect(),
                reads,
            }
        }
    };
}

/// Between 0.2.0 and the latest: the batch goes down (copied), the description
/// comes up; the answer stays a 0.2.0 one, which the host checks as it is
/// (`convert::assessments_v0_2_0`).
mod from_v0_2_0 {
    use super::latest as new;
    use super::v0_2_0::headway::rules::types as old;

    adapt_batch_and_info!(|i: &old::PluginInfo| i.reads.clone());
}

/// Between 0.1.0 and the latest: the batch goes down, the description comes up
/// with `reads` none (0.1.0 plugins get every column), and the answer goes to
/// 0.2.0's types. The copy costs what building the batch costs again; only
/// plugins that have not been rebuilt pay it.
mod from_v0_1_0 {
    use super::latest as new;
    use super::v0_1_0::headway::rules::types as old;
    use super::v0_2_0::headway::rules::types as v0_2_0;

    adapt_batch_and_info!(|_: &old::PluginInfo| None);

    pub fn answer(a: old::AssessmentBatch) -> v0_2_0::AssessmentBatch {
        use v0_2_0 as new;
        new::AssessmentBatch {
            scores: a.scores,
            bands: a.bands,
            factors: a
                .factors
                .into_iter()
                .map(|f| new::FactorColumn {
                    values: f.values,
                    weights: f.weights,
                    contributions: f.contributions,
                    reasons: new::TextColumn {
                        data: f.reasons.data,
                        ends: f.reasons.ends,
                    },
                })
                .collect(),
            milestones: a
                .milestones
                .into_iter()
                .map(|m| new::MilestoneColumn {
                    progress: m.progress,
                    reached_on: m.reached_on,
                    predicted_on: m.predicted_on,
                    likelihood: m.likelihood,
                })
                .collect(),
            fit: a
                .fit
                .into_iter()
                .map(|f| {
                    f.map(|f| match f {
                        old::Fit::Ideal => new::Fit::Ideal,
                        old::Fit::Stretch => new::Fit::Stretch,
                        old::Fit::BadFit => new::Fit::BadFit,
                    })
                })
                .collect(),
            errors: a
                .errors
                .into_iter()
                .map(|e| new::AccountError {
                    index: e.index,
                    code: e.code,
                    message: e.message,
                })
                .collect(),
        }
    }
}
