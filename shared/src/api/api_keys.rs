//! `/api-keys`: the API keys servers buy tokens with, managed by admin
//! operators only (`Need::Admin`): a key never manages keys, so a leaked
//! one cannot mint its successors or revoke the keys that would replace it.
//!
//! `POST /api-keys` shows the new key once; the table keeps its digest.
//! `GET /api-keys` lists them, newest first, a page at a time (revoked
//! keys stay, so there is no bound on how many). `DELETE /api-keys/{keyId}`
//! revokes one: `POST /token` refuses it at once, and tokens it bought stop
//! working within `KEY_CHECK_SECONDS` (the key check's cache).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{acting, caller, context};
use crate::auth::{ApiKey, ApiKeyRecord, Need};
use crate::config::App;
use crate::error::{ApiError, Invalid, Problem};
use crate::http::cursor::Cursor;
use crate::http::page::PageParams;
use crate::http::request::Context;
use crate::http::views::PageView;
use crate::http::{request, response};

/// The longest name a key may have, in characters.
pub const MAX_NAME: usize = 64;

/// How far ahead a key's expiry may be: two years (731 days, so any two
/// calendar years fit). A key is a long-lived secret; one that should never
/// expire is created without `expiresAt` and revoked when done with.
pub const MAX_LIFETIME: time::Duration = time::Duration::days(731);

/// The most keys a page holds, and a page when `limit` is not given: as
/// many as may be active at once, so a page shows every active key unless
/// revoked ones are newer.
pub const MAX_PAGE: usize = crate::auth::MAX_API_KEYS;

/// What a `next` cursor of this listing is bound to: there is one listing.
const LISTING: &str = "api-keys";

const NOT_FOUND: ApiError = ApiError::NotFound("Requested API key does not exist.");

/// What `POST /api-keys` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub expires_at: Option<OffsetDateTime>,
}

impl NewApiKey {
    /// Reads `POST /api-keys`'s body: every problem at once, each at its
    /// pointer; a field this API does not know is refused rather than
    /// ignored, as the other bodies are.
    pub fn decode(body: Value, now: OffsetDateTime) -> Result<Self, ApiError> {
        let Value::Object(fields) = body else {
            return Err(ApiError::InvalidContent(
                "Request body must be a JSON object.".into(),
            ));
        };
        let mut problems = Vec::new();
        let mut name = None;
        let mut name_seen = false;
        let mut expires_at = None;
        for (field, value) in fields {
            match field.as_str() {
                "name" => {
                    name_seen = true;
                    match read_name(value) {
                        Ok(text) => name = Some(text),
                        Err(problem) => problems.push(problem),
                    }
                }
                "expiresAt" => match read_expiry(value, now) {
                    Ok(at) => expires_at = at,
                    Err(problem) => problems.push(problem),
                },
                other => problems.push(
                    Invalid::new(format!("{other} is not a field of an API key."))
                        .at(&format!("/{}", other.replace('~', "~0").replace('/', "~1"))),
                ),
            }
        }
        if !name_seen {
            problems.push(Problem::not_supplied(
                "/name",
                "name is required: what the key is for.",
            ));
        }
        match name {
            Some(name) if problems.is_empty() => Ok(Self { name, expires_at }),
            _ => Err(ApiError::BadRequest(problems)),
        }
    }
}

/// A key's name: 1 to [`MAX_NAME`] characters once trimmed, no control
/// characters (it is shown in the dashboard and in the audit trail).
fn read_name(value: Value) -> Result<String, Problem> {
    let at = "/name";
    let Value::String(text) = value else {
        return Err(Invalid::new("name must be a string.").at(at));
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(Invalid::new("name must not be empty.").at(at));
    }
    if text.chars().count() > MAX_NAME {
        return Err(Invalid::new(format!("name is longer than {MAX_NAME} characters.")).at(at));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid::new("name must not contain control characters.").at(at));
    }
    Ok(text.to_owned())
}

