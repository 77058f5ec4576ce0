//! CSM overrides as the views see them: set or cleared through one checked
//! path (the CLI's `headway override` and the server's route alike), and
//! applied on top of the plugin's results wherever a view shows a score.

use headway_core::overrides::{
    Override, OverrideChange, OverrideError, Setting, Target, apply, signed,
};
use headway_core::success::Snapshot;
use headway_core::{Date, PluginInfo};
use headway_store::{OverrideEdit, SnapshotStore, StoredBuild};
use serde::Serialize;

use crate::ViewError;

/// A CSM's request to set or clear one override of one account.
#[derive(Debug, Clone, PartialEq)]
pub struct OverrideRequest {
    /// The account.
    pub account_id: String,
    /// What it replaces.
    pub target: Target,
    /// What it sets; `None` clears the target's override.
    pub value: Option<Setting>,
    /// The first day it applies to; default: the account's latest snapshot day.
    pub from: Option<Date>,
    /// The last day it applies to (required to set one).
    pub until: Option<Date>,
    /// Who asks.
    pub author: String,
    /// Why.
    pub reason: String,
}

/// Sets or clears the override `request` names, checked against `info` (the
/// declaration of the tenant's serving build), and keeps the change in the
/// audit trail. `at` is when (RFC 3339, UTC).
pub fn change_override(
    store: &mut dyn SnapshotStore,
    tenant: &str,
    info: &PluginInfo,
    request: OverrideRequest,
    at: String,
) -> Result<OverrideChange, ViewError> {
    signed(&request.author, &request.reason)?;
    let new = match request.value {
        None => None,
        Some(value) => {
            let until = request
                .until
                .ok_or_else(|| OverrideError("an override needs an expiry day (`until`)".into()))?;
            let from = match request.from {
                Some(day) => day,
                None => latest_day(&*store, tenant, &request.account_id)?,
            };
            let set = Override {
                account_id: request.account_id.clone(),
                target: request.target.clone(),
                value,
                from,
                until,
                author: request.author.clone(),
                reason: request.reason.clone(),
            };
            set.validate(info)?;
            Some(set)
        }
    };
    let edit = OverrideEdit {
        at,
        account_id: request.account_id.clone(),
        target: request.target.clone(),
        author: request.author,
        reason: request.reason,
        new,
    };
    store
        .change_override(tenant, edit)?
        .ok_or(ViewError::NothingToClear {
            account: request.account_id,
            target: request.target,
        })
}

/// The day of the account's latest snapshot (any build).
fn latest_day(store: &dyn SnapshotStore, tenant: &str, account: &str) -> Result<Date, ViewError> {
    store
        .account_history(tenant, account)?
        .iter()
        .map(|s| s.as_of)
        .max()
        .ok_or_else(|| ViewError::NoAccount {
            tenant: tenant.to_owned(),
            account: account.to_owned(),
        })
}

/// One account's overrides and every change to them.
#[derive(Debug, Clone, Serialize)]
pub struct OverridesView {
    /// The tenant.
    pub tenant: String,
    /// The account.
    pub account_id: String,
    /// Its overrides, by target, expired ones included (each applies only to
    /// the days it covers).
    pub overrides: Vec<Override>,
    /// Every change, oldest first: who, when, why, the override before and after.
    pub log: Vec<OverrideChange>,
}

/// `account`'s overrides and their audit trail.
pub fn overrides(
    store: &dyn SnapshotStore,
    tenant: &str,
    account: &str,
) -> Result<OverridesView, ViewError> {
    Ok(OverridesView {
        tenant: tenant.to_owned(),
        account_id: account.to_owned(),
        overrides: store.overrides(tenant, Some(account))?,
        log: store.override_log(tenant, account)?,
    })
}

/// Applies to each of `snapshots` by `build` the overrides in force on its day.
/// Snapshots of other builds are left as their plugin returned them: an
/// override is checked against the build it was set for.
pub(crate) fn overridden(snapshots: &mut [Snapshot], overrides: &[Override], build: &StoredBuild) {
    if overrides.is_empty() {
        return;
    }
    for s in snapshots
        .iter_mut()
        .filter(|s| s.plugin.digest == build.plugin.digest)
    {
        apply(s, overrides, &build.info);
    }
}

#[cfg(test)]
mod tests {
    use headway_core::{BandInfo, FactorInfo, FactorScore, PluginRef};
    use headway_store::{RunLog, SqliteStore};

    use super::*;
    use crate::{BuildChoice, current_book, pick_build};

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    /// Adoption and support weigh 0.25 each, NPS 0.5; red from 0, yellow
    /// from 50, green from 75.
    fn info() -> PluginInfo {
        let band = |name: &str, min_score| BandInfo {
            name: name.into(),
            min_score,
        };
        let factor = |id: &str, weight| FactorInfo {
            id: id.into(),
            label: id.into(),
            weight,
        };
        PluginInfo {
            name: "rules".into(),
            version: "1".into(),
            bands: vec![band("red", 0.0), band("yellow", 50.0), band("green", 75.0)],
            factors: vec![
                factor("adoption", 0.25),
                factor("support", 0.25),
                factor("nps", 0.5),
            ],
            milestones: vec![],
            reads: None,
        }
    }

