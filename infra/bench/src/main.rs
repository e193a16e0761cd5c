//! `make bench`: measures the service beside its floors in the same run and
//! rewrites docs/PERFORMANCE.md. Absolute times on a shared machine are noisy;
//! the figures that count are the ratios and the counts.
//!
//! Needs DYNAMODB_ENDPOINT (the Makefile starts a DynamoDB Local of its own)
//! and the release binaries in target/release (or BINARIES). RUNS (default 20) sets the
//! repetitions; DELETE_SIZES and DELETE_RUNS (default 1000,10000,100000 and
//! 20,5,3) the deletion runs.

mod cold;
mod ops;
mod report;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};
use shared::auth::ApiKey;
use shared::user::UserId;
use tests::events::Event;
use tests::TestEnv;

use crate::stats::Summary;

fn list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ids the cold-start events point at.
struct Fixtures {
    user: String,
    connection: String,
    account: String,
    transaction: String,
    key: ApiKey,
}

async fn first_id(env: &TestEnv, path: &str, user: &str) -> Result<String, String> {
    let request = Event::user("GET", user).path(path).request();
    let response = match path.rsplit('/').next() {
        Some("connections") => shared::api::list_connections(&env.app, request).await,
        Some("accounts") => shared::api::list_accounts(&env.app, request).await,
        _ => shared::api::list_transactions(&env.app, request).await,
    };
    let body: Value = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).map_err(|e| e.to_string())?,
        _ => Value::Null,
    };
    body["data"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no item at {path}: {body}"))
}

async fn fixtures(env: &TestEnv) -> Result<Fixtures, String> {
    let user = new_user(env, 1).await?;
    infra::seed::fill_user(
        &env.app.store,
        &UserId::parse(&user).map_err(|e| e.to_string())?,
        0,
        50,
        4,
    )
    .await
    .map_err(|e| e.to_string())?;
    let key = ApiKey::generate();
    env.app
        .store
        .add_api_key(
            &key,
            "bench",
            &shared::auth::Actor::claimed("infra"),
            Some("bench"),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(Fixtures {
        connection: first_id(env, &format!("/users/{user}/connections"), &user).await?,
        account: first_id(env, &format!("/users/{user}/accounts"), &user).await?,
        transaction: first_id(env, &format!("/users/{user}/transactions"), &user).await?,
        user,
        key,
    })
}

async fn new_user(env: &TestEnv, n: usize) -> Result<String, String> {
    let response = shared::api::create_user(
        &env.app,
        Event::new("POST", "/users")
            .json(&infra::seed::user_body(n))
            .request(),
    )
    .await;
    match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|b| b["id"].as_str().map(str::to_owned))
            .ok_or_else(|| format!("create failed: {text}")),
        _ => Err("create failed".into()),
    }
}

