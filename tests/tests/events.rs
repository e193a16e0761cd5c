//! The events feed against DynamoDB Local: stream records whose images are
//! items really written by the API (read back raw with the SDK), handed to
//! the `events` function as Lambda hands them, and the four routes.

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use infra::seed::connection_body;
use serde_json::{json, Value};
use shared::auth::Scope;
use shared::event::EventId;
use shared::keys;
use shared::routes::Route;
use shared::stream::StreamHandler;
use shared::user::UserId;
use tests::api::{event, gavin};
use tests::contract::assert_matches;
use tests::events::{stream_batch, stream_record, Item, Reply};
use tests::faults::{Fault, Faults};
use tests::{eventually, TestEnv};

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// An item as the table holds it now, read with the SDK.
async fn raw(env: &TestEnv, pk: String, sk: String) -> Option<Item> {
    env.client()
        .get_item()
        .table_name(&env.table)
        .key(keys::PK, s(&pk))
        .key(keys::SK, s(&sk))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
}

async fn profile(env: &TestEnv, user: &str) -> Item {
    let id = UserId::parse(user).unwrap();
    raw(env, keys::user_pk(&id), keys::PROFILE_SK.into())
        .await
        .expect("the profile")
}

async fn connection(env: &TestEnv, user: &str, connection: &str) -> Item {
    let id = UserId::parse(user).unwrap();
    raw(env, keys::user_pk(&id), keys::connection_sk(connection))
        .await
        .expect("the connection")
}

/// The item with these attributes set (or replaced).
fn with(item: &Item, attrs: &[(&str, AttributeValue)]) -> Item {
    let mut item = item.clone();
    for (name, value) in attrs {
        item.insert((*name).to_owned(), value.clone());
    }
    item
}

/// The connection as an ingest's commit writes it: held by its lease.
fn leased(item: &Item, lease: &str) -> Item {
    with(
        item,
        &[("leaseId", s(lease)), ("leaseUntil", n(4_102_444_800_000))],
    )
}

/// The id of the event a record makes.
fn id_of(record: &Value) -> String {
    EventId::of_record(record["eventID"].as_str().unwrap()).to_string()
}

/// Hands a batch to the `events` function, as Lambda's event source
/// mapping does.
async fn deliver(env: &TestEnv, records: &[Value]) -> DynamoDbEventResponse {
    try_deliver(env, records)
        .await
        .expect("no invocation error")
}

async fn try_deliver(
    env: &TestEnv,
    records: &[Value],
) -> Result<DynamoDbEventResponse, shared::error::ApiError> {
    shared::stream::handle(
        &env.app,
        StreamHandler::Events,
        lambda_runtime::LambdaEvent::new(stream_batch(records), lambda_runtime::Context::default()),
    )
    .await
}

/// Delivers a batch and counts its PutItems.
async fn puts_of(env: &TestEnv, records: &[Value]) -> usize {
    env.requests.clear();
    let response = deliver(env, records).await;
    assert!(response.batch_item_failures.is_empty());
    env.requests.count("PutItem")
}

