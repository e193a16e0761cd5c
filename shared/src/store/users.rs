//! Writing users: inserts and partial updates of the profile item.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::attrs::{self, is_tombstone, n, s, text, Item};
use super::batch::{backoff, put_request};
use super::expr::{Cond, Expr};
use super::profile::{patch_update, profile_key, ProfileItem};
use super::retry::{is_conflict, retry_conflicts, WRITE_ATTEMPTS};
use super::{Store, CAPACITY};
use crate::error::ApiError;
use crate::keys;
use crate::user::{Contact, Patch, User, UserId, UserPatch, UserRule};

/// How many times an update whose condition failed for no reason we can name
/// (a concurrent change in between) is tried again.
const UPDATE_ATTEMPTS: usize = 3;

/// Each write of a profile leaves its own id on the item, so that when an
/// answer is lost and the SDK sends the write again, the retry's failed
/// condition can tell "already done, by us" from "refused".
const WRITE_ID: &str = "writeId";

fn write_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Store {
    /// One conditional PutItem: a user id is never written twice. A retry of
    /// a write whose answer was lost finds the user it wrote, and succeeds.
    /// The item carries this store's stamp (who created it, in which request).
    pub async fn insert_user(&self, user: &User) -> Result<(), ApiError> {
        let mut item = ProfileItem::build(user)?;
        self.stamp_item(&mut item);
        let mine = write_id();
        item.insert(WRITE_ID.into(), s(&mine));
        let mut e = Expr::default();
        let condition = e.condition(&Cond::NotExists(keys::PK));
        let result = retry_conflicts(|| {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression(&condition)
                .set_expression_attribute_names(e.names())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .return_consumed_capacity(CAPACITY)
                .send()
        })
        .await;
        match result {
            Ok(output) => {
                self.meter.record_write(output.consumed_capacity());
                Ok(())
            }
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed))
                    if failed.item().is_some_and(|old| text(old, WRITE_ID) == mine) =>
                {
                    Ok(())
                }
                _ => Err(err.into()),
            },
        }
    }

    /// The profile item as stored, or `None` for a missing or tombstoned user.
    pub(super) async fn get_profile_item(&self, id: &UserId) -> Result<Option<Item>, ApiError> {
        let item = self.get_item(profile_key(id)).await?;
        Ok(item.filter(|item| !is_tombstone(item)))
    }

    /// Whether the user exists and is not being deleted.
    pub(super) async fn user_is_live(&self, user: &UserId) -> Result<bool, ApiError> {
        Ok(self.get_profile_item(user).await?.is_some())
    }

    /// Loads many new users at once (seeding, tests): BatchWriteItem, which
    /// cannot be conditional, so only for users with fresh ids. Stamped as
    /// any other write of a profile, when this store has a stamp.
    pub async fn import_users(&self, users: &[User], parallelism: usize) -> Result<(), ApiError> {
        let requests = users
            .iter()
            .map(|user| {
                let mut item = ProfileItem::build(user)?;
                self.stamp_item(&mut item);
                put_request(item)
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        self.write_batches(requests, parallelism).await
    }

    /// One conditional UpdateItem that touches only the patched attributes, so
    /// concurrent updates of different fields both survive. Rules that depend
    /// on the stored user (it must keep an email or a mobile, a business id
    /// needs a business name) are conditions of the same write, and so is
    /// this store's stamp.
    pub async fn update_user(
        &self,
        id: &UserId,
        patch: &UserPatch,
        if_match: Option<u64>,
    ) -> Result<User, ApiError> {
        let mut raced = 0;
        for attempt in 0..WRITE_ATTEMPTS {
            match self.try_update_user(id, patch, if_match).await? {
                Ok(user) => return Ok(user),
                Err(Rejected::Explained(err)) => return Err(err),
                Err(Rejected::Conflict) => tokio::time::sleep(backoff(attempt)).await,
                Err(Rejected::Raced) => {
                    raced += 1;
                    if raced == UPDATE_ATTEMPTS {
                        return Err(ApiError::internal(
                            "update condition kept failing without a cause",
                        ));
                    }
                }
            }
        }
        Err(ApiError::ServiceUnavailable)
    }

    async fn try_update_user(
        &self,
        id: &UserId,
        patch: &UserPatch,
        if_match: Option<u64>,
    ) -> Result<Result<User, Rejected>, ApiError> {
        let mine = write_id();
        let mut update = patch_update(id, patch)?;
        update
            .set(attrs::UPDATED_TIME, s(crate::clock::now()))
            .set(WRITE_ID, s(&mine))
            .increment(attrs::VERSION);
        // Who changed the user rides in the same SET: still one request.
        self.stamp_update(&mut update);
        let mut conditions = vec![Cond::Exists(keys::PK), Cond::NotExists(attrs::DELETED_AT)];
        conditions.extend(rules(patch).into_iter().map(|(_, cond)| cond));
        if let Some(expected) = if_match {
            conditions.push(Cond::Eq(attrs::VERSION, n(expected)));
        }
        let mut e = Expr::default();
        let update = e.update(&update);
        let condition = e.condition(&Cond::And(conditions));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(id)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
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
            Err(err) if is_conflict(&err) => Ok(Err(Rejected::Conflict)),
            Err(err) => match err.as_service_error() {
                // Our own write, sent again after its answer was lost: done.
                Some(UpdateItemError::ConditionalCheckFailedException(failed))
                    if failed.item().is_some_and(|old| text(old, WRITE_ID) == mine) =>
                {
                    let item = failed.item().cloned().unwrap_or_default();
                    Ok(Ok(serde_dynamo::from_item(item)?))
                }
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Err(explain_rejection(failed.item(), patch, if_match)))
                }
                _ => Err(err.into()),
            },
        }
    }
}

