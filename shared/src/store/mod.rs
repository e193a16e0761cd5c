//! DynamoDB access. Each operation is one function that makes the fewest
//! requests it can, and every write that could race is conditional. Nothing
//! outside this module sees an attribute name or an expression.

mod api_keys;
pub(crate) mod attrs;
mod audit;
mod batch;
mod connections;
mod counts;
mod deletion;
pub mod events;
pub(crate) mod expr;
mod finance;
mod idempotency;
mod ingest;
mod meter;
mod profile;
mod retry;
mod search;
mod users;
mod webhooks;

pub use api_keys::ApiKeyPage;
pub use attrs::{is_tombstone, Item};
pub(crate) use batch::backoff;
pub use deletion::{wait_for_lease, DeleteProgress, PurgePass, Removed, Tombstone};
pub use finance::Overview;
pub use idempotency::{Once, OnceRecord};
pub use meter::CapacityMeter;
pub use profile::ProfileItem;
pub use search::{Plan, SearchPage};
pub use webhooks::DeliveryPage;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, ReturnValue};
use aws_sdk_dynamodb::Client;

use serde::{Deserialize, Serialize};

use crate::auth::Stamp;
use crate::error::ApiError;
use crate::keys::{self, Index};
use attrs::s;
use expr::{Cond, Expr, Update};

/// Where one stream of a paged read stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    Start,
    /// After the item with these keys: table pk, sk, then index pk, sk.
    After([String; 4]),
    Done,
}

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    meter: CapacityMeter,
    /// Who this store writes for: stamped on the profiles and connections
    /// it writes (see [`Store::acting`]). `None` for writes no caller asked
    /// for (purge-user, seeding) and for tests that use the store directly.
    stamp: Option<Stamp>,
}

impl Store {
    pub fn new(client: Client, table: String) -> Self {
        Self {
            client,
            table,
            meter: CapacityMeter::default(),
            stamp: None,
        }
    }

    /// The same store (client, table and meter shared), stamping its writes
    /// of a profile or a connection with `stamp`, in the write itself: an
    /// item always says who made its last change and in which request, at
    /// no cost of a request, and without every store method taking a caller.
    pub fn acting(&self, stamp: Stamp) -> Store {
        Self {
            stamp: Some(stamp),
            ..self.clone()
        }
    }

    /// Puts the stamp, if this store has one, on an item about to be put whole.
    pub(super) fn stamp_item(&self, item: &mut Item) {
        if let Some(stamp) = &self.stamp {
            item.insert(attrs::ACTOR.into(), s(stamp.actor.as_str()));
            item.insert(attrs::CORRELATION_ID.into(), s(&stamp.correlation_id));
            for (attr, value) in stamp_details(stamp) {
                if let Some(value) = value {
                    item.insert(attr.into(), s(value));
                }
            }
        }
    }

    /// Adds the stamp, if this store has one, to an update's `SET`.
    pub(super) fn stamp_update(&self, update: &mut Update) {
        if let Some(stamp) = &self.stamp {
            update
                .set(attrs::ACTOR, s(stamp.actor.as_str()))
                .set(attrs::CORRELATION_ID, s(&stamp.correlation_id));
            // What this write lacks must not be left from an earlier one.
            for (attr, value) in stamp_details(stamp) {
                match value {
                    Some(value) => update.set(attr, s(value)),
                    None => update.remove(attr),
                };
            }
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Capacity units consumed by this store's requests so far.
    pub fn meter(&self) -> &CapacityMeter {
        &self.meter
    }

    /// One item, strongly consistent: what was written before is read.
    async fn get_item(&self, key: Item) -> Result<Option<Item>, ApiError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        Ok(output.item)
    }

    /// Deletes one item (again, while a transaction holds it).
    async fn delete_item(&self, key: Item) -> Result<(), ApiError> {
        let output = retry::retry_conflicts(|| {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .return_consumed_capacity(CAPACITY)
                .send()
        })
        .await?;
        self.meter.record_write(output.consumed_capacity());
        Ok(())
    }

    /// Deletes one item (again, while a transaction holds it), telling
    /// whether it was there: at the cost of the same request, for a count
    /// that must not take a repeated delete for a second item.
    async fn delete_existing(&self, key: Item) -> Result<bool, ApiError> {
        let output = retry::retry_conflicts(|| {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .return_values(ReturnValue::AllOld)
                .return_consumed_capacity(CAPACITY)
                .send()
        })
        .await?;
        self.meter.record_write(output.consumed_capacity());
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }

    /// Puts an item that must be new: one conditional PutItem, `false`
    /// when an item with its key is there already. Any other refusal is
    /// the caller's error (a stream batch reports it, and Lambda delivers
    /// the record again).
    async fn put_new(&self, item: Item) -> Result<bool, ApiError> {
        let mut e = Expr::default();
        let condition = e.condition(&Cond::NotExists(keys::PK));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .return_consumed_capacity(CAPACITY)
            .send()
            .await;
        match result {
            Ok(output) => {
                self.meter.record_write(output.consumed_capacity());
                Ok(true)
            }
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(err.into()),
            },
        }
    }

