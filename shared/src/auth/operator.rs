//! Operators' tokens: ID tokens (or Cognito access tokens) from the
//! organisation's OpenID provider, checked against its published keys.
//!
//! Checked: the signature, with an asymmetric algorithm only and a key of
//! the issuer's JWKS named by the token's `kid`; `iss` exactly; the
//! audience (`aud` holds our client, or, for a Cognito access token, which
//! has no `aud`, `client_id` is it; with several audiences, `azp` is it);
//! `exp` and `nbf` (30 s of leeway for clocks); and a role in the
//! configured role claim. Keys marked for encryption are not used.
//!
//! The JWKS is fetched once per instance and kept. A token naming a key we
//! do not hold makes us fetch it again, at most once every
//! `OIDC_JWKS_MIN_REFRESH_SECONDS` (so unknown `kid`s cannot make us hammer
//! the provider), which is how a rotation at the provider is followed; and
//! after an hour it is fetched again anyway, so a withdrawn key stops
//! working.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::Notify;

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

/// Why an operator's token was refused, and, when its signature, issuer
/// and audience held, whom it names.
#[derive(Debug)]
pub struct Refusal {
    pub error: ApiError,
    pub subject: Option<String>,
}

impl Refusal {
    fn invalid() -> Self {
        ApiError::InvalidToken.into()
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            subject: None,
        }
    }
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

/// How long a fetch of the provider's keys may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// When the set was last fetched.
    fetched: Option<Instant>,
    /// When a fetch was last begun, whatever came of it.
    attempted: Option<Instant>,
    /// Whether a fetch is under way.
    fetching: bool,
}

/// Marks the fetch under way as over when dropped, and wakes the requests
/// waiting for it: also when the request is dropped (a Lambda timeout), so
/// a fetch never stays "under way" for good.
struct Fetching<'a> {
    keys: &'a Mutex<Keys>,
    done: &'a Notify,
}

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.fetching = false;
        }
        self.done.notify_waiters();
    }
}

fn poisoned() -> ApiError {
    ApiError::internal("the operators' key cache lock is poisoned")
}

/// Checks operators' tokens; one per instance, its keys shared by clones.
#[derive(Debug, Clone)]
pub struct OperatorVerifier {
    oidc: Oidc,
    /// Built on the first fetch: most instances (the stream's and the
    /// queue's functions, and those only servers call) never fetch, and
    /// pay nothing for it at cold start.
    http: Arc<OnceLock<reqwest::Client>>,
    keys: Arc<Mutex<Keys>>,
    /// Wakes the requests waiting for a fetch under way.
    fetched: Arc<Notify>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl OperatorVerifier {
    pub fn new(oidc: Oidc) -> Self {
        Self {
            oidc,
            http: Arc::new(OnceLock::new()),
            keys: Arc::new(Mutex::new(Keys::default())),
            fetched: Arc::new(Notify::new()),
        }
    }

    /// The HTTP client of the fetches, built once.
    fn http(&self) -> Result<&reqwest::Client, ApiError> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(FETCH_TIMEOUT)
            .user_agent("users-api-oidc/1")
            .build()
            .map_err(|e| ApiError::internal_from("building the JWKS client", e))?;
        Ok(self.http.get_or_init(|| client))
    }

    /// The operator a token proves, or why not: `TokenExpired` for an
    /// expired token, `InvalidToken` for every other defect, and 403 for a
    /// valid token that names no role of ours.
    pub async fn verify(&self, token: &str) -> Result<Operator, ApiError> {
        self.check(token).await.map_err(|refusal| refusal.error)
    }

