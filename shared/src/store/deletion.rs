//! Deleting a user at any size: a tombstone that hides the user at once, then
//! a purge of its partition that can stop at a deadline and resume.

use std::time::Instant;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, WriteRequest};

use super::attrs::{self, n, s, Item};
use super::batch::{delete_request, BATCH_SIZE};
use super::expr::{Cond, Expr, Update};
use super::profile::{profile_key, INDEX_ATTRIBUTES};
use super::{Store, CAPACITY};
use crate::error::ApiError;
use crate::keys;
use crate::user::UserId;

/// Keys read per purge page. A partition takes about 1,000 writes a second,
/// so a page is about a second of deletes: the budget is never overrun by more.
const PURGE_PAGE: i32 = 1_000;

/// What a deletion has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteProgress {
    /// Every item of the user is gone.
    Done,
    /// The time budget ran out; the tombstone stays and the rest is resumable.
    InProgress,
}

impl Store {
    /// Step one of a deletion: one conditional UpdateItem that marks the
    /// profile and drops its index attributes. The user is invisible from here
    /// on. Repeating it on a tombstoned user is harmless, so a deletion can
    /// always be resumed.
    pub async fn tombstone_user(&self, id: &UserId, if_match: Option<u64>) -> Result<(), ApiError> {
        let mut update = Update::default();
        update.set_if_absent(attrs::DELETED_AT, s(crate::clock::now()));
        for attr in INDEX_ATTRIBUTES {
            update.remove(attr);
        }
        let mut condition = vec![Cond::Exists(keys::PK)];
        if let Some(expected) = if_match {
            condition.push(Cond::Eq(attrs::VERSION, n(expected)));
        }
        let mut e = Expr::default();
        let update = e.update(&update);
        let condition = e.condition(&Cond::And(condition));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(id)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await;
        match result {
            Ok(output) => {
                self.meter.record_write(output.consumed_capacity());
                Ok(())
            }
            Err(err) => match err.as_service_error() {
                // The user exists, so it was the version that did not match.
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Err(match failed.item() {
                        Some(_) => ApiError::PreconditionFailed,
                        None => ApiError::not_found(),
                    })
                }
                _ => Err(err.into()),
            },
        }
    }

    /// Step two: removes every item under the user's partition, children
    /// first and the profile (with its tombstone) last, so an interrupted
    /// purge leaves the tombstone in place for the next attempt. Reads the
    /// partition keys-only, and fetches the next page while the current one
    /// is being deleted.
    pub async fn purge_user(
        &self,
        id: &UserId,
        deadline: Option<Instant>,
        parallelism: usize,
    ) -> Result<DeleteProgress, ApiError> {
        // A first page just big enough to fill every writer, so deleting starts
        // after a short read; the pages after it are read while deleting.
        let first = (BATCH_SIZE * parallelism).min(PURGE_PAGE as usize) as i32;
        let mut page = self.partition_keys(id, None, first).await?;
        // Deletes carry over between pages, so that every batch but the last is full.
        let mut pending = Vec::new();
        loop {
            let (keys, next) = page;
            for key in keys {
                if key.get(keys::SK) != Some(&s(keys::PROFILE_SK)) {
                    pending.push(delete_request(key)?);
                }
            }
            // Stop early only when more remains to be read: a last page is always finished.
            let out_of_time = next.is_some() && deadline.is_some_and(|d| Instant::now() >= d);
            let full = if next.is_none() || out_of_time {
                pending.len()
            } else {
                pending.len() - pending.len() % BATCH_SIZE
            };
            let deletes: Vec<WriteRequest> = pending.drain(..full).collect();
            let fetch_next = async {
                match next.filter(|_| !out_of_time) {
                    Some(start) => self
                        .partition_keys(id, Some(start), PURGE_PAGE)
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            };
            let (written, fetched) =
                tokio::join!(self.write_batches(deletes, parallelism), fetch_next);
            written?;
            if out_of_time {
                return Ok(DeleteProgress::InProgress);
            }
            match fetched? {
                Some(next_page) => page = next_page,
                None => break,
            }
        }
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(id)))
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record_write(output.consumed_capacity());
        Ok(DeleteProgress::Done)
    }

    /// One page of the partition's keys (at most `limit`), strongly
    /// consistent so that nothing written before the tombstone is missed.
    async fn partition_keys(
        &self,
        id: &UserId,
        start: Option<Item>,
        limit: i32,
    ) -> Result<(Vec<Item>, Option<Item>), ApiError> {
        let mut e = Expr::default();
        let condition = e.condition(&Cond::eq(keys::PK, keys::user_pk(id)));
        let projection = e.projection(&[keys::PK, keys::SK]);
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(condition)
            .projection_expression(projection)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .limit(limit)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }
}
