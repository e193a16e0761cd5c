//! BatchWriteItem with the retries DynamoDB expects of its callers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt};
use rand::Rng;

use super::attrs::Item;
use super::{Store, CAPACITY};
use crate::error::ApiError;

/// DynamoDB's limit of requests in one BatchWriteItem call.
pub const BATCH_SIZE: usize = 25;
/// How many times a batch is tried before its unprocessed rest is given up.
pub(super) const MAX_ATTEMPTS: u32 = 10;
const BACKOFF_BASE: Duration = Duration::from_millis(25);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

impl Store {
    /// Writes every request, `parallelism` batches at a time.
    pub async fn write_batches(
        &self,
        requests: Vec<WriteRequest>,
        parallelism: usize,
    ) -> Result<(), ApiError> {
        self.write_batches_until(requests, parallelism, None)
            .await
            .map(|_| ())
    }

    /// As [`Store::write_batches`], but no batch is started, and no batch
    /// retried, once `deadline` has passed: the requests left unwritten for
    /// it (none when all were written). They are returned themselves, not
    /// counted, so that a caller can tell what was written, by kind (the
    /// deletion receipt does), without a copy of what it sent. After an
    /// error no further batch starts either; in every case the batches
    /// already sent finish before this returns, so nothing is still being
    /// written when the caller goes on.
    pub(super) async fn write_batches_until(
        &self,
        requests: Vec<WriteRequest>,
        parallelism: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<WriteRequest>, ApiError> {
        let mut chunks = Vec::with_capacity(requests.len().div_ceil(BATCH_SIZE));
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            chunks.push(requests.by_ref().take(BATCH_SIZE).collect::<Vec<_>>());
        }
        let failed = AtomicBool::new(false);
        let results: Vec<Result<Vec<WriteRequest>, ApiError>> = stream::iter(chunks)
            .map(|chunk| {
                let failed = &failed;
                async move {
                    if failed.load(Ordering::Relaxed) || past(deadline) {
                        return Ok(chunk);
                    }
                    let unwritten = self.write_batch(chunk, deadline).await;
                    if unwritten.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    unwritten
                }
            })
            .buffer_unordered(parallelism.max(1))
            .collect()
            .await;
        let mut unwritten = Vec::new();
        for result in results {
            unwritten.extend(result?);
        }
        Ok(unwritten)
    }

    /// One batch of at most 25, retrying `UnprocessedItems` with exponential
    /// backoff and full jitter until all are written, the deadline passes,
    /// or the attempts run out (503): the requests still unprocessed.
    async fn write_batch(
        &self,
        mut pending: Vec<WriteRequest>,
        deadline: Option<Instant>,
    ) -> Result<Vec<WriteRequest>, ApiError> {
        for attempt in 0..MAX_ATTEMPTS {
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .return_consumed_capacity(CAPACITY)
                .send()
                .await?;
            for consumed in output.consumed_capacity() {
                self.meter.record_write(Some(consumed));
            }
            pending = output
                .unprocessed_items
                .and_then(|mut items| items.remove(&self.table))
                .unwrap_or_default();
            if pending.is_empty() || past(deadline) {
                return Ok(pending);
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(ApiError::ServiceUnavailable)
    }
}

fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// A put of `item`, for [`Store::write_batches`].
pub(super) fn put_request(item: Item) -> Result<WriteRequest, ApiError> {
    let put = PutRequest::builder().set_item(Some(item)).build()?;
    Ok(WriteRequest::builder().put_request(put).build())
}

/// A delete of the item with `key`, for [`Store::write_batches`].
pub(super) fn delete_request(key: Item) -> Result<WriteRequest, ApiError> {
    let delete = DeleteRequest::builder().set_key(Some(key)).build()?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}

/// How long to wait before try `attempt + 1`: exponential, capped, with
/// full jitter, as AWS recommends for every retry loop of ours.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(16))
        .min(BACKOFF_CAP);
    rand::rng().random_range(Duration::ZERO..=ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..20 {
            let ceiling = BACKOFF_BASE
                .saturating_mul(1 << attempt.min(16))
                .min(BACKOFF_CAP);
            for _ in 0..50 {
                assert!(backoff(attempt) <= ceiling);
            }
        }
        assert_eq!(
            BACKOFF_BASE.saturating_mul(1 << 16).min(BACKOFF_CAP),
            BACKOFF_CAP
        );
    }
}
