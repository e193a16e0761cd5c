//! Handlers of the table's stream, apart from the HTTP handlers: they answer
//! Lambda's event source mapping, not a client.

mod purge;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;

pub use purge::{purge_batch, purge_users, Purged};

use crate::config::App;
use crate::error::ApiError;

/// A function on the table's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamHandler {
    /// `purge-user`: finishes deletions that outlast DELETE's budget.
    PurgeUser,
}

/// Handles one batch of stream records. Work stopped at the deadline is
/// reported as failed records (the event source mapping's
/// `ReportBatchItemFailures`): the whole batch, from its first record, which
/// Lambda delivers again, and which is no function error, so the errors
/// alarm rings only for faults. A fault is an error: it fails the
/// invocation, and Lambda delivers the batch again too.
pub async fn handle(
    app: &App,
    handler: StreamHandler,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, ApiError> {
    let first = event
        .payload
        .records
        .first()
        .map(|r| r.change.sequence_number.clone());
    let purged = match handler {
        StreamHandler::PurgeUser => purge_batch(app, event).await?,
    };
    let mut response = DynamoDbEventResponse::default();
    if purged == Purged::Stopped {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = first.flatten();
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}
