//! The audit trail's entries: appended, never changed, read newest first.
//!
//! **Appending** is one conditional PutItem (`attribute_not_exists(pk)`) of
//! an item of its own, `AUDIT#<id>`: an entry is never replaced, and one a
//! stream record made, delivered again, has the same id and is refused by
//! the condition, which is "already recorded", not an error. Every entry
//! carries its TTL (`expiresAt`, the table's TTL attribute): its time plus
//! the retention (`AUDIT_RETENTION_DAYS`).
//!
//! **Reading** is one Query per page on one of three sparse indexes (only
//! audit items carry their keys), newest first: one user's entries
//! ([`AUDIT_BY_USER`]), one actor's ([`AUDIT_BY_ACTOR`]) or all of them
//! ([`AUDIT_BY_TIME`]), a time range being a condition on the sort key.
//! Every term of the filter is a key condition, so a page reads exactly
//! `limit + 1` entries at most, and never a Scan.

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::attrs::{self, key, n, s, text, Item};
use super::expr::Cond;
use super::{Position, Store};
use crate::audit::{self, AuditFilter, AuditPage, Entry, Record};
use crate::error::ApiError;
use crate::keys::{self, Index, AUDIT_BY_ACTOR, AUDIT_BY_TIME, AUDIT_BY_USER, AUDIT_FEED};

/// On an entry: what was done (`user.updated`).
const ACTION: &str = "action";
/// On an entry: when (RFC 3339, UTC, milliseconds).
const CREATED_AT: &str = "createdAt";
/// On an entry: the target's kind (`user`, `connection`, `apiKey`...) and id.
const TARGET_TYPE: &str = "targetType";
const TARGET_ID: &str = "targetId";
/// On an entry: the names of the fields changed (a list of strings).
const FIELDS: &str = "fields";
/// On an entry: why an attempt was refused.
const REASON: &str = "reason";

const SECONDS_A_DAY: i64 = 86_400;

/// The time in milliseconds an entry is recorded at, in the stored
/// spelling; an entry a record made keeps the record's time.
fn time_of(entry: &Entry, now_ms: i64) -> (i64, String) {
    let at_ms = entry.origin.as_ref().map_or(now_ms, |o| o.at_ms);
    let formatted = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .ok()
        .and_then(crate::clock::format);
    match formatted {
        Some(text) => (at_ms, text),
        // A record's time that cannot be written (absurd): now's, which the
        // TTL keeps for the retention.
        None => (
            now_ms,
            crate::clock::format(OffsetDateTime::now_utc()).unwrap_or_default(),
        ),
    }
}

/// The entry's item: its attributes, its TTL, and the attributes that place
/// it in the three audit indexes.
fn audit_item(entry: &Entry, retention_days: u64, now_ms: i64) -> Item {
    let (at_ms, created_at) = time_of(entry, now_ms);
    let (id, sequence) = match &entry.origin {
        Some(origin) => (origin.id.clone(), origin.sequence.as_str()),
        None => (audit::entry_id(at_ms, &audit::random_suffix()), ""),
    };
    let mut item = key(keys::audit_pk(&id), keys::AUDIT_SK);
    item.insert(attrs::ID.into(), s(&id));
    item.insert(ACTION.into(), s(entry.action.as_str()));
    item.insert(CREATED_AT.into(), s(&created_at));
    let stamp = &entry.stamp;
    let actor = Some(audit::clip(stamp.actor.as_str()))
        .filter(|a| !a.is_empty())
        .unwrap_or(audit::UNATTRIBUTED);
    item.insert(attrs::ACTOR.into(), s(actor));
    for (attr, value) in [
        (attrs::ACTOR_NAME, stamp.name.as_deref()),
        (attrs::SOURCE_IP, stamp.source_ip.as_deref()),
        (attrs::USER_AGENT, stamp.user_agent.as_deref()),
        (attrs::CORRELATION_ID, Some(stamp.correlation_id.as_str())),
        (REASON, entry.reason),
    ] {
        if let Some(value) = value.map(audit::clip).filter(|v| !v.is_empty()) {
            item.insert(attr.into(), s(value));
        }
    }
    if let Some(target) = &entry.target {
        item.insert(TARGET_TYPE.into(), s(target.kind));
        item.insert(TARGET_ID.into(), s(audit::clip(&target.id)));
    }
    item.insert(
        FIELDS.into(),
        AttributeValue::L(entry.fields.iter().map(s).collect()),
    );
    let retention = i64::try_from(retention_days)
        .unwrap_or(i64::MAX)
        .saturating_mul(SECONDS_A_DAY);
    item.insert(
        attrs::EXPIRES_AT.into(),
        n((at_ms / 1000).saturating_add(retention)),
    );
    let order = keys::audit_key(&created_at, sequence, &id);
    item.insert(AUDIT_BY_TIME.pk.into(), s(AUDIT_FEED));
    item.insert(AUDIT_BY_ACTOR.pk.into(), s(actor));
    if let Some(user) = &entry.user_id {
        item.insert(attrs::USER_ID.into(), s(user.to_string()));
        item.insert(AUDIT_BY_USER.pk.into(), s(user.to_string()));
    }
    item.insert(AUDIT_BY_TIME.sk.into(), s(order));
    item
}

