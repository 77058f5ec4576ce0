//! Per-tenant and server-wide counters (`prometheus-client` types) and their
//! Prometheus text rendering (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::prometheus_text;
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;

use crate::registry::{Registry, Tenant};

/// Upper bounds (seconds) of the request latency histogram.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The outcome classes a request is counted under.
pub const OUTCOMES: [&str; 8] = [
    "ok",
    "bad-request",
    "payload-too-large",
    "too-many-accounts",
    "request-timeout",
    "too-many-requests",
    "unavailable",
    "internal",
];

/// Counters of one tenant. They are atomics: a scrape may see one request's
/// counters half updated, never a torn value.
pub struct TenantMetrics {
    requests: [Counter; OUTCOMES.len()],
    latency: Histogram,
    /// Accounts assessed.
    pub assessments: Counter,
    /// Accounts that failed (input, rule or sandbox errors).
    pub failures: Counter,
    /// Instructions the plugin used.
    pub fuel: Counter,
    /// Reload attempts.
    pub reloads: Counter,
    /// Reloads refused.
    pub reload_failures: Counter,
    /// Alerts recorded runs filed (each once).
    pub alerts: Counter,
    /// Alerts a webhook took.
    pub alerts_delivered: Counter,
    /// Webhook tries that failed and will be tried again.
    pub alert_tries_failed: Counter,
    /// Alerts given up on (dead letters).
    pub alerts_dead: Counter,
    /// Scorings whose decision could not be logged (`on_log_failure = "count"`).
    pub decision_log_failures: Counter,
}

impl Default for TenantMetrics {
    fn default() -> Self {
        Self {
            requests: Default::default(),
            latency: Histogram::new(BUCKETS),
            assessments: Counter::default(),
            failures: Counter::default(),
            fuel: Counter::default(),
            reloads: Counter::default(),
            reload_failures: Counter::default(),
            alerts: Counter::default(),
            alerts_delivered: Counter::default(),
            alert_tries_failed: Counter::default(),
            alerts_dead: Counter::default(),
            decision_log_failures: Counter::default(),
        }
    }
}

impl TenantMetrics {
    /// Counts one scoring request with its outcome (one of [`OUTCOMES`]) and time.
    pub fn request(&self, outcome: &str, elapsed: Duration) {
        let i = OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(OUTCOMES.len() - 1);
        self.requests[i].inc();
        self.latency.observe(elapsed.as_secs_f64());
    }

    /// Scoring requests, all outcomes.
    pub fn requests(&self) -> u64 {
        self.requests.iter().map(Counter::get).sum()
    }
}

/// Statuses the server answers with, counted one by one; anything else is
/// counted as `other`.
const STATUSES: [u16; 17] = [
    200, 201, 400, 401, 403, 404, 405, 408, 409, 413, 414, 415, 422, 429, 431, 500, 503,
];

/// Connection-level failures, where no request reached the router: hyper
/// answered (431 for a head over its buffer) or closed the connection.
pub const CONNECTION_ERRORS: [&str; 4] =
    ["header-timeout", "headers-too-large", "malformed", "other"];

/// Counters of the server itself: every HTTP answer by status, whichever route
/// (or none) it came from, and connections that failed before a request.
#[derive(Default, Debug)]
pub struct HttpMetrics {
    responses: [Counter; STATUSES.len() + 1],
    connection_errors: [Counter; CONNECTION_ERRORS.len()],
}

impl HttpMetrics {
    /// Counts one answer.
    pub fn response(&self, status: u16) {
        let i = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len());
        self.responses[i].inc();
    }

    /// Counts one failed connection, `kind` one of [`CONNECTION_ERRORS`].
    pub fn connection_error(&self, kind: &str) {
        let i = CONNECTION_ERRORS
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(CONNECTION_ERRORS.len() - 1);
        self.connection_errors[i].inc();
    }
}

/// What one scrape reads: the server's counters and the tenants loaded at that
/// moment (a tenant removed since is gone from the next scrape).
struct Scrape {
    http: Arc<HttpMetrics>,
    tenants: Arc<BTreeMap<String, Arc<Tenant>>>,
}

