//! Golden fixtures: never a panic, every non-blank line a case or an error.
#![no_main]

use headway_core::fixtures::parse_fixtures;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (cases, errors) = parse_fixtures("fuzz.jsonl", &text);
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(cases.len() + errors.len() <= lines.max(1));
});
