//! Serving the functions over real HTTP as `make dev` does: `cargo lambda
//! watch` on an internal port of 127.0.0.1, and the local API Gateway
//! (`infra::gateway`) in front of it, which is what clients call. For a
//! table with its stream ([`TestEnv::with_stream`]) the gateway also runs the
//! stream poller (`infra::streams`), which delivers the stream's records to
//! `events` and `purge-user`; for one with a webhook queue
//! ([`TestEnv::with_queue`]) it also runs the queue poller, which hands the
//! queue's messages to `deliver-webhooks` as Lambda's SQS event source does.
//!
//! The functions get the world's configuration as their environment
//! ([`TestEnv::function_env`]), its identity provider included when it has
//! one (`OIDC_ISSUER`, `OIDC_AUDIENCE`, `OIDC_CLIENT_ID`, `OIDC_ROLE_CLAIM`),
//! with `KEY_CHECK_SECONDS` and `AUDIT_RETENTION_DAYS`. A provider must know
//! the dashboard's URL before it starts (its redirect URIs), and the world
//! must know the provider before the functions start: [`Gateway::reserve`]
//! takes the gateway's port first, for [`Watch::serve_on`].

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::TestEnv;

/// A running `cargo lambda watch` and the gateway in front of it. On drop the
/// watcher is stopped with its whole process group, the gateway task is
/// aborted and the environment file is removed.
pub struct Watch {
    child: Child,
    gateway: JoinHandle<()>,
    env_file: PathBuf,
    /// The gateway's URL: what a client of the API calls.
    pub base_url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Writes `vars` to a new file only its owner can read: the secrets go to
/// the watcher in a file, never on a command line.
fn write_env_file(vars: &[(&str, String)]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("watch-{}.env", uuid::Uuid::new_v4()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("create the watcher's environment file");
    for (name, value) in vars {
        assert!(
            !value.contains('\n'),
            "{name} fits on one line of an env file"
        );
        writeln!(file, "{name}={value}").expect("write the watcher's environment file");
    }
    path
}

/// The gateway's port, taken before the functions are served, so that its
/// URL (the dashboard's origin) can be given to what starts first: an
/// identity provider's redirect URIs.
pub struct Gateway {
    listener: tokio::net::TcpListener,
    /// What a client of the API will call: `http://127.0.0.1:<port>`.
    pub base_url: String,
}

impl Gateway {
    pub async fn reserve() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the gateway");
        let base_url = format!(
            "http://{}",
            listener.local_addr().expect("the gateway's address")
        );
        Self { listener, base_url }
    }

    /// The dashboard's redirect URI at an identity provider: its page, `/`.
    pub fn dashboard_url(&self) -> String {
        format!("{}/", self.base_url)
    }
}

impl Watch {
    /// Serves every function on the test's table, with its secrets and its
    /// deletion settings, behind the gateway. Every function starts only
    /// with all it needs (test-webhook its queue), so the test's world has
    /// a queue ([`TestEnv::with_queue`]).
    pub async fn serve(env: &TestEnv) -> Self {
        Self::serve_on(env, Gateway::reserve().await).await
    }

