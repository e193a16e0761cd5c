//! Configuration, read once at cold start from the environment.

use std::env::VarError;
use std::time::Duration;

use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::auth::{KeyCheck, Oidc, OperatorVerifier, TokenSigner};
use crate::error::ApiError;
use crate::queue::Queue;
use crate::rotation::Keyring;
use crate::store::Store;
use crate::webhook::target::TargetPolicy;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// What a function needs from its configuration. Checked once, at cold
/// start: a function that lacks what it needs does not start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// `TOKEN_SECRET`, to check (or sign) access tokens.
    pub tokens: bool,
    /// `CURSOR_KEY`, to sign and check pagination cursors.
    pub cursors: bool,
    /// `WEBHOOK_KEY`, to seal or open webhook signing secrets.
    pub webhook_key: bool,
    /// `WEBHOOK_QUEUE_URL`, to hand deliveries to the webhook queue.
    pub queue: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// How long DELETE /users/{id} works before it hands over to the purge function.
    pub delete_budget: Duration,
    /// How many BatchWriteItem calls a deletion keeps in flight.
    pub delete_parallelism: usize,
    /// How long an ingest holds its connection (`INGEST_LEASE_MS`): longer
    /// than ingest-connection may run, so a lease outlives its ingest.
    pub ingest_lease: Duration,
    /// The base of the links in responses (`PUBLIC_BASE_URL`), when set.
    pub public_base_url: Option<String>,
    /// Signs pagination cursors so that clients cannot forge them
    /// (`CURSOR_KEY`, at least 16 bytes, and during a rotation
    /// `CURSOR_KEY_PREVIOUS` until `CURSOR_KEY_PREVIOUS_UNTIL`). Only the
    /// functions that page need it, so only they are given the secret.
    pub cursor_key: Option<Keyring>,
    /// Signs and checks access tokens (`TOKEN_SECRET`, at least 32 bytes,
    /// and during a rotation `TOKEN_SECRET_PREVIOUS` until
    /// `TOKEN_SECRET_PREVIOUS_UNTIL`). Only the functions that check tokens
    /// are given the secret.
    pub tokens: Option<TokenSigner>,
    /// Seals webhook signing secrets at rest (`WEBHOOK_KEY`, at least 32
    /// bytes, rotated as the others are). Only the functions that seal or
    /// open a secret are given it.
    pub webhook_key: Option<Keyring>,
    /// The webhook delivery queue (`WEBHOOK_QUEUE_URL`).
    pub webhook_queue_url: Option<String>,
    /// Where webhooks may be sent: locally (`WEBHOOK_LOCAL_TARGETS=1`, never
    /// in AWS) also to this machine, over http.
    pub webhook_targets: TargetPolicy,
    /// The operators' identity provider (`OIDC_ISSUER`, `OIDC_AUDIENCE`,
    /// `OIDC_ROLE_CLAIM`, `OIDC_JWKS_URL`); without an issuer, only API-key
    /// tokens are accepted.
    pub oidc: Option<Oidc>,
    /// How long an instance trusts what it read of an API key
    /// (`KEY_CHECK_SECONDS`, default 60): the bound on how long a revoked
    /// key's tokens keep working.
    pub key_check: Duration,
    /// How long audit entries are kept (`AUDIT_RETENTION_DAYS`, default
    /// 2,557: seven years), after which TTL expires them.
    pub audit_retention_days: u64,
}

impl Config {
    pub fn from_env(needs: Needs) -> Result<Self, ConfigError> {
        Self::from_vars(needs, |name| std::env::var(name))
    }

