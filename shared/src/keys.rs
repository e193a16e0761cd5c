//! The table's key templates, declared once. Nothing else in the code base
//! formats a key string: entity code asks this module for its keys.
//!
//! Layout of one user's partition (`pk = USER#<id>`), in sort-key order:
//!
//! | sk                      | item                                        |
//! |-------------------------|---------------------------------------------|
//! | `ACCT#<id>`             | an account (its id is the user's: see below) |
//! | `CONN#<id>`             | a connection                                |
//! | `PROFILE`               | the profile                                 |
//! | `PURGE`                 | a deletion handed over to `purge-user`      |
//! | `TXN#<id>#<connection>` | a transaction, scoped to its connection     |
//! | `~ONCE#<digest>`        | an idempotency record of an ingest          |
//!
//! Accounts, connections and the profile sort together below `TXN#`, so one
//! Query (`sk < "TXN#"`) reads a user with its connections and accounts and
//! never a transaction. Transactions are ordered by the two local indexes
//! [`TXN_BY_DATE`] and [`TXN_BY_ACCOUNT`].
//!
//! No connection can overwrite another's records: a transaction's key holds
//! its connection, and an account id is claimed by its connection in the
//! ingest's transaction (a conditional write), so a clash is refused.
//! Everything a user owns, records of its requests included, is in its
//! partition and goes with it.
//!
//! The profile also carries the attributes that place it in the search
//! indexes (see [`Index`]); a tombstoned profile drops them and so vanishes
//! from every index at once.
//!
//! Events are items of their own (`pk = EVENT#<id>`, `sk = EVENT`), read
//! newest first through four indexes that share the sort key `evKey`
//! ([`EVENTS_BY_TIME`], [`EVENTS_BY_USER`], [`EVENTS_BY_TYPE`],
//! [`EVENTS_BY_ENTITY`]); only event items carry their attributes.
//!
//! Audit entries likewise (`pk = AUDIT#<id>`, `sk = AUDIT`), read newest
//! first through three indexes that share the sort key `auKey`
//! ([`AUDIT_BY_TIME`], [`AUDIT_BY_USER`], [`AUDIT_BY_ACTOR`]).

use crate::user::UserId;

pub const PK: &str = "pk";
pub const SK: &str = "sk";

pub const PROFILE_SK: &str = "PROFILE";

pub fn user_pk(id: &UserId) -> String {
    format!("USER#{id}")
}

/// The user a partition key belongs to (for stream records, which carry keys).
pub fn user_of_pk(pk: &str) -> Option<UserId> {
    UserId::parse(pk.strip_prefix("USER#")?).ok()
}

/// The idempotency record of a user's creation lives in a partition of its
/// own (the user does not exist yet), named by a digest of the caller, the
/// route and the client's key. The profile names it, so that it goes with
/// the user.
pub fn idempotency_pk(digest: &str) -> String {
    format!("IDEMPOTENCY#{digest}")
}

pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";

/// The idempotency record of an ingest, in the user's own partition, after
/// every other item (`~` sorts after every key character).
pub fn ingest_record_sk(digest: &str) -> String {
    format!("~ONCE#{digest}")
}

/// The item that hands a deletion over to `purge-user`: the table's stream
/// delivers its writes (and only its writes) to the function.
pub const PURGE_SK: &str = "PURGE";

/// The partition of every API key and their count: one Query lists them
/// all (there are at most `auth::MAX_API_KEYS` active ones, and the revoked
/// ones beside them), and a key is read by its id with one GetItem.
pub const API_KEYS_PK: &str = "API_KEYS";

pub const API_KEY_PREFIX: &str = "KEY#";

/// A key's item, named by its id (the first 16 hex digits of its digest,
/// which reveal nothing of the key): what a token's `sub` names, so that
/// the key behind a token is one GetItem away.
pub fn api_key_sk(id: &str) -> String {
    format!("{API_KEY_PREFIX}{id}")
}

/// The count of active keys, beside them, kept by the transaction that
/// creates or revokes one, so the limit holds under concurrent creates.
pub const API_KEY_COUNT_SK: &str = "COUNT";

/// The keys newest first: the table's one date-ordered local index,
/// [`TXN_BY_DATE`], overloaded. In a user's partition it orders
/// transactions by posting date; in the [`API_KEYS_PK`] partition it
/// orders keys by creation ([`api_key_time_key`]), so a page of keys is
/// one Query however many revoked keys pile up. A local index of their
/// own is not to be had: local indexes cannot be added to an existing
/// table. Only key items carry the attribute (not their count), and the
/// two kinds of partition never meet in one read.
pub const API_KEYS_BY_TIME: LocalIndex = LocalIndex {
    name: TXN_BY_DATE.name,
    sk: TXN_BY_DATE.sk,
};

