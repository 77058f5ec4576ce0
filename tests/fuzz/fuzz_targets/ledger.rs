//! Revenue ledgers (CSV and JSON Lines, ARR and MRR) and survey answers, then
//! the retention metrics over whatever parsed: never a panic, never a value
//! that is not a finite number.
#![no_main]

use headway_core::retention::{
    Ledger, PeriodKind, RetentionQuery, parse_ledger, parse_surveys, retention,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let surveys = parse_surveys("fuzz.csv", &text, true).unwrap_or_default();
    let _ = parse_surveys("fuzz.jsonl", &text, false);
    for (csv, mrr) in [(true, false), (true, true), (false, false)] {
        let Ok(rows) = parse_ledger("fuzz", &text, csv, mrr) else {
            continue;
        };
        let dates = rows.iter().map(|r| r.date);
        let (Some(first), Some(last)) = (dates.clone().min(), dates.max()) else {
            continue;
        };
        // Decades of monthly periods are slow, not wrong: keep cases quick.
        if last.days_since(first) > 3 * 366 {
            continue;
        }
        let ledger = Ledger::new(rows);
        let query = RetentionQuery {
            period: PeriodKind::Month,
            from: None,
            to: None,
            by_segment: true,
        };
        for m in retention(&ledger, &surveys, &query) {
            let values = [m.start_arr, m.end_arr, m.new_arr, m.churned_arr, m.expansion_arr];
            let ratios = [m.nrr, m.grr, m.quick_ratio, m.logo_churn, m.nps, m.csat, m.ces];
            for v in values.into_iter().chain(ratios.into_iter().flatten()) {
                assert!(v.is_finite(), "{m:?}");
            }
        }
    }
});
