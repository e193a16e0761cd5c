//! Events end to end with a real stream, as `make dev` runs them: a table
//! with its stream on DynamoDB Local, the functions behind the local API
//! Gateway, and the gateway's stream poller (`infra::streams`) delivering the
//! stream's records to `events` and `purge-user`. Every step is over HTTP;
//! no test code hands a function a record.
//!
//! It prints the lag from each write's answer to its event being visible in
//! `GET /events` (run with `--no-capture` to see it), and asserts only a
//! generous bound: performance is measured here, not asserted.

use std::time::{Duration, Instant};

use infra::seed::connection_body;
use serde_json::{json, Value};
use tests::watch::Watch;
use tests::TestEnv;

/// How long an event may take to appear before the test fails: far more
/// than it takes, so that a slow machine does not fail it.
const BOUND: Duration = Duration::from_secs(30);

/// How long the purge of the handed-over deletion may take.
const PURGE_BOUND: Duration = Duration::from_secs(180);

struct Client {
    http: reqwest::Client,
    base: String,
    bearer: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("authorization", &self.bearer);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The user's events, newest first.
    async fn events(&self, user: &str) -> Vec<Value> {
        let filter = format!("user.id.eq('{user}')");
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", &filter)
            .append_pair("limit", "500")
            .finish();
        let (status, body) = self
            .send(reqwest::Method::GET, &format!("/events?{query}"), None)
            .await;
        assert_eq!(status, 200, "GET /events: {body:#}");
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// Polls `GET /events` until the user has an event of this type that
    /// `wanted` accepts: the event, and when it was first seen.
    async fn wait_for(
        &self,
        user: &str,
        kind: &str,
        since: Instant,
        bound: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> (Value, Instant) {
        loop {
            let found = self.events(user).await.into_iter().find(|e| {
                let id = format!(
                    "{}.{}",
                    e["entity"].as_str().unwrap_or(""),
                    e["eventType"].as_str().unwrap_or("")
                );
                id == kind && wanted(e)
            });
            if let Some(event) = found {
                return (event, Instant::now());
            }
            assert!(
                since.elapsed() < bound,
                "no {kind} event for user {user} within {} s; its events: {:#}",
                bound.as_secs(),
                json!(self.events(user).await)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test]
async fn writes_become_events_through_the_real_stream() {
    // A 1 ms delete budget (as good as none: zero would also give purge-user,
    // which falls back to it under `cargo lambda watch`, no time at all):
    // DELETE removes its first page, answers 202 and hands over, and the
    // real stream delivers the hand-over to purge-user, which goes on a page
    // an invocation, each reported failed and delivered again.
    let env = TestEnv::with_stream_and(|c| c.delete_budget = Duration::from_millis(1))
        .await
        .with_queue()
        .await;
    assert!(env.stream, "the table has its stream");
    let watch = Watch::serve(&env).await;
    let http = watch.http();
    let client = Client {
        bearer: watch.bearer(&env).await,
        http,
        base: watch.base_url.clone(),
    };
    // The feed compiles on its first request: not part of any lag.
    let (status, _) = client
        .send(reqwest::Method::GET, "/events?limit=1", None)
        .await;
    assert_eq!(status, 200);

    let mut lags: Vec<(&str, Duration)> = Vec::new();

    // Created.
    let (status, created) = client
        .send(
            reqwest::Method::POST,
            "/users",
            Some(
                &json!({"email": "gavin@hooli.com", "mobile": "+61410888666",
                         "firstName": "Gavin", "lastName": "Belson"}),
            ),
        )
        .await;
    let answered = Instant::now();
    assert_eq!(status, 201, "{created:#}");
    let user = created["id"].as_str().unwrap().to_owned();
    let (event, seen) = client
        .wait_for(&user, "user.created", answered, BOUND, |_| true)
        .await;
    assert_eq!(event["userId"], user.as_str());
    assert_eq!(event["data"]["id"], user.as_str());
    lags.push(("user.created", seen - answered));

    // Updated: the event names the field, never its value.
    let (status, updated) = client
        .send(
            reqwest::Method::PATCH,
            &format!("/users/{user}"),
            Some(&json!({"middleName": "Hooli"})),
        )
        .await;
    let answered = Instant::now();
    assert_eq!(status, 200, "{updated:#}");
    let (event, seen) = client
        .wait_for(&user, "user.updated", answered, BOUND, |_| true)
        .await;
    let changed = event["data"]["changed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(changed.contains(&json!("middleName")), "{event:#}");
    assert!(
        !event.to_string().contains("Hooli\""),
        "no value: {event:#}"
    );
    lags.push(("user.updated", seen - answered));

    // A connection, with more items than DELETE's first page (200).
    let (accounts, transactions) = (2u64, 300u64);
    let body = connection_body(1, accounts as usize, transactions as usize);
    let (status, connection) = client
        .send(
            reqwest::Method::POST,
            &format!("/users/{user}/connections"),
            Some(&body),
        )
        .await;
    let answered = Instant::now();
    assert_eq!(status, 201, "{connection:#}");
    let connection_id = connection["id"].as_str().unwrap().to_owned();
    let (_, seen) = client
        .wait_for(&user, "connection.created", answered, BOUND, |e| {
            e["data"]["id"] == connection_id.as_str()
        })
        .await;
    lags.push(("connection.created", seen - answered));

    // Deleted: 202, then purge-user (through the stream) empties the
    // partition, and the receipt counts what was ingested.
    let (status, deletion) = client
        .send(reqwest::Method::DELETE, &format!("/users/{user}"), None)
        .await;
    let answered = Instant::now();
    assert_eq!(status, 202, "{deletion:#}");
    let (event, seen) = client
        .wait_for(&user, "user.deleted", answered, PURGE_BOUND, |_| true)
        .await;
    lags.push(("user.deleted (purge included)", seen - answered));
    assert_eq!(
        env.partition_count(&user).await,
        0,
        "the partition is empty"
    );
    let removed = &event["data"]["removed"];
    assert_eq!(removed["connections"], 1, "{event:#}");
    assert_eq!(removed["accounts"], accounts, "{event:#}");
    assert_eq!(removed["transactions"], transactions, "{event:#}");
    let events = client.events(&user).await;
    assert!(
        events
            .iter()
            .any(|e| e["eventType"] == "deleted" && e["entity"] == "connection"),
        "connection.deleted: {:#}",
        json!(events)
    );

    let mut sorted: Vec<Duration> = lags.iter().map(|(_, lag)| *lag).collect();
    sorted.sort();
    println!(
        "lag from a write's answer to its event in GET /events (real stream, 200 ms polling):"
    );
    for (kind, lag) in &lags {
        println!("  {kind:<30} {:>6} ms", lag.as_millis());
    }
    let n = sorted.len();
    let median = (sorted[(n - 1) / 2] + sorted[n / 2]) / 2;
    println!(
        "  {n} writes: min {} ms, median {} ms, max {} ms",
        sorted[0].as_millis(),
        median.as_millis(),
        sorted[n - 1].as_millis()
    );
    println!("  user.deleted's receipt: {removed}");
}
