//! The audit trail against DynamoDB Local: entries derived by the `events`
//! function from stream records whose images are items the API really
//! wrote (read back raw with the SDK), entries appended directly, and
//! `GET /audit` as an admin operator reads it. One test runs the real
//! stream: DynamoDB Local's, read by the local poller (`infra::streams`,
//! with template.yaml's filters), which hands its batches to the `events`
//! function in this process.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use serde_json::{json, Value};
use shared::audit::{Action, Entry};
use shared::auth::{Actor, Role, Scope, Stamp};
use shared::keys;
use shared::routes::{self, Route};
use shared::stream::StreamHandler;
use shared::user::UserId;
use tests::api::{event, gavin, user_event};
use tests::events::{handover_event, stream_batch, stream_record, Event, Item, Reply};
use tests::faults::Faults;
use tests::operators::TestIdp;
use tests::TestEnv;

/// Where the tests' requests come from, as API Gateway would say.
const IP: &str = "198.51.100.7";
const USER_AGENT: &str = "audit-tests/1.0";

/// The operator the admin token names, and its name.
const ADMIN: &str = "operator:admin-subject";
const ADMIN_NAME: &str = "admin@example.test";

/// The user's own data, which no audit entry may hold.
const PII: [&str; 7] = [
    "gavin@hooli.com",
    "gavin.belson@hooli.com",
    "+61410888666",
    "Gavin",
    "Gavriel",
    "Belson",
    "Hooli",
];

/// A world whose app accepts the tests' operator tokens.
async fn world(adjust: impl FnOnce(&mut shared::config::Config)) -> (TestEnv, TestIdp) {
    TestEnv::with_operators(adjust).await
}

/// `event` sent to `route` with `token`, from [`IP`] and [`USER_AGENT`],
/// with `request_id` as API Gateway's request id (the correlation id).
async fn send(env: &TestEnv, route: Route, event: Event, token: &str, request_id: &str) -> Reply {
    let mut json = event
        .bearer(token)
        .header("user-agent", USER_AGENT)
        .to_json();
    json["requestContext"]["requestId"] = json!(request_id);
    json["requestContext"]["http"]["sourceIp"] = json!(IP);
    let request = lambda_http::request::from_str(&json.to_string()).expect("a valid v2 event");
    Reply::from(routes::route(&env.app, route, request).await)
}

/// `GET /audit` with these query parameters.
async fn audit(env: &TestEnv, token: &str, params: &[(&str, &str)]) -> Reply {
    let event = params
        .iter()
        .fold(event(Route::ListAudit, "GET", &[]), |e, (k, v)| {
            e.query(k, v)
        });
    send(env, Route::ListAudit, event, token, "req-audit").await
}

async fn profile(env: &TestEnv, user: &str) -> Option<Item> {
    env.raw_item(
        keys::user_pk(&UserId::parse(user).unwrap()),
        keys::PROFILE_SK,
    )
    .await
}

/// Hands a batch to the `events` function, as Lambda's event source
/// mapping does.
async fn deliver(env: &TestEnv, records: &[Value]) -> DynamoDbEventResponse {
    shared::stream::handle(
        &env.app,
        StreamHandler::Events,
        lambda_runtime::LambdaEvent::new(stream_batch(records), lambda_runtime::Context::default()),
    )
    .await
    .expect("no invocation error")
}

