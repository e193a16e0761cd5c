//! A local API Gateway: what `make dev` and the over-HTTP tests put in front
//! of `cargo lambda watch`, so that the local stack answers as the deployed
//! HTTP API does.
//!
//! It listens on 127.0.0.1 only, matches each request against the route table
//! ([`shared::routes::ENDPOINTS`]), turns it into an API Gateway HTTP API
//! payload 2.0 event, invokes the route's function by name through the
//! watcher's Lambda Invoke API, and turns the function's answer back into an
//! HTTP response. What API Gateway does before a function is reached, it does
//! here: unmatched paths are 404, a method the path lacks is 405 (with
//! `Allow`), bodies over Lambda's 6 MB are 413, and a failed invocation is a
//! 500; each as a Basiq error body, and none naming a function. It adds no CORS
//! headers (an HTTP API without a CORS configuration adds none), and nothing
//! but the routes is reachable: the watcher's own invoke and function URL
//! paths are just unmatched paths here.
//!
//! It also stands in for the table's stream. When the table has one (`make
//! dev`, and the end-to-end stream test), it runs the local poller
//! ([`crate::streams`]), which delivers the real stream's records to the
//! stream functions as Lambda does. When it has none (the tests' tables), it
//! imitates the one record that matters to a deletion: when `DELETE
//! /users/{userId}` answers 202, the function has written the hand-over item
//! (`pk = USER#<userId>`, `sk = PURGE`), and in AWS the stream, filtered to
//! that item, invokes `purge-user` with its record. Here the gateway invokes
//! `purge-user` with that same record, in the background, retrying a failed
//! invocation as the event source mapping does.
//!
//! And for the webhook queue, when it is given one (on the SQS emulator,
//! `SQS_ENDPOINT`), it runs the queue's poller ([`crate::queues`]), which
//! hands its messages to `deliver-webhooks` as Lambda's SQS event source
//! mapping does.

use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use shared::routes::{self, Endpoint, Resolved};
use tokio::net::TcpListener;

/// Lambda's limit on a synchronous invocation's payload: larger bodies are
/// refused before any function runs.
pub const MAX_BODY: usize = 6 * 1024 * 1024;

/// A body over [`MAX_BODY`] is still read (and dropped) up to this size, so
/// that the client, still sending, is there to read the 413.
const DRAIN_LIMIT: usize = 4 * MAX_BODY;

/// The function the table's stream triggers to finish a deletion.
pub const PURGE_FUNCTION: &str = "purge-user";

/// How the event source mapping retries a failed batch: exponential backoff
/// from [`RETRY_FIRST`], at most [`RETRY_MAX`] apart, [`RETRY_ATTEMPTS`]
/// attempts in all; then the record goes to the dead-letter queue.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);
const RETRY_ATTEMPTS: u32 = 50;

/// The account in the ARNs and request contexts of the local stack.
const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";

/// What the gateway needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The port on 127.0.0.1 that clients call (0: any free port).
    pub port: u16,
    /// Where `cargo lambda watch` answers the Lambda Invoke API, such as
    /// `http://127.0.0.1:9001`.
    pub watch_url: String,
    /// The URL clients use, such as `http://127.0.0.1:9000`: the request
    /// context's `domainName` and the `Host` the functions see come from it,
    /// never from the client's own `Host` header.
    pub public_base_url: String,
    /// One line per request on stderr (method, path, status, time, request id).
    pub access_log: bool,
    /// The table (on DynamoDB Local, `DYNAMODB_ENDPOINT`) whose stream, if
    /// it has one, the gateway polls and delivers to the stream functions.
    /// `None`, or a table without a stream: deletions' hand-overs are
    /// imitated instead.
    pub table: Option<String>,
    /// The URL of the webhook queue (on the SQS emulator, `SQS_ENDPOINT`)
    /// whose messages the gateway hands to `deliver-webhooks`; `None`: no
    /// queue is polled.
    pub webhook_queue: Option<String>,
}

