//! What the integration tests share: a fresh table per test on DynamoDB Local,
//! a client that counts its requests, real API Gateway v2 events, and the
//! Basiq schemas to validate responses against.

pub mod api;
pub mod contract;
pub mod events;
pub mod faults;
pub mod idp;
pub mod operators;
pub mod queue;
pub mod receiver;
pub mod watch;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_dynamodb::types::Select;
use aws_sdk_dynamodb::Client;
use aws_smithy_types::config_bag::ConfigBag;
use shared::config::{App, Config};

/// The secret every test environment signs tokens with.
pub const TOKEN_SECRET: &[u8] = b"test-token-secret-0123456789abcdef";

/// The key every test environment signs cursors with.
pub const CURSOR_KEY: &[u8] = b"test-cursor-key-0123456789abcdef";

/// The key every test environment seals webhook secrets with.
pub const WEBHOOK_KEY: &[u8] = b"test-webhook-key-0123456789abcdef";

/// Polls until `check` holds, for at most 5 s: global secondary indexes
/// (the searches', the events') are eventually consistent.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The API key every test environment holds: the tests' tokens are bought
/// with it, so the key check finds it active.
pub const TEST_API_KEY: &str = "test-api-key-0123456789abcdef0123456789abcdef";

/// The id of [`TEST_API_KEY`] as tokens name it (`key:<16 hex>`).
pub fn test_key_id() -> String {
    shared::auth::ApiKey::from_text(TEST_API_KEY).id()
}

/// The items every test table holds from the start: the tests' API key and
/// the keys' count.
const FIXTURE_ITEMS: usize = 2;

/// A token as `POST /token` would issue it, `at` seconds since the epoch.
pub fn token_at(scope: shared::auth::Scope, user: Option<shared::user::UserId>, at: i64) -> String {
    shared::auth::TokenSigner::new(TOKEN_SECRET)
        .issue(&test_key_id(), scope, user, at)
        .expect("a signed token")
}

/// A fresh token of this scope.
pub fn token(scope: shared::auth::Scope, user: Option<shared::user::UserId>) -> String {
    token_at(scope, user, time_now())
}

pub fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Where `make test` started DynamoDB Local.
pub fn endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").expect(
        "DYNAMODB_ENDPOINT is not set: run the tests with `make test`, which starts DynamoDB Local",
    )
}

/// Records the DynamoDB operation of every request sent, retries included.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    pub fn operations(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self, operation: &str) -> usize {
        self.operations().iter().filter(|o| *o == operation).count()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("")
            .trim_start_matches("DynamoDB_20120810.")
            .to_owned();
        self.0.lock().unwrap().push(target);
        Ok(())
    }
}

pub fn client(log: &RequestLog) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .interceptor(log.clone())
        .build();
    Client::from_conf(config)
}

