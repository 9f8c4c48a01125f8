//! [`SessionToken`]: a token ready to travel to a downstream service.

use std::fmt;
#[cfg(feature = "propagate")]
use std::future::Future;
#[cfg(feature = "propagate")]
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;

#[cfg(feature = "propagate")]
use super::scope::TokenScope;

const BEARER: &[u8] = b"Bearer ";

/// A session token, ready to send to a downstream service.
///
/// Cheap to clone. Its `Debug` output never shows the token; use [`as_str`] where the token
/// itself is needed.
///
/// [`as_str`]: SessionToken::as_str
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken {
    /// `"Bearer " + token`, so both header forms are zero-copy slices.
    bearer: Bytes,
}

impl SessionToken {
    /// Wraps a token. Tokens are base64url segments and dots: visible ASCII.
    pub(crate) fn new(token: &str) -> Self {
        let mut bearer = Vec::with_capacity(BEARER.len() + token.len());
        bearer.extend_from_slice(BEARER);
        bearer.extend_from_slice(token.as_bytes());
        SessionToken {
            bearer: Bytes::from(bearer),
        }
    }

    pub(crate) fn from_bytes(token: &[u8]) -> Option<Self> {
        std::str::from_utf8(token).ok().map(Self::new)
    }

    /// The token (a JWS compact serialization).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bearer[BEARER.len()..]).unwrap_or_default()
    }

    /// The token's length in bytes.
    pub fn len(&self) -> usize {
        self.bearer.len() - BEARER.len()
    }

    /// Whether the token is empty (never, for a token the layer produced).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The token as a header value, marked sensitive (for a named header).
    pub fn header_value(&self) -> HeaderValue {
        sensitive(self.bearer.slice(BEARER.len()..))
    }

    /// `Bearer <token>` as a header value, marked sensitive (for `Authorization`).
    pub fn bearer_value(&self) -> HeaderValue {
        sensitive(self.bearer.clone())
    }

    #[cfg(feature = "propagate")]
    /// Runs `future` with this token as the current session token (see [`current_token`](crate::propagate::current_token)),
    /// for work spawned off the request's task.
    ///
    /// ```
    /// # async fn example(session: tower_stateless_session::SessionHandle<serde_json::Value>) {
    /// if let Some(token) = session.token() {
    ///     tokio::spawn(token.scope(async move {
    ///         // Calls through a PropagateSessionLayer client here carry the token.
    ///     }));
    /// }
    /// # }
    /// ```
    pub fn scope<F: Future>(self, future: F) -> TokenScope<F> {
        TokenScope::new(future, Arc::new(self))
    }
}

/// The text is not a token that can travel in a header: it is empty or holds characters
/// other than visible ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSessionToken;

impl fmt::Display for InvalidSessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a session token is non-empty visible ASCII")
    }
}

impl std::error::Error for InvalidSessionToken {}

/// Wraps a token obtained elsewhere (a job queue, a test) for propagation. Only its shape
/// is checked here; the downstream service verifies it.
impl std::str::FromStr for SessionToken {
    type Err = InvalidSessionToken;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidSessionToken);
        }
        Ok(SessionToken::new(token))
    }
}

fn sensitive(bytes: Bytes) -> HeaderValue {
    // The bytes are visible ASCII (checked when the token was verified or signed), so this
    // conversion does not fail; an empty value is the harmless fallback.
    let mut value =
        HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionToken({} bytes, redacted)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_checks_the_shape_only() {
        assert!("a.b.c".parse::<SessionToken>().is_ok());
        for bad in ["", "a b", "a\nb", "é"] {
            assert_eq!(
                bad.parse::<SessionToken>(),
                Err(InvalidSessionToken),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn header_values_are_sensitive_and_debug_is_redacted() {
        let token = SessionToken::new("aaa.bbb.ccc");
        assert_eq!(token.bearer_value(), "Bearer aaa.bbb.ccc");
        assert!(token.bearer_value().is_sensitive());
        assert_eq!(token.header_value(), "aaa.bbb.ccc");
        assert!(token.header_value().is_sensitive());
        assert_eq!(token.len(), 11);
        let debug = format!("{token:?}");
        assert!(!debug.contains("aaa"), "{debug}");
    }
}
