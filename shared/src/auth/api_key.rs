use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::KeyState;

/// How many active keys may exist at once. Creating one more is refused
/// (409) until one is revoked: the list stays one Query, and a leaked admin
/// session cannot mint keys without end.
pub const MAX_API_KEYS: usize = 100;

/// How many characters of a key its record keeps, to tell keys apart in a
/// list (36 of its 256 random bits: nothing a guess can use).
const PREFIX_CHARS: usize = 6;

/// How many hex digits of the digest make a key's id.
const ID_DIGITS: usize = 16;

/// An API key. Only its SHA-256 digest is ever stored: a key is read by its
/// id (the digest's first 16 hex digits), and the stored digest compared
/// with the presented key's whole digest; the table never holds the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

impl ApiKey {
    /// 256 random bits.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn from_text(text: &str) -> Self {
        Self(text.trim().to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key's public name, as tokens and records carry it: `key:` and the
    /// first 16 hex digits of its digest (which reveal nothing of the key).
    pub fn id(&self) -> String {
        format!("key:{}", &self.digest()[..16])
    }

    /// The id alone (16 lowercase hex digits), as `/api-keys/{keyId}` and
    /// the key's item name it.
    pub fn record_id(&self) -> String {
        self.digest()[..ID_DIGITS].to_owned()
    }

    /// Whether `text` can be a key's id: exactly 16 lowercase hex digits.
    /// Anything else names no key, and is answered without a read.
    pub fn is_record_id(text: &str) -> bool {
        text.len() == ID_DIGITS && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    /// The key's first characters, shown in lists so that an admin can tell
    /// which key a client holds.
    pub fn prefix(&self) -> String {
        self.0.chars().take(PREFIX_CHARS).collect()
    }

    pub fn digest(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `stored` is this key's digest. The id matched already (it is
    /// the digest's start), so this compares the rest: a key that merely
    /// shares an id (a guessed or colliding one) is not the stored key. In
    /// time independent of where the two differ.
    pub fn matches_digest(&self, stored: &str) -> bool {
        let digest = self.digest();
        digest.len() == stored.len()
            && digest
                .bytes()
                .zip(stored.bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

/// A stored key, as an admin sees it: never the key, never its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// 16 lowercase hex digits ([`ApiKey::record_id`]).
    pub id: String,
    pub name: String,
    /// The key's first characters ([`ApiKey::prefix`]).
    pub prefix: String,
    /// Who created it: an actor id (`operator:<sub>`, or what a tool that
    /// wrote it directly called itself).
    pub created_by: String,
    /// Their readable name, when known (an operator's email).
    pub created_by_name: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub expires_at: Option<OffsetDateTime>,
    /// RFC 3339, UTC, when it was revoked.
    pub revoked_at: Option<String>,
    /// RFC 3339, UTC: when it last bought a token (to the minute: it is
    /// written at most once a minute).
    pub last_used_at: Option<String>,
}

impl ApiKeyRecord {
    /// What the key check needs of it.
    pub fn state(&self) -> KeyState {
        KeyState {
            name: self.name.clone(),
            revoked: self.revoked_at.is_some(),
            expires_at: self.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_digests_stable() {
        let a = ApiKey::generate();
        assert_ne!(a, ApiKey::generate());
        assert_eq!(a.digest(), ApiKey::from_text(a.expose()).digest());
        assert_eq!(a.digest().len(), 64);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn ids_are_the_digests_start_and_only_the_whole_digest_matches() {
        let key = ApiKey::generate();
        let id = key.record_id();
        assert!(ApiKey::is_record_id(&id), "{id}");
        assert_eq!(key.id(), format!("key:{id}"));
        assert!(key.digest().starts_with(&id));
        assert!(key.matches_digest(&key.digest()));
        let mut other = key.digest();
        other.replace_range(63.., if other.ends_with('0') { "1" } else { "0" });
        assert!(!key.matches_digest(&other));
        assert!(!key.matches_digest(&id));
        assert!(!key.matches_digest(""));
        assert_eq!(key.prefix(), key.expose()[..6]);
        for text in [
            "",
            "0123456789abcde",
            "0123456789abcdef0",
            "0123456789ABCDEF",
            "key:0123456789abcdef",
            "0123456789abcdeg",
        ] {
            assert!(!ApiKey::is_record_id(text), "{text}");
        }
        assert!(ApiKey::is_record_id("0123456789abcdef"));
    }
}
