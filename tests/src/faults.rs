//! Fault injection on the real DynamoDB client, for tests only.
//!
//! [`Faults::client`] builds a client whose HTTP connector wraps the SDK's own
//! one: every request still goes to DynamoDB Local, but a seeded, scripted or
//! random fault can stand in for (or follow) the real exchange:
//!
//! | fault | forwarded? | the client sees | the SDK |
//! |---|---|---|---|
//! | [`Fault::Throttle`] | no | 400 `ThrottlingException` | retries, with backoff |
//! | [`Fault::Unprocessed`] | part of the batch | 200 with the rest in `UnprocessedItems` | returns it; the caller retries |
//! | [`Fault::TransactionConflict`] | no | 400 `TransactionCanceledException` / `TransactionConflictException` | does not retry |
//! | [`Fault::LostAck`] | yes, applied | 500 `InternalServerError` | retries (the retry sees the applied write) |
//! | [`Fault::Slow`] | yes, after a delay | the real answer, late | - |
//! | [`Fault::Crash`] | yes, applied | nothing, ever: [`Faults::run`] drops the handler | - |
//!
//! "Request" means one HTTP attempt: the SDK's retries are requests too, and
//! are counted, scripted and logged like first attempts.
//!
//! Determinism: one RNG, seeded by [`Faults::new`], draws exactly one number
//! per request, in the order requests reach the layer, whether or not a plan
//! is set or a scripted fault applies; scripted faults ([`Faults::at`],
//! [`Faults::crash_after`]) take precedence over the plan. With sequential
//! requests a seed therefore always faults the same requests the same way.
//! With concurrent requests (parallel batches, `join`s) the arrival order, and
//! so which request gets which draw, can vary between runs.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use tokio::sync::Notify;

use crate::RequestLog;

/// The names [`Faults::injected`] counts under, one per kind of [`Fault`].
pub const KINDS: [&str; 6] = [
    "throttle",
    "unprocessed",
    "conflict",
    "lost_ack",
    "slow",
    "crash",
];

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers 400 `ThrottlingException` without forwarding. Any operation.
    /// The SDK retries it with backoff (3 attempts in all by default).
    Throttle,
    /// BatchWriteItem only: forwards part of `RequestItems` and answers with
    /// the rest (at least one request) added to the server's
    /// `UnprocessedItems`. A batch of one is not forwarded at all: the answer
    /// is a 200 with that one request unprocessed. Not an error: the SDK
    /// returns it and the caller must retry.
    Unprocessed,
    /// TransactWriteItems: answers 400 `TransactionCanceledException` with one
    /// cancellation reason per `TransactItems` entry, in order, one of them
    /// `TransactionConflict` and the others `None`. PutItem, UpdateItem and
    /// DeleteItem: answers 400 `TransactionConflictException`. Not forwarded,
    /// so nothing is written; the SDK does not retry either.
    TransactionConflict,
    /// A write operation (PutItem, UpdateItem, DeleteItem, BatchWriteItem,
    /// TransactWriteItems): forwards it (the write IS applied), then answers
    /// 500 `InternalServerError` instead of the real answer. The SDK retries.
    LostAck,
    /// Any operation: waits this long, then forwards.
    Slow(Duration),
    /// Any operation: forwards it (the write IS applied), then never answers,
    /// and makes [`Faults::run`] drop the handler making it, as a Lambda
    /// timeout would. Only for requests made inside [`Faults::run`].
    Crash,
}

impl Fault {
    /// Its name in [`Faults::injected`] and [`Sent::fault`].
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::Unprocessed => "unprocessed",
            Fault::TransactionConflict => "conflict",
            Fault::LostAck => "lost_ack",
            Fault::Slow(_) => "slow",
            Fault::Crash => "crash",
        }
    }

    /// Whether this fault means something for `operation` (no prefix, as
    /// "BatchWriteItem"). A fault that does not is not injected.
    pub fn applies_to(&self, operation: &str) -> bool {
        match self {
            Fault::Throttle | Fault::Slow(_) | Fault::Crash => true,
            Fault::Unprocessed => operation == "BatchWriteItem",
            Fault::TransactionConflict => matches!(
                operation,
                "TransactWriteItems" | "PutItem" | "UpdateItem" | "DeleteItem"
            ),
            Fault::LostAck => matches!(
                operation,
                "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems"
            ),
        }
    }
}

