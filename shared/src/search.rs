//! What a user search asks for: `q`, `firstName`, `lastName`, `email`,
//! `mobile` and Basiq's `filter` syntax, all combined with AND. How the
//! indexes answer it is the store's business (`store::Plan`).

use crate::error::{ApiError, Invalid};
use crate::filter;
use crate::fold::fold;
use crate::user::{Mobile, UserId};

/// One criterion. Names are folded the way the index keys are; emails and
/// mobiles are as given (normalised), and `keys.rs` makes their keys.
/// How a search is answered: what drives its reads, as the store's plan
/// chooses it. Counted per search (the `Searches` metric's `Kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    /// One user by id.
    Id,
    /// The email index.
    Email,
    /// The mobile index.
    Mobile,
    /// The name indexes (a first name, a last name, or words of either).
    Name,
    /// No criteria: every user, newest first.
    List,
    /// Nothing can match (a half-typed mobile number), so nothing is read.
    Nothing,
}

impl SearchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchKind::Id => "id",
            SearchKind::Email => "email",
            SearchKind::Mobile => "mobile",
            SearchKind::Name => "name",
            SearchKind::List => "list",
            SearchKind::Nothing => "nothing",
        }
    }
}

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

/// The longest name or search word, in characters, as for stored names.
const NAME_MAX: usize = 100;
/// The longest folded name prefix, in bytes: it is part of an index sort key,
/// which DynamoDB caps at 1,024 bytes (with the user id after it).
const FOLDED_MAX: usize = 400;
/// The longest email, in characters, as for stored emails.
const EMAIL_MAX: usize = 254;

fn bad(parameter: &str, detail: &str) -> ApiError {
    Invalid::new(detail).at_parameter(parameter).into()
}

impl Criteria {
    /// The one search box: an id, an email, a mobile number, or names.
    pub fn add_box(&mut self, q: &str) -> Result<(), ApiError> {
        let q = q.trim();
        if q.is_empty() {
            return Err(bad("q", "Must not be empty."));
        }
        if let Ok(id) = UserId::parse(q) {
            self.terms.push(Term::Id(id));
        } else if q.contains('@') {
            self.add_email_at(q, "q")?;
        } else if q.starts_with('+') || q.starts_with(|c: char| c.is_ascii_digit()) {
            match Mobile::parse(q) {
                Ok(mobile) => self.terms.push(Term::Mobile(mobile.as_str().to_owned())),
                Err(_) => self.matches_nothing = true,
            }
        } else {
            let folded = folded_name(q, "q")?;
            let words: Vec<&str> = folded.split_whitespace().collect();
            match words.as_slice() {
                [] => return Err(bad("q", "Must contain a letter or digit.")),
                [word] => self.terms.push(Term::AnyName((*word).to_owned())),
                [first, .., last] => self
                    .terms
                    .push(Term::FullName((*first).to_owned(), (*last).to_owned())),
            }
        }
        Ok(())
    }

    pub fn add_email(&mut self, email: &str) -> Result<(), ApiError> {
        self.add_email_at(email, "email")
    }

    fn add_email_at(&mut self, email: &str, parameter: &str) -> Result<(), ApiError> {
        let email = email.trim();
        if email.is_empty() {
            return Err(bad(parameter, "Must not be empty."));
        }
        if email.chars().count() > EMAIL_MAX {
            return Err(bad(parameter, "An email has at most 254 characters."));
        }
        self.terms.push(Term::Email(email.to_owned()));
        Ok(())
    }

    pub fn add_mobile(&mut self, mobile: &str, parameter: &str) -> Result<(), ApiError> {
        let mobile = Mobile::parse(mobile).map_err(|e| e.at_parameter(parameter))?;
        self.terms.push(Term::Mobile(mobile.as_str().to_owned()));
        Ok(())
    }

    pub fn add_first_name(
        &mut self,
        name: &str,
        exact: bool,
        parameter: &str,
    ) -> Result<(), ApiError> {
        let folded = name_match(name, exact, parameter)?;
        self.terms.push(Term::FirstName(folded));
        Ok(())
    }

