use std::convert::Infallible;

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    let app = &app;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(shared::api::issue_token(app, req).await)
    }))
    .await
}