/// Random faults: the probability, per request, of each kind, among the
/// requests it applies to (see [`Fault::applies_to`]). A request gets at most
/// one fault; kinds are tried in field order, so if the probabilities that
/// apply to an operation add up to more than 1, the later ones get less than
/// asked for.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub throttle: f64,
    pub unprocessed: f64,
    pub conflict: f64,
    pub lost_ack: f64,
    /// The probability of a delay, and the delay.
    pub slow: Option<(f64, Duration)>,
}

impl Plan {
    fn validate(&self) {
        let slow = self.slow.map_or(0.0, |(p, _)| p);
        for (name, p) in [
            ("throttle", self.throttle),
            ("unprocessed", self.unprocessed),
            ("conflict", self.conflict),
            ("lost_ack", self.lost_ack),
            ("slow", slow),
        ] {
            assert!(
                p.is_finite() && (0.0..=1.0).contains(&p),
                "Plan.{name} = {p} is not a probability (0 to 1)"
            );
        }
    }

    /// The fault for a request of `operation` that drew `draw`, and a number
    /// in [0, 1) for the fault's own choices (which item, how many), taken
    /// from the same draw so each request costs exactly one.
    fn pick(&self, operation: &str, draw: f64) -> (Option<Fault>, f64) {
        let mut candidates = vec![
            (self.throttle, Fault::Throttle),
            (self.unprocessed, Fault::Unprocessed),
            (self.conflict, Fault::TransactionConflict),
            (self.lost_ack, Fault::LostAck),
        ];
        if let Some((p, delay)) = self.slow {
            candidates.push((p, Fault::Slow(delay)));
        }
        let mut low = 0.0;
        for (p, fault) in candidates {
            if p <= 0.0 || !fault.applies_to(operation) {
                continue;
            }
            if draw < low + p {
                return (Some(fault), ((draw - low) / p).clamp(0.0, 0.999_999));
            }
            low += p;
        }
        (None, draw)
    }
}

/// One request as it reached the layer.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The DynamoDB operation, as "BatchWriteItem".
    pub operation: String,
    /// When it reached the layer (before any [`Fault::Slow`] delay).
    pub at: Instant,
    /// The kind of fault injected into it, if any (see [`KINDS`]).
    pub fault: Option<&'static str>,
}

/// The fault layer: cheap to clone (an `Arc` inside), shared by the test and
/// the clients it built.
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// The [`Faults::run`] calls in progress, by id, and how to stop each.
    runs: Mutex<HashMap<u64, Arc<Notify>>>,
    next_run: AtomicU64,
}

struct State {
    rng: StdRng,
    plan: Plan,
    /// Scripted faults, by the 1-based number of the request they hit.
    script: BTreeMap<usize, Fault>,
    /// Requests seen so far.
    count: usize,
    injected: BTreeMap<&'static str, usize>,
    history: Vec<Sent>,
}

tokio::task_local! {
    /// The [`Faults::run`] the current task is polling a handler for.
    static RUN: u64;
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Faults")
            .field("requests", &state.count)
            .field("plan", &state.plan)
            .field("script", &state.script)
            .field("injected", &state.injected)
            .finish()
    }
}

