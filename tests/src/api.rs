//! The API as a client calls it, in-process: one method per route, each
//! sending a real API Gateway v2 event through the route table, as Lambda
//! would, with a `SERVER_ACCESS` token unless the event says otherwise.

use serde_json::Value;
use shared::routes::{self, Route};
use shared::App;

use crate::events::{Event, Reply};

/// A valid user to create: Gavin Belson, with an email and a mobile.
pub fn gavin() -> Value {
    serde_json::json!({
        "email": "gavin@hooli.com",
        "mobile": "+61410888666",
        "firstName": "Gavin",
        "lastName": "Belson"
    })
}

/// The API of one test's app.
#[derive(Clone, Copy)]
pub struct TestApi<'a> {
    app: &'a App,
}

/// An event for `route` at `path` (the template's parameters filled in).
pub fn event(route: Route, method: &str, params: &[(&str, &str)]) -> Event {
    let endpoint = route
        .endpoints()
        .find(|e| e.method == method)
        .unwrap_or_else(|| panic!("{route:?} answers {method}"));
    let mut path = endpoint.path.to_owned();
    for (name, value) in params {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    let mut event = Event::new(method, &path).route_key(&format!("{method} {}", endpoint.path));
    for (name, value) in params {
        event = event.path_parameter(name, value);
    }
    event
}

impl<'a> TestApi<'a> {
    pub fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Any event, to any route.
    pub async fn call(self, route: Route, event: Event) -> Reply {
        Reply::from(routes::route(self.app, route, event.request()).await)
    }

    pub async fn issue_token(self, event: Event) -> Reply {
        self.call(Route::IssueToken, event).await
    }

    pub async fn create_user(self, body: &Value) -> Reply {
        let event = event(Route::CreateUser, "POST", &[]).json(body);
        self.call(Route::CreateUser, event).await
    }

    /// A new user from `body`, which must be valid: its id.
    pub async fn new_user(self, body: &Value) -> String {
        let reply = self.create_user(body).await;
        assert_eq!(reply.status, 201, "{:#}", reply.body);
        reply.id()
    }

    pub async fn search_users(self, params: &[(&str, &str)]) -> Reply {
        let event = params
            .iter()
            .fold(event(Route::SearchUsers, "GET", &[]), |e, (k, v)| {
                e.query(k, v)
            });
        self.call(Route::SearchUsers, event).await
    }

    pub async fn get_user(self, user: &str) -> Reply {
        self.call(Route::GetUser, user_event(Route::GetUser, "GET", user))
            .await
    }

    /// A PATCH (or, with `method`, a POST) of `body`.
    pub async fn update_user(self, method: &str, user: &str, body: &Value) -> Reply {
        let event = user_event(Route::UpdateUser, method, user).json(body);
        self.call(Route::UpdateUser, event).await
    }

    pub async fn delete_user(self, user: &str) -> Reply {
        self.call(
            Route::DeleteUser,
            user_event(Route::DeleteUser, "DELETE", user),
        )
        .await
    }

    pub async fn ingest_connection(self, user: &str, body: &Value) -> Reply {
        let event = user_event(Route::IngestConnection, "POST", user).json(body);
        self.call(Route::IngestConnection, event).await
    }

    pub async fn list_connections(self, user: &str) -> Reply {
        let event = user_event(Route::ListConnections, "GET", user);
        self.call(Route::ListConnections, event).await
    }

    pub async fn get_connection(self, user: &str, id: &str) -> Reply {
        let event = record_event(Route::GetConnection, "GET", user, "connectionId", id);
        self.call(Route::GetConnection, event).await
    }

    pub async fn delete_connection(self, user: &str, id: &str) -> Reply {
        let event = record_event(Route::DeleteConnection, "DELETE", user, "connectionId", id);
        self.call(Route::DeleteConnection, event).await
    }

    pub async fn list_accounts(self, user: &str) -> Reply {
        let event = user_event(Route::ListAccounts, "GET", user);
        self.call(Route::ListAccounts, event).await
    }

    pub async fn get_account(self, user: &str, id: &str) -> Reply {
        let event = record_event(Route::GetAccount, "GET", user, "accountId", id);
        self.call(Route::GetAccount, event).await
    }

    pub async fn list_transactions(self, user: &str, params: &[(&str, &str)]) -> Reply {
        let event = params.iter().fold(
            user_event(Route::ListTransactions, "GET", user),
            |e, (k, v)| e.query(k, v),
        );
        self.call(Route::ListTransactions, event).await
    }

    pub async fn get_transaction(self, user: &str, id: &str) -> Reply {
        let event = record_event(Route::GetTransaction, "GET", user, "transactionId", id);
        self.call(Route::GetTransaction, event).await
    }

    /// `GET /events` with these query parameters.
    pub async fn list_events(self, params: &[(&str, &str)]) -> Reply {
        let event = params
            .iter()
            .fold(event(Route::ListEvents, "GET", &[]), |e, (k, v)| {
                e.query(k, v)
            });
        self.call(Route::ListEvents, event).await
    }

    pub async fn get_event(self, id: &str) -> Reply {
        let event = event(Route::GetEvent, "GET", &[("eventId", id)]);
        self.call(Route::GetEvent, event).await
    }

    pub async fn list_event_types(self) -> Reply {
        let event = event(Route::ListEventTypes, "GET", &[]);
        self.call(Route::ListEventTypes, event).await
    }

    pub async fn get_event_type(self, id: &str) -> Reply {
        let event = event(Route::GetEventType, "GET", &[("typeId", id)]);
        self.call(Route::GetEventType, event).await
    }
}

/// An event for a route under `/users/{userId}`.
pub fn user_event(route: Route, method: &str, user: &str) -> Event {
    event(route, method, &[("userId", user)])
}

/// An event for a route under `/users/{userId}/…/{id}`.
pub fn record_event(route: Route, method: &str, user: &str, param: &str, id: &str) -> Event {
    event(route, method, &[("userId", user), (param, id)])
}

impl TestApi<'_> {
    pub async fn create_webhook(self, body: &Value) -> Reply {
        let event = event(Route::CreateWebhook, "POST", &[]).json(body);
        self.call(Route::CreateWebhook, event).await
    }

    pub async fn list_webhooks(self) -> Reply {
        self.call(Route::ListWebhooks, event(Route::ListWebhooks, "GET", &[]))
            .await
    }

    pub async fn get_webhook(self, id: &str) -> Reply {
        let event = event(Route::GetWebhook, "GET", &[("webhookId", id)]);
        self.call(Route::GetWebhook, event).await
    }

    pub async fn delete_webhook(self, id: &str) -> Reply {
        let event = event(Route::DeleteWebhook, "DELETE", &[("webhookId", id)]);
        self.call(Route::DeleteWebhook, event).await
    }

    pub async fn rotate_webhook_secret(self, id: &str) -> Reply {
        let event = event(Route::RotateWebhookSecret, "POST", &[("webhookId", id)]);
        self.call(Route::RotateWebhookSecret, event).await
    }

    pub async fn test_webhook(self, id: &str) -> Reply {
        let event = event(Route::TestWebhook, "POST", &[("webhookId", id)]);
        self.call(Route::TestWebhook, event).await
    }

    pub async fn list_webhook_deliveries(self, id: &str, params: &[(&str, &str)]) -> Reply {
        let event = params.iter().fold(
            event(Route::ListWebhookDeliveries, "GET", &[("webhookId", id)]),
            |e, (k, v)| e.query(k, v),
        );
        self.call(Route::ListWebhookDeliveries, event).await
    }
}
