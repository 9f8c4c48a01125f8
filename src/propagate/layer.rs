//! [`PropagateSessionLayer`]: the client-side layer and its configuration.

use http::HeaderName;
use tower_layer::Layer;

use super::service::PropagateSession;
#[cfg(doc)]
use super::{SessionToken, current_token};
use crate::metrics::PropagationMetrics;

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
        PropagateSession::new(inner, self.header.clone(), self.metrics.clone())
    }
}
