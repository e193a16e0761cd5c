//! The world each property runs in.

use super::*;

/// The seeded users, known to the generators.
#[derive(Debug, Clone)]
pub(crate) struct Ids {
    pub(crate) user: UserId,
    pub(crate) other: UserId,
    /// The seeded webhook subscription.
    pub(crate) webhook: String,
}

/// The table as it is: every item by its key.
type Table = BTreeMap<(String, String), HashMap<String, AttributeValue>>;

pub(crate) const WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

fn zoe() -> Value {
    json!({
        "email": "zoe.angstrom@example.com",
        "mobile": "+61411222333",
        "firstName": "Zoë",
        "middleName": "Quill",
        "lastName": "Ångström"
    })
}

fn zora() -> Value {
    json!({
        "email": "zora.angelou@example.org",
        "mobile": "+61499888777",
        "firstName": "Zora",
        "lastName": "Angelou"
    })
}

/// Users whose names share prefixes, so that searches span pages and shards.
const PAGED: [(&str, &str); 12] = [
    ("Pat", "Page"),
    ("Patrick", "Paige"),
    ("Patricia", "Pagé"),
    ("Paul", "Page"),
    ("Paula", "Pagett"),
    ("Pāua", "Page"),
    ("Peter", "Pan"),
    ("Petra", "Page"),
    ("Pat", "Pagel"),
    ("Patty", "Page"),
    ("Paz", "Páez"),
    ("Pía", "Page"),
];

pub(crate) struct World {
    pub(crate) env: TestEnv,
    /// Mints operators' tokens the world's app accepts.
    idp: tests::operators::TestIdp,
    pub(crate) ids: Ids,
    pub(crate) key: ApiKey,
    /// `next` cursors seen on answers, for later requests to send.
    cursors: RefCell<Vec<String>>,
    /// The table as it was after the last write that succeeded, when known.
    table: RefCell<Option<Table>>,
    /// Per function, how often each status was answered.
    pub(crate) tally: RefCell<BTreeMap<&'static str, BTreeMap<u16, usize>>>,
    /// Refusals that sent a conditional write, checked against the table.
    pub(crate) compared: Cell<usize>,
    /// Cases API Gateway could not have delivered, skipped.
    pub(crate) undeliverable: Cell<usize>,
    fresh: Cell<usize>,
}

impl World {
    pub(crate) async fn new() -> Self {
        let (env, idp) = TestEnv::with_operators(|_| {}).await;
        let env = env.with_queue().await;
        let api = env.api();
        let user = api.new_user(&zoe()).await;
        let other = api.new_user(&zora()).await;
        for (i, (first, last)) in PAGED.iter().enumerate() {
            api.new_user(&json!({
                "email": format!("p{i}@paging.example"), "firstName": first, "lastName": last
            }))
            .await;
        }
        let ingest = api
            .ingest_connection(&user, &connection_body(1, 2, 30))
            .await;
        assert_eq!(ingest.status, 201, "{:#}", ingest.body);
        let webhook = api
            .create_webhook(&json!({
                "url": "http://127.0.0.1:9/hooks", "subscribedEvents": ["user.created"]
            }))
            .await;
        assert_eq!(webhook.status, 201, "{:#}", webhook.body);
        let key = ApiKey::generate();
        env.add_key(&key, "properties").await;
        let id = |text: &str| UserId::parse(text).expect("a user id");
        Self {
            ids: Ids {
                user: id(&user),
                other: id(&other),
                webhook: webhook.id(),
            },
            env,
            idp,
            key,
            cursors: RefCell::new(Vec::new()),
            table: RefCell::new(None),
            tally: RefCell::new(BTreeMap::new()),
            compared: Cell::new(0),
            undeliverable: Cell::new(0),
            fresh: Cell::new(0),
        }
    }

