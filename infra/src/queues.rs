//! The webhook delivery queue, locally: `make dev` and the tests run an SQS
//! emulator (moto, `SQS_ENDPOINT`), and this module creates the queue and
//! its dead-letter queue there as template.yaml declares them
//! ([`definition`]), and stands in for Lambda's SQS event source mapping of
//! `deliver-webhooks` ([`start`]).
//!
//! What it takes from template.yaml, so that the local queue and the
//! deployed one are one definition: `WebhookQueue`'s `VisibilityTimeout`,
//! `MessageRetentionPeriod` and `RedrivePolicy.maxReceiveCount`, its
//! dead-letter queue's retention, and the SQS event source that reads it:
//! the function, its `BatchSize` and whether it reports batch item failures.
//!
//! The poller does what the event source mapping does: it long-polls the
//! queue, hands each batch to the function as the Lambda SQS event
//! (`{"Records":[…]}`, see [`lambda_record`]) through `cargo lambda watch`'s
//! Invoke API, and deletes every message the function did not report in
//! `batchItemFailures` ([`to_delete`]). A function error deletes nothing:
//! the batch comes back after its visibility timeout, and the queue's
//! redrive moves a message received `maxReceiveCount` times to the
//! dead-letter queue, as in AWS.
//!
//! Differences from AWS, none of which the function can tell: one batch is
//! in flight at a time (Lambda runs several pollers), and an invocation may
//! take [`INVOKE_TIMEOUT`], far past the function's own timeout, because the
//! watcher compiles a function on its first invocation.
//!
//! It runs for hours under `make dev`: no error ends it. A failed request is
//! logged and retried after a pause that grows, and every empty receive
//! ends in a pause too, so it never spins.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use aws_sdk_sqs::Client;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;

use crate::table::{TableError, TEMPLATE};

/// The queue's logical id in template.yaml.
pub const QUEUE_RESOURCE: &str = "WebhookQueue";

/// The local queues' names (CloudFormation names the deployed ones).
pub const QUEUE_NAME: &str = "webhooks";
pub const DEAD_LETTER_QUEUE_NAME: &str = "webhooks-dead";

/// How long one receive waits for a message (SQS long polling, 1 to 20 s):
/// long enough to keep an idle poller quiet, short enough to stop promptly.
const WAIT_SECONDS: i32 = 2;

/// The pause after an empty receive, in case a receive answers at once
/// (an emulator that ignores long polling): the poller never spins.
const IDLE_PAUSE: Duration = Duration::from_millis(200);

/// Backoff after a failed receive, delete or invocation.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// How long one invocation may take: the function's own timeout (60 s in
/// the template) plus the first invocation's compilation by `cargo lambda
/// watch` (about four minutes on a cold machine). Past it the batch counts
/// as failed and comes back after its visibility timeout.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(300);

/// The region of the local clients, unless AWS_REGION says otherwise.
const REGION: &str = "us-east-1";

/// The webhook queue, its dead-letter queue and its consumer, as
/// template.yaml declares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// Seconds a received message stays invisible (`VisibilityTimeout`).
    pub visibility_timeout: u32,
    /// Seconds a message is kept (`MessageRetentionPeriod`).
    pub retention: u32,
    /// Receives after which the redrive moves a message to the dead-letter
    /// queue (`RedrivePolicy.maxReceiveCount`).
    pub max_receive_count: u32,
    /// The dead-letter queue's `MessageRetentionPeriod`.
    pub dead_letter_retention: u32,
    /// The function the queue's SQS event source invokes, as `cargo lambda
    /// watch` serves it.
    pub function: String,
    /// Messages per invocation at most (`BatchSize`).
    pub batch_size: i32,
    /// Whether the function answers `batchItemFailures`
    /// (`FunctionResponseTypes: [ReportBatchItemFailures]`); without it,
    /// any answer settles the whole batch.
    pub reports_item_failures: bool,
}

/// The resource a `!GetAtt <Resource>.Arn` names.
fn arn_of(value: Option<&serde_yaml::Value>) -> Option<&str> {
    match value? {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
            tagged.value.as_str()?.strip_suffix(".Arn")
        }
        _ => None,
    }
}

