//! Basiq's filter syntax: `entity.field.op('value'[, 'value'])`, clauses
//! separated by commas, meaning AND. Inside a value `\'` is a quote and `\\`
//! a backslash.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// `entity.field`, such as `user.firstName` or `transaction.postDate`.
    pub path: String,
    pub op: String,
    pub values: Vec<String>,
}

fn malformed() -> String {
    "Malformed filter; expected entity.field.op('value'), separated by commas.".to_owned()
}

pub fn parse(text: &str) -> Result<Vec<Clause>, String> {
    let mut clauses = Vec::new();
    let mut rest = text.trim();
    loop {
        let open = rest.find('(').ok_or_else(malformed)?;
        let (path, op) = rest[..open].rsplit_once('.').ok_or_else(malformed)?;
        let path_ok = path.split('.').count() == 2
            && path
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
        if !path_ok || op.is_empty() || !op.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(malformed());
        }
        let (values, tail) = parse_values(&rest[open + 1..])?;
        clauses.push(Clause {
            path: path.to_owned(),
            op: op.to_owned(),
            values,
        });
        if tail.is_empty() {
            return Ok(clauses);
        }
        rest = tail.strip_prefix(',').ok_or_else(malformed)?.trim_start();
    }
}

/// `'a', 'b')` and what follows the closing parenthesis.
fn parse_values(text: &str) -> Result<(Vec<String>, &str), String> {
    let mut values = Vec::new();
    let mut rest = text.trim_start();
    loop {
        let mut chars = rest.char_indices();
        if chars.next().map(|(_, c)| c) != Some('\'') {
            return Err(malformed());
        }
        let mut value = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, escaped @ ('\'' | '\\'))) => value.push(escaped),
                    _ => return Err(malformed()),
                },
                '\'' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        values.push(value);
        let after = rest[end.ok_or_else(malformed)? + 1..].trim_start();
        if let Some(tail) = after.strip_prefix(')') {
            return Ok((values, tail.trim_start()));
        }
        rest = after.strip_prefix(',').ok_or_else(malformed)?.trim_start();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(path: &str, op: &str, values: &[&str]) -> Clause {
        Clause {
            path: path.into(),
            op: op.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn clauses_parse() {
        assert_eq!(
            parse("user.firstName.eq('Gavin'), user.lastName.eq('O\\'Brien')").unwrap(),
            vec![
                clause("user.firstName", "eq", &["Gavin"]),
                clause("user.lastName", "eq", &["O'Brien"])
            ]
        );
        assert_eq!(
            parse("transaction.postDate.bt('2024-01-01','2024-02-01'),account.id.eq('a,b')")
                .unwrap(),
            vec![
                clause("transaction.postDate", "bt", &["2024-01-01", "2024-02-01"]),
                clause("account.id", "eq", &["a,b"])
            ]
        );
    }

    #[test]
    fn malformed_filters_are_rejected() {
        for bad in [
            "",
            "user.firstName",
            "user.firstName.eq(Gavin)",
            "user.firstName.eq('Gavin'",
            "user.firstName.eq('Gavin')x",
            "user.firstName.eq('Gavin'),",
            "user..eq('a')",
            "firstName.eq('a')",
            "a.b.c.eq('a')",
            "user.first-name.eq('a')",
            "user.firstName.eq('a\\x')",
            "user.firstName.('a')",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
