//! `POST /token`: an API key (HTTP Basic) for a token, as in Basiq's core API.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::context;
use crate::auth::{ApiKey, Scope, TOKEN_LIFETIME_SECONDS};
use crate::config::App;
use crate::error::{ApiError, Invalid, Problem};
use crate::http::response;
use crate::user::UserId;

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
            Some("3.0") => {}
            Some(_) => {
                return Err(Invalid::new("basiq-version must be 3.0.").at_parameter("basiq-version").into())
            }
            None => {
                return Err(Problem::parameter_not_supplied("basiq-version", "The basiq-version header (3.0) is required.").into())
            }
        }
        let body = match req.body() {
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Binary(bytes) => bytes.clone(),
            _ => Vec::new(),
        };
        let mut scope = None;
        let mut user_id = None;
        for (name, value) in form_urlencoded::parse(&body) {
            match name.as_ref() {
                "scope" => {
                    scope = Some(match value.as_ref() {
                        "SERVER_ACCESS" => Scope::ServerAccess,
                        "CLIENT_ACCESS" => Scope::ClientAccess,
                        _ => {
                            return Err(Invalid::new("scope must be SERVER_ACCESS or CLIENT_ACCESS.")
                                .at_parameter("scope")
                                .into())
                        }
                    })
                }
                "userId" => {
                    user_id = Some(UserId::parse(&value).map_err(|e| ApiError::from(e.at_parameter("userId")))?)
                }
                other => {
                    return Err(Invalid::new("Unknown parameter; use scope and userId.")
                        .at_parameter(other)
                        .into())
                }
            }
        }
        let scope = scope.ok_or_else(|| ApiError::from(Problem::parameter_not_supplied("scope", "scope is required.")))?;
        match (scope, user_id) {
            (Scope::ClientAccess, None) => {
                return Err(Problem::parameter_not_supplied("userId", "CLIENT_ACCESS tokens are bound to a userId.").into())
            }
            (Scope::ServerAccess, Some(_)) => {
                return Err(Invalid::new("SERVER_ACCESS tokens are not bound to a user.")
                    .at_parameter("userId")
                    .into())
            }
            _ => {}
        }
        if !app.store.api_key_is_valid(&key).await? {
            return Err(ApiError::Unauthorized);
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let token = app.config.tokens()?.issue(&key.id(), scope, user_id, now)?;
        Ok(response::json(
            StatusCode::OK,
            &json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS}),
        ))
    })
    .await
}
