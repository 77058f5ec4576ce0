//! Every parser against input built to break it: random bytes, and valid lines
//! cut, spliced and corrupted at random. A parser may refuse a line, never panic,
//! never lose one (each non-blank line is an account or an error naming it), and
//! never quote more than an excerpt of it. Runs in seconds on every test run;
//! `tests/fuzz` holds the coverage-guided targets (cargo-fuzz) run by hand.

use headway_core::fixtures::parse_fixtures;
use headway_core::retention::{parse_ledger, parse_surveys};
use headway_core::{InputDefaults, MAX_QUOTED_BYTES, parse_csv, parse_jsonl};
use proptest::prelude::*;

const GOOD_JSON: &str = r#"{"id":"a1","name":"Acme \"Q\"","segment":"smb","stage":"active","arr":1200,"start_date":"2025-01-01","renewal_date":null,"as_of":"2026-11-01","measures":{"seats":10,"nps":null},"history":{"wau":[["2026-10-01",4],["2026-09-01",3]]},"outcomes":[{"name":"otif","value":0.9,"target":0.95,"higher_is_better":true}],"attributes":{"region":"emea"},"milestones_reached":{"first-value":"2025-02-01"}}"#;
const GOOD_CSV: &str = "id,name,stage,arr,start_date,as_of,measure.seats,attribute.region,outcome.cpc,outcome.cpc.target,outcome.cpc.direction,reached.first-value\n\
                        c1,\"Beta, Inc\",active,1000,2025-01-01,2026-11-01,12,emea,0.8,1.0,lower,2025-03-01\n";
const GOOD_LEDGER: &str =
    "account_id,date,arr,stage,segment,term_end\nacme-1,2025-03-01,12000,paid,smb,2026-03-01\n";

/// `base` with a few random edits: bytes replaced, cut out, or pasted in.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    let edit = (0..3u8, any::<prop::sample::Index>(), any::<u8>(), 0..8usize);
    prop::collection::vec(edit, 0..6).prop_map(move |edits| {
        let mut bytes = base.as_bytes().to_vec();
        for (kind, at, byte, len) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => {
                    let end = (i + len).min(bytes.len());
                    bytes.drain(i..end);
                }
                _ => {
                    let piece = bytes[i..(i + len).min(bytes.len())].to_vec();
                    bytes.splice(i..i, piece);
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn non_blank_lines(text: &str) -> usize {
    text.lines().filter(|l| !l.trim().is_empty()).count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn json_lines_never_panic_and_never_lose_a_line(
        lines in prop::collection::vec(prop_oneof![mutated(GOOD_JSON), ".{0,80}"], 1..6)
    ) {
        let text = lines.join("\n");
        let parsed = parse_jsonl("fuzz.jsonl", &text, &InputDefaults::default());
        prop_assert_eq!(parsed.accounts.len() + parsed.errors.len(), non_blank_lines(&text));
        for e in &parsed.errors {
            prop_assert!(e.line >= 1 && e.line <= text.lines().count());
            prop_assert!(e.message.len() <= MAX_QUOTED_BYTES + 40, "{}", e.message);
        }
    }

    #[test]
    fn csv_never_panics(text in prop_oneof![mutated(GOOD_CSV), ".{0,120}"]) {
        let parsed = parse_csv("fuzz.csv", &text, &InputDefaults::default());
        for e in &parsed.errors {
            prop_assert!(e.message.len() <= MAX_QUOTED_BYTES + 40, "{}", e.message);
        }
    }

    #[test]
    fn ledgers_and_surveys_never_panic(text in prop_oneof![mutated(GOOD_LEDGER), ".{0,120}"]) {
        let _ = parse_ledger("fuzz.csv", &text, true, false);
        let _ = parse_ledger("fuzz.jsonl", &text, false, false);
        let _ = parse_surveys("fuzz.csv", &text, true);
    }

    #[test]
    fn fixtures_never_panic(account in mutated(GOOD_JSON)) {
        let account = account.replace(['\n', '\r'], " ");
        let line = format!(r#"{{"name":"case","account":{account},"expect":{{"score":50}}}}"#);
        let (cases, errors) = parse_fixtures("fuzz.jsonl", &line);
        prop_assert_eq!(cases.len() + errors.len(), 1);
    }
}
