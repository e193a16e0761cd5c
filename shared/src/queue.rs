//! The webhook delivery queue (SQS): what the events function and
//! test-webhook hand over, and how deliver-webhooks puts off a message it
//! will try again. The only code that talks to SQS.

use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::error::ApiError;
use crate::store::backoff;
use crate::webhook::Message;

/// SendMessageBatch takes at most ten messages.
const BATCH: usize = 10;

/// How many times entries SQS refused are sent again before giving up.
const ATTEMPTS: u32 = 5;

#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    url: String,
}

impl Queue {
    pub fn new(client: Client, url: String) -> Self {
        Self { client, url }
    }

    /// Sends every message, ten per request; entries SQS refuses are sent
    /// again with backoff. `Ok(n)` when all were sent, n requests made; an
    /// error when some were not, after which the caller hands all of them
    /// over again (a message sent twice is delivered twice, under one
    /// `webhook-id`, which receivers dedupe on).
    pub async fn send_all(&self, messages: &[Message]) -> Result<usize, ApiError> {
        let mut requests = 0;
        for chunk in messages.chunks(BATCH) {
            let mut pending: Vec<(String, String)> = chunk
                .iter()
                .enumerate()
                .map(|(i, message)| Ok((i.to_string(), serde_json::to_string(message)?)))
                .collect::<Result<_, serde_json::Error>>()?;
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt == ATTEMPTS {
                    return Err(ApiError::internal_from(
                        "the webhook queue kept refusing messages",
                        format!("{} not sent", pending.len()),
                    ));
                }
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt - 1)).await;
                }
                attempt += 1;
                let entries = pending
                    .iter()
                    .map(|(id, body)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(id)
                            .message_body(body)
                            .build()
                            .map_err(|e| ApiError::internal_from("a queue message", e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                requests += 1;
                let output = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| ApiError::internal_from("sending to the webhook queue", e))?;
                let refused: Vec<&str> = output.failed().iter().map(|f| f.id()).collect();
                pending.retain(|(id, _)| refused.contains(&id.as_str()));
            }
        }
        Ok(requests)
    }

    /// Makes a received message visible again only after `delay`: how a
    /// delivery is tried again later (SQS allows up to 12 hours).
    pub async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), ApiError> {
        let seconds = i32::try_from(delay.as_secs())
            .unwrap_or(i32::MAX)
            .min(12 * 3600);
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| ApiError::internal_from("delaying a webhook delivery", e))?;
        Ok(())
    }
}
