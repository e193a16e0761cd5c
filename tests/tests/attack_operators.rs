//! The defects an independent attack on issue 15's work (operators, API
//! keys, the audit trail) found. Each test failed on the code as attacked
//! and passes since its fix; its comment says what was wrong ("DEFECT")
//! and what must hold instead ("SHOULD"), which the test now holds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use shared::audit::{Action, Entry};
use shared::auth::{Actor, Oidc, Role, Scope, Stamp};
use shared::keys;
use shared::routes::{self, Route};
use shared::stream::StreamHandler;
use shared::user::UserId;
use tests::api::{event, gavin, user_event};
use tests::events::{stream_batch, stream_record, Event, Item, Reply};
use tests::faults::Faults;
use tests::operators::{SigningKey, TestIdp, AUDIENCE, ROLE_CLAIM};
use tests::TestEnv;
use tokio::net::TcpListener;

async fn send(env: &TestEnv, route: Route, event: Event, token: &str) -> Reply {
    env.api().call(route, event.bearer(token)).await
}

/// `GET /audit` as `admin`, with these query parameters.
async fn audit(env: &TestEnv, admin: &str, params: &[(&str, &str)]) -> Reply {
    let event = params
        .iter()
        .fold(event(Route::ListAudit, "GET", &[]), |e, (k, v)| {
            e.query(k, v)
        });
    let reply = send(env, Route::ListAudit, event, admin).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    reply
}

fn data(reply: &Reply) -> Vec<Value> {
    reply.body["data"].as_array().expect("a list").clone()
}

async fn profile(env: &TestEnv, user: &str) -> Option<Item> {
    env.raw_item(
        keys::user_pk(&UserId::parse(user).unwrap()),
        keys::PROFILE_SK,
    )
    .await
}

fn text<'a>(item: &'a Item, attr: &str) -> &'a str {
    item.get(attr)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

/// Hands a batch to the `events` function, as the event source mapping does.
async fn deliver(env: &TestEnv, records: &[Value]) -> DynamoDbEventResponse {
    shared::stream::handle(
        &env.app,
        StreamHandler::Events,
        lambda_runtime::LambdaEvent::new(stream_batch(records), lambda_runtime::Context::default()),
    )
    .await
    .expect("no invocation error")
}

// ---------------------------------------------------------------------------
// 1. "Who deleted user X" names whoever repeated the DELETE last.
// ---------------------------------------------------------------------------

