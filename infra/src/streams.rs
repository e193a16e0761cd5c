//! The local stand-in for Lambda's DynamoDB event source mappings: it reads
//! the table's stream from DynamoDB Local and hands its records to the stream
//! functions (`events`, `purge-user`) through `cargo lambda watch`'s Invoke
//! API, as Lambda would.
//!
//! What it takes from template.yaml, so that the local delivery and the
//! deployed one are one definition: which functions a stream triggers, each
//! one's `FilterCriteria` (a record no filter matches is dropped, as Lambda
//! drops it), `BatchSize` and `MaximumRetryAttempts`. Each function reads
//! every shard with its own iterator, as each event source mapping does, so a
//! record `purge-user` keeps failing never holds up `events`. A child shard is
//! read once its parent is finished, to keep a key's records in order.
//!
//! A batch is the Lambda DynamoDB event (`{"Records":[…]}`, DynamoDB-JSON
//! images). A function that fails, or answers `batchItemFailures`, gets the
//! batch again from the first failed record on, with exponential backoff;
//! after `MaximumRetryAttempts` retries the records are logged as what would
//! go to the dead-letter queue, and reading goes on.
//!
//! Differences from AWS, none of which the functions can tell: reading starts
//! at TRIM_HORIZON for every function (`purge-user` is LATEST in the
//! template), because a record written between the table's creation and the
//! first GetShardIterator would otherwise be missed, and handling is
//! idempotent (`events` keys each event on the record, `purge-user` acts only
//! on a deletion under way); `BisectBatchOnFunctionError` is not imitated;
//! polling is every [`POLL_EVERY`] per shard and function.
//!
//! It runs for hours under `make dev`: no error ends it. A failed request is
//! logged and retried with backoff, and a record that cannot be converted is
//! logged and skipped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use serde_json::{json, Map, Value};
use tokio::task::{JoinHandle, JoinSet};

use crate::table::{TableError, TEMPLATE};

/// How often an idle shard is read (Lambda reads each shard about four times
/// a second).
pub const POLL_EVERY: Duration = Duration::from_millis(200);

/// How often the stream's shards are listed, to pick up new ones.
const DISCOVER_EVERY: Duration = Duration::from_secs(1);

/// Backoff between attempts at a failed batch, and between failed reads.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The region in records that carry none.
const REGION: &str = "us-east-1";

/// One event source mapping of template.yaml: a function the stream triggers.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The function's binary, as `cargo lambda watch` serves it.
    pub function: String,
    /// Records per invocation at most.
    pub batch_size: usize,
    /// Retries of a failing batch before its records are given up.
    pub max_retries: u32,
    /// A record is delivered when any of these matches it (all records when
    /// there are none).
    pub filters: Vec<Pattern>,
}

impl Mapping {
    /// Whether the mapping's filters let this Lambda-shaped record through.
    pub fn accepts(&self, record: &Value) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| f.matches(record))
    }
}

