use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

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
        if mixes_scripts(text) || !text.nfkc().eq(text.nfc()) {
            return Err(Invalid::new(
                "Must not mix Latin, Greek and Cyrillic letters, or use look-alike forms (fullwidth, mathematical letters).",
            ));
        }
        Ok(Some(Self(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Letters from more than one of the scripts whose letters look alike (the
/// Cyrillic "а" in "Gаvin"): the classic way to impersonate a name.
fn mixes_scripts(text: &str) -> bool {
    let (mut latin, mut greek, mut cyrillic) = (false, false, false);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        match u32::from(c) {
            0x41..=0x24F | 0x1E00..=0x1EFF => latin = true,
            0x370..=0x3FF | 0x1F00..=0x1FFF => greek = true,
            0x400..=0x52F => cyrillic = true,
            _ => {}
        }
    }
    u8::from(latin) + u8::from(greek) + u8::from(cyrillic) > 1
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
    fn rejects_look_alikes_but_keeps_real_names() {
        for ok in [
            "José Núñez",
            "Ngọc Nguyễn",
            "Łukasz",
            "Αλέξανδρος",
            "Анна",
            "O'Brien-Smith",
            "李小龍",
        ] {
            assert!(Name::parse(ok).unwrap().is_some(), "{ok}");
        }
        for bad in [
            "G\u{430}vin",
            "Gavin Аnna",
            "ｇａｖｉｎ",
            "\u{1D406}avin",
            "Αlpha",
        ] {
            assert!(Name::parse(bad).is_err(), "{bad}");
        }
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