    async fn snapshot(&self) -> Table {
        let mut table = Table::new();
        let mut start = None;
        loop {
            let page = self
                .env
                .client()
                .scan()
                .table_name(&self.env.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            for item in page.items.unwrap_or_default() {
                let key = |name: &str| match item.get(name) {
                    Some(AttributeValue::S(s)) => s.clone(),
                    _ => String::new(),
                };
                // A refused sign-in or key is recorded in the audit trail, by
                // design (tests/tests/audit.rs checks those entries): the
                // data is what a refusal must leave as it was.
                if key(shared::keys::PK).starts_with("AUDIT#") {
                    continue;
                }
                table.insert((key(shared::keys::PK), key(shared::keys::SK)), item);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return table;
            }
        }
    }

    /// A user made for one case, optionally with a small connection.
    async fn fresh_user(&self, with_data: bool) -> String {
        let n = self.fresh.get() + 1;
        self.fresh.set(n);
        let api = self.env.api();
        let id = api
            .new_user(&json!({"email": format!("fresh.{n}@example.com"), "firstName": "Fresh"}))
            .await;
        if with_data {
            let reply = api.ingest_connection(&id, &connection_body(2, 1, 3)).await;
            assert_eq!(reply.status, 201, "{:#}", reply.body);
        }
        self.table.replace(None);
        id
    }

    fn token(&self, auth: &Auth) -> (Option<String>, Caller) {
        let now = tests::time_now();
        match auth {
            Auth::Server(spelling) => {
                let token = tests::token(Scope::ServerAccess, None);
                let header = match spelling {
                    Spelling::Bearer => format!("Bearer {token}"),
                    Spelling::Lower => format!("bearer {token}"),
                    Spelling::Upper => format!("BEARER {token}"),
                    Spelling::TwoSpaces => format!("Bearer  {token}"),
                    Spelling::TrailingSpace => format!("Bearer {token} "),
                };
                (Some(header), Caller::Server)
            }
            Auth::Operator(role) => (
                Some(format!("Bearer {}", self.idp.token(*role))),
                Caller::Operator(*role),
            ),
            Auth::ClientOwn => (
                Some(format!(
                    "Bearer {}",
                    tests::token(Scope::ClientAccess, Some(self.ids.user))
                )),
                Caller::Client(self.ids.user),
            ),
            Auth::ClientOther => (
                Some(format!(
                    "Bearer {}",
                    tests::token(Scope::ClientAccess, Some(self.ids.other))
                )),
                Caller::Client(self.ids.other),
            ),
            Auth::Expired(scope) => {
                let user = (*scope == Scope::ClientAccess).then_some(self.ids.user);
                let token = tests::token_at(*scope, user, now - 3_601);
                (Some(format!("Bearer {token}")), Caller::Expired)
            }
            Auth::Forged(forgery) => {
                let token = match forgery {
                    Forgery::Tampered => {
                        let token = tests::token(Scope::ServerAccess, None);
                        let (rest, last) = token.split_at(token.len() - 2);
                        let flipped = if last.starts_with('A') { "B" } else { "A" };
                        format!("{rest}{flipped}{}", &last[1..])
                    }
                    Forgery::OtherSecret => TokenSigner::new(b"not the secret of this service!!")
                        .issue("key:tests", Scope::ServerAccess, None, now)
                        .expect("a token"),
                    Forgery::Unsigned => {
                        let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
                        let claims = URL_SAFE_NO_PAD.encode(format!(
                            r#"{{"sub":"key:tests","scope":"SERVER_ACCESS","iat":{now},"exp":{},"jti":"x"}}"#,
                            now + 60
                        ));
                        format!("{head}.{claims}.")
                    }
                    Forgery::Future => tests::token_at(Scope::ServerAccess, None, now + 600),
                    Forgery::ClientWithoutUser => tests::token(Scope::ClientAccess, None),
                };
                (Some(format!("Bearer {token}")), Caller::Nobody)
            }
            Auth::Raw(text) => (Some(text.clone()), Caller::Nobody),
            Auth::Basic(key) => {
                let header = match key {
                    BasicKey::Valid => format!("Basic {}", self.key.expose()),
                    BasicKey::Padded => format!("Basic   {}  ", self.key.expose()),
                    BasicKey::Lower => format!("basic {}", self.key.expose()),
                    BasicKey::Unknown(key) => format!("Basic {key}"),
                };
                (Some(header), Caller::Nobody)
            }
            Auth::Missing => (None, Caller::Nobody),
        }
    }

    async fn user_text(&self, user: &UserRef) -> String {
        match user {
            UserRef::Seeded => self.ids.user.to_string(),
            UserRef::SeededUpper => self.ids.user.to_string().to_uppercase(),
            UserRef::Other => self.ids.other.to_string(),
            UserRef::Fresh => self.fresh_user(false).await,
            UserRef::FreshWithData => self.fresh_user(true).await,
            UserRef::Absent(text) | UserRef::Text(text) => text.clone(),
        }
    }

    /// The user's current version, if it can be read.
    async fn version(&self, user: &str) -> Option<u64> {
        UserId::parse(user).ok()?;
        let reply = self.env.api().get_user(user).await;
        let etag = reply.headers.get("etag")?.to_str().ok()?;
        etag.trim_matches('"').parse().ok()
    }

    async fn if_match(&self, if_match: &IfMatch, user: &str) -> String {
        match if_match {
            IfMatch::Current => format!("\"{}\"", self.version(user).await.unwrap_or(1)),
            IfMatch::Weak => format!("W/\"{}\"", self.version(user).await.unwrap_or(1)),
            IfMatch::Next => format!("\"{}\"", self.version(user).await.unwrap_or(1) + 1),
            IfMatch::Raw(text) => text.clone(),
        }
    }

    fn cursor(&self, at: &Index) -> String {
        let cursors = self.cursors.borrow();
        if cursors.is_empty() {
            return "e30.e30".to_owned();
        }
        at.get(&cursors).clone()
    }

    fn query_value(&self, value: &QValue) -> String {
        match value {
            QValue::Text(text) => text.clone(),
            QValue::Cursor(at) => self.cursor(at),
            QValue::Tampered(at, position) => {
                let mut chars: Vec<char> = self.cursor(at).chars().collect();
                let i = position.index(chars.len());
                chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
                chars.into_iter().collect()
            }
        }
    }

    /// The API Gateway v2 event for `spec`, and what it resolved to.
    async fn resolve(&self, spec: &Spec) -> (Value, Sent) {
        let endpoint = spec
            .route
            .endpoints()
            .find(|e| e.method == spec.method)
            .expect("the route answers the method");
        let path_user = self.user_text(&spec.user).await;
        let n = if spec.user == UserRef::FreshWithData {
            2
        } else {
            1
        };
        let record = match &spec.record {
            RecordRef::Existing => match spec.route {
                Route::GetConnection | Route::DeleteConnection => format!("conn-{n}"),
                Route::GetAccount => format!("acc-{n}-0"),
                _ => format!("txn-{n}-1"),
            },
            RecordRef::WrongKind => match spec.route {
                Route::GetConnection | Route::DeleteConnection => format!("acc-{n}-0"),
                Route::GetAccount => format!("txn-{n}-0"),
                _ => format!("conn-{n}"),
            },
            RecordRef::Text(text) => text.clone(),
        };
        let mut params: Vec<(&str, &str)> = Vec::new();
        // A webhook route takes the record's place: the seeded webhook, a
        // user's id (well formed, but no webhook's), or any text.
        let webhook = match &spec.record {
            RecordRef::Existing => self.ids.webhook.clone(),
            RecordRef::WrongKind => self.ids.user.to_string(),
            RecordRef::Text(text) => text.clone(),
        };
        for name in [
            "userId",
            "connectionId",
            "accountId",
            "transactionId",
            "webhookId",
            "keyId",
        ] {
            if endpoint.path.contains(&format!("{{{name}}}")) {
                let value = match name {
                    "userId" => &path_user,
                    "webhookId" | "keyId" => &webhook,
                    _ => &record,
                };
                params.push((name, value.as_str()));
            }
        }
        // The raw path carries what the client sent, percent-encoded; API
        // Gateway passes the path parameters decoded.
        let encoded: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, encode(v))).collect();
        let encoded: Vec<(&str, &str)> = encoded.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut event = tests::api::event(spec.route, spec.method, &encoded);
        for (name, value) in &params {
            event = event.path_parameter(name, value);
        }

