//! A test identity provider for operators' tokens: a real HTTP server on
//! 127.0.0.1 serving OpenID discovery and a JWKS of ES256 keys it generates,
//! and minting tokens with them, valid or defective as a test asks (expired,
//! for another audience, from another issuer, signed by a key it never
//! published), and rotating its keys. The dashboard's browser tests use the
//! real local provider (`infra/idp`, through [`crate::idp`]); these tests
//! need tokens no honest provider would issue.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use shared::auth::{Oidc, Role};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The audience (client id) of the tests' tokens.
pub const AUDIENCE: &str = "dashboard-tests";

/// The claim that names the operator's role in the tests' tokens.
pub const ROLE_CLAIM: &str = "groups";

/// An ES256 key: its PKCS#8 document, to sign, and its public JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pkcs8: Vec<u8>,
    pub jwk: Value,
}

impl SigningKey {
    pub fn generate(kid: &str) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("an ES256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("the key just made");
        // An uncompressed point: 0x04, then x and y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            "kid": kid,
            "alg": "ES256",
            "use": "sig",
        });
        Self {
            kid: kid.to_owned(),
            pkcs8: pkcs8.as_ref().to_vec(),
            jwk,
        }
    }

    /// `claims`, signed with this key under its `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8))
            .expect("a signed token")
    }
}

#[derive(Default)]
struct Published {
    keys: Vec<SigningKey>,
    fetches: usize,
}

/// The provider: its issuer URL, the key it signs with, the keys it publishes.
pub struct TestIdp {
    pub issuer: String,
    signing: Mutex<SigningKey>,
    published: Arc<Mutex<Published>>,
    generation: AtomicUsize,
    task: JoinHandle<()>,
}

impl TestIdp {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the IdP");
        let issuer = format!(
            "http://{}",
            listener.local_addr().expect("the IdP's address")
        );
        let key = SigningKey::generate("key-1");
        let published = Arc::new(Mutex::new(Published {
            keys: vec![key.clone()],
            fetches: 0,
        }));
        let shared = published.clone();
        let base = issuer.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let published = shared.clone();
                let base = base.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let answer = answer(&published, &base, req.uri().path());
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            issuer,
            signing: Mutex::new(key),
            published,
            generation: AtomicUsize::new(1),
            task,
        }
    }

    /// The configuration that trusts this provider: discovery, no minimum
    /// wait between fetches of its keys.
    pub fn oidc(&self) -> Oidc {
        Oidc {
            issuer: self.issuer.clone(),
            audience: AUDIENCE.to_owned(),
            role_claim: ROLE_CLAIM.to_owned(),
            jwks_url: None,
            min_refresh: Duration::ZERO,
        }
    }

    /// The claims of a valid ID token for an operator of `role`, for an hour.
    pub fn claims(&self, role: Role) -> Value {
        let now = crate::time_now();
        json!({
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": format!("{}-subject", role.as_str()),
            "email": format!("{}@example.test", role.as_str()),
            "email_verified": true,
            "name": format!("Test {}", role.as_str()),
            ROLE_CLAIM: [role.as_str()],
            "iat": now,
            "exp": now + 3600,
            "nonce": "n",
        })
    }

    /// A valid token of an operator of `role`.
    pub fn token(&self, role: Role) -> String {
        self.sign(&self.claims(role))
    }

    /// `claims`, signed with the key the provider signs with now.
    pub fn sign(&self, claims: &Value) -> String {
        self.signing.lock().unwrap().sign(claims)
    }

    /// A new key: published beside the old one, and signing from now on.
    pub fn rotate(&self) -> SigningKey {
        let n = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let key = SigningKey::generate(&format!("key-{n}"));
        self.published.lock().unwrap().keys.push(key.clone());
        *self.signing.lock().unwrap() = key.clone();
        key
    }

    /// Publishes only the key it signs with now: older keys are withdrawn.
    pub fn withdraw_older_keys(&self) {
        let current = self.signing.lock().unwrap().kid.clone();
        self.published
            .lock()
            .unwrap()
            .keys
            .retain(|k| k.kid == current);
    }

    /// How many times its JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.published.lock().unwrap().fetches
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(published: &Mutex<Published>, issuer: &str, path: &str) -> Response<Full<Bytes>> {
    let body = match path {
        "/.well-known/openid-configuration" => json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/jwks"),
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "id_token_signing_alg_values_supported": ["ES256"],
        }),
        "/jwks" => {
            let mut published = published.lock().unwrap();
            published.fetches += 1;
            json!({"keys": published.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
        }
        _ => {
            return Response::builder()
                .status(404)
                .body(Full::new(Bytes::new()))
                .expect("a response")
        }
    };
    Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a response")
}