/// DEFECT (audit integrity, shared/src/store/deletion.rs `tombstone_user`,
/// and shared/src/store/events.rs `audit_of`): the tombstone is restamped by
/// every repeated DELETE ("a repeated DELETE, a write too, stamps its own
/// caller"), the tombstone's MODIFY makes no entry, and `user.deleted` is
/// derived from the REMOVE's old image only. So when a deletion does not
/// finish in its request (a large user handed to purge-user: 202, or a
/// request that timed out) and anyone with `Need::Change` repeats the
/// DELETE (as the runbook tells them to, or on purpose, with a shared
/// server key), the trail says the repeater deleted the user, and the
/// operator who actually deleted it appears nowhere.
/// SHOULD: the first deleter is recorded: keep the first stamp on the
/// tombstone (`if_not_exists` for the stamp attributes when `deletedAt`
/// exists) or emit `user.deleted` when `deletedAt` first appears. The same
/// holds for connections (`delete-connection`'s tombstone, connections.rs).
#[tokio::test]
async fn a_repeated_delete_erases_the_real_deleter_from_the_trail() {
    let idp = TestIdp::start().await;
    let faults = Faults::new(7);
    let env = TestEnv::with_faults(&faults, |c| c.oidc = Some(idp.oidc())).await;
    let editor = idp.token(Role::Editor);
    let admin = idp.token(Role::Admin);
    let server = tests::token(Scope::ServerAccess, None);

    let create = event(Route::CreateUser, "POST", &[]).json(&gavin());
    let created = send(&env, Route::CreateUser, create, &editor).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let user = created.id();
    let created = profile(&env, &user).await.unwrap();

    // The editor's DELETE stops right after its tombstone (a deletion that
    // outlasts its request, as a large user's does).
    faults.crash_after(1);
    let delete = user_event(Route::DeleteUser, "DELETE", &user).bearer(&editor);
    assert!(faults
        .run(env.api().call(Route::DeleteUser, delete))
        .await
        .is_none());
    let first = profile(&env, &user).await.unwrap();
    assert_eq!(text(&first, "actor"), "operator:editor-subject");

    // Someone repeats the DELETE with a server key.
    faults.crash_after(1);
    let again = user_event(Route::DeleteUser, "DELETE", &user).bearer(&server);
    assert!(faults
        .run(env.api().call(Route::DeleteUser, again))
        .await
        .is_none());
    let second = profile(&env, &user).await.unwrap();

    let records = vec![
        stream_record("INSERT", None, Some(&created), 1),
        stream_record("MODIFY", Some(&created), Some(&first), 2),
        stream_record("MODIFY", Some(&first), Some(&second), 3),
        stream_record("REMOVE", Some(&second), None, 4),
    ];
    assert!(deliver(&env, &records).await.batch_item_failures.is_empty());

    let filter = format!("userId.eq('{user}')");
    let reply = audit(&env, &admin, &[("filter", &filter)]).await;
    let deleters: Vec<String> = data(&reply)
        .iter()
        .filter(|e| e["action"] == "user.deleted")
        .map(|e| e["actor"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        deleters.iter().any(|a| a == "operator:editor-subject"),
        "the editor deleted the user, but the trail names only {deleters:?}"
    );
}

// ---------------------------------------------------------------------------
// 2. Changes to API keys and webhooks other than the ones the code makes
//    today escape the trail.
// ---------------------------------------------------------------------------

/// DEFECT (audit completeness, shared/src/store/events.rs `audit_of`, API
/// key arm: `ChangeKind::Modify | ChangeKind::Remove => return None`; and
/// template.yaml: issue-token, create-api-key and revoke-api-key hold
/// UpdateItem on the whole `API_KEYS` partition): a MODIFY of a key that
/// removes `revokedAt` (un-revokes it) or replaces its `digest` (plants a
/// known secret under an existing key's id and name) makes NO audit entry.
/// The internet-facing `issue-token` function, whose only legitimate
/// update is `lastUsedAt`, may do both. README: "It must be impossible to
/// make a change without its record".
/// SHOULD: every MODIFY of a key item other than `lastUsedAt` alone is an
/// entry (e.g. `api_key.updated`, naming the fields); and issue-token's
/// policy restricts UpdateItem to `lastUsedAt` (`dynamodb:Attributes`
/// condition), create-api-key's to the count item. The same gap exists for
/// webhooks: a MODIFY of `url` or `events` (retargeting the event feed to
/// an attacker) makes no entry.
#[tokio::test]
async fn un_revoking_a_key_or_swapping_its_digest_leaves_no_entry() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let admin = idp.token(Role::Admin);
    let created = send(
        &env,
        Route::CreateApiKey,
        event(Route::CreateApiKey, "POST", &[]).json(&json!({"name": "billing"})),
        &admin,
    )
    .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.id();
    let revoked = send(
        &env,
        Route::RevokeApiKey,
        event(Route::RevokeApiKey, "DELETE", &[("keyId", &id)]),
        &admin,
    )
    .await;
    assert_eq!(revoked.status, 204);
    let revoked = env
        .raw_item(keys::API_KEYS_PK.into(), &keys::api_key_sk(&id))
        .await
        .unwrap();

    // What anything holding UpdateItem on API_KEYS can do: un-revoke the
    // key and put a digest of its own choosing under it.
    let mut tampered = revoked.clone();
    tampered.remove("revokedAt");
    tampered.insert(
        "digest".into(),
        AttributeValue::S(shared::auth::ApiKey::from_text("attacker").digest()),
    );
    let before = env.audit_items().await.len();
    let records = vec![stream_record("MODIFY", Some(&revoked), Some(&tampered), 9)];
    assert!(deliver(&env, &records).await.batch_item_failures.is_empty());
    assert_eq!(
        env.audit_items().await.len(),
        before + 1,
        "an un-revoked key with a new digest is a change, and must be audited"
    );
}

