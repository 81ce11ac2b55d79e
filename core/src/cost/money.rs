//! Fixed-point money: amounts are whole nano-units (10⁻⁹ of the currency) in an `i128`, parsed from the billing
//! files' decimal text without ever passing through floating point, and written back as decimal text.
//!
//! Billing exports carry up to ten decimals (AWS prices per request are fractions of a cent); nine decimals keep
//! every cent of a five-million-line file exact: a digit beyond the ninth is rounded half to even, which moves a
//! sum of five million lines by at most 0.0025 and in practice by nothing a cent can see.

use std::fmt;

/// Nano-units per unit of currency.
pub const SCALE: i128 = 1_000_000_000;
const SCALE_DIGITS: i32 = 9;

/// An amount of money in nano-units. Adding amounts of different currencies is the caller's mistake to avoid:
/// the importer and the reports key every sum by currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub i128);

/// Why a text is not an amount.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a decimal number.
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    /// Too large to hold.
    #[error("`{0}` is too large")]
    OutOfRange(String),
}

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// A whole number of currency units.
    pub const fn from_units(units: i64) -> Amount {
        Amount(units as i128 * 1_000_000_000)
    }

    /// Parses decimal text: an optional sign, digits with an optional fraction, an optional exponent
    /// (`1.5E-7`, as some exports write tiny amounts). Surrounding spaces are ignored.
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        let t = text.trim();
        let bad = || AmountError::NotANumber(text.to_owned());
        let big = || AmountError::OutOfRange(text.to_owned());
        let (negative, rest) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().map_err(|_| bad())?),
            None => (rest, 0),
        };
        let (whole, fraction) = match mantissa.split_once('.') {
            Some((w, f)) => (w, f),
            None => (mantissa, ""),
        };
        if (whole.is_empty() && fraction.is_empty())
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        // The number is `digits × 10^(exponent − fraction.len())`; bring it to nano-units.
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        let shift = exponent
            .checked_sub(i32::try_from(fraction.len()).map_err(|_| big())?)
            .and_then(|s| s.checked_add(SCALE_DIGITS))
            .ok_or_else(big)?;
        let value = if digits.is_empty() {
            0
        } else if shift >= 0 {
            let base: i128 = digits.parse().map_err(|_| big())?;
            let factor = 10i128.checked_pow(u32::try_from(shift).map_err(|_| big())?).ok_or_else(big)?;
            base.checked_mul(factor).ok_or_else(big)?
        } else {
            // Drop `-shift` digits, rounding half to even.
            let drop = usize::try_from(-shift).map_err(|_| big())?;
            if drop > digits.len() + 1 {
                0
            } else {
                let keep_len = digits.len().saturating_sub(drop);
                let kept: i128 = if keep_len == 0 { 0 } else { digits[..keep_len].parse().map_err(|_| big())? };
                let dropped = &digits[keep_len..];
                let padded = if dropped.len() < drop {
                    format!("{}{dropped}", "0".repeat(drop - dropped.len()))
                } else {
                    dropped.to_owned()
                };
                let first = padded.as_bytes()[0];
                let rest_nonzero = padded.as_bytes()[1..].iter().any(|&b| b != b'0');
                let round_up = first > b'5' || (first == b'5' && (rest_nonzero || kept % 2 == 1));
                if round_up { kept + 1 } else { kept }
            }
        };
        Ok(Amount(if negative { -value } else { value }))
    }

    /// Parses an optional amount column: empty text and the literal `NULL` (any case) that real exports write
    /// for missing values are zero.
    pub fn parse_lenient(text: &str) -> Result<Amount, AmountError> {
        let t = text.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("null") || t.eq_ignore_ascii_case("nan") {
            return Ok(Amount::ZERO);
        }
        Amount::parse(t)
    }

    /// From whole cents (for tests and generated data).
    pub const fn from_cents(cents: i64) -> Amount {
        Amount(cents as i128 * (SCALE / 100))
    }

    /// Rounded to whole cents, half away from zero (how an invoice rounds its total).
    pub fn round_cents(self) -> Amount {
        let unit = SCALE / 100;
        let q = self.0 / unit;
        let r = self.0 % unit;
        let q = if r.abs() * 2 >= unit { q + r.signum() } else { q };
        Amount(q * unit)
    }

    /// The amount in nano-units as stored in the database (`BIGINT`): ±9.2 billion units per row.
    pub fn to_db(self) -> Option<i64> {
        i64::try_from(self.0).ok()
    }

    /// Sum with overflow checking.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// Whether this is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Decimal text with at least two decimals and no trailing zeros beyond them: `12.50`, `-0.000000123`.
    pub fn to_decimal(self) -> String {
        self.to_string()
    }

    /// Decimal text rounded to exactly two decimals: `12.50`.
    pub fn to_cents_text(self) -> String {
        // A whole number of cents prints with exactly two decimals.
        self.round_cents().to_string()
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, other: Amount) -> Amount {
        Amount(self.0 + other.0)
    }
}

