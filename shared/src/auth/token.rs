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
        scope: Scope,
        user_id: Option<UserId>,
        now: i64,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            scope,
            user_id,
            iat: now,
            exp: now + TOKEN_LIFETIME_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal_from("signing a token", e))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat"]);
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) {
            Ok(data) => {
                if data.claims.scope == Scope::ClientAccess && data.claims.user_id.is_none() {
                    return Err(ApiError::InvalidToken);
                }
                Ok(data.claims)
            }
            Err(err) if matches!(err.kind(), ErrorKind::ExpiredSignature) => {
                Err(ApiError::TokenExpired)
            }
            Err(_) => Err(ApiError::InvalidToken),
        }
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
            .issue(Scope::ClientAccess, Some(user), now())
            .unwrap();
        let claims = signer.verify(&token).unwrap();
        assert_eq!(claims.scope, Scope::ClientAccess);
        assert_eq!(claims.user_id, Some(user));
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn expired_forged_and_unsigned_tokens_are_refused() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef");
        let expired = signer
            .issue(Scope::ServerAccess, None, now() - 7200)
            .unwrap();
        assert!(matches!(
            signer.verify(&expired),
            Err(ApiError::TokenExpired)
        ));

        let other = TokenSigner::new(b"another secret, just as long....");
        let forged = other.issue(Scope::ServerAccess, None, now()).unwrap();
        assert!(matches!(
            signer.verify(&forged),
            Err(ApiError::InvalidToken)
        ));

        let claims = URL_SAFE_NO_PAD.encode(
            format!(
                r#"{{"scope":"SERVER_ACCESS","iat":{},"exp":{},"jti":"x"}}"#,
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
