//! Connections, accounts and transactions under a user, and deleting a user
//! of any size, against DynamoDB Local.

use std::time::{Duration, Instant};

use infra::seed::{connection_body, fill_user};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use shared::store::DeleteProgress;
use shared::user::UserId;
use tests::api::gavin;
use tests::events::handover_event;
use tests::TestEnv;

#[tokio::test]
async fn ingest_then_list_then_the_user_shows_counts() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;

    let created = env
        .api()
        .ingest_connection(&user, &connection_body(1, 2, 30))
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(created.body["type"], "connection");
    assert_eq!(created.body["id"], "conn-1");
    assert_eq!(
        created.body["institution"]["name"],
        "Pied Piper Credit Union"
    );
    assert_eq!(
        env.api()
            .ingest_connection(&user, &connection_body(2, 1, 5))
            .await
            .status,
        201
    );

    let connections = env.api().list_connections(&user).await;
    assert_eq!(connections.status, 200);
    assert_eq!(connections.body["type"], "list");
    assert_eq!(connections.body["count"], 2);

    let accounts = env.api().list_accounts(&user).await;
    assert_eq!(accounts.body["count"], 3);
    let account = &accounts.body["data"][0];
    assert_eq!(account["type"], "account");
    assert!(
        account["balance"].is_string(),
        "money is a string: {account}"
    );
    assert!(
        account["accountNo"].as_str().unwrap().starts_with("xxxx"),
        "masked: {account}"
    );

    let one = env.api().get_account(&user, "acc-1-1").await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["connection"], "conn-1");
    assert_eq!(one.body["class"]["type"], "savings");

    let connection = env.api().get_connection(&user, "conn-2").await;
    assert_eq!(connection.status, 200);
    assert_eq!(connection.body["status"], "active");

    env.requests.clear();
    let fetched = env.api().get_user(&user).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(
        env.requests.operations(),
        ["Query"],
        "the user, its connections and accounts in one Query"
    );
    tests::contract::assert_matches("UserGetResponse", &fetched.body);
    assert_eq!(fetched.body["connections"]["count"], 2);
    assert_eq!(fetched.body["accounts"]["count"], 3);
    assert_eq!(fetched.body["connections"]["data"][0]["type"], "connection");
    assert!(fetched.body["accounts"]["data"][0]["links"]["self"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/users/{user}/accounts/acc-1-0")));
}

#[tokio::test]
async fn get_user_reads_no_transactions() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    env.api()
        .ingest_connection(&user, &connection_body(1, 2, 0))
        .await;
    env.app.store.meter().reset();
    env.api().get_user(&user).await;
    let without = env.app.store.meter().read_units();

    env.api()
        .ingest_connection(&user, &connection_body(1, 2, 2_000))
        .await;
    env.app.store.meter().reset();
    env.requests.clear();
    let fetched = env.api().get_user(&user).await;
    let with = env.app.store.meter().read_units();
    assert_eq!(fetched.body["accounts"]["count"], 2);
    assert_eq!(env.requests.operations(), ["Query"]);
    println!("get user: {without} RCU without transactions, {with} RCU with 2,000");
    assert!(without > 0.0);
    assert_eq!(
        without, with,
        "2,000 transactions under the user cost the read nothing"
    );
}