/// The item with these attributes set.
fn with(item: &Item, attrs: &[(&str, AttributeValue)]) -> Item {
    let mut item = item.clone();
    for (name, value) in attrs {
        item.insert((*name).to_owned(), value.clone());
    }
    item
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn data(reply: &Reply) -> Vec<Value> {
    reply.body["data"].as_array().expect("a list").clone()
}

fn ids(reply: &Reply) -> Vec<String> {
    data(reply)
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
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

/// A Lambda context whose deadline is five minutes away.
fn five_minutes() -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    let deadline = std::time::SystemTime::now() + Duration::from_secs(300);
    context.deadline = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_millis() as u64;
    context
}

/// The stream records of a user's life, from the items the API wrote for
/// an admin operator: created, updated (email and first name), deleted
/// (the tombstone, the purge's counters, the removal), in stream order;
/// and the user's id. The purge really runs: the user's data is gone.
async fn a_life(env: &TestEnv, faults: &Faults, admin: &str) -> (String, Vec<Value>) {
    let create = event(Route::CreateUser, "POST", &[]).json(&gavin());
    let created = send(env, Route::CreateUser, create, admin, "req-create").await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let user = created.id();
    let created = profile(env, &user).await.expect("the profile");
    let patch = user_event(Route::UpdateUser, "PATCH", &user)
        .json(&json!({"email": "gavin.belson@hooli.com", "firstName": "Gavriel"}));
    let updated = send(env, Route::UpdateUser, patch, admin, "req-update").await;
    assert_eq!(updated.status, 200, "{:#}", updated.body);
    let updated = profile(env, &user).await.expect("the profile");
    // The DELETE stops right after its first request, the tombstone, which
    // names who deleted the user: what the profile's removal will carry.
    faults.crash_after(1);
    let delete = user_event(Route::DeleteUser, "DELETE", &user);
    let crashed = faults
        .run(send(env, Route::DeleteUser, delete, admin, "req-delete"))
        .await;
    assert!(crashed.is_none(), "stopped after the tombstone");
    let tombstone = profile(env, &user).await.expect("the tombstone");
    assert!(tombstone.contains_key("deletedAt"));
    // purge-user finishes it: it adds its counts (and stamps nothing),
    // then removes the profile.
    let receipt = with(&tombstone, &[("removedOther", n(1))]);
    let purged = shared::stream::handle(
        &env.app,
        StreamHandler::PurgeUser,
        lambda_runtime::LambdaEvent::new(handover_event(&user), five_minutes()),
    )
    .await
    .expect("the purge");
    assert!(purged.batch_item_failures.is_empty());
    assert!(profile(env, &user).await.is_none(), "the user is gone");
    assert_eq!(env.partition_count(&user).await, 0);
    let records = vec![
        stream_record("INSERT", None, Some(&created), 1),
        stream_record("MODIFY", Some(&created), Some(&updated), 2),
        stream_record("MODIFY", Some(&updated), Some(&tombstone), 3),
        stream_record("MODIFY", Some(&tombstone), Some(&receipt), 4),
        stream_record("REMOVE", Some(&receipt), None, 5),
    ];
    (user, records)
}

#[tokio::test]
async fn a_users_life_is_three_entries_that_outlive_it_and_hold_none_of_its_data() {
    let idp = TestIdp::start().await;
    let faults = Faults::new(15);
    let env = TestEnv::with_faults(&faults, |c| c.oidc = Some(idp.oidc())).await;
    let admin = idp.token(Role::Admin);
    let (user, records) = a_life(&env, &faults, &admin).await;

    // Three events and three entries: six conditional puts, nothing read.
    env.requests.clear();
    env.app.store.meter().reset();
    let response = deliver(&env, &records).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        env.requests.operations(),
        ["PutItem"; 6],
        "an event and an entry for each of three records"
    );
    // What auditing costs, as DynamoDB reports it: an entry is a small item
    // written to the table and the three audit indexes (4 write units),
    // beside its event's 5 (the table and four events indexes).
    assert_eq!(env.app.store.meter().write_units(), 3.0 * 5.0 + 3.0 * 4.0);
    assert_eq!(env.audit_items().await.len(), 3);

    // Delivered again, whole or in part: the same puts, all refused.
    env.requests.clear();
    let again = deliver(&env, &records).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(env.requests.count("PutItem"), 6);
    let later = [records[4].clone(), records[1].clone()];
    assert!(deliver(&env, &later).await.batch_item_failures.is_empty());
    assert_eq!(env.audit_items().await.len(), 3, "no second entry");

    // The user's history, newest first: who, from where, in which request.
    let filter = format!("userId.eq('{user}')");
    let reply = audit(&env, &admin, &[("filter", &filter)]).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["type"], "list");
    assert_eq!(reply.body["count"], 3);
    let entries = data(&reply);
    assert_eq!(
        actions(&entries),
        ["user.deleted", "user.updated", "user.created"]
    );
    let requests = ["req-delete", "req-update", "req-create"];
    let fields = [
        json!([]),
        json!(["email", "firstName"]),
        json!(["email", "mobile", "firstName", "lastName"]),
    ];
    for ((entry, request), fields) in entries.iter().zip(requests).zip(fields) {
        assert_eq!(entry["type"], "audit");
        assert_eq!(entry["actor"], json!({"id": ADMIN, "name": ADMIN_NAME}));
        assert_eq!(entry["target"], json!({"type": "user", "id": user}));
        assert_eq!(entry["userId"], user.as_str());
        assert_eq!(entry["fields"], fields, "{request}");
        assert_eq!(entry["sourceIp"], IP);
        assert_eq!(entry["userAgent"], USER_AGENT);
        assert_eq!(entry["correlationId"], request);
        assert_eq!(entry["reason"], Value::Null);
        let created_at = entry["createdAt"].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{created_at}"
        );
        assert!(created_at.ends_with('Z'));
    }
    assert!(reply.body["links"]["self"]
        .as_str()
        .unwrap()
        .starts_with("https://api.example.test/audit?filter="));
    assert!(reply.body["links"].get("next").is_none());

    // The user is gone; its entries are not, and they hold ids and field
    // names only: none of its data, in the items or in the answer.
    let stored = format!("{:?}", env.audit_items().await);
    for value in PII {
        assert!(!stored.contains(value), "{value} in the stored entries");
        assert!(!reply.body.to_string().contains(value), "{value} answered");
    }
}

