//! Create, get, update and delete, in-process with real API Gateway v2 events,
//! against DynamoDB Local.

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde_json::{json, Value};
use shared::routes::Route;
use tests::api::gavin;
use tests::contract::assert_matches;
use tests::events::Event;
use tests::TestEnv;

#[tokio::test]
async fn create_get_update_get_delete_get() {
    let env = TestEnv::new().await;

    let created = env.api().create_user(&gavin()).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_matches("UserPostResponse", &created.body);
    let id = created.id();
    assert_eq!(created.body["type"], "user");
    assert_eq!(created.body["email"], "gavin@hooli.com");
    assert_eq!(created.body["middleName"], "");
    assert_eq!(
        created.body["links"]["self"],
        format!("https://api.example.test/users/{id}")
    );

    let fetched = env.api().get_user(&id).await;
    assert_eq!(fetched.status, 200);
    assert_matches("UserGetResponse", &fetched.body);
    assert_eq!(fetched.body["name"], "Gavin Belson");
    assert_eq!(
        fetched.body["connections"],
        json!({"type": "list", "count": 0, "data": []})
    );
    assert_eq!(
        fetched.body["accounts"],
        json!({"type": "list", "count": 0, "data": []})
    );
    assert_eq!(
        fetched.body["links"]["transactions"],
        format!("https://api.example.test/users/{id}/transactions")
    );

    let updated = env
        .api()
        .update_user(
            "POST",
            &id,
            &json!({"firstName": "Malcolm", "middleName": "M"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{:#}", updated.body);
    assert_matches("UserPostResponse", &updated.body);
    assert_eq!(updated.body["firstName"], "Malcolm");

    let fetched = env.api().get_user(&id).await;
    assert_eq!(fetched.body["name"], "Malcolm M Belson");
    assert_eq!(fetched.body["email"], "gavin@hooli.com");

    let deleted = env.api().delete_user(&id).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, Value::Null);

    let gone = env.api().get_user(&id).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.error().0, "resource-not-found");
    assert_matches("NotFoundError", &gone.body);
    assert_eq!(env.item_count().await, 0);
}

#[tokio::test]
async fn business_users_round_trip() {
    let env = TestEnv::new().await;
    let created = env
        .api()
        .create_user(&json!({
            "email": "gavin@hooli.com",
            "businessName": "Manly Accounting PTY LTD",
            "businessIdNo": "51 824 753 556",
            "businessIdNoType": "ABN",
            "businessAddress": {
                "addressLine1": "21 Sydney Rd", "addressLine2": "", "suburb": "Manly",
                "state": "NSW", "postcode": "2095", "countryCode": "AUS"
            },
            "verificationStatus": true,
            "verificationDate": "12/01/2024"
        }))
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_matches("UserPostResponse", &created.body);
    assert_eq!(created.body["mobile"], "");
    assert_eq!(created.body["businessIdNo"], "51824753556");
    assert_eq!(created.body["businessAddress"]["state"], "NSW");
    assert!(created.body["businessAddress"]
        .get("addressLine2")
        .is_none());

    let id = created.id();
    let updated = env.api().update_user("PATCH", &id, &json!({"businessIdNo": "004 085 616", "businessIdNoType": "ACN", "verificationStatus": false}))
    .await;
    assert_eq!(updated.status, 200, "{:#}", updated.body);
    assert_eq!(updated.body["businessIdNoType"], "ACN");
    assert_eq!(updated.body["businessName"], "Manly Accounting PTY LTD");
    assert_eq!(updated.body["verificationStatus"], false);
    assert_matches("UserGetResponse", &env.api().get_user(&id).await.body);
}

#[tokio::test]
async fn null_clears_and_absent_keeps() {
    let env = TestEnv::new().await;
    let id = env
        .api()
        .create_user(&json!({
            "email": "gavin@hooli.com", "mobile": "+61410888666",
            "firstName": "Gavin", "middleName": "X", "lastName": "Belson"
        }))
        .await
        .id();

    let updated = env
        .api()
        .update_user("PATCH", &id, &json!({"middleName": null, "mobile": null}))
        .await;
    assert_eq!(updated.status, 200, "{:#}", updated.body);
    let user = env.api().get_user(&id).await.body;
    assert_eq!(user["middleName"], "");
    assert_eq!(user["mobile"], "");
    assert_eq!(user["firstName"], "Gavin");
    assert_eq!(user["lastName"], "Belson");
    assert_eq!(user["email"], "gavin@hooli.com");
}

#[tokio::test]
async fn a_user_always_keeps_a_contact() {
    let env = TestEnv::new().await;
    let id = env
        .api()
        .create_user(&json!({"email": "gavin@hooli.com"}))
        .await
        .id();
    let before = env.api().get_user(&id).await.body;

    let refused = env
        .api()
        .update_user("PATCH", &id, &json!({"email": null}))
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error().0, "parameter-not-valid");
    assert_eq!(refused.pointer(), "/email");
    assert_eq!(
        env.api().get_user(&id).await.body,
        before,
        "a refused update writes nothing"
    );

    // Swapping one contact for the other in the same request is fine.
    let swapped = env
        .api()
        .update_user(
            "PATCH",
            &id,
            &json!({"email": null, "mobile": "+61 410 888 666"}),
        )
        .await;
    assert_eq!(swapped.status, 200, "{:#}", swapped.body);
    assert_eq!(swapped.body["email"], "");
    assert_eq!(swapped.body["mobile"], "+61410888666");
}

#[tokio::test]
async fn business_id_rules_hold_against_the_stored_user() {
    let env = TestEnv::new().await;
    let id = env
        .api()
        .create_user(&json!({"email": "gavin@hooli.com"}))
        .await
        .id();

    let refused = env
        .api()
        .update_user(
            "PATCH",
            &id,
            &json!({"businessIdNo": "51 824 753 556", "businessIdNoType": "ABN"}),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error().0, "parameter-not-supplied");
    assert_eq!(refused.pointer(), "/businessName");

    let with_name = env.api().update_user("PATCH", &id, &json!({"businessIdNo": "51 824 753 556", "businessIdNoType": "ABN", "businessName": "Hooli"}))
    .await;
    assert_eq!(with_name.status, 200);

    let refused = env
        .api()
        .update_user("PATCH", &id, &json!({"businessName": null}))
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.pointer(), "/businessName");
    assert_eq!(env.api().get_user(&id).await.body["businessName"], "Hooli");
}

