//! Operators' roles, as the identity provider's role claim names them.

use std::fmt;

/// What an operator may do: each role may do all that the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads users, their financial data and events.
    Viewer,
    /// Also creates, updates and deletes users.
    Editor,
    /// Also manages API keys and webhooks, and reads the audit trail.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    /// The role a group or role name stands for (exactly `admin`, `editor`
    /// or `viewer`; any other name is not one of ours).
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// The highest of the roles `names` name: an operator in several groups
    /// has the most any of them gives. `None` when no name is a role.
    pub fn highest<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Role> {
        names.into_iter().filter_map(Role::parse).max()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_named_role_wins_and_other_names_give_none() {
        assert_eq!(Role::highest(["viewer", "admin", "x"]), Some(Role::Admin));
        assert_eq!(Role::highest(["editor", "viewer"]), Some(Role::Editor));
        assert_eq!(Role::highest(["Admin", "admins", " admin"]), None);
        assert_eq!(Role::highest([]), None);
    }
}
