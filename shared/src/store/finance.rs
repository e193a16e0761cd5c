//! Reading connections, accounts and transactions under a user's partition.
//! A connection being deleted (tombstoned) is gone for every reader, and so
//! are its accounts and transactions, however far its deletion has got.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::attrs::{self, is_tombstone, key, n, s, text, Item};
use super::expr::{Cond, Expr};
use super::profile::ProfileItem;
use super::Position;
use super::Store;
use crate::error::ApiError;
use crate::finance::{Account, Connection, RecordId, Transaction, TransactionQuery};
use crate::keys::{self, TXN_BY_ACCOUNT, TXN_BY_DATE};
use crate::user::{User, UserId};

/// A user with its connections and accounts, as one Query reads them.
#[derive(Debug, Clone)]
pub struct Overview {
    pub user: User,
    pub connections: Vec<Connection>,
    pub accounts: Vec<Account>,
}

pub(super) fn child_key(user: &UserId, sk: String) -> Item {
    key(keys::user_pk(user), sk)
}

/// A child item: the record's attributes, its keys, and the bookkeeping every item carries.
pub(super) fn child_item<T: Serialize>(
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

pub(super) fn transaction_item(
    user: &UserId,
    t: &Transaction,
    now: &str,
) -> Result<Item, ApiError> {
    let connection = t.connection.as_str();
    let sk = keys::transaction_sk(t.id.as_str(), connection);
    let mut item = child_item(user, sk, t, now)?;
    let date = t.post_date.as_str();
    item.insert(
        TXN_BY_DATE.sk.into(),
        s(keys::txn_date_key(date, t.id.as_str(), connection)),
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
        let items = self.query_all(self.consistent_query(&e, condition)).await?;
        let mut user = None;
        let mut connections: Vec<Connection> = Vec::new();
        let mut accounts: Vec<Account> = Vec::new();
        let mut deleted = HashSet::new();
        for item in items {
            let sk = text(&item, keys::SK).to_owned();
            if sk == keys::PROFILE_SK {
                user = ProfileItem::parse(item)?;
            } else if sk.starts_with(keys::CONNECTION_PREFIX) {
                if is_tombstone(&item) {
                    deleted.insert(text(&item, attrs::ID).to_owned());
                } else {
                    connections.push(serde_dynamo::from_item(item)?);
                }
            } else if sk.starts_with(keys::ACCOUNT_PREFIX) {
                accounts.push(serde_dynamo::from_item(item)?);
            }
        }
        let user = user.ok_or_else(ApiError::not_found)?;
        accounts.retain(|a| !deleted.contains(a.connection.as_str()));
        Ok(Overview {
            user,
            connections,
            accounts,
        })
    }

    /// Whether the user is live, and which of its connections are being
    /// deleted: one strongly consistent Query of the connections and the
    /// profile (`CONN#` to `PROFILE`), as small as the user's connections.
    /// `None` for a missing or tombstoned user.
    async fn deleted_connections(
        &self,
        user: &UserId,
    ) -> Result<Option<HashSet<String>>, ApiError> {
        let mut e = Expr::default();
        let condition = e.condition(&Cond::And(vec![
            Cond::eq(keys::PK, keys::user_pk(user)),
            Cond::Between(
                keys::SK,
                keys::CONNECTION_PREFIX.to_owned(),
                keys::PROFILE_SK.to_owned(),
            ),
        ]));
        let projection = e.projection(&[keys::SK, attrs::ID, attrs::DELETED_AT]);
        let items = self
            .query_all(
                self.consistent_query(&e, condition)
                    .projection_expression(projection),
            )
            .await?;
        let mut live = false;
        let mut deleted = HashSet::new();
        for item in &items {
            if text(item, keys::SK) == keys::PROFILE_SK {
                live = !is_tombstone(item);
            } else if is_tombstone(item) {
                deleted.insert(text(item, attrs::ID).to_owned());
            }
        }
        Ok(live.then_some(deleted))
    }

    /// One transaction: a Query of the keys that start with its id (one per
    /// connection that uses the id, normally one), alongside the check that
    /// the user is live, so that a deleted user's or connection's data is
    /// never served. Of two connections using one id, the first in id order
    /// answers.
    pub async fn transaction(&self, user: &UserId, id: &RecordId) -> Result<Transaction, ApiError> {
        let mut e = Expr::default();
        let condition = e.condition(&Cond::And(vec![
            Cond::eq(keys::PK, keys::user_pk(user)),
            Cond::BeginsWith(keys::SK, keys::transaction_id_prefix(id.as_str())),
        ]));
        let read = self.query_all(self.consistent_query(&e, condition));
        let (deleted, items) = tokio::join!(self.deleted_connections(user), read);
        let deleted = deleted?.ok_or_else(ApiError::not_found)?;
        let item = items?
            .into_iter()
            .find(|item| !deleted.contains(text(item, attrs::CONNECTION)))
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
            return match self.deleted_connections(user).await? {
                Some(_) => Ok((Vec::new(), None)),
                None => Err(ApiError::not_found()),
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
            .consistent_query(&e, condition)
            .index_name(index.name)
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send();
        let (deleted, output) = tokio::join!(self.deleted_connections(user), read);
        let deleted = deleted?.ok_or_else(ApiError::not_found)?;
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
        // A connection being deleted takes its transactions with it at once;
        // the page is shorter, and the cursor goes on after what was read.
        let transactions = items
            .into_iter()
            .filter(|item| !deleted.contains(text(item, attrs::CONNECTION)))
            .map(serde_dynamo::from_item)
            .collect::<Result<Vec<Transaction>, _>>()?;
        Ok((transactions, next))
    }
}