fn ids(reply: &Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The `next` cursor of a page's `links.next`.
fn next_cursor(reply: &Reply) -> Option<String> {
    let link = reply.body["links"]["next"].as_str()?;
    let (_, query) = link.split_once('?').expect("a query");
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
}

/// Every page of a listing, following `next`: the events' ids in order and
/// each page's size. Each page is exactly one Query.
async fn pages(env: &TestEnv, params: &[(&str, &str)]) -> (Vec<String>, Vec<usize>) {
    let (mut all, mut sizes) = (Vec::new(), Vec::new());
    let mut next: Option<String> = None;
    loop {
        let mut query: Vec<(&str, &str)> = params.to_vec();
        if let Some(cursor) = &next {
            query.push(("next", cursor.as_str()));
        }
        env.requests.clear();
        let reply = env.api().list_events(&query).await;
        assert_eq!(reply.status, 200, "{params:?}: {:#}", reply.body);
        assert_eq!(
            env.requests.operations(),
            ["Query"],
            "one Query a page: {params:?}"
        );
        assert_eq!(reply.body["type"], "list");
        assert!(reply.body["links"]["self"]
            .as_str()
            .unwrap()
            .starts_with("https://api.example.test/events"));
        let page = ids(&reply);
        sizes.push(page.len());
        all.extend(page);
        next = next_cursor(&reply);
        if next.is_none() {
            return (all, sizes);
        }
        assert!(sizes.len() < 100, "a listing that never ends");
    }
}

/// Waits until the whole feed holds `count` events.
async fn feed_holds(env: &TestEnv, count: usize) {
    eventually(&format!("the feed holds {count} events"), || async {
        let reply = env.api().list_events(&[("limit", "500")]).await;
        reply.status == 200 && ids(&reply).len() == count
    })
    .await;
}

/// What a listing filtered by `filter` holds, across all its pages.
async fn listed(env: &TestEnv, filter: &str) -> Vec<Value> {
    let reply = env
        .api()
        .list_events(&[("filter", filter), ("limit", "500")])
        .await;
    assert_eq!(reply.status, 200, "{filter}: {:#}", reply.body);
    assert!(reply.body["links"]["next"].is_null());
    reply.body["data"].as_array().unwrap().clone()
}

/// Records for a user's whole life, from items the API really wrote: its
/// creation, an update, a connection ingested, refreshed and deleted, and
/// the user's deletion with its receipt; each in stream order.
struct Life {
    user: String,
    records: Vec<Value>,
    /// The records that make an event, by the type they make.
    made: Vec<(&'static str, Value)>,
}

async fn a_life(env: &TestEnv) -> Life {
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    let created = profile(env, &user).await;
    assert_eq!(
        api.update_user("PATCH", &user, &json!({"firstName": "Gav"}))
            .await
            .status,
        200
    );
    let updated = profile(env, &user).await;
    assert_eq!(
        api.ingest_connection(&user, &connection_body(0, 1, 3))
            .await
            .status,
        201
    );
    let conn = connection(env, &user, "conn-0").await;
    assert_eq!(
        api.ingest_connection(&user, &connection_body(0, 1, 4))
            .await
            .status,
        201
    );
    let refreshed = connection(env, &user, "conn-0").await;
    let conn_tombstone = with(&refreshed, &[("deletedAt", s("2026-12-01T00:00:00.000Z"))]);
    let id = UserId::parse(&user).unwrap();
    env.app.store.tombstone_user(&id, None).await.unwrap();
    let tombstone = profile(env, &user).await;
    let receipt = with(
        &tombstone,
        &[
            ("removedConnections", n(1)),
            ("removedAccounts", n(1)),
            ("removedTransactions", n(4)),
            ("removedOther", n(1)),
        ],
    );
    let mut records = Vec::new();
    let mut made = Vec::new();
    let mut seq = 100;
    let mut push =
        |name: &str, old: Option<&Item>, new: Option<&Item>, kind: Option<&'static str>| {
            seq += 1;
            let record = stream_record(name, old, new, seq);
            if let Some(kind) = kind {
                made.push((kind, record.clone()));
            }
            records.push(record);
        };
    push("INSERT", None, Some(&created), Some("user.created"));
    push(
        "MODIFY",
        Some(&created),
        Some(&updated),
        Some("user.updated"),
    );
    push(
        "INSERT",
        None,
        Some(&leased(&conn, "l1")),
        Some("connection.created"),
    );
    push("MODIFY", Some(&leased(&conn, "l1")), Some(&conn), None);
    push(
        "MODIFY",
        Some(&conn),
        Some(&leased(&refreshed, "l2")),
        Some("connection.updated"),
    );
    push(
        "MODIFY",
        Some(&leased(&refreshed, "l2")),
        Some(&refreshed),
        None,
    );
    push("MODIFY", Some(&refreshed), Some(&conn_tombstone), None);
    push(
        "REMOVE",
        Some(&conn_tombstone),
        None,
        Some("connection.deleted"),
    );
    push("MODIFY", Some(&updated), Some(&tombstone), None);
    push("MODIFY", Some(&tombstone), Some(&receipt), None);
    push("REMOVE", Some(&receipt), None, Some("user.deleted"));
    Life {
        user,
        records,
        made,
    }
}

#[tokio::test]
async fn each_event_type_is_recorded_once_however_often_it_is_delivered() {
    let env = TestEnv::new().await;
    let life = a_life(&env).await;
    assert_eq!(life.made.len(), 6);

    // One PutItem per record that makes an event, none for the others.
    env.app.store.meter().reset();
    assert_eq!(puts_of(&env, &life.records).await, 12);
    // What recording costs, as DynamoDB reports it for the table and the
    // indexes: a small item written to the table and to each of the four
    // indexes that key it, 5 write units an event.
    assert_eq!(env.app.store.meter().write_units(), 6.0 * 5.0 + 6.0 * 4.0);
    // The same batch again: the same six conditional puts, all refused.
    assert_eq!(puts_of(&env, &life.records).await, 12);
    // Records delivered again inside a later batch, beside a new one that
    // makes no event (a lease released).
    let conn = connection(&env, &life.user, "conn-0").await;
    let released = stream_record("MODIFY", Some(&leased(&conn, "l3")), Some(&conn), 999);
    let later = [life.made[2].1.clone(), released, life.made[5].1.clone()];
    assert_eq!(puts_of(&env, &later).await, 4);
    feed_holds(&env, 6).await;

    for (kind, record) in &life.made {
        let found = listed(&env, &format!("event.type.eq('{kind}')")).await;
        assert_eq!(found.len(), 1, "{kind} once");
        assert_eq!(found[0]["id"], id_of(record), "{kind}");
    }
    // Newest first: the stream's order, backwards.
    let reply = env.api().list_events(&[]).await;
    let expected: Vec<String> = life.made.iter().rev().map(|(_, r)| id_of(r)).collect();
    assert_eq!(ids(&reply), expected);
    let kinds: Vec<String> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}.{}",
                e["entity"].as_str().unwrap(),
                e["eventType"].as_str().unwrap()
            )
        })
        .collect();
    let made: Vec<&str> = life.made.iter().rev().map(|(k, _)| *k).collect();
    assert_eq!(kinds, made);

    // The views: EventsData's fields, links rooted at the request's base.
    let user = &life.user;
    let created = &reply.body["data"][5];
    assert_eq!(created["type"], "event");
    assert_eq!(created["userId"], user.as_str());
    assert_eq!(
        created["dataRef"],
        format!("https://api.example.test/users/{user}")
    );
    assert_eq!(created["data"], json!({"type": "user", "id": user}));
    assert_eq!(
        created["links"]["self"],
        format!(
            "https://api.example.test/events/{}",
            created["id"].as_str().unwrap()
        )
    );
    let connection_deleted = &reply.body["data"][1];
    assert_eq!(
        connection_deleted["dataRef"],
        format!("https://api.example.test/users/{user}/connections/conn-0")
    );
    assert_eq!(
        connection_deleted["data"],
        json!({"type": "connection", "id": "conn-0"})
    );
    for event in reply.body["data"].as_array().unwrap() {
        assert_matches("RetrieveEvent", event);
        let text = event.to_string();
        for value in [
            "gavin@hooli.com",
            "+61410888666",
            "Gavin",
            "Belson",
            "Gav\"",
        ] {
            assert!(!text.contains(value), "{value} in {text}");
        }
    }
}

