//! Choosing how to answer a search: the most selective criterion drives the
//! read, on its own index; every other criterion only narrows the driver's
//! own matches. A criterion on the driving index's own key attributes joins
//! the key condition when it can, and is otherwise checked in memory
//! (DynamoDB refuses a filter on key attributes).

use crate::keys::{self, Index, BY_CREATED, BY_EMAIL, BY_FIRST_NAME, BY_LAST_NAME, BY_MOBILE};
use crate::search::{Criteria, NameMatch, SearchKind, Term};
use crate::store::attrs;
use crate::store::expr::Cond;
use crate::user::UserId;

/// One ordered read of one index partition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stream {
    pub index: Index,
    pub partition: String,
    /// A prefix condition on the index sort key, when the search has one.
    pub key: Option<String>,
    /// Criteria on attributes the index projects but does not key: a
    /// DynamoDB filter.
    pub filter: Option<Cond>,
    /// Criteria on the index's own key attributes, which a DynamoDB filter
    /// may not name: checked on each item read.
    pub check: Option<Cond>,
    pub newest_first: bool,
}

impl Stream {
    fn new(index: Index, partition: String, key: Option<String>, newest_first: bool) -> Self {
        Self {
            index,
            partition,
            key,
            filter: None,
            check: None,
            newest_first,
        }
    }

    /// The key condition: the partition, and the sort key's prefix if any.
    pub fn key_condition(&self) -> Cond {
        let partition = Cond::eq(self.index.pk, self.partition.clone());
        match &self.key {
            Some(prefix) => Cond::And(vec![
                partition,
                Cond::BeginsWith(self.index.sk, prefix.clone()),
            ]),
            None => partition,
        }
    }

    /// Whether a stream reads more than it returns, so reads should be larger.
    pub fn narrows(&self) -> bool {
        self.filter.is_some() || self.check.is_some()
    }

    /// Everything an item of this stream satisfies, for dropping it from a
    /// later stream that finds the same user again. Only what every index
    /// projects: a name's shard is not projected elsewhere, but it follows
    /// from the name's prefix.
    pub fn condition(&self) -> Cond {
        let key = match &self.key {
            Some(prefix) => Cond::BeginsWith(self.index.sk, prefix.clone()),
            None => Cond::eq(self.index.pk, self.partition.clone()),
        };
        let mut all = vec![key];
        all.extend(self.filter.clone());
        all.extend(self.check.clone());
        Cond::And(all)
    }

