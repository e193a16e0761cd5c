use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Invalid;

/// A user's id: a random (v4) UUID, always shown in its hyphenated lowercase form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(Uuid);

impl UserId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Accepts only the 36-character hyphenated form, so that one user has one
    /// spelling of its id in paths, keys and links.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.len() != 36 {
            return Err(Invalid::new("ID value is not valid."));
        }
        Uuid::try_parse(text)
            .map(Self)
            .map_err(|_| Invalid::new("ID value is not valid."))
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl TryFrom<String> for UserId {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_normalises_case() {
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()).unwrap(), id);
        let upper = id.to_string().to_uppercase();
        assert_eq!(UserId::parse(&upper).unwrap().to_string(), id.to_string());
    }

    #[test]
    fn rejects_other_spellings() {
        for bad in [
            "",
            "abc",
            "../../etc/passwd",
            "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
            "67e5504410b1426f9247bb680e5fe0c8",
            "67e55044-10b1-426f-9247-bb680e5fe0cz",
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
    }
}