// ---------------------------------------------------------------------------
// 3. The JWKS fetch's rate limit and lock.
// ---------------------------------------------------------------------------

/// A JWKS endpoint that answers the first fetch with `jwks`, then either
/// 500 (`hang == false`) or never answers (`hang == true`). Counts fetches.
async fn flaky_jwks(jwks: Value, hang: bool) -> (String, Arc<AtomicUsize>) {
    use http_body_util::Full;
    use hyper::body::{Bytes, Incoming};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            let jwks = jwks.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req: hyper::Request<Incoming>| {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let jwks = jwks.clone();
                    async move {
                        if n == 0 {
                            return Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(jwks.to_string())))
                                    .unwrap(),
                            );
                        }
                        if hang {
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                        Ok(hyper::Response::builder()
                            .status(500)
                            .body(Full::new(Bytes::new()))
                            .unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, fetches)
}

fn operator_claims(issuer: &str, role: Role) -> Value {
    let now = tests::time_now();
    json!({
        "iss": issuer, "aud": AUDIENCE, "sub": "someone", "email": "someone@example.test",
        ROLE_CLAIM: [role.as_str()], "iat": now, "exp": now + 3600,
    })
}

async fn search_with(app: &shared::App, token: &str) -> Reply {
    let event = event(Route::SearchUsers, "GET", &[]).bearer(token);
    Reply::from(routes::route(app, Route::SearchUsers, event.request()).await)
}

