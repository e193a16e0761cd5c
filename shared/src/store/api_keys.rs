//! API keys: one partition (`API_KEYS`) with an item per key, named by the
//! key's id (`KEY#<16 hex>`), and the count of active keys beside them.
//!
//! A key's item holds its SHA-256 digest, never the key: `POST /token`
//! reads the item of the presented key's id (one GetItem) and compares the
//! whole digest. Creating a key and revoking one are transactions with the
//! count, so at most [`MAX_API_KEYS`] are active whatever runs at once;
//! revoked keys stay (listed, and refused) with their `revokedAt`.
//!
//! Revoked keys pile up without bound, so keys are listed a page at a time,
//! newest first: each key's item also carries its creation time as the sort
//! key of the table's date-ordered local index ([`keys::API_KEYS_BY_TIME`]),
//! written by the put that creates it; a page is one Query of that index.
//!
//! Creations and revocations are stamped (who, which request, from where),
//! so the table's stream carries who made each change to the audit trail.
//! The `lastUsedAt` write is not: it is no one's change, and leaves the
//! stamp of the last change in place.
//!
//! Items of the first layout (`APIKEY#<digest>` / `APIKEY`) are no longer
//! read: no deployment holds any.

use aws_sdk_dynamodb::types::{
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update as TransactUpdate,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::attrs::{self, key, s, text, Item};
use super::expr::{Cond, Expr, Update};
use super::retry::Reason;
use super::{Position, Store, CAPACITY};
use crate::auth::{Actor, ApiKey, ApiKeyRecord, KeyState, MAX_API_KEYS};
use crate::error::ApiError;
use crate::keys;

const DIGEST: &str = "digest";
const NAME: &str = "name";
const PREFIX: &str = "prefix";
const CREATED_BY: &str = "createdBy";
const CREATED_BY_NAME: &str = "createdByName";
const CREATED_AT: &str = "createdAt";
/// When the key stops working: RFC 3339 text, never a number. The table's
/// TTL reads `expiresAt` numbers only, so an expired key is not removed:
/// it stays listed, refused, and counted until it is revoked.
const EXPIRES_AT: &str = "expiresAt";

// The 409's text names the limit, and cannot be formatted (it is static).
const _: () = assert!(MAX_API_KEYS == 100);

/// What a key's record is read from (and, for a presented key, its digest).
const RECORD: &[&str] = &[
    keys::SK,
    DIGEST,
    NAME,
    PREFIX,
    CREATED_BY,
    CREATED_BY_NAME,
    CREATED_AT,
    EXPIRES_AT,
    attrs::REVOKED_AT,
    attrs::LAST_USED_AT,
];

/// A page of keys, newest first, and where the next page starts (`None`
/// when this is the last).
#[derive(Debug, Clone)]
pub struct ApiKeyPage {
    pub keys: Vec<ApiKeyRecord>,
    pub next: Option<Position>,
}

/// How often at most `lastUsedAt` is written per key: a key that buys a
/// token a second costs one write a minute, not one a second.
const TOUCH_INTERVAL: time::Duration = time::Duration::seconds(60);

fn key_item_key(id: &str) -> Item {
    key(keys::API_KEYS_PK.to_owned(), keys::api_key_sk(id))
}

fn count_key() -> Item {
    key(keys::API_KEYS_PK.to_owned(), keys::API_KEY_COUNT_SK)
}

fn optional(item: &Item, attr: &str) -> Option<String> {
    item.get(attr).and_then(|v| v.as_s().ok()).cloned()
}

fn expiry_of(item: &Item) -> Result<Option<OffsetDateTime>, ApiError> {
    optional(item, EXPIRES_AT)
        .map(|at| {
            OffsetDateTime::parse(&at, &Rfc3339)
                .map_err(|_| ApiError::internal("a stored API key has no valid expiresAt"))
        })
        .transpose()
}

fn state_of(item: &Item) -> Result<KeyState, ApiError> {
    Ok(KeyState {
        name: text(item, NAME).to_owned(),
        revoked: item.contains_key(attrs::REVOKED_AT),
        expires_at: expiry_of(item)?,
    })
}

fn record_of(item: &Item) -> Result<ApiKeyRecord, ApiError> {
    let id = text(item, keys::SK)
        .strip_prefix(keys::API_KEY_PREFIX)
        .filter(|id| ApiKey::is_record_id(id))
        .ok_or_else(|| ApiError::internal("a stored API key has no valid id"))?;
    Ok(ApiKeyRecord {
        id: id.to_owned(),
        name: text(item, NAME).to_owned(),
        prefix: text(item, PREFIX).to_owned(),
        created_by: text(item, CREATED_BY).to_owned(),
        created_by_name: optional(item, CREATED_BY_NAME),
        created_at: text(item, CREATED_AT).to_owned(),
        expires_at: expiry_of(item)?,
        revoked_at: optional(item, attrs::REVOKED_AT),
        last_used_at: optional(item, attrs::LAST_USED_AT),
    })
}

/// An instant as stored: RFC 3339, UTC, milliseconds (text order is time
/// order, which `touch_api_key`'s condition relies on).
fn stored_time(at: OffsetDateTime) -> Result<String, ApiError> {
    crate::clock::format(at).ok_or_else(|| ApiError::internal("an API key time outside 0000-9999"))
}

impl Store {
    /// Records a new key (its digest, never the key) and counts it, in one
    /// transaction: 409 when [`MAX_API_KEYS`] keys are active. `created_by`
    /// (and its readable name) say who asked: an operator, or the tool that
    /// wrote the key directly (`make api-key`, seeding); the item is also
    /// stamped with this store's stamp, if it acts for a request.
    pub async fn add_api_key(
        &self,
        api_key: &ApiKey,
        name: &str,
        created_by: &Actor,
        created_by_name: Option<&str>,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<ApiKeyRecord, ApiError> {
        let record = ApiKeyRecord {
            id: api_key.record_id(),
            name: name.to_owned(),
            prefix: api_key.prefix(),
            created_by: created_by.as_str().to_owned(),
            created_by_name: created_by_name.map(str::to_owned),
            created_at: crate::clock::now(),
            expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        let mut item = key_item_key(&record.id);
        item.insert(DIGEST.into(), s(api_key.digest()));
        item.insert(NAME.into(), s(&record.name));
        item.insert(PREFIX.into(), s(&record.prefix));
        item.insert(CREATED_BY.into(), s(&record.created_by));
        if let Some(by) = &record.created_by_name {
            item.insert(CREATED_BY_NAME.into(), s(by));
        }
        item.insert(CREATED_AT.into(), s(&record.created_at));
        item.insert(
            keys::API_KEYS_BY_TIME.sk.into(),
            s(keys::api_key_time_key(&record.created_at, &record.id)),
        );
        if let Some(at) = expires_at {
            item.insert(EXPIRES_AT.into(), s(stored_time(at)?));
        }
        // A key written by a tool, for no request, is still attributed in
        // the audit trail: to the tool, as `created_by` names it.
        if self.stamp.is_none() {
            item.insert(attrs::ACTOR.into(), s(created_by.as_str()));
            item.insert(
                attrs::CORRELATION_ID.into(),
                s(uuid::Uuid::new_v4().to_string()),
            );
        }
        self.stamp_item(&mut item);
        // One token per call (not the key's id: the same key added to
        // another table within ten minutes would be refused as a mismatch).
        self.insert_counted(
            item,
            count_key(),
            MAX_API_KEYS as u64,
            &uuid::Uuid::new_v4().to_string(),
            "At most 100 API keys may be active: revoke one first.",
            "a new API key's id was taken",
        )
        .await?;
        Ok(record)
    }

    /// One strongly consistent GetItem of a key's item, of `attrs` only:
    /// `None` when there is no such key, or `id` cannot be a key's id (then
    /// without a read).
    async fn api_key_item(&self, id: &str, attrs: &[&str]) -> Result<Option<Item>, ApiError> {
        if !ApiKey::is_record_id(id) {
            return Ok(None);
        }
        let mut e = Expr::default();
        let projection = e.projection(attrs);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item_key(id)))
            .projection_expression(projection)
            .set_expression_attribute_names(e.names())
            .consistent_read(true)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        Ok(output.item.filter(|item| !item.is_empty()))
    }

    /// What the key check needs of the key `id` (16 hex digits): `None`
    /// when there is no such key. One GetItem, strongly consistent, so that
    /// a revocation is seen by the next read.
    pub async fn api_key_state(&self, id: &str) -> Result<Option<KeyState>, ApiError> {
        self.api_key_item(id, &[keys::PK, NAME, attrs::REVOKED_AT, EXPIRES_AT])
            .await?
            .as_ref()
            .map(state_of)
            .transpose()
    }

    /// The stored record of the key presented to `POST /token`: one
    /// GetItem by its id, then its whole digest compared with the stored
    /// one. `None` when no key has this id, or another key does (its digest
    /// differs).
    pub async fn presented_api_key(
        &self,
        api_key: &ApiKey,
    ) -> Result<Option<ApiKeyRecord>, ApiError> {
        let Some(item) = self.api_key_item(&api_key.record_id(), RECORD).await? else {
            return Ok(None);
        };
        if !api_key.matches_digest(text(&item, DIGEST)) {
            return Ok(None);
        }
        record_of(&item).map(Some)
    }

    /// A page of at most `limit` keys, active, expired and revoked, newest
    /// first, from `from`: one strongly consistent Query of
    /// [`keys::API_KEYS_BY_TIME`] (`limit + 1` keys, so whether another page
    /// exists is known), however many revoked keys the partition holds.
    pub async fn list_api_keys(
        &self,
        from: Position,
        limit: usize,
    ) -> Result<ApiKeyPage, ApiError> {
        let index = keys::API_KEYS_BY_TIME.as_index();
        let condition = Cond::And(vec![
            Cond::eq(keys::PK, keys::API_KEYS_PK),
            Cond::BeginsWith(index.sk, keys::API_KEY_PREFIX.to_owned()),
        ]);
        let (items, next) = self
            .newest_first(index, &condition, true, from, limit)
            .await?;
        let keys = items.iter().map(record_of).collect::<Result<Vec<_>, _>>()?;
        Ok(ApiKeyPage { keys, next })
    }

    /// Revokes the key `id` and uncounts it, in one transaction, stamped:
    /// `false` when there is no such key. A key revoked already stays as it
    /// was (`true`, nothing written).
    pub async fn revoke_api_key(&self, id: &str) -> Result<bool, ApiError> {
        if !ApiKey::is_record_id(id) {
            return Ok(false);
        }
        let mut update = Update::default();
        update.set(attrs::REVOKED_AT, s(crate::clock::now()));
        self.stamp_update(&mut update);
        let mut e = Expr::default();
        let update = e.update(&update);
        let active = e.condition(&Cond::And(vec![
            Cond::Exists(keys::PK),
            Cond::NotExists(attrs::REVOKED_AT),
        ]));
        let revoke = TransactUpdate::builder()
            .table_name(&self.table)
            .set_key(Some(key_item_key(id)))
            .update_expression(update)
            .condition_expression(active)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            // Which condition failed, in the same answer: no key, or one
            // revoked already.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        let items = vec![
            TransactWriteItem::builder().update(revoke).build(),
            TransactWriteItem::builder()
                .update(self.count_change(count_key(), -1, MAX_API_KEYS as u64)?)
                .build(),
        ];
        // One token for every send of this revocation: a retry of one that
        // committed answers as it did, not "revoked already".
        let token = uuid::Uuid::new_v4().to_string();
        match self
            .transact(|| {
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .client_request_token(&token)
            })
            .await?
        {
            Ok(()) => Ok(true),
            Err(cancelled) => match cancelled.0.first() {
                Some(Reason::ConditionFailed(Some(item))) if !item.is_empty() => Ok(true),
                Some(Reason::ConditionFailed(_)) => Ok(false),
                _ => Err(ApiError::internal("revoking an API key was cancelled")),
            },
        }
    }

    /// Records that `key` (as just read) bought a token now: at most once a
    /// minute per key. When the record read shows a use within the minute,
    /// nothing is sent; otherwise one UpdateItem, conditional on the last
    /// time still being a minute old (so instances at once write it once)
    /// and on the key not being revoked. A write skipped for its condition
    /// is the expected answer, not an error.
    pub async fn touch_api_key(&self, key: &ApiKeyRecord) -> Result<(), ApiError> {
        let now = OffsetDateTime::now_utc();
        let a_minute_ago = stored_time(now - TOUCH_INTERVAL)?;
        if key
            .last_used_at
            .as_deref()
            .is_some_and(|last| last >= a_minute_ago.as_str())
        {
            return Ok(());
        }
        let mut update = Update::default();
        update.set(attrs::LAST_USED_AT, s(stored_time(now)?));
        let condition = Cond::And(vec![
            Cond::Exists(keys::PK),
            Cond::NotExists(attrs::REVOKED_AT),
            Cond::Or(vec![
                Cond::NotExists(attrs::LAST_USED_AT),
                Cond::Lt(attrs::LAST_USED_AT, s(a_minute_ago)),
            ]),
        ]);
        self.update_if(key_item_key(&key.id), &update, &condition)
            .await?;
        Ok(())
    }
}