    /// One UpdateItem of the item at `key` if `condition` holds (sent again
    /// while a transaction holds the item): the item as it is now, or
    /// `None` when the condition failed.
    async fn update_if(
        &self,
        key: Item,
        update: &Update,
        condition: &Cond,
    ) -> Result<Option<Item>, ApiError> {
        let mut e = Expr::default();
        let update = e.update(update);
        let condition = e.condition(condition);
        let result = retry::retry_conflicts(|| {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .update_expression(&update)
                .condition_expression(&condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .return_values(ReturnValue::AllNew)
                .return_consumed_capacity(CAPACITY)
                .send()
        })
        .await;
        match result {
            Ok(output) => {
                self.meter.record_write(output.consumed_capacity());
                Ok(Some(output.attributes.unwrap_or_default()))
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
                _ => Err(err.into()),
            },
        }
    }

    /// A strongly consistent Query with `e`'s key condition, names and
    /// values, asking for its consumed capacity: where every read of a
    /// user's partition (or its local indexes) starts. Build `e` whole first:
    /// the names and values are taken from it here.
    fn consistent_query(&self, e: &Expr, key_condition: String) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .consistent_read(true)
            .return_consumed_capacity(CAPACITY)
    }

    /// Every item `query` matches, page after page, each page's capacity recorded.
    async fn query_all(&self, query: QueryFluentBuilder) -> Result<Vec<Item>, ApiError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = query
                .clone()
                .set_exclusive_start_key(start)
                .return_consumed_capacity(CAPACITY)
                .send()
                .await?;
            self.meter.record(output.consumed_capacity());
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

/// Where a read of `index` stands after `item` (an item of the index, or
/// DynamoDB's LastEvaluatedKey of a read of it): its keys in the table and
/// in the index. A local index's partition key is the table's, named twice.
fn position_of(index: Index, item: &Item) -> Position {
    Position::After([
        attrs::text(item, keys::PK).to_owned(),
        attrs::text(item, keys::SK).to_owned(),
        attrs::text(item, index.pk).to_owned(),
        attrs::text(item, index.sk).to_owned(),
    ])
}

/// The ExclusiveStartKey of a read of `index` that resumes at `values`
/// (laid out as [`position_of`] lays them out).
fn start_key(index: Index, values: [String; 4]) -> Item {
    [keys::PK, keys::SK, index.pk, index.sk]
        .into_iter()
        .zip(values)
        .map(|(name, value)| (name.to_owned(), s(value)))
        .collect()
}

impl Store {
    /// A page of at most `limit` items of `index` matching `key_condition`,
    /// newest first (the index's sort key read backwards), from `from`: one
    /// Query of `limit + 1` items, so whether another page exists is known.
    /// DynamoDB also ends a read at 1 MB, saying where it stopped: the page
    /// is then shorter, and the next one goes on after its last item, so
    /// nothing is skipped and a request still makes one read. `consistent`
    /// reads a local index strongly consistent (a global one cannot be).
    async fn newest_first(
        &self,
        index: Index,
        key_condition: &Cond,
        consistent: bool,
        from: Position,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Position>), ApiError> {
        let start = match from {
            Position::Start => None,
            Position::Done => return Ok((Vec::new(), None)),
            Position::After(values) => Some(start_key(index, values)),
        };
        let mut e = Expr::default();
        let condition = e.condition(key_condition);
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(false)
            .set_consistent_read(consistent.then_some(true))
            .limit(i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        let cut = output.last_evaluated_key;
        let mut items = output.items.unwrap_or_default();
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|item| position_of(index, item))
        } else {
            // A page cut short at 1 MB goes on after its last item (or
            // where the read stopped); fewer than asked for and nothing
            // after: the range is done.
            cut.map(|stopped| position_of(index, items.last().unwrap_or(&stopped)))
        };
        Ok((items, next))
    }
}

/// Every request asks for its consumed capacity: it costs nothing and makes
/// the cost of each operation observable (see `CapacityMeter`).
const CAPACITY: ReturnConsumedCapacity = ReturnConsumedCapacity::Total;

/// A stamp's details beside its actor and correlation id, by attribute.
fn stamp_details(stamp: &Stamp) -> [(&'static str, Option<&str>); 3] {
    [
        (attrs::ACTOR_NAME, stamp.name.as_deref()),
        (attrs::SOURCE_IP, stamp.source_ip.as_deref()),
        (attrs::USER_AGENT, stamp.user_agent.as_deref()),
    ]
}
