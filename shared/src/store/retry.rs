//! What to do when DynamoDB refuses a write, decided per reason: a failed
//! condition is an answer (the caller says what it means), while a conflict
//! with a concurrent transaction or throttling is retried with backoff and,
//! when the retries run out, answered 503 with `Retry-After`. A cancellation
//! is never taken for a 404 unless the condition that failed says so.

use std::future::Future;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;

use super::attrs::Item;
use super::batch::backoff;
use super::{Store, CAPACITY};
use crate::error::ApiError;

/// How many times a write refused for a conflict or throttling is sent.
pub(super) const WRITE_ATTEMPTS: u32 = 6;

/// Why one item of a cancelled transaction was refused.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Reason {
    /// This item was fine; another one cancelled the transaction.
    Fine,
    /// Its condition failed; the item as it was, when it exists.
    ConditionFailed(Option<Item>),
    /// A concurrent transaction or write touched it: try again.
    Conflict,
    /// DynamoDB asked us to slow down: try again.
    Throttled,
    /// Anything else (a validation error, say): our fault.
    Other(String),
}

impl Reason {
    fn of(reason: &CancellationReason) -> Self {
        match reason.code().unwrap_or("None") {
            "None" => Reason::Fine,
            "ConditionalCheckFailed" => Reason::ConditionFailed(reason.item().cloned()),
            "TransactionConflict" => Reason::Conflict,
            "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded" => {
                Reason::Throttled
            }
            other => Reason::Other(other.to_owned()),
        }
    }

    fn transient(&self) -> bool {
        matches!(self, Reason::Conflict | Reason::Throttled)
    }
}

/// The reasons of a cancelled transaction, one per item in item order: what
/// a caller reads when a condition failed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cancelled(pub Vec<Reason>);

impl Cancelled {
    /// The item as it was, if the `i`th item's condition failed.
    pub fn failed(&self, i: usize) -> Option<Option<&Item>> {
        match self.0.get(i) {
            Some(Reason::ConditionFailed(item)) => Some(item.as_ref()),
            _ => None,
        }
    }
}

impl Store {
    /// Sends the transaction `build` makes, again after a conflict or
    /// throttling (backing off), until it commits or a condition fails.
    pub(super) async fn transact(
        &self,
        build: impl Fn() -> TransactWriteItemsFluentBuilder,
    ) -> Result<Result<(), Cancelled>, ApiError> {
        for attempt in 0..WRITE_ATTEMPTS {
            let result = build().return_consumed_capacity(CAPACITY).send().await;
            let err = match result {
                Ok(output) => {
                    for consumed in output.consumed_capacity() {
                        self.meter.record_write(Some(consumed));
                    }
                    return Ok(Ok(()));
                }
                Err(err) => err,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let reasons: Vec<Reason> = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(Reason::of)
                        .collect();
                    reasons
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    vec![Reason::Conflict]
                }
                _ => return Err(err.into()),
            };
            if reasons
                .iter()
                .any(|r| matches!(r, Reason::ConditionFailed(_)))
            {
                return Ok(Err(Cancelled(reasons)));
            }
            if let Some(Reason::Other(code)) = reasons
                .iter()
                .find(|r| !r.transient() && **r != Reason::Fine)
            {
                return Err(ApiError::internal_from(
                    "a transaction was cancelled",
                    code.clone(),
                ));
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(ApiError::ServiceUnavailable)
    }
}

/// Sends a single-item write again, backing off, while a transaction holds
/// its item; its last answer otherwise.
pub(super) async fn retry_conflicts<T, E, R, F, Fut>(mut send: F) -> Result<T, SdkError<E, R>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    let mut attempt = 0;
    loop {
        match send().await {
            Err(err) if is_conflict(&err) && attempt + 1 < WRITE_ATTEMPTS => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            answer => return answer,
        }
    }
}

/// Whether a single-item write was refused because a transaction held its
/// item: worth trying again.
pub(super) fn is_conflict<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "TransactionConflictException")
}
