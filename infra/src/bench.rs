//! Delete throughput: a user's deletion (tombstone, keys-only pages,
//! bounded-parallel BatchWriteItem) against a bare BatchWriteItem loop over
//! the same number of items, in the same run, on the same DynamoDB.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use shared::error::ApiError;
use shared::store::{DeleteProgress, Store};
use shared::user::{decode_create, UserId};

#[derive(Debug, Clone, Copy)]
pub struct DeleteRun {
    pub items: usize,
    pub ours: Duration,
    pub bare: Duration,
}

impl DeleteRun {
    pub fn ours_per_second(&self) -> f64 {
        self.items as f64 / self.ours.as_secs_f64()
    }

    pub fn bare_per_second(&self) -> f64 {
        self.items as f64 / self.bare.as_secs_f64()
    }
}

async fn user_with(store: &Store, items: usize) -> Result<UserId, ApiError> {
    let user = decode_create(crate::seed::user_body(items))?
        .into_user(UserId::new(), shared::clock::now());
    store.import_users(std::slice::from_ref(&user), 1).await?;
    // profile + connection(s) + 2 accounts per connection + transactions = items
    let connections = items.div_ceil(shared::finance::MAX_TRANSACTIONS + 3).max(1);
    let transactions = items.saturating_sub(1 + 3 * connections);
    crate::seed::fill_user(store, &user.id, 0, transactions, 16).await?;
    Ok(user.id)
}

/// Keys of every item under a user, read before the bare loop deletes them.
async fn keys_of(store: &Store, user: &UserId) -> Result<Vec<WriteRequest>, ApiError> {
    let mut requests = Vec::new();
    let mut start = None;
    loop {
        let page = store
            .client()
            .query()
            .table_name(store.table())
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", shared::keys::PK)
            .expression_attribute_names("#sk", shared::keys::SK)
            .expression_attribute_values(":pk", AttributeValue::S(shared::keys::user_pk(user)))
            .projection_expression("#pk, #sk")
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for key in page.items.unwrap_or_default() {
            let delete = DeleteRequest::builder().set_key(Some(key)).build()?;
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(requests);
        }
    }
}

/// Deletes users of `items` items both ways and times each. Both users are
/// filled first, so both deletions run against the same table; `bare_first`
/// swaps the order, so that alternating runs cancel any drift of the store.
pub async fn delete_run(
    store: &Store,
    items: usize,
    parallelism: usize,
    bare_first: bool,
) -> Result<DeleteRun, ApiError> {
    let ours_user = user_with(store, items).await?;
    let bare_user = user_with(store, items).await?;
    let keys = keys_of(store, &bare_user).await?;
    let time_ours = async {
        let started = Instant::now();
        let tombstone = store.tombstone_user(&ours_user, None).await?;
        match store.purge_user(&tombstone, None, parallelism).await? {
            DeleteProgress::Done => Ok(started.elapsed()),
            _ => Err(ApiError::internal("the purge stopped early")),
        }
    };
    let time_bare = async {
        let started = Instant::now();
        store.write_batches(keys, parallelism).await?;
        Ok::<_, ApiError>(started.elapsed())
    };
    let (ours, bare) = if bare_first {
        let bare = time_bare.await?;
        (time_ours.await?, bare)
    } else {
        let ours = time_ours.await?;
        (ours, time_bare.await?)
    };
    Ok(DeleteRun { items, ours, bare })
}
