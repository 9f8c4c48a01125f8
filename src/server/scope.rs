//! The current session of a task: [`current_token`], and [`TokenScope`], the future
//! wrapper that makes a session current while it is polled.
//!
//! While a request runs inside [`SessionLayer`](crate::SessionLayer), the layer makes its
//! session the *current* one for that task: [`current_token`] returns its token, and
//! [`PropagateSessionLayer`](crate::propagate::PropagateSessionLayer) mints a token from it, or
//! forwards it, on outgoing requests. The token is the freshest one: after a login or a due
//! refresh in the same request it is the new token, the very one the client will receive.
//!
//! Work handed to another task (`tokio::spawn`) leaves that scope. Run it inside
//! [`SessionHandle::scope`](crate::SessionHandle::scope) (for minting and forwarding alike);
//! when forwarding, the token itself also works: take it with
//! [`SessionHandle::token`](crate::SessionHandle::token) and run the task inside
//! [`SessionToken::scope`], or put it into the outgoing request's extensions.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::token::SessionToken;
use crate::keys::KeyRingHandle;
use crate::token::MintedClaims;

/// Something that can tell the current session token: a request's session, or a fixed
/// token for a spawned task.
pub(crate) trait TokenSource: Send + Sync {
    /// The session's token as it stands now, to forward.
    fn current(&self) -> Option<SessionToken>;

    /// Shows the session to `f`, for minting; `false` (and `f` not called) when there is
    /// no session, or only a token (which cannot be minted from).
    fn view(&self, f: &mut dyn FnMut(&SessionView<'_>)) -> bool {
        let _ = f;
        false
    }
}

/// A session as a minter sees it, borrowed for the length of one mint.
pub(crate) struct SessionView<'a> {
    /// The session's current token: the key of the mint cache (it changes whenever the
    /// session's data, id or deadlines do).
    pub(crate) token: &'a [u8],
    /// The session's claims: a `Claims<T>` of the layer's session type.
    pub(crate) claims: &'a (dyn Any + Send + Sync),
    /// On a downstream service, the minted token the session came in.
    pub(crate) minted: Option<&'a MintedClaims>,
    /// The keys the session layer verifies with (a minting key must not be among them
    /// unless it is an asymmetric one).
    pub(crate) session_keys: &'a KeyRingHandle,
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
    current_source()?.current()
}

/// The task's current session source, if any.
pub(crate) fn current_source() -> Option<Arc<dyn TokenSource>> {
    CURRENT.with(|current| current.borrow().clone())
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
}
