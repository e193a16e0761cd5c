//! Folding text for search: what makes `José`, `JOSE` and `jose` the same key,
//! and `Straße` and `STRASSE`, and `Σωκράτης` and `ΣΩΚΡΑΤΗΣ`.
//!
//! Both the keys stored for a name and the queries that look for it go
//! through [`fold`], so changing it changes which stored keys a query finds:
//! names stored under an older fold need their index attributes rewritten.

use icu_casemap::CaseMapper;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Unicode's compatibility caseless form of `text` (Unicode §3.13, D146:
/// `NFKD(toCasefold(NFKD(toCasefold(NFD(text)))))`), with every combining
/// mark then removed and runs of whitespace collapsed to one space.
///
/// - Full case folding (ICU4X's, from Unicode's CaseFolding.txt, not
///   lowercasing) makes `ß`, `ẞ` and `SS` all `ss`, and the final sigma `ς`
///   the `σ` that `Σ` folds to; lowercasing would keep `ß` and `ς`, so a
///   query typed the other way would miss.
/// - NFKD maps compatibility forms to their plain letters (`ｊｏｓｅ` and
///   `ﬁ` to `jose` and `fi`), and splits accented letters from their marks;
///   folding twice, around it, is what D146 needs for the few characters
///   whose decomposition folds differently from the character itself.
/// - Removing the marks then makes `José` and `Jose` one key.
pub fn fold(text: &str) -> String {
    let case = CaseMapper::new();
    let decomposed: String = text.nfd().collect();
    let once: String = case.fold_string(&decomposed).nfkd().collect();
    let folded: String = case
        .fold_string(&once)
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
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

    #[test]
    fn final_sigma_folds_to_sigma() {
        assert_eq!(fold("ς"), fold("σ"));
        assert_eq!(fold("Σ"), "σ");
        assert_eq!(fold("Σωκράτης"), "σωκρατησ");
        assert_eq!(fold("ΣΩΚΡΑΤΗΣ"), fold("σωκράτης"));
    }

    #[test]
    fn sharp_s_folds_to_ss() {
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("STRASSE"), "strasse");
        assert_eq!(fold("STRAẞE"), "strasse");
    }

    #[test]
    fn full_case_folding_leaves_no_marks() {
        assert_eq!(fold("İstanbul"), "istanbul");
    }
}