/// A key's sort key in [`API_KEYS_BY_TIME`]: its creation time (RFC 3339,
/// UTC, milliseconds, fixed width, so text order is time order), then its
/// id (two keys made in one millisecond are two). It starts with
/// [`API_KEY_PREFIX`], as the keys' table sort keys do.
pub fn api_key_time_key(created_at: &str, id: &str) -> String {
    format!("{API_KEY_PREFIX}{created_at}#{id}")
}

pub const ACCOUNT_PREFIX: &str = "ACCT#";
pub const CONNECTION_PREFIX: &str = "CONN#";
pub const TRANSACTION_PREFIX: &str = "TXN#";

pub fn account_sk(id: &str) -> String {
    format!("{ACCOUNT_PREFIX}{id}")
}

pub fn connection_sk(id: &str) -> String {
    format!("{CONNECTION_PREFIX}{id}")
}

/// A transaction's key holds its connection: two connections may use one
/// transaction id, and neither can overwrite the other's.
pub fn transaction_sk(id: &str, connection: &str) -> String {
    format!("{TRANSACTION_PREFIX}{id}#{connection}")
}

/// What the keys of every transaction with this id start with.
pub fn transaction_id_prefix(id: &str) -> String {
    format!("{TRANSACTION_PREFIX}{id}#")
}

/// An event's item: a partition of its own, named by the event's id (the
/// digest of the stream record that made it), so that recording an event
/// twice is one conditional put refused.
pub fn event_pk(id: &str) -> String {
    format!("EVENT#{id}")
}

pub const EVENT_SK: &str = "EVENT";

/// The partition of every webhook subscription and their count: one Query
/// reads them all (there are at most `webhook::MAX_SUBSCRIPTIONS`), as
/// every batch of events does.
pub const WEBHOOKS_PK: &str = "WEBHOOKS";

pub const WEBHOOK_PREFIX: &str = "WEBHOOK#";

pub fn webhook_sk(id: &str) -> String {
    format!("{WEBHOOK_PREFIX}{id}")
}

/// The count of subscriptions, beside them, kept by the transaction that
/// creates or deletes one, so the limit holds under concurrent creates.
pub const WEBHOOK_COUNT_SK: &str = "COUNT";

/// A subscription's delivery attempts: a partition of their own, read
/// newest first.
pub fn deliveries_pk(id: &str) -> String {
    format!("{WEBHOOK_PREFIX}{id}")
}

pub const DELIVERY_PREFIX: &str = "DELIVERY#";

/// One attempt's id, and after [`DELIVERY_PREFIX`] its sort key: its time
/// (RFC 3339, milliseconds, so text order is time order) and a random
/// suffix, so two attempts in one millisecond are two.
pub fn delivery_id(attempted_at: &str, nonce: &str) -> String {
    format!("{attempted_at}#{nonce}")
}

/// A local secondary index: same partition as the table, another sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalIndex {
    pub name: &'static str,
    pub sk: &'static str,
}

impl LocalIndex {
    /// This index described as a global one is: its partition key is the
    /// table's (so a position in it names `pk` twice, as
    /// `store::Position` lays positions out).
    pub const fn as_index(self) -> Index {
        Index {
            name: self.name,
            pk: PK,
            sk: self.sk,
        }
    }
}

/// A user's transactions by posting date (then id): newest first when read backwards.
pub const TXN_BY_DATE: LocalIndex = LocalIndex {
    name: "txnByDate",
    sk: "txnDate",
};

/// A user's transactions per account, by posting date within the account.
pub const TXN_BY_ACCOUNT: LocalIndex = LocalIndex {
    name: "txnByAccount",
    sk: "txnAccount",
};

/// Sort key of a transaction in [`TXN_BY_DATE`]. Posting dates are fixed-width
/// UTC text, so text order is time order; ids are `[A-Za-z0-9_-]`, all above `#`.
pub fn txn_date_key(post_date: &str, id: &str, connection: &str) -> String {
    format!("{post_date}#{id}#{connection}")
}

/// Sort key of a transaction in [`TXN_BY_ACCOUNT`]. An account belongs to
/// one connection, so its transactions are all that connection's.
pub fn txn_account_key(account: &str, post_date: &str, id: &str) -> String {
    format!("{account}#{post_date}#{id}")
}

/// The prefix every [`TXN_BY_ACCOUNT`] key of one account starts with.
pub fn txn_account_prefix(account: &str) -> String {
    format!("{account}#")
}

