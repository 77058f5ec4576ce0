//! The server's alert deliverer: every tick, each tenant with a `[webhook]`
//! gets what is due in the outbox (see `headway_delivery`). Servers sharing a
//! store share the work: an alert is held by one of them at a time.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use headway_delivery::{Deliverer, DeliveryError, Target};
use headway_store::SharedStore;

use crate::registry::Registry;

/// Delivers every `tick` until `stop` changes.
pub(crate) async fn run(
    registry: Arc<Registry>,
    store: Arc<SharedStore>,
    tick: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let deliverer = Deliverer::new(store);
    // Tenants whose last pass failed the same way: said once, not every tick.
    let mut failing: BTreeSet<(String, String)> = BTreeSet::new();
    loop {
        for (id, tenant) in registry.tenants().iter() {
            let Some(webhook) = tenant.current().and_then(|l| l.config.webhook.clone()) else {
                continue;
            };
            let target = Target {
                tenant: id.clone(),
                webhook,
            };
            match deliverer.pass(&target).await {
                Ok(pass) => {
                    failing.retain(|(t, _)| t != id);
                    let m = &tenant.metrics;
                    m.alerts_delivered.inc_by(pass.delivered as u64);
                    m.alert_tries_failed.inc_by(pass.failed as u64);
                    m.alerts_dead.inc_by(pass.dead as u64);
                }
                Err(e) => {
                    let said = (id.clone(), e.to_string());
                    if failing.insert(said) {
                        match e {
                            DeliveryError::NoSecret { .. } => tracing::error!("{e}"),
                            DeliveryError::Store(_) => tracing::warn!("tenant {id}: {e}"),
                        }
                    }
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            _ = stop.changed() => return,
        }
    }
}
