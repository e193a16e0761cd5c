//! The ingest request an aggregation engine posts: one connection with its
//! accounts and transactions. Decoded with serde, with the path of any
//! problem turned into a JSON pointer.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use super::{
    Account, AccountClass, AccountOwnership, AccountStatus, Amount, Connection, ConnectionMethod,
    ConnectionStatus, Currency, Description, Direction, Institution, MaskedAccountNo, RecordId,
    SubClass, Timestamp, Transaction, TransactionClass, TransactionInterval, TransactionStatus,
};
use crate::error::{ApiError, Invalid, Problem};
use crate::user::Name;

/// Accounts per ingest: they are claimed in the ingest's one DynamoDB
/// transaction (at most 100 items, three of which are the user's check, the
/// connection and the idempotency record).
pub const MAX_ACCOUNTS: usize = 90;
pub const MAX_TRANSACTIONS: usize = 5_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConnectionInput {
    id: Option<RecordId>,
    institution: Institution,
    status: ConnectionStatus,
    #[serde(default)]
    method: ConnectionMethod,
    created_date: Option<Timestamp>,
    expiry_date: Option<Timestamp>,
    last_used: Option<Timestamp>,
    #[serde(default)]
    accounts: Vec<AccountInput>,
    #[serde(default)]
    transactions: Vec<TransactionInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AccountInput {
    id: RecordId,
    name: Name,
    account_no: MaskedAccountNo,
    account_holder: Option<Name>,
    is_owned: Option<bool>,
    account_ownership: Option<AccountOwnership>,
    balance: Amount,
    available_funds: Amount,
    credit_limit: Option<Amount>,
    currency: Currency,
    class: AccountClass,
    status: AccountStatus,
    last_updated: Option<Timestamp>,
    #[serde(default)]
    transaction_intervals: Vec<TransactionInterval>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TransactionInput {
    id: RecordId,
    account: RecordId,
    status: TransactionStatus,
    description: Description,
    reference: Option<Description>,
    amount: Amount,
    currency: Option<Currency>,
    balance: Option<Amount>,
    direction: Direction,
    class: TransactionClass,
    sub_class: Option<SubClass>,
    post_date: Timestamp,
    transaction_date: Option<Timestamp>,
}

/// A validated ingest: every account belongs to the connection, and every
/// transaction to one of the accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingest {
    pub connection: Connection,
    pub accounts: Vec<Account>,
    pub transactions: Vec<Transaction>,
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } => pointer.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => pointer.push_str(variant),
            Segment::Unknown => pointer.push('?'),
        }
    }
    if pointer.is_empty() {
        pointer.push('/');
    }
    pointer
}

/// serde's messages name types ("invalid type: integer, expected a string");
/// keep ours (from the value parsers) and say plainly what theirs mean.
fn detail_of(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text);
    if let Some(rest) = text.strip_prefix("unknown field ") {
        return format!("Unknown field {}.", rest.split(',').next().unwrap_or(rest));
    }
    if let Some(rest) = text.strip_prefix("missing field ") {
        return format!("Required field {rest} is missing.");
    }
    text.to_owned()
}