#[tokio::test]
async fn an_entry_is_appended_once_under_its_id() {
    let env = TestEnv::new().await;
    let stamp = Stamp {
        actor: Actor::claimed("key:0123456789abcdef"),
        name: Some("backend".into()),
        correlation_id: "req-1".into(),
        source_ip: None,
        user_agent: None,
    };
    let at = tests::time_now() * 1000;
    let entry = Entry::new(Action::ApiKeyRefused, stamp.clone())
        .reason("revoked")
        .from_record("record-1", at, "7");
    env.requests.clear();
    env.app.store.meter().reset();
    env.app.store.append_audit(&entry, 30).await.unwrap();
    assert_eq!(
        env.app.store.meter().write_units(),
        3.0,
        "no user: two indexes"
    );
    // The same id again: refused by the condition, and no error.
    env.app.store.append_audit(&entry, 30).await.unwrap();
    assert!(!env.app.store.record_audit(&entry, 30).await.unwrap());
    assert_eq!(env.requests.operations(), ["PutItem"; 3]);
    let items = env.audit_items().await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    let expires = item["expiresAt"].as_n().unwrap().parse::<i64>().unwrap();
    assert_eq!(
        expires,
        at / 1000 + 30 * 86_400,
        "the TTL: its time and the retention"
    );
    assert_eq!(item["reason"].as_s().unwrap(), "revoked");
    assert!(!item.contains_key("userId") && !item.contains_key("auUser"));

    // Entries made now get ids of their own: two appends, two entries.
    let fresh = Entry::new(Action::OperatorSignedIn, stamp).target("operator", "operator:x");
    env.app.store.append_audit(&fresh, 30).await.unwrap();
    env.app.store.append_audit(&fresh, 30).await.unwrap();
    assert_eq!(env.audit_items().await.len(), 3);
}

/// Nine entries a minute apart from `base_ms`, oldest first: actors
/// alternate between a key and an operator, users between `users[0]`,
/// `users[1]` and none (a sign-in). Their ids, oldest first.
async fn seed(env: &TestEnv, base_ms: i64, users: [UserId; 2]) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..9i64 {
        let actor = if i % 2 == 0 {
            "key:0123456789abcdef"
        } else {
            ADMIN
        };
        let stamp = Stamp {
            actor: Actor::claimed(actor),
            name: None,
            correlation_id: format!("req-{i}"),
            source_ip: Some(IP.into()),
            user_agent: Some(USER_AGENT.into()),
        };
        let at = base_ms + i * 60_000;
        let entry = match i % 3 {
            2 => Entry::new(Action::OperatorSignedIn, stamp).target("operator", actor),
            n => {
                let user = users[n as usize];
                Entry::new(Action::UserUpdated, stamp)
                    .target("user", user.to_string())
                    .user(user)
                    .fields(vec!["email".into()])
            }
        }
        .from_record(&format!("record-{i}"), at, "1");
        ids.push(entry.origin.clone().unwrap().id);
        env.app.store.append_audit(&entry, 30).await.unwrap();
    }
    ids
}

