//! Configuration, read once at cold start from the environment.

use std::time::Duration;

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use crate::auth::TokenSigner;
use crate::error::ApiError;
use crate::store::Store;

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
    /// Signs pagination cursors so that clients cannot forge them. Only the
    /// functions that page need it, so only they are given the secret.
    pub cursor_key: Option<Vec<u8>>,
    /// Signs and checks access tokens (`TOKEN_SECRET`, at least 32 bytes).
    /// Only the functions that check tokens are given the secret.
    pub tokens: Option<TokenSigner>,
}

impl Config {
    pub fn from_env(needs: Needs) -> Result<Self, ConfigError> {
        let table_name =
            std::env::var("TABLE_NAME").map_err(|_| ConfigError("TABLE_NAME is not set".into()))?;
        let delete_budget = Duration::from_millis(env_number("DELETE_BUDGET_MS", 20_000)?);
        let delete_parallelism = env_number("DELETE_PARALLELISM", 8)?.max(1) as usize;
        let ingest_lease = Duration::from_millis(env_number("INGEST_LEASE_MS", 60_000)?);
        let public_base_url = std::env::var("PUBLIC_BASE_URL")
            .ok()
            .map(|base| base.trim_end_matches('/').to_owned())
            .filter(|base| !base.is_empty());
        let cursor_key = std::env::var("CURSOR_KEY").ok().map(String::into_bytes);
        match &cursor_key {
            Some(key) if key.len() < 16 => {
                return Err(ConfigError("CURSOR_KEY must be at least 16 bytes".into()))
            }
            None if needs.cursors => return Err(ConfigError("CURSOR_KEY is not set".into())),
            _ => {}
        }
        let tokens = match std::env::var("TOKEN_SECRET") {
            Ok(secret) if secret.len() < 32 => {
                return Err(ConfigError("TOKEN_SECRET must be at least 32 bytes".into()))
            }
            Ok(secret) => Some(TokenSigner::new(secret.as_bytes())),
            Err(_) if needs.tokens => return Err(ConfigError("TOKEN_SECRET is not set".into())),
            Err(_) => None,
        };
        Ok(Self {
            table_name,
            delete_budget,
            delete_parallelism,
            ingest_lease,
            public_base_url,
            cursor_key,
            tokens,
        })
    }

    /// The token signer. Present in every function that checks tokens, since
    /// such a function does not start without it.
    pub fn tokens(&self) -> Result<&TokenSigner, ApiError> {
        self.tokens
            .as_ref()
            .ok_or_else(|| ApiError::internal("TOKEN_SECRET is not configured"))
    }

    /// The cursor key. Present in every function that pages, since such a
    /// function does not start without it.
    pub fn cursor_key(&self) -> Result<&[u8], ApiError> {
        self.cursor_key
            .as_deref()
            .ok_or_else(|| ApiError::internal("CURSOR_KEY is not configured"))
    }
}

fn env_number(name: &str, default: u64) -> Result<u64, ConfigError> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a whole number"))),
        Err(_) => Ok(default),
    }
}

/// Everything a handler needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct App {
    pub store: Store,
    pub config: Config,
}

impl App {
    pub fn new(client: Client, config: Config) -> Self {
        Self {
            store: Store::new(client, config.table_name.clone()),
            config,
        }
    }

    pub async fn from_env(needs: Needs) -> Result<Self, ConfigError> {
        let config = Config::from_env(needs)?;
        Ok(Self::new(dynamodb_client().await, config))
    }
}

/// The DynamoDB client. `DYNAMODB_ENDPOINT` points it at DynamoDB Local,
/// which accepts any credentials, so local runs need no AWS account.
pub async fn dynamodb_client() -> Client {
    let shared = aws_config::from_env()
        .http_client(https_client())
        .load()
        .await;
    let mut builder = aws_sdk_dynamodb::config::Builder::from(&shared);
    if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
        builder = builder.endpoint_url(endpoint);
        if shared.credentials_provider().is_none() || std::env::var("AWS_ACCESS_KEY_ID").is_err() {
            builder = builder.credentials_provider(Credentials::new(
                "local",
                "local",
                None,
                None,
                "dynamodb-local",
            ));
        }
        if shared.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
    }
    Client::from_conf(builder.build())
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
