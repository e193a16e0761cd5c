//! API keys against DynamoDB Local, through real API Gateway v2 events:
//! admins create, list (a page at a time, newest first) and revoke them
//! (`/api-keys`), `POST /token` buys
//! tokens with active ones only, and a revoked or expired key's tokens stop
//! working within the key check's interval (`KEY_CHECK_SECONDS`).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};
use shared::auth::{Actor, ApiKey, Role, Scope, TokenSigner, MAX_API_KEYS};
use shared::keys;
use shared::routes::Route;
use shared::user::UserId;
use tests::api::{event, gavin, user_event};
use tests::events::{Event, Item, Reply};
use tests::operators::TestIdp;
use tests::{TestEnv, TOKEN_SECRET};

/// A world whose app accepts the test provider's operators.
async fn world() -> (TestEnv, TestIdp) {
    TestEnv::with_operators(|_| {}).await
}

fn admin(idp: &TestIdp) -> String {
    idp.token(Role::Admin)
}

async fn create(env: &TestEnv, token: &str, body: &Value) -> Reply {
    let event = event(Route::CreateApiKey, "POST", &[])
        .bearer(token)
        .header("user-agent", "key-admin/1.0")
        .json(body);
    env.api().call(Route::CreateApiKey, event).await
}

async fn list(env: &TestEnv, token: &str) -> Reply {
    let event = event(Route::ListApiKeys, "GET", &[]).bearer(token);
    env.api().call(Route::ListApiKeys, event).await
}

/// `GET /api-keys` with these query parameters.
async fn list_with(env: &TestEnv, token: &str, query: &[(&str, &str)]) -> Reply {
    let mut event = event(Route::ListApiKeys, "GET", &[]).bearer(token);
    for (name, value) in query {
        event = event.query(name, value);
    }
    env.api().call(Route::ListApiKeys, event).await
}

