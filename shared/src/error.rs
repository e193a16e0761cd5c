//! The one error type of the service. Every failure a handler can meet ends up
//! here, and `http::errors` turns it into a Basiq error body in one place.

use aws_sdk_dynamodb::error::SdkError;

/// Where in the request a client error was found, as Basiq's `source` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JSON pointer into the request body, such as `/email`.
    Pointer(String),
    /// A query or path parameter, such as `limit`.
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
    #[error("{}", .0.first().map(|p| p.detail.as_str()).unwrap_or("bad request"))]
    BadRequest(Vec<Problem>),

    /// The body is not a JSON document we can read at all.
    #[error("{0}")]
    InvalidContent(String),

    #[error("Request body exceeds {limit} bytes.")]
    PayloadTooLarge { limit: usize },

    #[error("Content-Type must be application/json.")]
    UnsupportedMediaType,

    #[error("{0}")]
    NotFound(String),

    /// No credentials at all.
    #[error("No authorization was given.")]
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
    #[error("This Idempotency-Key was used with a different request.")]
    IdempotencyConflict,

    /// `If-Match` named a version that is no longer current.
    #[error("The user has changed since it was read.")]
    PreconditionFailed,

    /// DynamoDB asked us to slow down and the SDK's retries ran out.
    #[error("Service Unavailable. Try again later.")]
    ServiceUnavailable,

    /// Anything that is our fault, never the client's. The message is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
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
    pub fn not_supplied(pointer: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: ProblemKind::NotSupplied,
            at: Source::Pointer(pointer.to_owned()),
            detail: detail.into(),
        }
    }
}

impl Problem {
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
        Self::NotFound("Resource not found.".to_owned())
    }
}

impl<E, R> From<SdkError<E, R>> for ApiError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(err: SdkError<E, R>) -> Self {
        let code = err.as_service_error().and_then(|e| e.code()).unwrap_or("");
        match code {
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded" => ApiError::ServiceUnavailable,
            _ => ApiError::Internal(aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string()),
        }
    }
}

impl From<serde_dynamo::Error> for ApiError {
    fn from(err: serde_dynamo::Error) -> Self {
        ApiError::Internal(format!("item mapping: {err}"))
    }
}
