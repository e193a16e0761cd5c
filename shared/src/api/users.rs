use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::respond;
use crate::config::App;
use crate::http::request::{self, Context};
use crate::http::response;
use crate::http::views::{UserDetailView, UserView};
use crate::store::DeleteProgress;
use crate::user::{self, UserId};

/// `POST /users`: 201 with the new user.
pub async fn create_user(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "create-user", async {
        let new_user = user::decode_create(request::json_body(&req)?)?;
        let user = new_user.into_user(UserId::new(), crate::clock::now());
        app.store.insert_user(&user).await?;
        Ok(response::json(
            StatusCode::CREATED,
            &UserView::new(&user, &ctx),
        ))
    })
    .await
}

/// `GET /users/{userId}`.
pub async fn get_user(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "get-user", async {
        let id = request::path_user_id(&req)?;
        let overview = app.store.user_overview(&id).await?;
        Ok(response::json(
            StatusCode::OK,
            &UserDetailView::new(&overview, &ctx),
        ))
    })
    .await
}

/// `POST` or `PATCH /users/{userId}`: a partial update, 200 with the whole user.
pub async fn update_user(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "update-user", async {
        let id = request::path_user_id(&req)?;
        let patch = user::decode_patch(request::json_body(&req)?)?;
        let user = app.store.update_user(&id, &patch, None).await?;
        Ok(response::json(StatusCode::OK, &UserView::new(&user, &ctx)))
    })
    .await
}

/// `DELETE /users/{userId}`: the user disappears at once (tombstone), then its
/// items are removed within the time budget. 204 when everything is gone, 202
/// when the rest is left to the purge function; repeating the call resumes.
pub async fn delete_user(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "delete-user", async {
        let id = request::path_user_id(&req)?;
        let deadline = Instant::now() + app.config.delete_budget;
        app.store.tombstone_user(&id).await?;
        let progress = app
            .store
            .purge_user(&id, Some(deadline), app.config.delete_parallelism)
            .await?;
        Ok(match progress {
            DeleteProgress::Done => response::no_content(),
            DeleteProgress::InProgress => response::json(
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
