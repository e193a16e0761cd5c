//! The JSON shapes of users and events in responses, as Basiq's schemas
//! define them. Fields the schema requires and the user lacks are empty
//! strings.

use serde::Serialize;

use crate::event::{Event, EventData, EventType};
use crate::http::request::Context;
use crate::store::Overview;
use crate::user::{BusinessAddress, BusinessIdType, Name, User, UserSummary};
use crate::webhook::{Delivery, Subscription, WebhookId};

/// `UserPostResponse`: what create and update answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    email: &'a str,
    mobile: &'a str,
    first_name: &'a str,
    middle_name: &'a str,
    last_name: &'a str,
    #[serde(flatten)]
    business: BusinessView<'a>,
    created_time: &'a str,
    updated_time: &'a str,
    /// `None` inside the detail view, which has richer links of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<SelfLink>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BusinessView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    business_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_id_no: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_id_no_type: Option<BusinessIdType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_address: Option<&'a BusinessAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_status: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_date: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SelfLink {
    #[serde(rename = "self")]
    self_: String,
}

fn text(name: &Option<Name>) -> &str {
    name.as_ref().map(Name::as_str).unwrap_or("")
}

impl<'a> UserView<'a> {
    pub fn new(user: &'a User, ctx: &Context) -> Self {
        let b = &user.business;
        Self {
            kind: "user",
            id: user.id.to_string(),
            email: user.email.as_ref().map(|e| e.as_str()).unwrap_or(""),
            mobile: user.mobile.as_ref().map(|m| m.as_str()).unwrap_or(""),
            first_name: text(&user.first_name),
            middle_name: text(&user.middle_name),
            last_name: text(&user.last_name),
            business: BusinessView {
                business_name: b.business_name.as_ref().map(Name::as_str),
                business_id_no: b.business_id_no.as_ref().map(|n| n.as_str()),
                business_id_no_type: b.business_id_no_type,
                business_address: b.business_address.as_ref(),
                verification_status: b.verification_status,
                verification_date: b.verification_date.as_ref().map(|d| d.as_str()),
            },
            created_time: &user.created_time,
            updated_time: &user.updated_time,
            links: Some(SelfLink {
                self_: ctx.user_url(&user.id),
            }),
        }
    }
}

/// `UserGetResponse`: the user with its name, its connections and accounts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDetailView<'a> {
    #[serde(flatten)]
    user: UserView<'a>,
    name: String,
    connections: ListView<RefView>,
    accounts: ListView<RefView>,
    links: UserLinks,
}

/// A Basiq list: `{"type":"list","count":n,"data":[…]}`.
#[derive(Debug, Serialize)]
pub struct ListView<T> {
    #[serde(rename = "type")]
    kind: &'static str,
    count: usize,
    data: Vec<T>,
}

impl<T> ListView<T> {
    pub fn new(data: Vec<T>) -> Self {
        Self {
            kind: "list",
            count: data.len(),
            data,
        }
    }
}

/// A reference to a child resource: `{"type":"account","id":…,"links":{"self":…}}`.
#[derive(Debug, Serialize)]
pub struct RefView {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    links: SelfLink,
}

#[derive(Debug, Serialize)]
struct UserLinks {
    #[serde(rename = "self")]
    self_: String,
    accounts: String,
    connections: String,
    transactions: String,
    /// Required by Basiq's schema; consent links are not served by this service.
    auth_link: String,
}

impl<'a> UserDetailView<'a> {
    pub fn new(overview: &'a Overview, ctx: &Context) -> Self {
        let user = &overview.user;
        let url = ctx.user_url(&user.id);
        let mut view = UserView::new(user, ctx);
        view.links = None;
        let reference = |kind: &'static str, collection: &str, id: &str| RefView {
            kind,
            id: id.to_owned(),
            links: SelfLink {
                self_: format!("{url}/{collection}/{id}"),
            },
        };
        Self {
            name: user.full_name(),
            connections: ListView::new(
                overview
                    .connections
                    .iter()
                    .map(|c| reference("connection", "connections", c.id.as_str()))
                    .collect(),
            ),
            accounts: ListView::new(
                overview
                    .accounts
                    .iter()
                    .map(|a| reference("account", "accounts", a.id.as_str()))
                    .collect(),
            ),
            links: UserLinks {
                accounts: format!("{url}/accounts"),
                connections: format!("{url}/connections"),
                transactions: format!("{url}/transactions"),
                auth_link: format!("{url}/auth_link"),
                self_: url,
            },
            user: view,
        }
    }
}

/// A user in a search result.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummaryView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    email: &'a str,
    mobile: &'a str,
    first_name: &'a str,
    middle_name: &'a str,
    last_name: &'a str,
    created_time: &'a str,
    links: SelfLink,
}

impl<'a> UserSummaryView<'a> {
    pub fn new(user: &'a UserSummary, ctx: &Context) -> Self {
        Self {
            kind: "user",
            id: user.id.to_string(),
            email: &user.email,
            mobile: &user.mobile,
            first_name: &user.first_name,
            middle_name: &user.middle_name,
            last_name: &user.last_name,
            created_time: &user.created_time,
            links: SelfLink {
                self_: ctx.user_url(&user.id),
            },
        }
    }
}

