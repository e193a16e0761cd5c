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
//! Each record also makes its audit entry, if any (the store decides which,
//! from the images: see `store::events::audit_of`): profiles and
//! connections as their events, API keys and webhook subscriptions too
//! (the stream's filter lets their writes through for this alone). An
//! entry is one conditional PutItem keyed on the record as well, so a
//! record delivered again makes no second entry. An item written without a
//! stamp still makes its entry, by `unattributed`, and a warning: no change
//! escapes the trail because a write path forgot to say who made it.
//!
//! Records are taken in order. When one cannot be recorded (its event or
//! its audit entry), it and every
//! record after it are reported as failed (the event source mapping's
//! `ReportBatchItemFailures`), so that Lambda delivers only those again and
//! the feed keeps the stream's order; when the very first fails, the
//! invocation fails, as a fault should.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::LambdaEvent;

use super::delivered_again;
use crate::audit::{Entry, UNATTRIBUTED};
use crate::config::App;
use crate::error::{ApiError, Chain};
use crate::event::Event as FeedEvent;
use crate::store::events::{audit_of, event_of, Change, ChangeKind};
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
    let (mut recorded, mut repeated, mut audited) = (0usize, 0usize, 0usize);
    // The events recorded, with the index of the record that made each.
    let mut events = Vec::new();
    for (at, record) in records.into_iter().enumerate() {
        let Some(change) = change_of(record) else {
            continue;
        };
        let made = match record_change(app, &change).await {
            Ok(made) => made,
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
        };
        audited += usize::from(made.audited);
        if let Some((event, new)) = made.event {
            if new {
                recorded += 1;
            } else {
                repeated += 1;
            }
            events.push((at, event));
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
        audited,
        handed_over,
        "events: batch handled"
    );
    Ok(response)
}

/// What one record made: its event, if any (and whether this delivery
/// recorded it), and whether it made an audit entry (now or before).
struct Made {
    event: Option<(FeedEvent, bool)>,
    audited: bool,
}

/// Records a change's event and its audit entry, each once: an error when
/// either could not be recorded (the record is then delivered again, and
/// what was recorded is refused as done).
async fn record_change(app: &App, change: &Change) -> Result<Made, ApiError> {
    let event = match event_of(change) {
        Some(new) => {
            let recorded = app.store.record_event(&new).await?;
            Some((new.event, recorded))
        }
        None => None,
    };
    let entry = audit_of(change);
    if let Some(entry) = &entry {
        warn_if_unattributed(entry);
        app.store
            .record_audit(entry, app.config.audit_retention_days)
            .await?;
    }
    Ok(Made {
        event,
        audited: entry.is_some(),
    })
}

/// A change made by a write path that stamps nothing: recorded all the
/// same, and said, so that the path gets its stamp.
fn warn_if_unattributed(entry: &Entry) {
    if entry.stamp.actor.as_str() == UNATTRIBUTED {
        tracing::warn!(
            action = entry.action.as_str(),
            target = entry.target.as_ref().map(|t| t.kind),
            "events: a change with no stamp; audited as unattributed"
        );
    }
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
