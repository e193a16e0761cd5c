use std::fmt;

use email_address::{EmailAddress, Options};
use serde::{Deserialize, Serialize};

use super::text::{check_scripts, check_text};
use crate::error::Invalid;

const EMAIL_MAX: usize = 254;

/// An email address as the user gave it (trimmed). Two emails that differ only
/// in case are the same address for matching: see `keys::email_key`.
///
/// Beyond the syntax (`email_address`, no display text or domain literal, a
/// TLD required, at most 254 bytes), an address is held to the same Unicode
/// rules as a name (`text::check_text`): printable ASCII (which the syntax
/// check narrows to what an address may hold) or characters that UTS #39
/// allows in identifiers, no compatibility forms, no mark without a letter.
/// That refuses a zero-width space or soft hyphen hidden in an address.
///
/// The script rule (`text::check_scripts`, at most Highly Restrictive) is
/// applied to the local part and to each label of the domain on its own:
/// "gаvin@hooli.com" (a Cyrillic "а") and "gavin@hооli.com" are refused,
/// while "анна@hooli.com" and "josé@пример.com" are not, since each part
/// is a name of its own, and a domain's labels are registered and checked
/// (by registries and browsers) one by one.
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
        let refused = |refusal| Invalid::new(format!("Email must {refusal}."));
        check_text(text).map_err(refused)?;
        // Parsed above, so there is an `@`; the last one ends the local part
        // (a quoted local part may hold another).
        let (local, domain) = text.rsplit_once('@').unwrap_or((text, ""));
        check_scripts(local).map_err(refused)?;
        for label in domain.split('.') {
            check_scripts(label).map_err(refused)?;
        }
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
    fn real_addresses_are_accepted() {
        for ok in [
            "gavin@hooli.com",
            "Gavin.Belson+test@hooli.com",
            "o'brien@example.ie",
            "josé@münchen.de",
            "анна@почта.рф",
            "анна@hooli.com",
            "josé@пример.com",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn look_alike_and_invisible_addresses_are_rejected() {
        for bad in [
            "g\u{430}vin@hooli.com",
            "ga\u{200B}vin@hooli.com",
            "gavin@h\u{43E}\u{43E}li.com",
            "gavin@hooli.c\u{43E}m",
            "ga\u{AD}vin@hooli.com",
            "gavin@hoo\u{2060}li.com",
            "\u{301}gavin@hooli.com",
            "gavin@\u{301}hooli.com",
            "g\u{251}vin@hooli.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refusals_name_the_field() {
        let message = |text: &str| Email::parse(text).unwrap_err().0;
        assert_eq!(
            message("gavin@h\u{43E}\u{43E}li.com"),
            "Email must not mix letters of different scripts."
        );
        assert_eq!(
            message("ga\u{200B}vin@hooli.com"),
            "Email must not contain the character U+200B."
        );
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