/// Listens on 127.0.0.1:`config.port` and serves until the task is dropped
/// or accepting fails.
pub async fn serve(config: Config) -> io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
    serve_on(listener, config).await
}

/// Serves on a listener the caller bound (to learn its port first). Bind it
/// to a loopback address: the gateway has no authentication of its own.
pub async fn serve_on(listener: TcpListener, config: Config) -> io::Result<()> {
    // Held for as long as the gateway serves: dropping it stops the poller.
    let poller = match &config.table {
        None => None,
        Some(table) => match crate::streams::start(table, &config.watch_url).await {
            Ok(Some(running)) => {
                eprintln!(
                    "gateway: polling the stream of table {table} every {} ms for {}",
                    crate::streams::POLL_EVERY.as_millis(),
                    running.functions.join(", ")
                );
                Some(running)
            }
            Ok(None) => None,
            // Serving goes on; deletions are then finished as without a stream.
            Err(err) => {
                eprintln!("gateway: not polling the stream of table {table}: {err}");
                None
            }
        },
    };
    // Held as the stream's poller is; webhooks stay queued without it.
    let _queue_poller = match &config.webhook_queue {
        None => None,
        Some(url) => {
            let started = match crate::queues::local_client_from_env() {
                Ok(client) => crate::queues::start(client, url, &config.watch_url).await,
                Err(err) => Err(err),
            };
            match started {
                Ok(running) => {
                    eprintln!("gateway: polling the queue {url} for {}", running.function);
                    Some(running)
                }
                Err(err) => {
                    eprintln!("gateway: not polling the queue {url}: {err}");
                    None
                }
            }
        }
    };
    let gateway = Arc::new(Gateway::new(config, poller.is_none())?);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: wait, and go on serving.
            Err(err) => {
                eprintln!("gateway: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let gateway = gateway.clone();
                async move { Ok::<_, Infallible>(gateway.handle(req, peer).await) }
            });
            // A client that goes away mid-request is not worth a log line.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The public URL, taken apart.
#[derive(Debug, Clone)]
struct Public {
    scheme: String,
    /// Host and port, as a `Host` header carries them.
    authority: String,
    port: u16,
}

impl Public {
    fn parse(url: &str) -> io::Result<Self> {
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the public base URL must look like http://127.0.0.1:9000, not {url:?}"),
            )
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(invalid()),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() || HeaderValue::from_str(authority).is_err() {
            return Err(invalid());
        }
        let port = match authority.rsplit_once(':') {
            Some((_, port)) if !authority.ends_with(']') => port.parse().map_err(|_| invalid())?,
            _ => default_port,
        };
        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            port,
        })
    }

    /// The first label of the host, as API Gateway's `domainPrefix`.
    fn prefix(&self) -> &str {
        let host = match self.authority.rsplit_once(':') {
            Some((host, _)) if !self.authority.ends_with(']') => host,
            _ => &self.authority,
        };
        host.split('.').next().unwrap_or(host)
    }
}

struct Gateway {
    client: reqwest::Client,
    watch_url: String,
    public: Public,
    access_log: bool,
    /// Sequence numbers of the emulated stream records.
    sequence: AtomicU64,
    /// Whether a 202 to DELETE is followed by the imitated hand-over record:
    /// not when the poller runs, which delivers the real one.
    imitate_hand_over: bool,
}

type Answer = Response<Full<Bytes>>;

enum BodyProblem {
    TooLarge,
    Unreadable,
}

/// The whole body, when it is at most [`MAX_BODY`]. A larger one is read on
/// (keeping nothing) to [`DRAIN_LIMIT`], then refused.
async fn read_body(mut body: Incoming) -> Result<Vec<u8>, BodyProblem> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyProblem::Unreadable)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > DRAIN_LIMIT {
            return Err(BodyProblem::TooLarge);
        }
        if total <= MAX_BODY {
            kept.extend_from_slice(&data);
        } else if !kept.is_empty() {
            kept = Vec::new();
        }
    }
    if total > MAX_BODY {
        return Err(BodyProblem::TooLarge);
    }
    Ok(kept)
}

