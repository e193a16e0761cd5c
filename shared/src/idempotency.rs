//! `Idempotency-Key`: a retried create gets the first answer again, and
//! never writes a second user.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Invalid};

/// Records are kept (and honoured) for this long; DynamoDB's TTL removes them after.
pub const RETENTION_SECONDS: i64 = 24 * 60 * 60;

/// A client's key, bound to the caller that sent it and the route it was
/// used on: another caller's same key is another key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    digest: String,
}

impl IdempotencyKey {
    /// 1 to 255 printable ASCII characters, as most APIs accept (UUIDs fit).
    pub fn parse(caller: &str, route: &str, text: &str) -> Result<Self, Invalid> {
        if !(1..=255).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid::new(
                "Idempotency-Key must be 1 to 255 printable ASCII characters, such as a UUID.",
            ));
        }
        Ok(Self {
            digest: hex(&Sha256::digest(
                format!("{caller}\n{route}\n{text}").as_bytes(),
            )),
        })
    }

    pub fn digest(&self) -> &str {
        &self.digest
    }
}

/// The header, if the request has one.
pub fn from_request(
    req: &lambda_http::Request,
    caller: &str,
    route: &str,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    IdempotencyKey::parse(caller, route, text)
        .map(Some)
        .map_err(|e| e.at_parameter("Idempotency-Key").into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A digest of a JSON body that ignores key order and whitespace, so that
/// "the same body" means the same document.
pub fn body_digest(body: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(body, &mut canonical);
    hex(&Sha256::digest(canonical.as_bytes()))
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digests_ignore_key_order_but_not_values() {
        let a = json!({"email": "a@b.co", "x": {"p": 1, "q": [1, 2]}});
        let b: Value =
            serde_json::from_str(r#"{ "x": {"q": [1,2], "p": 1}, "email": "a@b.co" }"#).unwrap();
        assert_eq!(body_digest(&a), body_digest(&b));
        assert_ne!(body_digest(&a), body_digest(&json!({"email": "a@b.co"})));
    }

    #[test]
    fn keys_are_bound_to_their_caller_and_route() {
        let users = IdempotencyKey::parse("key:a", "POST /users", "k1").unwrap();
        let other = IdempotencyKey::parse("key:a", "POST /users/x/connections", "k1").unwrap();
        let caller = IdempotencyKey::parse("key:b", "POST /users", "k1").unwrap();
        assert_ne!(users, other);
        assert_ne!(users, caller);
        assert!(IdempotencyKey::parse("c", "r", "").is_err());
        assert!(IdempotencyKey::parse("c", "r", "with space").is_err());
        assert!(IdempotencyKey::parse("c", "r", &"k".repeat(256)).is_err());
    }
}
