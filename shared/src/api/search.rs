use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use super::respond;
use crate::auth::{self, Need};
use crate::config::App;
use crate::error::{ApiError, Invalid};
use crate::http::request::Context;
use crate::http::response;
use crate::http::views::{PageView, UserSummaryView};
use crate::search::{Criteria, Cursor, Plan, Position, DEFAULT_LIMIT, MAX_LIMIT};

/// `GET /users`: search and list users, a page at a time.
pub async fn search_users(app: &App, req: Request) -> Response<Body> {
    let ctx = Context::of(&req);
    respond(&ctx, "search-users", async {
        auth::authenticate(&req, &app.config.tokens)?.require(Need::Server)?;
        let params = req.query_string_parameters();
        let mut criteria = Criteria::default();
        let mut limit = None;
        let mut next = None;
        for (name, value) in params.iter() {
            match name {
                "q" => criteria.add_box(value),
                "firstName" => criteria.add_first_name(value, false),
                "lastName" => criteria.add_last_name(value, false),
                "email" => criteria.add_email(value),
                "mobile" => criteria.add_mobile(value, "mobile")?,
                "filter" => criteria.add_filter(value)?,
                "limit" => once(&mut limit, name, parse_limit(value)?)?,
                "next" => once(&mut next, name, value)?,
                other => {
                    return Err(Invalid::new(
                        "Unknown parameter; use q, firstName, lastName, email, mobile, filter, limit or next.",
                    )
                    .at_parameter(other)
                    .into())
                }
            }
        }
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        let plan = Plan::of(&criteria);
        let key = app
            .config
            .cursor_key
            .as_deref()
            .ok_or_else(|| ApiError::Internal("CURSOR_KEY is not configured".into()))?;
        let fingerprint = criteria.fingerprint();
        let positions = match next {
            Some(text) => Cursor::decode(text, key, &fingerprint, plan.stream_count())?.positions,
            None => vec![Position::Start; plan.stream_count()],
        };
        let page = app.store.search(&plan, positions, limit).await?;
        let data: Vec<UserSummaryView> = page
            .items
            .iter()
            .filter_map(|item| UserSummaryView::from_item(item, &ctx))
            .collect();
        let kept: Vec<(&str, &str)> = params.iter().filter(|(k, _)| *k != "next").collect();
        let self_url = users_url(&ctx, params.iter());
        let next_url = page.positions.map(|positions| {
            let cursor = Cursor::new(&fingerprint, positions).encode(key);
            users_url(&ctx, kept.iter().copied().chain([("next", cursor.as_str())]))
        });
        Ok(response::json(StatusCode::OK, &PageView::new(data, self_url, next_url)))
    })
    .await
}

fn parse_limit(text: &str) -> Result<usize, ApiError> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            Invalid::new(format!(
                "limit must be a whole number from 1 to {MAX_LIMIT}."
            ))
            .at_parameter("limit")
            .into()
        })
}

fn once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), ApiError> {
    if slot.replace(value).is_some() {
        return Err(Invalid::new("Given more than once.")
            .at_parameter(name)
            .into());
    }
    Ok(())
}

fn users_url<'a>(ctx: &Context, params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    if query.is_empty() {
        format!("{}/users", ctx.base_url)
    } else {
        format!("{}/users?{query}", ctx.base_url)
    }
}
