//! A webhook queue of the test's own on the SQS emulator (`SQS_ENDPOINT`,
//! started by `make test`): a fresh queue and dead-letter queue per test,
//! declared as template.yaml declares the webhook queue, and the steps of
//! Lambda's SQS event source mapping, taken one at a time so that a test
//! drives `deliver-webhooks` itself. The event is built and settled by the
//! same code as `make dev`'s poller (`infra::queues`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::QueueAttributeName;

/// A queue and its dead-letter queue, with a client of the emulator.
pub struct LocalQueue {
    /// A client of the emulator: give it to the App that enqueues.
    pub client: aws_sdk_sqs::Client,
    pub url: String,
    pub dead_url: String,
    arn: String,
}

impl LocalQueue {
    /// A uniquely named queue and dead-letter queue, with the template's
    /// visibility timeout and redrive (eight receives).
    pub async fn create() -> LocalQueue {
        let endpoint = std::env::var("SQS_ENDPOINT").expect(
            "SQS_ENDPOINT is not set: run the tests with make test, which starts an SQS emulator",
        );
        let client = infra::queues::local_client(&endpoint);
        let definition = infra::queues::definition().expect("template.yaml's webhook queue");
        let name = format!("webhooks-{}", uuid::Uuid::new_v4().simple());
        let queues = infra::queues::create(&client, &name, &format!("{name}-dead"), &definition)
            .await
            .unwrap_or_else(|err| panic!("creating the test's queues: {err}"));
        LocalQueue {
            client,
            url: queues.url,
            dead_url: queues.dead_url,
            arn: queues.arn,
        }
    }

    /// The messages visible now (up to ten, waiting a second for the first),
    /// received and shaped as Lambda delivers them: each record carries its
    /// receipt handle and `ApproximateReceiveCount`. They stay invisible
    /// for the queue's visibility timeout, until [`LocalQueue::settle`] or
    /// [`LocalQueue::retry_now`].
    pub async fn receive(&self) -> SqsEvent {
        let messages = infra::queues::receive(&self.client, &self.url, 10, 1)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let records = messages
            .iter()
            .map(|m| infra::queues::lambda_record(m, &self.arn))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|err| panic!("{err}"));
        serde_json::from_value(serde_json::json!({ "Records": records }))
            .expect("a Lambda SQS event")
    }

    /// Settles the batch as the event source mapping would after this
    /// answer: deletes every message the response does not report failed
    /// (none, when it names a message not in the event).
    pub async fn settle(&self, event: &SqsEvent, response: &SqsBatchResponse) {
        let event = serde_json::to_value(event).expect("the event as JSON");
        let answer = serde_json::to_value(response).expect("the response as JSON");
        let done = infra::queues::to_delete(&event, &answer, true);
        infra::queues::delete(&self.client, &self.url, &done)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
    }

    /// Makes the event's messages visible again at once, past whatever
    /// delay the function set: their next receive is their next attempt.
    /// Messages deleted meanwhile (settled as done) are skipped.
    pub async fn retry_now(&self, event: &SqsEvent) {
        for record in &event.records {
            let receipt = record.receipt_handle.as_deref().expect("a receipt handle");
            let changed = self
                .client
                .change_message_visibility()
                .queue_url(&self.url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await;
            if let Err(err) = changed {
                let gone = err
                    .as_service_error()
                    .is_some_and(|e| e.is_receipt_handle_is_invalid());
                assert!(
                    gone,
                    "making a message visible again: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(err)
                );
            }
        }
    }

    /// How many messages are visible (waiting for a receive) now.
    pub async fn visible(&self) -> usize {
        self.count(&self.url, QueueAttributeName::ApproximateNumberOfMessages)
            .await
    }

    /// How many messages are received and not yet deleted nor visible again.
    pub async fn in_flight(&self) -> usize {
        self.count(
            &self.url,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .await
    }

    async fn count(&self, url: &str, attribute: QueueAttributeName) -> usize {
        let answer = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(attribute.clone())
            .send()
            .await
            .unwrap_or_else(|err| panic!("{}", aws_sdk_sqs::error::DisplayErrorContext(err)));
        answer
            .attributes()
            .and_then(|a| a.get(&attribute))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{url} has no {attribute}"))
    }

    /// The bodies in the dead-letter queue, oldest first as received. They
    /// are made visible again afterwards, so that asking twice gives the
    /// same answer.
    pub async fn dead_letters(&self) -> Vec<String> {
        let mut received = Vec::new();
        loop {
            let batch = infra::queues::receive(&self.client, &self.dead_url, 10, 0)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            if batch.is_empty() {
                break;
            }
            received.extend(batch);
        }
        for message in &received {
            self.client
                .change_message_visibility()
                .queue_url(&self.dead_url)
                .receipt_handle(message.receipt_handle().expect("a receipt handle"))
                .visibility_timeout(0)
                .send()
                .await
                .unwrap_or_else(|err| panic!("{}", aws_sdk_sqs::error::DisplayErrorContext(err)));
        }
        received
            .iter()
            .map(|m| m.body().unwrap_or_default().to_owned())
            .collect()
    }
}
