//! Over real HTTP, through the local API Gateway (`infra::gateway`) in front
//! of `cargo lambda watch`, as `make dev` serves the API: create, get, a
//! nested route and delete; then what API Gateway does around the functions
//! (unmatched paths, methods, trailing slashes, no CORS, bodies that are not
//! UTF-8, a forged Host) and the hand-over of a deletion to `purge-user`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::routes::ENDPOINTS;
use shared::user::UserId;
use tests::watch::Watch;
use tests::TestEnv;

#[tokio::test]
async fn create_get_delete_over_http() {
    let env = TestEnv::new().await.with_queue().await;
    let watch = Watch::serve(&env).await;
    let http = watch.http();
    // An API key traded at POST /token over HTTP, as a client does.
    let bearer = watch.bearer(&env).await;
    let unauthorized = http
        .get(format!("{}/users", watch.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);

    let created = http
        .post(format!("{}/users", watch.base_url))
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(json!({"email": "gavin@hooli.com", "mobile": "+61410888666", "firstName": "Gavin", "lastName": "Belson"}).to_string())
        .send()
        .await
        .expect("POST /users");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["links"]["self"],
        format!("{}/users/{id}", watch.base_url)
    );

    let fetched = http
        .get(format!("{}/users/{id}", watch.base_url))
        .header("authorization", &bearer)
        .send()
        .await
        .expect("GET /users/{id}");
    assert_eq!(fetched.status(), 200);
    let fetched: Value = fetched.json().await.unwrap();
    assert_eq!(fetched["name"], "Gavin Belson");

    // A nested route, with its path parameter, reaches its own function.
    let accounts = http
        .get(format!("{}/users/{id}/accounts", watch.base_url))
        .header("authorization", &bearer)
        .send()
        .await
        .expect("GET /users/{id}/accounts");
    assert_eq!(accounts.status(), 200);
    let accounts: Value = accounts.json().await.unwrap();
    assert_eq!(accounts["type"], "list");
    assert_eq!(accounts["count"], 0);

    let deleted = http
        .delete(format!("{}/users/{id}", watch.base_url))
        .header("authorization", &bearer)
        .send()
        .await
        .expect("DELETE /users/{id}");
    assert_eq!(deleted.status(), 204);

    let gone = http
        .get(format!("{}/users/{id}", watch.base_url))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let gone: Value = gone.json().await.unwrap();
    assert_eq!(gone["data"][0]["code"], "resource-not-found");
    assert_eq!(env.partition_count(&id).await, 0);
}

/// Status, headers and the JSON body of an answer.
async fn read(answer: reqwest::Response) -> (u16, reqwest::header::HeaderMap, String, Value) {
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let text = answer.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, text, body)
}