/// A whole-number property, with AWS's default when absent.
fn number(properties: Option<&serde_yaml::Value>, key: &str, default: u32) -> u32 {
    properties
        .and_then(|p| p.get(key))
        .and_then(serde_yaml::Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(default)
}

/// The webhook queue's definition in a SAM template.
pub fn definition_from(template: &str) -> Result<Definition, TableError> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).map_err(|e| TableError::Template(e.to_string()))?;
    let resources = doc
        .get("Resources")
        .and_then(serde_yaml::Value::as_mapping)
        .ok_or_else(|| TableError::Template("no Resources".into()))?;
    let queue = resources
        .get(QUEUE_RESOURCE)
        .and_then(|q| q.get("Properties"))
        .ok_or_else(|| TableError::Template(format!("no {QUEUE_RESOURCE}.Properties")))?;
    let redrive = queue.get("RedrivePolicy").ok_or_else(|| {
        TableError::Template(format!(
            "{QUEUE_RESOURCE} has no RedrivePolicy: its failures would never be parked"
        ))
    })?;
    let max_receive_count = redrive
        .get("maxReceiveCount")
        .and_then(serde_yaml::Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| TableError::Template(format!("{QUEUE_RESOURCE}: no maxReceiveCount")))?;
    let dead_letter = arn_of(redrive.get("deadLetterTargetArn")).ok_or_else(|| {
        TableError::Template(format!(
            "{QUEUE_RESOURCE}: deadLetterTargetArn is not a !GetAtt <queue>.Arn"
        ))
    })?;
    let dead_letter_properties = resources
        .get(dead_letter)
        .ok_or_else(|| TableError::Template(format!("no {dead_letter}, {QUEUE_RESOURCE}'s DLQ")))?
        .get("Properties");

    let mut consumer = None;
    for (name, resource) in resources {
        let sources = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(serde_yaml::Value::as_mapping);
        for source in sources.into_iter().flat_map(|events| events.values()) {
            let properties = source.get("Properties");
            if source.get("Type").and_then(serde_yaml::Value::as_str) != Some("SQS")
                || arn_of(properties.and_then(|p| p.get("Queue"))) != Some(QUEUE_RESOURCE)
            {
                continue;
            }
            let name = name.as_str().unwrap_or("?");
            if consumer.is_some() {
                return Err(TableError::Template(format!(
                    "{QUEUE_RESOURCE} has more than one consumer ({name} too)"
                )));
            }
            let function = resource
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(serde_yaml::Value::as_str)
                .ok_or_else(|| {
                    TableError::Template(format!("{name} reads a queue but has no Binary"))
                })?;
            let reports_item_failures = properties
                .and_then(|p| p.get("FunctionResponseTypes"))
                .and_then(serde_yaml::Value::as_sequence)
                .is_some_and(|types| {
                    types
                        .iter()
                        .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
                });
            // Lambda's default batch size for a standard queue.
            let batch_size = i32::try_from(number(properties, "BatchSize", 10)).unwrap_or(10);
            consumer = Some((function.to_owned(), batch_size, reports_item_failures));
        }
    }
    let (function, batch_size, reports_item_failures) = consumer
        .ok_or_else(|| TableError::Template(format!("no function reads {QUEUE_RESOURCE}")))?;
    Ok(Definition {
        // SQS's defaults: 30 s visibility, 4 days' retention.
        visibility_timeout: number(Some(queue), "VisibilityTimeout", 30),
        retention: number(Some(queue), "MessageRetentionPeriod", 345_600),
        max_receive_count,
        dead_letter_retention: number(dead_letter_properties, "MessageRetentionPeriod", 345_600),
        function,
        // A receive returns 10 messages at most.
        batch_size: batch_size.clamp(1, 10),
        reports_item_failures,
    })
}

/// The webhook queue's definition in the template built into this binary.
pub fn definition() -> Result<Definition, TableError> {
    definition_from(TEMPLATE)
}

/// A client of the SQS emulator at `endpoint`, and only of it: nothing
/// local must reach a real queue with someone's AWS credentials. The
/// emulator accepts any credentials; no AWS configuration is loaded.
pub fn local_client(endpoint: &str) -> Client {
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| REGION.to_owned());
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_sqs::config::Region::new(region))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "sqs-emulator",
        ))
        .build();
    Client::from_conf(config)
}

