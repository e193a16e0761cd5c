//! The events feed: `GET /events`, `/events/{eventId}`, `/events/types` and
//! `/events/types/{typeId}`. All four need a `SERVER_ACCESS` token: the feed
//! spans every user, as a search does.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use super::{caller, context};
use crate::auth::Need;
use crate::config::App;
use crate::error::ApiError;
use crate::event::{EventFilter, EventId, EventType};
use crate::http::cursor::Cursor;
use crate::http::page::PageParams;
use crate::http::response;
use crate::http::views::{EventTypeView, EventView, PageView};

/// A page when `limit` is not given, as `GET /users` pages.
const DEFAULT_LIMIT: usize = 25;

/// `GET /events`: newest first, `limit`, `next` and Basiq's `filter`.
/// One Query per page.
pub async fn list_events(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "list-events", async {
        caller(app, &req).await?.require(Need::Browse)?;
        let page = PageParams::read(&req, &[], DEFAULT_LIMIT)?;
        let filter = match page.filter() {
            Some(text) => EventFilter::parse(text)?,
            None => EventFilter::default(),
        };
        let key = app.config.cursor_key()?;
        let fingerprint = filter.fingerprint();
        let from = Cursor::resume(page.next(), key, &fingerprint)?;
        let found = app.store.list_events(&filter, from, page.limit).await?;
        let data: Vec<EventView> = found
            .events
            .iter()
            .map(|event| EventView::new(event, &ctx))
            .collect();
        let base = format!("{}/events", ctx.base_url);
        let next = Cursor::next_link(&page, &base, key, &fingerprint, found.next);
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, page.self_link(&base), next),
        ))
    })
    .await
}

/// `GET /events/{eventId}`: one GetItem. A malformed id gets 400 naming
/// `eventId`, as a malformed user id does; an unknown one 404.
pub async fn get_event(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "get-event", async {
        caller(app, &req).await?.require(Need::Browse)?;
        let params = req.path_parameters();
        let id = EventId::parse(params.first("eventId").unwrap_or_default())
            .map_err(|invalid| invalid.at_parameter("eventId"))?;
        let event = app
            .store
            .get_event(&id)
            .await?
            .ok_or(ApiError::NotFound("Requested event does not exist."))?;
        Ok(response::json(
            StatusCode::OK,
            &EventView::new(&event, &ctx),
        ))
    })
    .await
}

/// `GET /events/types`: the catalogue, compiled in; no table is read.
pub async fn list_event_types(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "list-event-types", async {
        caller(app, &req).await?.require(Need::Browse)?;
        let data: Vec<EventTypeView> = EventType::ALL
            .into_iter()
            .map(|kind| EventTypeView::new(kind, &ctx))
            .collect();
        let count = data.len();
        let url = format!("{}/events/types", ctx.base_url);
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, url, None).with_size(count),
        ))
    })
    .await
}

/// `GET /events/types/{typeId}`: one type of the catalogue; any other id,
/// Basiq's types this service does not produce included, gets 404.
pub async fn get_event_type(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "get-event-type", async {
        caller(app, &req).await?.require(Need::Browse)?;
        let params = req.path_parameters();
        let kind = EventType::parse(params.first("typeId").unwrap_or_default())
            .ok_or(ApiError::NotFound("Requested event type does not exist."))?;
        Ok(response::json(
            StatusCode::OK,
            &EventTypeView::new(kind, &ctx),
        ))
    })
    .await
}
