//! Stamps and the deletion receipt, read from the items themselves: every
//! write of a profile or a connection names who made it (`actor`) and the
//! request it belonged to (`correlationId`, API Gateway's request id), in
//! the same write; and a deletion's purge passes add what they removed, by
//! kind, to the profile before it goes, so that its last image (what the
//! stream's REMOVE record carries) holds the totals.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use infra::seed::connection_body;
use lambda_runtime::LambdaEvent;
use serde_json::json;
use shared::auth::{Claims, Scope, Stamp};
use shared::keys;
use shared::routes::{self, Route};
use shared::store::{DeleteProgress, Removed};
use shared::user::UserId;
use tests::api::{event, gavin, record_event, user_event};
use tests::events::{handover_event, Event, Reply};
use tests::faults::Faults;
use tests::TestEnv;

type Item = HashMap<String, AttributeValue>;

/// `event` sent to `route` as API Gateway would, with `request_id` as the
/// request's id: the correlation id the writes must record.
async fn send(env: &TestEnv, route: Route, event: Event, request_id: &str) -> Reply {
    let mut json = event.to_json();
    json["requestContext"]["requestId"] = json!(request_id);
    let request = lambda_http::request::from_str(&json.to_string()).expect("a valid v2 event");
    Reply::from(routes::route(&env.app, route, request).await)
}

/// The item as stored, every attribute of it, read with the SDK.
async fn raw(env: &TestEnv, pk: String, sk: &str) -> Option<Item> {
    env.client()
        .get_item()
        .table_name(&env.table)
        .key(keys::PK, AttributeValue::S(pk))
        .key(keys::SK, AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
}

async fn profile(env: &TestEnv, user: &str) -> Option<Item> {
    let id = UserId::parse(user).expect("a user id");
    raw(env, keys::user_pk(&id), keys::PROFILE_SK).await
}

async fn connection(env: &TestEnv, user: &str, connection: &str) -> Option<Item> {
    let id = UserId::parse(user).expect("a user id");
    raw(env, keys::user_pk(&id), &keys::connection_sk(connection)).await
}

fn text<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    item.get(attr)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// The item's stamp: its actor and its correlation id.
fn stamp(item: &Item) -> (Option<&str>, Option<&str>) {
    (text(item, "actor"), text(item, "correlationId"))
}

/// The receipt's four counters, as the events function reads them, by
/// their stored names: connections, accounts, transactions, other.
fn receipt(item: &Item) -> [u64; 4] {
    [
        "removedConnections",
        "removedAccounts",
        "removedTransactions",
        "removedOther",
    ]
    .map(|attr| {
        item.get(attr)
            .map(|v| v.as_n().expect("a number").parse().expect("a count"))
            .unwrap_or(0)
    })
}

/// The sort keys of a user's partition, read as a purge would.
async fn partition(env: &TestEnv, user: &str) -> Vec<String> {
    let id = UserId::parse(user).expect("a user id");
    let mut sks = Vec::new();
    let mut start = None;
    loop {
        let page = env
            .client()
            .query()
            .table_name(&env.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::user_pk(&id)))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("query");
        for item in page.items() {
            sks.push(text(item, keys::SK).expect("a sort key").to_owned());
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return sks;
        }
    }
}