#[tokio::test]
async fn transactions_page_newest_first_and_filter() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    // 120 transactions, 7 hours apart going back from 2026-11-01T09:30Z, alternating two accounts.
    assert_eq!(
        env.api()
            .ingest_connection(&user, &connection_body(1, 2, 120))
            .await
            .status,
        201
    );

    let mut seen = Vec::new();
    let mut reply = env.api().list_transactions(&user, &[("limit", "50")]).await;
    loop {
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        for t in reply.body["data"].as_array().unwrap() {
            assert_eq!(t["type"], "transaction");
            assert!(t["amount"].is_string());
            seen.push((
                t["postDate"].as_str().unwrap().to_owned(),
                t["id"].as_str().unwrap().to_owned(),
            ));
        }
        let Some(next) = reply.body["links"]["next"].as_str() else {
            break;
        };
        let cursor = form_urlencoded::parse(next.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "next")
            .unwrap()
            .1
            .into_owned();
        reply = env
            .api()
            .list_transactions(&user, &[("limit", "50"), ("next", &cursor)])
            .await;
    }
    assert_eq!(seen.len(), 120);
    assert!(
        seen.windows(2).all(|w| w[0].0 > w[1].0),
        "newest first, no repeats"
    );

    let account = env
        .api()
        .list_transactions(
            &user,
            &[("filter", "account.id.eq('acc-1-1')"), ("limit", "500")],
        )
        .await;
    assert_eq!(account.body["count"], 60);
    assert!(account.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["account"] == "acc-1-1"));

    // 7-hour steps: 2026-10-31 holds the transactions at 16:30, 09:30 and 02:30.
    let day = env
        .api()
        .list_transactions(
            &user,
            &[(
                "filter",
                "transaction.postDate.bt('2026-10-31','2026-10-31')",
            )],
        )
        .await;
    assert_eq!(day.body["count"], 3, "{:#}", day.body);
    let after = env
        .api()
        .list_transactions(
            &user,
            &[("filter", "transaction.postDate.gt('2026-10-31')")],
        )
        .await;
    assert_eq!(after.body["count"], 2, "the two on 2026-11-01");
    let before = env
        .api()
        .list_transactions(
            &user,
            &[
                ("filter", "transaction.postDate.lt('2026-10-31T02:30:00Z')"),
                ("limit", "500"),
            ],
        )
        .await;
    assert_eq!(before.body["count"], 115);
    let both = env
        .api()
        .list_transactions(
            &user,
            &[(
                "filter",
                "account.id.eq('acc-1-0'),transaction.postDate.bt('2026-10-31','2026-11-01')",
            )],
        )
        .await;
    assert_eq!(both.body["count"], 3, "{:#}", both.body);

    let one = env.api().get_transaction(&user, "txn-1-7").await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["description"], "Refund");
    assert_eq!(one.body["amount"], "25.99");
    assert_eq!(one.body["direction"], "credit");

    for (name, value) in [
        ("limit", "0"),
        ("limit", "501"),
        ("filter", "transaction.amount.gt('1')"),
        ("filter", "account.id.eq(x)"),
        ("next", "forged"),
        ("sort", "x"),
    ] {
        let reply = env.api().list_transactions(&user, &[(name, value)]).await;
        assert_eq!(reply.status, 400, "{name}={value}");
        assert_eq!(reply.body["data"][0]["source"]["parameter"], name);
    }
}

#[tokio::test]
async fn deleting_a_connection_cascades_to_its_accounts_and_transactions() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    env.api()
        .ingest_connection(&user, &connection_body(1, 2, 100))
        .await;
    env.api()
        .ingest_connection(&user, &connection_body(2, 1, 40))
        .await;
    // profile + 2 connections + 3 accounts + 140 transactions
    assert_eq!(env.partition_count(&user).await, 146);

    let deleted = env.api().delete_connection(&user, "conn-1").await;
    assert_eq!(deleted.status, 204);
    assert_eq!(env.partition_count(&user).await, 1 + 1 + 1 + 40);
    let fetched = env.api().get_user(&user).await;
    assert_eq!(fetched.body["connections"]["count"], 1);
    assert_eq!(fetched.body["accounts"]["count"], 1);
    assert_eq!(
        env.api()
            .list_transactions(&user, &[("limit", "500")])
            .await
            .body["count"],
        40
    );

    let again = env.api().delete_connection(&user, "conn-1").await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn bad_ingests_are_refused_and_write_nothing() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    let valid = connection_body(1, 1, 3);
    let mut cases: Vec<(Value, u16, &str)> = Vec::new();
    let mut float_money = valid.clone();
    float_money["transactions"][0]["amount"] = json!(-4.5);
    cases.push((float_money, 400, "/transactions/0/amount"));
    let mut bad_money = valid.clone();
    bad_money["accounts"][0]["balance"] = json!("1,000.00");
    cases.push((bad_money, 400, "/accounts/0/balance"));
    let mut orphan = valid.clone();
    orphan["transactions"][1]["account"] = json!("nope");
    cases.push((orphan, 400, "/transactions/1/account"));
    let mut no_institution = valid.clone();
    no_institution
        .as_object_mut()
        .unwrap()
        .remove("institution");
    cases.push((no_institution, 400, "/institution"));
    let mut bad_date = valid.clone();
    bad_date["transactions"][2]["postDate"] = json!("yesterday");
    cases.push((bad_date, 400, "/transactions/2/postDate"));
    cases.push((connection_body(1, 1, 5_001), 400, "/transactions"));

    let before = env.item_count().await;
    for (body, status, pointer) in cases {
        let reply = env.api().ingest_connection(&user, &body).await;
        assert_eq!(reply.status, status, "{pointer}: {:#}", reply.body);
        assert_eq!(reply.pointer(), pointer);
    }
    assert_eq!(env.item_count().await, before);

    let unknown = UserId::new().to_string();
    assert_eq!(
        env.api().ingest_connection(&unknown, &valid).await.status,
        404
    );
    assert_eq!(
        env.item_count().await,
        before,
        "nothing is written for an unknown user"
    );
}

