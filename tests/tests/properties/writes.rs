//! The properties of the writes: POST /token, POST /users, POST and PATCH
//! /users/{userId}, the deletions and POST /users/{userId}/connections.

use super::*;

// ---------------------------------------------------------------------------
// POST /token
// ---------------------------------------------------------------------------

fn token_auth() -> BoxedStrategy<Auth> {
    prop_oneof![
        8 => Just(Auth::Basic(BasicKey::Valid)),
        1 => Just(Auth::Basic(BasicKey::Padded)),
        1 => Just(Auth::Basic(BasicKey::Lower)),
        2 => "[!-~]{0,60}".prop_map(|key| Auth::Basic(BasicKey::Unknown(key))),
        1 => Just(Auth::Missing),
        1 => Just(Auth::Server(Spelling::Bearer)),
        1 => Just(Auth::ClientOwn),
        1 => "[ -~]{0,60}".prop_map(Auth::Raw),
    ]
    .boxed()
}

/// A token request's body and its content type: a form (the default), a
/// JSON object (with a JSON content type), nothing, or something else.
pub(crate) fn token_body(ids: &Ids) -> BoxedStrategy<(Payload, ContentType)> {
    let user = id_texts(ids);
    let pair = prop_oneof![
        3 => pick(&["SERVER_ACCESS", "CLIENT_ACCESS", "server_access", "CLIENT", "", " SERVER_ACCESS", "SERVER_ACCESS,CLIENT_ACCESS"])
            .prop_map(|scope| ("scope".to_owned(), scope)),
        1 => text(16).prop_map(|scope| ("scope".to_owned(), scope)),
        3 => user.prop_map(|id| ("userId".to_owned(), id)),
        1 => (pick(&["grant_type", "Scope", "user_id", "", "scope ", "userid"]), text(16)),
    ];
    let (own, other) = (ids.user.to_string(), ids.other.to_string());
    let valid = prop_oneof![
        Just(Vec::new()),
        Just(vec![("scope".to_owned(), "SERVER_ACCESS".to_owned())]),
        Just(vec![
            ("scope".to_owned(), "CLIENT_ACCESS".to_owned()),
            ("userId".to_owned(), own.clone())
        ]),
        Just(vec![
            ("userId".to_owned(), other),
            ("scope".to_owned(), "CLIENT_ACCESS".to_owned())
        ]),
    ];
    let pairs = prop_oneof![
        3 => valid,
        4 => prop::collection::vec(pair, 0..=4),
    ]
    .boxed();
    let form = (pairs.clone(), any::<bool>()).prop_map(|(pairs, form)| {
        Payload::Text(if form {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish()
        } else {
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&")
        })
    });
    let json_object = pairs.prop_map(|pairs| {
        Payload::Json(Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ))
    });
    let json_type = prop_oneof![
        4 => Just(ContentType::Default),
        1 => pick(&["application/json; charset=utf-8", "APPLICATION/JSON", " application/json"]).prop_map(ContentType::Is),
    ];
    let other_json = prop_oneof![
        prop::sample::select(vec![
            json!({"scope": 1}),
            json!({"userId": null}),
            json!({"scope": ["SERVER_ACCESS"]}),
            json!([]),
            json!("scope=SERVER_ACCESS"),
            json!(null),
            json!({"scope": {"a": "b"}}),
        ])
        .prop_map(Payload::Json),
        pick(&[
            "{\"scope\":\"CLIENT_ACCESS\",\"scope\":\"SERVER_ACCESS\"}",
            "{",
            "{}x",
            " ",
            "{\"scope\":\"SERVER_ACCESS\"",
            "scope=SERVER_ACCESS",
        ])
        .prop_map(Payload::Text),
    ];
    prop_oneof![
        8 => (form, prop_oneof![
            8 => Just(ContentType::Default),
            1 => Just(ContentType::Absent),
            1 => pick(&["text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=utf-8"]).prop_map(ContentType::Is),
        ]),
        3 => (json_object, json_type.clone()),
        1 => (other_json, json_type),
        1 => pick(&[
            "scope=SERVER_ACCESS&", "&scope=SERVER_ACCESS", "scope", "scope=", "=SERVER_ACCESS",
            "scope=SERVER%5FACCESS", "scope=SERVER_ACCESS%", "scope=SERVER_ACCESS&&", "scope=%FF",
            "{\"scope\":\"SERVER_ACCESS\"}",
        ])
        .prop_map(|text| (Payload::Text(text), ContentType::Default)),
        1 => prop::sample::select(vec![b"scope=SERVER_ACCESS\xff".to_vec(), b"scope=\xc3".to_vec(), b"\0".to_vec()])
            .prop_map(|bytes| (Payload::Bytes(bytes), ContentType::Default)),
        1 => Just((Payload::None, ContentType::Default)),
        1 => (text(40).prop_map(Payload::Text), content_type()),
    ]
    .boxed()
}