/// The time `minutes` after `base_ms`, as a filter names it.
fn at(base_ms: i64, minutes: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(base_ms + minutes * 60_000) * 1_000_000,
    )
    .unwrap();
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Every page of a listing, following `next`: the ids in order and each
/// page's size. Each page is exactly one Query, on an index.
async fn pages(env: &TestEnv, admin: &str, params: &[(&str, &str)]) -> (Vec<String>, Vec<usize>) {
    let (mut all, mut sizes) = (Vec::new(), Vec::new());
    let mut next: Option<String> = None;
    loop {
        let mut query: Vec<(&str, &str)> = params.to_vec();
        if let Some(cursor) = &next {
            query.push(("next", cursor.as_str()));
        }
        env.requests.clear();
        let reply = audit(env, admin, &query).await;
        assert_eq!(reply.status, 200, "{params:?}: {:#}", reply.body);
        assert_eq!(env.requests.operations(), ["Query"], "{params:?}");
        let page = ids(&reply);
        sizes.push(page.len());
        all.extend(page);
        next = next_cursor(&reply);
        if next.is_none() {
            return (all, sizes);
        }
        assert!(sizes.len() < 20, "a listing that never ends");
    }
}

/// Waits until the audit indexes (eventually consistent) hold `count`
/// entries.
async fn indexed(env: &TestEnv, admin: &str, count: usize) {
    tests::eventually(&format!("{count} entries indexed"), || async {
        let reply = audit(env, admin, &[("limit", "500")]).await;
        reply.status == 200 && ids(&reply).len() == count
    })
    .await;
}