/// One test's world: its own table, an app on it, and the log of requests.
pub struct TestEnv {
    pub app: App,
    pub requests: RequestLog,
    pub table: String,
    /// Whether the table has its stream ([`TestEnv::with_stream`]): then
    /// [`watch::Watch::serve`] runs the local poller, which delivers it.
    pub stream: bool,
    /// The webhook queue of this test ([`TestEnv::with_queue`]), if any.
    pub queue: Option<queue::LocalQueue>,
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::create(infra::table::Stream::Off, adjust).await
    }

    /// A table of its own WITH the template's stream (new and old images),
    /// for end-to-end tests of the events and deletions: served through
    /// [`watch::Watch::serve`], its records reach `events` and `purge-user`
    /// through the local poller, as in `make dev`. Tests otherwise use
    /// tables without it: DynamoDB Local's streams slow writes down.
    pub async fn with_stream() -> Self {
        Self::with_stream_and(|_| {}).await
    }

    /// As [`TestEnv::with_stream`], with the configuration adjusted.
    pub async fn with_stream_and(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::create(infra::table::Stream::FromTemplate, adjust).await
    }

    async fn create(stream: infra::table::Stream, adjust: impl FnOnce(&mut Config)) -> Self {
        shared::telemetry::init_for_tests();
        let requests = RequestLog::default();
        let client = client(&requests);
        let table = format!("t-{}", uuid::Uuid::new_v4());
        infra::table::create_as(&client, &table, stream)
            .await
            .expect("create the test table");
        let mut config = Config {
            table_name: table.clone(),
            delete_budget: Duration::from_secs(20),
            delete_parallelism: 8,
            ingest_lease: Duration::from_secs(60),
            public_base_url: None,
            cursor_key: Some(shared::rotation::Keyring::new(CURSOR_KEY)),
            tokens: Some(shared::auth::TokenSigner::new(TOKEN_SECRET)),
            webhook_key: Some(shared::rotation::Keyring::new(WEBHOOK_KEY)),
            webhook_queue_url: None,
            webhook_targets: shared::webhook::target::TargetPolicy { local: true },
            oidc: None,
            // An hour, so that a test reads the test key once (below) and
            // never again: request counts stay those of the operation.
            key_check: Duration::from_secs(3600),
            audit_retention_days: 2557,
        };
        adjust(&mut config);
        let app = App::new(client, config);
        let key = shared::auth::ApiKey::from_text(TEST_API_KEY);
        app.store
            .add_api_key(
                &key,
                "tests",
                &shared::auth::Actor::claimed("tests"),
                None,
                None,
            )
            .await
            .expect("the tests' API key");
        app.key_check
            .active_name(&app.store, &key.id())
            .await
            .expect("the tests' API key is active");
        requests.clear();
        Self {
            app,
            requests,
            table,
            stream: stream == infra::table::Stream::FromTemplate,
            queue: None,
        }
    }

    /// A world whose app also accepts operators' tokens from a test
    /// identity provider of its own, which mints them.
    pub async fn with_operators(adjust: impl FnOnce(&mut Config)) -> (Self, operators::TestIdp) {
        let idp = operators::TestIdp::start().await;
        let oidc = idp.oidc();
        let env = Self::with(|config| {
            config.oidc = Some(oidc);
            adjust(config);
        })
        .await;
        (env, idp)
    }

    /// The same world with a webhook queue of its own (and its dead-letter
    /// queue) on the local SQS emulator, which the app hands deliveries to.
    pub async fn with_queue(mut self) -> Self {
        let queue = queue::LocalQueue::create().await;
        self.app.config.webhook_queue_url = Some(queue.url.clone());
        self.app = self.app.clone().with_queue(queue.client.clone());
        self.queue = Some(queue);
        self
    }

    /// This test's webhook queue; the test made one with [`TestEnv::with_queue`].
    pub fn queue(&self) -> &queue::LocalQueue {
        self.queue
            .as_ref()
            .expect("a queue: make the environment with TestEnv::with_queue")
    }

    /// As [`TestEnv::with`], but the app (and [`TestEnv::client`]) talk to
    /// DynamoDB through `faults`. The table is created on a plain client, so
    /// no fault touches it and `faults` counts only the app's requests.
    pub async fn with_faults(faults: &faults::Faults, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut env = Self::with(adjust).await;
        let key_check = env.app.key_check.clone();
        env.app = App::new(faults.client(&env.requests), env.app.config.clone());
        // What was read of the test key stays known: no fault meets that read.
        env.app.key_check = key_check;
        env
    }

    pub fn client(&self) -> &Client {
        self.app.store.client()
    }

    /// The API of this test's app, one method per route.
    pub fn api(&self) -> api::TestApi<'_> {
        api::TestApi::new(&self.app)
    }

    /// The environment a function binary needs to serve this test's table,
    /// with this test's secrets.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        let config = &self.app.config;
        let mut vars = vec![
            ("TABLE_NAME", self.table.clone()),
            ("DYNAMODB_ENDPOINT", endpoint()),
            (
                "TOKEN_SECRET",
                String::from_utf8_lossy(TOKEN_SECRET).into_owned(),
            ),
        ];
        if config.cursor_key.is_some() {
            vars.push((
                "CURSOR_KEY",
                String::from_utf8_lossy(CURSOR_KEY).into_owned(),
            ));
        }
        if config.webhook_key.is_some() {
            vars.push((
                "WEBHOOK_KEY",
                String::from_utf8_lossy(WEBHOOK_KEY).into_owned(),
            ));
        }
        if config.webhook_targets.local {
            vars.push(("WEBHOOK_LOCAL_TARGETS", "1".into()));
        }
        if let Some(oidc) = &config.oidc {
            vars.push(("OIDC_ISSUER", oidc.issuer.clone()));
            vars.push(("OIDC_AUDIENCE", oidc.audience.clone()));
            // The dashboard's client: the audience, as in a deployment.
            vars.push(("OIDC_CLIENT_ID", oidc.audience.clone()));
            vars.push(("OIDC_ROLE_CLAIM", oidc.role_claim.clone()));
        }
        vars.push(("KEY_CHECK_SECONDS", config.key_check.as_secs().to_string()));
        vars.push((
            "AUDIT_RETENTION_DAYS",
            config.audit_retention_days.to_string(),
        ));
        if let Some(queue) = &self.queue {
            vars.push(("WEBHOOK_QUEUE_URL", queue.url.clone()));
            vars.push((
                "SQS_ENDPOINT",
                std::env::var("SQS_ENDPOINT").unwrap_or_default(),
            ));
        }
        vars
    }
}