    /// The configuration these variables give, `var` answering as
    /// [`std::env::var`] does: [`Config::from_env`] without the process's
    /// environment, for tests.
    pub fn from_vars(
        needs: Needs,
        var: impl Fn(&str) -> Result<String, VarError>,
    ) -> Result<Self, ConfigError> {
        let table_name =
            var("TABLE_NAME").map_err(|_| ConfigError("TABLE_NAME is not set".into()))?;
        let delete_budget = Duration::from_millis(number(&var, "DELETE_BUDGET_MS", 20_000)?);
        let delete_parallelism = number(&var, "DELETE_PARALLELISM", 8)?.max(1) as usize;
        let ingest_lease = Duration::from_millis(number(&var, "INGEST_LEASE_MS", 60_000)?);
        let public_base_url = var("PUBLIC_BASE_URL")
            .ok()
            .map(|base| base.trim_end_matches('/').to_owned())
            .filter(|base| !base.is_empty());
        let cursor_key = keyring(&var, "CURSOR_KEY", 16, needs.cursors)?;
        let tokens = keyring(&var, "TOKEN_SECRET", 32, needs.tokens)?.map(TokenSigner::with_keys);
        let webhook_key = keyring(&var, "WEBHOOK_KEY", 32, needs.webhook_key)?;
        let webhook_queue_url = match var("WEBHOOK_QUEUE_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ if needs.queue => return Err(ConfigError("WEBHOOK_QUEUE_URL is not set".into())),
            _ => None,
        };
        let webhook_targets = TargetPolicy {
            local: var("WEBHOOK_LOCAL_TARGETS").is_ok_and(|v| v == "1"),
        };
        let oidc = match var("OIDC_ISSUER").ok().filter(|v| !v.is_empty()) {
            None => None,
            Some(issuer) => Some(Oidc {
                issuer,
                audience: var("OIDC_AUDIENCE")
                    .ok()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        ConfigError("OIDC_ISSUER is set but OIDC_AUDIENCE is not".into())
                    })?,
                role_claim: var("OIDC_ROLE_CLAIM")
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| "cognito:groups".to_owned()),
                jwks_url: var("OIDC_JWKS_URL").ok().filter(|v| !v.is_empty()),
                min_refresh: Duration::from_secs(number(
                    &var,
                    "OIDC_JWKS_MIN_REFRESH_SECONDS",
                    10,
                )?),
            }),
        };
        let key_check = Duration::from_secs(number(&var, "KEY_CHECK_SECONDS", 60)?);
        let audit_retention_days = number(&var, "AUDIT_RETENTION_DAYS", 2557)?.max(1);
        Ok(Self {
            oidc,
            key_check,
            audit_retention_days,
            table_name,
            delete_budget,
            delete_parallelism,
            ingest_lease,
            public_base_url,
            cursor_key,
            tokens,
            webhook_key,
            webhook_queue_url,
            webhook_targets,
        })
    }

    /// The keys of webhook secrets. Present in every function that seals or
    /// opens one, since such a function does not start without them.
    pub fn webhook_key(&self) -> Result<&Keyring, ApiError> {
        self.webhook_key
            .as_ref()
            .ok_or_else(|| ApiError::internal("WEBHOOK_KEY is not configured"))
    }

    /// The token signer. Present in every function that checks tokens, since
    /// such a function does not start without it.
    pub fn tokens(&self) -> Result<&TokenSigner, ApiError> {
        self.tokens
            .as_ref()
            .ok_or_else(|| ApiError::internal("TOKEN_SECRET is not configured"))
    }

    /// The cursor keys. Present in every function that pages, since such a
    /// function does not start without them.
    pub fn cursor_key(&self) -> Result<&Keyring, ApiError> {
        self.cursor_key
            .as_ref()
            .ok_or_else(|| ApiError::internal("CURSOR_KEY is not configured"))
    }
}

fn number(
    var: &impl Fn(&str) -> Result<String, VarError>,
    name: &str,
    default: u64,
) -> Result<u64, ConfigError> {
    match var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a whole number"))),
        Err(_) => Ok(default),
    }
}

/// The longest a rotation window may still run when a function starts. A
/// window needs an hour (a token's lifetime) and a margin; an end further
/// away is a mistake (a year typed wrong), or a retired key brought back.
const MAX_ROTATION_WINDOW: time::Duration = time::Duration::days(7);

/// A variable of a rotation, `None` when unset or empty: CloudFormation
/// passes an empty string for a parameter left empty when no rotation is
/// under way, and an empty key or time is no key or time.
fn rotation_var(
    var: &impl Fn(&str) -> Result<String, VarError>,
    name: &str,
) -> Result<Option<String>, ConfigError> {
    match var(name) {
        Ok(text) if text.is_empty() => Ok(None),
        Ok(text) => Ok(Some(text)),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(ConfigError(format!("{name} is not valid UTF-8"))),
    }
}

