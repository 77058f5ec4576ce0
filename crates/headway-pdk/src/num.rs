//! Cheap number formatting for factor reasons.
//!
//! `format!("{:.1}", x)` runs the exact float-to-decimal algorithm, which inside the
//! sandbox costs more than the rest of a typical rule. These helpers round to a
//! few decimals with integer arithmetic instead; use them in reasons written for
//! every account, as pieces of a tuple (see [`Reason`](crate::Reason)):
//! `(fixed(active, 0), " of ", fixed(seats, 0), " seats in use")`.

use std::fmt;

/// A number shown with a fixed number of decimals (0-6), e.g. `fixed(41.0, 0)` is
/// `41` and `fixed(0.125, 2)` is `0.13` (halves round away from zero).
pub fn fixed(x: f64, decimals: u8) -> Num {
    Num {
        x,
        decimals: decimals.min(6),
        scale: 1.0,
        sign: false,
        suffix: "",
    }
}

/// A share shown as a percentage: `percent(0.823, 1)` is `82.3%`.
pub fn percent(share: f64, decimals: u8) -> Num {
    Num {
        scale: 100.0,
        suffix: "%",
        ..fixed(share, decimals)
    }
}

/// A change shown as a signed percentage: `change(0.2, 0)` is `+20%`,
/// `change(-0.05, 0)` is `-5%`.
pub fn change(share: f64, decimals: u8) -> Num {
    Num {
        sign: true,
        ..percent(share, decimals)
    }
}

/// A number ready to display; see [`fixed`], [`percent`] and [`change`].
#[derive(Debug, Clone, Copy)]
pub struct Num {
    x: f64,
    decimals: u8,
    scale: f64,
    sign: bool,
    suffix: &'static str,
}

impl Num {
    /// Adds a `+` in front of positive values.
    pub fn signed(self) -> Self {
        Self { sign: true, ..self }
    }
}

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

impl crate::Reason for Num {
    fn write_to(&self, out: &mut String) {
        let v = self.x * self.scale;
        if !v.is_finite() || v.abs() >= 1e15 {
            use std::fmt::Write as _;
            let _ = write!(out, "{v}{}", self.suffix);
            return;
        }
        // Written straight into `out`, digit by digit: no buffer to check, no
        // formatting machinery. Halves go away from zero with `trunc` (one wasm
        // instruction), not `round` (a library call in wasm).
        let decimals = usize::from(self.decimals);
        let scaled = v.abs() * SCALE[decimals];
        let whole = scaled.trunc();
        let n = (whole + if scaled - whole >= 0.5 { 1.0 } else { 0.0 }) as u64;
        if v < 0.0 && n != 0 {
            out.push('-');
        } else if self.sign {
            out.push('+');
        }
        let int = n / POW10[decimals];
        let width = POW10[1..].iter().take_while(|p| int >= **p).count() + 1;
        push_digits(out, int, width);
        if decimals > 0 {
            out.push('.');
            push_digits(out, n, decimals);
        }
        out.push_str(self.suffix);
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        crate::Reason::write_to(self, &mut text);
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_std_for_ordinary_values() {
        for (x, d) in [
            (41.0, 0),
            (0.5, 2),
            (123.456, 1),
            (-3.26, 1),
            (1e-9, 3),
            (99.99, 1),
            (0.0, 0),
        ] {
            let std = format!("{x:.d$}", d = usize::from(d));
            // std rounds halves to even; ours away from zero: the cases above have no halves.
            assert_eq!(fixed(x, d).to_string(), std, "{x} to {d}");
        }
    }

    #[test]
    fn percentages_changes_and_edges() {
        assert_eq!(percent(0.823, 1).to_string(), "82.3%");
        assert_eq!(percent(1.0, 0).to_string(), "100%");
        assert_eq!(change(0.2, 0).to_string(), "+20%");
        assert_eq!(change(-0.05, 0).to_string(), "-5%");
        assert_eq!(change(0.0, 0).to_string(), "+0%");
        assert_eq!(fixed(-0.004, 2).to_string(), "0.00", "no negative zero");
        assert_eq!(fixed(2.5, 0).to_string(), "3", "halves away from zero");
        assert_eq!(fixed(7.0, 0).signed().to_string(), "+7");
        assert_eq!(fixed(f64::NAN, 1).to_string(), "NaN");
        assert_eq!(percent(f64::INFINITY, 1).to_string(), "inf%");
    }
}