    fn plugin() -> PluginRef {
        PluginRef {
            name: "rules".into(),
            version: "1".into(),
            digest: "sha256:1".into(),
        }
    }

    /// Adoption 40 (10 points), support 80 (20), NPS 50 (25): 55, yellow.
    fn snap(account: &str, day: &str) -> Snapshot {
        let factor = |name: &str, contribution| FactorScore {
            name: name.into(),
            value: 1.0,
            weight: if name == "nps" { 0.5 } else { 0.25 },
            contribution,
            reason: format!("{name} as measured"),
        };
        Snapshot {
            tenant: "t".into(),
            account_id: account.into(),
            as_of: d(day),
            arr: 1000.0,
            segment: String::new(),
            renewal_date: None,
            score: 55.0,
            band: "yellow".into(),
            factors: vec![
                factor("adoption", 10.0),
                factor("support", 20.0),
                factor("nps", 25.0),
            ],
            milestones: vec![],
            plugin: plugin(),
            overrides: vec![],
        }
    }

    const DAYS: [&str; 3] = ["2026-11-01", "2026-11-08", "2026-11-15"];

    /// Acme and beta scored 55 on each of `DAYS`.
    fn store(dir: &tempfile::TempDir) -> (SqliteStore, StoredBuild) {
        let mut store = SqliteStore::open(&dir.path().join("h.db")).unwrap();
        for day in DAYS {
            let snaps = [snap("acme", day), snap("beta", day)];
            let log = RunLog::new("t", &plugin(), "test", format!("{day}T00:00:00Z"));
            store.record(&info(), &plugin(), &snaps, log).unwrap();
        }
        let build = pick_build(&store, "t", BuildChoice::Latest).unwrap();
        (store, build)
    }

    fn adoption(score: f64, from: Option<&str>, until: Option<&str>) -> OverrideRequest {
        OverrideRequest {
            account_id: "acme".into(),
            target: "factor:adoption".parse().unwrap(),
            value: Some(Setting::Score(score)),
            from: from.map(d),
            until: until.map(d),
            author: "dana".into(),
            reason: "rollout blocked by their IT".into(),
        }
    }

    fn scores(view: &crate::AccountView) -> Vec<f64> {
        view.by_build().map(|s| s.score).collect()
    }

