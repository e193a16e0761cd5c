//! The requests a generator makes.

use super::*;

/// One request as generated. What depends on the table (a current ETag, a
/// cursor from an earlier page, a user made for this case) is resolved when
/// the request is sent.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) route: Route,
    pub(crate) method: &'static str,
    pub(crate) user: UserRef,
    pub(crate) record: RecordRef,
    pub(crate) query: Query,
    pub(crate) body: Payload,
    pub(crate) content_type: ContentType,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) if_match: Option<IfMatch>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) auth: Auth,
}

impl Spec {
    pub(crate) fn new(route: Route, method: &'static str) -> Self {
        Self {
            route,
            method,
            user: UserRef::Seeded,
            record: RecordRef::Existing,
            query: Query::default(),
            body: Payload::None,
            content_type: ContentType::Default,
            idempotency_key: None,
            if_match: None,
            headers: Vec::new(),
            auth: Auth::Server(Spelling::Bearer),
        }
    }
}

/// The `{userId}` of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserRef {
    /// The user with a connection, accounts and transactions.
    Seeded,
    /// The same id in capitals: the same user.
    SeededUpper,
    /// The second user, without data.
    Other,
    /// A user made for this case (so that deleting it costs nothing).
    Fresh,
    /// A user made for this case, with connection `conn-2`, account
    /// `acc-2-0` and transactions `txn-2-0` to `txn-2-2`.
    FreshWithData,
    /// A well-formed id that no user has.
    Absent(String),
    /// Any text at all.
    Text(String),
}

/// The second path parameter (`connectionId`, `accountId`, `transactionId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordRef {
    /// A record of the right kind that the path's user has.
    Existing,
    /// The id of a record of another kind (an account's for a connection).
    WrongKind,
    Text(String),
}

/// A query string: its parameters in order, and optionally sent raw, with
/// `+` for spaces and junk before or after.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pub(crate) pairs: Vec<(String, QValue)>,
    pub(crate) raw: Option<RawQuery>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawQuery {
    pub(crate) form: bool,
    pub(crate) junk: Option<(bool, &'static str)>,
}

#[derive(Debug, Clone)]
pub(crate) enum QValue {
    Text(String),
    /// A `next` cursor an earlier page of this property's table gave.
    Cursor(Index),
    /// Such a cursor with one character changed.
    Tampered(Index, Index),
}

#[derive(Clone)]
pub(crate) enum Payload {
    None,
    Json(Value),
    Text(String),
    /// Sent base64-encoded, as API Gateway sends a binary body.
    Bytes(Vec<u8>),
}

/// Bodies print as the text that is sent, not as a tree of `Value`s.
impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn cut(text: &str) -> String {
            match text.char_indices().nth(2_000) {
                Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()),
                None => text.to_owned(),
            }
        }
        match self {
            Payload::None => f.write_str("None"),
            Payload::Json(value) => write!(f, "Json({})", cut(&value.to_string())),
            Payload::Text(text) => write!(f, "Text({:?})", cut(text)),
            Payload::Bytes(bytes) => {
                write!(f, "Bytes({:?})", cut(&String::from_utf8_lossy(bytes)))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum ContentType {
    /// `application/json` (form-encoded for `POST /token`) when there is a body.
    Default,
    Absent,
    Is(String),
}

#[derive(Debug, Clone)]
pub(crate) enum IfMatch {
    /// The user's ETag as `GET` gives it.
    Current,
    /// `W/` and the current ETag.
    Weak,
    /// The version after the current one: never a match.
    Next,
    Raw(String),
}

#[derive(Debug, Clone)]
pub(crate) enum Auth {
    /// A valid SERVER_ACCESS token, spelt one of the ways HTTP allows.
    Server(Spelling),
    /// CLIENT_ACCESS for the seeded user.
    ClientOwn,
    /// CLIENT_ACCESS for the other user.
    ClientOther,
    /// A token that was valid more than an hour ago.
    Expired(Scope),
    Forged(Forgery),
    /// Any printable Authorization header.
    Raw(String),
    /// HTTP Basic with an API key, as `POST /token` takes.
    Basic(BasicKey),
    /// An operator's ID token from the world's identity provider.
    Operator(Role),
    Missing,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Spelling {
    Bearer,
    Lower,
    Upper,
    TwoSpaces,
    TrailingSpace,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Forgery {
    /// Our token with one character of its signature changed.
    Tampered,
    /// Signed with another secret.
    OtherSecret,
    /// `alg: none`, unsigned, claiming SERVER_ACCESS.
    Unsigned,
    /// Issued ten minutes from now.
    Future,
    /// CLIENT_ACCESS for no user.
    ClientWithoutUser,
}

#[derive(Debug, Clone)]
pub(crate) enum BasicKey {
    Valid,
    /// The key with spaces around it.
    Padded,
    /// `basic` in lower case.
    Lower,
    Unknown(String),
}

/// Who the service must take the caller for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    Server,
    Client(UserId),
    Operator(Role),
    Expired,
    Nobody,
}
