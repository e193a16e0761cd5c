//! The HTTP handlers, one per route. Each takes the app state and an API
//! Gateway request and always answers: errors become Basiq error bodies.

pub mod api_keys;
pub mod audit;
pub mod events;
mod fallback;
mod finance;
pub mod operators;
mod search;
mod token;
mod users;
pub mod webhooks;

pub use fallback::unmatched;
pub use finance::{
    delete_connection, get_account, get_connection, get_transaction, ingest_connection,
    list_accounts, list_connections, list_transactions,
};
pub use search::search_users;
pub use token::issue_token;
pub use users::{create_user, delete_user, get_user, update_user};

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::auth::{self, Caller, Stamp};
use crate::config::App;
use crate::error::ApiError;
use crate::http::request::Context;
use crate::http::response;
use crate::store::{Once, Store};
use crate::telemetry::metrics::{self, Metric};

/// What every response needs to know about its request.
fn context(app: &App, req: &Request) -> Context {
    Context::of(req, app.config.public_base_url.as_deref())
}

/// Who is asking: the request's bearer token, checked.
async fn caller(app: &App, req: &Request) -> Result<Caller, ApiError> {
    auth::authenticate(app, req).await
}

/// The store as this caller's: its writes of a profile or a connection
/// record who asked (`caller`) and in which request (`ctx`), in the same
/// write. Every handler that writes for a caller writes through it.
fn acting(app: &App, caller: &Caller, ctx: &Context) -> Store {
    app.store.acting(Stamp::new(caller, ctx))
}

/// 201 with the new resource, or the stored answer of the first request
/// with the same `Idempotency-Key`. Both were written without a host (so no
/// record keeps one) and are rooted at this request's base. `created` are
/// the metrics of the creation, emitted only when this request made it; a
/// replay counts as `IdempotentReplays` instead, never twice as created.
fn created_or_replayed(
    once: Once,
    recorded: &str,
    ctx: &Context,
    created: &[(Metric, u64)],
) -> Response<Body> {
    match once {
        Once::Created => {
            metrics::emit(created, &[]);
            response::json_text(
                StatusCode::CREATED,
                response::rooted(recorded, &ctx.base_url),
            )
        }
        Once::Replayed { status, body } => {
            metrics::count(Metric::IdempotentReplays);
            response::replayed(
                StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
                response::rooted(&body, &ctx.base_url),
            )
        }
    }
}