/// A Basiq error body: `{"type":"list","correlationId":…,"data":[{"type":"error",…}]}`.
fn basiq_error(
    status: StatusCode,
    request_id: &str,
    code: &str,
    title: &str,
    detail: &str,
) -> Answer {
    let body = json!({
        "type": "list",
        "correlationId": request_id,
        "data": [{"type": "error", "code": code, "title": title, "detail": detail}]
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn internal_error(request_id: &str) -> Answer {
    basiq_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        request_id,
        "internal-server-error",
        "Internal Server Error",
        "An unexpected error occurred. Quote the correlationId if you report it.",
    )
}

fn too_large(request_id: &str) -> Answer {
    basiq_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        request_id,
        "invalid-content",
        "Invalid content.",
        "The request body is larger than 6 MB.",
    )
}

/// Headers that describe one hop, not the request: never forwarded.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

fn epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// API Gateway's `requestContext.time`: `26/Nov/2026:00:00:00 +0000`.
fn request_time() -> String {
    let format = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_default()
}

/// A request, matched and read, as its event needs it.
struct Matched<'a> {
    method: &'a Method,
    version: hyper::Version,
    raw_path: &'a str,
    raw_query: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
    peer: SocketAddr,
    request_id: &'a str,
    /// `None` for what no route matches (the `$default` route).
    endpoint: Option<&'static Endpoint>,
    parameters: &'a [(&'static str, String)],
}

impl Gateway {
    fn new(config: Config, imitate_hand_over: bool) -> io::Result<Self> {
        let public = Public::parse(config.public_base_url.trim_end_matches('/'))?;
        let client = reqwest::Client::builder()
            .build()
            .map_err(io::Error::other)?;
        Ok(Self {
            client,
            watch_url: config.watch_url.trim_end_matches('/').to_owned(),
            public,
            access_log: config.access_log,
            sequence: AtomicU64::new(epoch().as_secs() * 1_000_000),
            imitate_hand_over,
        })
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>, peer: SocketAddr) -> Answer {
        let started = Instant::now();
        let request_id = uuid::Uuid::new_v4().to_string();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let response = self.answer(req, peer, &request_id).await;
        if self.access_log {
            eprintln!(
                "gateway: {method} {path} {} {} ms {request_id}",
                response.status().as_u16(),
                started.elapsed().as_millis()
            );
        }
        response
    }

    async fn answer(
        self: &Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
        id: &str,
    ) -> Answer {
        // What no route matches goes to the fallback function, as the HTTP
        // API's `$default` route sends it: it answers the Basiq 404 or 405.
        let (endpoint, parameters) = match routes::resolve(req.method().as_str(), req.uri().path())
        {
            Resolved::Route {
                endpoint,
                parameters,
            } => (Some(endpoint), parameters),
            Resolved::MethodNotAllowed(_) | Resolved::NotFound => (None, Vec::new()),
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > DRAIN_LIMIT as u64) {
            return too_large(id);
        }
        let (parts, body) = req.into_parts();
        let body = match read_body(body).await {
            Ok(body) => body,
            Err(BodyProblem::TooLarge) => return too_large(id),
            Err(BodyProblem::Unreadable) => {
                return basiq_error(
                    StatusCode::BAD_REQUEST,
                    id,
                    "invalid-content",
                    "Invalid content.",
                    "The request body could not be read.",
                )
            }
        };
        let request = Matched {
            method: &parts.method,
            version: parts.version,
            raw_path: parts.uri.path(),
            raw_query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body: &body,
            peer,
            request_id: id,
            endpoint,
            parameters: &parameters,
        };
        let event = self.event(&request);
        let function = endpoint.map_or(routes::FALLBACK, |e| e.function);
        let answered = self.invoke(function, &event).await;
        let response = match answered.and_then(|payload| translate(&payload)) {
            Ok(response) => response,
            Err(err) => {
                // The cause stays in the log; the client learns only that it was us.
                eprintln!("gateway: request {id}: {err}");
                return internal_error(id);
            }
        };
        let deletion =
            endpoint.is_some_and(|e| e.method == "DELETE" && e.path == "/users/{userId}");
        if self.imitate_hand_over && deletion && response.status() == StatusCode::ACCEPTED {
            if let Some((_, user)) = parameters.iter().find(|(name, _)| *name == "userId") {
                let gateway = self.clone();
                let user = user.clone();
                tokio::spawn(async move { gateway.hand_over(&user).await });
            }
        }
        response
    }

