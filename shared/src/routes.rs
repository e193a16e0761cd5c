//! The route table: every method and path the HTTP API answers, the function
//! that serves it, and the dispatch from a route to its handler. Local
//! serving, the tests and the check against template.yaml all read it here.

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, Request, Response};

use crate::api;
use crate::config::{App, Needs};

/// One operation of the API, served by one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    IssueToken,
    CreateUser,
    SearchUsers,
    GetUser,
    UpdateUser,
    DeleteUser,
    IngestConnection,
    ListConnections,
    GetConnection,
    DeleteConnection,
    ListAccounts,
    GetAccount,
    ListTransactions,
    GetTransaction,
    ListEvents,
    GetEvent,
    ListEventTypes,
    GetEventType,
    CreateWebhook,
    ListWebhooks,
    GetWebhook,
    DeleteWebhook,
    RotateWebhookSecret,
    TestWebhook,
    ListWebhookDeliveries,
    SignIn,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
    ListAudit,
}

/// A method and path template, and the function that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
}

const fn endpoint(method: &'static str, path: &'static str, function: &'static str) -> Endpoint {
    Endpoint {
        method,
        path,
        function,
    }
}

/// The function that serves the dashboard page and its assets.
pub const DASHBOARD: &str = "dashboard";

/// The function that answers what no route matches (the HTTP API's
/// `$default` route): a Basiq 404, or a 405 with `Allow`.
pub const FALLBACK: &str = "fallback";

/// Paths that are also answered with one trailing slash (`/users/`), as
/// Basiq's client libraries call them; template.yaml declares both forms.
pub const SLASHED: [&str; 2] = ["/users", "/users/{userId}"];

/// Every endpoint, as template.yaml declares them. A literal path comes
/// before a template it also matches (`/events/types` before
/// `/events/{eventId}`), so that the first match wins as API Gateway's most
/// specific route does.
pub const ENDPOINTS: [Endpoint; 34] = [
    endpoint("GET", "/", DASHBOARD),
    endpoint("GET", "/assets/{asset}", DASHBOARD),
    endpoint("GET", "/openapi.json", DASHBOARD),
    endpoint("POST", "/token", "issue-token"),
    endpoint("POST", "/users", "create-user"),
    endpoint("GET", "/users", "search-users"),
    endpoint("GET", "/users/{userId}", "get-user"),
    endpoint("POST", "/users/{userId}", "update-user"),
    endpoint("PATCH", "/users/{userId}", "update-user"),
    endpoint("DELETE", "/users/{userId}", "delete-user"),
    endpoint("POST", "/users/{userId}/connections", "ingest-connection"),
    endpoint("GET", "/users/{userId}/connections", "list-connections"),
    endpoint(
        "GET",
        "/users/{userId}/connections/{connectionId}",
        "get-connection",
    ),
    endpoint(
        "DELETE",
        "/users/{userId}/connections/{connectionId}",
        "delete-connection",
    ),
    endpoint("GET", "/users/{userId}/accounts", "list-accounts"),
    endpoint("GET", "/users/{userId}/accounts/{accountId}", "get-account"),
    endpoint("GET", "/users/{userId}/transactions", "list-transactions"),
    endpoint(
        "GET",
        "/users/{userId}/transactions/{transactionId}",
        "get-transaction",
    ),
    endpoint("GET", "/events", "list-events"),
    endpoint("GET", "/events/types", "list-event-types"),
    endpoint("GET", "/events/types/{typeId}", "get-event-type"),
    endpoint("GET", "/events/{eventId}", "get-event"),
    endpoint("POST", "/webhooks", "create-webhook"),
    endpoint("GET", "/webhooks", "list-webhooks"),
    endpoint("GET", "/webhooks/{webhookId}", "get-webhook"),
    endpoint("DELETE", "/webhooks/{webhookId}", "delete-webhook"),
    endpoint(
        "POST",
        "/webhooks/{webhookId}/secret",
        "rotate-webhook-secret",
    ),
    endpoint("POST", "/webhooks/{webhookId}/test", "test-webhook"),
    endpoint(
        "GET",
        "/webhooks/{webhookId}/deliveries",
        "list-webhook-deliveries",
    ),
    endpoint("POST", "/sign-ins", "sign-in"),
    endpoint("POST", "/api-keys", "create-api-key"),
    endpoint("GET", "/api-keys", "list-api-keys"),
    endpoint("DELETE", "/api-keys/{keyId}", "revoke-api-key"),
    endpoint("GET", "/audit", "list-audit"),
];

