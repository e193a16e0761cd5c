//! `GET /audit`: the audit trail, for admin operators only (an API key
//! never reads it). Newest first, one Query per page on the index the
//! filter names (a user's entries, an actor's, or all), with `limit`,
//! a signed `next` and a time range.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::{caller, context};
use crate::audit::{AuditFilter, Record};
use crate::auth::Need;
use crate::config::App;
use crate::http::cursor::Cursor;
use crate::http::page::PageParams;
use crate::http::response;
use crate::http::views::PageView;

/// A page when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;

/// One entry as the trail shows it: ids, names of fields, never a value.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    created_at: &'a str,
    action: &'a str,
    actor: ActorView<'a>,
    target: Option<TargetView<'a>>,
    user_id: Option<&'a str>,
    fields: &'a [String],
    reason: Option<&'a str>,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    correlation_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct ActorView<'a> {
    id: &'a str,
    name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct TargetView<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
}

impl<'a> AuditView<'a> {
    fn new(record: &'a Record) -> Self {
        Self {
            kind: "audit",
            id: &record.id,
            created_at: &record.created_at,
            action: &record.action,
            actor: ActorView {
                id: &record.actor,
                name: record.actor_name.as_deref(),
            },
            target: record
                .target
                .as_ref()
                .map(|(kind, id)| TargetView { kind, id }),
            user_id: record.user_id.as_deref(),
            fields: &record.fields,
            reason: record.reason.as_deref(),
            source_ip: record.source_ip.as_deref(),
            user_agent: record.user_agent.as_deref(),
            correlation_id: record.correlation_id.as_deref(),
        }
    }
}

/// `GET /audit`: `filter` (`userId.eq`, `actor.eq`, `createdDate.bt`),
/// `limit` (1 to 500, 50 when not given) and `next`; any other parameter
/// gets 400.
pub async fn list_audit(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "list-audit", async {
        caller(app, &req).await?.require(Need::Admin)?;
        let page = PageParams::read(&req, &[], DEFAULT_LIMIT)?;
        let filter = match page.filter() {
            Some(text) => AuditFilter::parse(text)?,
            None => AuditFilter::default(),
        };
        let key = app.config.cursor_key()?;
        let fingerprint = filter.fingerprint();
        let from = Cursor::resume(page.next(), key, &fingerprint)?;
        let found = app.store.list_audit(&filter, from, page.limit).await?;
        let data: Vec<AuditView> = found.entries.iter().map(AuditView::new).collect();
        let base = format!("{}/audit", ctx.base_url);
        let next = Cursor::next_link(&page, &base, key, &fingerprint, found.next);
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, page.self_link(&base), next),
        ))
    })
    .await
}
