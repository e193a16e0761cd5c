//! Connections, accounts and transactions under a user's partition.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, KeysAndAttributes, Put, TransactWriteItem};
use serde::Serialize;

use super::attrs::{self, is_tombstone, key, n, s, text, Item};
use super::batch::{backoff, delete_request, put_request};
use super::expr::{Cond, Expr};
use super::idempotency::{Once, OnceRecord};
use super::profile::{profile_key, ProfileItem};
use super::Position;
use super::{Store, CAPACITY};
use crate::error::ApiError;
use crate::finance::{Account, Connection, Ingest, RecordId, Transaction, TransactionQuery};
use crate::keys::{self, TXN_BY_ACCOUNT, TXN_BY_DATE};
use crate::user::{User, UserId};

/// How many times BatchGetItem is asked again for keys it left unprocessed.
const READ_ATTEMPTS: u32 = 5;

/// A user with its connections and accounts, as one Query reads them.
#[derive(Debug, Clone)]
pub struct Overview {
    pub user: User,
    pub connections: Vec<Connection>,
    pub accounts: Vec<Account>,
}

fn child_key(user: &UserId, sk: String) -> Item {
    key(keys::user_pk(user), sk)
}

/// A child item: the record's attributes, its keys, and the bookkeeping every item carries.
fn child_item<T: Serialize>(
    user: &UserId,
    sk: String,
    record: &T,
    now: &str,
) -> Result<Item, ApiError> {
    let mut item: Item = serde_dynamo::to_item(record)?;
    item.extend(child_key(user, sk));
    item.insert(attrs::CREATED_TIME.into(), s(now));
    item.insert(attrs::UPDATED_TIME.into(), s(now));
    item.insert(attrs::VERSION.into(), n(1));
    Ok(item)
}

fn transaction_item(user: &UserId, t: &Transaction, now: &str) -> Result<Item, ApiError> {
    let mut item = child_item(user, keys::transaction_sk(t.id.as_str()), t, now)?;
    let date = t.post_date.as_str();
    item.insert(
        TXN_BY_DATE.sk.into(),
        s(keys::txn_date_key(date, t.id.as_str())),
    );
    item.insert(
        TXN_BY_ACCOUNT.sk.into(),
        s(keys::txn_account_key(
            t.account.as_str(),
            date,
            t.id.as_str(),
        )),
    );
    Ok(item)
}

impl Store {
    /// One strongly consistent Query of the profile, connections and accounts
    /// (every sort key below `TXN#`): no transaction is read.
    pub async fn user_overview(&self, id: &UserId) -> Result<Overview, ApiError> {
        let mut e = Expr::default();
        let condition = e.condition(&Cond::And(vec![
            Cond::eq(keys::PK, keys::user_pk(id)),
            Cond::Lt(keys::SK, s(keys::TRANSACTION_PREFIX)),
        ]));
        let items = self
            .query_all(
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .consistent_read(true),
            )
            .await?;
        let mut user = None;
        let mut connections = Vec::new();
        let mut accounts = Vec::new();
        for item in items {
            let sk = text(&item, keys::SK).to_owned();
            if sk == keys::PROFILE_SK {
                user = ProfileItem::parse(item)?;
            } else if sk.starts_with(keys::CONNECTION_PREFIX) {
                connections.push(serde_dynamo::from_item(item)?);
            } else if sk.starts_with(keys::ACCOUNT_PREFIX) {
                accounts.push(serde_dynamo::from_item(item)?);
            }
        }
        let user = user.ok_or_else(ApiError::not_found)?;
        Ok(Overview {
            user,
            connections,
            accounts,
        })
    }

