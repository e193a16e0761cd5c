//! The JSON shapes of connections, accounts and transactions, as Basiq's data
//! API writes them (data.yml's `ConnectionsData`, `AccountResponseResource`
//! and `TransactionData`): every field those schemas require, with `null`
//! (where Basiq's schema allows it) or an empty value where an ingest did not
//! supply one, as Basiq does; the record's `type`; and its links.

use serde::Serialize;

use crate::finance::{
    Account, AccountClass, AccountOwnership, AccountStatus, Connection, ConnectionMethod,
    ConnectionStatus, Direction, SubClass, Transaction, TransactionClass, TransactionInterval,
    TransactionStatus,
};
use crate::http::request::Context;
use crate::user::UserId;

#[derive(Debug, Serialize)]
struct SelfLink {
    #[serde(rename = "self")]
    self_: String,
}

/// `ConnectionInstitution`: the institution's id (and its name, which we
/// keep), with a link to Basiq's institution resource.
#[derive(Debug, Serialize)]
struct InstitutionView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    name: &'a str,
    links: SelfLink,
}

fn institution_url(ctx: &Context, id: &str) -> String {
    format!("{}/institutions/{id}", ctx.base_url)
}

/// The transactions of one account, as a link.
fn transactions_of(user_url: &str, account: &str) -> String {
    let filter = format!("account.id.eq('{account}')");
    let filter: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    format!("{user_url}/transactions?filter={filter}")
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    method: ConnectionMethod,
    status: ConnectionStatus,
    created_date: &'a str,
    /// Empty for web connections, as Basiq leaves it.
    expiry_date: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used: Option<&'a str>,
    institution: InstitutionView<'a>,
    links: ConnectionLinks,
}

#[derive(Debug, Serialize)]
struct ConnectionLinks {
    #[serde(rename = "self")]
    self_: String,
    user: String,
    accounts: String,
    institution: String,
}

impl<'a> ConnectionView<'a> {
    pub fn new(user: &UserId, c: &'a Connection, ctx: &Context) -> Self {
        let user_url = ctx.user_url(user);
        let institution = institution_url(ctx, c.institution.id.as_str());
        Self {
            kind: "connection",
            id: c.id.as_str(),
            method: c.method,
            status: c.status,
            created_date: c.created_date.as_str(),
            expiry_date: c.expiry_date.as_ref().map_or("", |d| d.as_str()),
            last_used: c.last_used.as_ref().map(|d| d.as_str()),
            institution: InstitutionView {
                kind: "institution",
                id: c.institution.id.as_str(),
                name: c.institution.name.as_str(),
                links: SelfLink {
                    self_: institution.clone(),
                },
            },
            links: ConnectionLinks {
                self_: format!("{user_url}/connections/{}", c.id),
                accounts: format!("{user_url}/accounts"),
                institution,
                user: user_url,
            },
        }
    }
}

/// `AccountClass`: its product is required, and empty when not known.
#[derive(Debug, Serialize)]
struct AccountClassView<'a> {
    #[serde(rename = "type")]
    kind: crate::finance::AccountType,
    product: &'a str,
}

