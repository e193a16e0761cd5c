//! The keys that sign tokens and cursors, and the one rule for rotating them
//! without downtime: sign with the current key; accept the previous key only
//! until the end of its window, so that what it signed before the switch
//! (an hour of tokens, a page a client is reading) still works, and
//! nothing it signed works after.
//!
//! Each key has an id derived from the key itself, which tokens and cursors
//! carry: the id says which key to check with, and no one configures ids.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

/// One key and its id.
#[derive(Clone)]
struct Key {
    id: String,
    secret: Vec<u8>,
}

impl Key {
    fn new(secret: &[u8]) -> Self {
        Self {
            id: key_id(secret),
            secret: secret.to_vec(),
        }
    }
}

/// The id of a key: 48 bits of HMAC-SHA256(key, "key id"), base64url (8
/// characters). A MAC rather than a plain digest, so the id reveals nothing
/// about the key; 48 bits, so that two keys of one ring never share an id in
/// practice, and the id stays short in every token and cursor.
fn key_id(secret: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"key id");
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..6])
}

/// A current key and, while a rotation is under way, the previous key with
/// the instant it stops being accepted.
#[derive(Clone)]
pub struct Keyring {
    current: Key,
    previous: Option<(Key, OffsetDateTime)>,
}

impl fmt::Debug for Keyring {
    /// The ids and the window, never a secret: configuration is logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ring = f.debug_struct("Keyring");
        ring.field("current", &self.current.id);
        if let Some((key, until)) = &self.previous {
            ring.field("previous", &key.id).field("until", until);
        }
        ring.finish()
    }
}

impl Keyring {
    /// One key, no rotation under way.
    pub fn new(current: &[u8]) -> Self {
        Self {
            current: Key::new(current),
            previous: None,
        }
    }

    /// During a rotation: sign with `current`, and accept `previous` until
    /// `until` (exclusive).
    pub fn rotating(current: &[u8], previous: &[u8], until: OffsetDateTime) -> Self {
        Self {
            current: Key::new(current),
            previous: Some((Key::new(previous), until)),
        }
    }

    /// The id of the key that signs.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// The key that signs.
    pub(crate) fn current(&self) -> &[u8] {
        &self.current.secret
    }

    /// The key that checks what names the key id `id`, at `now`: the current
    /// key, or the previous one inside its window. `None` for any other id,
    /// which callers refuse as they refuse a forgery.
    pub(crate) fn checking(&self, id: &str, now: OffsetDateTime) -> Option<&[u8]> {
        if id == self.current.id {
            return Some(&self.current.secret);
        }
        match &self.previous {
            Some((key, until)) if id == key.id && now < *until => Some(&key.secret),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    const A: &[u8] = b"the previous key, 32 bytes long.";
    const B: &[u8] = b"the current key, 32 bytes long!!";

    #[test]
    fn ids_are_short_stable_distinct_and_not_the_key() {
        let a = Keyring::new(A);
        assert_eq!(a.current_id().len(), 8);
        assert_eq!(a.current_id(), Keyring::new(A).current_id());
        assert_ne!(a.current_id(), Keyring::new(B).current_id());
        assert!(!URL_SAFE_NO_PAD.encode(A).contains(a.current_id()));
    }

    #[test]
    fn the_previous_key_is_accepted_only_inside_its_window() {
        let until = OffsetDateTime::now_utc() + Duration::minutes(30);
        let ring = Keyring::rotating(B, A, until);
        let a = Keyring::new(A).current_id().to_owned();
        let b = Keyring::new(B).current_id().to_owned();
        assert_eq!(ring.current_id(), b);
        assert_eq!(ring.current(), B);
        for now in [until - Duration::days(1), until, until + Duration::days(1)] {
            assert_eq!(ring.checking(&b, now), Some(B), "the current key, always");
        }
        assert_eq!(ring.checking(&a, until - Duration::seconds(1)), Some(A));
        assert_eq!(ring.checking(&a, until), None);
        assert_eq!(ring.checking(&a, until + Duration::seconds(1)), None);
        assert_eq!(
            Keyring::new(B).checking(&a, until - Duration::days(1)),
            None
        );
        for unknown in ["", "AAAAAAAA", &a[..7], &format!("{b}x")] {
            assert_eq!(ring.checking(unknown, until - Duration::days(1)), None);
        }
    }

    #[test]
    fn debug_shows_ids_not_secrets() {
        let ring = Keyring::rotating(B, A, OffsetDateTime::UNIX_EPOCH);
        let text = format!("{ring:?}");
        assert!(text.contains(ring.current_id()), "{text}");
        for secret in [A, B] {
            assert!(
                !text.contains(std::str::from_utf8(secret).unwrap()),
                "{text}"
            );
        }
    }
}