        let (authorization, caller) = self.token(&spec.auth);
        event = match authorization {
            Some(value) => event.header("authorization", &value),
            None => event.without_auth(),
        };
        let mut headers = spec.headers.clone();
        if let Some(key) = &spec.idempotency_key {
            headers.push(("idempotency-key".into(), key.clone()));
        }
        if let Some(if_match) = &spec.if_match {
            headers.push(("if-match".into(), self.if_match(if_match, &path_user).await));
        }
        let default_type = if spec.route == Route::IssueToken {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        };
        match (&spec.content_type, &spec.body) {
            (ContentType::Default, Payload::None) | (ContentType::Absent, _) => {}
            (ContentType::Default, _) => headers.push(("content-type".into(), default_type.into())),
            (ContentType::Is(value), _) => headers.push(("content-type".into(), value.clone())),
        }
        for (name, value) in &headers {
            // Only what HTTP can carry: API Gateway passes nothing else on.
            if HeaderValue::from_str(value).is_ok() {
                event = event.header(name, value);
            }
        }
        event = match &spec.body {
            Payload::None => event,
            Payload::Json(value) => event.raw_body(&value.to_string()),
            Payload::Text(text) => event.raw_body(text),
            Payload::Bytes(bytes) => event.binary_body(bytes),
        };
        let pairs: Vec<(String, String)> = spec
            .query
            .pairs
            .iter()
            .map(|(name, value)| (name.clone(), self.query_value(value)))
            .collect();
        for (name, value) in &pairs {
            event = event.query(name, value);
        }
        let mut json = event.to_json();
        if let Some(raw) = spec.query.raw.as_ref().and_then(|raw| raw.render(&pairs)) {
            json["rawQueryString"] = json!(raw);
        }
        let sent = Sent {
            caller,
            path_user,
            record,
            pairs,
        };
        (json, sent)
    }

    /// Sends `spec` and checks what every answer must hold.
    pub(crate) async fn send(&self, spec: &Spec) -> Result<(Sent, Answer), TestCaseError> {
        let (event, sent) = self.resolve(spec).await;
        if self.table.borrow().is_none() {
            let table = self.snapshot().await;
            self.table.replace(Some(table));
        }
        if !deliverable(&event) {
            self.undeliverable.set(self.undeliverable.get() + 1);
            return Err(TestCaseError::reject(
                "over API Gateway's 10 KB request line and headers",
            ));
        }
        let request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => request,
            Err(err) => return Err(TestCaseError::reject(format!("not an event: {err}"))),
        };
        self.env.requests.clear();
        let response = shared::routes::route(&self.env.app, spec.route, request).await;
        let ops = self.env.requests.operations();
        let answer = Answer::read(response)?;
        *self
            .tally
            .borrow_mut()
            .entry(spec.route.function())
            .or_default()
            .entry(answer.status)
            .or_default() += 1;
        let context = format!(
            "{} {} ({:?}) answered {} {}\nDynamoDB requests: {ops:?}",
            spec.method,
            event["rawPath"].as_str().unwrap_or(""),
            sent.caller,
            answer.status,
            cut(&answer.body.to_string(), 600)
        );
        check_answer(spec, &sent, &answer, &ops).map_err(|e| fail(&e, &context))?;
        if let Some(schema) = contract(spec.route, answer.status) {
            // Panics with every violation; the runner reports it as this case's failure.
            tests::contract::assert_matches(schema, &answer.body);
        }

        let wrote = ops.iter().any(|op| WRITES.contains(&op.as_str()));
        if wrote && answer.is_client_error() {
            // A conditional write refused: nothing may have changed.
            let after = self.snapshot().await;
            let before = self.table.borrow().clone().unwrap_or_default();
            self.compared.set(self.compared.get() + 1);
            if after != before {
                let changes = diff(&before, &after);
                self.table.replace(Some(after));
                return Err(fail(
                    &format!("a refused request changed the table: {changes}"),
                    &context,
                ));
            }
        } else if wrote {
            self.table.replace(None);
        }
        if answer.status == 200 {
            if let Some(next) = answer.body["links"]["next"].as_str() {
                self.keep_cursor(next);
            }
        }
        Ok((sent, answer))
    }

    fn keep_cursor(&self, link: &str) {
        let Some((_, query)) = link.split_once('?') else {
            return;
        };
        let Some((_, cursor)) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "next")
        else {
            return;
        };
        let mut cursors = self.cursors.borrow_mut();
        if cursors.len() < 64 && !cursors.iter().any(|c| *c == cursor) {
            cursors.push(cursor.into_owned());
        }
    }

    pub(crate) fn tally_text(&self) -> String {
        self.tally
            .borrow()
            .iter()
            .map(|(function, statuses)| {
                let statuses: Vec<String> =
                    statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
                format!("{function}: {}", statuses.join(" "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What a request was resolved to.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) caller: Caller,
    pub(crate) path_user: String,
    pub(crate) record: String,
    pub(crate) pairs: Vec<(String, String)>,
}

/// An answer, read back.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    fn read(response: lambda_http::Response<lambda_http::Body>) -> Result<Self, TestCaseError> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes: &[u8] = match response.body() {
            lambda_http::Body::Text(text) => text.as_bytes(),
            lambda_http::Body::Binary(bytes) => bytes,
            _ => &[],
        };
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).map_err(|err| {
                TestCaseError::fail(format!(
                    "{status} with a body that is not JSON ({err}): {}",
                    String::from_utf8_lossy(bytes)
                ))
            })?
        };
        Ok(Self {
            status,
            headers,
            body,
        })
    }

    pub(crate) fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status)
    }

    pub(crate) fn code(&self) -> &str {
        self.body["data"][0]["code"].as_str().unwrap_or("")
    }

    pub(crate) fn parameter(&self) -> &str {
        self.body["data"][0]["source"]["parameter"]
            .as_str()
            .unwrap_or("")
    }
}

