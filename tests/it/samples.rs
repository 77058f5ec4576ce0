//! The checked-in sample books are exactly what the generator produces, and every
//! account in them scores.

use headway_samples::{
    Book, DEFAULT_SEED, advocacy, advocacy_csv, generate, ledger, ledger_csv, surveys, surveys_csv,
    to_jsonl,
};
use headway_tests::{LOGISTICS_OTIF, SAAS_HEALTH, load, repo_root};

fn checked_in(tenant: &str) -> String {
    checked_in_file(tenant, "accounts.jsonl")
}

fn checked_in_file(tenant: &str, file: &str) -> String {
    let path = repo_root().join("tenants").join(tenant).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn sample_files_match_the_generator() {
    assert!(
        checked_in("saas-acme") == to_jsonl(&generate(Book::Saas, 1_000, DEFAULT_SEED)),
        "regenerate with `headway sample saas -o tenants/saas-acme/accounts.jsonl`"
    );
    assert!(
        checked_in("logistics-nordic") == to_jsonl(&generate(Book::Logistics, 1_000, DEFAULT_SEED)),
        "regenerate with `headway sample logistics -o tenants/logistics-nordic/accounts.jsonl`"
    );
}

#[test]
fn sample_ledgers_and_surveys_match_the_generator() {
    for (book, tenant, name) in [
        (Book::Saas, "saas-acme", "saas"),
        (Book::Logistics, "logistics-nordic", "logistics"),
    ] {
        let accounts = generate(book, 1_000, DEFAULT_SEED);
        let hint = |what: &str, file: &str| {
            format!(
                "regenerate with `headway sample {name} --what {what} -o tenants/{tenant}/{file}`"
            )
        };
        assert!(
            checked_in_file(tenant, "ledger.csv")
                == ledger_csv(&ledger(book, &accounts, DEFAULT_SEED)),
            "{}",
            hint("ledger", "ledger.csv")
        );
        assert!(
            checked_in_file(tenant, "surveys.csv")
                == surveys_csv(&surveys(&accounts, DEFAULT_SEED)),
            "{}",
            hint("surveys", "surveys.csv")
        );
        let events = advocacy(book, &accounts, DEFAULT_SEED);
        assert!(
            checked_in_file(tenant, "advocacy.csv") == advocacy_csv(&events),
            "{}",
            hint("advocacy", "advocacy.csv")
        );
        // Every referral names an account that started paying after it, and
        // was made by one paying before it.
        let rows = ledger(book, &accounts, DEFAULT_SEED);
        let first_paid = |id: &str| {
            rows.iter()
                .filter(|r| r.account_id == id && r.arr > 0.0)
                .map(|r| r.date)
                .min()
        };
        let referrals: Vec<_> = events.iter().filter(|e| e.referred.is_some()).collect();
        assert!(
            referrals.len() > 20,
            "{tenant}: {} referrals",
            referrals.len()
        );
        for r in referrals {
            let referred = first_paid(r.referred.as_deref().unwrap()).unwrap();
            assert!(r.date < referred, "{r:?}");
            assert!(first_paid(&r.account_id).unwrap() < r.date, "{r:?}");
        }
    }
}

#[test]
fn every_sample_account_scores_and_bands_are_spread() {
    let cases = [
        (Book::Saas, load(SAAS_HEALTH, &[])),
        (
            Book::Logistics,
            load(
                LOGISTICS_OTIF,
                &[
                    ("default-otif-target", "0.95"),
                    ("default-difot-target", "0.92"),
                    ("default-claims-target", "0.01"),
                ],
            ),
        ),
    ];
    for (book, plugin) in cases {
        let report = plugin.assess(&generate(book, 1_000, DEFAULT_SEED), 2);
        let scored: Vec<_> = report
            .results
            .iter()
            .map(|r| r.as_ref().expect("sample accounts are clean"))
            .collect();
        for band in &plugin.info().bands {
            let n = scored.iter().filter(|a| a.band == band.name).count();
            assert!(
                n >= 100,
                "{book:?}: only {n} accounts in band {}",
                band.name
            );
        }
    }
}
