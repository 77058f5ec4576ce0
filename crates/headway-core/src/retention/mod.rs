//! Revenue and retention metrics from a revenue ledger: NRR, GRR, churn, expansion,
//! renewals, trial conversion, surveys, and the signup-cohort retention matrix.
//!
//! # Definitions and policies
//!
//! - The ledger has one row per change of an account's recurring revenue: `arr` is
//!   the annual recurring revenue *from that date on*; 0 means churned. Rows on the
//!   same day apply in file order (the last one wins).
//! - A period is `[start, end)`. The state "at the start" applies every row dated
//!   before `start`; a row dated on the first day belongs to the period.
//! - Only `paid` revenue counts. Trials are never in churn, NRR or GRR; a trial that
//!   converts is a new logo (not a reactivation).
//! - Movements compare each account's paid ARR at the start and at the end of the
//!   period (changes within a period are netted): start 0 -> end > 0 is **new**
//!   (first time paying) or **reactivation** (paid at some time before); start > 0
//!   -> end 0 is **churn** (a drop to 0 is churn, whatever it is called); otherwise
//!   the difference is **expansion** or **contraction** (discounts and down-sells
//!   included). An account that churns and comes back within one period is netted:
//!   retained, with its expansion or contraction.
//! - NRR = (start ARR + expansion - contraction - churn) / start ARR, over accounts
//!   paying at the start (new logos excluded); GRR = the same without expansion, so
//!   never above 1; NRR = GRR + expansion rate.
//! - Quick ratio = (new + reactivation + expansion) / (churn + contraction).
//! - Renewals: an account is up for renewal in a period when a `term_end` it was
//!   paying under falls in the period; it renewed when it still pays at the end of
//!   the period. Revenue renewal rate caps each account at the ARR up for renewal;
//!   net renewal rate ("net churn" on the renewal base) does not cap, so upgrades
//!   count: (renewals + upgrades) / ARR up for renewal.
//! - A trial ends when a later row makes it paid (converted) or sets its ARR to 0
//!   while still a trial (expired); trial conversion = converted / ended.
//! - NPS is in points (-100..100): % promoters (9-10) - % detractors (0-6). CSAT is
//!   the share of 4-5 answers (1-5 scale); CES the mean answer (1-7).
//! - Advocacy counts, per period, the accounts paying in it (at its start, or
//!   starting to pay in it) that advocated in it: advocacy rate = advocating /
//!   paying accounts; referrals per 100 paying accounts. A new logo is referred
//!   when a referral dated before the period ends names it; its ARR is referred
//!   new ARR. Referred NRR is the NRR of the accounts paying at the start that
//!   came by referral, other NRR that of the rest.
//! - Every ratio whose denominator is empty is `None` (`null` in JSON): never NaN,
//!   infinity or a panic.

mod advocacy;
mod cohorts;
mod ledger;
mod metrics;
mod parse;
mod surveys;

pub use advocacy::{AdvocacyEvent, AdvocacyKind};
pub use cohorts::{CohortRow, cohorts, cohorts_between};
pub use ledger::{Ledger, LedgerRow, MAX_ARR, Movement, RevenueStage};
pub(crate) use metrics::ratio;
pub use metrics::{PeriodKind, PeriodMetrics, RetentionQuery, retention};
pub use parse::{parse_advocacy, parse_ledger, parse_surveys};
pub use surveys::{SurveyKind, SurveyResponse};

#[cfg(test)]
use crate::Date;

#[cfg(test)]
mod tests {
    use super::*;
    use super::{ledger::*, metrics::*};

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn paid(id: &str, date: &str, arr: f64) -> LedgerRow {
        LedgerRow {
            account_id: id.into(),
            date: d(date),
            arr,
            stage: RevenueStage::Paid,
            segment: None,
            term_end: None,
        }
    }