/// A key's expiry: `null` or absent for none, else an RFC 3339 instant
/// after `now` and at most [`MAX_LIFETIME`] ahead.
fn read_expiry(value: Value, now: OffsetDateTime) -> Result<Option<OffsetDateTime>, Problem> {
    let at = "/expiresAt";
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(text) => text,
        _ => return Err(Invalid::new("expiresAt must be an RFC 3339 date-time.").at(at)),
    };
    let Ok(expires) = OffsetDateTime::parse(&text, &Rfc3339) else {
        return Err(Invalid::new(
            "expiresAt must be an RFC 3339 date-time, such as 2027-01-31T00:00:00Z.",
        )
        .at(at));
    };
    if expires <= now {
        return Err(Invalid::new("expiresAt must be in the future.").at(at));
    }
    if expires - now > MAX_LIFETIME {
        return Err(Invalid::new("expiresAt must be at most two years ahead.").at(at));
    }
    Ok(Some(expires))
}

/// One key, as an admin sees it: the key itself only in the answer to its
/// creation, never its digest.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    name: String,
    prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// Who created it (an actor id: `operator:<sub>`).
    created_by: String,
    /// Their readable name (an operator's email), when known.
    created_by_name: Option<String>,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
    links: ApiKeyLinks,
}

#[derive(Debug, Serialize)]
struct ApiKeyLinks {
    #[serde(rename = "self")]
    self_: String,
}

impl ApiKeyView {
    pub fn new(key: &ApiKeyRecord, ctx: &Context) -> Self {
        Self {
            kind: "apiKey",
            id: key.id.clone(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            key: None,
            created_by: key.created_by.clone(),
            created_by_name: key.created_by_name.clone(),
            created_at: key.created_at.clone(),
            expires_at: key.expires_at.and_then(crate::clock::format),
            last_used_at: key.last_used_at.clone(),
            revoked_at: key.revoked_at.clone(),
            links: ApiKeyLinks {
                self_: format!("{}/api-keys/{}", ctx.base_url, key.id),
            },
        }
    }

    /// The same view with the key: in the answer to its creation only.
    pub fn with_key(mut self, key: &ApiKey) -> Self {
        self.key = Some(key.expose().to_owned());
        self
    }
}

/// `POST /api-keys`: 201 with the new key, shown this once. 409 when
/// `auth::MAX_API_KEYS` keys are active.
pub async fn create_api_key(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "create-api-key", async {
        let caller = caller(app, &req).await?;
        caller.require(Need::Admin)?;
        let new = NewApiKey::decode(request::json_body(&req)?, OffsetDateTime::now_utc())?;
        let key = ApiKey::generate();
        let record = acting(app, &caller, &ctx)
            .add_api_key(
                &key,
                &new.name,
                &caller.actor(),
                caller.display_name().as_deref(),
                new.expires_at,
            )
            .await?;
        Ok(response::json(
            StatusCode::CREATED,
            &ApiKeyView::new(&record, &ctx).with_key(&key),
        ))
    })
    .await
}

/// `GET /api-keys`: a page of keys, active, expired and revoked, newest
/// first: `limit` (1 to [`MAX_PAGE`], which is also the default) and `next`;
/// any other parameter gets 400. Revoked keys stay forever, so the list is
/// paged: each page is one Query, however many keys there are.
pub async fn list_api_keys(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "list-api-keys", async {
        caller(app, &req).await?.require(Need::Admin)?;
        let page = page_params(&req)?;
        let key = app.config.cursor_key()?;
        let from = Cursor::resume(page.next(), key, LISTING)?;
        let found = app.store.list_api_keys(from, page.limit).await?;
        let data: Vec<ApiKeyView> = found
            .keys
            .iter()
            .map(|k| ApiKeyView::new(k, &ctx))
            .collect();
        let base = format!("{}/api-keys", ctx.base_url);
        let next = Cursor::next_link(&page, &base, key, LISTING, found.next);
        Ok(response::json(
            StatusCode::OK,
            &PageView::new(data, page.self_link(&base), next),
        ))
    })
    .await
}