/// What the route table says of a method and a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Route {
        endpoint: &'static Endpoint,
        /// Each `{param}` of the template, percent-decoded as API Gateway
        /// passes path parameters.
        parameters: Vec<(&'static str, String)>,
    },
    /// The path exists, but not with this method: these are its methods.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

/// Matches a request against the route table, as API Gateway's routes do.
/// A `{param}` matches one non-empty segment; a path of [`SLASHED`] matches
/// with one trailing slash too; HEAD is answered by a path's GET route.
pub fn resolve(method: &str, path: &str) -> Resolved {
    let mut allowed: Vec<&'static str> = Vec::new();
    let mut found = None;
    for endpoint in &ENDPOINTS {
        let slashed = SLASHED.contains(&endpoint.path);
        let Some(parameters) = match_template(endpoint.path, path, slashed) else {
            continue;
        };
        if !allowed.contains(&endpoint.method) {
            allowed.push(endpoint.method);
        }
        let fits = endpoint.method == method || (method == "HEAD" && endpoint.method == "GET");
        if fits && found.is_none() {
            found = Some(Resolved::Route {
                endpoint,
                parameters,
            });
        }
    }
    match found {
        Some(route) => route,
        None if allowed.is_empty() => Resolved::NotFound,
        None => Resolved::MethodNotAllowed(allowed),
    }
}

fn match_template(
    template: &'static str,
    path: &str,
    slashed: bool,
) -> Option<Vec<(&'static str, String)>> {
    let path = match path.strip_suffix('/') {
        Some(stripped) if slashed && stripped.len() > 1 => stripped,
        _ => path,
    };
    let template: Vec<&str> = template.strip_prefix('/')?.split('/').collect();
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if template.len() != segments.len() {
        return None;
    }
    let mut parameters = Vec::new();
    for (expected, actual) in template.into_iter().zip(segments) {
        match expected
            .strip_prefix('{')
            .and_then(|name| name.strip_suffix('}'))
        {
            Some(_) if actual.is_empty() => return None,
            Some(name) => parameters.push((
                name,
                percent_encoding::percent_decode_str(actual)
                    .decode_utf8_lossy()
                    .into_owned(),
            )),
            None if expected == actual => {}
            None => return None,
        }
    }
    Some(parameters)
}

impl Route {
    pub const ALL: [Route; 30] = [
        Route::IssueToken,
        Route::CreateUser,
        Route::SearchUsers,
        Route::GetUser,
        Route::UpdateUser,
        Route::DeleteUser,
        Route::IngestConnection,
        Route::ListConnections,
        Route::GetConnection,
        Route::DeleteConnection,
        Route::ListAccounts,
        Route::GetAccount,
        Route::ListTransactions,
        Route::GetTransaction,
        Route::ListEvents,
        Route::GetEvent,
        Route::ListEventTypes,
        Route::GetEventType,
        Route::CreateWebhook,
        Route::ListWebhooks,
        Route::GetWebhook,
        Route::DeleteWebhook,
        Route::RotateWebhookSecret,
        Route::TestWebhook,
        Route::ListWebhookDeliveries,
        Route::SignIn,
        Route::CreateApiKey,
        Route::ListApiKeys,
        Route::RevokeApiKey,
        Route::ListAudit,
    ];