impl std::ops::AddAssign for Amount {
    fn add_assign(&mut self, other: Amount) {
        self.0 += other.0;
    }
}

impl std::ops::Sub for Amount {
    type Output = Amount;
    fn sub(self, other: Amount) -> Amount {
        Amount(self.0 - other.0)
    }
}

impl std::ops::Neg for Amount {
    type Output = Amount;
    fn neg(self) -> Amount {
        Amount(-self.0)
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        iter.fold(Amount::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / SCALE.unsigned_abs();
        let fraction = format!("{:09}", abs % SCALE.unsigned_abs());
        let trimmed = fraction.trim_end_matches('0');
        let shown = if trimmed.len() < 2 { &fraction[..2] } else { trimmed };
        write!(f, "{sign}{whole}.{shown}")
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        Amount::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> i128 {
        Amount::parse(s).unwrap().0
    }

    #[test]
    fn decimal_text_is_read_exactly() {
        assert_eq!(p("0"), 0);
        assert_eq!(p("12.5"), 12_500_000_000);
        assert_eq!(p("-0.000000001"), -1);
        assert_eq!(p("+3"), 3_000_000_000);
        assert_eq!(p(".25"), 250_000_000);
        assert_eq!(p("7."), 7_000_000_000);
        assert_eq!(p(" 1.10 "), 1_100_000_000);
        assert_eq!(p("0012.000"), 12_000_000_000);
        // 0.1 + 0.2 is exactly 0.3 here, unlike in floating point.
        assert_eq!(Amount::parse("0.1").unwrap() + Amount::parse("0.2").unwrap(), Amount::parse("0.3").unwrap());
    }

    #[test]
    fn exponents_and_extra_digits_are_handled() {
        assert_eq!(p("1.5E-7"), 150);
        assert_eq!(p("2e3"), 2_000_000_000_000);
        assert_eq!(p("1E-12"), 0);
        // Beyond nine decimals: half to even.
        assert_eq!(p("0.0000000015"), 2);
        assert_eq!(p("0.0000000025"), 2);
        assert_eq!(p("0.00000000251"), 3);
        assert_eq!(p("-0.0000000035"), -4);
        assert_eq!(p("0.0000000004999"), 0);
    }

    #[test]
    fn bad_numbers_are_refused_and_null_is_zero_where_allowed() {
        for bad in ["", "abc", "1,5", "1.2.3", "--1", "1e", "0x10", "NaN", "1 000"] {
            assert!(matches!(Amount::parse(bad), Err(AmountError::NotANumber(_))), "{bad}");
        }
        assert!(matches!(Amount::parse("1e60"), Err(AmountError::OutOfRange(_))));
        assert_eq!(Amount::parse_lenient("NULL").unwrap(), Amount::ZERO);
        assert_eq!(Amount::parse_lenient("").unwrap(), Amount::ZERO);
        assert!(Amount::parse_lenient("twelve").is_err());
    }

    #[test]
    fn amounts_print_as_decimal_text() {
        assert_eq!(Amount(0).to_string(), "0.00");
        assert_eq!(Amount::parse("12.5").unwrap().to_string(), "12.50");
        assert_eq!(Amount::parse("-0.000000123").unwrap().to_string(), "-0.000000123");
        assert_eq!(Amount::parse("1234.5678").unwrap().to_string(), "1234.5678");
        assert_eq!(Amount::parse("1234.5678").unwrap().to_cents_text(), "1234.57");
        assert_eq!(Amount::parse("-0.005").unwrap().to_cents_text(), "-0.01");
        assert_eq!(Amount::parse("0.004999").unwrap().to_cents_text(), "0.00");
        let json = serde_json::to_string(&Amount::parse("3.10").unwrap()).unwrap();
        assert_eq!(json, "\"3.10\"");
        assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), Amount::parse("3.1").unwrap());
    }
}