/// The query parameters of a page's `links.next`, if it has one.
fn next_query(reply: &Reply) -> Option<Vec<(String, String)>> {
    let link = reply.body["links"]["next"].as_str()?;
    let (base, query) = link.split_once('?').expect("a query");
    assert_eq!(base, "https://api.example.test/api-keys");
    Some(
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

/// The ids of a page, in order.
fn ids(reply: &Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {:#}", reply.body))
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page of the list from `query` on, following `links.next`: each
/// page's ids, and every page one Query.
async fn every_page(env: &TestEnv, token: &str, query: &[(&str, &str)]) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut params: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    loop {
        env.requests.clear();
        let borrowed: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let reply = list_with(env, token, &borrowed).await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        assert_eq!(env.requests.operations(), ["Query"], "one Query a page");
        assert_eq!(reply.body["count"], ids(&reply).len());
        pages.push(ids(&reply));
        assert!(pages.len() < 1000, "the pages end");
        match next_query(&reply) {
            Some(next) => params = next,
            None => return pages,
        }
    }
}

async fn revoke(env: &TestEnv, token: &str, id: &str) -> Reply {
    let event = event(Route::RevokeApiKey, "DELETE", &[("keyId", id)]).bearer(token);
    env.api().call(Route::RevokeApiKey, event).await
}

/// `POST /token` with `key`, as Basiq's clients send it.
async fn buy_token(env: &TestEnv, key: &str) -> Reply {
    let event = Event::new("POST", "/token")
        .without_auth()
        .header("authorization", &format!("Basic {key}"))
        .header("basiq-version", "3.0")
        .header("content-type", "application/x-www-form-urlencoded")
        .raw_body("scope=SERVER_ACCESS");
    env.api().issue_token(event).await
}

/// A token `POST /token` sold for `key`.
async fn token_for(env: &TestEnv, key: &str) -> String {
    let reply = buy_token(env, key).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

async fn get_user(env: &TestEnv, token: &str, user: &str) -> Reply {
    let event = user_event(Route::GetUser, "GET", user).bearer(token);
    env.api().call(Route::GetUser, event).await
}

/// A new key, created by an admin: its id and the key itself.
async fn new_key(env: &TestEnv, idp: &TestIdp, name: &str) -> (String, String) {
    let reply = create(env, &admin(idp), &json!({ "name": name })).await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    (
        reply.id(),
        reply.body["key"].as_str().expect("the key").to_owned(),
    )
}

/// A key written by the store directly (as `make api-key` does).
async fn stored_key(env: &TestEnv, name: &str) -> ApiKey {
    let key = ApiKey::generate();
    env.app
        .store
        .add_api_key(&key, name, &Actor::claimed("tests"), None, None)
        .await
        .expect("a stored key");
    key
}

async fn key_item(env: &TestEnv, id: &str) -> Option<Item> {
    env.client()
        .get_item()
        .table_name(&env.table)
        .key(keys::PK, AttributeValue::S(keys::API_KEYS_PK.into()))
        .key(keys::SK, AttributeValue::S(keys::api_key_sk(id)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// The count of active keys, as its item holds it.
async fn active_count(env: &TestEnv) -> i64 {
    env.client()
        .get_item()
        .table_name(&env.table)
        .key(keys::PK, AttributeValue::S(keys::API_KEYS_PK.into()))
        .key(keys::SK, AttributeValue::S(keys::API_KEY_COUNT_SK.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .and_then(|item| item.get("n").and_then(|n| n.as_n().ok()).cloned())
        .map_or(0, |n| n.parse().unwrap())
}

/// Sets a stored key's attribute as text, behind the service's back.
async fn set_text(env: &TestEnv, id: &str, attr: &str, value: &str) {
    env.client()
        .update_item()
        .table_name(&env.table)
        .key(keys::PK, AttributeValue::S(keys::API_KEYS_PK.into()))
        .key(keys::SK, AttributeValue::S(keys::api_key_sk(id)))
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", attr)
        .expression_attribute_values(":v", AttributeValue::S(value.into()))
        .send()
        .await
        .unwrap();
}

fn text<'a>(item: &'a Item, attr: &str) -> &'a str {
    item.get(attr)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

fn entry<'a>(list: &'a Reply, id: &str) -> &'a Value {
    list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("{id} is listed: {:#}", list.body))
}

/// Every refusal of a key is the same 401: its body, without the request's id.
fn refusal(reply: &Reply) -> Value {
    assert_eq!(reply.status, 401, "{:#}", reply.body);
    let entry = &reply.body["data"][0];
    json!([entry["code"], entry["title"], entry["detail"]])
}

#[tokio::test]
async fn a_key_is_shown_once_stored_as_its_digest_and_listed_newest_first() {
    let (env, idp) = world().await;
    let admin = admin(&idp);
    env.requests.clear();
    let reply = create(&env, &admin, &json!({"name": "  billing backend "})).await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    // One transaction: the key and the count.
    assert_eq!(env.requests.operations(), ["TransactWriteItems"]);
    let id = reply.id();
    let key = reply.body["key"].as_str().unwrap().to_owned();
    assert!(ApiKey::is_record_id(&id), "{id}");
    assert_eq!(ApiKey::from_text(&key).record_id(), id);
    let body = &reply.body;
    assert_eq!(body["type"], "apiKey");
    assert_eq!(body["name"], "billing backend");
    assert_eq!(body["prefix"], key[..6]);
    assert_eq!(body["createdBy"], "operator:admin-subject");
    assert_eq!(body["createdByName"], "admin@example.test");
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'));
    for absent in ["expiresAt", "lastUsedAt", "revokedAt"] {
        assert_eq!(body[absent], Value::Null, "{absent}");
    }
    assert_eq!(
        body["links"]["self"],
        format!("https://api.example.test/api-keys/{id}")
    );

    // The table holds the digest, never the key; the write is stamped.
    let item = key_item(&env, &id).await.expect("the key's item");
    assert_eq!(text(&item, "digest"), ApiKey::from_text(&key).digest());
    assert!(
        !format!("{item:?}").contains(&key),
        "the key itself is stored"
    );
    assert_eq!(text(&item, "actor"), "operator:admin-subject");
    assert_eq!(text(&item, "actorName"), "admin@example.test");
    assert_eq!(text(&item, "sourceIp"), "192.0.2.1");
    assert_eq!(text(&item, "userAgent"), "key-admin/1.0");
    assert!(text(&item, "correlationId").starts_with("req-"));

    let (second, _) = new_key(&env, &idp, "second").await;
    env.requests.clear();
    let listed = list(&env, &admin).await;
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    assert_eq!(env.requests.operations(), ["Query"]);
    assert_eq!(listed.body["type"], "list");
    // The tests' own key, and the two new ones, newest first.
    assert_eq!(listed.body["count"], 3);
    let data = listed.body["data"].as_array().unwrap();
    let order: Vec<&str> = data.iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert_eq!(order[..2], [second.as_str(), id.as_str()]);
    assert!(
        data.iter().all(|k| k.get("key").is_none()),
        "a list never shows a key: {:#}",
        listed.body
    );
    assert!(!listed.body.to_string().contains(&key));
    assert_eq!(
        listed.body["links"]["self"],
        "https://api.example.test/api-keys"
    );
    assert!(listed.body["links"].get("next").is_none(), "one page");
    let listed_key = entry(&listed, &id);
    assert_eq!(listed_key["name"], "billing backend");
    assert_eq!(listed_key["prefix"], key[..6]);
    assert_eq!(listed_key["createdBy"], "operator:admin-subject");
    assert_eq!(listed_key["createdAt"], body["createdAt"]);
    assert_eq!(listed_key["lastUsedAt"], Value::Null);

    // Buying a token records the key's use, at most once a minute.
    env.requests.clear();
    let token = token_for(&env, &key).await;
    assert_eq!(env.requests.operations(), ["GetItem", "UpdateItem"]);
    env.requests.clear();
    token_for(&env, &key).await;
    assert_eq!(
        env.requests.operations(),
        ["GetItem"],
        "used within the minute: not written again"
    );
    let listed = list(&env, &admin).await;
    let used = entry(&listed, &id)["lastUsedAt"]
        .as_str()
        .expect("lastUsedAt");
    assert!(used >= body["createdAt"].as_str().unwrap(), "{used}");
    assert_eq!(entry(&listed, &second)["lastUsedAt"], Value::Null);
    // The token names the key, and works.
    let user = env.api().new_user(&gavin()).await;
    assert_eq!(get_user(&env, &token, &user).await.status, 200);
}

#[tokio::test]
async fn a_key_can_expire_within_two_years() {
    let (env, idp) = world().await;
    let in_a_year = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    let given = in_a_year
        .to_offset(time::macros::offset!(+10))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let reply = create(
        &env,
        &admin(&idp),
        &json!({"name": "yearly", "expiresAt": given}),
    )
    .await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let shown = reply.body["expiresAt"].as_str().unwrap();
    assert!(shown.ends_with('Z'), "{shown}");
    let parsed =
        time::OffsetDateTime::parse(shown, &time::format_description::well_known::Rfc3339).unwrap();
    assert!((parsed - in_a_year).abs() < time::Duration::milliseconds(1));
    let key = reply.body["key"].as_str().unwrap();
    assert_eq!(buy_token(&env, key).await.status, 200);

    for (expires, why) in [
        ("2020-01-01T00:00:00Z", "in the past"),
        ("2999-01-01T00:00:00Z", "too far ahead"),
        ("next year", "not a date-time"),
    ] {
        let reply = create(
            &env,
            &admin(&idp),
            &json!({"name": "k", "expiresAt": expires}),
        )
        .await;
        assert_eq!(reply.status, 400, "{why}: {:#}", reply.body);
        assert_eq!(reply.pointer(), "/expiresAt", "{why}");
    }
}

#[tokio::test]
async fn a_revoked_key_buys_no_token_at_once_and_its_tokens_stop_within_the_key_check() {
    let (env, idp) = TestEnv::with_operators(|config| {
        config.key_check = Duration::from_secs(1);
    })
    .await;
    let admin = admin(&idp);
    let (id, key) = new_key(&env, &idp, "leaked").await;
    let user = env.api().new_user(&gavin()).await;
    let token = token_for(&env, &key).await;
    // The token works, and the instance now remembers its key as active.
    assert_eq!(get_user(&env, &token, &user).await.status, 200);
    assert_eq!(active_count(&env).await, 2);

    env.requests.clear();
    let revoked = revoke(&env, &admin, &id).await;
    assert_eq!(revoked.status, 204, "{:#}", revoked.body);
    assert_eq!(env.requests.operations(), ["TransactWriteItems"]);
    assert_eq!(active_count(&env).await, 1);

    // New tokens are refused at once, as an unknown key is.
    let refused = buy_token(&env, &key).await;
    let unknown = buy_token(&env, ApiKey::generate().expose()).await;
    assert_eq!(refusal(&refused), refusal(&unknown));
    // Within KEY_CHECK_SECONDS, a token bought before still works: the
    // documented bound.
    assert_eq!(get_user(&env, &token, &user).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let stale = get_user(&env, &token, &user).await;
    assert_eq!(stale.status, 401, "{:#}", stale.body);

    // Revoking again changes nothing, and the key stays listed, revoked,
    // stamped by who revoked it.
    let item = key_item(&env, &id).await.unwrap();
    assert_eq!(revoke(&env, &admin, &id).await.status, 204);
    assert_eq!(key_item(&env, &id).await.unwrap(), item);
    assert_eq!(active_count(&env).await, 1);
    assert_eq!(text(&item, "actor"), "operator:admin-subject");
    assert_eq!(text(&item, "createdBy"), "operator:admin-subject");
    let listed = list(&env, &admin).await;
    let revoked_at = entry(&listed, &id)["revokedAt"]
        .as_str()
        .expect("revokedAt");
    assert_eq!(revoked_at, text(&item, "revokedAt"));
}

#[tokio::test]
async fn an_expired_key_buys_no_token_and_its_tokens_stop() {
    let (env, _idp) = world().await;
    let key = stored_key(&env, "short-lived").await;
    let user = env.api().new_user(&gavin()).await;
    // A token the key bought before it expired, and never used since.
    let token = TokenSigner::new(TOKEN_SECRET)
        .issue(&key.id(), Scope::ServerAccess, None, tests::time_now())
        .unwrap();
    set_text(
        &env,
        &key.record_id(),
        "expiresAt",
        "2026-01-01T00:00:00.000Z",
    )
    .await;
    let refused = buy_token(&env, key.expose()).await;
    let unknown = buy_token(&env, ApiKey::generate().expose()).await;
    assert_eq!(refusal(&refused), refusal(&unknown));
    assert_eq!(get_user(&env, &token, &user).await.status, 401);
    // It was never used: nothing recorded a use.
    let item = key_item(&env, &key.record_id()).await.unwrap();
    assert!(!item.contains_key("lastUsedAt"));
}

#[tokio::test]
async fn a_key_whose_id_matches_but_whose_digest_does_not_is_unknown() {
    let (env, _idp) = world().await;
    let key = stored_key(&env, "real").await;
    assert_eq!(buy_token(&env, key.expose()).await.status, 200);
    // The item of this id now holds another key's digest: the id is only
    // where to look, the whole digest is what proves the key.
    set_text(
        &env,
        &key.record_id(),
        "digest",
        &ApiKey::generate().digest(),
    )
    .await;
    assert_eq!(buy_token(&env, key.expose()).await.status, 401);
}

#[tokio::test]
async fn at_most_a_hundred_keys_are_active_however_many_are_created_at_once() {
    let (env, idp) = world().await;
    let admin = admin(&idp);
    // The tests' own key, and 89 more: ten places left.
    for i in 0..89 {
        stored_key(&env, &format!("filler {i}")).await;
    }
    assert_eq!(active_count(&env).await, 90);
    let replies = futures::future::join_all((0..25).map(|i| {
        let admin = admin.clone();
        let env = &env;
        async move { create(env, &admin, &json!({ "name": format!("rush {i}") })).await }
    }))
    .await;
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!(
        (created.len(), refused.len()),
        (10, 15),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        refused[0].body["data"][0]["detail"],
        "At most 100 API keys may be active: revoke one first."
    );
    assert_eq!(active_count(&env).await, MAX_API_KEYS as i64);
    let listed = list(&env, &admin).await;
    assert_eq!(listed.body["count"], MAX_API_KEYS);

    // The 101st is refused, and writes nothing.
    let before = env.item_count().await;
    let more = create(&env, &admin, &json!({"name": "one more"})).await;
    assert_eq!(more.status, 409, "{:#}", more.body);
    assert_eq!(env.item_count().await, before);
    // Revoking one makes room for one, once.
    let id = created[0].id();
    assert_eq!(revoke(&env, &admin, &id).await.status, 204);
    assert_eq!(revoke(&env, &admin, &id).await.status, 204);
    assert_eq!(
        create(&env, &admin, &json!({"name": "replacement"}))
            .await
            .status,
        201
    );
    assert_eq!(
        create(&env, &admin, &json!({"name": "and another"}))
            .await
            .status,
        409
    );
    // All 101 are listed, on two pages: revoked keys stay, with their
    // revokedAt.
    let listed = list(&env, &admin).await;
    assert_eq!(listed.body["count"], MAX_API_KEYS);
    let next = next_query(&listed).expect("a second page");
    let next: Vec<(&str, &str)> = next.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let rest = list_with(&env, &admin, &next).await;
    assert_eq!(rest.body["count"], 1, "{:#}", rest.body);
    assert!(rest.body["links"].get("next").is_none());
    let revoked = if ids(&listed).contains(&id) {
        entry(&listed, &id)
    } else {
        entry(&rest, &id)
    };
    assert!(revoked["revokedAt"].is_string());
}

#[tokio::test]
async fn keys_are_listed_a_page_at_a_time_newest_first_each_once() {
    let (env, idp) = world().await;
    let admin = admin(&idp);
    // 130 keys, 100 of them active: the tests' own, 99 more, 30 of those
    // revoked and 30 made after them.
    let mut made = vec![ApiKey::from_text(tests::TEST_API_KEY).record_id()];
    for i in 0..99 {
        made.push(stored_key(&env, &format!("first {i}")).await.record_id());
    }
    for id in &made[1..31] {
        assert!(env.app.store.revoke_api_key(id).await.unwrap());
    }
    for i in 0..30 {
        made.push(stored_key(&env, &format!("later {i}")).await.record_id());
    }
    assert_eq!(active_count(&env).await, MAX_API_KEYS as i64);
    // Newest first: by creation time, then id (keys made in one
    // millisecond), as the index orders them.
    let mut newest_first = Vec::new();
    for id in &made {
        let item = key_item(&env, id).await.expect("the key's item");
        let at = text(&item, "createdAt").to_owned();
        assert_eq!(
            text(&item, keys::API_KEYS_BY_TIME.sk),
            keys::api_key_time_key(&at, id),
            "the key's place in the index, written with it"
        );
        newest_first.push((at, id.clone()));
    }
    newest_first.sort_by(|a, b| b.cmp(a));
    let newest_first: Vec<String> = newest_first.into_iter().map(|(_, id)| id).collect();
    assert_eq!(newest_first[0], made[129], "the last made is the newest");

    // Pages of 100 (the default), then of 7: every key once, in order,
    // each page one Query, its next link keeping the limit.
    let pages = every_page(&env, &admin, &[]).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [100, 30],
        "pages of the default 100"
    );
    assert_eq!(pages.concat(), newest_first);
    let pages = every_page(&env, &admin, &[("limit", "7")]).await;
    assert_eq!(pages.len(), 130usize.div_ceil(7));
    assert!(pages[..pages.len() - 1].iter().all(|p| p.len() == 7));
    assert_eq!(pages.concat(), newest_first);
    let first = list_with(&env, &admin, &[("limit", "7")]).await;
    assert_eq!(
        first.body["links"]["self"],
        "https://api.example.test/api-keys?limit=7"
    );
    let next = next_query(&first).unwrap();
    assert_eq!(next[0], ("limit".to_owned(), "7".to_owned()));
    assert_eq!(next[1].0, "next");
    assert_eq!(next.len(), 2);

    // A key made now comes first, and a client paging from before it
    // goes on where it was: no key twice, none skipped.
    let cursor = next[1].1.clone();
    assert!(env.app.store.revoke_api_key(&made[31]).await.unwrap());
    let (newer, _) = new_key(&env, &idp, "newer").await;
    let second = list_with(&env, &admin, &[("limit", "7"), ("next", &cursor)]).await;
    assert_eq!(ids(&second), newest_first[7..14]);
    assert_eq!(ids(&list(&env, &admin).await)[0], newer);

    // The order is the index's: a key moved back in it, behind the
    // service's back, is listed last.
    set_text(
        &env,
        &newer,
        keys::API_KEYS_BY_TIME.sk,
        &keys::api_key_time_key("2000-01-01T00:00:00.000Z", &newer),
    )
    .await;
    let pages = every_page(&env, &admin, &[]).await;
    assert_eq!(pages.concat().last(), Some(&newer));
    assert_eq!(pages.concat()[..130], newest_first);
}

#[tokio::test]
async fn a_page_is_one_strongly_consistent_query_of_the_index_newest_first() {
    let (env, _idp) = world().await;
    for i in 0..3 {
        stored_key(&env, &format!("k{i}")).await;
    }
    let bodies = Bodies::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        env.client()
            .config()
            .to_builder()
            .interceptor(bodies.clone())
            .build(),
    );
    let store = shared::store::Store::new(client, env.table.clone());
    let page = store
        .list_api_keys(shared::store::Position::Start, 2)
        .await
        .unwrap();
    assert_eq!(page.keys.len(), 2);
    assert!(page.next.is_some());
    let sent = bodies.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let (operation, body) = &sent[0];
    assert_eq!(operation, "Query");
    assert_eq!(body["IndexName"], keys::API_KEYS_BY_TIME.name);
    assert_eq!(body["ScanIndexForward"], false);
    assert_eq!(body["ConsistentRead"], true);
    assert_eq!(body["Limit"], 3, "a page and one more, to know of the next");
    let condition = body["KeyConditionExpression"].as_str().unwrap();
    assert!(condition.contains("begins_with"), "{condition}");
    assert!(body.get("FilterExpression").is_none());
    let values = body["ExpressionAttributeValues"].to_string();
    assert!(
        values.contains("\"API_KEYS\"") && values.contains("\"KEY#\""),
        "{values}"
    );
    let names = body["ExpressionAttributeNames"].to_string();
    assert!(names.contains(keys::API_KEYS_BY_TIME.sk), "{names}");
    // The last page: fewer than asked for, no next.
    bodies.0.lock().unwrap().clear();
    let rest = store.list_api_keys(page.next.unwrap(), 2).await.unwrap();
    assert_eq!(rest.keys.len(), 2, "the tests' key and the last one");
    assert!(rest.next.is_none());
    assert_eq!(bodies.0.lock().unwrap().len(), 1);
}

/// The operation and JSON body of every request a client sends.
#[derive(Debug, Clone, Default)]
struct Bodies(std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>);

impl aws_sdk_dynamodb::config::Intercept for Bodies {
    fn name(&self) -> &'static str {
        "Bodies"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .unwrap_or("")
            .trim_start_matches("DynamoDB_20120810.")
            .to_owned();
        let body = request
            .body()
            .bytes()
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or(Value::Null);
        self.0.lock().unwrap().push((operation, body));
        Ok(())
    }
}

#[tokio::test]
async fn unknown_and_impossible_key_ids_are_404() {
    let (env, idp) = world().await;
    let admin = admin(&idp);
    let unknown = revoke(&env, &admin, "0123456789abcdef").await;
    assert_eq!(unknown.status, 404, "{:#}", unknown.body);
    assert_eq!(
        unknown.body["data"][0]["detail"],
        "Requested API key does not exist."
    );
    assert_eq!(active_count(&env).await, 1, "nothing uncounted");
    let real = ApiKey::from_text(tests::TEST_API_KEY).record_id();
    for id in [
        "0123456789ABCDEF".to_owned(),
        "0123456789abcde".to_owned(),
        "0123456789abcdef0".to_owned(),
        format!("key:{real}"),
        real.to_uppercase(),
        "0123456789abcdeg".to_owned(),
    ] {
        env.requests.clear();
        let reply = revoke(&env, &admin, &id).await;
        assert_eq!(reply.status, 404, "{id}: {:#}", reply.body);
        assert_eq!(reply.body["data"][0]["code"], "resource-not-found", "{id}");
        assert!(env.requests.operations().is_empty(), "{id}: no read");
    }
    // The tests' key is untouched.
    assert_eq!(active_count(&env).await, 1);
    env.requests.clear();
    assert_eq!(env.app.store.api_key_state("KEY").await.unwrap(), None);
    assert!(env.requests.operations().is_empty());
}

#[tokio::test]
async fn keys_are_managed_by_admin_operators_only() {
    let (env, idp) = world().await;
    let (id, _) = new_key(&env, &idp, "target").await;
    let server = tests::token(Scope::ServerAccess, None);
    let client = tests::token(Scope::ClientAccess, Some(UserId::new()));
    let tokens = [
        ("a SERVER_ACCESS token", server),
        ("a CLIENT_ACCESS token", client),
        ("a viewer", idp.token(Role::Viewer)),
        ("an editor", idp.token(Role::Editor)),
    ];
    let before = env.item_count().await;
    for (who, token) in &tokens {
        for reply in [
            create(&env, token, &json!({"name": "mine"})).await,
            list(&env, token).await,
            revoke(&env, token, &id).await,
        ] {
            assert_eq!(reply.status, 403, "{who}: {:#}", reply.body);
        }
    }
    for reply in [
        env.api()
            .call(
                Route::ListApiKeys,
                event(Route::ListApiKeys, "GET", &[]).without_auth(),
            )
            .await,
        create(&env, "not-a-token", &json!({"name": "mine"})).await,
    ] {
        assert_eq!(reply.status, 401, "{:#}", reply.body);
    }
    assert_eq!(env.item_count().await, before, "no refusal wrote anything");
    let item = key_item(&env, &id).await.unwrap();
    assert!(!item.contains_key("revokedAt"));
}

#[tokio::test]
async fn bodies_and_queries_are_strict() {
    let (env, idp) = world().await;
    let admin = admin(&idp);
    let before = env.item_count().await;
    for (body, pointer) in [
        (json!({"name": "k", "key": "my-own-key"}), "/key"),
        (json!({"name": "k", "expiresat": null}), "/expiresat"),
        (json!({}), "/name"),
        (json!({"name": ""}), "/name"),
        (json!({"name": "tab\there"}), "/name"),
        (json!({"name": "x".repeat(65)}), "/name"),
    ] {
        let reply = create(&env, &admin, &body).await;
        assert_eq!(reply.status, 400, "{body}: {:#}", reply.body);
        assert_eq!(reply.pointer(), pointer, "{body}");
    }
    let not_json = create(&env, &admin, &json!("name")).await;
    assert_eq!(not_json.status, 400, "{:#}", not_json.body);
    for (limit, ok) in [
        ("1", true),
        ("100", true),
        (" 5 ", true),
        ("0", false),
        ("101", false),
        ("500", false),
        ("-1", false),
        ("x", false),
        ("", false),
    ] {
        let listed = list_with(&env, &admin, &[("limit", limit)]).await;
        if ok {
            assert_eq!(listed.status, 200, "limit={limit:?}: {:#}", listed.body);
        } else {
            assert_eq!(listed.status, 400, "limit={limit:?}: {:#}", listed.body);
            assert_eq!(listed.body["data"][0]["source"]["parameter"], "limit");
            assert_eq!(
                listed.body["data"][0]["detail"],
                "limit must be a whole number from 1 to 100."
            );
        }
    }
    for (query, parameter) in [
        (vec![("filter", "name.eq('x')")], "filter"),
        (vec![("name", "x")], "name"),
        (vec![("limit", "1"), ("limit", "2")], "limit"),
        (vec![("next", "")], "next"),
        (vec![("next", "not-a-cursor")], "next"),
    ] {
        env.requests.clear();
        let listed = list_with(&env, &admin, &query).await;
        assert_eq!(listed.status, 400, "{query:?}: {:#}", listed.body);
        assert_eq!(
            listed.body["data"][0]["source"]["parameter"], parameter,
            "{query:?}"
        );
        assert!(env.requests.operations().is_empty(), "{query:?}: no read");
    }
    assert_eq!(env.item_count().await, before, "nothing written");
}

#[tokio::test]
async fn a_forged_or_foreign_cursor_is_refused() {
    let (env, idp) = world().await;
    let admin = admin(&idp);
    stored_key(&env, "another").await;
    let first = list_with(&env, &admin, &[("limit", "1")]).await;
    let next = next_query(&first).expect("a next page");
    let cursor = next[1].1.clone();
    assert_eq!(
        list_with(&env, &admin, &[("next", &cursor)]).await.status,
        200,
        "the cursor itself is good"
    );
    let mut tampered = cursor.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    // Signed with the service's key, for another listing: the audit trail's.
    let key = shared::rotation::Keyring::new(tests::CURSOR_KEY);
    let foreign = shared::http::cursor::Cursor::new(
        &shared::audit::AuditFilter::default().fingerprint(),
        vec![shared::store::Position::After([
            keys::API_KEYS_PK.into(),
            keys::api_key_sk("0123456789abcdef"),
            keys::API_KEYS_PK.into(),
            keys::api_key_time_key("2026-01-01T00:00:00.000Z", "0123456789abcdef"),
        ])],
    )
    .encode(&key);
    let other_key =
        shared::http::cursor::Cursor::new("api-keys", vec![shared::store::Position::Start]).encode(
            &shared::rotation::Keyring::new(b"another key of sufficient length"),
        );
    for bad in [tampered, foreign, other_key, format!("{cursor}x")] {
        env.requests.clear();
        let reply = list_with(&env, &admin, &[("next", &bad)]).await;
        assert_eq!(reply.status, 400, "{bad}: {:#}", reply.body);
        assert_eq!(reply.body["data"][0]["source"]["parameter"], "next");
        assert!(env.requests.operations().is_empty(), "no read");
    }
}

/// A value for a field of a create body: of every JSON type, valid and not.
fn field_value() -> impl Strategy<Value = Value> {
    let instant = (-400i64..800).prop_map(|days| {
        let at = time::OffsetDateTime::now_utc() + time::Duration::days(days);
        json!(at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap())
    });
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,80}".prop_map(Value::from),
        "[ -~]{1,64}".prop_map(Value::from),
        "\\PC{1,70}".prop_map(Value::from),
        instant,
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|z|[+-][0-9]{2}:[0-9]{2})"
            .prop_map(Value::from),
        Just(json!(["a"])),
        Just(json!({"name": "nested"})),
    ]
}

