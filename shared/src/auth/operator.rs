//! Operators' tokens: ID tokens (or Cognito access tokens) from the
//! organisation's OpenID provider, checked against its published keys.
//!
//! Checked: the signature, with an asymmetric algorithm only and a key of
//! the issuer's JWKS named by the token's `kid`; `iss` exactly; the
//! audience (`aud` holds our client, or, for a Cognito access token, which
//! has no `aud`, `client_id` is it); `exp` and `nbf` (30 s of leeway for
//! clocks); and a role in the configured role claim.
//!
//! The JWKS is fetched once per instance and kept. A token naming a key we
//! do not hold makes us fetch it again, at most once every
//! `OIDC_JWKS_MIN_REFRESH_SECONDS` (so unknown `kid`s cannot make us hammer
//! the provider), which is how a rotation at the provider is followed; and
//! after an hour it is fetched again anyway, so a withdrawn key stops
//! working.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::Role;
use crate::error::ApiError;

/// The identity provider, as configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    /// `OIDC_ISSUER`: the exact `iss` of its tokens.
    pub issuer: String,
    /// `OIDC_AUDIENCE`: our client id there.
    pub audience: String,
    /// `OIDC_ROLE_CLAIM` (default `cognito:groups`): the claim that names
    /// the operator's groups or roles, a string or an array of strings.
    pub role_claim: String,
    /// `OIDC_JWKS_URL`; when unset, the discovery document's `jwks_uri`.
    pub jwks_url: Option<String>,
    /// `OIDC_JWKS_MIN_REFRESH_SECONDS` (default 10).
    pub min_refresh: Duration,
}

/// A person signed in through the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The provider's `sub`: stable, and no personal data.
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Role,
}

/// How long fetched keys are trusted without a fetch.
const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);

/// Leeway for `exp` and `nbf`: the provider's clock and ours differ a little.
const LEEWAY_SECONDS: u64 = 30;

/// The asymmetric algorithms accepted. A symmetric one (HS256) would let
/// anyone holding the client's secret, or a public key misread as one,
/// sign operators' tokens.
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

#[derive(Debug, Default)]
struct Keys {
    set: Option<JwkSet>,
    fetched: Option<Instant>,
}

/// Checks operators' tokens; one per instance, its keys shared by clones.
#[derive(Debug, Clone)]
pub struct OperatorVerifier {
    oidc: Oidc,
    http: reqwest::Client,
    keys: Arc<Mutex<Keys>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl OperatorVerifier {
    pub fn new(oidc: Oidc) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .user_agent("users-api-oidc/1")
            .build()
            .map_err(|e| ApiError::internal_from("building the JWKS client", e))?;
        Ok(Self {
            oidc,
            http,
            keys: Arc::new(Mutex::new(Keys::default())),
        })
    }

    pub fn oidc(&self) -> &Oidc {
        &self.oidc
    }

