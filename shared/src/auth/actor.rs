//! Who made a write, as the items it wrote record it.

use std::fmt;

use super::{Claims, Scope};

/// The one who made a write: `key:<id>` for a `SERVER_ACCESS` token (the
/// API key that bought it, as its `sub` names it), `user:<id>` for a
/// `CLIENT_ACCESS` token (the user it is bound to). Items keep it, and the
/// events and the audit trail show it, so it is built only from ids that
/// reveal nothing: never an email, a name, a mobile or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// The actor of a token's claims.
    pub fn of(claims: &Claims) -> Self {
        match (claims.scope, claims.user_id) {
            (Scope::ClientAccess, Some(user)) => Self(format!("user:{user}")),
            // A verified CLIENT_ACCESS token always names its user; without
            // one, the key that bought the token is still who acted.
            (Scope::ClientAccess, None) | (Scope::ServerAccess, _) => Self(claims.sub.clone()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a write records of its request: who made it and the request's
/// correlation id (API Gateway's request id, in every log line and error
/// body), so that a change can be traced to its caller and its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub actor: Actor,
    pub correlation_id: String,
}

impl Stamp {
    pub fn new(claims: &Claims, correlation_id: &str) -> Self {
        Self {
            actor: Actor::of(claims),
            correlation_id: correlation_id.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserId;

    fn claims(scope: Scope, user_id: Option<UserId>) -> Claims {
        Claims {
            sub: "key:0123456789abcdef".into(),
            scope,
            user_id,
            iat: 0,
            exp: 3600,
            jti: "jti".into(),
        }
    }

    #[test]
    fn a_server_token_acts_as_its_key_and_a_client_token_as_its_user() {
        let user = UserId::new();
        let server = Stamp::new(&claims(Scope::ServerAccess, None), "req-1");
        assert_eq!(server.actor.as_str(), "key:0123456789abcdef");
        assert_eq!(server.correlation_id, "req-1");
        let client = Actor::of(&claims(Scope::ClientAccess, Some(user)));
        assert_eq!(client.to_string(), format!("user:{user}"));
        assert_eq!(
            Actor::of(&claims(Scope::ClientAccess, None)).as_str(),
            "key:0123456789abcdef"
        );
    }
}
