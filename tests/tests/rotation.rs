//! Rotating TOKEN_SECRET and CURSOR_KEY without downtime: what an app signed
//! with key A, an app configured with current key B and previous key A
//! accepts until the end of A's window, and refuses after it, as a forgery.
//! Each app is configured from variables as a function's cold start
//! configures it, and all of them share one test's table.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::json;
use shared::auth::ApiKey;
use shared::config::{App, Config, Needs};
use shared::rotation::Keyring;
use shared::routes::Route;
use tests::api::TestApi;
use tests::events::{Event, Reply};
use tests::TestEnv;

const TOKEN_A: &str = "token secret A, at least 32 bytes long";
const TOKEN_B: &str = "token secret B, at least 32 bytes long";
const CURSOR_A: &str = "cursor key A, 16 bytes or more";
const CURSOR_B: &str = "cursor key B, 16 bytes or more";

/// The end of a window still ahead: an hour away (a function refuses to
/// start with one more than a week away).
fn in_window() -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The end of a window long gone.
const EXPIRED: &str = "2000-01-01T00:00:00Z";

/// An app on `env`'s table, configured from `vars` (and `TABLE_NAME`).
fn app(env: &TestEnv, vars: Vec<(&'static str, String)>) -> App {
    let config = Config::from_vars(
        Needs {
            tokens: true,
            cursors: true,
            ..Needs::default()
        },
        |name| match name {
            "TABLE_NAME" => Ok(env.table.clone()),
            _ => vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .ok_or(std::env::VarError::NotPresent),
        },
    )
    .expect("a valid configuration");
    App::new(env.client().clone(), config)
}

/// The variables of an app whose tokens use these keys (its cursors use
/// the tests' key, which [`Event`]'s default token does not depend on).
fn token_keys(current: &str, previous: Option<(&str, &str)>) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("TOKEN_SECRET", current.to_owned()),
        (
            "CURSOR_KEY",
            String::from_utf8_lossy(tests::CURSOR_KEY).into_owned(),
        ),
    ];
    if let Some((key, until)) = previous {
        vars.push(("TOKEN_SECRET_PREVIOUS", key.to_owned()));
        vars.push(("TOKEN_SECRET_PREVIOUS_UNTIL", until.to_owned()));
    }
    vars
}

/// The variables of an app whose cursors use these keys (its tokens use
/// the tests' secret, which [`Event`]'s default token is signed with).
fn cursor_keys(current: &str, previous: Option<(&str, &str)>) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        (
            "TOKEN_SECRET",
            String::from_utf8_lossy(tests::TOKEN_SECRET).into_owned(),
        ),
        ("CURSOR_KEY", current.to_owned()),
    ];
    if let Some((key, until)) = previous {
        vars.push(("CURSOR_KEY_PREVIOUS", key.to_owned()));
        vars.push(("CURSOR_KEY_PREVIOUS_UNTIL", until.to_owned()));
    }
    vars
}

/// A token bought with an API key from `app`'s `POST /token`.
async fn token_from(app: &App, key: &ApiKey) -> String {
    let event = Event::new("POST", "/token")
        .without_auth()
        .raw_body("scope=SERVER_ACCESS")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("basiq-version", "3.0")
        .header("authorization", &format!("Basic {}", key.expose()));
    let reply = TestApi::new(app).issue_token(event).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    reply.body["access_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

async fn search_with(app: &App, token: &str) -> Reply {
    TestApi::new(app)
        .call(
            Route::SearchUsers,
            Event::new("GET", "/users").bearer(token),
        )
        .await
}

fn assert_refused_token(reply: &Reply) {
    assert_eq!(reply.status, 401, "{:#}", reply.body);
    assert_eq!(reply.error().0, "invalid-authorization-token");
    tests::contract::assert_matches("UnauthorizedError", &reply.body);
}

#[tokio::test]
async fn a_token_of_the_previous_secret_works_until_its_window_ends() {
    let env = TestEnv::new().await;
    let key = ApiKey::generate();
    env.add_key(&key, "test").await;
    let before = app(&env, token_keys(TOKEN_A, None));
    let token = token_from(&before, &key).await;
    assert_eq!(search_with(&before, &token).await.status, 200);

    let rotating = app(&env, token_keys(TOKEN_B, Some((TOKEN_A, &in_window()))));
    let reply = search_with(&rotating, &token).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);

    let ended = app(&env, token_keys(TOKEN_B, Some((TOKEN_A, EXPIRED))));
    assert_refused_token(&search_with(&ended, &token).await);
    let after = app(&env, token_keys(TOKEN_B, None));
    assert_refused_token(&search_with(&after, &token).await);

    // During the rotation, new tokens are signed with the new secret: they
    // outlive the window, and the old secret does not know them.
    let new = token_from(&rotating, &key).await;
    assert_eq!(search_with(&ended, &new).await.status, 200);
    assert_eq!(search_with(&after, &new).await.status, 200);
    assert_refused_token(&search_with(&before, &new).await);
}

/// Polls until `check` holds, for at most 5 s: GSIs are eventually consistent.
async fn eventually<F, Fut, T>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `next` cursor out of a `links.next` URL, if the page has one.
fn cursor_of(reply: &Reply) -> Option<String> {
    let next = reply.body["links"]["next"].as_str()?;
    let query = next.split_once('?').expect("a query string").1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
}

const SEARCH: [(&str, &str); 2] = [("q", "zed"), ("limit", "2")];

async fn next_page(app: &App, cursor: &str) -> Reply {
    let params = [SEARCH[0], SEARCH[1], ("next", cursor)];
    TestApi::new(app).search_users(&params).await
}

#[tokio::test]
async fn a_cursor_of_the_previous_key_works_until_its_window_ends() {
    let env = TestEnv::new().await;
    let before = app(&env, cursor_keys(CURSOR_A, None));
    for n in 0..5 {
        TestApi::new(&before)
            .new_user(&json!({"email": format!("z{n}@hooli.com"), "firstName": "Zed"}))
            .await;
    }
    eventually("all five found", || async {
        let all = TestApi::new(&before)
            .search_users(&[("q", "zed"), ("limit", "10")])
            .await;
        (all.body["data"].as_array().map(Vec::len) == Some(5)).then_some(())
    })
    .await;
    let first = TestApi::new(&before).search_users(&SEARCH).await;
    let cursor = cursor_of(&first).expect("a second page");
    assert!(
        cursor.starts_with(&format!(
            "{}.",
            Keyring::new(CURSOR_A.as_bytes()).current_id()
        )),
        "a cursor names its key: {cursor}"
    );

    let rotating = app(&env, cursor_keys(CURSOR_B, Some((CURSOR_A, &in_window()))));
    let reply = next_page(&rotating, &cursor).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["data"].as_array().map(Vec::len), Some(2));
    // The page's own next cursor is signed with the new key.
    let new = cursor_of(&reply).expect("a third page");
    assert!(
        new.starts_with(&format!(
            "{}.",
            Keyring::new(CURSOR_B.as_bytes()).current_id()
        )),
        "{new}"
    );

    let ended = app(&env, cursor_keys(CURSOR_B, Some((CURSOR_A, EXPIRED))));
    let after = app(&env, cursor_keys(CURSOR_B, None));
    for app in [&ended, &after] {
        let reply = next_page(app, &cursor).await;
        assert_eq!(reply.status, 400, "{:#}", reply.body);
        assert_eq!(reply.body["data"][0]["source"]["parameter"], "next");
        tests::contract::assert_matches("BadRequestError", &reply.body);
        // What the new key signed still works once the window has ended.
        assert_eq!(next_page(app, &new).await.status, 200);
    }
}
