use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// An API key. Only its SHA-256 digest is ever stored: a key is looked up
/// by digest, so nothing compares key text, and the table never holds it.
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

    pub fn digest(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
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
}
