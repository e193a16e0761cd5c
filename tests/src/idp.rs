//! The real local identity provider for tests: `node infra/idp/idp.mjs`
//! (npm `oidc-provider`, as `make dev` runs it) on a free port of 127.0.0.1,
//! with one operator per role and random passwords, and ID tokens obtained
//! the way the dashboard obtains them: Authorization Code with PKCE (S256),
//! `state` and `nonce`, through its own login form, over HTTP. Tests that
//! need tokens no honest provider issues (expired, foreign, unsigned) use
//! [`crate::operators`] instead.
//!
//! The provider's modules are installed by `infra/scripts/tools.sh` (into
//! `.tools/idp`), which `make test` runs.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::distr::{Alphanumeric, SampleString};
use rand::RngCore;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode, Url};
use serde_json::{json, Value};
use tokio::process::{Child, ChildStdin, Command};

/// The dashboard's client id at the local provider: its one client.
pub const CLIENT_ID: &str = "dashboard";

/// The claim of the provider's ID tokens that names the operator's role.
pub const ROLE_CLAIM: &str = "groups";

/// The scopes the dashboard asks for.
pub const SCOPES: &str = "openid email profile";

/// The redirect URI when a test names none: the provider's own default
/// (make dev's dashboard). The flow never follows it, so nothing need listen.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:9000/";

/// One seeded operator.
#[derive(Debug, Clone)]
pub struct Operator {
    pub email: String,
    pub password: String,
    pub name: String,
    /// `admin`, `editor` or `viewer`: the ID token's `groups` is `[role]`.
    pub role: String,
    /// The `sub` the provider gives this operator (see [`subject_of`]).
    pub subject: String,
}

/// What a successful sign-in got from the token endpoint.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The ID token: the dashboard's bearer for the API.
    pub id_token: String,
    /// The provider's own (opaque) access token, for its userinfo endpoint.
    pub access_token: String,
    /// The nonce sent with the authorization request; the ID token echoes it.
    pub nonce: String,
}

/// A sign-in that ended without a code: the page or error the provider
/// answered instead (a wrong password: 200 and the login form again).
#[derive(Debug, Clone)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

/// A running provider; stopped (SIGTERM, by its PID) when dropped.
pub struct Idp {
    child: Child,
    /// The write end of the provider's stdin: it exits when this closes, so
    /// a test killed outright leaves no provider behind.
    _stdin: Option<ChildStdin>,
    issuer: String,
    redirect_uri: String,
    operators: Vec<Operator>,
    http: reqwest::Client,
}

/// The subject idp.mjs gives an operator: the first 32 hex digits of the
/// SHA-256 of the lower-cased email, so it is stable across restarts.
pub fn subject_of(email: &str) -> String {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, email.to_lowercase().as_bytes());
    digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The header and payload of a JWT, decoded but NOT verified: for tests to
/// look at what the provider put in.
pub fn decode_unverified(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || {
        let text = parts.next().expect("a JWT has three parts");
        let bytes = URL_SAFE_NO_PAD.decode(text).expect("base64url");
        serde_json::from_slice::<Value>(&bytes).expect("a JSON part")
    };
    let header = part();
    let payload = part();
    (header, payload)
}

fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Writes the operators to a new file only its owner can read: the
/// provider reads their passwords there, never from a command line.
fn write_operators(operators: &[Operator]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("idp-operators-{}.json", uuid::Uuid::new_v4()));
    let list: Vec<Value> = operators
        .iter()
        .map(|op| json!({"email": op.email, "password": op.password, "name": op.name, "role": op.role}))
        .collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("create the operators file");
    file.write_all(&serde_json::to_vec(&list).expect("JSON"))
        .expect("write the operators file");
    path
}

