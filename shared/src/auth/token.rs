use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::rotation::Keyring;
use crate::user::UserId;

/// Tokens live an hour, as Basiq's do.
pub const TOKEN_LIFETIME_SECONDS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "SERVER_ACCESS")]
    ServerAccess,
    #[serde(rename = "CLIENT_ACCESS")]
    ClientAccess,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token speaks for: the API key that bought it (`key:<id>`).
    /// What a caller records (an idempotency key, say) is scoped to it.
    pub sub: String,
    pub scope: Scope,
    #[serde(rename = "userId", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Whether a token names our algorithm (HS256), and so is one of ours:
/// operators' tokens are signed asymmetrically by their provider. A token
/// whose header cannot be read is treated as ours, to be refused as such.
pub(super) fn is_ours(token: &str) -> bool {
    jsonwebtoken::decode_header(token).map_or(true, |h| h.alg == Algorithm::HS256)
}

/// Signs and checks tokens with the keys from configuration (HS256 only:
/// a token naming any other algorithm, `none` included, is refused). Tokens
/// name their key in the header's `kid`, so that a token signed just before
/// a rotation still works until its key's window ends (see [`Keyring`]).
#[derive(Debug, Clone)]
pub struct TokenSigner {
    keys: Keyring,
}

impl TokenSigner {
    /// One secret, no rotation under way.
    pub fn new(secret: &[u8]) -> Self {
        Self::with_keys(Keyring::new(secret))
    }

    /// The keys of a rotation: signs with the current one, and checks with
    /// the previous one too while its window lasts.
    pub fn with_keys(keys: Keyring) -> Self {
        Self { keys }
    }