/// DEFECT (availability / amplification, shared/src/auth/operator.rs
/// `OperatorVerifier::key`): `fetched` is only updated when a fetch
/// succeeds, so once the provider answers with an error, EVERY token naming
/// an unknown `kid` (anyone can mint one) fetches the JWKS again: the
/// `OIDC_JWKS_MIN_REFRESH_SECONDS` bound ("unknown kids cannot make us
/// hammer the provider") stops holding exactly when the provider is
/// struggling (a 429 or a 5xx), and we hammer it.
/// SHOULD: record the time of every attempt (success or failure) and rate
/// limit attempts, not successes.
#[tokio::test]
async fn a_failing_provider_is_fetched_again_for_every_unknown_kid() {
    let key = SigningKey::generate("key-1");
    let (url, fetches) = flaky_jwks(json!({"keys": [key.jwk.clone()]}), false).await;
    let issuer = "https://idp.example.test".to_owned();
    let oidc = Oidc {
        issuer: issuer.clone(),
        audience: AUDIENCE.into(),
        role_claim: ROLE_CLAIM.into(),
        jwks_url: Some(url),
        min_refresh: Duration::from_secs(1),
    };
    let env = TestEnv::with(|c| c.oidc = Some(oidc)).await;
    let valid = key.sign(&operator_claims(&issuer, Role::Viewer));
    assert_eq!(search_with(&env.app, &valid).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for n in 0..10 {
        let stranger = SigningKey::generate(&format!("unknown-{n}"))
            .sign(&operator_claims(&issuer, Role::Admin));
        assert_eq!(search_with(&env.app, &stranger).await.status, 401);
    }
    assert!(
        fetches.load(Ordering::SeqCst) <= 2,
        "{} JWKS fetches for 10 unknown kids in well under a second: the \
         one-fetch-per-interval bound does not hold while the provider errors",
        fetches.load(Ordering::SeqCst)
    );
}

/// DEFECT (availability, shared/src/auth/operator.rs `OperatorVerifier::key`):
/// the one `tokio::Mutex` over the keys is held across the network fetch
/// (up to the client's 5 s timeout). A token with an unknown `kid` (from
/// anyone, no secret needed) while the provider is slow makes every
/// operator's request on that instance wait behind the fetch, although the
/// keys held verify their tokens; with the failure not rate limited (test
/// above), a stream of such tokens holds the lock for good: operators are
/// locked out for as long as the provider is slow. The same happens to
/// every request after the hourly refresh comes due while the provider is
/// unreachable (each request refetches, serially).
/// SHOULD: verify with the keys held without waiting for a fetch in
/// progress (fetch outside the lock, single-flight, swap the set when
/// done), and rate limit failed fetches.
#[tokio::test]
async fn an_unknown_kid_makes_valid_operators_wait_for_a_hanging_provider() {
    let key = SigningKey::generate("key-1");
    let (url, _) = flaky_jwks(json!({"keys": [key.jwk.clone()]}), true).await;
    let issuer = "https://idp.example.test".to_owned();
    let oidc = Oidc {
        issuer: issuer.clone(),
        audience: AUDIENCE.into(),
        role_claim: ROLE_CLAIM.into(),
        jwks_url: Some(url),
        min_refresh: Duration::from_secs(1),
    };
    let env = TestEnv::with(|c| c.oidc = Some(oidc)).await;
    let valid = key.sign(&operator_claims(&issuer, Role::Viewer));
    assert_eq!(search_with(&env.app, &valid).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let app = env.app.clone();
    let stranger = SigningKey::generate("unknown").sign(&operator_claims(&issuer, Role::Admin));
    let attacker = tokio::spawn(async move { search_with(&app, &stranger).await.status });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    assert_eq!(search_with(&env.app, &valid).await.status, 200);
    let waited = started.elapsed();
    let _ = attacker.await;
    assert!(
        waited < Duration::from_secs(1),
        "a valid operator token, whose key is held, waited {waited:?} behind an \
         attacker's unknown-kid fetch"
    );
}

// ---------------------------------------------------------------------------
// 4. GET /audit drops entries when DynamoDB cuts a page at 1 MB.
// ---------------------------------------------------------------------------

/// DEFECT (integrity of the reading, shared/src/store/audit.rs
/// `list_audit`): one Query with `Limit = limit + 1`, and "fewer than asked
/// for: the partition is done". DynamoDB also ends a page at 1 MB of items
/// read, with a `LastEvaluatedKey`, which the code ignores: when 501
/// entries weigh more than 1 MB (about 2 KB each: entries are allowed
/// 512-byte actor, name, user agent and target id), `limit=500` answers a
/// short page with NO `next`, and the older entries cannot be reached
/// through that filter. The admin is told the trail ends there.
/// SHOULD: when the Query returns a `LastEvaluatedKey` and fewer than
/// `limit + 1` items, either Query on or answer a `next` from it.
#[tokio::test]
async fn a_page_cut_at_one_megabyte_ends_the_listing_silently() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let admin = idp.token(Role::Admin);
    // What a sign-in of an operator with a long subject and email, from a
    // client with a long user agent, records (all within the sizes the
    // audit module itself allows).
    let actor = format!("operator:{}", "s".repeat(255));
    let stamp = Stamp {
        actor: Actor::claimed(&actor),
        name: Some(format!("{}@example.test", "n".repeat(400))),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        source_ip: Some("198.51.100.7".into()),
        user_agent: Some("u".repeat(512)),
    };
    let total = 501;
    futures::future::join_all((0..total).map(|_| {
        let entry = Entry::new(Action::OperatorSignedIn, stamp.clone()).target("operator", &actor);
        let store = env.app.store.clone();
        async move { store.append_audit(&entry, 1).await.expect("appended") }
    }))
    .await;
    assert_eq!(env.audit_items().await.len(), total);
    tests::eventually("the audit index holds every entry", || async {
        let mut seen = 0;
        let mut next: Option<String> = None;
        loop {
            let mut params = vec![("limit", "100".to_owned())];
            if let Some(n) = &next {
                params.push(("next", n.clone()));
            }
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let reply = audit(&env, &admin, &params).await;
            seen += data(&reply).len();
            next = reply.body["links"]["next"].as_str().map(|link| {
                let (_, query) = link.split_once('?').unwrap();
                form_urlencoded::parse(query.as_bytes())
                    .find(|(k, _)| k == "next")
                    .unwrap()
                    .1
                    .into_owned()
            });
            if next.is_none() {
                return seen == total;
            }
        }
    })
    .await;

    let reply = audit(&env, &admin, &[("limit", "500")]).await;
    let got = data(&reply).len();
    let has_next = reply.body["links"]
        .get("next")
        .is_some_and(|n| !n.is_null());
    assert!(
        got == 500 || has_next,
        "{total} entries exist; limit=500 answered {got} and no next link: \
         the rest of the trail is unreachable from this page"
    );
}

// ---------------------------------------------------------------------------
// 5. Refused sign-ins: who, and how much an anonymous caller makes us keep.
// ---------------------------------------------------------------------------

/// DEFECT (audit content, shared/src/api/operators.rs `sign_in`): every
/// refused sign-in is recorded as `anonymous`, even when the token's
/// signature verified and only its role (403) was missing: we KNOW who
/// tried (the provider vouched for `sub`), but the entry drops it, so
/// "which person keeps trying to get in without a role" cannot be asked
/// (`actor.eq('operator:<sub>')` finds nothing).
/// SHOULD: for a token whose signature, issuer and audience verified,
/// record `operator:<sub>` (and the email) with reason "no role" (or
/// "token expired").
#[tokio::test]
async fn a_refused_sign_in_with_a_verified_token_forgets_who_it_was() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let mut claims = idp.claims(Role::Viewer);
    claims["sub"] = json!("no-role-subject");
    claims[ROLE_CLAIM] = json!(["finance"]);
    let token = idp.sign(&claims);
    let reply = send(
        &env,
        Route::SignIn,
        event(Route::SignIn, "POST", &[]),
        &token,
    )
    .await;
    assert_eq!(reply.status, 403, "{:#}", reply.body);
    let entries = env.audit_items().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(text(&entries[0], "action"), "operator.sign_in_refused");
    assert_eq!(
        text(&entries[0], "actor"),
        "operator:no-role-subject",
        "the provider vouched for this subject; the entry should name it"
    );
}