#[tokio::test]
async fn an_update_names_the_changed_fields_and_never_a_value() {
    let env = TestEnv::new().await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    let before = profile(&env, &user).await;
    let patch = json!({
        "email": "gavin.belson@hooli.com",
        "mobile": "+61410999777",
        "firstName": "Gavriel",
        "middleName": "Maximilian",
        "businessName": "Hooli XYZ"
    });
    assert_eq!(api.update_user("PATCH", &user, &patch).await.status, 200);
    let after = profile(&env, &user).await;
    let record = stream_record("MODIFY", Some(&before), Some(&after), 1);
    assert_eq!(puts_of(&env, std::slice::from_ref(&record)).await, 2);

    let id = id_of(&record);
    let stored = raw(&env, keys::event_pk(&id), keys::EVENT_SK.into())
        .await
        .expect("the event item");
    let reply = api.get_event(&id).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_matches("RetrieveEvent", &reply.body);
    assert_eq!(reply.body["entity"], "user");
    assert_eq!(reply.body["eventType"], "updated");
    assert_eq!(
        reply.body["data"]["changed"],
        json!(["email", "mobile", "firstName", "middleName", "businessName"])
    );
    // Who made the change, and in which request: the new image's stamp,
    // kept on the event (for the audit trail), not shown by the feed.
    for stamp in ["actor", "correlationId"] {
        assert!(
            stored.contains_key(stamp),
            "the update was stamped: {stamp}"
        );
        assert_eq!(stored.get(stamp), after.get(stamp), "{stamp}");
        assert!(reply.body.get(stamp).is_none(), "{stamp} is not shown");
    }
    let stored = format!("{stored:?}");
    let answered = reply.body.to_string();
    for value in [
        "gavin@hooli.com",
        "gavin.belson@hooli.com",
        "+61410888666",
        "+61410999777",
        "Gavriel",
        "Maximilian",
        "Hooli XYZ",
        "Belson",
        "belson",
    ] {
        assert!(!stored.contains(value), "{value} stored: {stored}");
        assert!(!answered.contains(value), "{value} answered: {answered}");
    }
}

