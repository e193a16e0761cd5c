//! Events: what changed, for whom, and when, as Basiq's `/events` feed tells
//! it. The table's stream is turned into events by the `events` function
//! (the mapping from stream images lives in the store, which alone knows
//! attribute names); this module holds what an event is: its six types, the
//! catalogue `GET /events/types` serves, the event itself and the filter of
//! `GET /events`.
//!
//! An event never carries a value of the user: an update names the fields
//! that changed, a deletion counts what it removed. The feed may be read by
//! anyone holding a server token for as long as events are kept, and a
//! value in it would outlive the user's own deletion.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Invalid};
use crate::filter;
use crate::user::UserId;

/// How long an event is kept (and listed): seven days, as Basiq keeps them.
pub const RETENTION_SECONDS: i64 = 7 * 24 * 60 * 60;

/// An instant (seconds since the epoch) as an event's `createdDate`:
/// RFC 3339, UTC, whole seconds, fixed width (so text order is time order,
/// in the years 0000 to 9999). `None` outside those years.
pub fn created_date(seconds: i64) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp(seconds).ok()?;
    if !(0..=9999).contains(&at.year()) {
        return None;
    }
    at.format(CREATED_DATE).ok()
}

const CREATED_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    User,
    Connection,
}

impl Entity {
    pub const ALL: [Entity; 2] = [Entity::User, Entity::Connection];

    /// Basiq's name, as `entity` and `data.type` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Connection => "connection",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// What happened to the entity: Basiq's `eventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Created,
    Updated,
    Deleted,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Created, Action::Updated, Action::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// One of the six event types this service produces, such as `user.created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventType {
    pub entity: Entity,
    pub action: Action,
}

impl EventType {
    pub const USER_CREATED: EventType = EventType::of(Entity::User, Action::Created);
    pub const USER_UPDATED: EventType = EventType::of(Entity::User, Action::Updated);
    pub const USER_DELETED: EventType = EventType::of(Entity::User, Action::Deleted);
    pub const CONNECTION_CREATED: EventType = EventType::of(Entity::Connection, Action::Created);
    pub const CONNECTION_UPDATED: EventType = EventType::of(Entity::Connection, Action::Updated);
    pub const CONNECTION_DELETED: EventType = EventType::of(Entity::Connection, Action::Deleted);

    /// The catalogue, in Basiq's order (by id).
    pub const ALL: [EventType; 6] = [
        EventType::CONNECTION_CREATED,
        EventType::CONNECTION_DELETED,
        EventType::CONNECTION_UPDATED,
        EventType::USER_CREATED,
        EventType::USER_DELETED,
        EventType::USER_UPDATED,
    ];

    const fn of(entity: Entity, action: Action) -> Self {
        Self { entity, action }
    }

    /// The type's id, `<entity>.<eventType>`, as Basiq names its types.
    pub fn id(self) -> &'static str {
        match (self.entity, self.action) {
            (Entity::User, Action::Created) => "user.created",
            (Entity::User, Action::Updated) => "user.updated",
            (Entity::User, Action::Deleted) => "user.deleted",
            (Entity::Connection, Action::Created) => "connection.created",
            (Entity::Connection, Action::Updated) => "connection.updated",
            (Entity::Connection, Action::Deleted) => "connection.deleted",
        }
    }

    /// What `GET /events/types` says of it, in Basiq's words.
    pub fn description(self) -> &'static str {
        match (self.entity, self.action) {
            (Entity::User, Action::Created) => "when a user is created",
            (Entity::User, Action::Updated) => {
                "when a user is updated; names the fields that changed, never their values"
            }
            (Entity::User, Action::Deleted) => {
                "when a user's deletion has finished; counts what it removed"
            }
            (Entity::Connection, Action::Created) => "when a connection is created",
            (Entity::Connection, Action::Updated) => "when a connection is updated or refreshed",
            (Entity::Connection, Action::Deleted) => "when a connection is deleted",
        }
    }

    /// The type with this id, if this service produces it.
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.id() == id)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// An event's id: 64 lowercase hex digits (Basiq's ids look the same), the
/// SHA-256 of the stream record that made the event. The same record,
/// delivered again, makes the same id, so it is recorded once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    /// The id of the event a stream record (its `eventID`) makes.
    pub fn of_record(record_id: &str) -> Self {
        Self(format!("{:x}", Sha256::digest(record_id.as_bytes())))
    }

    /// An id from a path: 64 hex digits (upper case is read as lower case,
    /// so one event has one spelling).
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(Invalid::new("An event id is 64 hexadecimal digits."))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a deletion removed besides the profile: the deletion receipt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub connections: u64,
    pub accounts: u64,
    pub transactions: u64,
    /// Idempotency records, the hand-over item: whatever else the user owned.
    pub other: u64,
}

