//! [`PropagateSession`]: the service that sets the token header on each outgoing request.

use std::task::{Context, Poll};

use http::{HeaderName, Request, header};
use tower_service::Service;

use super::layer::Mode;
use crate::metrics::PropagationMetrics;
use crate::server::SessionToken;
use crate::server::current_token;
use crate::server::scope::current_source;

/// The service built by [`PropagateSessionLayer`](super::PropagateSessionLayer). Sets the
/// token header in `call` and returns the inner service's future unchanged.
#[derive(Debug, Clone)]
pub struct PropagateSession<S> {
    inner: S,
    header: Option<HeaderName>,
    mode: Mode,
    metrics: PropagationMetrics,
}

/// How a call got its token: the one place to count propagated tokens (metrics hook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attached {
    /// The session token itself.
    Forwarded,
    /// A minted token: `fresh` when signed for this call, else from the cache.
    Minted { fresh: bool },
}

impl<S> PropagateSession<S> {
    pub(crate) fn new(
        inner: S,
        header: Option<HeaderName>,
        mode: Mode,
        metrics: PropagationMetrics,
    ) -> Self {
        PropagateSession {
            inner,
            header,
            mode,
            metrics,
        }
    }

    /// The wrapped client.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped client, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the client.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Finds the token for `request` and sets the header, unless the request carries one.
    fn attach<B>(&self, request: Request<B>) -> Request<B> {
        let name = self.header.as_ref().unwrap_or(&header::AUTHORIZATION);
        if request.headers().contains_key(name) {
            return request;
        }
        let (mut request, token) = match &self.mode {
            Mode::Forward => {
                let token = request
                    .extensions()
                    .get::<SessionToken>()
                    .cloned()
                    .or_else(current_token);
                (request, token.map(|t| (t, Attached::Forwarded)))
            }
            Mode::Mint { minter, audience } => {
                if request.extensions().get::<SessionToken>().is_some() {
                    explicit_token_not_forwarded();
                }
                let (request, audience) = audience.select(request);
                let minted = match (audience, current_source()) {
                    (None, _) => None,
                    (Some(_), None) => {
                        no_session_to_mint();
                        None
                    }
                    (Some(audience), Some(source)) => match minter.mint_from(&*source, &audience) {
                        Ok(minted) => Some(minted),
                        Err(error) => {
                            mint_failed(&error, &audience);
                            None
                        }
                    },
                };
                let token = minted.map(|m| (m.token, Attached::Minted { fresh: m.fresh }));
                (request, token)
            }
        };
        if let Some((token, how)) = token {
            let value = match &self.header {
                Some(_) => token.header_value(),
                None => token.bearer_value(),
            };
            request.headers_mut().insert(name.clone(), value);
            self.attached(how);
        }
        request
    }
}

impl<S> PropagateSession<S> {
    /// Called once for every outgoing request that got a token: counts it (feature
    /// `metrics`).
    fn attached(&self, how: Attached) {
        self.metrics.propagated(match how {
            Attached::Forwarded => None,
            Attached::Minted { fresh } => Some(fresh),
        });
    }
}

impl<S, B> Service<Request<B>> for PropagateSession<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let request = self.attach(request);
        self.inner.call(request)
    }
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn explicit_token_not_forwarded() {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        "a SessionToken in the request's extensions is not forwarded by a minting client; \
         run the task in SessionHandle::scope to mint for it"
    );
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn no_session_to_mint() {
    #[cfg(feature = "tracing")]
    tracing::debug!("no current session: the call goes out without a minted token");
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn mint_failed(error: &crate::propagate::MintError, audience: &crate::token::Audience) {
    #[cfg(feature = "tracing")]
    tracing::error!(
        %error,
        audience = audience.as_str(),
        "downstream token not minted; the call goes out without a token"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (error, audience);
}