    /// The Lambda function (and binary) that serves this route.
    pub fn function(self) -> &'static str {
        match self {
            Route::IssueToken => "issue-token",
            Route::CreateUser => "create-user",
            Route::SearchUsers => "search-users",
            Route::GetUser => "get-user",
            Route::UpdateUser => "update-user",
            Route::DeleteUser => "delete-user",
            Route::IngestConnection => "ingest-connection",
            Route::ListConnections => "list-connections",
            Route::GetConnection => "get-connection",
            Route::DeleteConnection => "delete-connection",
            Route::ListAccounts => "list-accounts",
            Route::GetAccount => "get-account",
            Route::ListTransactions => "list-transactions",
            Route::GetTransaction => "get-transaction",
            Route::ListEvents => "list-events",
            Route::GetEvent => "get-event",
            Route::ListEventTypes => "list-event-types",
            Route::GetEventType => "get-event-type",
            Route::CreateWebhook => "create-webhook",
            Route::ListWebhooks => "list-webhooks",
            Route::GetWebhook => "get-webhook",
            Route::DeleteWebhook => "delete-webhook",
            Route::RotateWebhookSecret => "rotate-webhook-secret",
            Route::TestWebhook => "test-webhook",
            Route::ListWebhookDeliveries => "list-webhook-deliveries",
            Route::SignIn => "sign-in",
            Route::CreateApiKey => "create-api-key",
            Route::ListApiKeys => "list-api-keys",
            Route::RevokeApiKey => "revoke-api-key",
            Route::ListAudit => "list-audit",
        }
    }

    /// The route a function serves, by the function's name.
    pub fn of_function(name: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.function() == name)
    }

    /// The endpoints this route answers.
    pub fn endpoints(self) -> impl Iterator<Item = &'static Endpoint> {
        ENDPOINTS
            .iter()
            .filter(move |e| e.function == self.function())
    }

    /// What the route's function needs from its configuration.
    pub fn needs(self) -> Needs {
        Needs {
            tokens: true,
            cursors: matches!(
                self,
                Route::SearchUsers
                    | Route::ListTransactions
                    | Route::ListEvents
                    | Route::ListWebhookDeliveries
                    | Route::ListAudit
                    | Route::ListApiKeys
            ),
            webhook_key: matches!(self, Route::CreateWebhook | Route::RotateWebhookSecret),
            queue: matches!(self, Route::TestWebhook),
        }
    }
}

/// A route's handler. Its future is boxed because the handlers' futures
/// differ widely in size: unboxed, the largest would set the size of every
/// route's future.
pub type Handler =
    for<'a> fn(&'a App, Request) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

impl Route {
    /// The handler of this route. Always inlined, so that a function's
    /// `main`, which names its route as a constant, links its own handler
    /// and none of the others.
    #[inline(always)]
    pub fn handler(self) -> Handler {
        match self {
            Route::IssueToken => |app, req| Box::pin(api::issue_token(app, req)),
            Route::CreateUser => |app, req| Box::pin(api::create_user(app, req)),
            Route::SearchUsers => |app, req| Box::pin(api::search_users(app, req)),
            Route::GetUser => |app, req| Box::pin(api::get_user(app, req)),
            Route::UpdateUser => |app, req| Box::pin(api::update_user(app, req)),
            Route::DeleteUser => |app, req| Box::pin(api::delete_user(app, req)),
            Route::IngestConnection => |app, req| Box::pin(api::ingest_connection(app, req)),
            Route::ListConnections => |app, req| Box::pin(api::list_connections(app, req)),
            Route::GetConnection => |app, req| Box::pin(api::get_connection(app, req)),
            Route::DeleteConnection => |app, req| Box::pin(api::delete_connection(app, req)),
            Route::ListAccounts => |app, req| Box::pin(api::list_accounts(app, req)),
            Route::GetAccount => |app, req| Box::pin(api::get_account(app, req)),
            Route::ListTransactions => |app, req| Box::pin(api::list_transactions(app, req)),
            Route::GetTransaction => |app, req| Box::pin(api::get_transaction(app, req)),
            Route::ListEvents => |app, req| Box::pin(api::events::list_events(app, req)),
            Route::GetEvent => |app, req| Box::pin(api::events::get_event(app, req)),
            Route::ListEventTypes => |app, req| Box::pin(api::events::list_event_types(app, req)),
            Route::GetEventType => |app, req| Box::pin(api::events::get_event_type(app, req)),
            Route::CreateWebhook => |app, req| Box::pin(api::webhooks::create_webhook(app, req)),
            Route::ListWebhooks => |app, req| Box::pin(api::webhooks::list_webhooks(app, req)),
            Route::GetWebhook => |app, req| Box::pin(api::webhooks::get_webhook(app, req)),
            Route::DeleteWebhook => |app, req| Box::pin(api::webhooks::delete_webhook(app, req)),
            Route::RotateWebhookSecret => {
                |app, req| Box::pin(api::webhooks::rotate_webhook_secret(app, req))
            }
            Route::TestWebhook => |app, req| Box::pin(api::webhooks::test_webhook(app, req)),
            Route::ListWebhookDeliveries => {
                |app, req| Box::pin(api::webhooks::list_webhook_deliveries(app, req))
            }
            Route::SignIn => |app, req| Box::pin(api::operators::sign_in(app, req)),
            Route::CreateApiKey => |app, req| Box::pin(api::api_keys::create_api_key(app, req)),
            Route::ListApiKeys => |app, req| Box::pin(api::api_keys::list_api_keys(app, req)),
            Route::RevokeApiKey => |app, req| Box::pin(api::api_keys::revoke_api_key(app, req)),
            Route::ListAudit => |app, req| Box::pin(api::audit::list_audit(app, req)),
        }
    }
}

