//! The JSON shapes of connections, accounts and transactions, as Basiq's
//! data API writes them: the record, its `type`, and its links.

use serde::Serialize;

use crate::finance::{Account, Connection, Transaction};
use crate::http::request::Context;
use crate::user::UserId;

#[derive(Debug, Serialize)]
pub struct ConnectionView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    connection: &'a Connection,
    links: ConnectionLinks,
}

#[derive(Debug, Serialize)]
struct ConnectionLinks {
    #[serde(rename = "self")]
    self_: String,
    user: String,
    accounts: String,
}

impl<'a> ConnectionView<'a> {
    pub fn new(user: &UserId, connection: &'a Connection, ctx: &Context) -> Self {
        let user_url = ctx.user_url(user);
        Self {
            kind: "connection",
            links: ConnectionLinks {
                self_: format!("{user_url}/connections/{}", connection.id),
                accounts: format!("{user_url}/accounts"),
                user: user_url,
            },
            connection,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AccountView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    account: &'a Account,
    links: AccountLinks,
}

#[derive(Debug, Serialize)]
struct AccountLinks {
    #[serde(rename = "self")]
    self_: String,
    connection: String,
    transactions: String,
}

impl<'a> AccountView<'a> {
    pub fn new(user: &UserId, account: &'a Account, ctx: &Context) -> Self {
        let user_url = ctx.user_url(user);
        let filter: String =
            form_urlencoded::byte_serialize(format!("account.id.eq('{}')", account.id).as_bytes())
                .collect();
        Self {
            kind: "account",
            links: AccountLinks {
                self_: format!("{user_url}/accounts/{}", account.id),
                connection: format!("{user_url}/connections/{}", account.connection),
                transactions: format!("{user_url}/transactions?filter={filter}"),
            },
            account,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TransactionView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    transaction: &'a Transaction,
    links: TransactionLinks,
}

#[derive(Debug, Serialize)]
struct TransactionLinks {
    #[serde(rename = "self")]
    self_: String,
    account: String,
}

impl<'a> TransactionView<'a> {
    pub fn new(user: &UserId, transaction: &'a Transaction, ctx: &Context) -> Self {
        let user_url = ctx.user_url(user);
        Self {
            kind: "transaction",
            links: TransactionLinks {
                self_: format!("{user_url}/transactions/{}", transaction.id),
                account: format!("{user_url}/accounts/{}", transaction.account),
            },
            transaction,
        }
    }
}