/// An event's `data`: the entity it is about, and for an update the names of
/// the fields that changed, for a user's deletion what it removed. Never a
/// value of the entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventData {
    #[serde(rename = "type")]
    pub entity: Entity,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Removed>,
}

/// One event, as recorded and as the feed shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    /// When the change was made (the stream record's time): RFC 3339, UTC,
    /// whole seconds, as Basiq writes `createdDate`.
    pub created_date: String,
    pub kind: EventType,
    pub user: UserId,
    /// The connection, for a connection's event.
    pub connection: Option<String>,
    pub data: EventData,
    /// Who made the change and in which request, as the item's stamp says;
    /// kept for the audit trail, not shown by the feed.
    pub actor: Option<String>,
    pub correlation_id: Option<String>,
}

impl Event {
    /// The path of what the event is about (`/users/<id>` or
    /// `/users/<id>/connections/<id>`), which the view roots at its base.
    pub fn data_ref(&self) -> String {
        match &self.connection {
            Some(connection) => format!("/users/{}/connections/{connection}", self.user),
            None => format!("/users/{}", self.user),
        }
    }
}

/// Which events `GET /events` lists: Basiq's three filter terms, each
/// optional, all of them holding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub user: Option<UserId>,
    pub entity: Option<Entity>,
    pub kind: Option<EventType>,
    /// The terms contradict each other (two users, or `user.created` with
    /// the entity `connection`): nothing matches, and nothing is read.
    pub matches_nothing: bool,
}

fn bad(detail: &str) -> ApiError {
    Invalid::new(detail).at_parameter("filter").into()
}

