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

#[tokio::test]
async fn d03_one_connection_never_overwrites_another_connections_records() {
    let env = TestEnv::new().await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    // bank-a: account acc-1 with transactions t-1 and t-2.
    let bank = |id: &str, account: &str, txns: &[&str]| {
        let mut body = connection_body(1, 1, 0);
        body["id"] = json!(id);
        body["accounts"][0]["id"] = json!(account);
        body["transactions"] = Value::Array(
            txns.iter()
                .map(|t| json!({"id": t, "account": account, "status": "posted", "description": format!("{id} {t}"),
                    "amount": "-1.00", "direction": "debit", "class": "payment", "postDate": "2024-01-15T09:30:00Z"}))
                .collect(),
        );
        body
    };
    assert_eq!(
        api.ingest_connection(&user, &bank("bank-a", "acc-1", &["t-1", "t-2"]))
            .await
            .status,
        201
    );
    // bank-b may not take acc-1 over: 409, naming the account, and nothing written.
    let before = env.item_count().await;
    let clash = api
        .ingest_connection(&user, &bank("bank-b", "acc-1", &["t-1"]))
        .await;
    assert_eq!(clash.status, 409, "{:#}", clash.body);
    assert_eq!(clash.pointer(), "/accounts/0/id");
    assert_eq!(env.item_count().await, before);
    // bank-b may use the transaction id t-1 for an account of its own; bank-a's t-1 stays.
    assert_eq!(
        api.ingest_connection(&user, &bank("bank-b", "acc-2", &["t-1"]))
            .await
            .status,
        201
    );
    let a = api
        .list_transactions(&user, &[("filter", "account.id.eq('acc-1')")])
        .await;
    assert_eq!(a.body["count"], 2, "{:#}", a.body);
    assert!(a.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["connection"] == "bank-a"));
    // Deleting bank-a leaves bank-b whole and nothing of bank-a.
    assert_eq!(api.delete_connection(&user, "bank-a").await.status, 204);
    let left = api.list_transactions(&user, &[]).await;
    assert_eq!(left.body["count"], 1);
    assert_eq!(left.body["data"][0]["connection"], "bank-b");
    assert_eq!(
        api.get_transaction(&user, "t-1").await.body["connection"],
        "bank-b"
    );
    // profile + bank-b's connection, account and transaction
    assert_eq!(env.partition_count(&user).await, 4);
}

#[tokio::test]
async fn d12_idempotency_keys_belong_to_their_caller_and_die_with_what_they_made() {
    let env = TestEnv::new().await;
    let api = env.api();
    let body = json!({"email": "gavin@hooli.com"});
    let as_key = |caller: &str| {
        let token = shared::auth::TokenSigner::new(tests::TOKEN_SECRET)
            .issue(
                caller,
                shared::auth::Scope::ServerAccess,
                None,
                tests::time_now(),
            )
            .unwrap();
        tests::api::event(shared::routes::Route::CreateUser, "POST", &[])
            .json(&body)
            .header("idempotency-key", "same-key")
            .bearer(&token)
    };
    // Two API keys of the same service, each active.
    let (one, two) = (
        shared::auth::ApiKey::generate(),
        shared::auth::ApiKey::generate(),
    );
    for (key, name) in [(&one, "one"), (&two, "two")] {
        env.add_key(key, name).await;
    }
    let first = api
        .call(shared::routes::Route::CreateUser, as_key(&one.id()))
        .await;
    let second = api
        .call(shared::routes::Route::CreateUser, as_key(&two.id()))
        .await;
    assert_eq!((first.status, second.status), (201, 201));
    assert!(second.headers.get("idempotent-replayed").is_none());
    assert_ne!(
        first.id(),
        second.id(),
        "another caller's key is another key"
    );

    // After the user is deleted, a retry does not answer 201 for it.
    assert_eq!(api.delete_user(&first.id()).await.status, 204);
    let retry = api
        .call(shared::routes::Route::CreateUser, as_key(&one.id()))
        .await;
    assert_ne!(retry.body["id"], first.body["id"], "{:#}", retry.body);
    // and its record, which held the user's email, went with the user.
    let scan = env
        .client()
        .scan()
        .table_name(&env.table)
        .send()
        .await
        .unwrap();
    let text = format!("{:?}", scan.items());
    assert!(
        !text.contains(&first.id()),
        "nothing of the deleted user is left"
    );
}

