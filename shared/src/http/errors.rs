//! The one place where errors become Basiq error bodies.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

use crate::error::{ApiError, Problem, ProblemKind, Source};
use crate::http::response;

pub fn status(err: &ApiError) -> StatusCode {
    match err {
        ApiError::BadRequest(_) | ApiError::InvalidContent(_) => StatusCode::BAD_REQUEST,
        ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::Unauthorized | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
        ApiError::TokenExpired | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ApiError::IdempotencyConflict => StatusCode::CONFLICT,
        ApiError::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"type":"list","correlationId":…,"data":[{"type":"error",…}]}`, as Basiq answers.
pub fn error_response(err: &ApiError, correlation_id: &str) -> Response<Body> {
    let data: Vec<Value> = match err {
        ApiError::BadRequest(problems) => problems.iter().map(problem_entry).collect(),
        ApiError::InvalidContent(detail) => {
            vec![entry("invalid-content", "Invalid content.", detail)]
        }
        ApiError::PayloadTooLarge { .. } | ApiError::UnsupportedMediaType => {
            vec![entry(
                "invalid-content",
                "Invalid content.",
                &err.to_string(),
            )]
        }
        ApiError::NotFound(detail) => vec![entry(
            "resource-not-found",
            "Requested resource is not found.",
            detail,
        )],
        ApiError::Unauthorized => vec![entry(
            "unauthorized-access",
            "Unauthorized Access",
            "You are not authorized to access this resource.",
        )],
        ApiError::InvalidToken => vec![entry(
            "invalid-authorization-token",
            "Invalid authorization token",
            "The authorization token is not valid.",
        )],
        ApiError::TokenExpired => {
            vec![entry("access-denied", "Access denied", "Token has expired")]
        }
        ApiError::Forbidden(detail) => vec![entry("forbidden-access", "Forbidden Access", detail)],
        ApiError::PreconditionFailed => vec![entry(
            "precondition-failed",
            "Precondition failed.",
            "The user has changed since it was read. Fetch it again and retry.",
        )],
        ApiError::IdempotencyConflict => vec![entry(
            "idempotency-key-reused",
            "Idempotency key reused.",
            "This Idempotency-Key was used within the last 24 hours with a different request body.",
        )],
        ApiError::ServiceUnavailable => vec![entry(
            "service-unavailable",
            "Service Unavailable",
            "Service Unavailable. Try again later.",
        )],
        // The cause is logged with the correlation id; the client only learns that it was us.
        ApiError::Internal(_) => vec![entry(
            "internal-server-error",
            "Internal Server Error",
            "An unexpected error occurred. Quote the correlationId if you report it.",
        )],
    };
    let body = json!({"type": "list", "correlationId": correlation_id, "data": data});
    response::json(status(err), &body)
}

fn entry(code: &str, title: &str, detail: &str) -> Value {
    json!({"type": "error", "code": code, "title": title, "detail": detail})
}

fn problem_entry(problem: &Problem) -> Value {
    let (code, title) = match problem.kind {
        ProblemKind::NotValid => ("parameter-not-valid", "Parameter not valid."),
        ProblemKind::NotSupplied => ("parameter-not-supplied", "Required parameter not supplied."),
    };
    let mut value = entry(code, title, &problem.detail);
    value["source"] = match &problem.at {
        Source::Pointer(pointer) => json!({"pointer": pointer}),
        Source::Parameter(parameter) => json!({"parameter": parameter}),
    };
    value
}
