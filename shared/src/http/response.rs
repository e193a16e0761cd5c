use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::Value;

pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => json_text(status, text),
        Err(_) => json_text(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"type":"list","data":[{"type":"error","code":"internal-server-error"}]}"#.into(),
        ),
    }
}

/// A JSON body that is already text.
pub fn json_text(status: StatusCode, text: String) -> Response<Body> {
    builder(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(text))
        .unwrap_or_default()
}

/// A JSON answer whose links were written without a host (`/users/…`),
/// with each link rooted at `base`.
pub fn rooted(text: &str, base: &str) -> String {
    fn root(value: &mut Value, base: &str, in_links: bool) {
        match value {
            Value::String(link) if in_links && link.starts_with('/') => {
                *link = format!("{base}{link}");
            }
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    root(child, base, in_links || key == "links");
                }
            }
            Value::Array(items) => {
                for item in items {
                    root(item, base, in_links);
                }
            }
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut value) => {
            root(&mut value, base, false);
            value.to_string()
        }
        Err(_) => text.to_owned(),
    }
}

/// The stored answer to an earlier request with the same `Idempotency-Key`.
pub fn replayed(status: StatusCode, text: String) -> Response<Body> {
    let mut response = json_text(status, text);
    response.headers_mut().insert(
        "idempotent-replayed",
        header::HeaderValue::from_static("true"),
    );
    response
}

pub fn no_content() -> Response<Body> {
    builder(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .unwrap_or_default()
}

fn builder(status: StatusCode) -> lambda_http::http::response::Builder {
    Response::builder()
        .status(status)
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
}

/// The same response, carrying the `ETag` of the version it shows.
pub fn with_etag(mut response: Response<Body>, version: u64) -> Response<Body> {
    if let Ok(value) = super::request::etag(version).parse() {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}
