//! The events the `events` function records, and the reads of the feed.
//!
//! **From stream records to events** ([`event_of`], pure): the table's
//! stream (NEW_AND_OLD_IMAGES) delivers every write of a profile and of a
//! connection; this module reads the images, which only the store can (it
//! alone knows attribute names), and decides what event, if any, a change
//! is:
//!
//! | item | INSERT | MODIFY | REMOVE |
//! |---|---|---|---|
//! | profile | `user.created` | `user.updated`, naming the user's fields whose values differ; nothing when none does, or when either image is a tombstone (the deletion has begun, not finished) | `user.deleted`, with the deletion receipt from the old image's counters |
//! | connection | `connection.created` | `connection.updated` when a field of the connection differs or an ingest took it (a refresh); nothing for a lease released or a tombstone | `connection.deleted` |
//!
//! An event's actor and correlation id are the image's stamp; a deletion's
//! are the tombstone's `deletedBy`, the stamp of the request that began it,
//! which a repeated DELETE does not replace (see `Store::stamp_deleter`).
//!
//! **Recording** is one conditional PutItem per event, keyed on the stream
//! record's id: a redelivered record, or a batch retried, is refused by the
//! condition and counted as done, so an event is never recorded twice.
//!
//! **Reading** is one Query per page on the most selective events index the
//! filter allows, newest first, or one GetItem per event.
//!
//! **From stream records to audit entries** ([`audit_of`], pure): the same
//! records make the audit trail's entries, with who made the change and
//! from where (the image's stamp: `actor`, `actorName`, `sourceIp`,
//! `userAgent`, `correlationId`) and the names of the fields it touched:
//!
//! | item | INSERT | MODIFY | REMOVE |
//! |---|---|---|---|
//! | profile, connection | as [`event_of`] decides (`user.created`...), naming the fields set | as [`event_of`] decides, naming the fields whose values differ | as [`event_of`] decides; the tombstone's `deletedBy` (else its stamp) names the first deleter |
//! | API key (`API_KEYS`, `KEY#<id>`) | `api_key.created` | `api_key.revoked` when `revokedAt` appears; `api_key.updated` for any other change (un-revoked, digest, name, expiry...); nothing for a use alone (`lastUsedAt`) | nothing |
//! | webhook (`WEBHOOKS`, `WEBHOOK#<id>`) | `webhook.created` | `webhook.secret_rotated` when the secret was replaced by a new one; `webhook.updated` for any other change (url, events, status, a reseal...) | `webhook.deleted`: `delete_webhook` stamps the subscription with the deleter first |
//!
//! A MODIFY of a key or a subscription names the attributes whose values
//! differ (never a value: not the digest's, not a sealed secret's), leaving
//! out the stamp's own; one that changes the stamp alone (what
//! `delete_webhook` writes before its delete) changes nothing and makes no
//! entry. Its actor is the new image's stamp when the stamp's correlation
//! id changed (a request stamped it), else `system`: no request made it
//! (a disable after a 410, a reseal), and the stamp left on the item names
//! whoever wrote it before.
//!
//! A change whose image has no stamp is still an entry, by `unattributed`;
//! a connection that went with its user is one by `system`.

use super::attrs::{self, is_tombstone, key, n, s, text, Item};
use super::expr::{Cond, Expr};
use super::{Position, Store, CAPACITY};
use crate::audit::{self, Action as AuditAction, Entry};
use crate::auth::{Actor, Stamp};
use crate::error::ApiError;
use crate::event::{
    self, Entity, Event, EventData, EventFilter, EventId, EventType, Removed, RETENTION_SECONDS,
};
use crate::keys::{
    self, Index, EVENTS_BY_ENTITY, EVENTS_BY_TIME, EVENTS_BY_TYPE, EVENTS_BY_USER, EVENT_FEED,
};
use crate::user::UserId;

/// On an event: when the change was made (RFC 3339, UTC, seconds).
const CREATED_DATE: &str = "createdDate";
/// On an event: `user` or `connection`.
const ENTITY: &str = "entity";
/// On an event: `created`, `updated` or `deleted` (Basiq's `eventType`).
const EVENT_TYPE: &str = "eventType";
/// On a connection's event: the connection's id.
const CONNECTION_ID: &str = "connectionId";
/// On an event: its `data`, a map (see [`EventData`]).
const DATA: &str = "data";

/// The user's own fields, as Basiq names them (and the profile stores
/// them): what `user.updated` names when their values differ. Bookkeeping
/// (version, times, index keys, stamps, leases, counters) is never a change
/// anyone else sees, so it is not here.
const USER_FIELDS: [&str; 11] = [
    attrs::EMAIL,
    attrs::MOBILE,
    attrs::FIRST_NAME,
    attrs::MIDDLE_NAME,
    attrs::LAST_NAME,
    attrs::BUSINESS_NAME,
    attrs::BUSINESS_ID_NO,
    attrs::BUSINESS_ID_NO_TYPE,
    attrs::BUSINESS_ADDRESS,
    attrs::VERIFICATION_STATUS,
    attrs::VERIFICATION_DATE,
];

/// A connection's own fields, as its record (`finance::Connection`) names
/// them: a change of any of them is `connection.updated`.
const CONNECTION_FIELDS: [&str; 6] = [
    "institution",
    "status",
    "method",
    "createdDate",
    "expiryDate",
    "lastUsed",
];

/// What kind of write a stream record tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

impl ChangeKind {
    /// A record's `eventName`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "INSERT" => Some(Self::Insert),
            "MODIFY" => Some(Self::Modify),
            "REMOVE" => Some(Self::Remove),
            _ => None,
        }
    }
}

/// One stream record, as the mapping reads it.
#[derive(Debug, Clone)]
pub struct Change {
    /// The record's `eventID`: what names the event it makes.
    pub record_id: String,
    pub kind: ChangeKind,
    pub keys: Item,
    /// The item after the write (none for a REMOVE).
    pub new: Item,
    /// The item before it (none for an INSERT).
    pub old: Item,
    /// `ApproximateCreationDateTime`, in seconds since the epoch.
    pub at_seconds: i64,
    /// The record's `SequenceNumber`: orders changes within a second.
    pub sequence: String,
}

/// An event a change makes, ready to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event: Event,
    sequence: String,
    /// When DynamoDB's TTL removes it (epoch seconds): seven days on.
    expires_at: i64,
}

fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A string attribute, `None` when absent or empty.
fn optional_text(item: &Item, attr: &str) -> Option<String> {
    Some(text(item, attr))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// A count the purge added up (`ADD`), 0 when absent or unreadable.
fn count(item: &Item, attr: &str) -> u64 {
    item.get(attr)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The names among `fields` whose values differ between the two images.
fn changed(fields: &[&'static str], old: &Item, new: &Item) -> Vec<String> {
    fields
        .iter()
        .filter(|f| old.get(**f) != new.get(**f))
        .map(|f| (*f).to_owned())
        .collect()
}

/// The event a stream record makes, if any (see the module's table). A
/// record of any other item, or one that names no user, makes none.
pub fn event_of(change: &Change) -> Option<NewEvent> {
    let image = match change.kind {
        ChangeKind::Remove => &change.old,
        ChangeKind::Insert | ChangeKind::Modify => &change.new,
    };
    let key_text = |attr: &str| {
        Some(text(&change.keys, attr))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| text(image, attr))
    };
    let user = keys::user_of_pk(key_text(keys::PK))?;
    let sk = key_text(keys::SK);
    let (kind, connection, data) = if sk == keys::PROFILE_SK {
        let (kind, changed, removed) = user_change(change)?;
        let data = EventData {
            entity: Entity::User,
            id: user.to_string(),
            changed,
            removed,
        };
        (kind, None, data)
    } else if let Some(id) = sk.strip_prefix(keys::CONNECTION_PREFIX) {
        let kind = connection_change(change)?;
        let data = EventData {
            entity: Entity::Connection,
            id: id.to_owned(),
            changed: None,
            removed: None,
        };
        (kind, Some(id.to_owned()), data)
    } else {
        return None;
    };
    // A record always has its time; were it missing (0) or absurd, the
    // event still gets one that its TTL keeps for seven days.
    let at = Some(change.at_seconds)
        .filter(|at| *at > 0)
        .filter(|at| event::created_date(*at).is_some())
        .unwrap_or_else(now_seconds);
    let created_date = event::created_date(at)?;
    // Who made the change is the image's stamp, except for a connection
    // removed without its own tombstone: it went with its user (the purge)
    // or with an ingest that undid itself, and its stamp names the last
    // ingest's caller, not whoever removed it.
    let went_with_its_user = connection.is_some() && went_with_its_user(change);
    let stamped = stamp_image(change);
    let stamp = |attr: &str| {
        if went_with_its_user {
            None
        } else {
            optional_text(stamped, attr)
        }
    };
    Some(NewEvent {
        event: Event {
            id: EventId::of_record(&change.record_id),
            created_date,
            kind,
            user,
            connection,
            data,
            actor: stamp(attrs::ACTOR),
            correlation_id: stamp(attrs::CORRELATION_ID),
        },
        sequence: change.sequence.clone(),
        expires_at: at.saturating_add(RETENTION_SECONDS),
    })
}

/// What holds the stamp that names who made a change: the image's own
/// attributes, except for the removal of a tombstone that kept its first
/// deleter's stamp (`deletedBy`, a map of the same attributes): a repeated
/// DELETE restamps the item, but the deletion is whoever began it.
fn stamp_image(change: &Change) -> &Item {
    match change.kind {
        ChangeKind::Remove => change
            .old
            .get(attrs::DELETED_BY)
            .and_then(|v| v.as_m().ok())
            .unwrap_or(&change.old),
        ChangeKind::Insert | ChangeKind::Modify => &change.new,
    }
}

/// Whether a connection's removal went with its user (the purge) or with
/// an ingest that undid itself: removed without a tombstone of its own,
/// so its image's stamp names the last ingest's caller, not whoever
/// removed it.
fn went_with_its_user(change: &Change) -> bool {
    change.kind == ChangeKind::Remove && !change.old.contains_key(attrs::DELETED_AT)
}

type UserChange = (EventType, Option<Vec<String>>, Option<Removed>);

fn user_change(change: &Change) -> Option<UserChange> {
    let (old, new) = (&change.old, &change.new);
    match change.kind {
        ChangeKind::Insert if is_tombstone(new) => None,
        ChangeKind::Insert => Some((EventType::USER_CREATED, None, None)),
        // The tombstone, the purge's lease and its counters are writes of a
        // deletion that has begun; its event is the profile's removal.
        ChangeKind::Modify if is_tombstone(old) || is_tombstone(new) => None,
        ChangeKind::Modify => {
            let changed = changed(&USER_FIELDS, old, new);
            (!changed.is_empty()).then_some((EventType::USER_UPDATED, Some(changed), None))
        }
        ChangeKind::Remove => {
            let removed = Removed {
                connections: count(old, attrs::REMOVED_CONNECTIONS),
                accounts: count(old, attrs::REMOVED_ACCOUNTS),
                transactions: count(old, attrs::REMOVED_TRANSACTIONS),
                other: count(old, attrs::REMOVED_OTHER),
            };
            Some((EventType::USER_DELETED, None, Some(removed)))
        }
    }
}

fn connection_change(change: &Change) -> Option<EventType> {
    let (old, new) = (&change.old, &change.new);
    match change.kind {
        ChangeKind::Insert if is_tombstone(new) => None,
        ChangeKind::Insert => Some(EventType::CONNECTION_CREATED),
        // delete-connection's tombstone: the deletion has begun; its event
        // is the connection's removal.
        ChangeKind::Modify if is_tombstone(old) || is_tombstone(new) => None,
        ChangeKind::Modify => {
            // An ingest takes the connection with a lease of its own: a
            // refresh, even when the connection's own fields stay the same
            // (its accounts and transactions are what changed). Releasing
            // the lease afterwards changes nothing anyone sees.
            let leased_anew = new.contains_key(attrs::LEASE_ID)
                && new.get(attrs::LEASE_ID) != old.get(attrs::LEASE_ID);
            (leased_anew || !changed(&CONNECTION_FIELDS, old, new).is_empty())
                .then_some(EventType::CONNECTION_UPDATED)
        }
        ChangeKind::Remove => Some(EventType::CONNECTION_DELETED),
    }
}

/// The names of the attributes whose values differ between the two images
/// (present in one only included), in name order, leaving out the keys and
/// the stamp. Names only: the values (a key's digest, a sealed secret)
/// never reach an entry.
fn changed_attributes(old: &Item, new: &Item) -> Vec<String> {
    let mut names: Vec<String> = old
        .keys()
        .chain(new.keys().filter(|name| !old.contains_key(*name)))
        .filter(|name| ![keys::PK, keys::SK].contains(&name.as_str()))
        .filter(|name| !attrs::STAMP.contains(&name.as_str()))
        .filter(|name| old.get(*name) != new.get(*name))
        .cloned()
        .collect();
    names.sort();
    names
}

/// The entry of a change of an API key or a webhook subscription, as
/// `action` on the `kind` `id`. A MODIFY names the attributes it changed,
/// and makes none when all of them are among `uses` (writes that are not
/// changes, such as a key's `lastUsedAt`) or there are none (the stamp
/// alone: `delete_webhook`'s, before its REMOVE). Its actor is the new
/// stamp when a request wrote one (the correlation id changed), else
/// `system`: a MODIFY that kept the old stamp was made by no request, and
/// that stamp names the previous writer.
fn setting_entry(
    change: &Change,
    action: AuditAction,
    kind: &'static str,
    id: &str,
    uses: &[&str],
) -> Option<Entry> {
    let (old, new) = (&change.old, &change.new);
    let entry = match change.kind {
        ChangeKind::Insert => Entry::new(action, stamp_of(new)),
        ChangeKind::Remove => Entry::new(action, stamp_of(old)),
        ChangeKind::Modify => {
            let fields = changed_attributes(old, new);
            if fields.iter().all(|f| uses.contains(&f.as_str())) {
                return None;
            }
            let restamped = old.get(attrs::CORRELATION_ID) != new.get(attrs::CORRELATION_ID);
            let stamp = if restamped {
                stamp_of(new)
            } else {
                system_stamp()
            };
            Entry::new(action, stamp).fields(fields)
        }
    };
    Some(entry.target(kind, id))
}

/// Who made a change and from where, as the item's stamp says;
/// [`audit::UNATTRIBUTED`] when it has none.
fn stamp_of(image: &Item) -> Stamp {
    Stamp {
        actor: Actor::claimed(
            &optional_text(image, attrs::ACTOR).unwrap_or_else(|| audit::UNATTRIBUTED.to_owned()),
        ),
        name: optional_text(image, attrs::ACTOR_NAME),
        correlation_id: optional_text(image, attrs::CORRELATION_ID).unwrap_or_default(),
        source_ip: optional_text(image, attrs::SOURCE_IP),
        user_agent: optional_text(image, attrs::USER_AGENT),
    }
}

/// The stamp of a change the service made on its own.
fn system_stamp() -> Stamp {
    Stamp {
        actor: Actor::claimed(audit::SYSTEM),
        name: None,
        correlation_id: String::new(),
        source_ip: None,
        user_agent: None,
    }
}

/// The audit entry a stream record makes, if any (see the module's second
/// table): its id and time are the record's, so the record delivered
/// again makes the same entry.
pub fn audit_of(change: &Change) -> Option<Entry> {
    let image = match change.kind {
        ChangeKind::Remove => &change.old,
        ChangeKind::Insert | ChangeKind::Modify => &change.new,
    };
    let key_text = |attr: &str| {
        Some(text(&change.keys, attr))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| text(image, attr))
    };
    let (pk, sk) = (key_text(keys::PK), key_text(keys::SK));
    let (old, new) = (&change.old, &change.new);
    let entry = if let Some(id) = sk
        .strip_prefix(keys::API_KEY_PREFIX)
        .filter(|_| pk == keys::API_KEYS_PK)
    {
        let action = match change.kind {
            ChangeKind::Insert => AuditAction::ApiKeyCreated,
            ChangeKind::Modify
                if !old.contains_key(attrs::REVOKED_AT) && new.contains_key(attrs::REVOKED_AT) =>
            {
                AuditAction::ApiKeyRevoked
            }
            ChangeKind::Modify => AuditAction::ApiKeyUpdated,
            // Keys are revoked, never deleted: a removed key buys no token.
            ChangeKind::Remove => return None,
        };
        setting_entry(change, action, "apiKey", id, &[attrs::LAST_USED_AT])?
    } else if let Some(id) = sk
        .strip_prefix(keys::WEBHOOK_PREFIX)
        .filter(|_| pk == keys::WEBHOOKS_PK)
    {
        let action = match change.kind {
            ChangeKind::Insert => AuditAction::WebhookCreated,
            ChangeKind::Modify if super::webhooks::secret_rotated(old, new) => {
                AuditAction::WebhookSecretRotated
            }
            ChangeKind::Modify => AuditAction::WebhookUpdated,
            ChangeKind::Remove => AuditAction::WebhookDeleted,
        };
        setting_entry(change, action, "webhook", id, &[])?
    } else {
        let made = event_of(change)?;
        let event = &made.event;
        let action = AuditAction::parse(event.kind.id())?;
        let (kind, id) = match &event.connection {
            Some(connection) => ("connection", connection.clone()),
            None => ("user", event.user.to_string()),
        };
        let stamp = if event.connection.is_some() && went_with_its_user(change) {
            system_stamp()
        } else {
            stamp_of(stamp_image(change))
        };
        // The names of the user's or the connection's own fields (the
        // lists that decide whether a change is an event) whose values
        // differ, all those set for an INSERT; never a value. The rest of
        // an item is bookkeeping (keys, versions, times, stamps, leases,
        // retry ids, index keys), which no caller asked to change.
        let data_fields: &[&'static str] = if event.connection.is_some() {
            &CONNECTION_FIELDS
        } else {
            &USER_FIELDS
        };
        let fields = match change.kind {
            ChangeKind::Remove => Vec::new(),
            ChangeKind::Insert | ChangeKind::Modify => changed(data_fields, old, new),
        };
        Entry::new(action, stamp)
            .target(kind, id)
            .user(event.user)
            .fields(fields)
    };
    // As for an event: a record always has its time; were it missing or
    // absurd, now's (the entry is then no longer the same on redelivery,
    // which a record without a time cannot tell apart anyway).
    let at_ms = Some(change.at_seconds)
        .filter(|at| *at > 0)
        .filter(|at| event::created_date(*at).is_some())
        .map_or_else(crate::clock::now_ms, |at| at.saturating_mul(1000));
    Some(entry.from_record(&change.record_id, at_ms, &change.sequence))
}

/// The event's item: its attributes, and the index attributes that place
/// it in the four events indexes (only event items carry them).
fn event_item(new: &NewEvent) -> Result<Item, ApiError> {
    let event = &new.event;
    let id = event.id.as_str();
    let mut item = key(keys::event_pk(id), keys::EVENT_SK);
    item.insert(attrs::ID.into(), s(id));
    item.insert(CREATED_DATE.into(), s(&event.created_date));
    item.insert(ENTITY.into(), s(event.kind.entity.as_str()));
    item.insert(EVENT_TYPE.into(), s(event.kind.action.as_str()));
    item.insert(attrs::USER_ID.into(), s(event.user.to_string()));
    if let Some(connection) = &event.connection {
        item.insert(CONNECTION_ID.into(), s(connection));
    }
    item.insert(DATA.into(), serde_dynamo::to_attribute_value(&event.data)?);
    if let Some(actor) = &event.actor {
        item.insert(attrs::ACTOR.into(), s(actor));
    }
    if let Some(correlation_id) = &event.correlation_id {
        item.insert(attrs::CORRELATION_ID.into(), s(correlation_id));
    }
    item.insert(attrs::EXPIRES_AT.into(), n(new.expires_at));
    let order = keys::event_key(&event.created_date, &new.sequence, id);
    for (attr, value) in [
        (EVENTS_BY_TIME.pk, EVENT_FEED.to_owned()),
        (EVENTS_BY_USER.pk, event.user.to_string()),
        (EVENTS_BY_TYPE.pk, event.kind.id().to_owned()),
        (EVENTS_BY_ENTITY.pk, event.kind.entity.as_str().to_owned()),
        (EVENTS_BY_TIME.sk, order),
    ] {
        item.insert(attr.into(), s(value));
    }
    Ok(item)
}

fn corrupt() -> ApiError {
    ApiError::internal("an event item that does not read as an event")
}

/// An event from its item (or an index's copy, which projects it all).
fn event_from_item(item: &Item) -> Result<Event, ApiError> {
    let id = EventId::parse(text(item, attrs::ID)).map_err(|_| corrupt())?;
    let kind = Entity::parse(text(item, ENTITY))
        .zip(event::Action::parse(text(item, EVENT_TYPE)))
        .map(|(entity, action)| EventType { entity, action })
        .ok_or_else(corrupt)?;
    let user = UserId::parse(text(item, attrs::USER_ID)).map_err(|_| corrupt())?;
    let data = item.get(DATA).cloned().ok_or_else(corrupt)?;
    Ok(Event {
        id,
        created_date: text(item, CREATED_DATE).to_owned(),
        kind,
        user,
        connection: optional_text(item, CONNECTION_ID),
        data: serde_dynamo::from_attribute_value(data)?,
        actor: optional_text(item, attrs::ACTOR),
        correlation_id: optional_text(item, attrs::CORRELATION_ID),
    })
}

/// Whether an event is past its seven days, though DynamoDB's TTL, which
/// takes its time, has not removed it yet.
fn expired(item: &Item, now: i64) -> bool {
    item.get(attrs::EXPIRES_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_none_or(|at| at <= now)
}

/// A page of events, newest first, and where the next page starts.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// `None` when nothing is left to read.
    pub next: Option<Position>,
}

/// Items a filtered page reads in its one Query, most of which the filter
/// may drop: a page's work is bounded, and a page may hold fewer events
/// than `limit` while `next` goes on.
const FILTERED_READ: usize = 100;

/// How one page is read: one index partition, newest first, and the terms
/// the index does not key, as a DynamoDB filter.
#[derive(Debug, Clone, PartialEq)]
struct Read {
    index: Index,
    partition: String,
    filter: Option<Cond>,
}

/// The most selective index the filter allows drives the read: a user's
/// events, then a type's, then an entity's, then the whole feed. `None`
/// when the terms contradict each other, so nothing is read.
fn read_of(filter: &EventFilter) -> Option<Read> {
    if filter.matches_nothing {
        return None;
    }
    // A type implies its entity (the filter has checked they agree).
    let entity = filter.entity.filter(|_| filter.kind.is_none());
    let type_cond = filter
        .kind
        .map(|k| Cond::eq(EVENTS_BY_TYPE.pk, k.id()))
        .or_else(|| entity.map(|e| Cond::eq(EVENTS_BY_ENTITY.pk, e.as_str())));
    Some(match (filter.user, filter.kind, entity) {
        (Some(user), _, _) => Read {
            index: EVENTS_BY_USER,
            partition: user.to_string(),
            filter: type_cond,
        },
        (None, Some(kind), _) => Read {
            index: EVENTS_BY_TYPE,
            partition: kind.id().to_owned(),
            filter: None,
        },
        (None, None, Some(entity)) => Read {
            index: EVENTS_BY_ENTITY,
            partition: entity.as_str().to_owned(),
            filter: None,
        },
        (None, None, None) => Read {
            index: EVENTS_BY_TIME,
            partition: EVENT_FEED.to_owned(),
            filter: None,
        },
    })
}

fn position_of(index: Index, item: &Item) -> Position {
    Position::After([
        text(item, keys::PK).to_owned(),
        text(item, keys::SK).to_owned(),
        text(item, index.pk).to_owned(),
        text(item, index.sk).to_owned(),
    ])
}

/// The lowest sort key of an event still kept: events older than seven
/// days are outside every read, whether or not the TTL has removed them.
fn oldest_kept(now: i64) -> String {
    event::created_date(now.saturating_sub(RETENTION_SECONDS)).unwrap_or_default()
}

impl Store {
    /// Records an event once: one PutItem, refused when the event is there
    /// already (the same stream record, delivered again). `true` when this
    /// call recorded it.
    pub async fn record_event(&self, event: &NewEvent) -> Result<bool, ApiError> {
        self.put_new(event_item(event)?).await
    }

    /// One event, by one strongly consistent GetItem: `None` when there is
    /// no such event, or it is past its seven days.
    pub async fn get_event(&self, id: &EventId) -> Result<Option<Event>, ApiError> {
        let item = self
            .get_item(key(keys::event_pk(id.as_str()), keys::EVENT_SK))
            .await?;
        match item {
            Some(item) if !expired(&item, now_seconds()) => Ok(Some(event_from_item(&item)?)),
            _ => Ok(None),
        }
    }

    /// A page of at most `limit` events matching `filter`, newest first,
    /// from `from`: one Query. Unfiltered, it reads `limit + 1` events, so
    /// whether another page exists is known; filtered, it reads at least
    /// [`FILTERED_READ`] items and goes on from where it stopped.
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        from: Position,
        limit: usize,
    ) -> Result<EventPage, ApiError> {
        let nothing = EventPage {
            events: Vec::new(),
            next: None,
        };
        let Some(read) = read_of(filter) else {
            return Ok(nothing);
        };
        let oldest = oldest_kept(now_seconds());
        let start = match from {
            Position::Start => None,
            Position::Done => return Ok(nothing),
            // A cursor whose place has aged out of the seven days: what
            // followed it has too (DynamoDB refuses a start key outside the
            // key condition).
            Position::After(values) if values[3] < oldest => return Ok(nothing),
            Position::After(values) => Some(
                [keys::PK, keys::SK, read.index.pk, read.index.sk]
                    .into_iter()
                    .zip(values)
                    .map(|(name, value)| (name.to_owned(), s(value)))
                    .collect::<Item>(),
            ),
        };
        let mut e = Expr::default();
        let key_condition = e.condition(&Cond::And(vec![
            Cond::eq(read.index.pk, read.partition.clone()),
            Cond::Between(read.index.sk, oldest, keys::after_all_starting_with("")),
        ]));
        let filter_expression = read.filter.as_ref().map(|f| e.condition(f));
        let wanted = limit.saturating_add(1);
        let reads = if read.filter.is_some() {
            wanted.max(FILTERED_READ)
        } else {
            wanted
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(read.index.name)
            .key_condition_expression(key_condition)
            .set_filter_expression(filter_expression)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(false)
            .limit(i32::try_from(reads).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        let mut items = output.items.unwrap_or_default();
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|item| position_of(read.index, item))
        } else {
            output
                .last_evaluated_key
                .map(|key| position_of(read.index, &key))
        };
        let events = items
            .iter()
            .map(event_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EventPage { events, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_dynamodb::types::AttributeValue;

    fn profile(user: &UserId, fields: &[(&str, &str)]) -> Item {
        let mut item = key(keys::user_pk(user), keys::PROFILE_SK);
        item.insert(attrs::ID.into(), s(user.to_string()));
        item.insert(attrs::VERSION.into(), n(1));
        for (attr, value) in fields {
            item.insert((*attr).into(), s(*value));
        }
        item
    }

    fn change(kind: ChangeKind, old: Item, new: Item) -> Change {
        let image = if new.is_empty() { &old } else { &new };
        let keys = [keys::PK, keys::SK]
            .into_iter()
            .map(|k| (k.to_owned(), image[k].clone()))
            .collect();
        Change {
            record_id: "record-1".into(),
            kind,
            keys,
            new,
            old,
            at_seconds: 1_795_651_200,
            sequence: "4200".into(),
        }
    }

    fn kind_of(change: &Change) -> Option<&'static str> {
        event_of(change).map(|e| e.event.kind.id())
    }

    #[test]
    fn a_profile_inserted_is_a_user_created() {
        let user = UserId::new();
        let new = profile(&user, &[(attrs::EMAIL, "g@hooli.com")]);
        let made = event_of(&change(ChangeKind::Insert, Item::new(), new)).unwrap();
        assert_eq!(made.event.kind, EventType::USER_CREATED);
        assert_eq!(made.event.user, user);
        assert_eq!(made.event.id, EventId::of_record("record-1"));
        assert_eq!(made.event.created_date, "2026-11-26T00:00:00Z");
        assert_eq!(made.expires_at, 1_795_651_200 + RETENTION_SECONDS);
        assert_eq!(made.event.data.id, user.to_string());
        assert_eq!(made.event.data.changed, None);
        assert_eq!(made.event.connection, None);
    }

    #[test]
    fn an_update_names_the_fields_that_changed_and_no_value() {
        let user = UserId::new();
        let old = profile(
            &user,
            &[
                (attrs::EMAIL, "old@hooli.com"),
                (attrs::FIRST_NAME, "Gavin"),
                (attrs::MIDDLE_NAME, "M"),
            ],
        );
        let mut new = profile(
            &user,
            &[
                (attrs::EMAIL, "new@hooli.com"),
                (attrs::FIRST_NAME, "Gavin"),
                (attrs::MOBILE, "+61410888666"),
                (attrs::ACTOR, "key:0123456789abcdef"),
                (attrs::CORRELATION_ID, "req-1"),
                ("emailKey", "new@hooli.com"),
            ],
        );
        new.insert(attrs::VERSION.into(), n(2));
        let made = event_of(&change(ChangeKind::Modify, old, new)).unwrap();
        assert_eq!(made.event.kind, EventType::USER_UPDATED);
        assert_eq!(
            made.event.data.changed.as_deref(),
            Some(
                &[
                    attrs::EMAIL.to_owned(),
                    attrs::MOBILE.to_owned(),
                    attrs::MIDDLE_NAME.to_owned()
                ][..]
            )
        );
        assert_eq!(made.event.actor.as_deref(), Some("key:0123456789abcdef"));
        assert_eq!(made.event.correlation_id.as_deref(), Some("req-1"));
        let item = event_item(&made).unwrap();
        let text = format!("{item:?}");
        for value in ["old@hooli.com", "new@hooli.com", "+61410888666", "Gavin"] {
            assert!(!text.contains(value), "{value} in {text}");
        }
    }

    #[test]
    fn bookkeeping_alone_and_deletions_under_way_make_no_event() {
        let user = UserId::new();
        let old = profile(&user, &[(attrs::EMAIL, "g@hooli.com")]);
        let mut new = old.clone();
        for (attr, value) in [
            (attrs::VERSION, n(2)),
            (attrs::UPDATED_TIME, s("2026-12-01T00:00:00.000Z")),
            (attrs::ACTOR, s("user:x")),
            (attrs::CORRELATION_ID, s("req-2")),
        ] {
            new.insert(attr.into(), value);
        }
        assert_eq!(kind_of(&change(ChangeKind::Modify, old.clone(), new)), None);
        let mut tombstone = old.clone();
        tombstone.insert(attrs::DELETED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        tombstone.remove(attrs::EMAIL);
        assert_eq!(
            kind_of(&change(ChangeKind::Modify, old, tombstone.clone())),
            None,
            "the tombstone"
        );
        let mut leased = tombstone.clone();
        leased.insert(attrs::PURGE_LEASE_UNTIL.into(), n(1));
        leased.insert(attrs::REMOVED_TRANSACTIONS.into(), n(100));
        assert_eq!(
            kind_of(&change(ChangeKind::Modify, tombstone, leased)),
            None,
            "the purge's lease and counters"
        );
    }

    #[test]
    fn a_profile_removed_is_a_user_deleted_with_its_receipt() {
        let user = UserId::new();
        let mut old = profile(&user, &[]);
        old.insert(attrs::DELETED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        for (attr, count) in [
            (attrs::REMOVED_CONNECTIONS, 2),
            (attrs::REMOVED_ACCOUNTS, 3),
            (attrs::REMOVED_TRANSACTIONS, 4000),
            (attrs::REMOVED_OTHER, 1),
        ] {
            old.insert(attr.into(), n(count));
        }
        old.insert(attrs::ACTOR.into(), s("key:0123456789abcdef"));
        let made = event_of(&change(ChangeKind::Remove, old, Item::new())).unwrap();
        assert_eq!(made.event.kind, EventType::USER_DELETED);
        assert_eq!(
            made.event.data.removed,
            Some(Removed {
                connections: 2,
                accounts: 3,
                transactions: 4000,
                other: 1
            })
        );
        assert_eq!(made.event.actor.as_deref(), Some("key:0123456789abcdef"));
        // Without counters (a profile removed some other way): zeros.
        let bare = event_of(&change(
            ChangeKind::Remove,
            profile(&user, &[]),
            Item::new(),
        ));
        assert_eq!(bare.unwrap().event.data.removed, Some(Removed::default()));
    }

    fn connection(user: &UserId, id: &str, status: &str) -> Item {
        let mut item = key(keys::user_pk(user), keys::connection_sk(id));
        item.insert(attrs::ID.into(), s(id));
        item.insert("status".into(), s(status));
        item
    }

    #[test]
    fn connections_are_created_updated_and_deleted() {
        let user = UserId::new();
        let mut leased = connection(&user, "conn-1", "active");
        leased.insert(attrs::LEASE_ID.into(), s("lease-1"));
        leased.insert(attrs::LEASE_UNTIL.into(), n(1));
        let made = event_of(&change(ChangeKind::Insert, Item::new(), leased.clone())).unwrap();
        assert_eq!(made.event.kind, EventType::CONNECTION_CREATED);
        assert_eq!(made.event.connection.as_deref(), Some("conn-1"));
        assert_eq!(made.event.data.id, "conn-1");
        assert_eq!(made.event.data.entity, Entity::Connection);
        assert_eq!(
            made.event.data_ref(),
            format!("/users/{user}/connections/conn-1")
        );

        // The ingest releases its lease: nothing anyone sees.
        let released = connection(&user, "conn-1", "active");
        assert_eq!(
            kind_of(&change(ChangeKind::Modify, leased, released.clone())),
            None
        );
        // A refresh takes it with a new lease, the same fields or not.
        let mut refreshed = released.clone();
        refreshed.insert(attrs::LEASE_ID.into(), s("lease-2"));
        assert_eq!(
            kind_of(&change(
                ChangeKind::Modify,
                released.clone(),
                refreshed.clone()
            )),
            Some("connection.updated")
        );
        // A field changed.
        let invalid = connection(&user, "conn-1", "invalid");
        assert_eq!(
            kind_of(&change(ChangeKind::Modify, released.clone(), invalid)),
            Some("connection.updated")
        );
        // delete-connection's tombstone, then its removal.
        let mut tombstone = released.clone();
        tombstone.insert(attrs::DELETED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        assert_eq!(
            kind_of(&change(ChangeKind::Modify, released, tombstone.clone())),
            None
        );
        assert_eq!(
            kind_of(&change(ChangeKind::Remove, tombstone, Item::new())),
            Some("connection.deleted")
        );
    }

    #[test]
    fn a_connection_that_went_with_its_user_names_no_caller() {
        let user = UserId::new();
        let mut stamped = connection(&user, "conn-1", "active");
        stamped.insert(attrs::ACTOR.into(), s("key:ingester"));
        stamped.insert(attrs::CORRELATION_ID.into(), s("ingest-request"));
        // Removed by the purge of its user: the stamp is the last ingest's.
        let purged = event_of(&change(ChangeKind::Remove, stamped.clone(), Item::new())).unwrap();
        assert_eq!(purged.event.kind, EventType::CONNECTION_DELETED);
        assert_eq!(
            (purged.event.actor, purged.event.correlation_id),
            (None, None)
        );
        // Removed by delete-connection: its tombstone names who deleted it.
        let mut tombstone = stamped;
        tombstone.insert(attrs::DELETED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        tombstone.insert(attrs::ACTOR.into(), s("key:deleter"));
        tombstone.insert(attrs::CORRELATION_ID.into(), s("delete-request"));
        let deleted = event_of(&change(ChangeKind::Remove, tombstone, Item::new())).unwrap();
        assert_eq!(deleted.event.actor.as_deref(), Some("key:deleter"));
        assert_eq!(
            deleted.event.correlation_id.as_deref(),
            Some("delete-request")
        );
    }

    #[test]
    fn other_items_and_foreign_keys_make_no_event() {
        let user = UserId::new();
        for sk in [
            keys::PURGE_SK.to_owned(),
            keys::account_sk("a"),
            keys::transaction_sk("t", "c"),
            keys::ingest_record_sk("d"),
        ] {
            let item = key(keys::user_pk(&user), sk.clone());
            for kind in [ChangeKind::Insert, ChangeKind::Modify, ChangeKind::Remove] {
                let (old, new) = match kind {
                    ChangeKind::Insert => (Item::new(), item.clone()),
                    _ => (item.clone(), item.clone()),
                };
                assert_eq!(kind_of(&change(kind, old, new)), None, "{sk}");
            }
        }
        for pk in ["EVENT#x", "IDEMPOTENCY#x", "USER#not-a-user", ""] {
            let item = key(pk.to_owned(), keys::PROFILE_SK);
            assert_eq!(
                kind_of(&change(ChangeKind::Insert, Item::new(), item)),
                None,
                "{pk}"
            );
        }
        assert_eq!(ChangeKind::parse("UPSERT"), None);
    }

    #[test]
    fn a_record_without_a_time_still_makes_an_event_kept_seven_days() {
        let user = UserId::new();
        let mut c = change(ChangeKind::Insert, Item::new(), profile(&user, &[]));
        for at in [0, -5, i64::MAX] {
            c.at_seconds = at;
            let made = event_of(&c).unwrap();
            assert!(made.expires_at > now_seconds(), "{at}");
            assert_eq!(made.event.created_date.len(), 20, "{at}");
        }
    }

    #[test]
    fn items_hold_the_index_attributes_and_read_back() {
        let user = UserId::new();
        let new = profile(&user, &[]);
        let made = event_of(&change(ChangeKind::Insert, Item::new(), new)).unwrap();
        let item = event_item(&made).unwrap();
        assert_eq!(text(&item, EVENTS_BY_TIME.pk), EVENT_FEED);
        assert_eq!(text(&item, EVENTS_BY_USER.pk), user.to_string());
        assert_eq!(text(&item, EVENTS_BY_TYPE.pk), "user.created");
        assert_eq!(text(&item, EVENTS_BY_ENTITY.pk), "user");
        assert_eq!(
            text(&item, EVENTS_BY_TIME.sk),
            keys::event_key("2026-11-26T00:00:00Z", "4200", made.event.id.as_str())
        );
        assert!(matches!(item.get(DATA), Some(AttributeValue::M(_))));
        assert_eq!(event_from_item(&item).unwrap(), made.event);
        assert!(expired(&item, made.expires_at));
        assert!(!expired(&item, made.expires_at - 1));
        let mut broken = item.clone();
        broken.insert(ENTITY.into(), s("consent"));
        assert!(event_from_item(&broken).is_err());
    }

    fn stamped(mut item: Item, actor: &str, request: &str) -> Item {
        for (attr, value) in [
            (attrs::ACTOR, actor),
            (attrs::CORRELATION_ID, request),
            (attrs::ACTOR_NAME, "ada@example.test"),
            (attrs::SOURCE_IP, "192.0.2.1"),
            (attrs::USER_AGENT, "curl/8"),
        ] {
            item.insert(attr.into(), s(value));
        }
        item
    }

    #[test]
    fn a_users_changes_are_audited_with_their_stamp_and_field_names_only() {
        let user = UserId::new();
        let created = stamped(
            profile(
                &user,
                &[(attrs::EMAIL, "g@hooli.com"), (attrs::FIRST_NAME, "Gavin")],
            ),
            "operator:ada",
            "req-1",
        );
        let mut created = created;
        created.insert("emailKey".into(), s("g@hooli.com"));
        let entry = audit_of(&change(ChangeKind::Insert, Item::new(), created.clone())).unwrap();
        assert_eq!(entry.action, AuditAction::UserCreated);
        assert_eq!(entry.fields, [attrs::EMAIL, attrs::FIRST_NAME]);
        assert_eq!(entry.user_id, Some(user));
        assert_eq!(entry.target.as_ref().unwrap().kind, "user");
        assert_eq!(entry.stamp.actor.as_str(), "operator:ada");
        assert_eq!(entry.stamp.name.as_deref(), Some("ada@example.test"));
        assert_eq!(entry.stamp.source_ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(entry.stamp.user_agent.as_deref(), Some("curl/8"));
        assert_eq!(entry.stamp.correlation_id, "req-1");
        let origin = entry.origin.clone().unwrap();
        assert_eq!(origin.at_ms, 1_795_651_200_000);
        assert_eq!(origin.sequence, "4200");
        // The same record, the same entry.
        let again = audit_of(&change(ChangeKind::Insert, Item::new(), created.clone())).unwrap();
        assert_eq!(again, entry);

        let mut updated = stamped(created.clone(), "key:0123456789abcdef", "req-2");
        updated.insert(attrs::EMAIL.into(), s("new@hooli.com"));
        updated.insert("emailKey".into(), s("new@hooli.com"));
        updated.insert(attrs::MOBILE.into(), s("+61410888666"));
        updated.insert(attrs::VERSION.into(), n(2));
        updated.insert(attrs::UPDATED_TIME.into(), s("2026-12-01T00:00:00.000Z"));
        let entry = audit_of(&change(
            ChangeKind::Modify,
            created.clone(),
            updated.clone(),
        ))
        .unwrap();
        assert_eq!(entry.action, AuditAction::UserUpdated);
        assert_eq!(entry.fields, [attrs::EMAIL, attrs::MOBILE]);
        assert_eq!(entry.stamp.actor.as_str(), "key:0123456789abcdef");
        let text = format!("{entry:?}");
        for value in ["g@hooli.com", "new@hooli.com", "+61410888666", "Gavin"] {
            assert!(!text.contains(value), "{value} in {text}");
        }
        // Bookkeeping alone, or a deletion under way: no event, no entry.
        let mut touched_only = updated.clone();
        touched_only.insert(attrs::VERSION.into(), n(3));
        assert_eq!(
            audit_of(&change(ChangeKind::Modify, updated.clone(), touched_only)),
            None
        );
        let mut tombstone = stamped(updated.clone(), "operator:eve", "req-3");
        tombstone.insert(attrs::DELETED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        assert_eq!(
            audit_of(&change(ChangeKind::Modify, updated, tombstone.clone())),
            None
        );
        // The removal: the deleter, from the tombstone.
        let entry = audit_of(&change(ChangeKind::Remove, tombstone, Item::new())).unwrap();
        assert_eq!(entry.action, AuditAction::UserDeleted);
        assert_eq!(entry.stamp.actor.as_str(), "operator:eve");
        assert!(entry.fields.is_empty());
    }

    #[test]
    fn unstamped_changes_are_unattributed_and_purged_connections_the_systems() {
        let user = UserId::new();
        let bare = profile(&user, &[(attrs::EMAIL, "g@hooli.com")]);
        let entry = audit_of(&change(ChangeKind::Insert, Item::new(), bare)).unwrap();
        assert_eq!(entry.stamp.actor.as_str(), audit::UNATTRIBUTED);
        assert_eq!(entry.stamp.correlation_id, "");

        let conn = stamped(
            connection(&user, "conn-1", "active"),
            "key:ingester",
            "req-1",
        );
        let purged = audit_of(&change(ChangeKind::Remove, conn.clone(), Item::new())).unwrap();
        assert_eq!(purged.action, AuditAction::ConnectionDeleted);
        assert_eq!(purged.stamp.actor.as_str(), audit::SYSTEM);
        assert_eq!(purged.stamp.source_ip, None);
        assert_eq!(purged.user_id, Some(user));
        assert_eq!(purged.target.as_ref().unwrap().id, "conn-1");
        let mut tombstone = stamped(conn, "key:deleter", "req-2");
        tombstone.insert(attrs::DELETED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        let deleted = audit_of(&change(ChangeKind::Remove, tombstone, Item::new())).unwrap();
        assert_eq!(deleted.stamp.actor.as_str(), "key:deleter");
    }

    #[test]
    fn api_keys_and_webhooks_are_audited_from_their_items() {
        let mut api_key = key(
            keys::API_KEYS_PK.to_owned(),
            keys::api_key_sk("0123456789abcdef"),
        );
        api_key = stamped(api_key, "operator:ada", "req-1");
        let created = audit_of(&change(ChangeKind::Insert, Item::new(), api_key.clone())).unwrap();
        assert_eq!(created.action, AuditAction::ApiKeyCreated);
        assert_eq!(created.target.as_ref().unwrap().id, "0123456789abcdef");
        assert_eq!(created.user_id, None);
        let mut used = api_key.clone();
        used.insert("lastUsedAt".into(), s("2026-12-01T00:00:00.000Z"));
        assert_eq!(
            audit_of(&change(ChangeKind::Modify, api_key.clone(), used.clone())),
            None
        );
        let mut revoked = stamped(used.clone(), "operator:eve", "req-2");
        revoked.insert(attrs::REVOKED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        let entry = audit_of(&change(ChangeKind::Modify, used, revoked.clone())).unwrap();
        assert_eq!(entry.action, AuditAction::ApiKeyRevoked);
        assert_eq!(entry.stamp.actor.as_str(), "operator:eve");
        assert_eq!(entry.fields, [attrs::REVOKED_AT]);
        // A revocation's time rewritten by no request: a change, the system's.
        let mut again = revoked.clone();
        again.insert(attrs::REVOKED_AT.into(), s("2026-12-02T00:00:00.000Z"));
        let entry = audit_of(&change(ChangeKind::Modify, revoked.clone(), again)).unwrap();
        assert_eq!(entry.action, AuditAction::ApiKeyUpdated);
        assert_eq!(entry.stamp.actor.as_str(), audit::SYSTEM);
        assert_eq!(entry.stamp.correlation_id, "");
        assert_eq!(entry.fields, [attrs::REVOKED_AT]);
        assert_eq!(
            audit_of(&change(ChangeKind::Remove, revoked, Item::new())),
            None
        );
        let count = key(keys::API_KEYS_PK.to_owned(), keys::API_KEY_COUNT_SK);
        assert_eq!(
            audit_of(&change(ChangeKind::Insert, Item::new(), count)),
            None
        );

        let mut hook = key(keys::WEBHOOKS_PK.to_owned(), keys::webhook_sk("wh-1"));
        hook.insert("secret".into(), s("sealed-1"));
        let hook = stamped(hook, "operator:ada", "req-3");
        let created = audit_of(&change(ChangeKind::Insert, Item::new(), hook.clone())).unwrap();
        assert_eq!(created.action, AuditAction::WebhookCreated);
        assert_eq!(created.target.as_ref().unwrap().id, "wh-1");
        let mut rotated = stamped(hook.clone(), "operator:eve", "req-4");
        rotated.insert("secret".into(), s("sealed-2"));
        rotated.insert("previousSecret".into(), s("sealed-1"));
        rotated.insert("previousSecretUntil".into(), n(1));
        let entry = audit_of(&change(ChangeKind::Modify, hook.clone(), rotated.clone())).unwrap();
        assert_eq!(entry.action, AuditAction::WebhookSecretRotated);
        assert_eq!(entry.stamp.actor.as_str(), "operator:eve");
        assert_eq!(
            entry.fields,
            ["previousSecret", "previousSecretUntil", "secret"]
        );
        // A reseal (the same secrets under a new key), a disable: changes
        // that no request stamped, the system's.
        let mut resealed = rotated.clone();
        resealed.insert("secret".into(), s("sealed-2-anew"));
        resealed.insert("previousSecret".into(), s("sealed-1-anew"));
        let entry = audit_of(&change(ChangeKind::Modify, rotated.clone(), resealed)).unwrap();
        assert_eq!(entry.action, AuditAction::WebhookUpdated);
        assert_eq!(entry.stamp.actor.as_str(), audit::SYSTEM);
        assert_eq!(entry.fields, ["previousSecret", "secret"]);
        assert!(!format!("{entry:?}").contains("sealed-"));
        let mut disabled = rotated.clone();
        disabled.insert(attrs::STATUS.into(), s("disabled"));
        disabled.insert("disabledReason".into(), s("gone"));
        let entry = audit_of(&change(ChangeKind::Modify, rotated.clone(), disabled)).unwrap();
        assert_eq!(entry.action, AuditAction::WebhookUpdated);
        assert_eq!(entry.stamp.actor.as_str(), audit::SYSTEM);
        assert_eq!(entry.fields, ["disabledReason", attrs::STATUS]);
        // Retargeted by a request: its stamp.
        let mut retargeted = stamped(rotated.clone(), "operator:mallory", "req-6");
        retargeted.insert("url".into(), s("https://attacker.example/hook"));
        retargeted.insert("subscribedEvents".into(), s("user.updated"));
        let entry = audit_of(&change(ChangeKind::Modify, rotated.clone(), retargeted)).unwrap();
        assert_eq!(entry.action, AuditAction::WebhookUpdated);
        assert_eq!(entry.stamp.actor.as_str(), "operator:mallory");
        assert_eq!(entry.stamp.correlation_id, "req-6");
        assert_eq!(entry.fields, ["subscribedEvents", "url"]);
        assert!(!format!("{entry:?}").contains("attacker"));
        // The deleter's stamp before the REMOVE changes nothing: no entry.
        let restamped = stamped(rotated.clone(), "operator:zed", "req-5");
        assert_eq!(
            audit_of(&change(ChangeKind::Modify, rotated.clone(), restamped)),
            None
        );
        let deleting = stamped(rotated, "operator:zed", "req-5");
        let deleted = audit_of(&change(ChangeKind::Remove, deleting, Item::new())).unwrap();
        assert_eq!(deleted.action, AuditAction::WebhookDeleted);
        assert_eq!(deleted.stamp.actor.as_str(), "operator:zed");
        // The subscriptions' count and the attempts' partitions: nothing.
        let count = key(keys::WEBHOOKS_PK.to_owned(), keys::WEBHOOK_COUNT_SK);
        assert_eq!(
            audit_of(&change(ChangeKind::Modify, count.clone(), count)),
            None
        );
        let attempt = key(keys::deliveries_pk("wh-1"), "DELIVERY#x");
        assert_eq!(
            audit_of(&change(ChangeKind::Insert, Item::new(), attempt)),
            None
        );
    }

    #[test]
    fn every_other_change_of_a_key_is_audited_by_name_and_a_use_is_not() {
        let mut active = key(
            keys::API_KEYS_PK.to_owned(),
            keys::api_key_sk("0123456789abcdef"),
        );
        active.insert("name".into(), s("billing"));
        active.insert("digest".into(), s("digest-of-the-real-key"));
        let active = stamped(active, "operator:ada", "req-1");
        let mut revoked = stamped(active.clone(), "operator:eve", "req-2");
        revoked.insert(attrs::REVOKED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        // Un-revoked, and a digest of someone's choosing, in a write that
        // left the stamp as it was: the system's (no request did it).
        let mut tampered = revoked.clone();
        tampered.remove(attrs::REVOKED_AT);
        tampered.insert("digest".into(), s("digest-of-the-attackers-key"));
        let entry = audit_of(&change(ChangeKind::Modify, revoked.clone(), tampered)).unwrap();
        assert_eq!(entry.action, AuditAction::ApiKeyUpdated);
        assert_eq!(entry.fields, ["digest", attrs::REVOKED_AT]);
        assert_eq!(entry.stamp.actor.as_str(), audit::SYSTEM);
        assert_eq!(entry.target.as_ref().unwrap().id, "0123456789abcdef");
        let text = format!("{entry:?}");
        assert!(!text.contains("digest-of"), "{text}");
        // Renamed by a request, used at the same time: both named, its stamp.
        let mut renamed = stamped(active.clone(), "operator:mallory", "req-3");
        renamed.insert("name".into(), s("ci"));
        renamed.insert(attrs::LAST_USED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        let entry = audit_of(&change(ChangeKind::Modify, active.clone(), renamed)).unwrap();
        assert_eq!(entry.action, AuditAction::ApiKeyUpdated);
        assert_eq!(entry.fields, [attrs::LAST_USED_AT, "name"]);
        assert_eq!(entry.stamp.actor.as_str(), "operator:mallory");
        // A use alone, stamped or not, is no change.
        let mut used = active.clone();
        used.insert(attrs::LAST_USED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        assert_eq!(
            audit_of(&change(ChangeKind::Modify, active.clone(), used.clone())),
            None
        );
        let mut used_again = stamped(used.clone(), "key:0123456789abcdef", "req-4");
        used_again.insert(attrs::LAST_USED_AT.into(), s("2026-12-01T00:05:00.000Z"));
        assert_eq!(
            audit_of(&change(ChangeKind::Modify, used, used_again)),
            None
        );
    }

    #[test]
    fn a_deletion_names_its_first_deleter_whoever_repeated_it() {
        let user = UserId::new();
        let deleter = |actor: &str, request: &str| {
            let map = stamped(Item::new(), actor, request);
            AttributeValue::M(map)
        };
        // The first DELETE's tombstone, then a repeat that restamped it but
        // kept `deletedBy`.
        let mut tombstone = stamped(
            profile(&user, &[(attrs::EMAIL, "g@hooli.com")]),
            "key:repeater",
            "req-repeat",
        );
        tombstone.insert(attrs::DELETED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        tombstone.insert(
            attrs::DELETED_BY.into(),
            deleter("operator:editor", "req-delete"),
        );
        let removed = change(ChangeKind::Remove, tombstone.clone(), Item::new());
        let event = event_of(&removed).unwrap();
        assert_eq!(event.event.kind, EventType::USER_DELETED);
        assert_eq!(event.event.actor.as_deref(), Some("operator:editor"));
        assert_eq!(event.event.correlation_id.as_deref(), Some("req-delete"));
        let entry = audit_of(&removed).unwrap();
        assert_eq!(entry.action, AuditAction::UserDeleted);
        assert_eq!(entry.stamp.actor.as_str(), "operator:editor");
        assert_eq!(entry.stamp.correlation_id, "req-delete");
        assert_eq!(entry.stamp.name.as_deref(), Some("ada@example.test"));
        assert_eq!(entry.stamp.source_ip.as_deref(), Some("192.0.2.1"));
        // `deletedBy` names the deleter of a removal only.
        let mut updated = tombstone.clone();
        updated.remove(attrs::DELETED_AT);
        updated.insert(attrs::EMAIL.into(), s("new@hooli.com"));
        let mut before = updated.clone();
        before.insert(attrs::EMAIL.into(), s("old@hooli.com"));
        let entry = audit_of(&change(ChangeKind::Modify, before, updated)).unwrap();
        assert_eq!(entry.stamp.actor.as_str(), "key:repeater");

        // The same for a connection deleted on its own.
        let mut conn = stamped(
            connection(&user, "conn-1", "active"),
            "key:repeater",
            "req-repeat",
        );
        conn.insert(attrs::DELETED_AT.into(), s("2026-12-01T00:00:00.000Z"));
        conn.insert(
            attrs::DELETED_BY.into(),
            deleter("operator:editor", "req-delete"),
        );
        let removed = change(ChangeKind::Remove, conn, Item::new());
        let event = event_of(&removed).unwrap();
        assert_eq!(event.event.kind, EventType::CONNECTION_DELETED);
        assert_eq!(event.event.actor.as_deref(), Some("operator:editor"));
        assert_eq!(event.event.correlation_id.as_deref(), Some("req-delete"));
        let entry = audit_of(&removed).unwrap();
        assert_eq!(entry.stamp.actor.as_str(), "operator:editor");
    }

    #[test]
    fn the_most_selective_index_drives_the_read() {
        let user = UserId::new();
        let read = |text: &str| read_of(&EventFilter::parse(text).unwrap());
        let all = read_of(&EventFilter::default()).unwrap();
        assert_eq!((all.index, all.filter), (EVENTS_BY_TIME, None));
        let by_user = read(&format!(
            "event.type.eq('user.updated'),user.id.eq('{user}'),event.entity.eq('user')"
        ))
        .unwrap();
        assert_eq!(by_user.index, EVENTS_BY_USER);
        assert_eq!(by_user.partition, user.to_string());
        assert_eq!(
            by_user.filter,
            Some(Cond::eq(EVENTS_BY_TYPE.pk, "user.updated"))
        );
        let by_type =
            read("event.entity.eq('connection'),event.type.eq('connection.created')").unwrap();
        assert_eq!(
            (by_type.index, by_type.partition.as_str(), by_type.filter),
            (EVENTS_BY_TYPE, "connection.created", None)
        );
        let by_entity = read("event.entity.eq('connection')").unwrap();
        assert_eq!(by_entity.index, EVENTS_BY_ENTITY);
        let user_entity = read(&format!("user.id.eq('{user}'),event.entity.eq('user')")).unwrap();
        assert_eq!(
            user_entity.filter,
            Some(Cond::eq(EVENTS_BY_ENTITY.pk, "user"))
        );
        assert_eq!(
            read("event.type.eq('user.created'),event.entity.eq('connection')"),
            None
        );
    }
}
