//! Operators' tokens: the role matrix over every endpoint, and every way an
//! operator's token can be wrong (expired, not yet valid, for another
//! audience, from another issuer, signed by a key never published, with a
//! symmetric algorithm, without a role), and the provider's key rotation.

use serde_json::{json, Value};
use shared::auth::{Role, Scope};
use shared::routes::Route;
use shared::user::UserId;
use tests::api::event;
use tests::events::{Event, Reply};
use tests::operators::{SigningKey, TestIdp, AUDIENCE};
use tests::TestEnv;

/// Who calls, in the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Operator(Role),
    Server,
    /// A CLIENT_ACCESS token for the user the request is about.
    ClientOwn,
    /// A CLIENT_ACCESS token for another user.
    ClientOther,
}

const EVERYONE: [Who; 6] = [
    Who::Operator(Role::Viewer),
    Who::Operator(Role::Editor),
    Who::Operator(Role::Admin),
    Who::Server,
    Who::ClientOwn,
    Who::ClientOther,
];

/// The matrix, written out here apart from the code that enforces it: who
/// may call each route. (`POST /token` takes an API key, not a token.)
fn may(route: Route, who: Who) -> bool {
    use Who::*;
    let operator_at_least = |least: Role| matches!(who, Operator(role) if role >= least);
    match route {
        Route::IssueToken => unreachable!("POST /token takes an API key"),
        // Reading one user and what it owns.
        Route::GetUser
        | Route::ListConnections
        | Route::GetConnection
        | Route::ListAccounts
        | Route::GetAccount
        | Route::ListTransactions
        | Route::GetTransaction => !matches!(who, ClientOther),
        // Reading across users.
        Route::SearchUsers
        | Route::ListEvents
        | Route::GetEvent
        | Route::ListEventTypes
        | Route::GetEventType => matches!(who, Operator(_) | Server),
        // Changing users and their connections.
        Route::CreateUser
        | Route::UpdateUser
        | Route::DeleteUser
        | Route::IngestConnection
        | Route::DeleteConnection => who == Server || operator_at_least(Role::Editor),
        // Webhooks.
        Route::CreateWebhook
        | Route::ListWebhooks
        | Route::GetWebhook
        | Route::DeleteWebhook
        | Route::RotateWebhookSecret
        | Route::TestWebhook
        | Route::ListWebhookDeliveries => who == Server || operator_at_least(Role::Admin),
        // Signing in to the dashboard: operators only.
        Route::SignIn => matches!(who, Operator(_)),
        // API keys and the audit trail: admins only, never a key.
        Route::CreateApiKey | Route::ListApiKeys | Route::RevokeApiKey | Route::ListAudit => {
            operator_at_least(Role::Admin)
        }
    }
}

fn token_of(idp: &TestIdp, who: Who, user: UserId) -> String {
    match who {
        Who::Operator(role) => idp.token(role),
        Who::Server => tests::token(Scope::ServerAccess, None),
        Who::ClientOwn => tests::token(Scope::ClientAccess, Some(user)),
        Who::ClientOther => tests::token(Scope::ClientAccess, Some(UserId::new())),
    }
}

/// A request to each endpoint of `route`, its parameters filled with ids
/// that name nothing (so no call changes anything the next one sees),
/// and a body that is an empty object where the route takes one.
fn requests(route: Route, user: UserId) -> Vec<Event> {
    let user = user.to_string();
    route
        .endpoints()
        .map(|endpoint| {
            let params: Vec<(&str, &str)> = endpoint
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(|name| {
                    let value = match name {
                        "userId" => user.as_str(),
                        "typeId" => "user.created",
                        "keyId" => "0123456789abcdef",
                        "webhookId" => "8f14e45f-ceea-4e7a-9d3f-0d1c2b3a4e5f",
                        _ => "record-1",
                    };
                    (name, value)
                })
                .collect();
            let event = event(route, endpoint.method, &params);
            match endpoint.method {
                "POST" | "PATCH" => event.json(&json!({})),
                _ => event,
            }
        })
        .collect()
}