impl Faults {
    /// A layer injecting nothing yet, whose random choices follow `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    rng: StdRng::seed_from_u64(seed),
                    plan: Plan::default(),
                    script: BTreeMap::new(),
                    count: 0,
                    injected: KINDS.iter().map(|kind| (*kind, 0)).collect(),
                    history: Vec::new(),
                }),
                runs: Mutex::new(HashMap::new()),
                next_run: AtomicU64::new(0),
            }),
        }
    }

    /// Random faults from now on, replacing any earlier plan. Scripted faults
    /// still take precedence. Panics if a probability is not in [0, 1].
    pub fn plan(&self, plan: Plan) {
        plan.validate();
        self.state().plan = plan;
    }

    /// The `nth` request (1-based) to reach the layer from now on, retries
    /// included, gets `fault`, replacing any fault scripted for it before.
    /// If `fault` does not apply to that request's operation (see
    /// [`Fault::applies_to`]) the request is forwarded untouched and nothing
    /// is counted in [`Faults::injected`].
    pub fn at(&self, nth: usize, fault: Fault) {
        assert!(nth >= 1, "Faults::at counts requests from 1, not {nth}");
        let mut state = self.state();
        let index = state.count + nth;
        state.script.insert(index, fault);
    }

    /// The `nth` request from now on is forwarded, then the handler is
    /// killed: [`Faults::run`] returns `None`. Same as `at(nth, Fault::Crash)`.
    pub fn crash_after(&self, nth: usize) {
        self.at(nth, Fault::Crash);
    }

    /// No more faults: drops the plan and every scripted fault not yet hit.
    /// Counters, history and the RNG's position are kept.
    pub fn clear(&self) {
        let mut state = self.state();
        state.plan = Plan::default();
        state.script.clear();
    }

    /// Runs `work` (a handler) until it finishes, `Some(output)`, or until a
    /// [`Fault::Crash`] hits one of its requests, `None`: then `work` is
    /// dropped, mid-flight, as a Lambda timeout drops a handler. The crashed
    /// request was applied; no part of `work` sees its answer.
    ///
    /// A crash is tied to its run through a task-local, so concurrent runs
    /// (in one task or several) crash independently. Requests a handler makes
    /// from tasks it spawned itself lose that tie: a crash there stops every
    /// run in progress.
    pub async fn run<F: Future>(&self, work: F) -> Option<F::Output> {
        let id = self.inner.next_run.fetch_add(1, Ordering::Relaxed);
        let stop = Arc::new(Notify::new());
        lock(&self.inner.runs).insert(id, stop.clone());
        let _registered = Registered { faults: self, id };
        let work = RUN.scope(id, work);
        tokio::select! {
            biased;
            _ = stop.notified() => None,
            output = work => Some(output),
        }
    }

    /// How many faults of each kind were injected so far; every kind of
    /// [`KINDS`] is present, so `injected()["crash"]` is 0 rather than a panic.
    pub fn injected(&self) -> BTreeMap<&'static str, usize> {
        self.state().injected.clone()
    }

    /// Every request that reached the layer, in order: its operation and
    /// when it arrived.
    pub fn requests(&self) -> Vec<(String, Instant)> {
        self.state()
            .history
            .iter()
            .map(|sent| (sent.operation.clone(), sent.at))
            .collect()
    }

    /// As [`Faults::requests`], with the fault each request got.
    pub fn history(&self) -> Vec<Sent> {
        self.state().history.clone()
    }

    /// A client like [`crate::client`] (DynamoDB Local, logging into `log`)
    /// whose requests go through this layer.
    pub fn client(&self, log: &RequestLog) -> Client {
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        let config = crate::client(log)
            .config()
            .to_builder()
            .http_client(SharedHttpClient::new(FaultClient {
                inner,
                faults: self.clone(),
            }))
            .build();
        Client::from_conf(config)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// Decides the fate of the next request, logs it, and prepares the fault.
    fn decide(&self, operation: &str, body: Option<&[u8]>) -> Action {
        let mut state = self.state();
        state.count += 1;
        let nth = state.count;
        let draw: f64 = state.rng.random();
        let (fault, sub) = match state.script.remove(&nth) {
            Some(fault) => (Some(fault), draw),
            None => state.plan.pick(operation, draw),
        };
        let action = match fault {
            Some(fault) if fault.applies_to(operation) => prepare(fault, body, sub),
            Some(fault) => {
                tracing::warn!(
                    nth,
                    operation,
                    fault = fault.kind(),
                    "scripted fault does not apply to this operation; not injected"
                );
                None
            }
            None => None,
        };
        let kind = action.as_ref().map(|(fault, _)| fault.kind());
        if let Some(kind) = kind {
            *state.injected.entry(kind).or_default() += 1;
        }
        state.history.push(Sent {
            operation: operation.to_owned(),
            at: Instant::now(),
            fault: kind,
        });
        action.map_or(Action::Forward, |(_, action)| action)
    }

    /// Stops the run a crashed request belonged to (all of them if unknown).
    fn crash(&self, run: Option<u64>) {
        let runs = lock(&self.inner.runs);
        match run.and_then(|id| runs.get(&id)) {
            Some(stop) => stop.notify_one(),
            None if runs.is_empty() => panic!(
                "Fault::Crash hit a request made outside Faults::run: nothing would ever drop \
                 the handler, which would hang; run it with `faults.run(handler).await`"
            ),
            None => runs.values().for_each(|stop| stop.notify_one()),
        }
    }
}

