//! Idempotency-Key on POST /users: a retried create never writes a second user.

use serde_json::{json, Value};
use shared::routes::Route;
use tests::events::{Event, Reply};
use tests::TestEnv;

/// A create with an `Idempotency-Key`.
async fn create_with_key(env: &TestEnv, key: &str, body: &Value) -> Reply {
    let event = Event::new("POST", "/users")
        .json(body)
        .header("idempotency-key", key);
    env.api().call(Route::CreateUser, event).await
}

#[tokio::test]
async fn the_same_key_and_body_get_the_same_answer_and_one_user() {
    let env = TestEnv::new().await;
    let body = json!({"email": "gavin@hooli.com", "firstName": "Gavin"});
    let first = create_with_key(&env, "k-1", &body).await;
    assert_eq!(first.status, 201);
    assert_eq!(
        env.requests.operations(),
        ["TransactWriteItems"],
        "one write request"
    );
    assert!(first.headers.get("idempotent-replayed").is_none());

    // The same document, keys in another order.
    let again: Value =
        serde_json::from_str(r#"{"firstName":"Gavin","email":"gavin@hooli.com"}"#).unwrap();
    let second = create_with_key(&env, "k-1", &again).await;
    assert_eq!(second.status, 201);
    assert_eq!(second.id(), first.id());
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(
        env.item_count().await,
        2,
        "one user and one idempotency record"
    );

    let other_key = create_with_key(&env, "k-2", &body).await;
    assert_eq!(other_key.status, 201);
    assert_ne!(other_key.id(), first.id());
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_conflict() {
    let env = TestEnv::new().await;
    assert_eq!(
        create_with_key(&env, "k-1", &json!({"email": "gavin@hooli.com"}))
            .await
            .status,
        201
    );
    let before = env.item_count().await;
    let reply = create_with_key(&env, "k-1", &json!({"email": "richard@piedpiper.com"})).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.error().0, "idempotency-key-reused");
    assert_eq!(env.item_count().await, before, "nothing written");

    for bad in ["", "with space", &"k".repeat(256)] {
        let reply = create_with_key(&env, bad, &json!({"email": "x@y.co"})).await;
        assert_eq!(reply.status, 400, "{bad:?}");
        assert_eq!(
            reply.body["data"][0]["source"]["parameter"],
            "Idempotency-Key"
        );
    }
    assert_eq!(env.item_count().await, before);
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_create_one_user() {
    let env = TestEnv::new().await;
    let body = json!({"email": "gavin@hooli.com", "mobile": "+61410888666"});
    let requests = (0..20).map(|_| create_with_key(&env, "same-key", &body));
    let replies = futures::future::join_all(requests).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{:#}", r.body);
            r.id()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every request got the one user");
    assert_eq!(
        env.item_count().await,
        2,
        "one user and one idempotency record"
    );
}

#[tokio::test]
async fn a_retried_ingest_is_written_once() {
    let env = TestEnv::new().await;
    let user = create_with_key(&env, "user-key", &json!({"email": "gavin@hooli.com"}))
        .await
        .id();
    let ingest = |key: &str, body: &Value| {
        Event::user("POST", &user)
            .path(&format!("/users/{user}/connections"))
            .json(body)
            .header("idempotency-key", key)
    };
    let body = infra::seed::connection_body(1, 1, 50);
    let api = env.api();
    let first = api
        .call(Route::IngestConnection, ingest("ingest-1", &body))
        .await;
    assert_eq!(first.status, 201, "{:#}", first.body);
    let items = env.item_count().await;

    let retry = api
        .call(Route::IngestConnection, ingest("ingest-1", &body))
        .await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(env.item_count().await, items, "the retry wrote nothing");

    let other = api
        .call(
            Route::IngestConnection,
            ingest("ingest-1", &infra::seed::connection_body(2, 1, 5)),
        )
        .await;
    assert_eq!(other.status, 409);
    assert_eq!(env.item_count().await, items);
}

/// A record keeps its answer's links without a host; every answer, the
/// replay included, roots them at the configured base.
#[tokio::test]
async fn records_never_store_a_host() {
    let env = TestEnv::with(|c| c.public_base_url = Some("https://api.users.example".into())).await;
    let first = create_with_key(&env, "k-1", &json!({"email": "gavin@hooli.com"})).await;
    assert_eq!(first.status, 201);
    let self_link = first.body["links"]["self"].as_str().unwrap().to_owned();
    assert!(
        self_link.starts_with("https://api.users.example/users/"),
        "{self_link}"
    );
    let user = first.id();
    let ingest = |key: &str| {
        Event::user("POST", &user)
            .path(&format!("/users/{user}/connections"))
            .json(&infra::seed::connection_body(1, 1, 2))
            .header("idempotency-key", key)
    };
    let ingested = env.api().call(Route::IngestConnection, ingest("i-1")).await;
    assert_eq!(ingested.status, 201);
    let scan = env
        .client()
        .scan()
        .table_name(&env.table)
        .send()
        .await
        .unwrap();
    for item in scan.items() {
        if let Some(response) = item.get("response").and_then(|v| v.as_s().ok()) {
            assert!(
                !response.contains("://"),
                "a record holds a host: {response}"
            );
        }
    }
    let replay = create_with_key(&env, "k-1", &json!({"email": "gavin@hooli.com"})).await;
    assert_eq!(replay.body, first.body);
    let again = env.api().call(Route::IngestConnection, ingest("i-1")).await;
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, ingested.body);
    assert!(again.body["links"]["self"]
        .as_str()
        .unwrap()
        .starts_with("https://api.users.example/users/"));
}
