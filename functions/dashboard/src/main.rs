use std::convert::Infallible;

use lambda_http::{run, service_fn, Error, Request};

/// Serves static files only, so it builds no DynamoDB client.
#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    run(service_fn(|req: Request| async move {
        Ok::<_, Infallible>(shared::api::dashboard(req).await)
    }))
    .await
}
