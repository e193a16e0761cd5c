//! Writing a connection with its accounts and transactions.
//!
//! 1. **Commit**, one transaction: the user exists and is not being deleted;
//!    the connection is written with a lease (no other ingest of it, and no
//!    deletion of it, may start while the lease lasts) and the caller's
//!    stamp (see `Store::acting`); every account is claimed for this
//!    connection (an account id another connection holds is refused with
//!    409, so no connection overwrites another's accounts); and, with an
//!    `Idempotency-Key`, a *pending* record with the same lease.
//! 2. **Transactions**, with BatchWriteItem. Their keys hold the connection,
//!    so they cannot overwrite another connection's either.
//! 3. **Check**: the user is read again. A deletion that began meanwhile
//!    leaves nothing behind: what was written is removed again, and the
//!    purge, which waits for live leases, sweeps after any ingest that died.
//! 4. **Finish**: the lease is released and the record *completed* with the
//!    answer, in one transaction. A failed ingest releases its record
//!    instead, so that a retry runs it again. A record is only ever replayed
//!    once complete; while it is pending, a retry is told to wait (409).

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, Put, TransactWriteItem, Update as UpdateAction,
};

use super::attrs::{self, key, n, s, text, Item};
use super::batch::{delete_request, put_request};
use super::expr::{Cond, Expr, Update};
use super::finance::{child_item, child_key, transaction_item};
use super::idempotency::{now_seconds, Once, OnceRecord};
use super::profile::profile_key;
use super::retry::Cancelled;
use super::Store;
use crate::error::ApiError;
use crate::finance::Ingest;
use crate::idempotency::RETENTION_SECONDS;
use crate::keys;
use crate::user::UserId;

/// What a record's `state` says.
const PENDING: &str = "pending";
const COMPLETE: &str = "complete";

/// One ingest's hold on its connection.
struct Lease {
    id: String,
    until: i64,
}

/// The items of the commit, in order: their places name the reasons of a cancellation.
const USER_CHECK: usize = 0;
const CONNECTION: usize = 1;
const RECORD: usize = 2;

impl Store {
    /// Writes one connection with its accounts and transactions, once per
    /// idempotency record. See the module's description for the steps.
    ///
    /// `lease` must be longer than the ingest can run (its Lambda timeout),
    /// so that it outlives the ingest that took it, however that ingest ends.
    pub async fn ingest(
        &self,
        user: &UserId,
        ingest: &Ingest,
        parallelism: usize,
        lease: Duration,
        once: Option<OnceRecord<'_>>,
    ) -> Result<Once, ApiError> {
        let now = crate::clock::now();
        let lease = Lease {
            id: uuid::Uuid::new_v4().to_string(),
            until: crate::clock::now_ms() + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
        };
        if let Some(replayed) = self.commit_ingest(user, ingest, &lease, once, &now).await? {
            return Ok(replayed);
        }
        let connection = ingest.connection.id.as_str();
        let mut written_keys = Vec::with_capacity(ingest.transactions.len());
        let mut puts = Vec::with_capacity(ingest.transactions.len());
        for transaction in &ingest.transactions {
            written_keys.push(child_key(
                user,
                keys::transaction_sk(transaction.id.as_str(), connection),
            ));
            puts.push(put_request(transaction_item(user, transaction, &now)?)?);
        }
        // Every batch sent has finished when this returns, failed or not: a
        // released lease means nothing of this ingest is still being written.
        let written = self.write_batches(puts, parallelism).await;
        let live = self.user_is_live(user).await;
        let outcome = match (written, live) {
            // The user's deletion began while we wrote: take back what we
            // wrote, the connection (and its lease) last.
            (_, Ok(false)) => {
                written_keys.extend(
                    ingest
                        .accounts
                        .iter()
                        .map(|a| child_key(user, keys::account_sk(a.id.as_str()))),
                );
                written_keys.push(child_key(user, keys::connection_sk(connection)));
                let deletes = written_keys
                    .into_iter()
                    .map(delete_request)
                    .collect::<Result<Vec<_>, _>>()?;
                self.write_batches(deletes, parallelism).await?;
                return Err(ApiError::not_found());
            }
            (Ok(()), Ok(true)) => Ok(()),
            (Err(err), _) | (_, Err(err)) => Err(err),
        };
        self.finish_ingest(user, connection, &lease, once, outcome.is_ok())
            .await;
        outcome.map(|()| Once::Created)
    }