    /// The API Gateway HTTP API payload 2.0 event of a matched request.
    fn event(&self, request: &Matched<'_>) -> Value {
        let route_key = request.endpoint.map_or_else(
            || "$default".to_owned(),
            |e| format!("{} {}", e.method, e.path),
        );
        let mut headers = Map::new();
        let mut cookies = Vec::new();
        for name in request.headers.keys() {
            if hop_by_hop(name) {
                continue;
            }
            let values = request
                .headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            if name == header::COOKIE {
                // Payload 2.0 carries cookies apart from the headers.
                for value in values {
                    cookies.extend(
                        value
                            .split(';')
                            .map(str::trim)
                            .filter(|c| !c.is_empty())
                            .map(str::to_owned),
                    );
                }
                continue;
            }
            headers.insert(
                name.as_str().to_owned(),
                json!(values.collect::<Vec<_>>().join(",")),
            );
        }
        // The host is the API's, whatever the client said; the forwarding
        // headers are the gateway's own, as in AWS.
        let peer_ip = request.peer.ip().to_string();
        let forwarded_for = match headers.get("x-forwarded-for").and_then(Value::as_str) {
            Some(earlier) if !earlier.is_empty() => format!("{earlier}, {peer_ip}"),
            _ => peer_ip.clone(),
        };
        headers.insert("host".into(), json!(self.public.authority));
        headers.insert("x-forwarded-for".into(), json!(forwarded_for));
        headers.insert("x-forwarded-proto".into(), json!(self.public.scheme));
        headers.insert(
            "x-forwarded-port".into(),
            json!(self.public.port.to_string()),
        );
        let user_agent = headers
            .get("user-agent")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();

        let mut query: Map<String, Value> = Map::new();
        for (name, value) in form_urlencoded::parse(request.raw_query.as_bytes()) {
            match query.get_mut(name.as_ref()) {
                Some(Value::String(earlier)) => {
                    earlier.push(',');
                    earlier.push_str(&value);
                }
                _ => {
                    query.insert(name.into_owned(), json!(value));
                }
            }
        }

        let now = epoch();
        let protocol = match request.version {
            hyper::Version::HTTP_10 => "HTTP/1.0",
            hyper::Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": request.raw_path,
            "rawQueryString": request.raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "local",
                "domainName": self.public.authority,
                "domainPrefix": self.public.prefix(),
                "http": {
                    "method": request.method.as_str(),
                    "path": request.raw_path,
                    "protocol": protocol,
                    "sourceIp": peer_ip,
                    "userAgent": user_agent,
                },
                "requestId": request.request_id,
                "routeKey": route_key,
                "stage": "$default",
                "time": request_time(),
                "timeEpoch": now.as_millis() as u64,
            },
            "isBase64Encoded": false,
        });
        if !cookies.is_empty() {
            event["cookies"] = json!(cookies);
        }
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !request.parameters.is_empty() {
            let parameters: Map<String, Value> = request
                .parameters
                .iter()
                .map(|(name, value)| ((*name).to_owned(), json!(value)))
                .collect();
            event["pathParameters"] = Value::Object(parameters);
        }
        if !request.body.is_empty() {
            match std::str::from_utf8(request.body) {
                Ok(text) => event["body"] = json!(text),
                Err(_) => {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(request.body);
                    event["body"] = json!(encoded);
                    event["isBase64Encoded"] = json!(true);
                }
            }
        }
        event
    }

    async fn invoke(&self, function: &str, event: &Value) -> Result<Value, String> {
        invoke(&self.client, &self.watch_url, function, event).await
    }

    /// Finishes a deletion as the table's stream would: `purge-user` is
    /// invoked with the hand-over item's INSERT record, and again (with
    /// backoff) while it fails.
    async fn hand_over(&self, user: &str) {
        let event = self.stream_event(user);
        let mut delay = RETRY_FIRST;
        for attempt in 1..=RETRY_ATTEMPTS {
            // Records reported as failed (a purge stopped at its deadline)
            // are delivered again, as the event source mapping does.
            let outcome = self
                .invoke(PURGE_FUNCTION, &event)
                .await
                .and_then(|answer| match answer["batchItemFailures"].as_array() {
                    Some(failed) if !failed.is_empty() => Err(format!(
                        "{PURGE_FUNCTION} reported {} failed records",
                        failed.len()
                    )),
                    _ => Ok(answer),
                });
            match outcome {
                Ok(_) => {
                    eprintln!(
                        "gateway: hand-over of user {user}: attempt {attempt} of {PURGE_FUNCTION} succeeded"
                    );
                    return;
                }
                Err(err) if attempt < RETRY_ATTEMPTS => {
                    eprintln!(
                        "gateway: hand-over of user {user}: attempt {attempt} failed, next in {} s: {err}",
                        delay.as_secs()
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RETRY_MAX);
                }
                Err(err) => {
                    eprintln!("gateway: hand-over of user {user}: attempt {attempt} failed: {err}")
                }
            }
        }
        eprintln!(
            "gateway: hand-over of user {user}: gave up after {RETRY_ATTEMPTS} attempts; \
             in AWS the record would now go to the dead-letter queue"
        );
    }

    /// The DynamoDB Streams event of the hand-over item's INSERT.
    fn stream_event(&self, user: &str) -> Value {
        let keys = json!({
            "pk": {"S": format!("USER#{user}")},
            "sk": {"S": "PURGE"}
        });
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        json!({
            "Records": [{
                "eventID": uuid::Uuid::new_v4().to_string(),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": REGION,
                "dynamodb": {
                    "ApproximateCreationDateTime": epoch().as_secs(),
                    "Keys": keys,
                    "NewImage": keys,
                    "SequenceNumber": sequence.to_string(),
                    "SizeBytes": 50,
                    "StreamViewType": "NEW_IMAGE"
                },
                "eventSourceARN": format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/local/stream/local")
            }]
        })
    }
}

