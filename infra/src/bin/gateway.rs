//! `gateway`: the local API Gateway in front of `cargo lambda watch` (see
//! `infra::gateway`). Configured from the environment:
//!
//! - `API_PORT`: the port on 127.0.0.1 to answer on (default 9000);
//! - `WATCH_URL`: where `cargo lambda watch` answers the Lambda Invoke API
//!   (required, such as `http://127.0.0.1:9001`);
//! - `PUBLIC_BASE_URL`: the URL clients use (default `http://127.0.0.1:$API_PORT`);
//! - `GATEWAY_ACCESS_LOG`: `0` to stop the line per request on stderr;
//! - `TABLE_NAME` (with `DYNAMODB_ENDPOINT`): when this table has a stream,
//!   the gateway polls it and delivers its records to the stream functions
//!   (`infra::streams`); without one, it imitates deletions' hand-overs;
//! - `WEBHOOK_QUEUE_URL` (with `SQS_ENDPOINT`, the SQS emulator): the
//!   gateway polls this queue and hands its messages to `deliver-webhooks`
//!   as Lambda's SQS event source mapping would (`infra::queues`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let port = match std::env::var("API_PORT") {
        Ok(port) => match port.parse::<u16>() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("error: API_PORT must be a port number, not {port:?}");
                return ExitCode::FAILURE;
            }
        },
        Err(_) => 9000,
    };
    let Ok(watch_url) = std::env::var("WATCH_URL") else {
        eprintln!("error: WATCH_URL is not set (where cargo lambda watch answers)");
        return ExitCode::FAILURE;
    };
    let public_base_url = std::env::var("PUBLIC_BASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    let access_log = std::env::var("GATEWAY_ACCESS_LOG").map_or(true, |v| v != "0");
    let config = infra::gateway::Config {
        port,
        watch_url,
        public_base_url,
        access_log,
        table: std::env::var("TABLE_NAME").ok().filter(|t| !t.is_empty()),
        webhook_queue: std::env::var("WEBHOOK_QUEUE_URL")
            .ok()
            .filter(|url| !url.is_empty()),
    };
    match infra::gateway::serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: the gateway stopped: {err}");
            ExitCode::FAILURE
        }
    }
}
