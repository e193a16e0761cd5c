//! Handlers of the table's stream, apart from the HTTP handlers: they answer
//! Lambda's event source mapping, not a client.

mod purge;

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::LambdaEvent;

pub use purge::purge_users;

use crate::config::App;
use crate::error::ApiError;

/// A function on the table's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamHandler {
    /// `purge-user`: finishes deletions that outlast DELETE's budget.
    PurgeUser,
}

/// Handles one batch of stream records. An error fails the batch, and Lambda
/// delivers it again.
pub async fn handle(
    app: &App,
    handler: StreamHandler,
    event: LambdaEvent<Event>,
) -> Result<(), ApiError> {
    match handler {
        StreamHandler::PurgeUser => purge_users(app, event).await,
    }
}