    #[test]
    fn movement_after_a_day() {
        let ledger = Ledger::new(vec![
            paid("up", "2026-01-01", 100.0),
            paid("up", "2026-03-01", 150.0),
            paid("gone", "2026-01-01", 100.0),
            paid("gone", "2026-02-10", 0.0),
            trial("t", "2026-01-01", 0.0),
            paid("down", "2026-01-01", 100.0),
            paid("down", "2026-02-01", 60.0),
        ]);
        let (from, to) = (d("2026-01-31"), d("2026-03-01"));
        let m = |id| ledger.movement(id, from, to);
        assert_eq!(
            m("up"),
            Movement {
                churned: false,
                expanded: true
            },
            "last day included"
        );
        assert_eq!(
            m("gone"),
            Movement {
                churned: true,
                expanded: false
            }
        );
        assert_eq!(m("down"), Movement::default(), "contraction is neither");
        assert_eq!(m("t"), Movement::default(), "not paying on `from`");
        assert_eq!(m("unknown"), Movement::default());
        // A change on `from` itself is already in the starting ARR.
        assert_eq!(ledger.arr_on("up", d("2026-03-01")), 150.0);
        assert_eq!(ledger.arr_on("up", d("2026-02-28")), 100.0);
        assert!(
            !ledger
                .movement("up", d("2026-03-01"), d("2026-04-01"))
                .expanded
        );
    }

    fn trial(id: &str, date: &str, arr: f64) -> LedgerRow {
        LedgerRow {
            stage: RevenueStage::Trial,
            ..paid(id, date, arr)
        }
    }

    fn due(row: LedgerRow, term_end: &str) -> LedgerRow {
        LedgerRow {
            term_end: Some(d(term_end)),
            ..row
        }
    }

