//! The fault-injection layer (tests/src/faults.rs), each fault on real
//! requests to DynamoDB Local: what reaches the table, and what the SDK and
//! the store make of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, PutRequest, TransactWriteItem, WriteRequest};
use shared::keys::{PK, SK};
use tests::faults::{Fault, Faults, Plan};
use tests::TestEnv;

type Item = HashMap<String, AttributeValue>;

fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk.to_owned())),
        (SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

async fn env(faults: &Faults) -> TestEnv {
    TestEnv::with_faults(faults, |_| {}).await
}

async fn put(env: &TestEnv, item: Item) -> Result<(), PutItemError> {
    env.client()
        .put_item()
        .table_name(&env.table)
        .set_item(Some(item))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.into_service_error())
}

async fn exists(env: &TestEnv, key: Item) -> bool {
    env.client()
        .get_item()
        .table_name(&env.table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
        .is_some()
}

/// The operations of the requests that reached the layer since `from`.
fn operations(faults: &Faults, from: usize) -> Vec<String> {
    faults.requests()[from..]
        .iter()
        .map(|(operation, _)| operation.clone())
        .collect()
}

#[tokio::test]
async fn a_throttled_request_is_retried_by_the_sdk() {
    let faults = Faults::new(1);
    let env = env(&faults).await;
    faults.at(1, Fault::Throttle);
    put(&env, key("u#1", "a"))
        .await
        .expect("the retry succeeds");
    assert_eq!(faults.injected()["throttle"], 1);
    assert_eq!(operations(&faults, 0), ["PutItem", "PutItem"]);
    assert_eq!(
        env.requests.count("PutItem"),
        2,
        "the request log sees both"
    );
    assert!(exists(&env, key("u#1", "a")).await);
}

#[tokio::test]
async fn constant_throttling_fails_after_the_sdk_retries() {
    let faults = Faults::new(1);
    let env = env(&faults).await;
    faults.plan(Plan {
        throttle: 1.0,
        ..Plan::default()
    });
    let err = env
        .client()
        .get_item()
        .table_name(&env.table)
        .set_key(Some(key("u#1", "a")))
        .send()
        .await
        .expect_err("throttled every time");
    assert!(
        matches!(
            err.as_service_error(),
            Some(GetItemError::ThrottlingException(_))
        ),
        "{err:?}"
    );
    // The SDK's standard retry mode: 3 attempts in all.
    assert_eq!(operations(&faults, 0), ["GetItem"; 3]);
    assert_eq!(faults.injected()["throttle"], 3);
}

fn puts(n: usize) -> Vec<WriteRequest> {
    (0..n)
        .map(|i| {
            let put = PutRequest::builder()
                .set_item(Some(key("u#batch", &format!("item#{i:02}"))))
                .build()
                .expect("a put request");
            WriteRequest::builder().put_request(put).build()
        })
        .collect()
}

#[tokio::test]
async fn unprocessed_items_are_retried_by_the_store_until_all_are_written() {
    let faults = Faults::new(3);
    let env = env(&faults).await;
    faults.at(1, Fault::Unprocessed);
    env.app
        .store
        .write_batches(puts(25), 1)
        .await
        .expect("all written");
    assert_eq!(faults.injected()["unprocessed"], 1);
    // The first call wrote part of the batch (the rewritten request was
    // accepted), the second the held-back rest.
    assert_eq!(operations(&faults, 0), ["BatchWriteItem", "BatchWriteItem"]);
    assert_eq!(env.item_count().await, 25);
}

#[tokio::test]
async fn a_batch_of_one_can_be_wholly_unprocessed() {
    let faults = Faults::new(3);
    let env = env(&faults).await;
    faults.at(1, Fault::Unprocessed);
    env.app
        .store
        .write_batches(puts(1), 1)
        .await
        .expect("written");
    assert_eq!(operations(&faults, 0), ["BatchWriteItem", "BatchWriteItem"]);
    assert_eq!(env.item_count().await, 1);
}

#[tokio::test]
async fn random_unprocessed_items_still_all_get_written() {
    let faults = Faults::new(11);
    let env = env(&faults).await;
    faults.plan(Plan {
        unprocessed: 0.5,
        ..Plan::default()
    });
    env.app
        .store
        .write_batches(puts(100), 4)
        .await
        .expect("all written");
    faults.clear();
    assert!(faults.injected()["unprocessed"] >= 1);
    assert_eq!(env.item_count().await, 100);
}

#[tokio::test]
async fn a_transaction_conflict_cancels_the_transaction() {
    let faults = Faults::new(5);
    let env = env(&faults).await;
    faults.at(1, Fault::TransactionConflict);
    let items = (0..3)
        .map(|i| {
            let put = Put::builder()
                .table_name(&env.table)
                .set_item(Some(key("u#tx", &i.to_string())))
                .build()
                .expect("a put");
            TransactWriteItem::builder().put(put).build()
        })
        .collect::<Vec<_>>();
    let err = env
        .client()
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
        .expect_err("cancelled");
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        panic!("not a TransactionCanceledException: {err:?}");
    };
    let codes: Vec<&str> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or(""))
        .collect();
    assert_eq!(codes.len(), 3, "one reason per item: {codes:?}");
    assert_eq!(
        codes
            .iter()
            .filter(|c| **c == "TransactionConflict")
            .count(),
        1
    );
    assert_eq!(codes.iter().filter(|c| **c == "None").count(), 2);
    assert!(cancelled.message().is_some_and(|m| m.contains("cancelled")));
    assert_eq!(operations(&faults, 0), ["TransactWriteItems"], "no retry");
    assert_eq!(env.item_count().await, 0, "nothing was written");
}

