//! API keys, stored only as SHA-256 digests.

use super::attrs::{self, key, s, Item};
use super::expr::Expr;
use super::{Store, CAPACITY};
use crate::auth::ApiKey;
use crate::error::ApiError;
use crate::keys;

fn api_key_key(api_key: &ApiKey) -> Item {
    key(keys::api_key_pk(&api_key.digest()), keys::API_KEY_SK)
}

impl Store {
    /// Records a new key (its digest), conditionally: a digest is never reused.
    pub async fn add_api_key(&self, api_key: &ApiKey, label: &str) -> Result<(), ApiError> {
        let mut item = api_key_key(api_key);
        item.insert(attrs::LABEL.into(), s(label));
        item.insert(attrs::CREATED_TIME.into(), s(crate::clock::now()));
        if self.put_new(item).await? {
            Ok(())
        } else {
            Err(ApiError::internal(
                "a new API key's digest was there already",
            ))
        }
    }

    /// Whether a key is known: one GetItem by its digest.
    pub async fn api_key_is_valid(&self, api_key: &ApiKey) -> Result<bool, ApiError> {
        let mut e = Expr::default();
        let projection = e.projection(&[keys::PK]);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(api_key_key(api_key)))
            .projection_expression(projection)
            .set_expression_attribute_names(e.names())
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        Ok(output.item.is_some())
    }
}
