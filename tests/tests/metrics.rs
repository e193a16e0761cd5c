//! The CloudWatch EMF metrics the handlers emit: the right values for what
//! happened, and never a trace of the user in them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use std::time::Duration;

use infra::seed::connection_body;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use shared::routes::Route;
use shared::telemetry::metrics;
use tests::events::{handover_event, Event};
use tests::TestEnv;

/// Every metric line this process emits from now on, parsed. The sink is
/// global, which is safe because nextest (which `make test` runs) gives each
/// test a process of its own: no other test's lines can mix in.
fn capture() -> impl Fn() -> (String, Vec<Value>) {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    assert!(
        metrics::set_sink(move |line| sink.lock().unwrap().push(line.to_owned())),
        "one sink per process: run these tests with cargo nextest"
    );
    move || {
        let text = lines.lock().unwrap().join("\n");
        let parsed = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("every metric line is JSON"))
            .collect();
        (text, parsed)
    }
}

/// The sum of each metric over `lines`, keyed by its name and, for a metric
/// with dimensions, `name{Dimension=value}`.
fn totals(lines: &[Value]) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for line in lines {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        let dimensions: Vec<String> = directive["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let d = d.as_str().unwrap();
                format!("{d}={}", line[d].as_str().unwrap())
            })
            .collect();
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            let key = if dimensions.is_empty() {
                name.to_owned()
            } else {
                format!("{name}{{{}}}", dimensions.join(","))
            };
            *totals.entry(key).or_default() += line[name].as_u64().unwrap();
        }
    }
    totals
}

#[tokio::test]
async fn a_users_life_emits_its_metrics_and_nothing_of_the_user() {
    let captured = capture();
    let env = TestEnv::new().await;
    let api = env.api();
    let (email, mobile) = ("ottoline.quarrel@example.com", "+61499777333");
    let (first, last) = ("Ottoline", "Vanderquist");
    let idempotency_key = "metrics-create-7f3a";
    let connection_id = "conn-metrics-4821";
    let (accounts, transactions) = (3, 11);

    let body = json!({"email": email, "mobile": mobile, "firstName": first, "lastName": last});
    let create = || {
        Event::new("POST", "/users")
            .json(&body)
            .header("idempotency-key", idempotency_key)
    };
    let created = api.call(Route::CreateUser, create()).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.id();
    let replayed = api.call(Route::CreateUser, create()).await;
    assert_eq!(replayed.status, 201);
    assert_eq!(replayed.headers["idempotent-replayed"], "true");

    let patch = |tag: &str| {
        Event::user("PATCH", &id)
            .json(&json!({"middleName": "Ysolde"}))
            .header("if-match", tag)
    };
    assert_eq!(
        api.call(Route::UpdateUser, patch("\"1\"")).await.status,
        200
    );
    let stale = api.call(Route::UpdateUser, patch("\"1\"")).await;
    assert_eq!(stale.status, 412);

    for query in [("email", email), ("q", last)] {
        let found = api.search_users(&[query]).await;
        assert_eq!(found.status, 200);
        assert_eq!(found.body["data"][0]["id"], id, "{query:?}");
    }
    assert_eq!(api.search_users(&[]).await.status, 200);

    let mut connection = connection_body(1, accounts, transactions);
    connection["id"] = json!(connection_id);
    let ingested = api.ingest_connection(&id, &connection).await;
    assert_eq!(ingested.status, 201, "{:#}", ingested.body);

    let items = env.item_count().await;
    assert_eq!(api.delete_user(&id).await.status, 204);
    let removed = items - env.item_count().await;
    assert_eq!(
        removed,
        1 + 1 + 1 + accounts + transactions,
        "the profile, its idempotency record, the connection, accounts and transactions"
    );

    let (text, parsed) = captured();
    let expected: BTreeMap<String, u64> = [
        ("UsersCreated", 1),
        ("IdempotentReplays", 1),
        ("UsersUpdated", 1),
        ("PreconditionFailed", 1),
        ("Searches{Kind=email}", 1),
        ("Searches{Kind=name}", 1),
        ("Searches{Kind=list}", 1),
        ("IngestedAccounts", accounts as u64),
        ("IngestedTransactions", transactions as u64),
        ("UsersDeleted", 1),
        ("ItemsPurged", removed as u64),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let mut got = totals(&parsed);
    assert!(
        got.remove("PurgeDuration").is_some(),
        "a deletion pass is timed:\n{text}"
    );
    assert_eq!(got, expected, "{text}");
    for line in &parsed {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert!(line["_aws"]["Timestamp"].is_i64(), "{line}");
        assert!(directive["Namespace"].is_string(), "{line}");
    }

    for secret in [
        email,
        "ottoline.quarrel",
        mobile,
        "499777333",
        first,
        last,
        "Ysolde",
        &id,
        connection_id,
        idempotency_key,
        "acc-1-0",
        "txn-1-0",
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into the metrics:\n{text}"
        );
    }
}

/// A user with 400 transactions, on an app whose DELETE has a budget of
/// zero: it removes one page and hands the rest over to purge-user.
async fn a_user_too_large_for_delete() -> (TestEnv, String) {
    let env = TestEnv::with(|c| c.delete_budget = Duration::ZERO).await;
    let api = env.api();
    let id = api.new_user(&tests::api::gavin()).await;
    let ingested = api
        .ingest_connection(&id, &connection_body(1, 2, 400))
        .await;
    assert_eq!(ingested.status, 201, "{:#}", ingested.body);
    (env, id)
}

#[tokio::test]
async fn a_deletion_handed_over_to_purge_user_reports_each_item_once() {
    let captured = capture();
    let (env, id) = a_user_too_large_for_delete().await;
    let api = env.api();
    let items = env.item_count().await;

    assert_eq!(api.delete_user(&id).await.status, 202);
    let mut context = lambda_runtime::Context::default();
    let in_five_minutes = std::time::SystemTime::now() + Duration::from_secs(300);
    context.deadline = in_five_minutes
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    shared::stream::purge_users(&env.app, LambdaEvent::new(handover_event(&id), context))
        .await
        .expect("the purge finishes");
    assert_eq!(env.item_count().await, 0);

    let (text, parsed) = captured();
    let passes: Vec<&Value> = parsed
        .iter()
        .filter(|l| l["ItemsPurged"].is_u64())
        .collect();
    assert_eq!(
        passes.len(),
        2,
        "one pass in DELETE, one in purge-user:\n{text}"
    );
    assert!(passes.iter().all(|l| l["PurgeDuration"].is_u64()), "{text}");
    // Both passes removed some; the hand-over item DELETE wrote went too.
    assert!(
        passes.iter().all(|l| l["ItemsPurged"].as_u64() > Some(0)),
        "{text}"
    );
    let totals = totals(&parsed);
    assert_eq!(totals["ItemsPurged"], items as u64 + 1, "{text}");
    assert_eq!(totals["UsersDeleted"], 1, "{text}");
    assert!(!text.contains(&id), "{text}");
}

/// Found by review: every accepted DELETE counted a user deleted, so the
/// repeated DELETEs the runbook asks for counted the same user again. The
/// first DELETE, the one whose write begins the deletion, counts it.
#[tokio::test]
async fn a_repeated_delete_counts_the_user_once() {
    let captured = capture();
    let (env, id) = a_user_too_large_for_delete().await;
    let api = env.api();
    assert_eq!(api.delete_user(&id).await.status, 202);
    assert_eq!(api.delete_user(&id).await.status, 202);
    let (text, parsed) = captured();
    assert_eq!(totals(&parsed)["UsersDeleted"], 1, "{text}");
}