#[tokio::test]
async fn a_tombstoned_user_is_gone_from_every_endpoint() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    env.api()
        .ingest_connection(&user, &connection_body(1, 1, 10))
        .await;
    env.app
        .store
        .tombstone_user(&UserId::parse(&user).unwrap(), None)
        .await
        .unwrap();

    let statuses = [
        env.api().get_user(&user).await.status,
        env.api()
            .update_user("PATCH", &user, &json!({"firstName": "X"}))
            .await
            .status,
        env.api().list_connections(&user).await.status,
        env.api().get_connection(&user, "conn-1").await.status,
        env.api().delete_connection(&user, "conn-1").await.status,
        env.api().list_accounts(&user).await.status,
        env.api().get_account(&user, "acc-1-0").await.status,
        env.api().list_transactions(&user, &[]).await.status,
        env.api().get_transaction(&user, "txn-1-1").await.status,
        env.api()
            .ingest_connection(&user, &connection_body(2, 1, 1))
            .await
            .status,
    ];
    assert_eq!(statuses, [404; 10]);
}

#[tokio::test]
async fn deleting_a_user_with_10000_items_leaves_nothing() {
    // A budget no loaded test machine runs out of: this counts requests.
    let env = TestEnv::with(|c| c.delete_budget = Duration::from_secs(600)).await;
    let user = env.api().new_user(&gavin()).await;
    let id = UserId::parse(&user).unwrap();
    fill_user(&env.app.store, &id, 0, 9_994, 16).await.unwrap();
    // profile + 2 connections + 4 accounts + 9,994 transactions
    assert_eq!(env.partition_count(&user).await, 10_001);

    env.requests.clear();
    let started = Instant::now();
    let reply = env.api().delete_user(&user).await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 204, "{:#}", reply.body);
    println!("deleted 10,001 items in {elapsed:?}");
    assert_eq!(env.partition_count(&user).await, 0);
    assert_eq!(
        env.requests.count("BatchWriteItem"),
        400,
        "⌈10,000/25⌉ batches"
    );
    assert_eq!(env.api().get_user(&user).await.status, 404);
}

#[tokio::test]
async fn an_interrupted_purge_completes_when_run_again() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    let id = UserId::parse(&user).unwrap();
    fill_user(&env.app.store, &id, 0, 5_000, 16).await.unwrap();
    let tombstone = env.app.store.tombstone_user(&id, None).await.unwrap();

    // A budget that stops the purge after its first page of deletes.
    let progress = env
        .app
        .store
        .purge_user(
            &tombstone,
            Some(Instant::now() + Duration::from_millis(1)),
            1,
        )
        .await
        .unwrap();
    let left = env.partition_count(&user).await;
    assert_eq!(progress, DeleteProgress::InProgress);
    // One writer: a first page of 25 keys, the profile among them.
    assert_eq!(left, 5_004 - 24, "part-way: {left} items left");

    // A repeated DELETE resumes (and may itself run out of budget: 202 or 204).
    let reply = env.api().delete_user(&user).await;
    assert!(matches!(reply.status, 202 | 204), "{}", reply.status);
    if let Some(tombstone) = env.app.store.tombstone_of(&id).await.unwrap() {
        let progress = env.app.store.purge_user(&tombstone, None, 8).await.unwrap();
        assert_eq!(progress, DeleteProgress::Done);
    }
    assert_eq!(env.partition_count(&user).await, 0);
}

