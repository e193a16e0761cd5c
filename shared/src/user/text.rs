use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_security::{GeneralSecurityProfile, RestrictionLevel, RestrictionLevelDetection};

use crate::error::Invalid;

const NAME_MAX: usize = 100;

/// A short free-text value: a person's name, a business name, an address line.
///
/// Trimmed (a blank value is no value), at most 100 characters, and held to
/// the rules of [`check_text`] and [`check_scripts`], which rest on Unicode's
/// own data rather than on lists of our making: UTS #39's identifier profile
/// for which characters may appear, Unicode's general categories for where a
/// combining mark may stand, and UTS #39's restriction levels for which
/// scripts may be mixed.
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
        check_text(text).map_err(|refusal| Invalid::new(format!("Must {refusal}.")))?;
        check_scripts(text).map_err(|refusal| Invalid::new(format!("Must {refusal}.")))?;
        Ok(Some(Self(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a text was refused, worded to follow "Must" or "Email must".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A compatibility form: a fullwidth or mathematical letter, a ligature.
    CompatibilityForm(char),
    /// A character outside the identifier profile and outside printable ASCII.
    Character(char),
    /// A combining mark with no letter or digit to sit on.
    DetachedMark,
    /// Letters of scripts that UTS #39 does not let one identifier mix.
    MixedScripts,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CompatibilityForm(c) => write!(
                f,
                "not use compatibility forms such as fullwidth or mathematical letters (U+{:04X})",
                u32::from(*c)
            ),
            Self::Character(c) => write!(f, "not contain the character U+{:04X}", u32::from(*c)),
            Self::DetachedMark => f.write_str("not have an accent or other mark without a letter"),
            Self::MixedScripts => f.write_str("not mix letters of different scripts"),
        }
    }
}

/// Printable ASCII: the space and every ASCII letter, digit and punctuation
/// sign, `!` to `~`.
///
/// UTS #39's identifier profile is made for identifiers, so of ASCII it
/// allows only letters, digits and `' - . : _`. Names, business names and
/// addresses need more: the space, `,` `&` `(` `)` `/` `#` ("Smith & Sons
/// (Aust) Pty. Ltd.", "Unit 4/12"), `!` `+` `"` `@` and the like in business
/// names ("Yahoo!", "C++"), and email addresses need `+` `=` `{` `}` and the
/// rest of RFC 5322's atext. We allow all of printable ASCII rather than a
/// subset because what the identifier profile guards against does not apply
/// to it: no ASCII character is invisible, no ASCII sign belongs to a script
/// (so none can smuggle one in), and each is typed the same way on every
/// keyboard. ASCII's own look-alikes (`|` and `l`, `0` and `O`) are as old
/// as ASCII, and refusing a few signs would not remove them (`l` and `I`
/// stay). Text that looks like markup or a query (`<b>`, `'); DROP TABLE`)
/// is only text: values reach DynamoDB as bound values and are encoded on
/// output, and the API's tests store such names verbatim.
pub(crate) fn is_printable_ascii(c: char) -> bool {
    matches!(c, ' '..='~')
}

/// The character rules shared by names and email addresses (whose syntax
/// `email_address` checks first), in the order a client is best told about:
///
/// 1. **No compatibility forms** (NFKC must equal NFC): fullwidth
///    "ｇａｖｉｎ", mathematical "𝐆avin", ligatures, the no-break space. Rule 2
///    refuses these characters too (the identifier profile excludes every
///    character that NFKC changes), but this says why.
/// 2. **Only characters allowed in identifiers by UTS #39** (Identifier_Status
///    = Allowed), **or printable ASCII** (see [`is_printable_ascii`]). The
///    profile leaves out, by Unicode's own data, every control, format,
///    separator and default-ignorable character (soft hyphen, zero-width
///    space and joiners, bidi controls, variation selectors, tag
///    characters, U+2028/U+2029, the Hangul filler, the Mongolian vowel
///    separator), the
///    technical and obsolete letters that imitate Latin (IPA "ɑ", small
///    capital "ᴀ", Braille blank), and the scripts and characters of
///    limited or historic use (Cherokee among them).
/// 3. **A combining mark (General_Category M) must follow a letter, a digit
///    or another mark** (the Alphabetic and Numeric properties): a mark at
///    the start of the text, or after a space or punctuation sign, draws an
///    accent on nothing or on the sign, and a name may not start with one.
pub(crate) fn check_text(text: &str) -> Result<(), Refusal> {
    if !text.nfkc().eq(text.nfc()) {
        // The text differs from its NFKC only where a character has a
        // compatibility decomposition: name the first, to say what to fix.
        let form = text
            .chars()
            .find(|c| std::iter::once(*c).nfkd().ne(std::iter::once(*c).nfd()))
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        return Err(Refusal::CompatibilityForm(form));
    }
    if let Some(c) = text
        .chars()
        .find(|c| !is_printable_ascii(*c) && !c.identifier_allowed())
    {
        return Err(Refusal::Character(c));
    }
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if is_combining_mark(c)
            && !previous.is_some_and(|p| p.is_alphanumeric() || is_combining_mark(p))
        {
            return Err(Refusal::DetachedMark);
        }
        previous = Some(c);
    }
    Ok(())
}

