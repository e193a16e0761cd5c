//! API keys for tokens, and every endpoint's check of its token and scope.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use shared::auth::{ApiKey, Scope};
use shared::routes::Route;
use shared::user::UserId;
use tests::events::Event;
use tests::TestEnv;

fn token_request(key: Option<&str>, body: &str) -> Event {
    let mut event = Event::new("POST", "/token")
        .without_auth()
        .raw_body(body)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("basiq-version", "3.0");
    if let Some(key) = key {
        event = event.header("authorization", &format!("Basic {key}"));
    }
    event
}

#[tokio::test]
async fn an_api_key_buys_a_token_that_works() {
    let env = TestEnv::new().await;
    let key = ApiKey::generate();
    env.add_key(&key, "test").await;
    let stored = env.item_count().await;
    assert_eq!(stored, 1, "this key, beside the tests' own");

    let reply = env
        .api()
        .call(
            Route::IssueToken,
            token_request(Some(key.expose()), "scope=SERVER_ACCESS"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 3600);
    tests::contract::assert_matches("TokenPostResponse", &reply.body);
    let token = reply.body["access_token"].as_str().unwrap();
    let search = env
        .api()
        .call(
            Route::SearchUsers,
            Event::new("GET", "/users").bearer(token),
        )
        .await;
    assert_eq!(search.status, 200);

    // The table holds the key's digest only.
    let scan = env
        .client()
        .scan()
        .table_name(&env.table)
        .send()
        .await
        .unwrap();
    let text = format!("{:?}", scan.items());
    assert!(!text.contains(key.expose()));
    assert!(text.contains(&key.digest()));
}

#[tokio::test]
async fn bad_token_requests_are_refused() {
    let env = TestEnv::new().await;
    let key = ApiKey::generate();
    env.add_key(&key, "test").await;
    let user = UserId::new().to_string();
    let cases: Vec<(Event, u16, &str)> = vec![
        (
            token_request(None, "scope=SERVER_ACCESS"),
            401,
            "unauthorized-access",
        ),
        (
            token_request(Some("wrong-key"), "scope=SERVER_ACCESS"),
            401,
            "unauthorized-access",
        ),
        (
            token_request(Some(&key.expose()[..20]), "scope=SERVER_ACCESS"),
            401,
            "unauthorized-access",
        ),
        (
            token_request(Some(key.expose()), "scope=ADMIN"),
            400,
            "parameter-not-valid",
        ),
        (
            token_request(Some(key.expose()), "scope=CLIENT_ACCESS"),
            400,
            "parameter-not-supplied",
        ),
        (
            token_request(
                Some(key.expose()),
                &format!("scope=SERVER_ACCESS&userId={user}"),
            ),
            400,
            "parameter-not-valid",
        ),
        (
            token_request(Some(key.expose()), "scope=CLIENT_ACCESS&userId=../x"),
            400,
            "parameter-not-valid",
        ),
        (
            Event::new("POST", "/token")
                .without_auth()
                .raw_body("scope=SERVER_ACCESS")
                .header("authorization", &format!("Basic {}", key.expose())),
            400,
            "parameter-not-supplied",
        ),
    ];
    for (event, status, code) in cases {
        let reply = env.api().call(Route::IssueToken, event).await;
        assert_eq!(reply.status, status, "{:#}", reply.body);
        assert_eq!(reply.error().0, code);
    }
    // A wrong key and a missing one read the same: nothing tells them apart.
    let wrong = env
        .api()
        .call(
            Route::IssueToken,
            token_request(Some("wrong"), "scope=SERVER_ACCESS"),
        )
        .await;
    let missing = env
        .api()
        .call(
            Route::IssueToken,
            token_request(None, "scope=SERVER_ACCESS"),
        )
        .await;
    assert_eq!(wrong.body["data"], missing.body["data"]);
}

#[tokio::test]
async fn every_endpoint_checks_its_token() {
    let env = TestEnv::new().await;
    let before = env.item_count().await;
    let now = tests::time_now();
    let expired = tests::token_at(Scope::ServerAccess, None, now - 7200);
    let forged = shared::auth::TokenSigner::new(b"a different secret of enough size!")
        .issue("key:tests", Scope::ServerAccess, None, now)
        .unwrap();
    let claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"scope":"SERVER_ACCESS","iat":{now},"exp":{}}}"#,
        now + 600
    ));
    let unsigned = format!(
        "{}.{claims}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    );
    let id = UserId::new().to_string();

    let handlers: Vec<(Route, Event)> = vec![
        (
            Route::CreateUser,
            Event::new("POST", "/users").json(&json!({"email": "a@b.co"})),
        ),
        (Route::GetUser, Event::user("GET", &id)),
        (
            Route::UpdateUser,
            Event::user("PATCH", &id).json(&json!({"firstName": "X"})),
        ),
        (Route::DeleteUser, Event::user("DELETE", &id)),
        (Route::SearchUsers, Event::new("GET", "/users")),
        (
            Route::ListTransactions,
            Event::user("GET", &id).path(&format!("/users/{id}/transactions")),
        ),
    ];
    for (route, event) in handlers {
        let cases = [
            (event.clone().without_auth(), 401, "unauthorized-access"),
            (
                event.clone().header("authorization", "Bearer"),
                401,
                "invalid-authorization-token",
            ),
            (
                event.clone().header("authorization", "Basic abc"),
                401,
                "invalid-authorization-token",
            ),
            (
                event.clone().bearer("not.a.token"),
                401,
                "invalid-authorization-token",
            ),
            (
                event.clone().bearer(&forged),
                401,
                "invalid-authorization-token",
            ),
            (
                event.clone().bearer(&unsigned),
                401,
                "invalid-authorization-token",
            ),
            (event.clone().bearer(&expired), 403, "access-denied"),
        ];
        for (event, status, code) in cases {
            let reply = env.api().call(route, event).await;
            assert_eq!(reply.status, status, "{route:?}: {:#}", reply.body);
            assert_eq!(reply.error().0, code, "{route:?}");
            if code == "access-denied" {
                assert_eq!(reply.body["data"][0]["detail"], "Token has expired");
            }
        }
    }
    assert_eq!(
        env.item_count().await,
        before,
        "no refused request wrote anything"
    );
}