    fn month(ledger: Vec<LedgerRow>, surveys: &[SurveyResponse], first_day: &str) -> PeriodMetrics {
        let q = RetentionQuery {
            period: PeriodKind::Month,
            from: Some(d(first_day)),
            to: Some(d(first_day)),
            by_segment: false,
        };
        let mut all = retention(&Ledger::new(ledger), surveys, &[], &q);
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[track_caller]
    fn close(a: Option<f64>, b: f64) {
        let a = a.expect("defined");
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn seeds_example_1000_to_1500_is_150_percent() {
        let m = month(
            vec![
                paid("a", "2026-01-01", 1000.0),
                paid("a", "2026-02-10", 1500.0),
            ],
            &[],
            "2026-02-01",
        );
        assert_eq!(
            (m.start_arr, m.expansion_arr, m.end_arr),
            (1000.0, 500.0, 1500.0)
        );
        close(m.nrr, 1.5);
        close(m.grr, 1.0);
        close(m.expansion_rate, 0.5);
        close(m.net_revenue_churn, -0.5);
        close(m.gross_revenue_churn, 0.0);
        assert_eq!(
            m.quick_ratio, None,
            "nothing lost: the quick ratio is not defined"
        );
    }

    fn march_book() -> Vec<LedgerRow> {
        vec![
            due(paid("a", "2026-01-01", 1000.0), "2026-03-05"),
            paid("a", "2026-03-05", 1200.0),
            due(paid("b", "2026-01-01", 2000.0), "2026-03-10"),
            paid("b", "2026-03-10", 1500.0),
            due(paid("c", "2026-01-01", 3000.0), "2026-03-20"),
            paid("c", "2026-03-20", 0.0),
            due(paid("d", "2026-01-01", 4000.0), "2026-03-31"),
            paid("e", "2026-03-15", 500.0),
            paid("f", "2025-12-01", 1000.0),
            paid("f", "2026-01-15", 0.0),
            paid("f", "2026-03-03", 800.0),
            trial("g", "2026-02-20", 600.0),
            paid("g", "2026-03-25", 600.0),
            trial("h", "2026-03-02", 0.0),
            trial("h", "2026-03-16", 0.0),
        ]
    }

    fn survey(kind: SurveyKind, date: &str, score: f64) -> SurveyResponse {
        SurveyResponse {
            account_id: "a".into(),
            date: d(date),
            kind,
            score,
        }
    }

    #[test]
    fn a_month_with_every_movement() {
        let mut surveys: Vec<SurveyResponse> = [10.0, 9.0, 8.0, 6.0, 3.0]
            .iter()
            .map(|s| survey(SurveyKind::Nps, "2026-03-09", *s))
            .collect();
        surveys.push(survey(SurveyKind::Nps, "2026-02-28", 0.0)); // February: not counted
        surveys.extend(
            [5.0, 4.0, 3.0, 1.0]
                .iter()
                .map(|s| survey(SurveyKind::Csat, "2026-03-09", *s)),
        );
        surveys.extend(
            [2.0, 3.0, 7.0]
                .iter()
                .map(|s| survey(SurveyKind::Ces, "2026-03-31", *s)),
        );
        let m = month(march_book(), &surveys, "2026-03-01");

        assert_eq!(m.period_start, Some(d("2026-03-01")));
        assert_eq!(m.period_end, Some(d("2026-03-31")));
        // a, b, c, d pay at the start; f had churned; g is a trial.
        assert_eq!(m.start_arr, 10_000.0);
        assert_eq!(m.expansion_arr, 200.0);
        assert_eq!(m.contraction_arr, 500.0);
        assert_eq!(m.churned_arr, 3_000.0);
        assert_eq!(m.new_arr, 1_100.0, "e, and g's trial conversion");
        assert_eq!(m.reactivation_arr, 800.0);
        assert_eq!(m.end_arr, 8_600.0);
        assert_eq!(
            (
                m.start_logos,
                m.new_logos,
                m.churned_logos,
                m.reactivated_logos
            ),
            (4, 2, 1, 1)
        );
        close(m.nrr, 0.67);
        close(m.grr, 0.65);
        close(m.expansion_rate, 0.02);
        close(m.logo_churn, 0.25);
        close(m.logo_retention, 0.75);
        close(m.gross_revenue_churn, 0.35);
        close(m.net_revenue_churn, 0.33);
        close(m.quick_ratio, 2_100.0 / 3_500.0);
        // Renewals: a (1000 -> 1200), b (2000 -> 1500), c (3000 -> gone), d (4000 kept).
        assert_eq!(m.renewals_due, 4);
        close(m.renewal_rate_logo, 0.75);
        close(m.renewal_rate_revenue, 6_500.0 / 10_000.0);
        close(m.net_renewal_rate, 6_700.0 / 10_000.0);
        // g converted, h expired.
        assert_eq!(m.trials_ended, 2);
        close(m.trial_conversion, 0.5);
        close(m.nps, 0.0); // 2 promoters, 2 detractors of 5
        close(m.csat, 0.5);
        close(m.ces, 4.0);
    }

    #[test]
    fn empty_ledger_and_empty_denominators() {
        let q = RetentionQuery {
            period: PeriodKind::Month,
            from: None,
            to: None,
            by_segment: false,
        };
        assert!(retention(&Ledger::default(), &[], &[], &q).is_empty());

        // Only a new account: nothing at the start, so no ratio is defined.
        let m = month(vec![paid("a", "2026-03-10", 100.0)], &[], "2026-03-01");
        assert_eq!(m.new_arr, 100.0);
        for ratio in [
            m.nrr,
            m.grr,
            m.logo_churn,
            m.logo_retention,
            m.gross_revenue_churn,
            m.net_revenue_churn,
            m.expansion_rate,
            m.quick_ratio,
            m.renewal_rate_logo,
            m.renewal_rate_revenue,
            m.net_renewal_rate,
            m.trial_conversion,
            m.nps,
            m.csat,
            m.ces,
        ] {
            assert_eq!(ratio, None);
        }
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["nrr"], serde_json::Value::Null);
        assert_eq!(json["segment"], serde_json::Value::Null);
    }

    #[test]
    fn single_account_quiet_month() {
        let m = month(vec![paid("a", "2025-06-01", 1200.0)], &[], "2026-03-01");
        assert_eq!((m.start_arr, m.end_arr, m.start_logos), (1200.0, 1200.0, 1));
        close(m.nrr, 1.0);
        close(m.grr, 1.0);
        close(m.logo_churn, 0.0);
    }

    #[test]
    fn a_change_on_the_first_day_belongs_to_that_period() {
        let ledger = vec![
            paid("a", "2026-01-15", 1000.0),
            paid("a", "2026-02-01", 1500.0),
        ];
        let jan = month(ledger.clone(), &[], "2026-01-01");
        assert_eq!((jan.new_arr, jan.end_arr), (1000.0, 1000.0));
        let feb = month(ledger, &[], "2026-02-01");
        assert_eq!((feb.start_arr, feb.expansion_arr), (1000.0, 500.0));
    }

    #[test]
    fn churn_and_return_within_a_period_is_netted() {
        let ledger = vec![
            paid("a", "2026-01-01", 1000.0),
            paid("a", "2026-02-05", 0.0),
            paid("a", "2026-02-20", 1200.0),
        ];
        let m = month(ledger, &[], "2026-02-01");
        assert_eq!(
            (
                m.churned_logos,
                m.churned_arr,
                m.expansion_arr,
                m.reactivation_arr
            ),
            (0, 0.0, 200.0, 0.0)
        );
    }

    #[test]
    fn churn_then_return_in_a_later_period_is_reactivation_not_new() {
        let ledger = vec![
            paid("a", "2026-01-01", 1000.0),
            paid("a", "2026-02-05", 0.0),
            paid("a", "2026-03-20", 900.0),
        ];
        let feb = month(ledger.clone(), &[], "2026-02-01");
        assert_eq!((feb.churned_logos, feb.churned_arr), (1, 1000.0));
        let mar = month(ledger, &[], "2026-03-01");
        assert_eq!(
            (mar.new_arr, mar.reactivation_arr, mar.reactivated_logos),
            (0.0, 900.0, 1)
        );
    }

    #[test]
    fn downgrade_to_zero_is_churn_downgrade_to_one_is_contraction() {
        let ledger = vec![
            paid("a", "2026-01-01", 1000.0),
            paid("a", "2026-02-10", 0.0),
            paid("b", "2026-01-01", 1000.0),
            paid("b", "2026-02-10", 1.0),
        ];
        let m = month(ledger, &[], "2026-02-01");
        assert_eq!(
            (m.churned_arr, m.churned_logos, m.contraction_arr),
            (1000.0, 1, 999.0)
        );
    }

    #[test]
    fn trials_never_count_in_revenue_metrics() {
        let ledger = vec![
            trial("t", "2026-01-10", 5000.0),
            trial("t", "2026-02-10", 0.0),
            paid("a", "2026-01-01", 100.0),
        ];
        let m = month(ledger, &[], "2026-02-01");
        assert_eq!(
            (m.start_arr, m.churned_arr, m.churned_logos),
            (100.0, 0.0, 0)
        );
        close(m.nrr, 1.0);
        assert_eq!(m.trials_ended, 1);
        close(m.trial_conversion, 0.0);
    }

    #[test]
    fn same_day_rows_apply_in_file_order() {
        let ledger = vec![
            paid("a", "2026-01-01", 1000.0),
            paid("a", "2026-02-03", 700.0),
            paid("a", "2026-02-03", 1100.0),
        ];
        let m = month(ledger, &[], "2026-02-01");
        assert_eq!((m.end_arr, m.expansion_arr), (1100.0, 100.0));
    }

    #[test]
    fn quarters_and_years() {
        assert_eq!(
            PeriodKind::Quarter.start_of(d("2026-05-17")),
            d("2026-04-01")
        );
        assert_eq!(PeriodKind::Quarter.next(d("2026-10-01")), d("2027-01-01"));
        assert_eq!(PeriodKind::Year.start_of(d("2026-05-17")), d("2026-01-01"));
        assert_eq!(PeriodKind::Month.next(d("2026-12-01")), d("2027-01-01"));
        let q = RetentionQuery {
            period: PeriodKind::Quarter,
            from: None,
            to: None,
            by_segment: false,
        };
        let all = retention(&Ledger::new(march_book()), &[], &[], &q);
        let starts: Vec<String> = all
            .iter()
            .map(|m| m.period_start.unwrap().to_string())
            .collect();
        assert_eq!(starts, ["2025-10-01", "2026-01-01"]);
        assert_eq!(all[1].period_end, Some(d("2026-03-31")));
        // f paid before Q1; its January churn and March return net out within Q1.
        assert_eq!(
            (
                all[1].start_arr,
                all[1].churned_logos,
                all[1].contraction_arr
            ),
            (1000.0, 0, 200.0)
        );
    }

    #[test]
    fn segments_add_up_to_the_total() {
        let mut book = march_book();
        for (i, row) in book.iter_mut().enumerate() {
            row.segment = Some(
                if row.account_id.as_str() < "d" {
                    "smb"
                } else {
                    "enterprise"
                }
                .to_owned(),
            );
            if i % 3 == 0 {
                row.segment = None; // only some rows name it; the latest known applies
            }
        }
        let q = |by_segment| RetentionQuery {
            period: PeriodKind::Month,
            from: Some(d("2026-03-01")),
            to: Some(d("2026-03-01")),
            by_segment,
        };
        let ledger = Ledger::new(book);
        let total = &retention(&ledger, &[], &[], &q(false))[0];
        let parts = retention(&ledger, &[], &[], &q(true));
        assert_eq!(
            parts
                .iter()
                .map(|m| m.segment.clone().unwrap())
                .collect::<Vec<_>>(),
            ["unknown", "enterprise", "smb"]
        );
        let sum = |f: fn(&PeriodMetrics) -> f64| parts.iter().map(f).sum::<f64>();
        assert_eq!(sum(|m| m.start_arr), total.start_arr);
        assert_eq!(sum(|m| m.end_arr), total.end_arr);
        assert_eq!(sum(|m| m.expansion_arr), total.expansion_arr);
        assert_eq!(sum(|m| m.churned_arr), total.churned_arr);
        assert_eq!(sum(|m| m.new_arr), total.new_arr);
    }

    #[test]
    fn cohort_matrix() {
        let ledger = Ledger::new(vec![
            paid("a", "2026-01-05", 1000.0),
            paid("b", "2026-01-20", 1000.0),
            paid("b", "2026-02-10", 0.0),
            paid("a", "2026-03-02", 1500.0),
            paid("c", "2026-02-01", 300.0),
        ]);
        let rows = cohorts(&ledger, d("2026-03-31"));
        assert_eq!(rows.len(), 2);
        let jan = &rows[0];
        assert_eq!(
            (jan.cohort, jan.accounts, jan.start_arr),
            (d("2026-01-01"), 2, 2000.0)
        );
        assert_eq!(jan.logo, [Some(1.0), Some(0.5), Some(0.5)]);
        assert_eq!(jan.revenue, [Some(1.0), Some(0.5), Some(0.75)]);
        assert_eq!(
            rows[1].logo,
            [Some(1.0), Some(1.0)],
            "February cohort: two months observed"
        );
    }

    #[test]
    fn ledger_csv_and_jsonl_with_errors_named() {
        let csv = "account_id,date,arr,stage,segment,term_end,note\n\
                   a,2026-01-01,100,paid,smb,2026-12-31,extra column ignored\n\
                   b,2026-01-01,,trial,,,\n\
                   c,2026-13-01,5,,,,\n\
                   d,2026-01-01,-5,,,,\n";
        let errors = parse_ledger("l.csv", csv, true, false).unwrap_err();
        let got: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            got,
            [(3, None), (4, Some("date")), (5, Some("arr"))],
            "every bad row, in line order"
        );
        assert!(
            errors[0].to_string().contains("missing field `arr`"),
            "{}",
            errors[0]
        );

        let good = "account_id,date,arr,stage\na,2026-01-01,100,\nb,2026-02-01,50,trial\n";
        let rows = parse_ledger("l.csv", good, true, true).unwrap();
        assert_eq!(rows[0].arr, 1200.0, "--mrr multiplies by 12");
        assert_eq!(rows[0].stage, RevenueStage::Paid);
        assert_eq!(rows[1].stage, RevenueStage::Trial);

        let neg = parse_ledger(
            "l.jsonl",
            r#"{"account_id":"d","date":"2026-01-01","arr":-5}"#,
            false,
            false,
        )
        .unwrap_err();
        assert_eq!(
            neg[0].to_string(),
            "l.jsonl:1: field `arr`: must be >= 0, got -5"
        );
        let huge = parse_ledger(
            "l.csv",
            "account_id,date,arr\nh,2026-01-01,1e308\n",
            true,
            false,
        )
        .unwrap_err();
        assert_eq!(
            huge[0].to_string(),
            "l.csv:2: field `arr`: 1e308 is past the largest ARR accepted (1e15)"
        );
        let jsonl = r#"{"account_id":"a","date":"2026-01-01","arr":100,"stage":"trial","term_end":"2026-06-30"}"#;
        let rows = parse_ledger("l.jsonl", jsonl, false, false).unwrap();
        assert_eq!(
            (rows[0].stage, rows[0].term_end),
            (RevenueStage::Trial, Some(d("2026-06-30")))
        );
    }