/// A Basiq error body of `code`, in JSON, that names none of our functions.
fn assert_basiq_error(text: &str, body: &Value, headers: &reqwest::header::HeaderMap, code: &str) {
    assert_eq!(body["type"], "list", "{text}");
    assert!(
        body["correlationId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{text}"
    );
    assert_eq!(body["data"][0]["type"], "error", "{text}");
    assert_eq!(body["data"][0]["code"], code, "{text}");
    assert_eq!(headers["content-type"], "application/json");
    for function in ENDPOINTS.iter().map(|e| e.function).chain(["purge-user"]) {
        assert!(!text.contains(function), "{text} names {function}");
    }
}

fn assert_no_cors(headers: &reqwest::header::HeaderMap, what: &str) {
    for name in headers.keys() {
        assert!(
            !name.as_str().starts_with("access-control-"),
            "{what} answered {name}"
        );
    }
}

#[tokio::test]
async fn the_gateway_answers_as_api_gateway_does() {
    // A budget of 1 ms: DELETE deletes one page and hands the rest over.
    // Not zero: cargo lambda watch gives every function the same environment,
    // and purge-user, which has no deadline of Lambda's here, works within
    // DELETE_BUDGET_MS too (a page an invocation), where zero is no time at all.
    let env = TestEnv::with(|c| c.delete_budget = Duration::from_millis(1))
        .await
        .with_queue()
        .await;
    let big = env
        .api()
        .new_user(&json!({"email": "gavin@hooli.com", "mobile": "+61410888666", "firstName": "Gavin", "lastName": "Belson"}))
        .await;
    let big_id = UserId::parse(&big).unwrap();
    infra::seed::fill_user(&env.app.store, &big_id, 0, 1_000, 16)
        .await
        .unwrap();
    let items = env.partition_count(&big).await;
    assert!(items > 1_000, "{items} items");

    let watch = Watch::serve(&env).await;
    let http = watch.http();
    let base = &watch.base_url;
    let bearer = watch.bearer(&env).await;

    // A forged Host changes nothing: links are the gateway's own URL.
    let created = http
        .post(format!("{base}/users"))
        .header("host", "evil.example")
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(json!({"email": "richard@piedpiper.com", "firstName": "Richard", "lastName": "Hendricks"}).to_string())
        .send()
        .await
        .expect("POST /users");
    let (status, _, text, created) = read(created).await;
    assert_eq!(status, 201, "{text}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["links"]["self"], format!("{base}/users/{id}"));
    let fetched = http
        .get(format!("{base}/users/{id}"))
        .header("host", "evil.example")
        .header("x-forwarded-proto", "https")
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    let (status, _, text, fetched) = read(fetched).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        fetched["links"]["self"]
            .as_str()
            .is_some_and(|link| link.starts_with(&format!("{base}/"))),
        "{text}"
    );

    // Unmatched paths, the watcher's own routes among them, are a Basiq 404
    // that names no function.
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/2015-03-31/functions/get-user/invocations"),
        ("POST", "/2015-03-31/functions/get-user/invocations"),
        ("POST", "/2015-03-31/functions/purge-user/invocations"),
        ("GET", "/lambda-url/get-user/"),
        ("GET", "/lambda-url/get-user/users"),
        ("GET", "/users//"),
        ("GET", "/index.html"),
    ] {
        let answer = http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{base}{path}"),
            )
            .header("authorization", &bearer)
            .body(json!({"version": "2.0", "rawPath": "/users"}).to_string())
            .send()
            .await
            .unwrap();
        let (status, headers, text, body) = read(answer).await;
        assert_eq!(status, 404, "{method} {path}: {text}");
        assert_basiq_error(&text, &body, &headers, "resource-not-found");
        assert_eq!(body["data"][0]["title"], "Requested resource is not found.");
    }

    // A method the path lacks: 405, with the methods it has.
    for (method, path, allow) in [
        ("PUT", format!("/users/{id}"), "GET, POST, PATCH, DELETE"),
        ("TRACE", "/users".to_owned(), "POST, GET"),
        ("OPTIONS", "/users".to_owned(), "POST, GET"),
        ("GET", "/token".to_owned(), "POST"),
    ] {
        let answer = http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{base}{path}"),
            )
            .header("authorization", &bearer)
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        let (status, headers, text, body) = read(answer).await;
        assert_eq!(status, 405, "{method} {path}: {text}");
        assert_eq!(headers["allow"], allow, "{method} {path}");
        assert_basiq_error(&text, &body, &headers, "method-not-allowed");
        assert_no_cors(&headers, &format!("{method} {path}"));
    }

    // One trailing slash is ignored.
    for (path, slashed) in [
        ("/users".to_owned(), "/users/".to_owned()),
        (format!("/users/{id}"), format!("/users/{id}/")),
    ] {
        let get = |path: String| {
            http.get(format!("{base}{path}"))
                .header("authorization", &bearer)
                .send()
        };
        let (status, _, text, plain) = read(get(path.clone()).await.unwrap()).await;
        assert_eq!(status, 200, "{path}: {text}");
        let (status, _, text, with_slash) = read(get(slashed.clone()).await.unwrap()).await;
        assert_eq!(status, 200, "{slashed}: {text}");
        assert_eq!(plain["data"], with_slash["data"], "{slashed}");
        assert_eq!(plain["id"], with_slash["id"], "{slashed}");
        assert_eq!(plain["links"], with_slash["links"], "{slashed}");
    }

    // No CORS: a foreign Origin gets no Access-Control-* header, here or on the page.
    for path in [format!("/users/{id}"), "/".to_owned()] {
        let answer = http
            .get(format!("{base}{path}"))
            .header("authorization", &bearer)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        assert_no_cors(answer.headers(), &path);
    }

    // A body that is not UTF-8 reaches the function, which refuses it itself.
    let answer = http
        .post(format!("{base}/users"))
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(b"{\"email\":\"\xff@b.co\"}".to_vec())
        .send()
        .await
        .unwrap();
    let (status, headers, text, body) = read(answer).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(body["type"], "list", "{text}");
    assert_eq!(body["data"][0]["type"], "error", "{text}");
    assert_eq!(headers["content-type"], "application/json");

    // Over Lambda's 6 MB: refused before any function runs.
    let answer = http
        .post(format!("{base}/users"))
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(vec![b' '; infra::gateway::MAX_BODY + 1])
        .send()
        .await
        .unwrap();
    let (status, headers, text, body) = read(answer).await;
    assert_eq!(status, 413, "{text}");
    assert_basiq_error(&text, &body, &headers, "invalid-content");

    // DELETE runs out of budget and answers 202; the emulated stream hands
    // the rest to purge-user, which empties the partition.
    let deleted = http
        .delete(format!("{base}/users/{big}"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    let (status, _, text, _) = read(deleted).await;
    assert_eq!(status, 202, "{text}");
    let gone = http
        .get(format!("{base}/users/{big}"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let left = env.partition_count(&big).await;
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hand-over left {left} of {items} items after 180 s"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
