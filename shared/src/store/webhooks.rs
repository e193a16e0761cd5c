//! Webhook subscriptions and their delivery attempts.
//!
//! Subscriptions live in one partition with their count: creating or
//! deleting one is a transaction with the count, so the limit holds
//! whatever runs at once, and every batch of events reads them all with
//! one Query. Each subscription's attempts have a partition of their own,
//! read newest first, and expire with their TTL.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};

use super::attrs::{self, key, n, s, text, Item};
use super::expr::{Cond, Expr, Update};
use super::retry::retry_conflicts;
use super::{Position, Store, CAPACITY};
use crate::error::{ApiError, Invalid};
use crate::event::EventType;
use crate::keys;
use crate::webhook::{
    Delivery, Outcome, Status, Subscription, WebhookId, DELIVERY_RETENTION_SECONDS,
    MAX_SUBSCRIPTIONS,
};

const URL: &str = "url";
const DESCRIPTION: &str = "description";
const SUBSCRIBED_EVENTS: &str = "subscribedEvents";
const DISABLED_REASON: &str = "disabledReason";
const CREATED_DATE: &str = "createdDate";
const SECRET: &str = "secret";
const PREVIOUS_SECRET: &str = "previousSecret";
const PREVIOUS_SECRET_UNTIL: &str = "previousSecretUntil";
const EVENT_ID: &str = "eventId";
const EVENT_TYPE: &str = "eventType";
const ATTEMPT: &str = "attempt";
const ATTEMPTED_AT: &str = "attemptedAt";
const OUTCOME: &str = "outcome";
const LATENCY_MS: &str = "latencyMs";
const NEXT_ATTEMPT_AT: &str = "nextAttemptAt";

/// How many times a deletion stamps and deletes before it gives up on a
/// subscription that other requests keep restamping.
const DELETE_ATTEMPTS: usize = 3;

/// The stamp's attributes, removed by a deletion that has no caller.
const STAMP_ATTRIBUTES: [&str; 5] = [
    attrs::ACTOR,
    attrs::CORRELATION_ID,
    attrs::ACTOR_NAME,
    attrs::SOURCE_IP,
    attrs::USER_AGENT,
];

/// A page of delivery attempts, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// Where the next page starts, when there is one.
    pub next: Option<Position>,
}

fn subscription_key(id: &WebhookId) -> Item {
    key(
        keys::WEBHOOKS_PK.to_owned(),
        keys::webhook_sk(&id.to_string()),
    )
}

fn count_key() -> Item {
    key(keys::WEBHOOKS_PK.to_owned(), keys::WEBHOOK_COUNT_SK)
}

fn subscription_item(sub: &Subscription) -> Item {
    let mut item = subscription_key(&sub.id);
    item.insert(attrs::ID.into(), s(sub.id.to_string()));
    item.insert(URL.into(), s(&sub.url));
    if let Some(description) = &sub.description {
        item.insert(DESCRIPTION.into(), s(description));
    }
    item.insert(
        SUBSCRIBED_EVENTS.into(),
        AttributeValue::L(sub.events.iter().map(|kind| s(kind.id())).collect()),
    );
    item.insert(attrs::STATUS.into(), s(sub.status.as_str()));
    item.insert(CREATED_DATE.into(), s(&sub.created_date));
    item.insert(SECRET.into(), s(&sub.secret));
    item
}

/// Whether a change of a subscription's item is a rotation of its secret:
/// the secret replaced, the one before kept as the previous secret. A
/// reseal under a new `WEBHOOK_KEY` replaces the sealed texts but keeps the
/// secrets, so its previous secret is never the old image's secret.
pub(super) fn secret_rotated(old: &Item, new: &Item) -> bool {
    new.get(SECRET) != old.get(SECRET)
        && new.get(PREVIOUS_SECRET).is_some()
        && new.get(PREVIOUS_SECRET) == old.get(SECRET)
}