/// Takes a [`Faults::run`] off the list when it ends, however it ends.
struct Registered<'a> {
    faults: &'a Faults,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(&self.faults.inner.runs).remove(&self.id);
    }
}

/// A poisoned lock only means another test thread panicked; the data is fine.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fault made concrete for one request.
enum Action {
    Forward,
    Throttle,
    /// Forward this body instead (or nothing: answer locally), then add these
    /// requests, by table, to `UnprocessedItems`.
    Unprocessed {
        forward: Option<Vec<u8>>,
        held: Map<String, Value>,
    },
    /// `reasons`: how many TransactItems (None for a single-item write), and
    /// which one conflicted.
    Conflict {
        reasons: Option<usize>,
        conflicted: usize,
    },
    LostAck,
    Slow(Duration),
    Crash,
}

/// The action for `fault`, or None if the request's body does not allow it
/// (never the case for bodies the SDK builds).
fn prepare(fault: Fault, body: Option<&[u8]>, sub: f64) -> Option<(Fault, Action)> {
    let action = match fault {
        Fault::Throttle => Action::Throttle,
        Fault::LostAck => Action::LostAck,
        Fault::Slow(delay) => Action::Slow(delay),
        Fault::Crash => Action::Crash,
        Fault::Unprocessed => split_batch(&serde_json::from_slice(body?).ok()?, sub)?,
        Fault::TransactionConflict => {
            let request: Value = serde_json::from_slice(body?).ok()?;
            match request.get("TransactItems").and_then(Value::as_array) {
                Some(items) if !items.is_empty() => Action::Conflict {
                    reasons: Some(items.len()),
                    conflicted: pick(items.len(), sub),
                },
                Some(_) => return None,
                None => Action::Conflict {
                    reasons: None,
                    conflicted: 0,
                },
            }
        }
    };
    Some((fault, action))
}

/// `0..n`, chosen by `sub` in [0, 1).
fn pick(n: usize, sub: f64) -> usize {
    ((sub * n as f64) as usize).min(n.saturating_sub(1))
}

/// Holds back the last 1 to n-1 requests of a BatchWriteItem (all of a batch
/// of one), as `sub` decides.
fn split_batch(request: &Value, sub: f64) -> Option<Action> {
    let tables = request.get("RequestItems")?.as_object()?;
    let all: Vec<(&String, &Value)> = tables
        .iter()
        .flat_map(|(table, requests)| {
            requests
                .as_array()
                .into_iter()
                .flatten()
                .map(move |r| (table, r))
        })
        .collect();
    let n = all.len();
    if n == 0 {
        return None;
    }
    let hold = if n == 1 { 1 } else { 1 + pick(n - 1, sub) };
    let mut forwarded = Map::new();
    let mut held = Map::new();
    for (i, (table, r)) in all.into_iter().enumerate() {
        let side = if i < n - hold {
            &mut forwarded
        } else {
            &mut held
        };
        push(side, table, r.clone());
    }
    let forward = if forwarded.is_empty() {
        None
    } else {
        let mut request = request.clone();
        request["RequestItems"] = Value::Object(forwarded);
        Some(serde_json::to_vec(&request).ok()?)
    };
    Some(Action::Unprocessed { forward, held })
}