    /// Writes one connection with its accounts and transactions.
    ///
    /// The connection goes in a transaction with a check that the user exists
    /// and is not being deleted. BatchWriteItem cannot be conditional, so the
    /// children follow, and the user is checked once more afterwards: if a
    /// deletion began meanwhile, the items written here are removed again, so
    /// a deletion never leaves orphans behind.
    ///
    /// With an idempotency record, the record joins the same transaction, so
    /// a retry never ingests twice: it gets the first answer instead.
    pub async fn ingest(
        &self,
        user: &UserId,
        ingest: &Ingest,
        parallelism: usize,
        once: Option<OnceRecord<'_>>,
    ) -> Result<Once, ApiError> {
        let now = crate::clock::now();
        let connection = child_item(
            user,
            keys::connection_sk(ingest.connection.id.as_str()),
            &ingest.connection,
            &now,
        )?;
        let mut e = Expr::default();
        let live = e.condition(&Cond::And(vec![
            Cond::Exists(keys::PK),
            Cond::NotExists(attrs::DELETED_AT),
        ]));
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(profile_key(user)))
            .condition_expression(live)
            .set_expression_attribute_names(e.names())
            .build()?;
        let put_connection = Put::builder()
            .table_name(&self.table)
            .set_item(Some(connection))
            .build()?;
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().put(put_connection).build());
        if let Some(once) = &once {
            transaction = transaction.transact_items(
                TransactWriteItem::builder()
                    .put(self.record_put(once)?)
                    .build(),
            );
        }
        let result = transaction.return_consumed_capacity(CAPACITY).send().await;
        match result {
            Ok(output) => {
                for consumed in output.consumed_capacity() {
                    self.meter.record_write(Some(consumed));
                }
            }
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                    err.as_service_error()
                {
                    // Reasons come in item order: the user check first, the record third.
                    let failed = |i: usize| {
                        cancelled
                            .cancellation_reasons()
                            .get(i)
                            .and_then(|r| r.code())
                            .is_some_and(|code| code == "ConditionalCheckFailed")
                    };
                    return match once {
                        Some(once) if !failed(0) && failed(2) => {
                            self.replay(once.key, once.digest).await
                        }
                        _ => Err(ApiError::not_found()),
                    };
                }
                return Err(err.into());
            }
        }

        let mut children = Vec::with_capacity(ingest.accounts.len() + ingest.transactions.len());
        let mut child_keys = Vec::with_capacity(children.capacity() + 1);
        for account in &ingest.accounts {
            let sk = keys::account_sk(account.id.as_str());
            child_keys.push(child_key(user, sk.clone()));
            children.push(put_request(child_item(user, sk, account, &now)?)?);
        }
        for transaction in &ingest.transactions {
            child_keys.push(child_key(
                user,
                keys::transaction_sk(transaction.id.as_str()),
            ));
            children.push(put_request(transaction_item(user, transaction, &now)?)?);
        }
        self.write_batches(children, parallelism).await?;

        if !self.user_is_live(user).await? {
            child_keys.push(child_key(
                user,
                keys::connection_sk(ingest.connection.id.as_str()),
            ));
            let deletes = child_keys
                .into_iter()
                .map(delete_request)
                .collect::<Result<Vec<_>, _>>()?;
            self.write_batches(deletes, parallelism).await?;
            return Err(ApiError::not_found());
        }
        Ok(Once::Created)
    }

    /// One transaction, read in the same request as the profile (BatchGetItem,
    /// strongly consistent) so that a deleted user's data is never served.
    pub async fn transaction(&self, user: &UserId, id: &RecordId) -> Result<Transaction, ApiError> {
        let wanted = KeysAndAttributes::builder()
            .keys(profile_key(user))
            .keys(child_key(user, keys::transaction_sk(id.as_str())))
            .consistent_read(true)
            .build()?;
        let mut items = Vec::new();
        let mut pending = HashMap::from([(self.table.clone(), wanted)]);
        // BatchGetItem may leave keys unprocessed under load: ask again for those.
        for attempt in 0.. {
            let output = self
                .client
                .batch_get_item()
                .set_request_items(Some(pending))
                .return_consumed_capacity(CAPACITY)
                .send()
                .await?;
            for consumed in output.consumed_capacity() {
                self.meter.record(Some(consumed));
            }
            items.extend(
                output
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
            pending = output.unprocessed_keys.unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            if attempt + 1 == READ_ATTEMPTS {
                return Err(ApiError::ServiceUnavailable);
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        let profile = items.iter().find(|i| text(i, keys::SK) == keys::PROFILE_SK);
        if profile.is_none_or(is_tombstone) {
            return Err(ApiError::not_found());
        }
        let item = items
            .into_iter()
            .find(|i| text(i, keys::SK) != keys::PROFILE_SK)
            .ok_or_else(ApiError::not_found)?;
        Ok(serde_dynamo::from_item(item)?)
    }

    /// A page of transactions, newest first: one Query on a local index (by
    /// account when one is named, else by date), with every bound a key
    /// condition, alongside the check that the user is live.
    pub async fn transactions(
        &self,
        user: &UserId,
        query: &TransactionQuery,
        position: Position,
        limit: usize,
    ) -> Result<(Vec<Transaction>, Option<Position>), ApiError> {
        let (index, prefix) = match &query.account {
            Some(account) => (TXN_BY_ACCOUNT, keys::txn_account_prefix(account.as_str())),
            None => (TXN_BY_DATE, String::new()),
        };
        let low = format!("{prefix}{}", query.from.as_deref().unwrap_or(""));
        let high = match &query.to {
            Some(to) => format!("{prefix}{to}"),
            None => keys::after_all_starting_with(&prefix),
        };
        let start = match &position {
            Position::After([pk, sk, _, index_sk]) => Some(HashMap::from([
                (keys::PK.to_owned(), s(pk.clone())),
                (keys::SK.to_owned(), s(sk.clone())),
                (index.sk.to_owned(), s(index_sk.clone())),
            ])),
            Position::Start | Position::Done => None,
        };
        // Bounds that cross (after a date, and before an earlier one) match
        // nothing; DynamoDB would refuse them as a BETWEEN.
        if !low.is_empty() && low > high {
            return if self.user_is_live(user).await? {
                Ok((Vec::new(), None))
            } else {
                Err(ApiError::not_found())
            };
        }
        // A key value may not be empty: with no lower bound at all, only the upper one applies.
        let range = if low.is_empty() {
            Cond::Le(index.sk, s(high))
        } else {
            Cond::Between(index.sk, low, high)
        };
        let mut e = Expr::default();
        let condition = e.condition(&Cond::And(vec![
            Cond::eq(keys::PK, keys::user_pk(user)),
            range,
        ]));
        let read = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .return_consumed_capacity(CAPACITY)
            .send();
        let (live, output) = tokio::join!(self.user_is_live(user), read);
        if !live? {
            return Err(ApiError::not_found());
        }
        let output = output?;
        self.meter.record(output.consumed_capacity());
        let mut items = output.items.unwrap_or_default();
        let more = items.len() > limit;
        items.truncate(limit);
        let next = match items.last() {
            Some(last) if more => Some(Position::After([
                text(last, keys::PK).to_owned(),
                text(last, keys::SK).to_owned(),
                text(last, keys::PK).to_owned(),
                text(last, index.sk).to_owned(),
            ])),
            _ => None,
        };
        let transactions = items
            .into_iter()
            .map(serde_dynamo::from_item)
            .collect::<Result<Vec<Transaction>, _>>()?;
        Ok((transactions, next))
    }

    /// Deletes a connection with its accounts and their transactions; the
    /// connection item goes last, so an interrupted call can be repeated.
    pub async fn delete_connection(
        &self,
        user: &UserId,
        id: &RecordId,
        parallelism: usize,
    ) -> Result<(), ApiError> {
        let overview = self.user_overview(user).await?;
        if !overview.connections.iter().any(|c| &c.id == id) {
            return Err(ApiError::not_found());
        }
        let mut deletes = Vec::new();
        for account in overview.accounts.iter().filter(|a| &a.connection == id) {
            let mut e = Expr::default();
            let condition = e.condition(&Cond::And(vec![
                Cond::eq(keys::PK, keys::user_pk(user)),
                Cond::BeginsWith(
                    TXN_BY_ACCOUNT.sk,
                    keys::txn_account_prefix(account.id.as_str()),
                ),
            ]));
            let projection = e.projection(&[keys::PK, keys::SK]);
            let transactions = self
                .query_all(
                    self.client
                        .query()
                        .table_name(&self.table)
                        .index_name(TXN_BY_ACCOUNT.name)
                        .key_condition_expression(condition)
                        .projection_expression(projection)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .consistent_read(true),
                )
                .await?;
            for item in transactions {
                deletes.push(delete_request(child_key(
                    user,
                    text(&item, keys::SK).to_owned(),
                ))?);
            }
            deletes.push(delete_request(child_key(
                user,
                keys::account_sk(account.id.as_str()),
            ))?);
        }
        self.write_batches(deletes, parallelism).await?;
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(child_key(user, keys::connection_sk(id.as_str()))))
            .return_consumed_capacity(CAPACITY)
            .send()
            .await?;
        self.meter.record_write(output.consumed_capacity());
        Ok(())
    }
}