fn subscription_of(item: &Item) -> Result<Subscription, ApiError> {
    let broken = |what: &'static str| ApiError::internal(what);
    let id = WebhookId::parse(text(item, attrs::ID))
        .map_err(|_| broken("a stored webhook has no valid id"))?;
    let events = match item.get(SUBSCRIBED_EVENTS) {
        Some(AttributeValue::L(kinds)) => kinds
            .iter()
            .filter_map(|kind| kind.as_s().ok().and_then(|id| EventType::parse(id)))
            .collect(),
        _ => Vec::new(),
    };
    let optional = |attr: &str| item.get(attr).and_then(|v| v.as_s().ok()).cloned();
    let previous_secret = match (
        optional(PREVIOUS_SECRET),
        item.get(PREVIOUS_SECRET_UNTIL)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok()),
    ) {
        (Some(secret), Some(until)) => Some((secret, until)),
        _ => None,
    };
    Ok(Subscription {
        id,
        url: text(item, URL).to_owned(),
        description: optional(DESCRIPTION),
        events,
        status: Status::parse(text(item, attrs::STATUS))
            .ok_or_else(|| broken("a stored webhook has no valid status"))?,
        disabled_reason: optional(DISABLED_REASON),
        created_date: text(item, CREATED_DATE).to_owned(),
        secret: text(item, SECRET).to_owned(),
        previous_secret,
    })
}

