//! Deleting a user at any size: a tombstone that hides the user at once, then
//! a purge of its partition that stops at a deadline and resumes, and a
//! hand-over to `purge-user` when DELETE's own time runs out.
//!
//! The purge is robust to ingests still in flight: an ingest holds a lease on
//! its connection for longer than it can run, and a connection with a live
//! lease is kept, with the profile and its tombstone, until the lease is
//! over; then the partition is read again from the start, so whatever that
//! ingest wrote goes too. No item outlives its user.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, WriteRequest,
};

use super::attrs::{self, is_tombstone, key, n, s, text, Item};
use super::batch::{backoff, delete_request, BATCH_SIZE};
use super::expr::{Cond, Expr, Update};
use super::profile::{profile_key, INDEX_ATTRIBUTES};
use super::retry::{is_conflict, WRITE_ATTEMPTS};
use super::{Store, CAPACITY};
use crate::error::ApiError;
use crate::keys;
use crate::user::UserId;

/// Keys read per purge page. A partition takes about 1,000 writes a second,
/// so a page is about a second of deletes.
const PURGE_PAGE: usize = 1_000;

/// Deletes a partition takes a millisecond, about: how many keys a page may
/// have when only so much time is left.
const DELETES_PER_MS: usize = 1;

/// What a deletion has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteProgress {
    /// Every item of the user is gone.
    Done,
    /// The time ran out; the tombstone stays and the rest is resumable.
    InProgress,
    /// Everything is gone but what an ingest still holding a lease may
    /// write: the purge must be run again once the lease is over, at this
    /// time (epoch ms).
    WaitingFor(i64),
}

/// What one purge pass did: the progress, and how many items it removed
/// (those of a pass cut short by an error are not told).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgePass {
    pub progress: DeleteProgress,
    /// Every item removed, the profile and the creation's record included:
    /// what the handlers report as a metric.
    pub removed: usize,
    /// What this pass removed of what the user owned, by kind: what it
    /// added to the deletion receipt.
    pub receipt: Removed,
}

/// What a deletion removed of what the user owned besides its profile, by
/// kind, told by the removed items' sort keys: the deletion receipt. Each
/// purge pass adds its own to the tombstoned profile before the profile
/// goes, so the profile's last image (the stream's REMOVE record) carries
/// the totals of every pass: the proof that everything went, and what.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub connections: u64,
    pub accounts: u64,
    pub transactions: u64,
    /// Everything else: the ingests' and the creation's idempotency records,
    /// the hand-over item.
    pub other: u64,
}

impl Removed {
    /// The receipt a profile item carries (none yet: all zero).
    pub fn of(item: &Item) -> Self {
        let count = |attr: &str| {
            item.get(attr)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Self {
            connections: count(attrs::REMOVED_CONNECTIONS),
            accounts: count(attrs::REMOVED_ACCOUNTS),
            transactions: count(attrs::REMOVED_TRANSACTIONS),
            other: count(attrs::REMOVED_OTHER),
        }
    }

    /// Counts the item with sort key `sk` under its kind.
    fn count(&mut self, sk: &str) {
        let kind = if sk.starts_with(keys::CONNECTION_PREFIX) {
            &mut self.connections
        } else if sk.starts_with(keys::ACCOUNT_PREFIX) {
            &mut self.accounts
        } else if sk.starts_with(keys::TRANSACTION_PREFIX) {
            &mut self.transactions
        } else {
            &mut self.other
        };
        *kind += 1;
    }

    /// The items that `requests` (deletes) name, by kind.
    fn of_requests(requests: &[WriteRequest]) -> Self {
        let mut removed = Self::default();
        for request in requests {
            if let Some(delete) = request.delete_request() {
                removed.count(text(delete.key(), keys::SK));
            }
        }
        removed
    }

    pub fn total(&self) -> u64 {
        self.connections + self.accounts + self.transactions + self.other
    }

    fn add(&mut self, other: Self) {
        self.connections += other.connections;
        self.accounts += other.accounts;
        self.transactions += other.transactions;
        self.other += other.other;
    }

    /// These, less `other`: what was sent less what was left unwritten.
    fn less(self, other: Self) -> Self {
        Self {
            connections: self.connections.saturating_sub(other.connections),
            accounts: self.accounts.saturating_sub(other.accounts),
            transactions: self.transactions.saturating_sub(other.transactions),
            other: self.other.saturating_sub(other.other),
        }
    }
}

/// A user whose deletion has begun, as its profile says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub id: UserId,
    /// The idempotency record of the user's creation, which goes with it.
    created_with: Option<String>,
    /// Until when (epoch ms) `purge-user` is at work on it.
    purge_lease_until: Option<i64>,
    /// Whether this request's write began the deletion (the first DELETE,
    /// not a repeat): what counts a user deleted once.
    pub began: bool,
}

