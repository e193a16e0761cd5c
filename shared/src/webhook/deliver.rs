//! The `deliver-webhooks` function, on the delivery queue: each message is
//! one event for one subscription. It is sent signed, the attempt is
//! recorded, and then:
//!
//! - a 2xx ends it;
//! - 410 Gone disables the subscription and ends it;
//! - anything else (another status, a timeout, a refused address) puts the
//!   message off by the [`schedule`](super::schedule) and reports it failed
//!   (`ReportBatchItemFailures`), so the queue delivers it again then; after
//!   the last attempt the queue's redrive policy moves it to the
//!   dead-letter queue.
//!
//! The subscription is read again for every attempt, so a deletion, a
//! disabling or a rotated secret takes effect on the next attempt.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;
use lambda_runtime::LambdaEvent;
use time::OffsetDateTime;

use super::schedule::{self, MAX_ATTEMPTS};
use super::send::{Attempted, Failure, Sender};
use super::target::WebhookUrl;
use super::{secret, Delivery, Message, Outcome, Status, Subscription, TEST_EVENT_TYPE};
use crate::config::App;
use crate::error::{ApiError, Chain};
use crate::telemetry::metrics;

/// What is left to do with a message after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing: delivered, disabled, or no longer wanted.
    Done,
    /// Try again after this long.
    RetryAfter(Duration),
    /// That was the last attempt: to the dead-letter queue.
    GiveUp,
}

