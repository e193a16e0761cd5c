//! The audit trail: who did what, to what, when and from where.
//!
//! An entry names the actor (ids, and a readable name: an operator's email,
//! a key's name), the action, the target's ids and the names of the fields
//! a change touched, never their values; so the entries of a deleted user
//! hold no personal data of theirs, and outlive the deletion for the whole
//! retention period. Entries are only ever added (see the store's
//! `append_audit`).

use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::auth::Stamp;
use crate::error::{ApiError, Invalid};
use crate::filter;
use crate::user::UserId;

/// The actor of a change whose item carries no stamp: a write path that
/// forgot to stamp. The change is still recorded (and a warning logged),
/// so that nothing escapes the trail.
pub const UNATTRIBUTED: &str = "unattributed";

/// The actor of a change the service made on its own, as a consequence of
/// another: a connection removed with its user (the purge, whose cause is
/// the user's `user.deleted` entry) or by an ingest undoing itself; and a
/// change of an API key or a webhook subscription that no request stamped
/// (its correlation id unchanged): a webhook disabled after its receiver
/// answered 410, secrets resealed under a new `WEBHOOK_KEY`, or a write
/// from outside the service.
pub const SYSTEM: &str = "system";

/// The most bytes an entry keeps of a free text (an actor's name, a user
/// agent, a claimed actor): an entry stays a small item (one write unit),
/// and an index key stays within DynamoDB's limits, whatever a caller sent.
pub const MAX_TEXT: usize = 512;

/// `text`, cut to at most [`MAX_TEXT`] bytes at a character boundary.
pub fn clip(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What was done. Changes of data, and attempts to get in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    UserCreated,
    UserUpdated,
    UserDeleted,
    ConnectionCreated,
    ConnectionUpdated,
    ConnectionDeleted,
    ApiKeyCreated,
    ApiKeyRevoked,
    /// Any other change of a key's item (un-revoked, its digest, name or
    /// expiry replaced...), naming the attributes changed; a use alone
    /// (`lastUsedAt`) is not one.
    ApiKeyUpdated,
    /// An API key (or a token bought with one) refused: unknown, revoked or expired.
    ApiKeyRefused,
    WebhookCreated,
    WebhookDeleted,
    WebhookSecretRotated,
    /// Any other change of a subscription (its url, events or status, its
    /// secrets resealed...), naming the attributes changed.
    WebhookUpdated,
    OperatorSignedIn,
    /// An operator's token refused at sign-in.
    OperatorSignInRefused,
}

impl Action {
    pub const ALL: [Action; 16] = [
        Action::UserCreated,
        Action::UserUpdated,
        Action::UserDeleted,
        Action::ConnectionCreated,
        Action::ConnectionUpdated,
        Action::ConnectionDeleted,
        Action::ApiKeyCreated,
        Action::ApiKeyRevoked,
        Action::ApiKeyUpdated,
        Action::ApiKeyRefused,
        Action::WebhookCreated,
        Action::WebhookDeleted,
        Action::WebhookSecretRotated,
        Action::WebhookUpdated,
        Action::OperatorSignedIn,
        Action::OperatorSignInRefused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::UserCreated => "user.created",
            Action::UserUpdated => "user.updated",
            Action::UserDeleted => "user.deleted",
            Action::ConnectionCreated => "connection.created",
            Action::ConnectionUpdated => "connection.updated",
            Action::ConnectionDeleted => "connection.deleted",
            Action::ApiKeyCreated => "api_key.created",
            Action::ApiKeyRevoked => "api_key.revoked",
            Action::ApiKeyUpdated => "api_key.updated",
            Action::ApiKeyRefused => "api_key.refused",
            Action::WebhookCreated => "webhook.created",
            Action::WebhookDeleted => "webhook.deleted",
            Action::WebhookSecretRotated => "webhook.secret_rotated",
            Action::WebhookUpdated => "webhook.updated",
            Action::OperatorSignedIn => "operator.signed_in",
            Action::OperatorSignInRefused => "operator.sign_in_refused",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// What an action was done to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `user`, `connection`, `apiKey`, `webhook`, `operator`.
    pub kind: &'static str,
    pub id: String,
}

/// One entry, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub action: Action,
    /// Who, when, and from where: the request's stamp.
    pub stamp: Stamp,
    pub target: Option<Target>,
    /// The user the action concerns, if any: how a user's history is found.
    pub user_id: Option<UserId>,
    /// The names of the fields changed, never their values.
    pub fields: Vec<String>,
    /// Why an attempt was refused (`operator.sign_in_refused`,
    /// `api_key.refused`): a fixed phrase, never what the caller sent.
    pub reason: Option<&'static str>,
    /// Set when a stream record made the entry: its time and its id come
    /// from the record, so the record delivered again makes the same entry,
    /// which the store's conditional put refuses. `None`: now, and a fresh
    /// id.
    pub origin: Option<Origin>,
}

