//! Creating exactly once per `Idempotency-Key`.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::attrs::{self, key, n, s, Item};
use super::batch::{backoff, MAX_ATTEMPTS};
use super::expr::{Cond, Expr};
use super::profile::ProfileItem;
use super::{Store, CAPACITY};
use crate::error::ApiError;
use crate::idempotency::{IdempotencyKey, RETENTION_SECONDS};
use crate::keys;
use crate::user::User;

/// The answer to record under a client's key, written with the create it answers.
#[derive(Debug, Clone, Copy)]
pub struct OnceRecord<'a> {
    pub key: &'a IdempotencyKey,
    /// Digest of the request body: a retry must send the same one.
    pub digest: &'a str,
    pub status: u16,
    pub response: &'a str,
}

/// What a create with a key came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Once {
    /// This request created the user.
    Created,
    /// An earlier request with this key and body did: its answer, again.
    Replayed { status: u16, body: String },
}

fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn record_key(key_: &IdempotencyKey) -> Item {
    key(keys::idempotency_pk(key_.digest()), keys::IDEMPOTENCY_SK)
}

impl Store {
    /// The conditional put of an idempotency record: absent, or expired.
    pub(super) fn record_put(&self, once: &OnceRecord<'_>) -> Result<Put, ApiError> {
        let now = now_seconds();
        let mut record = record_key(once.key);
        record.insert(attrs::REQUEST_DIGEST.into(), s(once.digest));
        record.insert(attrs::STATUS.into(), n(once.status));
        record.insert(attrs::RESPONSE.into(), s(once.response));
        record.insert(attrs::EXPIRES_AT.into(), n(now + RETENTION_SECONDS));
        let mut e = Expr::default();
        let condition = e.condition(&Cond::Or(vec![
            Cond::NotExists(keys::PK),
            Cond::Lt(attrs::EXPIRES_AT, n(now)),
        ]));
        Ok(Put::builder()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .build()?)
    }

    /// One TransactWriteItems with two conditional puts: the idempotency
    /// record (absent, or expired) and the user. Of any number of concurrent
    /// requests with one key, one commits; the others read its record.
    pub async fn insert_user_once(
        &self,
        user: &User,
        once: OnceRecord<'_>,
    ) -> Result<Once, ApiError> {
        let mut e = Expr::default();
        let condition = e.condition(&Cond::NotExists(keys::PK));
        let put_user = Put::builder()
            .table_name(&self.table)
            .set_item(Some(ProfileItem::build(user)?))
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .build()?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.record_put(&once)?)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(put_user).build())
            .return_consumed_capacity(CAPACITY)
            .send()
            .await;
        match result {
            Ok(output) => {
                for consumed in output.consumed_capacity() {
                    self.meter.record_write(Some(consumed));
                }
                Ok(Once::Created)
            }
            Err(err) => match err.as_service_error() {
                // The record exists (or a concurrent request holds it): answer from it.
                Some(TransactWriteItemsError::TransactionCanceledException(_)) => {
                    self.replay(once.key, once.digest).await
                }
                _ => Err(err.into()),
            },
        }
    }

    pub(super) async fn replay(
        &self,
        key: &IdempotencyKey,
        body_digest: &str,
    ) -> Result<Once, ApiError> {
        // A concurrent winner may still be committing: read again briefly.
        for attempt in 0..MAX_ATTEMPTS {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(record_key(key)))
                .consistent_read(true)
                .return_consumed_capacity(CAPACITY)
                .send()
                .await?;
            self.meter.record(output.consumed_capacity());
            if let Some(item) = output.item {
                if attrs::text(&item, attrs::REQUEST_DIGEST) != body_digest {
                    return Err(ApiError::IdempotencyConflict);
                }
                let status = item
                    .get(attrs::STATUS)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(201);
                return Ok(Once::Replayed {
                    status,
                    body: attrs::text(&item, attrs::RESPONSE).to_owned(),
                });
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(ApiError::ServiceUnavailable)
    }
}