/// The rules a patch must keep against the stored user, each with the
/// condition that holds when it is kept.
fn rules(patch: &UserPatch) -> Vec<(UserRule, Cond)> {
    let mut rules = Vec::new();
    if patch.email == Patch::Clear && patch.mobile.as_set().is_none() {
        rules.push((
            UserRule::KeepContact(Contact::Email),
            Cond::Exists(attrs::MOBILE),
        ));
    }
    if patch.mobile == Patch::Clear && patch.email.as_set().is_none() {
        rules.push((
            UserRule::KeepContact(Contact::Mobile),
            Cond::Exists(attrs::EMAIL),
        ));
    }
    if patch.business_id.as_set().is_some() && patch.business_name.is_keep() {
        rules.push((
            UserRule::BusinessNameRequired,
            Cond::Exists(attrs::BUSINESS_NAME),
        ));
    }
    if patch.business_name == Patch::Clear && patch.business_id.is_keep() {
        rules.push((
            UserRule::BusinessNameInUse,
            Cond::NotExists(attrs::BUSINESS_ID_NO),
        ));
    }
    rules
}

enum Rejected {
    /// The stored user explains why: the answer for the client.
    Explained(ApiError),
    /// A transaction held the user: try again after a pause.
    Conflict,
    /// Nothing in the stored user explains it: it changed in between; try again.
    Raced,
}

/// Says which condition of an update failed, from the item as it was.
fn explain_rejection(old: Option<&Item>, patch: &UserPatch, if_match: Option<u64>) -> Rejected {
    let Some(old) = old.filter(|item| !is_tombstone(item)) else {
        return Rejected::Explained(ApiError::not_found());
    };
    if let Some(expected) = if_match {
        if !Cond::Eq(attrs::VERSION, n(expected)).matches(old) {
            return Rejected::Explained(ApiError::PreconditionFailed);
        }
    }
    match rules(patch)
        .into_iter()
        .find(|(_, kept)| !kept.matches(old))
    {
        Some((rule, _)) => Rejected::Explained(rule.into()),
        None => Rejected::Raced,
    }
}