/// A filter pattern, in the subset of Lambda's (EventBridge's) pattern syntax
/// that template.yaml uses: nested objects, and lists of alternatives that
/// are exact values or `{"prefix": "…"}`. Anything else is refused when the
/// template is read, so that a new operator in the template is not silently
/// ignored here.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// Every named field is present and matches its pattern.
    Fields(Vec<(String, Pattern)>),
    /// The value (or, for a list, one of its elements) matches one of these.
    AnyOf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    Exact(Value),
    Prefix(String),
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| TableError::Template(format!("filter pattern {text}: {e}")))?;
        Self::from_value(&value)
            .map_err(|e| TableError::Template(format!("filter pattern {text}: {e}")))
    }

    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Object(fields) => fields
                .iter()
                .map(|(name, p)| Ok((name.clone(), Self::from_value(p)?)))
                .collect::<Result<_, String>>()
                .map(Pattern::Fields),
            Value::Array(alternatives) => alternatives
                .iter()
                .map(|a| match a {
                    Value::Object(op) => match (op.len(), op.get("prefix")) {
                        (1, Some(Value::String(prefix))) => Ok(Matcher::Prefix(prefix.clone())),
                        _ => Err(format!("unsupported operator {a}")),
                    },
                    Value::Array(_) => Err(format!("a list inside a list: {a}")),
                    scalar => Ok(Matcher::Exact(scalar.clone())),
                })
                .collect::<Result<_, String>>()
                .map(Pattern::AnyOf),
            other => Err(format!("{other} is neither an object nor a list")),
        }
    }

    pub fn matches(&self, value: &Value) -> bool {
        match self {
            Pattern::Fields(fields) => fields
                .iter()
                .all(|(name, p)| value.get(name).is_some_and(|v| p.matches(v))),
            Pattern::AnyOf(matchers) => {
                let one = |v: &Value| {
                    matchers.iter().any(|m| match m {
                        Matcher::Exact(expected) => expected == v,
                        Matcher::Prefix(prefix) => {
                            v.as_str().is_some_and(|s| s.starts_with(prefix))
                        }
                    })
                };
                match value {
                    Value::Array(items) => items.iter().any(one),
                    scalar => one(scalar),
                }
            }
        }
    }
}

/// The DynamoDB event source mappings a SAM template declares.
pub fn mappings_from(template: &str) -> Result<Vec<Mapping>, TableError> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).map_err(|e| TableError::Template(e.to_string()))?;
    let resources = doc
        .get("Resources")
        .and_then(serde_yaml::Value::as_mapping)
        .ok_or_else(|| TableError::Template("no Resources".into()))?;
    let mut mappings = Vec::new();
    for (name, resource) in resources {
        let name = name.as_str().unwrap_or("?");
        let sources = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(serde_yaml::Value::as_mapping);
        for source in sources.into_iter().flat_map(|events| events.values()) {
            if source.get("Type").and_then(serde_yaml::Value::as_str) != Some("DynamoDB") {
                continue;
            }
            let function = resource
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(serde_yaml::Value::as_str)
                .ok_or_else(|| {
                    TableError::Template(format!(
                        "{name} has a stream but no BuildProperties.Binary"
                    ))
                })?;
            let properties = source.get("Properties");
            let number = |key: &str, default: u64| {
                properties
                    .and_then(|p| p.get(key))
                    .and_then(serde_yaml::Value::as_u64)
                    .unwrap_or(default)
            };
            let filters = properties
                .and_then(|p| p.get("FilterCriteria"))
                .and_then(|f| f.get("Filters"))
                .and_then(serde_yaml::Value::as_sequence)
                .into_iter()
                .flatten()
                .map(|f| {
                    f.get("Pattern")
                        .and_then(serde_yaml::Value::as_str)
                        .ok_or_else(|| {
                            TableError::Template(format!("{name}: a filter without a Pattern"))
                        })
                        .and_then(Pattern::parse)
                })
                .collect::<Result<Vec<_>, _>>()?;
            mappings.push(Mapping {
                function: function.to_owned(),
                // Lambda's defaults for a DynamoDB stream.
                batch_size: number("BatchSize", 100).clamp(1, 1000) as usize,
                max_retries: u32::try_from(number("MaximumRetryAttempts", 10_000))
                    .unwrap_or(u32::MAX),
                filters,
            });
        }
    }
    Ok(mappings)
}

/// The mappings of the template built into this binary.
pub fn mappings() -> Result<Vec<Mapping>, TableError> {
    mappings_from(TEMPLATE)
}

/// An image (keys, new or old) in DynamoDB JSON, as Lambda's event carries it.
fn image(
    attributes: &HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
) -> Result<Value, serde_json::Error> {
    let converted: HashMap<&str, serde_dynamo::AttributeValue> = attributes
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone().into()))
        .collect();
    serde_json::to_value(converted)
}

