//! The dashboard end to end in a real browser: `tests/e2e/*.mjs` drive
//! Debian's Chromium (playwright-core) against the functions served by
//! `cargo lambda watch`, each operator signing in through the real local
//! identity provider (`infra/idp`, started by [`Idp`]) and its login form.
//! `dashboard.mjs` is the users' pages, on this test's own table, whose real
//! DynamoDB Local stream a local poller hands to the `events` function, so
//! the Activity view shows the page's own changes; `webhooks.mjs` drives the
//! Webhooks view against a webhook queue of the test's own, which a local
//! poller hands to `deliver-webhooks`, and a receiver on this machine;
//! `operators.mjs` is the roles: what a viewer, an editor and an admin see
//! and may do, the audit trail and API keys. Screenshots land in
//! `target/e2e/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use shared::auth::Oidc;
use shared::config::Config;
use shared::user::UserId;
use standardwebhooks::Webhook;
use tests::idp::Idp;
use tests::receiver::Receiver;
use tests::watch::{Gateway, Watch};
use tests::TestEnv;

/// Every function the page calls. The first request to each compiles it,
/// which can take minutes on a cold machine, so it is made here, unhurried,
/// and the browser's own waits can stay short.
const ROUTES: [(&str, &str); 14] = [
    ("GET", "/"),
    ("GET", "/assets/config.json"),
    ("POST", "/sign-ins"),
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
    ("GET", "/audit"),
];

/// Every function the Webhooks view calls, warmed for the same reason.
const WEBHOOK_ROUTES: [(&str, &str); 10] = [
    ("GET", "/"),
    ("GET", "/assets/config.json"),
    ("POST", "/sign-ins"),
    ("GET", "/events/types"),
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("POST", "/webhooks/warm/test"),
    ("GET", "/webhooks/warm/deliveries"),
    ("POST", "/webhooks/warm/secret"),
    ("DELETE", "/webhooks/warm"),
];

/// And those the operators' test adds: connections, keys, tokens, the audit.
const OPERATOR_ROUTES: [(&str, &str); 6] = [
    ("DELETE", "/users/warm/connections/warm"),
    ("POST", "/token"),
    ("GET", "/api-keys"),
    ("POST", "/api-keys"),
    ("DELETE", "/api-keys/warm"),
    ("GET", "/audit"),
];

/// The world's configuration for operators of `idp`: the served functions
/// then accept its ID tokens (their role in `groups`), and the dashboard
/// names it to the page.
fn operators_of(idp: &Idp) -> impl FnOnce(&mut Config) + '_ {
    move |config| {
        config.oidc = Some(Oidc {
            issuer: idp.issuer().to_owned(),
            audience: idp.client_id().to_owned(),
            role_claim: tests::idp::ROLE_CLAIM.to_owned(),
            jwks_url: None,
            min_refresh: Duration::from_secs(10),
        });
    }
}

/// The provider's operators, for the browser scripts (`OPERATORS`).
fn operators_json(idp: &Idp) -> String {
    let list: Vec<Value> = idp
        .operators()
        .iter()
        .map(|op| json!({"email": op.email, "password": op.password, "name": op.name, "role": op.role}))
        .collect();
    Value::Array(list).to_string()
}

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

