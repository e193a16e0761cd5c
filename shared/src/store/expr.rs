//! The one builder of DynamoDB expressions. Conditions ([`Cond`]) and
//! updates ([`Update`]) are values; [`Expr`] writes them into expression
//! text with a placeholder for every attribute name and every value, so no
//! name can clash with a reserved word and no value is ever part of the text.
//! A condition can also be evaluated on an item in memory, with the same
//! meaning it has in DynamoDB.

use std::cmp::Ordering;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use super::attrs::Item;
use crate::user::Patch;

/// Placeholders shared by every expression of one request.
#[derive(Debug, Default)]
pub(crate) struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// The placeholder of an attribute name, the same one each time it is asked for.
    pub fn name(&mut self, attr: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    /// A new placeholder for a value.
    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// A key condition, filter or condition expression.
    pub fn condition(&mut self, cond: &Cond) -> String {
        match cond {
            Cond::Eq(attr, value) => self.compare(attr, "=", value.clone()),
            Cond::Lt(attr, value) => self.compare(attr, "<", value.clone()),
            Cond::Le(attr, value) => self.compare(attr, "<=", value.clone()),
            Cond::BeginsWith(attr, prefix) => {
                let name = self.name(attr);
                let value = self.value(AttributeValue::S(prefix.clone()));
                format!("begins_with({name}, {value})")
            }
            Cond::Between(attr, low, high) => {
                let name = self.name(attr);
                let low = self.value(AttributeValue::S(low.clone()));
                let high = self.value(AttributeValue::S(high.clone()));
                format!("{name} BETWEEN {low} AND {high}")
            }
            Cond::Exists(attr) => format!("attribute_exists({})", self.name(attr)),
            Cond::NotExists(attr) => format!("attribute_not_exists({})", self.name(attr)),
            Cond::And(parts) => self.join(parts, " AND "),
            Cond::Or(parts) => self.join(parts, " OR "),
        }
    }

    fn compare(&mut self, attr: &str, op: &str, value: AttributeValue) -> String {
        let name = self.name(attr);
        let value = self.value(value);
        format!("{name} {op} {value}")
    }

    /// Parts joined by AND or OR. Only a nested AND or OR is parenthesised:
    /// a key condition must read `#pk = :pk AND …`, without parentheses.
    fn join(&mut self, parts: &[Cond], separator: &str) -> String {
        let parts: Vec<String> = parts
            .iter()
            .map(|c| match c {
                Cond::And(_) | Cond::Or(_) => format!("({})", self.condition(c)),
                _ => self.condition(c),
            })
            .collect();
        parts.join(separator)
    }

    /// An update expression: `SET …`, then `REMOVE …`, then `ADD …`.
    pub fn update(&mut self, update: &Update) -> String {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut add = Vec::new();
        for action in &update.actions {
            match action {
                Action::Set(attr, value) => {
                    let name = self.name(attr);
                    let value = self.value(value.clone());
                    set.push(format!("{name} = {value}"));
                }
                Action::SetIfAbsent(attr, value) => {
                    let name = self.name(attr);
                    let value = self.value(value.clone());
                    set.push(format!("{name} = if_not_exists({name}, {value})"));
                }
                Action::Increment(attr) => {
                    let name = self.name(attr);
                    let zero = self.value(AttributeValue::N("0".into()));
                    let one = self.value(AttributeValue::N("1".into()));
                    set.push(format!("{name} = if_not_exists({name}, {zero}) + {one}"));
                }
                Action::Remove(attr) => remove.push(self.name(attr)),
                Action::Add(attr, value) => {
                    let name = self.name(attr);
                    let value = self.value(value.clone());
                    add.push(format!("{name} {value}"));
                }
            }
        }
        let mut parts = Vec::new();
        if !set.is_empty() {
            parts.push(format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            parts.push(format!("REMOVE {}", remove.join(", ")));
        }
        if !add.is_empty() {
            parts.push(format!("ADD {}", add.join(", ")));
        }
        parts.join(" ")
    }

    /// A projection of these attributes.
    pub fn projection(&mut self, attrs: &[&str]) -> String {
        let names: Vec<String> = attrs.iter().map(|a| self.name(a)).collect();
        names.join(", ")
    }

    /// The names, for `expression_attribute_names` (`None` when there are none:
    /// DynamoDB refuses an empty map).
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The values, for `expression_attribute_values` (`None` when there are none).
    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// A condition on an item's attributes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Eq(&'static str, AttributeValue),
    Lt(&'static str, AttributeValue),
    Le(&'static str, AttributeValue),
    BeginsWith(&'static str, String),
    /// Inclusive at both ends, as DynamoDB's BETWEEN.
    Between(&'static str, String, String),
    Exists(&'static str),
    NotExists(&'static str),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    /// A string attribute equal to `value`.
    pub fn eq(attr: &'static str, value: impl Into<String>) -> Self {
        Cond::Eq(attr, AttributeValue::S(value.into()))
    }

    /// All of `conds`, or `None` when there are none.
    pub fn all(mut conds: Vec<Cond>) -> Option<Cond> {
        match conds.len() {
            0 => None,
            1 => conds.pop(),
            _ => Some(Cond::And(conds)),
        }
    }

    /// Whether the condition says anything about `attr`.
    pub fn names(&self, attr: &str) -> bool {
        match self {
            Cond::Eq(a, _)
            | Cond::Lt(a, _)
            | Cond::Le(a, _)
            | Cond::BeginsWith(a, _)
            | Cond::Between(a, _, _)
            | Cond::Exists(a)
            | Cond::NotExists(a) => *a == attr,
            Cond::And(parts) | Cond::Or(parts) => parts.iter().any(|c| c.names(attr)),
        }
    }

    /// Whether `item` satisfies the condition, as DynamoDB would decide.
    pub fn matches(&self, item: &Item) -> bool {
        let text = |attr: &str| item.get(attr).and_then(|v| v.as_s().ok());
        match self {
            Cond::Eq(attr, value) => item.get(*attr) == Some(value),
            Cond::Lt(attr, value) => order(item.get(*attr), value).is_some_and(Ordering::is_lt),
            Cond::Le(attr, value) => order(item.get(*attr), value).is_some_and(Ordering::is_le),
            Cond::BeginsWith(attr, prefix) => {
                text(attr).is_some_and(|t| t.starts_with(prefix.as_str()))
            }
            Cond::Between(attr, low, high) => text(attr).is_some_and(|t| low <= t && t <= high),
            Cond::Exists(attr) => item.contains_key(*attr),
            Cond::NotExists(attr) => !item.contains_key(*attr),
            Cond::And(parts) => parts.iter().all(|c| c.matches(item)),
            Cond::Or(parts) => parts.iter().any(|c| c.matches(item)),
        }
    }
}

/// How a stored value compares with `value`: strings by their text (as
/// DynamoDB compares them, by UTF-8 bytes), numbers by their value. Values of
/// different types do not compare, as in DynamoDB.
fn order(stored: Option<&AttributeValue>, value: &AttributeValue) -> Option<Ordering> {
    match (stored?, value) {
        (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (AttributeValue::N(a), AttributeValue::N(b)) => {
            a.parse::<f64>().ok()?.partial_cmp(&b.parse::<f64>().ok()?)
        }
        _ => None,
    }
}

#[derive(Debug, Clone)]
enum Action {
    Set(&'static str, AttributeValue),
    SetIfAbsent(&'static str, AttributeValue),
    Increment(&'static str),
    Remove(&'static str),
    Add(&'static str, AttributeValue),
}

/// The changes an UpdateItem makes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Update {
    actions: Vec<Action>,
}

impl Update {
    pub fn set(&mut self, attr: &'static str, value: AttributeValue) -> &mut Self {
        self.actions.push(Action::Set(attr, value));
        self
    }

    /// Sets the attribute only if it has no value yet.
    pub fn set_if_absent(&mut self, attr: &'static str, value: AttributeValue) -> &mut Self {
        self.actions.push(Action::SetIfAbsent(attr, value));
        self
    }

    /// Adds one to a number attribute (from zero, when it has none yet).
    pub fn increment(&mut self, attr: &'static str) -> &mut Self {
        self.actions.push(Action::Increment(attr));
        self
    }

    pub fn remove(&mut self, attr: &'static str) -> &mut Self {
        self.actions.push(Action::Remove(attr));
        self
    }

    /// Adds `value` to a number attribute, atomically (from zero, when it
    /// has none yet): sums that several writers make never lose a term.
    pub fn add(&mut self, attr: &'static str, value: AttributeValue) -> &mut Self {
        self.actions.push(Action::Add(attr, value));
        self
    }

    /// What a field of a partial update does to its attribute.
    pub fn patch<T: Serialize>(
        &mut self,
        attr: &'static str,
        patch: &Patch<T>,
    ) -> Result<&mut Self, serde_dynamo::Error> {
        match patch {
            Patch::Set(value) => self.set(attr, serde_dynamo::to_attribute_value(value)?),
            Patch::Clear => self.remove(attr),
            Patch::Keep => self,
        };
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect()
    }

    #[test]
    fn conditions_are_written_with_placeholders_and_agree_with_evaluation() {
        let cond = Cond::Or(vec![
            Cond::BeginsWith("firstNameKey", "gav".into()),
            Cond::And(vec![
                Cond::eq("emailKey", "g@h.co"),
                Cond::BeginsWith("lastNameKey", "bel".into()),
            ]),
        ]);
        let mut e = Expr::default();
        assert_eq!(
            e.condition(&cond),
            "begins_with(#n0, :v0) OR (#n1 = :v1 AND begins_with(#n2, :v2))"
        );
        assert_eq!(e.names().unwrap().len(), 3);
        assert!(cond.matches(&item(&[("firstNameKey", "gavin\u{1f}x")])));
        assert!(cond.matches(&item(&[("emailKey", "g@h.co"), ("lastNameKey", "belson")])));
        assert!(!cond.matches(&item(&[("emailKey", "g@h.co"), ("lastNameKey", "hooli")])));
        assert!(!cond.matches(&item(&[])));
    }

    #[test]
    fn ranges_and_existence_evaluate_as_dynamodb_does() {
        let i = item(&[("sk", "TXN#5")]);
        assert!(Cond::Between("sk", "TXN#1".into(), "TXN#5".into()).matches(&i));
        assert!(!Cond::Lt("sk", AttributeValue::S("TXN#5".into())).matches(&i));
        assert!(Cond::Le("sk", AttributeValue::S("TXN#5".into())).matches(&i));
        let mut numbered = i.clone();
        numbered.insert("expiresAt".into(), AttributeValue::N("9".into()));
        assert!(Cond::Lt("expiresAt", AttributeValue::N("10".into())).matches(&numbered));
        assert!(!Cond::Lt("expiresAt", AttributeValue::S("10".into())).matches(&numbered));
        assert!(Cond::Exists("sk").matches(&i) && Cond::NotExists("pk").matches(&i));
    }

    #[test]
    fn updates_set_then_remove_and_reuse_name_placeholders() {
        let mut u = Update::default();
        u.set("firstName", AttributeValue::S("G".into()))
            .remove("middleName")
            .increment("version")
            .set_if_absent("deletedAt", AttributeValue::S("t".into()));
        let mut e = Expr::default();
        assert_eq!(
            e.update(&u),
            "SET #n0 = :v0, #n2 = if_not_exists(#n2, :v1) + :v2, #n3 = if_not_exists(#n3, :v3) REMOVE #n1"
        );
        assert_eq!(e.values().unwrap().len(), 4);
        assert!(Expr::default().names().is_none());
    }

    #[test]
    fn additions_come_last_as_one_add_clause() {
        let mut u = Update::default();
        u.add("removedAccounts", AttributeValue::N("3".into()))
            .set("actor", AttributeValue::S("key:1".into()))
            .add("removedOther", AttributeValue::N("1".into()));
        let mut e = Expr::default();
        assert_eq!(e.update(&u), "SET #n1 = :v1 ADD #n0 :v0, #n2 :v2");
    }
}