/// A page of a list: `{"type":"list","count":n,"data":[…],"links":{"self":…,"next":…}}`.
#[derive(Debug, Serialize)]
pub struct PageView<T> {
    #[serde(rename = "type")]
    kind: &'static str,
    count: usize,
    /// The most a page holds, where Basiq's list says it (transactions).
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<usize>,
    data: Vec<T>,
    links: PageLinks,
}

#[derive(Debug, Serialize)]
struct PageLinks {
    #[serde(rename = "self")]
    self_: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

impl<T> PageView<T> {
    pub fn new(data: Vec<T>, self_url: String, next_url: Option<String>) -> Self {
        Self {
            kind: "list",
            count: data.len(),
            size: None,
            data,
            links: PageLinks {
                self_: self_url,
                next: next_url,
            },
        }
    }

    /// The same page, saying the most a page holds.
    pub fn with_size(mut self, size: usize) -> Self {
        self.size = Some(size);
        self
    }
}

/// `EventsData` (and `RetrieveEvent`): one event, with its `dataRef` and
/// `links.self` rooted at the request's base like every link. Who made the
/// change (the item's stamp) is kept for the audit trail, not shown here.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    created_date: &'a str,
    entity: &'static str,
    event_type: &'static str,
    user_id: String,
    data_ref: String,
    data: &'a EventData,
    links: SelfLink,
}

impl<'a> EventView<'a> {
    pub fn new(event: &'a Event, ctx: &Context) -> Self {
        Self {
            kind: "event",
            id: event.id.as_str(),
            created_date: &event.created_date,
            entity: event.kind.entity.as_str(),
            event_type: event.kind.action.as_str(),
            user_id: event.user.to_string(),
            data_ref: format!("{}{}", ctx.base_url, event.data_ref()),
            data: &event.data,
            links: SelfLink {
                self_: format!("{}/events/{}", ctx.base_url, event.id),
            },
        }
    }
}

/// `EventType`: one type of the catalogue.
#[derive(Debug, Serialize)]
pub struct EventTypeView {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'static str,
    description: &'static str,
    links: SelfLink,
}

impl EventTypeView {
    pub fn new(event_type: EventType, ctx: &Context) -> Self {
        Self {
            kind: "eventType",
            id: event_type.id(),
            description: event_type.description(),
            links: SelfLink {
                self_: format!("{}/events/types/{}", ctx.base_url, event_type.id()),
            },
        }
    }
}

/// A webhook subscription. Its secret is shown only by the answers that
/// make one (create and rotate), given as `secret`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    subscribed_events: Vec<&'static str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<&'a str>,
    created_date: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
    links: WebhookLinks,
}

#[derive(Debug, Serialize)]
struct WebhookLinks {
    #[serde(rename = "self")]
    self_: String,
    deliveries: String,
}

impl<'a> WebhookView<'a> {
    pub fn new(sub: &'a Subscription, ctx: &Context) -> Self {
        let self_ = format!("{}/webhooks/{}", ctx.base_url, sub.id);
        Self {
            kind: "webhook",
            id: sub.id.to_string(),
            url: &sub.url,
            description: sub.description.as_deref(),
            subscribed_events: sub.events.iter().map(|kind| kind.id()).collect(),
            status: sub.status.as_str(),
            disabled_reason: sub.disabled_reason.as_deref(),
            created_date: &sub.created_date,
            secret: None,
            links: WebhookLinks {
                deliveries: format!("{self_}/deliveries"),
                self_,
            },
        }
    }

    /// The view with the secret in plain text: shown this once.
    pub fn with_secret(mut self, secret: &'a str) -> Self {
        self.secret = Some(secret);
        self
    }
}

/// One delivery attempt.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    event_id: &'a str,
    event_type: &'a str,
    attempt: u32,
    attempted_at: &'a str,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    latency_ms: u64,
    response: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<&'a str>,
}

impl<'a> DeliveryView<'a> {
    pub fn new(delivery: &'a Delivery) -> Self {
        Self {
            kind: "webhookDelivery",
            id: &delivery.id,
            event_id: &delivery.event_id,
            event_type: &delivery.event_type,
            attempt: delivery.attempt,
            attempted_at: &delivery.attempted_at,
            outcome: delivery.outcome.as_str(),
            status: delivery.status,
            latency_ms: delivery.latency_ms,
            response: &delivery.response,
            next_attempt_at: delivery.next_attempt_at.as_deref(),
        }
    }
}

/// What `POST /webhooks/{id}/test` answers: the test event queued, and
/// where its deliveries will show.
#[derive(Debug, Serialize)]
pub struct WebhookTestView {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    links: SelfLink,
}

impl WebhookTestView {
    pub fn new(event_id: String, webhook: &WebhookId, ctx: &Context) -> Self {
        Self {
            kind: "webhookTest",
            id: event_id,
            links: SelfLink {
                self_: format!("{}/webhooks/{webhook}/deliveries", ctx.base_url),
            },
        }
    }
}