/// The script rule shared by names and each part of an email address: the
/// text's letters must reach at most UTS #39's **Highly Restrictive** level.
///
/// That level allows one script (with the Common and Inherited characters
/// that every script uses: digits, marks, the apostrophe), and the writing
/// systems that mix scripts by nature: Latin with Han, Hiragana and
/// Katakana (Japanese), Latin with Han and Bopomofo (Chinese), Latin with
/// Han and Hangul (Korean). It refuses Latin with Cyrillic, Greek,
/// Armenian, Cherokee or any other script: "Gаvin" with a Cyrillic "а",
/// "Bօb" with an Armenian "օ". The level is computed on the text without
/// its printable ASCII signs (`detect_restriction_level` calls any text
/// with a character outside the identifier profile Unrestricted); letters
/// and digits stay, and the signs belong to no script.
///
/// Confusables: with mixed scripts refused, UTS #39's mixed-script
/// confusables (a Cyrillic letter passing for a Latin one in a Latin name)
/// cannot occur. Whole-script confusables, a name written entirely in
/// Cyrillic that reads like a Latin one ("Асе" against "Ace"), are
/// accepted on purpose: every such string is also a real name or word in
/// its own script, and refusing it would refuse Russian, Greek or
/// Armenian speakers their own names. (UTS #39's `skeleton` would only
/// help to compare a name with other names, which validation does not do.)
pub(crate) fn check_scripts(text: &str) -> Result<(), Refusal> {
    let letters: String = text
        .chars()
        .filter(|c| !is_printable_ascii(*c) || c.identifier_allowed())
        .collect();
    if letters.detect_restriction_level() > RestrictionLevel::HighlyRestrictive {
        return Err(Refusal::MixedScripts);
    }
    Ok(())
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

    /// Real names in many scripts, and the ASCII punctuation of names,
    /// business names and addresses.
    #[test]
    fn accepts_real_names_businesses_and_addresses() {
        for ok in [
            "Mary-Jane O'Neil",
            "Manly Accounting PTY LTD",
            "21 Sydney Rd",
            "Unit 4/12 George St",
            "Smith & Sons (Aust) Pty. Ltd.",
            "田中 太郎",
            "김민준",
            "Zoë",
            "Björk",
            "Ægir",
            "Straße",
            "Σωκράτης",
            "O\u{2019}Brien",
            "Kaʻiulani",
            "Jose\u{301} Nu\u{303}n\u{303}ez",
            "Tanaka 田中たろう",
            "Kim 김민준",
            "Robert'); DROP TABLE users;--",
            "<b>Bold</b>",
            "${jndi:ldap://x}",
        ] {
            assert!(Name::parse(ok).unwrap().is_some(), "{ok}");
        }
    }

    /// Default-ignorable, format, separator and technical characters, which
    /// hide inside a name or make it render like another.
    #[test]
    fn rejects_invisible_and_technical_characters() {
        for c in [
            '\u{AD}',
            '\u{34F}',
            '\u{115F}',
            '\u{180E}',
            '\u{2028}',
            '\u{2029}',
            '\u{206A}',
            '\u{2800}',
            '\u{FE0F}',
            '\u{E0041}',
            '\u{1D173}',
            '\u{FFF9}',
            '\u{200C}',
            '\u{200D}',
            '\u{A0}',
        ] {
            let bad = format!("Ga{c}vin");
            assert!(Name::parse(&bad).is_err(), "{:X}", u32::from(c));
        }
    }

    #[test]
    fn rejects_a_combining_mark_without_a_letter() {
        for bad in ["\u{301}Gavin", "Gavin \u{301}Belson", "O'\u{301}Brien"] {
            assert!(Name::parse(bad).is_err(), "{bad:?}");
        }
    }

    /// Latin mixed with a script the old hand list ignored, and Latin
    /// look-alikes from the IPA and phonetic blocks.
    #[test]
    fn rejects_look_alikes_from_any_script() {
        for bad in [
            "G\u{13AA}vin",
            "B\u{585}b",
            "G\u{251}vin",
            "G\u{1D00}vin",
            "Gavin \u{410}nna",
            "Gavin Анна",
        ] {
            assert!(Name::parse(bad).is_err(), "{bad}");
        }
    }

    /// The messages are shown to API clients next to the field.
    #[test]
    fn refusals_say_what_to_fix() {
        let message = |text: &str| Name::parse(text).unwrap_err().0;
        assert_eq!(
            message("Ga\u{AD}vin"),
            "Must not contain the character U+00AD."
        );
        assert_eq!(
            message("ｇａｖｉｎ"),
            "Must not use compatibility forms such as fullwidth or mathematical letters (U+FF47)."
        );
        assert_eq!(
            message("\u{301}Gavin"),
            "Must not have an accent or other mark without a letter."
        );
        assert_eq!(
            message("G\u{430}vin"),
            "Must not mix letters of different scripts."
        );
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
