//! A user's financial records: connections to institutions, their accounts,
//! and the accounts' transactions. Shapes follow Basiq's data API.

mod ingest;
mod query;
mod values;

pub use ingest::{decode_ingest, Ingest, MAX_ACCOUNTS, MAX_TRANSACTIONS};
pub use query::TransactionQuery;
pub use values::{Amount, Currency, Description, MaskedAccountNo, RecordId, Timestamp};

use serde::{Deserialize, Serialize};

use crate::user::Name;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Institution {
    pub id: RecordId,
    pub name: Name,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionStatus {
    Active,
    Pending,
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: RecordId,
    pub institution: Institution,
    pub status: ConnectionStatus,
    pub created_date: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountType {
    Transaction,
    Savings,
    CreditCard,
    Mortgage,
    Loan,
    Investment,
    TermDeposit,
    Insurance,
    Foreign,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountClass {
    #[serde(rename = "type")]
    pub kind: AccountType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Name>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountStatus {
    Available,
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: RecordId,
    pub connection: RecordId,
    pub name: Name,
    pub account_no: MaskedAccountNo,
    pub balance: Amount,
    pub available_funds: Amount,
    pub currency: Currency,
    pub class: AccountClass,
    pub status: AccountStatus,
    pub last_updated: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransactionStatus {
    Posted,
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Credit,
    Debit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransactionClass {
    BankFee,
    Payment,
    CashWithdrawal,
    Transfer,
    LoanInterest,
    Refund,
    DirectCredit,
    Interest,
    LoanRepayment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub id: RecordId,
    pub account: RecordId,
    pub connection: RecordId,
    pub status: TransactionStatus,
    pub description: Description,
    pub amount: Amount,
    pub direction: Direction,
    pub class: TransactionClass,
    pub post_date: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_date: Option<Timestamp>,
}
