//! DynamoDB access. Each operation is one function that makes the fewest
//! requests it can, and every write that could race is conditional.

mod api_keys;
mod batch;
mod finance;
mod idempotency;
mod meter;
mod search;
mod users;

pub use finance::Overview;
pub use idempotency::{Once, OnceRecord};
pub use meter::CapacityMeter;
pub use search::SearchPage;
pub use users::{DeleteProgress, Item, ProfileItem, DELETED_AT};

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use aws_sdk_dynamodb::Client;

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    meter: CapacityMeter,
}

impl Store {
    pub fn new(client: Client, table: String) -> Self {
        Self {
            client,
            table,
            meter: CapacityMeter::default(),
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

/// A string attribute value.
fn s(value: impl Into<String>) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(value.into())
}

/// A string attribute of an item, or "" when it is absent or not a string.
fn text<'a>(item: &'a Item, attr: &str) -> &'a str {
    item.get(attr)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

/// Every request asks for its consumed capacity: it costs nothing and makes
/// the cost of each operation observable (see `CapacityMeter`).
const CAPACITY: ReturnConsumedCapacity = ReturnConsumedCapacity::Total;