/// The keys named `name` (at least `min_len` bytes each): `name` itself,
/// and during a rotation `{name}_PREVIOUS`, accepted until the RFC 3339
/// instant `{name}_PREVIOUS_UNTIL`. A previous key and its end come
/// together or not at all: a previous key without an end would be accepted
/// for ever, and an end without a key is a rotation half configured.
fn keyring(
    var: &impl Fn(&str) -> Result<String, VarError>,
    name: &str,
    min_len: usize,
    needed: bool,
) -> Result<Option<Keyring>, ConfigError> {
    let too_short = |which: &str| ConfigError(format!("{which} must be at least {min_len} bytes"));
    let current = match var(name) {
        Ok(key) if key.len() < min_len => return Err(too_short(name)),
        Ok(key) => Some(key),
        Err(_) if needed => return Err(ConfigError(format!("{name} is not set"))),
        Err(_) => None,
    };
    let previous_name = format!("{name}_PREVIOUS");
    let until_name = format!("{name}_PREVIOUS_UNTIL");
    let previous = match (
        rotation_var(var, &previous_name)?,
        rotation_var(var, &until_name)?,
    ) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError(format!(
                "{previous_name} is set without {until_name}"
            )))
        }
        (None, Some(_)) => {
            return Err(ConfigError(format!(
                "{until_name} is set without {previous_name}"
            )))
        }
        (Some(key), Some(_)) if key.len() < min_len => return Err(too_short(&previous_name)),
        (Some(key), Some(until)) => {
            let until = OffsetDateTime::parse(&until, &Rfc3339).map_err(|e| {
                ConfigError(format!(
                    "{until_name} must be an RFC 3339 time, such as 2030-01-31T09:00:00Z, not {until:?}: {e}"
                ))
            })?;
            if until > OffsetDateTime::now_utc() + MAX_ROTATION_WINDOW {
                return Err(ConfigError(format!(
                    "{until_name} is more than {} days away: a rotation window is hours long, and a previous key accepted for longer is a key never retired",
                    MAX_ROTATION_WINDOW.whole_days()
                )));
            }
            Some((key, until))
        }
    };
    match (current, previous) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ConfigError(format!(
            "{previous_name} is set without {name}"
        ))),
        (Some(current), None) => Ok(Some(Keyring::new(current.as_bytes()))),
        (Some(current), Some((previous, until))) => Ok(Some(Keyring::rotating(
            current.as_bytes(),
            previous.as_bytes(),
            until,
        ))),
    }
}

/// Everything a handler needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct App {
    pub store: Store,
    pub config: Config,
    /// The webhook delivery queue, in the functions that write to it.
    pub queue: Option<Queue>,
    /// Checks operators' tokens, when an identity provider is configured.
    pub operators: Option<OperatorVerifier>,
    /// What this instance read of API keys, for revocation.
    pub key_check: KeyCheck,
}

impl App {
    pub fn new(client: Client, config: Config) -> Self {
        let operators = config.oidc.clone().map(OperatorVerifier::new);
        Self {
            store: Store::new(client, config.table_name.clone()),
            key_check: KeyCheck::new(config.key_check),
            operators,
            config,
            queue: None,
        }
    }

    /// The same app, handing deliveries to the queue `WEBHOOK_QUEUE_URL`
    /// names through `sqs` (nothing when no queue is configured).
    pub fn with_queue(mut self, sqs: aws_sdk_sqs::Client) -> Self {
        self.queue = self
            .config
            .webhook_queue_url
            .clone()
            .map(|url| Queue::new(sqs, url));
        self
    }

    /// The delivery queue. Present in every function that writes to it,
    /// since such a function does not start without its URL.
    pub fn queue(&self) -> Result<&Queue, ApiError> {
        self.queue
            .as_ref()
            .ok_or_else(|| ApiError::internal("WEBHOOK_QUEUE_URL is not configured"))
    }

    pub async fn from_env(needs: Needs) -> Result<Self, ConfigError> {
        let config = Config::from_env(needs)?;
        let shared = aws_shared_config().await;
        let app = Self::new(dynamodb_client_of(&shared), config);
        Ok(match app.config.webhook_queue_url {
            Some(_) => app.with_queue(sqs_client_of(&shared)),
            None => app,
        })
    }
}

/// The SDK's shared configuration: region, credentials and our HTTPS client.
async fn aws_shared_config() -> aws_config::SdkConfig {
    aws_config::from_env()
        .http_client(https_client())
        .load()
        .await
}

/// The shared configuration for an emulator the variable `var` names
/// (DynamoDB Local, the SQS emulator), with its URL: local credentials and
/// region where the environment gives none. `None` when `var` is unset.
fn emulator(shared: &aws_config::SdkConfig, var: &str) -> Option<(String, aws_config::SdkConfig)> {
    let endpoint = std::env::var(var).ok()?;
    let mut local = shared.to_builder();
    if shared.credentials_provider().is_none() || std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        local.set_credentials_provider(Some(SharedCredentialsProvider::new(Credentials::new(
            "local",
            "local",
            None,
            None,
            "local-emulator",
        ))));
    }
    if shared.region().is_none() {
        local.set_region(Some(Region::new("us-east-1")));
    }
    Some((endpoint, local.build()))
}

