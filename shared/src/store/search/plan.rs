//! Choosing how to answer a search with the fewest index reads.

use crate::keys::{self, Index, BY_CREATED, BY_EMAIL, BY_FIRST_NAME, BY_LAST_NAME, BY_MOBILE};
use crate::search::{Criteria, NameMatch, Term};
use crate::store::attrs;
use crate::store::expr::Cond;
use crate::user::UserId;

/// One ordered read of one index partition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stream {
    pub index: Index,
    pub partition: String,
    /// A prefix condition on the index sort key, when the search has one.
    pub key: Option<Cond>,
    /// Criteria the key cannot express. They only ever narrow the driver's
    /// own matches (the users with this email, say), never a table-wide set.
    pub filter: Option<Cond>,
    pub newest_first: bool,
}

impl Stream {
    /// Everything an item of this stream satisfies, for dropping it from a
    /// later stream that finds the same user again.
    pub fn condition(&self) -> Cond {
        let key = self
            .key
            .clone()
            .unwrap_or_else(|| Cond::eq(self.index.pk, self.partition.clone()));
        key.and(self.filter.clone())
    }
}

/// How the indexes answer one search.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan(pub(crate) Reads);

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reads {
    /// Nothing can match: answer an empty page without reading anything.
    Nothing,
    /// An id: one strongly consistent GetItem, then the other criteria.
    Lookup { id: UserId, rest: Option<Cond> },
    /// One Query per stream per page, merged in index order.
    Streams(Vec<Stream>),
}

fn name_key_prefix(m: &NameMatch) -> String {
    if m.exact {
        keys::name_key_exact_prefix(&m.folded)
    } else {
        m.folded.clone()
    }
}

fn cond_of(term: &Term) -> Cond {
    match term {
        Term::Id(id) => Cond::eq(attrs::ID, id.to_string()),
        Term::Email(email) => Cond::eq(BY_EMAIL.pk, keys::email_key(email)),
        Term::Mobile(mobile) => Cond::eq(BY_MOBILE.pk, keys::mobile_key(mobile)),
        Term::FirstName(m) => Cond::BeginsWith(BY_FIRST_NAME.sk, name_key_prefix(m)),
        Term::LastName(m) => Cond::BeginsWith(BY_LAST_NAME.sk, name_key_prefix(m)),
        Term::AnyName(word) => Cond::Or(vec![
            Cond::BeginsWith(BY_FIRST_NAME.sk, word.clone()),
            Cond::BeginsWith(BY_LAST_NAME.sk, word.clone()),
        ]),
        Term::FullName(a, b) => Cond::Or(vec![full_name(a, b), full_name(b, a)]),
    }
}

fn full_name(first: &str, last: &str) -> Cond {
    Cond::And(vec![
        Cond::BeginsWith(BY_FIRST_NAME.sk, first.to_owned()),
        Cond::BeginsWith(BY_LAST_NAME.sk, last.to_owned()),
    ])
}

fn all(conds: Vec<Cond>) -> Option<Cond> {
    Cond::all(conds)
}

/// A stream reading names that start with `prefix` from a name index.
fn name_stream(index: Index, prefix: String, filter: Option<Cond>) -> Option<Stream> {
    Some(Stream {
        index,
        partition: keys::name_shard(&prefix)?,
        key: Some(Cond::BeginsWith(index.sk, prefix)),
        filter,
        newest_first: false,
    })
}

/// A first-name AND last-name match, keyed on the longer (more selective) word.
fn full_name_stream(first: &str, last: &str, rest: &[Cond]) -> Option<Stream> {
    let (index, key, other) = if first.len() >= last.len() {
        (
            BY_FIRST_NAME,
            first,
            Cond::BeginsWith(BY_LAST_NAME.sk, last.to_owned()),
        )
    } else {
        (
            BY_LAST_NAME,
            last,
            Cond::BeginsWith(BY_FIRST_NAME.sk, first.to_owned()),
        )
    };
    let mut filter = vec![other];
    filter.extend(rest.iter().cloned());
    name_stream(index, key.to_owned(), all(filter))
}

impl Plan {
    pub fn of(criteria: &Criteria) -> Plan {
        Plan(Reads::of(criteria))
    }

    pub fn stream_count(&self) -> usize {
        match &self.0 {
            Reads::Streams(streams) => streams.len(),
            Reads::Nothing | Reads::Lookup { .. } => 0,
        }
    }
}

