//! Signing secrets: made here, shown to the subscriber once, and kept
//! sealed (AES-256-GCM under `WEBHOOK_KEY`) so that a copy of the table
//! alone cannot forge a delivery. Signing needs the secret itself, so a
//! digest would not do.
//!
//! A sealed secret is `<key id>.<nonce>.<ciphertext and tag>` (base64url).
//! The key id says which `WEBHOOK_KEY` sealed it, so a secret sealed before
//! a rotation of that key opens with the previous key inside its window;
//! the subscription's id is the associated data, so a sealed secret copied
//! onto another subscription does not open.

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use time::OffsetDateTime;

use super::WebhookId;
use crate::error::ApiError;
use crate::rotation::Keyring;

/// The prefix Standard Webhooks gives secrets, so that a secret is known
/// for one wherever it is pasted.
const PREFIX: &str = "whsec_";

/// A new signing secret: 256 random bits, `whsec_` and base64, as Standard
/// Webhooks libraries read it.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

/// The AEAD key a `WEBHOOK_KEY` gives: its HMAC over a fixed label, so the
/// configured secret is never used as a cipher key itself and any length
/// of it gives the 32 bytes AES-256 takes.
fn cipher(key: &[u8]) -> Result<RandomizedNonceKey, ApiError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .map_err(|e| ApiError::internal_from("the webhook key", e.to_string()))?;
    mac.update(b"webhook signing secrets");
    RandomizedNonceKey::new(&AES_256_GCM, &mac.finalize().into_bytes())
        .map_err(|e| ApiError::internal_from("the webhook key", e.to_string()))
}

/// Seals `secret` for subscription `id` under the ring's current key.
pub fn seal(keys: &Keyring, id: &WebhookId, secret: &str) -> Result<String, ApiError> {
    let key = cipher(keys.current())?;
    let mut sealed = secret.as_bytes().to_vec();
    let nonce = key
        .seal_in_place_append_tag(Aad::from(id.to_string().as_bytes()), &mut sealed)
        .map_err(|e| ApiError::internal_from("sealing a webhook secret", e.to_string()))?;
    Ok(format!(
        "{}.{}.{}",
        keys.current_id(),
        URL_SAFE_NO_PAD.encode(nonce.as_ref()),
        URL_SAFE_NO_PAD.encode(&sealed)
    ))
}

/// Whether `sealed` was sealed under the ring's current key: a secret
/// sealed under the previous one is sealed again while that key still
/// opens it, so that a rotation of `WEBHOOK_KEY` never strands a secret.
pub fn sealed_by_current(keys: &Keyring, sealed: &str) -> bool {
    sealed
        .split_once('.')
        .is_some_and(|(key_id, _)| key_id == keys.current_id())
}

/// Opens what [`seal`] made for subscription `id`, with the key its id
/// names, at `now`.
pub fn open(
    keys: &Keyring,
    id: &WebhookId,
    sealed: &str,
    now: OffsetDateTime,
) -> Result<String, ApiError> {
    let unreadable =
        |why: &str| ApiError::internal_from("opening a webhook secret", why.to_owned());
    let mut parts = sealed.splitn(3, '.');
    let (Some(key_id), Some(nonce), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unreadable("not a sealed secret"));
    };
    let key = keys
        .checking(key_id, now)
        .ok_or_else(|| unreadable("sealed under a WEBHOOK_KEY no longer configured"))?;
    let nonce: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
        .decode(nonce)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| unreadable("a malformed nonce"))?;
    let mut body = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| unreadable("malformed ciphertext"))?;
    let plain = cipher(key)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(id.to_string().as_bytes()),
            &mut body,
        )
        .map_err(|_| unreadable("the seal does not open"))?;
    String::from_utf8(plain.to_vec()).map_err(|_| unreadable("not UTF-8"))
}

/// The value of `webhook-signature` for `body`, sent as event `id` at
/// `timestamp`: a `v1,` signature by each secret, the current first (a
/// rotation's previous secret signs too until its end).
pub fn signature(
    secrets: &[String],
    id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, ApiError> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let signed = standardwebhooks::Webhook::new(secret)
            .and_then(|webhook| webhook.sign(id, timestamp, body.as_bytes()))
            .map_err(|e| ApiError::internal_from("signing a webhook", e.to_string()))?;
        signatures.push(signed);
    }
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"the webhook key, thirty-two bytes";

    #[test]
    fn a_sealed_secret_opens_only_for_its_subscription_and_key() {
        let keys = Keyring::new(KEY);
        let (id, other) = (WebhookId::new(), WebhookId::new());
        let secret = generate();
        let sealed = seal(&keys, &id, &secret).unwrap();
        assert!(!sealed.contains(&secret[PREFIX.len()..]));
        let now = OffsetDateTime::now_utc();
        assert_eq!(open(&keys, &id, &sealed, now).unwrap(), secret);
        assert!(open(&keys, &other, &sealed, now).is_err());
        assert!(open(
            &Keyring::new(b"another key, also thirty-two b."),
            &id,
            &sealed,
            now
        )
        .is_err());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(open(&keys, &id, &String::from_utf8(tampered).unwrap(), now).is_err());
        for junk in ["", "a.b", "a.b.c.d", ".."] {
            assert!(open(&keys, &id, junk, now).is_err(), "{junk}");
        }
    }

    #[test]
    fn a_secret_sealed_before_a_key_rotation_opens_inside_the_window_only() {
        let old = Keyring::new(KEY);
        let id = WebhookId::new();
        let sealed = seal(&old, &id, "whsec_c2VjcmV0").unwrap();
        let now = OffsetDateTime::now_utc();
        let rotating = Keyring::rotating(
            b"the new webhook key, 32 bytes..",
            KEY,
            now + time::Duration::hours(1),
        );
        assert!(open(&rotating, &id, &sealed, now).is_ok());
        assert!(open(&rotating, &id, &sealed, now + time::Duration::hours(2)).is_err());
    }

    #[test]
    fn each_secret_signs_and_a_receiver_verifies_either() {
        let (old, new) = (generate(), generate());
        let body = r#"{"type":"event"}"#;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let header = signature(&[new.clone(), old.clone()], "msg_1", now, body).unwrap();
        assert_eq!(header.split(' ').count(), 2);
        for secret in [&old, &new] {
            let mut headers = http::HeaderMap::new();
            headers.insert("webhook-id", "msg_1".parse().unwrap());
            headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
            headers.insert("webhook-signature", header.parse().unwrap());
            standardwebhooks::Webhook::new(secret)
                .unwrap()
                .verify(body.as_bytes(), &headers)
                .unwrap();
        }
    }
}