    #[test]
    fn an_override_moves_the_score_by_its_weighted_points_from_the_latest_day() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, build) = store(&dir);
        let at = "2026-11-15T09:00:00Z".to_owned();
        let change = change_override(
            &mut store,
            "t",
            &build.info,
            adoption(80.0, None, Some("2026-11-30")),
            at,
        )
        .unwrap();
        let set = change.new.unwrap();
        assert_eq!((set.from, set.until), (d("2026-11-15"), d("2026-11-30")));
        assert_eq!(change.old, None);

        // Adoption 40 -> 80 at weight 0.25: +10 points, on the latest day only.
        let view = crate::account(&store, "t", "acme", &build, 90).unwrap();
        assert_eq!(scores(&view), [55.0, 55.0, 65.0]);
        let latest = view.by_build().last().unwrap();
        assert_eq!(latest.band, "yellow");
        assert_eq!(latest.overrides.len(), 1);
        let note = "override by dana until 2026-11-30: rollout blocked by their IT";
        assert_eq!(latest.overrides[0].note, note);
        assert_eq!(latest.factors[0].reason, note);
        assert_eq!(latest.factors[0].contribution, 20.0);
        assert_eq!(view.steps.last().unwrap().change, 10.0);

        // The book reads the override too; beta is as its plugin scored it.
        let book = current_book(&store, "t", &build, 90).unwrap();
        let score = |id: &str| {
            book.iter()
                .find(|(s, _)| s.account_id == id)
                .unwrap()
                .0
                .score
        };
        assert_eq!((score("acme"), score("beta")), (65.0, 55.0));
        let acme = book.iter().find(|(s, _)| s.account_id == "acme").unwrap();
        assert!(acme.0.factors.is_empty(), "the book leaves factors out");
        assert_eq!(acme.1.magnitude, 65.0);

        // What the plugin returned is kept as it was.
        let stored = store.account_history("t", "acme").unwrap();
        assert!(
            stored
                .iter()
                .all(|s| s.score == 55.0 && s.overrides.is_empty())
        );
    }

    #[test]
    fn the_band_mix_counts_each_day_in_the_builds_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, build) = store(&dir);
        let mut red = snap("gamma", "2026-11-15");
        red.band = "red".into();
        let mut odd = snap("delta", "2026-11-15");
        odd.band = "purple".into();
        let log = RunLog::new("t", &plugin(), "test", String::new());
        store.record(&info(), &plugin(), &[red, odd], log).unwrap();
        let mix = crate::band_mix(&store, "t", &build).unwrap();
        let days: Vec<String> = mix.iter().map(|m| m.day.to_string()).collect();
        assert_eq!(days, DAYS);
        let counts = |i: usize| -> Vec<(&str, usize)> {
            mix[i]
                .counts
                .iter()
                .map(|(b, n)| (b.as_str(), *n))
                .collect()
        };
        assert_eq!(counts(0), [("red", 0), ("yellow", 2), ("green", 0)]);
        assert_eq!(
            counts(2),
            [("red", 1), ("yellow", 2), ("green", 0), ("purple", 1)]
        );
    }

    #[test]
    fn an_expired_override_stops_applying_by_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, build) = store(&dir);
        let request = adoption(0.0, Some("2026-11-02"), Some("2026-11-14"));
        change_override(
            &mut store,
            "t",
            &build.info,
            request,
            "2026-11-02T00:00:00Z".into(),
        )
        .unwrap();
        // Adoption 40 -> 0: -10 points on 11-08 alone.
        let view = crate::account(&store, "t", "acme", &build, 90).unwrap();
        assert_eq!(scores(&view), [55.0, 45.0, 55.0]);
        assert_eq!(view.by_build().nth(1).unwrap().band, "red");
        let book = current_book(&store, "t", &build, 90).unwrap();
        assert!(
            book.iter()
                .all(|(s, _)| s.score == 55.0 && s.overrides.is_empty())
        );
    }

    #[test]
    fn a_band_override_fixes_the_band_and_clearing_is_audited() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, build) = store(&dir);
        let band = OverrideRequest {
            target: Target::Band,
            value: Some(Setting::Band("red".into())),
            ..adoption(0.0, None, Some("2026-12-31"))
        };
        change_override(
            &mut store,
            "t",
            &build.info,
            band.clone(),
            "2026-11-15T01:00:00Z".into(),
        )
        .unwrap();
        let view = crate::account(&store, "t", "acme", &build, 90).unwrap();
        let latest = view.by_build().last().unwrap();
        assert_eq!((latest.score, latest.band.as_str()), (55.0, "red"));

        let clear = OverrideRequest {
            value: None,
            until: None,
            reason: "IT unblocked".into(),
            ..band
        };
        let cleared = change_override(
            &mut store,
            "t",
            &build.info,
            clear.clone(),
            "2026-11-16T00:00:00Z".into(),
        )
        .unwrap();
        assert_eq!(cleared.new, None);
        assert_eq!(cleared.old.unwrap().value, Setting::Band("red".into()));
        let again = change_override(
            &mut store,
            "t",
            &build.info,
            clear,
            "2026-11-16T00:01:00Z".into(),
        );
        assert!(
            matches!(again, Err(ViewError::NothingToClear { .. })),
            "{again:?}"
        );

        let view = overrides(&store, "t", "acme").unwrap();
        assert!(view.overrides.is_empty());
        let trail: Vec<(&str, &str, bool, bool)> = view
            .log
            .iter()
            .map(|c| {
                (
                    c.at.as_str(),
                    c.reason.as_str(),
                    c.old.is_some(),
                    c.new.is_some(),
                )
            })
            .collect();
        assert_eq!(
            trail,
            [
                (
                    "2026-11-15T01:00:00Z",
                    "rollout blocked by their IT",
                    false,
                    true
                ),
                ("2026-11-16T00:00:00Z", "IT unblocked", true, false),
            ]
        );
        let view = crate::account(&store, "t", "acme", &build, 90).unwrap();
        assert_eq!(view.by_build().last().unwrap().band, "yellow");
    }

    #[test]
    fn refused_overrides_say_why_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, build) = store(&dir);
        let at = || "2026-11-15T00:00:00Z".to_owned();
        let mut refused = |request: OverrideRequest| {
            change_override(&mut store, "t", &build.info, request, at())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refused(adoption(80.0, None, None)),
            "an override needs an expiry day (`until`)"
        );
        let unknown = OverrideRequest {
            target: "factor:usage".parse().unwrap(),
            ..adoption(80.0, None, Some("2026-11-30"))
        };
        assert!(refused(unknown).starts_with("factor `usage` is not declared by rules"));
        let anonymous = OverrideRequest {
            author: " ".into(),
            ..adoption(80.0, None, Some("2026-11-30"))
        };
        assert_eq!(refused(anonymous), "an override needs an author");
        assert_eq!(
            refused(adoption(101.0, None, Some("2026-11-30"))),
            "a factor's score is 0-100, got 101"
        );
        let nobody = OverrideRequest {
            account_id: "zeta".into(),
            ..adoption(80.0, None, Some("2026-11-30"))
        };
        assert_eq!(
            refused(nobody),
            "no snapshots of account `zeta` of tenant `t`"
        );
        assert!(store.overrides("t", None).unwrap().is_empty());
        assert!(store.override_log("t", "acme").unwrap().is_empty());
    }
}
