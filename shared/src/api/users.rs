//! The user itself: create, read, update, delete.

use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::{acting, caller, context, created_or_replayed};
use crate::auth::Need;
use crate::config::App;
use crate::http::request;
use crate::http::response;
use crate::http::views::{UserDetailView, UserView};
use crate::idempotency;
use crate::store::{DeleteProgress, Once, OnceRecord};
use crate::telemetry::metrics::{self, Metric};
use crate::user::{self, UserId};

/// The metrics of a user created.
const CREATED: &[(Metric, u64)] = &[(Metric::UsersCreated, 1)];

/// `POST /users`: 201 with the new user.
pub async fn create_user(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "create-user", async {
        let caller = caller(app, &req).await?;
        caller.require(Need::Change)?;
        let key = idempotency::from_request(&req, &caller.principal(), "POST /users")?;
        let body = request::json_body(&req)?;
        let digest = key.as_ref().map(|_| idempotency::body_digest(&body));
        let new_user = user::decode_create(body)?;
        let user = new_user.into_user(UserId::new(), crate::clock::now());
        let text = serde_json::to_string(&UserView::new(&user, &ctx.without_host()))?;
        let store = acting(app, &caller, &ctx);
        let (Some(key), Some(digest)) = (key, digest) else {
            store.insert_user(&user).await?;
            return Ok(created_or_replayed(Once::Created, &text, &ctx, CREATED));
        };
        let once = store
            .insert_user_once(
                &user,
                OnceRecord {
                    key: &key,
                    digest: &digest,
                    status: StatusCode::CREATED.as_u16(),
                    response: &text,
                },
            )
            .await?;
        Ok(created_or_replayed(once, &text, &ctx, CREATED))
    })
    .await
}

/// `GET /users/{userId}`.
pub async fn get_user(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "get-user", async {
        let caller = caller(app, &req).await?;
        let id = request::path_user_id(&req)?;
        caller.require(Need::Read(id))?;
        let overview = app.store.user_overview(&id).await?;
        Ok(response::with_etag(
            response::json(StatusCode::OK, &UserDetailView::new(&overview, &ctx)),
            overview.user.version,
        ))
    })
    .await
}

/// `POST` or `PATCH /users/{userId}`: a partial update, 200 with the whole user.
pub async fn update_user(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "update-user", async {
        let caller = caller(app, &req).await?;
        caller.require(Need::Change)?;
        let id = request::path_user_id(&req)?;
        let if_match = request::if_match(&req)?;
        let patch = user::decode_patch(request::json_body(&req)?)?;
        let user = acting(app, &caller, &ctx)
            .update_user(&id, &patch, if_match)
            .await?;
        metrics::count(Metric::UsersUpdated);
        Ok(response::with_etag(
            response::json(StatusCode::OK, &UserView::new(&user, &ctx)),
            user.version,
        ))
    })
    .await
}

/// `DELETE /users/{userId}`: the user disappears at once (tombstone), then its
/// items are removed within the time budget. 204 when everything is gone; 202
/// when the rest is handed over to `purge-user`. Repeating the call resumes
/// the work (or, while purge-user is at it, leaves it to it) and hands it
/// over again, so a hand-over that was lost is never the end of a deletion.
pub async fn delete_user(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "delete-user", async {
        let caller = caller(app, &req).await?;
        caller.require(Need::Change)?;
        let id = request::path_user_id(&req)?;
        let if_match = request::if_match(&req)?;
        let deadline = Instant::now() + app.config.delete_budget;
        // The tombstone names who deleted the user; the purge stamps nothing.
        let user = acting(app, &caller, &ctx)
            .tombstone_user(&id, if_match)
            .await?;
        // Once per user: from here the user is gone for every reader, and a
        // repeated DELETE (as the runbook asks for) counts nothing more.
        if user.began {
            metrics::count(Metric::UsersDeleted);
        }
        // While purge-user is at work, a repeated DELETE does not purge beside it.
        let progress = if user.purging() {
            DeleteProgress::InProgress
        } else {
            let started = Instant::now();
            let pass = app
                .store
                .purge_pass(&user, Some(deadline), app.config.delete_parallelism)
                .await?;
            metrics::purged(pass.removed, started.elapsed());
            pass.progress
        };
        if progress != DeleteProgress::Done && !user.purging() {
            app.store.hand_over(&id).await?;
        }
        Ok(match progress {
            DeleteProgress::Done => response::no_content(),
            DeleteProgress::InProgress | DeleteProgress::WaitingFor(_) => response::json(
                StatusCode::ACCEPTED,
                &json!({
                    "type": "deletion",
                    "id": id.to_string(),
                    "status": "in-progress",
                    "detail": "The user is deleted and no longer visible; its data is being removed.",
                    "links": {"self": ctx.user_url(&id)}
                }),
            ),
        })
    })
    .await
}
