//! `GET /` and `GET /assets/{asset}`: the dashboard page, served by the API it
//! calls so that every request it makes is same-origin and needs no CORS. The
//! page, script, style and icon are compiled into this function. And `GET
//! /openapi.json`: the API's own OpenAPI document (`docs/openapi.yaml`).

mod assets;

pub use assets::{asset, Asset, CONTENT_SECURITY_POLICY, OPENAPI_PATH, OPENAPI_YAML};

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::error::ApiError;
use shared::http::request::Context;

/// Answers a request for the page, one of its assets or the OpenAPI document.
/// Every answer, a 404 included, carries the page's security headers.
pub async fn handle(req: Request) -> Response<Body> {
    let ctx = Context::of(&req, None);
    let mut response = shared::http::respond(&ctx, "dashboard", async {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Err(ApiError::not_found());
        }
        let asset = asset(req.uri().path()).ok_or(ApiError::NotFound("No such page."))?;
        let unchanged = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == asset.etag));
        let (status, body) = if unchanged {
            (StatusCode::NOT_MODIFIED, Body::Empty)
        } else if req.method() == Method::HEAD {
            (StatusCode::OK, Body::Empty)
        } else {
            (StatusCode::OK, Body::Text(asset.body.clone().into_owned()))
        };
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, asset.content_type)
            .header(header::ETAG, &asset.etag)
            .header(header::CACHE_CONTROL, "no-cache")
            .body(body)
            .map_err(|e| ApiError::internal_from("building a response", e))
    })
    .await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}
