//! The handlers, one per Lambda function. Each takes the app state and an API
//! Gateway request and always answers: errors become Basiq error bodies here.

mod dashboard;
mod finance;
mod purge;
mod search;
mod token;
mod users;

pub use dashboard::dashboard;
pub use finance::{
    delete_connection, get_account, get_connection, get_transaction, ingest_connection,
    list_accounts, list_connections, list_transactions,
};
pub use purge::purge_users;
pub use search::search_users;
pub use token::issue_token;
pub use users::{create_user, delete_user, get_user, update_user};

use std::future::Future;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::error::ApiError;
use crate::http::errors;
use crate::http::request::Context;
use crate::http::response;
use crate::store::Once;

/// 201 with the new resource, or the stored answer of the first request
/// with the same `Idempotency-Key`.
fn created_or_replayed(once: Once, text: String) -> Response<Body> {
    match once {
        Once::Created => response::json_text(StatusCode::CREATED, text),
        Once::Replayed { status, body } => response::replayed(
            StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
            body,
        ),
    }
}

/// Runs a handler body and turns its error, if any, into a response. Logs one
/// line per failure with the correlation id and never any request data.
async fn respond<F>(ctx: &Context, operation: &'static str, work: F) -> Response<Body>
where
    F: Future<Output = Result<Response<Body>, ApiError>>,
{
    match work.await {
        Ok(response) => {
            tracing::info!(
                correlation_id = %ctx.correlation_id,
                operation,
                status = response.status().as_u16(),
                "handled"
            );
            response
        }
        Err(err) => {
            let status = errors::status(&err);
            if status.is_server_error() {
                tracing::error!(correlation_id = %ctx.correlation_id, operation, status = status.as_u16(), error = %err, "failed");
            } else {
                tracing::info!(correlation_id = %ctx.correlation_id, operation, status = status.as_u16(), "rejected");
            }
            errors::error_response(&err, &ctx.correlation_id)
        }
    }
}
