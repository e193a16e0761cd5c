//! Hostile input: every case must get a 4xx Basiq error body, never a 5xx,
//! and leave the table exactly as it was.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use infra::seed::connection_body;
use serde_json::{json, Value};
use shared::auth::Scope;
use shared::routes::Route;
use tests::events::Event;
use tests::TestEnv;

fn user_event(method: &str, user: &str, rest: &str) -> Event {
    Event::user(method, user).path(&format!("/users/{user}{rest}"))
}

fn with_name(field: &str, value: &str) -> Value {
    let mut body = json!({"email": "hostile@example.com"});
    body[field] = json!(value);
    body
}

#[tokio::test]
async fn hostile_input_is_refused_and_changes_nothing() {
    let env = TestEnv::new().await;
    let api = env.api();
    let user = api
        .new_user(&json!({"email": "target@example.com", "firstName": "Target"}))
        .await;
    assert_eq!(
        api.ingest_connection(&user, &connection_body(1, 1, 20))
            .await
            .status,
        201
    );

    let mut cases: Vec<(String, Route, Event)> = Vec::new();
    let mut add = |name: String, route: Route, event: Event| cases.push((name, route, event));

    // Malformed, nested, duplicated, oversized and non-UTF-8 bodies, on every writing endpoint.
    let deep_arrays = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(300), "}".repeat(300));
    let huge = json!({"email": "a@b.co", "firstName": "x".repeat(70_000)}).to_string();
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("whitespace", b"  \n ".to_vec()),
        ("open brace", b"{".to_vec()),
        ("close brace", b"}".to_vec()),
        ("missing value", br#"{"email":}"#.to_vec()),
        ("single quotes", br#"{'email':'a@b.co'}"#.to_vec()),
        ("trailing comma", br#"{"email":"a@b.co",}"#.to_vec()),
        ("trailing garbage", br#"{"email":"a@b.co"}x"#.to_vec()),
        (
            "two documents",
            br#"{"email":"a@b.co"}{"email":"b@b.co"}"#.to_vec(),
        ),
        ("NaN", b"NaN".to_vec()),
        ("bare string", br#""a@b.co""#.to_vec()),
        ("null", b"null".to_vec()),
        ("array", br#"[{"email":"a@b.co"}]"#.to_vec()),
        (
            "duplicate keys",
            br#"{"email":"a@b.co","email":"b@b.co"}"#.to_vec(),
        ),
        (
            "nested duplicate keys",
            br#"{"email":"a@b.co","businessAddress":{"state":"NSW","state":"VIC"}}"#.to_vec(),
        ),
        ("raw NUL in string", b"{\"email\":\"a\0@b.co\"}".to_vec()),
        (
            "raw newline in string",
            b"{\"email\":\"a\n@b.co\"}".to_vec(),
        ),
        ("invalid UTF-8", b"{\"email\":\"\xff\xfe@b.co\"}".to_vec()),
        (
            "lone surrogate escape",
            br#"{"email":"\ud800@b.co"}"#.to_vec(),
        ),
        (
            "byte order mark",
            b"\xef\xbb\xbf{\"email\":\"a@b.co\"}".to_vec(),
        ),
        ("deep arrays", deep_arrays.into_bytes()),
        ("deep objects", deep_objects.into_bytes()),
        ("huge", huge.into_bytes()),
        ("number overflow", br#"{"email":1e999}"#.to_vec()),
        (
            "wrong types",
            br#"{"email":["a@b.co"],"mobile":{"n":1}}"#.to_vec(),
        ),
    ];
    for (name, bytes) in &malformed {
        add(
            format!("create: {name}"),
            Route::CreateUser,
            Event::new("POST", "/users").binary_body(bytes),
        );
        add(
            format!("update: {name}"),
            Route::UpdateUser,
            Event::user("PATCH", &user).binary_body(bytes),
        );
        add(
            format!("ingest: {name}"),
            Route::IngestConnection,
            user_event("POST", &user, "/connections").binary_body(bytes),
        );
    }

    // Names that impersonate or disguise, and injection-looking values where they are invalid.
    let names = [
        "G\u{430}vin",
        "B\u{435}lson",
        "\u{391}lpha",
        "ｇａｖｉｎ",
        "\u{1D406}avin",
        "Gav\u{202E}nileB",
        "\u{202D}Gavin",
        "Ga\u{200B}vin",
        "Ga\u{2066}vin\u{2069}",
        "\u{FEFF}Gavin",
        "Gavin\u{0}",
        "Gavin\u{7}",
        "Gavin\u{1B}[31m",
        "Ga\u{061C}vin",
        "G\u{13AA}vin",
        "B\u{585}b",
        "G\u{251}vin",
        "G\u{1D00}vin",
        "Ga\u{AD}vin",
        "Ga\u{34F}vin",
        "\u{301}Gavin",
        "Ga\u{E0041}vin",
        "Ga\u{2028}vin",
        "Ga\u{2800}vin",
        "Ga\u{FE0F}vin",
        "Ga\u{115F}vin",
    ];
    for (i, name) in names.iter().enumerate() {
        let field = ["firstName", "middleName", "lastName", "businessName"][i % 4];
        add(
            format!("name {name:?} in {field}"),
            Route::CreateUser,
            Event::new("POST", "/users").json(&with_name(field, name)),
        );
        add(
            format!("rename to {name:?}"),
            Route::UpdateUser,
            Event::user("PATCH", &user).json(&json!({"lastName": name})),
        );
    }
    for email in [
        "g\u{430}vin@hooli.com",
        "ga\u{200B}vin@hooli.com",
        "gavin@h\u{43E}\u{43E}li.com",
    ] {
        add(
            format!("look-alike email {email:?}"),
            Route::CreateUser,
            Event::new("POST", "/users").json(&json!({ "email": email })),
        );
    }
    let injections = [
        "a@b.co' OR '1'='1",
        "a@b.co\"; DROP TABLE users; --",
        "attribute_exists(pk)",
        "#pk = :pk",
        "a@b.co OR begins_with(pk, 'USER')",
        "${jndi:ldap://x}",
        "<script>alert(1)</script>@b.co",
    ];
    for value in injections {
        add(
            format!("email {value:?}"),
            Route::CreateUser,
            Event::new("POST", "/users").json(&json!({"email": value})),
        );
        add(
            format!("mobile {value:?}"),
            Route::CreateUser,
            Event::new("POST", "/users").json(&json!({"mobile": value})),
        );
        add(format!("businessIdNo {value:?}"), Route::CreateUser, Event::new("POST", "/users").json(&json!({"email": "a@b.co", "businessName": "B", "businessIdNoType": "ABN", "businessIdNo": value})));
        add(
            format!("filter id {value:?}"),
            Route::SearchUsers,
            Event::new("GET", "/users").query("filter", &format!("user.id.eq('{value}')")),
        );
        add(
            format!("filter raw {value:?}"),
            Route::SearchUsers,
            Event::new("GET", "/users").query("filter", value),
        );
        add(
            format!("search mobile {value:?}"),
            Route::SearchUsers,
            Event::new("GET", "/users").query("mobile", value),
        );
        add(
            format!("transactions filter {value:?}"),
            Route::ListTransactions,
            user_event("GET", &user, "/transactions").query("filter", value),
        );
        add(
            format!("account filter {value:?}"),
            Route::ListTransactions,
            user_event("GET", &user, "/transactions")
                .query("filter", &format!("account.id.eq('{value}')")),
        );
    }

    // Path traversal, over-long and odd ids, in every position.
    let long = "a".repeat(5_000);
    let ids = [
        "..%2F..%2Fetc%2Fpasswd",
        "../../etc/passwd",
        "..",
        "%00",
        "USER#x",
        "*",
        "' OR 1=1 --",
        long.as_str(),
        "ｕｓｅｒ",
        "\u{202E}",
    ];
    for id in ids {
        add(
            format!("get user {id:.20}"),
            Route::GetUser,
            Event::user("GET", id),
        );
        add(
            format!("update user {id:.20}"),
            Route::UpdateUser,
            Event::user("PATCH", id).json(&json!({"firstName": "X"})),
        );
        add(
            format!("delete user {id:.20}"),
            Route::DeleteUser,
            Event::user("DELETE", id),
        );
        add(
            format!("connections of {id:.20}"),
            Route::ListConnections,
            Event::user("GET", id),
        );
        add(
            format!("connection {id:.20}"),
            Route::GetConnection,
            user_event("GET", &user, "/connections/x").path_parameter("connectionId", id),
        );
        add(
            format!("delete connection {id:.20}"),
            Route::DeleteConnection,
            user_event("DELETE", &user, "/connections/x").path_parameter("connectionId", id),
        );
        add(
            format!("transaction {id:.20}"),
            Route::GetTransaction,
            user_event("GET", &user, "/transactions/x").path_parameter("transactionId", id),
        );
    }

    // Content types and sizes.
    for content_type in [
        "application/xml",
        "text/html",
        "multipart/form-data; boundary=x",
        "image/png",
    ] {
        add(
            format!("create as {content_type}"),
            Route::CreateUser,
            Event::new("POST", "/users")
                .raw_body(r#"{"email":"a@b.co"}"#)
                .header("content-type", content_type),
        );
        add(
            format!("update as {content_type}"),
            Route::UpdateUser,
            Event::user("PATCH", &user)
                .raw_body(r#"{"firstName":"X"}"#)
                .header("content-type", content_type),
        );
        add(
            format!("ingest as {content_type}"),
            Route::IngestConnection,
            user_event("POST", &user, "/connections")
                .raw_body("{}")
                .header("content-type", content_type),
        );
    }
    let oversize_ingest = connection_body(9, 1, 5_000).to_string().repeat(8);
    add(
        "ingest over 6 MB".into(),
        Route::IngestConnection,
        user_event("POST", &user, "/connections").raw_body(&oversize_ingest),
    );

    // Cursors: tampered, truncated, foreign, forged.
    let page = api.list_transactions(&user, &[("limit", "5")]).await;
    let next = page.body["links"]["next"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let cursor: String = form_urlencoded::parse(next.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned();
    let (payload, tag) = cursor.split_once('.').unwrap();
    let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"f":"x","p":["Start"]}"#);
    let bad_cursors = [
        format!("{payload}.{}", &tag[1..]),
        format!("{}.{tag}", &payload[1..]),
        format!("{forged_payload}.{tag}"),
        cursor[..cursor.len() / 2].to_owned(),
        format!("{cursor}A"),
        "".to_owned(),
        ".".to_owned(),
        "e30.e30".to_owned(),
        "A".repeat(9_000),
    ];
    for bad in &bad_cursors {
        add(
            format!("transactions cursor {bad:.16}"),
            Route::ListTransactions,
            user_event("GET", &user, "/transactions")
                .query("limit", "5")
                .query("next", bad),
        );
        add(
            format!("search cursor {bad:.16}"),
            Route::SearchUsers,
            Event::new("GET", "/users").query("next", bad),
        );
    }
    // The transactions cursor of one filter is foreign to another.
    add(
        "foreign cursor".into(),
        Route::ListTransactions,
        user_event("GET", &user, "/transactions")
            .query("filter", "account.id.eq('acc-1-0')")
            .query("next", &cursor),
    );

    // Tokens: tampered, expired, unsigned, and scopes that do not reach.
    let now = tests::time_now();
    let server = tests::token(Scope::ServerAccess, None);
    let (head, rest) = server.split_once('.').unwrap();
    let (claims, signature) = rest.split_once('.').unwrap();
    let escalated_claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"scope":"SERVER_ACCESS","iat":{now},"exp":{}}}"#,
        now + 99_999
    ));
    let unsigned = format!(
        "{}.{escalated_claims}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    );
    let client = tests::token(Scope::ClientAccess, Some(shared::user::UserId::new()));
    let tokens = [
        format!("{head}.{escalated_claims}.{signature}"),
        format!("{head}.{claims}.{}", &signature[..signature.len() - 2]),
        format!(
            "{}.{claims}.{signature}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#)
        ),
        unsigned,
        tests::token_at(Scope::ServerAccess, None, now - 3_601),
        client,
    ];
    for token in &tokens {
        add(
            format!("create with {token:.12}"),
            Route::CreateUser,
            Event::new("POST", "/users")
                .json(&json!({"email": "a@b.co"}))
                .bearer(token),
        );
        add(
            format!("delete with {token:.12}"),
            Route::DeleteUser,
            Event::user("DELETE", &user).bearer(token),
        );
        add(
            format!("read with {token:.12}"),
            Route::ListTransactions,
            user_event("GET", &user, "/transactions").bearer(token),
        );
    }
    add(
        "token with a key full of quotes".into(),
        Route::IssueToken,
        Event::new("POST", "/token")
            .without_auth()
            .header("authorization", "Basic ' OR 1=1 --")
            .header("basiq-version", "3.0")
            .raw_body("scope=SERVER_ACCESS"),
    );

    let before = env.item_count().await;
    let total = cases.len();
    for (name, route, event) in cases {
        let reply = env.api().call(route, event).await;
        assert!(
            (400..500).contains(&reply.status),
            "{name}: {} {:#}",
            reply.status,
            reply.body
        );
        assert_eq!(reply.body["type"], "list", "{name}");
        assert_eq!(reply.body["data"][0]["type"], "error", "{name}");
        assert!(
            reply.body["data"][0]["code"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
            "{name}"
        );
        assert!(
            reply.body["correlationId"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
            "{name}"
        );
    }
    assert_eq!(
        env.item_count().await,
        before,
        "no hostile request changed the table"
    );
    println!("{total} hostile cases, all refused with a 4xx Basiq error");
    assert!(total >= 200, "{total} cases");
}

/// Injection-looking text is only text: it is stored and found verbatim.
#[tokio::test]
async fn injection_looking_names_are_just_names() {
    let env = TestEnv::new().await;
    for name in [
        "Robert'); DROP TABLE users;--",
        "attribute_exists(pk) OR #pk",
        "${jndi:ldap://x}",
        "<b>Bold</b>",
    ] {
        let api = env.api();
        let reply = api
            .create_user(&json!({"email": "x@y.co", "lastName": name}))
            .await;
        assert_eq!(reply.status, 201, "{name}");
        assert_eq!(reply.body["lastName"], name);
        let found = api.search_users(&[("q", &reply.id())]).await;
        assert_eq!(found.body["data"][0]["lastName"], name);
        let searched = api.search_users(&[("lastName", name)]).await;
        assert_eq!(searched.status, 200, "{name}");
    }
}