#[tokio::test]
async fn the_purge_function_finishes_a_deletion_from_the_stream() {
    let env = TestEnv::with(|c| c.delete_budget = Duration::ZERO).await;
    let user = env.api().new_user(&gavin()).await;
    let id = UserId::parse(&user).unwrap();
    fill_user(&env.app.store, &id, 0, 2_000, 16).await.unwrap();

    let reply = env.api().delete_user(&user).await;
    assert_eq!(
        reply.status, 202,
        "a budget of zero deletes one page and hands over"
    );
    assert_eq!(env.api().get_user(&user).await.status, 404);
    assert!(env.partition_count(&user).await > 1_000);

    let mut context = lambda_runtime::Context::default();
    let in_five_minutes = std::time::SystemTime::now() + Duration::from_secs(300);
    context.deadline = in_five_minutes
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    shared::stream::purge_users(
        &env.app,
        LambdaEvent::new(handover_event(&user), context.clone()),
    )
    .await
    .expect("the purge finishes");
    assert_eq!(env.partition_count(&user).await, 0);

    // A hand-over record for a user whose deletion has not begun (a forged
    // or misdirected record) changes nothing: the function reads the
    // profile and acts only on a real tombstone.
    let other = env.api().new_user(&gavin()).await;
    shared::stream::purge_users(&env.app, LambdaEvent::new(handover_event(&other), context))
        .await
        .unwrap();
    assert_eq!(env.api().get_user(&other).await.status, 200);
}

/// Connections, accounts and transactions carry Basiq's full shapes: every
/// field data.yml requires, lists and items alike. Optional Basiq fields are
/// accepted at ingest and returned.
#[tokio::test]
async fn financial_records_have_basiqs_full_shapes() {
    use tests::contract::assert_matches_data;
    let env = TestEnv::new().await;
    let api = env.api();
    let user = api.new_user(&gavin()).await;
    // One ingest with only what is required, one with Basiq's optional fields.
    assert_eq!(
        api.ingest_connection(&user, &connection_body(1, 1, 3))
            .await
            .status,
        201
    );
    let mut full = connection_body(2, 1, 2);
    full["method"] = json!("open-banking");
    full["expiryDate"] = json!("2027-01-01T00:00:00Z");
    let account = &mut full["accounts"][0];
    account["accountHolder"] = json!("GAVIN BELSON");
    account["isOwned"] = json!(false);
    account["accountOwnership"] = json!("TWO_PARTY");
    account["creditLimit"] = json!("5000.00");
    account["transactionIntervals"] = json!([{"from": "2024-01-01", "to": "2024-06-30"}]);
    let transaction = &mut full["transactions"][0];
    transaction["reference"] = json!("INV-42");
    transaction["currency"] = json!("USD");
    transaction["balance"] = json!("100.00");
    transaction["subClass"] = json!({"code": "722", "title": "Cafes and Restaurants"});
    let created = api.ingest_connection(&user, &full).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_matches_data("ConnectionsData", &created.body);

    let connections = api.list_connections(&user).await;
    assert_matches_data("ConnectionsGetResponseResource", &connections.body);
    let connection = api.get_connection(&user, "conn-2").await;
    assert_matches_data("ConnectionGetResponseResource", &connection.body);
    assert_eq!(connection.body["method"], "open-banking");
    assert_eq!(connection.body["expiryDate"], "2027-01-01T00:00:00.000Z");
    let web = api.get_connection(&user, "conn-1").await;
    assert_eq!(
        (web.body["method"].as_str(), web.body["expiryDate"].as_str()),
        (Some("web"), Some(""))
    );

    let accounts = api.list_accounts(&user).await;
    assert_matches_data("AccountsResponseResource", &accounts.body);
    let plain = api.get_account(&user, "acc-1-0").await;
    assert_matches_data("AccountResponseResource", &plain.body);
    assert_eq!(plain.body["accountHolder"], Value::Null);
    assert_eq!(plain.body["isOwned"], true);
    assert_eq!(plain.body["accountOwnership"], "UNKNOWN");
    assert_eq!(plain.body["creditLimit"], Value::Null);
    assert_eq!(
        plain.body["institution"],
        connection_body(1, 1, 0)["institution"]["id"]
    );
    let rich = api.get_account(&user, "acc-2-0").await;
    assert_matches_data("AccountResponseResource", &rich.body);
    assert_eq!(rich.body["accountHolder"], "GAVIN BELSON");
    assert_eq!(rich.body["accountOwnership"], "TWO_PARTY");
    assert_eq!(rich.body["transactionIntervals"][0]["to"], "2024-06-30");

    let transactions = api.list_transactions(&user, &[("limit", "10")]).await;
    assert_matches_data("TransactionsGetResource", &transactions.body);
    assert_eq!(transactions.body["size"], 10);
    for t in transactions.body["data"].as_array().unwrap() {
        assert_matches_data("TransactionData", t);
    }
    let id = full["transactions"][0]["id"].as_str().unwrap();
    let one = api.get_transaction(&user, id).await;
    assert_matches_data("TransactionData", &one.body);
    assert_eq!(one.body["reference"], "INV-42");
    assert_eq!(one.body["currency"], "USD");
    assert_eq!(one.body["subClass"]["title"], "Cafes and Restaurants");
    let plain_id = connection_body(1, 1, 3)["transactions"][0]["id"].clone();
    let plain = api.get_transaction(&user, plain_id.as_str().unwrap()).await;
    assert_eq!(plain.body["reference"], "");
    assert_eq!(plain.body["currency"], "AUD", "the account's currency");
    assert_eq!(plain.body["subClass"], json!({}));
    assert_eq!(plain.body["enrich"]["merchant"], Value::Null);
}

