//! The local webhook queue: the emulator behaves as SQS does for what the
//! webhooks rely on (batches, receive counts, visibility, the redrive to the
//! dead-letter queue), `LocalQueue` hands the messages on as Lambda would,
//! and `make dev`'s poller settles each batch by the function's answer.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde_json::{json, Value};
use tests::queue::LocalQueue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

async fn send(queue: &LocalQueue, bodies: &[&str]) {
    let entries = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(*body)
                .build()
                .unwrap()
        })
        .collect();
    let sent = queue
        .client
        .send_message_batch()
        .queue_url(&queue.url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.successful().len(), bodies.len());
}

/// The function's answer failing the records with these bodies.
fn failing(event: &SqsEvent, bodies: &[&str]) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        if bodies.contains(&record.body.as_deref().unwrap_or_default()) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

fn receive_count(event: &SqsEvent) -> Vec<u32> {
    event
        .records
        .iter()
        .map(|r| r.attributes["ApproximateReceiveCount"].parse().unwrap())
        .collect()
}

#[tokio::test]
async fn a_failed_message_comes_back_then_goes_to_the_dead_letter_queue() {
    let queue = LocalQueue::create().await;
    send(&queue, &["one", "two", "three"]).await;
    assert_eq!(queue.visible().await, 3);

    let event = queue.receive().await;
    let mut bodies: Vec<_> = event
        .records
        .iter()
        .map(|r| r.body.clone().unwrap())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["one", "three", "two"]);
    assert_eq!(receive_count(&event), [1, 1, 1]);
    for record in &event.records {
        assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
        let arn = record.event_source_arn.as_deref().unwrap();
        assert!(arn.starts_with("arn:aws:sqs:"), "{arn}");
        assert!(
            arn.ends_with(queue.url.rsplit('/').next().unwrap()),
            "{arn}"
        );
        assert_eq!(record.aws_region.as_deref(), arn.split(':').nth(3));
        assert!(record.receipt_handle.is_some() && record.message_id.is_some());
        assert_eq!(record.md5_of_body.as_deref().map(str::len), Some(32));
        for attribute in ["SentTimestamp", "ApproximateFirstReceiveTimestamp"] {
            let millis: u64 = record.attributes[attribute].parse().unwrap();
            assert!(millis > 1_700_000_000_000, "{attribute} {millis}");
        }
    }
    assert_eq!((queue.visible().await, queue.in_flight().await), (0, 3));

    // One failure: the other two are deleted, it stays in flight.
    queue.settle(&event, &failing(&event, &["two"])).await;
    assert_eq!((queue.visible().await, queue.in_flight().await), (0, 1));
    assert!(queue.receive().await.records.is_empty());

    // Past its delay, it is received again: its second attempt.
    queue.retry_now(&event).await;
    assert_eq!(queue.visible().await, 1);
    let mut event = queue.receive().await;
    assert_eq!(event.records.len(), 1);
    assert_eq!(event.records[0].body.as_deref(), Some("two"));
    assert_eq!(receive_count(&event), [2]);

    // Its eighth failure is its last: the redrive parks it.
    for attempt in 3..=8 {
        queue.settle(&event, &failing(&event, &["two"])).await;
        queue.retry_now(&event).await;
        event = queue.receive().await;
        assert_eq!(receive_count(&event), [attempt]);
    }
    queue.settle(&event, &failing(&event, &["two"])).await;
    queue.retry_now(&event).await;
    assert!(queue.receive().await.records.is_empty());
    assert_eq!(queue.dead_letters().await, ["two"]);
    assert_eq!(queue.dead_letters().await, ["two"], "asking again");
    assert_eq!((queue.visible().await, queue.in_flight().await), (0, 0));
}

#[tokio::test]
async fn an_unreadable_answer_settles_nothing() {
    let queue = LocalQueue::create().await;
    send(&queue, &["a", "b"]).await;
    let event = queue.receive().await;
    let mut answer = SqsBatchResponse::default();
    let mut stranger = BatchItemFailure::default();
    stranger.item_identifier = "not-in-this-batch".into();
    answer.batch_item_failures.push(stranger);
    queue.settle(&event, &answer).await;
    assert_eq!(queue.in_flight().await, 2);
    queue.settle(&event, &SqsBatchResponse::default()).await;
    assert_eq!(queue.in_flight().await, 0);
}

