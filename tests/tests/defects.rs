//! One test per integrity defect that a review and an attack on main found
//! (issue 12), named after it. Each failed before its fix.

use infra::seed::connection_body;
use serde_json::{json, Value};
use tests::api::gavin;
use tests::TestEnv;

/// An ingest body whose connection, first account and first transaction
/// carry these timestamps.
fn dated(created: &str, post: &str) -> Value {
    let mut body = connection_body(1, 1, 2);
    body["createdDate"] = json!(created);
    body["transactions"][0]["postDate"] = json!(post);
    body
}

#[tokio::test]
async fn d01_a_timestamp_that_cannot_be_read_back_is_refused() {
    let env = TestEnv::new().await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    let before = env.item_count().await;
    for (created, post, pointer) in [
        (
            "0000-01-01T00:00:00+00:01",
            "2024-01-15T09:30:00Z",
            "/createdDate",
        ),
        (
            "2024-01-15T09:30:00Z",
            "0000-01-01T00:00:00+00:01",
            "/transactions/0/postDate",
        ),
        (
            "9999-12-31T23:59:59-23:59",
            "2024-01-15T09:30:00Z",
            "/createdDate",
        ),
    ] {
        let reply = api.ingest_connection(&user, &dated(created, post)).await;
        assert_eq!(reply.status, 400, "{created} {post}: {:#}", reply.body);
        assert_eq!(reply.pointer(), pointer);
    }
    assert_eq!(env.item_count().await, before, "nothing written");
    // The edges that can be written are accepted and read back.
    let edge = dated("0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z");
    assert_eq!(api.ingest_connection(&user, &edge).await.status, 201);
    assert_eq!(api.get_user(&user).await.status, 200);
    assert_eq!(api.list_connections(&user).await.status, 200);
    let page = api.list_transactions(&user, &[]).await;
    assert_eq!(page.status, 200, "{:#}", page.body);
    assert_eq!(page.body["data"][0]["postDate"], "9999-12-31T23:59:59.999Z");
}

#[tokio::test]
async fn d02_no_client_time_reaches_a_panic() {
    let env = TestEnv::new().await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    for filter in [
        "transaction.postDate.gt('9999-12-31T23:59:59-23:59')",
        "transaction.postDate.lt('0000-01-01T00:00:00+23:59')",
        "transaction.postDate.bt('0000-01-01T00:00:00+00:01','9999-12-31T23:59:59-00:01')",
        "transaction.postDate.eq('9999-12-31T23:59:59-23:59')",
    ] {
        let reply = api.list_transactions(&user, &[("filter", filter)]).await;
        assert_eq!(reply.status, 400, "{filter}: {:#}", reply.body);
        assert_eq!(reply.body["data"][0]["source"]["parameter"], "filter");
    }
}

/// A search that matched at once, or after the indexes caught up.
async fn found(env: &TestEnv, params: &[(&str, &str)]) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..50 {
        let reply = env.api().search_users(params).await;
        assert_eq!(reply.status, 200, "{params:?}: {:#}", reply.body);
        ids = reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        if !ids.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    ids
}

#[tokio::test]
async fn d09_valid_searches_are_answered_and_the_rest_refused_never_500() {
    let env = TestEnv::new().await;
    let api = env.api();
    let zed = api
        .new_user(&json!({"email": "zed@quark.io", "firstName": "Zed", "lastName": "Quark"}))
        .await;
    api.new_user(&json!({"email": "zelda@x.io", "firstName": "Zelda", "lastName": "Other"}))
        .await;
    for params in [
        vec![("q", "Zed"), ("firstName", "Zed")],
        vec![("q", "Zed"), ("lastName", "Quark")],
        vec![("email", "zed@quark.io"), ("q", "ZED@quark.io")],
        vec![("firstName", "Zed"), ("filter", "user.firstName.eq('Zed')")],
        vec![("q", "quark zed"), ("filter", "user.lastName.eq('Quark')")],
    ] {
        assert_eq!(
            found(&env, &params).await,
            std::slice::from_ref(&zed),
            "{params:?}"
        );
    }
    let long_name = "z".repeat(1_025);
    let long_email = format!("{}@quark.io", "z".repeat(2_048));
    for params in [
        vec![("q", "Zed"), ("q", "Zed")],
        vec![("firstName", "Zed"), ("firstName", "Zed")],
        vec![("lastName", "Quark"), ("lastName", "Q")],
        vec![("email", "zed@quark.io"), ("email", "zed@quark.io")],
        vec![("firstName", long_name.as_str())],
        vec![("q", long_name.as_str())],
        vec![("email", long_email.as_str())],
        vec![("filter", &format!("user.email.eq('{long_email}')"))],
    ] {
        let reply = api.search_users(&params).await;
        assert_eq!(reply.status, 400, "{:?}: {:#}", &params[0].0, reply.body);
    }
    // An inverted date range is an empty page, not DynamoDB's refusal.
    api.ingest_connection(&zed, &connection_body(1, 1, 5)).await;
    let inverted = api
        .list_transactions(
            &zed,
            &[(
                "filter",
                "transaction.postDate.gt('2024-02-01'),transaction.postDate.lt('2024-01-01')",
            )],
        )
        .await;
    assert_eq!(inverted.status, 200, "{:#}", inverted.body);
    assert_eq!(inverted.body["count"], 0);
}

