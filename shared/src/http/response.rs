use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"type":"list","data":[{"type":"error","code":"internal-server-error"}]}"#.into(),
        ),
    };
    builder(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(text))
        .unwrap_or_default()
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
