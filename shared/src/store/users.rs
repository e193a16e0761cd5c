//! The user profile item and the operations on it.

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use serde::Serialize;

use super::batch::{delete_request, put_request, BATCH_SIZE};
use super::{s, Store, CAPACITY};
use crate::error::{ApiError, Invalid, Problem};
use crate::fold::fold;
use crate::keys::{self, BY_CREATED, BY_EMAIL, BY_FIRST_NAME, BY_LAST_NAME, BY_MOBILE};
use crate::user::{Patch, User, UserId, UserPatch};

pub type Item = HashMap<String, AttributeValue>;

/// Set on a profile when its deletion starts. From then on the user is gone
/// for every reader, and the index attributes are removed with it.
pub const DELETED_AT: &str = "deletedAt";

/// Keys read per purge page. A partition takes about 1,000 writes a second,
/// so a page is about a second of deletes: the budget is never overrun by more.
const PURGE_PAGE: i32 = 1_000;

/// How many times an update whose condition failed for no reason we can name
/// (a concurrent change in between) is tried again.
const UPDATE_ATTEMPTS: usize = 3;

/// Maps a user to its profile item and back.
pub struct ProfileItem;

impl ProfileItem {
    pub fn build(user: &User) -> Result<Item, ApiError> {
        let mut item: Item = serde_dynamo::to_item(user)?;
        item.insert(keys::PK.into(), s(keys::user_pk(&user.id)));
        item.insert(keys::SK.into(), s(keys::PROFILE_SK));
        for (attr, value) in index_attributes(user) {
            item.insert(attr.into(), s(value));
        }
        Ok(item)
    }

    /// `None` for a missing or tombstoned profile.
    pub fn parse(item: Item) -> Result<Option<User>, ApiError> {
        if item.contains_key(DELETED_AT) {
            return Ok(None);
        }
        Ok(Some(serde_dynamo::from_item(item)?))
    }
}

/// The attributes that place a profile in the search indexes.
fn index_attributes(user: &User) -> Vec<(&'static str, String)> {
    let mut attrs = vec![
        (BY_CREATED.pk, keys::list_shard(&user.id)),
        (BY_CREATED.sk, keys::list_key(&user.created_time, &user.id)),
    ];
    if let Some(email) = &user.email {
        attrs.push((BY_EMAIL.pk, keys::email_key(&email.folded())));
    }
    if let Some(mobile) = &user.mobile {
        attrs.push((BY_MOBILE.pk, keys::mobile_key(mobile.as_str())));
    }
    for (index, name) in [
        (BY_FIRST_NAME, &user.first_name),
        (BY_LAST_NAME, &user.last_name),
    ] {
        if let Some(name) = name {
            attrs.extend(name_attributes(index, name.as_str(), &user.id));
        }
    }
    attrs
}

fn name_attributes(index: keys::Index, name: &str, id: &UserId) -> Vec<(&'static str, String)> {
    let folded = fold(name);
    match keys::name_shard(&folded) {
        Some(shard) => vec![(index.pk, shard), (index.sk, keys::name_key(&folded, id))],
        None => vec![],
    }
}

/// Every attribute that puts an item into an index; removing them all takes
/// a profile out of every index in the same write.
const INDEX_ATTRIBUTES: [&str; 8] = [
    BY_CREATED.pk,
    BY_CREATED.sk,
    BY_EMAIL.pk,
    BY_MOBILE.pk,
    BY_FIRST_NAME.pk,
    BY_FIRST_NAME.sk,
    BY_LAST_NAME.pk,
    BY_LAST_NAME.sk,
];

fn profile_key(id: &UserId) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), s(keys::user_pk(id))),
        (keys::SK.to_owned(), s(keys::PROFILE_SK)),
    ])
}