/// The query string of `GET /api-keys`: `limit` and `next` only. A limit
/// outside 1 to [`MAX_PAGE`] is refused naming this list's range (the
/// listings' common reading allows larger pages).
fn page_params(req: &Request) -> Result<PageParams, ApiError> {
    let query = req.uri().query().unwrap_or("");
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let in_range = value
            .trim()
            .parse::<usize>()
            .is_ok_and(|n| (1..=MAX_PAGE).contains(&n));
        if name == "limit" && !in_range {
            return Err(Invalid::new(format!(
                "limit must be a whole number from 1 to {MAX_PAGE}."
            ))
            .at_parameter("limit")
            .into());
        }
    }
    let page = PageParams::read(req, &[], MAX_PAGE)?;
    if page.filter().is_some() {
        return Err(Invalid::new("API keys take no filter.")
            .at_parameter("filter")
            .into());
    }
    Ok(page)
}

/// `DELETE /api-keys/{keyId}`: 204, again for a key revoked already; 404
/// when there is no such key (an id that cannot be one included).
pub async fn revoke_api_key(app: &App, req: Request) -> Response<Body> {
    let ctx = context(app, &req);
    crate::http::respond(&ctx, "revoke-api-key", async {
        let caller = caller(app, &req).await?;
        caller.require(Need::Admin)?;
        let params = req.path_parameters();
        let id = params.first("keyId").unwrap_or_default();
        if !acting(app, &caller, &ctx).revoke_api_key(id).await? {
            return Err(NOT_FOUND);
        }
        Ok(response::no_content())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-11-26 00:00:00 UTC)
    }

    fn pointers(err: ApiError) -> Vec<String> {
        match err {
            ApiError::BadRequest(problems) => problems
                .into_iter()
                .map(|p| match p.at {
                    crate::error::Source::Pointer(at) | crate::error::Source::Parameter(at) => at,
                })
                .collect(),
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn a_name_and_an_optional_expiry_within_two_years() {
        let new = NewApiKey::decode(json!({"name": "  billing  "}), now()).unwrap();
        assert_eq!(new.name, "billing");
        assert_eq!(new.expires_at, None);
        let new = NewApiKey::decode(
            json!({"name": "b", "expiresAt": "2027-11-26T10:00:00+10:00"}),
            now(),
        )
        .unwrap();
        assert_eq!(
            new.expires_at,
            Some(time::macros::datetime!(2027-11-26 00:00:00 UTC))
        );
        let null = NewApiKey::decode(json!({"name": "b", "expiresAt": null}), now()).unwrap();
        assert_eq!(null.expires_at, None);
        assert!(NewApiKey::decode(json!({"name": "é".repeat(MAX_NAME)}), now()).is_ok());
    }

    #[test]
    fn every_problem_is_named_at_its_pointer() {
        let cases = [
            (json!({}), vec!["/name"]),
            (json!({"name": ""}), vec!["/name"]),
            (json!({"name": "   "}), vec!["/name"]),
            (json!({"name": 7}), vec!["/name"]),
            (json!({"name": "a\u{7}b"}), vec!["/name"]),
            (json!({"name": "x".repeat(MAX_NAME + 1)}), vec!["/name"]),
            (json!({"name": "a", "key": "mine"}), vec!["/key"]),
            (json!({"name": "a", "a/b~c": 1}), vec!["/a~1b~0c"]),
            (
                json!({"expiresAt": "2020-01-01T00:00:00Z", "x": 1}),
                vec!["/expiresAt", "/x", "/name"],
            ),
            (
                json!({"name": "a", "expiresAt": "2026-11-26T00:00:00Z"}),
                vec!["/expiresAt"],
            ),
            (
                json!({"name": "a", "expiresAt": "2028-11-27T00:00:00Z"}),
                vec!["/expiresAt"],
            ),
            (
                json!({"name": "a", "expiresAt": "tomorrow"}),
                vec!["/expiresAt"],
            ),
            (
                json!({"name": "a", "expiresAt": 1_800_000_000}),
                vec!["/expiresAt"],
            ),
        ];
        for (body, expected) in cases {
            let err = NewApiKey::decode(body.clone(), now()).unwrap_err();
            assert_eq!(pointers(err), expected, "{body}");
        }
        assert!(matches!(
            NewApiKey::decode(json!(["name"]), now()),
            Err(ApiError::InvalidContent(_))
        ));
    }
}
