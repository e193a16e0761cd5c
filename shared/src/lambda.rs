//! The runtime layer: what every function's `main` calls. It starts the
//! logs, builds the [`App`] once for the life of the process (a cold start),
//! and hands each invocation to the route or stream handler.

use std::convert::Infallible;
use std::future::Future;

use lambda_http::{service_fn, Body, Request, Response};

use crate::config::{App, Needs};
use crate::routes::Route;
use crate::stream::{self, StreamHandler};
use crate::telemetry;
use crate::webhook::deliver;
use crate::webhook::send::Sender;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::LambdaEvent;

/// What a function's `main` returns when it cannot start or serve.
pub type Error = lambda_runtime::Error;

/// Serves one route of the HTTP API. Inlined into each `main`, where `route`
/// is a constant, so that the binary links only its own handler.
#[inline(always)]
pub fn serve_http(route: Route) -> Result<(), Error> {
    let handler = route.handler();
    let needs = route.needs();
    block_on(async move {
        let app = App::from_env(needs).await?;
        let app = &app;
        lambda_http::run(service_fn(move |req: Request| async move {
            Ok::<_, Infallible>(handler(app, req).await)
        }))
        .await
    })
}

/// Serves an HTTP handler that needs no table and no secrets (the dashboard).
pub fn serve_static<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = Response<Body>> + Send,
{
    block_on(async move {
        let handler = &handler;
        lambda_http::run(service_fn(move |req: Request| async move {
            Ok::<_, Infallible>(handler(req).await)
        }))
        .await
    })
}

/// Serves a handler of the table's stream.
pub fn serve_stream(handler: StreamHandler) -> Result<(), Error> {
    block_on(async move {
        let app = App::from_env(Needs::default()).await?;
        let app = &app;
        lambda_runtime::run(lambda_runtime::service_fn(move |event| async move {
            stream::handle(app, handler, event)
                .await
                .map_err(Error::from)
        }))
        .await
    })
}

/// Serves `deliver-webhooks`, on the webhook queue. The sender (its
/// connection pool) is made once per sandbox, as the app is.
pub fn serve_queue() -> Result<(), Error> {
    block_on(async move {
        let app = App::from_env(Needs {
            webhook_key: true,
            queue: true,
            ..Needs::default()
        })
        .await?;
        let sender = Sender::new(app.config.webhook_targets)?;
        let (app, sender) = (&app, &sender);
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: LambdaEvent<SqsEvent>| async move {
                deliver::deliver_batch(app, sender, event)
                    .await
                    .map_err(Error::from)
            },
        ))
        .await
    })
}

/// Starts the logs, then runs `main` to its end on a multi-threaded runtime,
/// as `#[tokio::main]` would.
fn block_on(main: impl Future<Output = Result<(), Error>>) -> Result<(), Error> {
    telemetry::init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(main)
}
