//! Creating exactly once per `Idempotency-Key`.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::users::{Item, ProfileItem};
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

fn record_key(key: &IdempotencyKey) -> Item {
    HashMap::from([
        (
            keys::PK.to_owned(),
            AttributeValue::S(keys::idempotency_pk(key.digest())),
        ),
        (
            keys::SK.to_owned(),
            AttributeValue::S(keys::IDEMPOTENCY_SK.to_owned()),
        ),
    ])
}

impl Store {
    /// The conditional put of an idempotency record: absent, or expired.
    pub(super) fn record_put(&self, once: &OnceRecord<'_>) -> Result<Put, ApiError> {
        let now = now_seconds();
        let mut record = record_key(once.key);
        record.insert(
            "requestDigest".into(),
            AttributeValue::S(once.digest.to_owned()),
        );
        record.insert("status".into(), AttributeValue::N(once.status.to_string()));
        record.insert(
            "response".into(),
            AttributeValue::S(once.response.to_owned()),
        );
        record.insert(
            "expiresAt".into(),
            AttributeValue::N((now + RETENTION_SECONDS).to_string()),
        );
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(#pk) OR #expires < :now")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#expires", "expiresAt")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .build()
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// One TransactWriteItems with two conditional puts: the idempotency
    /// record (absent, or expired) and the user. Of any number of concurrent
    /// requests with one key, one commits; the others read its record.
    pub async fn insert_user_once(
        &self,
        user: &User,
        once: OnceRecord<'_>,
    ) -> Result<Once, ApiError> {
        let put_user = Put::builder()
            .table_name(&self.table)
            .set_item(Some(ProfileItem::build(user)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .build()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
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
        for attempt in 0..10u32 {
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
                let text = |attr: &str| item.get(attr).and_then(|v| v.as_s().ok()).cloned();
                if text("requestDigest").as_deref() != Some(body_digest) {
                    return Err(ApiError::IdempotencyConflict);
                }
                let status = item
                    .get("status")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(201);
                return Ok(Once::Replayed {
                    status,
                    body: text("response").unwrap_or_default(),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(10 << attempt.min(5))).await;
        }
        Err(ApiError::ServiceUnavailable)
    }
}