impl<'a> From<&'a AccountClass> for AccountClassView<'a> {
    fn from(class: &'a AccountClass) -> Self {
        Self {
            kind: class.kind,
            product: class.product.as_ref().map_or("", |p| p.as_str()),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    name: &'a str,
    account_no: &'a str,
    /// `null` when the institution did not say, as Basiq writes it.
    account_holder: Option<&'a str>,
    is_owned: bool,
    account_ownership: AccountOwnership,
    balance: &'a str,
    available_funds: &'a str,
    credit_limit: Option<&'a str>,
    currency: &'a str,
    class: AccountClassView<'a>,
    status: AccountStatus,
    last_updated: &'a str,
    connection: &'a str,
    institution: &'a str,
    transaction_intervals: &'a [TransactionInterval],
    links: AccountLinks,
}

#[derive(Debug, Serialize)]
struct AccountLinks {
    #[serde(rename = "self")]
    self_: String,
    transactions: String,
    connection: String,
    institution: String,
}

impl<'a> AccountView<'a> {
    pub fn new(user: &UserId, a: &'a Account, ctx: &Context) -> Self {
        let user_url = ctx.user_url(user);
        Self {
            kind: "account",
            id: a.id.as_str(),
            name: a.name.as_str(),
            account_no: a.account_no.as_str(),
            account_holder: a.account_holder.as_ref().map(|h| h.as_str()),
            is_owned: a.is_owned,
            account_ownership: a.account_ownership,
            balance: a.balance.as_str(),
            available_funds: a.available_funds.as_str(),
            credit_limit: a.credit_limit.as_ref().map(|l| l.as_str()),
            currency: a.currency.as_str(),
            class: (&a.class).into(),
            status: a.status,
            last_updated: a.last_updated.as_str(),
            connection: a.connection.as_str(),
            institution: a.institution.as_str(),
            transaction_intervals: &a.transaction_intervals,
            links: AccountLinks {
                self_: format!("{user_url}/accounts/{}", a.id),
                transactions: transactions_of(&user_url, a.id.as_str()),
                connection: format!("{user_url}/connections/{}", a.connection),
                institution: institution_url(ctx, a.institution.as_str()),
            },
        }
    }
}

/// `subClass`: empty for transactions that have none, as Basiq leaves it.
#[derive(Debug, Default, Serialize)]
struct SubClassView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
}

/// `enrich`: this service does not enrich transactions, so every part of it
/// is empty, as Basiq's schema allows (`null` where it is nullable).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EnrichView {
    clean_description: &'static str,
    tags: [(); 0],
    category: Option<()>,
    location: Option<()>,
    merchant: Option<()>,
}

const NOT_ENRICHED: EnrichView = EnrichView {
    clean_description: "",
    tags: [],
    category: None,
    location: None,
    merchant: None,
};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    status: TransactionStatus,
    description: &'a str,
    reference: &'a str,
    amount: &'a str,
    currency: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    balance: Option<&'a str>,
    direction: Direction,
    class: TransactionClass,
    sub_class: SubClassView<'a>,
    account: &'a str,
    connection: &'a str,
    institution: &'a str,
    post_date: &'a str,
    /// Empty when the institution gave none.
    transaction_date: &'a str,
    enrich: EnrichView,
    links: TransactionLinks,
}

#[derive(Debug, Serialize)]
struct TransactionLinks {
    #[serde(rename = "self")]
    self_: String,
    account: String,
    connection: String,
    institution: String,
}

impl<'a> TransactionView<'a> {
    pub fn new(user: &UserId, t: &'a Transaction, ctx: &Context) -> Self {
        let user_url = ctx.user_url(user);
        Self {
            kind: "transaction",
            id: t.id.as_str(),
            status: t.status,
            description: t.description.as_str(),
            reference: t.reference.as_ref().map_or("", |r| r.as_str()),
            amount: t.amount.as_str(),
            currency: t.currency.as_str(),
            balance: t.balance.as_ref().map(|b| b.as_str()),
            direction: t.direction,
            class: t.class,
            sub_class: t.sub_class.as_ref().map_or_else(
                SubClassView::default,
                |s: &'a SubClass| SubClassView {
                    code: Some(s.code.as_str()),
                    title: Some(s.title.as_str()),
                },
            ),
            account: t.account.as_str(),
            connection: t.connection.as_str(),
            institution: t.institution.as_str(),
            post_date: t.post_date.as_str(),
            transaction_date: t.transaction_date.as_ref().map_or("", |d| d.as_str()),
            enrich: NOT_ENRICHED,
            links: TransactionLinks {
                self_: format!("{user_url}/transactions/{}", t.id),
                account: format!("{user_url}/accounts/{}", t.account),
                connection: format!("{user_url}/connections/{}", t.connection),
                institution: institution_url(ctx, t.institution.as_str()),
            },
        }
    }
}