#[tokio::test]
async fn a_single_item_write_gets_a_transaction_conflict_exception() {
    let faults = Faults::new(5);
    let env = env(&faults).await;
    put(&env, key("u#1", "a")).await.expect("put");
    faults.at(1, Fault::TransactionConflict);
    let err = env
        .client()
        .update_item()
        .table_name(&env.table)
        .set_key(Some(key("u#1", "a")))
        .update_expression("SET n = :n")
        .expression_attribute_values(":n", AttributeValue::N("1".into()))
        .send()
        .await
        .expect_err("conflict");
    assert!(
        matches!(
            err.as_service_error(),
            Some(UpdateItemError::TransactionConflictException(_))
        ),
        "{err:?}"
    );
    assert_eq!(operations(&faults, 1), ["UpdateItem"], "no retry");
    assert_eq!(faults.injected()["conflict"], 1);
}

/// The lost acknowledgement: the write is applied, the client sees a 500,
/// the SDK retries, and a conditional create's retry fails its own
/// condition. This is exactly what the service must recognise.
#[tokio::test]
async fn a_lost_ack_on_a_conditional_create_looks_like_a_conflict() {
    let faults = Faults::new(9);
    let env = env(&faults).await;
    faults.at(1, Fault::LostAck);
    let err = env
        .client()
        .put_item()
        .table_name(&env.table)
        .set_item(Some(key("u#1", "a")))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", PK)
        .send()
        .await
        .expect_err("the retry fails its condition");
    assert!(
        matches!(
            err.as_service_error(),
            Some(PutItemError::ConditionalCheckFailedException(_))
        ),
        "{err:?}"
    );
    assert_eq!(operations(&faults, 0), ["PutItem", "PutItem"]);
    assert_eq!(faults.injected()["lost_ack"], 1);
    assert!(
        exists(&env, key("u#1", "a")).await,
        "the first try was applied"
    );
}

#[tokio::test]
async fn a_lost_ack_on_an_idempotent_write_is_invisible() {
    let faults = Faults::new(9);
    let env = env(&faults).await;
    faults.at(1, Fault::LostAck);
    env.app
        .store
        .write_batches(puts(10), 1)
        .await
        .expect("retried");
    assert_eq!(operations(&faults, 0), ["BatchWriteItem", "BatchWriteItem"]);
    assert_eq!(env.item_count().await, 10);
}

