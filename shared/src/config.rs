//! Configuration, read once at cold start from the environment.

use std::time::Duration;

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::Client;

use crate::auth::TokenSigner;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// How long DELETE /users/{id} works before it hands over to the purge function.
    pub delete_budget: Duration,
    /// How many BatchWriteItem calls a deletion keeps in flight.
    pub delete_parallelism: usize,
    /// Signs pagination cursors so that clients cannot forge them. Only the
    /// functions that page need it, so only they are given the secret.
    pub cursor_key: Option<Vec<u8>>,
    /// Signs and checks access tokens (`TOKEN_SECRET`, at least 32 bytes).
    pub tokens: TokenSigner,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let table_name =
            std::env::var("TABLE_NAME").map_err(|_| ConfigError("TABLE_NAME is not set".into()))?;
        let delete_budget = Duration::from_millis(env_number("DELETE_BUDGET_MS", 20_000)?);
        let delete_parallelism = env_number("DELETE_PARALLELISM", 8)?.max(1) as usize;
        let cursor_key = std::env::var("CURSOR_KEY").ok().map(String::into_bytes);
        if cursor_key.as_ref().is_some_and(|key| key.len() < 16) {
            return Err(ConfigError("CURSOR_KEY must be at least 16 bytes".into()));
        }
        let token_secret = std::env::var("TOKEN_SECRET")
            .map_err(|_| ConfigError("TOKEN_SECRET is not set".into()))?;
        if token_secret.len() < 32 {
            return Err(ConfigError("TOKEN_SECRET must be at least 32 bytes".into()));
        }
        Ok(Self {
            table_name,
            delete_budget,
            delete_parallelism,
            cursor_key,
            tokens: TokenSigner::new(token_secret.as_bytes()),
        })
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

    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        Ok(Self::new(dynamodb_client().await, config))
    }
}

/// The DynamoDB client. `DYNAMODB_ENDPOINT` points it at DynamoDB Local,
/// which accepts any credentials, so local runs need no AWS account.
pub async fn dynamodb_client() -> Client {
    let shared = aws_config::load_from_env().await;
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