/// Runs a browser script of `tests/e2e/` against the stack, whose operators
/// sign in at `idp`, for at most 5 minutes; its stdout and stderr, once it
/// passed.
async fn browse(script: &str, watch: &Watch, idp: &Idp, vars: &[(&str, &str)]) -> (String, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let run = tokio::process::Command::new("node")
        .arg(root.join("tests/e2e").join(script))
        .env("BASE_URL", &watch.base_url)
        .env("OPERATORS", operators_json(idp))
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
    let gateway = Gateway::reserve().await;
    let idp = Idp::start(&[&gateway.dashboard_url()]).await;
    let env = TestEnv::with_stream_and(operators_of(&idp))
        .await
        .with_queue()
        .await;
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

    let watch = Watch::serve_on(&env, gateway).await;
    warm(&watch, &ROUTES).await;
    let (stdout, stderr) = browse("dashboard.mjs", &watch, &idp, &[]).await;

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
    let gateway = Gateway::reserve().await;
    let idp = Idp::start(&[&gateway.dashboard_url()]).await;
    let env = TestEnv::with(operators_of(&idp)).await.with_queue().await;
    let receiver = Receiver::answering(&[200]).await;

    let watch = Watch::serve_on(&env, gateway).await;
    warm(&watch, &WEBHOOK_ROUTES).await;
    let (stdout, stderr) = browse(
        "webhooks.mjs",
        &watch,
        &idp,
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

/// The roles in a real browser, each operator signing in through the local
/// identity provider's login form: a viewer sees no action and the API
/// refuses them 403; an editor edits one user and deletes another through
/// the page; an admin sees the deletion on the Audit page with the editor's
/// email and the edit in the user's history, creates an API key, uses it,
/// revokes it, and it is refused (401). A forged return from the provider is
/// refused before any code is exchanged, and an ID token whose nonce is
/// another sign-in's before it reaches the API.
#[tokio::test]
async fn operators_and_their_roles_in_a_real_browser() {
    let gateway = Gateway::reserve().await;
    let idp = Idp::start(&[&gateway.dashboard_url()]).await;
    let env = TestEnv::with_stream_and(operators_of(&idp))
        .await
        .with_queue()
        .await;
    let victim_email = "rita.remove@example.com";
    let victim = env
        .api()
        .new_user(&json!({"email": victim_email, "mobile": "+61412000001", "firstName": "Rita", "lastName": "Remove"}))
        .await;
    let victim_id = UserId::parse(&victim).unwrap();
    // A connection, for the roles' actions on it.
    infra::seed::fill_user(&env.app.store, &victim_id, 0, 3, 1)
        .await
        .unwrap();
    let subject = env
        .api()
        .new_user(&json!({"email": "hugo.history@example.com", "mobile": "+61412000002", "firstName": "Hugo", "lastName": "History"}))
        .await;

    let watch = Watch::serve_on(&env, gateway).await;
    warm(&watch, &ROUTES).await;
    warm(&watch, &OPERATOR_ROUTES).await;
    let (stdout, stderr) = browse(
        "operators.mjs",
        &watch,
        &idp,
        &[
            ("VICTIM_ID", victim.as_str()),
            ("VICTIM_EMAIL", victim_email),
            ("SUBJECT_ID", subject.as_str()),
        ],
    )
    .await;
    for line in stderr.lines().filter(|l| l.starts_with("operators:")) {
        eprintln!("{line}");
    }

    // The editor's deletion took everything of the user's.
    assert_eq!(env.partition_count(&victim).await, 0);
    // The revoked key buys nothing, seen from outside the browser too.
    let last = last_line(&stdout);
    let key = last["key"].as_str().expect("the key the page showed");
    let refused = watch
        .http()
        .post(format!("{}/token", watch.base_url))
        .header("authorization", format!("Basic {key}"))
        .header("basiq-version", "3.0")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=SERVER_ACCESS")
        .send()
        .await
        .expect("POST /token");
    assert_eq!(refused.status(), 401, "the revoked key is refused");
    // And the admin's own token, straight from the provider, reads the
    // trail the page showed: the deletion, by the editor.
    let admin = idp.id_token("admin").await;
    let editor = idp.operator("editor");
    let trail: Value = watch
        .http()
        .get(format!(
            "{}/audit?filter={}",
            watch.base_url,
            form_urlencoded::byte_serialize(format!("userId.eq('{victim}')").as_bytes())
                .collect::<String>()
        ))
        .header("authorization", format!("Bearer {admin}"))
        .send()
        .await
        .expect("GET /audit")
        .json()
        .await
        .expect("JSON");
    let deletion = trail["data"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|entry| entry["action"] == "user.deleted")
        .unwrap_or_else(|| panic!("the deletion is in the trail: {trail:#}"));
    assert_eq!(deletion["actor"]["name"], editor.email.as_str());
    assert_eq!(
        deletion["actor"]["id"],
        format!("operator:{}", editor.subject).as_str()
    );
    assert_pictures(
        &artifacts(),
        &[
            "signin-refused.png",
            "viewer-detail.png",
            "audit.png",
            "api-keys.png",
        ],
    );
}
