//! NumericDate (RFC 7519 §2): seconds since the epoch, "which can be non-integer". Read from
//! JSON exactly, without floating point, as the integer part and whether a fraction follows,
//! so comparisons can round in the direction that never widens an acceptance window.

use keybound_json::Value;

/// A NumericDate claim value (`iat`, `exp`, `nbf`; RFC 7519 §2, §4.1.4–§4.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NumericDate {
    floor: i64,
    fraction: bool,
}

/// Integer parts of more digits than this do not fit `i64` and are refused.
const MAX_INT_DIGITS: usize = 18;

impl NumericDate {
    /// A whole number of seconds.
    pub const fn from_secs(secs: i64) -> Self {
        NumericDate {
            floor: secs,
            fraction: false,
        }
    }

    /// Reads a JSON number (integer, fraction or exponent form) as a NumericDate; `None` for
    /// any other value, or one whose integer part needs more than 18 digits.
    pub fn from_json(value: &Value<'_>) -> Option<Self> {
        Self::parse(value.as_number()?.raw())
    }

    /// Parses the text of a JSON number (RFC 8259 §6 grammar, already validated).
    pub fn parse(raw: &str) -> Option<Self> {
        let (negative, rest) = match raw.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, raw),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => (rest.get(..i)?, parse_exp(rest.get(i + 1..)?)?),
            None => (rest, 0),
        };
        let (int_digits, frac_digits) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_digits.is_empty() || !all_digits(int_digits) || !all_digits(frac_digits) {
            return None;
        }
        // The digits of int‖frac with the decimal point `point` digits from the left.
        let digits_len = int_digits.len() + frac_digits.len();
        let point = i64::try_from(int_digits.len()).ok()?.checked_add(exp)?;
        let digit = |i: usize| {
            let b = if i < int_digits.len() {
                int_digits.as_bytes().get(i)
            } else {
                frac_digits.as_bytes().get(i - int_digits.len())
            };
            b.map_or(0, |b| u64::from(b - b'0'))
        };
        let mut int: u64 = 0;
        let mut fraction = false;
        let mut int_len = 0usize;
        for i in 0..digits_len {
            let d = digit(i);
            if i64::try_from(i).ok()? < point {
                if int != 0 || d != 0 {
                    int_len += 1;
                }
                if int_len > MAX_INT_DIGITS {
                    return None;
                }
                int = int * 10 + d;
            } else if d != 0 {
                fraction = true;
            }
        }
        // Zeros implied by a positive exponent past the last digit.
        let trailing = point - i64::try_from(digits_len).ok()?;
        if trailing > 0 && int != 0 {
            for _ in 0..trailing {
                int_len += 1;
                if int_len > MAX_INT_DIGITS {
                    return None;
                }
                int *= 10;
            }
        }
        let int = i64::try_from(int).ok()?;
        let floor = match (negative, fraction) {
            (false, _) => int,
            (true, false) => -int,
            (true, true) => -int - 1,
        };
        Some(NumericDate { floor, fraction })
    }

    /// The largest whole second not after the date.
    pub const fn floor(self) -> i64 {
        self.floor
    }

    /// The smallest whole second not before the date.
    pub const fn ceil(self) -> i64 {
        if self.fraction {
            self.floor.saturating_add(1)
        } else {
            self.floor
        }
    }

    /// Whether the date has a fractional part.
    pub const fn has_fraction(self) -> bool {
        self.fraction
    }

    /// Whether the date lies strictly before the whole second `t`.
    pub const fn is_before(self, t: i64) -> bool {
        // v < t ⟺ floor(v) < t for an integer t.
        self.floor < t
    }

    /// Whether the date lies strictly after the whole second `t`.
    pub const fn is_after(self, t: i64) -> bool {
        // v > t ⟺ ceil(v) > t for an integer t.
        self.ceil() > t
    }
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// An exponent, clamped: beyond ±100 every usable date is out of range anyway.
fn parse_exp(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if digits.is_empty() || !all_digits(digits) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    let value = if significant.len() > 3 {
        1000
    } else {
        significant.parse::<i64>().unwrap_or(0)
    };
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nd(s: &str) -> Option<(i64, bool)> {
        NumericDate::parse(s).map(|d| (d.floor(), d.has_fraction()))
    }

    #[test]
    fn integers_fractions_and_exponents() {
        assert_eq!(nd("1700000000"), Some((1_700_000_000, false)));
        assert_eq!(nd("1700000000.0"), Some((1_700_000_000, false)));
        assert_eq!(nd("1700000000.25"), Some((1_700_000_000, true)));
        assert_eq!(nd("1.7e9"), Some((1_700_000_000, false)));
        assert_eq!(nd("1.70000000025E9"), Some((1_700_000_000, true)));
        assert_eq!(nd("17000000005e-1"), Some((1_700_000_000, true)));
        assert_eq!(nd("0"), Some((0, false)));
        assert_eq!(nd("-0"), Some((0, false)));
        assert_eq!(nd("0.5"), Some((0, true)));
        assert_eq!(nd("-5"), Some((-5, false)));
        assert_eq!(nd("-5.5"), Some((-6, true)));
        assert_eq!(nd("1e-400"), Some((0, true)));
        assert_eq!(nd("0e400"), Some((0, false)));
        assert_eq!(
            nd("999999999999999999"),
            Some((999_999_999_999_999_999, false))
        );
    }

    #[test]
    fn rejects_out_of_range() {
        assert_eq!(nd("1e18"), None);
        assert_eq!(nd("9999999999999999999"), None);
        assert_eq!(nd("1e400"), None);
        assert_eq!(nd("abc"), None);
    }

    #[test]
    fn comparisons_never_widen_a_window() {
        let d = NumericDate::parse("1000.5").unwrap_or(NumericDate::from_secs(0));
        assert!(d.is_before(1001) && !d.is_before(1000));
        assert!(d.is_after(1000) && !d.is_after(1001));
        assert_eq!((d.floor(), d.ceil()), (1000, 1001));
        let w = NumericDate::from_secs(1000);
        assert!(!w.is_before(1000) && !w.is_after(1000));
    }
}
