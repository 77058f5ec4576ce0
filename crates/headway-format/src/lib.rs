//! How a number in a factor's reason is written, in one place: the plugin kit
//! shows `num::fixed(x, 1)` with it, and the host writes the numbers of a
//! contract-0.3.0 reason in with it, so a reason reads the same wherever it was
//! formatted.
//!
//! Fixed decimals (0-6), halves rounded away from zero, no negative zero, an
//! optional `+` in front of positive values. A number that needs more than 15
//! digits (1e15 and over with no decimals, 1e13 with two) is written in
//! scientific notation (`1e15`, `-2.5e20`), NaN and the infinities as Rust shows
//! them (`NaN`, `inf`): so no number takes more than [`MAX_WIDTH`] bytes.

use std::fmt::Write as _;

/// The most decimals shown; more are shown as this many.
pub const MAX_DECIMALS: u8 = 6;

/// The most bytes [`fixed`] writes for one number: a sign, 15 digits and a
/// point, or `-1.7976931348623157e308`.
pub const MAX_WIDTH: usize = 23;

/// Powers of ten for the supported decimals: a table, not `powi` (a loop in wasm).
const SCALE: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];
/// The same powers as integers, up to the largest whole part shown (< 1e15).
const POW10: [u64; 16] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
];

/// Appends the `width` lowest decimal digits of `x`, most significant first.
fn push_digits(out: &mut String, x: u64, width: usize) {
    for p in POW10[..width].iter().rev() {
        out.push(char::from(b'0' + ((x / p) % 10) as u8));
    }
}

/// Appends `x` with `decimals` decimals (at most [`MAX_DECIMALS`]), with a `+`
/// in front of positive values when `signed`: `fixed(out, 0.125, 2, false)`
/// writes `0.13`, `fixed(out, 7.0, 0, true)` writes `+7`.
pub fn fixed(out: &mut String, x: f64, decimals: u8, signed: bool) {
    if !x.is_finite() {
        let _ = write!(out, "{x}");
        return;
    }
    let decimals = usize::from(decimals.min(MAX_DECIMALS));
    let scaled = x.abs() * SCALE[decimals];
    if scaled >= 1e15 {
        // Past 15 digits the last ones are binary noise, and the integer
        // below would not hold them.
        let _ = write!(out, "{x:e}");
        return;
    }
    // Digit by digit straight into `out`: no buffer, no formatting machinery.
    // Halves go away from zero with `trunc` (one wasm instruction), not `round`
    // (a library call in wasm).
    let whole = scaled.trunc();
    let n = (whole + if scaled - whole >= 0.5 { 1.0 } else { 0.0 }) as u64;
    if x < 0.0 && n != 0 {
        out.push('-');
    } else if signed {
        out.push('+');
    }
    let int = n / POW10[decimals];
    let width = POW10[1..].iter().take_while(|p| int >= **p).count() + 1;
    push_digits(out, int, width);
    if decimals > 0 {
        out.push('.');
        push_digits(out, n, decimals);
    }
}

/// A number's style in a contract-0.3.0 reason column: bits 0-2 the decimals,
/// bit 3 the sign flag.
pub fn style(decimals: u8, signed: bool) -> u8 {
    decimals.min(MAX_DECIMALS) | if signed { SIGNED } else { 0 }
}

/// Bit 3 of a style: a `+` in front of positive values.
const SIGNED: u8 = 1 << 3;

/// The decimals and sign flag of a style; `None` for a byte [`style`] never
/// makes (decimals over 6, or bits above 3).
pub fn unstyle(style: u8) -> Option<(u8, bool)> {
    let decimals = style & 0b111;
    (decimals <= MAX_DECIMALS && style & !(0b111 | SIGNED) == 0)
        .then_some((decimals, style & SIGNED != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(x: f64, decimals: u8, signed: bool) -> String {
        let mut out = String::new();
        fixed(&mut out, x, decimals, signed);
        out
    }

    #[test]
    fn ordinary_values_read_as_std_writes_them() {
        for (x, d) in [
            (41.0, 0),
            (0.5, 2),
            (123.456, 1),
            (-3.26, 1),
            (1e-9, 3),
            (99.99, 1),
            (0.0, 0),
            (123_456_789.123, 3),
            (99_999_999.999_999, 6),
        ] {
            // std rounds halves to even; these cases have no halves.
            assert_eq!(shown(x, d, false), format!("{x:.d$}", d = usize::from(d)));
        }
    }

    #[test]
    fn halves_signs_and_edges() {
        assert_eq!(shown(2.5, 0, false), "3", "halves away from zero");
        assert_eq!(shown(-2.5, 0, false), "-3");
        assert_eq!(shown(0.125, 2, false), "0.13");
        assert_eq!(shown(-0.004, 2, false), "0.00", "no negative zero");
        assert_eq!(shown(7.0, 0, true), "+7");
        assert_eq!(shown(0.0, 0, true), "+0");
        assert_eq!(shown(-5.0, 0, true), "-5");
        assert_eq!(shown(1.0, 9, false), "1.000000", "decimals capped at 6");
        assert_eq!(shown(f64::NAN, 1, false), "NaN");
        assert_eq!(shown(f64::NEG_INFINITY, 1, false), "-inf");
        assert_eq!(shown(1e15, 0, false), "1e15");
        assert_eq!(shown(-2.5e20, 2, true), "-2.5e20");
        assert_eq!(shown(999_999_999_999_999.0, 0, false), "999999999999999");
        assert_eq!(shown(-f64::MAX, 6, true), "-1.7976931348623157e308");
        assert_eq!(shown(12_345_678_901_234.5, 2, false), "1.23456789012345e13");
        for x in [
            -f64::MAX,
            -999_999_999_999_999.4,
            f64::MIN_POSITIVE,
            f64::NAN,
        ] {
            assert!(shown(x, 6, true).len() <= MAX_WIDTH, "{x}");
        }
    }

    #[test]
    fn styles_round_trip_and_refuse_unknown_bits() {
        for decimals in 0..=MAX_DECIMALS {
            for signed in [false, true] {
                assert_eq!(unstyle(style(decimals, signed)), Some((decimals, signed)));
            }
        }
        assert_eq!(style(9, false), 6);
        assert_eq!(unstyle(7), None, "decimals over 6");
        assert_eq!(unstyle(0b1_0000), None, "an unknown bit");
        assert_eq!(unstyle(0x80 | 2), None);
    }
}
