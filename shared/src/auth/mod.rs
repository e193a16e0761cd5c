//! Who may do what. API keys are exchanged for short-lived tokens (`POST
//! /token`), as Basiq does: `SERVER_ACCESS` for a backend, `CLIENT_ACCESS`
//! bound to one user. Every other endpoint checks its token here, in one place.

mod actor;
mod api_key;
mod token;

pub use actor::{Actor, Stamp};
pub use api_key::ApiKey;
pub use token::{Claims, Scope, TokenSigner, TOKEN_LIFETIME_SECONDS};

use lambda_http::http::header;
use lambda_http::Request;

use crate::error::ApiError;
use crate::user::UserId;

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Writes, search, anything across users: `SERVER_ACCESS`.
    Server,
    /// Reading one user and what it owns: `SERVER_ACCESS`, or `CLIENT_ACCESS` for that user.
    Read(UserId),
}

/// The request's bearer token, checked: who is asking. Runs before anything
/// else reads the request, so an unauthenticated caller learns nothing more.
pub fn authenticate(req: &Request, signer: &TokenSigner) -> Result<Claims, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized)?;
    let text = value.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (kind, token) = text.split_once(' ').ok_or(ApiError::InvalidToken)?;
    if !kind.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::InvalidToken);
    }
    signer.verify(token.trim())
}

impl Claims {
    /// Whether these claims allow what the operation needs.
    pub fn require(&self, need: Need) -> Result<(), ApiError> {
        let allowed = match (self.scope, need) {
            (Scope::ServerAccess, _) => true,
            (Scope::ClientAccess, Need::Read(user)) => self.user_id == Some(user),
            (Scope::ClientAccess, Need::Server) => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "This token does not give access to this resource.",
            ))
        }
    }
}
