//! What reaches the logs: the correlation id, and never personal data or tokens.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use shared::auth::ApiKey;
use shared::routes::Route;
use tests::events::Event;
use tests::TestEnv;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn logs_carry_the_correlation_id_and_no_personal_data() {
    let env = TestEnv::new().await;
    let captured = Captured::default();
    let subscriber = shared::telemetry::json_subscriber(captured.clone(), EnvFilter::new("info"));
    // The test runs on one thread (current-thread runtime), so this covers every handler call.
    let _guard = tracing::subscriber::set_default(subscriber);

    let email = "secret.person@example.com";
    let mobile = "+61499111222";
    let (first, last) = ("Zebediah", "Quarrington");
    let api = env.api();
    let created = api
        .create_user(
            &json!({"email": email, "mobile": mobile, "firstName": first, "lastName": last}),
        )
        .await;
    let id = created.id();
    for q in [email, mobile, first, &id] {
        api.search_users(&[("q", q)]).await;
    }
    api.update_user("PATCH", &id, &json!({"lastName": "Quarrington-Smythe"}))
        .await;
    let refused = api
        .create_user(&json!({"email": "not-an-email", "firstName": first}))
        .await;
    let key = ApiKey::generate();
    env.add_key(&key, "logs").await;
    let issued = api
        .issue_token(
            Event::new("POST", "/token")
                .without_auth()
                .header("authorization", &format!("Basic {}", key.expose()))
                .header("basiq-version", "3.0")
                .raw_body("scope=SERVER_ACCESS"),
        )
        .await;
    let token = issued.body["access_token"].as_str().unwrap().to_owned();
    let bad_token = Event::new("GET", "/users").bearer(&format!("{token}x"));
    api.call(Route::SearchUsers, bad_token).await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect();
    assert!(lines.len() >= 9, "{text}");
    for secret in [
        email,
        "secret.person",
        mobile,
        "499111222",
        first,
        last,
        "Quarrington-Smythe",
        "not-an-email",
        key.expose(),
        &token,
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into the logs:\n{text}"
        );
    }
    // The correlation id in an error body is the one in its log line.
    let correlation = refused.body["correlationId"].as_str().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l["correlation_id"] == correlation && l["status"] == 400),
        "{text}"
    );
    assert!(
        lines.iter().all(|l| l["correlation_id"].is_string()),
        "{text}"
    );
}