/// Answers one request of `route`. Every handler always answers: errors
/// become Basiq error bodies inside it.
pub async fn route(app: &App, route: Route, req: Request) -> Response<Body> {
    route.handler()(app, req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function_of(method: &str, path: &str) -> Option<&'static str> {
        match resolve(method, path) {
            Resolved::Route { endpoint, .. } => Some(endpoint.function),
            _ => None,
        }
    }

    #[test]
    fn requests_resolve_as_api_gateway_routes_them() {
        assert_eq!(function_of("GET", "/users/x"), Some("get-user"));
        assert_eq!(function_of("POST", "/users/"), Some("create-user"));
        assert_eq!(function_of("PATCH", "/users/x/"), Some("update-user"));
        assert_eq!(function_of("HEAD", "/"), Some(DASHBOARD));
        assert_eq!(function_of("GET", "/events"), Some("list-events"));
        assert_eq!(
            function_of("GET", "/events/types"),
            Some("list-event-types"),
            "the literal wins over {{eventId}}"
        );
        assert_eq!(
            function_of("GET", "/events/types/user.created"),
            Some("get-event-type")
        );
        assert_eq!(function_of("GET", "/events/abc"), Some("get-event"));
        assert_eq!(
            resolve("POST", "/events/types"),
            Resolved::MethodNotAllowed(vec!["GET"])
        );
        assert_eq!(
            function_of("GET", "/users/x/accounts/"),
            None,
            "not a slashed path"
        );
        let Resolved::Route { parameters, .. } = resolve("GET", "/users/a%20b/connections/c%2Fd")
        else {
            panic!()
        };
        assert_eq!(
            parameters,
            [("userId", "a b".into()), ("connectionId", "c/d".into())]
        );
        for path in [
            "/nope",
            "/users//",
            "//",
            "/users/x/y/z/w",
            "/2015-03-31/functions/get-user/invocations",
        ] {
            assert_eq!(resolve("GET", path), Resolved::NotFound, "{path}");
        }
        assert_eq!(
            resolve("PUT", "/users/x"),
            Resolved::MethodNotAllowed(vec!["GET", "POST", "PATCH", "DELETE"])
        );
        assert_eq!(
            resolve("TRACE", "/users"),
            Resolved::MethodNotAllowed(vec!["POST", "GET"])
        );
    }

    #[test]
    fn every_route_has_endpoints_and_every_endpoint_a_function() {
        for route in Route::ALL {
            assert!(route.endpoints().count() > 0, "{route:?}");
            assert_eq!(Route::of_function(route.function()), Some(route));
        }
        for e in ENDPOINTS {
            assert!(
                e.function == DASHBOARD || Route::of_function(e.function).is_some(),
                "{e:?}"
            );
        }
    }
}
