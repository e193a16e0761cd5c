//! Counted partitions: the webhook subscriptions and the API keys each keep
//! a count item beside what they count, changed in the same transaction as
//! what it counts, so a limit holds under any concurrency.

use aws_sdk_dynamodb::types::Update as TransactUpdate;

use super::attrs::{n, Item};
use super::expr::{Cond, Expr, Update};
use super::Store;
use crate::error::ApiError;

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
}
