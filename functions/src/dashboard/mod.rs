//! `GET /` and `GET /assets/{asset}`: the dashboard page, served by the API it
//! calls so that every request it makes to the API is same-origin and needs
//! no CORS. The page, script, style and icon are compiled into this
//! function; `GET /assets/config.json` tells the page its identity provider
//! (issuer and client id), from this function's environment. And `GET
//! /openapi.json`: the API's own OpenAPI document (`docs/openapi.yaml`).

mod assets;
mod sign_in;

pub use assets::{asset, Asset, OPENAPI_PATH, OPENAPI_YAML};
pub use sign_in::SignIn;

use std::borrow::Cow;
use std::sync::LazyLock;

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::error::ApiError;
use shared::http::request::Context;

/// Where the page reads its sign-in settings.
pub const CONFIG_PATH: &str = "/assets/config.json";

/// The dashboard as one deployment serves it: its sign-in settings, the
/// `config.json` they make, and the Content-Security-Policy that lets the
/// page call their identity provider.
pub struct Dashboard {
    config: Asset,
    policy: header::HeaderValue,
}

impl Dashboard {
    pub fn new(sign_in: SignIn) -> Self {
        let config = Asset::new("application/json", Cow::Owned(sign_in.config_json()));
        // Origins are checked to hold only URL characters, so this is a
        // valid header value; an empty policy would be no policy at all.
        let policy = header::HeaderValue::from_str(&sign_in.content_security_policy())
            .unwrap_or_else(|_| header::HeaderValue::from_static("default-src 'none'"));
        Self { config, policy }
    }

    fn asset(&self, path: &str) -> Option<&Asset> {
        if path == CONFIG_PATH {
            return Some(&self.config);
        }
        asset(path)
    }

    /// Answers a request for the page, one of its assets or the OpenAPI
    /// document. Every answer, a 404 included, carries the page's security
    /// headers.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let ctx = Context::of(&req, None);
        let mut response = shared::http::respond(&ctx, "dashboard", async {
            if req.method() != Method::GET && req.method() != Method::HEAD {
                return Err(ApiError::not_found());
            }
            let asset = self
                .asset(req.uri().path())
                .ok_or(ApiError::NotFound("No such page."))?;
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
        headers.insert("content-security-policy", self.policy.clone());
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("cross-origin-opener-policy", "same-origin"),
        ] {
            headers.insert(name, header::HeaderValue::from_static(value));
        }
        response
    }
}

/// The dashboard of this function's environment, read at the first request.
static DASHBOARD: LazyLock<Dashboard> = LazyLock::new(|| Dashboard::new(SignIn::from_env()));

/// [`Dashboard::handle`] for the dashboard of this function's environment.
pub async fn handle(req: Request) -> Response<Body> {
    DASHBOARD.handle(req).await
}
