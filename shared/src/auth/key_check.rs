//! Whether the API key behind a token is still active: revoked and expired
//! keys lose their tokens too, not only their next `POST /token`.
//!
//! Tokens are signed and live an hour; checking the key on every request
//! would cost a read per request. Each function instance instead keeps what
//! it read of a key for `KEY_CHECK_SECONDS` (default 60). So a revoked key's
//! tokens stop working within that interval of the revocation: the bound
//! the README states and the tests hold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::error::ApiError;
use crate::store::Store;

/// What the key check needs of a stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    pub name: String,
    pub revoked: bool,
    pub expires_at: Option<OffsetDateTime>,
}

impl KeyState {
    /// Whether the key may be used at `now`.
    pub fn active_at(&self, now: OffsetDateTime) -> bool {
        !self.revoked && self.expires_at.is_none_or(|at| now < at)
    }
}

/// Each key id, when it was read, and what was read (`None`: no such key).
type Seen = HashMap<String, (Instant, Option<KeyState>)>;

/// The per-instance cache of keys' states.
#[derive(Debug, Clone)]
pub struct KeyCheck {
    ttl: Duration,
    seen: Arc<Mutex<Seen>>,
}

/// How many keys an instance remembers: beyond it, it forgets them all and
/// reads again (a bound on memory, whatever tokens come in).
const REMEMBERED: usize = 1024;

impl KeyCheck {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            seen: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The name of the key `subject` (`key:<id>`) names, when that key is
    /// active; a refusal (`InvalidToken`, as for any token that no longer
    /// holds) when it is revoked, expired or unknown.
    pub async fn active_name(
        &self,
        store: &Store,
        subject: &str,
    ) -> Result<Option<String>, ApiError> {
        let id = subject.strip_prefix("key:").ok_or(ApiError::InvalidToken)?;
        let state = match self.cached(id) {
            Some(state) => state,
            None => {
                let state = store.api_key_state(id).await?;
                self.remember(id, state.clone());
                state
            }
        };
        match state {
            Some(state) if state.active_at(OffsetDateTime::now_utc()) => Ok(Some(state.name)),
            _ => Err(ApiError::InvalidToken),
        }
    }

    fn cached(&self, id: &str) -> Option<Option<KeyState>> {
        let seen = self.seen.lock().ok()?;
        let (at, state) = seen.get(id)?;
        (at.elapsed() < self.ttl).then(|| state.clone())
    }

    fn remember(&self, id: &str, state: Option<KeyState>) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= REMEMBERED {
                seen.clear();
            }
            seen.insert(id.to_owned(), (Instant::now(), state));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_active_until_revoked_or_expired() {
        let now = OffsetDateTime::now_utc();
        let state = |revoked, expires_at| KeyState {
            name: "k".into(),
            revoked,
            expires_at,
        };
        assert!(state(false, None).active_at(now));
        assert!(state(false, Some(now + time::Duration::seconds(1))).active_at(now));
        assert!(!state(false, Some(now)).active_at(now));
        assert!(!state(true, None).active_at(now));
    }
}