/// A stand-in for `cargo lambda watch`'s Invoke API: each invocation's path
/// and event go to the channel, and the answer follows the records' bodies:
/// "crash" fails the invocation (a 500), "error" answers Lambda's error
/// payload, "fail" is reported as a batch item failure.
async fn fake_watcher() -> (String, mpsc::UnboundedReceiver<(String, SqsEvent)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (calls, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 8192];
            let (head_end, length) = loop {
                let n = stream.read(&mut buffer).await.unwrap();
                assert!(n > 0, "the poller closed the connection mid-request");
                request.extend_from_slice(&buffer[..n]);
                if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|n| n.trim().parse::<usize>().unwrap())
                        .unwrap_or(0);
                    break (end + 4, length);
                }
            };
            while request.len() < head_end + length {
                let n = stream.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..n]);
            }
            let head = String::from_utf8_lossy(&request[..head_end]).to_string();
            let path = head.split(' ').nth(1).unwrap().to_owned();
            let event: SqsEvent = serde_json::from_slice(&request[head_end..]).unwrap();
            let has = |body: &str| {
                event
                    .records
                    .iter()
                    .any(|r| r.body.as_deref() == Some(body))
            };
            let (status, answer) = if has("crash") {
                (500, json!({"message": "boom"}))
            } else if has("error") {
                (
                    200,
                    json!({"errorType": "Panic", "errorMessage": "the function failed"}),
                )
            } else {
                let failures: Vec<Value> = event
                    .records
                    .iter()
                    .filter(|r| r.body.as_deref() == Some("fail"))
                    .map(|r| json!({"itemIdentifier": r.message_id}))
                    .collect();
                (200, json!({ "batchItemFailures": failures }))
            };
            let body = answer.to_string();
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await.unwrap();
            let _ = stream.shutdown().await;
            if calls.send((path, event)).is_err() {
                return;
            }
        }
    });
    (url, received)
}

async fn next_call(calls: &mut mpsc::UnboundedReceiver<(String, SqsEvent)>) -> (String, SqsEvent) {
    tokio::time::timeout(Duration::from_secs(20), calls.recv())
        .await
        .expect("an invocation within 20 s")
        .expect("the fake watcher is running")
}

/// Waits until the queue has no visible message and `in_flight` in flight:
/// the poller has settled what it received.
async fn settled(queue: &LocalQueue, in_flight: usize) {
    for _ in 0..100 {
        if (queue.visible().await, queue.in_flight().await) == (0, in_flight) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "expected 0 visible and {in_flight} in flight, found {} and {}",
        queue.visible().await,
        queue.in_flight().await
    );
}

#[tokio::test]
async fn the_poller_deletes_what_the_function_handled_and_nothing_after_a_failure() {
    let queue = LocalQueue::create().await;
    let (watch_url, mut calls) = fake_watcher().await;
    send(&queue, &["ok", "fail", "ok too"]).await;
    let poller = infra::queues::start(queue.client.clone(), &queue.url, &watch_url)
        .await
        .unwrap();
    assert_eq!(poller.function, "deliver-webhooks");

    let (path, event) = next_call(&mut calls).await;
    assert_eq!(path, "/2015-03-31/functions/deliver-webhooks/invocations");
    assert_eq!(event.records.len(), 3, "one batch of what was waiting");
    assert_eq!(receive_count(&event), [1, 1, 1]);
    assert!(event
        .records
        .iter()
        .all(|r| r.event_source.as_deref() == Some("aws:sqs")));
    // The reported failure stays in flight until its visibility ends.
    settled(&queue, 1).await;

    // A failed invocation, or an error payload, deletes nothing; the poller
    // goes on with the next batch.
    for failure in ["crash", "error"] {
        send(&queue, &[failure]).await;
        let (_, event) = next_call(&mut calls).await;
        assert_eq!(event.records[0].body.as_deref(), Some(failure));
    }
    send(&queue, &["after"]).await;
    let (_, event) = next_call(&mut calls).await;
    assert_eq!(event.records[0].body.as_deref(), Some("after"));
    settled(&queue, 3).await;
    drop(poller);
}