/// The event each function is started with: a typical request of its route.
async fn cold_event(
    env: &TestEnv,
    f: &Fixtures,
    function: &str,
    run: usize,
) -> Result<Value, String> {
    let user = f.user.as_str();
    let under = |rest: &str| Event::user("GET", user).path(&format!("/users/{user}/{rest}"));
    let event = match function {
        FLOOR | SDK_FLOOR => return Ok(json!({"hello": "world"})),
        "purge-user" | "events" => return Ok(json!({"Records": []})),
        "dashboard" => Event::new("GET", "/").without_auth(),
        "issue-token" => Event::new("POST", "/token")
            .without_auth()
            .raw_body("scope=SERVER_ACCESS")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("basiq-version", "3.0")
            .header("authorization", &format!("Basic {}", f.key.expose())),
        "create-user" => Event::new("POST", "/users").json(&infra::seed::user_body(60_000 + run)),
        "get-user" => Event::user("GET", user),
        "update-user" => Event::user("PATCH", user).json(&json!({"middleName": format!("C{run}")})),
        "delete-user" => Event::user("DELETE", &new_user(env, 70_000 + run).await?),
        "search-users" => Event::new("GET", "/users").query("q", "Gav"),
        "ingest-connection" => Event::user("POST", user)
            .path(&format!("/users/{user}/connections"))
            .json(&infra::seed::connection_body(200 + run, 2, 10)),
        "list-connections" => under("connections"),
        "get-connection" => under(&format!("connections/{}", f.connection))
            .path_parameter("connectionId", &f.connection),
        "delete-connection" => {
            let ingest =
                shared::finance::decode_ingest(infra::seed::connection_body(100 + run, 1, 5))
                    .map_err(|e| e.to_string())?;
            let owner = UserId::parse(user).map_err(|e| e.to_string())?;
            env.app
                .store
                .ingest(&owner, &ingest, 4, std::time::Duration::from_secs(60), None)
                .await
                .map_err(|e| e.to_string())?;
            let id = ingest.connection.id.to_string();
            Event::user("DELETE", user)
                .path(&format!("/users/{user}/connections/{id}"))
                .path_parameter("connectionId", &id)
        }
        "list-accounts" => under("accounts"),
        "get-account" => {
            under(&format!("accounts/{}", f.account)).path_parameter("accountId", &f.account)
        }
        "list-transactions" => under("transactions"),
        "get-transaction" => under(&format!("transactions/{}", f.transaction))
            .path_parameter("transactionId", &f.transaction),
        "list-events" => Event::new("GET", "/events"),
        "get-event" => {
            let id = "0".repeat(64);
            Event::new("GET", &format!("/events/{id}")).path_parameter("eventId", &id)
        }
        "list-event-types" => Event::new("GET", "/events/types"),
        "get-event-type" => {
            Event::new("GET", "/events/types/user.created").path_parameter("typeId", "user.created")
        }
        "deliver-webhooks" => return Ok(json!({"Records": []})),
        "list-webhooks" => Event::new("GET", "/webhooks"),
        "create-webhook" => Event::new("POST", "/webhooks").json(&json!({
            "url": "http://127.0.0.1:9/hooks", "subscribedEvents": ["user.created"]
        })),
        "get-webhook"
        | "delete-webhook"
        | "rotate-webhook-secret"
        | "test-webhook"
        | "list-webhook-deliveries" => {
            // An id no webhook has: the route's whole path, its reads, a 404.
            let id = uuid::Uuid::new_v4().to_string();
            let (method, path) = match function {
                "get-webhook" => ("GET", format!("/webhooks/{id}")),
                "delete-webhook" => ("DELETE", format!("/webhooks/{id}")),
                "rotate-webhook-secret" => ("POST", format!("/webhooks/{id}/secret")),
                "test-webhook" => ("POST", format!("/webhooks/{id}/test")),
                _ => ("GET", format!("/webhooks/{id}/deliveries")),
            };
            Event::new(method, &path).path_parameter("webhookId", &id)
        }
        other => return Err(format!("no cold-start event for {other}")),
    };
    Ok(event.to_json())
}

/// Where the binaries are: the release build, unless BINARIES says otherwise
/// (a debug build makes a quick dry run of the harness).
fn binaries() -> PathBuf {
    std::env::var("BINARIES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target/release"))
}

/// The cold-start floors, built with the release profile from `src/bin`: a
/// bare `lambda_runtime` function, and the same plus the DynamoDB client the
/// functions build at init.
pub const FLOOR: &str = "hello-lambda";
pub const SDK_FLOOR: &str = "hello-dynamodb";