/// Builds an update or condition expression with placeholders for every name
/// and value, so no attribute name can clash with a reserved word.
#[derive(Default)]
struct Expression {
    set: Vec<String>,
    remove: Vec<String>,
    conditions: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    fn name(&mut self, attr: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn set(&mut self, attr: &str, value: AttributeValue) {
        let name = self.name(attr);
        let value = self.value(value);
        self.set.push(format!("{name} = {value}"));
    }

    fn remove(&mut self, attr: &str) {
        let name = self.name(attr);
        self.remove.push(name);
    }

    fn patch<T: Serialize>(&mut self, attr: &str, patch: &Patch<T>) -> Result<(), ApiError> {
        match patch {
            Patch::Set(value) => self.set(attr, serde_dynamo::to_attribute_value(value)?),
            Patch::Clear => self.remove(attr),
            Patch::Keep => {}
        }
        Ok(())
    }

    fn exists(&mut self, attr: &str) {
        let name = self.name(attr);
        self.conditions.push(format!("attribute_exists({name})"));
    }

    fn not_exists(&mut self, attr: &str) {
        let name = self.name(attr);
        self.conditions
            .push(format!("attribute_not_exists({name})"));
    }

    fn update_expression(&self) -> String {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            parts.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        parts.join(" ")
    }

    fn condition_expression(&self) -> String {
        self.conditions.join(" AND ")
    }
}

/// What a deletion has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteProgress {
    /// Every item of the user is gone.
    Done,
    /// The time budget ran out; the tombstone stays and the rest is resumable.
    InProgress,
}