pub(crate) fn token_spec(ids: &Ids) -> BoxedStrategy<Spec> {
    (
        token_auth(),
        prop_oneof![
            8 => pick(&["3.0", "2.0", "1.0"]).prop_map(Some),
            2 => pick(&["4.0", "3", "3.0 ", "", "3.0,3.0", "3.00", "v3.0", "0.9"]).prop_map(Some),
            1 => Just(None),
        ],
        token_body(ids),
        prop_oneof![4 => Just(Vec::new()), 1 => prop::collection::vec(unknown_parameter(), 1..=2)],
    )
        .prop_map(|(auth, version, (body, content_type), query)| {
            let mut spec = Spec::new(Route::IssueToken, "POST");
            spec.auth = auth;
            if let Some(version) = version {
                spec.headers.push(("basiq-version".into(), version));
            }
            spec.body = body;
            spec.content_type = content_type;
            spec.query.pairs = query;
            spec
        })
        .boxed()
}

/// The fields a token request's body names, read the way the service
/// reads them: a JSON object's members when the content type is JSON and
/// there is a body, the form otherwise; `None` when the JSON is not an
/// object of strings (the request must then be refused).
fn fields_of(spec: &Spec) -> Option<Vec<(String, String)>> {
    let content_type = match (&spec.content_type, &spec.body) {
        (ContentType::Is(value), _) => value.clone(),
        (ContentType::Default, Payload::None) | (ContentType::Absent, _) => String::new(),
        (ContentType::Default, _) => "application/x-www-form-urlencoded".to_owned(),
    };
    let text;
    let bytes: &[u8] = match &spec.body {
        Payload::Text(t) => t.as_bytes(),
        Payload::Bytes(bytes) => bytes,
        Payload::Json(value) => {
            text = value.to_string();
            text.as_bytes()
        }
        Payload::None => &[],
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"));
    if json && !bytes.iter().all(u8::is_ascii_whitespace) {
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(bytes) else {
            return None;
        };
        object
            .into_iter()
            .map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect()
    } else {
        Some(form_urlencoded::parse(bytes).into_owned().collect())
    }
}

async fn token_case(world: &World, spec: Spec) -> Result<(), TestCaseError> {
    let (_, answer) = world.send(&spec).await?;
    let status = answer.status;
    let context = || format!("{status} {}", cut(&answer.body.to_string(), 400));
    match &spec.auth {
        Auth::Basic(BasicKey::Valid | BasicKey::Padded | BasicKey::Lower) => {
            prop_assert!(status != 401, "a valid API key refused: {}", context());
        }
        Auth::Basic(BasicKey::Unknown(_)) => {
            prop_assert!(
                matches!(status, 400 | 401),
                "an unknown API key: {}",
                context()
            );
        }
        Auth::Raw(raw) if raw.len() >= 6 && raw[..6].eq_ignore_ascii_case("basic ") => {
            prop_assert!(
                matches!(status, 400 | 401),
                "an unknown API key: {}",
                context()
            );
        }
        _ => prop_assert_eq!(status, 401, "no API key: {}", context()),
    }
    if status == 200 {
        let Some(fields) = fields_of(&spec) else {
            return Err(TestCaseError::fail(
                "a token for a body that is not a JSON object of strings",
            ));
        };
        // A token is issued for one unambiguous request.
        let named = |name: &str| -> Vec<&str> {
            fields
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let (scopes, users) = (named("scope"), named("userId"));
        prop_assert!(
            scopes.len() <= 1 && users.len() <= 1,
            "a token for a request that repeats a parameter: {fields:?}"
        );
        let token = answer.body["access_token"].as_str().unwrap_or("");
        let claims = TokenSigner::new(tests::TOKEN_SECRET)
            .verify(token)
            .map_err(|e| TestCaseError::fail(format!("an issued token does not verify: {e}")))?;
        let scope = match scopes.first() {
            Some(&"CLIENT_ACCESS") => Scope::ClientAccess,
            _ => Scope::ServerAccess,
        };
        prop_assert_eq!(claims.scope, scope);
        prop_assert_eq!(
            claims.user_id,
            users.first().and_then(|u| UserId::parse(u).ok())
        );
        prop_assert_eq!(&answer.body["token_type"], "Bearer");
        prop_assert_eq!(&answer.body["expires_in"], 3600);
        prop_assert_eq!(claims.sub, world.key.id());
    }
    Ok(())
}

#[test]
fn token_requests_are_answered_and_refusals_are_basiq_errors() {
    property("POST /token", 192, token_spec, |world, spec| {
        Box::pin(token_case(world, spec))
    });
}

// ---------------------------------------------------------------------------
// POST /users
// ---------------------------------------------------------------------------

fn create_spec() -> BoxedStrategy<Spec> {
    (
        payload(prop_oneof![1 => valid_user_body(), 1 => user_body()].boxed()),
        content_type(),
        idempotency_key(&["c1", "c2"]),
        auth(),
        prop_oneof![6 => Just(Vec::new()), 1 => prop::collection::vec(unknown_parameter(), 1..=2)],
    )
        .prop_map(|(body, content_type, key, auth, query)| {
            let mut spec = Spec::new(Route::CreateUser, "POST");
            spec.body = body;
            spec.content_type = content_type;
            spec.idempotency_key = key;
            spec.auth = auth;
            spec.query.pairs = query;
            spec
        })
        .boxed()
}

async fn create_case(world: &World, spec: Spec) -> Result<(), TestCaseError> {
    let (sent, answer) = world.send(&spec).await?;
    if matches!(answer.status, 200..=299) {
        prop_assert_eq!(answer.status, 201);
        prop_assert!(
            matches!(
                sent.caller,
                Caller::Server | Caller::Operator(Role::Editor | Role::Admin)
            ),
            "{:?} created a user",
            sent.caller
        );
        prop_assert_eq!(&answer.body["type"], "user");
        let id = answer.body["id"].as_str().unwrap_or("");
        prop_assert!(UserId::parse(id).is_ok(), "a new user's id {id:?}");
        reads_back(world, &answer).await?;
    }
    Ok(())
}

#[test]
fn create_user_bodies_are_validated_and_refusals_write_nothing() {
    property(
        "POST /users",
        192,
        |_| create_spec(),
        |world, spec| Box::pin(create_case(world, spec)),
    );
}

// ---------------------------------------------------------------------------
// POST and PATCH /users/{userId}
// ---------------------------------------------------------------------------

fn update_spec() -> BoxedStrategy<Spec> {
    (
        pick(&["PATCH", "POST"]),
        prop_oneof![
            6 => Just(UserRef::Seeded),
            1 => Just(UserRef::SeededUpper),
            1 => Just(UserRef::Other),
            1 => Just(UserRef::Fresh),
            1 => absent_user(),
            2 => odd_user_id().prop_map(UserRef::Text),
        ],
        payload(prop_oneof![2 => valid_patch(), 1 => user_body()].boxed()),
        (content_type(), if_match()),
        auth(),
    )
        .prop_map(|(method, user, body, (content_type, if_match), auth)| {
            let method = if method == "POST" { "POST" } else { "PATCH" };
            let mut spec = Spec::new(Route::UpdateUser, method);
            spec.user = user;
            spec.body = body;
            spec.content_type = content_type;
            spec.if_match = if_match;
            spec.auth = auth;
            spec
        })
        .boxed()
}

async fn update_case(world: &World, spec: Spec) -> Result<(), TestCaseError> {
    let (sent, answer) = world.send(&spec).await?;
    if sent.caller == Caller::Server && UserId::parse(&sent.path_user).is_err() {
        prop_assert_eq!(answer.status, 400);
        prop_assert_eq!(answer.parameter(), "userId");
    }
    if answer.status == 200 {
        let id = UserId::parse(&sent.path_user).map(|id| id.to_string());
        prop_assert_eq!(answer.body["id"].as_str(), id.as_deref().ok());
        prop_assert!(
            answer.headers.contains_key("etag"),
            "an update without an ETag"
        );
        reads_back(world, &answer).await?;
    }
    if matches!(spec.user, UserRef::Absent(_)) && sent.caller == Caller::Server {
        prop_assert!(
            matches!(answer.status, 400 | 404 | 412 | 413 | 415),
            "an update of no user answered {}",
            answer.status
        );
    }
    Ok(())
}

#[test]
fn update_user_bodies_and_preconditions_are_validated_and_refusals_write_nothing() {
    property(
        "POST|PATCH /users/{userId}",
        160,
        |_| update_spec(),
        |world, spec| Box::pin(update_case(world, spec)),
    );
}

// ---------------------------------------------------------------------------
// DELETE /users/{userId} and DELETE /users/{userId}/connections/{connectionId}
// ---------------------------------------------------------------------------

/// Deletions that cannot take the seeded user or its connection: those go
/// to users made for the case, to no user, or carry a precondition that
/// fails.
fn delete_spec() -> BoxedStrategy<Spec> {
    let guarded_if_match = prop_oneof![
        Just(IfMatch::Next),
        pick(&[
            "\"0\"",
            "W/\"0\"",
            "\"abc\"",
            "",
            "1",
            "\"-1\"",
            "\"18446744073709551616\"",
            "\"1\", \"2\""
        ])
        .prop_map(IfMatch::Raw),
    ];
    let delete_user = prop_oneof![
        3 => (prop_oneof![Just(UserRef::Fresh), Just(UserRef::FreshWithData)], if_match()),
        2 => (prop_oneof![Just(UserRef::Seeded), Just(UserRef::SeededUpper)], guarded_if_match)
            .prop_map(|(user, if_match)| (user, Some(if_match))),
        1 => (absent_user(), if_match()),
        2 => (odd_user_id().prop_map(UserRef::Text), if_match()),
    ]
    .prop_map(|(user, if_match)| {
        let mut spec = Spec::new(Route::DeleteUser, "DELETE");
        spec.user = user;
        spec.if_match = if_match;
        spec
    });
    let absent_connection = prop_oneof![
        "nx-[a-z0-9]{1,20}".prop_map(RecordRef::Text),
        pick(&["", "a/b", "ä", "conn-1 ", " conn-1", "CONN#conn-1"]).prop_map(RecordRef::Text),
        Just(RecordRef::Text("a".repeat(65))),
    ];
    let delete_connection = prop_oneof![
        3 => (Just(UserRef::FreshWithData), record_ref()),
        2 => (prop_oneof![Just(UserRef::Seeded), Just(UserRef::SeededUpper)], absent_connection),
        1 => (absent_user(), record_ref()),
        1 => (odd_user_id().prop_map(UserRef::Text), record_ref()),
    ]
    .prop_map(|(user, record)| {
        let mut spec = Spec::new(Route::DeleteConnection, "DELETE");
        spec.user = user;
        spec.record = record;
        spec
    });
    (
        prop_oneof![delete_user, delete_connection],
        auth(),
        prop_oneof![6 => Just(Payload::None), 1 => payload(user_body())],
    )
        .prop_map(|(mut spec, auth, body)| {
            spec.auth = auth;
            spec.body = body;
            spec
        })
        .boxed()
}

async fn delete_case(world: &World, spec: Spec) -> Result<(), TestCaseError> {
    let (sent, answer) = world.send(&spec).await?;
    if matches!(answer.status, 200..=299) {
        prop_assert!(
            matches!(spec.user, UserRef::Fresh | UserRef::FreshWithData),
            "a deletion that should have been refused answered {}",
            answer.status
        );
        prop_assert!(matches!(answer.status, 202 | 204));
        // Gone at once for every reader, whatever is left to remove.
        let api = world.env.api();
        let gone = match spec.route {
            Route::DeleteUser => api.get_user(&sent.path_user).await,
            _ => api.get_connection(&sent.path_user, &sent.record).await,
        };
        prop_assert_eq!(gone.status, 404, "read after its deletion: {}", gone.body);
        if spec.route == Route::DeleteConnection {
            let transaction = api.get_transaction(&sent.path_user, "txn-2-0").await;
            prop_assert_eq!(
                transaction.status,
                404,
                "a deleted connection's transaction"
            );
        }
    }
    if sent.caller == Caller::Server && matches!(spec.user, UserRef::Absent(_)) {
        prop_assert!(
            matches!(answer.status, 400 | 404 | 412),
            "a deletion under no user answered {}",
            answer.status
        );
    }
    Ok(())
}

#[test]
fn deletions_are_refused_without_a_trace_and_done_when_allowed() {
    property(
        "DELETE",
        96,
        |_| delete_spec(),
        |world, spec| Box::pin(delete_case(world, spec)),
    );
}

// ---------------------------------------------------------------------------
// POST /users/{userId}/connections
// ---------------------------------------------------------------------------

fn ingest_spec() -> BoxedStrategy<Spec> {
    (
        prop_oneof![
            6 => Just(UserRef::Seeded),
            1 => Just(UserRef::SeededUpper),
            1 => Just(UserRef::Other),
            1 => Just(UserRef::Fresh),
            1 => absent_user(),
            1 => odd_user_id().prop_map(UserRef::Text),
        ],
        payload(ingest_body()),
        content_type(),
        idempotency_key(&["k1", "k2"]),
        auth(),
    )
        .prop_map(|(user, body, content_type, key, auth)| {
            let mut spec = Spec::new(Route::IngestConnection, "POST");
            spec.user = user;
            spec.body = body;
            spec.content_type = content_type;
            spec.idempotency_key = key;
            spec.auth = auth;
            spec
        })
        .boxed()
}

async fn ingest_case(world: &World, spec: Spec) -> Result<(), TestCaseError> {
    let (sent, answer) = world.send(&spec).await?;
    if matches!(answer.status, 200..=299) {
        prop_assert_eq!(answer.status, 201);
        prop_assert_eq!(&answer.body["type"], "connection");
        if answer.headers.get("idempotent-replayed").is_none() {
            if let Payload::Json(body) = &spec.body {
                ingested(world, &sent.path_user, &answer, body).await?;
            }
        }
    }
    if sent.caller == Caller::Server && matches!(spec.user, UserRef::Absent(_)) {
        prop_assert!(
            matches!(answer.status, 400 | 404 | 409 | 413 | 415),
            "an ingest for no user answered {}",
            answer.status
        );
    }
    Ok(())
}

/// What an ingest that answered 201 sent is there to read: its connection,
/// each account with its balance, each transaction with its amount and its
/// date in UTC (unless another connection's transaction of the same id
/// answers first, as the README says it may).
async fn ingested(
    world: &World,
    user: &str,
    answer: &Answer,
    body: &Value,
) -> Result<(), TestCaseError> {
    let api = world.env.api();
    let connection = answer.body["id"].as_str().unwrap_or("").to_owned();
    let read = api.get_connection(user, &connection).await;
    prop_assert_eq!(
        read.status,
        200,
        "the connection just ingested: {}",
        read.body
    );
    for account in body["accounts"].as_array().into_iter().flatten().take(5) {
        let id = account["id"].as_str().unwrap_or("");
        let read = api.get_account(user, id).await;
        prop_assert_eq!(
            read.status,
            200,
            "account {} just ingested: {}",
            id,
            read.body
        );
        prop_assert_eq!(&read.body["balance"], &account["balance"]);
        prop_assert_eq!(read.body["connection"].as_str(), Some(connection.as_str()));
    }
    for transaction in body["transactions"].as_array().into_iter().flatten() {
        let id = transaction["id"].as_str().unwrap_or("");
        let read = api.get_transaction(user, id).await;
        prop_assert_eq!(
            read.status,
            200,
            "transaction {} just ingested: {}",
            id,
            read.body
        );
        if read.body["connection"].as_str() != Some(connection.as_str()) {
            continue;
        }
        prop_assert_eq!(&read.body["amount"], &transaction["amount"]);
        let sent = transaction["postDate"].as_str().unwrap_or("");
        let stored = shared::finance::Timestamp::parse(sent).map(|t| t.as_str().to_owned());
        prop_assert_eq!(read.body["postDate"].as_str(), stored.as_deref().ok());
    }
    Ok(())
}

#[test]
fn ingest_bodies_are_validated_and_refusals_write_nothing() {
    property(
        "POST /users/{userId}/connections",
        160,
        |_| ingest_spec(),
        |world, spec| Box::pin(ingest_case(world, spec)),
    );
}
