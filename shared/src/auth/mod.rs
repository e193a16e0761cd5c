//! Who may do what, decided here and nowhere else.
//!
//! Two kinds of callers hold bearer tokens:
//! - **servers**, with tokens bought with an API key (`POST /token`), as in
//!   Basiq: `SERVER_ACCESS` for a backend, `CLIENT_ACCESS` bound to one user;
//! - **operators**, people signed in to the dashboard through the
//!   organisation's OpenID provider, whose ID token carries their role.
//!
//! Every handler names what its operation needs ([`Need`]) and asks
//! [`Caller::require`]; the matrix of who gets what is [`Caller::allows`].

mod actor;
mod api_key;
mod key_check;
mod operator;
mod role;
mod token;

pub use actor::{Actor, Stamp};
pub use api_key::{ApiKey, ApiKeyRecord, MAX_API_KEYS};
pub use key_check::{KeyCheck, KeyState};
pub use operator::{Oidc, Operator, OperatorVerifier};
pub use role::Role;
pub use token::{Claims, Scope, TokenSigner, TOKEN_LIFETIME_SECONDS};

use lambda_http::http::header;
use lambda_http::Request;

use crate::audit::{Action, Entry};
use crate::config::App;
use crate::error::ApiError;
use crate::http::request::Context;
use crate::user::UserId;

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// One user and what it owns: any server token, a `CLIENT_ACCESS` token
    /// for that user, any operator.
    Read(UserId),
    /// Reading across users (search, events): any server token, any operator.
    Browse,
    /// Creating, changing and deleting users and their connections: server
    /// tokens, editors and admins.
    Change,
    /// Webhook subscriptions: server tokens and admins.
    Webhooks,
    /// API keys and the audit trail: admins only. A key never manages keys
    /// (a leaked one could otherwise mint its own successors) and never
    /// reads the record of what was done with it.
    Admin,
}

/// Who is asking, as their token proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A token of ours, bought with an API key; `key_name` is that key's
    /// name, as the key check read it.
    Key {
        claims: Claims,
        key_name: Option<String>,
    },
    /// A person, signed in through the identity provider.
    Operator(Operator),
}

impl Caller {
    /// Whether this caller may do what an operation needs: the one matrix
    /// of roles and endpoints.
    pub fn allows(&self, need: Need) -> bool {
        match self {
            Caller::Key { claims, .. } => match (claims.scope, need) {
                (_, Need::Admin) => false,
                (Scope::ServerAccess, _) => true,
                (Scope::ClientAccess, Need::Read(user)) => claims.user_id == Some(user),
                (Scope::ClientAccess, _) => false,
            },
            Caller::Operator(operator) => match need {
                Need::Read(_) | Need::Browse => true,
                Need::Change => operator.role >= Role::Editor,
                Need::Webhooks | Need::Admin => operator.role >= Role::Admin,
            },
        }
    }

    /// [`Caller::allows`], as an answer: 403 when not.
    pub fn require(&self, need: Need) -> Result<(), ApiError> {
        if self.allows(need) {
            return Ok(());
        }
        Err(ApiError::Forbidden(match (self, need) {
            (Caller::Operator(_), _) => "Your role does not allow this.",
            (Caller::Key { .. }, Need::Admin) => {
                "Only an admin operator, signed in to the dashboard, may do this."
            }
            (Caller::Key { .. }, _) => "This token does not give access to this resource.",
        }))
    }

    /// Who acts, as items and the audit trail record it (ids only).
    pub fn actor(&self) -> Actor {
        Actor::of(self)
    }

    /// A readable name for the actor: an operator's email (or name), an API
    /// key's name. The audit trail shows it beside the actor's id.
    pub fn display_name(&self) -> Option<String> {
        match self {
            Caller::Key { key_name, .. } => key_name.clone(),
            Caller::Operator(operator) => operator.email.clone().or_else(|| operator.name.clone()),
        }
    }