/// [`local_client`] of `SQS_ENDPOINT`.
pub fn local_client_from_env() -> Result<Client, String> {
    let endpoint = std::env::var("SQS_ENDPOINT")
        .map_err(|_| "SQS_ENDPOINT is not set: only a local SQS emulator is used".to_owned())?;
    Ok(local_client(&endpoint))
}

fn sqs_error<E, R>(what: &str, err: aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    format!("{what}: {}", aws_sdk_sqs::error::DisplayErrorContext(err))
}

/// A queue and its dead-letter queue, created.
#[derive(Debug, Clone)]
pub struct Queues {
    pub url: String,
    pub arn: String,
    pub dead_url: String,
}

/// The ARN of the queue at `url`.
pub async fn arn(client: &Client, url: &str) -> Result<String, String> {
    let answer = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sqs_error(&format!("the ARN of {url}"), e))?;
    answer
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| format!("{url} has no QueueArn"))
}

/// Creates the queue `name` and its dead-letter queue `dead_name` as
/// `definition` says. Creating a queue that exists with the same
/// attributes is no error, so this may run again on a running emulator.
pub async fn create(
    client: &Client,
    name: &str,
    dead_name: &str,
    definition: &Definition,
) -> Result<Queues, String> {
    let dead = client
        .create_queue()
        .queue_name(dead_name)
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            definition.dead_letter_retention.to_string(),
        )
        .send()
        .await
        .map_err(|e| sqs_error(&format!("creating {dead_name}"), e))?;
    let dead_url = dead
        .queue_url()
        .ok_or_else(|| format!("creating {dead_name} gave no URL"))?
        .to_owned();
    let redrive = json!({
        "deadLetterTargetArn": arn(client, &dead_url).await?,
        "maxReceiveCount": definition.max_receive_count,
    });
    let queue = client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            definition.visibility_timeout.to_string(),
        )
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            definition.retention.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| sqs_error(&format!("creating {name}"), e))?;
    let url = queue
        .queue_url()
        .ok_or_else(|| format!("creating {name} gave no URL"))?
        .to_owned();
    Ok(Queues {
        arn: arn(client, &url).await?,
        url,
        dead_url,
    })
}

/// One receive of up to `max` messages (1 to 10), waiting up to
/// `wait_seconds` for the first, with every system attribute (the receive
/// count among them) and every message attribute, as the event source
/// mapping asks.
pub async fn receive(
    client: &Client,
    url: &str,
    max: i32,
    wait_seconds: i32,
) -> Result<Vec<Message>, String> {
    let answer = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| sqs_error(&format!("receiving from {url}"), e))?;
    Ok(answer.messages().to_vec())
}

/// A received message as the record of the Lambda SQS event
/// (`aws_lambda_events::event::sqs::SqsMessage`), or why it cannot be.
pub fn lambda_record(message: &Message, queue_arn: &str) -> Result<Value, String> {
    let id = message
        .message_id()
        .ok_or("a message without a MessageId")?;
    let receipt = message
        .receipt_handle()
        .ok_or_else(|| format!("message {id} has no receipt handle"))?;
    let attributes: Map<String, Value> = message
        .attributes()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.as_str().to_owned(), json!(value)))
        .collect();
    let base64 = |blob: &aws_sdk_sqs::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(blob.as_ref())
    };
    let message_attributes: Map<String, Value> = message
        .message_attributes()
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let mut attribute = json!({
                "stringListValues": value.string_list_values(),
                "binaryListValues": value.binary_list_values().iter().map(base64).collect::<Vec<_>>(),
                "dataType": value.data_type(),
            });
            if let Some(text) = value.string_value() {
                attribute["stringValue"] = json!(text);
            }
            if let Some(blob) = value.binary_value() {
                attribute["binaryValue"] = json!(base64(blob));
            }
            (name.clone(), attribute)
        })
        .collect();
    // The region is the ARN's fourth field: arn:aws:sqs:<region>:<account>:<name>.
    let region = queue_arn.split(':').nth(3).unwrap_or(REGION);
    let mut record = json!({
        "messageId": id,
        "receiptHandle": receipt,
        "body": message.body().unwrap_or_default(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.md5_of_body().unwrap_or_default(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    });
    if let Some(md5) = message.md5_of_message_attributes() {
        record["md5OfMessageAttributes"] = json!(md5);
    }
    Ok(record)
}

/// The receipt handles of the event's records to delete after the
/// function's `answer`, as the event source mapping decides with
/// `ReportBatchItemFailures`: every record but those `batchItemFailures`
/// names; none when the answer cannot be read (failures not a list, an
/// identifier that is not a record's `messageId`), since Lambda then takes
/// the whole batch as failed. Without `reports_item_failures` the answer is
/// not read: the invocation succeeded, so every record is done.
pub fn to_delete<'e>(
    event: &'e Value,
    answer: &Value,
    reports_item_failures: bool,
) -> Vec<&'e str> {
    let records = event["Records"].as_array().map_or(&[][..], Vec::as_slice);
    let id = |record: &'e Value| record["messageId"].as_str();
    let mut failed = HashSet::new();
    if reports_item_failures {
        match answer.get("batchItemFailures") {
            None | Some(Value::Null) => {}
            Some(Value::Array(failures)) => {
                for failure in failures {
                    let named = failure["itemIdentifier"].as_str();
                    match named.filter(|n| records.iter().any(|r| id(r) == Some(*n))) {
                        Some(named) => {
                            failed.insert(named);
                        }
                        None => return Vec::new(),
                    }
                }
            }
            Some(_) => return Vec::new(),
        }
    }
    records
        .iter()
        .filter(|r| id(r).is_none_or(|id| !failed.contains(id)))
        .filter_map(|r| r["receiptHandle"].as_str())
        .collect()
}

