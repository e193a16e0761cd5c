//! The one error type of the service. Every failure a handler can meet ends up
//! here, and `http::errors` turns it into a Basiq error body in one place. The
//! text of each variant is the `detail` the client reads, so an error says
//! the same thing in a log line and in a response.

use std::fmt;

use aws_sdk_dynamodb::error::SdkError;

use crate::user::UserRule;

/// Any error, boxed, for the cause of an [`ApiError::Internal`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where in the request a client error was found, as Basiq's `source` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JSON pointer into the request body, such as `/email`.
    Pointer(String),
    /// A query or path parameter, or a header, such as `limit`.
    Parameter(String),
}

/// Basiq's two codes for a bad value: wrong, or missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    NotValid,
    NotSupplied,
}

/// One thing wrong with a request, as one entry of a Basiq error list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub at: Source,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Every problem found in the request, so a form can mark all its fields at once.
    #[error("{}", .0.first().map_or("The request is not valid.", |p| p.detail.as_str()))]
    BadRequest(Vec<Problem>),

    /// The update would break a rule that depends on the stored user.
    #[error(transparent)]
    Rule(#[from] UserRule),

    /// The body is not a JSON document we can read at all.
    #[error("{0}")]
    InvalidContent(String),

    #[error("Request body exceeds {limit} bytes.")]
    PayloadTooLarge { limit: usize },

    #[error("Content-Type must be application/json.")]
    UnsupportedMediaType,

    #[error("{0}")]
    NotFound(&'static str),

    /// The path exists, but not with this method (`allow` lists its methods).
    #[error("This resource allows only these methods: {allow}.")]
    MethodNotAllowed { allow: String },

    /// No credentials at all.
    #[error("You are not authorized to access this resource.")]
    Unauthorized,

    /// A token that is malformed or not signed by us.
    #[error("The authorization token is not valid.")]
    InvalidToken,

    /// A token that was valid once.
    #[error("Token has expired")]
    TokenExpired,

    /// A valid token without the right to this.
    #[error("{0}")]
    Forbidden(&'static str),

    /// An `Idempotency-Key` was used before with a different request.
    #[error(
        "This Idempotency-Key was used within the last 24 hours with a different request body."
    )]
    IdempotencyConflict,

    /// A record id of the request already belongs to another connection of
    /// the user (the pointer says which).
    #[error("This id belongs to another connection of this user.")]
    IdInUse { pointer: String },

    /// The resource is busy with another request (an ingest of the same
    /// connection, a deletion under way); the same request can be retried.
    #[error("{detail}")]
    Busy {
        detail: &'static str,
        retry_after_seconds: u64,
    },

    /// The resource's state does not allow this now (a limit reached, a
    /// webhook disabled); the detail says what would.
    #[error("{0}")]
    Conflict(&'static str),

    /// `If-Match` named a version that is no longer current.
    #[error("The user has changed since it was read. Fetch it again and retry.")]
    PreconditionFailed,

    /// DynamoDB asked us to slow down, or kept refusing a transaction for a
    /// conflict, and the retries ran out. Nothing was acknowledged: the same
    /// request can be retried.
    #[error("Service Unavailable. Try again later.")]
    ServiceUnavailable,

    /// Anything that is our fault, never the client's. Logged with its cause,
    /// never sent: the client reads only that it was us.
    #[error("internal error: {context}")]
    Internal {
        context: &'static str,
        #[source]
        source: Option<BoxError>,
    },
}

/// Why a single value was rejected, before we know where in the request it was.
/// Domain parsers return this; the request decoder attaches the location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(detail: impl Into<String>) -> Self {
        Self(detail.into())
    }

    pub fn at(self, pointer: &str) -> Problem {
        Problem {
            kind: ProblemKind::NotValid,
            at: Source::Pointer(pointer.to_owned()),
            detail: self.0,
        }
    }

    pub fn at_parameter(self, name: &str) -> Problem {
        Problem {
            kind: ProblemKind::NotValid,
            at: Source::Parameter(name.to_owned()),
            detail: self.0,
        }
    }
}

impl Problem {
    /// A required body field that is missing.
    pub fn not_supplied(pointer: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: ProblemKind::NotSupplied,
            at: Source::Pointer(pointer.to_owned()),
            detail: detail.into(),
        }
    }

    /// A required query parameter or header that is missing.
    pub fn parameter_not_supplied(name: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: ProblemKind::NotSupplied,
            at: Source::Parameter(name.to_owned()),
            detail: detail.into(),
        }
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError::BadRequest(vec![problem])
    }
}

impl ApiError {
    pub fn not_valid(pointer: &str, detail: impl Into<String>) -> Self {
        Invalid::new(detail).at(pointer).into()
    }

    pub fn parameter_not_valid(name: &str, detail: impl Into<String>) -> Self {
        Invalid::new(detail).at_parameter(name).into()
    }

    pub fn not_found() -> Self {
        Self::NotFound("Resource not found.")
    }

    /// Our fault, with no underlying error to keep.
    pub fn internal(context: &'static str) -> Self {
        Self::Internal {
            context,
            source: None,
        }
    }

    /// Our fault, keeping what caused it.
    pub fn internal_from(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Internal {
            context,
            source: Some(source.into()),
        }
    }
}

/// DynamoDB's codes for "slow down" (which the SDK has already retried), for
/// an item held by a transaction (which the store has retried), and for its
/// own failures: a 503 with Retry-After, never a 500, for the request may be
/// sent again as it is.
const TRANSIENT: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "ServiceUnavailable",
];

impl<E, R> From<SdkError<E, R>> for ApiError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    /// DynamoDB unreachable, slow to answer, failing or asking us to slow down,
    /// once the SDK's retries have run out: 503. Anything else (a request it
    /// refused as invalid, say) is our fault: 500, with the cause kept.
    fn from(err: SdkError<E, R>) -> Self {
        let transient = match &err {
            SdkError::ServiceError(service) => {
                TRANSIENT.contains(&service.err().code().unwrap_or(""))
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            _ => false,
        };
        if transient {
            return ApiError::ServiceUnavailable;
        }
        ApiError::internal_from("dynamodb", err)
    }
}

impl From<aws_sdk_dynamodb::error::BuildError> for ApiError {
    fn from(err: aws_sdk_dynamodb::error::BuildError) -> Self {
        ApiError::internal_from("building a DynamoDB request", err)
    }
}

impl From<serde_dynamo::Error> for ApiError {
    fn from(err: serde_dynamo::Error) -> Self {
        ApiError::internal_from("mapping an item", err)
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        ApiError::internal_from("writing JSON", err)
    }
}

/// An error with every cause after it, `a: b: c`, for log lines.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_keep_their_cause_for_the_log() {
        let cause = serde_json::from_str::<u8>("x").unwrap_err();
        let err = ApiError::from(cause);
        let text = Chain(&err).to_string();
        assert!(
            text.starts_with("internal error: writing JSON: expected value"),
            "{text}"
        );
    }
}
