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

/// Every endpoint, as template.yaml declares them.
pub const ENDPOINTS: [Endpoint; 17] = [
    endpoint("GET", "/", DASHBOARD),
    endpoint("GET", "/assets/{asset}", DASHBOARD),
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
];

impl Route {
    pub const ALL: [Route; 14] = [
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
            cursors: matches!(self, Route::SearchUsers | Route::ListTransactions),
        }
    }
}

/// Answers one request of `route`. Every handler always answers: errors
/// become Basiq error bodies inside it.
pub async fn route(app: &App, route: Route, req: Request) -> Response<Body> {
    // Boxed, because the handlers' futures differ widely in size: unboxed,
    // the largest would set the size of every route's future.
    let handler: Pin<Box<dyn Future<Output = Response<Body>> + Send + '_>> = match route {
        Route::IssueToken => Box::pin(api::issue_token(app, req)),
        Route::CreateUser => Box::pin(api::create_user(app, req)),
        Route::SearchUsers => Box::pin(api::search_users(app, req)),
        Route::GetUser => Box::pin(api::get_user(app, req)),
        Route::UpdateUser => Box::pin(api::update_user(app, req)),
        Route::DeleteUser => Box::pin(api::delete_user(app, req)),
        Route::IngestConnection => Box::pin(api::ingest_connection(app, req)),
        Route::ListConnections => Box::pin(api::list_connections(app, req)),
        Route::GetConnection => Box::pin(api::get_connection(app, req)),
        Route::DeleteConnection => Box::pin(api::delete_connection(app, req)),
        Route::ListAccounts => Box::pin(api::list_accounts(app, req)),
        Route::GetAccount => Box::pin(api::get_account(app, req)),
        Route::ListTransactions => Box::pin(api::list_transactions(app, req)),
        Route::GetTransaction => Box::pin(api::get_transaction(app, req)),
    };
    handler.await
}

#[cfg(test)]
mod tests {
    use super::*;

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
