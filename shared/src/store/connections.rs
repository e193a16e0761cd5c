//! Deleting a connection with its accounts and their transactions, in
//! phases that an interruption cannot leave an orphan between:
//!
//! 1. The connection is tombstoned, with the caller's stamp (and the first
//!    caller's, kept once in `deletedBy`: what its deletion names), if no ingest
//!    holds it (else 409): from here it, its accounts and its transactions
//!    are gone for every reader, and no ingest of it can start.
//! 2. Every transaction of its accounts is deleted.
//! 3. Then its accounts, which lead a repeated call to those transactions
//!    until they are all gone.
//! 4. Then the idempotency records of its ingests (a replay must never
//!    answer 201 for data that is gone), and the connection itself.
//!
//! A repeated call resumes at whichever phase was cut short.

use aws_sdk_dynamodb::types::{
    ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update as UpdateAction,
};

use super::attrs::{self, n, s, text};
use super::batch::delete_request;
use super::expr::{Cond, Expr, Update};
use super::finance::child_key;
use super::profile::profile_key;
use super::Store;
use crate::error::ApiError;
use crate::finance::RecordId;
use crate::keys::{self, TXN_BY_ACCOUNT};
use crate::user::UserId;

impl Store {
    pub async fn delete_connection(
        &self,
        user: &UserId,
        id: &RecordId,
        parallelism: usize,
    ) -> Result<(), ApiError> {
        self.tombstone_connection(user, id).await?;

        let accounts = self.connection_accounts(user, id).await?;
        let mut transactions = Vec::new();
        for account in &accounts {
            let mut e = Expr::default();
            let condition = e.condition(&Cond::And(vec![
                Cond::eq(keys::PK, keys::user_pk(user)),
                Cond::BeginsWith(TXN_BY_ACCOUNT.sk, keys::txn_account_prefix(account)),
            ]));
            let projection = e.projection(&[keys::PK, keys::SK]);
            let items = self
                .query_all(
                    self.consistent_query(&e, condition)
                        .index_name(TXN_BY_ACCOUNT.name)
                        .projection_expression(projection),
                )
                .await?;
            for item in items {
                transactions.push(delete_request(child_key(
                    user,
                    text(&item, keys::SK).to_owned(),
                ))?);
            }
        }
        self.write_batches(transactions, parallelism).await?;

        let accounts = accounts
            .iter()
            .map(|a| delete_request(child_key(user, keys::account_sk(a))))
            .collect::<Result<Vec<_>, _>>()?;
        self.write_batches(accounts, parallelism).await?;

        let records = self
            .ingest_records(user, id)
            .await?
            .into_iter()
            .map(|sk| delete_request(child_key(user, sk)))
            .collect::<Result<Vec<_>, _>>()?;
        self.write_batches(records, parallelism).await?;

        self.delete_item(child_key(user, keys::connection_sk(id.as_str())))
            .await
    }

    /// Phase 1: one transaction that checks the user is live and marks the
    /// connection deleted (keeping the first mark), unless an ingest holds it.
    async fn tombstone_connection(&self, user: &UserId, id: &RecordId) -> Result<(), ApiError> {
        let now_ms = crate::clock::now_ms();
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
        let mut mark = Update::default();
        mark.set_if_absent(attrs::DELETED_AT, s(crate::clock::now()));
        // Who deleted the connection, in the tombstone's own write: the
        // stamp (a repeated call's caller replaces it) and `deletedBy`,
        // the first deleter's, kept once, which the deletion's event and
        // audit entry name (see `Store::stamp_deleter`).
        self.stamp_update(&mut mark);
        self.stamp_deleter(&mut mark);
        let mut e = Expr::default();
        let update = e.update(&mark);
        let free = e.condition(&Cond::And(vec![
            Cond::Exists(keys::PK),
            Cond::Or(vec![
                Cond::NotExists(attrs::LEASE_UNTIL),
                Cond::Lt(attrs::LEASE_UNTIL, n(now_ms)),
            ]),
        ]));
        let tombstone = UpdateAction::builder()
            .table_name(&self.table)
            .set_key(Some(child_key(user, keys::connection_sk(id.as_str()))))
            .update_expression(update)
            .condition_expression(free)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        let items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            TransactWriteItem::builder().update(tombstone).build(),
        ];
        let cancelled = match self
            .transact(|| {
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
            })
            .await?
        {
            Ok(()) => return Ok(()),
            Err(cancelled) => cancelled,
        };
        match (cancelled.failed(0), cancelled.failed(1)) {
            (Some(_), _) | (None, Some(None)) => Err(ApiError::not_found()),
            (None, Some(Some(held))) => {
                let until = held
                    .get(attrs::LEASE_UNTIL)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(now_ms);
                Err(ApiError::Busy {
                    detail: "An ingest of this connection is in progress; delete it once the ingest is done.",
                    retry_after_seconds: u64::try_from((until - now_ms).max(0) / 1000 + 1).unwrap_or(1),
                })
            }
            (None, None) => Err(ApiError::internal(
                "a connection's deletion was refused for no reason given",
            )),
        }
    }

    /// The sort keys of the idempotency records of a connection's ingests.
    async fn ingest_records(&self, user: &UserId, id: &RecordId) -> Result<Vec<String>, ApiError> {
        self.claimed_by(user, id, keys::ingest_record_sk(""), keys::SK)
            .await
    }

    /// The ids of a connection's accounts: those of the user's accounts that
    /// it claimed.
    async fn connection_accounts(
        &self,
        user: &UserId,
        id: &RecordId,
    ) -> Result<Vec<String>, ApiError> {
        self.claimed_by(user, id, keys::ACCOUNT_PREFIX.to_owned(), attrs::ID)
            .await
    }

    /// `attribute` of each of the user's items under `prefix` that names the
    /// connection `id`: one Query of the user's partition (paged), filtered
    /// on the connection, reading only that attribute.
    async fn claimed_by(
        &self,
        user: &UserId,
        id: &RecordId,
        prefix: String,
        attribute: &str,
    ) -> Result<Vec<String>, ApiError> {
        let mut e = Expr::default();
        let condition = e.condition(&Cond::And(vec![
            Cond::eq(keys::PK, keys::user_pk(user)),
            Cond::BeginsWith(keys::SK, prefix),
        ]));
        let filter = e.condition(&Cond::eq(attrs::CONNECTION, id.as_str()));
        let projection = e.projection(&[attribute]);
        let items = self
            .query_all(
                self.consistent_query(&e, condition)
                    .filter_expression(filter)
                    .projection_expression(projection),
            )
            .await?;
        Ok(items
            .iter()
            .map(|item| text(item, attribute).to_owned())
            .collect())
    }
}