/// Every rule, each with the exact status, code and pointer, and nothing written.
#[tokio::test]
async fn invalid_creates_are_refused_and_write_nothing() {
    let env = TestEnv::new().await;
    let long_email = format!("{}@hooli.com", "a".repeat(250));
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({}), 400, "parameter-not-supplied", "/email"),
        (
            json!({"firstName": "Gavin"}),
            400,
            "parameter-not-supplied",
            "/email",
        ),
        (
            json!({"email": "gavin"}),
            400,
            "parameter-not-valid",
            "/email",
        ),
        (
            json!({"email": "gavin@"}),
            400,
            "parameter-not-valid",
            "/email",
        ),
        (
            json!({"email": long_email}),
            400,
            "parameter-not-valid",
            "/email",
        ),
        (json!({"email": 42}), 400, "parameter-not-valid", "/email"),
        (
            json!({"mobile": "0410888666"}),
            400,
            "parameter-not-valid",
            "/mobile",
        ),
        (
            json!({"mobile": "+1234567"}),
            400,
            "parameter-not-valid",
            "/mobile",
        ),
        (
            json!({"mobile": "+1234567890123456"}),
            400,
            "parameter-not-valid",
            "/mobile",
        ),
        (
            json!({"mobile": 61410888666u64}),
            400,
            "parameter-not-valid",
            "/mobile",
        ),
        (
            json!({"email": "a@b.co", "firstName": "x".repeat(101)}),
            400,
            "parameter-not-valid",
            "/firstName",
        ),
        (
            json!({"email": "a@b.co", "middleName": "a\u{0}b"}),
            400,
            "parameter-not-valid",
            "/middleName",
        ),
        (
            json!({"email": "a@b.co", "lastName": "Bel\u{202E}nos"}),
            400,
            "parameter-not-valid",
            "/lastName",
        ),
        (
            json!({"email": "a@b.co", "lastName": ["Belson"]}),
            400,
            "parameter-not-valid",
            "/lastName",
        ),
        (
            json!({"email": "a@b.co", "businessIdNoType": "TFN", "businessIdNo": "1"}),
            400,
            "parameter-not-valid",
            "/businessIdNoType",
        ),
        (
            json!({"email": "a@b.co", "businessName": "H", "businessIdNo": "51 824 753 557", "businessIdNoType": "ABN"}),
            400,
            "parameter-not-valid",
            "/businessIdNo",
        ),
        (
            json!({"email": "a@b.co", "businessName": "H", "businessIdNo": "004 085 617", "businessIdNoType": "ACN"}),
            400,
            "parameter-not-valid",
            "/businessIdNo",
        ),
        (
            json!({"email": "a@b.co", "businessIdNo": "51 824 753 556", "businessIdNoType": "ABN"}),
            400,
            "parameter-not-supplied",
            "/businessName",
        ),
        (
            json!({"email": "a@b.co", "businessName": "H", "businessIdNo": "51 824 753 556"}),
            400,
            "parameter-not-supplied",
            "/businessIdNoType",
        ),
        (
            json!({"email": "a@b.co", "businessAddress": {"countryCode": "AUS", "state": "XYZ", "postcode": "2095"}}),
            400,
            "parameter-not-valid",
            "/businessAddress/state",
        ),
        (
            json!({"email": "a@b.co", "businessAddress": {"countryCode": "AUS", "state": "NSW", "postcode": "20950"}}),
            400,
            "parameter-not-valid",
            "/businessAddress/postcode",
        ),
        (
            json!({"email": "a@b.co", "businessAddress": {"countryCode": "Australia"}}),
            400,
            "parameter-not-valid",
            "/businessAddress/countryCode",
        ),
        (
            json!({"email": "a@b.co", "businessAddress": {"planet": "Earth"}}),
            400,
            "parameter-not-valid",
            "/businessAddress/planet",
        ),
        (
            json!({"email": "a@b.co", "businessAddress": "21 Sydney Rd"}),
            400,
            "parameter-not-valid",
            "/businessAddress",
        ),
        (
            json!({"email": "a@b.co", "verificationStatus": "yes"}),
            400,
            "parameter-not-valid",
            "/verificationStatus",
        ),
        (
            json!({"email": "a@b.co", "verificationDate": "2024-01-12"}),
            400,
            "parameter-not-valid",
            "/verificationDate",
        ),
        (
            json!({"email": "a@b.co", "id": "mine"}),
            400,
            "parameter-not-valid",
            "/id",
        ),
        (
            json!({"email": "a@b.co", "isAdmin": true}),
            400,
            "parameter-not-valid",
            "/isAdmin",
        ),
        (
            json!([{"email": "a@b.co"}]),
            400,
            "parameter-not-valid",
            "/",
        ),
    ];
    for (body, status, code, pointer) in cases {
        let reply = env.api().create_user(&body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {:#}", reply.body);
        assert_eq!(reply.error().0, code, "{body}");
        assert_eq!(reply.pointer(), pointer, "{body}");
        assert_matches("BadRequestError", &reply.body);
        assert!(reply.body["correlationId"]
            .as_str()
            .is_some_and(|c| c.starts_with("req-")));
    }
    assert_eq!(
        env.requests.operations(),
        Vec::<String>::new(),
        "none reached DynamoDB"
    );
    assert_eq!(
        env.item_count().await,
        0,
        "no refused request wrote anything"
    );
}

#[tokio::test]
async fn unreadable_bodies_are_refused_and_write_nothing() {
    let env = TestEnv::new().await;
    let post = || Event::new("POST", "/users");
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let oversize = json!({"email": "a@b.co", "firstName": "x".repeat(70_000)}).to_string();
    let cases: Vec<(Event, u16, &str)> = vec![
        (post(), 400, "invalid-content"),
        (post().raw_body("{\"email\": "), 400, "invalid-content"),
        (post().raw_body("not json"), 400, "invalid-content"),
        (post().raw_body(&nested), 400, "invalid-content"),
        (
            post().binary_body(b"{\"email\": \"\xff\xfe@b.co\"}"),
            400,
            "invalid-content",
        ),
        (post().raw_body(&oversize), 413, "invalid-content"),
        (
            post()
                .raw_body("<user/>")
                .header("content-type", "application/xml"),
            415,
            "invalid-content",
        ),
    ];
    for (event, status, code) in cases {
        let reply = env.api().call(Route::CreateUser, event).await;
        assert_eq!(reply.status, status, "{:#}", reply.body);
        assert_eq!(reply.error().0, code);
    }
    // curl's default content type for -d is accepted when the body is JSON.
    let curl = post()
        .raw_body(&gavin().to_string())
        .header("content-type", "application/x-www-form-urlencoded");
    assert_eq!(env.api().call(Route::CreateUser, curl).await.status, 201);
    assert_eq!(env.item_count().await, 1);
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let env = TestEnv::new().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(env.api().get_user(&unknown).await.status, 404);
    assert_eq!(
        env.api()
            .update_user("PATCH", &unknown, &json!({"firstName": "X"}))
            .await
            .status,
        404
    );
    assert_eq!(env.api().delete_user(&unknown).await.status, 404);

    for bad in ["nope", "..%2F..%2Fetc%2Fpasswd", &"a".repeat(2000)] {
        let reply = env.api().get_user(bad).await;
        assert_eq!(reply.status, 400, "{bad}");
        assert_eq!(reply.error().0, "parameter-not-valid");
        assert_eq!(reply.body["data"][0]["source"]["parameter"], "userId");
    }
    assert_eq!(env.item_count().await, 0);
}

#[tokio::test]
async fn each_operation_makes_one_request() {
    let env = TestEnv::new().await;
    let id = env.api().create_user(&gavin()).await.id();
    assert_eq!(env.requests.operations(), ["PutItem"]);
    env.requests.clear();

    env.api().get_user(&id).await;
    assert_eq!(env.requests.operations(), ["Query"]);
    env.requests.clear();

    env.api()
        .update_user("PATCH", &id, &json!({"lastName": "Hooli"}))
        .await;
    assert_eq!(env.requests.operations(), ["UpdateItem"]);
    env.requests.clear();

    // Tombstone, one keys-only page, then the profile itself.
    env.api().delete_user(&id).await;
    assert_eq!(
        env.requests.operations(),
        ["UpdateItem", "Query", "DeleteItem"]
    );
}

#[tokio::test]
async fn concurrent_updates_of_different_fields_both_survive() {
    let env = TestEnv::new().await;
    for _ in 0..5 {
        let id = env.api().create_user(&gavin()).await.id();
        let (first, last) = (
            json!({"firstName": "Richard"}),
            json!({"lastName": "Hendricks"}),
        );
        let (a, b) = tokio::join!(
            env.api().update_user("PATCH", &id, &first),
            env.api().update_user("PATCH", &id, &last),
        );
        assert_eq!((a.status, b.status), (200, 200));
        let user = env.api().get_user(&id).await.body;
        assert_eq!(user["firstName"], "Richard");
        assert_eq!(user["lastName"], "Hendricks");
        assert_eq!(user["email"], "gavin@hooli.com");
    }
}

#[tokio::test]
async fn delete_removes_the_whole_partition() {
    let env = TestEnv::new().await;
    let id = env.api().create_user(&gavin()).await.id();
    with_children(&env, &id, 1_000).await;
    assert_eq!(env.partition_count(&id).await, 1_001);

    env.requests.clear();
    assert_eq!(env.api().delete_user(&id).await.status, 204);
    assert_eq!(env.partition_count(&id).await, 0);
    assert_eq!(
        env.requests.count("BatchWriteItem"),
        40,
        "⌈1000/25⌉ batches"
    );
    assert_eq!(env.api().get_user(&id).await.status, 404);
}

/// `count` child items under a user, written through the store.
async fn with_children(env: &TestEnv, id: &str, count: usize) {
    let user_id = shared::user::UserId::parse(id).unwrap();
    let children: Vec<WriteRequest> = (0..count)
        .map(|n| {
            let item = [
                (shared::keys::PK, shared::keys::user_pk(&user_id)),
                (
                    shared::keys::SK,
                    shared::keys::transaction_sk(&format!("txn-{n:05}"), "conn-1"),
                ),
                ("description", format!("child {n}")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
            .collect();
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    env.app.store.write_batches(children, 8).await.unwrap();
}

#[tokio::test]
async fn a_deletion_cut_short_is_invisible_and_resumes() {
    let env = TestEnv::with(|c| c.delete_budget = std::time::Duration::ZERO).await;
    let id = env.api().create_user(&gavin()).await.id();
    with_children(&env, &id, 1_500).await;
    let reply = env.api().delete_user(&id).await;
    assert_eq!(reply.status, 202, "{:#}", reply.body);
    assert_eq!(reply.body["status"], "in-progress");
    assert_eq!(env.api().get_user(&id).await.status, 404);
    assert_eq!(
        env.api()
            .update_user("PATCH", &id, &json!({"firstName": "Back"}))
            .await
            .status,
        404
    );
    let left = env.partition_count(&id).await;
    // The first page is 25 keys per writer (8 here): the profile and 199
    // children. 1,301 children, the tombstone and the hand-over item remain.
    assert_eq!(
        left, 1_303,
        "one page went, the tombstone and the hand-over stay"
    );

    // Each repeated DELETE (no purge-user is at work here) resumes the same
    // deletion, a page further each time (200 keys with no budget at all,
    // the hand-over among them, written again), until it finishes.
    let mut calls = 0;
    let mut left = left;
    while env.api().delete_user(&id).await.status == 202 {
        let now = env.partition_count(&id).await;
        assert!(
            now < left,
            "a resumed DELETE made progress: {left} -> {now}"
        );
        left = now;
        calls += 1;
        assert!(calls < 10, "the deletion finishes");
    }
    assert_eq!(
        calls, 6,
        "1,301 children at 198 a call, the last call finishing"
    );
    assert_eq!(env.partition_count(&id).await, 0);
    assert_eq!(env.api().delete_user(&id).await.status, 404);
}