    /// Adds the criteria that are not the driver's, each where it can go.
    /// `false` when they contradict the key, so nothing can match.
    fn narrow(mut self, rest: Vec<Cond>) -> Option<Self> {
        let mut filter = Vec::new();
        let mut check = Vec::new();
        for cond in rest {
            match cond {
                Cond::Eq(attr, value) if attr == self.index.pk => {
                    if value != attrs::s(self.partition.clone()) {
                        return None;
                    }
                }
                Cond::BeginsWith(attr, prefix) if attr == self.index.sk => match self.key.take() {
                    None => self.key = Some(prefix),
                    Some(key) if prefix.starts_with(&key) => self.key = Some(prefix),
                    Some(key) if key.starts_with(&prefix) => self.key = Some(key),
                    Some(_) => return None,
                },
                cond if cond.names(self.index.pk) || cond.names(self.index.sk) => check.push(cond),
                cond => filter.push(cond),
            }
        }
        self.filter = Cond::all(filter);
        self.check = Cond::all(check);
        Some(self)
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

/// A stream reading names that start with `prefix` from a name index.
fn name_stream(index: Index, prefix: String) -> Option<(Stream, Vec<Cond>)> {
    let partition = keys::name_shard(&prefix)?;
    Some((Stream::new(index, partition, Some(prefix), false), vec![]))
}

/// A first-name AND last-name match, keyed on the longer (more selective) word.
fn full_name_stream(first: &str, last: &str) -> Option<(Stream, Vec<Cond>)> {
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
    let (stream, _) = name_stream(index, key.to_owned())?;
    Some((stream, vec![other]))
}

/// How few users a term's own reads find: lower is fewer. An id is one
/// user, an email or a mobile a handful; a name prefix finds fewer the
/// longer it is, an exact name fewer still; a term that needs two streams
/// (either name, or two words in either order) reads twice.
fn selectivity(term: &Term) -> usize {
    let prefix = |len: usize, exact: bool, streams: usize| {
        100 - len.min(20) * 4 - usize::from(exact) * 8 + streams
    };
    match term {
        Term::Id(_) => 0,
        Term::Email(_) => 1,
        Term::Mobile(_) => 2,
        Term::FirstName(m) | Term::LastName(m) => prefix(m.folded.len(), m.exact, 1),
        Term::FullName(a, b) => prefix(a.len().max(b.len()), false, 2),
        Term::AnyName(word) => prefix(word.len(), false, 2),
    }
}

impl Plan {
    pub fn of(criteria: &Criteria) -> Plan {
        Plan(Reads::of(criteria))
    }

    /// What drives this search's reads.
    pub fn kind(&self) -> SearchKind {
        match &self.0 {
            Reads::Nothing => SearchKind::Nothing,
            Reads::Lookup { .. } => SearchKind::Id,
            Reads::Streams(streams) => match streams.first().map(|s| s.index) {
                Some(BY_EMAIL) => SearchKind::Email,
                Some(BY_MOBILE) => SearchKind::Mobile,
                Some(BY_CREATED) | None => SearchKind::List,
                Some(_) => SearchKind::Name,
            },
        }
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
        // Ties go to the same term whatever order the criteria came in, so
        // that every page of a search reads the same way.
        let Some((driver_at, driver)) = terms
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| (selectivity(t), format!("{t:?}")))
        else {
            return Reads::Streams(
                (0..keys::LIST_SHARDS)
                    .map(|shard| Stream::new(BY_CREATED, keys::list_shard_value(shard), None, true))
                    .collect(),
            );
        };
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
                    rest: Cond::all(rest),
                }
            }
            Term::Email(email) => vec![Some((
                Stream::new(BY_EMAIL, keys::email_key(email), None, true),
                vec![],
            ))],
            Term::Mobile(mobile) => vec![Some((
                Stream::new(BY_MOBILE, keys::mobile_key(mobile), None, true),
                vec![],
            ))],
            Term::FirstName(m) => vec![name_stream(BY_FIRST_NAME, name_key_prefix(m))],
            Term::LastName(m) => vec![name_stream(BY_LAST_NAME, name_key_prefix(m))],
            Term::AnyName(word) => vec![
                name_stream(BY_FIRST_NAME, word.clone()),
                name_stream(BY_LAST_NAME, word.clone()),
            ],
            Term::FullName(a, b) => vec![full_name_stream(a, b), full_name_stream(b, a)],
        };
        // A stream whose criteria contradict its key reads nothing; a search
        // whose every stream does so matches nothing at all.
        let streams: Vec<Stream> = streams
            .into_iter()
            .flatten()
            .filter_map(|(stream, own)| {
                let mut all = own;
                all.extend(rest.iter().cloned());
                stream.narrow(all)
            })
            .collect();
        if streams.is_empty() {
            Reads::Nothing
        } else {
            Reads::Streams(streams)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(params: &[(&str, &str)]) -> Reads {
        let mut c = Criteria::default();
        for (name, value) in params {
            match *name {
                "q" => c.add_box(value).unwrap(),
                "firstName" => c.add_first_name(value, false, name).unwrap(),
                "lastName" => c.add_last_name(value, false, name).unwrap(),
                "email" => c.add_email(value).unwrap(),
                _ => c.add_filter(value).unwrap(),
            }
        }
        Reads::of(&c)
    }

    fn streams(params: &[(&str, &str)]) -> Vec<Stream> {
        match reads(params) {
            Reads::Streams(streams) => streams,
            other => panic!("{params:?}: {other:?}"),
        }
    }

    #[test]
    fn the_kind_is_what_drives_the_reads() {
        let kind = |params: &[(&str, &str)]| Plan(reads(params)).kind();
        let id = UserId::new().to_string();
        assert_eq!(kind(&[]), SearchKind::List);
        assert_eq!(kind(&[("q", "Gav")]), SearchKind::Name);
        assert_eq!(kind(&[("q", "gavin belson")]), SearchKind::Name);
        assert_eq!(kind(&[("lastName", "Belson")]), SearchKind::Name);
        assert_eq!(kind(&[("q", "+61410888666")]), SearchKind::Mobile);
        assert_eq!(
            kind(&[("firstName", "Gav"), ("q", "g@h.co")]),
            SearchKind::Email
        );
        assert_eq!(kind(&[("email", "g@h.co"), ("q", &id)]), SearchKind::Id);
        assert_eq!(kind(&[("q", "+61 4")]), SearchKind::Nothing);
    }

    #[test]
    fn no_criteria_lists_every_shard_newest_first() {
        let streams = streams(&[]);
        assert_eq!(streams.len(), usize::from(keys::LIST_SHARDS));
        assert!(streams
            .iter()
            .all(|s| s.index == BY_CREATED && s.newest_first && !s.narrows()));
    }

    #[test]
    fn one_word_reads_both_name_indexes_without_filters() {
        let streams = streams(&[("q", "Gav")]);
        assert_eq!(streams.len(), 2);
        assert_eq!(
            (streams[0].index, streams[1].index),
            (BY_FIRST_NAME, BY_LAST_NAME)
        );
        assert_eq!(streams[0].partition, "g");
        assert!(streams.iter().all(|s| !s.narrows()));
    }

    #[test]
    fn email_drives_and_names_narrow_it() {
        let streams = streams(&[("firstName", "Gav"), ("email", "G@H.co")]);
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].index, BY_EMAIL);
        assert_eq!(streams[0].partition, "g@h.co");
        assert_eq!(
            streams[0].filter,
            Some(Cond::BeginsWith(BY_FIRST_NAME.sk, "gav".into()))
        );
        assert_eq!(streams[0].check, None);
    }

    #[test]
    fn the_longer_name_prefix_drives() {
        let streams = streams(&[("firstName", "p"), ("lastName", "zzzzzzzz")]);
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].index, BY_LAST_NAME);
        assert_eq!(streams[0].key.as_deref(), Some("zzzzzzzz"));
        assert_eq!(
            streams[0].filter,
            Some(Cond::BeginsWith(BY_FIRST_NAME.sk, "p".into()))
        );
    }

    #[test]
    fn criteria_on_the_driving_key_join_the_key_or_are_checked_in_memory() {
        // Two prefixes of the same name: the longer one is the key.
        let s = streams(&[("firstName", "zed"), ("filter", "user.firstName.eq('Zed')")]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].key, Some(keys::name_key_exact_prefix("zed")));
        assert!(!s[0].narrows());
        // One word (first OR last name) narrowing a first-name read names the
        // read's own key: it is checked in memory, not sent as a filter.
        let s = streams(&[("q", "Zed"), ("firstName", "Zed")]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].index, BY_FIRST_NAME);
        assert!(s[0].filter.is_none() && s[0].check.is_some());
        // A prefix of the other name's index is an ordinary filter.
        let s = streams(&[("q", "Zed"), ("lastName", "Quark")]);
        assert_eq!(s[0].index, BY_LAST_NAME);
        assert!(s[0].filter.is_none() && s[0].check.is_some());
        // The same email twice is one email; two different ones match nothing.
        let s = streams(&[("email", "x@y.co"), ("q", "X@Y.CO")]);
        assert_eq!(s.len(), 1);
        assert!(!s[0].narrows());
        assert_eq!(
            reads(&[("email", "x@y.co"), ("q", "z@y.co")]),
            Reads::Nothing
        );
        assert_eq!(
            reads(&[("firstName", "ann"), ("firstName", "bob")]),
            Reads::Nothing
        );
    }

    #[test]
    fn ids_are_looked_up() {
        let id = UserId::new();
        assert_eq!(
            reads(&[("q", &id.to_string())]),
            Reads::Lookup { id, rest: None }
        );
        assert_eq!(reads(&[("q", "+61 4")]), Reads::Nothing);
    }
}