    /// Step 1: the transaction that commits the connection and its accounts.
    /// `Some` answer when a record answers for this request instead.
    async fn commit_ingest(
        &self,
        user: &UserId,
        ingest: &Ingest,
        lease: &Lease,
        once: Option<OnceRecord<'_>>,
        now: &str,
    ) -> Result<Option<Once>, ApiError> {
        let connection_id = ingest.connection.id.as_str();
        let now_ms = crate::clock::now_ms();
        let mut items = Vec::new();

        let mut e = Expr::default();
        let live = e.condition(&Cond::And(vec![
            Cond::Exists(keys::PK),
            Cond::NotExists(attrs::DELETED_AT),
        ]));
        items.push(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(profile_key(user)))
                        .condition_expression(live)
                        .set_expression_attribute_names(e.names())
                        .build()?,
                )
                .build(),
        );

        let mut connection = child_item(
            user,
            keys::connection_sk(connection_id),
            &ingest.connection,
            now,
        )?;
        connection.insert(attrs::LEASE_UNTIL.into(), n(lease.until));
        connection.insert(attrs::LEASE_ID.into(), s(&lease.id));
        // Who wrote the connection, in the transaction's own put.
        self.stamp_item(&mut connection);
        let mut e = Expr::default();
        let free = e.condition(&Cond::Or(vec![
            Cond::NotExists(keys::PK),
            Cond::And(vec![
                Cond::NotExists(attrs::DELETED_AT),
                Cond::Or(vec![
                    Cond::NotExists(attrs::LEASE_UNTIL),
                    Cond::Lt(attrs::LEASE_UNTIL, n(now_ms)),
                ]),
            ]),
        ]));
        items.push(put(&self.table, connection, free, &e)?);

        if let Some(once) = &once {
            let mut record = key(
                keys::user_pk(user),
                keys::ingest_record_sk(once.key.digest()),
            );
            record.insert(attrs::STATE.into(), s(PENDING));
            record.insert(attrs::REQUEST_DIGEST.into(), s(once.digest));
            record.insert(attrs::CONNECTION.into(), s(connection_id));
            record.insert(attrs::LEASE_UNTIL.into(), n(lease.until));
            record.insert(attrs::LEASE_ID.into(), s(&lease.id));
            record.insert(
                attrs::EXPIRES_AT.into(),
                n(now_seconds() + RETENTION_SECONDS),
            );
            // New, expired, or left pending by an attempt that died (its lease
            // is over): then this attempt takes it over and runs again.
            let mut e = Expr::default();
            let takeable = e.condition(&Cond::Or(vec![
                Cond::NotExists(keys::PK),
                Cond::Lt(attrs::EXPIRES_AT, n(now_seconds())),
                Cond::And(vec![
                    Cond::eq(attrs::STATE, PENDING),
                    Cond::eq(attrs::REQUEST_DIGEST, once.digest),
                    Cond::Lt(attrs::LEASE_UNTIL, n(now_ms)),
                ]),
            ]));
            items.push(put(&self.table, record, takeable, &e)?);
        }

        let accounts_from = items.len();
        for account in &ingest.accounts {
            let item = child_item(user, keys::account_sk(account.id.as_str()), account, now)?;
            let mut e = Expr::default();
            let ours = e.condition(&Cond::Or(vec![
                Cond::NotExists(keys::PK),
                Cond::eq(attrs::CONNECTION, connection_id),
            ]));
            items.push(put(&self.table, item, ours, &e)?);
        }

        let cancelled = match self
            .transact(|| {
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
            })
            .await?
        {
            Ok(()) => return Ok(None),
            Err(cancelled) => cancelled,
        };
        if cancelled.failed(USER_CHECK).is_some() {
            return Err(ApiError::not_found());
        }
        if let Some(old) = cancelled.failed(CONNECTION) {
            return Err(busy_connection(old, now_ms));
        }
        if let (Some(once), Some(old)) = (&once, cancelled.failed(RECORD)) {
            return self
                .answer_from_record(user, once, old, now_ms)
                .await
                .map(Some);
        }
        Err(clashing_account(&cancelled, accounts_from))
    }

    /// A retry of a request whose record exists: its answer, if it has one
    /// and what it made is still there; otherwise, why not.
    async fn answer_from_record(
        &self,
        user: &UserId,
        once: &OnceRecord<'_>,
        record: Option<&Item>,
        now_ms: i64,
    ) -> Result<Once, ApiError> {
        let Some(record) = record else {
            // Gone between the refusal and now: the client may simply retry.
            return Err(ApiError::ServiceUnavailable);
        };
        if text(record, attrs::REQUEST_DIGEST) != once.digest {
            return Err(ApiError::IdempotencyConflict);
        }
        if text(record, attrs::STATE) != COMPLETE {
            let until = number(record, attrs::LEASE_UNTIL);
            return Err(ApiError::Busy {
                detail: "A request with this Idempotency-Key is still in progress.",
                retry_after_seconds: seconds_until(until, now_ms),
            });
        }
        // Never answer 201 for a connection that has since been deleted.
        let connection = text(record, attrs::CONNECTION);
        let live = self
            .get_item(child_key(user, keys::connection_sk(connection)))
            .await?
            .is_some_and(|item| !item.contains_key(attrs::DELETED_AT));
        if !live {
            return Err(ApiError::NotFound(
                "The connection this request created has since been deleted.",
            ));
        }
        Ok(Once::Replayed {
            status: u16::try_from(number(record, attrs::STATUS)).unwrap_or(201),
            body: text(record, attrs::RESPONSE).to_owned(),
        })
    }

    /// Step 4: releases the connection's lease and completes the record (or,
    /// when the ingest failed, releases it so that a retry runs again). Best
    /// effort: if it cannot be written, the leases expire on their own.
    async fn finish_ingest(
        &self,
        user: &UserId,
        connection: &str,
        lease: &Lease,
        once: Option<OnceRecord<'_>>,
        succeeded: bool,
    ) {
        let mine = |e: &mut Expr| e.condition(&Cond::eq(attrs::LEASE_ID, lease.id.clone()));
        let mut items = Vec::new();
        let mut release = Update::default();
        release.remove(attrs::LEASE_UNTIL).remove(attrs::LEASE_ID);
        // A write of the connection like the commit's, by the same caller:
        // stamped alike, so every write of a connection says who made it.
        self.stamp_update(&mut release);
        items.push(update(
            &self.table,
            child_key(user, keys::connection_sk(connection)),
            &release,
            mine,
        ));
        if let Some(once) = &once {
            let record = key(
                keys::user_pk(user),
                keys::ingest_record_sk(once.key.digest()),
            );
            if succeeded {
                let mut complete = Update::default();
                complete
                    .set(attrs::STATE, s(COMPLETE))
                    .set(attrs::STATUS, n(once.status))
                    .set(attrs::RESPONSE, s(once.response))
                    .remove(attrs::LEASE_UNTIL)
                    .remove(attrs::LEASE_ID);
                items.push(update(&self.table, record, &complete, mine));
            } else {
                let mut e = Expr::default();
                let condition = mine(&mut e);
                items.push(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(record))
                        .condition_expression(condition)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .build()
                        .map(|d| TransactWriteItem::builder().delete(d).build())
                        .map_err(ApiError::from),
                );
            }
        }
        let Ok(items) = items.into_iter().collect::<Result<Vec<_>, _>>() else {
            return;
        };
        let result = self
            .transact(|| {
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
            })
            .await;
        if !matches!(result, Ok(Ok(()))) {
            tracing::warn!("an ingest's lease was not released; it expires on its own");
        }
    }
}