/// DEFECT / POLICY (write amplification, shared/src/api/operators.rs
/// `sign_in` + template.yaml: `POST /sign-ins` has no route throttle,
/// unlike `POST /token`'s 5 rps): a request with NO Authorization header
/// at all, from anyone on the internet, makes a 7-year audit entry
/// (conditional PutItem: the item, `auditByTime` and `auditByActor`, as
/// measured below), in the one `AUDIT` partition of `auditByTime` and
/// the one `anonymous` partition of `auditByActor`. At the stage limit
/// (100 rps) that is 8.6 million undeletable entries a day, 26 million
/// write units a day, burying real refusals in `GET /audit` and costing
/// storage for seven years; the same for a garbage bearer token.
/// SHOULD: a request without a token, or with one that does not even
/// parse or verify, is not a sign-in attempt worth 7 years: log it (with
/// metrics), and audit only refusals of tokens whose signature verified
/// (expired, no role); and throttle `POST /sign-ins` like `POST /token`.
#[tokio::test]
async fn an_anonymous_caller_with_no_token_makes_a_seven_year_entry() {
    let (env, _idp) = TestEnv::with_operators(|_| {}).await;
    env.app.store.meter().reset();
    let ua = "\u{1F600}".repeat(256);
    let event = event(Route::SignIn, "POST", &[])
        .without_auth()
        .header("user-agent", &ua);
    let reply = env.api().call(Route::SignIn, event).await;
    assert_eq!(reply.status, 401, "{:#}", reply.body);
    let units = env.app.store.meter().write_units();
    let entries = env.audit_items().await;
    assert!(
        entries.is_empty(),
        "a request with no token at all wrote {} audit entr(y/ies) ({units} write units), \
         kept {} days, actor {:?}",
        entries.len(),
        env.app.config.audit_retention_days,
        entries.first().map(|e| text(e, "actor").to_owned())
    );
}

