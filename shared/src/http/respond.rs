//! Running a handler body and answering whatever it comes to.

use std::future::Future;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use super::errors;
use super::request::Context;
use crate::error::{ApiError, Chain};
use crate::telemetry::metrics::{self, Metric};

/// Runs a handler body and turns its error, if any, into a Basiq error body.
/// Logs one line per request with the operation, the status and the
/// correlation id, and never any request data; a server error's line also
/// carries its whole chain of causes. Counts the 412s, as a metric.
pub async fn respond<F>(ctx: &Context, operation: &'static str, work: F) -> Response<Body>
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
            // Every 412 of every handler passes here, and only here.
            if status == StatusCode::PRECONDITION_FAILED {
                metrics::count(Metric::PreconditionFailed);
            }
            if status.is_server_error() {
                tracing::error!(correlation_id = %ctx.correlation_id, operation, status = status.as_u16(), error = %Chain(&err), "failed");
            } else {
                tracing::info!(correlation_id = %ctx.correlation_id, operation, status = status.as_u16(), "rejected");
            }
            errors::error_response(&err, &ctx.correlation_id)
        }
    }
}