fn push(tables: &mut Map<String, Value>, table: &str, request: Value) {
    let entry = tables
        .entry(table.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(requests) = entry {
        requests.push(request);
    }
}

/// The SDK's HTTP client, with the fault layer in front of its connectors.
#[derive(Debug)]
struct FaultClient {
    inner: SharedHttpClient,
    faults: Faults,
}

impl HttpClient for FaultClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultConnector {
            inner: self.inner.http_connector(settings, components),
            faults: self.faults.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct FaultConnector {
    inner: SharedHttpConnector,
    faults: Faults,
}

impl HttpConnector for FaultConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .headers()
            .get("x-amz-target")
            .unwrap_or("")
            .trim_start_matches("DynamoDB_20120810.")
            .to_owned();
        // `call` runs inside the poll of the handler's future, where the
        // task-local of its `Faults::run` (if any) is set.
        let run = RUN.try_with(|id| *id).ok();
        let action = self.faults.decide(&operation, request.body().bytes());
        let inner = self.inner.clone();
        let faults = self.faults.clone();
        HttpConnectorFuture::new(async move {
            match action {
                Action::Forward => inner.call(request).await,
                Action::Throttle => Ok(error(
                    400,
                    "ThrottlingException",
                    "Throttling: rate of requests exceeds the allowed throughput (injected)",
                )),
                Action::Unprocessed { forward, held } => {
                    let Some(body) = forward else {
                        return Ok(json_response(200, &json!({ "UnprocessedItems": held })));
                    };
                    request
                        .headers_mut()
                        .insert("content-length", body.len().to_string());
                    *request.body_mut() = SdkBody::from(body);
                    let response = inner.call(request).await?;
                    add_unprocessed(response, held).await
                }
                Action::Conflict {
                    reasons,
                    conflicted,
                } => Ok(conflict(reasons, conflicted)),
                Action::LostAck => {
                    let response = inner.call(request).await?;
                    // Read the real answer to the end, so the write is surely
                    // done and the connection goes back to the pool.
                    let _ = ByteStream::new(response.into_body()).collect().await;
                    Ok(error(
                        500,
                        "InternalServerError",
                        "Internal server error (injected after the request was applied)",
                    ))
                }
                Action::Slow(delay) => {
                    tokio::time::sleep(delay).await;
                    inner.call(request).await
                }
                Action::Crash => {
                    if let Ok(response) = inner.call(request).await {
                        let _ = ByteStream::new(response.into_body()).collect().await;
                    }
                    faults.crash(run);
                    // Never answers, and never wakes: nothing spins until the
                    // run drops the handler, and this future with it.
                    std::future::pending().await
                }
            }
        })
    }
}

/// A JSON response as DynamoDB sends them (awsJson1.0).
fn json_response(status: u16, body: &Value) -> HttpResponse {
    let bytes = body.to_string().into_bytes();
    let status = StatusCode::try_from(status).expect("an HTTP status code");
    let length = bytes.len().to_string();
    let mut response = HttpResponse::new(status, SdkBody::from(bytes));
    let headers = response.headers_mut();
    headers.insert("content-type", "application/x-amz-json-1.0");
    headers.insert("content-length", length);
    headers.insert("x-amzn-requestid", "fault-injected");
    response
}

/// A DynamoDB error the SDK parses as the modelled error `code`.
fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    json_response(
        status,
        &json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
            "message": message,
        }),
    )
}

fn conflict(reasons: Option<usize>, conflicted: usize) -> HttpResponse {
    let Some(n) = reasons else {
        return error(
            400,
            "TransactionConflictException",
            "Transaction is ongoing for the item (injected)",
        );
    };
    let reasons: Vec<Value> = (0..n)
        .map(|i| {
            if i == conflicted {
                json!({ "Code": "TransactionConflict", "Message": "Transaction is ongoing for the item" })
            } else {
                json!({ "Code": "None" })
            }
        })
        .collect();
    let codes: Vec<&str> = (0..n)
        .map(|i| {
            if i == conflicted {
                "TransactionConflict"
            } else {
                "None"
            }
        })
        .collect();
    json_response(
        400,
        &json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}] (injected)",
                codes.join(", ")
            ),
            "CancellationReasons": reasons,
        }),
    )
}

