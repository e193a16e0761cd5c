//! DynamoDB work per API operation (requests sent, capacity consumed) and the
//! handlers' own overhead over a bare SDK call, in-process, against the same
//! DynamoDB Local.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use lambda_http::{Body, Response};
use serde_json::{json, Value};
use shared::keys;
use shared::user::UserId;
use tests::events::Event;
use tests::TestEnv;

use crate::stats::Summary;

/// Untimed runs before each operation's timed ones.
const WARMUP: usize = 3;

/// One API operation's DynamoDB work, as measured.
pub struct Work {
    pub operation: String,
    pub minimum: String,
    pub requests: BTreeMap<String, usize>,
    pub read_units: f64,
    pub write_units: f64,
    pub latency: Summary,
    pub at_minimum: bool,
    pub note: &'static str,
}

impl Work {
    pub fn requests_text(&self) -> String {
        self.requests
            .iter()
            .map(|(op, n)| format!("{n} {op}"))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    pub fn request_count(&self) -> usize {
        self.requests.values().sum()
    }
}

fn status(response: &Response<Body>) -> u16 {
    response.status().as_u16()
}

fn body(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Runs `call` `warmup` times untimed (DynamoDB Local's JIT warms up too),
/// then `runs` times; the requests and units are those of the last run (they
/// are the same every run, and the harness checks that they are).
async fn measure<F, Fut>(
    env: &TestEnv,
    warmup: usize,
    runs: usize,
    mut call: F,
) -> Result<(BTreeMap<String, usize>, f64, f64, Summary), String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<Duration, String>>,
{
    for run in runs..runs + warmup {
        call(run).await?;
    }
    let mut times = Vec::with_capacity(runs);
    let mut last: Option<(BTreeMap<String, usize>, f64, f64)> = None;
    for run in 0..runs {
        env.requests.clear();
        env.app.store.meter().reset();
        times.push(call(run).await?);
        let mut requests = BTreeMap::new();
        for op in env.requests.operations() {
            *requests.entry(op).or_insert(0) += 1;
        }
        let units = (
            requests,
            env.app.store.meter().read_units(),
            env.app.store.meter().write_units(),
        );
        if let Some(previous) = &last {
            if previous.0 != units.0 {
                return Err(format!(
                    "request counts varied: {:?} then {:?}",
                    previous.0, units.0
                ));
            }
        }
        last = Some(units);
    }
    let (requests, read, write) = last.ok_or("no runs")?;
    Ok((requests, read, write, Summary::of_ms(&times)))
}

/// Times one in-process invocation, from the raw event JSON (decoded as the
/// runtime would) to the response, and checks its status.
async fn invoke<F, Fut>(event: &str, expect: u16, handler: F) -> Result<Duration, String>
where
    F: FnOnce(lambda_http::Request) -> Fut,
    Fut: std::future::Future<Output = Response<Body>>,
{
    let started = Instant::now();
    let request = lambda_http::request::from_str(event).map_err(|e| e.to_string())?;
    let response = handler(request).await;
    let elapsed = started.elapsed();
    if status(&response) != expect {
        return Err(format!(
            "expected {expect}, got {}: {}",
            status(&response),
            body(&response)
        ));
    }
    Ok(elapsed)
}

fn user_json(n: usize) -> Value {
    infra::seed::user_body(n)
}

async fn create(env: &TestEnv, n: usize) -> Result<UserId, String> {
    let event = Event::new("POST", "/users")
        .json(&user_json(n))
        .to_json()
        .to_string();
    let request = lambda_http::request::from_str(&event).map_err(|e| e.to_string())?;
    let response = shared::api::create_user(&env.app, request).await;
    let id = body(&response)["id"].as_str().unwrap_or("").to_owned();
    UserId::parse(&id).map_err(|_| format!("create failed: {}", body(&response)))
}

/// The work table: every user operation against its minimum.
pub async fn work(runs: usize) -> Result<Vec<Work>, String> {
    let env = TestEnv::new().await;
    let app = &env.app;
    let mut table = Vec::new();
    let mut row = |operation: &str,
                   minimum: &str,
                   expected: &[(&str, usize)],
                   note: &'static str,
                   measured: (BTreeMap<String, usize>, f64, f64, Summary)| {
        let expected: BTreeMap<String, usize> =
            expected.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        table.push(Work {
            operation: operation.into(),
            minimum: minimum.into(),
            at_minimum: measured.0 == expected,
            requests: measured.0,
            read_units: measured.1,
            write_units: measured.2,
            latency: measured.3,
            note,
        });
    };

    let measured = measure(&env, WARMUP, runs, |run| async move {
        let event = Event::new("POST", "/users")
            .json(&user_json(10_000 + run))
            .to_json()
            .to_string();
        invoke(&event, 201, |r| shared::api::create_user(app, r)).await
    })
    .await?;
    row("create", "1 write", &[("PutItem", 1)], "", measured);

    let measured = measure(&env, WARMUP, runs, |run| async move {
        let event = Event::new("POST", "/users")
            .json(&user_json(20_000 + run))
            .header("idempotency-key", &format!("bench-{run}"))
            .to_json()
            .to_string();
        invoke(&event, 201, |r| shared::api::create_user(app, r)).await
    })
    .await?;
    row(
        "create with `Idempotency-Key`",
        "2 writes, in 1 transaction",
        &[("TransactWriteItems", 1)],
        "",
        measured,
    );

    let gavin = create(&env, 1).await?;
    infra::seed::fill_user(&app.store, &gavin, 0, 200, 4)
        .await
        .map_err(|e| e.to_string())?;
    let get_event = Event::user("GET", &gavin.to_string()).to_json().to_string();
    let measured = measure(&env, WARMUP, runs, |_| {
        let event = get_event.clone();
        async move { invoke(&event, 200, |r| shared::api::get_user(app, r)).await }
    })
    .await?;
    row(
        "get (user with 1 connection, 2 accounts, 200 transactions)",
        "1 Query",
        &[("Query", 1)],
        "",
        measured,
    );

    let measured = measure(&env, WARMUP, runs, |run| {
        let event = Event::user("PATCH", &gavin.to_string())
            .json(&json!({"middleName": format!("M{run}")}))
            .to_json()
            .to_string();
        async move { invoke(&event, 200, |r| shared::api::update_user(app, r)).await }
    })
    .await?;
    row("update", "1 UpdateItem", &[("UpdateItem", 1)], "", measured);

    struct Search {
        name: &'static str,
        params: Vec<(&'static str, String)>,
        minimum: &'static str,
        expected: &'static [(&'static str, usize)],
        note: &'static str,
    }
    let email = user_json(1)["email"].as_str().unwrap_or("").to_owned();
    let searches = [
        Search {
            name: "search `q` = email",
            params: vec![("q", email)],
            minimum: "1 Query (email index)",
            expected: &[("Query", 1)],
            note: "",
        },
        Search {
            name: "search `q` = one name word",
            params: vec![("q", "Gav".into())],
            minimum: "1 Query per index it touches: 2 (first- and last-name)",
            expected: &[("Query", 2)],
            note: "",
        },
        Search {
            name: "search `lastName`",
            params: vec![("lastName", "Bel".into())],
            minimum: "1 Query",
            expected: &[("Query", 1)],
            note: "",
        },
        Search {
            name: "search `q` = id",
            params: vec![("q", gavin.to_string())],
            minimum: "1 GetItem",
            expected: &[("GetItem", 1)],
            note: "",
        },
        Search {
            name: "list, no criteria, 25 per page",
            params: vec![],
            minimum: "1 Query per listing shard: 4",
            expected: &[("Query", 4)],
            note: "",
        },
    ];
    for search in searches {
        let mut event = Event::new("GET", "/users");
        for (k, v) in &search.params {
            event = event.query(k, v);
        }
        let event = event.to_json().to_string();
        let measured = measure(&env, WARMUP, runs, |_| {
            let event = event.clone();
            async move { invoke(&event, 200, |r| shared::api::search_users(app, r)).await }
        })
        .await?;
        row(
            search.name,
            search.minimum,
            search.expected,
            search.note,
            measured,
        );
    }

    for items in [1_000usize, 10_000] {
        let user = create(&env, 30_000 + items).await?;
        // profile + 1 connection per 5,003 items + 2 accounts each + transactions
        let connections = items.div_ceil(shared::finance::MAX_TRANSACTIONS + 3);
        infra::seed::fill_user(&app.store, &user, 0, items - 1 - 3 * connections, 8)
            .await
            .map_err(|e| e.to_string())?;
        let event = Event::user("DELETE", &user.to_string())
            .to_json()
            .to_string();
        let measured = measure(&env, 0, 1, |_| {
            let event = event.clone();
            async move { invoke(&event, 204, |r| shared::api::delete_user(app, r)).await }
        })
        .await?;
        let batches = items.div_ceil(25);
        let pages = items.div_ceil(1000);
        let minimum = format!("{batches} BatchWriteItem (⌈N/25⌉) + {pages} keys-only Query pages");
        let at_minimum = [("BatchWriteItem", batches), ("Query", pages)];
        row(
            &format!("delete, {items} items"),
            &minimum,
            &at_minimum,
            "above the minimum by design: a tombstone first (1 UpdateItem), so GET answers 404 at once and purge-user can finish after a crash; the profile last and alone (1 DeleteItem), so the tombstone outlives every child",
            measured,
        );
    }
    Ok(table)
}

/// p50 and p99 of a handler against the bare SDK call it wraps.
pub struct Overhead {
    pub name: &'static str,
    pub bare_name: &'static str,
    pub handler: Summary,
    pub bare: Summary,
}

/// Times `ours` and `bare` call by call, interleaved so that drift on the
/// shared machine hits both alike, after a warm-up of each.
async fn interleaved<A, AF, B, BF>(
    runs: usize,
    mut ours: A,
    mut bare: B,
) -> Result<(Summary, Summary), String>
where
    A: FnMut(usize) -> AF,
    AF: std::future::Future<Output = Result<Duration, String>>,
    B: FnMut() -> BF,
    BF: std::future::Future<Output = Result<Duration, String>>,
{
    let warmup = runs / 10 + 5;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..warmup + runs {
        let took = ours(i).await?;
        let bare_took = bare().await?;
        if i >= warmup {
            a.push(took);
            b.push(bare_took);
        }
    }
    Ok((Summary::of_ms(&a), Summary::of_ms(&b)))
}

pub async fn overhead(runs: usize) -> Result<Vec<Overhead>, String> {
    let env = TestEnv::new().await;
    let app = &env.app;
    let client = app.store.client();
    let table = app.store.table();
    let user = create(&env, 7).await?;
    let get_event = Event::user("GET", &user.to_string()).to_json().to_string();
    let pk = AttributeValue::S(keys::user_pk(&user));

    let (handler, bare) = interleaved(
        runs,
        |_| invoke(&get_event, 200, |r| shared::api::get_user(app, r)),
        || async {
            let started = Instant::now();
            client
                .query()
                .table_name(table)
                .key_condition_expression("#pk = :pk AND #sk < :txn")
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_values(":pk", pk.clone())
                .expression_attribute_values(
                    ":txn",
                    AttributeValue::S(keys::TRANSACTION_PREFIX.into()),
                )
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            Ok(started.elapsed())
        },
    )
    .await?;
    let get = Overhead {
        name: "get-user handler",
        bare_name: "bare Query of the same items",
        handler,
        bare,
    };

    // The bare PutItem writes the very item create-user wrote, under a new key.
    let profile = client
        .get_item()
        .table_name(table)
        .key(keys::PK, pk.clone())
        .key(keys::SK, AttributeValue::S(keys::PROFILE_SK.into()))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .item
        .ok_or("the profile item")?;
    let (handler, bare) = interleaved(
        runs,
        |i| async move {
            let event = Event::new("POST", "/users")
                .json(&user_json(40_000 + i))
                .to_json()
                .to_string();
            invoke(&event, 201, |r| shared::api::create_user(app, r)).await
        },
        || {
            let mut item = profile.clone();
            item.insert(
                keys::PK.into(),
                AttributeValue::S(keys::user_pk(&UserId::new())),
            );
            async move {
                let started = Instant::now();
                client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", keys::PK)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(started.elapsed())
            }
        },
    )
    .await?;
    let create = Overhead {
        name: "create-user handler",
        bare_name: "bare conditional PutItem of the same item",
        handler,
        bare,
    };
    Ok(vec![get, create])
}
