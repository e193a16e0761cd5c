//! Realistic sandbox data: users with connections, accounts and transactions.
//! It goes through the same decoding and validation as the API, and is
//! deterministic for a given number, so runs are repeatable.

use std::time::Duration;

use serde_json::{json, Value};
use shared::auth::{Actor, Stamp};
use shared::error::ApiError;
use shared::finance::{decode_ingest, MAX_TRANSACTIONS};
use shared::store::Store;
use shared::user::{decode_create, UserId};

const FIRST: [&str; 16] = [
    "Gavin", "Richard", "Monica", "Jared", "Dinesh", "Bertram", "Laurie", "José", "Zoë", "Siobhán",
    "Ngọc", "Åsa", "Peter", "Erlich", "Jian", "Big",
];
const LAST: [&str; 16] = [
    "Belson",
    "Hendricks",
    "Hall",
    "Dunn",
    "Chugtai",
    "Gilfoyle",
    "Bream",
    "Núñez",
    "Łukasik",
    "O'Brien",
    "Nguyễn",
    "Öberg",
    "Gregory",
    "Bachman",
    "Yang",
    "Head",
];
const BANKS: [(&str, &str); 4] = [
    ("AU00000", "Hooli Bank"),
    ("AU00001", "Pied Piper Credit Union"),
    ("AU00002", "Raviga Savings"),
    ("AU00003", "Bachmanity Building Society"),
];
const MERCHANTS: [(&str, &str, i64); 8] = [
    ("Coffee, Palo Alto", "payment", -450),
    ("Groceries", "payment", -8_735),
    ("Salary HOOLI", "direct-credit", 612_550),
    ("ATM withdrawal", "cash-withdrawal", -10_000),
    ("Rent", "transfer", -240_000),
    ("Interest", "interest", 312),
    ("Monthly fee", "bank-fee", -500),
    ("Refund", "refund", 2_599),
];

/// Cents as a decimal string: money never passes through a float.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

pub fn user_body(n: usize) -> Value {
    let first = FIRST[n % FIRST.len()];
    let last = LAST[(n / FIRST.len()) % LAST.len()];
    json!({
        "email": format!("{}.{}{n}@example.com", first.to_lowercase().replace(' ', ""), n % 97),
        "mobile": format!("+614{:08}", n),
        "firstName": first,
        "lastName": last,
    })
}

/// One connection (`n` picks the bank) with `accounts` accounts and
/// `transactions` transactions spread over them, one a day going back from 2026-11-01.
pub fn connection_body(n: usize, accounts: usize, transactions: usize) -> Value {
    let (bank_id, bank_name) = BANKS[n % BANKS.len()];
    let accounts = accounts.max(1);
    let account_ids: Vec<String> = (0..accounts).map(|a| format!("acc-{n}-{a}")).collect();
    let account_list: Vec<Value> = account_ids
        .iter()
        .enumerate()
        .map(|(a, id)| {
            let (kind, name) = if a % 2 == 0 {
                ("transaction", "Everyday")
            } else {
                ("savings", "Savings")
            };
            let balance = 125_000 + (n as i64 * 7_919 + a as i64 * 104_729) % 5_000_000;
            json!({
                "id": id,
                "name": format!("{name} {}", a + 1),
                "accountNo": format!("06200{:09}", n * 10 + a),
                "balance": money(balance),
                "availableFunds": money(balance - 5_000),
                "currency": "AUD",
                "class": {"type": kind, "product": format!("{name} Account")},
                "status": "available",
            })
        })
        .collect();
    let start = time::macros::datetime!(2026-11-01 09:30 UTC);
    let transaction_list: Vec<Value> = (0..transactions)
        .map(|t| {
            let (description, class, cents) = MERCHANTS[t % MERCHANTS.len()];
            let at = start - time::Duration::hours(t as i64 * 7);
            let posted = shared::clock::format(at);
            json!({
                "id": format!("txn-{n}-{t}"),
                "account": account_ids[t % accounts],
                "status": if t == 0 { "pending" } else { "posted" },
                "description": description,
                "amount": money(cents),
                "direction": if cents < 0 { "debit" } else { "credit" },
                "class": class,
                "postDate": posted,
                "transactionDate": posted,
            })
        })
        .collect();
    json!({
        "id": format!("conn-{n}"),
        "institution": {"id": bank_id, "name": bank_name},
        "status": "active",
        "accounts": account_list,
        "transactions": transaction_list,
    })
}

/// The store as the seeding tool's: what it writes is stamped `infra:seed`
/// ("make seed"), so the audit trail names the tool, not `unattributed`.
fn seeding(store: &Store) -> Store {
    store.acting(Stamp {
        actor: Actor::claimed("infra:seed"),
        name: Some("make seed".to_owned()),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        source_ip: None,
        user_agent: None,
    })
}

/// Gives an existing user `transactions` transactions, in as many
/// connections of at most 5,000 as that takes, through the ingest path.
pub async fn fill_user(
    store: &Store,
    user: &UserId,
    first_connection: usize,
    transactions: usize,
    parallelism: usize,
) -> Result<(), ApiError> {
    let store = seeding(store);
    let mut left = transactions;
    let mut n = first_connection;
    loop {
        let now = left.min(MAX_TRANSACTIONS);
        let ingest = decode_ingest(connection_body(n, 2, now))?;
        store
            .ingest(user, &ingest, parallelism, Duration::from_secs(60), None)
            .await?;
        left -= now;
        n += 1;
        if left == 0 {
            return Ok(());
        }
    }
}

/// Creates `users` users, each with `transactions_per_user` transactions.
pub async fn seed(
    store: &Store,
    users: usize,
    transactions_per_user: usize,
) -> Result<Vec<UserId>, ApiError> {
    let now = shared::clock::now();
    let created = (0..users)
        .map(|n| decode_create(user_body(n)).map(|u| u.into_user(UserId::new(), now.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    seeding(store).import_users(&created, 8).await?;
    for (n, user) in created.iter().enumerate() {
        fill_user(store, &user.id, n * 100, transactions_per_user, 8).await?;
    }
    Ok(created.into_iter().map(|u| u.id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_formatted_from_cents() {
        assert_eq!(money(-450), "-4.50");
        assert_eq!(money(612_550), "6125.50");
        assert_eq!(money(5), "0.05");
        assert_eq!(money(-5), "-0.05");
    }

    #[test]
    fn generated_bodies_pass_validation() {
        for n in 0..40 {
            decode_create(user_body(n)).unwrap();
        }
        let ingest = decode_ingest(connection_body(3, 2, 50)).unwrap();
        assert_eq!(ingest.accounts.len(), 2);
        assert_eq!(ingest.transactions.len(), 50);
    }
}
