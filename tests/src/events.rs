//! Real API Gateway HTTP API (payload 2.0) events, decoded by lambda_http
//! exactly as in Lambda, and helpers to read the responses.

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

/// An event builder: method and path, then optional parts.
#[derive(Debug, Clone)]
pub struct Event {
    method: String,
    path: String,
    route: String,
    path_parameters: Value,
    query: Vec<(String, String)>,
    headers: serde_json::Map<String, Value>,
    body: Option<String>,
    base64: bool,
}

impl Event {
    pub fn new(method: &str, path: &str) -> Self {
        let mut headers = serde_json::Map::new();
        headers.insert("host".into(), json!("api.example.test"));
        headers.insert("x-forwarded-proto".into(), json!("https"));
        let token = crate::token(shared::auth::Scope::ServerAccess, None);
        headers.insert("authorization".into(), json!(format!("Bearer {token}")));
        Self {
            method: method.into(),
            path: path.into(),
            route: format!("{method} {path}"),
            path_parameters: json!({}),
            query: Vec::new(),
            headers,
            body: None,
            base64: false,
        }
    }

    /// A request to `/users/{userId}`.
    pub fn user(method: &str, user_id: &str) -> Self {
        let mut event = Self::new(method, &format!("/users/{user_id}"));
        event.route = format!("{method} /users/{{userId}}");
        event.path_parameters = json!({ "userId": user_id });
        event
    }

    /// The route key API Gateway matched, such as `GET /users/{userId}`.
    pub fn route_key(mut self, key: &str) -> Self {
        self.route = key.to_owned();
        self
    }

    /// Another path under the same route family, such as `/users/{id}/accounts`.
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }

    pub fn path_parameter(mut self, name: &str, value: &str) -> Self {
        self.path_parameters[name] = json!(value);
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string());
        self.header("content-type", "application/json")
    }

    /// No Authorization header at all.
    pub fn without_auth(mut self) -> Self {
        self.headers.remove("authorization");
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn raw_body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    /// A body of arbitrary bytes, which API Gateway sends base64-encoded.
    pub fn binary_body(mut self, bytes: &[u8]) -> Self {
        use base64::Engine;
        self.body = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.base64 = true;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_ascii_lowercase(), json!(value));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    pub fn to_json(&self) -> Value {
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut query = serde_json::Map::new();
        for (k, v) in &self.query {
            match query.get_mut(k) {
                Some(Value::String(existing)) => {
                    *existing = format!("{existing},{v}");
                }
                _ => {
                    query.insert(k.clone(), json!(v));
                }
            }
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": self.route,
            "rawPath": self.path,
            "rawQueryString": raw_query,
            "headers": self.headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": "api.example.test",
                "domainPrefix": "api",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "192.0.2.1",
                    "userAgent": "tests"
                },
                "requestId": format!("req-{}", uuid::Uuid::new_v4()),
                "routeKey": self.route,
                "stage": "$default",
                "time": "26/Nov/2026:00:00:00 +0000",
                "timeEpoch": 1795651200000u64
            },
            "pathParameters": self.path_parameters,
            "isBase64Encoded": self.base64
        });
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if let Some(body) = &self.body {
            event["body"] = json!(body);
        }
        event
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.to_json().to_string()).expect("a valid v2 event")
    }
}

fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A response, read back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn from(response: Response<Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.body() {
            Body::Empty => Value::Null,
            Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
            Body::Binary(bytes) => serde_json::from_slice(bytes).expect("a JSON body"),
            _ => Value::Null,
        };
        Self {
            status,
            headers,
            body,
        }
    }

    /// The first Basiq error entry's code and source.
    pub fn error(&self) -> (&str, Option<&Value>) {
        let entry = &self.body["data"][0];
        (entry["code"].as_str().unwrap_or(""), entry.get("source"))
    }

    pub fn pointer(&self) -> &str {
        self.body["data"][0]["source"]["pointer"]
            .as_str()
            .unwrap_or("")
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("an id").to_owned()
    }
}

/// The stream record that hands a user's deletion over to `purge-user`: the
/// write of its `PURGE` item, as the table's stream delivers it.
pub fn handover_event(user: &str) -> aws_lambda_events::event::dynamodb::Event {
    serde_json::from_value(json!({
        "Records": [{
            "eventID": uuid::Uuid::new_v4().to_string(),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1795651200,
                "Keys": {"pk": {"S": format!("USER#{user}")}, "sk": {"S": "PURGE"}},
                "NewImage": {"pk": {"S": format!("USER#{user}")}, "sk": {"S": "PURGE"}},
                "SequenceNumber": "111",
                "SizeBytes": 26,
                "StreamViewType": "NEW_IMAGE"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-11-26T00:00:00.000"
        }]
    }))
    .expect("a DynamoDB stream event")
}

/// An item as DynamoDB holds it (and the SDK reads it).
pub type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// An item as a stream record's image writes it (DynamoDB JSON).
pub fn image(item: &Item) -> Value {
    serde_json::to_value(serde_dynamo::Item::from(item.clone())).expect("an image")
}

/// One record of the table's stream (NEW_AND_OLD_IMAGES) as Lambda delivers
/// it: `name` is `INSERT`, `MODIFY` or `REMOVE`, with the item before
/// (`old`) and after (`new`) the write, as DynamoDB writes them (none before
/// an INSERT, none after a REMOVE). The keys are the item's; `sequence`
/// orders the records of one shard; the time is now. Each record has an
/// `eventID` of its own: deliver the same record again to redeliver it.
pub fn stream_record(name: &str, old: Option<&Item>, new: Option<&Item>, sequence: u64) -> Value {
    let item = new.or(old).expect("an image");
    let keys: Item = ["pk", "sk"]
        .into_iter()
        .map(|k| (k.to_owned(), item[k].clone()))
        .collect();
    let mut change = json!({
        "ApproximateCreationDateTime": crate::time_now(),
        "Keys": image(&keys),
        "SequenceNumber": sequence.to_string(),
        "SizeBytes": 512,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
    });
    if let Some(new) = new {
        change["NewImage"] = image(new);
    }
    if let Some(old) = old {
        change["OldImage"] = image(old);
    }
    json!({
        "eventID": uuid::Uuid::new_v4().simple().to_string(),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-11-26T00:00:00.000"
    })
}

/// A batch of stream records, as the event source mapping delivers it.
pub fn stream_batch(records: &[Value]) -> aws_lambda_events::event::dynamodb::Event {
    serde_json::from_value(json!({ "Records": records })).expect("a DynamoDB stream event")
}
