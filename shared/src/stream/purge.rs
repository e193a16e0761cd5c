//! The `purge-user` function: finishes the deletions that DELETE handed over
//! when its budget ran out. DELETE writes a hand-over item (`sk = PURGE`) in
//! the user's partition, and the table's stream, filtered to the writes of
//! such items, delivers them here; a repeated DELETE writes it again, which
//! starts this function again. Each record only names a user: the function
//! reads the profile, and purges only a user whose deletion is really under
//! way. An invocation that runs out of time fails, so that Lambda delivers
//! the record again and the purge resumes where it stopped.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::LambdaEvent;
use serde_dynamo::AttributeValue;

use crate::config::App;
use crate::error::ApiError;
use crate::keys;
use crate::store::{wait_for_lease, DeleteProgress};
use crate::telemetry::metrics;
use crate::user::UserId;

/// Time kept back from the invocation's deadline to stop cleanly.
const MARGIN: Duration = Duration::from_secs(10);

fn text<'a>(item: &'a serde_dynamo::Item, attr: &str) -> Option<&'a str> {
    match item.get(attr) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// The users whose deletion this batch hands over (the template's filter
/// sends only writes of hand-over items; the check here keeps a
/// misconfigured trigger harmless).
fn handed_over(event: &Event) -> Vec<UserId> {
    event
        .records
        .iter()
        .filter(|r| matches!(r.event_name.as_str(), "INSERT" | "MODIFY"))
        .filter(|r| text(&r.change.keys, keys::SK) == Some(keys::PURGE_SK))
        .filter_map(|r| text(&r.change.keys, keys::PK).and_then(keys::user_of_pk))
        .collect()
}

/// The time this invocation may work: its deadline less a margin, none at
/// all when that has passed, and DELETE's budget when the runtime gave no
/// real deadline (none, or one more than a day gone, as local emulators give:
/// Lambda's own is never more than 15 minutes away).
fn time_left(context: &lambda_runtime::Context, fallback: Duration) -> Duration {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(u64::MAX);
    if context.deadline.saturating_add(NO_REAL_DEADLINE_MS) < now_ms {
        return fallback;
    }
    Duration::from_millis(context.deadline.saturating_sub(now_ms)).saturating_sub(MARGIN)
}

/// How far in the past a deadline is taken for no deadline at all.
const NO_REAL_DEADLINE_MS: u64 = 24 * 60 * 60 * 1000;

fn out_of_time() -> ApiError {
    ApiError::internal("a purge ran out of time; the stream will deliver it again")
}

/// How a batch ended: every user's purge done (or not to be done), or one
/// stopped at the invocation's deadline, as the purge of a large user does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purged {
    Done,
    /// Stopped by the deadline: the stream must deliver the batch again,
    /// and the purge resumes where it stopped.
    Stopped,
}

/// The batch, with a stop at the deadline as an error, as a caller that
/// only needs to know whether to deliver it again sees it.
pub async fn purge_users(app: &App, event: LambdaEvent<Event>) -> Result<(), ApiError> {
    match purge_batch(app, event).await? {
        Purged::Done => Ok(()),
        Purged::Stopped => Err(out_of_time()),
    }
}

/// The batch. A stop at the deadline is planned work, not a fault: it is
/// told apart from errors so that the function does not fail for it.
pub async fn purge_batch(app: &App, event: LambdaEvent<Event>) -> Result<Purged, ApiError> {
    let left = time_left(&event.context, app.config.delete_budget);
    if left.is_zero() {
        return Ok(Purged::Stopped);
    }
    let deadline = Instant::now() + left;
    let lease_until = crate::clock::now_ms() + i64::try_from(left.as_millis()).unwrap_or(0);
    for id in handed_over(&event.payload) {
        // The one line that names a user whose purge did not finish: what
        // the runbook reads when a record lands in the dead-letter queue.
        match purge_one(app, &id, deadline, lease_until).await {
            Ok(Purged::Done) => {}
            Ok(Purged::Stopped) => {
                tracing::info!(user = %id, "purge: stopped at the deadline; the stream delivers it again");
                return Ok(Purged::Stopped);
            }
            Err(err) => {
                tracing::warn!(user = %id, error = %err, "purge: stopped; the stream delivers it again");
                return Err(err);
            }
        }
    }
    Ok(Purged::Done)
}

async fn purge_one(
    app: &App,
    id: &UserId,
    deadline: Instant,
    lease_until: i64,
) -> Result<Purged, ApiError> {
    let Some(user) = app.store.tombstone_of(id).await? else {
        tracing::info!(user = %id, "purge: no deletion under way");
        return Ok(Purged::Done);
    };
    if !app.store.take_purge(id, lease_until).await? {
        return Ok(Purged::Done);
    }
    loop {
        let started = Instant::now();
        let pass = app
            .store
            .purge_pass(&user, Some(deadline), app.config.delete_parallelism)
            .await?;
        metrics::purged(pass.removed, started.elapsed());
        match pass.progress {
            DeleteProgress::Done => break,
            DeleteProgress::InProgress => return Ok(Purged::Stopped),
            DeleteProgress::WaitingFor(until) => {
                let wait = wait_for_lease(until);
                if Instant::now() + wait >= deadline {
                    return Ok(Purged::Stopped);
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
    tracing::info!(user = %id, "purge: done");
    Ok(Purged::Done)
}