#[tokio::test]
async fn client_tokens_read_their_own_user_only() {
    let env = TestEnv::new().await;
    let create = |email: &str| Event::new("POST", "/users").json(&json!({"email": email}));
    let mine = env
        .api()
        .call(Route::CreateUser, create("me@b.co"))
        .await
        .id();
    let theirs = env
        .api()
        .call(Route::CreateUser, create("them@b.co"))
        .await
        .id();
    let client = tests::token(Scope::ClientAccess, Some(UserId::parse(&mine).unwrap()));

    let get = |id: &str| Event::user("GET", id).bearer(&client);
    assert_eq!(env.api().call(Route::GetUser, get(&mine)).await.status, 200);
    let other = env.api().call(Route::GetUser, get(&theirs)).await;
    assert_eq!(other.status, 403);
    assert_eq!(other.error().0, "forbidden-access");
    let own_transactions = get(&mine).path(&format!("/users/{mine}/transactions"));
    assert_eq!(
        env.api()
            .call(Route::ListTransactions, own_transactions)
            .await
            .status,
        200
    );
    let own_accounts = get(&mine).path(&format!("/users/{mine}/accounts"));
    assert_eq!(
        env.api()
            .call(Route::ListAccounts, own_accounts)
            .await
            .status,
        200
    );

    let write = Event::user("PATCH", &mine)
        .json(&json!({"firstName": "Me"}))
        .bearer(&client);
    assert_eq!(env.api().call(Route::UpdateUser, write).await.status, 403);
    let search = Event::new("GET", "/users").bearer(&client);
    assert_eq!(env.api().call(Route::SearchUsers, search).await.status, 403);
    let delete = Event::user("DELETE", &mine).bearer(&client);
    assert_eq!(env.api().call(Route::DeleteUser, delete).await.status, 403);
    assert_eq!(
        env.api()
            .call(Route::GetUser, Event::user("GET", &mine))
            .await
            .body["firstName"],
        "",
        "the refused update changed nothing"
    );
}

/// As Basiq's client libraries ask: a JSON body `{}` (or none) with no scope,
/// and basiq-version 1.0, 2.0 or 3.0.
#[tokio::test]
async fn basiq_clients_get_tokens_as_they_ask() {
    let env = TestEnv::new().await;
    let key = ApiKey::generate();
    env.add_key(&key, "test").await;
    let request = |version: &str| {
        Event::new("POST", "/token")
            .without_auth()
            .header("authorization", &format!("Basic {}", key.expose()))
            .header("basiq-version", version)
    };
    let user = UserId::new().to_string();
    let scope_of = |reply: &tests::events::Reply| {
        let token = reply.body["access_token"].as_str().unwrap_or_default();
        let claims = token.split('.').nth(1).unwrap_or_default();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap_or_default())
                .unwrap_or_default();
        claims["scope"].as_str().unwrap_or_default().to_owned()
    };
    for version in ["1.0", "2.0", "3.0"] {
        let json = env
            .api()
            .issue_token(request(version).json(&json!({})))
            .await;
        assert_eq!(json.status, 200, "{version}: {:#}", json.body);
        assert_eq!(
            scope_of(&json),
            "SERVER_ACCESS",
            "no scope is server access"
        );
        let none = env.api().issue_token(request(version)).await;
        assert_eq!(none.status, 200, "{version}, no body: {:#}", none.body);
        assert_eq!(scope_of(&none), "SERVER_ACCESS");
    }
    let client = env
        .api()
        .issue_token(request("3.0").json(&json!({"scope": "CLIENT_ACCESS", "userId": user})))
        .await;
    assert_eq!(client.status, 200, "{:#}", client.body);
    assert_eq!(scope_of(&client), "CLIENT_ACCESS");
    let form = env
        .api()
        .issue_token(
            request("2.0")
                .raw_body("scope=SERVER_ACCESS")
                .header("content-type", "application/x-www-form-urlencoded"),
        )
        .await;
    assert_eq!(form.status, 200);
    for (event, parameter) in [
        (request("4.0").json(&json!({})), "basiq-version"),
        (request("3").json(&json!({})), "basiq-version"),
        (request("3.0").json(&json!({"scope": "ADMIN"})), "scope"),
        (request("3.0").json(&json!({"scope": 1})), "scope"),
        (request("3.0").json(&json!({"expiry": 99})), "expiry"),
        (
            request("3.0").json(&json!({"scope": "CLIENT_ACCESS"})),
            "userId",
        ),
    ] {
        let reply = env.api().issue_token(event).await;
        assert_eq!(reply.status, 400, "{:#}", reply.body);
        assert_eq!(reply.body["data"][0]["source"]["parameter"], parameter);
    }
    let malformed = env
        .api()
        .issue_token(
            request("3.0")
                .raw_body("{")
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!(malformed.status, 400);
}
