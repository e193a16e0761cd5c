use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
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

/// Signs and checks tokens with the secret from configuration (HS256 only:
/// a token naming any other algorithm, `none` included, is refused).
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

impl TokenSigner {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
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
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal_from("signing a token", e))
    }

    /// The claims of a token we signed, in its lifetime. Refused: another
    /// algorithm (`none` included), a critical header extension (RFC 7515
    /// says a recipient must refuse those it does not implement, and we
    /// implement none), a token not valid yet (`nbf`) or issued in the
    /// future (`iat`), and one that claims to live longer than we issue.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::InvalidToken)?;
        if header.crit.is_some() {
            return Err(ApiError::InvalidToken);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        let claims = match jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) {
            Ok(data) => data.claims,
            Err(err) if matches!(err.kind(), ErrorKind::ExpiredSignature) => {
                return Err(ApiError::TokenExpired)
            }
            Err(_) => return Err(ApiError::InvalidToken),
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
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
