//! Who made a write, as the items it wrote record it.

use std::fmt;

use super::{Caller, Scope};
use crate::http::request::Context;

/// The one who made a write: `key:<id>` for a `SERVER_ACCESS` token (the
/// API key that bought it, as its `sub` names it), `user:<id>` for a
/// `CLIENT_ACCESS` token (the user it is bound to), `operator:<sub>` for a
/// person signed in through the identity provider (its subject there).
/// Items keep it, and the events and the audit trail show it, so it is
/// built only from ids that reveal nothing: never an email, a name, a
/// mobile or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// The actor of a caller.
    pub fn of(caller: &Caller) -> Self {
        match caller {
            Caller::Key { claims, .. } => match (claims.scope, claims.user_id) {
                (Scope::ClientAccess, Some(user)) => Self(format!("user:{user}")),
                // A verified CLIENT_ACCESS token always names its user; without
                // one, the key that bought the token is still who acted.
                (Scope::ClientAccess, None) | (Scope::ServerAccess, _) => Self(claims.sub.clone()),
            },
            Caller::Operator(operator) => Self::operator(&operator.subject),
        }
    }

    /// The operator whose provider subject is `subject`.
    pub fn operator(subject: &str) -> Self {
        Self(format!("operator:{subject}"))
    }

    /// An actor that proved nothing (a refused sign-in, a refused key): what
    /// it claimed to be, `anonymous` when it claimed nothing.
    pub fn claimed(text: &str) -> Self {
        if text.is_empty() {
            Self("anonymous".to_owned())
        } else {
            Self(text.to_owned())
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

/// What a write records of its request: who made it (the actor, and a
/// readable name: an operator's email, a key's name), the request's
/// correlation id (API Gateway's request id, in every log line and error
/// body), and where it came from (source IP and user agent), so that a
/// change can be traced to its caller, its request and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub actor: Actor,
    pub name: Option<String>,
    pub correlation_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Stamp {
    pub fn new(caller: &Caller, ctx: &Context) -> Self {
        Self::of(Actor::of(caller), caller.display_name(), ctx)
    }

    /// The stamp of a request whose caller proved nothing: `actor` is what
    /// it claimed to be.
    pub fn of(actor: Actor, name: Option<String>, ctx: &Context) -> Self {
        Self {
            actor,
            name,
            correlation_id: ctx.correlation_id.clone(),
            source_ip: ctx.source_ip.clone(),
            user_agent: ctx.user_agent.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Claims;
    use crate::user::UserId;

    fn caller(scope: Scope, user_id: Option<UserId>) -> Caller {
        Caller::Key {
            claims: claims(scope, user_id),
            key_name: Some("backend".into()),
        }
    }

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
        let ctx = Context {
            correlation_id: "req-1".into(),
            base_url: String::new(),
            source_ip: Some("192.0.2.1".into()),
            user_agent: Some("curl/8".into()),
        };
        let server = Stamp::new(&caller(Scope::ServerAccess, None), &ctx);
        assert_eq!(server.actor.as_str(), "key:0123456789abcdef");
        assert_eq!(server.name.as_deref(), Some("backend"));
        assert_eq!(server.correlation_id, "req-1");
        assert_eq!(server.source_ip.as_deref(), Some("192.0.2.1"));
        let client = Actor::of(&caller(Scope::ClientAccess, Some(user)));
        assert_eq!(client.to_string(), format!("user:{user}"));
        assert_eq!(
            Actor::of(&caller(Scope::ClientAccess, None)).as_str(),
            "key:0123456789abcdef"
        );
        let operator = Caller::Operator(crate::auth::Operator {
            subject: "abc-123".into(),
            email: Some("ada@example.test".into()),
            name: None,
            role: crate::auth::Role::Admin,
        });
        let stamp = Stamp::new(&operator, &ctx);
        assert_eq!(stamp.actor.as_str(), "operator:abc-123");
        assert_eq!(stamp.name.as_deref(), Some("ada@example.test"));
    }
}
