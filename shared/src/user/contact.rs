use std::fmt;

use email_address::{EmailAddress, Options};
use serde::{Deserialize, Serialize};

use crate::error::Invalid;

const EMAIL_MAX: usize = 254;

/// An email address as the user gave it (trimmed). Two emails that differ only
/// in case are the same address for matching: see `keys::email_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Invalid::new("Email must not be empty."));
        }
        if text.len() > EMAIL_MAX {
            return Err(Invalid::new(format!(
                "Email must be at most {EMAIL_MAX} characters."
            )));
        }
        let options = Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        EmailAddress::parse_with_options(text, options)
            .map_err(|_| Invalid::new("Email is not a valid email address."))?;
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// An international mobile number, stored as `+` and 8 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mobile(String);

impl Mobile {
    /// Spaces and dashes are how people type numbers; they are dropped.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let compact: String = text
            .trim()
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .collect();
        let digits = compact.strip_prefix('+').ok_or_else(|| {
            Invalid::new("Mobile must be in international format: + then country code and number.")
        })?;
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new("Mobile must be + followed by 8 to 15 digits."));
        }
        Ok(Self(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Mobile {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Mobile> for String {
    fn from(value: Mobile) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_kept_as_given_and_fold_for_matching() {
        let email = Email::parse("  Gavin@Hooli.com ").unwrap();
        assert_eq!(email.as_str(), "Gavin@Hooli.com");
        assert_eq!(crate::keys::email_key(email.as_str()), "gavin@hooli.com");
    }

    #[test]
    fn bad_emails_are_rejected() {
        let long = format!("{}@hooli.com", "a".repeat(250));
        for bad in [
            "",
            "gavin",
            "gavin@",
            "@hooli.com",
            "gavin@hooli",
            "Gavin <gavin@hooli.com>",
            "gavin@[127.0.0.1]",
            long.as_str(),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mobiles_normalise_spaces_and_dashes() {
        assert_eq!(
            Mobile::parse("+61 410-888 666").unwrap().as_str(),
            "+61410888666"
        );
        assert_eq!(Mobile::parse("+12345678").unwrap().as_str(), "+12345678");
        assert_eq!(
            Mobile::parse("+123456789012345").unwrap().as_str(),
            "+123456789012345"
        );
    }

    #[test]
    fn bad_mobiles_are_rejected() {
        for bad in [
            "0410888666",
            "+1234567",
            "+1234567890123456",
            "+61 41O 888 666",
            "++61410888666",
            "+٠١٢٣٤٥٦٧٨٩",
            "",
        ] {
            assert!(Mobile::parse(bad).is_err(), "{bad}");
        }
    }
}