#[tokio::test]
async fn bookkeeping_writes_make_no_event_and_a_deletion_ends_with_its_receipt() {
    let env = TestEnv::new().await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    let id = UserId::parse(&user).unwrap();
    let first = profile(&env, &user).await;

    // An update that changes nothing anyone sees: a new version, a new
    // updatedTime, and no event.
    let same = json!({"firstName": "Gavin", "lastName": "Belson"});
    assert_eq!(api.update_user("PATCH", &user, &same).await.status, 200);
    let again = profile(&env, &user).await;
    assert_ne!(first.get("version"), again.get("version"));
    let noop = stream_record("MODIFY", Some(&first), Some(&again), 1);
    assert_eq!(puts_of(&env, &[noop]).await, 0);

    // The deletion's writes before the end: the tombstone, purge-user's
    // lease, the counters each purge pass adds.
    env.app.store.tombstone_user(&id, None).await.unwrap();
    let tombstone = profile(&env, &user).await;
    assert!(env
        .app
        .store
        .take_purge(&id, shared::clock::now_ms() + 60_000)
        .await
        .unwrap());
    let purging = profile(&env, &user).await;
    assert_ne!(tombstone, purging);
    // As each purge pass adds what it removed (ADD, on the tombstone).
    for (connections, accounts, transactions, other) in [(1, 2, 300, 1), (1, 1, 200, 2)] {
        env.client()
            .update_item()
            .table_name(&env.table)
            .key(keys::PK, s(&keys::user_pk(&id)))
            .key(keys::SK, s(keys::PROFILE_SK))
            .update_expression("ADD removedConnections :c, removedAccounts :a, removedTransactions :t, removedOther :o")
            .expression_attribute_values(":c", n(connections))
            .expression_attribute_values(":a", n(accounts))
            .expression_attribute_values(":t", n(transactions))
            .expression_attribute_values(":o", n(other))
            .send()
            .await
            .unwrap();
    }
    let last = profile(&env, &user).await;
    let under_way = [
        stream_record("MODIFY", Some(&again), Some(&tombstone), 2),
        stream_record("MODIFY", Some(&tombstone), Some(&purging), 3),
        stream_record("MODIFY", Some(&purging), Some(&last), 4),
    ];
    assert_eq!(puts_of(&env, &under_way).await, 0);

    // The profile's removal, the purge's last write: the receipt, from the
    // old image's counters.
    let removed = stream_record("REMOVE", Some(&last), None, 5);
    assert_eq!(puts_of(&env, std::slice::from_ref(&removed)).await, 2);
    let stored = raw(
        &env,
        keys::event_pk(&id_of(&removed)),
        keys::EVENT_SK.into(),
    )
    .await
    .expect("the event item");
    for stamp in ["actor", "correlationId"] {
        assert_eq!(
            stored.get(stamp),
            last.get(stamp),
            "{stamp}: the old image's"
        );
    }
    let reply = api.get_event(&id_of(&removed)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["eventType"], "deleted");
    assert_eq!(
        reply.body["data"],
        json!({
            "type": "user",
            "id": user,
            "removed": {"connections": 2, "accounts": 3, "transactions": 500, "other": 3}
        })
    );
    feed_holds(&env, 1).await;
}

