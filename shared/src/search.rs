//! What a user search asks for: `q`, `firstName`, `lastName`, `email`,
//! `mobile` and Basiq's `filter` syntax, all combined with AND. How the
//! indexes answer it is the store's business (`store::Plan`).

use crate::error::{ApiError, Invalid};
use crate::filter;
use crate::fold::fold;
use crate::user::{Mobile, UserId};

/// One criterion. Names are folded the way the index keys are; emails and
/// mobiles are as given (normalised), and `keys.rs` makes their keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Id(UserId),
    Email(String),
    Mobile(String),
    FirstName(NameMatch),
    LastName(NameMatch),
    /// One word of the search box: a prefix of the first name OR the last name.
    AnyName(String),
    /// Two or more words: the first against the first name and the last
    /// against the last name, or the other way round.
    FullName(String, String),
}

/// A folded name, matched as a prefix or (Basiq's `eq`) exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameMatch {
    pub folded: String,
    pub exact: bool,
}

/// A parsed search: its terms, or the knowledge that nothing can match
/// (a half-typed mobile number in the search box, say).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Criteria {
    pub terms: Vec<Term>,
    pub matches_nothing: bool,
}

impl Criteria {
    /// The one search box: an id, an email, a mobile number, or names.
    pub fn add_box(&mut self, q: &str) {
        let q = q.trim();
        if q.is_empty() {
            return;
        }
        if let Ok(id) = UserId::parse(q) {
            self.terms.push(Term::Id(id));
        } else if q.contains('@') {
            self.terms.push(Term::Email(q.to_owned()));
        } else if q.starts_with('+') || q.starts_with(|c: char| c.is_ascii_digit()) {
            match Mobile::parse(q) {
                Ok(mobile) => self.terms.push(Term::Mobile(mobile.as_str().to_owned())),
                Err(_) => self.matches_nothing = true,
            }
        } else {
            let folded = fold(q);
            let words: Vec<&str> = folded.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                [word] => self.terms.push(Term::AnyName((*word).to_owned())),
                [first, .., last] => self
                    .terms
                    .push(Term::FullName((*first).to_owned(), (*last).to_owned())),
            }
        }
    }

    pub fn add_email(&mut self, email: &str) {
        let email = email.trim();
        if !email.is_empty() {
            self.terms.push(Term::Email(email.to_owned()));
        }
    }

    pub fn add_mobile(&mut self, mobile: &str, parameter: &str) -> Result<(), ApiError> {
        let mobile = Mobile::parse(mobile).map_err(|e| e.at_parameter(parameter))?;
        self.terms.push(Term::Mobile(mobile.as_str().to_owned()));
        Ok(())
    }

    pub fn add_first_name(&mut self, name: &str, exact: bool) {
        if let Some(m) = name_match(name, exact) {
            self.terms.push(Term::FirstName(m));
        }
    }

    pub fn add_last_name(&mut self, name: &str, exact: bool) {
        if let Some(m) = name_match(name, exact) {
            self.terms.push(Term::LastName(m));
        }
    }

    /// Basiq's filter syntax: `user.firstName.eq('Gavin'),user.lastName.eq('Belson')`.
    pub fn add_filter(&mut self, filter: &str) -> Result<(), ApiError> {
        let bad = |detail: &str| Invalid::new(detail).at_parameter("filter");
        for clause in filter::parse(filter).map_err(|d| bad(&d))? {
            let value = match (clause.op.as_str(), clause.values.as_slice()) {
                ("eq", [value]) => value.as_str(),
                _ => return Err(bad("Users can be filtered with eq and one value only.").into()),
            };
            match clause.path.as_str() {
                "user.id" => {
                    let id = UserId::parse(value).map_err(|e| e.at_parameter("filter"))?;
                    self.terms.push(Term::Id(id));
                }
                "user.email" => self.add_email(value),
                "user.mobile" => self.add_mobile(value, "filter")?,
                "user.firstName" => self.add_first_name(value, true),
                "user.lastName" => self.add_last_name(value, true),
                other => {
                    return Err(bad(&format!(
                        "Filtering on {other} is not supported; use user.id, user.email, user.mobile, user.firstName or user.lastName."
                    ))
                    .into())
                }
            }
        }
        Ok(())
    }

    /// A canonical text of the criteria, which a cursor is bound to.
    pub fn fingerprint(&self) -> String {
        format!("{:?}", self.terms)
    }
}

fn name_match(name: &str, exact: bool) -> Option<NameMatch> {
    let folded = fold(name);
    (!folded.is_empty()).then_some(NameMatch { folded, exact })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms_of_box(q: &str) -> Criteria {
        let mut c = Criteria::default();
        c.add_box(q);
        c
    }

    #[test]
    fn the_box_recognises_what_was_typed() {
        let id = UserId::new();
        assert_eq!(terms_of_box(&id.to_string()).terms, [Term::Id(id)]);
        assert_eq!(
            terms_of_box("Gavin@Hooli.COM").terms,
            [Term::Email("Gavin@Hooli.COM".into())]
        );
        assert_eq!(
            terms_of_box("+61 410 888 666").terms,
            [Term::Mobile("+61410888666".into())]
        );
        assert!(terms_of_box("+614").matches_nothing);
        assert_eq!(terms_of_box("JOSÉ").terms, [Term::AnyName("jose".into())]);
        assert_eq!(
            terms_of_box("Belson  Gav").terms,
            [Term::FullName("belson".into(), "gav".into())]
        );
        assert_eq!(
            terms_of_box("Mary Ann Smith").terms,
            [Term::FullName("mary".into(), "smith".into())]
        );
        assert!(terms_of_box("   ").terms.is_empty());
    }

    #[test]
    fn unsupported_user_filters_are_rejected() {
        let mut c = Criteria::default();
        assert!(c.add_filter("user.password.eq('x')").is_err());
        assert!(c.add_filter("user.id.eq('not-an-id')").is_err());
    }
}
