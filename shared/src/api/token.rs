//! `POST /token`: an API key (HTTP Basic) for a token, as in Basiq's core API.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::context;
use crate::audit::{Action, Entry};
use crate::auth::{Actor, ApiKey, ApiKeyRecord, Scope, Stamp, TOKEN_LIFETIME_SECONDS};
use crate::config::App;
use crate::error::{ApiError, Chain, Invalid, Problem};
use crate::http::{request, response};
use crate::user::UserId;

/// The API versions whose users endpoints this service serves: the same in
/// all three, so a client of any of them gets the same token.
const VERSIONS: [&str; 3] = ["1.0", "2.0", "3.0"];

/// What a token is asked for.
struct TokenRequest {
    scope: Scope,
    user_id: Option<UserId>,
}

/// Why a presented key buys no token, as the audit trail says it (a fixed
/// phrase); `None` when it does. The caller is told none of this: every
/// refusal is the same 401.
fn refusal(stored: Option<&ApiKeyRecord>, now: OffsetDateTime) -> Option<&'static str> {
    match stored {
        None => Some("unknown key"),
        Some(key) if key.revoked_at.is_some() => Some("revoked"),
        Some(key) if !key.state().active_at(now) => Some("expired"),
        Some(_) => None,
    }
}

/// The body as Basiq's clients send it: a form (`scope=…&userId=…`), a JSON
/// object (`{}` from the client libraries), or nothing. No scope means
/// `SERVER_ACCESS`, as in Basiq's 2.x API: an API key already holds it.
fn token_request(req: &Request) -> Result<TokenRequest, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    let json = request::says_json(req);
    let fields: Vec<(String, String)> = if json && !bytes.iter().all(u8::is_ascii_whitespace) {
        let value = request::json_body(req)?;
        let Value::Object(object) = value else {
            return Err(ApiError::not_valid("/", "Must be a JSON object."));
        };
        object
            .into_iter()
            .map(|(name, value)| match value {
                Value::String(text) => Ok((name, text)),
                _ => Err(ApiError::parameter_not_valid(&name, "Must be a string.")),
            })
            .collect::<Result<_, _>>()?
    } else {
        form_urlencoded::parse(bytes).into_owned().collect()
    };
    let mut scope = Scope::ServerAccess;
    let mut user_id = None;
    let mut given: Vec<String> = Vec::new();
    for (name, value) in fields {
        // As everywhere in this API, a repeated parameter is refused, never
        // half-read: with two userIds, which one the token is for would
        // depend on who reads the form (a gateway rule reading the first, say).
        if given.contains(&name) {
            return Err(ApiError::parameter_not_valid(
                &name,
                "Given more than once.",
            ));
        }
        given.push(name.clone());
        match name.as_str() {
            "scope" => {
                scope = match value.as_str() {
                    "SERVER_ACCESS" => Scope::ServerAccess,
                    "CLIENT_ACCESS" => Scope::ClientAccess,
                    _ => {
                        return Err(ApiError::parameter_not_valid(
                            "scope",
                            "scope must be SERVER_ACCESS or CLIENT_ACCESS.",
                        ))
                    }
                }
            }
            "userId" => {
                user_id = Some(
                    UserId::parse(&value).map_err(|e| ApiError::from(e.at_parameter("userId")))?,
                )
            }
            other => {
                return Err(ApiError::parameter_not_valid(
                    other,
                    "Unknown parameter; use scope and userId.",
                ))
            }
        }
    }
    match (scope, user_id) {
        (Scope::ClientAccess, None) => Err(Problem::parameter_not_supplied(
            "userId",
            "CLIENT_ACCESS tokens are bound to a userId.",
        )
        .into()),
        (Scope::ServerAccess, Some(_)) => Err(ApiError::parameter_not_valid(
            "userId",
            "SERVER_ACCESS tokens are not bound to a user.",
        )),
        _ => Ok(TokenRequest { scope, user_id }),
    }
}

pub async fn issue_token(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "issue-token", async {
        // Basiq sends the key itself after "Basic"; a wrong key, a missing one,
        // or an unknown scheme all get the same 401, revealing nothing.
        let key = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, key)| ApiKey::from_text(key))
            .ok_or(ApiError::Unauthorized)?;
        match req.headers().get("basiq-version").and_then(|v| v.to_str().ok()) {
            Some(version) if VERSIONS.contains(&version) => {}
            Some(_) => {
                return Err(Invalid::new("basiq-version must be 1.0, 2.0 or 3.0.")
                    .at_parameter("basiq-version")
                    .into())
            }
            None => {
                return Err(Problem::parameter_not_supplied(
                    "basiq-version",
                    "The basiq-version header (3.0) is required.",
                )
                .into())
            }
        }
        let TokenRequest { scope, user_id } = token_request(&req)?;
        let now = time::OffsetDateTime::now_utc();
        let stored = app.store.presented_api_key(&key).await?;
        if let Some(reason) = refusal(stored.as_ref(), now) {
            // Recorded under the id the caller's key would have, which
            // reveals nothing of the key: repeated refusals of one key,
            // or a revoked key still in use somewhere, can be found.
            let stamp = Stamp::of(Actor::claimed(&key.id()), None, &ctx);
            let entry = Entry::new(Action::ApiKeyRefused, stamp)
                .target("apiKey", key.record_id())
                .reason(reason);
            app.store
                .append_audit(&entry, app.config.audit_retention_days)
                .await?;
            return Err(ApiError::Unauthorized);
        }
        let token = app
            .config
            .tokens()?
            .issue(&key.id(), scope, user_id, now.unix_timestamp())?;
        if let Some(stored) = &stored {
            // When a key was last used is for the admins' list: failing to
            // write it must not fail the token.
            if let Err(err) = app.store.touch_api_key(stored).await {
                tracing::warn!(error = %Chain(&err), "the API key's last use was not recorded");
            }
        }
        Ok(response::json(
            StatusCode::OK,
            &json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS}),
        ))
    })
    .await
}
