//! Delivers the alert outbox (see `headway_store::SnapshotStore::claim_alerts`)
//! to each tenant's `[webhook]`.
//!
//! Every alert is POSTed with an `Idempotency-Key` that is the same on every
//! try, from every server: a hash of tenant, rule, account and day. Delivery is
//! at least once on the wire (a server that dies after the receiver answered and
//! before it recorded the answer sends again), and exactly once for a receiver
//! that keeps the keys it has seen. The body is signed: `Headway-Signature:
//! v1=<hex HMAC-SHA256 over "<Headway-Timestamp>.<body>">` with the tenant's
//! secret. A failed try waits `backoff_ms`, doubled per try up to
//! `max_backoff_ms`; after `max_attempts` the alert is a dead letter, kept and
//! listed, no longer tried.

use std::sync::Arc;
use std::time::Duration;

use headway_config::{Webhook, WebhookFormat};
use headway_store::{AlertKey, Attempt, SharedStore, StoreError, StoredAlert};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Alerts claimed at once: they are sent one after another, so their lease
/// covers this many timeouts.
const CLAIM: usize = 10;

/// Claims per tenant per pass, so one busy tenant does not hold up the rest.
const CLAIMS_PER_PASS: usize = 50;

/// One tenant whose alerts go to a webhook.
#[derive(Debug, Clone)]
pub struct Target {
    /// The tenant.
    pub tenant: String,
    /// Where and how.
    pub webhook: Webhook,
}

/// What one pass did, per tenant summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Alerts the receivers took.
    pub delivered: usize,
    /// Tries that failed and will be tried again.
    pub failed: usize,
    /// Alerts given up on.
    pub dead: usize,
}

/// The key a receiver deduplicates on: the same for one tenant, rule, account
/// and day however often it is sent.
pub fn idempotency_key(tenant: &str, key: &AlertKey) -> String {
    let mut hash = Sha256::new();
    for part in [tenant, &key.rule, &key.account_id, &key.as_of.to_string()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("hw_{}", &hex::encode(hash.finalize())[..32])
}

/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: what a receiver
/// recomputes to know the body is the tenant's and was not replayed later.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The body the receiver gets: Headway's alert JSON, or a Slack message.
pub fn body(tenant: &str, alert: &StoredAlert, hook: &Webhook) -> Vec<u8> {
    let account = format!(
        "{}/v1/tenants/{tenant}/accounts/{}",
        hook.links_base, alert.account_id
    );
    let value = match hook.format {
        WebhookFormat::Json => json!({
            "id": idempotency_key(tenant, &alert.key()),
            "tenant": tenant,
            "rule": alert.rule,
            "kind": alert.kind,
            "account_id": alert.account_id,
            "as_of": alert.as_of,
            "summary": alert.summary,
            "digest": alert.digest,
            "detail": alert.detail,
            "links": {
                "account": account,
                "history": format!("{account}/history"),
                "alerts": format!("{}/v1/tenants/{tenant}/alerts", hook.links_base),
            },
        }),
        WebhookFormat::Slack => {
            let mut text = format!(
                "*{}* {} on {}: {}",
                alert.rule, alert.account_id, alert.as_of, alert.summary
            );
            for moved in alert.detail.iter().flat_map(|d| &d.moved) {
                text.push_str("\n- ");
                text.push_str(&moved.summary);
            }
            json!({ "text": text })
        }
    };
    serde_json::to_vec(&value).expect("JSON values serialize")
}

/// The wait after the `tries`-th failed try: `backoff_ms` doubled per earlier
/// try, at most `max_backoff_ms`.
pub fn backoff(tries: u32, hook: &Webhook) -> Duration {
    let doublings = tries.saturating_sub(1).min(40);
    let ms = hook.backoff_ms.saturating_mul(1 << doublings);
    Duration::from_millis(ms.min(hook.max_backoff_ms))
}

/// What a try that ended with `result` means for an alert tried `tries_before`
/// times: delivered, a retry at `now_ms` plus the backoff, or a dead letter.
pub fn settle(
    result: Result<(), String>,
    tries_before: u32,
    now_ms: i64,
    hook: &Webhook,
) -> Attempt {
    let tries = tries_before + 1;
    match result {
        Ok(()) => Attempt::Delivered { at: now_rfc3339() },
        Err(error) if tries >= hook.max_attempts => Attempt::GaveUp {
            error: format!("{error} (try {tries} of {}: given up)", hook.max_attempts),
        },
        Err(error) => Attempt::Failed {
            retry_at_ms: now_ms.saturating_add(backoff(tries, hook).as_millis() as i64),
            error: format!("{error} (try {tries} of {})", hook.max_attempts),
        },
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| String::new(), |t| t.to_string())
}

/// Sends what is due from one store.
pub struct Deliverer {
    store: Arc<SharedStore>,
    client: reqwest::Client,
    secrets: SecretLookup,
}

/// Where a webhook's secret is read from, by the variable's name.
type SecretLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The outbox could not be read or written.
    #[error("alert outbox: {0}")]
    Store(#[from] StoreError),
    /// A tenant's secret is not in the environment.
    #[error(
        "tenant {tenant}: webhook.secret_env `{var}` is not set; its alerts wait in the outbox"
    )]
    NoSecret {
        /// The tenant.
        tenant: String,
        /// The variable.
        var: String,
    },
}