/// The fields a user's answers share, which every later read must repeat.
const USER_FIELDS: [&str; 13] = [
    "id",
    "email",
    "mobile",
    "firstName",
    "middleName",
    "lastName",
    "businessName",
    "businessIdNo",
    "businessIdNoType",
    "businessAddress",
    "verificationStatus",
    "verificationDate",
    "type",
];

/// What a write answered is what a read of the user now shows.
pub(crate) async fn reads_back(world: &World, answer: &Answer) -> Result<(), TestCaseError> {
    let id = answer.body["id"].as_str().unwrap_or("");
    let read = world.env.api().get_user(id).await;
    prop_assert_eq!(read.status, 200, "the user just written: {}", read.body);
    for field in USER_FIELDS {
        prop_assert_eq!(
            &read.body[field],
            &answer.body[field],
            "{} as written and as read",
            field
        );
    }
    if let Some(etag) = answer.headers.get("etag") {
        prop_assert_eq!(
            read.headers.get("etag"),
            Some(etag),
            "the ETag as written and as read"
        );
    }
    Ok(())
}

fn fail(problem: &str, context: &str) -> TestCaseError {
    TestCaseError::fail(format!("{problem}\n{context}"))
}

pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn diff(before: &Table, after: &Table) -> String {
    let mut changes = Vec::new();
    for (key, item) in after {
        match before.get(key) {
            None => changes.push(format!("added {key:?}")),
            Some(old) if old != item => changes.push(format!("changed {key:?}")),
            Some(_) => {}
        }
    }
    for key in before.keys().filter(|key| !after.contains_key(*key)) {
        changes.push(format!("removed {key:?}"));
    }
    changes.truncate(8);
    changes.join("; ")
}

/// API Gateway (HTTP API) refuses a request whose request line and header
/// values together exceed 10,240 bytes: no such request reaches a function.
fn deliverable(event: &Value) -> bool {
    let text = |v: &Value| v.as_str().map_or(0, str::len);
    let line = text(&event["rawPath"]) + text(&event["rawQueryString"]) + 20;
    let headers: usize = event["headers"]
        .as_object()
        .map_or(0, |h| h.values().map(text).sum());
    line + headers <= 10_240
}

/// Every byte but the unreserved ones percent-encoded, as a client may send a path segment.
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl RawQuery {
    /// The query string as sent, if a URI can carry it.
    fn render(&self, pairs: &[(String, String)]) -> Option<String> {
        let mut text = if self.form {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        } else {
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&")
        };
        if let Some((front, junk)) = self.junk {
            text = match (front, text.is_empty()) {
                (_, true) => junk.to_owned(),
                (true, false) => format!("{junk}&{text}"),
                (false, false) => format!("{text}&{junk}"),
            };
        }
        let uri = format!("https://api.example.test/users?{text}");
        uri.parse::<lambda_http::http::Uri>()
            .is_ok()
            .then_some(text)
    }
}
