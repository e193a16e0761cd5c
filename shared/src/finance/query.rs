//! Which records to list, from Basiq's filter syntax. For transactions,
//! `account.id.eq('…')` and `transaction.postDate.bt('…','…')`, `.gt`, `.lt`,
//! `.eq`, each of which becomes a bound on a local index's sort key. For
//! connections and accounts, `eq` and `ne` on their ids, institution and
//! status, tested on the few records of a user that one Query reads anyway.

use super::{Account, Connection, ConnectionStatus, Day, RecordId, Timestamp};
use crate::error::{ApiError, Invalid};
use crate::filter;

/// Optionally one account, optionally a date range given as inclusive
/// bounds on the date part of the index key (`<postDate>#<id>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionQuery {
    pub account: Option<RecordId>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The lowest and highest key text for one filter value. A date covers its
/// whole day; a date and time is one instant (any id after it).
fn bounds(value: &str) -> Result<(String, String), Invalid> {
    if let Ok(day) = Day::parse(value) {
        return Ok((day.as_str().to_owned(), format!("{}~", day.as_str())));
    }
    let at = Timestamp::parse(value).map_err(|_| {
        Invalid::new("Dates must be YYYY-MM-DD or RFC 3339, such as 2024-01-15T09:30:00Z.")
    })?;
    Ok((at.as_str().to_owned(), format!("{}#~", at.as_str())))
}

impl TransactionQuery {
    pub fn parse_filter(text: &str) -> Result<Self, ApiError> {
        let bad = |detail: &str| ApiError::from(Invalid::new(detail).at_parameter("filter"));
        let mut query = Self::default();
        for clause in filter::parse(text).map_err(|d| bad(&d))? {
            let values: Vec<&str> = clause.values.iter().map(String::as_str).collect();
            match (clause.path.as_str(), clause.op.as_str(), values.as_slice()) {
                ("account.id", "eq", [id]) => {
                    let id = RecordId::parse(id).map_err(|e| ApiError::from(e.at_parameter("filter")))?;
                    if query.account.replace(id).is_some() {
                        return Err(bad("account.id may be given once."));
                    }
                }
                ("transaction.postDate", op, values) => {
                    let b = |v: &str| bounds(v).map_err(|e| ApiError::from(e.at_parameter("filter")));
                    let (from, to) = match (op, values) {
                        ("bt", [low, high]) => (Some(b(low)?.0), Some(b(high)?.1)),
                        ("gt", [low]) => (Some(b(low)?.1), None),
                        ("lt", [high]) => (None, Some(b(high)?.0)),
                        ("eq", [day]) => {
                            let (low, high) = b(day)?;
                            (Some(low), Some(high))
                        }
                        _ => return Err(bad("transaction.postDate takes bt('from','to'), gt('…'), lt('…') or eq('…').")),
                    };
                    query.tighten(from, to);
                }
                _ => {
                    return Err(bad(
                        "Transactions can be filtered by account.id.eq('…') and transaction.postDate.bt/gt/lt/eq.",
                    ))
                }
            }
        }
        Ok(query)
    }

    fn tighten(&mut self, from: Option<String>, to: Option<String>) {
        if let Some(from) = from {
            self.from = Some(self.from.take().map_or(from.clone(), |f| f.max(from)));
        }
        if let Some(to) = to {
            self.to = Some(self.to.take().map_or(to.clone(), |t| t.min(to)));
        }
    }
}

/// What a connection or account clause compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    AccountId,
    ConnectionId,
    ConnectionStatus,
    InstitutionId,
}

impl Field {
    fn path(self) -> &'static str {
        match self {
            Self::AccountId => "account.id",
            Self::ConnectionId => "connection.id",
            Self::ConnectionStatus => "connection.status",
            Self::InstitutionId => "institution.id",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    field: Field,
    equal: bool,
    value: String,
}

/// Which of a user's connections or accounts to list: Basiq's `eq` and `ne`
/// clauses, all of which must hold. Anything else is refused (400), so a
/// filter is never silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    clauses: Vec<Clause>,
}

impl RecordFilter {
    /// `account.id`, `connection.id` and `institution.id`.
    pub fn for_accounts(text: &str) -> Result<Self, ApiError> {
        Self::parse(
            text,
            &[Field::AccountId, Field::ConnectionId, Field::InstitutionId],
        )
    }

    /// `connection.id`, `connection.status` and `institution.id`.
    pub fn for_connections(text: &str) -> Result<Self, ApiError> {
        Self::parse(
            text,
            &[
                Field::ConnectionId,
                Field::ConnectionStatus,
                Field::InstitutionId,
            ],
        )
    }