#[tokio::test]
async fn every_role_and_token_kind_gets_exactly_what_the_matrix_gives_on_every_endpoint() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let user = UserId::new();
    let mut checked = 0;
    for route in Route::ALL {
        if route == Route::IssueToken {
            continue;
        }
        for who in EVERYONE {
            for request in requests(route, user) {
                let token = token_of(&idp, who, user);
                let reply = env.api().call(route, request.bearer(&token)).await;
                let allowed = may(route, who);
                assert_ne!(reply.status, 401, "{route:?} {who:?}: {:#}", reply.body);
                if allowed {
                    assert_ne!(
                        reply.status, 403,
                        "{route:?} {who:?} must be allowed: {:#}",
                        reply.body
                    );
                } else {
                    assert_eq!(
                        reply.status, 403,
                        "{route:?} {who:?} must be refused: {:#}",
                        reply.body
                    );
                    assert_eq!(reply.body["type"], "list", "a Basiq error body");
                }
                checked += 1;
            }
        }
    }
    let endpoints = Route::ALL
        .iter()
        .filter(|r| **r != Route::IssueToken)
        .map(|r| r.endpoints().count())
        .sum::<usize>();
    assert_eq!(checked, endpoints * EVERYONE.len());
}

/// A refusal leaves nothing behind: every write a viewer tries gets 403
/// and the table holds what it held.
#[tokio::test]
async fn a_viewer_changes_nothing() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let user = env.api().new_user(&tests::api::gavin()).await;
    let before = env.item_count().await;
    let viewer = idp.token(Role::Viewer);
    let id = UserId::parse(&user).unwrap();
    for route in [
        Route::UpdateUser,
        Route::DeleteUser,
        Route::IngestConnection,
        Route::CreateUser,
        Route::CreateWebhook,
        Route::CreateApiKey,
    ] {
        for request in requests(route, id) {
            let reply = env.api().call(route, request.bearer(&viewer)).await;
            assert_eq!(reply.status, 403, "{route:?}: {:#}", reply.body);
        }
    }
    assert_eq!(env.item_count().await, before);
    let reply = env
        .api()
        .call(
            Route::GetUser,
            tests::api::user_event(Route::GetUser, "GET", &user).bearer(&viewer),
        )
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
}

async fn search_with(env: &TestEnv, token: &str) -> Reply {
    env.api()
        .call(
            Route::SearchUsers,
            event(Route::SearchUsers, "GET", &[]).bearer(token),
        )
        .await
}

