//! Folding text for search: what makes `José`, `JOSE` and `jose` the same key.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// NFKD, diacritics stripped, lowercased, inner whitespace collapsed to one space.
pub fn fold(text: &str) -> String {
    let stripped: String = text.nfkd().filter(|c| !is_combining_mark(*c)).collect();
    stripped
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn accents_and_case_fold_away() {
        assert_eq!(fold("José"), "jose");
        assert_eq!(fold("JOSÉ"), "jose");
        assert_eq!(fold("Zoë  Ångström"), "zoe angstrom");
    }

    #[test]
    fn compatibility_forms_fold_to_ascii() {
        assert_eq!(fold("ｊｏｓｅ"), "jose");
        assert_eq!(fold("ﬁona"), "fiona");
    }
}
