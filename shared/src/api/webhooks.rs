//! Webhook subscriptions: `POST /webhooks`, `GET /webhooks`,
//! `GET`/`DELETE /webhooks/{webhookId}`, `POST /webhooks/{webhookId}/secret`
//! (rotation), `POST /webhooks/{webhookId}/test` and
//! `GET /webhooks/{webhookId}/deliveries`. All need a `SERVER_ACCESS`
//! token: a subscription receives every user's events.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use super::{acting, caller, context};
use crate::auth::Need;
use crate::config::App;
use crate::error::ApiError;
use crate::http::cursor::Cursor;
use crate::http::page::PageParams;
use crate::http::views::{DeliveryView, PageView, WebhookTestView, WebhookView};
use crate::http::{request, response};
use crate::webhook::{
    fanout, secret, target, NewSubscription, Status, Subscription, WebhookId,
    PREVIOUS_SECRET_SECONDS,
};

/// A page of deliveries when `limit` is not given.
const DEFAULT_LIMIT: usize = 25;

const NOT_FOUND: ApiError = ApiError::NotFound("Requested webhook does not exist.");

fn path_webhook_id(req: &Request) -> Result<WebhookId, ApiError> {
    let params = req.path_parameters();
    WebhookId::parse(params.first("webhookId").unwrap_or_default())
        .map_err(|invalid| invalid.at_parameter("webhookId").into())
}

/// `POST /webhooks`: 201 with the subscription and its secret, shown this
/// once. The URL is refused when its host is, or resolves to, an address
/// webhooks may not reach; each delivery checks again as it connects.
pub async fn create_webhook(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "create-webhook", async {
        let caller = caller(app, &req).await?;
        caller.require(Need::Webhooks)?;
        let policy = app.config.webhook_targets;
        let new = NewSubscription::decode(request::json_body(&req)?, policy)?;
        target::check_resolves(&new.url, policy)
            .await
            .map_err(|problem| {
                ApiError::from(crate::error::Invalid::new(problem.to_string()).at("/url"))
            })?;
        let id = WebhookId::new();
        let plain = secret::generate();
        let sub = Subscription {
            url: new.url.as_str().to_owned(),
            description: new.description,
            events: new.events,
            status: Status::Active,
            disabled_reason: None,
            created_date: crate::clock::now(),
            secret: secret::seal(app.config.webhook_key()?, &id, &plain)?,
            previous_secret: None,
            id,
        };
        acting(app, &caller, &ctx).create_webhook(&sub).await?;
        Ok(response::json(
            StatusCode::CREATED,
            &WebhookView::new(&sub, &ctx).with_secret(&plain),
        ))
    })
    .await
}

/// `GET /webhooks`: every subscription (at most 20, so one page).
pub async fn list_webhooks(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "list-webhooks", async {
        caller(app, &req).await?.require(Need::Webhooks)?;
        crate::http::page::no_parameters(&req)?;
        let subs = app.store.list_webhooks().await?;
        let data: Vec<WebhookView> = subs.iter().map(|s| WebhookView::new(s, &ctx)).collect();
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, format!("{}/webhooks", ctx.base_url), None),
        ))
    })
    .await
}

/// `GET /webhooks/{webhookId}`: one GetItem.
pub async fn get_webhook(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "get-webhook", async {
        caller(app, &req).await?.require(Need::Webhooks)?;
        let id = path_webhook_id(&req)?;
        let sub = app.store.get_webhook(&id).await?.ok_or(NOT_FOUND)?;
        Ok(response::json(
            StatusCode::OK,
            &WebhookView::new(&sub, &ctx),
        ))
    })
    .await
}

/// `DELETE /webhooks/{webhookId}`: 204, and 404 when there is no such
/// subscription (any more). Deliveries already queued find it gone and are
/// dropped.
pub async fn delete_webhook(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "delete-webhook", async {
        let caller = caller(app, &req).await?;
        caller.require(Need::Webhooks)?;
        let id = path_webhook_id(&req)?;
        if !acting(app, &caller, &ctx).delete_webhook(&id).await? {
            return Err(NOT_FOUND);
        }
        Ok(response::no_content())
    })
    .await
}

/// `POST /webhooks/{webhookId}/secret`: a new secret, shown this once; the
/// old one keeps signing beside it for a day, so the receiver can switch
/// without refusing a delivery.
pub async fn rotate_webhook_secret(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "rotate-webhook-secret", async {
        let caller = caller(app, &req).await?;
        caller.require(Need::Webhooks)?;
        let id = path_webhook_id(&req)?;
        let sub = app.store.get_webhook(&id).await?.ok_or(NOT_FOUND)?;
        let plain = secret::generate();
        let sealed = secret::seal(app.config.webhook_key()?, &id, &plain)?;
        let until = crate::clock::now_ms() / 1000 + PREVIOUS_SECRET_SECONDS;
        let rotated = acting(app, &caller, &ctx)
            .rotate_webhook_secret(&sub, &sealed, until)
            .await?
            .ok_or(NOT_FOUND)?;
        Ok(response::json(
            StatusCode::OK,
            &WebhookView::new(&rotated, &ctx).with_secret(&plain),
        ))
    })
    .await
}

/// `POST /webhooks/{webhookId}/test`: queues a `webhook.test` event for
/// this subscription alone, delivered, signed and recorded as any event is.
/// 202: delivery follows.
pub async fn test_webhook(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "test-webhook", async {
        caller(app, &req).await?.require(Need::Webhooks)?;
        let id = path_webhook_id(&req)?;
        let sub = app.store.get_webhook(&id).await?.ok_or(NOT_FOUND)?;
        if sub.status != Status::Active {
            return Err(ApiError::Conflict(
                "This webhook is disabled: its receiver answered 410 Gone. Delete it and subscribe again.",
            ));
        }
        let message = fanout::test_message(&sub, &ctx.base_url);
        let event_id = message.event_id.clone();
        app.queue()?.send_all(&[message]).await?;
        Ok(response::json(
            StatusCode::ACCEPTED,
            &WebhookTestView::new(event_id, &id, &ctx),
        ))
    })
    .await
}

/// `GET /webhooks/{webhookId}/deliveries`: the attempts, newest first,
/// `limit` and a signed `next`. One GetItem (so an unknown webhook is 404)
/// and one Query.
pub async fn list_webhook_deliveries(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "list-webhook-deliveries", async {
        caller(app, &req).await?.require(Need::Webhooks)?;
        let id = path_webhook_id(&req)?;
        let page = PageParams::read(&req, &[], DEFAULT_LIMIT)?;
        if page.filter().is_some() {
            return Err(crate::error::Invalid::new("Deliveries take no filter.")
                .at_parameter("filter")
                .into());
        }
        let key = app.config.cursor_key()?;
        let fingerprint = format!("deliveries:{id}");
        let from = Cursor::resume(page.next(), key, &fingerprint)?;
        app.store.get_webhook(&id).await?.ok_or(NOT_FOUND)?;
        let found = app.store.list_deliveries(&id, from, page.limit).await?;
        let data: Vec<DeliveryView> = found.deliveries.iter().map(DeliveryView::new).collect();
        let base = format!("{}/webhooks/{id}/deliveries", ctx.base_url);
        let next = Cursor::next_link(&page, &base, key, &fingerprint, found.next);
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, page.self_link(&base), next),
        ))
    })
    .await
}
