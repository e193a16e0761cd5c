use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

const NAME_MAX: usize = 100;

/// A short free-text value: a person's name, a business name, an address line.
/// Trimmed, at most 100 characters, and free of control and bidirectional
/// formatting characters, which only ever serve to disguise what a name says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// An empty value is no value: `Ok(None)`.
    pub fn parse(text: &str) -> Result<Option<Self>, Invalid> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > NAME_MAX {
            return Err(Invalid::new(format!(
                "Must be at most {NAME_MAX} characters."
            )));
        }
        if text
            .chars()
            .any(|c| c.is_control() || is_invisible_format(c))
        {
            return Err(Invalid::new(
                "Must not contain control or invisible formatting characters.",
            ));
        }
        Ok(Some(Self(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Bidirectional overrides and isolates, zero-width characters and the BOM.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{061C}')
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Name {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)?.ok_or_else(|| Invalid::new("Must not be empty."))
    }
}

impl From<Name> for String {
    fn from(value: Name) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_treats_blank_as_absent() {
        assert_eq!(Name::parse("  Gavin ").unwrap().unwrap().as_str(), "Gavin");
        assert_eq!(Name::parse("   ").unwrap(), None);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(Name::parse(&"é".repeat(100)).unwrap().is_some());
        assert!(Name::parse(&"é".repeat(101)).is_err());
    }

    #[test]
    fn rejects_control_and_bidi_characters() {
        for bad in [
            "Ga\u{0}vin",
            "Ga\nvin",
            "Gav\u{202E}nileB",
            "Ga\u{200B}vin",
            "\u{7f}x",
        ] {
            assert!(Name::parse(bad).is_err(), "{bad:?}");
        }
    }
}
