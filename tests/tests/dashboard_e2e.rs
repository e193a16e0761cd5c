//! The dashboard end to end in a real browser: `tests/e2e/dashboard.mjs`
//! drives Debian's Chromium (playwright-core) against the functions served by
//! `cargo lambda watch`, on this test's own table, whose real DynamoDB Local
//! stream a local poller hands to the `events` function, so the Activity
//! view shows the page's own changes; `tests/e2e/webhooks.mjs` drives the
//! Webhooks view against a webhook queue of the test's own, which a local
//! poller hands to `deliver-webhooks`, and a receiver on this machine.
//! Screenshots land in `target/e2e/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use shared::auth::ApiKey;
use shared::user::UserId;
use standardwebhooks::Webhook;
use tests::receiver::Receiver;
use tests::watch::Watch;
use tests::TestEnv;

/// Every function the page calls. The first request to each compiles it,
/// which can take minutes on a cold machine, so it is made here, unhurried,
/// and the browser's own waits can stay short.
const ROUTES: [(&str, &str); 12] = [
    ("GET", "/"),
    ("POST", "/token"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("GET", "/users/warm"),
    ("PATCH", "/users/warm"),
    ("DELETE", "/users/warm"),
    ("GET", "/users/warm/connections"),
    ("GET", "/users/warm/accounts"),
    ("GET", "/users/warm/transactions"),
    ("GET", "/events"),
    ("GET", "/events/types"),
];

/// Every function the Webhooks view calls, warmed for the same reason.
const WEBHOOK_ROUTES: [(&str, &str); 9] = [
    ("GET", "/"),
    ("POST", "/token"),
    ("GET", "/events/types"),
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("POST", "/webhooks/warm/test"),
    ("GET", "/webhooks/warm/deliveries"),
    ("POST", "/webhooks/warm/secret"),
    ("DELETE", "/webhooks/warm"),
];

/// Calls each route once, without credentials: each function compiles, and
/// answers (a 4xx is as good as a 2xx here).
async fn warm(watch: &Watch, routes: &[(&str, &str)]) {
    let http = watch.http();
    for (method, path) in routes {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let answer = http
            .request(method.clone(), format!("{}{path}", watch.base_url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(
            answer.status().is_success() || answer.status().is_client_error(),
            "{method} {path} answered {}",
            answer.status()
        );
    }
}

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e")
}

/// Runs a browser script of `tests/e2e/` against the stack, signed in with
/// `key`, for at most 5 minutes; its stdout and stderr, once it passed.
async fn browse(
    script: &str,
    watch: &Watch,
    key: &ApiKey,
    vars: &[(&str, &str)],
) -> (String, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let run = tokio::process::Command::new("node")
        .arg(root.join("tests/e2e").join(script))
        .env("BASE_URL", &watch.base_url)
        .env("API_KEY", key.expose())
        .env("ARTIFACTS", artifacts())
        .envs(vars.iter().copied())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser run ends within 5 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "the browser run of {script} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    (stdout, stderr)
}

/// The JSON the script printed last.
fn last_line(stdout: &str) -> Value {
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("the script's last line is JSON ({e}): {stdout}"))
}

fn assert_pictures(dir: &Path, shots: &[&str]) {
    for shot in shots {
        let size = std::fs::metadata(dir.join(shot))
            .unwrap_or_else(|e| panic!("{shot}: {e}"))
            .len();
        assert!(size > 1_000, "{shot} is a real picture ({size} bytes)");
    }
}

#[tokio::test]
async fn the_dashboard_in_a_real_browser() {
    let env = TestEnv::with_stream().await.with_queue().await;
    let key = ApiKey::generate();
    env.app.store.add_api_key(&key, "e2e").await.unwrap();
    // Older users enough to need a second page (the API's default page is 25).
    for n in 0..26u8 {
        let last = format!(
            "Filler{}{}",
            (b'a' + n / 26) as char,
            (b'a' + n % 26) as char
        );
        let body = serde_json::json!({"email": format!("filler{n}@example.com"), "mobile": format!("+614{:08}", 90_000_000 + u32::from(n)), "firstName": "Pat", "lastName": last});
        env.api().new_user(&body).await;
    }
    // The newest user, with financial data, for the detail view.
    let gavin = env
        .api()
        .new_user(&serde_json::json!({"email": "gavin@hooli.com", "mobile": "+61410888666", "firstName": "Gavin", "lastName": "Belson"}))
        .await;
    let gavin = UserId::parse(&gavin).unwrap();
    infra::seed::fill_user(&env.app.store, &gavin, 0, 30, 4)
        .await
        .unwrap();

    let watch = Watch::serve(&env).await;
    warm(&watch, &ROUTES).await;
    let (stdout, stderr) = browse("dashboard.mjs", &watch, &key, &[]).await;

    // How long the page's own writes took to show in the Activity view.
    for line in stderr.lines().filter(|l| l.starts_with("activity:")) {
        eprintln!("{line}");
    }

    // The user the browser created and deleted is gone from the table, all of it.
    let last = last_line(&stdout);
    let created = last["userId"].as_str().expect("the created user's id");
    assert_eq!(env.partition_count(created).await, 0);
    assert!(env.partition_count(&gavin.to_string()).await > 30);
    assert_pictures(
        &artifacts(),
        &[
            "users-list.png",
            "user-money.png",
            "user-money-narrow.png",
            "edit-user.png",
            "activity.png",
            "users-list-narrow.png",
        ],
    );
}

/// The Webhooks view: add a webhook for a receiver on this machine (after
/// the API refused a private address), the secret shown once, a test event
/// delivered and listed, the secret rotated, a second test event, and the
/// webhook deleted. Then the receiver's requests are verified as a
/// receiver's code would, with the secrets the page showed: the first
/// signed with the first secret alone, the second with both, the rotated
/// one and, for its day of grace, the old one.
#[tokio::test]
async fn the_webhooks_view_in_a_real_browser() {
    let env = TestEnv::new().await.with_queue().await;
    let key = ApiKey::generate();
    env.app.store.add_api_key(&key, "e2e").await.unwrap();
    let receiver = Receiver::answering(&[200]).await;

    let watch = Watch::serve(&env).await;
    warm(&watch, &WEBHOOK_ROUTES).await;
    let (stdout, stderr) = browse(
        "webhooks.mjs",
        &watch,
        &key,
        &[("RECEIVER_URL", receiver.url.as_str())],
    )
    .await;
    for line in stderr.lines().filter(|l| l.starts_with("webhooks:")) {
        eprintln!("{line}");
    }

    let last = last_line(&stdout);
    let webhook_id = last["webhookId"].as_str().expect("the webhook's id");
    let text = |value: &Value| value.as_str().expect("a string").to_owned();
    let [first_secret, rotated_secret] = [0, 1].map(|i| text(&last["secrets"][i]));
    let [first_event, second_event] = [0, 1].map(|i| text(&last["events"][i]));
    let before =
        Webhook::new(&first_secret).expect("the first secret is a Standard Webhooks secret");
    let after = Webhook::new(&rotated_secret).expect("the rotated secret is one too");

    let received = receiver.received();
    let delivered = |event: &str| {
        let found: Vec<_> = received
            .iter()
            .filter(|r| r.header("webhook-id") == event)
            .collect();
        assert_eq!(found.len(), 1, "{event} was delivered once: {received:?}");
        found[0].clone()
    };
    let first = delivered(&first_event);
    before
        .verify(&first.body, &first.headers)
        .expect("the first test event is signed with the secret the page showed");
    assert!(
        after.verify(&first.body, &first.headers).is_err(),
        "and not with the secret made after it"
    );
    let body: Value = serde_json::from_slice(&first.body).expect("a JSON body");
    assert_eq!(body["id"], first_event.as_str());
    assert_eq!(body["data"]["id"], webhook_id);
    assert_eq!(first.header("content-type"), "application/json");

    let second = delivered(&second_event);
    after
        .verify(&second.body, &second.headers)
        .expect("after the rotation, signed with the new secret");
    before
        .verify(&second.body, &second.headers)
        .expect("and, for a day, with the old one too");
    assert_eq!(
        second.header("webhook-signature").split(' ').count(),
        2,
        "two signatures"
    );

    let gone = watch
        .http()
        .get(format!("{}/webhooks/{webhook_id}", watch.base_url))
        .header("authorization", watch.bearer(&env).await)
        .send()
        .await
        .expect("GET /webhooks/{id}");
    assert_eq!(gone.status(), 404, "the page deleted the webhook");
    assert_pictures(
        &artifacts(),
        &[
            "webhooks.png",
            "webhook-add.png",
            "webhook-deliveries.png",
            "webhook-rotated.png",
        ],
    );
}
