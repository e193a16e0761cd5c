//! The values financial records are made of. Money is a decimal string from
//! the JSON body to the table and back: it is never parsed into a float.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

macro_rules! text_value {
    ($name:ident, $parse:expr) => {
        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                let parse: fn(&str) -> Result<$name, Invalid> = $parse;
                parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// An amount of money: optional minus, up to 15 integer digits, up to 4 decimals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Amount(String);
text_value!(Amount, Amount::parse);

impl Amount {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (unsigned, None),
        };
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        if digits(whole, 15) && fraction.is_none_or(|f| digits(f, 4)) {
            Ok(Self(text.to_owned()))
        } else {
            Err(Invalid::new(
                "Must be a decimal string such as \"-12.50\" (up to 15 digits, 4 decimals).",
            ))
        }
    }
}

/// An ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);
text_value!(Currency, Currency::parse);

impl Currency {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(Invalid::new(
                "Must be a three-letter currency code such as AUD.",
            ))
        }
    }
}

/// An RFC 3339 instant, stored in UTC with milliseconds so that text order is time order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(String);
text_value!(Timestamp, Timestamp::parse);

impl Timestamp {
    /// Any RFC 3339 instant whose UTC time falls in the years 0000 to 9999:
    /// only those can be stored as RFC 3339 text and read back.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                Invalid::new("Must be an RFC 3339 date and time, such as 2024-01-15T09:30:00Z.")
            })?;
        crate::clock::format(at)
            .map(Self)
            .ok_or_else(|| Invalid::new("Must be between the years 0000 and 9999 in UTC."))
    }

    pub fn now() -> Self {
        Self(crate::clock::now())
    }
}

/// A calendar day, `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Day(String);
text_value!(Day, Day::parse);

impl Day {
    /// Exactly `YYYY-MM-DD`: `time`'s `[year]` also takes a sign
    /// (`+2024-01-15`), which is not such a date, and which would sort before
    /// every date as a key bound.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let unsigned = text.bytes().next().is_some_and(|b| b.is_ascii_digit());
        match time::Date::parse(text, format) {
            Ok(_) if unsigned => Ok(Self(text.to_owned())),
            _ => Err(Invalid::new("Must be a date written YYYY-MM-DD.")),
        }
    }
}

/// A sub-class code: 1 to 10 letters and digits (an ANZSIC code, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubClassCode(String);
text_value!(SubClassCode, SubClassCode::parse);

impl SubClassCode {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if (1..=10).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(Invalid::new("Must be 1 to 10 letters and digits."))
        }
    }
}

/// An id given by the aggregation engine: 1 to 64 letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordId(String);
text_value!(RecordId, RecordId::parse);

impl RecordId {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Ok(Self(text.to_owned()))
        } else {
            Err(Invalid::new("Must be 1 to 64 letters, digits, '-' or '_'."))
        }
    }

    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

/// An account number with all but its last four characters hidden. Only the
/// masked form is ever stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MaskedAccountNo(String);
text_value!(MaskedAccountNo, MaskedAccountNo::parse);

impl MaskedAccountNo {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if compact.is_empty()
            || compact.len() > 34
            || !compact.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(Invalid::new(
                "Must be an account number of up to 34 letters and digits.",
            ));
        }
        let visible = compact.len().saturating_sub(4);
        let masked: String = compact
            .chars()
            .enumerate()
            .map(|(i, c)| if i < visible { 'x' } else { c })
            .collect();
        Ok(Self(masked))
    }
}

/// A transaction description: trimmed, 1 to 255 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);
text_value!(Description, Description::parse);

impl Description {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 255 {
            return Err(Invalid::new("Must be 1 to 255 characters."));
        }
        if text.chars().any(char::is_control) {
            return Err(Invalid::new("Must not contain control characters."));
        }
        Ok(Self(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_exactly_yyyy_mm_dd() {
        for ok in ["2024-01-15", "0000-01-01", "9999-12-31", "2024-02-29"] {
            assert_eq!(Day::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "+2024-01-15",
            "-0001-01-01",
            "2023-02-29",
            "2024-1-15",
            "24-01-15",
            " 2024-01-15",
            "2024-01-15T00:00:00Z",
            "",
        ] {
            assert!(Day::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn amounts_are_decimal_strings() {
        for ok in ["0", "-12.50", "1234567.8901", "999999999999999"] {
            assert_eq!(Amount::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "-",
            "1.",
            ".5",
            "1e3",
            "12.34567",
            "1,000",
            "NaN",
            "+1",
            "0x10",
            "1000000000000000",
        ] {
            assert!(Amount::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_refuse_json_numbers() {
        assert!(serde_json::from_str::<Amount>("12.5").is_err());
        assert_eq!(
            serde_json::from_str::<Amount>("\"12.5\"").unwrap().as_str(),
            "12.5"
        );
    }

    #[test]
    fn timestamps_normalise_to_utc_milliseconds() {
        assert_eq!(
            Timestamp::parse("2024-01-15T19:30:00+10:00")
                .unwrap()
                .as_str(),
            "2024-01-15T09:30:00.000Z"
        );
        assert!(Timestamp::parse("2024-01-15").is_err());
    }

    #[test]
    fn timestamps_outside_four_digit_utc_years_are_refused_not_stored() {
        // Both are valid RFC 3339, but their UTC instant falls outside 0000-9999,
        // which cannot be written back as RFC 3339.
        for edge in ["0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-23:59"] {
            assert!(Timestamp::parse(edge).is_err(), "{edge}");
        }
        for ok in [
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
            "0000-01-01T23:59:00+23:59",
        ] {
            let stored = Timestamp::parse(ok).unwrap();
            assert_eq!(Timestamp::parse(stored.as_str()).unwrap(), stored, "{ok}");
        }
    }

    #[test]
    fn account_numbers_are_masked() {
        assert_eq!(
            MaskedAccountNo::parse("062-000 12345678").unwrap().as_str(),
            "xxxxxxxxxx5678"
        );
        assert_eq!(MaskedAccountNo::parse("123").unwrap().as_str(), "123");
        assert!(MaskedAccountNo::parse("12<script>").is_err());
    }

    #[test]
    fn record_ids_are_plain() {
        assert!(RecordId::parse("acc_01-A").is_ok());
        for bad in ["", "a/b", "a#b", &"a".repeat(65), "ä"] {
            assert!(RecordId::parse(bad).is_err(), "{bad}");
        }
    }
}
