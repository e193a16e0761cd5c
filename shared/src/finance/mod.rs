//! A user's financial records: connections to institutions, their accounts,
//! and the accounts' transactions. Shapes follow Basiq's data API.

mod ingest;
mod query;
mod values;

pub use ingest::{decode_ingest, Ingest, MAX_ACCOUNTS, MAX_TRANSACTIONS};
pub use query::{RecordFilter, TransactionQuery};
pub use values::{
    Amount, Currency, Day, Description, MaskedAccountNo, RecordId, SubClassCode, Timestamp,
};

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

impl ConnectionStatus {
    const ALL: [Self; 3] = [Self::Active, Self::Pending, Self::Invalid];

    /// The name Basiq gives it, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Invalid => "invalid",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// How a connection reaches its institution, as Basiq names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionMethod {
    #[default]
    Web,
    OpenBanking,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: RecordId,
    pub institution: Institution,
    pub status: ConnectionStatus,
    #[serde(default)]
    pub method: ConnectionMethod,
    pub created_date: Timestamp,
    /// Set for open-banking connections (their consent's end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<Timestamp>,
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

/// How many customers own an account, as the data holder says (CDR's terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountOwnership {
    #[default]
    Unknown,
    OneParty,
    TwoParty,
    ManyParty,
    Other,
}

/// The days an account's transactions cover, first and last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionInterval {
    pub from: Day,
    pub to: Day,
}

fn owned_by_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: RecordId,
    pub connection: RecordId,
    /// The institution of its connection.
    pub institution: RecordId,
    pub name: Name,
    pub account_no: MaskedAccountNo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_holder: Option<Name>,
    /// Whether the user owns the account (Basiq assumes so when not told).
    #[serde(default = "owned_by_default")]
    pub is_owned: bool,
    #[serde(default)]
    pub account_ownership: AccountOwnership,
    pub balance: Amount,
    pub available_funds: Amount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_limit: Option<Amount>,
    pub currency: Currency,
    pub class: AccountClass,
    pub status: AccountStatus,
    pub last_updated: Timestamp,
    #[serde(default)]
    pub transaction_intervals: Vec<TransactionInterval>,
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

/// A payment's merchant category, or a bank fee's kind (Basiq's `subClass`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubClass {
    pub code: SubClassCode,
    pub title: Name,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub id: RecordId,
    pub account: RecordId,
    pub connection: RecordId,
    /// The institution of its connection.
    pub institution: RecordId,
    pub status: TransactionStatus,
    pub description: Description,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Description>,
    pub amount: Amount,
    /// The account's currency unless the ingest said otherwise.
    pub currency: Currency,
    /// The account's balance after it, when the institution gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Amount>,
    pub direction: Direction,
    pub class: TransactionClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_class: Option<SubClass>,
    pub post_date: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_date: Option<Timestamp>,
}
