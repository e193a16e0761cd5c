//! The `next` cursor: where each stream of a paged read stopped, bound to the
//! search it belongs to and signed, so it cannot be forged or replayed
//! against another search. It names the key that signed it, so that a
//! client reading pages across a key rotation is not cut off mid-listing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::{ApiError, Invalid};
use crate::http::page::PageParams;
use crate::rotation::Keyring;
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

/// The tag of a cursor: the key id, then the payload. The id is bound in
/// so that a cursor cannot be moved under another key's id; it is written
/// in base64url, which has no `.`, so the two parts cannot run together.
fn mac(secret: &[u8], id: &str, payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

impl Cursor {
    pub fn new(fingerprint: &str, positions: Vec<Position>) -> Self {
        Self {
            search: digest(fingerprint),
            positions,
        }
    }

    /// `kid.payload.tag`, signed with the current key, which `kid` names.
    pub fn encode(&self, key: &Keyring) -> String {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        let id = key.current_id();
        let tag = mac(key.current(), id, &payload).finalize().into_bytes();
        format!(
            "{id}.{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Checks the signature (in constant time) with the key the cursor
    /// names, if that key is still accepted (see [`Keyring`]), then that the
    /// cursor belongs to this search and has a position for each of its
    /// streams. A cursor that names no key (one issued before cursors named
    /// their key) is refused like any bad cursor: a cursor lives as long as
    /// a client pages, and starting the listing again costs it little.
    pub fn decode(
        text: &str,
        key: &Keyring,
        fingerprint: &str,
        streams: usize,
    ) -> Result<Self, ApiError> {
        Self::decode_at(text, key, fingerprint, streams, OffsetDateTime::now_utc())
    }

    /// Where a listing of one stream resumes: the position its `next`
    /// names (checked as [`Cursor::decode`] checks), or its start.
    pub fn resume(
        next: Option<&str>,
        key: &Keyring,
        fingerprint: &str,
    ) -> Result<Position, ApiError> {
        Ok(match next {
            Some(text) => Self::decode(text, key, fingerprint, 1)?
                .positions
                .pop()
                .unwrap_or(Position::Done),
            None => Position::Start,
        })
    }

    /// The link to the page after `page` of a one-stream listing, when the
    /// store says there is one (`next`): the twin of [`Cursor::resume`].
    pub fn next_link(
        page: &PageParams,
        base: &str,
        key: &Keyring,
        fingerprint: &str,
        next: Option<Position>,
    ) -> Option<String> {
        next.map(|position| {
            page.next_link(base, &Self::new(fingerprint, vec![position]).encode(key))
        })
    }

    /// [`Cursor::decode`] as at `now`, so that tests can stand on either
    /// side of a rotation's window.
    fn decode_at(
        text: &str,
        key: &Keyring,
        fingerprint: &str,
        streams: usize,
        now: OffsetDateTime,
    ) -> Result<Self, ApiError> {
        if text.len() > 8 * 1024 {
            return Err(invalid());
        }
        let mut parts = text.split('.');
        let (Some(id), Some(payload), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let secret = key.checking(id, now).ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        mac(secret, id, &payload)
            .verify_slice(&tag)
            .map_err(|_| invalid())?;
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

    const A: &[u8] = b"the previous key";
    const B: &[u8] = b"the current key!";

    fn key() -> Keyring {
        Keyring::new(b"0123456789abcdef0123456789abcdef")
    }

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
        let text = cursor().encode(&key());
        assert!(
            text.starts_with(&format!("{}.", key().current_id())),
            "{text}"
        );
        assert_eq!(
            Cursor::decode(&text, &key(), "search", 2).unwrap(),
            cursor()
        );
    }

    #[test]
    fn tampered_truncated_and_foreign_cursors_are_refused() {
        let key = key();
        let text = cursor().encode(&key);
        let mut flipped = text.clone().into_bytes();
        flipped[12] ^= 1;
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            flipped.as_str(),
            &text[..text.len() - 3],
            &text[..10],
            "",
            ".",
            "not-a-cursor",
        ] {
            assert!(Cursor::decode(bad, &key, "search", 2).is_err(), "{bad}");
        }
        let other = Keyring::new(b"another key of sufficient length");
        assert!(Cursor::decode(&text, &other, "search", 2).is_err());
        assert!(Cursor::decode(&text, &key, "another search", 2).is_err());
        assert!(Cursor::decode(&text, &key, "search", 4).is_err());
    }

    #[test]
    fn a_cursor_of_the_previous_key_works_inside_its_window_only() {
        let until = OffsetDateTime::now_utc() + time::Duration::minutes(30);
        let text = cursor().encode(&Keyring::new(A));
        let rotating = Keyring::rotating(B, A, until);
        assert_eq!(
            Cursor::decode(&text, &rotating, "search", 2).unwrap(),
            cursor()
        );
        let before = until - time::Duration::seconds(1);
        assert!(Cursor::decode_at(&text, &rotating, "search", 2, before).is_ok());
        for after in [until, until + time::Duration::seconds(1)] {
            assert!(Cursor::decode_at(&text, &rotating, "search", 2, after).is_err());
        }
        assert!(Cursor::decode(&text, &Keyring::new(B), "search", 2).is_err());
        // What the rotating ring signs, it signs with the current key.
        let new = cursor().encode(&rotating);
        assert!(Cursor::decode(&new, &Keyring::new(B), "search", 2).is_ok());
        assert!(Cursor::decode(&new, &Keyring::new(A), "search", 2).is_err());
    }

    #[test]
    fn unknown_tampered_and_missing_key_ids_are_refused() {
        let until = OffsetDateTime::now_utc() + time::Duration::minutes(30);
        let rotating = Keyring::rotating(B, A, until);
        let text = cursor().encode(&Keyring::new(A));
        let (id, rest) = text.split_once('.').unwrap();
        let (payload, tag) = rest.split_once('.').unwrap();
        let signed_as = |secret: &[u8], id: &str| {
            let tag = mac(secret, id, &URL_SAFE_NO_PAD.decode(payload).unwrap())
                .finalize()
                .into_bytes();
            format!("{id}.{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
        };
        // Well formed, for contrast.
        assert!(Cursor::decode(&signed_as(A, id), &rotating, "search", 2).is_ok());
        let b_id = rotating.current_id();
        for bad in [
            // The previous key's cursor moved under the current key's id.
            format!("{b_id}.{rest}"),
            // An id no key has, even with a tag for it.
            format!("AAAAAAAA.{rest}"),
            signed_as(B, "AAAAAAAA"),
            // No id part, an empty one, a missing tag, one part too many.
            rest.to_owned(),
            format!(".{rest}"),
            format!("{id}.{payload}"),
            format!("{id}.{payload}.{tag}.{tag}"),
        ] {
            assert!(
                Cursor::decode(&bad, &rotating, "search", 2).is_err(),
                "{bad}"
            );
        }
        // A cursor from before key ids: payload and tag under the key alone.
        let mut legacy = HmacSha256::new_from_slice(A).unwrap();
        legacy.update(&URL_SAFE_NO_PAD.decode(payload).unwrap());
        let legacy = format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(legacy.finalize().into_bytes())
        );
        assert!(Cursor::decode(&legacy, &Keyring::new(A), "search", 2).is_err());
    }
}