/// A listing's parameters, the ids it must list in order, and its pages' sizes.
type Case = (Vec<(&'static str, String)>, Vec<String>, Vec<usize>);

#[tokio::test]
async fn the_feed_pages_newest_first_through_every_filter() {
    let env = TestEnv::new().await;
    let api = env.api();
    let a = api
        .new_user(&json!({"email": "a@hooli.com", "firstName": "Ann"}))
        .await;
    let b = api
        .new_user(&json!({"email": "b@hooli.com", "firstName": "Bob"}))
        .await;
    assert_eq!(
        api.ingest_connection(&a, &connection_body(0, 1, 1))
            .await
            .status,
        201
    );
    let (pa, pb) = (profile(&env, &a).await, profile(&env, &b).await);
    let conn = connection(&env, &a, "conn-0").await;

    // (type, user, record), in stream order.
    let mut made: Vec<(&str, &str, Value)> = Vec::new();
    let mut records = Vec::new();
    let mut seq = 0;
    let mut push = |kind: Option<&'static str>,
                    user: &'static str,
                    old: Option<&Item>,
                    new: Option<&Item>,
                    name: &str| {
        seq += 1;
        let record = stream_record(name, old, new, seq);
        if let Some(kind) = kind {
            made.push((kind, user, record.clone()));
        }
        records.push(record);
    };
    push(Some("user.created"), "a", None, Some(&pa), "INSERT");
    push(Some("user.created"), "b", None, Some(&pb), "INSERT");
    let (mut old_a, mut old_b) = (pa.clone(), pb.clone());
    for i in 0..12u64 {
        let new_a = with(
            &old_a,
            &[("firstName", s(&format!("Ann{i}"))), ("version", n(i + 2))],
        );
        push(
            Some("user.updated"),
            "a",
            Some(&old_a),
            Some(&new_a),
            "MODIFY",
        );
        let new_b = with(
            &old_b,
            &[("middleName", s(&format!("M{i}"))), ("version", n(i + 2))],
        );
        push(
            Some("user.updated"),
            "b",
            Some(&old_b),
            Some(&new_b),
            "MODIFY",
        );
        (old_a, old_b) = (new_a, new_b);
    }
    push(Some("connection.created"), "a", None, Some(&conn), "INSERT");
    let mut old_c = conn.clone();
    for i in 0..5 {
        let status = if i % 2 == 0 { "pending" } else { "active" };
        let new_c = with(&old_c, &[("status", s(status))]);
        push(
            Some("connection.updated"),
            "a",
            Some(&old_c),
            Some(&new_c),
            "MODIFY",
        );
        old_c = new_c;
    }
    let gone = with(&old_c, &[("deletedAt", s("2026-12-01T00:00:00.000Z"))]);
    push(None, "a", Some(&old_c), Some(&gone), "MODIFY");
    push(Some("connection.deleted"), "a", Some(&gone), None, "REMOVE");
    assert_eq!(made.len(), 33);
    for batch in records.chunks(10) {
        assert!(deliver(&env, batch).await.batch_item_failures.is_empty());
    }
    feed_holds(&env, 33).await;

    let expect = |keep: &dyn Fn(&str, &str) -> bool| -> Vec<String> {
        made.iter()
            .rev()
            .filter(|(kind, user, _)| keep(kind, user))
            .map(|(_, _, r)| id_of(r))
            .collect()
    };
    let filter_a = format!("user.id.eq('{a}')");
    let filter_b = format!("user.id.eq('{b}')");
    let cases: Vec<Case> = vec![
        (
            vec![("limit", "5".into())],
            expect(&|_, _| true),
            vec![5, 5, 5, 5, 5, 5, 3],
        ),
        (
            vec![("limit", "4".into()), ("filter", filter_a.clone())],
            expect(&|_, u| u == "a"),
            vec![4, 4, 4, 4, 4],
        ),
        (
            vec![
                ("limit", "7".into()),
                ("filter", "event.type.eq('user.updated')".into()),
            ],
            expect(&|k, _| k == "user.updated"),
            vec![7, 7, 7, 3],
        ),
        (
            vec![
                ("limit", "3".into()),
                ("filter", "event.entity.eq('connection')".into()),
            ],
            expect(&|k, _| k.starts_with("connection.")),
            vec![3, 3, 1],
        ),
        (
            vec![
                ("limit", "4".into()),
                ("filter", format!("event.entity.eq('user'),{filter_a}")),
            ],
            expect(&|k, u| u == "a" && k.starts_with("user.")),
            vec![4, 4, 4, 1],
        ),
        (
            vec![
                ("limit", "2".into()),
                (
                    "filter",
                    format!("{filter_a},event.type.eq('connection.updated')"),
                ),
            ],
            expect(&|k, u| u == "a" && k == "connection.updated"),
            vec![2, 2, 1],
        ),
        (
            vec![(
                "filter",
                format!("{filter_b},event.entity.eq('connection')"),
            )],
            vec![],
            vec![0],
        ),
        (
            vec![(
                "filter",
                "event.entity.eq('user'),event.type.eq('user.created')".into(),
            )],
            expect(&|k, _| k == "user.created"),
            vec![2],
        ),
        (
            vec![
                ("limit", "6".into()),
                (
                    "filter",
                    format!("event.type.eq('user.updated'), event.entity.eq('user'), {filter_b}"),
                ),
            ],
            expect(&|k, u| u == "b" && k == "user.updated"),
            vec![6, 6],
        ),
    ];
    for (params, expected, sizes) in cases {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (got, got_sizes) = pages(&env, &params).await;
        assert_eq!(got, expected, "{params:?}");
        assert_eq!(got_sizes, sizes, "{params:?}");
    }

    // Terms that contradict each other answer an empty page, reading nothing.
    for filter in [
        "event.type.eq('user.created'),event.entity.eq('connection')".to_owned(),
        format!("{filter_a},{filter_b}"),
        "event.type.eq('user.created'),event.type.eq('user.updated')".to_owned(),
    ] {
        env.requests.clear();
        let reply = api.list_events(&[("filter", &filter)]).await;
        assert_eq!(reply.status, 200, "{filter}");
        assert_eq!(ids(&reply), Vec::<String>::new(), "{filter}");
        assert!(reply.body["links"]["next"].is_null(), "{filter}");
        assert!(
            env.requests.operations().is_empty(),
            "{filter}: nothing read"
        );
    }

    // A cursor belongs to its filter: another filter's, or a tampered one, is refused.
    let first = api
        .list_events(&[("limit", "2"), ("filter", &filter_a)])
        .await;
    let cursor = next_cursor(&first).expect("a next page");
    for (filter, next) in [
        (filter_b.clone(), cursor.clone()),
        (String::new(), cursor.clone()),
        (filter_a.clone(), format!("{cursor}x")),
        (filter_a.clone(), cursor.replacen('.', "..", 1)),
        (filter_a.clone(), "not-a-cursor".to_owned()),
    ] {
        let mut params = vec![("limit", "2"), ("next", next.as_str())];
        if !filter.is_empty() {
            params.push(("filter", &filter));
        }
        env.requests.clear();
        let reply = api.list_events(&params).await;
        assert_eq!(reply.status, 400, "{params:?}: {:#}", reply.body);
        assert_eq!(reply.error().1.unwrap()["parameter"], "next");
        assert!(env.requests.operations().is_empty());
    }
}

#[tokio::test]
async fn bad_parameters_get_400_naming_them_and_read_nothing() {
    let env = TestEnv::new().await;
    let long = format!("event.type.eq('{}')", "x".repeat(20_000));
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("filter", "")], "filter"),
        (vec![("filter", "user.id.eq('nope')")], "filter"),
        (
            vec![("filter", "user.id.eq(0b8e1a5e-4f8e-4b8e-9b8e-0b8e1a5e4f8e)")],
            "filter",
        ),
        (vec![("filter", "event.entity.eq('consent')")], "filter"),
        (vec![("filter", "event.entity.eq('USER')")], "filter"),
        (
            vec![("filter", "event.type.eq('account.updated')")],
            "filter",
        ),
        (vec![("filter", "event.type.ne('user.created')")], "filter"),
        (
            vec![("filter", "event.type.eq('user.created','user.deleted')")],
            "filter",
        ),
        (
            vec![("filter", "user.email.eq('gavin@hooli.com')")],
            "filter",
        ),
        (
            vec![("filter", "user.id.eq('x') OR event.entity.eq('user')")],
            "filter",
        ),
        (vec![("filter", "event.type.eq('user.created'),")], "filter"),
        (vec![("filter", "'); DROP TABLE users;--")], "filter"),
        (
            vec![(
                "filter",
                "event.type.eq('user.created') AND attribute_exists(pk)",
            )],
            "filter",
        ),
        (vec![("filter", &long)], "filter"),
        (
            vec![
                ("filter", "event.type.eq('user.created')"),
                ("filter", "event.entity.eq('user')"),
            ],
            "filter",
        ),
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "501")], "limit"),
        (vec![("limit", "-1")], "limit"),
        (vec![("limit", "99999999999999999999999")], "limit"),
        (vec![("limit", "ten")], "limit"),
        (vec![("q", "gavin")], "q"),
        (vec![("next", "")], "next"),
        (vec![("next", "a.b.c")], "next"),
    ];
    for (params, parameter) in cases {
        env.requests.clear();
        let reply = env.api().list_events(&params).await;
        assert_eq!(reply.status, 400, "{params:?}: {:#}", reply.body);
        let (code, source) = reply.error();
        assert_eq!(code, "parameter-not-valid", "{params:?}");
        assert_eq!(source.unwrap()["parameter"], parameter, "{params:?}");
        assert_eq!(reply.body["type"], "list");
        assert!(reply.body["correlationId"].is_string());
        assert!(env.requests.operations().is_empty(), "{params:?}");
    }
}

