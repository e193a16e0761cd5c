//! API keys, stored only as SHA-256 digests.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Store, CAPACITY};
use crate::auth::ApiKey;
use crate::error::ApiError;
use crate::keys;

impl Store {
    /// Records a new key (its digest), conditionally: a digest is never reused.
    pub async fn add_api_key(&self, key: &ApiKey, label: &str) -> Result<(), ApiError> {
        let output = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(keys::PK, AttributeValue::S(keys::api_key_pk(&key.digest())))
            .item(keys::SK, AttributeValue::S(keys::API_KEY_SK.to_owned()))
            .item("label", AttributeValue::S(label.to_owned()))
            .item("createdTime", AttributeValue::S(crate::clock::now()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record_write(output.consumed_capacity());
        Ok(())
    }

    /// Whether a key is known: one GetItem by its digest.
    pub async fn api_key_is_valid(&self, key: &ApiKey) -> Result<bool, ApiError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, AttributeValue::S(keys::api_key_pk(&key.digest())))
            .key(keys::SK, AttributeValue::S(keys::API_KEY_SK.to_owned()))
            .projection_expression("#pk")
            .expression_attribute_names("#pk", keys::PK)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        Ok(output.item.is_some())
    }
}