/// A stream record as the Lambda DynamoDB event's record, or why it cannot be.
pub fn lambda_record(record: &Record, stream_arn: &str) -> Result<Value, String> {
    let change = record
        .dynamodb()
        .ok_or_else(|| format!("record {:?} has no dynamodb part", record.event_id()))?;
    let mut dynamodb = Map::new();
    if let Some(at) = change.approximate_creation_date_time() {
        dynamodb.insert(
            "ApproximateCreationDateTime".into(),
            json!(at.as_secs_f64()),
        );
    }
    for (name, attributes) in [
        ("Keys", change.keys()),
        ("NewImage", change.new_image()),
        ("OldImage", change.old_image()),
    ] {
        if let Some(attributes) = attributes {
            let converted = image(attributes).map_err(|e| format!("{name}: {e}"))?;
            dynamodb.insert(name.into(), converted);
        }
    }
    let sequence = change
        .sequence_number()
        .ok_or_else(|| format!("record {:?} has no sequence number", record.event_id()))?;
    dynamodb.insert("SequenceNumber".into(), json!(sequence));
    dynamodb.insert("SizeBytes".into(), json!(change.size_bytes().unwrap_or(0)));
    if let Some(view) = change.stream_view_type() {
        dynamodb.insert("StreamViewType".into(), json!(view.as_str()));
    }
    let mut lambda = json!({
        "eventID": record.event_id().unwrap_or(sequence),
        "eventName": record.event_name().map(|n| n.as_str()).unwrap_or_default(),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": record.event_source().unwrap_or("aws:dynamodb"),
        "awsRegion": record.aws_region().unwrap_or(REGION),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    });
    // TTL deletions say who made them.
    if let Some(identity) = record.user_identity() {
        lambda["userIdentity"] = json!({
            "type": identity.r#type(),
            "principalId": identity.principal_id(),
        });
    }
    Ok(lambda)
}

/// Where, in a batch, delivery starts again after the function's answer:
/// `None` when every record is done; otherwise the first failed record, or
/// the whole batch when a reported identifier names no record of it (as
/// Lambda treats an answer it cannot read).
fn retry_from(answer: &Value, batch: &[Value]) -> Option<usize> {
    let failures = answer.get("batchItemFailures")?.as_array()?;
    if failures.is_empty() {
        return None;
    }
    let mut first = batch.len();
    for failure in failures {
        let position = failure
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .and_then(|id| {
                batch
                    .iter()
                    .position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(id))
            });
        match position {
            Some(p) => first = first.min(p),
            None => return Some(0),
        }
    }
    Some(first)
}

/// The running poller: aborted when dropped, with every shard reader it
/// started (they live in its task's [`JoinSet`]).
pub struct Running {
    task: JoinHandle<()>,
    /// The stream it reads.
    pub stream_arn: String,
    /// The functions it delivers to.
    pub functions: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Clients of DynamoDB Local (`DYNAMODB_ENDPOINT`), and only of it: the
/// poller invokes local functions, and must never consume a real table's
/// stream with someone's AWS credentials. DynamoDB Local accepts any
/// credentials; no AWS configuration is loaded (which would also look for a
/// region in the instance metadata service).
fn local_clients() -> Result<(aws_sdk_dynamodb::Client, aws_sdk_dynamodbstreams::Client), String> {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT")
        .map_err(|_| "DYNAMODB_ENDPOINT is not set: the poller reads DynamoDB Local only")?;
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| REGION.to_owned());
    let dynamodb = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_sdk_dynamodb::config::Region::new(region.clone()))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "dynamodb-local",
        ))
        .build();
    let streams = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodbstreams::config::Region::new(region))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "dynamodb-local",
        ))
        .build();
    Ok((
        aws_sdk_dynamodb::Client::from_conf(dynamodb),
        aws_sdk_dynamodbstreams::Client::from_conf(streams),
    ))
}

