//! `infra create-table [--stream]`: creates TABLE_NAME on DYNAMODB_ENDPOINT
//! from template.yaml; with `--stream` (or `TABLE_STREAM=1`) with its stream,
//! which the gateway's poller then delivers to the stream functions.
//! `infra create-queues`: creates the webhook queue (`webhooks`) and its
//! dead-letter queue (`webhooks-dead`) on the SQS emulator at SQS_ENDPOINT,
//! as template.yaml declares them, and prints the queue's URL.
//! `infra api-key`: creates an API key named LABEL (default `make api-key`),
//! stores its digest, prints the key once. With API_KEY_FILE (make dev's
//! `.local/api-key`), stores that key instead when the table lacks it (a
//! table made before keys were stored as they are now), printing nothing.
//! `infra seed`: fills it with USERS users (default 50), each with
//! TRANSACTIONS_PER_USER transactions (default 200).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    if command == "create-queues" {
        return create_queues().await;
    }
    let Ok(table) = std::env::var("TABLE_NAME") else {
        eprintln!("error: TABLE_NAME is not set");
        return ExitCode::FAILURE;
    };
    let client = shared::config::dynamodb_client().await;
    let result = match command.as_str() {
        "create-table" => {
            let flag = std::env::args().skip(2).any(|a| a == "--stream");
            let env = std::env::var("TABLE_STREAM").is_ok_and(|v| v == "1");
            let stream = if flag || env {
                infra::table::Stream::FromTemplate
            } else {
                infra::table::Stream::Off
            };
            infra::table::create_as(&client, &table, stream).await
        }
        "api-key" if std::env::var_os("API_KEY_FILE").is_some() => {
            return keep_api_key(client, &table).await;
        }
        "api-key" => {
            // Printed once: only its digest is stored.
            let store = shared::store::Store::new(client, table.clone());
            let key = shared::auth::ApiKey::generate();
            // Named LABEL, if set; created by this command, as the keys'
            // list and the audit trail show.
            let name = std::env::var("LABEL").unwrap_or_else(|_| "make api-key".into());
            let by = shared::auth::Actor::claimed("infra");
            match store
                .add_api_key(&key, &name, &by, Some("make api-key"), None)
                .await
            {
                Ok(_) => {
                    println!("{}", key.expose());
                    return ExitCode::SUCCESS;
                }
                Err(err) => {
                    eprintln!("error: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
        "bench-delete" => {
            infra::table::create(&client, &table).await.ok();
            let store = shared::store::Store::new(client, table.clone());
            let sizes: Vec<usize> = std::env::var("SIZES")
                .unwrap_or_else(|_| "1000,10000,100000".into())
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect();
            println!(
                "| items | delete-user | items/s | bare BatchWriteItem loop | items/s | ratio |"
            );
            println!("|---:|---:|---:|---:|---:|---:|");
            for items in sizes {
                match infra::bench::delete_run(&store, items, 8, false).await {
                    Ok(run) => println!(
                        "| {} | {:.2} s | {:.0} | {:.2} s | {:.0} | {:.2} |",
                        run.items,
                        run.ours.as_secs_f64(),
                        run.ours_per_second(),
                        run.bare.as_secs_f64(),
                        run.bare_per_second(),
                        run.ours_per_second() / run.bare_per_second()
                    ),
                    Err(err) => {
                        eprintln!("error: {err}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            return ExitCode::SUCCESS;
        }
        "seed" => {
            let count = |name: &str, default: usize| {
                std::env::var(name)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(default)
            };
            let (users, per_user) = (count("USERS", 50), count("TRANSACTIONS_PER_USER", 200));
            let store = shared::store::Store::new(client, table.clone());
            match infra::seed::seed(&store, users, per_user).await {
                Ok(ids) => {
                    println!(
                        "seeded {} users with {per_user} transactions each",
                        ids.len()
                    );
                    return ExitCode::SUCCESS;
                }
                Err(err) => {
                    eprintln!("error: seeding failed: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            eprintln!(
                "usage: infra create-table [--stream] | infra create-queues | infra api-key | infra seed | infra bench-delete"
            );
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

/// `infra create-queues`: the URL goes to stdout (make dev reads it), the
/// rest to stderr.
async fn create_queues() -> ExitCode {
    let created = async {
        let client = infra::queues::local_client_from_env()?;
        let definition = infra::queues::definition().map_err(|e| e.to_string())?;
        infra::queues::create(
            &client,
            infra::queues::QUEUE_NAME,
            infra::queues::DEAD_LETTER_QUEUE_NAME,
            &definition,
        )
        .await
    };
    match created.await {
        Ok(queues) => {
            println!("{}", queues.url);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Stores the key in the file `API_KEY_FILE` names when the table does not
/// know it, so that `make dev`'s kept key keeps working with a table kept
/// from before. The key is read from the file, never from the command line.
async fn keep_api_key(client: aws_sdk_dynamodb::Client, table: &str) -> ExitCode {
    let path = std::env::var_os("API_KEY_FILE").unwrap_or_default();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => text,
        _ => {
            eprintln!("error: API_KEY_FILE names no key");
            return ExitCode::FAILURE;
        }
    };
    let key = shared::auth::ApiKey::from_text(&text);
    let store = shared::store::Store::new(client, table.to_owned());
    let known = match store.presented_api_key(&key).await {
        Ok(known) => known,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    if known.is_some() {
        return ExitCode::SUCCESS;
    }
    let by = shared::auth::Actor::claimed("infra");
    match store
        .add_api_key(&key, "make dev", &by, Some("make dev"), None)
        .await
    {
        Ok(_) => {
            eprintln!("Stored the local API key (.local/api-key) in table {table} again.");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