#[tokio::test]
async fn expired_early_foreign_and_unsigned_operator_tokens_are_refused() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let now = tests::time_now();
    let valid = idp.claims(Role::Admin);
    assert_eq!(search_with(&env, &idp.sign(&valid)).await.status, 200);

    let with = |changes: Value| {
        let mut claims = valid.clone();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    };

    // Expired (beyond the 30 s of leeway for clocks): Basiq's 403
    // access-denied "Token has expired", as for an expired API-key token.
    let expired = idp.sign(&with(json!({"iat": now - 7200, "exp": now - 120})));
    let reply = search_with(&env, &expired).await;
    assert_eq!(reply.status, 403, "{:#}", reply.body);
    assert_eq!(reply.body["data"][0]["detail"], "Token has expired");

    let refused = [
        ("not valid yet", idp.sign(&with(json!({"nbf": now + 600})))),
        (
            "another audience",
            idp.sign(&with(json!({"aud": "another-client"}))),
        ),
        (
            "among other audiences, not ours",
            idp.sign(&with(json!({"aud": ["a", "b"]}))),
        ),
        (
            "another issuer",
            idp.sign(&with(json!({"iss": "https://evil.example.test"}))),
        ),
        (
            "the issuer with a trailing slash",
            idp.sign(&with(json!({"iss": format!("{}/", idp.issuer)}))),
        ),
        ("no expiry", idp.sign(&with(json!({"exp": null})))),
        ("no subject", idp.sign(&with(json!({"sub": null})))),
        ("no audience", idp.sign(&with(json!({"aud": null})))),
        // A key the provider never published, under a kid it does not have...
        (
            "an unknown key",
            SigningKey::generate("stranger").sign(&valid),
        ),
        // ...and under the kid of its real key.
        (
            "an impostor key under a real kid",
            SigningKey::generate("key-1").sign(&valid),
        ),
        (
            "an HS256 token as if ours",
            tests::token(Scope::ServerAccess, None).replace('.', ".x"),
        ),
    ];
    for (what, token) in refused {
        let reply = search_with(&env, &token).await;
        assert_eq!(reply.status, 401, "{what}: {:#}", reply.body);
        assert_eq!(reply.error().0, "invalid-authorization-token", "{what}");
    }
    // Cognito's access tokens have no `aud` but `client_id`: ours is accepted.
    let access = idp.sign(&with(
        json!({"aud": null, "client_id": AUDIENCE, "token_use": "access"}),
    ));
    assert_eq!(search_with(&env, &access).await.status, 200);
    // Several audiences, ours among them, issued to us (`azp`).
    let many = idp.sign(&with(json!({"aud": ["other", AUDIENCE], "azp": AUDIENCE})));
    assert_eq!(search_with(&env, &many).await.status, 200);
    // Several audiences, not issued to us, or not saying to whom.
    for azp in [json!("other"), json!(null)] {
        let token = idp.sign(&with(json!({"aud": ["other", AUDIENCE], "azp": azp})));
        assert_eq!(search_with(&env, &token).await.status, 401, "azp {azp}");
    }
    // An email the provider has not verified names nobody.
    let unverified = idp.sign(&with(json!({"email_verified": false})));
    let reply = env
        .api()
        .call(
            Route::SignIn,
            event(Route::SignIn, "POST", &[]).bearer(&unverified),
        )
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["email"], Value::Null);
    assert_eq!(reply.body["name"], "Test admin");

    // A valid token with no role of ours: 403, signed in but not let in.
    for groups in [
        json!(null),
        json!([]),
        json!(["Admin", "admins"]),
        json!("superuser"),
    ] {
        let token = idp.sign(&with(json!({"groups": groups})));
        let reply = search_with(&env, &token).await;
        assert_eq!(reply.status, 403, "{groups}: {:#}", reply.body);
    }
    // One role as a string works as well as in an array.
    let one = idp.sign(&with(json!({"groups": "viewer"})));
    assert_eq!(search_with(&env, &one).await.status, 200);
}

#[tokio::test]
async fn a_token_of_the_none_or_hs256_algorithm_with_the_providers_claims_is_refused() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let claims = URL_SAFE_NO_PAD.encode(idp.claims(Role::Admin).to_string());
    for header in [
        json!({"alg": "none", "kid": "key-1"}),
        json!({"alg": "HS256", "kid": "key-1"}),
        json!({"alg": "ES256"}),
        json!({"alg": "ES256", "kid": "key-1", "crit": ["exp"]}),
    ] {
        let head = URL_SAFE_NO_PAD.encode(header.to_string());
        for signature in ["", "c2lnbmF0dXJl"] {
            let token = format!("{head}.{claims}.{signature}");
            let reply = search_with(&env, &token).await;
            assert_eq!(reply.status, 401, "{header}: {:#}", reply.body);
        }
    }
}