impl Deliverer {
    /// A deliverer for `store`'s outbox.
    pub fn new(store: Arc<SharedStore>) -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("headway/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with default TLS builds");
        Self {
            store,
            client,
            secrets: Box::new(|var| std::env::var(var).ok()),
        }
    }

    /// Reads secrets from `lookup` instead of the environment.
    pub fn with_secrets(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.secrets = Box::new(lookup);
        self
    }

    /// Claims, sends and settles what is due for one tenant, until nothing is
    /// (or [`CLAIMS_PER_PASS`] claims). Alerts claimed stay held for as long as
    /// sending all of them may take plus a margin, so another server never
    /// sends them at the same time.
    pub async fn pass(&self, target: &Target) -> Result<Pass, DeliveryError> {
        let hook = &target.webhook;
        let secret = (self.secrets)(&hook.secret_env)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| DeliveryError::NoSecret {
                tenant: target.tenant.clone(),
                var: hook.secret_env.clone(),
            })?;
        let lease_ms = hook
            .timeout_ms
            .saturating_mul(CLAIM as u64)
            .saturating_add(5_000) as i64;
        let mut pass = Pass::default();
        for _ in 0..CLAIMS_PER_PASS {
            let claimed = self
                .blocking(&target.tenant, move |store, tenant| {
                    store.claim_alerts(tenant, now_ms(), lease_ms, CLAIM)
                })
                .await?;
            if claimed.is_empty() {
                break;
            }
            self.send_all(target, claimed, secret.as_bytes(), &mut pass)
                .await?;
        }
        Ok(pass)
    }

    /// Sends claimed alerts one by one, settling each.
    async fn send_all(
        &self,
        target: &Target,
        claimed: Vec<StoredAlert>,
        secret: &[u8],
        pass: &mut Pass,
    ) -> Result<(), DeliveryError> {
        let hook = &target.webhook;
        for alert in claimed {
            let result = self.send(&target.tenant, &alert, hook, secret).await;
            if let Err(e) = &result {
                tracing::warn!(tenant = %target.tenant, rule = %alert.rule, account = %alert.account_id, "alert not delivered: {e}");
            }
            let attempt = settle(result, alert.attempts, now_ms(), hook);
            match attempt {
                Attempt::Delivered { .. } => pass.delivered += 1,
                Attempt::Failed { .. } => pass.failed += 1,
                Attempt::GaveUp { .. } => pass.dead += 1,
            }
            let key = alert.key();
            self.blocking(&target.tenant, move |store, tenant| {
                store.settle_alert(tenant, &key, &attempt)
            })
            .await?;
        }
        Ok(())
    }

    async fn send(
        &self,
        tenant: &str,
        alert: &StoredAlert,
        hook: &Webhook,
        secret: &[u8],
    ) -> Result<(), String> {
        let body = body(tenant, alert, hook);
        let timestamp = jiff::Timestamp::now().as_second();
        let response = self
            .client
            .post(&hook.url)
            .timeout(Duration::from_millis(hook.timeout_ms))
            .header("content-type", "application/json")
            .header("idempotency-key", idempotency_key(tenant, &alert.key()))
            .header("headway-timestamp", timestamp.to_string())
            .header("headway-signature", signature(secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{} answered HTTP {}", hook.url, status.as_u16()))
        }
    }

    /// Runs `work` on the store's writer off the async threads (the drivers
    /// block).
    async fn blocking<T: Send + 'static>(
        &self,
        tenant: &str,
        work: impl FnOnce(&mut dyn headway_store::SnapshotStore, &str) -> Result<T, StoreError>
        + Send
        + 'static,
    ) -> Result<T, StoreError> {
        let store = Arc::clone(&self.store);
        let tenant = tenant.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut writer = store.writer()?;
            work(&mut *writer, &tenant)
        })
        .await
        .expect("outbox work does not panic")
    }
}

