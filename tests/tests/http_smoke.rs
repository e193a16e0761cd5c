//! Create, get, a nested route, and delete over real HTTP through `cargo lambda watch`, with the
//! router from Cargo.toml mapping paths to functions.

use serde_json::{json, Value};
use tests::watch::Watch;
use tests::TestEnv;

#[tokio::test]
async fn create_get_delete_over_http() {
    let env = TestEnv::new().await;
    let key = shared::auth::ApiKey::generate();
    env.app.store.add_api_key(&key, "smoke").await.unwrap();
    let watch = Watch::serve(&env).await;
    let http = watch.http();

    let issued = http
        .post(format!("{}/token", watch.base_url))
        .header("authorization", format!("Basic {}", key.expose()))
        .header("basiq-version", "3.0")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=SERVER_ACCESS")
        .send()
        .await
        .expect("POST /token");
    assert_eq!(issued.status(), 200);
    let issued: Value = issued.json().await.unwrap();
    let bearer = format!("Bearer {}", issued["access_token"].as_str().unwrap());
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
