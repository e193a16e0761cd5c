//! The `next` cursor: where each stream of a paged read stopped, bound to the
//! search it belongs to and signed, so it cannot be forged or replayed
//! against another search.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Invalid};
use crate::store::Position;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Which search this cursor continues (a digest of its criteria).
    #[serde(rename = "f")]
    search: String,
    #[serde(rename = "p")]
    pub positions: Vec<Position>,
}

fn digest(fingerprint: &str) -> String {
    let hash = Sha256::digest(fingerprint.as_bytes());
    URL_SAFE_NO_PAD.encode(&hash[..12])
}

fn invalid() -> ApiError {
    Invalid::new("The next cursor is not valid for this search.")
        .at_parameter("next")
        .into()
}

impl Cursor {
    pub fn new(fingerprint: &str, positions: Vec<Position>) -> Self {
        Self {
            search: digest(fingerprint),
            positions,
        }
    }

    pub fn encode(&self, key: &[u8]) -> String {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Checks the signature (in constant time), then that the cursor belongs
    /// to this search and has a position for each of its streams.
    pub fn decode(
        text: &str,
        key: &[u8],
        fingerprint: &str,
        streams: usize,
    ) -> Result<Self, ApiError> {
        if text.len() > 8 * 1024 {
            return Err(invalid());
        }
        let (payload, tag) = text.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        let mut mac = HmacSha256::new_from_slice(key).map_err(|_| invalid())?;
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if cursor.search != digest(fingerprint) || cursor.positions.len() != streams {
            return Err(invalid());
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn cursor() -> Cursor {
        Cursor::new(
            "search",
            vec![
                Position::Done,
                Position::After([
                    "USER#1".into(),
                    "PROFILE".into(),
                    "g".into(),
                    "gavin".into(),
                ]),
            ],
        )
    }

    #[test]
    fn round_trips() {
        let text = cursor().encode(KEY);
        assert_eq!(Cursor::decode(&text, KEY, "search", 2).unwrap(), cursor());
    }

    #[test]
    fn tampered_truncated_and_foreign_cursors_are_refused() {
        let text = cursor().encode(KEY);
        let mut flipped = text.clone().into_bytes();
        flipped[5] ^= 1;
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            flipped.as_str(),
            &text[..text.len() - 3],
            &text[..10],
            "",
            ".",
            "not-a-cursor",
        ] {
            assert!(Cursor::decode(bad, KEY, "search", 2).is_err(), "{bad}");
        }
        assert!(Cursor::decode(&text, b"another key of sufficient length", "search", 2).is_err());
        assert!(Cursor::decode(&text, KEY, "another search", 2).is_err());
        assert!(Cursor::decode(&text, KEY, "search", 4).is_err());
    }
}