    pub fn add_last_name(
        &mut self,
        name: &str,
        exact: bool,
        parameter: &str,
    ) -> Result<(), ApiError> {
        let folded = name_match(name, exact, parameter)?;
        self.terms.push(Term::LastName(folded));
        Ok(())
    }

    /// Basiq's filter syntax: `user.firstName.eq('Gavin'),user.lastName.eq('Belson')`.
    pub fn add_filter(&mut self, filter: &str) -> Result<(), ApiError> {
        for clause in filter::parse(filter).map_err(|d| bad("filter", &d))? {
            let value = match (clause.op.as_str(), clause.values.as_slice()) {
                ("eq", [value]) => value.as_str(),
                _ => {
                    return Err(bad(
                        "filter",
                        "Users can be filtered with eq and one value only.",
                    ))
                }
            };
            match clause.path.as_str() {
                "user.id" => {
                    let id = UserId::parse(value).map_err(|e| e.at_parameter("filter"))?;
                    self.terms.push(Term::Id(id));
                }
                "user.email" => self.add_email_at(value, "filter")?,
                "user.mobile" => self.add_mobile(value, "filter")?,
                "user.firstName" => self.add_first_name(value, true, "filter")?,
                "user.lastName" => self.add_last_name(value, true, "filter")?,
                other => {
                    return Err(bad("filter", &format!(
                        "Filtering on {other} is not supported; use user.id, user.email, user.mobile, user.firstName or user.lastName."
                    )))
                }
            }
        }
        Ok(())
    }

    /// A canonical text of the criteria, which a cursor is bound to: the
    /// same criteria in any order give the same text.
    pub fn fingerprint(&self) -> String {
        let mut terms: Vec<String> = self.terms.iter().map(|t| format!("{t:?}")).collect();
        terms.sort();
        terms.join("\n")
    }
}

/// A name as the search keys hold it, or why it cannot be one.
fn folded_name(name: &str, parameter: &str) -> Result<String, ApiError> {
    if name.chars().count() > NAME_MAX {
        return Err(bad(parameter, "A name has at most 100 characters."));
    }
    let folded = fold(name);
    if folded.is_empty() {
        return Err(bad(parameter, "Must contain a letter or digit."));
    }
    if folded.len() > FOLDED_MAX {
        return Err(bad(parameter, "This name is too long to search for."));
    }
    Ok(folded)
}

fn name_match(name: &str, exact: bool, parameter: &str) -> Result<NameMatch, ApiError> {
    let folded = folded_name(name.trim(), parameter)?;
    Ok(NameMatch { folded, exact })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms_of_box(q: &str) -> Criteria {
        let mut c = Criteria::default();
        c.add_box(q).unwrap();
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
        for empty in ["   ", "\u{301}"] {
            assert!(Criteria::default().add_box(empty).is_err(), "{empty:?}");
        }
    }

    #[test]
    fn the_order_of_criteria_does_not_change_the_search() {
        let (mut a, mut b) = (Criteria::default(), Criteria::default());
        a.add_first_name("p", false, "firstName").unwrap();
        a.add_last_name("z", false, "lastName").unwrap();
        b.add_last_name("z", false, "lastName").unwrap();
        b.add_first_name("p", false, "firstName").unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn empty_and_oversized_criteria_are_refused() {
        let mut c = Criteria::default();
        assert!(c.add_email("  ").is_err());
        assert!(c.add_email(&format!("{}@b.co", "a".repeat(2_048))).is_err());
        assert!(c.add_first_name("", false, "firstName").is_err());
        assert!(c
            .add_last_name(&"z".repeat(1_025), false, "lastName")
            .is_err());
        assert!(c.add_filter("user.email.eq('')").is_err());
        assert!(c.add_filter("user.firstName.eq('  ')").is_err());
        assert!(c.terms.is_empty());
    }

    #[test]
    fn unsupported_user_filters_are_rejected() {
        let mut c = Criteria::default();
        assert!(c.add_filter("user.password.eq('x')").is_err());
        assert!(c.add_filter("user.id.eq('not-an-id')").is_err());
    }
}
