//! The hand-over from the events function to the delivery queue: each
//! event, for each subscription that wants its type, becomes one message
//! carrying the exact body to send. The events of a batch share one read of
//! the subscriptions.

use serde_json::json;

use super::{Message, Subscription, TEST_EVENT_TYPE};
use crate::event::Event;
use crate::http::request::Context;
use crate::http::views::EventView;

/// The body a receiver gets for `event`: the event as `GET /events/{id}`
/// shows it, its links rooted at `base_url` (the API's public base).
pub fn body_of(event: &Event, base_url: &str) -> String {
    let ctx = Context {
        correlation_id: String::new(),
        base_url: base_url.to_owned(),
        source_ip: None,
        user_agent: None,
    };
    // A view of plain strings and numbers always serializes.
    serde_json::to_string(&EventView::new(event, &ctx)).unwrap_or_default()
}

/// The messages for `events`, one per event and subscription that wants
/// it, in the events' order.
pub fn messages(events: &[Event], subs: &[Subscription], base_url: &str) -> Vec<Message> {
    let mut out = Vec::new();
    for event in events {
        let wanting: Vec<&Subscription> = subs.iter().filter(|s| s.wants(event.kind)).collect();
        if wanting.is_empty() {
            continue;
        }
        let body = body_of(event, base_url);
        for sub in wanting {
            out.push(Message {
                webhook_id: sub.id.clone(),
                event_id: event.id.to_string(),
                event_type: event.kind.id().to_owned(),
                body: body.clone(),
            });
        }
    }
    out
}

/// A test event for one subscription: shaped as events are, of the type
/// `webhook.test`, which no change makes.
pub fn test_message(sub: &Subscription, base_url: &str) -> Message {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let body = json!({
        "type": "event",
        "id": id,
        "createdDate": crate::event::created_date(now),
        "entity": "webhook",
        "eventType": "test",
        "data": {"type": "webhook", "id": sub.id.to_string()},
        "links": {"self": format!("{base_url}/webhooks/{}", sub.id)},
    });
    Message {
        webhook_id: sub.id.clone(),
        event_id: id,
        event_type: TEST_EVENT_TYPE.to_owned(),
        body: body.to_string(),
    }
}