/// The stream record an entry was derived from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The entry's id ([`entry_id`] of the record's time and id).
    pub id: String,
    /// The record's `ApproximateCreationDateTime`, in milliseconds.
    pub at_ms: i64,
    /// The record's `SequenceNumber`: orders one item's changes within
    /// the record's time, which has whole seconds only.
    pub sequence: String,
}

/// An entry's id: its time in milliseconds since the epoch (12 hexadecimal
/// digits, enough until the year 10889), so that ids sort by time, then 16
/// hexadecimal digits that make it unique: the first of the SHA-256 digest
/// of the stream record's id for an entry a record made (the same record,
/// the same id), random otherwise.
pub fn entry_id(at_ms: i64, suffix: &str) -> String {
    format!("{:012x}{suffix}", at_ms.max(0))
}

/// The 16 hexadecimal digits of a record's id that name its entry.
fn record_suffix(record_id: &str) -> String {
    let digest = Sha256::digest(record_id.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// 16 random hexadecimal digits.
pub fn random_suffix() -> String {
    let bytes = uuid::Uuid::new_v4();
    bytes.as_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Entry {
    pub fn new(action: Action, stamp: Stamp) -> Self {
        Self {
            action,
            stamp,
            target: None,
            user_id: None,
            fields: Vec::new(),
            reason: None,
            origin: None,
        }
    }

    /// The entry as made by the stream record `record_id` (at `at_ms`,
    /// with `sequence`): its id and time are the record's.
    pub fn from_record(mut self, record_id: &str, at_ms: i64, sequence: &str) -> Self {
        self.origin = Some(Origin {
            id: entry_id(at_ms, &record_suffix(record_id)),
            at_ms,
            sequence: sequence.to_owned(),
        });
        self
    }

    pub fn target(mut self, kind: &'static str, id: impl Into<String>) -> Self {
        self.target = Some(Target {
            kind,
            id: id.into(),
        });
        self
    }

    pub fn user(mut self, user: UserId) -> Self {
        self.user_id = Some(user);
        self
    }

    pub fn fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields;
        self
    }

    pub fn reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }
}

/// One entry as stored, for reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub created_at: String,
    /// As stored: an action this version may not know is still shown.
    pub action: String,
    pub actor: String,
    pub actor_name: Option<String>,
    /// The target's kind and id.
    pub target: Option<(String, String)>,
    pub user_id: Option<String>,
    pub fields: Vec<String>,
    pub reason: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub correlation_id: Option<String>,
}

/// A page of entries, newest first, and where the next page starts.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<Record>,
    /// `None` when nothing is left to read.
    pub next: Option<crate::store::Position>,
}

/// What `GET /audit` reads: one user's entries or one actor's (never both:
/// each is an index of its own), all of them otherwise, and within a time
/// range. Every term is a key condition of one Query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub user: Option<UserId>,
    pub actor: Option<String>,
    /// The range's ends, inclusive, as the stored times spell them
    /// (RFC 3339, UTC, milliseconds).
    pub from: Option<String>,
    pub to: Option<String>,
}

const FILTER_HELP: &str = "The audit can be filtered by userId.eq('…'), actor.eq('…') and createdDate.bt('from','to'), separated by commas.";

fn bad(detail: &str) -> ApiError {
    Invalid::new(detail).at_parameter("filter").into()
}

/// A time of a range, in the stored spelling.
fn bound(text: &str) -> Result<String, ApiError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(crate::clock::format)
        .ok_or_else(|| {
            bad("createdDate.bt takes two RFC 3339 times, such as '2026-12-01T00:00:00Z'.")
        })
}

/// Basiq's grammar (`filter.rs`) names a term `entity.field`, the audit's
/// names the field alone (`userId`): each clause is read as if it were
/// `audit.<field>`, by putting `audit.` before every clause (at the start,
/// and after each comma outside quotes and parentheses), so that values,
/// quoting and escapes are read exactly as every other filter reads them.
fn qualified(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 24);
    let (mut quoted, mut escaped, mut depth, mut clause_starts) = (false, false, 0i32, true);
    for c in text.chars() {
        if clause_starts && !c.is_whitespace() {
            out.push_str("audit.");
            clause_starts = false;
        }
        out.push(c);
        if quoted {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '\'') => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '\'' => quoted = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => clause_starts = true,
            _ => {}
        }
    }
    out
}

