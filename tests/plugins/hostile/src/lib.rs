//! Misbehaves on purpose, as the tenant config says: `behaviour` is one of `loop`,
//! `alloc`, `recurse`, `panic`, `huge-output`, `log-flood`; `target` limits it to
//! one account id (default: every account). Other accounts score 100.

use std::sync::OnceLock;

use headway_pdk::{Account, LogLevel, PluginInfo, RuleError, Rules, Scorecard};

struct Hostile;

fn setting(key: &str) -> Option<&'static str> {
    static SETTINGS: OnceLock<(Option<String>, Option<String>)> = OnceLock::new();
    let (behaviour, target) = SETTINGS.get_or_init(|| {
        (
            headway_pdk::config("behaviour"),
            headway_pdk::config("target"),
        )
    });
    match key {
        "behaviour" => behaviour.as_deref(),
        _ => target.as_deref(),
    }
}

#[inline(never)]
#[allow(unconditional_recursion)] // on purpose: overflow the stack
fn recurse(depth: u64) -> u64 {
    std::hint::black_box(recurse(std::hint::black_box(depth + 1)) + 1)
}

impl Rules for Hostile {
    fn describe() -> PluginInfo {
        PluginInfo::new("hostile", "6.6.6")
            .band("red", 0.0)
            .band("green", 50.0)
            .factor("ok", "Ok", 1.0)
    }

    fn assess(a: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
        let targeted = setting("target").is_none_or(|t| t == a.id());
        let mut reason = String::from("fine");
        if targeted {
            match setting("behaviour").unwrap_or("") {
                "loop" => loop {
                    std::hint::black_box(&reason);
                },
                "alloc" => {
                    let mut hoard = Vec::new();
                    loop {
                        hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
                    }
                }
                "recurse" => {
                    recurse(0);
                }
                "panic" => panic!("cannot score account {}", a.id()),
                "huge-output" => reason = "x".repeat(1 << 20),
                "log-flood" => {
                    for i in 0..100_000 {
                        headway_pdk::log(LogLevel::Info, &format!("line {i}"));
                    }
                }
                _ => {}
            }
        }
        card.factor("ok", 1.0, 1.0, reason);
        Ok(())
    }
}

headway_pdk::export_rules!(Hostile);