/// The SQS client: `SQS_ENDPOINT` (the local emulator) when set.
fn sqs_client_of(shared: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    match emulator(shared, "SQS_ENDPOINT") {
        Some((endpoint, local)) => aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&local)
                .endpoint_url(endpoint)
                .build(),
        ),
        None => aws_sdk_sqs::Client::new(shared),
    }
}

/// The DynamoDB client. `DYNAMODB_ENDPOINT` points it at DynamoDB Local,
/// which accepts any credentials, so local runs need no AWS account.
pub async fn dynamodb_client() -> Client {
    dynamodb_client_of(&aws_shared_config().await)
}

/// The DynamoDB client: `DYNAMODB_ENDPOINT` (DynamoDB Local) when set.
fn dynamodb_client_of(shared: &aws_config::SdkConfig) -> Client {
    match emulator(shared, "DYNAMODB_ENDPOINT") {
        Some((endpoint, local)) => Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&local)
                .endpoint_url(endpoint)
                .build(),
        ),
        None => Client::new(shared),
    }
}

/// The roots of Amazon Trust Services, which issue the certificates of every
/// AWS service endpoint (Amazon Root CA 1 to 4, and Starfield Services Root
/// CA G2, which cross-signs them).
const AMAZON_TRUST_SERVICES: &str = include_str!("amazon-trust-services.pem");