/// An entry from its item (or an index's copy, which projects it all).
fn record_of(item: &Item) -> Result<Record, ApiError> {
    let optional = |attr: &str| {
        Some(text(item, attr))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let id =
        optional(attrs::ID).ok_or_else(|| ApiError::internal("an audit item without an id"))?;
    let fields = match item.get(FIELDS) {
        Some(AttributeValue::L(names)) => names
            .iter()
            .filter_map(|name| name.as_s().ok().cloned())
            .collect(),
        _ => Vec::new(),
    };
    Ok(Record {
        id,
        created_at: text(item, CREATED_AT).to_owned(),
        action: text(item, ACTION).to_owned(),
        actor: text(item, attrs::ACTOR).to_owned(),
        actor_name: optional(attrs::ACTOR_NAME),
        target: optional(TARGET_TYPE).zip(optional(TARGET_ID)),
        user_id: optional(attrs::USER_ID),
        fields,
        reason: optional(REASON),
        source_ip: optional(attrs::SOURCE_IP),
        user_agent: optional(attrs::USER_AGENT),
        correlation_id: optional(attrs::CORRELATION_ID),
    })
}

/// The index and partition a filter reads: a user's entries, an actor's,
/// or the whole trail.
fn read_of(filter: &AuditFilter) -> (Index, String) {
    match (&filter.user, &filter.actor) {
        (Some(user), _) => (AUDIT_BY_USER, user.to_string()),
        (None, Some(actor)) => (AUDIT_BY_ACTOR, actor.clone()),
        (None, None) => (AUDIT_BY_TIME, AUDIT_FEED.to_owned()),
    }
}

/// The key condition of a filter's read: its partition, and its time range
/// on the sort key (inclusive: every key of the `to` millisecond sorts
/// below `to~`).
fn key_condition(filter: &AuditFilter) -> (Index, Cond) {
    let (index, partition) = read_of(filter);
    let mut terms = vec![Cond::eq(index.pk, partition)];
    if let (Some(from), Some(to)) = (&filter.from, &filter.to) {
        terms.push(Cond::Between(
            index.sk,
            from.clone(),
            keys::after_all_starting_with(to),
        ));
    }
    (index, Cond::And(terms))
}

impl Store {
    /// Adds an entry, never replacing one: one conditional PutItem, kept
    /// `retention_days`. An entry already recorded (the same stream record
    /// delivered again) is done, not an error.
    pub async fn append_audit(&self, entry: &Entry, retention_days: u64) -> Result<(), ApiError> {
        self.record_audit(entry, retention_days).await.map(|_| ())
    }

    /// [`Store::append_audit`], telling whether this call recorded the
    /// entry (`false`: it was there already).
    pub async fn record_audit(&self, entry: &Entry, retention_days: u64) -> Result<bool, ApiError> {
        let item = audit_item(entry, retention_days, crate::clock::now_ms());
        self.put_new(item).await
    }

    /// A page of at most `limit` entries matching `filter`, newest first,
    /// from `from`: one Query of `limit + 1` entries, so whether another
    /// page exists is known.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        from: Position,
        limit: usize,
    ) -> Result<AuditPage, ApiError> {
        let (index, condition) = key_condition(filter);
        let (items, next) = self
            .newest_first(index, &condition, false, from, limit)
            .await?;
        let entries = items.iter().map(record_of).collect::<Result<Vec<_>, _>>()?;
        Ok(AuditPage { entries, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Action, Entry};
    use crate::auth::{Actor, Stamp};
    use crate::user::UserId;

    fn stamp() -> Stamp {
        Stamp {
            actor: Actor::claimed("operator:abc"),
            name: Some("ada@example.test".into()),
            correlation_id: "req-1".into(),
            source_ip: Some("192.0.2.1".into()),
            user_agent: Some("curl/8".into()),
        }
    }

    #[test]
    fn an_entry_holds_who_what_and_where_and_its_index_keys() {
        let user = UserId::new();
        let entry = Entry::new(Action::UserUpdated, stamp())
            .target("user", user.to_string())
            .user(user)
            .fields(vec!["email".into(), "mobile".into()])
            .from_record("record-1", 1_795_651_200_000, "4200");
        let item = audit_item(&entry, 10, 0);
        let id = entry.origin.as_ref().unwrap().id.clone();
        assert_eq!(text(&item, keys::PK), format!("AUDIT#{id}"));
        assert_eq!(text(&item, CREATED_AT), "2026-11-26T00:00:00.000Z");
        assert_eq!(text(&item, AUDIT_BY_TIME.pk), AUDIT_FEED);
        assert_eq!(text(&item, AUDIT_BY_USER.pk), user.to_string());
        assert_eq!(text(&item, AUDIT_BY_ACTOR.pk), "operator:abc");
        assert_eq!(
            text(&item, AUDIT_BY_TIME.sk),
            keys::audit_key("2026-11-26T00:00:00.000Z", "4200", &id)
        );
        assert_eq!(
            item.get(attrs::EXPIRES_AT),
            Some(&n(1_795_651_200 + 10 * SECONDS_A_DAY))
        );
        let record = record_of(&item).unwrap();
        assert_eq!(record.action, "user.updated");
        assert_eq!(record.actor_name.as_deref(), Some("ada@example.test"));
        assert_eq!(record.target, Some(("user".to_owned(), user.to_string())));
        assert_eq!(record.fields, ["email", "mobile"]);
        assert_eq!(record.correlation_id.as_deref(), Some("req-1"));
        assert_eq!(record.reason, None);
        // The same record, the same item key: a redelivery is refused.
        let again = audit_item(&entry, 10, 99);
        assert_eq!(again.get(keys::PK), item.get(keys::PK));
    }

    #[test]
    fn an_entry_made_now_gets_a_fresh_id_and_no_index_of_a_user() {
        let entry = Entry::new(Action::OperatorSignInRefused, stamp()).reason("expired");
        let a = audit_item(&entry, 1, 1_795_651_200_123);
        let b = audit_item(&entry, 1, 1_795_651_200_123);
        assert_ne!(a.get(keys::PK), b.get(keys::PK));
        assert_eq!(text(&a, CREATED_AT), "2026-11-26T00:00:00.123Z");
        assert!(!a.contains_key(AUDIT_BY_USER.pk));
        assert_eq!(text(&a, REASON), "expired");
        let huge = Stamp {
            actor: Actor::claimed(&"x".repeat(5000)),
            user_agent: Some("y".repeat(5000)),
            ..stamp()
        };
        let clipped = audit_item(&Entry::new(Action::ApiKeyRefused, huge), 1, 0);
        assert_eq!(text(&clipped, AUDIT_BY_ACTOR.pk).len(), audit::MAX_TEXT);
        assert_eq!(text(&clipped, attrs::USER_AGENT).len(), audit::MAX_TEXT);
    }

    #[test]
    fn each_filter_reads_one_partition_of_one_index() {
        let user = UserId::new();
        let (index, _) = key_condition(&AuditFilter::default());
        assert_eq!(index, AUDIT_BY_TIME);
        let by_user = AuditFilter::parse(&format!(
            "userId.eq('{user}'),createdDate.bt('2026-12-01T00:00:00Z','2026-12-02T00:00:00Z')"
        ))
        .unwrap();
        let (index, condition) = key_condition(&by_user);
        assert_eq!(index, AUDIT_BY_USER);
        assert_eq!(
            condition,
            Cond::And(vec![
                Cond::eq("auUser", user.to_string()),
                Cond::Between(
                    "auKey",
                    "2026-12-01T00:00:00.000Z".into(),
                    "2026-12-02T00:00:00.000Z~".into()
                ),
            ])
        );
        let by_actor = AuditFilter::parse("actor.eq('key:0123456789abcdef')").unwrap();
        assert_eq!(
            read_of(&by_actor),
            (AUDIT_BY_ACTOR, "key:0123456789abcdef".to_owned())
        );
    }
}