fn put(
    table: &str,
    item: Item,
    condition: String,
    e: &Expr,
) -> Result<TransactWriteItem, ApiError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .set_expression_attribute_names(e.names())
        .set_expression_attribute_values(e.values())
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        )
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn update(
    table: &str,
    key: Item,
    changes: &Update,
    condition: impl FnOnce(&mut Expr) -> String,
) -> Result<TransactWriteItem, ApiError> {
    let mut e = Expr::default();
    let expression = e.update(changes);
    let condition = condition(&mut e);
    let update = UpdateAction::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .condition_expression(condition)
        .set_expression_attribute_names(e.names())
        .set_expression_attribute_values(e.values())
        .build()?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Why a connection's write was refused: it is being deleted, or another
/// ingest of it holds it.
fn busy_connection(old: Option<&Item>, now_ms: i64) -> ApiError {
    match old {
        Some(item) if item.contains_key(attrs::DELETED_AT) => ApiError::Busy {
            detail: "This connection is being deleted; ingest it again once the deletion is done.",
            retry_after_seconds: 5,
        },
        Some(item) => ApiError::Busy {
            detail: "Another ingest of this connection is in progress.",
            retry_after_seconds: seconds_until(number(item, attrs::LEASE_UNTIL), now_ms),
        },
        None => ApiError::ServiceUnavailable,
    }
}

/// The first account whose id another connection holds.
fn clashing_account(cancelled: &Cancelled, accounts_from: usize) -> ApiError {
    let index = cancelled
        .0
        .iter()
        .enumerate()
        .skip(accounts_from)
        .find(|(i, _)| cancelled.failed(*i).is_some())
        .map(|(i, _)| i - accounts_from);
    match index {
        Some(i) => ApiError::IdInUse {
            pointer: format!("/accounts/{i}/id"),
        },
        None => ApiError::internal("an ingest was refused for no reason given"),
    }
}

fn number(item: &Item, attr: &str) -> i64 {
    item.get(attr)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Whole seconds from `now_ms` to `until_ms`, at least one.
fn seconds_until(until_ms: i64, now_ms: i64) -> u64 {
    u64::try_from((until_ms - now_ms).max(0) / 1000 + 1).unwrap_or(1)
}
