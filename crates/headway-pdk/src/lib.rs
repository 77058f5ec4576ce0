//! # Headway plugin kit
//!
//! Write a tenant's health-score and milestone rules in plain Rust; build them for
//! `wasm32-wasip2`; Headway runs them in a sandbox.
//!
//! ```ignore
//! use headway_pdk::{Account, PluginInfo, RuleError, Rules, Scorecard, num};
//!
//! struct MyRules;
//!
//! impl Rules for MyRules {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("my-rules", env!("CARGO_PKG_VERSION"))
//!             .band("red", 0.0)
//!             .band("green", 60.0)
//!             .factor("usage", "Weekly usage", 1.0)
//!     }
//!
//!     fn assess(account: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
//!         let wau = account.require("weekly-active-users")?;
//!         card.factor("usage", wau, (wau / 50.0).min(1.0), (num::fixed(wau, 0), " weekly users"));
//!         Ok(())
//!     }
//! }
//!
//! headway_pdk::export_rules!(MyRules);
//! ```
//!
//! The host sends accounts in columnar batches (see `wit/`); this kit turns them into
//! one [`Account`] view per row and collects what [`Rules::assess`] writes into a
//! [`Scorecard`] back into columns. The host derives the score (the weighted sum
//! of the factor scores) and the band (from the thresholds declared in
//! [`PluginInfo`]).
//!
//! A plugin has no clock, filesystem, network or randomness: "today" is
//! [`Account::as_of`]. Use `BTreeMap` rather than `HashMap` (whose random seed would
//! need an import the host refuses). [`log`] writes to the host's log and
//! [`config`] reads the tenant's settings. Reasons are written for every account:
//! write them as a tuple of pieces with numbers from [`num`] (`("used by ",
//! num::percent(x, 0))`): the numbers go to the host as numbers and the host
//! writes them in, which is many times cheaper than `format!("used by {:.0}%", x
//! * 100.0)` in the sandbox (see [`Reason`]).

extern crate self as headway_pdk;

mod account;
mod batch;
mod info;
mod names;
pub mod num;
mod scorecard;

pub use account::{Account, Outcome, Stage};
pub use info::{Milestone, PluginInfo};
pub use scorecard::{Fit, MilestoneMark, Reason, ReasonText, RuleError, Scorecard};

/// A calendar day: days since 1970-01-01. Subtract two to get a duration in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

impl Day {
    /// Whole days from `earlier` to `self`.
    pub fn days_since(self, earlier: Day) -> i32 {
        self.0 - earlier.0
    }

    /// The day `days` later (earlier when negative).
    pub fn add_days(self, days: i32) -> Day {
        Day(self.0 + days)
    }
}

/// Where `x` sits between `low` (0) and `high` (1), clamped to 0-1: the usual way to
/// turn a raw value into a factor score. With `low > high` the scale is reversed.
/// NaN gives 0.
#[inline]
pub fn ramp(x: f64, low: f64, high: f64) -> f64 {
    let t = (x - low) / (high - low);
    if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) }
}

/// A tenant's rules: what every plugin implements.
pub trait Rules {
    /// The plugin's name, version, bands, factors and milestones. Called once per
    /// batch; keep it cheap and constant.
    fn describe() -> PluginInfo;

    /// Assess one account: set each factor and milestone on `card`. Returning an
    /// error marks just this account as failed; the rest of the batch is kept.
    fn assess(account: &Account<'_>, card: &mut Scorecard<'_>) -> Result<(), RuleError>;
}

/// Severity of a [`log`] line.
pub use bindings::headway::rules::host::LogLevel;

/// Writes a line to the host's log, attributed to the tenant and plugin.
pub fn log(level: LogLevel, message: &str) {
    bindings::headway::rules::host::log(level, message);
}

/// Reads one of the tenant's configuration values (`[config]` in `tenant.toml`).
pub fn config(key: &str) -> Option<String> {
    bindings::headway::rules::host::config(key)
}

/// Runs a batch through `R` natively, without wasm: what the export glue calls, and
/// what benchmarks use to compare the same rule inside and outside the sandbox.
pub fn assess_batch<R: Rules>(batch: &wit::AccountBatch) -> wit::AssessmentBatch {
    batch::assess::<R>(batch)
}

/// The contract's generated types, for hosts and benchmarks that build batches.
pub mod wit {
    pub use crate::bindings::headway::rules::types::*;
}

#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.3.0",
        world: "health-rules",
        pub_export_macro: true,
        export_macro_name: "__export_health_rules",
        default_bindings_module: "::headway_pdk::bindings",
        runtime_path: "::headway_pdk::__private::wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    pub use crate::bindings::exports::headway::rules::rules::Guest;
    use crate::wit;

    /// Sends panic messages to the host log before the instance aborts, so the
    /// host can report them instead of a bare `unreachable` trap.
    fn install_panic_hook() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            std::panic::set_hook(Box::new(|info| {
                crate::log(crate::LogLevel::Error, &format!("panicked at {info}"));
            }));
        });
    }

    pub fn describe<R: crate::Rules>() -> wit::PluginInfo {
        install_panic_hook();
        R::describe().into_wit()
    }

    pub fn assess<R: crate::Rules>(batch: wit::AccountBatch) -> wit::AssessmentBatch {
        install_panic_hook();
        crate::assess_batch::<R>(&batch)
    }
}

/// Exports a [`Rules`] implementation as the plugin's entry points.
#[macro_export]
macro_rules! export_rules {
    ($rules:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct HeadwayExport;
            impl $crate::__private::Guest for HeadwayExport {
                fn describe() -> $crate::wit::PluginInfo {
                    $crate::__private::describe::<$rules>()
                }
                fn assess(batch: $crate::wit::AccountBatch) -> $crate::wit::AssessmentBatch {
                    $crate::__private::assess::<$rules>(batch)
                }
            }
    $crate::bindings::__export_health_rules!(HeadwayExport with_types_in $crate::bindings);
        };
    };
}
