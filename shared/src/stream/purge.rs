//! The `purge-user` function: DynamoDB Streams delivers the tombstone write of
//! every deletion that DELETE could not finish within its budget, and this
//! finishes it. An invocation that runs out of time fails, so that Lambda
//! delivers the record again and the purge resumes where it stopped.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::LambdaEvent;
use serde_dynamo::AttributeValue;

use crate::config::App;
use crate::error::ApiError;
use crate::keys;
use crate::store::{is_tombstone, DeleteProgress, Item};
use crate::user::UserId;

/// Time kept back from the invocation's deadline to stop cleanly.
const MARGIN: Duration = Duration::from_secs(10);

fn text<'a>(item: &'a serde_dynamo::Item, attr: &str) -> Option<&'a str> {
    match item.get(attr) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// The users whose tombstone this batch carries (the template's filter sends
/// only those records; the check here keeps a misconfigured trigger harmless).
fn tombstoned_users(event: &Event) -> Vec<UserId> {
    event
        .records
        .iter()
        .filter(|r| text(&r.change.keys, keys::SK) == Some(keys::PROFILE_SK))
        .filter(|r| is_tombstone(&Item::from(r.change.new_image.clone())))
        .filter_map(|r| text(&r.change.keys, keys::PK).and_then(keys::user_of_pk))
        .collect()
}

fn deadline_of(context: &lambda_runtime::Context, fallback: Duration) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let remaining = match context.deadline.checked_sub(now_ms) {
        Some(ms) if context.deadline > 0 => Duration::from_millis(ms).saturating_sub(MARGIN),
        _ => fallback,
    };
    Instant::now() + remaining
}

pub async fn purge_users(app: &App, event: LambdaEvent<Event>) -> Result<(), ApiError> {
    let deadline = deadline_of(&event.context, app.config.delete_budget);
    for user in tombstoned_users(&event.payload) {
        let progress = app
            .store
            .purge_user(&user, Some(deadline), app.config.delete_parallelism)
            .await?;
        tracing::info!(user = %user, done = progress == DeleteProgress::Done, "purge");
        if progress == DeleteProgress::InProgress {
            return Err(ApiError::internal(
                "a purge ran out of time; the stream will deliver it again",
            ));
        }
    }
    Ok(())
}