/// What the user owns besides its profile, by kind, as the receipt counts:
/// connections, accounts, transactions, other.
fn kinds<'a>(sks: impl IntoIterator<Item = &'a String>) -> [u64; 4] {
    let mut counts = [0; 4];
    for sk in sks {
        let kind = match sk.as_str() {
            keys::PROFILE_SK => continue,
            sk if sk.starts_with("CONN#") => 0,
            sk if sk.starts_with("ACCT#") => 1,
            sk if sk.starts_with("TXN#") => 2,
            _ => 3,
        };
        counts[kind] += 1;
    }
    counts
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

fn create(body: &serde_json::Value) -> Event {
    event(Route::CreateUser, "POST", &[]).json(body)
}

fn ingest(user: &str, body: &serde_json::Value) -> Event {
    user_event(Route::IngestConnection, "POST", user).json(body)
}

#[tokio::test]
async fn creating_and_updating_a_user_stamps_its_key_and_request_in_the_same_write() {
    let env = TestEnv::new().await;
    let created = send(&env, Route::CreateUser, create(&gavin()), "req-create").await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(env.requests.operations(), ["PutItem"], "still one request");
    let user = created.id();
    let stored = profile(&env, &user).await.expect("the profile");
    assert_eq!(
        stamp(&stored),
        (Some(tests::test_key_id().as_str()), Some("req-create"))
    );

    env.requests.clear();
    let patch = user_event(Route::UpdateUser, "PATCH", &user).json(&json!({"lastName": "Hooli"}));
    let updated = send(&env, Route::UpdateUser, patch, "req-update").await;
    assert_eq!(updated.status, 200, "{:#}", updated.body);
    assert_eq!(
        env.requests.operations(),
        ["UpdateItem"],
        "still one request"
    );
    let stored = profile(&env, &user).await.expect("the profile");
    assert_eq!(
        stamp(&stored),
        (Some(tests::test_key_id().as_str()), Some("req-update"))
    );
    assert_eq!(text(&stored, "lastName"), Some("Hooli"));

    // Bookkeeping, not the user's: no answer shows it.
    let fetched = env.api().get_user(&user).await;
    for body in [&updated.body, &fetched.body] {
        assert!(body.get("actor").is_none() && body.get("correlationId").is_none());
    }
}

/// A create with an `Idempotency-Key` writes the profile in a transaction
/// with its record (store/idempotency.rs), which must stamp it too.
#[tokio::test]
async fn a_create_with_an_idempotency_key_stamps_its_profile_too() {
    let env = TestEnv::new().await;
    let event = create(&gavin()).header("idempotency-key", "k-1");
    let created = send(&env, Route::CreateUser, event, "req-create-once").await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(env.requests.operations(), ["TransactWriteItems"]);
    let stored = profile(&env, &created.id()).await.expect("the profile");
    assert_eq!(
        stamp(&stored),
        (Some(tests::test_key_id().as_str()), Some("req-create-once"))
    );
}

#[tokio::test]
async fn a_client_token_writes_nothing_and_would_act_as_its_user() {
    let env = TestEnv::new().await;
    let user = send(&env, Route::CreateUser, create(&gavin()), "req-create")
        .await
        .id();
    let id = UserId::parse(&user).unwrap();
    let client = tests::token(Scope::ClientAccess, Some(id));

    // Every stamped route needs SERVER_ACCESS: a CLIENT token is refused
    // before anything is written, and the stamp stays the creator's.
    let refused = [
        (
            Route::UpdateUser,
            user_event(Route::UpdateUser, "PATCH", &user).json(&json!({"lastName": "X"})),
        ),
        (
            Route::DeleteUser,
            user_event(Route::DeleteUser, "DELETE", &user),
        ),
        (
            Route::IngestConnection,
            ingest(&user, &connection_body(0, 1, 1)),
        ),
        (
            Route::DeleteConnection,
            record_event(
                Route::DeleteConnection,
                "DELETE",
                &user,
                "connectionId",
                "conn-0",
            ),
        ),
    ];
    for (route, event) in refused {
        let reply = send(&env, route, event.bearer(&client), "req-client").await;
        assert_eq!(reply.status, 403, "{route:?}: {:#}", reply.body);
    }
    let stored = profile(&env, &user).await.expect("the profile");
    assert_eq!(
        stamp(&stored),
        (Some(tests::test_key_id().as_str()), Some("req-create"))
    );

    // Were a CLIENT token's write allowed, it would name the user, not the key.
    let claims = Claims {
        sub: tests::test_key_id(),
        scope: Scope::ClientAccess,
        user_id: Some(id),
        iat: 0,
        exp: 0,
        jti: "jti".into(),
    };
    let patch = shared::user::decode_patch(json!({"middleName": "M"})).unwrap();
    env.app
        .store
        .acting(stamp_of(claims.clone(), "req-as-client"))
        .update_user(&id, &patch, None)
        .await
        .unwrap();
    let stored = profile(&env, &user).await.expect("the profile");
    let actor = format!("user:{user}");
    assert_eq!(
        stamp(&stored),
        (Some(actor.as_str()), Some("req-as-client"))
    );
}

#[tokio::test]
async fn the_store_used_directly_stamps_nothing_unless_given_a_stamp() {
    let env = TestEnv::new().await;
    let user = shared::user::decode_create(gavin())
        .unwrap()
        .into_user(UserId::new(), shared::clock::now());
    env.app.store.insert_user(&user).await.unwrap();
    let stored = profile(&env, &user.id.to_string()).await.unwrap();
    assert_eq!(stamp(&stored), (None, None));

    // A store given a stamp stamps even a bulk import (seeding).
    let imported = shared::user::decode_create(gavin())
        .unwrap()
        .into_user(UserId::new(), shared::clock::now());
    let claims = Claims {
        sub: tests::test_key_id(),
        scope: Scope::ServerAccess,
        user_id: None,
        iat: 0,
        exp: 0,
        jti: "jti".into(),
    };
    env.app
        .store
        .acting(stamp_of(claims.clone(), "req-import"))
        .import_users(std::slice::from_ref(&imported), 1)
        .await
        .unwrap();
    let stored = profile(&env, &imported.id.to_string()).await.unwrap();
    assert_eq!(
        stamp(&stored),
        (Some(tests::test_key_id().as_str()), Some("req-import"))
    );
}

#[tokio::test]
async fn an_ingested_connection_and_its_deletion_are_stamped() {
    let faults = Faults::new(14);
    let env = TestEnv::with_faults(&faults, |_| {}).await;
    let user = env.api().new_user(&gavin()).await;
    let ingested = send(
        &env,
        Route::IngestConnection,
        ingest(&user, &connection_body(0, 2, 10)),
        "req-ingest",
    )
    .await;
    assert_eq!(ingested.status, 201, "{:#}", ingested.body);
    let stored = connection(&env, &user, "conn-0")
        .await
        .expect("the connection");
    assert_eq!(
        stamp(&stored),
        (Some(tests::test_key_id().as_str()), Some("req-ingest"))
    );
    assert!(!stored.contains_key("leaseUntil"), "the lease is released");

    // The deletion stops right after its first request, the tombstone's
    // transaction: the connection is marked, and names who marked it.
    faults.crash_after(1);
    let delete = record_event(
        Route::DeleteConnection,
        "DELETE",
        &user,
        "connectionId",
        "conn-0",
    );
    let crashed = faults
        .run(send(
            &env,
            Route::DeleteConnection,
            delete.clone(),
            "req-delete",
        ))
        .await;
    assert!(crashed.is_none(), "crashed after the tombstone");
    let stored = connection(&env, &user, "conn-0")
        .await
        .expect("still there");
    assert!(stored.contains_key("deletedAt"));
    assert_eq!(
        stamp(&stored),
        (Some(tests::test_key_id().as_str()), Some("req-delete"))
    );

    let finished = send(&env, Route::DeleteConnection, delete, "req-delete-again").await;
    assert_eq!(finished.status, 204, "{:#}", finished.body);
    assert!(connection(&env, &user, "conn-0").await.is_none());
}

/// The receipt, pass by pass: a DELETE whose budget runs out after its
/// first page, then `purge-user`, stopped right after it added its counts
/// (so the profile's last image can be read), then run again to the end.
#[tokio::test]
async fn a_deletions_receipt_counts_every_item_removed_by_kind() {
    let faults = Faults::new(15);
    let env = TestEnv::with_faults(&faults, |c| {
        c.delete_budget = Duration::ZERO;
        c.delete_parallelism = 1;
    })
    .await;
    // A creation record, two connections (one ingest with its own record),
    // three accounts, forty transactions.
    let created = send(
        &env,
        Route::CreateUser,
        create(&gavin()).header("idempotency-key", "create-1"),
        "req-create",
    )
    .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let user = created.id();
    let first = ingest(&user, &connection_body(0, 2, 30)).header("idempotency-key", "ingest-1");
    assert_eq!(
        env.api().call(Route::IngestConnection, first).await.status,
        201
    );
    let second = ingest(&user, &connection_body(1, 1, 10));
    assert_eq!(
        env.api().call(Route::IngestConnection, second).await.status,
        201
    );
    let seeded = partition(&env, &user).await;
    assert_eq!(
        kinds(&seeded),
        [2, 3, 40, 1],
        "the ingest's record is in the partition"
    );

    // DELETE: the tombstone, one page of 25 keys (the profile among them),
    // the receipt of that page, then the hand-over.
    env.requests.clear();
    let deleted = send(
        &env,
        Route::DeleteUser,
        user_event(Route::DeleteUser, "DELETE", &user),
        "req-delete",
    )
    .await;
    assert_eq!(deleted.status, 202, "{:#}", deleted.body);
    assert_eq!(
        env.requests.operations(),
        [
            "UpdateItem",
            "Query",
            "BatchWriteItem",
            "UpdateItem",
            "TransactWriteItems"
        ]
    );
    let tombstone = profile(&env, &user).await.expect("the tombstone");
    assert!(tombstone.contains_key("deletedAt"));
    assert_eq!(
        stamp(&tombstone),
        (Some(tests::test_key_id().as_str()), Some("req-delete"))
    );
    let left = partition(&env, &user).await;
    let gone: Vec<&String> = seeded.iter().filter(|sk| !left.contains(sk)).collect();
    assert_eq!(gone.len(), 24);
    assert_eq!(receipt(&tombstone), kinds(gone));
    assert_eq!(receipt(&tombstone), [2, 3, 19, 0]);

    // purge-user: the profile read, its lease taken, one page, one batch,
    // the creation record, then the receipt, where it stops.
    assert!(left.contains(&keys::PURGE_SK.to_owned()), "handed over");
    let deletes = left.len() - 1;
    let at_receipt = 2 + 1 + deletes.div_ceil(25) + 1 + 1;
    let from = faults.requests().len();
    faults.crash_after(at_receipt);
    let context = five_minutes();
    let stopped = faults
        .run(shared::stream::purge_users(
            &env.app,
            LambdaEvent::new(handover_event(&user), context.clone()),
        ))
        .await;
    assert!(stopped.is_none());
    let sent: Vec<String> = faults.requests()[from..]
        .iter()
        .map(|(operation, _)| operation.clone())
        .collect();
    assert_eq!(sent.last().map(String::as_str), Some("UpdateItem"));
    assert_eq!(sent.len(), at_receipt, "{sent:?}");
    assert_eq!(partition(&env, &user).await, [keys::PROFILE_SK]);

    // The image the profile's REMOVE will carry: every item by kind. Other:
    // the ingest's record, the hand-over item and the creation's record.
    let last = profile(&env, &user).await.expect("the profile, last");
    assert_eq!(receipt(&last), [2, 3, 40, 3]);
    let [c, a, t, o] = kinds(&seeded);
    assert_eq!(receipt(&last), [c, a, t, o + 2]);
    assert_eq!(Removed::of(&last).total(), 48);
    // purge-user acts for no caller: the profile still names who deleted it.
    assert_eq!(
        stamp(&last),
        (Some(tests::test_key_id().as_str()), Some("req-delete"))
    );

    // Run again, it finds nothing more to count: no receipt update, and the
    // creation record it deletes again (already gone) is not counted twice.
    env.requests.clear();
    shared::stream::purge_users(&env.app, LambdaEvent::new(handover_event(&user), context))
        .await
        .expect("the purge finishes");
    assert_eq!(
        env.requests.operations(),
        ["GetItem", "UpdateItem", "Query", "DeleteItem", "DeleteItem"]
    );
    assert!(profile(&env, &user).await.is_none());
    assert_eq!(env.item_count().await, 0);
}

#[tokio::test]
async fn the_receipt_is_one_update_before_the_profiles_delete_and_only_when_something_went() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    assert_eq!(
        env.api()
            .ingest_connection(&user, &connection_body(0, 1, 10))
            .await
            .status,
        201
    );
    env.requests.clear();
    assert_eq!(env.api().delete_user(&user).await.status, 204);
    assert_eq!(
        env.requests.operations(),
        [
            "UpdateItem",
            "Query",
            "BatchWriteItem",
            "UpdateItem",
            "DeleteItem"
        ]
    );

    // A user that owned nothing: no receipt to add, no request for it.
    let empty = env.api().new_user(&gavin()).await;
    env.requests.clear();
    assert_eq!(env.api().delete_user(&empty).await.status, 204);
    assert_eq!(
        env.requests.operations(),
        ["UpdateItem", "Query", "DeleteItem"]
    );
}

