//! `POST /sign-ins`: the dashboard's first call after the identity provider
//! sends an operator back. It proves the token works here, tells the page
//! who is signed in and with which role, and records the sign-in in the
//! audit trail (and a refused one too: a token we do not accept, named by
//! whom it proves when its signature held; a request with no token at all
//! is no attempt, and is only answered 401).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::context;
use crate::audit::{Action, Entry};
use crate::auth::{self, Actor, Caller, SignInRefused, Stamp};
use crate::config::App;
use crate::error::ApiError;
use crate::http::response;

pub async fn sign_in(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "sign-in", async {
        let retention = app.config.audit_retention_days;
        let operator = match auth::operator_of(app, &req).await {
            Ok(operator) => operator,
            // No token at all is no attempt to sign in; and when the
            // provider cannot be reached, nothing was refused.
            Err(SignInRefused {
                error: error @ (ApiError::Unauthorized | ApiError::ServiceUnavailable),
                ..
            }) => return Err(error),
            Err(SignInRefused {
                error,
                actor,
                reason,
            }) => {
                let actor = actor.unwrap_or_else(|| Actor::claimed(""));
                let stamp = Stamp::of(actor, None, &ctx);
                let entry = Entry::new(Action::OperatorSignInRefused, stamp).reason(reason);
                app.store.append_audit(&entry, retention).await?;
                return Err(error);
            }
        };
        let caller = Caller::Operator(operator.clone());
        let stamp = Stamp::new(&caller, &ctx);
        let actor = stamp.actor.to_string();
        let entry = Entry::new(Action::OperatorSignedIn, stamp).target("operator", &actor);
        app.store.append_audit(&entry, retention).await?;
        Ok(response::json(
            StatusCode::OK,
            &json!({
                "type": "operator",
                "id": actor,
                "email": operator.email,
                "name": operator.name,
                "role": operator.role.as_str(),
                "links": {"self": format!("{}/sign-ins", ctx.base_url)},
            }),
        ))
    })
    .await
}
