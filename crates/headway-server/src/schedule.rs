//! Scheduled runs: `[schedule]` in a tenant.toml names a nightly export and a
//! time of day (UTC); once a day after that time the server scores the export
//! and records it, as `POST .../runs` would. The outcome shows in the tenant's
//! status; a restart does not run a day twice (the store's run log says what
//! ran today).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use headway_core::{Date, InputDefaults};
use headway_pipeline::InputFormat;

use crate::api::App;
use crate::history;
use crate::registry::{Loaded, ScheduledRun, Tenant};
use headway_store::SharedStore;

/// Whether a schedule at `at` (minute of the day) is due at `now` (day and
/// minute, UTC), given the last day it ran for.
pub(crate) fn due(at: u32, now: (Date, u32), last_run: Option<Date>) -> bool {
    now.1 >= at && last_run.is_none_or(|day| day < now.0)
}

/// Today (UTC) and the minute of the day.
fn now() -> (Date, u32) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = Date::from_days((secs / 86_400) as i32);
    (day, (secs % 86_400 / 60) as u32)
}

/// Checks every tenant's schedule every `tick` until `stop` changes.
pub(crate) async fn run(
    app: Arc<App>,
    history: Arc<SharedStore>,
    tick: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // The day each tenant last ran for; asked of the store once per tenant (a
    // restart after today's run must not run it again), then kept here.
    let mut last_run: BTreeMap<String, Option<Date>> = BTreeMap::new();
    loop {
        for (id, tenant) in app.registry.tenants().iter() {
            let Some(loaded) = tenant.current() else {
                continue;
            };
            let Some(schedule) = loaded.config.schedule.clone() else {
                continue;
            };
            let at = schedule
                .minute_of_day()
                .expect("checked when the config loaded");
            let today = now();
            let last = match last_run.get(id.as_str()) {
                Some(day) => *day,
                None => {
                    let ran = ran_today(&history, id, &schedule.source, today.0).await;
                    last_run.insert(id.clone(), ran);
                    ran
                }
            };
            if !due(at, today, last) {
                continue;
            }
            last_run.insert(id.clone(), Some(today.0));
            let outcome = record_export(&history, tenant, loaded, &schedule.source).await;
            let run = match outcome {
                Ok(run_id) => ScheduledRun {
                    day: today.0,
                    run_id: Some(run_id),
                    error: None,
                },
                Err(error) => {
                    tracing::warn!(tenant = %id, "scheduled run failed: {error}");
                    ScheduledRun {
                        day: today.0,
                        run_id: None,
                        error: Some(app.registry.redact(&error)),
                    }
                }
            };
            tenant.scheduled(run);
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => break,
        }
    }
}

/// `today` when the store already holds a run of `source` started today (a
/// restart after the day's run).
async fn ran_today(
    history: &Arc<SharedStore>,
    tenant: &str,
    source: &std::path::Path,
    today: Date,
) -> Option<Date> {
    let (history, tenant) = (Arc::clone(history), tenant.to_owned());
    let source = source.display().to_string();
    let today_text = today.to_string();
    tokio::task::spawn_blocking(move || {
        let runs = history.reader().ok()?.runs(&tenant, None, 50).ok()?;
        runs.iter()
            .any(|r| r.source == source && r.started_at.starts_with(&today_text))
            .then_some(today)
    })
    .await
    .ok()
    .flatten()
}

/// Scores and records the export; the run's id, or why nothing was recorded.
async fn record_export(
    history: &Arc<SharedStore>,
    tenant: &Arc<Tenant>,
    loaded: Arc<Loaded>,
    path: &std::path::Path,
) -> Result<i64, String> {
    let format = InputFormat::of_path(path).ok_or_else(|| {
        format!(
            "schedule source `{}`: name it .jsonl, .ndjson or .csv",
            path.display()
        )
    })?;
    let (history, tenant, path) = (Arc::clone(history), Arc::clone(tenant), path.to_owned());
    tokio::task::spawn_blocking(move || {
        let name = path.display().to_string();
        // A regular file only: a pipe would hold the scheduler until a writer came.
        let file = headway_host::open_regular(&path, u64::MAX)
            .map_err(|e| format!("cannot read schedule source `{name}`: {e}"))?;
        let input = history::Input {
            name: &name,
            reader: file,
            format,
            defaults: InputDefaults::default(),
            caller: "schedule".to_owned(),
        };
        let (log, fuel) = history::record(&history, &tenant, &loaded, input)
            .map_err(|e| e.message().to_owned())?;
        history::count_run(&tenant, &log, fuel);
        Ok(log.id)
    })
    .await
    .map_err(|e| format!("scheduled run failed: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_once_a_day_after_its_time() {
        let day = |d: &str| -> Date { d.parse().unwrap() };
        let at = 2 * 60 + 30; // 02:30
        assert!(!due(at, (day("2026-12-02"), 149), None), "02:29: not yet");
        assert!(due(at, (day("2026-12-02"), 150), None), "02:30");
        assert!(
            due(at, (day("2026-12-02"), 23 * 60), None),
            "missed earlier: catch up"
        );
        assert!(
            !due(at, (day("2026-12-02"), 151), Some(day("2026-12-02"))),
            "once a day"
        );
        assert!(
            due(at, (day("2026-12-03"), 150), Some(day("2026-12-02"))),
            "the next day"
        );
        assert!(
            !due(at, (day("2026-12-03"), 10), Some(day("2026-12-02"))),
            "before its time"
        );
    }
}
