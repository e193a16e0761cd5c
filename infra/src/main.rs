//! `infra create-table`: creates TABLE_NAME on DYNAMODB_ENDPOINT from template.yaml.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    let Ok(table) = std::env::var("TABLE_NAME") else {
        eprintln!("error: TABLE_NAME is not set");
        return ExitCode::FAILURE;
    };
    let client = shared::config::dynamodb_client().await;
    let result = match command.as_str() {
        "create-table" => infra::table::create(&client, &table).await,
        _ => {
            eprintln!("usage: infra create-table");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => {
            println!("table {table} is ready");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