impl Store {
    /// One conditional PutItem: a user id is never written twice.
    pub async fn insert_user(&self, user: &User) -> Result<(), ApiError> {
        let mut expression = Expression::default();
        expression.not_exists(keys::PK);
        let output = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(ProfileItem::build(user)?))
            .condition_expression(expression.condition_expression())
            .set_expression_attribute_names(Some(expression.names))
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record_write(output.consumed_capacity());
        Ok(())
    }

    /// The profile item as stored, or `None` for a missing or tombstoned user.
    pub(super) async fn get_profile_item(&self, id: &UserId) -> Result<Option<Item>, ApiError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, AttributeValue::S(keys::user_pk(id)))
            .key(keys::SK, AttributeValue::S(keys::PROFILE_SK.to_owned()))
            .consistent_read(true)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        Ok(output.item.filter(|item| !item.contains_key(DELETED_AT)))
    }

    /// Loads many new users at once (seeding, tests): BatchWriteItem, which
    /// cannot be conditional, so only for users with fresh ids.
    pub async fn import_users(&self, users: &[User], parallelism: usize) -> Result<(), ApiError> {
        let requests = users
            .iter()
            .map(|user| put_request(ProfileItem::build(user)?))
            .collect::<Result<Vec<_>, ApiError>>()?;
        self.write_batches(requests, parallelism).await
    }

    /// One conditional UpdateItem that touches only the patched attributes, so
    /// concurrent updates of different fields both survive. Rules that depend
    /// on the stored user (it must keep an email or a mobile, a business id
    /// needs a business name) are conditions of the same write.
    pub async fn update_user(
        &self,
        id: &UserId,
        patch: &UserPatch,
        if_match: Option<u64>,
    ) -> Result<User, ApiError> {
        let mut last_error = None;
        for _ in 0..UPDATE_ATTEMPTS {
            match self.try_update_user(id, patch, if_match).await? {
                Ok(user) => return Ok(user),
                Err(UpdateRejected::Explained(err)) => return Err(err),
                Err(UpdateRejected::Raced) => {
                    last_error = Some(ApiError::Internal(
                        "update condition kept failing without a cause".into(),
                    ))
                }
            }
        }
        Err(last_error.unwrap_or(ApiError::ServiceUnavailable))
    }

    async fn try_update_user(
        &self,
        id: &UserId,
        patch: &UserPatch,
        if_match: Option<u64>,
    ) -> Result<Result<User, UpdateRejected>, ApiError> {
        let mut e = Expression::default();
        e.exists(keys::PK);
        e.not_exists(DELETED_AT);
        e.patch("email", &patch.email)?;
        e.patch("mobile", &patch.mobile)?;
        e.patch("firstName", &patch.first_name)?;
        e.patch("middleName", &patch.middle_name)?;
        e.patch("lastName", &patch.last_name)?;
        e.patch("businessName", &patch.business_name)?;
        match &patch.business_id {
            Patch::Set(business_id) => {
                e.set(
                    "businessIdNo",
                    serde_dynamo::to_attribute_value(&business_id.number)?,
                );
                e.set(
                    "businessIdNoType",
                    serde_dynamo::to_attribute_value(business_id.kind)?,
                );
            }
            Patch::Clear => {
                e.remove("businessIdNo");
                e.remove("businessIdNoType");
            }
            Patch::Keep => {}
        }
        e.patch("businessAddress", &patch.business_address)?;
        e.patch("verificationStatus", &patch.verification_status)?;
        e.patch("verificationDate", &patch.verification_date)?;

        match &patch.email {
            Patch::Set(email) => e.set(BY_EMAIL.pk, s(keys::email_key(&email.folded()))),
            Patch::Clear => e.remove(BY_EMAIL.pk),
            Patch::Keep => {}
        }
        match &patch.mobile {
            Patch::Set(mobile) => e.set(BY_MOBILE.pk, s(keys::mobile_key(mobile.as_str()))),
            Patch::Clear => e.remove(BY_MOBILE.pk),
            Patch::Keep => {}
        }
        for (index, name) in [
            (BY_FIRST_NAME, &patch.first_name),
            (BY_LAST_NAME, &patch.last_name),
        ] {
            match name {
                Patch::Set(name) => {
                    let attrs = name_attributes(index, name.as_str(), id);
                    if attrs.is_empty() {
                        e.remove(index.pk);
                        e.remove(index.sk);
                    }
                    for (attr, value) in attrs {
                        e.set(attr, s(value));
                    }
                }
                Patch::Clear => {
                    e.remove(index.pk);
                    e.remove(index.sk);
                }
                Patch::Keep => {}
            }
        }

        if patch.email == Patch::Clear && patch.mobile.as_set().is_none() {
            e.exists("mobile");
        }
        if patch.mobile == Patch::Clear && patch.email.as_set().is_none() {
            e.exists("email");
        }
        if patch.business_id.as_set().is_some() && patch.business_name.is_keep() {
            e.exists("businessName");
        }
        if patch.business_name == Patch::Clear && patch.business_id.is_keep() {
            e.not_exists("businessIdNo");
        }
        if let Some(expected) = if_match {
            let version = e.name("version");
            let value = e.value(AttributeValue::N(expected.to_string()));
            e.conditions.push(format!("{version} = {value}"));
        }

        e.set("updatedTime", s(crate::clock::now()));
        let version = e.name("version");
        let one = e.value(AttributeValue::N("1".into()));
        e.set.push(format!("{version} = {version} + {one}"));

        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(id)))
            .update_expression(e.update_expression())
            .condition_expression(e.condition_expression())
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await;
        match result {
            Ok(output) => {
                self.meter.record_write(output.consumed_capacity());
                let item = output.attributes.unwrap_or_default();
                Ok(Ok(serde_dynamo::from_item(item)?))
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Err(explain_rejection(failed.item(), patch, if_match)))
                }
                _ => Err(err.into()),
            },
        }
    }

    /// Step one of a deletion: one conditional UpdateItem that marks the
    /// profile and drops its index attributes. The user is invisible from here
    /// on. Repeating it on a tombstoned user is harmless, so a deletion can
    /// always be resumed.
    pub async fn tombstone_user(&self, id: &UserId, if_match: Option<u64>) -> Result<(), ApiError> {
        let mut e = Expression::default();
        e.exists(keys::PK);
        if let Some(expected) = if_match {
            let version = e.name("version");
            let value = e.value(AttributeValue::N(expected.to_string()));
            e.conditions.push(format!("{version} = {value}"));
        }
        let deleted_at = e.name(DELETED_AT);
        let now = e.value(s(crate::clock::now()));
        e.set
            .push(format!("{deleted_at} = if_not_exists({deleted_at}, {now})"));
        for attr in INDEX_ATTRIBUTES {
            e.remove(attr);
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(id)))
            .update_expression(e.update_expression())
            .condition_expression(e.condition_expression())
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await;
        match result {
            Ok(output) => {
                self.meter.record_write(output.consumed_capacity());
                Ok(())
            }
            Err(err) => match err.as_service_error() {
                // The user exists, so it was the version that did not match.
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Err(match failed.item() {
                        Some(_) => ApiError::PreconditionFailed,
                        None => ApiError::not_found(),
                    })
                }
                _ => Err(err.into()),
            },
        }
    }

    /// Step two: removes every item under the user's partition, children
    /// first and the profile (with its tombstone) last, so an interrupted
    /// purge leaves the tombstone in place for the next attempt. Reads the
    /// partition keys-only, and fetches the next page while the current one
    /// is being deleted.
    pub async fn purge_user(
        &self,
        id: &UserId,
        deadline: Option<Instant>,
        parallelism: usize,
    ) -> Result<DeleteProgress, ApiError> {
        // A first page just big enough to fill every writer, so deleting starts
        // after a short read; the pages after it are read while deleting.
        let first = (BATCH_SIZE * parallelism).min(PURGE_PAGE as usize) as i32;
        let mut page = self.partition_keys(id, None, first).await?;
        // Deletes carry over between pages, so that every batch but the last is full.
        let mut pending = Vec::new();
        loop {
            let (keys, next) = page;
            for key in keys {
                if key.get(keys::SK) != Some(&s(keys::PROFILE_SK)) {
                    pending.push(delete_request(key)?);
                }
            }
            // Stop early only when more remains to be read: a last page is always finished.
            let out_of_time = next.is_some() && deadline.is_some_and(|d| Instant::now() >= d);
            let full = if next.is_none() || out_of_time {
                pending.len()
            } else {
                pending.len() - pending.len() % BATCH_SIZE
            };
            let deletes: Vec<WriteRequest> = pending.drain(..full).collect();
            let fetch_next = async {
                match next.filter(|_| !out_of_time) {
                    Some(start) => self
                        .partition_keys(id, Some(start), PURGE_PAGE)
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            };
            let (written, fetched) =
                tokio::join!(self.write_batches(deletes, parallelism), fetch_next);
            written?;
            if out_of_time {
                return Ok(DeleteProgress::InProgress);
            }
            match fetched? {
                Some(next_page) => page = next_page,
                None => break,
            }
        }
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(id)))
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record_write(output.consumed_capacity());
        Ok(DeleteProgress::Done)
    }

    /// One page of the partition's keys (at most `limit`), strongly
    /// consistent so that nothing written before the tombstone is missed.
    async fn partition_keys(
        &self,
        id: &UserId,
        start: Option<Item>,
        limit: i32,
    ) -> Result<(Vec<Item>, Option<Item>), ApiError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", s(keys::user_pk(id)))
            .projection_expression("#pk, #sk")
            .limit(limit)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }
}