#[tokio::test]
async fn a_crash_drops_the_handler_after_its_nth_request() {
    let faults = Faults::new(2);
    let env = env(&faults).await;
    put(&env, key("u#1", "a")).await.expect("put");
    let from = faults.requests().len();
    let answered = AtomicUsize::new(0);
    faults.crash_after(2);
    let output = faults
        .run(async {
            for _ in 0..3 {
                exists(&env, key("u#1", "a")).await;
                answered.fetch_add(1, Ordering::SeqCst);
            }
            "finished"
        })
        .await;
    assert_eq!(output, None, "crashed");
    assert_eq!(operations(&faults, from), ["GetItem", "GetItem"]);
    assert_eq!(
        answered.load(Ordering::SeqCst),
        1,
        "the handler never saw the second answer"
    );
    assert_eq!(faults.injected()["crash"], 1);
    // The client is still fine for the next invocation.
    assert_eq!(faults.run(exists(&env, key("u#1", "a"))).await, Some(true));
}

#[tokio::test]
async fn a_crashed_write_was_applied() {
    let faults = Faults::new(2);
    let env = env(&faults).await;
    faults.crash_after(1);
    let output = faults.run(put(&env, key("u#1", "a"))).await;
    assert!(output.is_none());
    assert!(exists(&env, key("u#1", "a")).await);
}

#[tokio::test]
async fn a_crash_stops_only_its_own_run() {
    let faults = Faults::new(2);
    let env = env(&faults).await;
    put(&env, key("u#1", "a")).await.expect("put");
    faults.crash_after(1);
    let (crashed, survived) = tokio::join!(
        faults.run(exists(&env, key("u#1", "a"))),
        faults.run(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            exists(&env, key("u#1", "a")).await
        }),
    );
    assert_eq!(crashed, None);
    assert_eq!(survived, Some(true));
}

#[tokio::test]
#[should_panic(expected = "outside Faults::run")]
async fn a_crash_outside_a_run_is_a_test_bug() {
    let faults = Faults::new(2);
    let env = env(&faults).await;
    faults.crash_after(1);
    let _ = put(&env, key("u#1", "a")).await;
}

#[tokio::test]
async fn a_slow_request_is_late() {
    let faults = Faults::new(4);
    let env = env(&faults).await;
    let delay = Duration::from_millis(300);
    faults.at(1, Fault::Slow(delay));
    let start = Instant::now();
    assert!(!exists(&env, key("u#1", "a")).await);
    assert!(start.elapsed() >= delay);
    assert!(!exists(&env, key("u#1", "a")).await);
    let requests = faults.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].1 - requests[0].1 >= delay, "{requests:?}");
    assert_eq!(faults.injected()["slow"], 1);
    assert_eq!(faults.history()[0].fault, Some("slow"));
}

#[tokio::test]
async fn a_scripted_fault_that_does_not_apply_is_not_injected() {
    let faults = Faults::new(4);
    let env = env(&faults).await;
    faults.at(1, Fault::Unprocessed);
    put(&env, key("u#1", "a")).await.expect("put");
    assert_eq!(faults.injected()["unprocessed"], 0);
    assert_eq!(faults.history()[0].fault, None);
}

/// Sequential requests: the same seed faults the same requests.
#[tokio::test]
async fn a_seed_replays_the_same_faults() {
    async fn faulted(seed: u64) -> Vec<Option<&'static str>> {
        let faults = Faults::new(seed);
        let env = env(&faults).await;
        faults.plan(Plan {
            conflict: 0.3,
            slow: Some((0.2, Duration::from_millis(1))),
            ..Plan::default()
        });
        for i in 0..20 {
            let _ = put(&env, key("u#1", &i.to_string())).await;
        }
        faults.history().into_iter().map(|s| s.fault).collect()
    }
    let first = faulted(42).await;
    assert_eq!(first, faulted(42).await);
    assert!(first.contains(&Some("conflict")) && first.contains(&None));
}