impl AuditFilter {
    /// Reads `userId.eq('…')`, `actor.eq('…')` and
    /// `createdDate.bt('from','to')`, separated by commas (AND), each at
    /// most once, and not userId with actor. Anything else gets 400 naming
    /// `filter`: a filter is never ignored.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let clauses = filter::parse(&qualified(text)).map_err(|_| bad(FILTER_HELP))?;
        let mut found = Self::default();
        let once = "Each filter term may be given once.";
        for clause in clauses {
            let field = clause.path.strip_prefix("audit.").unwrap_or_default();
            match (field, clause.op.as_str(), clause.values.as_slice()) {
                ("userId", "eq", [value]) => {
                    let id = UserId::parse(value).map_err(|e| e.at_parameter("filter"))?;
                    if found.user.replace(id).is_some() {
                        return Err(bad(once));
                    }
                }
                ("actor", "eq", [value]) => {
                    if value.is_empty() || value.len() > MAX_TEXT {
                        return Err(bad(
                            "actor.eq takes an actor's id, such as 'operator:…' or 'key:…'.",
                        ));
                    }
                    if found.actor.replace(value.clone()).is_some() {
                        return Err(bad(once));
                    }
                }
                ("createdDate", "bt", [from, to]) => {
                    let (from, to) = (bound(from)?, bound(to)?);
                    if from > to {
                        return Err(bad("createdDate.bt takes the earlier time first."));
                    }
                    if found.from.replace(from).is_some() {
                        return Err(bad(once));
                    }
                    found.to = Some(to);
                }
                _ => return Err(bad(FILTER_HELP)),
            }
        }
        if found.user.is_some() && found.actor.is_some() {
            return Err(bad("Filter by userId or by actor, not both."));
        }
        Ok(found)
    }

    /// A canonical text of the filter, which a cursor is bound to.
    pub fn fingerprint(&self) -> String {
        format!(
            "audit\nuser={}\nactor={}\nfrom={}\nto={}",
            self.user.map(|u| u.to_string()).unwrap_or_default(),
            self.actor.as_deref().unwrap_or_default(),
            self.from.as_deref().unwrap_or_default(),
            self.to.as_deref().unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_names() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("user.purged"), None);
    }

    #[test]
    fn ids_sort_by_time_and_a_record_always_makes_the_same_one() {
        let stamp = Stamp {
            actor: crate::auth::Actor::claimed("key:0123456789abcdef"),
            name: None,
            correlation_id: "req-1".into(),
            source_ip: None,
            user_agent: None,
        };
        let of = |record: &str, at: i64| {
            Entry::new(Action::UserCreated, stamp.clone())
                .from_record(record, at, "1")
                .origin
                .unwrap()
                .id
        };
        assert_eq!(
            of("record-1", 1_795_651_200_000),
            of("record-1", 1_795_651_200_000)
        );
        assert_ne!(
            of("record-1", 1_795_651_200_000),
            of("record-2", 1_795_651_200_000)
        );
        assert!(of("record-9", 1_795_651_200_000) < of("record-1", 1_795_651_201_000));
        let id = of("record-1", 1_795_651_200_000);
        assert_eq!(id.len(), 28);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(entry_id(-1, "x"), "000000000000x");
        assert_eq!(random_suffix().len(), 16);
        assert_ne!(random_suffix(), random_suffix());
    }

    #[test]
    fn texts_are_clipped_at_a_character_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(MAX_TEXT);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_TEXT && clipped.len() >= MAX_TEXT - 1);
        assert!(long.starts_with(clipped));
    }

    #[test]
    fn filters_read_each_term_once_in_any_order() {
        let user = UserId::new();
        let a = AuditFilter::parse(&format!(
            "userId.eq('{user}'), createdDate.bt('2026-12-01T00:00:00Z','2026-12-02T10:00:00+10:00')"
        ))
        .unwrap();
        let b = AuditFilter::parse(&format!(
            "createdDate.bt('2026-12-01T00:00:00.000Z', '2026-12-02T00:00:00Z'),userId.eq('{user}')"
        ))
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.user, Some(user));
        assert_eq!(a.from.as_deref(), Some("2026-12-01T00:00:00.000Z"));
        assert_eq!(a.to.as_deref(), Some("2026-12-02T00:00:00.000Z"));
        let actor = AuditFilter::parse("actor.eq('operator:a,b\\'c')").unwrap();
        assert_eq!(actor.actor.as_deref(), Some("operator:a,b'c"));
        assert_ne!(actor.fingerprint(), AuditFilter::default().fingerprint());
    }

    #[test]
    fn bad_filters_are_refused() {
        let (u1, u2) = (UserId::new(), UserId::new());
        for text in [
            String::new(),
            "userId".into(),
            "userId.eq(x)".into(),
            "userId.eq('not-a-uuid')".into(),
            "user.id.eq('x')".into(),
            "audit.userId.eq('x')".into(),
            format!("userId.eq('{u1}'),userId.eq('{u2}')"),
            format!("userId.eq('{u1}'),actor.eq('key:0123456789abcdef')"),
            format!("userId.ne('{u1}')"),
            "actor.eq('')".into(),
            "actor.eq('a','b')".into(),
            "createdDate.eq('2026-12-01T00:00:00Z')".into(),
            "createdDate.bt('2026-12-01','2026-12-02')".into(),
            "createdDate.bt('2026-12-02T00:00:00Z','2026-12-01T00:00:00Z')".into(),
            "createdDate.bt('2026-12-01T00:00:00Z','2026-12-02T00:00:00Z'),createdDate.bt('2026-12-01T00:00:00Z','2026-12-02T00:00:00Z')".into(),
            "action.eq('user.created')".into(),
            format!("userId.eq('{u1}'),"),
        ] {
            let err = AuditFilter::parse(&text).expect_err(&text);
            assert!(matches!(err, ApiError::BadRequest(_)), "{text}: {err:?}");
        }
    }
}