    pub fn issue(
        &self,
        subject: &str,
        scope: Scope,
        user_id: Option<UserId>,
        now: i64,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            sub: subject.to_owned(),
            scope,
            user_id,
            iat: now,
            exp: now + TOKEN_LIFETIME_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.keys.current_id().to_owned());
        let key = EncodingKey::from_secret(self.keys.current());
        jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| ApiError::internal_from("signing a token", e))
    }

    /// The claims of a token we signed, in its lifetime. Refused: another
    /// algorithm (`none` included), a critical header extension (RFC 7515
    /// says a recipient must refuse those it does not implement, and we
    /// implement none), a key id we do not know or whose window has ended,
    /// a token not valid yet (`nbf`) or issued in the future (`iat`), and
    /// one that claims to live longer than we issue.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        self.verify_at(token, OffsetDateTime::now_utc())
    }

    /// [`TokenSigner::verify`], with the previous key's window and the `iat`
    /// check judged at `now`, so that tests can stand on either side of a
    /// rotation's window (`exp` and `nbf` are judged by the clock).
    fn verify_at(&self, token: &str, now: OffsetDateTime) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::InvalidToken)?;
        if header.crit.is_some() {
            return Err(ApiError::InvalidToken);
        }
        // Tokens issued before tokens named their key have no `kid`: they
        // were signed with the current key, and live an hour at most.
        let secret = match header.kid.as_deref() {
            None => self.keys.current(),
            Some(id) => self.keys.checking(id, now).ok_or(ApiError::InvalidToken)?,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        let claims = match jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(secret),
            &validation,
        ) {
            Ok(data) => data.claims,
            Err(err) if matches!(err.kind(), ErrorKind::ExpiredSignature) => {
                return Err(ApiError::TokenExpired)
            }
            Err(_) => return Err(ApiError::InvalidToken),
        };
        let now = now.unix_timestamp();
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if claims.iat > now || lifetime > TOKEN_LIFETIME_SECONDS {
            return Err(ApiError::InvalidToken);
        }
        if claims.scope == Scope::ClientAccess && claims.user_id.is_none() {
            return Err(ApiError::InvalidToken);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn tokens_round_trip_with_their_claims() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef");
        let user = UserId::new();
        let token = signer
            .issue("key:test", Scope::ClientAccess, Some(user), now())
            .unwrap();
        let claims = signer.verify(&token).unwrap();
        assert_eq!(claims.scope, Scope::ClientAccess);
        assert_eq!(claims.user_id, Some(user));
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    /// A token with exactly this header and these claims, signed with `secret`.
    fn signed(secret: &[u8], header: serde_json::Value, claims: serde_json::Value) -> String {
        use hmac::{Hmac, Mac};
        let head = URL_SAFE_NO_PAD.encode(header.to_string());
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{head}.{body}").as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{head}.{body}.{tag}")
    }

    #[test]
    fn critical_headers_early_and_overlong_tokens_are_refused() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let signer = TokenSigner::new(secret);
        let now = now();
        let claims = |iat: i64, exp: i64| serde_json::json!({"scope": "SERVER_ACCESS", "sub": "key:test", "iat": iat, "exp": exp, "jti": "j"});
        let hs256 = serde_json::json!({"alg": "HS256", "typ": "JWT"});
        // The same token, well formed, is accepted: only the defect differs below.
        assert!(signer
            .verify(&signed(secret, hs256.clone(), claims(now, now + 60)))
            .is_ok());
        let refused = [
            // A critical extension we do not understand.
            signed(
                secret,
                serde_json::json!({"alg": "HS256", "typ": "JWT", "crit": ["exp"]}),
                claims(now, now + 60),
            ),
            // Not valid yet.
            signed(secret, hs256.clone(), {
                let mut c = claims(now, now + 60);
                c["nbf"] = serde_json::json!(now + 600);
                c
            }),
            // Issued in the future.
            signed(secret, hs256.clone(), claims(now + 600, now + 1200)),
            // Longer than a token may live.
            signed(
                secret,
                hs256.clone(),
                claims(now, now + 10 * TOKEN_LIFETIME_SECONDS),
            ),
        ];
        for token in refused {
            assert!(
                matches!(signer.verify(&token), Err(ApiError::InvalidToken)),
                "{token}"
            );
        }
    }

    const A: &[u8] = b"the previous secret, 32 bytes...";
    const B: &[u8] = b"the current secret, 32 bytes....";

    /// A token's header, decoded.
    fn header_of(token: &str) -> serde_json::Value {
        let head = token.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap()
    }

    fn claims_now() -> serde_json::Value {
        let now = now();
        serde_json::json!({"scope": "SERVER_ACCESS", "sub": "key:test", "iat": now, "exp": now + 60, "jti": "j"})
    }

    #[test]
    fn tokens_name_their_key_and_round_trip_through_a_rotation() {
        let until = OffsetDateTime::now_utc() + time::Duration::minutes(30);
        let old = TokenSigner::new(A);
        let rotating = TokenSigner::with_keys(Keyring::rotating(B, A, until));
        let token = rotating
            .issue("key:test", Scope::ServerAccess, None, now())
            .unwrap();
        assert_eq!(header_of(&token)["kid"], Keyring::new(B).current_id());
        assert_eq!(rotating.verify(&token).unwrap().sub, "key:test");
        // Signed with the current key: the old signer does not know it.
        assert!(matches!(old.verify(&token), Err(ApiError::InvalidToken)));
    }

    #[test]
    fn a_token_of_the_previous_key_works_inside_its_window_only() {
        let until = OffsetDateTime::now_utc() + time::Duration::minutes(30);
        let token = TokenSigner::new(A)
            .issue("key:test", Scope::ServerAccess, None, now())
            .unwrap();
        let rotating = TokenSigner::with_keys(Keyring::rotating(B, A, until));
        assert!(rotating.verify(&token).is_ok());
        assert!(rotating
            .verify_at(&token, until - time::Duration::seconds(1))
            .is_ok());
        for after in [until, until + time::Duration::seconds(1)] {
            assert!(matches!(
                rotating.verify_at(&token, after),
                Err(ApiError::InvalidToken)
            ));
        }
        let ended = TokenSigner::with_keys(Keyring::rotating(
            B,
            A,
            OffsetDateTime::now_utc() - time::Duration::seconds(1),
        ));
        assert!(matches!(ended.verify(&token), Err(ApiError::InvalidToken)));
        assert!(matches!(
            TokenSigner::new(B).verify(&token),
            Err(ApiError::InvalidToken)
        ));
    }

    #[test]
    fn unknown_and_tampered_key_ids_are_refused() {
        let until = OffsetDateTime::now_utc() + time::Duration::minutes(30);
        let rotating = TokenSigner::with_keys(Keyring::rotating(B, A, until));
        let kid_a = Keyring::new(A).current_id().to_owned();
        let kid_b = Keyring::new(B).current_id().to_owned();
        let with_kid = |kid: &str| serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid});
        // Well formed, for contrast: each key under its own id.
        assert!(rotating
            .verify(&signed(A, with_kid(&kid_a), claims_now()))
            .is_ok());
        assert!(rotating
            .verify(&signed(B, with_kid(&kid_b), claims_now()))
            .is_ok());
        let refused = [
            // An id no key of ours has, even signed with the current key.
            signed(B, with_kid("AAAAAAAA"), claims_now()),
            signed(B, with_kid(""), claims_now()),
            // One key's signature under the other's id.
            signed(A, with_kid(&kid_b), claims_now()),
            signed(B, with_kid(&kid_a), claims_now()),
        ];
        for token in refused {
            assert!(
                matches!(rotating.verify(&token), Err(ApiError::InvalidToken)),
                "{token}"
            );
        }
        // A token of ours whose kid is rewritten: the signature covers the header.
        let token = rotating
            .issue("key:test", Scope::ServerAccess, None, now())
            .unwrap();
        let (_, rest) = token.split_once('.').unwrap();
        let head = URL_SAFE_NO_PAD.encode(with_kid(&kid_a).to_string());
        let rewritten = format!("{head}.{rest}");
        assert!(matches!(
            rotating.verify(&rewritten),
            Err(ApiError::InvalidToken)
        ));
    }

    #[test]
    fn a_token_without_a_key_id_is_checked_against_the_current_key_only() {
        let until = OffsetDateTime::now_utc() + time::Duration::minutes(30);
        let rotating = TokenSigner::with_keys(Keyring::rotating(B, A, until));
        let bare = serde_json::json!({"alg": "HS256", "typ": "JWT"});
        assert!(rotating
            .verify(&signed(B, bare.clone(), claims_now()))
            .is_ok());
        assert!(matches!(
            rotating.verify(&signed(A, bare, claims_now())),
            Err(ApiError::InvalidToken)
        ));
    }

    #[test]
    fn expired_forged_and_unsigned_tokens_are_refused() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef");
        let expired = signer
            .issue("key:test", Scope::ServerAccess, None, now() - 7200)
            .unwrap();
        assert!(matches!(
            signer.verify(&expired),
            Err(ApiError::TokenExpired)
        ));

        let other = TokenSigner::new(b"another secret, just as long....");
        let forged = other
            .issue("key:test", Scope::ServerAccess, None, now())
            .unwrap();
        assert!(matches!(
            signer.verify(&forged),
            Err(ApiError::InvalidToken)
        ));

        let claims = URL_SAFE_NO_PAD.encode(
            format!(
                r#"{{"sub":"key:test","scope":"SERVER_ACCESS","iat":{},"exp":{},"jti":"x"}}"#,
                now(),
                now() + 60
            )
            .as_bytes(),
        );
        let unsigned = format!(
            "{}.{claims}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
        );
        assert!(matches!(
            signer.verify(&unsigned),
            Err(ApiError::InvalidToken)
        ));
        for junk in ["", "a.b.c", "not a token"] {
            assert!(matches!(signer.verify(junk), Err(ApiError::InvalidToken)));
        }
    }
}