    fn parse(text: &str, fields: &[Field]) -> Result<Self, ApiError> {
        let bad = |detail: String| ApiError::from(Invalid::new(detail).at_parameter("filter"));
        let mut clauses = Vec::new();
        for clause in filter::parse(text).map_err(bad)? {
            let Some(&field) = fields.iter().find(|f| f.path() == clause.path) else {
                let paths: Vec<&str> = fields.iter().map(|f| f.path()).collect();
                return Err(bad(format!(
                    "Filter by {}, with eq('…') or ne('…').",
                    paths.join(", ")
                )));
            };
            let equal = match clause.op.as_str() {
                "eq" => true,
                "ne" => false,
                _ => return Err(bad(format!("{} takes eq('…') or ne('…').", field.path()))),
            };
            let [value] = clause.values.as_slice() else {
                return Err(bad(format!("{} takes one value.", field.path())));
            };
            let value = match field {
                Field::ConnectionStatus => ConnectionStatus::parse(value)
                    .ok_or_else(|| bad("connection.status is active, pending or invalid.".into()))?
                    .as_str()
                    .to_owned(),
                _ => RecordId::parse(value)
                    .map_err(|e| ApiError::from(e.at_parameter("filter")))?
                    .as_str()
                    .to_owned(),
            };
            clauses.push(Clause {
                field,
                equal,
                value,
            });
        }
        Ok(Self { clauses })
    }

    fn keeps(&self, value_of: impl Fn(Field) -> String) -> bool {
        self.clauses
            .iter()
            .all(|c| (value_of(c.field) == c.value) == c.equal)
    }

    pub fn keeps_account(&self, account: &Account) -> bool {
        self.keeps(|field| match field {
            Field::AccountId => account.id.as_str().to_owned(),
            Field::ConnectionId => account.connection.as_str().to_owned(),
            Field::InstitutionId => account.institution.as_str().to_owned(),
            Field::ConnectionStatus => String::new(),
        })
    }

    pub fn keeps_connection(&self, connection: &Connection) -> bool {
        self.keeps(|field| match field {
            Field::ConnectionId => connection.id.as_str().to_owned(),
            Field::ConnectionStatus => connection.status.as_str().to_owned(),
            Field::InstitutionId => connection.institution.id.as_str().to_owned(),
            Field::AccountId => String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_become_key_bounds() {
        let q = TransactionQuery::parse_filter(
            "account.id.eq('acc-1'),transaction.postDate.bt('2024-01-01','2024-01-31')",
        )
        .unwrap();
        assert_eq!(q.account.unwrap().as_str(), "acc-1");
        assert_eq!(q.from.as_deref(), Some("2024-01-01"));
        assert_eq!(q.to.as_deref(), Some("2024-01-31~"));

        let q =
            TransactionQuery::parse_filter("transaction.postDate.gt('2024-01-15T10:00:00+10:00')")
                .unwrap();
        assert_eq!(q.from.as_deref(), Some("2024-01-15T00:00:00.000Z#~"));
        let q = TransactionQuery::parse_filter(
            "transaction.postDate.lt('2024-02-01'),transaction.postDate.lt('2024-01-20')",
        )
        .unwrap();
        assert_eq!(q.to.as_deref(), Some("2024-01-20"));
    }

    #[test]
    fn bad_transaction_filters_are_rejected() {
        for bad in [
            "account.id.eq('a/b')",
            "transaction.postDate.bt('2024-01-01')",
            "transaction.postDate.gt('yesterday')",
            "transaction.amount.gt('10')",
            "user.id.eq('x')",
            "account.id.eq('a'),account.id.eq('b')",
        ] {
            assert!(TransactionQuery::parse_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_names_are_those_serde_writes() {
        for status in ConnectionStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                status.as_str(),
                "{status:?}"
            );
            assert_eq!(ConnectionStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn record_filters_take_eq_and_ne_on_their_fields_only() {
        assert!(RecordFilter::for_accounts("account.id.eq('a'),connection.id.ne('c')").is_ok());
        assert!(RecordFilter::for_connections("connection.status.ne('invalid')").is_ok());
        for bad in [
            "connection.status.eq('active')",
            "account.id.gt('a')",
            "account.id.eq('a','b')",
            "institution.id.eq('')",
            "account.id",
        ] {
            assert!(RecordFilter::for_accounts(bad).is_err(), "{bad}");
        }
        for bad in ["account.id.eq('a')", "connection.status.eq('Active')"] {
            assert!(RecordFilter::for_connections(bad).is_err(), "{bad}");
        }
    }
}