#[tokio::test]
async fn d16_links_come_from_configuration_never_from_the_host_header() {
    let env = TestEnv::new().await;
    let event = tests::api::event(shared::routes::Route::CreateUser, "POST", &[])
        .json(&gavin())
        .header("host", "evil.example");
    let reply = env
        .api()
        .call(shared::routes::Route::CreateUser, event)
        .await;
    assert_eq!(reply.status, 201);
    let link = reply.body["links"]["self"].as_str().unwrap();
    assert!(
        link.starts_with("https://api.example.test/users/"),
        "{link}"
    );
}

/// An ingest with an Idempotency-Key.
fn keyed_ingest(user: &str, key: &str, body: &Value) -> tests::events::Event {
    tests::api::user_event(shared::routes::Route::IngestConnection, "POST", user)
        .json(body)
        .header("idempotency-key", key)
}

async fn ingest_with_key(
    env: &TestEnv,
    user: &str,
    key: &str,
    body: &Value,
) -> tests::events::Reply {
    env.api()
        .call(
            shared::routes::Route::IngestConnection,
            keyed_ingest(user, key, body),
        )
        .await
}

#[tokio::test]
async fn d04_a_retried_ingest_never_reports_success_for_data_not_written() {
    use tests::faults::{Fault, Faults};
    let faults = Faults::new(4);
    let env = TestEnv::with_faults(&faults, |c| {
        c.ingest_lease = std::time::Duration::from_millis(1_500)
    })
    .await;
    let user = env.api().new_user(&gavin()).await;
    let body = connection_body(1, 1, 20);

    // The one batch fails (throttled through every retry of the SDK): 503, and the
    // retry with the same key does the work, not a replay of a 201.
    faults.at(2, Fault::Throttle);
    faults.at(3, Fault::Throttle);
    faults.at(4, Fault::Throttle);
    let failed = ingest_with_key(&env, &user, "k-1", &body).await;
    assert_eq!(failed.status, 503, "{:#}", failed.body);
    assert!(failed.headers.get("retry-after").is_some());
    let retry = ingest_with_key(&env, &user, "k-1", &body).await;
    assert_eq!(retry.status, 201, "{:#}", retry.body);
    assert!(
        retry.headers.get("idempotent-replayed").is_none(),
        "the retry did the work"
    );
    assert_eq!(
        env.api()
            .list_transactions(&user, &[("limit", "500")])
            .await
            .body["count"],
        20
    );

    // The function dies after its commit and one batch. A retry while the
    // first attempt could still be running is told to wait; once its lease is
    // over, a retry takes the record over and does the work.
    let body = connection_body(2, 1, 100);
    faults.crash_after(2);
    assert!(faults
        .run(ingest_with_key(&env, &user, "k-2", &body))
        .await
        .is_none());
    let early = ingest_with_key(&env, &user, "k-2", &body).await;
    assert_eq!(early.status, 409, "{:#}", early.body);
    assert!(early.headers.get("retry-after").is_some());
    tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
    let late = ingest_with_key(&env, &user, "k-2", &body).await;
    assert_eq!(late.status, 201, "{:#}", late.body);
    assert!(late.headers.get("idempotent-replayed").is_none());
    let again = ingest_with_key(&env, &user, "k-2", &body).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(
        env.api()
            .list_transactions(&user, &[("limit", "500")])
            .await
            .body["count"],
        120
    );

    // An ingest that ended 404 never replays 201.
    let gone = shared::user::UserId::new().to_string();
    assert_eq!(ingest_with_key(&env, &gone, "k-3", &body).await.status, 404);
    assert_eq!(ingest_with_key(&env, &gone, "k-3", &body).await.status, 404);
}

