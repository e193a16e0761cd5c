use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    let app = &app;
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        shared::api::purge_users(app, event)
            .await
            .map_err(Error::from)
    }))
    .await
}