#[tokio::test]
async fn d10_a_filtered_search_reads_a_bounded_amount_per_page() {
    let env = TestEnv::new().await;
    // 900 users whose first name starts with p and whose last name does not
    // start with z, and one that matches both.
    let mut bodies: Vec<Value> = (0..900)
        .map(|n| json!({"email": format!("p{n}@x.io"), "firstName": format!("P{n:04}"), "lastName": "Smith"}))
        .collect();
    bodies.push(json!({"email": "pz@x.io", "firstName": "P0450x", "lastName": "Zed"}));
    let users: Vec<_> = bodies
        .iter()
        .map(|b| {
            shared::user::decode_create(b.clone())
                .unwrap()
                .into_user(shared::user::UserId::new(), shared::clock::now())
        })
        .collect();
    env.app.store.import_users(&users, 8).await.unwrap();
    let matching = users.last().unwrap().id.to_string();
    // The indexes are eventually consistent: wait for the last user written.
    assert_eq!(
        found(&env, &[("email", "pz@x.io")]).await,
        std::slice::from_ref(&matching)
    );

    let mut seen = Vec::new();
    let mut params = vec![
        ("firstName", "p".to_owned()),
        ("lastName", "z".to_owned()),
        ("limit", "1".to_owned()),
    ];
    for page in 0.. {
        assert!(page < 20, "the search ends");
        env.requests.clear();
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = env.api().search_users(&pairs).await;
        assert_eq!(reply.status, 200, "{pairs:?} {:#}", reply.body);
        let queries = env.requests.count("Query");
        assert!(queries <= 4, "page {page} made {queries} Queries");
        for user in reply.body["data"].as_array().unwrap() {
            seen.push(user["id"].as_str().unwrap().to_owned());
        }
        let Some(next) = reply.body["links"]["next"].as_str() else {
            break;
        };
        let cursor = form_urlencoded::parse(next.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "next")
            .unwrap()
            .1
            .into_owned();
        params.retain(|(k, _)| *k != "next");
        params.push(("next", cursor));
    }
    assert_eq!(seen, [matching]);
}

#[tokio::test]
async fn d11_empty_criteria_are_refused_not_a_listing() {
    let env = TestEnv::new().await;
    env.api().new_user(&gavin()).await;
    for (name, value) in [
        ("email", ""),
        ("email", "  "),
        ("firstName", ""),
        ("lastName", " "),
        ("q", ""),
        ("q", "\u{301}"),
        ("filter", "user.email.eq('')"),
        ("filter", "user.firstName.eq('')"),
    ] {
        let reply = env.api().search_users(&[(name, value)]).await;
        assert_eq!(reply.status, 400, "{name}={value:?}: {:#}", reply.body);
        assert_eq!(reply.body["data"][0]["source"]["parameter"], name);
    }
}

#[tokio::test]
async fn d15_an_error_is_never_much_larger_than_its_request() {
    let env = TestEnv::new().await;
    // 62 KB of unknown fields, and one unknown field with a 60 KB name.
    let mut many = serde_json::Map::new();
    many.insert("email".into(), json!("a@b.co"));
    for n in 0..5_000 {
        many.insert(format!("f{n:07}"), json!(1));
    }
    let long_name = json!({"email": "a@b.co", "x".repeat(60_000): 1});
    for body in [Value::Object(many), long_name] {
        let sent = body.to_string().len();
        let reply = env.api().create_user(&body).await;
        assert_eq!(reply.status, 400);
        let answered = reply.body.to_string().len();
        assert!(
            answered <= 8 * 1024,
            "{sent} bytes sent, {answered} bytes answered"
        );
        assert!(reply.body["data"].as_array().unwrap().len() <= 20);
    }
}
