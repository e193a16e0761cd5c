//! Webhooks: subscriptions to the events feed, delivered to the
//! subscriber's URL, signed as the Standard Webhooks specification says.
//!
//! - [`target`]: where a webhook may be sent (the SSRF rules).
//! - [`send`]: one request, no redirects, short timeouts.
//! - [`secret`]: signing secrets, sealed at rest, and the signature headers.
//! - [`schedule`]: when a failed delivery is tried again.
//! - [`fanout`]: the events function's hand-over to the delivery queue.
//! - [`deliver`]: the `deliver-webhooks` function, on the queue.

pub mod deliver;
pub mod fanout;
pub mod schedule;
pub mod secret;
pub mod send;
pub mod target;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, Invalid, Problem, Source};
use crate::event::EventType;
use target::{TargetPolicy, WebhookUrl};

/// At most this many subscriptions exist: every batch of events reads them
/// all, so their number bounds that read.
pub const MAX_SUBSCRIPTIONS: u64 = 20;

/// How long a rotated secret keeps signing beside the new one: a day for
/// the receiver to deploy the new secret without refusing a delivery.
pub const PREVIOUS_SECRET_SECONDS: i64 = 24 * 60 * 60;

/// How long a delivery attempt is kept: as long as the event it delivered.
pub const DELIVERY_RETENTION_SECONDS: i64 = crate::event::RETENTION_SECONDS;

/// The longest description kept.
const MAX_DESCRIPTION: usize = 255;

/// A subscription's id: a v4 UUID, hyphenated, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookId(Uuid);

impl TryFrom<String> for WebhookId {
    type Error = Invalid;

    fn try_from(text: String) -> Result<Self, Invalid> {
        Self::parse(&text)
    }
}

impl From<WebhookId> for String {
    fn from(id: WebhookId) -> String {
        id.to_string()
    }
}

impl WebhookId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Only the 36-character hyphenated form, so that one subscription has
    /// one spelling in paths, keys and links.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let invalid = || Invalid::new("ID value is not valid.");
        if text.len() != 36 {
            return Err(invalid());
        }
        let id = Uuid::try_parse(text).map_err(|_| invalid())?;
        if id.hyphenated().to_string() != text {
            return Err(invalid());
        }
        Ok(Self(id))
    }
}

impl Default for WebhookId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for WebhookId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Whether a subscription is delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    /// The receiver answered 410 Gone: it asked for no more deliveries.
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Status::Active),
            "disabled" => Some(Status::Disabled),
            _ => None,
        }
    }
}

/// A subscription as stored, its secrets still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: WebhookId,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<EventType>,
    pub status: Status,
    /// Why it was disabled (`gone`), when it is.
    pub disabled_reason: Option<String>,
    pub created_date: String,
    pub secret: String,
    /// The secret before the last rotation, and until when (seconds since
    /// the epoch) it signs too.
    pub previous_secret: Option<(String, i64)>,
}

impl Subscription {
    /// Whether an event of this type goes to this subscription.
    pub fn wants(&self, kind: EventType) -> bool {
        self.status == Status::Active && self.events.contains(&kind)
    }
}

/// A request to subscribe, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub url: WebhookUrl,
    pub description: Option<String>,
    pub events: Vec<EventType>,
}

impl NewSubscription {
    /// Reads `POST /webhooks`'s body: every problem at once, each at its
    /// pointer; a field this API does not know is refused rather than
    /// ignored, as the other bodies are.
    pub fn decode(body: Value, policy: TargetPolicy) -> Result<Self, ApiError> {
        let Value::Object(fields) = body else {
            return Err(ApiError::InvalidContent(
                "Request body must be a JSON object.".into(),
            ));
        };
        let mut problems = Vec::new();
        let mut url = None;
        let mut description = None;
        let mut events = None;
        for (name, value) in fields {
            match name.as_str() {
                "url" => match value {
                    Value::String(text) => match WebhookUrl::parse(&text, policy) {
                        Ok(parsed) => url = Some(parsed),
                        Err(problem) => problems.push(Invalid::new(problem.to_string()).at("/url")),
                    },
                    _ => problems.push(Invalid::new("url must be a string.").at("/url")),
                },
                "description" => match value {
                    Value::Null => {}
                    Value::String(text) if text.chars().count() > MAX_DESCRIPTION => problems.push(
                        Invalid::new(format!(
                            "description is longer than {MAX_DESCRIPTION} characters."
                        ))
                        .at("/description"),
                    ),
                    Value::String(text) if text.chars().any(char::is_control) => problems.push(
                        Invalid::new("description must not contain control characters.")
                            .at("/description"),
                    ),
                    Value::String(text) if text.trim().is_empty() => {}
                    Value::String(text) => description = Some(text.trim().to_owned()),
                    _ => problems
                        .push(Invalid::new("description must be a string.").at("/description")),
                },
                "subscribedEvents" => match read_events(value) {
                    Ok(kinds) => events = Some(kinds),
                    Err(problem) => problems.push(problem),
                },
                other => problems.push(
                    Invalid::new(format!("{other} is not a field of a webhook."))
                        .at(&format!("/{}", other.replace('~', "~0").replace('/', "~1"))),
                ),
            }
        }
        if url.is_none() && !problems.iter().any(|p| is_at(p, "/url")) {
            problems.push(Problem::not_supplied("/url", "url is required."));
        }
        if events.is_none() && !problems.iter().any(|p| is_at(p, "/subscribedEvents")) {
            problems.push(Problem::not_supplied(
                "/subscribedEvents",
                "subscribedEvents is required: the event types to deliver.",
            ));
        }
        match (url, events) {
            (Some(url), Some(events)) if problems.is_empty() => Ok(Self {
                url,
                description,
                events,
            }),
            _ => Err(ApiError::BadRequest(problems)),
        }
    }
}

