//! Counted partitions: the webhook subscriptions and the API keys each keep
//! a count item beside what they count, changed in the same transaction as
//! what it counts, so a limit holds under any concurrency.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update as TransactUpdate};

use super::attrs::{n, Item};
use super::expr::{Cond, Expr, Update};
use super::Store;
use crate::error::ApiError;
use crate::keys;

/// The count item's attribute.
const COUNT: &str = "n";

impl Store {
    /// A transaction's change by `delta` of the count item `key`: an
    /// increase only while the count stays at most `max`, so the
    /// transaction fails, whole, when there is no room.
    pub(super) fn count_change(
        &self,
        key: Item,
        delta: i64,
        max: u64,
    ) -> Result<TransactUpdate, ApiError> {
        let mut e = Expr::default();
        let mut update = Update::default();
        update.add(COUNT, n(delta));
        let update = e.update(&update);
        let mut count = TransactUpdate::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update);
        if delta > 0 {
            let limit = i64::try_from(max).unwrap_or(i64::MAX);
            let room = e.condition(&Cond::Or(vec![
                Cond::NotExists(COUNT),
                Cond::Lt(COUNT, n(limit - delta + 1)),
            ]));
            count = count.condition_expression(room);
        }
        Ok(count
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .build()?)
    }

    /// Puts a new `item` (none may have its key) and counts it on the count
    /// item `count`, in one transaction: `full` (409) when `max` are there
    /// already, `taken` (500) when the key was. `token` is the
    /// transaction's ClientRequestToken, which the SDK's retries share, so
    /// a retry of one that committed answers as the first did.
    pub(super) async fn insert_counted(
        &self,
        item: Item,
        count: Item,
        max: u64,
        token: &str,
        full: &'static str,
        taken: &'static str,
    ) -> Result<(), ApiError> {
        let mut e = Expr::default();
        let absent = e.condition(&Cond::NotExists(keys::PK));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(absent)
            .set_expression_attribute_names(e.names())
            .build()?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder()
                .update(self.count_change(count, 1, max)?)
                .build(),
        ];
        match self
            .transact(|| {
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .client_request_token(token)
            })
            .await?
        {
            Ok(()) => Ok(()),
            Err(cancelled) if cancelled.failed(1).is_some() => Err(ApiError::Conflict(full)),
            Err(_) => Err(ApiError::internal(taken)),
        }
    }
}