impl Reads {
    fn of(criteria: &Criteria) -> Reads {
        if criteria.matches_nothing {
            return Reads::Nothing;
        }
        let terms = &criteria.terms;
        // The driver: the term whose index finds the fewest users.
        let rank = |t: &Term| match t {
            Term::Id(_) => 0,
            Term::Email(_) => 1,
            Term::Mobile(_) => 2,
            Term::FirstName(_) => 3,
            Term::LastName(_) => 4,
            Term::FullName(..) => 5,
            Term::AnyName(_) => 6,
        };
        let Some(driver) = terms.iter().min_by_key(|t| rank(t)) else {
            return Reads::Streams(
                (0..keys::LIST_SHARDS)
                    .map(|shard| Stream {
                        index: BY_CREATED,
                        partition: keys::list_shard_value(shard),
                        key: None,
                        filter: None,
                        newest_first: true,
                    })
                    .collect(),
            );
        };
        let driver_at = terms.iter().position(|t| t == driver).unwrap_or(0);
        let rest: Vec<Cond> = terms
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != driver_at)
            .map(|(_, t)| cond_of(t))
            .collect();
        let streams = match driver {
            Term::Id(id) => {
                return Reads::Lookup {
                    id: *id,
                    rest: all(rest),
                }
            }
            Term::Email(value) | Term::Mobile(value) => {
                let index = if matches!(driver, Term::Email(_)) {
                    BY_EMAIL
                } else {
                    BY_MOBILE
                };
                let partition = if matches!(driver, Term::Email(_)) {
                    keys::email_key(value)
                } else {
                    keys::mobile_key(value)
                };
                vec![Some(Stream {
                    index,
                    partition,
                    key: None,
                    filter: all(rest),
                    newest_first: true,
                })]
            }
            Term::FirstName(m) => vec![name_stream(BY_FIRST_NAME, name_key_prefix(m), all(rest))],
            Term::LastName(m) => vec![name_stream(BY_LAST_NAME, name_key_prefix(m), all(rest))],
            Term::AnyName(word) => vec![
                name_stream(BY_FIRST_NAME, word.clone(), all(rest.clone())),
                name_stream(BY_LAST_NAME, word.clone(), all(rest)),
            ],
            Term::FullName(a, b) => {
                vec![full_name_stream(a, b, &rest), full_name_stream(b, a, &rest)]
            }
        };
        match streams.into_iter().collect::<Option<Vec<_>>>() {
            Some(streams) => Reads::Streams(streams),
            None => Reads::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(q: &str) -> Reads {
        let mut c = Criteria::default();
        c.add_box(q);
        Reads::of(&c)
    }

    #[test]
    fn no_criteria_lists_every_shard_newest_first() {
        let Reads::Streams(streams) = Reads::of(&Criteria::default()) else {
            panic!()
        };
        assert_eq!(streams.len(), usize::from(keys::LIST_SHARDS));
        assert!(streams
            .iter()
            .all(|s| s.index == BY_CREATED && s.newest_first && s.filter.is_none()));
    }

    #[test]
    fn one_word_reads_both_name_indexes_without_filters() {
        let Reads::Streams(streams) = plan("Gav") else {
            panic!()
        };
        assert_eq!(streams.len(), 2);
        assert_eq!(
            (streams[0].index, streams[1].index),
            (BY_FIRST_NAME, BY_LAST_NAME)
        );
        assert_eq!(streams[0].partition, "g");
        assert!(streams.iter().all(|s| s.filter.is_none()));
    }

    #[test]
    fn email_drives_and_names_narrow_it() {
        let mut c = Criteria::default();
        c.add_first_name("Gav", false);
        c.add_email("G@H.co");
        let Reads::Streams(streams) = Reads::of(&c) else {
            panic!()
        };
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].index, BY_EMAIL);
        assert_eq!(streams[0].partition, "g@h.co");
        assert_eq!(
            streams[0].filter,
            Some(Cond::BeginsWith(BY_FIRST_NAME.sk, "gav".into()))
        );
    }

    #[test]
    fn ids_are_looked_up() {
        let id = UserId::new();
        assert_eq!(plan(&id.to_string()), Reads::Lookup { id, rest: None });
        assert_eq!(plan("+61 4"), Reads::Nothing);
    }
}