#[tokio::test]
async fn the_trail_is_read_by_user_by_actor_and_by_time_newest_first() {
    let (env, idp) = world(|_| {}).await;
    let admin = idp.token(Role::Admin);
    let users = [UserId::new(), UserId::new()];
    let base = (tests::time_now() - 3600) * 1000;
    let seeded = seed(&env, base, users).await;
    indexed(&env, &admin, 9).await;
    let newest_first = |picked: &[usize]| -> Vec<String> {
        picked.iter().rev().map(|i| seeded[*i].clone()).collect()
    };

    // All of it, three a page: one Query each, newest first.
    let (all, sizes) = pages(&env, &admin, &[("limit", "3")]).await;
    assert_eq!(all, newest_first(&[0, 1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(sizes, [3, 3, 3]);
    // What a page costs: one Query of four small entries (limit + 1),
    // eventually consistent, reading one 4 KB unit.
    env.app.store.meter().reset();
    assert_eq!(audit(&env, &admin, &[("limit", "3")]).await.status, 200);
    assert_eq!(env.app.store.meter().read_units(), 0.5);
    // The default page holds 50.
    let reply = audit(&env, &admin, &[]).await;
    assert_eq!(ids(&reply).len(), 9);
    assert!(reply.body["links"].get("next").is_none());

    // One user's history; one actor's entries.
    let by_user = format!("userId.eq('{}')", users[1]);
    let (found, _) = pages(&env, &admin, &[("filter", &by_user), ("limit", "2")]).await;
    assert_eq!(found, newest_first(&[1, 4, 7]));
    let by_actor = format!("actor.eq('{ADMIN}')");
    let (found, sizes) = pages(&env, &admin, &[("filter", &by_actor), ("limit", "2")]).await;
    assert_eq!(found, newest_first(&[1, 3, 5, 7]));
    assert_eq!(sizes, [2, 2]);
    let reply = audit(&env, &admin, &[("filter", &by_actor), ("limit", "1")]).await;
    assert_eq!(data(&reply)[0]["actor"], json!({"id": ADMIN, "name": null}));

    // A time range, inclusive at both ends, alone and with a user or an actor.
    let range = format!("createdDate.bt('{}','{}')", at(base, 2), at(base, 6));
    let (found, _) = pages(&env, &admin, &[("filter", &range)]).await;
    assert_eq!(found, newest_first(&[2, 3, 4, 5, 6]));
    let user_range = format!("{by_user},{range}");
    let (found, _) = pages(&env, &admin, &[("filter", &user_range)]).await;
    assert_eq!(found, newest_first(&[4]));
    let actor_range = format!("{range}, {by_actor}");
    let (found, _) = pages(&env, &admin, &[("filter", &actor_range), ("limit", "1")]).await;
    assert_eq!(found, newest_first(&[3, 5]));
    let empty = format!("createdDate.bt('{}','{}')", at(base, 100), at(base, 200));
    let reply = audit(&env, &admin, &[("filter", &empty)]).await;
    assert_eq!((reply.status, reply.body["count"].clone()), (200, json!(0)));

    // A cursor is this listing's: forged, cut, or of another filter, 400.
    let first = audit(&env, &admin, &[("filter", &by_actor), ("limit", "1")]).await;
    let cursor = next_cursor(&first).expect("a next page");
    let mut forged = cursor.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for (filter, next) in [
        (by_actor.as_str(), forged.as_str()),
        (by_actor.as_str(), &cursor[..cursor.len() - 4]),
        (by_user.as_str(), cursor.as_str()),
        (by_actor.as_str(), "not-a-cursor"),
    ] {
        let reply = audit(&env, &admin, &[("filter", filter), ("next", next)]).await;
        assert_eq!(reply.status, 400, "{next}: {:#}", reply.body);
        assert_eq!(reply.error().1, Some(&json!({"parameter": "next"})));
    }

    // Limits, filters and parameters that are not the audit's: 400,
    // naming the parameter, and nothing read.
    env.requests.clear();
    for (params, parameter) in [
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "501")], "limit"),
        (vec![("limit", "ten")], "limit"),
        (vec![("filter", "userId.eq('nope')")], "filter"),
        (vec![("filter", "user.id.eq('x')")], "filter"),
        (vec![("filter", "action.eq('user.created')")], "filter"),
        (
            vec![(
                "filter",
                "createdDate.bt('2026-12-02T00:00:00Z','2026-12-01T00:00:00Z')",
            )],
            "filter",
        ),
        (vec![("sort", "createdAt")], "sort"),
    ] {
        let reply = audit(&env, &admin, &params).await;
        assert_eq!(reply.status, 400, "{params:?}: {:#}", reply.body);
        assert_eq!(reply.error().1, Some(&json!({"parameter": parameter})));
    }
    let both = format!("{by_user},{by_actor}");
    let reply = audit(&env, &admin, &[("filter", &both)]).await;
    assert_eq!(reply.status, 400, "{:#}", reply.body);
    assert!(env.requests.operations().is_empty(), "nothing read");
    let reply = audit(&env, &admin, &[("limit", "500")]).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn only_an_admin_operator_reads_the_trail() {
    let (env, idp) = world(|_| {}).await;
    for role in [Role::Editor, Role::Viewer] {
        let reply = audit(&env, &idp.token(role), &[]).await;
        assert_eq!(reply.status, 403, "{role:?}: {:#}", reply.body);
    }
    let key = tests::token(Scope::ServerAccess, None);
    let reply = audit(&env, &key, &[]).await;
    assert_eq!(reply.status, 403, "{:#}", reply.body);
    let reply = Reply::from(
        routes::route(
            &env.app,
            Route::ListAudit,
            event(Route::ListAudit, "GET", &[]).without_auth().request(),
        )
        .await,
    );
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn a_webhook_deletion_stamps_its_deleter_first_at_one_write_unit() {
    let (env, idp) = world(|_| {}).await;
    let admin = idp.token(Role::Admin);
    let body = json!({"url": "http://127.0.0.1:9/hook", "subscribedEvents": ["user.created"]});
    let create = event(Route::CreateWebhook, "POST", &[]).json(&body);
    let hook = send(&env, Route::CreateWebhook, create, &admin, "req-hook")
        .await
        .id();
    let stored = env
        .raw_item(keys::WEBHOOKS_PK.into(), &keys::webhook_sk(&hook))
        .await
        .expect("the subscription");
    assert_eq!(stored["correlationId"].as_s().unwrap(), "req-hook");

    // What an UpdateItem of the subscription costs: a rotation's.
    env.app.store.meter().reset();
    let rotate = event(Route::RotateWebhookSecret, "POST", &[("webhookId", &hook)]);
    let rotated = send(
        &env,
        Route::RotateWebhookSecret,
        rotate,
        &admin,
        "req-rotate",
    )
    .await;
    assert_eq!(rotated.status, 200, "{:#}", rotated.body);
    let update = env.app.store.meter().write_units();
    assert_eq!(update, 1.0);

    env.requests.clear();
    env.app.store.meter().reset();
    let delete = event(Route::DeleteWebhook, "DELETE", &[("webhookId", &hook)]);
    let deleted = send(&env, Route::DeleteWebhook, delete, &admin, "req-unhook").await;
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
    assert_eq!(
        env.requests.operations(),
        ["UpdateItem", "TransactWriteItems"]
    );
    // The stamp: one UpdateItem more, one unit; then the transaction as
    // before (a delete and the count's update: 2 units as DynamoDB Local
    // reports them; AWS bills transactional writes twice).
    assert_eq!(env.app.store.meter().write_units(), update + 2.0);
    assert!(env
        .raw_item(keys::WEBHOOKS_PK.into(), &keys::webhook_sk(&hook))
        .await
        .is_none());
    // An unknown one: the stamp's condition fails, nothing is written.
    env.requests.clear();
    let delete = event(Route::DeleteWebhook, "DELETE", &[("webhookId", &hook)]);
    let again = send(&env, Route::DeleteWebhook, delete, &admin, "req-unhook-2").await;
    assert_eq!(again.status, 404, "{:#}", again.body);
    assert_eq!(env.requests.operations(), ["UpdateItem"]);
    assert!(env.audit_items().await.is_empty(), "the stream audits it");
}

/// The Invoke API of `cargo lambda watch`, in this process: the local
/// poller hands each batch of the `events` mapping to the `events`
/// function, answering as Lambda would; `purge-user`'s are answered done
/// (DELETE finishes its purges itself here).
async fn invoke_server(app: shared::App) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let app = app.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let app = app.clone();
                    async move {
                        let events = req.uri().path().contains("/functions/events/");
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let answer = if events {
                            let batch = serde_json::from_slice(&body).expect("a stream event");
                            let event = lambda_runtime::LambdaEvent::new(
                                batch,
                                lambda_runtime::Context::default(),
                            );
                            match shared::stream::handle(&app, StreamHandler::Events, event).await {
                                Ok(response) => hyper::Response::new(Full::new(Bytes::from(
                                    serde_json::to_vec(&response).unwrap(),
                                ))),
                                Err(err) => hyper::Response::builder()
                                    .header("x-amz-function-error", "Unhandled")
                                    .body(Full::new(Bytes::from(
                                        json!({"errorMessage": err.to_string()}).to_string(),
                                    )))
                                    .unwrap(),
                            }
                        } else {
                            hyper::Response::new(Full::new(Bytes::from("{}")))
                        };
                        Ok::<_, Infallible>(answer)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, task)
}

#[tokio::test]
async fn webhook_key_and_user_changes_reach_the_trail_through_the_real_stream() {
    let idp = TestIdp::start().await;
    let env = TestEnv::with_stream_and(|c| c.oidc = Some(idp.oidc())).await;
    let admin = idp.token(Role::Admin);
    let (url, server) = invoke_server(env.app.clone()).await;
    let poller = infra::streams::start(&env.table, &url)
        .await
        .expect("the poller")
        .expect("a stream");

    // A webhook created, its secret rotated, deleted; an API key created
    // and revoked; a user created, updated and deleted: all by the admin,
    // each in its own request.
    let body = json!({"url": "http://127.0.0.1:9/hook", "subscribedEvents": ["user.created"]});
    let create = event(Route::CreateWebhook, "POST", &[]).json(&body);
    let created = send(&env, Route::CreateWebhook, create, &admin, "req-hook").await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let hook = created.id();
    let rotate = event(Route::RotateWebhookSecret, "POST", &[("webhookId", &hook)]);
    let rotated = send(
        &env,
        Route::RotateWebhookSecret,
        rotate,
        &admin,
        "req-rotate",
    )
    .await;
    assert_eq!(rotated.status, 200, "{:#}", rotated.body);
    let delete = event(Route::DeleteWebhook, "DELETE", &[("webhookId", &hook)]);
    env.requests.clear();
    let deleted = send(
        &env,
        Route::DeleteWebhook,
        delete.clone(),
        &admin,
        "req-unhook",
    )
    .await;
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
    // The deleter's stamp first, then the deletion with the count.
    let operations: Vec<String> = env
        .requests
        .operations()
        .into_iter()
        .filter(|o| o != "PutItem") // the events function's, meanwhile
        .collect();
    assert_eq!(operations, ["UpdateItem", "TransactWriteItems"]);
    let again = send(&env, Route::DeleteWebhook, delete, &admin, "req-unhook-2").await;
    assert_eq!(again.status, 404, "{:#}", again.body);

    // An API key made and revoked.
    let make = event(Route::CreateApiKey, "POST", &[]).json(&json!({"name": "ci"}));
    let made = send(&env, Route::CreateApiKey, make, &admin, "req-key").await;
    assert_eq!(made.status, 201, "{:#}", made.body);
    let key_id = made.id();
    let revoke = event(Route::RevokeApiKey, "DELETE", &[("keyId", &key_id)]);
    let revoked = send(&env, Route::RevokeApiKey, revoke, &admin, "req-revoke").await;
    assert_eq!(revoked.status, 204, "{:#}", revoked.body);

    let create = event(Route::CreateUser, "POST", &[]).json(&gavin());
    let user = send(&env, Route::CreateUser, create, &admin, "req-create")
        .await
        .id();
    let patch = user_event(Route::UpdateUser, "PATCH", &user).json(&json!({"lastName": "Hooli"}));
    let patched = send(&env, Route::UpdateUser, patch, &admin, "req-update").await;
    assert_eq!(patched.status, 200);
    let delete = user_event(Route::DeleteUser, "DELETE", &user);
    let deleted = send(&env, Route::DeleteUser, delete, &admin, "req-delete").await;
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);

    // Everything the admin did, through the stream, as the admin did it.
    let by_admin = format!("actor.eq('{ADMIN}')");
    let mut entries = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let reply = audit(&env, &admin, &[("filter", &by_admin), ("limit", "500")]).await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        entries = data(&reply);
        if entries.len() >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut done: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["correlationId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    done.sort();
    let mut expected: Vec<(String, String)> = [
        ("api_key.created", "req-key"),
        ("api_key.revoked", "req-revoke"),
        ("user.created", "req-create"),
        ("user.deleted", "req-delete"),
        ("user.updated", "req-update"),
        ("webhook.created", "req-hook"),
        ("webhook.deleted", "req-unhook"),
        ("webhook.secret_rotated", "req-rotate"),
    ]
    .into_iter()
    .map(|(a, c)| (a.to_owned(), c.to_owned()))
    .collect();
    expected.sort();
    assert_eq!(done, expected, "{entries:#?}");
    let targets: HashMap<&str, &Value> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), &e["target"]))
        .collect();
    assert_eq!(
        targets["webhook.deleted"],
        &json!({"type": "webhook", "id": hook})
    );
    assert_eq!(
        targets["user.updated"],
        &json!({"type": "user", "id": user})
    );
    assert_eq!(
        targets["api_key.revoked"],
        &json!({"type": "apiKey", "id": key_id})
    );
    let updated = entries
        .iter()
        .find(|e| e["action"] == "user.updated")
        .unwrap();
    assert_eq!(updated["fields"], json!(["lastName"]));
    for entry in &entries {
        assert_eq!(entry["actor"]["name"], ADMIN_NAME);
        assert_eq!(entry["sourceIp"], IP);
        assert_eq!(entry["userAgent"], USER_AGENT);
    }
    let stored = format!("{:?}", env.audit_items().await);
    for value in PII {
        assert!(!stored.contains(value), "{value} in the stored entries");
    }
    drop(poller);
    server.abort();
}