// ---------------------------------------------------------------------------
// 6. The operator's name in the trail comes from an unverified claim.
// ---------------------------------------------------------------------------

/// DEFECT (audit content, shared/src/auth/operator.rs `verify` and
/// shared/src/auth/mod.rs `display_name`): the email shown as the actor's
/// name in every entry and stamp is taken from the `email` claim without
/// looking at `email_verified`. With providers whose `email` is
/// user-editable and unverified (Entra ID's `email`, many Okta/Keycloak
/// setups), an operator can appear in the audit page under a colleague's
/// email ("an admin sees that deletion in the audit page, with the
/// editor's name" is then a lie).
/// SHOULD: take `email` only when `email_verified` is true (or absent for
/// providers that do not send it, configurable), else fall back to `name`
/// or `preferred_username`, marked as such.
#[tokio::test]
async fn an_unverified_email_becomes_the_actors_name() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let mut claims = idp.claims(Role::Editor);
    claims["email"] = json!("ceo@example.test");
    claims["email_verified"] = json!(false);
    let token = idp.sign(&claims);
    let reply = send(
        &env,
        Route::SignIn,
        event(Route::SignIn, "POST", &[]),
        &token,
    )
    .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let entries = env.audit_items().await;
    assert_eq!(entries.len(), 1);
    assert_ne!(
        text(&entries[0], "actorName"),
        "ceo@example.test",
        "an unverified email is recorded as who signed in"
    );
}

// ---------------------------------------------------------------------------
// 7. GET /api-keys is unbounded.
// ---------------------------------------------------------------------------

/// DEFECT (unbounded work, shared/src/store/api_keys.rs `list_api_keys` and
/// shared/src/api/api_keys.rs `list_api_keys`): the design bounds the list
/// at 100 keys ("bounded: at most 100 keys"), but only ACTIVE keys are
/// counted; revoked keys are kept forever and every one is read (Query
/// page after page) and answered in one body, with no `limit` or `next`.
/// Each create + revoke adds an item for good, so the answer grows without
/// bound until it passes Lambda's 6 MB response limit (~15,000 keys) and
/// the API-keys page and route fail.
/// SHOULD: page the list (`limit`/`next`, as other lists), or list only
/// active keys by default, or expire revoked keys' items (a numeric TTL).
#[tokio::test]
async fn revoked_keys_grow_the_key_list_without_bound() {
    let (env, idp) = TestEnv::with_operators(|_| {}).await;
    let admin = idp.token(Role::Admin);
    for n in 0..101 {
        let created = send(
            &env,
            Route::CreateApiKey,
            event(Route::CreateApiKey, "POST", &[]).json(&json!({"name": format!("k{n}")})),
            &admin,
        )
        .await;
        assert_eq!(created.status, 201, "{:#}", created.body);
        let id = created.id();
        let revoked = send(
            &env,
            Route::RevokeApiKey,
            event(Route::RevokeApiKey, "DELETE", &[("keyId", &id)]),
            &admin,
        )
        .await;
        assert_eq!(revoked.status, 204);
    }
    let list = send(
        &env,
        Route::ListApiKeys,
        event(Route::ListApiKeys, "GET", &[]),
        &admin,
    )
    .await;
    assert_eq!(list.status, 200);
    let count = data(&list).len();
    let paged = list.body["links"].get("next").is_some_and(|n| !n.is_null());
    assert!(
        count <= shared::auth::MAX_API_KEYS || paged,
        "GET /api-keys answered {count} keys in one unpaged body"
    );
}
