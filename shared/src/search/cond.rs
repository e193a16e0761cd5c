//! Conditions on the folded search attributes of a profile, which can be
//! written as a DynamoDB expression or evaluated on an item in memory (to
//! drop a user from one stream when an earlier stream already returned it).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    Eq(&'static str, String),
    Prefix(&'static str, String),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

/// Placeholders for names and values, shared with the key condition.
#[derive(Debug, Default)]
pub struct Placeholders {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Placeholders {
    pub fn name(&mut self, attr: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return placeholder.clone();
        }
        let placeholder = format!("#a{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    pub fn value(&mut self, value: &str) -> String {
        let placeholder = format!(":c{}", self.values.len());
        self.values
            .insert(placeholder.clone(), AttributeValue::S(value.to_owned()));
        placeholder
    }
}

impl Cond {
    pub fn expression(&self, p: &mut Placeholders) -> String {
        match self {
            Cond::Eq(attr, value) => format!("{} = {}", p.name(attr), p.value(value)),
            Cond::Prefix(attr, value) => {
                format!("begins_with({}, {})", p.name(attr), p.value(value))
            }
            Cond::And(parts) => join(parts, " AND ", p),
            Cond::Or(parts) => join(parts, " OR ", p),
        }
    }

    pub fn matches(&self, item: &HashMap<String, AttributeValue>) -> bool {
        let text = |attr: &str| item.get(attr).and_then(|v| v.as_s().ok());
        match self {
            Cond::Eq(attr, value) => text(attr) == Some(value),
            Cond::Prefix(attr, value) => text(attr).is_some_and(|t| t.starts_with(value.as_str())),
            Cond::And(parts) => parts.iter().all(|c| c.matches(item)),
            Cond::Or(parts) => parts.iter().any(|c| c.matches(item)),
        }
    }
}

fn join(parts: &[Cond], separator: &str, p: &mut Placeholders) -> String {
    let parts: Vec<String> = parts
        .iter()
        .map(|c| format!("({})", c.expression(p)))
        .collect();
    parts.join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_and_evaluation_agree() {
        let cond = Cond::Or(vec![
            Cond::Prefix("firstNameKey", "gav".into()),
            Cond::And(vec![
                Cond::Eq("emailKey", "g@h.co".into()),
                Cond::Prefix("lastNameKey", "bel".into()),
            ]),
        ]);
        let mut p = Placeholders::default();
        assert_eq!(
            cond.expression(&mut p),
            "(begins_with(#a0, :c0)) OR ((#a1 = :c1) AND (begins_with(#a2, :c2)))"
        );
        let item = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
                .collect::<HashMap<_, _>>()
        };
        assert!(cond.matches(&item(&[("firstNameKey", "gavin\u{1f}x")])));
        assert!(cond.matches(&item(&[("emailKey", "g@h.co"), ("lastNameKey", "belson")])));
        assert!(!cond.matches(&item(&[("emailKey", "g@h.co"), ("lastNameKey", "hooli")])));
        assert!(!cond.matches(&item(&[])));
    }
}
