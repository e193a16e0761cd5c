//! Creating a user exactly once per `Idempotency-Key` (of one caller).
//!
//! The record and the user are written in one transaction, so a record
//! exists only for a user that was created: its answer is complete from the
//! start. The profile names its record, and the purge deletes both, so the
//! answer (which holds the user's email and name) goes with the user; a
//! retry that finds the record but not the user answers 404, never 201.

use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use super::attrs::{self, key, n, s, text, Item};
use super::expr::{Cond, Expr};
use super::profile::{profile_key, ProfileItem};
use super::Store;
use crate::error::ApiError;
use crate::idempotency::{IdempotencyKey, RETENTION_SECONDS};
use crate::keys;
use crate::user::{User, UserId};

/// The answer to record under a client's key, written with the create it answers.
#[derive(Debug, Clone, Copy)]
pub struct OnceRecord<'a> {
    pub key: &'a IdempotencyKey,
    /// Digest of the request body: a retry must send the same one.
    pub digest: &'a str,
    pub status: u16,
    pub response: &'a str,
}

/// What a request with a key came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Once {
    /// This request did the work.
    Created,
    /// An earlier request with this key and body did: its answer, again.
    Replayed { status: u16, body: String },
}

pub(super) fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Store {
    /// One TransactWriteItems with two conditional puts: the idempotency
    /// record (absent, or expired) and the user. Of any number of concurrent
    /// requests with one key, one commits; the others answer from its record.
    pub async fn insert_user_once(
        &self,
        user: &User,
        once: OnceRecord<'_>,
    ) -> Result<Once, ApiError> {
        let record_pk = keys::idempotency_pk(once.key.digest());
        let mut record = key(record_pk.clone(), keys::IDEMPOTENCY_SK);
        record.insert(attrs::REQUEST_DIGEST.into(), s(once.digest));
        record.insert(attrs::STATUS.into(), n(once.status));
        record.insert(attrs::RESPONSE.into(), s(once.response));
        record.insert(attrs::USER_ID.into(), s(user.id.to_string()));
        record.insert(
            attrs::EXPIRES_AT.into(),
            n(now_seconds() + RETENTION_SECONDS),
        );
        let mut e = Expr::default();
        let new_or_expired = e.condition(&Cond::Or(vec![
            Cond::NotExists(keys::PK),
            Cond::Lt(attrs::EXPIRES_AT, n(now_seconds())),
        ]));
        let put_record = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression(new_or_expired)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        let mut profile = ProfileItem::build(user)?;
        profile.insert(attrs::CREATED_WITH.into(), s(record_pk));
        // Who created the user, in the transaction's own put of it.
        self.stamp_item(&mut profile);
        let mut e = Expr::default();
        let new = e.condition(&Cond::NotExists(keys::PK));
        let put_user = Put::builder()
            .table_name(&self.table)
            .set_item(Some(profile))
            .condition_expression(new)
            .set_expression_attribute_names(e.names())
            .build()?;
        let items = vec![
            TransactWriteItem::builder().put(put_record).build(),
            TransactWriteItem::builder().put(put_user).build(),
        ];
        let cancelled = match self
            .transact(|| {
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
            })
            .await?
        {
            Ok(()) => return Ok(Once::Created),
            Err(cancelled) => cancelled,
        };
        match cancelled.failed(0) {
            Some(Some(record)) => self.replay(record, once.digest).await,
            // The record went between the refusal and now: try again.
            Some(None) => Err(ApiError::ServiceUnavailable),
            None => Err(ApiError::internal("a new user's id was taken")),
        }
    }

    /// The first answer again, if its body matches and its user is still there.
    async fn replay(&self, record: &Item, body_digest: &str) -> Result<Once, ApiError> {
        if text(record, attrs::REQUEST_DIGEST) != body_digest {
            return Err(ApiError::IdempotencyConflict);
        }
        let user = UserId::parse(text(record, attrs::USER_ID))
            .map_err(|e| ApiError::internal_from("an idempotency record's user", e))?;
        let live = self
            .get_item(profile_key(&user))
            .await?
            .is_some_and(|item| !attrs::is_tombstone(&item));
        if !live {
            return Err(ApiError::NotFound(
                "The user this request created has since been deleted.",
            ));
        }
        let status = record
            .get(attrs::STATUS)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(201);
        Ok(Once::Replayed {
            status,
            body: text(record, attrs::RESPONSE).to_owned(),
        })
    }
}