pub fn decode_ingest(body: Value) -> Result<Ingest, ApiError> {
    let input: ConnectionInput = serde_path_to_error::deserialize(body).map_err(|err| {
        let pointer = pointer_of(err.path());
        let detail = detail_of(err.inner());
        if detail.starts_with("Required field") {
            // serde reports a missing field at the object that lacks it.
            let field = detail.split('`').nth(1).unwrap_or("");
            let at = if pointer == "/" {
                format!("/{field}")
            } else {
                format!("{pointer}/{field}")
            };
            ApiError::from(Problem::not_supplied(&at, detail))
        } else {
            ApiError::from(Invalid::new(detail).at(&pointer))
        }
    })?;

    let mut problems = Vec::new();
    if input.accounts.len() > MAX_ACCOUNTS {
        problems.push(
            Invalid::new(format!("At most {MAX_ACCOUNTS} accounts per request.")).at("/accounts"),
        );
    }
    if input.transactions.len() > MAX_TRANSACTIONS {
        problems.push(
            Invalid::new(format!(
                "At most {MAX_TRANSACTIONS} transactions per request."
            ))
            .at("/transactions"),
        );
    }
    let mut account_ids = HashSet::new();
    for (i, account) in input.accounts.iter().enumerate() {
        if !account_ids.insert(&account.id) {
            problems.push(Invalid::new("Duplicate account id.").at(&format!("/accounts/{i}/id")));
        }
    }
    let mut transaction_ids = HashSet::new();
    for (i, transaction) in input.transactions.iter().enumerate() {
        if !transaction_ids.insert(&transaction.id) {
            problems.push(
                Invalid::new("Duplicate transaction id.").at(&format!("/transactions/{i}/id")),
            );
        }
        if !account_ids.contains(&transaction.account) {
            problems.push(
                Invalid::new("Must be the id of an account in this request.")
                    .at(&format!("/transactions/{i}/account")),
            );
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::BadRequest(problems));
    }

    let now = Timestamp::now();
    let connection = Connection {
        id: input.id.unwrap_or_else(RecordId::generate),
        institution: input.institution,
        status: input.status,
        method: input.method,
        created_date: input.created_date.unwrap_or_else(|| now.clone()),
        expiry_date: input.expiry_date,
        last_used: input.last_used,
    };
    let institution = &connection.institution.id;
    let accounts: Vec<Account> = input
        .accounts
        .into_iter()
        .map(|a| Account {
            id: a.id,
            connection: connection.id.clone(),
            institution: institution.clone(),
            name: a.name,
            account_no: a.account_no,
            account_holder: a.account_holder,
            is_owned: a.is_owned.unwrap_or(true),
            account_ownership: a.account_ownership.unwrap_or_default(),
            balance: a.balance,
            available_funds: a.available_funds,
            credit_limit: a.credit_limit,
            currency: a.currency,
            class: a.class,
            status: a.status,
            last_updated: a.last_updated.unwrap_or_else(|| now.clone()),
            transaction_intervals: a.transaction_intervals,
        })
        .collect();
    let currency_of = |account: &RecordId| {
        accounts
            .iter()
            .find(|a| &a.id == account)
            .map(|a| a.currency.clone())
    };
    let transactions = input
        .transactions
        .into_iter()
        .filter_map(|t| {
            // Every transaction names an account of this request (checked above).
            let currency = t.currency.or_else(|| currency_of(&t.account))?;
            Some(Transaction {
                id: t.id,
                account: t.account,
                connection: connection.id.clone(),
                institution: institution.clone(),
                status: t.status,
                description: t.description,
                reference: t.reference,
                amount: t.amount,
                currency,
                balance: t.balance,
                direction: t.direction,
                class: t.class,
                sub_class: t.sub_class,
                post_date: t.post_date,
                transaction_date: t.transaction_date,
            })
        })
        .collect();
    Ok(Ingest {
        connection,
        accounts,
        transactions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ProblemKind, Source};
    use serde_json::json;

    fn body() -> Value {
        json!({
            "institution": {"id": "AU00000", "name": "Hooli Bank"},
            "status": "active",
            "accounts": [{
                "id": "acc-1", "name": "Everyday", "accountNo": "062000 12345678",
                "balance": "1200.50", "availableFunds": "1100.00", "currency": "AUD",
                "class": {"type": "transaction", "product": "Everyday Account"}, "status": "available"
            }],
            "transactions": [{
                "id": "txn-1", "account": "acc-1", "status": "posted", "description": "Coffee",
                "amount": "-4.50", "direction": "debit", "class": "payment",
                "postDate": "2024-01-15T09:30:00Z"
            }]
        })
    }

    fn problem(body: Value) -> (ProblemKind, String) {
        match decode_ingest(body) {
            Err(ApiError::BadRequest(problems)) => {
                let p = &problems[0];
                let Source::Pointer(at) = &p.at else { panic!() };
                (p.kind, at.clone())
            }
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_ingest_links_everything_to_the_connection() {
        let ingest = decode_ingest(body()).unwrap();
        assert_eq!(ingest.accounts[0].connection, ingest.connection.id);
        assert_eq!(ingest.transactions[0].connection, ingest.connection.id);
        assert_eq!(ingest.accounts[0].account_no.as_str(), "xxxxxxxxxx5678");
        assert_eq!(ingest.transactions[0].amount.as_str(), "-4.50");
    }

    #[test]
    fn problems_carry_pointers() {
        let mut b = body();
        b["transactions"][0]["amount"] = json!(-4.5);
        assert_eq!(
            problem(b),
            (ProblemKind::NotValid, "/transactions/0/amount".into())
        );

        let mut b = body();
        b["accounts"][0]["balance"] = json!("1e3");
        assert_eq!(
            problem(b),
            (ProblemKind::NotValid, "/accounts/0/balance".into())
        );

        let mut b = body();
        b["transactions"][0]["account"] = json!("acc-9");
        assert_eq!(
            problem(b),
            (ProblemKind::NotValid, "/transactions/0/account".into())
        );

        let mut b = body();
        b["accounts"][0].as_object_mut().unwrap().remove("currency");
        assert_eq!(
            problem(b),
            (ProblemKind::NotSupplied, "/accounts/0/currency".into())
        );

        let mut b = body();
        b["status"] = json!("exploded");
        assert_eq!(problem(b), (ProblemKind::NotValid, "/status".into()));

        let mut b = body();
        b["extra"] = json!(1);
        assert_eq!(problem(b).1, "/extra");
    }
}
