//! [`PropagateSession`]: the service that sets the token header on each outgoing request.

use std::task::{Context, Poll};

use http::{HeaderName, Request, header};
use tower_service::Service;

use super::scope::current_token;
use super::token::SessionToken;
use crate::metrics::PropagationMetrics;

/// The service built by [`PropagateSessionLayer`](super::PropagateSessionLayer). Returns the inner service's future
/// unchanged.
#[derive(Debug, Clone)]
pub struct PropagateSession<S> {
    inner: S,
    header: Option<HeaderName>,
    metrics: PropagationMetrics,
}

impl<S> PropagateSession<S> {
    pub(crate) fn new(inner: S, header: Option<HeaderName>, metrics: PropagationMetrics) -> Self {
        PropagateSession {
            inner,
            header,
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

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let name = self.header.as_ref().unwrap_or(&header::AUTHORIZATION);
        if !request.headers().contains_key(name) {
            let token = request
                .extensions()
                .get::<SessionToken>()
                .cloned()
                .or_else(current_token);
            if let Some(token) = token {
                let value = match &self.header {
                    Some(_) => token.header_value(),
                    None => token.bearer_value(),
                };
                request.headers_mut().insert(name.clone(), value);
                self.metrics.propagated();
            }
        }
        self.inner.call(request)
    }
}