enum UpdateRejected {
    /// The stored user explains why: the answer for the client.
    Explained(ApiError),
    /// Nothing in the stored user explains it: it changed in between; try again.
    Raced,
}

/// Says which condition of an update failed, from the item as it was.
fn explain_rejection(
    old: Option<&Item>,
    patch: &UserPatch,
    if_match: Option<u64>,
) -> UpdateRejected {
    let Some(old) = old.filter(|item| !item.contains_key(DELETED_AT)) else {
        return UpdateRejected::Explained(ApiError::not_found());
    };
    let has = |attr: &str| old.contains_key(attr);
    if let Some(expected) = if_match {
        let stored = old.get("version").and_then(|v| v.as_n().ok()).cloned();
        if stored.as_deref() != Some(expected.to_string().as_str()) {
            return UpdateRejected::Explained(ApiError::PreconditionFailed);
        }
    }
    let keep_contact = "A user must keep an email or a mobile.";
    let problem =
        if patch.email == Patch::Clear && patch.mobile.as_set().is_none() && !has("mobile") {
            Some(Invalid::new(keep_contact).at("/email"))
        } else if patch.mobile == Patch::Clear && patch.email.as_set().is_none() && !has("email") {
            Some(Invalid::new(keep_contact).at("/mobile"))
        } else if patch.business_id.as_set().is_some()
            && patch.business_name.is_keep()
            && !has("businessName")
        {
            Some(Problem::not_supplied(
                "/businessName",
                "businessName is required when businessIdNo is given.",
            ))
        } else if patch.business_name == Patch::Clear
            && patch.business_id.is_keep()
            && has("businessIdNo")
        {
            Some(
                Invalid::new("businessName cannot be removed while businessIdNo is set.")
                    .at("/businessName"),
            )
        } else {
            None
        };
    match problem {
        Some(problem) => UpdateRejected::Explained(problem.into()),
        None => UpdateRejected::Raced,
    }
}