/// One synchronous invocation through the watcher's Lambda Invoke API:
/// the function's result, or why there is none. The gateway's requests and
/// the stream poller's batches go through it alike.
pub(crate) async fn invoke(
    client: &reqwest::Client,
    watch_url: &str,
    function: &str,
    event: &Value,
) -> Result<Value, String> {
    let url = format!("{watch_url}/2015-03-31/functions/{function}/invocations");
    let answer = client
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(event.to_string())
        .send()
        .await
        .map_err(|err| format!("invoking {function} failed: {err}"))?;
    let status = answer.status();
    let function_error = answer.headers().contains_key("x-amz-function-error");
    let payload = answer
        .bytes()
        .await
        .map_err(|err| format!("reading {function}'s answer failed: {err}"))?;
    let text = String::from_utf8_lossy(&payload);
    let excerpt: String = text.chars().take(500).collect();
    if !status.is_success() || function_error {
        return Err(format!(
            "{function} failed (invoke answered {status}): {excerpt}"
        ));
    }
    let value: Value = serde_json::from_slice(&payload)
        .map_err(|err| format!("{function} answered something not JSON ({err}): {excerpt}"))?;
    // A Lambda error payload, whatever status the watcher gave it.
    if value.get("errorType").is_some() && value.get("statusCode").is_none() {
        return Err(format!("{function} failed: {excerpt}"));
    }
    Ok(value)
}