#[tokio::test]
async fn one_event_is_one_get_item() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    let created = stream_record("INSERT", None, Some(&profile(&env, &user).await), 1);
    assert_eq!(puts_of(&env, std::slice::from_ref(&created)).await, 2);
    let id = id_of(&created);

    env.requests.clear();
    let reply = env.api().get_event(&id).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(env.requests.operations(), ["GetItem"]);
    assert_matches("RetrieveEvent", &reply.body);
    assert_eq!(reply.body["id"], id);
    assert_eq!(reply.body["entity"], "user");
    assert_eq!(reply.body["eventType"], "created");
    assert!(reply.body["createdDate"]
        .as_str()
        .is_some_and(|d| d.len() == 20 && d.ends_with('Z')));
    // Upper-case hex is the same event.
    assert_eq!(env.api().get_event(&id.to_uppercase()).await.status, 200);

    env.requests.clear();
    let missing = env.api().get_event(&"0".repeat(64)).await;
    assert_eq!(missing.status, 404, "{:#}", missing.body);
    assert_eq!(missing.error().0, "resource-not-found");
    assert_eq!(env.requests.operations(), ["GetItem"]);

    for bad in [
        "abc",
        &"g".repeat(64),
        &"a".repeat(65),
        "..%2F..%2Fetc",
        "types2",
    ] {
        env.requests.clear();
        let reply = env.api().get_event(bad).await;
        assert_eq!(reply.status, 400, "{bad}: {:#}", reply.body);
        assert_eq!(reply.error().0, "parameter-not-valid");
        assert_eq!(reply.error().1.unwrap()["parameter"], "eventId");
        assert!(env.requests.operations().is_empty(), "{bad}");
    }
}

