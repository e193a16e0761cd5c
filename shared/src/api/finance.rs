//! Connections, accounts and transactions under a user.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use super::{created_or_replayed, respond};
use crate::auth::{self, Need};
use crate::config::App;
use crate::error::{ApiError, Invalid};
use crate::finance::{decode_ingest, TransactionQuery};
use crate::http::records::{AccountView, ConnectionView, TransactionView};
use crate::http::request::{self, Context};
use crate::http::response;
use crate::http::views::PageView;
use crate::idempotency;
use crate::search::{Cursor, Position, MAX_LIMIT};
use crate::store::OnceRecord;

/// Lambda's limit for a synchronous request is 6 MB; 5,000 transactions fit well within it.
pub const INGEST_MAX_BODY: usize = 6 * 1024 * 1024;
const TRANSACTIONS_DEFAULT_LIMIT: usize = 100;

/// `POST /users/{userId}/connections`: the ingest path of an aggregation
/// engine. 201 with the connection.
pub async fn ingest_connection(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "ingest-connection", async {
        auth::authenticate(&req, &app.config.tokens)?.require(Need::Server)?;
        let user = request::path_user_id(&req)?;
        let key = idempotency::from_request(&req, &format!("POST /users/{user}/connections"))?;
        let body = request::json_body_within(&req, INGEST_MAX_BODY)?;
        let digest = key.as_ref().map(|_| idempotency::body_digest(&body));
        let ingest = decode_ingest(body)?;
        let text = serde_json::to_string(&ConnectionView::new(&user, &ingest.connection, &ctx))
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let once = match (&key, &digest) {
            (Some(key), Some(digest)) => Some(OnceRecord {
                key,
                digest,
                status: StatusCode::CREATED.as_u16(),
                response: &text,
            }),
            _ => None,
        };
        let once = app
            .store
            .ingest(&user, &ingest, app.config.delete_parallelism, once)
            .await?;
        Ok(created_or_replayed(once, text))
    })
    .await
}

/// `GET /users/{userId}/connections`.
pub async fn list_connections(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "list-connections", async {
        let claims = auth::authenticate(&req, &app.config.tokens)?;
        let user = request::path_user_id(&req)?;
        claims.require(Need::Read(user))?;
        let overview = app.store.user_overview(&user).await?;
        let data = overview
            .connections
            .iter()
            .map(|c| ConnectionView::new(&user, c, &ctx))
            .collect();
        let url = format!("{}/connections", ctx.user_url(&user));
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, url, None),
        ))
    })
    .await
}

/// `GET /users/{userId}/connections/{connectionId}`.
pub async fn get_connection(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "get-connection", async {
        let claims = auth::authenticate(&req, &app.config.tokens)?;
        let user = request::path_user_id(&req)?;
        claims.require(Need::Read(user))?;
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
    let ctx = Context::of(&req);
    respond(&ctx, "delete-connection", async {
        auth::authenticate(&req, &app.config.tokens)?.require(Need::Server)?;
        let user = request::path_user_id(&req)?;
        let id = request::path_record_id(&req, "connectionId")?;
        app.store
            .delete_connection(&user, &id, app.config.delete_parallelism)
            .await?;
        Ok(response::no_content())
    })
    .await
}

/// `GET /users/{userId}/accounts`.
pub async fn list_accounts(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "list-accounts", async {
        let claims = auth::authenticate(&req, &app.config.tokens)?;
        let user = request::path_user_id(&req)?;
        claims.require(Need::Read(user))?;
        let overview = app.store.user_overview(&user).await?;
        let data = overview
            .accounts
            .iter()
            .map(|a| AccountView::new(&user, a, &ctx))
            .collect();
        let url = format!("{}/accounts", ctx.user_url(&user));
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, url, None),
        ))
    })
    .await
}

/// `GET /users/{userId}/accounts/{accountId}`.
pub async fn get_account(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "get-account", async {
        let claims = auth::authenticate(&req, &app.config.tokens)?;
        let user = request::path_user_id(&req)?;
        claims.require(Need::Read(user))?;
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
    let ctx = Context::of(&req);
    respond(&ctx, "list-transactions", async {
        let claims = auth::authenticate(&req, &app.config.tokens)?;
        let user = request::path_user_id(&req)?;
        claims.require(Need::Read(user))?;
        let params = req.query_string_parameters();
        for (name, _) in params.iter() {
            if !["filter", "limit", "next"].contains(&name) {
                return Err(
                    Invalid::new("Unknown parameter; use filter, limit or next.")
                        .at_parameter(name)
                        .into(),
                );
            }
        }
        let query = match params.first("filter") {
            Some(filter) => TransactionQuery::parse_filter(filter)?,
            None => TransactionQuery::default(),
        };
        let limit = match params.first("limit") {
            Some(text) => text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::from(
                        Invalid::new(format!(
                            "limit must be a whole number from 1 to {MAX_LIMIT}."
                        ))
                        .at_parameter("limit"),
                    )
                })?,
            None => TRANSACTIONS_DEFAULT_LIMIT,
        };
        let key = app
            .config
            .cursor_key
            .as_deref()
            .ok_or_else(|| ApiError::Internal("CURSOR_KEY is not configured".into()))?;
        let fingerprint = format!("transactions {user} {query:?}");
        let position = match params.first("next") {
            Some(text) => Cursor::decode(text, key, &fingerprint, 1)?
                .positions
                .pop()
                .unwrap_or(Position::Start),
            None => Position::Start,
        };
        let (transactions, next) = app
            .store
            .transactions(&user, &query, position, limit)
            .await?;
        let data = transactions
            .iter()
            .map(|t| TransactionView::new(&user, t, &ctx))
            .collect();
        let base = format!("{}/transactions", ctx.user_url(&user));
        let link = |extra: Option<(&str, &str)>| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (k, v) in params.iter().filter(|(k, _)| *k != "next") {
                query.append_pair(k, v);
            }
            if let Some((k, v)) = extra {
                query.append_pair(k, v);
            }
            let query = query.finish();
            if query.is_empty() {
                base.clone()
            } else {
                format!("{base}?{query}")
            }
        };
        let next_url = next.map(|position| {
            let cursor = Cursor::new(&fingerprint, vec![position]).encode(key);
            link(Some(("next", &cursor)))
        });
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, link(None), next_url),
        ))
    })
    .await
}

/// `GET /users/{userId}/transactions/{transactionId}`.
pub async fn get_transaction(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "get-transaction", async {
        let claims = auth::authenticate(&req, &app.config.tokens)?;
        let user = request::path_user_id(&req)?;
        claims.require(Need::Read(user))?;
        let id = request::path_record_id(&req, "transactionId")?;
        let transaction = app.store.transaction(&user, &id).await?;
        Ok(response::json(
            StatusCode::OK,
            &TransactionView::new(&user, &transaction, &ctx),
        ))
    })
    .await
}
