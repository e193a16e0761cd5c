//! `GET /users`: search and list users, a page at a time.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::{caller, context};
use crate::auth::Need;
use crate::config::App;
use crate::http::cursor::Cursor;
use crate::http::page::PageParams;
use crate::http::response;
use crate::http::views::{PageView, UserSummaryView};
use crate::search::Criteria;
use crate::store::{Plan, Position};
use crate::telemetry::metrics::{self, Dimension, Metric};

/// A page when `limit` is not given.
const DEFAULT_LIMIT: usize = 25;

/// The criteria `GET /users` takes besides `filter`, `limit` and `next`.
const CRITERIA: [&str; 5] = ["q", "firstName", "lastName", "email", "mobile"];

pub async fn search_users(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "search-users", async {
        caller(app, &req).await?.require(Need::Browse)?;
        let page = PageParams::read(&req, &CRITERIA, DEFAULT_LIMIT)?;
        let mut criteria = Criteria::default();
        for (name, value) in page.criteria() {
            match name {
                "q" => criteria.add_box(value)?,
                "firstName" => criteria.add_first_name(value, false, name)?,
                "lastName" => criteria.add_last_name(value, false, name)?,
                "email" => criteria.add_email(value)?,
                _ => criteria.add_mobile(value, name)?,
            }
        }
        if let Some(filter) = page.filter() {
            criteria.add_filter(filter)?;
        }
        let plan = Plan::of(&criteria);
        let key = app.config.cursor_key()?;
        let fingerprint = criteria.fingerprint();
        let positions = match page.next() {
            Some(text) => Cursor::decode(text, key, &fingerprint, plan.stream_count())?.positions,
            None => vec![Position::Start; plan.stream_count()],
        };
        let found = app.store.search(&plan, positions, page.limit).await?;
        metrics::emit(&[(Metric::Searches, 1)], &[Dimension::Kind(plan.kind())]);
        let data: Vec<UserSummaryView> = found
            .users
            .iter()
            .map(|user| UserSummaryView::new(user, &ctx))
            .collect();
        let base = format!("{}/users", ctx.base_url);
        let next = found.positions.map(|positions| {
            page.next_link(&base, &Cursor::new(&fingerprint, positions).encode(key))
        });
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, page.self_link(&base), next),
        ))
    })
    .await
}