/// reqwest's error with its causes (`error sending request: connection refused`).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut below = std::error::Error::source(e);
    while let Some(cause) = below {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        below = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> Webhook {
        Webhook {
            url: "http://127.0.0.1:9/".into(),
            secret_env: "S".into(),
            format: WebhookFormat::Json,
            max_attempts: 4,
            backoff_ms: 1_000,
            max_backoff_ms: 3_000,
            timeout_ms: 100,
            links_base: String::new(),
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Python: hmac.new(b'whsec_test', b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature(b"whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn the_key_depends_on_tenant_rule_account_and_day_only() {
        let key = |rule: &str, day: &str| AlertKey {
            rule: rule.into(),
            account_id: "a-1".into(),
            as_of: day.parse().unwrap(),
        };
        // Python: sha256(b'acme\0turned-red\0a-1\02026-10-01\0').hexdigest()[:32]
        assert_eq!(
            idempotency_key("acme", &key("turned-red", "2026-10-01")),
            "hw_6655481e7b80da9bbef3fdf2020d4513"
        );
        let other = idempotency_key("acme", &key("turned-red", "2026-10-02"));
        assert_ne!(
            other,
            idempotency_key("acme", &key("turned-red", "2026-10-01"))
        );
        assert_ne!(
            idempotency_key("beta", &key("turned-red", "2026-10-01")),
            idempotency_key("acme", &key("turned-red", "2026-10-01"))
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_the_last_try_is_a_dead_letter() {
        let h = hook();
        let waits: Vec<u128> = (1..=4).map(|t| backoff(t, &h).as_millis()).collect();
        assert_eq!(waits, [1_000, 2_000, 3_000, 3_000]);
        assert_eq!(backoff(u32::MAX, &h).as_millis(), 3_000, "no overflow");
        assert_eq!(
            settle(Err("refused".into()), 0, 10_000, &h),
            Attempt::Failed {
                error: "refused (try 1 of 4)".into(),
                retry_at_ms: 11_000
            }
        );
        assert_eq!(
            settle(Err("refused".into()), 2, 10_000, &h),
            Attempt::Failed {
                error: "refused (try 3 of 4)".into(),
                retry_at_ms: 13_000
            }
        );
        assert_eq!(
            settle(Err("HTTP 500".into()), 3, 10_000, &h),
            Attempt::GaveUp {
                error: "HTTP 500 (try 4 of 4: given up)".into()
            }
        );
        assert!(matches!(
            settle(Ok(()), 3, 0, &h),
            Attempt::Delivered { .. }
        ));
    }
}
