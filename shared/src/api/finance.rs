//! Connections, accounts and transactions under a user.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::{acting, caller, context, created_or_replayed};
use crate::auth::Need;
use crate::config::App;
use crate::error::ApiError;
use crate::finance::{decode_ingest, RecordFilter, TransactionQuery};
use crate::http::cursor::Cursor;
use crate::http::page::{FilterParams, PageParams};
use crate::http::records::{AccountView, ConnectionView, TransactionView};
use crate::http::request;
use crate::http::response;
use crate::http::views::PageView;
use crate::idempotency;
use crate::store::OnceRecord;
use crate::telemetry::metrics::Metric;

/// Lambda's limit for a synchronous request is 6 MB; 5,000 transactions fit well within it.
pub const INGEST_MAX_BODY: usize = 6 * 1024 * 1024;
/// As Basiq: a page holds 500 transactions unless `limit` says otherwise.
const TRANSACTIONS_DEFAULT_LIMIT: usize = crate::http::page::MAX_LIMIT;

/// `POST /users/{userId}/connections`: the ingest path of an aggregation
/// engine. 201 with the connection.
pub async fn ingest_connection(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "ingest-connection", async {
        let caller = caller(app, &req).await?;
        caller.require(Need::Change)?;
        let user = request::path_user_id(&req)?;
        let route = format!("POST /users/{user}/connections");
        let key = idempotency::from_request(&req, &caller.principal(), &route)?;
        let body = request::json_body_within(&req, INGEST_MAX_BODY)?;
        let digest = key.as_ref().map(|_| idempotency::body_digest(&body));
        let ingest = decode_ingest(body)?;
        let text = serde_json::to_string(&ConnectionView::new(
            &user,
            &ingest.connection,
            &ctx.without_host(),
        ))?;
        let once = match (&key, &digest) {
            (Some(key), Some(digest)) => Some(OnceRecord {
                key,
                digest,
                status: StatusCode::CREATED.as_u16(),
                response: &text,
            }),
            _ => None,
        };
        let once = acting(app, &caller, &ctx)
            .ingest(
                &user,
                &ingest,
                app.config.delete_parallelism,
                app.config.ingest_lease,
                once,
            )
            .await?;
        let sizes = [
            (Metric::IngestedAccounts, ingest.accounts.len() as u64),
            (
                Metric::IngestedTransactions,
                ingest.transactions.len() as u64,
            ),
        ];
        Ok(created_or_replayed(once, &text, &ctx, &sizes))
    })
    .await
}

/// `GET /users/{userId}/connections`.
pub async fn list_connections(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "list-connections", async {
        let caller = caller(app, &req).await?;
        let user = request::path_user_id(&req)?;
        caller.require(Need::Read(user))?;
        let params = FilterParams::read(&req)?;
        let filter = params
            .filter()
            .map(RecordFilter::for_connections)
            .transpose()?
            .unwrap_or_default();
        let overview = app.store.user_overview(&user).await?;
        let data = overview
            .connections
            .iter()
            .filter(|c| filter.keeps_connection(c))
            .map(|c| ConnectionView::new(&user, c, &ctx))
            .collect();
        let url = params.self_link(&format!("{}/connections", ctx.user_url(&user)));
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, url, None),
        ))
    })
    .await
}

/// `GET /users/{userId}/connections/{connectionId}`.
pub async fn get_connection(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "get-connection", async {
        let caller = caller(app, &req).await?;
        let user = request::path_user_id(&req)?;
        caller.require(Need::Read(user))?;
        let id = request::path_record_id(&req, "connectionId")?;
        let overview = app.store.user_overview(&user).await?;
        let connection = overview
            .connections
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(ApiError::not_found)?;
        Ok(response::json(
            StatusCode::OK,
            &ConnectionView::new(&user, connection, &ctx),
        ))
    })
    .await
}

/// `DELETE /users/{userId}/connections/{connectionId}`: the connection with
/// its accounts and their transactions. 204.
pub async fn delete_connection(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "delete-connection", async {
        let caller = caller(app, &req).await?;
        caller.require(Need::Change)?;
        let user = request::path_user_id(&req)?;
        let id = request::path_record_id(&req, "connectionId")?;
        acting(app, &caller, &ctx)
            .delete_connection(&user, &id, app.config.delete_parallelism)
            .await?;
        Ok(response::no_content())
    })
    .await
}

/// `GET /users/{userId}/accounts`.
pub async fn list_accounts(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "list-accounts", async {
        let caller = caller(app, &req).await?;
        let user = request::path_user_id(&req)?;
        caller.require(Need::Read(user))?;
        let params = FilterParams::read(&req)?;
        let filter = params
            .filter()
            .map(RecordFilter::for_accounts)
            .transpose()?
            .unwrap_or_default();
        let overview = app.store.user_overview(&user).await?;
        let data = overview
            .accounts
            .iter()
            .filter(|a| filter.keeps_account(a))
            .map(|a| AccountView::new(&user, a, &ctx))
            .collect();
        let url = params.self_link(&format!("{}/accounts", ctx.user_url(&user)));
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, url, None),
        ))
    })
    .await
}

/// `GET /users/{userId}/accounts/{accountId}`.
pub async fn get_account(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "get-account", async {
        let caller = caller(app, &req).await?;
        let user = request::path_user_id(&req)?;
        caller.require(Need::Read(user))?;
        let id = request::path_record_id(&req, "accountId")?;
        let overview = app.store.user_overview(&user).await?;
        let account = overview
            .accounts
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(ApiError::not_found)?;
        Ok(response::json(
            StatusCode::OK,
            &AccountView::new(&user, account, &ctx),
        ))
    })
    .await
}

/// `GET /users/{userId}/transactions`: newest first, a page at a time.
pub async fn list_transactions(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "list-transactions", async {
        let caller = caller(app, &req).await?;
        let user = request::path_user_id(&req)?;
        caller.require(Need::Read(user))?;
        let page = PageParams::read(&req, &[], TRANSACTIONS_DEFAULT_LIMIT)?;
        let query = match page.filter() {
            Some(filter) => TransactionQuery::parse_filter(filter)?,
            None => TransactionQuery::default(),
        };
        let key = app.config.cursor_key()?;
        let fingerprint = format!("transactions {user} {query:?}");
        let position = Cursor::resume(page.next(), key, &fingerprint)?;
        let (transactions, next) = app
            .store
            .transactions(&user, &query, position, page.limit)
            .await?;
        let data = transactions
            .iter()
            .map(|t| TransactionView::new(&user, t, &ctx))
            .collect();
        let base = format!("{}/transactions", ctx.user_url(&user));
        let next = Cursor::next_link(&page, &base, key, &fingerprint, next);
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, page.self_link(&base), next).with_size(page.limit),
        ))
    })
    .await
}

/// `GET /users/{userId}/transactions/{transactionId}`.
pub async fn get_transaction(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "get-transaction", async {
        let caller = caller(app, &req).await?;
        let user = request::path_user_id(&req)?;
        caller.require(Need::Read(user))?;
        let id = request::path_record_id(&req, "transactionId")?;
        let transaction = app.store.transaction(&user, &id).await?;
        Ok(response::json(
            StatusCode::OK,
            &TransactionView::new(&user, &transaction, &ctx),
        ))
    })
    .await
}