/// Basiq's clients filter connections and accounts (`institution.id.eq(…)`,
/// `connection.id.eq(…)`, `eq` and `ne`). A filter must filter, never be
/// ignored, and anything else in the query string is refused, never ignored.
#[tokio::test]
async fn connections_and_accounts_take_basiqs_filters() {
    use shared::routes::Route;
    use tests::api::user_event;

    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    for (n, accounts) in [(1, 2), (2, 1)] {
        let body = connection_body(n, accounts, 3);
        assert_eq!(env.api().ingest_connection(&user, &body).await.status, 201);
    }
    let second = connection_body(2, 1, 3);
    let bank = second["institution"]["id"].as_str().unwrap();

    let list = |route: Route, params: &[(&str, &str)]| {
        let event = params
            .iter()
            .fold(user_event(route, "GET", &user), |e, (k, v)| e.query(k, v));
        env.api().call(route, event)
    };
    let ids = |reply: &tests::events::Reply| -> Vec<String> {
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let accounts = Route::ListAccounts;
    for (filter, expected) in [
        ("connection.id.eq('conn-1')", vec!["acc-1-0", "acc-1-1"]),
        ("connection.id.ne('conn-1')", vec!["acc-2-0"]),
        ("account.id.eq('acc-1-1')", vec!["acc-1-1"]),
        (
            "account.id.ne('acc-1-1'),connection.id.eq('conn-1')",
            vec!["acc-1-0"],
        ),
        (&format!("institution.id.eq('{bank}')"), vec!["acc-2-0"]),
        ("account.id.eq('nope')", vec![]),
    ] {
        let reply = list(accounts, &[("filter", filter)]).await;
        assert_eq!(ids(&reply), expected, "{filter}");
        assert_eq!(reply.body["count"], expected.len(), "{filter}");
    }

    let connections = Route::ListConnections;
    for (filter, expected) in [
        ("connection.id.eq('conn-2')", vec!["conn-2"]),
        ("connection.status.eq('active')", vec!["conn-1", "conn-2"]),
        ("connection.status.ne('active')", vec![]),
        (&format!("institution.id.ne('{bank}')"), vec!["conn-1"]),
    ] {
        let reply = list(connections, &[("filter", filter)]).await;
        assert_eq!(ids(&reply), expected, "{filter}");
    }

    for (route, params) in [
        (accounts, vec![("filter", "account.balance.gt('1')")]),
        (accounts, vec![("filter", "connection.id.bt('a','b')")]),
        (accounts, vec![("filter", "account.id.eq('a/b')")]),
        (accounts, vec![("limit", "1")]),
        (
            accounts,
            vec![
                ("filter", "connection.id.eq('conn-1')"),
                ("filter", "connection.id.eq('conn-2')"),
            ],
        ),
        (
            connections,
            vec![("filter", "connection.status.eq('gone')")],
        ),
        (connections, vec![("filter", "account.id.eq('acc-1-0')")]),
        (connections, vec![("q", "x")]),
    ] {
        let reply = list(route, &params).await;
        assert_eq!(reply.status, 400, "{params:?}: {:#}", reply.body);
        assert_eq!(
            reply.body["data"][0]["code"], "parameter-not-valid",
            "{params:?}"
        );
    }
}

/// Basiq answers 500 transactions a page unless `limit` says otherwise; a
/// client that never sends `limit` must see the same pages.
#[tokio::test]
async fn a_page_of_transactions_holds_500_unless_told() {
    let env = TestEnv::new().await;
    let user = env.api().new_user(&gavin()).await;
    let body = connection_body(1, 2, 501);
    assert_eq!(env.api().ingest_connection(&user, &body).await.status, 201);
    let page = env.api().list_transactions(&user, &[]).await;
    assert_eq!(page.status, 200, "{:#}", page.body);
    assert_eq!(page.body["data"].as_array().unwrap().len(), 500);
    assert!(
        page.body["links"]["next"].is_string(),
        "{:#}",
        page.body["links"]
    );
}
