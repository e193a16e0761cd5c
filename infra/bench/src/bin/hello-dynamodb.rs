//! The second floor for cold start and memory: hello-lambda plus the DynamoDB
//! client, built at init exactly as the functions build it
//! (`shared::config::dynamodb_client`), with the same profile. It sends no
//! request and answers its event as hello-lambda does, so the gap between the
//! two floors is the SDK's, and what a function adds above this one is ours.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Held for the life of the process, as the functions hold theirs.
    let _client = shared::config::dynamodb_client().await;
    run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