impl EventFilter {
    /// Reads Basiq's filter: `user.id.eq('…')`, `event.entity.eq('…')` and
    /// `event.type.eq('…')`, separated by commas (AND). Anything else, an
    /// unknown entity or type, or a malformed id, gets 400 naming `filter`:
    /// a filter is never ignored.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut filter = Self::default();
        for clause in filter::parse(text).map_err(|d| bad(&d))? {
            let value = match (clause.op.as_str(), clause.values.as_slice()) {
                ("eq", [value]) => value.as_str(),
                _ => return Err(bad("Events can be filtered with eq and one value only.")),
            };
            match clause.path.as_str() {
                "user.id" => {
                    let id = UserId::parse(value).map_err(|e| e.at_parameter("filter"))?;
                    filter.matches_nothing |= filter.user.replace(id).is_some_and(|u| u != id);
                }
                "event.entity" => {
                    let entity = Entity::parse(value)
                        .ok_or_else(|| bad("event.entity is user or connection."))?;
                    filter.matches_nothing |=
                        filter.entity.replace(entity).is_some_and(|e| e != entity);
                }
                "event.type" => {
                    let kind = EventType::parse(value).ok_or_else(|| {
                        bad("event.type is one of connection.created, connection.deleted, connection.updated, user.created, user.deleted, user.updated.")
                    })?;
                    filter.matches_nothing |= filter.kind.replace(kind).is_some_and(|k| k != kind);
                }
                _ => {
                    return Err(bad(
                        "Events can be filtered by user.id, event.entity and event.type.",
                    ))
                }
            }
        }
        if let (Some(kind), Some(entity)) = (filter.kind, filter.entity) {
            filter.matches_nothing |= kind.entity != entity;
        }
        Ok(filter)
    }

    /// A canonical text of the filter, which a cursor is bound to: the same
    /// terms in any order give the same text.
    pub fn fingerprint(&self) -> String {
        format!(
            "events\nuser={}\nentity={}\ntype={}\nnothing={}",
            self.user.map(|u| u.to_string()).unwrap_or_default(),
            self.entity.map(Entity::as_str).unwrap_or_default(),
            self.kind.map(EventType::id).unwrap_or_default(),
            self.matches_nothing
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_six_types_that_parse_back() {
        assert_eq!(EventType::ALL.len(), 6);
        let mut ids: Vec<&str> = EventType::ALL.iter().map(|t| t.id()).collect();
        let sorted = {
            let mut s = ids.clone();
            s.sort();
            s
        };
        assert_eq!(ids, sorted, "listed in id order");
        ids.dedup();
        assert_eq!(ids.len(), 6);
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.id()), Some(kind));
            assert!(kind.id().starts_with(kind.entity.as_str()));
            assert!(kind.id().ends_with(kind.action.as_str()));
        }
        for unknown in [
            "",
            "user",
            "account.updated",
            "USER.CREATED",
            "user.created ",
        ] {
            assert_eq!(EventType::parse(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn ids_are_the_digest_of_the_record_and_parse_strictly() {
        let id = EventId::of_record("c4ca4238a0b923820dcc509a6f75849b");
        assert_eq!(id.as_str().len(), 64);
        assert_eq!(EventId::of_record("c4ca4238a0b923820dcc509a6f75849b"), id);
        assert_ne!(EventId::of_record("another"), id);
        assert_eq!(EventId::parse(id.as_str()).unwrap(), id);
        assert_eq!(EventId::parse(&id.as_str().to_uppercase()).unwrap(), id);
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"a".repeat(65),
            "../../etc/passwd",
            &"é".repeat(32),
        ] {
            assert!(EventId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filters_read_basiqs_three_terms_in_any_order() {
        let user = UserId::new();
        let a = EventFilter::parse(&format!(
            "user.id.eq('{user}'),event.type.eq('user.created')"
        ))
        .unwrap();
        let b = EventFilter::parse(&format!(
            "event.type.eq('user.created'), user.id.eq('{user}')"
        ))
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.user, Some(user));
        assert_eq!(a.kind, Some(EventType::USER_CREATED));
        assert!(!a.matches_nothing);
        let entity = EventFilter::parse("event.entity.eq('connection')").unwrap();
        assert_eq!(entity.entity, Some(Entity::Connection));
        assert_ne!(entity.fingerprint(), a.fingerprint());
        let same =
            EventFilter::parse("event.entity.eq('connection'),event.type.eq('connection.deleted')")
                .unwrap();
        assert!(!same.matches_nothing);
    }

    #[test]
    fn contradicting_terms_match_nothing() {
        let (u1, u2) = (UserId::new(), UserId::new());
        for text in [
            "event.type.eq('user.created'),event.entity.eq('connection')".to_owned(),
            "event.entity.eq('user'),event.entity.eq('connection')".to_owned(),
            "event.type.eq('user.created'),event.type.eq('user.deleted')".to_owned(),
            format!("user.id.eq('{u1}'),user.id.eq('{u2}')"),
        ] {
            assert!(EventFilter::parse(&text).unwrap().matches_nothing, "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused_naming_the_filter() {
        for text in [
            "",
            "user.id.eq('not-a-uuid')",
            "user.id.ne('0b8e1a5e-4f8e-4b8e-9b8e-0b8e1a5e4f8e')",
            "user.id.eq(0b8e1a5e-4f8e-4b8e-9b8e-0b8e1a5e4f8e)",
            "event.entity.eq('consent')",
            "event.entity.eq('user','connection')",
            "event.type.eq('account.updated')",
            "event.type.eq('')",
            "user.email.eq('a@b.co')",
            "event.type.eq('user.created') OR event.entity.eq('user')",
            "event.type.eq('user.created'),",
        ] {
            let Err(ApiError::BadRequest(problems)) = EventFilter::parse(text) else {
                panic!("{text} was accepted");
            };
            assert_eq!(
                problems[0].at,
                crate::error::Source::Parameter("filter".into()),
                "{text}"
            );
        }
    }

    #[test]
    fn created_dates_are_fixed_width_utc_seconds() {
        assert_eq!(
            created_date(1_795_651_200).as_deref(),
            Some("2026-11-26T00:00:00Z")
        );
        assert_eq!(created_date(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(created_date(i64::MAX), None);
        assert_eq!(created_date(i64::MIN), None);
        assert_eq!(created_date(253_402_300_800), None, "year 10000");
    }

    #[test]
    fn data_refs_point_at_the_entity() {
        let user = UserId::new();
        let data = EventData {
            entity: Entity::Connection,
            id: "c1".into(),
            changed: None,
            removed: None,
        };
        let mut event = Event {
            id: EventId::of_record("r"),
            created_date: "2026-12-01T00:00:00Z".into(),
            kind: EventType::CONNECTION_CREATED,
            user,
            connection: Some("c1".into()),
            data,
            actor: None,
            correlation_id: None,
        };
        assert_eq!(event.data_ref(), format!("/users/{user}/connections/c1"));
        event.connection = None;
        assert_eq!(event.data_ref(), format!("/users/{user}"));
    }
}
