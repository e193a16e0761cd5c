//! Reading what a handler needs from an API Gateway HTTP API (v2) request.

use lambda_http::http::header;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;

use super::strict_json;
use crate::error::ApiError;
use crate::user::UserId;

/// Bodies above this are refused before they are parsed.
pub const MAX_BODY: usize = 64 * 1024;

/// What every response needs to know about its request.
#[derive(Debug, Clone)]
pub struct Context {
    /// API Gateway's request id: in every log line and every error body.
    pub correlation_id: String,
    /// Scheme and host that links in responses start with.
    pub base_url: String,
    /// Where the request came from, as API Gateway saw it (never a header
    /// the client sets, such as `X-Forwarded-For`): for the audit trail.
    pub source_ip: Option<String>,
    /// The request's `User-Agent`, at most 256 characters, for the audit trail.
    pub user_agent: Option<String>,
}

impl Context {
    /// `public_base_url` (from configuration) wins over what the request says.
    pub fn of(req: &Request, public_base_url: Option<&str>) -> Self {
        Self {
            correlation_id: correlation_id(req),
            base_url: public_base_url.map_or_else(|| base_url(req), str::to_owned),
            source_ip: source_ip(req),
            user_agent: req
                .headers()
                .get(lambda_http::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(256).collect()),
        }
    }

    pub fn user_url(&self, id: &UserId) -> String {
        format!("{}/users/{id}", self.base_url)
    }

    /// The same request, with links that name no host (`/users/…`): what an
    /// idempotency record keeps, rooted again at each answer's base.
    pub fn without_host(&self) -> Self {
        Self {
            correlation_id: self.correlation_id.clone(),
            base_url: String::new(),
            source_ip: self.source_ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// API Gateway's `requestContext.http.sourceIp`: the address that opened
/// the connection to it, which the client cannot choose.
fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.http.source_ip.clone().filter(|ip| !ip.is_empty())
        }
        _ => None,
    }
}

fn correlation_id(req: &Request) -> String {
    let from_gateway = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    from_gateway
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Without `PUBLIC_BASE_URL`: the domain API Gateway received the request
/// on (its own `requestContext.domainName`, the execute-api or custom
/// domain), over https. Never the `Host` header: a client chooses that, and
/// links (which idempotency records keep) must not point where it says.
fn base_url(req: &Request) -> String {
    let domain = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.domain_name.clone(),
        _ => None,
    };
    match domain.filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_graphic())) {
        Some(domain) => format!("https://{domain}"),
        None => "https://localhost".to_owned(),
    }
}

/// A record id path parameter (`connectionId`, `accountId`, `transactionId`).
pub fn path_record_id(req: &Request, name: &str) -> Result<crate::finance::RecordId, ApiError> {
    let params = req.path_parameters();
    let text = params.first(name).unwrap_or_default();
    crate::finance::RecordId::parse(text).map_err(|invalid| invalid.at_parameter(name).into())
}

/// The `userId` path parameter, which must be a user id in its canonical form.
pub fn path_user_id(req: &Request) -> Result<UserId, ApiError> {
    let params = req.path_parameters();
    let text = params.first("userId").unwrap_or_default();
    UserId::parse(text).map_err(|invalid| invalid.at_parameter("userId").into())
}

/// `If-Match`: the version the client last read, as the `ETag` we sent
/// (`"7"`; a weak `W/"7"` is read the same). Absent or `*`: no condition.
pub fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let tag = text.strip_prefix("W/").unwrap_or(text);
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            crate::error::Invalid::new("If-Match must be an ETag from this API, such as \"3\".")
                .at_parameter("If-Match")
                .into()
        })
}

/// The `ETag` of a user at `version`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// A `Content-Type`'s media type, without parameters, in lower case.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type is JSON: `application/json` or `application/*+json`.
fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Whether the request says its body is JSON, as [`json_body`] reads the
/// header: where a body may be JSON or a form (`POST /token`), one reading.
pub fn says_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| is_json(&media_type(v)))
}

/// Media types a JSON body may arrive with. Form-encoded is curl's default for
/// `-d`, so it is accepted as long as the body itself is JSON.
fn acceptable_content_type(value: &str) -> bool {
    let media = media_type(value);
    is_json(&media) || media == "application/x-www-form-urlencoded" || media == "text/plain"
}

/// The request body as a JSON value: at most 64 KiB, valid UTF-8, valid JSON.
pub fn json_body(req: &Request) -> Result<Value, ApiError> {
    json_body_within(req, MAX_BODY)
}

/// As [`json_body`], with another size limit (ingest carries thousands of transactions).
pub fn json_body_within(req: &Request, limit: usize) -> Result<Value, ApiError> {
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        let ok = content_type
            .to_str()
            .map(acceptable_content_type)
            .unwrap_or(false);
        if !ok {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidContent(
            "A JSON request body is required.".into(),
        ));
    }
    serde_json::from_slice::<strict_json::Strict>(bytes)
        .map(|strict| strict.0)
        .map_err(|err| {
            ApiError::InvalidContent(format!(
                "The request body is not valid JSON, or repeats a member (line {}, column {}).",
                err.line(),
                err.column()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::acceptable_content_type;

    #[test]
    fn json_and_curl_defaults_are_acceptable() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
            "application/x-www-form-urlencoded",
            "text/plain;charset=UTF-8",
        ] {
            assert!(acceptable_content_type(ok), "{ok}");
        }
        for bad in [
            "application/xml",
            "multipart/form-data; boundary=x",
            "text/html",
            "",
        ] {
            assert!(!acceptable_content_type(bad), "{bad}");
        }
    }
}
