//! A perfectly good component for some other contract.

wit_bindgen::generate!({
    inline: "
        package acme:calculator@1.0.0;
        world calculator {
            export add: func(a: u32, b: u32) -> u32;
        }
    ",
});

struct Calculator;

impl Guest for Calculator {
    fn add(a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }
}

export!(Calculator);