#[tokio::test]
async fn d05_conflicts_and_throttling_are_retried_not_answered_404_or_500() {
    use tests::faults::{Fault, Faults};
    let faults = Faults::new(5);
    let env = TestEnv::with_faults(&faults, |_| {}).await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;

    // A TransactionConflict on the ingest's commit is not "the user is gone".
    faults.at(1, Fault::TransactionConflict);
    let ingested = api
        .ingest_connection(&user, &connection_body(1, 1, 3))
        .await;
    assert_eq!(ingested.status, 201, "{:#}", ingested.body);

    // An update or a tombstone refused for a transaction in flight is retried.
    faults.at(1, Fault::TransactionConflict);
    let updated = api
        .update_user("PATCH", &user, &json!({"firstName": "Richard"}))
        .await;
    assert_eq!(updated.status, 200, "{:#}", updated.body);
    faults.at(1, Fault::TransactionConflict);
    let deleted = api.delete_user(&user).await;
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);

    // Conflicts that never end are a 503 with Retry-After, not a 404.
    let other = api.new_user(&gavin()).await;
    for nth in 1..=6 {
        faults.at(nth, Fault::TransactionConflict);
    }
    let busy = api
        .ingest_connection(&other, &connection_body(1, 1, 3))
        .await;
    assert_eq!(busy.status, 503, "{:#}", busy.body);
    assert!(busy.headers.get("retry-after").is_some());
    assert_eq!(faults.injected()["conflict"], 9);
}