/// Whether a problem was found at this pointer or below it.
fn is_at(problem: &Problem, pointer: &str) -> bool {
    matches!(&problem.at, Source::Pointer(at)
        if at == pointer || at.strip_prefix(pointer).is_some_and(|rest| rest.starts_with('/')))
}

/// The event types of `subscribedEvents`: a non-empty list of the
/// catalogue's ids, each kept once, in the catalogue's order.
fn read_events(value: Value) -> Result<Vec<EventType>, Problem> {
    let at = "/subscribedEvents";
    let Value::Array(items) = value else {
        return Err(Invalid::new("subscribedEvents must be a list of event type ids.").at(at));
    };
    if items.is_empty() {
        return Err(Invalid::new("subscribedEvents must name at least one event type.").at(at));
    }
    let mut kinds = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let kind = item.as_str().and_then(EventType::parse).ok_or_else(|| {
            Invalid::new(format!(
                "Not an event type: see GET /events/types for the {} types.",
                EventType::ALL.len()
            ))
            .at(&format!("{at}/{i}"))
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort_by_key(|kind| EventType::ALL.iter().position(|k| k == kind));
    Ok(kinds)
}

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx: delivered, no more attempts.
    Delivered,
    /// Another answer: tried again later, or sent to the dead-letter queue.
    Failed,
    /// 410 Gone: the subscription is disabled, no more attempts.
    Disabled,
    /// The URL is or resolved to an address webhooks may not reach.
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// No connection, TLS failed, or the answer was cut off.
    Unreachable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
            Outcome::Disabled => "disabled",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Unreachable => "unreachable",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Outcome::Delivered,
            Outcome::Failed,
            Outcome::Disabled,
            Outcome::Refused,
            Outcome::Timeout,
            Outcome::Unreachable,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }

    /// Whether the message is done with: no attempt follows.
    pub fn is_final(self) -> bool {
        matches!(self, Outcome::Delivered | Outcome::Disabled)
    }
}

/// One attempt to deliver one event to one subscription, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub attempt: u32,
    pub attempted_at: String,
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub response: String,
    /// When the next attempt is due, when one is.
    pub next_attempt_at: Option<String>,
}

/// The type of the event a test delivery carries: not one of the feed's
/// types, so no receiver mistakes it for a change.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// A message on the delivery queue: one event for one subscription. The
/// body is fixed when the event is handed over, so every attempt sends the
/// same bytes under the same `webhook-id`, and receivers can dedupe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Message {
    pub webhook_id: WebhookId,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LOCAL: TargetPolicy = TargetPolicy { local: true };

    fn problems(body: Value) -> Vec<String> {
        match NewSubscription::decode(body, LOCAL) {
            Err(ApiError::BadRequest(problems)) => problems
                .iter()
                .map(|p| format!("{:?} {}", p.at, p.detail))
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_subscription_reads_its_fields_and_keeps_each_type_once() {
        let new = NewSubscription::decode(
            json!({"url": "http://127.0.0.1:8080/hook", "description": " Ledger ",
                   "subscribedEvents": ["user.deleted", "user.created", "user.deleted"]}),
            LOCAL,
        )
        .unwrap();
        assert_eq!(new.url.as_str(), "http://127.0.0.1:8080/hook");
        assert_eq!(new.description.as_deref(), Some("Ledger"));
        assert_eq!(
            new.events,
            [EventType::USER_CREATED, EventType::USER_DELETED]
        );
    }

    #[test]
    fn every_problem_is_reported_at_its_field() {
        let found = problems(json!({"urlx": "http://127.0.0.1/", "subscribedEventsX": []}));
        assert_eq!(found.len(), 4, "both unknown, both missing: {found:?}");
        let found = problems(json!({"url": 3, "subscribedEvents": [], "colour": "red"}));
        assert_eq!(found.len(), 3, "{found:?}");
        let found = problems(json!({"subscribedEvents": ["user.created", "account.created"]}));
        assert!(
            found.iter().any(|p| p.contains("/subscribedEvents/1")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|p| p.contains("url is required")),
            "{found:?}"
        );
        let found =
            problems(json!({"url": "http://10.0.0.1/", "subscribedEvents": ["user.created"]}));
        assert!(found[0].contains("/url"), "{found:?}");
        let found = problems(
            json!({"url": "http://127.0.0.1/", "subscribedEvents": ["user.created"], "description": "a\u{7}"}),
        );
        assert!(found[0].contains("/description"), "{found:?}");
    }

    #[test]
    fn ids_have_one_spelling() {
        let id = WebhookId::new();
        assert_eq!(WebhookId::parse(&id.to_string()), Ok(id.clone()));
        assert!(WebhookId::parse(&id.to_string().to_uppercase()).is_err());
        assert!(WebhookId::parse(&id.to_string().replace('-', "")).is_err());
        assert!(WebhookId::parse("").is_err());
    }

    #[test]
    fn a_message_reads_back_what_was_written() {
        let message = Message {
            webhook_id: WebhookId::new(),
            event_id: "e".into(),
            event_type: "user.created".into(),
            body: "{}".into(),
        };
        let text = serde_json::to_string(&message).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&text).unwrap(), message);
    }
}