    /// The operator a token proves, or why not: `TokenExpired` for an
    /// expired token, `InvalidToken` for every other defect, and 403 for a
    /// valid token that names no role of ours.
    pub async fn verify(&self, token: &str) -> Result<Operator, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::InvalidToken)?;
        if header.crit.is_some() || !ALGORITHMS.contains(&header.alg) {
            return Err(ApiError::InvalidToken);
        }
        let kid = header.kid.ok_or(ApiError::InvalidToken)?;
        let key = self.key(&kid, header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[self.oidc.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = match jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation) {
            Ok(data) => data.claims,
            Err(err)
                if matches!(
                    err.kind(),
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature
                ) =>
            {
                return Err(ApiError::TokenExpired)
            }
            Err(_) => return Err(ApiError::InvalidToken),
        };
        if !self.for_us(&claims) {
            return Err(ApiError::InvalidToken);
        }
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let subject = text("sub")
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or(ApiError::InvalidToken)?;
        let role = match claims.get(&self.oidc.role_claim) {
            Some(Value::String(one)) => Role::highest([one.as_str()]),
            Some(Value::Array(many)) => Role::highest(many.iter().filter_map(Value::as_str)),
            _ => None,
        }
        .ok_or(ApiError::Forbidden(
            "You are signed in, but your account has no role here (admin, editor or viewer).",
        ))?;
        Ok(Operator {
            subject,
            email: text("email"),
            name: text("name"),
            role,
        })
    }

    /// Whether the token was issued to our client: `aud` (a string or an
    /// array) holds it, or, with no `aud` (Cognito's access tokens),
    /// `client_id` is it.
    fn for_us(&self, claims: &Map<String, Value>) -> bool {
        let ours = self.oidc.audience.as_str();
        match claims.get("aud") {
            Some(Value::String(aud)) => aud == ours,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(ours)),
            Some(_) => false,
            None => claims.get("client_id").and_then(Value::as_str) == Some(ours),
        }
    }

    /// The decoding key `kid` names, fetching the JWKS when we lack it.
    async fn key(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, ApiError> {
        let mut keys = self.keys.lock().await;
        let stale = keys.fetched.is_none_or(|at| at.elapsed() >= KEYS_MAX_AGE);
        let known = keys.set.as_ref().is_some_and(|set| set.find(kid).is_some());
        let may_fetch = keys
            .fetched
            .is_none_or(|at| at.elapsed() >= self.oidc.min_refresh);
        if stale || (!known && may_fetch) {
            match self.fetch().await {
                Ok(set) => {
                    keys.set = Some(set);
                    keys.fetched = Some(Instant::now());
                }
                // Keys we hold still work while the provider is away.
                Err(err) if keys.set.is_some() => {
                    tracing::warn!(error = %crate::error::Chain(&err), "oidc: the JWKS could not be fetched again; using the keys held");
                }
                Err(err) => return Err(err),
            }
        }
        let jwk = keys
            .set
            .as_ref()
            .and_then(|set| set.find(kid))
            .ok_or(ApiError::InvalidToken)?;
        // The key must be an asymmetric key of the token's algorithm family,
        // and, if it names an algorithm, exactly the token's.
        let family_fits = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            AlgorithmParameters::EllipticCurve(_) => {
                matches!(alg, Algorithm::ES256 | Algorithm::ES384)
            }
            AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
            // A symmetric key has no place in a public key set.
            _ => false,
        };
        let alg_fits = jwk
            .common
            .key_algorithm
            .is_none_or(|named| format!("{named:?}") == format!("{alg:?}"));
        if !family_fits || !alg_fits {
            return Err(ApiError::InvalidToken);
        }
        DecodingKey::from_jwk(jwk).map_err(|_| ApiError::InvalidToken)
    }

    /// The provider's JWKS: from `OIDC_JWKS_URL`, or through discovery,
    /// whose `issuer` must be the configured one.
    async fn fetch(&self) -> Result<JwkSet, ApiError> {
        let url = match &self.oidc.jwks_url {
            Some(url) => url.clone(),
            None => {
                let at = format!(
                    "{}/.well-known/openid-configuration",
                    self.oidc.issuer.trim_end_matches('/')
                );
                let discovery: Discovery = self.get_json(&at).await?;
                if discovery.issuer != self.oidc.issuer {
                    return Err(ApiError::internal(
                        "the OpenID provider's discovery names another issuer than OIDC_ISSUER",
                    ));
                }
                discovery.jwks_uri
            }
        };
        self.get_json(&url).await
    }

    /// A JSON document of the provider's. When the provider cannot be
    /// reached, the caller is told to retry (503), never that its token is
    /// bad: the fault is ours, or the provider's.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, ApiError> {
        let answer = match self.http.get(url).send().await {
            Ok(answer) => answer.error_for_status(),
            Err(err) => Err(err),
        };
        let document = match answer {
            Ok(answer) => answer.json().await,
            Err(err) => Err(err),
        };
        document.map_err(|err| {
            tracing::error!(error = %crate::error::Chain(&err), url, "oidc: the OpenID provider's keys could not be fetched");
            ApiError::ServiceUnavailable
        })
    }
}