fn delivery_of(item: &Item) -> Delivery {
    let number = |attr: &str| {
        item.get(attr)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let sk = text(item, keys::SK);
    Delivery {
        id: sk
            .strip_prefix(keys::DELIVERY_PREFIX)
            .unwrap_or(sk)
            .to_owned(),
        event_id: text(item, EVENT_ID).to_owned(),
        event_type: text(item, EVENT_TYPE).to_owned(),
        attempt: number(ATTEMPT).map_or(0, |a| u32::try_from(a).unwrap_or(u32::MAX)),
        attempted_at: text(item, ATTEMPTED_AT).to_owned(),
        outcome: Outcome::parse(text(item, OUTCOME)).unwrap_or(Outcome::Failed),
        status: number(attrs::STATUS).and_then(|s| u16::try_from(s).ok()),
        latency_ms: number(LATENCY_MS).unwrap_or(0),
        response: text(item, attrs::RESPONSE).to_owned(),
        next_attempt_at: item
            .get(NEXT_ATTEMPT_AT)
            .and_then(|v| v.as_s().ok())
            .cloned(),
    }
}

impl Store {
    /// Creates a subscription and counts it, in one transaction: refused
    /// with 409 when [`MAX_SUBSCRIPTIONS`] exist.
    pub async fn create_webhook(&self, sub: &Subscription) -> Result<(), ApiError> {
        let mut item = subscription_item(sub);
        self.stamp_item(&mut item);
        // The id makes the request idempotent.
        self.insert_counted(
            item,
            count_key(),
            MAX_SUBSCRIPTIONS,
            &sub.id.to_string(),
            "At most 20 webhooks may exist: delete one first.",
            "a new webhook's id was taken",
        )
        .await
    }

    /// Every subscription, active or not: one Query of their partition.
    pub async fn list_webhooks(&self) -> Result<Vec<Subscription>, ApiError> {
        let mut e = Expr::default();
        let pk = e.name(keys::PK);
        let sk = e.name(keys::SK);
        let pk_value = e.value(s(keys::WEBHOOKS_PK));
        let prefix = e.value(s(keys::WEBHOOK_PREFIX));
        let condition = format!("{pk} = {pk_value} AND begins_with({sk}, {prefix})");
        let items = self.query_all(self.consistent_query(&e, condition)).await?;
        items.iter().map(subscription_of).collect()
    }

    /// One subscription, by one strongly consistent GetItem.
    pub async fn get_webhook(&self, id: &WebhookId) -> Result<Option<Subscription>, ApiError> {
        self.get_item(subscription_key(id))
            .await?
            .as_ref()
            .map(subscription_of)
            .transpose()
    }

    /// Deletes a subscription and uncounts it, in one transaction: `false`
    /// when there is no such subscription. Its delivery attempts are left
    /// to their TTL: they are no longer listed, and a message still queued
    /// for it finds no subscription and is dropped.
    ///
    /// **Who deleted it** is for the audit trail, which the `events`
    /// function derives from the stream: a REMOVE record carries the item
    /// as it was, whose stamp is its creator's (or last rotator's). So the
    /// deletion first stamps the subscription with this store's stamp (one
    /// conditional UpdateItem, on the partition the function may already
    /// update), then deletes it in the transaction with the count, on the
    /// condition that the stamp is still this request's (its correlation
    /// id): a rotation that restamped it in between makes the deletion
    /// stamp it again, so the REMOVE always names the deleter. The simpler
    /// alternatives were worse: an audit Put inside the transaction would
    /// need the retention here and PutItem on audit keys for this
    /// function, and audit webhooks apart from the stream that audits
    /// everything else. A stamp whose deletion then fails changes no data
    /// (no entry: only bookkeeping differs) and is overwritten by the next.
    pub async fn delete_webhook(&self, id: &WebhookId) -> Result<bool, ApiError> {
        for _ in 0..DELETE_ATTEMPTS {
            let mut stamp = Update::default();
            let still_mine = match &self.stamp {
                Some(mine) => {
                    self.stamp_update(&mut stamp);
                    Cond::eq(attrs::CORRELATION_ID, mine.correlation_id.clone())
                }
                // No caller: the entry says `unattributed` rather than
                // naming whoever wrote the subscription last.
                None => {
                    for attr in STAMP_ATTRIBUTES {
                        stamp.remove(attr);
                    }
                    Cond::NotExists(attrs::ACTOR)
                }
            };
            if self
                .update_if(subscription_key(id), &stamp, &Cond::Exists(keys::PK))
                .await?
                .is_none()
            {
                return Ok(false);
            }
            let mut delete_e = Expr::default();
            let present = delete_e.condition(&Cond::And(vec![Cond::Exists(keys::PK), still_mine]));
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(subscription_key(id)))
                .condition_expression(present)
                .set_expression_attribute_names(delete_e.names())
                .set_expression_attribute_values(delete_e.values())
                .build()?;
            let count = self.count_change(count_key(), -1, MAX_SUBSCRIPTIONS)?;
            let items = vec![
                TransactWriteItem::builder().delete(delete).build(),
                TransactWriteItem::builder().update(count).build(),
            ];
            // One token for every send of this attempt: a retry of one that
            // committed answers as it did, not as a failed condition.
            let token = uuid::Uuid::new_v4().to_string();
            let deleted = self
                .transact(|| {
                    self.client
                        .transact_write_items()
                        .set_transact_items(Some(items.clone()))
                        .client_request_token(&token)
                })
                .await?;
            if deleted.is_ok() {
                return Ok(true);
            }
            // Gone meanwhile (the stamp above then finds nothing), or
            // restamped by another request: stamp again.
        }
        Err(ApiError::Busy {
            detail: "The webhook was changed by other requests meanwhile.",
            retry_after_seconds: 1,
        })
    }

    /// Replaces the secret of `sub` (as read) with `sealed`, the old one
    /// signing too until `until`: conditional on the secret read, so that
    /// of two rotations at once one wins and the other is told to retry,
    /// and no secret shown to a caller is lost. `None` when the
    /// subscription is gone.
    pub async fn rotate_webhook_secret(
        &self,
        sub: &Subscription,
        sealed: &str,
        until: i64,
    ) -> Result<Option<Subscription>, ApiError> {
        let mut update = Update::default();
        update
            .set(SECRET, s(sealed))
            .set(PREVIOUS_SECRET, s(&sub.secret))
            .set(PREVIOUS_SECRET_UNTIL, n(until));
        self.stamp_update(&mut update);
        let condition = Cond::eq(SECRET, sub.secret.clone());
        match self.update_webhook(&sub.id, &update, condition).await {
            Err(ApiError::PreconditionFailed) => match self.get_webhook(&sub.id).await? {
                None => Ok(None),
                Some(_) => Err(ApiError::Busy {
                    detail: "The webhook's secret was rotated by another request meanwhile.",
                    retry_after_seconds: 1,
                }),
            },
            other => other,
        }
    }

    /// Replaces a subscription's sealed secrets (as read in `sub`) with the
    /// same secrets sealed under the current `WEBHOOK_KEY`: conditional on
    /// the secret read, so a rotation meanwhile wins. `false` when it did.
    pub async fn reseal_webhook_secrets(
        &self,
        sub: &Subscription,
        secret: &str,
        previous: Option<&str>,
    ) -> Result<bool, ApiError> {
        let mut update = Update::default();
        update.set(SECRET, s(secret));
        if let Some(previous) = previous {
            update.set(PREVIOUS_SECRET, s(previous));
        }
        let condition = Cond::eq(SECRET, sub.secret.clone());
        match self.update_webhook(&sub.id, &update, condition).await {
            Ok(found) => Ok(found.is_some()),
            Err(ApiError::PreconditionFailed) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Disables a subscription (its receiver answered 410 Gone). `None`
    /// when it is gone already.
    pub async fn disable_webhook(
        &self,
        id: &WebhookId,
        reason: &str,
    ) -> Result<Option<Subscription>, ApiError> {
        let mut update = Update::default();
        update
            .set(attrs::STATUS, s(Status::Disabled.as_str()))
            .set(DISABLED_REASON, s(reason));
        match self
            .update_webhook(id, &update, Cond::Exists(keys::PK))
            .await
        {
            Err(ApiError::PreconditionFailed) => Ok(None),
            other => other,
        }
    }

    /// One conditional UpdateItem of a subscription, answering the item as
    /// it is now; a failed condition (the subscription gone included) is
    /// [`ApiError::PreconditionFailed`], for the caller to name.
    async fn update_webhook(
        &self,
        id: &WebhookId,
        update: &Update,
        condition: Cond,
    ) -> Result<Option<Subscription>, ApiError> {
        let condition = Cond::And(vec![Cond::Exists(keys::PK), condition]);
        match self
            .update_if(subscription_key(id), update, &condition)
            .await?
        {
            Some(item) => subscription_of(&item).map(Some),
            None => Err(ApiError::PreconditionFailed),
        }
    }

    /// Records one delivery attempt: one PutItem, kept as long as events are.
    pub async fn record_delivery(
        &self,
        webhook: &WebhookId,
        delivery: &Delivery,
    ) -> Result<(), ApiError> {
        let mut item = key(
            keys::deliveries_pk(&webhook.to_string()),
            format!("{}{}", keys::DELIVERY_PREFIX, delivery.id),
        );
        item.insert(EVENT_ID.into(), s(&delivery.event_id));
        item.insert(EVENT_TYPE.into(), s(&delivery.event_type));
        item.insert(ATTEMPT.into(), n(delivery.attempt));
        item.insert(ATTEMPTED_AT.into(), s(&delivery.attempted_at));
        item.insert(OUTCOME.into(), s(delivery.outcome.as_str()));
        if let Some(status) = delivery.status {
            item.insert(attrs::STATUS.into(), n(status));
        }
        item.insert(LATENCY_MS.into(), n(delivery.latency_ms));
        if !delivery.response.is_empty() {
            item.insert(attrs::RESPONSE.into(), s(&delivery.response));
        }
        if let Some(next) = &delivery.next_attempt_at {
            item.insert(NEXT_ATTEMPT_AT.into(), s(next));
        }
        item.insert(
            attrs::EXPIRES_AT.into(),
            n(crate::clock::now_ms() / 1000 + DELIVERY_RETENTION_SECONDS),
        );
        let output = retry_conflicts(|| {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .return_consumed_capacity(CAPACITY)
                .send()
        })
        .await?;
        self.meter.record_write(output.consumed_capacity());
        Ok(())
    }

    /// A page of at most `limit` attempts for a subscription, newest first,
    /// from `from`: one Query, of `limit + 1` items.
    pub async fn list_deliveries(
        &self,
        webhook: &WebhookId,
        from: Position,
        limit: usize,
    ) -> Result<DeliveryPage, ApiError> {
        let start = match from {
            Position::Done => {
                return Ok(DeliveryPage {
                    deliveries: Vec::new(),
                    next: None,
                })
            }
            Position::Start => None,
            Position::After([pk, sk, _, _]) => Some(key(pk, sk)),
        };
        let pk_value = keys::deliveries_pk(&webhook.to_string());
        if start
            .as_ref()
            .is_some_and(|start| text(start, keys::PK) != pk_value)
        {
            return Err(
                Invalid::new("next is not a cursor of this webhook's deliveries.")
                    .at_parameter("next")
                    .into(),
            );
        }
        let mut e = Expr::default();
        let pk = e.name(keys::PK);
        let sk = e.name(keys::SK);
        let pk_placeholder = e.value(s(&pk_value));
        let prefix = e.value(s(keys::DELIVERY_PREFIX));
        let condition = format!("{pk} = {pk_placeholder} AND begins_with({sk}, {prefix})");
        let output = self
            .consistent_query(&e, condition)
            .scan_index_forward(false)
            .limit(i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        self.meter.record(output.consumed_capacity());
        let mut items = output.items.unwrap_or_default();
        // One more than the page is read, so that a next page is offered
        // only when there is one.
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| {
                Position::After([
                    text(last, keys::PK).to_owned(),
                    text(last, keys::SK).to_owned(),
                    String::new(),
                    String::new(),
                ])
            })
        } else {
            None
        };
        Ok(DeliveryPage {
            deliveries: items.iter().map(delivery_of).collect(),
            next,
        })
    }
}
