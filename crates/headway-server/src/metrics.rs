//! Per-tenant and server-wide counters and their Prometheus text rendering
//! (`GET /metrics`).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::registry::Registry;

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

/// Counters of one tenant. Everything is a relaxed atomic: a scrape may see one
/// request's counters half updated, never a torn value.
#[derive(Default)]
pub struct TenantMetrics {
    requests: [AtomicU64; OUTCOMES.len()],
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_micros: AtomicU64,
    /// Accounts assessed.
    pub assessments: AtomicU64,
    /// Accounts that failed (input, rule or sandbox errors).
    pub failures: AtomicU64,
    /// Instructions the plugin used.
    pub fuel: AtomicU64,
    /// Reload attempts.
    pub reloads: AtomicU64,
    /// Reloads refused.
    pub reload_failures: AtomicU64,
}

impl TenantMetrics {
    /// Counts one scoring request with its outcome (one of [`OUTCOMES`]) and time.
    pub fn request(&self, outcome: &str, elapsed: Duration) {
        let i = OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(OUTCOMES.len() - 1);
        self.requests[i].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        if let Some(b) = BUCKETS.iter().position(|b| secs <= *b) {
            self.latency_buckets[b].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// Scoring requests, all outcomes.
    pub fn requests(&self) -> u64 {
        self.requests
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
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
#[derive(Default)]
pub struct HttpMetrics {
    responses: [AtomicU64; STATUSES.len() + 1],
    connection_errors: [AtomicU64; CONNECTION_ERRORS.len()],
}

impl HttpMetrics {
    /// Counts one answer.
    pub fn response(&self, status: u16) {
        let i = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len());
        self.responses[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one failed connection, `kind` one of [`CONNECTION_ERRORS`].
    pub fn connection_error(&self, kind: &str) {
        let i = CONNECTION_ERRORS
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(CONNECTION_ERRORS.len() - 1);
        self.connection_errors[i].fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String) {
        family(
            out,
            "headway_http_responses_total",
            "counter",
            "HTTP answers by status, every route and none.",
        );
        let statuses = STATUSES.iter().map(|s| s.to_string());
        for (status, c) in statuses.chain(["other".to_owned()]).zip(&self.responses) {
            let _ = writeln!(
                out,
                "headway_http_responses_total{{status=\"{status}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        family(
            out,
            "headway_connection_errors_total",
            "counter",
            "Connections that failed before a request reached the router.",
        );
        for (kind, c) in CONNECTION_ERRORS.iter().zip(&self.connection_errors) {
            let _ = writeln!(
                out,
                "headway_connection_errors_total{{kind=\"{kind}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Label values escaped as the text format wants.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The server's and every tenant's counters in the Prometheus text format.
pub fn render(registry: &Registry, http: &HttpMetrics) -> String {
    let tenants = registry.tenants();
    let mut out = String::new();
    http.render(&mut out);
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    family(
        &mut out,
        "headway_requests_total",
        "counter",
        "Scoring requests by outcome.",
    );
    for (id, t) in tenants.iter() {
        for (outcome, c) in OUTCOMES.iter().zip(&t.metrics.requests) {
            let _ = writeln!(
                out,
                "headway_requests_total{{tenant=\"{}\",outcome=\"{outcome}\"}} {}",
                label(id),
                load(c)
            );
        }
    }
    family(
        &mut out,
        "headway_request_duration_seconds",
        "histogram",
        "Scoring request latency.",
    );
    for (id, t) in tenants.iter() {
        let id = label(id);
        let mut cumulative = 0;
        for (bound, c) in BUCKETS.iter().zip(&t.metrics.latency_buckets) {
            cumulative += load(c);
            let _ = writeln!(
                out,
                "headway_request_duration_seconds_bucket{{tenant=\"{id}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = t.metrics.requests();
        let _ = writeln!(
            out,
            "headway_request_duration_seconds_bucket{{tenant=\"{id}\",le=\"+Inf\"}} {count}\n\
             headway_request_duration_seconds_sum{{tenant=\"{id}\"}} {}\n\
             headway_request_duration_seconds_count{{tenant=\"{id}\"}} {count}",
            load(&t.metrics.latency_micros) as f64 / 1e6
        );
    }
    type Counter = fn(&TenantMetrics) -> &AtomicU64;
    let counters: [(&str, &str, Counter); 5] = [
        ("headway_assessments_total", "Accounts assessed.", |m| {
            &m.assessments
        }),
        (
            "headway_assessment_failures_total",
            "Accounts that could not be assessed.",
            |m| &m.failures,
        ),
        (
            "headway_fuel_consumed_total",
            "Instructions plugins used.",
            |m| &m.fuel,
        ),
        (
            "headway_reloads_total",
            "Reload attempts (loaded, failed, rolled back).",
            |m| &m.reloads,
        ),
        (
            "headway_reload_failures_total",
            "Reloads refused; the last good version kept serving.",
            |m| &m.reload_failures,
        ),
    ];
    for (name, help, get) in counters {
        family(&mut out, name, "counter", help);
        for (id, t) in tenants.iter() {
            let _ = writeln!(
                out,
                "{name}{{tenant=\"{}\"}} {}",
                label(id),
                load(get(&t.metrics))
            );
        }
    }
    family(
        &mut out,
        "headway_plugin_info",
        "gauge",
        "The build serving each tenant.",
    );
    for (id, t) in tenants.iter() {
        if let Some(l) = t.current() {
            let r = l.plugin.plugin_ref();
            let _ = writeln!(
                out,
                "headway_plugin_info{{tenant=\"{}\",plugin=\"{}\",version=\"{}\",digest=\"{}\"}} 1",
                label(id),
                label(&r.name),
                label(&r.version),
                label(&r.digest)
            );
        }
    }
    out
}