/// Deletes these messages, ten to a DeleteMessageBatch call.
pub async fn delete(client: &Client, url: &str, receipts: &[&str]) -> Result<(), String> {
    for chunk in receipts.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*receipt)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let answer = client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sqs_error(&format!("deleting from {url}"), e))?;
        if let Some(failed) = answer.failed().first() {
            return Err(format!(
                "deleting from {url}: {} of {} failed, the first: {} {}",
                answer.failed().len(),
                chunk.len(),
                failed.code(),
                failed.message().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// The running poller: aborted when dropped.
pub struct Running {
    task: JoinHandle<()>,
    /// The function it invokes.
    pub function: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts polling the queue at `queue_url` for the template's consumer of
/// the webhook queue, invoked through the Invoke API at `watch_url`. Fails
/// at once when the queue cannot be reached.
pub async fn start(client: Client, queue_url: &str, watch_url: &str) -> Result<Running, String> {
    let definition = definition().map_err(|e| e.to_string())?;
    let queue_arn = arn(&client, queue_url).await?;
    let http = reqwest::Client::builder()
        .timeout(INVOKE_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let function = definition.function.clone();
    let poller = Poller {
        client,
        http,
        queue_url: queue_url.to_owned(),
        queue_arn,
        watch_url: watch_url.trim_end_matches('/').to_owned(),
        definition,
    };
    Ok(Running {
        task: tokio::spawn(poller.run()),
        function,
    })
}

struct Poller {
    client: Client,
    http: reqwest::Client,
    queue_url: String,
    queue_arn: String,
    watch_url: String,
    definition: Definition,
}

impl Poller {
    /// Receives and hands on batches for ever; dropping [`Running`] ends it.
    async fn run(self) {
        let function = &self.definition.function;
        let mut delay = RETRY_FIRST;
        loop {
            let outcome = match receive(
                &self.client,
                &self.queue_url,
                self.definition.batch_size,
                WAIT_SECONDS,
            )
            .await
            {
                Ok(messages) if messages.is_empty() => {
                    tokio::time::sleep(IDLE_PAUSE).await;
                    continue;
                }
                Ok(messages) => self.deliver(&messages).await,
                Err(err) => Err(err),
            };
            match outcome {
                Ok(()) => delay = RETRY_FIRST,
                Err(err) => {
                    eprintln!(
                        "queues: {function}: {err}; polling again in {} ms",
                        delay.as_millis()
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// One invocation with these messages, then the deletion of those it
    /// handled. A failed invocation deletes nothing: the messages come back
    /// after their visibility timeout.
    async fn deliver(&self, messages: &[Message]) -> Result<(), String> {
        let function = &self.definition.function;
        let records: Vec<Value> = messages
            .iter()
            .filter_map(|m| {
                lambda_record(m, &self.queue_arn)
                    .map_err(|err| eprintln!("queues: {function}: skipped a message: {err}"))
                    .ok()
            })
            .collect();
        if records.is_empty() {
            return Ok(());
        }
        let event = json!({ "Records": records });
        let answer = crate::gateway::invoke(&self.http, &self.watch_url, function, &event)
            .await
            .map_err(|err| {
                format!(
                    "{err}; its {} messages come back after their visibility timeout ({} s)",
                    records.len(),
                    self.definition.visibility_timeout
                )
            })?;
        let done = to_delete(&event, &answer, self.definition.reports_item_failures);
        let failed = records.len() - done.len();
        if failed > 0 {
            eprintln!(
                "queues: {function}: reported {failed} of {} messages as failed: each comes \
                 back once the delay it set (or the {} s visibility timeout) has passed",
                records.len(),
                self.definition.visibility_timeout
            );
        }
        delete(&self.client, &self.queue_url, &done).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_declares_the_webhook_queue_and_its_consumer() {
        let definition = definition().unwrap();
        assert_eq!(definition.function, "deliver-webhooks");
        // The queue gives up where the retry schedule ends.
        assert_eq!(
            definition.max_receive_count,
            shared::webhook::schedule::MAX_ATTEMPTS
        );
        assert_eq!(definition.batch_size, 10);
        assert!(definition.reports_item_failures);
        // Six times the function's 60 s, as AWS advises for an SQS source.
        assert_eq!(definition.visibility_timeout, 360);
        // The retries span about 27.6 hours.
        assert!(definition.retention >= 28 * 3600);
        assert!(definition.dead_letter_retention >= definition.retention);
    }

    #[test]
    fn a_template_without_a_redrive_or_a_consumer_is_refused() {
        let queue = "Resources:\n  WebhookQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 60\n";
        assert!(definition_from(queue).is_err());
        let with_dlq = format!(
            "{queue}      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt Dead.Arn\n        maxReceiveCount: 3\n  Dead:\n    Type: AWS::SQS::Queue\n"
        );
        assert!(definition_from(&with_dlq).is_err());
        let consumed = format!(
            "{with_dlq}  F:\n    Metadata:\n      BuildProperties:\n        Binary: f\n    Properties:\n      Events:\n        Q:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt WebhookQueue.Arn\n"
        );
        let definition = definition_from(&consumed).unwrap();
        assert_eq!(
            definition,
            Definition {
                visibility_timeout: 60,
                retention: 345_600,
                max_receive_count: 3,
                dead_letter_retention: 345_600,
                function: "f".into(),
                batch_size: 10,
                reports_item_failures: false,
            }
        );
    }

    fn event(ids: &[&str]) -> Value {
        let records: Vec<Value> = ids
            .iter()
            .map(|id| json!({"messageId": id, "receiptHandle": format!("r-{id}")}))
            .collect();
        json!({ "Records": records })
    }

    #[test]
    fn every_message_but_the_reported_failures_is_deleted() {
        let event = event(&["a", "b", "c"]);
        let failed = |ids: &[&str]| json!({"batchItemFailures": ids.iter().map(|i| json!({"itemIdentifier": i})).collect::<Vec<_>>()});
        let all = vec!["r-a", "r-b", "r-c"];
        assert_eq!(to_delete(&event, &json!({}), true), all);
        assert_eq!(to_delete(&event, &json!(null), true), all);
        assert_eq!(
            to_delete(&event, &json!({"batchItemFailures": []}), true),
            all
        );
        assert_eq!(to_delete(&event, &failed(&["b"]), true), ["r-a", "r-c"]);
        assert_eq!(to_delete(&event, &failed(&["c", "a", "c"]), true), ["r-b"]);
        // An answer Lambda cannot read fails the whole batch.
        assert!(to_delete(&event, &failed(&["z"]), true).is_empty());
        assert!(to_delete(&event, &json!({"batchItemFailures": [{}]}), true).is_empty());
        assert!(to_delete(&event, &json!({"batchItemFailures": "b"}), true).is_empty());
        // Without ReportBatchItemFailures the answer is not read.
        assert_eq!(to_delete(&event, &failed(&["b"]), false), all);
    }
}