    /// What a caller's records (an idempotency key, say) are scoped to: the
    /// API key, or the operator.
    pub fn principal(&self) -> String {
        match self {
            Caller::Key { claims, .. } => claims.sub.clone(),
            Caller::Operator(_) => self.actor().as_str().to_owned(),
        }
    }
}

/// The request's bearer token: `Authorization: Bearer <token>`.
pub fn bearer(req: &Request) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized)?;
    let text = value.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (kind, token) = text.split_once(' ').ok_or(ApiError::InvalidToken)?;
    if !kind.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::InvalidToken);
    }
    Ok(token.trim())
}

/// The request's bearer token, checked: who is asking. Runs before anything
/// else reads the request, so an unauthenticated caller learns nothing more.
///
/// A token we signed (HS256) is a server's: its key must still be active
/// (revocation and expiry, through the key check's cache). Any other is an
/// operator's, checked against the identity provider's keys.
pub async fn authenticate(app: &App, req: &Request) -> Result<Caller, ApiError> {
    let token = bearer(req)?;
    if token::is_ours(token) {
        let claims = app.config.tokens()?.verify(token)?;
        return match app.key_check.active_name(&app.store, &claims.sub).await {
            Ok(key_name) => Ok(Caller::Key { claims, key_name }),
            // A genuine token of a key revoked, expired or deleted since: a
            // failed use of that key, for the audit trail.
            Err(ApiError::InvalidToken) => {
                let ctx = Context::of(req, app.config.public_base_url.as_deref());
                let stamp = Stamp::of(Actor::claimed(&claims.sub), None, &ctx);
                let entry = Entry::new(Action::ApiKeyRefused, stamp)
                    .target("apiKey", claims.sub.trim_start_matches("key:"))
                    .reason("token of a key no longer active");
                app.store
                    .append_audit(&entry, app.config.audit_retention_days)
                    .await?;
                Err(ApiError::InvalidToken)
            }
            Err(err) => Err(err),
        };
    }
    match &app.operators {
        Some(verifier) => verifier.verify(token).await.map(Caller::Operator),
        None => Err(ApiError::InvalidToken),
    }
}

/// Why a sign-in was refused, and who the token named when that much held
/// (an operator whose token verified but expired or has no role, an API
/// key's token): what the audit trail records of the attempt.
#[derive(Debug)]
pub struct SignInRefused {
    pub error: ApiError,
    pub actor: Option<Actor>,
    /// Why, as the audit trail says it: a fixed phrase.
    pub reason: &'static str,
}

/// The audit trail's phrase for an operator's token refused with `error`.
fn refusal(error: &ApiError) -> &'static str {
    match error {
        ApiError::TokenExpired => "token expired",
        ApiError::Forbidden(_) => "no role",
        _ => "token not valid",
    }
}

/// For `POST /sign-ins`: the operator the request's token proves. API-key
/// tokens are refused here (403): keys are for servers.
pub async fn operator_of(app: &App, req: &Request) -> Result<Operator, SignInRefused> {
    let refused = |error, actor| SignInRefused {
        reason: refusal(&error),
        error,
        actor,
    };
    let token = bearer(req).map_err(|e| refused(e, None))?;
    if token::is_ours(token) {
        return match authenticate(app, req).await {
            Ok(caller) => Err(SignInRefused {
                error: ApiError::Forbidden(
                    "Sign in to the dashboard through your identity provider; API keys are for servers.",
                ),
                actor: Some(caller.actor()),
                reason: "API-key token",
            }),
            Err(error) => Err(refused(error, None)),
        };
    }
    let Some(verifier) = &app.operators else {
        return Err(refused(ApiError::InvalidToken, None));
    };
    verifier.check(token).await.map_err(|refusal| {
        let actor = refusal.subject.as_deref().map(Actor::operator);
        refused(refusal.error, actor)
    })
}