impl Tombstone {
    fn of(id: UserId, item: &Item) -> Option<Self> {
        is_tombstone(item).then(|| Self {
            id,
            created_with: item
                .get(attrs::CREATED_WITH)
                .and_then(|v| v.as_s().ok())
                .cloned(),
            purge_lease_until: item
                .get(attrs::PURGE_LEASE_UNTIL)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok()),
            began: false,
        })
    }

    /// Whether `purge-user` is at work on this deletion now.
    pub fn purging(&self) -> bool {
        self.purge_lease_until
            .is_some_and(|until| until > crate::clock::now_ms())
    }
}

impl Store {
    /// Step one of a deletion: one conditional UpdateItem that marks the
    /// profile and drops its index attributes. The user is invisible from here
    /// on. Repeating it on a tombstoned user is harmless, so a deletion can
    /// always be resumed.
    pub async fn tombstone_user(
        &self,
        id: &UserId,
        if_match: Option<u64>,
    ) -> Result<Tombstone, ApiError> {
        let now = crate::clock::now();
        let mut update = Update::default();
        update.set_if_absent(attrs::DELETED_AT, s(now.clone()));
        for attr in INDEX_ATTRIBUTES {
            update.remove(attr);
        }
        // Who deleted the user, in the same write: the stamp, which a
        // repeated DELETE (a write too) replaces with its own caller's, and
        // `deletedBy`, which keeps the first deleter's. The purge that
        // follows leaves both alone, so the profile's last image (the
        // REMOVE record) names the first deleter, whoever repeated it.
        self.stamp_update(&mut update);
        self.stamp_deleter(&mut update);
        let mut condition = vec![Cond::Exists(keys::PK)];
        if let Some(expected) = if_match {
            condition.push(Cond::Eq(attrs::VERSION, n(expected)));
        }
        let mut e = Expr::default();
        let update = e.update(&update);
        let condition = e.condition(&Cond::And(condition));
        for attempt in 0..WRITE_ATTEMPTS {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(profile_key(id)))
                .update_expression(&update)
                .condition_expression(&condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .return_consumed_capacity(CAPACITY)
                .send()
                .await;
            match result {
                Ok(output) => {
                    self.meter.record_write(output.consumed_capacity());
                    let item = output.attributes.unwrap_or_default();
                    let began =
                        item.get(attrs::DELETED_AT).and_then(|v| v.as_s().ok()) == Some(&now);
                    return Tombstone::of(*id, &item)
                        .map(|tombstone| Tombstone { began, ..tombstone })
                        .ok_or_else(|| ApiError::internal("a tombstone did not stay"));
                }
                Err(err) if is_conflict(&err) => tokio::time::sleep(backoff(attempt)).await,
                Err(err) => {
                    return Err(match err.as_service_error() {
                        // The user exists, so it was the version that did not match.
                        Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                            match failed.item() {
                                Some(_) => ApiError::PreconditionFailed,
                                None => ApiError::not_found(),
                            }
                        }
                        _ => err.into(),
                    });
                }
            }
        }
        Err(ApiError::ServiceUnavailable)
    }

    /// Adds to a tombstone's update the deleter's stamp, kept once: the
    /// map `deletedBy` (the stamp's attributes, as the item's own stamp
    /// spells them), set only if the item has none yet. A deletion can be
    /// repeated (a DELETE answered 202, or cut short, is repeated until it
    /// finishes, and anyone allowed to delete may repeat it), and each
    /// repeat restamps the item, so the stamp alone would name the last
    /// repeater; the deletion's event and audit entry read `deletedBy`
    /// instead (`store::events`), and name who began it.
    ///
    /// A store without a stamp (purge tooling, tests) writes none: its
    /// deletion is named by the item's stamp, as before, and a later
    /// stamped repeat then records itself.
    pub(super) fn stamp_deleter(&self, update: &mut Update) {
        if self.stamp.is_some() {
            let mut deleter = Item::new();
            self.stamp_item(&mut deleter);
            update.set_if_absent(attrs::DELETED_BY, AttributeValue::M(deleter));
        }
    }

    /// The deletion under way of this user, if there is one: read again, so
    /// that a stream record alone never starts a purge.
    pub async fn tombstone_of(&self, id: &UserId) -> Result<Option<Tombstone>, ApiError> {
        let item = self.get_item(profile_key(id)).await?;
        Ok(item.and_then(|item| Tombstone::of(*id, &item)))
    }

    /// Hands a deletion over to `purge-user`: writes the hand-over item,
    /// whose write the table's stream delivers to the function. Each call
    /// writes a new time, so a repeated DELETE starts the function again,
    /// even after the stream's earlier record was given up on.
    pub async fn hand_over(&self, id: &UserId) -> Result<(), ApiError> {
        let mut e = Expr::default();
        let tombstoned = e.condition(&Cond::Exists(attrs::DELETED_AT));
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(profile_key(id)))
            .condition_expression(tombstoned)
            .set_expression_attribute_names(e.names())
            .build()?;
        let mut item = key(keys::user_pk(id), keys::PURGE_SK);
        item.insert(attrs::REQUESTED_AT.into(), n(crate::clock::now_ms()));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()?;
        let items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        // A user whose profile is gone is already purged: nothing to hand over.
        self.transact(|| {
            self.client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
        })
        .await
        .map(|_| ())
    }

    /// Marks the deletion as `purge-user`'s until `until` (epoch ms), so
    /// that a repeated DELETE meanwhile answers at once instead of purging
    /// beside it. `false` when there is no tombstone (any more).
    pub async fn take_purge(&self, id: &UserId, until: i64) -> Result<bool, ApiError> {
        let mut update = Update::default();
        update.set(attrs::PURGE_LEASE_UNTIL, n(until));
        self.update_tombstone(id, &update).await
    }

    /// One UpdateItem of a user's tombstoned profile, conditional on the
    /// tombstone, so that it never makes an item again: `false` when there
    /// is no tombstone (any more: a purge finished meanwhile).
    async fn update_tombstone(&self, id: &UserId, update: &Update) -> Result<bool, ApiError> {
        Ok(self
            .update_if(profile_key(id), update, &Cond::Exists(attrs::DELETED_AT))
            .await?
            .is_some())
    }

    /// Step two: removes every item under the user's partition, children
    /// first and the profile (with its tombstone) last, so an interrupted
    /// purge leaves the tombstone in place for the next attempt. Reads the
    /// partition keys-only, and fetches the next page while the current one
    /// is being deleted.
    ///
    /// With a deadline, the first page is always deleted (so every call makes
    /// progress) and no batch starts after it; the next page is sized to the
    /// time left. The overshoot is bounded by a first page and the batches in
    /// flight at the deadline.
    pub async fn purge_user(
        &self,
        user: &Tombstone,
        deadline: Option<Instant>,
        parallelism: usize,
    ) -> Result<DeleteProgress, ApiError> {
        Ok(self.purge_pass(user, deadline, parallelism).await?.progress)
    }

    /// As [`Store::purge_user`], also telling how many items the pass
    /// removed, which the handlers report as a metric.
    ///
    /// The pass counts what it removed by kind and, when that is anything,
    /// adds it to the profile's receipt with one UpdateItem at its end:
    /// before it returns early (out of time, or waiting for a lease), and
    /// before the profile's own delete. The receipt is exact when every
    /// pass ends so; a pass cut short by an error or a crash adds nothing,
    /// so what it had removed is missing from the totals (never counted
    /// twice: its items are gone when the next pass reads the partition).
    /// An item that another writer deleted at the same time (two purges at
    /// once) is counted by each pass that sent its delete.
    pub async fn purge_pass(
        &self,
        user: &Tombstone,
        deadline: Option<Instant>,
        parallelism: usize,
    ) -> Result<PurgePass, ApiError> {
        let id = &user.id;
        let mut removed = 0;
        let mut receipt = Removed::default();
        let now_ms = crate::clock::now_ms();
        // Connections that an ingest still holds stay, and so does the user,
        // until the last lease is over.
        let mut held_until: Option<i64> = None;
        let mut pending = Vec::new();
        let mut keep = |item: Item, pending: &mut Vec<WriteRequest>| -> Result<(), ApiError> {
            let sk = text(&item, keys::SK);
            if sk == keys::PROFILE_SK {
                return Ok(());
            }
            if sk.starts_with(keys::CONNECTION_PREFIX) {
                let lease = item
                    .get(attrs::LEASE_UNTIL)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<i64>().ok());
                if let Some(until) = lease.filter(|until| *until > now_ms) {
                    held_until = Some(held_until.map_or(until, |h| h.max(until)));
                    return Ok(());
                }
            }
            let key = key(text(&item, keys::PK).to_owned(), sk);
            pending.push(delete_request(key)?);
            Ok(())
        };
        // A first page just big enough to fill every writer, so deleting starts
        // after a short read; the pages after it are read while deleting.
        let first = (BATCH_SIZE * parallelism).min(PURGE_PAGE);
        let mut page = self.partition_keys(id, None, first).await?;
        let mut first_page = true;
        loop {
            let (items, next) = page;
            for item in items {
                keep(item, &mut pending)?;
            }
            let out_of_time = next.is_some() && past(deadline);
            // Deletes carry over between pages, so that every batch but the last is full.
            let full = if next.is_none() || out_of_time {
                pending.len()
            } else {
                pending.len() - pending.len() % BATCH_SIZE
            };
            let deletes: Vec<WriteRequest> = pending.drain(..full).collect();
            let sent = deletes.len();
            let sending = Removed::of_requests(&deletes);
            let fetch_next = async {
                match next.filter(|_| !out_of_time) {
                    Some(start) => self
                        .partition_keys(id, Some(start), page_for(deadline))
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            };
            // The first page is deleted whatever the time; later ones not past it.
            let batches_deadline = if first_page { None } else { deadline };
            let (written, fetched) = tokio::join!(
                self.write_batches_until(deletes, parallelism, batches_deadline),
                fetch_next
            );
            let unwritten = written?;
            removed += sent - unwritten.len();
            receipt.add(sending.less(Removed::of_requests(&unwritten)));
            if out_of_time || !unwritten.is_empty() {
                self.add_to_receipt(id, receipt).await?;
                let progress = DeleteProgress::InProgress;
                return Ok(PurgePass {
                    progress,
                    removed,
                    receipt,
                });
            }
            first_page = false;
            match fetched? {
                Some(next_page) => page = next_page,
                None => break,
            }
        }
        if let Some(until) = held_until {
            self.add_to_receipt(id, receipt).await?;
            let progress = DeleteProgress::WaitingFor(until);
            return Ok(PurgePass {
                progress,
                removed,
                receipt,
            });
        }
        if let Some(record) = &user.created_with {
            // Counted only if it was there: a pass run again after one that
            // stopped between this delete and the profile's deletes it again.
            let existed = self
                .delete_existing(key(record.clone(), keys::IDEMPOTENCY_SK))
                .await?;
            removed += 1;
            receipt.other += u64::from(existed);
        }
        // The receipt is complete before the profile goes: its last image holds the totals.
        self.add_to_receipt(id, receipt).await?;
        self.delete_item(profile_key(id)).await?;
        Ok(PurgePass {
            progress: DeleteProgress::Done,
            removed: removed + 1,
            receipt,
        })
    }

    /// Adds a pass's counts to the tombstoned profile's receipt: one
    /// UpdateItem with `ADD`, which sums with what earlier passes added, and
    /// none when the pass removed nothing. Conditional on the tombstone,
    /// so that it never makes an item again: a profile already gone (a
    /// purge beside this one finished) takes nothing. It carries no stamp:
    /// the receipt is the purge's bookkeeping, and the profile keeps naming
    /// who deleted the user.
    async fn add_to_receipt(&self, id: &UserId, receipt: Removed) -> Result<(), ApiError> {
        if receipt.total() == 0 {
            return Ok(());
        }
        let mut additions = Update::default();
        for (attr, count) in [
            (attrs::REMOVED_CONNECTIONS, receipt.connections),
            (attrs::REMOVED_ACCOUNTS, receipt.accounts),
            (attrs::REMOVED_TRANSACTIONS, receipt.transactions),
            (attrs::REMOVED_OTHER, receipt.other),
        ] {
            additions.add(attr, n(count));
        }
        self.update_tombstone(id, &additions).await.map(|_| ())
    }

    /// One page of the partition's keys (at most `limit`), with each
    /// connection's lease, strongly consistent so that nothing written
    /// before the tombstone is missed.
    async fn partition_keys(
        &self,
        id: &UserId,
        start: Option<Item>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Item>), ApiError> {
        let mut e = Expr::default();
        let condition = e.condition(&Cond::eq(keys::PK, keys::user_pk(id)));
        let projection = e.projection(&[keys::PK, keys::SK, attrs::LEASE_UNTIL]);
        let output = self
            .consistent_query(&e, condition)
            .projection_expression(projection)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }
}

fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// How many keys the next page reads: a full page, or as many as the time
/// left can delete, and never less than a batch.
fn page_for(deadline: Option<Instant>) -> usize {
    match deadline {
        None => PURGE_PAGE,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            (left.as_millis() as usize)
                .saturating_mul(DELETES_PER_MS)
                .clamp(BATCH_SIZE, PURGE_PAGE)
        }
    }
}

/// How long to wait before running a purge again for a lease: until it is
/// over, and a little more for the writes it let through.
pub fn wait_for_lease(until_ms: i64) -> Duration {
    let left = until_ms.saturating_sub(crate::clock::now_ms()).max(0) as u64;
    Duration::from_millis(left) + Duration::from_secs(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delete(sk: &str) -> WriteRequest {
        delete_request(key("USER#u".into(), sk)).unwrap()
    }

    #[test]
    fn the_receipt_counts_removed_items_by_the_kind_their_sort_key_names() {
        let sent = [
            "CONN#c1",
            "ACCT#a1",
            "ACCT#a2",
            "TXN#t1#c1",
            "TXN#t2#c1",
            "TXN#t3#c1",
            "~ONCE#digest",
            "PURGE",
        ]
        .map(delete);
        let all = Removed::of_requests(&sent);
        assert_eq!(
            all,
            Removed {
                connections: 1,
                accounts: 2,
                transactions: 3,
                other: 2
            }
        );
        assert_eq!(all.total(), 8);
        // What was left unwritten is not counted: it is counted by the pass that writes it.
        let written = all.less(Removed::of_requests(&[
            delete("TXN#t3#c1"),
            delete("PURGE"),
        ]));
        assert_eq!((written.transactions, written.other), (2, 1));
        let mut receipt = written;
        receipt.add(written);
        assert_eq!(receipt.total(), 12);
    }

    #[test]
    fn a_profile_without_counters_has_an_empty_receipt() {
        let mut item = key("USER#u".into(), keys::PROFILE_SK);
        assert_eq!(Removed::of(&item), Removed::default());
        item.insert(attrs::REMOVED_TRANSACTIONS.into(), n(40));
        item.insert(attrs::REMOVED_OTHER.into(), n(3));
        assert_eq!(
            Removed::of(&item),
            Removed {
                transactions: 40,
                other: 3,
                ..Removed::default()
            }
        );
    }
}
