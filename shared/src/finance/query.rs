//! Which transactions to list, from Basiq's filter syntax:
//! `account.id.eq('…')` and `transaction.postDate.bt('…','…')`, `.gt`, `.lt`, `.eq`.
//! Every criterion becomes a bound on a local index's sort key.

use super::{RecordId, Timestamp};
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
    let day = time::macros::format_description!("[year]-[month]-[day]");
    if time::Date::parse(value, day).is_ok() {
        return Ok((value.to_owned(), format!("{value}~")));
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
}