/// The server's answer to the forwarded part of a batch, with the held-back
/// requests added to its `UnprocessedItems`. An error answer is passed on
/// as it is (the whole call failed; the held-back requests were not written).
async fn add_unprocessed(
    mut response: HttpResponse,
    held: Map<String, Value>,
) -> Result<HttpResponse, ConnectorError> {
    if !response.status().is_success() {
        return Ok(response);
    }
    let bytes = ByteStream::new(response.take_body())
        .collect()
        .await
        .map_err(|e| ConnectorError::io(e.into()))?
        .to_vec();
    let mut body: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ConnectorError::other(
            format!("the BatchWriteItem answer is not JSON: {e}").into(),
            None,
        )
    })?;
    let Some(answer) = body.as_object_mut() else {
        return Err(ConnectorError::other(
            "the BatchWriteItem answer is not a JSON object".into(),
            None,
        ));
    };
    let unprocessed = answer
        .entry("UnprocessedItems")
        .or_insert_with(|| Value::Object(Map::new()));
    if !unprocessed.is_object() {
        *unprocessed = Value::Object(Map::new());
    }
    if let Value::Object(tables) = unprocessed {
        for (table, requests) in held {
            for request in requests.as_array().into_iter().flatten() {
                push(tables, &table, request.clone());
            }
        }
    }
    let bytes = body.to_string().into_bytes();
    let headers = response.headers_mut();
    headers.insert("content-length", bytes.len().to_string());
    // DynamoDB's checksum of the body it sent, no longer this body.
    headers.remove("x-amz-crc32");
    *response.body_mut() = SdkBody::from(bytes);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> Value {
        let requests: Vec<Value> = (0..n)
            .map(|i| json!({ "PutRequest": { "Item": { "pk": { "S": i.to_string() } } } }))
            .collect();
        json!({ "RequestItems": { "t": requests }, "ReturnConsumedCapacity": "TOTAL" })
    }

    #[test]
    fn a_split_batch_keeps_every_request_once() {
        for n in 1..=25 {
            for sub in [0.0, 0.3, 0.999_999] {
                let Some(Action::Unprocessed { forward, held }) = split_batch(&batch(n), sub)
                else {
                    panic!("a batch of {n} splits");
                };
                let forwarded = forward
                    .map(|body| serde_json::from_slice::<Value>(&body).unwrap())
                    .map_or(0, |r| r["RequestItems"]["t"].as_array().unwrap().len());
                let held = held["t"].as_array().unwrap().len();
                assert!(held >= 1, "at least one held back");
                assert!(n == 1 || forwarded >= 1, "at least one forwarded");
                assert_eq!(forwarded + held, n);
            }
        }
    }

    #[test]
    fn plans_pick_only_faults_that_apply() {
        let plan = Plan {
            unprocessed: 0.5,
            conflict: 0.5,
            ..Plan::default()
        };
        assert_eq!(plan.pick("GetItem", 0.1).0, None);
        assert_eq!(plan.pick("BatchWriteItem", 0.1).0, Some(Fault::Unprocessed));
        assert_eq!(plan.pick("BatchWriteItem", 0.6).0, None);
        assert_eq!(
            plan.pick("PutItem", 0.1).0,
            Some(Fault::TransactionConflict)
        );
    }

    #[test]
    fn a_seed_decides_the_same_faults() {
        let faults = |seed| {
            let f = Faults::new(seed);
            f.plan(Plan {
                throttle: 0.3,
                ..Plan::default()
            });
            (0..50)
                .map(|_| matches!(f.decide("GetItem", None), Action::Throttle))
                .collect::<Vec<_>>()
        };
        assert_eq!(faults(7), faults(7));
        assert_ne!(faults(7), faults(8));
    }
}