/// An HTTPS client that trusts only the Amazon Trust Services roots. The SDK's
/// default reads and parses the whole system store (hundreds of files) at
/// every cold start; five roots cost nearly nothing, and a DynamoDB client
/// has no business trusting any other CA. `TLS_NATIVE_ROOTS=1` adds the
/// system store back, for a TLS-intercepting proxy.
fn https_client() -> SharedHttpClient {
    let native = std::env::var("TLS_NATIVE_ROOTS").is_ok_and(|v| v == "1");
    let trust = TrustStore::empty()
        .with_native_roots(native)
        .with_pem_certificate(AMAZON_TRUST_SERVICES.as_bytes());
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::AwsLc,
    ));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        Err(_) => builder.build_https(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scope;
    use crate::http::cursor::Cursor;

    const TOKEN_A: &str = "the previous token secret, 32 b.";
    const TOKEN_B: &str = "the current token secret, 32 by.";
    const CURSOR_A: &str = "previous cursor.";
    const CURSOR_B: &str = "current cursor!!";

    /// The configuration of a function that checks tokens and pages, from
    /// the current keys and then `vars`.
    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        config_of(
            Needs {
                tokens: true,
                cursors: true,
                ..Needs::default()
            },
            &[
                &[
                    ("TABLE_NAME", "t"),
                    ("TOKEN_SECRET", TOKEN_B),
                    ("CURSOR_KEY", CURSOR_B),
                ],
                vars,
            ]
            .concat(),
        )
    }

    fn config_of(needs: Needs, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: std::collections::HashMap<&str, &str> = vars.iter().copied().collect();
        Config::from_vars(needs, |name| {
            vars.get(name)
                .map(|v| v.to_string())
                .ok_or(VarError::NotPresent)
        })
    }

    /// The end of a rotation window an hour from now.
    fn soon() -> String {
        (OffsetDateTime::now_utc() + time::Duration::hours(1))
            .format(&Rfc3339)
            .unwrap()
    }

    #[test]
    fn a_window_that_ends_more_than_a_week_away_does_not_start() {
        for name in ["TOKEN_SECRET", "CURSOR_KEY"] {
            let key = format!("{name}_PREVIOUS");
            let until = format!("{name}_PREVIOUS_UNTIL");
            let previous = if name == "TOKEN_SECRET" {
                TOKEN_A
            } else {
                CURSOR_A
            };
            let far = (OffsetDateTime::now_utc() + time::Duration::days(8))
                .format(&Rfc3339)
                .unwrap();
            for end in [far.as_str(), "2999-01-01T00:00:00Z"] {
                let message = error(config(&[(key.as_str(), previous), (until.as_str(), end)]));
                assert!(message.contains("more than 7 days away"), "{message}");
            }
        }
    }

    fn error(result: Result<Config, ConfigError>) -> String {
        match result {
            Ok(config) => panic!("configured: {config:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// Whether `config` accepts a token and a cursor signed with the previous keys.
    fn accepts_previous_keys(config: &Config) -> (bool, bool) {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let token = TokenSigner::new(TOKEN_A.as_bytes())
            .issue("key:test", Scope::ServerAccess, None, now)
            .unwrap();
        let cursor = Cursor::new("search", vec![]).encode(&Keyring::new(CURSOR_A.as_bytes()));
        (
            config.tokens().unwrap().verify(&token).is_ok(),
            Cursor::decode(&cursor, config.cursor_key().unwrap(), "search", 0).is_ok(),
        )
    }

    #[test]
    fn previous_keys_are_accepted_until_their_end() {
        let soon = soon();
        let soon = soon.as_str();
        let rotating = |until: &str| {
            config(&[
                ("TOKEN_SECRET_PREVIOUS", TOKEN_A),
                ("TOKEN_SECRET_PREVIOUS_UNTIL", until),
                ("CURSOR_KEY_PREVIOUS", CURSOR_A),
                ("CURSOR_KEY_PREVIOUS_UNTIL", until),
            ])
            .unwrap()
        };
        assert_eq!(accepts_previous_keys(&rotating(soon)), (true, true));
        assert_eq!(
            accepts_previous_keys(&rotating("2000-01-01T00:00:00Z")),
            (false, false)
        );
        // Any offset names an instant; this one is long past.
        assert_eq!(
            accepts_previous_keys(&rotating("2000-01-01T10:00:00+10:00")),
            (false, false)
        );
        assert_eq!(accepts_previous_keys(&config(&[]).unwrap()), (false, false));
    }

    #[test]
    fn empty_rotation_variables_are_unset() {
        let unset = config(&[
            ("TOKEN_SECRET_PREVIOUS", ""),
            ("TOKEN_SECRET_PREVIOUS_UNTIL", ""),
            ("CURSOR_KEY_PREVIOUS", ""),
            ("CURSOR_KEY_PREVIOUS_UNTIL", ""),
        ])
        .unwrap();
        assert_eq!(accepts_previous_keys(&unset), (false, false));
        // As CloudFormation passes them when no rotation is under way: the
        // key left out, its end an empty parameter.
        for name in ["TOKEN_SECRET", "CURSOR_KEY"] {
            let until = format!("{name}_PREVIOUS_UNTIL");
            assert!(config(&[(until.as_str(), "")]).is_ok());
        }
    }

    #[test]
    fn a_half_configured_rotation_does_not_start() {
        let soon = soon();
        let soon = soon.as_str();
        for (name, previous, short) in [
            ("TOKEN_SECRET", TOKEN_A, "31 bytes, one short of 32 bytes"),
            ("CURSOR_KEY", CURSOR_A, "15 bytes, short"),
        ] {
            let key = format!("{name}_PREVIOUS");
            let until = format!("{name}_PREVIOUS_UNTIL");
            let (key, until) = (key.as_str(), until.as_str());
            let cases: [(&[(&str, &str)], String); 6] = [
                (&[(key, previous)], format!("{key} is set without {until}")),
                (
                    &[(key, previous), (until, "")],
                    format!("{key} is set without {until}"),
                ),
                (&[(until, soon)], format!("{until} is set without {key}")),
                (
                    &[(key, ""), (until, soon)],
                    format!("{until} is set without {key}"),
                ),
                (
                    &[(key, previous), (until, "2999-01-01 00:00")],
                    format!("{until} must be an RFC 3339 time"),
                ),
                (
                    &[(key, short), (until, soon)],
                    format!("{key} must be at least"),
                ),
            ];
            for (vars, expected) in cases {
                let message = error(config(vars));
                assert!(message.contains(&expected), "{vars:?}: {message}");
                assert!(!message.contains(previous), "{message} shows a secret");
            }
            // A previous key for a function that has no current one.
            let message = error(config_of(
                Needs::default(),
                &[("TABLE_NAME", "t"), (key, previous), (until, soon)],
            ));
            assert!(
                message.contains(&format!("{key} is set without {name}")),
                "{message}"
            );
        }
    }

    #[test]
    fn the_trust_store_holds_the_five_amazon_roots() {
        assert_eq!(
            AMAZON_TRUST_SERVICES
                .matches("-----BEGIN CERTIFICATE-----")
                .count(),
            5
        );
        assert!(TlsContext::builder()
            .with_trust_store(
                TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES.as_bytes())
            )
            .build()
            .is_ok());
    }
}
