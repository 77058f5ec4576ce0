//! Numbers in factor reasons.
//!
//! Write a number of a reason as a piece of its tuple (see
//! [`Reason`](crate::Reason)): `(fixed(active, 0), " of ", fixed(seats, 0), " seats
//! in use")`. The kit sends it to the host as a number, and the host writes it
//! in: no float is formatted inside the sandbox, where `format!("{:.1}", x)`
//! costs more than the rest of a typical rule.

use std::fmt;

/// A number shown with a fixed number of decimals (0-6), e.g. `fixed(41.0, 0)` is
/// `41` and `fixed(0.125, 2)` is `0.13` (halves round away from zero).
#[inline(always)]
pub fn fixed(x: f64, decimals: u8) -> Num {
    Num {
        x,
        decimals: decimals.min(headway_format::MAX_DECIMALS),
        scale: 1.0,
        sign: false,
        suffix: "",
    }
}

/// A share shown as a percentage: `percent(0.823, 1)` is `82.3%`.
#[inline(always)]
pub fn percent(share: f64, decimals: u8) -> Num {
    Num {
        scale: 100.0,
        suffix: "%",
        ..fixed(share, decimals)
    }
}

/// A change shown as a signed percentage: `change(0.2, 0)` is `+20%`,
/// `change(-0.05, 0)` is `-5%`.
#[inline(always)]
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

impl crate::Reason for Num {
    #[inline(always)]
    fn write_to(&self, out: &mut crate::ReasonText<'_>) {
        out.number(self.x * self.scale, self.decimals, self.sign);
        if !self.suffix.is_empty() {
            out.push_str(self.suffix);
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        headway_format::fixed(&mut text, self.x * self.scale, self.decimals, self.sign);
        text.push_str(self.suffix);
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_changes_and_edges() {
        assert_eq!(fixed(41.0, 0).to_string(), "41");
        assert_eq!(fixed(0.125, 2).to_string(), "0.13");
        assert_eq!(percent(0.823, 1).to_string(), "82.3%");
        assert_eq!(percent(1.0, 0).to_string(), "100%");
        assert_eq!(change(0.2, 0).to_string(), "+20%");
        assert_eq!(change(-0.05, 0).to_string(), "-5%");
        assert_eq!(change(0.0, 0).to_string(), "+0%");
        assert_eq!(fixed(-0.004, 2).to_string(), "0.00", "no negative zero");
        assert_eq!(fixed(7.0, 0).signed().to_string(), "+7");
        assert_eq!(fixed(f64::NAN, 1).to_string(), "NaN");
        assert_eq!(percent(f64::INFINITY, 1).to_string(), "inf%");
    }
}