/// Above every key that starts with `prefix` (all key characters are below `~`).
pub fn after_all_starting_with(prefix: &str) -> String {
    format!("{prefix}~")
}

/// A global secondary index: its name and key attributes, as template.yaml declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

/// Exact email match, case-insensitive. Partition: the lowercased email.
pub const BY_EMAIL: Index = Index {
    name: "byEmail",
    pk: "emailKey",
    sk: "listKey",
};

/// Exact mobile match. Partition: the normalised mobile.
pub const BY_MOBILE: Index = Index {
    name: "byMobile",
    pk: "mobileKey",
    sk: "listKey",
};

/// First-name prefix. Partition: the name's first folded character, so one
/// prefix query reads one partition and writes spread over the alphabet.
pub const BY_FIRST_NAME: Index = Index {
    name: "byFirstName",
    pk: "firstNameShard",
    sk: "firstNameKey",
};

/// Last-name prefix, laid out as [`BY_FIRST_NAME`].
pub const BY_LAST_NAME: Index = Index {
    name: "byLastName",
    pk: "lastNameShard",
    sk: "lastNameKey",
};

/// Every live user, newest first, spread over [`LIST_SHARDS`] partitions.
pub const BY_CREATED: Index = Index {
    name: "byCreated",
    pk: "listShard",
    sk: "listKey",
};

/// How many partitions the listing index spreads users over. Each partition
/// key value of a GSI takes at most 1,000 writes/s, so four give the listing
/// 4,000 writes/s of headroom; a listing page reads one Query per shard.
pub const LIST_SHARDS: u8 = 4;

/// The whole events feed, newest first when read backwards. Every event is
/// in its one partition ([`EVENT_FEED`]): a GSI partition takes about 1,000
/// writes a second, which is the ceiling of the feed (about 1,000 profile
/// and connection changes a second across the service). Reading the feed
/// newest first needs one ordered partition; sharding it would make each
/// page a merge of several Queries, as the users listing is.
pub const EVENTS_BY_TIME: Index = Index {
    name: "eventsByTime",
    pk: "evFeed",
    sk: "evKey",
};

/// One user's events, newest first. Partition: the user id.
pub const EVENTS_BY_USER: Index = Index {
    name: "eventsByUser",
    pk: "evUser",
    sk: "evKey",
};

/// One type's events (`user.created`), newest first. Six partitions, each
/// as hot as its type's writes.
pub const EVENTS_BY_TYPE: Index = Index {
    name: "eventsByType",
    pk: "evType",
    sk: "evKey",
};

/// One entity's events (`user` or `connection`), newest first.
pub const EVENTS_BY_ENTITY: Index = Index {
    name: "eventsByEntity",
    pk: "evEntity",
    sk: "evKey",
};

/// The one [`EVENTS_BY_TIME`] partition.
pub const EVENT_FEED: &str = "EVENTS";

/// An audit entry's item: a partition of its own, named by the entry's id
/// (its time, then the digest of the stream record that made it, or a
/// random suffix), so that recording an entry twice is one conditional put
/// refused.
pub fn audit_pk(id: &str) -> String {
    format!("AUDIT#{id}")
}

pub const AUDIT_SK: &str = "AUDIT";

/// The whole audit trail, newest first when read backwards: one partition
/// ([`AUDIT_FEED`]), as [`EVENTS_BY_TIME`], and for the same reasons. Its
/// entries come at about the rate of the events (one per profile or
/// connection change, plus the rarer key, webhook and sign-in ones), far
/// below a partition's 1,000 writes a second; and only audit items carry
/// its key, so were it ever throttled, only the writes of audit entries
/// (by the `events` function, which retries) would wait, never a
/// client's request. Reading newest first needs one ordered partition;
/// shards would make each page a merge of several Queries.
pub const AUDIT_BY_TIME: Index = Index {
    name: "auditByTime",
    pk: "auFeed",
    sk: "auKey",
};

/// The entries that concern one user (the target user), newest first:
/// the user's history. Partition: the user id.
pub const AUDIT_BY_USER: Index = Index {
    name: "auditByUser",
    pk: "auUser",
    sk: "auKey",
};

/// One actor's entries (`key:<id>`, `operator:<sub>`...), newest first.
pub const AUDIT_BY_ACTOR: Index = Index {
    name: "auditByActor",
    pk: "auActor",
    sk: "auKey",
};

/// The one [`AUDIT_BY_TIME`] partition.
pub const AUDIT_FEED: &str = "AUDIT";

