//! Optimistic concurrency: ETag from `version`, If-Match on update and delete.

use serde_json::{json, Value};
use shared::routes::Route;
use tests::api::gavin;
use tests::events::{Event, Reply};
use tests::TestEnv;

async fn update(env: &TestEnv, id: &str, if_match: Option<&str>, body: Value) -> Reply {
    let mut event = Event::user("PATCH", id).json(&body);
    if let Some(tag) = if_match {
        event = event.header("if-match", tag);
    }
    env.api().call(Route::UpdateUser, event).await
}

fn etag(reply: &Reply) -> String {
    reply.headers["etag"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn etags_follow_versions_and_if_match_guards_writes() {
    let env = TestEnv::new().await;
    let id = env.api().new_user(&gavin()).await;
    let fetched = env.api().get_user(&id).await;
    assert_eq!(etag(&fetched), "\"1\"");

    let updated = update(&env, &id, Some("\"1\""), json!({"firstName": "Richard"})).await;
    assert_eq!(updated.status, 200);
    assert_eq!(etag(&updated), "\"2\"");

    let stale = update(&env, &id, Some("\"1\""), json!({"firstName": "Stale"})).await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.error().0, "precondition-failed");
    let now = env.api().get_user(&id).await;
    assert_eq!(now.body["firstName"], "Richard", "a 412 changes nothing");
    assert_eq!(etag(&now), "\"2\"");

    // Without If-Match, updates behave as before; * means "whatever is there".
    assert_eq!(
        update(&env, &id, None, json!({"lastName": "H"}))
            .await
            .status,
        200
    );
    assert_eq!(
        update(&env, &id, Some("*"), json!({"lastName": "I"}))
            .await
            .status,
        200
    );
    assert_eq!(
        update(&env, &id, Some("W/\"4\""), json!({"lastName": "J"}))
            .await
            .status,
        200
    );
    let garbage = update(&env, &id, Some("yesterday"), json!({"lastName": "K"})).await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.body["data"][0]["source"]["parameter"], "If-Match");

    let delete_if = |tag: &str| Event::user("DELETE", &id).header("if-match", tag);
    let stale_delete = env.api().call(Route::DeleteUser, delete_if("\"2\"")).await;
    assert_eq!(stale_delete.status, 412);
    assert_eq!(
        env.api().get_user(&id).await.status,
        200,
        "a 412 deletes nothing"
    );
    let delete = env.api().call(Route::DeleteUser, delete_if("\"5\"")).await;
    assert_eq!(delete.status, 204);
    let unknown = update(&env, &id, Some("\"5\""), json!({"lastName": "L"})).await;
    assert_eq!(
        unknown.status, 404,
        "a deleted user is not found, whatever the ETag"
    );
}

#[tokio::test]
async fn twenty_racing_updates_with_one_etag_have_one_winner() {
    let env = TestEnv::new().await;
    let id = env.api().new_user(&gavin()).await;
    let updates = (0..20).map(|n| {
        let env = &env;
        let id = id.clone();
        async move {
            update(
                env,
                &id,
                Some("\"1\""),
                json!({"middleName": format!("M{n}")}),
            )
            .await
            .status
        }
    });
    let mut statuses = futures::future::join_all(updates).await;
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        19,
        "{statuses:?}"
    );
    let user = env.api().get_user(&id).await;
    assert_eq!(etag(&user), "\"2\"");
}