/// Cookies by name, as a browser would keep them for the provider's one
/// origin (paths aside: sending the provider all its cookies is harmless).
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn keep(&mut self, response: &Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            // The provider clears a cookie by setting it empty, expired.
            if value.is_empty() {
                self.0.remove(name.trim());
            } else {
                self.0.insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The next request of the browser-like walk through the sign-in.
enum Step {
    Get(Url),
    Post(Url, String),
}

impl Idp {
    /// A provider whose `dashboard` client accepts `redirect_uris` (none:
    /// [`DEFAULT_REDIRECT_URI`]); sign-ins redirect to the first one.
    pub async fn start(redirect_uris: &[&str]) -> Self {
        Self::start_with(redirect_uris, &[]).await
    }

    /// As [`Idp::start`], with more of idp.mjs's settings in its
    /// environment, such as `("IDP_TTL_ID_TOKEN", "2")` for ID tokens that
    /// expire soon, or `("IDP_ALG", "ES256")`.
    pub async fn start_with(redirect_uris: &[&str], env: &[(&str, &str)]) -> Self {
        let redirect_uris: Vec<&str> = if redirect_uris.is_empty() {
            vec![DEFAULT_REDIRECT_URI]
        } else {
            redirect_uris.to_vec()
        };
        let root = root();
        assert!(
            root.join(".tools/idp/node_modules/oidc-provider/package.json")
                .exists(),
            "the local identity provider is not installed: run `bash infra/scripts/tools.sh test` (make test does)"
        );
        let operators: Vec<Operator> = [
            ("admin", "Ada Admin"),
            ("editor", "Eddie Editor"),
            ("viewer", "Vera Viewer"),
        ]
        .into_iter()
        .map(|(role, name)| {
            let email = format!("{role}@example.test");
            Operator {
                subject: subject_of(&email),
                email,
                password: Alphanumeric.sample_string(&mut rand::rng(), 24),
                name: name.to_owned(),
                role: role.to_owned(),
            }
        })
        .collect();
        let file = write_operators(&operators);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");

        // A free port can be taken between our look and the provider's bind:
        // another try on another port then.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let issuer = format!("http://127.0.0.1:{port}");
            let mut child = Command::new("node")
                .arg(root.join("infra/idp/idp.mjs"))
                .env("IDP_PORT", port.to_string())
                .env("IDP_OPERATORS_FILE", &file)
                .env("IDP_REDIRECT_URIS", redirect_uris.join(","))
                .env("IDP_ADMIN", "1")
                .env("IDP_EXIT_WITH_STDIN", "1")
                .envs(env.iter().copied())
                .current_dir(&root)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("node is installed (make test needs Node.js)");
            let stdin = child.stdin.take();
            match wait_ready(&http, &issuer, &mut child).await {
                Ok(()) => {
                    // The provider has read its operators: the file goes.
                    remove(&file);
                    return Self {
                        child,
                        _stdin: stdin,
                        issuer,
                        redirect_uri: redirect_uris[0].to_owned(),
                        operators,
                        http,
                    };
                }
                Err(err) => {
                    last_error = err;
                    let _ = child.start_kill();
                }
            }
        }
        remove(&file);
        panic!("the identity provider did not start: {last_error}");
    }

    /// Its issuer, exactly as its tokens' `iss`: `http://127.0.0.1:<port>`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The dashboard's client id: the ID tokens' `aud`.
    pub fn client_id(&self) -> &'static str {
        CLIENT_ID
    }

    /// The redirect URI sign-ins use (the first one given).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The seeded operators: admin, editor, viewer, in that order.
    pub fn operators(&self) -> &[Operator] {
        &self.operators
    }

    /// The operator of `role` (`admin`, `editor` or `viewer`).
    pub fn operator(&self, role: &str) -> &Operator {
        self.operators
            .iter()
            .find(|op| op.role == role)
            .unwrap_or_else(|| panic!("no operator has the role {role:?}"))
    }

    /// What the functions need to accept this provider's ID tokens, as
    /// `make dev` gives them (for an env file such as Watch's).
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OIDC_ISSUER", self.issuer.clone()),
            ("OIDC_AUDIENCE", CLIENT_ID.into()),
            ("OIDC_CLIENT_ID", CLIENT_ID.into()),
            ("OIDC_ROLE_CLAIM", ROLE_CLAIM.into()),
        ]
    }

    /// Its OpenID discovery document.
    pub async fn discovery(&self) -> Value {
        self.get_json(&format!("{}/.well-known/openid-configuration", self.issuer))
            .await
    }

    /// Its JWKS (the public keys, newest first), read from the `jwks_uri`
    /// that discovery names.
    pub async fn jwks(&self) -> Value {
        let discovery = self.discovery().await;
        let uri = discovery["jwks_uri"]
            .as_str()
            .expect("discovery names jwks_uri");
        self.get_json(uri).await
    }

    /// A new signing key, first in the JWKS from now on (new tokens carry its
    /// `kid`); the old keys stay published. Returns the new key's `kid`.
    pub async fn rotate(&self) -> String {
        let answer = self
            .http
            .post(format!("{}/__rotate", self.issuer))
            .send()
            .await
            .expect("POST /__rotate");
        assert_eq!(answer.status(), StatusCode::OK, "POST /__rotate");
        let body: Value = answer.json().await.expect("JSON");
        body["kid"].as_str().expect("the new kid").to_owned()
    }

    /// A fresh ID token of the operator of `role`, through the whole
    /// sign-in (see [`Idp::sign_in`]).
    pub async fn id_token(&self, role: &str) -> String {
        let operator = self.operator(role).clone();
        match self.sign_in(&operator.email, &operator.password).await {
            Ok(tokens) => tokens.id_token,
            Err(refused) => panic!(
                "{role} could not sign in: {} {}",
                refused.status, refused.body
            ),
        }
    }

    /// Signs in as a browser would, with a cookie jar of its own: GET the
    /// authorization endpoint (code, PKCE S256, state, nonce), follow the
    /// redirects to the login form, POST the credentials, follow the
    /// redirects (consent is automatic) until the one to the redirect URI,
    /// which is read, not followed; check its `state` and `iss`; and trade
    /// the code with the verifier at the token endpoint. A sign-in that
    /// gets no code answers what it got instead.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Tokens, Refused> {
        let verifier = random_text(32);
        let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.as_bytes(),
        ));
        let state = random_text(16);
        let nonce = random_text(16);
        let authorize = Url::parse_with_params(
            &format!("{}/auth", self.issuer),
            &[
                ("client_id", CLIENT_ID),
                ("response_type", "code"),
                ("scope", SCOPES),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("state", state.as_str()),
                ("nonce", nonce.as_str()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .expect("the authorization URL");
        let redirect = Url::parse(&self.redirect_uri).expect("a redirect URI");

        let mut jar = Jar::default();
        let mut step = Step::Get(authorize);
        let mut posted = false;
        let callback = 'walk: {
            for _ in 0..20 {
                let (url, request) = match step {
                    Step::Get(url) => (url.clone(), self.http.get(url)),
                    Step::Post(url, body) => (
                        url.clone(),
                        self.http
                            .post(url)
                            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                            .body(body),
                    ),
                };
                let response = request
                    .header(COOKIE, jar.header())
                    .send()
                    .await
                    .expect("a request to the identity provider");
                jar.keep(&response);
                let status = response.status();
                if status.is_redirection() {
                    let location = response
                        .headers()
                        .get(LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .expect("a redirect has a Location");
                    let next = url.join(location).expect("a Location URL");
                    if next.origin() == redirect.origin() && next.path() == redirect.path() {
                        break 'walk next;
                    }
                    step = Step::Get(next);
                    continue;
                }
                let body = response.text().await.unwrap_or_default();
                let form = (status == StatusCode::OK && !posted)
                    .then(|| form_action(&body))
                    .flatten();
                match form {
                    Some(action) => {
                        posted = true;
                        let fields = form_urlencoded::Serializer::new(String::new())
                            .append_pair("email", email)
                            .append_pair("password", password)
                            .finish();
                        step = Step::Post(url.join(&action).expect("the form's action"), fields);
                    }
                    None => {
                        return Err(Refused {
                            status: status.as_u16(),
                            body,
                        })
                    }
                }
            }
            panic!("the sign-in did not reach the redirect URI within 20 requests");
        };

        let query: BTreeMap<String, String> = callback.query_pairs().into_owned().collect();
        if let Some(error) = query.get("error") {
            return Err(Refused {
                status: 303,
                body: format!(
                    "{error}: {}",
                    query.get("error_description").map_or("", String::as_str)
                ),
            });
        }
        assert_eq!(
            query.get("state"),
            Some(&state),
            "the redirect echoes our state"
        );
        assert_eq!(
            query.get("iss").map(String::as_str),
            Some(self.issuer.as_str()),
            "the redirect names its issuer (RFC 9207)"
        );
        let code = query.get("code").expect("the redirect carries a code");
        let fields = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("client_id", CLIENT_ID)
            .append_pair("code_verifier", &verifier)
            .finish();
        let answer = self
            .http
            .post(format!("{}/token", self.issuer))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(fields)
            .send()
            .await
            .expect("POST /token");
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "the token endpoint: {body}");
        let tokens: Value = serde_json::from_str(&body).expect("JSON tokens");
        Ok(Tokens {
            id_token: tokens["id_token"].as_str().expect("an id_token").to_owned(),
            access_token: tokens["access_token"]
                .as_str()
                .expect("an access_token")
                .to_owned(),
            nonce,
        })
    }

    async fn get_json(&self, url: &str) -> Value {
        let answer = self.http.get(url).send().await.expect("GET the provider");
        assert_eq!(answer.status(), StatusCode::OK, "GET {url}");
        answer.json().await.expect("JSON")
    }
}

/// The action of the login form in `page`, if it is one (it has a password
/// field).
fn form_action(page: &str) -> Option<String> {
    if !page.contains("name=\"password\"") {
        return None;
    }
    let start = page.find("action=\"")? + "action=\"".len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].replace("&amp;", "&"))
}

/// Waits until the provider's discovery names `issuer`, for at most 30 s,
/// or until it exits (its port was taken).
async fn wait_ready(http: &reqwest::Client, issuer: &str, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("{issuer}/.well-known/openid-configuration");
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("node exited during start-up ({status})"));
        }
        if let Ok(answer) = http.get(&url).send().await {
            if answer.status() == StatusCode::OK {
                let doc: Value = answer.json().await.unwrap_or_default();
                if doc["issuer"] == issuer {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!("no discovery at {url} within 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

impl Drop for Idp {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-s", "TERM", &pid.to_string()])
                .status();
        }
    }
}
