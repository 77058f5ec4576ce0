//! The SaaS rule as a sandboxed wasm plugin vs the same rule compiled natively into
//! the host, in one run on one machine, so the ratio is what matters.
//!
//! Run: `cargo bench -p headway-tests --bench throughput`
//!
//! Both paths start from prepared columns. *wasm call* is one `assess` call per
//! batch in a fresh instance under fuel and epoch limits; *wasm e2e* is what a
//! scoring run does per chunk (`Plugin::assess_batch`): the parsed columns copied
//! into the contract's types, the call, the answer checked against the contract.
//! The native path stops at the rule's columns.

use std::time::Duration;

use headway_core::Account;
use headway_host::{Answer, Limits, Plugin};
use headway_pdk::wit;
use headway_samples::{Book, DEFAULT_SEED, generate};
use headway_tests::{SAAS_HEALTH, runtime};
use saas_health::SaasHealth;

const ACCOUNTS: usize = 10_000;
const RUNS: usize = 5;

fn main() {
    let accounts = generate(Book::Saas, ACCOUNTS, DEFAULT_SEED);
    check_same_credits(&accounts);
    println!("SaaS rule, {ACCOUNTS} accounts, median of {RUNS} runs, 1 thread, accounts/s");
    println!(
        "{:>7}  {:>12}  {:>12}  {:>7}  {:>12}  {:>7}",
        "batch", "native rule", "wasm call", "ratio", "wasm e2e", "ratio"
    );
    // HEADWAY_BENCH_BATCHES=1000 measures one size (e.g. under a profiler).
    let sizes: Vec<usize> = std::env::var("HEADWAY_BENCH_BATCHES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 100, 1_000, 10_000]);
    for batch in sizes {
        // Rule only: columns prepared in advance, for both.
        let pdk_batches: Vec<_> = accounts.chunks(batch).map(pdk_batch).collect();
        let native = median(|| {
            for b in &pdk_batches {
                std::hint::black_box(headway_pdk::assess_batch::<SaasHealth>(b));
            }
        });
        let plugin = load(batch);
        let host_batches: Vec<_> = accounts
            .chunks(batch)
            .map(|chunk| plugin.columnar_batch(&plugin.batch_of(chunk)))
            .collect();
        let call = median(|| {
            for b in &host_batches {
                std::hint::black_box(plugin.call(b).answer.expect("call succeeds"));
            }
        });
        // The host's whole path in a run: the parsed columns copied into the
        // sandbox, the call, the answer checked against the contract.
        let columns = plugin.batch_of(&accounts);
        let e2e = median(|| {
            std::hint::black_box(plugin.assess_batch(&columns));
        });
        let (n, c, e) = (rate(native), rate(call), rate(e2e));
        println!(
            "{batch:>7}  {n:>12.0}  {c:>12.0}  {:>6.2}x  {e:>12.0}  {:>6.2}x",
            c / n,
            e / n
        );
    }
    let plugin = load(1_000);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parallel = median(|| {
        std::hint::black_box(plugin.assess(&accounts, threads));
    });
    println!(
        "wasm e2e, batches of 1000 on {threads} threads: {:.0} accounts/s",
        rate(parallel)
    );
    let report = plugin.assess(&accounts, 1);
    println!(
        "fuel: {:.0} instructions per account",
        report.fuel_used as f64 / ACCOUNTS as f64
    );
}

fn load(batch_size: usize) -> Plugin {
    let limits = Limits {
        batch_size,
        ..Limits::default()
    };
    runtime()
        .load_file(
            std::path::Path::new(SAAS_HEALTH),
            &headway_host::LoadOptions {
                limits,
                ..Default::default()
            },
        )
        .expect("plugin loads")
}

fn median(f: impl FnMut()) -> Duration {
    headway_tests::median_time(RUNS, f)
}

fn rate(d: Duration) -> f64 {
    ACCOUNTS as f64 / d.as_secs_f64()
}

/// Guards the comparison: both paths must give every factor of every account
/// the same credit, bit for bit.
fn check_same_credits(accounts: &[Account]) {
    let native = headway_pdk::assess_batch::<SaasHealth>(&pdk_batch(accounts));
    let plugin = load(accounts.len());
    let call = plugin.call(&plugin.columnar_batch(&plugin.batch_of(accounts)));
    let Ok(Answer::V0_3_0(wasm)) = call.answer else {
        panic!(
            "the SaaS plugin answers in the latest contract: {:?}",
            call.answer
        )
    };
    for (f, (native, wasm)) in native.factors.iter().zip(&wasm.factors).enumerate() {
        for (i, (n, w)) in native.credits.iter().zip(&wasm.credits).enumerate() {
            assert_eq!(
                n.to_bits(),
                w.to_bits(),
                "factor {f}, account {i}: wasm and native disagree"
            );
        }
    }
}

/// The columnar batch in the plugin kit's types (the host builds the same shape in
/// its own wasmtime-generated types). Only what the SaaS sample data carries.
fn pdk_batch(accounts: &[Account]) -> wit::AccountBatch {
    let text = |f: fn(&Account) -> &str| {
        let mut col = wit::TextColumn {
            data: String::new(),
            ends: Vec::with_capacity(accounts.len()),
        };
        for a in accounts {
            col.data.push_str(f(a));
            col.ends.push(col.data.len() as u32);
        }
        col
    };
    let names: std::collections::BTreeSet<&str> = accounts
        .iter()
        .flat_map(|a| a.measures.keys().map(String::as_str))
        .collect();
    let measures = names
        .into_iter()
        .map(|name| wit::MeasureColumn {
            name: name.to_owned(),
            values: accounts
                .iter()
                .map(|a| a.measures.get(name).copied().unwrap_or(f64::NAN))
                .collect(),
        })
        .collect();
    let mut wau = wit::SeriesColumn {
        name: "weekly-active-users".to_owned(),
        ends: Vec::with_capacity(accounts.len()),
        days: Vec::new(),
        values: Vec::new(),
    };
    for a in accounts {
        for p in a.history.get("weekly-active-users").into_iter().flatten() {
            wau.days.push(p.date.days());
            wau.values.push(p.value);
        }
        wau.ends.push(wau.days.len() as u32);
    }
    wit::AccountBatch {
        ids: text(|a| &a.id),
        names: text(|a| &a.name),
        segments: text(|a| &a.segment),
        plans: text(|a| &a.plan),
        stages: accounts
            .iter()
            .map(|_| wit::LifecycleStage::Active)
            .collect(),
        arr: accounts.iter().map(|a| a.arr).collect(),
        start_dates: accounts.iter().map(|a| a.start_date.days()).collect(),
        renewal_dates: accounts
            .iter()
            .map(|a| a.renewal_date.map(|d| d.days()))
            .collect(),
        as_of: accounts.iter().map(|a| a.as_of.days()).collect(),
        measures,
        history: vec![wau],
        outcomes: Vec::new(),
        attributes: Vec::new(),
        milestones_reached: Vec::new(),
    }
}