    /// [`OperatorVerifier::verify`], saying also, of a refused token whose
    /// signature, issuer and audience held (expired, or with no role), whom
    /// it names: a refused sign-in is then recorded as that operator's.
    pub async fn check(&self, token: &str) -> Result<Operator, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::invalid())?;
        if header.crit.is_some() || !ALGORITHMS.contains(&header.alg) {
            return Err(Refusal::invalid());
        }
        let kid = header.kid.ok_or_else(Refusal::invalid)?;
        let key = self.key(&kid, header.alg).await.map_err(Refusal::from)?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        // Expiry is judged below, once the token is known to be genuine and
        // ours, so that an expired one still says whom it names.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[self.oidc.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|_| Refusal::invalid())?
            .claims;
        if !self.for_us(&claims) {
            return Err(Refusal::invalid());
        }
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let subject = text("sub")
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or_else(Refusal::invalid)?;
        let refused = |error| Refusal {
            error,
            subject: Some(subject.clone()),
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp.saturating_add(LEEWAY_SECONDS as i64) > now => {}
            Some(_) => return Err(refused(ApiError::TokenExpired)),
            None => return Err(Refusal::invalid()),
        }
        let role = match claims.get(&self.oidc.role_claim) {
            Some(Value::String(one)) => Role::highest([one.as_str()]),
            Some(Value::Array(many)) => Role::highest(many.iter().filter_map(Value::as_str)),
            _ => None,
        }
        .ok_or_else(|| {
            refused(ApiError::Forbidden(
                "You are signed in, but your account has no role here (admin, editor or viewer).",
            ))
        })?;
        // An email the provider has not verified may be anyone's (some
        // providers let users edit it): it never names the actor.
        let verified = matches!(claims.get("email_verified"), Some(Value::Bool(true)))
            || claims.get("email_verified").and_then(Value::as_str) == Some("true");
        Ok(Operator {
            subject,
            email: text("email").filter(|_| verified),
            name: text("name").or_else(|| text("preferred_username")),
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
            // Several audiences: OpenID Connect's `azp` must then name us as
            // the party the token was issued to.
            Some(Value::Array(auds)) => {
                auds.iter().any(|a| a.as_str() == Some(ours))
                    && (auds.len() == 1 || claims.get("azp").and_then(Value::as_str) == Some(ours))
            }
            Some(_) => false,
            None => claims.get("client_id").and_then(Value::as_str) == Some(ours),
        }
    }

    /// The decoding key `kid` names, fetching the JWKS when we lack it.
    ///
    /// The lock over the keys is never held across a fetch: a request whose
    /// key is held never waits for one. One fetch at a time, and attempts
    /// (failed ones too) at most once every `min_refresh`, so neither
    /// unknown `kid`s nor a provider that errors make us hammer it.
    async fn key(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, ApiError> {
        let (held, fetch, in_flight) = {
            let mut keys = self.keys.lock().map_err(|_| poisoned())?;
            let held = keys.set.as_ref().and_then(|set| set.find(kid)).cloned();
            let stale = keys.fetched.is_none_or(|at| at.elapsed() >= KEYS_MAX_AGE);
            let may_attempt = !keys.fetching
                && keys
                    .attempted
                    .is_none_or(|at| at.elapsed() >= self.oidc.min_refresh);
            let fetch = (stale || held.is_none()) && may_attempt;
            if fetch {
                keys.fetching = true;
                keys.attempted = Some(Instant::now());
            }
            (held, fetch, keys.fetching)
        };
        let jwk = if fetch {
            let fetching = Fetching {
                keys: &self.keys,
                done: &self.fetched,
            };
            let fetched = self.fetch().await;
            let mut keys = self.keys.lock().map_err(|_| poisoned())?;
            match fetched {
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
            let jwk = keys.set.as_ref().and_then(|set| set.find(kid)).cloned();
            drop(keys);
            // Only now, with what it brought in place, is the fetch over.
            drop(fetching);
            jwk
        } else if held.is_none() {
            // Another request is fetching: what it brings may hold this key.
            if in_flight {
                self.wait_for_fetch().await?;
            }
            let keys = self.keys.lock().map_err(|_| poisoned())?;
            match &keys.set {
                // No key at all yet, and the fetch failed: the fault is not
                // the token's.
                None => return Err(ApiError::ServiceUnavailable),
                Some(set) => set.find(kid).cloned(),
            }
        } else {
            held
        };
        let jwk = jwk.ok_or(ApiError::InvalidToken)?;
        if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
            return Err(ApiError::InvalidToken);
        }
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
        DecodingKey::from_jwk(&jwk).map_err(|_| ApiError::InvalidToken)
    }

    /// Waits for the fetch under way to end (at most as long as a fetch may
    /// take), so that requests arriving together with an unknown key all
    /// use what the one fetch brings.
    async fn wait_for_fetch(&self) -> Result<(), ApiError> {
        let done = self.fetched.notified();
        tokio::pin!(done);
        // Registered before looking, so an end in between is not missed.
        done.as_mut().enable();
        if !self.keys.lock().map_err(|_| poisoned())?.fetching {
            return Ok(());
        }
        let _ = tokio::time::timeout(FETCH_TIMEOUT, done).await;
        Ok(())
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
        let answer = match self.http()?.get(url).send().await {
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