#[tokio::test]
async fn the_types_are_the_catalogue_and_read_nothing() {
    let env = TestEnv::new().await;
    env.requests.clear();
    let reply = env.api().list_event_types().await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_matches("EventTypes", &reply.body);
    assert_eq!(reply.body["count"], 6);
    assert_eq!(reply.body["size"], 6);
    assert_eq!(
        reply.body["links"]["self"],
        "https://api.example.test/events/types"
    );
    let listed: Vec<&str> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "connection.created",
            "connection.deleted",
            "connection.updated",
            "user.created",
            "user.deleted",
            "user.updated"
        ]
    );
    for kind in reply.body["data"].as_array().unwrap() {
        let id = kind["id"].as_str().unwrap();
        assert_eq!(kind["type"], "eventType");
        assert!(kind["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(
            kind["links"]["self"],
            format!("https://api.example.test/events/types/{id}")
        );
        let one = env.api().get_event_type(id).await;
        assert_eq!(one.status, 200, "{id}");
        assert_matches("EventType", &one.body);
        assert_eq!(&one.body, kind);
    }
    for unknown in [
        "account.updated",
        "consent.created",
        "USER.CREATED",
        "user",
        "x".repeat(5_000).as_str(),
        "user.created%00",
    ] {
        let reply = env.api().get_event_type(unknown).await;
        assert_eq!(reply.status, 404, "{unknown}");
        assert_eq!(reply.error().0, "resource-not-found");
    }
    assert!(
        env.requests.operations().is_empty(),
        "the catalogue reads no table"
    );
}

#[tokio::test]
async fn only_server_tokens_read_events() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    let client = tests::token(Scope::ClientAccess, Some(UserId::parse(&user).unwrap()));
    let id = "a".repeat(64);
    let filter = format!("user.id.eq('{user}')");
    let routes = [
        (
            Route::ListEvents,
            event(Route::ListEvents, "GET", &[]).query("filter", &filter),
        ),
        (
            Route::GetEvent,
            event(Route::GetEvent, "GET", &[("eventId", id.as_str())]),
        ),
        (
            Route::ListEventTypes,
            event(Route::ListEventTypes, "GET", &[]),
        ),
        (
            Route::GetEventType,
            event(Route::GetEventType, "GET", &[("typeId", "user.created")]),
        ),
    ];
    for (route, request) in routes {
        env.requests.clear();
        let reply = env.api().call(route, request.clone().bearer(&client)).await;
        assert_eq!(reply.status, 403, "{route:?}: {:#}", reply.body);
        assert_eq!(reply.error().0, "forbidden-access", "{route:?}");
        assert_matches("ForbiddenAccessError", &reply.body);
        assert!(env.requests.operations().is_empty(), "{route:?}");
        let reply = env.api().call(route, request.clone().without_auth()).await;
        assert_eq!(reply.status, 401, "{route:?}");
        assert_eq!(reply.error().0, "unauthorized-access", "{route:?}");
        let reply = env.api().call(route, request.bearer("not.a.token")).await;
        assert_eq!(reply.status, 401, "{route:?}");
    }
}