/// A create body: maybe a name, maybe an expiry, maybe fields it has not;
/// now and then not an object at all.
fn create_body() -> impl Strategy<Value = Value> {
    let object = (
        proptest::option::of(field_value()),
        proptest::option::of(field_value()),
        proptest::collection::vec(
            (
                prop_oneof![
                    Just("key".to_owned()),
                    Just("id".to_owned()),
                    Just("Name".to_owned()),
                    Just(String::new()),
                    "[a-z/~]{1,8}",
                ],
                field_value(),
            ),
            0..2,
        ),
    )
        .prop_map(|(name, expires, extra)| {
            let mut body = serde_json::Map::new();
            for (field, value) in extra {
                body.insert(field, value);
            }
            if let Some(name) = name {
                body.insert("name".into(), name);
            }
            if let Some(expires) = expires {
                body.insert("expiresAt".into(), expires);
            }
            Value::Object(body)
        });
    prop_oneof![
        8 => object,
        1 => field_value(),
    ]
}

#[test]
fn random_create_bodies_never_fail_the_service_and_refusals_write_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (env, idp) = runtime.block_on(world());
    let admin = admin(&idp);
    let seed: u64 = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0015);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, usize>::new());
    let result = runner.run(&create_body(), |body| {
        runtime.block_on(async {
            let before = (env.item_count().await, active_count(&env).await);
            let reply = create(&env, &admin, &body).await;
            *statuses.borrow_mut().entry(reply.status).or_default() += 1;
            prop_assert!(reply.status < 500, "{body}: {:#}", reply.body);
            match reply.status {
                201 => {
                    prop_assert!(reply.body["key"].is_string());
                    prop_assert_eq!(active_count(&env).await, before.1 + 1);
                    // Room for the next case: revoked keys do not count.
                    prop_assert_eq!(revoke(&env, &admin, &reply.id()).await.status, 204);
                }
                400 | 415 => {
                    prop_assert_eq!(
                        (env.item_count().await, active_count(&env).await),
                        before,
                        "{} wrote something",
                        body
                    );
                }
                other => prop_assert!(false, "{body}: {other} {:#}", reply.body),
            }
            Ok(())
        })
    });
    println!("create bodies, SEED={seed}: {:?}", statuses.borrow());
    if let Err(err) = result {
        panic!("SEED={seed}: {err}");
    }
    assert!(
        statuses.borrow().get(&201).is_some_and(|n| *n > 0),
        "some bodies were valid"
    );
}
