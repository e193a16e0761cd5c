//! The `events` function: turns the table stream's changes into events.
//! The stream (NEW_AND_OLD_IMAGES), filtered to writes of profiles and
//! connections, delivers batches here; each record makes at most one event
//! (the store decides which, from the images), recorded with one
//! conditional PutItem keyed on the record's id. Streams deliver at least
//! once: a record delivered again, alone or in a later batch, is refused
//! by that condition, and no event is recorded twice.
//!
//! Then each event goes to the webhook queue, once per subscription that
//! wants its type (one Query of the subscriptions per batch, SQS batches of
//! ten): the event recorded now and the one recorded by an earlier delivery
//! of the record alike, since that delivery may have stopped before handing
//! it over. A receiver may so get an event twice, under one `webhook-id`.
//!
//! Records are taken in order. When one cannot be recorded, it and every
//! record after it are reported as failed (the event source mapping's
//! `ReportBatchItemFailures`), so that Lambda delivers only those again and
//! the feed keeps the stream's order; when the very first fails, the
//! invocation fails, as a fault should.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::LambdaEvent;

use super::delivered_again;
use crate::config::App;
use crate::error::{ApiError, Chain};
use crate::event::Event as FeedEvent;
use crate::store::events::{event_of, Change, ChangeKind};
use crate::webhook::fanout;

/// The change a record tells of, or `None` for a record that is not a
/// change of an item (an unknown `eventName`) or names no record (no
/// `eventID`, without which an event could not be recorded only once).
fn change_of(record: EventRecord) -> Option<Change> {
    let kind = ChangeKind::parse(&record.event_name)?;
    if record.event_id.is_empty() {
        return None;
    }
    let change = record.change;
    Some(Change {
        record_id: record.event_id,
        kind,
        keys: change.keys.into(),
        new: change.new_image.into(),
        old: change.old_image.into(),
        at_seconds: change.approximate_creation_date_time.timestamp(),
        sequence: change.sequence_number.unwrap_or_default(),
    })
}

/// Records the events of one batch (see the module's description).
pub async fn record_events(
    app: &App,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, ApiError> {
    let records = event.payload.records;
    let sequences: Vec<Option<String>> = records
        .iter()
        .map(|r| r.change.sequence_number.clone())
        .collect();
    let mut response = DynamoDbEventResponse::default();
    let (mut recorded, mut repeated) = (0usize, 0usize);
    // The events recorded, with the index of the record that made each.
    let mut events = Vec::new();
    for (at, record) in records.into_iter().enumerate() {
        let Some(new) = change_of(record).and_then(|change| event_of(&change)) else {
            continue;
        };
        match app.store.record_event(&new).await {
            Ok(true) => {
                recorded += 1;
                events.push((at, new.event));
            }
            Ok(false) => {
                repeated += 1;
                events.push((at, new.event));
            }
            Err(err) if at == 0 => {
                tracing::error!(error = %Chain(&err), "events: the batch's first record was not recorded; the stream delivers the batch again");
                return Err(err);
            }
            Err(err) => {
                tracing::warn!(
                    error = %Chain(&err),
                    failed = sequences.len() - at,
                    "events: a record was not recorded; the stream delivers it and those after it again"
                );
                response = delivered_again(sequences[at..].iter().cloned());
                break;
            }
        }
    }
    let handed_over = match hand_over(app, &events).await {
        Ok(messages) => messages,
        Err(err) => {
            let Some(first) = events.first().map(|(at, _)| *at) else {
                return Ok(response);
            };
            if first == 0 {
                tracing::error!(error = %Chain(&err), "events: the batch's events were not handed to the webhook queue; the stream delivers the batch again");
                return Err(err);
            }
            tracing::warn!(error = %Chain(&err), "events: events were not handed to the webhook queue; the stream delivers their records again");
            // The records from the first event on come again, which
            // covers any failure reported above, since that one came later.
            return Ok(delivered_again(sequences[first..].iter().cloned()));
        }
    };
    tracing::info!(
        records = sequences.len(),
        recorded,
        repeated,
        handed_over,
        "events: batch handled"
    );
    Ok(response)
}

/// Hands the events to the webhook queue, for the subscriptions that want
/// them: how many messages. Nothing when no queue is configured (a table
/// without webhooks), and no read when the batch made no event.
async fn hand_over(app: &App, events: &[(usize, FeedEvent)]) -> Result<usize, ApiError> {
    let Some(queue) = &app.queue else {
        return Ok(0);
    };
    if events.is_empty() {
        return Ok(0);
    }
    let subs = app.store.list_webhooks().await?;
    let events: Vec<FeedEvent> = events.iter().map(|(_, event)| event.clone()).collect();
    let base = app.config.public_base_url.as_deref().unwrap_or_default();
    let messages = fanout::messages(&events, &subs, base);
    queue.send_all(&messages).await?;
    Ok(messages.len())
}