/// Starts the poller when `table` (on DynamoDB Local, `DYNAMODB_ENDPOINT`)
/// has a stream: `Ok(None)` when it has none. The poller invokes the
/// functions through the Invoke API at `watch_url`.
pub async fn start(table: &str, watch_url: &str) -> Result<Option<Running>, String> {
    let (dynamodb, streams) = local_clients()?;
    let Some(stream_arn) = crate::table::stream_arn(&dynamodb, table)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let mappings = mappings().map_err(|e| e.to_string())?;
    let functions = mappings.iter().map(|m| m.function.clone()).collect();
    let http = reqwest::Client::builder()
        .build()
        .map_err(|e| e.to_string())?;
    let poller = Arc::new(Poller {
        streams,
        http,
        watch_url: watch_url.trim_end_matches('/').to_owned(),
        stream_arn: stream_arn.clone(),
        mappings,
        finished: Mutex::default(),
    });
    let task = tokio::spawn(poller.run());
    Ok(Some(Running {
        task,
        stream_arn,
        functions,
    }))
}

struct Poller {
    streams: aws_sdk_dynamodbstreams::Client,
    http: reqwest::Client,
    watch_url: String,
    stream_arn: String,
    mappings: Vec<Mapping>,
    /// (mapping, shard) pairs read to their end: a child shard waits for its
    /// parent's.
    finished: Mutex<HashSet<(usize, String)>>,
}

fn backoff(delay: Duration) -> Duration {
    (delay * 2).min(RETRY_MAX)
}

impl Poller {
    /// Lists the shards every [`DISCOVER_EVERY`] and starts a reader for each
    /// new one and each mapping. Never returns; dropping it (aborting its
    /// task) stops the readers too.
    async fn run(self: Arc<Self>) {
        let mut readers = JoinSet::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut delay = RETRY_FIRST;
        loop {
            match self.shards().await {
                Ok(shards) => {
                    delay = RETRY_FIRST;
                    let listed: HashSet<String> = shards.iter().map(|(id, _)| id.clone()).collect();
                    for (shard, parent) in shards {
                        if seen.contains(&shard) {
                            continue;
                        }
                        // A parent we know of is read first; one that is
                        // gone (trimmed) is nothing to wait for.
                        let parent = parent.filter(|p| seen.contains(p) || listed.contains(p));
                        for mapping in 0..self.mappings.len() {
                            readers.spawn(self.clone().read_shard(
                                mapping,
                                shard.clone(),
                                parent.clone(),
                            ));
                        }
                        seen.insert(shard);
                    }
                    tokio::time::sleep(DISCOVER_EVERY).await;
                }
                Err(err) => {
                    eprintln!(
                        "streams: listing the shards failed, again in {} ms: {err}",
                        delay.as_millis()
                    );
                    tokio::time::sleep(delay).await;
                    delay = backoff(delay);
                }
            }
            // Collect the readers that ended (a finished shard, or a panic).
            while let Some(ended) = readers.try_join_next() {
                if let Err(err) = ended {
                    eprintln!("streams: a shard reader stopped: {err}");
                }
            }
        }
    }

