//! Attribute names, declared once. Key attributes and index key attributes
//! live with their templates in `keys.rs`; every other name the store writes
//! or reads is here, spelled as the records' serde names spell them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::keys;

/// One item as DynamoDB holds it.
pub type Item = HashMap<String, AttributeValue>;

pub(crate) const ID: &str = "id";
pub(crate) const EMAIL: &str = "email";
pub(crate) const MOBILE: &str = "mobile";
pub(crate) const FIRST_NAME: &str = "firstName";
pub(crate) const MIDDLE_NAME: &str = "middleName";
pub(crate) const LAST_NAME: &str = "lastName";
pub(crate) const BUSINESS_NAME: &str = "businessName";
pub(crate) const BUSINESS_ID_NO: &str = "businessIdNo";
pub(crate) const BUSINESS_ID_NO_TYPE: &str = "businessIdNoType";
pub(crate) const BUSINESS_ADDRESS: &str = "businessAddress";
pub(crate) const VERIFICATION_STATUS: &str = "verificationStatus";
pub(crate) const VERIFICATION_DATE: &str = "verificationDate";
pub(crate) const CREATED_TIME: &str = "createdTime";
pub(crate) const UPDATED_TIME: &str = "updatedTime";
/// Every item's version, raised by one on each write (the ETag of a user).
pub(crate) const VERSION: &str = "version";
/// Set on a profile when its deletion starts. From then on the user is gone
/// for every reader, and its index attributes are removed with it.
pub(crate) const DELETED_AT: &str = "deletedAt";

/// On a profile: the idempotency record of the request that created it,
/// which goes when the user goes.
pub(crate) const CREATED_WITH: &str = "createdWith";
/// On a tombstoned profile: until when (epoch ms) `purge-user` is at work.
pub(crate) const PURGE_LEASE_UNTIL: &str = "purgeLeaseUntil";
/// On a hand-over item: when (epoch ms) the deletion was handed over.
pub(crate) const REQUESTED_AT: &str = "requestedAt";

/// On a profile and a connection: who made the last write (`key:<id>`,
/// `user:<id>` or `operator:<sub>`, never anything personal) and the
/// request's correlation id, stamped in the write itself; the events and
/// the audit trail read them.
pub(crate) const ACTOR: &str = "actor";
pub(crate) const CORRELATION_ID: &str = "correlationId";
/// Beside them, for the audit trail only: the actor's readable name (an
/// operator's email, a key's name) and where the request came from. An
/// item keeps only its last writer's: each write sets or removes all three.
pub(crate) const ACTOR_NAME: &str = "actorName";
pub(crate) const SOURCE_IP: &str = "sourceIp";
pub(crate) const USER_AGENT: &str = "userAgent";
/// Every attribute of a stamp: who wrote an item, not what it holds.
pub(crate) const STAMP: [&str; 5] = [ACTOR, CORRELATION_ID, ACTOR_NAME, SOURCE_IP, USER_AGENT];
/// On an API key: when it was revoked (set once, by the revocation).
pub(crate) const REVOKED_AT: &str = "revokedAt";
/// On an API key: when it last bought a token (`POST /token`, at most once
/// a minute): a use, not a change of the key.
pub(crate) const LAST_USED_AT: &str = "lastUsedAt";
/// On a tombstone (a profile's or a connection's): the stamp of the request
/// that began the deletion, a map with the five stamp attributes above
/// (those the stamp has), written once (`if_not_exists`). The stamp beside
/// it is restamped by every repeated DELETE; this one is not, so the
/// deletion's event and its audit entry name the first deleter.
pub(crate) const DELETED_BY: &str = "deletedBy";
/// On a tombstoned profile: what its deletion has removed so far, by kind.
/// The profile's last image, in the stream's REMOVE record, carries the
/// totals: the deletion receipt.
pub(crate) const REMOVED_CONNECTIONS: &str = "removedConnections";
pub(crate) const REMOVED_ACCOUNTS: &str = "removedAccounts";
pub(crate) const REMOVED_TRANSACTIONS: &str = "removedTransactions";
pub(crate) const REMOVED_OTHER: &str = "removedOther";

/// A record's connection (accounts and transactions).
pub(crate) const CONNECTION: &str = "connection";
/// On a connection (and an ingest's record): until when (epoch ms) an ingest
/// holds it, and which one.
pub(crate) const LEASE_UNTIL: &str = "leaseUntil";
pub(crate) const LEASE_ID: &str = "leaseId";

/// Idempotency records: the request's digest, whether its answer is known,
/// the answer's status and body, and what it made.
pub(crate) const REQUEST_DIGEST: &str = "requestDigest";
pub(crate) const STATE: &str = "state";
pub(crate) const STATUS: &str = "status";
pub(crate) const RESPONSE: &str = "response";
pub(crate) const USER_ID: &str = "userId";
/// When DynamoDB's TTL removes an item, in epoch seconds.
pub(crate) const EXPIRES_AT: &str = "expiresAt";

/// A string attribute value.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute value.
pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string attribute of an item, or "" when it is absent or not a string.
pub(crate) fn text<'a>(item: &'a Item, attr: &str) -> &'a str {
    item.get(attr)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

/// The key of the item at `pk` and `sk`: the one way the store names an item.
pub(crate) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}

/// Whether a profile item carries a tombstone: its user is being deleted.
pub fn is_tombstone(item: &Item) -> bool {
    item.contains_key(DELETED_AT)
}