/// Delivers one batch, every message at once, answering those the queue
/// must deliver again.
pub async fn deliver_batch(
    app: &App,
    sender: &Sender,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, ApiError> {
    let outcomes = join_all(
        event
            .payload
            .records
            .iter()
            .map(|record| handle_record(app, sender, record)),
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for (record, again) in event.payload.records.iter().zip(outcomes) {
        if again {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

/// One message: `true` when the queue must deliver it again.
async fn handle_record(app: &App, sender: &Sender, record: &SqsMessage) -> bool {
    let attempt = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    let message: Message = match record.body.as_deref().map(serde_json::from_str) {
        Some(Ok(message)) => message,
        _ => {
            // Only our functions write to the queue: a message we cannot
            // read would fail every attempt alike, so it is dropped, loudly.
            tracing::error!(
                messageId = record.message_id.as_deref().unwrap_or(""),
                "deliver-webhooks: an unreadable message was dropped"
            );
            return false;
        }
    };
    let next = match deliver(app, sender, &message, attempt).await {
        Ok(next) => next,
        Err(err) => {
            tracing::error!(
                webhookId = %message.webhook_id,
                eventId = %message.event_id,
                attempt,
                error = %Chain(&err),
                "deliver-webhooks: the attempt could not be made"
            );
            schedule::next_delay(attempt).map_or(Next::GiveUp, Next::RetryAfter)
        }
    };
    let receipt = record.receipt_handle.as_deref().unwrap_or_default();
    let delay = match next {
        Next::Done => return false,
        Next::RetryAfter(delay) => delay,
        Next::GiveUp => Duration::ZERO,
    };
    if let Some(queue) = &app.queue {
        if let Err(err) = queue.retry_after(receipt, delay).await {
            // The message comes back after the queue's visibility timeout
            // instead: sooner than planned, never lost.
            tracing::warn!(
                webhookId = %message.webhook_id,
                error = %Chain(&err),
                "deliver-webhooks: the retry could not be put off"
            );
        }
    }
    true
}

/// One attempt to deliver `message`; see the module's description.
pub async fn deliver(
    app: &App,
    sender: &Sender,
    message: &Message,
    attempt: u32,
) -> Result<Next, ApiError> {
    let Some(sub) = app.store.get_webhook(&message.webhook_id).await? else {
        tracing::info!(webhookId = %message.webhook_id, eventId = %message.event_id, "deliver-webhooks: the webhook was deleted; dropped");
        return Ok(Next::Done);
    };
    if !wanted(&sub, message) {
        tracing::info!(webhookId = %message.webhook_id, eventId = %message.event_id, "deliver-webhooks: the webhook is disabled or no longer wants this type; dropped");
        return Ok(Next::Done);
    }
    let now = OffsetDateTime::now_utc();
    let attempted = match WebhookUrl::parse(&sub.url, app.config.webhook_targets) {
        Ok(url) => {
            let headers = headers(app, &sub, message, now).await?;
            sender.post(&url, &headers, message.body.clone()).await
        }
        Err(problem) => {
            tracing::warn!(webhookId = %sub.id, problem = %problem, "deliver-webhooks: the stored URL is refused now");
            Attempted {
                status: None,
                latency_ms: 0,
                response: String::new(),
                failure: Some(Failure::Refused),
            }
        }
    };
    let outcome = outcome_of(&attempted);
    let next = match outcome {
        Outcome::Delivered | Outcome::Disabled => Next::Done,
        _ if attempt >= MAX_ATTEMPTS => Next::GiveUp,
        _ => schedule::next_delay(attempt).map_or(Next::GiveUp, Next::RetryAfter),
    };
    let next_attempt_at = match next {
        Next::RetryAfter(delay) => crate::clock::format(now + delay),
        _ => None,
    };
    tracing::info!(
        webhookId = %sub.id,
        eventId = %message.event_id,
        attempt,
        outcome = outcome.as_str(),
        status = attempted.status,
        latencyMs = attempted.latency_ms,
        "deliver-webhooks: attempt"
    );
    metrics::delivered(outcome, attempted.latency_ms);
    let delivery = Delivery {
        id: crate::keys::delivery_id(
            &crate::clock::format(now).unwrap_or_default(),
            &uuid::Uuid::new_v4().simple().to_string()[..8],
        ),
        event_id: message.event_id.clone(),
        event_type: message.event_type.clone(),
        attempt,
        attempted_at: crate::clock::format(now).unwrap_or_default(),
        outcome,
        status: attempted.status,
        latency_ms: attempted.latency_ms,
        response: attempted.response,
        next_attempt_at,
    };
    if let Err(err) = app.store.record_delivery(&sub.id, &delivery).await {
        // The attempt was made: making it again for want of its record
        // would deliver twice. It is in the log instead.
        tracing::error!(webhookId = %sub.id, error = %Chain(&err), "deliver-webhooks: the attempt was not recorded");
    }
    if outcome == Outcome::Disabled {
        // The receiver asked for no more: this message is done with even
        // if the write fails, and the next delivery's 410 disables it then.
        match app.store.disable_webhook(&sub.id, "gone").await {
            Ok(_) => {
                tracing::warn!(webhookId = %sub.id, "deliver-webhooks: the receiver answered 410 Gone; the webhook is disabled")
            }
            Err(err) => {
                tracing::error!(webhookId = %sub.id, error = %Chain(&err), "deliver-webhooks: the receiver answered 410 Gone, but the webhook could not be disabled")
            }
        }
    }
    Ok(next)
}

/// Whether the subscription, as it is now, still wants this message.
fn wanted(sub: &Subscription, message: &Message) -> bool {
    if sub.status != Status::Active {
        return false;
    }
    message.event_type == TEST_EVENT_TYPE
        || sub
            .events
            .iter()
            .any(|kind| kind.id() == message.event_type)
}

/// The Standard Webhooks headers: `webhook-id` (the event's id, the same on
/// every attempt), `webhook-timestamp` (now) and `webhook-signature`, by
/// the current secret and, inside its day, the one rotated out.
async fn headers(
    app: &App,
    sub: &Subscription,
    message: &Message,
    now: OffsetDateTime,
) -> Result<Vec<(&'static str, String)>, ApiError> {
    let secrets = secrets(app, sub, now).await?;
    let timestamp = now.unix_timestamp();
    Ok(vec![
        ("webhook-id", message.event_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            secret::signature(&secrets, &message.event_id, timestamp, &message.body)?,
        ),
    ])
}

/// The secrets that sign now: the current one and, inside its day, the one
/// rotated out. Secrets sealed under a previous `WEBHOOK_KEY` are sealed
/// again under the current one on the way (best effort: the next attempt
/// tries again), so that the key's rotation window ending strands none.
async fn secrets(
    app: &App,
    sub: &Subscription,
    now: OffsetDateTime,
) -> Result<Vec<String>, ApiError> {
    let keys = app.config.webhook_key()?;
    let current = secret::open(keys, &sub.id, &sub.secret, now)?;
    // A previous secret that no longer opens (sealed under a WEBHOOK_KEY
    // whose window has ended) only costs its second signature: the
    // delivery goes, signed by the current secret.
    let previous = match &sub.previous_secret {
        Some((sealed, until)) if *until > now.unix_timestamp() => {
            match secret::open(keys, &sub.id, sealed, now) {
                Ok(plain) => Some((sealed, plain)),
                Err(err) => {
                    tracing::warn!(webhookId = %sub.id, error = %Chain(&err), "deliver-webhooks: the previous secret does not open; signing with the current one only");
                    None
                }
            }
        }
        _ => None,
    };
    let stale = !secret::sealed_by_current(keys, &sub.secret)
        || previous
            .as_ref()
            .is_some_and(|(sealed, _)| !secret::sealed_by_current(keys, sealed));
    if stale {
        let resealed = secret::seal(keys, &sub.id, &current)?;
        let previous_resealed = match &previous {
            Some((_, plain)) => Some(secret::seal(keys, &sub.id, plain)?),
            None => None,
        };
        match app
            .store
            .reseal_webhook_secrets(sub, &resealed, previous_resealed.as_deref())
            .await
        {
            Ok(_) => {
                tracing::info!(webhookId = %sub.id, "deliver-webhooks: the secrets were sealed again under the current WEBHOOK_KEY")
            }
            Err(err) => {
                tracing::warn!(webhookId = %sub.id, error = %Chain(&err), "deliver-webhooks: the secrets could not be sealed again")
            }
        }
    }
    let mut secrets = vec![current];
    secrets.extend(previous.map(|(_, plain)| plain));
    Ok(secrets)
}

fn outcome_of(attempted: &Attempted) -> Outcome {
    match (attempted.failure, attempted.status) {
        (Some(Failure::Refused), _) => Outcome::Refused,
        (Some(Failure::Timeout), _) => Outcome::Timeout,
        (Some(Failure::Unreachable), _) => Outcome::Unreachable,
        (None, Some(status)) if (200..300).contains(&status) => Outcome::Delivered,
        (None, Some(410)) => Outcome::Disabled,
        (None, _) => Outcome::Failed,
    }
}