    /// Every shard of the stream, with its parent.
    async fn shards(&self) -> Result<Vec<(String, Option<String>)>, String> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let described = self
                .streams
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string())?;
            let Some(description) = described.stream_description() else {
                return Ok(shards);
            };
            shards.extend(description.shards().iter().filter_map(|s| {
                Some((
                    s.shard_id()?.to_owned(),
                    s.parent_shard_id().map(str::to_owned),
                ))
            }));
            start = description.last_evaluated_shard_id().map(str::to_owned);
            if start.is_none() {
                return Ok(shards);
            }
        }
    }

    fn is_finished(&self, mapping: usize, shard: &str) -> bool {
        self.finished
            .lock()
            .is_ok_and(|f| f.contains(&(mapping, shard.to_owned())))
    }

    fn finish(&self, mapping: usize, shard: String) {
        if let Ok(mut finished) = self.finished.lock() {
            finished.insert((mapping, shard));
        }
    }

    /// A new iterator: after the last record handled, or from the oldest.
    async fn iterator(
        &self,
        shard: &str,
        after: Option<&str>,
    ) -> Result<Option<String>, IteratorError> {
        let request = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard);
        let request = match after {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let answer = request.send().await.map_err(|e| IteratorError {
            trimmed: e
                .as_service_error()
                .is_some_and(|s| s.is_trimmed_data_access_exception()),
            text: aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string(),
        })?;
        Ok(answer.shard_iterator().map(str::to_owned))
    }

    /// Reads one shard for one mapping, to its end (a closed shard), handing
    /// each batch on before reading the next, as a shard's records are
    /// delivered in order.
    async fn read_shard(self: Arc<Self>, mapping: usize, shard: String, parent: Option<String>) {
        if let Some(parent) = parent {
            while !self.is_finished(mapping, &parent) {
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
        let m = &self.mappings[mapping];
        // The last record handled: delivered, filtered out, or given up.
        let mut checkpoint: Option<String> = None;
        let mut iterator: Option<String> = None;
        let mut delay = RETRY_FIRST;
        loop {
            let current = match iterator.take() {
                Some(current) => current,
                None => match self.iterator(&shard, checkpoint.as_deref()).await {
                    Ok(Some(current)) => current,
                    // No iterator: the shard is closed and read to its end.
                    Ok(None) => break,
                    Err(err) => {
                        eprintln!(
                            "streams: {}: no iterator for shard {shard}, again in {} ms: {}",
                            m.function,
                            delay.as_millis(),
                            err.text
                        );
                        // A checkpoint past the stream's 24 hours (a laptop
                        // asleep over a day) never gets one: start over.
                        if err.trimmed {
                            checkpoint = None;
                        }
                        tokio::time::sleep(delay).await;
                        delay = backoff(delay);
                        continue;
                    }
                },
            };
            let read = self
                .streams
                .get_records()
                .shard_iterator(&current)
                .limit(i32::try_from(m.batch_size).unwrap_or(1000))
                .send()
                .await;
            let answer = match read {
                Ok(answer) => answer,
                Err(err) => {
                    let service = err.as_service_error();
                    if service.is_some_and(|e| e.is_expired_iterator_exception()) {
                        // A new iterator from the checkpoint, after a pause:
                        // an answer that repeats never makes a hot loop.
                        tokio::time::sleep(POLL_EVERY).await;
                        continue;
                    }
                    if service.is_some_and(|e| e.is_trimmed_data_access_exception()) {
                        checkpoint = None;
                        tokio::time::sleep(POLL_EVERY).await;
                        continue;
                    }
                    // A resource that is gone (the table deleted) ends this
                    // reader: nothing more will come from it.
                    let gone = service.is_some_and(|e| e.is_resource_not_found_exception());
                    let then = if gone {
                        "stopped reading it".to_owned()
                    } else {
                        format!("again in {} ms", delay.as_millis())
                    };
                    eprintln!(
                        "streams: {}: reading shard {shard} failed, {then}: {}",
                        m.function,
                        aws_sdk_dynamodbstreams::error::DisplayErrorContext(&err)
                    );
                    if gone {
                        return;
                    }
                    // A new iterator from the checkpoint next time: the old
                    // one may be what failed (DynamoDB Local restarted).
                    tokio::time::sleep(delay).await;
                    delay = backoff(delay);
                    continue;
                }
            };
            delay = RETRY_FIRST;
            let records = answer.records();
            let mut batch = Vec::new();
            for record in records {
                match lambda_record(record, &self.stream_arn) {
                    Ok(converted) if m.accepts(&converted) => batch.push(converted),
                    Ok(_) => {}
                    Err(err) => eprintln!("streams: {}: skipped a record: {err}", m.function),
                }
            }
            if !batch.is_empty() {
                self.deliver(m, batch).await;
            }
            if let Some(last) = records
                .iter()
                .rev()
                .find_map(|r| r.dynamodb().and_then(|d| d.sequence_number()))
            {
                checkpoint = Some(last.to_owned());
            }
            match answer.next_shard_iterator() {
                Some(next) => iterator = Some(next.to_owned()),
                None => break,
            }
            if records.is_empty() {
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
        self.finish(mapping, shard);
    }

    /// Invokes the mapping's function with the batch until it has handled
    /// every record, each retry from the first record it failed; after the
    /// mapping's retries the rest is given up, as to a dead-letter queue.
    async fn deliver(&self, m: &Mapping, mut batch: Vec<Value>) {
        let mut delay = RETRY_FIRST;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let event = json!({ "Records": batch });
            let why = match crate::gateway::invoke(&self.http, &self.watch_url, &m.function, &event)
                .await
            {
                Ok(answer) => match retry_from(&answer, &batch) {
                    None => return,
                    Some(first) => {
                        batch.drain(..first);
                        format!("{} reported {} records as failed", m.function, batch.len())
                    }
                },
                Err(err) => err,
            };
            let sequence = |r: Option<&Value>| {
                r.and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
                    .unwrap_or("?")
                    .to_owned()
            };
            let (first, last) = (sequence(batch.first()), sequence(batch.last()));
            if attempt > m.max_retries {
                eprintln!(
                    "streams: {}: gave up on {} records (sequence numbers {first} to {last}) \
                     after {attempt} attempts: in AWS they would go to the dead-letter queue. \
                     Last failure: {why}",
                    m.function,
                    batch.len()
                );
                return;
            }
            eprintln!(
                "streams: {}: attempt {attempt} at records {first} to {last} failed, \
                 again in {} ms: {why}",
                m.function,
                delay.as_millis()
            );
            tokio::time::sleep(delay).await;
            delay = backoff(delay);
        }
    }
}

/// Why no shard iterator was had: whether the position asked for is past
/// the stream's retention, which asking again never fixes.
#[derive(Debug)]
struct IteratorError {
    trimmed: bool,
    text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodbstreams::types::{
        AttributeValue, Identity, OperationType, StreamRecord, StreamViewType,
    };

    fn mapping(function: &str) -> Mapping {
        mappings()
            .unwrap()
            .into_iter()
            .find(|m| m.function == function)
            .unwrap_or_else(|| panic!("template.yaml has no stream mapping for {function}"))
    }

    fn record(name: &str, sk: &str) -> Value {
        json!({
            "eventName": name,
            "dynamodb": {"Keys": {"pk": {"S": "USER#a"}, "sk": {"S": sk}}}
        })
    }

    #[test]
    fn the_template_s_mappings_and_filters_are_read() {
        let purge = mapping("purge-user");
        assert_eq!((purge.batch_size, purge.max_retries), (10, 50));
        let events = mapping("events");
        assert_eq!((events.batch_size, events.max_retries), (100, 20));
        assert_eq!(mappings().unwrap().len(), 2);

        assert!(purge.accepts(&record("INSERT", "PURGE")));
        assert!(purge.accepts(&record("MODIFY", "PURGE")));
        assert!(!purge.accepts(&record("REMOVE", "PURGE")));
        assert!(!purge.accepts(&record("INSERT", "PROFILE")));

        for name in ["INSERT", "MODIFY", "REMOVE"] {
            assert!(events.accepts(&record(name, "PROFILE")));
            assert!(events.accepts(&record(name, "CONN#c1")));
        }
        for sk in ["PURGE", "TXN#1", "ACC#1", "CONN", "PROFILE#x", "create"] {
            assert!(!events.accepts(&record("INSERT", sk)), "{sk}");
        }
        // A number is not the string of it, and a missing field never matches.
        assert!(!events.accepts(&json!({"dynamodb": {"Keys": {"sk": {"N": "1"}}}})));
        assert!(!events.accepts(&json!({"eventName": "INSERT"})));
    }

    #[test]
    fn unsupported_pattern_syntax_is_refused() {
        assert!(Pattern::parse(r#"{"a": [{"anything-but": "x"}]}"#).is_err());
        assert!(Pattern::parse(r#"{"a": "x"}"#).is_err());
        assert!(Pattern::parse(r#"{"a": [[1]]}"#).is_err());
        let p = Pattern::parse(r#"{"a": {"b": [1, "x", {"prefix": "y"}]}}"#).unwrap();
        assert!(p.matches(&json!({"a": {"b": 1}})));
        assert!(p.matches(&json!({"a": {"b": ["z", "yes"]}})));
        assert!(!p.matches(&json!({"a": {"b": "1"}})));
    }

    #[test]
    fn records_become_lambda_records_as_the_functions_read_them() {
        use aws_lambda_events::event::dynamodb::Event;

        let keys = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("USER#a".into())),
            ("sk".to_owned(), AttributeValue::S("PROFILE".into())),
        ]);
        let mut new_image = keys.clone();
        new_image.insert("version".into(), AttributeValue::N("2".into()));
        new_image.insert("tags".into(), AttributeValue::Ss(vec!["x".into()]));
        new_image.insert(
            "m".into(),
            AttributeValue::M(HashMap::from([(
                "l".to_owned(),
                AttributeValue::L(vec![AttributeValue::Bool(true), AttributeValue::Null(true)]),
            )])),
        );
        let change = StreamRecord::builder()
            .approximate_creation_date_time(aws_smithy_types_now())
            .set_keys(Some(keys.clone()))
            .set_new_image(Some(new_image))
            .set_old_image(Some(keys))
            .sequence_number("000100")
            .size_bytes(120)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build();
        let record = Record::builder()
            .event_id("e1")
            .event_name(OperationType::Modify)
            .event_version("1.1")
            .event_source("aws:dynamodb")
            .aws_region("ddblocal")
            .dynamodb(change)
            .user_identity(
                Identity::builder()
                    .r#type("Service")
                    .principal_id("dynamodb.amazonaws.com")
                    .build(),
            )
            .build();
        let lambda = lambda_record(
            &record,
            "arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/s",
        )
        .unwrap();
        assert_eq!(lambda["dynamodb"]["NewImage"]["version"], json!({"N": "2"}));
        assert!(mapping("events").accepts(&lambda));

        let event: Event = serde_json::from_value(json!({ "Records": [lambda] }))
            .expect("a Lambda DynamoDB event");
        let parsed = &event.records[0];
        assert_eq!(parsed.event_name, "MODIFY");
        assert_eq!(parsed.event_id, "e1");
        assert_eq!(parsed.change.sequence_number.as_deref(), Some("000100"));
        assert_eq!(
            parsed.change.new_image.get("version"),
            Some(&serde_dynamo::AttributeValue::N("2".into()))
        );
        assert_eq!(
            parsed.change.keys.get("sk"),
            Some(&serde_dynamo::AttributeValue::S("PROFILE".into()))
        );
        assert!(parsed.change.old_image.get("version").is_none());
    }

    fn aws_smithy_types_now() -> aws_sdk_dynamodbstreams::primitives::DateTime {
        aws_sdk_dynamodbstreams::primitives::DateTime::from_secs(1_800_000_000)
    }

    #[test]
    fn a_batch_is_retried_from_its_first_failed_record() {
        let batch: Vec<Value> = ["1", "2", "3"]
            .iter()
            .map(|s| json!({"dynamodb": {"SequenceNumber": s}}))
            .collect();
        assert_eq!(retry_from(&json!({}), &batch), None);
        assert_eq!(retry_from(&json!({"batchItemFailures": []}), &batch), None);
        let failed = |ids: &[&str]| json!({"batchItemFailures": ids.iter().map(|i| json!({"itemIdentifier": i})).collect::<Vec<_>>()});
        assert_eq!(retry_from(&failed(&["3", "2"]), &batch), Some(1));
        assert_eq!(retry_from(&failed(&["3"]), &batch), Some(2));
        // An identifier that names no record fails the whole batch.
        assert_eq!(retry_from(&failed(&["9"]), &batch), Some(0));
        assert_eq!(
            retry_from(
                &json!({"batchItemFailures": [{"itemIdentifier": null}]}),
                &batch
            ),
            Some(0)
        );
    }
}