#[tokio::test]
async fn after_the_provider_rotates_its_key_new_and_old_tokens_work_with_one_fetch() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let old = idp.token(Role::Viewer);
    assert_eq!(search_with(&env, &old).await.status, 200);
    assert_eq!(idp.jwks_fetches(), 1, "keys are fetched once, then kept");
    assert_eq!(search_with(&env, &old).await.status, 200);
    assert_eq!(idp.jwks_fetches(), 1);

    idp.rotate();
    let new = idp.token(Role::Viewer);
    assert_ne!(new, old);
    // An unknown kid makes the verifier fetch the keys again, once.
    assert_eq!(
        search_with(&env, &new).await.status,
        200,
        "the new key is found"
    );
    assert_eq!(idp.jwks_fetches(), 2);
    assert_eq!(search_with(&env, &new).await.status, 200);
    assert_eq!(
        search_with(&env, &old).await.status,
        200,
        "the old key is still published"
    );
    assert_eq!(idp.jwks_fetches(), 2);
}

/// Requests arriving together on an instance that holds no key yet all
/// wait for the one fetch, and all get in: none is refused for a key that
/// was on its way.
#[tokio::test]
async fn requests_arriving_together_on_a_cold_instance_share_one_fetch() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let token = idp.token(Role::Admin);
    let replies = futures::future::join_all((0..12).map(|_| search_with(&env, &token))).await;
    for reply in replies {
        assert_eq!(reply.status, 200, "{:#}", reply.body);
    }
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test]
async fn unknown_key_ids_cannot_make_the_api_fetch_the_keys_more_than_once_an_interval() {
    let idp = TestIdp::start().await;
    let mut oidc = idp.oidc();
    oidc.min_refresh = std::time::Duration::from_secs(60);
    let env = TestEnv::with(|config| config.oidc = Some(oidc)).await;
    assert_eq!(
        search_with(&env, &idp.token(Role::Viewer)).await.status,
        200
    );
    for n in 0..20 {
        let stranger = SigningKey::generate(&format!("unknown-{n}")).sign(&idp.claims(Role::Admin));
        assert_eq!(search_with(&env, &stranger).await.status, 401);
    }
    assert_eq!(
        idp.jwks_fetches(),
        1,
        "no fetch per unknown kid inside the interval"
    );
}

#[tokio::test]
async fn without_a_configured_provider_operator_tokens_are_refused() {
    let idp = TestIdp::start().await;
    let env = TestEnv::new().await;
    assert_eq!(search_with(&env, &idp.token(Role::Admin)).await.status, 401);
    assert_eq!(idp.jwks_fetches(), 0);
}

#[tokio::test]
async fn an_unreachable_provider_is_a_503_not_a_refusal_of_the_token() {
    let idp = TestIdp::start().await;
    let token = idp.token(Role::Admin);
    let mut oidc = idp.oidc();
    // Nothing listens there.
    oidc.jwks_url = Some("http://127.0.0.1:9/jwks".into());
    let env = TestEnv::with(|config| config.oidc = Some(oidc)).await;
    let reply = search_with(&env, &token).await;
    assert_eq!(reply.status, 503, "{:#}", reply.body);
}

#[tokio::test]
async fn sign_in_answers_who_and_which_role_and_refuses_api_key_tokens() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    for role in Role::ALL {
        let reply = env
            .api()
            .call(
                Route::SignIn,
                event(Route::SignIn, "POST", &[]).bearer(&idp.token(role)),
            )
            .await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        assert_eq!(reply.body["type"], "operator");
        assert_eq!(reply.body["role"], role.as_str());
        assert_eq!(
            reply.body["email"],
            format!("{}@example.test", role.as_str())
        );
        assert_eq!(
            reply.body["id"],
            format!("operator:{}-subject", role.as_str())
        );
    }
    let reply = env
        .api()
        .call(Route::SignIn, event(Route::SignIn, "POST", &[]))
        .await;
    assert_eq!(reply.status, 403, "{:#}", reply.body);
    let reply = env
        .api()
        .call(
            Route::SignIn,
            event(Route::SignIn, "POST", &[]).without_auth(),
        )
        .await;
    assert_eq!(reply.status, 401, "{:#}", reply.body);
}
