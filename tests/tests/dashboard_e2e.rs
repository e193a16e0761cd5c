//! The dashboard end to end in a real browser: `tests/e2e/dashboard.mjs`
//! drives Debian's Chromium (playwright-core) against the functions served by
//! `cargo lambda watch`, on this test's own table, whose real DynamoDB Local
//! stream a local poller hands to the `events` function, so the Activity
//! view shows the page's own changes. Screenshots land in `target/e2e/`.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use shared::auth::ApiKey;
use shared::user::UserId;
use tests::watch::Watch;
use tests::TestEnv;

/// Every function the page calls. The first request to each compiles it,
/// which can take minutes on a cold machine, so it is made here, unhurried,
/// and the browser's own waits can stay short.
const ROUTES: [(&str, &str); 10] = [
    ("GET", "/"),
    ("POST", "/token"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("GET", "/users/warm"),
    ("PATCH", "/users/warm"),
    ("DELETE", "/users/warm"),
    ("GET", "/users/warm/connections"),
    ("GET", "/events"),
    ("GET", "/events/types"),
];

#[tokio::test]
async fn the_dashboard_in_a_real_browser() {
    let env = TestEnv::with_stream().await;
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
    let http = watch.http();
    for (method, path) in ROUTES {
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

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let artifacts = root.join("target/e2e");
    let run = tokio::process::Command::new("node")
        .arg(root.join("tests/e2e/dashboard.mjs"))
        .env("BASE_URL", &watch.base_url)
        .env("API_KEY", key.expose())
        .env("ARTIFACTS", &artifacts)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser run ends within 5 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser run failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );

    // How long the page's own writes took to show in the Activity view.
    for line in stderr.lines().filter(|l| l.starts_with("activity:")) {
        eprintln!("{line}");
    }

    // The user the browser created and deleted is gone from the table, all of it.
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    let created = last["userId"].as_str().expect("the created user's id");
    assert_eq!(env.partition_count(created).await, 0);
    assert!(env.partition_count(&gavin.to_string()).await > 30);
    for shot in [
        "users-list.png",
        "edit-user.png",
        "activity.png",
        "users-list-narrow.png",
    ] {
        let size = std::fs::metadata(artifacts.join(shot))
            .unwrap_or_else(|e| panic!("{shot}: {e}"))
            .len();
        assert!(size > 1_000, "{shot} is a real picture ({size} bytes)");
    }
}
