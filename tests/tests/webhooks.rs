//! Webhooks against DynamoDB Local and the local SQS emulator: the routes,
//! the hand-over from the events function to the queue, and deliveries by
//! `deliver-webhooks` to a real HTTP receiver on this machine, whose
//! requests are verified as a receiver's code would, with the
//! `standardwebhooks` crate.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::{json, Value};
use shared::auth::Scope;
use shared::keys;
use shared::routes::Route;
use shared::stream::StreamHandler;
use shared::user::UserId;
use shared::webhook::send::Sender;
use shared::webhook::target::TargetPolicy;
use tests::api::{event, gavin};
use tests::events::{stream_batch, stream_record, Item, Reply};
use tests::receiver::{Received, Receiver};
use tests::TestEnv;

async fn env() -> TestEnv {
    TestEnv::new().await.with_queue().await
}

fn subscription(url: &str, events: &[&str]) -> Value {
    json!({"url": url, "subscribedEvents": events, "description": "ledger sync"})
}

/// Subscribes `url` to `events`: the new webhook's id and secret.
async fn subscribe(env: &TestEnv, url: &str, events: &[&str]) -> (String, String) {
    let reply = env.api().create_webhook(&subscription(url, events)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn profile(env: &TestEnv, user: &str) -> Item {
    let id = UserId::parse(user).unwrap();
    env.client()
        .get_item()
        .table_name(&env.table)
        .key(
            keys::PK,
            aws_sdk_dynamodb::types::AttributeValue::S(keys::user_pk(&id)),
        )
        .key(
            keys::SK,
            aws_sdk_dynamodb::types::AttributeValue::S(keys::PROFILE_SK.into()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the profile")
}

/// Creates a user and hands the stream record of its creation to the
/// `events` function: the record, to hand over again.
async fn user_created(env: &TestEnv, sequence: u64) -> Value {
    let user = env.api().new_user(&gavin()).await;
    let record = stream_record("INSERT", None, Some(&profile(env, &user).await), sequence);
    events(env, std::slice::from_ref(&record)).await;
    record
}

async fn events(env: &TestEnv, records: &[Value]) {
    let response = shared::stream::handle(
        &env.app,
        StreamHandler::Events,
        lambda_runtime::LambdaEvent::new(stream_batch(records), lambda_runtime::Context::default()),
    )
    .await
    .expect("no invocation error");
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
}

/// One batch of what the queue holds now, handed to `deliver-webhooks` as
/// Lambda's event source mapping would, and settled as it would: the
/// messages not reported failed are deleted. The answer and the batch.
async fn deliver(env: &TestEnv) -> (SqsBatchResponse, SqsEvent) {
    let batch = env.queue().receive().await;
    let sender = Sender::new(env.app.config.webhook_targets).unwrap();
    let response = shared::webhook::deliver::deliver_batch(
        &env.app,
        &sender,
        lambda_runtime::LambdaEvent::new(batch.clone(), lambda_runtime::Context::default()),
    )
    .await
    .expect("no invocation error");
    env.queue().settle(&batch, &response).await;
    (response, batch)
}

/// How many messages a batch had, and how many it reported failed.
fn counts((response, batch): &(SqsBatchResponse, SqsEvent)) -> (usize, usize) {
    (batch.records.len(), response.batch_item_failures.len())
}

fn verify(secret: &str, received: &Received) -> Result<(), standardwebhooks::WebhookError> {
    standardwebhooks::Webhook::new(secret)?.verify(&received.body, &received.headers)
}

fn deliveries(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_webhook_is_created_listed_read_and_deleted_and_its_secret_shown_once() {
    let env = env().await;
    let (id, secret) = subscribe(
        &env,
        "http://127.0.0.1:9/hooks",
        &["user.deleted", "user.created"],
    )
    .await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let read = env.api().get_webhook(&id).await;
    assert_eq!(read.status, 200);
    assert_eq!(
        read.body["subscribedEvents"],
        json!(["user.created", "user.deleted"])
    );
    assert_eq!(read.body["status"], "active");
    assert!(read.body.get("secret").is_none(), "{}", read.body);
    assert!(read.body["links"]["deliveries"]
        .as_str()
        .unwrap()
        .ends_with("/deliveries"));
    let list = env.api().list_webhooks().await;
    assert_eq!(list.body["count"], 1);
    assert!(list.body["data"][0].get("secret").is_none());
    let stored = env
        .app
        .store
        .get_webhook(&shared::webhook::WebhookId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !stored.secret.contains(&secret["whsec_".len()..]),
        "the secret is sealed at rest"
    );
    let with_parameter = env
        .api()
        .call(
            Route::ListWebhooks,
            event(Route::ListWebhooks, "GET", &[]).query("limit", "5"),
        )
        .await;
    assert_eq!(
        (with_parameter.status, with_parameter.error().0),
        (400, "parameter-not-valid")
    );
    assert_eq!(env.api().delete_webhook(&id).await.status, 204);
    assert_eq!(env.api().get_webhook(&id).await.status, 404);
    assert_eq!(env.api().delete_webhook(&id).await.status, 404);
    assert_eq!(env.api().list_webhooks().await.body["count"], 0);
}

#[tokio::test]
async fn a_client_token_gets_403_on_every_webhook_and_event_route() {
    let env = env().await;
    let user = env.api().new_user(&gavin()).await;
    let token = tests::token(Scope::ClientAccess, Some(UserId::parse(&user).unwrap()));
    let id = shared::webhook::WebhookId::new().to_string();
    for route in [
        Route::CreateWebhook,
        Route::ListWebhooks,
        Route::GetWebhook,
        Route::DeleteWebhook,
        Route::RotateWebhookSecret,
        Route::TestWebhook,
        Route::ListWebhookDeliveries,
        Route::ListEvents,
        Route::GetEvent,
        Route::ListEventTypes,
        Route::GetEventType,
    ] {
        for endpoint in route.endpoints() {
            let params: Vec<(&str, &str)> = [
                ("webhookId", id.as_str()),
                ("eventId", "a"),
                ("typeId", "user.created"),
            ]
            .into_iter()
            .filter(|(name, _)| endpoint.path.contains(&format!("{{{name}}}")))
            .collect();
            let request = event(route, endpoint.method, &params)
                .json(&subscription("http://127.0.0.1:9/", &["user.created"]))
                .bearer(&token);
            let reply = env.api().call(route, request).await;
            assert_eq!(reply.status, 403, "{route:?}: {}", reply.body);
        }
    }
    assert_eq!(
        env.api().list_webhooks().await.body["count"],
        0,
        "nothing was written"
    );
}

#[tokio::test]
async fn bad_subscriptions_get_400_at_their_field_and_write_nothing() {
    let env = env().await;
    for (body, pointer) in [
        (json!({"url": "http://127.0.0.1:9/"}), "/subscribedEvents"),
        (json!({"subscribedEvents": ["user.created"]}), "/url"),
        (subscription("ftp://127.0.0.1/", &["user.created"]), "/url"),
        (
            subscription("http://127.0.0.1:9/", &["account.created"]),
            "/subscribedEvents/0",
        ),
        (
            subscription("http://127.0.0.1:9/", &[]),
            "/subscribedEvents",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "subscribedEvents": ["user.created"], "secret": "mine"}),
            "/secret",
        ),
        (
            subscription("http://user:pass@127.0.0.1:9/", &["user.created"]),
            "/url",
        ),
        (
            subscription(
                &format!("http://127.0.0.1:9/{}", "a".repeat(3000)),
                &["user.created"],
            ),
            "/url",
        ),
    ] {
        let reply = env.api().create_webhook(&body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.pointer(), pointer, "{body}: {}", reply.body);
    }
    assert_eq!(env.api().list_webhooks().await.body["count"], 0);
    assert_eq!(env.item_count().await, 0);
}

/// Every special-use range of the IANA registries, by one address inside
/// it, as a literal and (for IPv4) inside the IPv6 forms that embed it.
const SPECIAL_USE: [&str; 29] = [
    "0.0.0.1",
    "10.1.2.3",
    "100.64.0.1",
    "127.0.0.1",
    "169.254.169.254",
    "172.16.5.4",
    "192.0.0.8",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "[::]",
    "[::1]",
    "[::ffff:169.254.169.254]",
    "[::ffff:10.0.0.1]",
    "[64:ff9b::a9fe:a9fe]",
    "[100::1]",
    "[2001::1]",
    "[2001:db8::1]",
    "[2002:a9fe:a9fe::1]",
    "[fc00::1]",
    "[fe80::1]",
    "[fec0::1]",
    "[ff02::1]",
];

#[tokio::test]
async fn ssrf_targets_are_refused_at_subscription_for_every_special_use_range() {
    let env = TestEnv::with(|config| config.webhook_targets = TargetPolicy { local: false })
        .await
        .with_queue()
        .await;
    for host in SPECIAL_USE {
        let reply = env
            .api()
            .create_webhook(&subscription(
                &format!("https://{host}/hooks"),
                &["user.created"],
            ))
            .await;
        assert_eq!(reply.status, 400, "{host}: {}", reply.body);
        assert_eq!(reply.pointer(), "/url", "{host}");
    }
    for url in [
        "http://93.184.216.34/hooks",
        "https://localhost/hooks",
        "https://a.localhost/",
    ] {
        let reply = env
            .api()
            .create_webhook(&subscription(url, &["user.created"]))
            .await;
        assert_eq!(reply.status, 400, "{url}: {}", reply.body);
    }
    assert_eq!(env.item_count().await, 0, "nothing was written");
}

#[tokio::test]
async fn locally_only_loopback_is_allowed_and_every_other_special_use_range_is_still_refused() {
    let env = env().await;
    for host in SPECIAL_USE
        .iter()
        .filter(|h| !matches!(**h, "127.0.0.1" | "[::1]"))
    {
        let reply = env
            .api()
            .create_webhook(&subscription(
                &format!("http://{host}/hooks"),
                &["user.created"],
            ))
            .await;
        assert_eq!(reply.status, 400, "{host}: {}", reply.body);
    }
}

#[tokio::test]
async fn at_delivery_a_host_that_resolves_to_a_special_use_address_is_refused_and_retried() {
    // A subscription made where loopback was allowed (as a name that
    // resolves elsewhere later would be), delivered by a sender that
    // allows it no more: the connection is refused before any byte is sent.
    let env = env().await;
    let receiver = Receiver::answering(&[200]).await;
    let url = receiver.url.replace("127.0.0.1", "localhost");
    let (id, _) = subscribe(&env, &url, &["user.created"]).await;
    user_created(&env, 1).await;
    let mut aws =
        TestEnv::with(|config| config.webhook_targets = TargetPolicy { local: false }).await;
    aws.app.store = env.app.store.clone();
    aws.app.queue = env.app.queue.clone();
    aws.queue = None;
    let batch = env.queue().receive().await;
    assert_eq!(batch.records.len(), 1);
    let sender = Sender::new(aws.app.config.webhook_targets).unwrap();
    let response = shared::webhook::deliver::deliver_batch(
        &aws.app,
        &sender,
        lambda_runtime::LambdaEvent::new(batch.clone(), lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(response.batch_item_failures.len(), 1, "tried again later");
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
    let attempts = deliveries(&env.api().list_webhook_deliveries(&id, &[]).await);
    assert_eq!(attempts[0]["outcome"], "refused");
    assert!(attempts[0]["nextAttemptAt"].is_string());
}

#[tokio::test]
async fn an_event_reaches_the_receiver_signed_and_tampered_or_late_requests_fail_verification() {
    let env = env().await;
    let receiver = Receiver::answering(&[200]).await;
    let (id, secret) = subscribe(&env, &receiver.url, &["user.created"]).await;
    user_created(&env, 1).await;
    assert_eq!(counts(&deliver(&env).await), (1, 0));
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    verify(&secret, request).expect("the signature verifies");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "event");
    assert_eq!(body["entity"], "user");
    assert_eq!(body["eventType"], "created");
    assert_eq!(request.header("webhook-id"), body["id"].as_str().unwrap());
    assert_eq!(request.header("content-type"), "application/json");

    let mut tampered = request.clone();
    tampered.body = String::from_utf8(request.body.clone())
        .unwrap()
        .replace("created", "deleted")
        .into_bytes();
    assert!(verify(&secret, &tampered).is_err(), "a changed body fails");
    let mut late = request.clone();
    let stale = request.header("webhook-timestamp").parse::<i64>().unwrap() - 6 * 60;
    late.headers
        .insert("webhook-timestamp", stale.to_string().parse().unwrap());
    assert!(
        verify(&secret, &late).is_err(),
        "a request replayed late fails"
    );
    assert!(
        verify(&shared::webhook::secret::generate(), request).is_err(),
        "another secret fails"
    );

    let attempts = deliveries(&env.api().list_webhook_deliveries(&id, &[]).await);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["outcome"], "delivered");
    assert_eq!(attempts[0]["status"], 200);
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["eventId"], body["id"]);
    assert_eq!(env.queue().visible().await, 0, "the message is done with");
}

#[tokio::test]
async fn only_subscribed_types_go_and_a_redelivered_stream_batch_keeps_one_webhook_id() {
    let env = env().await;
    let receiver = Receiver::answering(&[200]).await;
    let other = Receiver::answering(&[200]).await;
    subscribe(&env, &receiver.url, &["user.created"]).await;
    subscribe(&env, &other.url, &["user.deleted"]).await;
    let record = user_created(&env, 1).await;
    events(&env, &[record]).await;
    while counts(&deliver(&env).await).0 > 0 {}
    let got = receiver.received();
    assert_eq!(
        got.len(),
        2,
        "handed over again with the record: at least once"
    );
    assert_eq!(
        got[0].header("webhook-id"),
        got[1].header("webhook-id"),
        "one id to dedupe on"
    );
    assert_eq!(got[0].body, got[1].body);
    assert!(other.received().is_empty(), "user.deleted only");
}

#[tokio::test]
async fn a_receiver_answering_500_gets_retries_and_then_succeeds() {
    let env = env().await;
    let receiver = Receiver::answering(&[500, 503, 200]).await;
    let (id, secret) = subscribe(&env, &receiver.url, &["user.created"]).await;
    user_created(&env, 1).await;
    for attempt in 1..=2 {
        let delivered = deliver(&env).await;
        assert_eq!(counts(&delivered), (1, 1), "attempt {attempt}");
        assert_eq!(env.queue().visible().await, 0, "put off by the backoff");
        env.queue().retry_now(&delivered.1).await;
    }
    assert_eq!(counts(&deliver(&env).await), (1, 0));
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    for request in &got {
        verify(&secret, request).expect("every attempt is signed");
        assert_eq!(request.header("webhook-id"), got[0].header("webhook-id"));
    }
    let attempts = deliveries(&env.api().list_webhook_deliveries(&id, &[]).await);
    let summary: Vec<(Value, Value, Value)> = attempts
        .iter()
        .map(|a| {
            (
                a["attempt"].clone(),
                a["outcome"].clone(),
                a["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!(3), json!("delivered"), json!(200)),
            (json!(2), json!("failed"), json!(503)),
            (json!(1), json!("failed"), json!(500)),
        ],
        "newest first"
    );
    assert!(attempts[2]["nextAttemptAt"].is_string());
    assert_eq!(attempts[2]["response"], "answered 500");
    assert!(attempts[0].get("nextAttemptAt").is_none());
}

#[tokio::test]
async fn after_the_last_attempt_the_message_goes_to_the_dead_letter_queue() {
    let env = env().await;
    let receiver = Receiver::answering(&[500]).await;
    let (id, _) = subscribe(&env, &receiver.url, &["user.created"]).await;
    user_created(&env, 1).await;
    let max = shared::webhook::schedule::MAX_ATTEMPTS;
    for _ in 0..max {
        let delivered = deliver(&env).await;
        assert_eq!(counts(&delivered), (1, 1));
        env.queue().retry_now(&delivered.1).await;
    }
    assert_eq!(
        counts(&deliver(&env).await).0,
        0,
        "no attempt after the last"
    );
    assert_eq!(env.queue().dead_letters().await.len(), 1);
    assert_eq!(receiver.received().len(), max as usize);
    let attempts = deliveries(
        &env.api()
            .list_webhook_deliveries(&id, &[("limit", "50")])
            .await,
    );
    assert_eq!(attempts.len(), max as usize);
    assert!(
        attempts[0].get("nextAttemptAt").is_none(),
        "the last says no more"
    );
}

#[tokio::test]
async fn a_410_disables_the_webhook_and_no_more_is_sent() {
    let env = env().await;
    let receiver = Receiver::answering(&[410]).await;
    let (id, _) = subscribe(&env, &receiver.url, &["user.created"]).await;
    user_created(&env, 1).await;
    assert_eq!(counts(&deliver(&env).await), (1, 0), "410 ends the retries");
    let read = env.api().get_webhook(&id).await;
    assert_eq!(read.body["status"], "disabled");
    assert_eq!(read.body["disabledReason"], "gone");
    user_created(&env, 2).await;
    assert_eq!(
        env.queue().visible().await,
        0,
        "a disabled webhook gets nothing"
    );
    assert_eq!(env.api().test_webhook(&id).await.status, 409);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_and_both_verify() {
    let env = env().await;
    let receiver = Receiver::answering(&[200]).await;
    let (id, old) = subscribe(&env, &receiver.url, &["user.created"]).await;
    let rotated = env.api().rotate_webhook_secret(&id).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(env
        .api()
        .get_webhook(&id)
        .await
        .body
        .get("secret")
        .is_none());
    let test = env.api().test_webhook(&id).await;
    assert_eq!(test.status, 202, "{}", test.body);
    deliver(&env).await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    verify(&new, &got[0]).expect("the new secret verifies");
    verify(&old, &got[0]).expect("the old secret verifies for a day");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["eventType"], "test");
    assert_eq!(body["id"], test.body["id"]);
}

#[tokio::test]
async fn a_deleted_webhooks_queued_messages_are_dropped() {
    let env = env().await;
    let receiver = Receiver::answering(&[200]).await;
    let (id, _) = subscribe(&env, &receiver.url, &["user.created"]).await;
    user_created(&env, 1).await;
    assert_eq!(env.api().delete_webhook(&id).await.status, 204);
    assert_eq!(counts(&deliver(&env).await), (1, 0));
    assert!(receiver.received().is_empty());
    assert_eq!(
        env.api().list_webhook_deliveries(&id, &[]).await.status,
        404
    );
}

#[tokio::test]
async fn at_most_twenty_webhooks_exist_however_many_are_created_at_once() {
    let env = env().await;
    let replies = futures::future::join_all((0..25).map(|i| {
        let body = subscription(&format!("http://127.0.0.1:9/{i}"), &["user.created"]);
        let api = env.api();
        async move { api.create_webhook(&body).await }
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!((created, refused.len()), (20, 5));
    assert_eq!(env.api().list_webhooks().await.body["count"], 20);
    let id = env.api().list_webhooks().await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(env.api().delete_webhook(&id).await.status, 204);
    let body = subscription("http://127.0.0.1:9/again", &["user.created"]);
    assert_eq!(
        env.api().create_webhook(&body).await.status,
        201,
        "room again"
    );
}

#[tokio::test]
async fn deliveries_page_newest_first_with_a_cursor_bound_to_their_webhook() {
    let env = env().await;
    let receiver = Receiver::answering(&[200]).await;
    let (id, _) = subscribe(&env, &receiver.url, &["user.created"]).await;
    let (other, _) = subscribe(&env, &receiver.url, &["user.created"]).await;
    for _ in 0..3 {
        assert_eq!(env.api().test_webhook(&id).await.status, 202);
    }
    while counts(&deliver(&env).await).0 > 0 {}
    let first = env
        .api()
        .list_webhook_deliveries(&id, &[("limit", "2")])
        .await;
    assert_eq!(deliveries(&first).len(), 2);
    let next = first.body["links"]["next"].as_str().unwrap();
    let cursor = form_urlencoded::parse(next.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned();
    let second = env
        .api()
        .list_webhook_deliveries(&id, &[("limit", "2"), ("next", &cursor)])
        .await;
    assert_eq!(deliveries(&second).len(), 1);
    let elsewhere = env
        .api()
        .list_webhook_deliveries(&other, &[("limit", "2"), ("next", &cursor)])
        .await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    assert_eq!(
        env.api()
            .list_webhook_deliveries("not-an-id", &[])
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn an_event_not_handed_to_the_queue_is_handed_over_when_the_stream_delivers_again() {
    let env = env().await;
    let receiver = Receiver::answering(&[200]).await;
    subscribe(&env, &receiver.url, &["user.created"]).await;
    let user = env.api().new_user(&gavin()).await;
    let record = stream_record("INSERT", None, Some(&profile(&env, &user).await), 1);
    // The queue refuses: the batch fails, as Lambda would then deliver it again.
    let mut broken = env.app.clone();
    broken.queue = Some(shared::queue::Queue::new(
        env.queue().client.clone(),
        format!("{}-missing", env.queue().url),
    ));
    let failed = shared::stream::handle(
        &broken,
        StreamHandler::Events,
        lambda_runtime::LambdaEvent::new(
            stream_batch(std::slice::from_ref(&record)),
            lambda_runtime::Context::default(),
        ),
    )
    .await;
    assert!(failed.is_err(), "the stream must deliver the batch again");
    events(&env, &[record]).await;
    deliver(&env).await;
    assert_eq!(receiver.received().len(), 1, "the event was not lost");
}

#[tokio::test]
async fn a_delivery_inside_a_webhook_key_rotation_seals_the_secret_again_under_the_new_key() {
    use shared::rotation::Keyring;
    let mut env = env().await;
    let receiver = Receiver::answering(&[200]).await;
    let (id, secret) = subscribe(&env, &receiver.url, &["user.created"]).await;
    let new_key: &[u8] = b"the next webhook key, 32 bytes long";
    let until = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    env.app.config.webhook_key = Some(Keyring::rotating(new_key, tests::WEBHOOK_KEY, until));
    assert_eq!(env.api().test_webhook(&id).await.status, 202);
    assert_eq!(counts(&deliver(&env).await), (1, 0));
    // The window is over: only the new key is configured.
    env.app.config.webhook_key = Some(Keyring::new(new_key));
    assert_eq!(env.api().test_webhook(&id).await.status, 202);
    assert_eq!(counts(&deliver(&env).await), (1, 0));
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    for request in &got {
        verify(&secret, request).expect("the subscriber's secret never changed");
    }
}

/// What webhooks add to an event, in DynamoDB requests and capacity: the
/// batch that made it reads the subscriptions once (one Query), and each
/// attempt reads its subscription (one GetItem) and records itself (one
/// PutItem), whatever the number of subscriptions and events.
#[tokio::test]
async fn an_event_costs_one_query_per_batch_and_an_attempt_one_read_and_one_write() {
    let env = env().await;
    let receiver = Receiver::answering(&[200]).await;
    subscribe(&env, &receiver.url, &["user.created"]).await;
    subscribe(&env, &receiver.url, &["user.created"]).await;
    let mut records = Vec::new();
    for sequence in 1..=3 {
        let user = env.api().new_user(&gavin()).await;
        records.push(stream_record(
            "INSERT",
            None,
            Some(&profile(&env, &user).await),
            sequence,
        ));
    }
    let meter = env.app.store.meter();
    env.requests.clear();
    meter.reset();
    events(&env, &records).await;
    assert_eq!(
        env.requests.count("PutItem"),
        6,
        "an event and an audit entry each"
    );
    assert_eq!(
        env.requests.count("Query"),
        1,
        "one read of the subscriptions for the batch"
    );
    assert_eq!(env.requests.operations().len(), 7);
    let (event_reads, event_writes) = (meter.read_units(), meter.write_units());
    println!("3 events, 2 subscriptions: {event_reads} RCU, {event_writes} WCU");
    assert_eq!(
        (event_reads, event_writes),
        (1.0, 27.0),
        "the subscriptions' strongly consistent Query (under 4 KB), the events' puts as before (5 WCU each) and an audit entry each (4 WCU)"
    );

    env.requests.clear();
    meter.reset();
    let mut attempts = 0;
    loop {
        let delivered = deliver(&env).await;
        if counts(&delivered).0 == 0 {
            break;
        }
        attempts += counts(&delivered).0;
    }
    assert_eq!(attempts, 6, "3 events x 2 subscriptions");
    assert_eq!(env.requests.count("GetItem"), 6);
    assert_eq!(env.requests.count("PutItem"), 6);
    assert_eq!(env.requests.operations().len(), 12);
    println!(
        "6 attempts: {} RCU, {} WCU",
        meter.read_units(),
        meter.write_units()
    );
    assert_eq!(
        (meter.read_units(), meter.write_units()),
        (6.0, 6.0),
        "an attempt: one consistent read of its subscription, one WCU for its record (no index holds it)"
    );
}
