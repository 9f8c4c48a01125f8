//! [`PropagateSessionLayer`]: the client-side layer and its configuration.

use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use http::request::Parts;
use tower_layer::Layer;

use super::audience::AudienceSource;
use super::mint::{Mint, Minter};
use super::service::PropagateSession;
#[cfg(doc)]
use super::{SessionToken, current_token};
use crate::metrics::PropagationMetrics;
use crate::server::handle::SessionData;
use crate::token::Audience;

/// How a client gets the token it sends.
#[derive(Clone)]
pub(crate) enum Mode {
    /// The session token itself.
    Forward,
    /// A token minted for the call's audience.
    Mint {
        minter: Arc<dyn Mint>,
        audience: AudienceSource,
    },
}

/// A client-side layer that sends a token for the current session to downstream services.
///
/// Wrap any `tower::Service<http::Request<B>>` used as an HTTP client (hyper-util's
/// `Client`, a tonic channel, ...). On each call made while a request runs inside
/// [`SessionLayer`](crate::SessionLayer) (the task's current session), it sets
/// `Authorization: Bearer <token>` (or the configured header), marked sensitive so HTTP/2
/// never indexes it. The browser's `Cookie` header is never copied. A request that already
/// carries the header is left as it is; a request outside any session goes out without one.
///
/// Two modes:
///
/// - **Minting** ([`mint`](Self::mint), the recommended one): each call carries a token
///   minted for the service it goes to: `aud` naming that service, a lifetime of about a
///   minute, only the session data the application chose to pass on (see [`Minter`]).
///   The downstream verifies it with
///   [`SessionLayer::verify_only`](crate::SessionLayer::verify_only) and
///   [`with_audience`](crate::SessionLayer::with_audience); a token that leaks from it is
///   worth nothing at the gateway or at any other service, and nothing after its minute.
/// - **Forwarding** ([`forward`](Self::forward)): each call carries the session token
///   itself. Simple, and the downstream needs no minting key, but every downstream service
///   then holds the user's whole session: it, its logs, or anyone reading its traffic can
///   present the token to the gateway as the session cookie and act as the user until the
///   idle timeout, or call every other service with it. Choose it knowingly (see
///   SECURITY.md).
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_stateless_session::{Key, KeyRing};
/// use tower_stateless_session::propagate::{Audience, Minter, PropagateSessionLayer};
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct User { sub: String }
///
/// # fn wrap<S>(http_client: S) -> Result<(), tower_stateless_session::ConfigError> {
/// let node_key = KeyRing::new(Key::generate_ed25519()?);
/// let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))?
///     .with_keys(node_key);
/// let client = ServiceBuilder::new()
///     .layer(PropagateSessionLayer::mint(minter, Audience::new("profile")?))
///     .service(http_client);
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PropagateSessionLayer {
    header: Option<HeaderName>,
    mode: Mode,
    /// Shared by every service this layer makes (feature `metrics`).
    metrics: PropagationMetrics,
}

/// No `new` and no `Default`: the mode is always named, [`mint`](Self::mint) (the
/// recommended one) or [`forward`](Self::forward), never the whole session by accident.
///
/// ```compile_fail
/// let layer = tower_stateless_session::propagate::PropagateSessionLayer::new();
/// ```
///
/// ```compile_fail
/// let layer = tower_stateless_session::propagate::PropagateSessionLayer::default();
/// ```
impl PropagateSessionLayer {
    /// Forwards the session token itself: from the request's extensions (a
    /// [`SessionToken`] put there explicitly, for work on other tasks) or else the task's
    /// current session's (see [`current_token`]).
    ///
    /// # Security
    /// Every downstream service receives the user's whole session, which it can replay at
    /// the gateway as a cookie, or at every other service. Prefer [`mint`](Self::mint).
    pub fn forward() -> Self {
        PropagateSessionLayer {
            header: None,
            metrics: PropagationMetrics::default(),
            mode: Mode::Forward,
        }
    }

    /// Mints, for every call, a token of the current session for `audience`, the one
    /// service this client calls (cached, see [`Minter`]). A call outside any session, or
    /// whose token cannot be minted, goes out without one (the failure is logged).
    ///
    /// Work spawned onto another task runs in [`SessionHandle::scope`](crate::SessionHandle::scope)
    /// to mint there; a [`SessionToken`] in the request's extensions is never forwarded by
    /// a minting client.
    pub fn mint<T: SessionData>(minter: Minter<T>, audience: Audience) -> Self {
        Self::minting(minter, AudienceSource::Fixed(audience))
    }

    /// As [`mint`](Self::mint), with the audience chosen for each call by `select` from the
    /// outgoing request (its URI's host, a path prefix, a header). `None` sends no token.
    ///
    /// ```
    /// use tower_stateless_session::{Key, KeyRing};
    /// use tower_stateless_session::propagate::{Audience, Minter, PropagateSessionLayer};
    ///
    /// # #[derive(Clone, serde::Serialize, serde::Deserialize)] struct User { sub: String }
    /// # fn main() -> Result<(), tower_stateless_session::ConfigError> {
    /// # let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))?
    /// #     .with_keys(KeyRing::new(Key::generate_ed25519()?));
    /// let (profile, billing) = (Audience::new("profile")?, Audience::new("billing")?);
    /// let layer = PropagateSessionLayer::mint_per_request(minter, move |request| {
    ///     match request.uri.host() {
    ///         Some("profile.internal") => Some(profile.clone()),
    ///         Some("billing.internal") => Some(billing.clone()),
    ///         _ => None,
    ///     }
    /// });
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    pub fn mint_per_request<T, F>(minter: Minter<T>, select: F) -> Self
    where
        T: SessionData,
        F: Fn(&Parts) -> Option<Audience> + Send + Sync + 'static,
    {
        Self::minting(minter, AudienceSource::per_request(select))
    }

    fn minting<T: SessionData>(minter: Minter<T>, audience: AudienceSource) -> Self {
        PropagateSessionLayer {
            header: None,
            metrics: PropagationMetrics::default(),
            mode: Mode::Mint {
                minter: Arc::new(minter),
                audience,
            },
        }
    }

    /// Sends the token, bare, in the named header instead of `Authorization: Bearer`.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName) -> Self {
        self.header = Some(name);
        self
    }

    /// Whether this layer mints (rather than forwards).
    pub fn is_minting(&self) -> bool {
        matches!(self.mode, Mode::Mint { .. })
    }
}

impl<S> Layer<S> for PropagateSessionLayer {
    type Service = PropagateSession<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateSession::new(
            inner,
            self.header.clone(),
            self.mode.clone(),
            self.metrics.clone(),
        )
    }
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Forward => f.write_str("Forward"),
            Mode::Mint { audience, .. } => f
                .debug_struct("Mint")
                .field("audience", audience)
                .finish_non_exhaustive(),
        }
    }
}

impl fmt::Debug for PropagateSessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PropagateSessionLayer")
            .field("header", &self.header)
            .field("mode", &self.mode)
            .finish()
    }
}
