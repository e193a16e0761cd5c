//! The `events` function: turns the table stream's changes into events.
//! The stream (NEW_AND_OLD_IMAGES), filtered to writes of profiles and
//! connections, delivers batches here; each record makes at most one event
//! (the store decides which, from the images), recorded with one
//! conditional PutItem keyed on the record's id. Streams deliver at least
//! once: a record delivered again, alone or in a later batch, is refused
//! by that condition, and no event is recorded twice.
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
use crate::store::events::{event_of, Change, ChangeKind};

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
    for (at, record) in records.into_iter().enumerate() {
        let Some(new) = change_of(record).and_then(|change| event_of(&change)) else {
            continue;
        };
        match app.store.record_event(&new).await {
            Ok(true) => recorded += 1,
            Ok(false) => repeated += 1,
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
    tracing::info!(
        records = sequences.len(),
        recorded,
        repeated,
        "events: batch handled"
    );
    Ok(response)
}