/// A function's result as the HTTP response API Gateway makes of it: a
/// payload 2.0 response (`statusCode`, `headers`, `multiValueHeaders`,
/// `cookies`, `body`, `isBase64Encoded`), or any other JSON as a 200 with
/// that JSON as its body.
fn translate(payload: &Value) -> Result<Answer, String> {
    let Some(status) = payload.get("statusCode") else {
        let mut response = Response::new(Full::new(Bytes::from(payload.to_string())));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(response);
    };
    let status = status
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| format!("the function answered an invalid statusCode {status}"))?;
    let body = match payload.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if payload["isBase64Encoded"] == json!(true) => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|err| format!("the function's base64 body is not base64: {err}"))?
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let multi = payload
        .get("multiValueHeaders")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut add = |name: &str, value: &str| {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return;
        };
        // The gateway frames the body itself.
        if !hop_by_hop(&name) && name != header::CONTENT_LENGTH {
            headers.append(name, value);
        }
    };
    for (name, values) in &multi {
        for value in values.as_array().into_iter().flatten() {
            if let Some(value) = value.as_str() {
                add(name, value);
            }
        }
    }
    if let Some(single) = payload.get("headers").and_then(Value::as_object) {
        for (name, value) in single {
            let listed = multi.iter().any(|(m, values)| {
                m.eq_ignore_ascii_case(name) && values.as_array().is_some_and(|v| !v.is_empty())
            });
            if let (false, Some(value)) = (listed, value.as_str()) {
                add(name, value);
            }
        }
    }
    for cookie in payload
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(cookie) = cookie.as_str() {
            add("set-cookie", cookie);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_url_gives_host_and_port() {
        let public = Public::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            (
                public.scheme.as_str(),
                public.authority.as_str(),
                public.port
            ),
            ("http", "127.0.0.1:9000", 9000)
        );
        assert_eq!(public.prefix(), "127");
        let public = Public::parse("https://api.example.com").unwrap();
        assert_eq!((public.port, public.prefix()), (443, "api"));
        assert!(Public::parse("127.0.0.1:9000").is_err());
    }

    fn gateway() -> Gateway {
        Gateway::new(
            Config {
                port: 0,
                watch_url: "http://127.0.0.1:1/".into(),
                public_base_url: "http://127.0.0.1:9000/".into(),
                access_log: false,
                table: None,
                webhook_queue: None,
            },
            true,
        )
        .unwrap()
    }

    #[test]
    fn the_event_is_a_payload_2_0_event_as_lambda_http_reads_it() {
        use lambda_http::request::RequestContext;
        use lambda_http::RequestExt;

        let mut headers = HeaderMap::new();
        let mut add = |name: &'static str, value: &'static str| {
            headers.append(name, HeaderValue::from_static(value));
        };
        add("host", "evil.example");
        add("accept", "text/plain");
        add("accept", "application/json");
        add("cookie", "a=1; b=2");
        add("x-forwarded-proto", "https");
        add("user-agent", "curl/8");
        add("connection", "keep-alive");
        let path = "/users/abc/connections/x%20y";
        let Resolved::Route {
            endpoint,
            parameters,
        } = routes::resolve("GET", path)
        else {
            panic!("a route");
        };
        let request = Matched {
            method: &Method::GET,
            version: hyper::Version::HTTP_11,
            raw_path: path,
            raw_query: "q=a+b&q=%C3%A9&empty=",
            headers: &headers,
            body: &[0xff, b'a'],
            peer: "127.0.0.2:5555".parse().unwrap(),
            request_id: "the-request",
            endpoint: Some(endpoint),
            parameters: &parameters,
        };
        let event = gateway().event(&request);
        let route_key = "GET /users/{userId}/connections/{connectionId}";
        assert_eq!(event["routeKey"], route_key);
        assert_eq!(event["requestContext"]["routeKey"], route_key);
        assert_eq!(event["rawPath"], path);
        assert_eq!(event["rawQueryString"], "q=a+b&q=%C3%A9&empty=");
        assert_eq!(event["headers"]["host"], "127.0.0.1:9000");
        assert_eq!(event["headers"]["accept"], "text/plain,application/json");
        assert_eq!(event["headers"]["x-forwarded-proto"], "http");
        assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.2");
        assert!(event["headers"].get("cookie").is_none());
        assert!(event["headers"].get("connection").is_none());
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(
            event["queryStringParameters"],
            json!({"q": "a b,é", "empty": ""})
        );
        assert_eq!(
            event["pathParameters"],
            json!({"userId": "abc", "connectionId": "x y"})
        );
        assert_eq!(event["requestContext"]["domainName"], "127.0.0.1:9000");
        assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.2");
        assert_eq!(event["requestContext"]["http"]["userAgent"], "curl/8");
        assert_eq!(event["requestContext"]["stage"], "$default");
        assert_eq!(event["isBase64Encoded"], true);

        let req = lambda_http::request::from_str(&event.to_string()).expect("a v2 event");
        assert_eq!(req.method(), "GET");
        assert_eq!(req.uri().host(), Some("127.0.0.1"));
        assert_eq!(req.uri().query(), Some("q=a+b&q=%C3%A9&empty="));
        assert_eq!(req.path_parameters().first("connectionId"), Some("x y"));
        assert_eq!(req.headers()["cookie"], "a=1; b=2");
        assert_eq!(req.body().as_ref(), &[0xff, b'a']);
        match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => {
                assert_eq!(context.request_id.as_deref(), Some("the-request"));
            }
            other => panic!("an HTTP API context, not {other:?}"),
        }

        // A UTF-8 body is sent as text; no parameters, no query: no maps.
        let Resolved::Route {
            endpoint,
            parameters,
        } = routes::resolve("POST", "/users")
        else {
            panic!("a route");
        };
        let request = Matched {
            method: &Method::POST,
            raw_path: "/users",
            raw_query: "",
            body: "{\"a\":\"é\"}".as_bytes(),
            endpoint: Some(endpoint),
            parameters: &parameters,
            ..request
        };
        let event = gateway().event(&request);
        assert_eq!(event["body"], "{\"a\":\"é\"}");
        assert_eq!(event["isBase64Encoded"], false);
        assert!(event.get("pathParameters").is_none());
        assert!(event.get("queryStringParameters").is_none());
        let req = lambda_http::request::from_str(&event.to_string()).expect("a v2 event");
        assert_eq!(req.body().as_ref(), "{\"a\":\"é\"}".as_bytes());
    }

    #[test]
    fn the_hand_over_record_is_a_stream_insert_of_the_purge_item() {
        use aws_lambda_events::event::dynamodb::Event;
        use serde_dynamo::AttributeValue;

        let event = gateway().stream_event("abc");
        let event: Event = serde_json::from_value(event).expect("a DynamoDB stream event");
        let record = &event.records[0];
        assert_eq!(record.event_name, "INSERT");
        for image in [&record.change.keys, &record.change.new_image] {
            assert_eq!(image.get("pk"), Some(&AttributeValue::S("USER#abc".into())));
            assert_eq!(image.get("sk"), Some(&AttributeValue::S("PURGE".into())));
        }
    }

    #[test]
    fn function_answers_become_responses() {
        let payload = json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json", "etag": "\"1\""},
            "multiValueHeaders": {"vary": ["a", "b"]},
            "cookies": ["a=1", "b=2"],
            "body": "eyJhIjoxfQ==",
            "isBase64Encoded": true
        });
        let response = translate(&payload).unwrap();
        assert_eq!(response.status(), 201);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["etag"], "\"1\"");
        assert_eq!(headers.get_all("vary").iter().count(), 2);
        assert_eq!(headers.get_all("set-cookie").iter().count(), 2);
        assert!(translate(&json!({"statusCode": 1000})).is_err());
    }
}