/// Each test's table goes when the test ends: DynamoDB Local slows down badly
/// as tables and items pile up over a run (2,000 puts went from 1.5 s on a
/// fresh instance to 78 s on one that had served every test).
impl Drop for TestEnv {
    fn drop(&mut self) {
        let table = self.table.clone();
        // Drop cannot await; a short-lived runtime on its own thread does the
        // call, with a client of its own: the test's client holds connections
        // bound to the test's runtime, and stalls when driven from another.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(async {
                    let client = client(&RequestLog::default());
                    let _ = client.delete_table().table_name(table).send().await;
                });
            }
        })
        .join();
    }
}

impl TestEnv {
    /// An item as the table holds it now, every attribute of it, read with
    /// the SDK (strongly consistent).
    pub async fn raw_item(
        &self,
        pk: String,
        sk: &str,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.client()
            .get_item()
            .table_name(&self.table)
            .key(
                shared::keys::PK,
                aws_sdk_dynamodb::types::AttributeValue::S(pk),
            )
            .key(
                shared::keys::SK,
                aws_sdk_dynamodb::types::AttributeValue::S(sk.to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("get item")
            .item
    }

    /// Adds an API key named `name`, as `make api-key` would (made by the
    /// tests, no expiry).
    pub async fn add_key(&self, key: &shared::auth::ApiKey, name: &str) {
        self.app
            .store
            .add_api_key(
                key,
                name,
                &shared::auth::Actor::claimed("tests"),
                None,
                None,
            )
            .await
            .expect("an API key");
    }

    /// Every audit entry's item (a Scan: tests may, the service never does).
    pub async fn audit_items(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(#pk, :audit)")
                .expression_attribute_names("#pk", shared::keys::PK)
                .expression_attribute_values(
                    ":audit",
                    aws_sdk_dynamodb::types::AttributeValue::S("AUDIT#".into()),
                )
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }
    /// How many items the table holds beside the tests' API key (its item
    /// and the keys' count, there from the start) and the audit trail's
    /// entries (which refusals add by design; tests/tests/audit.rs counts
    /// those): what a request that "writes nothing" must leave as it was.
    /// A Scan: tests may, the service never does.
    pub async fn item_count(&self) -> usize {
        self.items_beside_audit().await - FIXTURE_ITEMS
    }

    async fn items_beside_audit(&self) -> usize {
        let mut total = 0;
        let mut start = None;
        loop {
            let page = self
                .client()
                .scan()
                .table_name(&self.table)
                .filter_expression("NOT begins_with(#pk, :audit)")
                .expression_attribute_names("#pk", shared::keys::PK)
                .expression_attribute_values(
                    ":audit",
                    aws_sdk_dynamodb::types::AttributeValue::S("AUDIT#".into()),
                )
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            total += page.count() as usize;
            start = page.last_evaluated_key;
            if start.is_none() {
                return total;
            }
        }
    }

    /// How many items a user's partition holds, read the way a purge would.
    pub async fn partition_count(&self, user_id: &str) -> usize {
        let id = shared::user::UserId::parse(user_id).expect("a user id");
        let mut total = 0;
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", shared::keys::PK)
                .expression_attribute_values(
                    ":pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(shared::keys::user_pk(&id)),
                )
                .select(Select::Count)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("query");
            total += page.count() as usize;
            start = page.last_evaluated_key;
            if start.is_none() {
                return total;
            }
        }
    }
}