/// A per-tenant counter: its name, help and where it is kept.
type TenantCounter = (&'static str, &'static str, fn(&TenantMetrics) -> &Counter);

const TENANT_COUNTERS: [TenantCounter; 10] = [
    ("headway_assessments", "Accounts assessed", |m| {
        &m.assessments
    }),
    (
        "headway_assessment_failures",
        "Accounts that could not be assessed",
        |m| &m.failures,
    ),
    ("headway_fuel_consumed", "Instructions plugins used", |m| {
        &m.fuel
    }),
    (
        "headway_reloads",
        "Reload attempts (loaded, failed, rolled back)",
        |m| &m.reloads,
    ),
    (
        "headway_reload_failures",
        "Reloads refused; the last good version kept serving",
        |m| &m.reload_failures,
    ),
    (
        "headway_alerts_filed",
        "Alerts recorded runs filed, once per rule, account and day",
        |m| &m.alerts,
    ),
    (
        "headway_alerts_delivered",
        "Alerts a webhook took (2xx)",
        |m| &m.alerts_delivered,
    ),
    (
        "headway_alert_tries_failed",
        "Webhook tries that failed and will be tried again",
        |m| &m.alert_tries_failed,
    ),
    (
        "headway_alerts_dead",
        "Alerts given up on after their last try (dead letters)",
        |m| &m.alerts_dead,
    ),
    (
        "headway_decision_log_failures",
        "Scorings answered though their decision could not be logged",
        |m| &m.decision_log_failures,
    ),
];

impl fmt::Debug for Scrape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrape")
            .field("tenants", &self.tenants.len())
            .finish()
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let mut family = encoder.encode_descriptor(
            "headway_http_responses",
            "HTTP answers by status, every route and none",
            None,
            MetricType::Counter,
        )?;
        let statuses = STATUSES.iter().map(u16::to_string);
        for (status, c) in statuses
            .chain(["other".to_owned()])
            .zip(&self.http.responses)
        {
            c.encode(family.encode_family(&[("status", status)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "headway_connection_errors",
            "Connections that failed before a request reached the router",
            None,
            MetricType::Counter,
        )?;
        for (kind, c) in CONNECTION_ERRORS.iter().zip(&self.http.connection_errors) {
            c.encode(family.encode_family(&[("kind", *kind)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "headway_requests",
            "Scoring requests by outcome",
            None,
            MetricType::Counter,
        )?;
        for (id, t) in self.tenants.iter() {
            for (outcome, c) in OUTCOMES.iter().zip(&t.metrics.requests) {
                let labels = [("tenant", id.as_str()), ("outcome", outcome)];
                c.encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "headway_request_duration_seconds",
            "Scoring request latency",
            None,
            MetricType::Histogram,
        )?;
        for (id, t) in self.tenants.iter() {
            t.metrics
                .latency
                .encode(family.encode_family(&[("tenant", id.as_str())])?)?;
        }
        for (name, help, counter) in TENANT_COUNTERS {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (id, t) in self.tenants.iter() {
                counter(&t.metrics).encode(family.encode_family(&[("tenant", id.as_str())])?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "headway_plugin_info",
            "The build serving each tenant",
            None,
            MetricType::Gauge,
        )?;
        for (id, t) in self.tenants.iter() {
            if let Some(l) = t.current() {
                let r = l.plugin.plugin_ref();
                let labels = [
                    ("tenant", id.as_str()),
                    ("plugin", &r.name),
                    ("version", &r.version),
                    ("digest", &r.digest),
                ];
                ConstGauge::new(1).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// The server's and every tenant's counters in the Prometheus text format
/// (version 0.0.4, [`CONTENT_TYPE`]).
pub fn render(registry: &Registry, http: &Arc<HttpMetrics>) -> String {
    let mut families = prometheus_client::registry::Registry::default();
    families.register_collector(Box::new(Scrape {
        http: Arc::clone(http),
        tenants: registry.tenants(),
    }));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_text::encode(&mut out, &families);
    out
}
