//! JSON Lines accounts: never a panic, never a lost line, errors quote excerpts.
#![no_main]

use headway_core::{InputDefaults, MAX_QUOTED_BYTES, parse_jsonl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = parse_jsonl("fuzz.jsonl", &text, &InputDefaults::default());
    let lines = text.split('\n').filter(|l| !l.trim().is_empty()).count();
    assert_eq!(parsed.accounts.len() + parsed.errors.len(), lines);
    for e in &parsed.errors {
        assert!(e.message.len() <= MAX_QUOTED_BYTES + 200, "{}", e.message);
    }
});