    #[test]
    fn surveys_check_their_scale() {
        let text = "account_id,date,kind,score\na,2026-01-01,nps,10\na,2026-01-01,csat,6\na,2026-01-01,mood,3\n";
        let errors = parse_surveys("s.csv", text, true).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0].to_string(),
            "s.csv:3: field `score`: 6 is outside 1-5 for Csat"
        );
        assert_eq!(
            (errors[1].line, errors[1].field.as_deref()),
            (4, Some("kind")),
            "{}",
            errors[1]
        );
    }

    fn advocacy(id: &str, date: &str, kind: AdvocacyKind, referred: Option<&str>) -> AdvocacyEvent {
        AdvocacyEvent {
            account_id: id.into(),
            date: d(date),
            kind,
            referred: referred.map(Into::into),
        }
    }

    /// a expands, b (referred last year) churns, c stays, n is new by a's
    /// referral, m is new on its own; x advocates without ever paying.
    fn advocates_book() -> (Vec<LedgerRow>, Vec<AdvocacyEvent>) {
        use AdvocacyKind::*;
        let ledger = vec![
            paid("a", "2026-01-01", 1000.0),
            paid("a", "2026-03-10", 1200.0),
            paid("b", "2026-01-01", 500.0),
            paid("b", "2026-03-15", 0.0),
            paid("c", "2026-01-01", 2000.0),
            paid("n", "2026-03-12", 800.0),
            paid("m", "2026-03-20", 300.0),
        ];
        let events = vec![
            advocacy("a", "2025-12-01", Referral, Some("b")),
            advocacy("c", "2026-02-15", CaseStudy, None),
            advocacy("b", "2026-03-02", ReferenceCall, None),
            advocacy("x", "2026-03-03", Review, None),
            advocacy("a", "2026-03-05", Referral, Some("n")),
            advocacy("a", "2026-03-20", Review, None),
        ];
        (ledger, events)
    }

    fn advocacy_month(first_day: &str) -> PeriodMetrics {
        let (ledger, events) = advocates_book();
        let q = RetentionQuery {
            period: PeriodKind::Month,
            from: Some(d(first_day)),
            to: Some(d(first_day)),
            by_segment: false,
        };
        retention(&Ledger::new(ledger), &[], &events, &q).remove(0)
    }

    #[test]
    fn advocacy_by_hand() {
        let m = advocacy_month("2026-03-01");
        // Paying in March: a, b, c (at the start), n and m (new): 5. Of those, a
        // (a referral, a review) and b (a reference call) advocated; x never paid.
        assert_eq!(m.advocating_accounts, 2);
        close(m.advocacy_rate, 2.0 / 5.0);
        assert_eq!(
            (m.referrals, m.reference_calls, m.case_studies, m.reviews),
            (1, 1, 0, 1)
        );
        close(m.referrals_per_100, 20.0);
        // n came by a's referral; m did not.
        assert_eq!((m.new_logos, m.referred_new_logos), (2, 1));
        assert_eq!((m.new_arr, m.referred_new_arr), (1100.0, 800.0));
        // Referred b churned: (500 - 500) / 500. Others a and c: (3000 + 200) / 3000.
        close(m.referred_nrr, 0.0);
        close(m.other_nrr, 3200.0 / 3000.0);
        close(m.nrr, 3200.0 / 3500.0);

        // February: a, b, c paying; c's case study is the only act.
        let feb = advocacy_month("2026-02-01");
        assert_eq!((feb.advocating_accounts, feb.case_studies), (1, 1));
        close(feb.advocacy_rate, 1.0 / 3.0);
        close(feb.referrals_per_100, 0.0);
        close(feb.referred_nrr, 1.0);
        close(feb.other_nrr, 1.0);
        assert_eq!(feb.referred_new_logos, 0);

        // No paying account, no rate: never NaN.
        let empty = retention(
            &Ledger::default(),
            &[],
            &advocates_book().1,
            &RetentionQuery {
                period: PeriodKind::Month,
                from: Some(d("2026-03-01")),
                to: Some(d("2026-03-01")),
                by_segment: false,
            },
        );
        assert_eq!(empty[0].advocacy_rate, None);
        assert_eq!(empty[0].referrals_per_100, None);
        assert_eq!((empty[0].referred_nrr, empty[0].other_nrr), (None, None));
    }

    #[test]
    fn advocacy_rows_are_checked() {
        let text = "account_id,date,kind,referred\n\
                    a,2026-01-01,referral,n\n\
                    a,2026-01-02,review,n\n\
                    a,2026-01-03,referral,a\n\
                    ,2026-01-04,case-study,\n\
                    a,2026-01-05,webinar,\n\
                    b,2026-01-06,reference-call,\n";
        let errors = parse_advocacy("adv.csv", text, true).unwrap_err();
        let named: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            named,
            [
                (3, Some("referred")),
                (4, Some("referred")),
                (5, None),
                (6, Some("kind"))
            ]
        );
        // An empty CSV cell is a missing field.
        assert_eq!(
            errors[2].to_string(),
            "adv.csv:5: missing field `account_id`"
        );
        assert_eq!(
            errors[0].to_string(),
            "adv.csv:3: field `referred`: only a referral names a referred account, not a review"
        );
        let ok = "account_id,date,kind,referred\na,2026-01-01,referral,n\nb,2026-01-06,reference-call,\n";
        let events = parse_advocacy("adv.csv", ok, true).unwrap();
        assert_eq!(
            events,
            [
                advocacy("a", "2026-01-01", AdvocacyKind::Referral, Some("n")),
                advocacy("b", "2026-01-06", AdvocacyKind::ReferenceCall, None)
            ]
        );
        let jsonl = r#"{"account_id":"a","date":"2026-01-01","kind":"case-study"}"#;
        assert_eq!(
            parse_advocacy("adv.jsonl", jsonl, false).unwrap()[0].kind,
            AdvocacyKind::CaseStudy
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use super::{ledger::*, metrics::*};

    fn ledger() -> impl Strategy<Value = Vec<LedgerRow>> {
        let row = (
            0..6usize,
            0..365i32,
            prop::sample::select(vec![0.0, 100.0, 250.0, 1000.0]),
            any::<bool>(),
            0..3usize,
        );
        prop::collection::vec(row, 0..40).prop_map(|rows| {
            rows.into_iter()
                .map(|(account, day, arr, trial, segment)| LedgerRow {
                    account_id: format!("acct-{account}"),
                    date: Date::from_ymd(2026, 1, 1).unwrap().add_days(day),
                    arr,
                    stage: if trial && day % 5 == 0 {
                        RevenueStage::Trial
                    } else {
                        RevenueStage::Paid
                    },
                    segment: [None, Some("a"), Some("b")][segment].map(str::to_owned),
                    term_end: None,
                })
                .collect()
        })
    }

    fn query(by_segment: bool) -> RetentionQuery {
        let (from, to) = (Date::from_ymd(2026, 1, 1), Date::from_ymd(2026, 12, 31));
        RetentionQuery {
            period: PeriodKind::Month,
            from,
            to,
            by_segment,
        }
    }

    proptest! {
        #[test]
        fn retention_identities_hold(rows in ledger()) {
            let ledger = Ledger::new(rows);
            let months = retention(&ledger, &[], &[], &query(false));
            prop_assert_eq!(months.len(), 12);
            for m in &months {
                if let (Some(nrr), Some(grr), Some(exp)) = (m.nrr, m.grr, m.expansion_rate) {
                    prop_assert!((nrr - (grr + exp)).abs() < 1e-9, "NRR = GRR + expansion rate");
                    prop_assert!((0.0..=1.0).contains(&grr), "0 <= GRR <= 1, got {}", grr);
                } else {
                    prop_assert_eq!(m.start_arr, 0.0);
                }
                let walk = m.start_arr + m.new_arr + m.reactivation_arr + m.expansion_arr - m.contraction_arr - m.churned_arr;
                prop_assert!((walk - m.end_arr).abs() < 1e-6, "ARR walk");
            }
            for pair in months.windows(2) {
                prop_assert_eq!(pair[0].end_arr, pair[1].start_arr);
                prop_assert_eq!(
                    pair[0].start_logos + pair[0].new_logos + pair[0].reactivated_logos - pair[0].churned_logos,
                    pair[1].start_logos,
                    "logo counts add up"
                );
            }
        }

        #[test]
        fn segments_sum_to_the_total(rows in ledger()) {
            let ledger = Ledger::new(rows);
            let totals = retention(&ledger, &[], &[], &query(false));
            let parts = retention(&ledger, &[], &[], &query(true));
            for total in &totals {
                let mine = parts.iter().filter(|p| p.period_start == total.period_start);
                let (mut start, mut end, mut churn, mut logos) = (0.0, 0.0, 0.0, 0);
                for p in mine {
                    start += p.start_arr;
                    end += p.end_arr;
                    churn += p.churned_arr;
                    logos += p.start_logos;
                }
                prop_assert_eq!((start, end, churn, logos), (total.start_arr, total.end_arr, total.churned_arr, total.start_logos));
            }
        }
    }
}