#[tokio::test]
async fn d06_deleting_a_connection_leaves_nothing_whatever_is_cut_short() {
    use tests::faults::Faults;
    let faults = Faults::new(6);
    let env = TestEnv::with_faults(&faults, |c| c.delete_parallelism = 1).await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    assert_eq!(
        api.ingest_connection(&user, &connection_body(1, 3, 300))
            .await
            .status,
        201
    );
    assert_eq!(
        api.ingest_connection(&user, &connection_body(2, 1, 10))
            .await
            .status,
        201
    );

    // Cut short after its tombstone, the overview and a few batches.
    faults.crash_after(5);
    assert!(faults
        .run(api.delete_connection(&user, "conn-1"))
        .await
        .is_none());
    // Already gone for every reader: the connection, its accounts and its
    // transactions, though not all are deleted yet.
    assert_eq!(api.get_connection(&user, "conn-1").await.status, 404);
    assert_eq!(api.list_accounts(&user).await.body["count"], 1);
    assert_eq!(
        api.list_transactions(&user, &[("limit", "500")]).await.body["count"],
        10
    );
    // A refresh of it meanwhile is refused, not half-written beside the deletion.
    let refresh = api
        .ingest_connection(&user, &connection_body(1, 3, 300))
        .await;
    assert_eq!(refresh.status, 409, "{:#}", refresh.body);
    // The repeated call finishes: nothing of conn-1 is left.
    assert_eq!(api.delete_connection(&user, "conn-1").await.status, 204);
    faults.clear();
    // profile + conn-2, its account and its 10 transactions
    assert_eq!(env.partition_count(&user).await, 13);

    // An ingest of a connection in flight holds it: its deletion waits (409).
    faults.crash_after(2);
    assert!(faults
        .run(api.ingest_connection(&user, &connection_body(2, 1, 200)))
        .await
        .is_none());
    let held = api.delete_connection(&user, "conn-2").await;
    assert_eq!(held.status, 409, "{:#}", held.body);
    assert!(held.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn d07_an_ingest_that_dies_after_its_user_was_deleted_leaves_nothing() {
    use tests::faults::Faults;
    let faults = Faults::new(7);
    let env = TestEnv::with_faults(&faults, |c| {
        c.ingest_lease = std::time::Duration::from_millis(1_500);
    })
    .await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    // The ingest commits, writes one batch, and dies with its lease held.
    faults.crash_after(2);
    assert!(faults
        .run(api.ingest_connection(&user, &connection_body(1, 1, 200)))
        .await
        .is_none());
    // The deletion cannot finish while the lease lasts: it hands over.
    let deleted = api.delete_user(&user).await;
    assert_eq!(deleted.status, 202, "{:#}", deleted.body);
    // What the dead ingest still had in flight lands late (as a request a
    // timed-out Lambda sent can): written straight to the table.
    let id = shared::user::UserId::parse(&user).unwrap();
    let late = shared::finance::decode_ingest(connection_body(1, 1, 200)).unwrap();
    let items: Vec<_> = late.transactions[100..]
        .iter()
        .map(|t| {
            let mut item: std::collections::HashMap<
                String,
                aws_sdk_dynamodb::types::AttributeValue,
            > = serde_dynamo::to_item(t).unwrap();
            item.insert(
                "pk".into(),
                aws_sdk_dynamodb::types::AttributeValue::S(shared::keys::user_pk(&id)),
            );
            item.insert(
                "sk".into(),
                aws_sdk_dynamodb::types::AttributeValue::S(shared::keys::transaction_sk(
                    t.id.as_str(),
                    "conn-1",
                )),
            );
            aws_sdk_dynamodb::types::WriteRequest::builder()
                .put_request(
                    aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    env.app.store.write_batches(items, 4).await.unwrap();
    // purge-user, started by the hand-over, waits out the lease and sweeps.
    let mut context = lambda_runtime::Context::default();
    context.deadline = (tests::time_now() as u64 + 300) * 1000;
    shared::stream::purge_users(
        &env.app,
        lambda_runtime::LambdaEvent::new(tests::events::handover_event(&user), context),
    )
    .await
    .unwrap();
    faults.clear();
    assert_eq!(env.partition_count(&user).await, 0, "no orphan");
}

#[tokio::test]
async fn d08_deletion_is_handed_over_explicitly_and_a_repeated_delete_re_arms_it() {
    // The stream triggers purge-user on hand-overs only, never on a tombstone.
    let template: serde_yaml::Value = serde_yaml::from_str(infra::table::TEMPLATE).unwrap();
    let pattern = template["Resources"]["PurgeUserFunction"]["Properties"]["Events"]["Tombstone"]
        ["Properties"]["FilterCriteria"]["Filters"][0]["Pattern"]
        .as_str()
        .unwrap()
        .to_owned();
    let pattern: Value = serde_json::from_str(&pattern).unwrap();
    assert_eq!(pattern["dynamodb"]["Keys"]["sk"]["S"], json!(["PURGE"]));
    assert_eq!(pattern["eventName"], json!(["INSERT", "MODIFY"]));

    let env = TestEnv::with(|c| c.delete_budget = std::time::Duration::ZERO).await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    let id = shared::user::UserId::parse(&user).unwrap();
    infra::seed::fill_user(&env.app.store, &id, 0, 2_000, 16)
        .await
        .unwrap();
    let requested = || async {
        let item = env
            .client()
            .get_item()
            .table_name(&env.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(shared::keys::user_pk(&id)),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("PURGE".into()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item;
        item.and_then(|i| i.get("requestedAt").and_then(|v| v.as_n().ok()).cloned())
    };
    assert_eq!(api.delete_user(&user).await.status, 202);
    let first = requested().await.expect("handed over");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // The stream's record was lost: a repeated DELETE hands over again, with a
    // new write, which the stream delivers anew.
    assert_eq!(api.delete_user(&user).await.status, 202);
    let second = requested().await.expect("handed over again");
    assert_ne!(first, second);
    // While purge-user holds the deletion, a repeated DELETE answers at once.
    assert!(env
        .app
        .store
        .take_purge(&id, shared::clock::now_ms() + 60_000)
        .await
        .unwrap());
    env.requests.clear();
    assert_eq!(api.delete_user(&user).await.status, 202);
    assert_eq!(
        env.requests.count("BatchWriteItem"),
        0,
        "no purge beside purge-user"
    );
}

#[tokio::test]
async fn d18_delete_stops_issuing_work_at_its_deadline() {
    use tests::faults::{Fault, Faults, Plan};
    let faults = Faults::new(18);
    let budget = std::time::Duration::from_millis(400);
    let env = TestEnv::with_faults(&faults, |c| c.delete_budget = budget).await;
    let user = env.api().new_user(&gavin()).await;
    let id = shared::user::UserId::parse(&user).unwrap();
    infra::seed::fill_user(&env.app.store, &id, 0, 5_000, 16)
        .await
        .unwrap();
    // Every request takes 60 ms more than it would.
    faults.plan(Plan {
        slow: Some((1.0, std::time::Duration::from_millis(60))),
        ..Plan::default()
    });
    let started = std::time::Instant::now();
    let reply = env.api().delete_user(&user).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 202);
    // No batch started after the first page once the deadline had passed:
    // the overshoot is the batches in flight, not another page.
    let deadline = started + budget;
    let late: Vec<_> = faults
        .history()
        .into_iter()
        .filter(|s| {
            s.operation == "BatchWriteItem" && s.at > deadline + std::time::Duration::from_millis(5)
        })
        .collect();
    println!("DELETE with a {budget:?} budget and 60 ms requests answered in {took:?}; {} batches after the deadline", late.len());
    assert!(
        late.is_empty(),
        "{} batches started after the deadline",
        late.len()
    );
    let _ = Fault::Throttle;
}

#[tokio::test]
async fn d19_a_late_purge_does_no_work_and_the_dashboard_404_is_secured() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    let id = shared::user::UserId::parse(&user).unwrap();
    infra::seed::fill_user(&env.app.store, &id, 0, 500, 16)
        .await
        .unwrap();
    env.app.store.tombstone_user(&id, None).await.unwrap();
    let before = env.partition_count(&user).await;
    let mut context = lambda_runtime::Context::default();
    context.deadline = (tests::time_now() as u64 - 1) * 1000;
    let late = shared::stream::purge_users(
        &env.app,
        lambda_runtime::LambdaEvent::new(tests::events::handover_event(&user), context),
    )
    .await;
    assert!(
        late.is_err(),
        "a purge past its deadline fails, to be delivered again"
    );
    assert_eq!(env.partition_count(&user).await, before, "and does no work");

    let missing = functions::dashboard::handle(
        tests::events::Event::new("GET", "/assets/missing.js")
            .without_auth()
            .request(),
    )
    .await;
    assert_eq!(missing.status(), 404);
    for header in [
        "content-security-policy",
        "x-frame-options",
        "referrer-policy",
        "x-content-type-options",
    ] {
        assert!(missing.headers().contains_key(header), "{header}");
    }
}

// Bugs the new tests found (the model test, the property tests): each with
// its own regression test, failing before its fix.

#[tokio::test]
async fn found_a_transaction_conflict_on_a_single_item_write_is_retried() {
    use tests::faults::{Fault, Faults};
    let faults = Faults::new(101);
    let env = TestEnv::with_faults(&faults, |_| {}).await;
    let user = env.api().new_user(&gavin()).await;
    // The tombstone (1), the keys-only page (2), then the profile's DeleteItem (3).
    faults.at(3, Fault::TransactionConflict);
    let deleted = env.api().delete_user(&user).await;
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
}

#[tokio::test]
async fn found_dynamodb_failing_through_the_sdks_retries_is_a_503_not_a_500() {
    use tests::faults::{Fault, Faults};
    let faults = Faults::new(102);
    let env = TestEnv::with_faults(&faults, |_| {}).await;
    for nth in 1..=3 {
        faults.at(nth, Fault::LostAck);
    }
    let reply = env.api().create_user(&gavin()).await;
    assert_eq!(reply.status, 503, "{:#}", reply.body);
    assert!(reply.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn found_a_lost_acknowledgement_is_not_an_error() {
    use tests::faults::{Fault, Faults};
    let faults = Faults::new(103);
    let env = TestEnv::with_faults(&faults, |_| {}).await;
    // The create is applied, its answer lost; the SDK sends it again.
    faults.at(1, Fault::LostAck);
    let created = env.api().create_user(&gavin()).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    // The same for an update with If-Match: the retry's condition fails on
    // the version the first attempt wrote, which was ours.
    let user = created.id();
    faults.at(1, Fault::LostAck);
    let event = tests::api::user_event(shared::routes::Route::UpdateUser, "PATCH", &user)
        .json(&json!({"firstName": "Richard"}))
        .header("if-match", "\"1\"");
    let updated = env
        .api()
        .call(shared::routes::Route::UpdateUser, event)
        .await;
    assert_eq!(updated.status, 200, "{:#}", updated.body);
    assert_eq!(updated.headers["etag"], "\"2\"");
    assert_eq!(env.api().get_user(&user).await.body["firstName"], "Richard");
}

#[tokio::test]
async fn found_a_replay_never_answers_for_a_connection_deleted_since() {
    let env = TestEnv::new().await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    let ten = connection_body(1, 1, 10);
    assert_eq!(ingest_with_key(&env, &user, "k", &ten).await.status, 201);
    assert_eq!(api.delete_connection(&user, "conn-1").await.status, 204);
    assert_eq!(
        api.ingest_connection(&user, &connection_body(1, 1, 5))
            .await
            .status,
        201
    );
    // The first ingest's retry: its connection was deleted (and made again
    // by another ingest), so its answer is not replayed: it runs again.
    let retry = ingest_with_key(&env, &user, "k", &ten).await;
    assert_eq!(retry.status, 201, "{:#}", retry.body);
    assert!(retry.headers.get("idempotent-replayed").is_none());
    let listed = api.list_transactions(&user, &[("limit", "500")]).await;
    assert_eq!(
        listed.body["count"], 10,
        "the data the answer stands for is there"
    );
}

#[tokio::test]
async fn found_a_token_request_that_repeats_a_parameter_is_refused() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (a, b) = (
        api.new_user(&gavin()).await,
        api.new_user(&json!({"email": "richard@piedpiper.com"}))
            .await,
    );
    let key = shared::auth::ApiKey::generate();
    env.add_key(&key, "defects").await;
    // With a value given twice, which one a token is for depends on who
    // reads the form: a gateway rule or a log reading the first would
    // disagree with a service taking the last.
    for (body, parameter) in [
        (
            format!("scope=CLIENT_ACCESS&userId={a}&userId={b}"),
            "userId",
        ),
        (
            format!("scope=SERVER_ACCESS&scope=CLIENT_ACCESS&userId={a}"),
            "scope",
        ),
        (
            "scope=SERVER_ACCESS&scope=SERVER_ACCESS".to_owned(),
            "scope",
        ),
    ] {
        let event = tests::events::Event::new("POST", "/token")
            .without_auth()
            .header("authorization", &format!("Basic {}", key.expose()))
            .header("basiq-version", "3.0")
            .header("content-type", "application/x-www-form-urlencoded")
            .raw_body(&body);
        let reply = api.issue_token(event).await;
        assert_eq!(reply.status, 400, "{body}: {:#}", reply.body);
        assert_eq!(
            reply.body["data"][0]["source"]["parameter"], parameter,
            "{body}"
        );
    }
}

#[tokio::test]
async fn found_a_403_names_its_source_as_basiqs_schema_requires() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    let id = shared::user::UserId::parse(&user).unwrap();
    let client = tests::token(shared::auth::Scope::ClientAccess, Some(id));
    let expired = tests::token_at(
        shared::auth::Scope::ServerAccess,
        None,
        tests::time_now() - 3_601,
    );
    for (token, code) in [(client, "forbidden-access"), (expired, "access-denied")] {
        let event = tests::api::event(shared::routes::Route::CreateUser, "POST", &[])
            .json(&gavin())
            .bearer(&token);
        let reply = env
            .api()
            .call(shared::routes::Route::CreateUser, event)
            .await;
        assert_eq!(reply.status, 403, "{:#}", reply.body);
        assert_eq!(reply.error().0, code);
        tests::contract::assert_matches("ForbiddenAccessError", &reply.body);
    }
}

#[tokio::test]
async fn found_a_date_with_a_signed_year_is_refused() {
    // `time`'s `[year]` takes an optional sign, so `+2024-01-15` passed as a
    // day. As a filter bound it sorts before every stored date (`+` is below
    // the digits), so `gt('+2024-01-15')` listed every transaction; stored in
    // an account, it is not the YYYY-MM-DD its schema promises.
    let env = TestEnv::new().await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    let created = api
        .ingest_connection(&user, &connection_body(1, 1, 2))
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    for filter in [
        "transaction.postDate.gt('+2024-01-15')",
        "transaction.postDate.bt('-0001-01-01','2024-01-15')",
        "transaction.postDate.eq('+9999-12-31')",
    ] {
        let page = api.list_transactions(&user, &[("filter", filter)]).await;
        assert_eq!(page.status, 400, "{filter}: {:#}", page.body);
        assert_eq!(page.body["data"][0]["source"]["parameter"], "filter");
    }
    let before = env.item_count().await;
    let mut body = connection_body(1, 1, 2);
    body["accounts"][0]["transactionIntervals"] =
        json!([{"from": "+2024-01-01", "to": "2024-01-31"}]);
    let refused = api.ingest_connection(&user, &body).await;
    assert_eq!(refused.status, 400, "{:#}", refused.body);
    assert_eq!(env.item_count().await, before, "a refusal writes nothing");
}

#[tokio::test]
async fn found_a_token_request_reads_its_media_type_one_way() {
    // `POST /token` took any type starting `application/json` as JSON, and
    // the JSON reader then refused `application/jsonx` with 415: one header
    // read two ways. A body is JSON for exactly the media types the JSON
    // reader takes; any other is read as a form.
    let env = TestEnv::new().await;
    let key = shared::auth::ApiKey::generate();
    env.add_key(&key, "defects").await;
    for (content_type, body, status) in [
        ("application/jsonx", "scope=SERVER_ACCESS", 200),
        ("application/json-patch", "scope=SERVER_ACCESS", 200),
        (
            "application/json; charset=utf-8",
            r#"{"scope":"SERVER_ACCESS"}"#,
            200,
        ),
        ("application/vnd.basiq+json", "{}", 200),
        ("Application/JSON", r#"{"scope":"CLIENT"}"#, 400),
    ] {
        let event = tests::events::Event::new("POST", "/token")
            .without_auth()
            .header("authorization", &format!("Basic {}", key.expose()))
            .header("basiq-version", "3.0")
            .header("content-type", content_type)
            .raw_body(body);
        let reply = env.api().issue_token(event).await;
        assert_eq!(reply.status, status, "{content_type}: {:#}", reply.body);
    }
}

/// Found by review: a purge that stops at its deadline, as every purge of a
/// large user does, failed its invocation, so purge-user's errors alarm rang
/// for planned work. It now reports the batch as failed records (Lambda's
/// partial batch response), which the stream delivers again all the same;
/// only a real fault is an invocation error.
#[tokio::test]
async fn found_a_purge_stopped_at_its_deadline_is_a_batch_item_failure_not_an_error() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    let id = shared::user::UserId::parse(&user).unwrap();
    env.app.store.tombstone_user(&id, None).await.unwrap();
    let mut context = lambda_runtime::Context::default();
    context.deadline = (tests::time_now() as u64 - 1) * 1000;
    let event = tests::events::handover_event(&user);
    let sequence = event.records[0].change.sequence_number.clone();
    let response = shared::stream::handle(
        &env.app,
        shared::stream::StreamHandler::PurgeUser,
        lambda_runtime::LambdaEvent::new(event, context),
    )
    .await
    .expect("a planned stop is no invocation error");
    let failed: Vec<Option<String>> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, [sequence], "the stream delivers it again");

    // A batch with nothing left to do reports no failure.
    let mut context = lambda_runtime::Context::default();
    context.deadline = (tests::time_now() as u64 + 300) * 1000;
    let response = shared::stream::handle(
        &env.app,
        shared::stream::StreamHandler::PurgeUser,
        lambda_runtime::LambdaEvent::new(tests::events::handover_event(&user), context),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(env.partition_count(&user).await, 0);
}
