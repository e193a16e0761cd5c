//! What no route matches: the HTTP API's `$default` route sends it here, so
//! that every answer is a Basiq body, and none names a function.

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::request::Context;
use crate::routes::{self, Resolved};

/// A Basiq 404 for a path the API lacks, or a 405 (with `Allow`) for a
/// method the path lacks.
pub async fn unmatched(req: Request) -> Response<Body> {
    let ctx = Context::of(&req, None);
    crate::http::respond(&ctx, "fallback", async {
        Err(
            match routes::resolve(req.method().as_str(), req.uri().path()) {
                Resolved::MethodNotAllowed(methods) => ApiError::MethodNotAllowed {
                    allow: methods.join(", "),
                },
                Resolved::Route { .. } | Resolved::NotFound => ApiError::not_found(),
            },
        )
    })
    .await
}
