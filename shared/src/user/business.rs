use serde::{Deserialize, Serialize};
use time::macros::format_description;

use crate::error::Invalid;
use crate::user::Name;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BusinessIdType {
    #[serde(rename = "ABN")]
    Abn,
    #[serde(rename = "ACN")]
    Acn,
}

impl BusinessIdType {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        match text {
            "ABN" => Ok(Self::Abn),
            "ACN" => Ok(Self::Acn),
            _ => Err(Invalid::new("businessIdNoType must be ABN or ACN.")),
        }
    }
}

/// An ABN or ACN that passed its official check-digit test, stored as digits only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BusinessIdNo(String);

impl BusinessIdNo {
    /// Spaces are how these numbers are printed; they are dropped.
    pub fn parse(text: &str, kind: BusinessIdType) -> Result<Self, Invalid> {
        let digits: String = text.chars().filter(|c| *c != ' ').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new(
                "businessIdNo must contain only digits and spaces.",
            ));
        }
        let valid = match kind {
            BusinessIdType::Abn => digits.len() == 11 && abn_checks(digits.as_bytes()),
            BusinessIdType::Acn => digits.len() == 9 && acn_checks(digits.as_bytes()),
        };
        if !valid {
            let what = match kind {
                BusinessIdType::Abn => "an ABN (11 digits with a valid check)",
                BusinessIdType::Acn => "an ACN (9 digits with a valid check digit)",
            };
            return Err(Invalid::new(format!("businessIdNo is not {what}.")));
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn digit(b: u8) -> u32 {
    u32::from(b - b'0')
}

/// The ATO's algorithm: subtract 1 from the first digit, weight, sum, divisible by 89.
fn abn_checks(digits: &[u8]) -> bool {
    const WEIGHTS: [u32; 11] = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
    let first = digit(digits[0]);
    if first == 0 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .enumerate()
        .map(|(i, (d, w))| {
            if i == 0 {
                (first - 1) * w
            } else {
                digit(*d) * w
            }
        })
        .sum();
    sum.is_multiple_of(89)
}

/// ASIC's algorithm: weights 8 down to 1 over the first eight digits, check = (10 - sum mod 10) mod 10.
fn acn_checks(digits: &[u8]) -> bool {
    let sum: u32 = digits[..8]
        .iter()
        .zip((1..=8).rev())
        .map(|(d, w)| digit(*d) * w)
        .sum();
    (10 - sum % 10) % 10 == digit(digits[8])
}

const AUSTRALIAN_STATES: [&str; 8] = ["ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA"];

/// The address fields as they arrived, before validation.
#[derive(Debug, Default, Clone)]
pub struct AddressInput {
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub suburb: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    pub country_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suburb: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
}

impl BusinessAddress {
    /// On failure, names the field (in its JSON spelling) that is wrong.
    pub fn parse(input: AddressInput) -> Result<Self, (&'static str, Invalid)> {
        let text = |field: &'static str, value: Option<String>| {
            value
                .map(|v| Name::parse(&v).map_err(|e| (field, e)))
                .transpose()
                .map(Option::flatten)
        };
        let non_blank =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let address = Self {
            address_line1: text("addressLine1", input.address_line1)?,
            address_line2: text("addressLine2", input.address_line2)?,
            suburb: text("suburb", input.suburb)?,
            state: non_blank(input.state),
            postcode: non_blank(input.postcode),
            country_code: non_blank(input.country_code),
        };
        if let Some(country) = &address.country_code {
            if country.len() != 3 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err((
                    "countryCode",
                    Invalid::new("countryCode must be a three-letter ISO 3166 code, such as AUS."),
                ));
            }
        }
        if address.country_code.as_deref() == Some("AUS") {
            match address.state.as_deref() {
                Some(state) if AUSTRALIAN_STATES.contains(&state) => {}
                _ => {
                    return Err((
                        "state",
                        Invalid::new(format!(
                            "state must be one of {} when countryCode is AUS.",
                            AUSTRALIAN_STATES.join(", ")
                        )),
                    ))
                }
            }
            match address.postcode.as_deref() {
                Some(p) if p.len() == 4 && p.bytes().all(|b| b.is_ascii_digit()) => {}
                _ => {
                    return Err((
                        "postcode",
                        Invalid::new("postcode must be 4 digits when countryCode is AUS."),
                    ))
                }
            }
        }
        for (field, value) in [("state", &address.state), ("postcode", &address.postcode)] {
            if let Some(v) = value {
                Name::parse(v).map_err(|e| (field, e))?;
            }
        }
        Ok(address)
    }
}

/// The date the business details were verified, as Basiq writes it: DD/MM/YYYY.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VerificationDate(String);

impl VerificationDate {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let format = format_description!("[day]/[month]/[year]");
        time::Date::parse(text.trim(), format)
            .map_err(|_| Invalid::new("verificationDate must be a date written DD/MM/YYYY."))?;
        Ok(Self(text.trim().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_examples_pass_their_checks() {
        assert!(BusinessIdNo::parse("51 824 753 556", BusinessIdType::Abn).is_ok());
        assert!(BusinessIdNo::parse("53 004 085 616", BusinessIdType::Abn).is_ok());
        assert!(BusinessIdNo::parse("000 000 019", BusinessIdType::Acn).is_ok());
        assert!(BusinessIdNo::parse("004 085 616", BusinessIdType::Acn).is_ok());
        assert_eq!(
            BusinessIdNo::parse("004 085 616", BusinessIdType::Acn)
                .unwrap()
                .as_str(),
            "004085616"
        );
    }

    #[test]
    fn wrong_check_digits_and_lengths_fail() {
        for (text, kind) in [
            ("51 824 753 557", BusinessIdType::Abn),
            ("004 085 617", BusinessIdType::Acn),
            ("16 7645 892", BusinessIdType::Abn),
            ("51 824 753 556", BusinessIdType::Acn),
            ("5182475355a", BusinessIdType::Abn),
            ("", BusinessIdType::Acn),
        ] {
            assert!(BusinessIdNo::parse(text, kind).is_err(), "{text}");
        }
    }

    fn aus(state: &str, postcode: &str) -> AddressInput {
        AddressInput {
            address_line1: Some("21 Sydney Rd".into()),
            suburb: Some("Manly".into()),
            state: Some(state.into()),
            postcode: Some(postcode.into()),
            country_code: Some("AUS".into()),
            ..AddressInput::default()
        }
    }

    #[test]
    fn australian_addresses_need_a_state_and_four_digit_postcode() {
        assert!(BusinessAddress::parse(aus("NSW", "2095")).is_ok());
        assert_eq!(
            BusinessAddress::parse(aus("XYZ", "2095")).unwrap_err().0,
            "state"
        );
        assert_eq!(
            BusinessAddress::parse(aus("NSW", "209")).unwrap_err().0,
            "postcode"
        );
        let foreign = AddressInput {
            state: Some("Bavaria".into()),
            postcode: Some("80331".into()),
            country_code: Some("DEU".into()),
            ..AddressInput::default()
        };
        assert!(BusinessAddress::parse(foreign).is_ok());
    }

    #[test]
    fn verification_dates_are_day_month_year() {
        assert!(VerificationDate::parse("12/01/2024").is_ok());
        assert!(VerificationDate::parse("31/02/2024").is_err());
        assert!(VerificationDate::parse("2024-01-12").is_err());
    }
}
