//! Handlers of the table's stream, apart from the HTTP handlers: they answer
//! Lambda's event source mapping, not a client.

mod events;
mod purge;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;

pub use events::record_events;
pub use purge::{purge_batch, purge_users, Purged};

use crate::config::App;
use crate::error::ApiError;

/// A function on the table's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamHandler {
    /// `purge-user`: finishes deletions that outlast DELETE's budget.
    PurgeUser,
    /// `events`: turns writes of profiles and connections into events.
    Events,
}

/// Handles one batch of stream records, answering with the records Lambda
/// must deliver again (the event source mapping's
/// `ReportBatchItemFailures`), which is no function error, so the errors
/// alarm rings only for faults. A fault before anything was done is an
/// error: it fails the invocation, and Lambda delivers the batch again too.
///
/// - `purge-user`: work stopped at the deadline is the whole batch, from its
///   first record.
/// - `events`: a record that could not be recorded after others were, and
///   every record after it.
pub async fn handle(
    app: &App,
    handler: StreamHandler,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, ApiError> {
    match handler {
        StreamHandler::PurgeUser => purge(app, event).await,
        StreamHandler::Events => record_events(app, event).await,
    }
}

async fn purge(app: &App, event: LambdaEvent<Event>) -> Result<DynamoDbEventResponse, ApiError> {
    let first = event
        .payload
        .records
        .first()
        .map(|r| r.change.sequence_number.clone());
    Ok(match purge_batch(app, event).await? {
        Purged::Done => DynamoDbEventResponse::default(),
        Purged::Stopped => delivered_again([first.flatten()]),
    })
}

/// The answer that has Lambda deliver these records again (by their
/// sequence numbers), and the batch's records after them.
fn delivered_again(sequences: impl IntoIterator<Item = Option<String>>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for sequence in sequences {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = sequence;
        response.batch_item_failures.push(failure);
    }
    response
}