#[tokio::test]
async fn a_record_that_fails_is_delivered_again_with_those_after_it() {
    let faults = Faults::new(14);
    let env = TestEnv::with_faults(&faults, |_| {}).await;
    let life = a_life(&env).await;
    let records = &life.records;
    // Records 0 (user.created), 1 (user.updated), then 2 (connection.created)
    // fails: it is reported with every record after it.
    faults.at(5, Fault::TransactionConflict);
    let response = deliver(&env, records).await;
    faults.clear();
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    let rest: Vec<String> = records[2..]
        .iter()
        .map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed, rest);
    feed_holds(&env, 2).await;

    // Lambda delivers those again: every event once.
    assert!(deliver(&env, &records[2..])
        .await
        .batch_item_failures
        .is_empty());
    feed_holds(&env, 6).await;
    // Delivered again whole, nothing changes.
    assert!(deliver(&env, records).await.batch_item_failures.is_empty());
    feed_holds(&env, 6).await;

    // A failure at the batch's first record fails the invocation: Lambda
    // delivers the whole batch again.
    faults.at(1, Fault::TransactionConflict);
    let fresh = stream_record("INSERT", None, Some(&another_profile()), 1);
    assert!(try_deliver(&env, std::slice::from_ref(&fresh))
        .await
        .is_err());
    faults.clear();
    assert!(deliver(&env, &[fresh]).await.batch_item_failures.is_empty());
    feed_holds(&env, 7).await;
}

/// The profile image of a user created elsewhere (its keys and id).
fn another_profile() -> Item {
    let id = UserId::new();
    [
        (keys::PK.to_owned(), s(&keys::user_pk(&id))),
        (keys::SK.to_owned(), s(keys::PROFILE_SK)),
        ("id".to_owned(), s(&id.to_string())),
        ("version".to_owned(), n(1)),
    ]
    .into_iter()
    .collect()
}

#[tokio::test]
async fn hostile_events_requests_are_refused_and_change_nothing() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    let created = stream_record("INSERT", None, Some(&profile(&env, &user).await), 1);
    deliver(&env, &[created]).await;
    let before = env.item_count().await;
    let cases: Vec<(Route, tests::events::Event)> = vec![
        (
            Route::ListEvents,
            event(Route::ListEvents, "GET", &[]).query("filter", "user.id.eq('\u{0}')"),
        ),
        (
            Route::ListEvents,
            event(Route::ListEvents, "GET", &[]).query("filter", &"(".repeat(10_000)),
        ),
        (
            Route::ListEvents,
            event(Route::ListEvents, "GET", &[]).query("filter", "event.type.eq('user.created\\')"),
        ),
        (
            Route::ListEvents,
            event(Route::ListEvents, "GET", &[]).query("next", &"A".repeat(9_000)),
        ),
        (
            Route::ListEvents,
            event(Route::ListEvents, "GET", &[]).query("limit", "1e3"),
        ),
        (
            Route::GetEvent,
            event(Route::GetEvent, "GET", &[("eventId", "' OR 1=1 --")]),
        ),
        (
            Route::GetEvent,
            event(
                Route::GetEvent,
                "GET",
                &[("eventId", "é".repeat(32).as_str())],
            ),
        ),
        (
            Route::GetEventType,
            event(Route::GetEventType, "GET", &[("typeId", "../../users")]),
        ),
        (
            Route::ListEventTypes,
            event(Route::ListEventTypes, "GET", &[]).bearer("a.b.c"),
        ),
    ];
    for (route, request) in cases {
        let reply = env.api().call(route, request).await;
        assert!(
            (400..500).contains(&reply.status),
            "{route:?}: {}",
            reply.status
        );
        assert_eq!(reply.body["type"], "list");
        assert_eq!(reply.body["data"][0]["type"], "error");
        assert!(reply.body["correlationId"].is_string());
    }
    assert_eq!(env.item_count().await, before);
}
