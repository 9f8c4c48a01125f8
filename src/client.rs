//! [`PropagateSessionLayer`]: attaches the current session token to outgoing requests.

use std::task::{Context, Poll};

use http::{HeaderName, Request, header};
use tower_layer::Layer;
use tower_service::Service;

use crate::metrics::PropagationMetrics;
use crate::propagate::{SessionToken, current_token};

/// A client-side layer that sends the current session token to downstream services.
///
/// Wrap any `tower::Service<http::Request<B>>` used as an HTTP client (hyper-util's
/// `Client`, a tonic channel, ...). On each call it takes the token from the request's
/// extensions (a [`SessionToken`] put there explicitly, for work on other tasks) or else
/// from the task's current session (see [`current_token`]), and sets
/// `Authorization: Bearer <token>` (or the configured header), marked sensitive so HTTP/2
/// never indexes it. The browser's `Cookie` header is never copied. A request that already
/// carries the header is left as it is; a request outside any session goes out without one.
///
/// The downstream service verifies the token with
/// [`SessionLayer::verify_only`](crate::SessionLayer::verify_only).
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_stateless_session::PropagateSessionLayer;
///
/// # fn wrap<S>(http_client: S) {
/// let client = ServiceBuilder::new()
///     .layer(PropagateSessionLayer::new())
///     .service(http_client);
/// # let _ = client;
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct PropagateSessionLayer {
    header: Option<HeaderName>,
    metrics: PropagationMetrics,
}

impl PropagateSessionLayer {
    /// Sends the token as `Authorization: Bearer <token>` (the default).
    pub fn new() -> Self {
        PropagateSessionLayer::default()
    }

    /// Sends the token, bare, in the named header instead.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName) -> Self {
        self.header = Some(name);
        self
    }
}

impl<S> Layer<S> for PropagateSessionLayer {
    type Service = PropagateSession<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateSession {
            inner,
            header: self.header.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// The service built by [`PropagateSessionLayer`]. Returns the inner service's future
/// unchanged.
#[derive(Debug, Clone)]
pub struct PropagateSession<S> {
    inner: S,
    header: Option<HeaderName>,
    metrics: PropagationMetrics,
}

impl<S> PropagateSession<S> {
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