    /// [`Watch::serve`] behind the gateway whose port was taken beforehand.
    pub async fn serve_on(env: &TestEnv, gateway: Gateway) -> Self {
        assert!(
            env.queue.is_some(),
            "Watch::serve serves test-webhook too, which needs a queue: make the world with TestEnv::with_queue"
        );
        let Gateway { listener, base_url } = gateway;

        let watch_port = free_port();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let config = &env.app.config;
        let mut vars = env.function_env();
        vars.push(("PUBLIC_BASE_URL", base_url.clone()));
        vars.push((
            "DELETE_BUDGET_MS",
            config.delete_budget.as_millis().to_string(),
        ));
        vars.push(("DELETE_PARALLELISM", config.delete_parallelism.to_string()));
        vars.push(("RUST_LOG", "warn".into()));
        let env_file = write_env_file(&vars);
        let child = Command::new("cargo")
            .args(["lambda", "watch", "--ignore-changes", "--disable-cors"])
            .args(["-A", "127.0.0.1", "-P", &watch_port.to_string()])
            .arg("--env-file")
            .arg(&env_file)
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("cargo lambda is installed (make test puts it on PATH)");

        let gateway = infra::gateway::Config {
            port: 0,
            watch_url: format!("http://127.0.0.1:{watch_port}"),
            public_base_url: base_url.clone(),
            access_log: false,
            // Only a table with its stream is polled; without one, the
            // gateway imitates the deletion's hand-over, as it always has.
            table: env.stream.then(|| env.table.clone()),
            // The functions send to this queue (`function_env` names it), and
            // the poller delivers it; on the emulator `SQS_ENDPOINT` names.
            webhook_queue: env.queue.as_ref().map(|queue| queue.url.clone()),
        };
        let gateway = tokio::spawn(async move {
            if let Err(err) = infra::gateway::serve_on(listener, gateway).await {
                eprintln!("the gateway stopped: {err}");
            }
        });
        let watch = Self {
            child,
            gateway,
            env_file,
            base_url,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", watch_port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut polled = Vec::new();
        if env.stream {
            let mappings = infra::streams::mappings().expect("template.yaml's stream mappings");
            polled.extend(mappings.into_iter().map(|mapping| mapping.function));
        }
        if env.queue.is_some() {
            let queue = infra::queues::definition().expect("template.yaml's webhook queue");
            polled.push(queue.function);
        }
        watch.warm(watch_port, &polled).await;
        watch
    }

    /// Invokes each function a poller calls once with an empty batch, so
    /// that the first record or message is not delayed by its compilation
    /// (minutes on a cold build): a test then sees an event, or a delivery,
    /// within seconds.
    async fn warm(&self, watch_port: u16, functions: &[String]) {
        let http = self.http();
        for function in functions {
            let answer = http
                .post(format!(
                    "http://127.0.0.1:{watch_port}/2015-03-31/functions/{function}/invocations"
                ))
                .header("content-type", "application/json")
                .body(r#"{"Records":[]}"#)
                .send()
                .await;
            match answer {
                Ok(answer) if answer.status().is_success() => {}
                Ok(answer) => eprintln!(
                    "warming {function}: the invoke API answered {}",
                    answer.status()
                ),
                Err(err) => eprintln!("warming {function} failed: {err}"),
            }
        }
    }

    /// An `Authorization` value for the API: a SERVER_ACCESS token from
    /// `POST /token`, through the gateway, for a new API key of `env`.
    pub async fn bearer(&self, env: &TestEnv) -> String {
        let key = shared::auth::ApiKey::generate();
        env.app
            .store
            .add_api_key(
                &key,
                "watch",
                &shared::auth::Actor::claimed("tests"),
                None,
                None,
            )
            .await
            .unwrap();
        let issued = self
            .http()
            .post(format!("{}/token", self.base_url))
            .header("authorization", format!("Basic {}", key.expose()))
            .header("basiq-version", "3.0")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("scope=SERVER_ACCESS")
            .send()
            .await
            .expect("POST /token");
        assert_eq!(issued.status(), 200);
        let issued: serde_json::Value = issued.json().await.unwrap();
        format!("Bearer {}", issued["access_token"].as_str().unwrap())
    }

    /// A client patient enough for the first request to each function,
    /// which compiles it.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(900))
            .build()
            .expect("an HTTP client")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.gateway.abort();
        if let Some(pid) = self.child.id() {
            // The watcher starts cargo and the functions; stop the whole group.
            // The `--` matters: procps reads `kill -TERM -123` as signal to pid -1.
            let _ = std::process::Command::new("kill")
                .args(["-s", "TERM", "--", &format!("-{pid}")])
                .status();
        }
        let _ = std::fs::remove_file(&self.env_file);
    }
}
