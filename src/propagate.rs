//! The current session token, for calls to downstream services.
//!
//! While a request runs inside [`SessionLayer`](crate::SessionLayer), the layer makes its
//! session the *current* one for that task: [`current_token`] returns its token, and
//! [`PropagateSessionLayer`](crate::PropagateSessionLayer) attaches it to outgoing requests.
//! The token is the freshest one: after a login or a due refresh in the same request it is
//! the new token, the very one the client will receive.
//!
//! Work handed to another task (`tokio::spawn`) leaves that scope. Take the token with
//! [`SessionHandle::token`](crate::SessionHandle::token) and either run the task inside
//! [`SessionToken::scope`] or put the token into the outgoing request's extensions.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderValue;
use pin_project_lite::pin_project;

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

    /// Runs `future` with this token as the current session token (see [`current_token`]),
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

/// Something that can tell the current session token: a request's session, or a fixed
/// token for a spawned task.
pub(crate) trait TokenSource: Send + Sync {
    fn current(&self) -> Option<SessionToken>;
}

impl TokenSource for SessionToken {
    fn current(&self) -> Option<SessionToken> {
        Some(self.clone())
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<dyn TokenSource>>> = const { RefCell::new(None) };
}

/// The session token of the request this code runs in, if any: the one the surrounding
/// [`SessionLayer`](crate::SessionLayer) verified, or the new one after a login or a due
/// refresh in this request, or the token of an enclosing [`SessionToken::scope`].
///
/// `None` outside such a scope (for example in a task spawned with `tokio::spawn`) and when
/// the request has no session.
pub fn current_token() -> Option<SessionToken> {
    let source = CURRENT.with(|current| current.borrow().clone())?;
    source.current()
}

pin_project! {
    /// A future run with a current session token; see [`SessionToken::scope`].
    pub struct TokenScope<F> {
        #[pin]
        future: F,
        source: Option<Arc<dyn TokenSource>>,
    }
}

impl<F> TokenScope<F> {
    pub(crate) fn new(future: F, source: Arc<dyn TokenSource>) -> Self {
        TokenScope {
            future,
            source: Some(source),
        }
    }
}

/// Puts the scope's source back into the future when a poll ends, even by panic.
struct Restore<'a> {
    slot: &'a mut Option<Arc<dyn TokenSource>>,
    previous: Option<Arc<dyn TokenSource>>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let ours = CURRENT.with(|current| current.replace(previous));
        *self.slot = ours;
    }
}

impl<F: Future> Future for TokenScope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // Move (not clone) the source into the thread-local for the length of this poll.
        let previous = CURRENT.with(|current| current.replace(this.source.take()));
        let _restore = Restore {
            slot: this.source,
            previous,
        };
        this.future.poll(cx)
    }
}

impl<F> fmt::Debug for TokenScope<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenScope").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
    }

    #[test]
    fn scopes_nest_and_restore() {
        let outer = SessionToken::new("outer.token.x");
        let inner = SessionToken::new("inner.token.y");
        assert_eq!(current_token(), None);
        let seen = block_on(outer.clone().scope(async move {
            let before = current_token();
            let nested = inner.scope(async { current_token() }).await;
            let after = current_token();
            (before, nested, after)
        }));
        assert_eq!(
            seen.0.as_ref().map(SessionToken::as_str),
            Some("outer.token.x")
        );
        assert_eq!(
            seen.1.as_ref().map(SessionToken::as_str),
            Some("inner.token.y")
        );
        assert_eq!(
            seen.2.as_ref().map(SessionToken::as_str),
            Some("outer.token.x")
        );
        assert_eq!(current_token(), None, "the scope ends with its future");
    }

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