/// The sort key of an entry in every audit index: its time (RFC 3339, UTC,
/// milliseconds, fixed width), the stream's sequence number when a stream
/// record made it (the order of one item's changes within a second), and
/// its id; laid out as [`event_key`].
pub fn audit_key(created_at: &str, sequence: &str, id: &str) -> String {
    event_key(created_at, sequence, id)
}

/// How many digits a stream sequence number is padded to in [`event_key`]:
/// DynamoDB Streams' sequence numbers are decimal and at most 40 digits
/// long, so padded they sort as the numbers do.
const SEQUENCE_DIGITS: usize = 40;

/// The sort key of an event in every events index: its time (RFC 3339, UTC,
/// fixed width, so text order is time order), then the stream's sequence
/// number (the order of changes within a second), then the id (which makes
/// it unique). Read backwards, newest first.
pub fn event_key(created_date: &str, sequence: &str, id: &str) -> String {
    let sequence = if sequence.bytes().all(|b| b.is_ascii_digit()) {
        format!("{sequence:0>SEQUENCE_DIGITS$}")
    } else {
        // Not a sequence number DynamoDB writes: kept as it is, after every
        // padded one, rather than refused (the event is still recorded).
        sequence.to_owned()
    };
    format!("{created_date}#{sequence}#{id}")
}

/// Separates a folded name from the user id in a name sort key. Names may not
/// contain control characters, so this cannot occur inside a name, and it
/// sorts below every printable character: "ann" + SEP comes before "anna".
const NAME_SEPARATOR: char = '\u{1f}';

/// The `byEmail` partition of an email: the address lowercased, so that
/// matching ignores case.
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// The `byMobile` partition of a mobile in its normalised form (`+` and digits).
pub fn mobile_key(mobile: &str) -> String {
    mobile.to_owned()
}

pub fn list_key(created_time: &str, id: &UserId) -> String {
    format!("{created_time}#{id}")
}

pub fn list_shard(id: &UserId) -> String {
    format!("USERS#{}", list_shard_number(id))
}

pub fn list_shard_value(shard: u8) -> String {
    format!("USERS#{shard}")
}

fn list_shard_number(id: &UserId) -> u8 {
    // A UUID v4 is uniformly random, so its last byte spreads evenly.
    id.as_uuid().as_bytes()[15] % LIST_SHARDS
}

/// The partition of a folded name (or of a folded prefix being searched).
pub fn name_shard(folded: &str) -> Option<String> {
    folded.chars().next().map(String::from)
}

pub fn name_key(folded: &str, id: &UserId) -> String {
    format!("{folded}{NAME_SEPARATOR}{id}")
}

/// What a name sort key starts with when the name is exactly `folded`.
pub fn name_key_exact_prefix(folded: &str) -> String {
    format!("{folded}{NAME_SEPARATOR}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_keys_sort_shorter_names_first() {
        let id = UserId::new();
        let ann = name_key("ann", &id);
        let anna = name_key("anna", &id);
        assert!(ann < anna);
        assert!(ann.starts_with(&name_key_exact_prefix("ann")));
        assert!(!anna.starts_with(&name_key_exact_prefix("ann")));
    }

    #[test]
    fn list_shards_stay_in_range() {
        for _ in 0..200 {
            let shard = list_shard(&UserId::new());
            let n: u8 = shard.trim_start_matches("USERS#").parse().unwrap();
            assert!(n < LIST_SHARDS);
        }
    }

    #[test]
    fn partition_keys_lead_back_to_their_user() {
        let id = UserId::new();
        assert_eq!(user_of_pk(&user_pk(&id)), Some(id));
        assert_eq!(user_of_pk("USERS#0"), None);
        assert_eq!(user_of_pk(&id.to_string()), None);
    }

    #[test]
    fn event_keys_sort_by_time_then_sequence() {
        let a = event_key("2026-12-01T00:00:00Z", "9", "ff");
        let b = event_key("2026-12-01T00:00:00Z", "10", "00");
        let c = event_key("2026-12-01T00:00:01Z", "1", "00");
        assert!(a < b && b < c, "{a} {b} {c}");
        assert!(a.contains(&format!("#{}9#", "0".repeat(39))));
        // Never panics, whatever the record says.
        assert!(event_key("t", "", "x").starts_with("t#"));
        assert!(event_key("t", "not-a-number", "x").contains("not-a-number"));
    }

    #[test]
    fn name_shard_is_first_character() {
        assert_eq!(name_shard("gavin").as_deref(), Some("g"));
        assert_eq!(name_shard(""), None);
    }
}
