//! The one place where errors become Basiq error bodies: a status, a code and
//! a title per error; the detail is the error's own text.

use lambda_http::http::header::{self, HeaderValue};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

use crate::error::{ApiError, Invalid, Problem, ProblemKind, Source};
use crate::http::response;
use crate::user::{Contact, UserRule};

pub fn status(err: &ApiError) -> StatusCode {
    match err {
        ApiError::BadRequest(_) | ApiError::Rule(_) | ApiError::InvalidContent(_) => {
            StatusCode::BAD_REQUEST
        }
        ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        ApiError::Unauthorized | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
        ApiError::TokenExpired | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ApiError::IdempotencyConflict
        | ApiError::IdInUse { .. }
        | ApiError::Busy { .. }
        | ApiError::Conflict(_) => StatusCode::CONFLICT,
        ApiError::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Basiq's code and title for an error that is not about one field.
fn code_and_title(err: &ApiError) -> (&'static str, &'static str) {
    match err {
        ApiError::InvalidContent(_)
        | ApiError::PayloadTooLarge { .. }
        | ApiError::UnsupportedMediaType => ("invalid-content", "Invalid content."),
        ApiError::NotFound(_) => ("resource-not-found", "Requested resource is not found."),
        ApiError::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed."),
        ApiError::Unauthorized => ("unauthorized-access", "Unauthorized Access"),
        ApiError::InvalidToken => ("invalid-authorization-token", "Invalid authorization token"),
        ApiError::TokenExpired => ("access-denied", "Access denied"),
        ApiError::Forbidden(_) => ("forbidden-access", "Forbidden Access"),
        ApiError::PreconditionFailed => ("precondition-failed", "Precondition failed."),
        ApiError::IdempotencyConflict => ("idempotency-key-reused", "Idempotency key reused."),
        ApiError::IdInUse { .. } | ApiError::Busy { .. } | ApiError::Conflict(_) => {
            ("resource-conflict", "Resource conflict.")
        }
        ApiError::ServiceUnavailable => ("service-unavailable", "Service Unavailable"),
        ApiError::BadRequest(_) | ApiError::Rule(_) | ApiError::Internal { .. } => {
            ("internal-server-error", "Internal Server Error")
        }
    }
}

/// Where in the request a broken rule is, and how Basiq names it.
fn rule_problem(rule: UserRule) -> Problem {
    match rule {
        UserRule::KeepContact(Contact::Email) => Invalid::new(rule.to_string()).at("/email"),
        UserRule::KeepContact(Contact::Mobile) => Invalid::new(rule.to_string()).at("/mobile"),
        UserRule::BusinessNameRequired => Problem::not_supplied("/businessName", rule.to_string()),
        UserRule::BusinessNameInUse => Invalid::new(rule.to_string()).at("/businessName"),
    }
}

/// The most problems one answer lists: a form needs every field it shows
/// marked, not an echo of every field an attacker can invent.
const MAX_PROBLEMS: usize = 20;

/// The longest pointer or parameter name echoed back, in characters.
const MAX_SOURCE: usize = 200;

/// What an error of one entry names as its source, where it names one.
fn source_of(err: &ApiError) -> Option<Value> {
    match err {
        ApiError::IdInUse { pointer } => Some(json!({ "pointer": pointer })),
        // Basiq's 403 entries always carry a source (its ForbiddenAccessError
        // schema requires one): what was refused is the token, which the
        // Authorization header carries.
        ApiError::TokenExpired | ApiError::Forbidden(_) => {
            Some(json!({ "parameter": "Authorization" }))
        }
        _ => None,
    }
}

/// `{"type":"list","correlationId":…,"data":[{"type":"error",…}]}`, as Basiq answers.
pub fn error_response(err: &ApiError, correlation_id: &str) -> Response<Body> {
    let data: Vec<Value> = match err {
        ApiError::BadRequest(problems) => problems
            .iter()
            .take(MAX_PROBLEMS)
            .map(problem_entry)
            .collect(),
        ApiError::Rule(rule) => vec![problem_entry(&rule_problem(*rule))],
        // The cause is logged with the correlation id; the client only learns that it was us.
        ApiError::Internal { .. } => vec![entry(
            "internal-server-error",
            "Internal Server Error",
            "An unexpected error occurred. Quote the correlationId if you report it.",
        )],
        other => {
            let (code, title) = code_and_title(other);
            let mut value = entry(code, title, &other.to_string());
            if let Some(source) = source_of(other) {
                value["source"] = source;
            }
            vec![value]
        }
    };
    let body = json!({"type": "list", "correlationId": correlation_id, "data": data});
    let mut response = response::json(status(err), &body);
    // When to try again: a busy resource says; DynamoDB's slowdowns pass soon.
    let retry_after = match err {
        ApiError::Busy {
            retry_after_seconds,
            ..
        } => Some(*retry_after_seconds),
        ApiError::ServiceUnavailable => Some(1),
        _ => None,
    };
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let ApiError::MethodNotAllowed { allow } = err {
        if let Ok(value) = HeaderValue::from_str(allow) {
            response.headers_mut().insert(header::ALLOW, value);
        }
    }
    response
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
        Source::Pointer(pointer) => json!({"pointer": cut(pointer)}),
        Source::Parameter(parameter) => json!({"parameter": cut(parameter)}),
    };
    value
}

/// A client's own text, cut to [`MAX_SOURCE`] characters (an unknown field's
/// name can be as long as the body).
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_SOURCE) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