/// A pass that dies before its receipt update adds nothing: what it removed
/// is missing from the totals, what the passes before it added stays, and
/// nothing is counted twice, since the next pass counts only what is still
/// there.
#[tokio::test]
async fn a_pass_cut_short_by_a_crash_loses_its_own_counts_and_doubles_none() {
    let faults = Faults::new(16);
    let env = TestEnv::with_faults(&faults, |_| {}).await;
    let user = env.api().new_user(&gavin()).await;
    let id = UserId::parse(&user).unwrap();
    assert_eq!(
        env.api()
            .ingest_connection(&user, &connection_body(0, 1, 40))
            .await
            .status,
        201
    );
    let seeded = partition(&env, &user).await;
    assert_eq!(kinds(&seeded), [1, 1, 40, 0]);
    let tombstone = env.app.store.tombstone_user(&id, None).await.unwrap();

    // A pass out of time at once: its first page (25 keys, the profile
    // among them), then its receipt.
    let one = env
        .app
        .store
        .purge_pass(&tombstone, Some(std::time::Instant::now()), 1)
        .await
        .unwrap();
    assert_eq!(one.progress, DeleteProgress::InProgress);
    let stored = profile(&env, &user).await.unwrap();
    assert_eq!(receipt(&stored), [1, 1, 22, 0]);
    assert_eq!(Removed::of(&stored), one.receipt);

    // The next pass reads the 19 keys left in one page and dies on its one
    // batch of deletes, which is applied.
    faults.crash_after(2);
    let crashed = faults
        .run(env.app.store.purge_pass(&tombstone, None, 1))
        .await;
    assert!(crashed.is_none());
    assert_eq!(partition(&env, &user).await, [keys::PROFILE_SK]);
    let stored = profile(&env, &user).await.unwrap();
    assert_eq!(
        receipt(&stored),
        [1, 1, 22, 0],
        "the crashed pass added nothing"
    );

    env.requests.clear();
    let last = env.app.store.purge_pass(&tombstone, None, 1).await.unwrap();
    assert_eq!(last.progress, DeleteProgress::Done);
    assert_eq!(last.receipt, Removed::default());
    assert_eq!(env.requests.operations(), ["Query", "DeleteItem"]);
    assert!(profile(&env, &user).await.is_none());
}

/// The stamp of a request with these claims' token and this correlation id.
fn stamp_of(claims: Claims, correlation_id: &str) -> Stamp {
    let caller = shared::auth::Caller::Key {
        claims,
        key_name: None,
    };
    Stamp {
        actor: shared::auth::Actor::of(&caller),
        name: None,
        correlation_id: correlation_id.into(),
        source_ip: None,
        user_agent: None,
    }
}