/// Every function, by name: the binaries of the `functions` package, one
/// `functions/src/bin/<name>.rs` each.
fn functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("functions/src/bin"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
                .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub struct ColdRow {
    pub function: String,
    pub init: Summary,
    pub first_response: Summary,
    pub rss_kb: Summary,
    pub anon_kb: Summary,
    pub file_kb: Summary,
}

async fn cold_starts(runs: usize) -> Result<Vec<ColdRow>, String> {
    let env = TestEnv::new().await.with_queue().await;
    let f = fixtures(&env).await?;
    // The function's own settings, then what Lambda sets for every function.
    let vars: Vec<(String, String)> = env
        .function_env()
        .into_iter()
        .chain([
            ("RUST_LOG", "info".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "local".into()),
            ("AWS_SECRET_ACCESS_KEY", "local".into()),
            ("AWS_LAMBDA_FUNCTION_NAME", "bench".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "bench".into()),
        ])
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let mut rows = Vec::new();
    let mut names = vec![FLOOR.to_owned(), SDK_FLOOR.to_owned()];
    names.extend(functions());
    for name in names {
        let binary = binaries().join(&name);
        let (mut init, mut first, mut rss) = (Vec::new(), Vec::new(), Vec::new());
        let (mut anon, mut file) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let event = cold_event(&env, &f, &name, run).await?.to_string();
            let start = cold::start(&binary, &vars, event.as_bytes()).await?;
            let answer: Value = serde_json::from_slice(&start.answer).unwrap_or(Value::Null);
            if let Some(code) = answer["statusCode"].as_u64() {
                if !(200..300).contains(&code) {
                    return Err(format!("{name} answered {code}: {answer}"));
                }
            }
            init.push(start.init);
            first.push(start.first_response);
            rss.push(start.peak_rss_kb as f64);
            anon.push(start.anon_kb as f64);
            file.push(start.file_kb as f64);
        }
        eprintln!("cold start: {name} done");
        rows.push(ColdRow {
            function: name,
            init: Summary::of_ms(&init),
            first_response: Summary::of_ms(&first),
            rss_kb: Summary::of(&rss),
            anon_kb: Summary::of(&anon),
            file_kb: Summary::of(&file),
        });
    }
    Ok(rows)
}

pub struct DeleteRow {
    pub items: usize,
    pub ours: Summary,
    pub bare: Summary,
    pub ours_per_second: f64,
    pub bare_per_second: f64,
}

async fn deletes(sizes: &[usize], runs: &[usize]) -> Result<Vec<DeleteRow>, String> {
    let mut rows = Vec::new();
    for (i, &items) in sizes.iter().enumerate() {
        let repeat = runs.get(i).copied().unwrap_or(1).max(1);
        let (mut ours, mut bare) = (Vec::new(), Vec::new());
        for run in 0..repeat {
            // A fresh table each run: DynamoDB Local slows as items pile up.
            let env = TestEnv::new().await;
            let run = infra::bench::delete_run(&env.app.store, items, 8, run % 2 == 1)
                .await
                .map_err(|e| e.to_string())?;
            ours.push(run.ours);
            bare.push(run.bare);
        }
        let (ours, bare) = (Summary::of_ms(&ours), Summary::of_ms(&bare));
        eprintln!("delete: {items} items done");
        rows.push(DeleteRow {
            items,
            ours_per_second: items as f64 / (ours.median / 1000.0),
            bare_per_second: items as f64 / (bare.median / 1000.0),
            ours,
            bare,
        });
    }
    Ok(rows)
}

async fn run() -> Result<(), String> {
    let runs = list("RUNS", "20").first().copied().unwrap_or(20).max(1);
    let sizes = list("DELETE_SIZES", "1000,10000,100000");
    let delete_runs = list("DELETE_RUNS", "20,5,3");
    if functions().is_empty() {
        return Err("no functions in functions/src/bin".into());
    }

    let work = ops::work(runs).await?;
    eprintln!("work per operation: done");
    let overhead = ops::overhead(runs.max(20) * 10).await?;
    eprintln!("handler overhead: done");
    let cold = cold_starts(runs).await?;
    let deletes = deletes(&sizes, &delete_runs).await?;
    let packages = report::packages(&root(), &functions());

    let text = report::render(&report::Report {
        runs,
        work: &work,
        overhead: &overhead,
        cold: &cold,
        packages: &packages,
        deletes: &deletes,
        profile: &report::release_profile(&root()),
        crates: report::crate_count(&root()),
    });
    let path = root().join("docs/PERFORMANCE.md");
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // Handlers log as in Lambda, so formatting costs count; the lines go nowhere.
    let subscriber = shared::telemetry::json_subscriber(
        std::io::sink,
        tracing_subscriber::EnvFilter::new("info"),
    );
    let _ = tracing::subscriber::set_global_default(subscriber);
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
