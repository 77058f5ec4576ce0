//! CSV accounts: never a panic, errors quote excerpts.
#![no_main]

use headway_core::{InputDefaults, MAX_QUOTED_BYTES, parse_csv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = parse_csv("fuzz.csv", &text, &InputDefaults::default());
    for e in &parsed.errors {
        assert!(e.message.len() <= MAX_QUOTED_BYTES + 200, "{}", e.message);
    }
});
