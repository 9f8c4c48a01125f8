//! [`SessionLayer`]: the configuration builder, and the Tower layer itself.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, Response};
use tower_layer::Layer;

use super::budget::{
    DEFAULT_COOKIE_BUDGET, DEFAULT_COOKIE_HEADER_BUDGET, Oversize, OversizeAction,
    default_oversize_response,
};
use super::cache::{DEFAULT_VERIFY_CACHE_ENTRIES, VerifyCache};
use super::rejection::{default_rejection_response, default_sign_failure_response};
use super::service::SessionService;
use crate::error::{ConfigError, Rejection, SignError};
use crate::health::Health;
use crate::keys::KeyRingHandle;
use crate::metrics::{Budgets, LayerMetrics};
use crate::revocation::RevocationStore;
use crate::server::cookie::{CookieSettings, SameSite, Transport};
use crate::time::Clock;
#[cfg(feature = "propagate")]
use crate::token::{Audience, DOWNSTREAM_TOKEN_TYPE};
use crate::token::{Migration, TokenCodec};

/// Default age after which a token is re-signed: 60 seconds.
pub const DEFAULT_REFRESH_AFTER: Duration = Duration::from_secs(60);

/// The default response header carrying a new token for [`Transport::Bearer`].
pub const DEFAULT_TOKEN_RESPONSE_HEADER: &str = "x-session-token";

type RejectionFn = dyn Fn(&Rejection) -> Response<Bytes> + Send + Sync;
type SignFailureFn = dyn Fn(&SignError) -> Response<Bytes> + Send + Sync;
type OversizeFn = dyn Fn(&Oversize) -> Response<Bytes> + Send + Sync;
type SubjectFn<T> = dyn for<'a> Fn(&'a T) -> Option<&'a str> + Send + Sync;

/// The revocation store and how to find a session's subject.
pub(crate) struct Revocations<T> {
    pub(crate) store: Arc<dyn RevocationStore>,
    pub(crate) subject: Arc<SubjectFn<T>>,
}

impl<T> Revocations<T> {
    /// Whether these claims are revoked now.
    pub(crate) fn revoked(&self, claims: &crate::token::Claims<T>, now: u64) -> bool {
        let subject = (self.subject)(&claims.data);
        self.store
            .is_revoked(&claims.sid, subject, claims.auth_time, now)
    }
}

/// Everything the service needs, shared behind one `Arc`.
pub(crate) struct Config<T> {
    pub(crate) codec: TokenCodec,
    pub(crate) refresh_after: u64,
    pub(crate) transport: Transport,
    pub(crate) response_header: Option<HeaderName>,
    pub(crate) cookie: CookieSettings,
    pub(crate) require_session: bool,
    pub(crate) verify_only: bool,
    pub(crate) rejection_response: Arc<RejectionFn>,
    pub(crate) sign_failure_response: Arc<SignFailureFn>,
    pub(crate) migration: Option<Arc<Migration<T>>>,
    pub(crate) cookie_budget: usize,
    pub(crate) header_budget: usize,
    pub(crate) oversize_action: OversizeAction,
    pub(crate) oversize_response: Arc<OversizeFn>,
    pub(crate) revocations: Option<Arc<Revocations<T>>>,
    pub(crate) verify_cache_entries: usize,
    /// Set by `with_token_purpose`: the cookie name no longer sets the purpose.
    pub(crate) explicit_purpose: bool,
    pub(crate) verify_cache: Option<Arc<VerifyCache<T>>>,
    /// Metric handles, resolved on the first request (nothing without the feature).
    pub(crate) metrics: LayerMetrics,
    /// A downstream service's own name: only minted tokens for it are accepted.
    #[cfg(feature = "propagate")]
    pub(crate) audience: Option<Audience>,
    /// The `typ` of the minted tokens accepted with an audience.
    #[cfg(feature = "propagate")]
    pub(crate) minted_type: Arc<str>,
    _data: PhantomData<fn() -> T>,
}

impl<T> Clone for Config<T> {
    fn clone(&self) -> Self {
        Config {
            codec: self.codec.clone(),
            refresh_after: self.refresh_after,
            transport: self.transport.clone(),
            response_header: self.response_header.clone(),
            cookie: self.cookie.clone(),
            require_session: self.require_session,
            verify_only: self.verify_only,
            rejection_response: Arc::clone(&self.rejection_response),
            sign_failure_response: Arc::clone(&self.sign_failure_response),
            migration: self.migration.clone(),
            cookie_budget: self.cookie_budget,
            header_budget: self.header_budget,
            oversize_action: self.oversize_action,
            oversize_response: Arc::clone(&self.oversize_response),
            revocations: self.revocations.clone(),
            verify_cache_entries: self.verify_cache_entries,
            explicit_purpose: self.explicit_purpose,
            // A changed configuration verifies differently: never share cached results.
            verify_cache: VerifyCache::new(self.verify_cache_entries).map(Arc::new),
            // Resolved again (the budgets may differ).
            metrics: LayerMetrics::default(),
            #[cfg(feature = "propagate")]
            audience: self.audience.clone(),
            #[cfg(feature = "propagate")]
            minted_type: Arc::clone(&self.minted_type),
            _data: PhantomData,
        }
    }
}

impl<T> Config<T> {
    /// The bytes a token may travel in: the codec's cap (plus `name=`), and for a cookie
    /// at most the cookie budget.
    pub(crate) fn token_budget(&self) -> usize {
        let cookie = self.transport == Transport::Cookie;
        let budget = self
            .codec
            .max_token_len()
            .saturating_add(self.token_overhead());
        if cookie {
            budget.min(self.cookie_budget)
        } else {
            budget
        }
    }

    /// Bytes sent around the token: `name=` for a cookie, nothing for a header.
    pub(crate) fn token_overhead(&self) -> usize {
        if self.transport == Transport::Cookie {
            self.cookie.name().len() + 1
        } else {
            0
        }
    }

    /// The budgets reported with the metrics.
    pub(crate) fn budgets(&self) -> Budgets {
        Budgets {
            token: self.token_budget(),
            cookie_header: (self.transport == Transport::Cookie).then_some(self.header_budget),
        }
    }

    /// The header a new token goes out in, for the header transports.
    pub(crate) fn token_response_header(&self) -> Option<HeaderName> {
        match (&self.transport, &self.response_header) {
            (Transport::Cookie, _) => None,
            (_, Some(name)) => Some(name.clone()),
            (Transport::Header(name), None) => Some(name.clone()),
            (Transport::Bearer, None) => {
                Some(HeaderName::from_static(DEFAULT_TOKEN_RESPONSE_HEADER))
            }
        }
    }
}

/// A Tower layer that verifies a signed session token on every request, hands the handler a
/// typed [`Session<T>`](crate::Session), and re-signs the token on the way out when the
/// session changed or a refresh is due.
///
/// Cheap to clone: the configuration sits behind an `Arc`, and [`Layer::layer`] only
/// clones it. Every `with_*` setter documents its default; the defaults are the secure
/// choice.
///
/// ```
/// use std::time::Duration;
/// use tower_stateless_session::{KeyRing, SessionLayer};
///
/// #[derive(serde::Serialize, serde::Deserialize, Clone)]
/// struct User { sub: String }
///
/// let keys = KeyRing::generate("k1")?;
/// let sessions = SessionLayer::<User>::new(keys)
///     .with_idle_timeout(Duration::from_secs(30 * 60))
///     .with_absolute_timeout(Duration::from_secs(2 * 24 * 3600))
///     .with_refresh_after(Duration::from_secs(60));
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
pub struct SessionLayer<T> {
    config: Arc<Config<T>>,
}

impl<T> Clone for SessionLayer<T> {
    fn clone(&self) -> Self {
        SessionLayer {
            config: Arc::clone(&self.config),
        }
    }
}

impl<T> SessionLayer<T> {
    /// A layer signing and verifying with `keys`, with the default settings: cookie
    /// `session` (`HttpOnly; Secure; SameSite=Lax; Path=/`), idle timeout 30 min, absolute
    /// timeout 2 days, refresh after 60 s, leeway 60 s, tokens up to 4096 bytes, sessions
    /// optional (a request without one reaches the handler).
    ///
    /// Pass a [`KeyRingHandle`] (or a clone of one) to rotate keys later.
    pub fn new(keys: impl Into<KeyRingHandle>) -> Self {
        let transport = Transport::Cookie;
        SessionLayer {
            config: Arc::new(Config {
                codec: TokenCodec::new(keys),
                refresh_after: DEFAULT_REFRESH_AFTER.as_secs(),
                transport,
                response_header: None,
                cookie: CookieSettings::default(),
                require_session: false,
                verify_only: false,
                rejection_response: Arc::new(default_rejection_response),
                sign_failure_response: Arc::new(default_sign_failure_response),
                migration: None,
                cookie_budget: DEFAULT_COOKIE_BUDGET,
                header_budget: DEFAULT_COOKIE_HEADER_BUDGET,
                oversize_action: OversizeAction::Reject,
                oversize_response: Arc::new(default_oversize_response),
                revocations: None,
                verify_cache_entries: DEFAULT_VERIFY_CACHE_ENTRIES,
                explicit_purpose: false,
                verify_cache: VerifyCache::new(DEFAULT_VERIFY_CACHE_ENTRIES).map(Arc::new),
                metrics: LayerMetrics::default(),
                #[cfg(feature = "propagate")]
                audience: None,
                #[cfg(feature = "propagate")]
                minted_type: DOWNSTREAM_TOKEN_TYPE.into(),
                _data: PhantomData,
            }),
        }
    }

    /// A verify-only layer for downstream services: it accepts the token from
    /// `Authorization: Bearer` (change it with [`with_transport`](Self::with_transport)),
    /// requires a valid session (401 otherwise), never re-signs and never sets a cookie.
    /// The keys need only verify; the handle's changing methods return
    /// [`SessionError::ReadOnly`](crate::SessionError::ReadOnly).
    ///
    /// As it stands it accepts the session tokens a gateway forwards
    /// ([`PropagateSessionLayer::forward`](crate::PropagateSessionLayer::forward)). Name the
    /// service with [`with_audience`](Self::with_audience) to accept only the tokens minted
    /// for it instead (the recommended setup):
    ///
    /// ```
    /// use tower_stateless_session::{Audience, Key, KeyRing, SessionLayer};
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize)]
    /// struct Profile { sub: String }
    ///
    /// # let gateway_node_key = Key::generate_ed25519()?;
    /// // The gateway's public key (or its JWKS): this service can verify, never forge.
    /// let keys = KeyRing::new(gateway_node_key.public_key().expect("Ed25519"));
    /// let layer = SessionLayer::<Profile>::verify_only(keys)
    ///     .with_audience(Audience::new("profile")?);
    /// # Ok::<(), tower_stateless_session::ConfigError>(())
    /// ```
    pub fn verify_only(keys: impl Into<KeyRingHandle>) -> Self {
        let mut layer = Self::new(keys);
        let config = layer.config_mut();
        config.verify_only = true;
        config.require_session = true;
        config.transport = Transport::Bearer;
        layer
    }

    fn config_mut(&mut self) -> &mut Config<T> {
        Arc::make_mut(&mut self.config)
    }

    fn codec(mut self, f: impl FnOnce(TokenCodec) -> TokenCodec) -> Self {
        let config = self.config_mut();
        config.codec = f(config.codec.clone());
        self
    }

    /// The idle (rolling) timeout: a session not seen for this long is over. Whole seconds,
    /// at least 1 s. Default 30 minutes.
    #[must_use]
    pub fn with_idle_timeout(self, timeout: Duration) -> Self {
        self.codec(|c| c.with_idle_timeout(timeout))
    }

    /// The absolute timeout: a session is over this long after login, however active.
    /// Whole seconds, at least 1 s. Default 2 days.
    #[must_use]
    pub fn with_absolute_timeout(self, timeout: Duration) -> Self {
        self.codec(|c| c.with_absolute_timeout(timeout))
    }

    /// How old a token must be before a request re-signs it (new `iat` and `exp`, same
    /// `sid`). Younger tokens pass with no `Set-Cookie`, which keeps responses cacheable and
    /// small. Whole seconds. Default 60 s. A value at or above the idle timeout means
    /// sessions are never extended.
    #[must_use]
    pub fn with_refresh_after(mut self, age: Duration) -> Self {
        self.config_mut().refresh_after = age.as_secs();
        self
    }

    /// The clock-skew leeway applied to every time comparison. Default 60 s.
    ///
    /// # Security
    /// Every deadline is extended by this much; keep it to the skew you expect between nodes.
    #[must_use]
    pub fn with_leeway(self, leeway: Duration) -> Self {
        self.codec(|c| c.with_leeway(leeway))
    }

    /// The time source. Default: the system clock. Tests inject a
    /// [`ManualClock`](crate::ManualClock).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        self.codec(|c| c.with_clock(clock))
    }

    /// The longest token accepted or produced, in bytes; checked before any decoding.
    /// Default 4096.
    #[must_use]
    pub fn with_max_token_len(self, max: usize) -> Self {
        self.codec(|c| c.with_max_token_len(max))
    }

    /// The version of the session data's shape (default 1). Tokens of another version are
    /// refused ("start over") unless [`with_migration`](Self::with_migration) accepts them.
    #[must_use]
    pub fn with_data_version(self, version: u32) -> Self {
        self.codec(|c| c.with_data_version(version))
    }

    /// Converts the data of tokens written with another data version: given that version
    /// and the token's data members, return the data in the current shape, or `None` to
    /// refuse the token. A migrated session is re-signed at once. Default: none.
    #[must_use]
    pub fn with_migration(
        mut self,
        migrate: impl Fn(u32, serde_json::Map<String, serde_json::Value>) -> Option<T>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.config_mut().migration = Some(Arc::new(migrate));
        self
    }

    /// Where the token travels. Default [`Transport::Cookie`].
    #[must_use]
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.config_mut().transport = transport;
        self
    }

    /// The response header that carries a new token for [`Transport::Bearer`] (default
    /// `x-session-token`) and [`Transport::Header`] (default: the request header's name).
    /// Ignored for cookies.
    #[must_use]
    pub fn with_token_response_header(mut self, name: HeaderName) -> Self {
        self.config_mut().response_header = Some(name);
        self
    }

    /// Whether a request without a valid session is answered 401 by the layer instead of
    /// reaching the handler. Default `false` (handlers decide, for example with the
    /// [`Session<T>`](crate::Session) extractor); `true` in [`verify_only`](Self::verify_only).
    #[must_use]
    pub fn with_require_session(mut self, require: bool) -> Self {
        self.config_mut().require_session = require;
        self
    }

    /// Replaces the 401 response sent when a session is required and missing. The
    /// [`Rejection`] tells why, for logs; keep that out of the body.
    #[must_use]
    pub fn with_rejection_response(
        mut self,
        response: impl Fn(&Rejection) -> Response<Bytes> + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().rejection_response = Arc::new(response);
        self
    }

    /// Replaces the 500 response sent when the handler changed the session but the new
    /// token cannot be signed (its data does not serialize, or it is too large). The
    /// previous cookie is left untouched. Default: a plain-text 500, or a 503 with
    /// `Retry-After: 1` for [`SignError::NoSigningKey`] (no key can sign here right now).
    #[must_use]
    pub fn with_sign_failure_response(
        mut self,
        response: impl Fn(&SignError) -> Response<Bytes> + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().sign_failure_response = Arc::new(response);
        self
    }

    /// The cookie's name. Default `session`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidCookieName`] when `name` is not a cookie token, or breaks the
    /// rules of its prefix (`__Host-` needs `Secure`, `Path=/` and no `Domain`; `__Secure-`
    /// needs `Secure`) given the attributes set so far.
    pub fn try_with_cookie_name(mut self, name: &str) -> Result<Self, ConfigError> {
        self.config_mut().cookie.set_name(name)?;
        if !self.config.explicit_purpose {
            self = self.codec(|c| c.with_purpose(name));
        }
        Ok(self)
    }

    /// What encrypted tokens are bound to: the `pur` member of their protected header,
    /// which the token must carry to be accepted here (see [`token::jwe`]). Default: the
    /// cookie name, whatever the transport, so a token issued for one cookie is refused
    /// under another even where both layers share a key ring.
    ///
    /// Set it on a downstream service that receives forwarded encrypted tokens in a header
    /// (the gateway's cookie name), or to let two layers accept each other's tokens. Signed
    /// tokens carry no purpose; this has no effect on them.
    ///
    /// [`token::jwe`]: crate::token::jwe
    #[must_use]
    pub fn with_token_purpose(mut self, purpose: &str) -> Self {
        self.config_mut().explicit_purpose = true;
        self.codec(|c| c.with_purpose(purpose))
    }

    /// The cookie's name; see [`try_with_cookie_name`](Self::try_with_cookie_name).
    ///
    /// # Panics
    /// When `name` is invalid: use the `try_` form for names that come from configuration.
    #[must_use]
    pub fn with_cookie_name(self, name: &str) -> Self {
        self.try_with_cookie_name(name)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The cookie's `Path`. Default `/`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidCookieAttribute`] when the path does not start with `/` or holds
    /// `;` or control characters; [`ConfigError::InvalidCookieName`] when the name has the
    /// `__Host-` prefix and the path is not `/`.
    pub fn try_with_cookie_path(mut self, path: &str) -> Result<Self, ConfigError> {
        self.config_mut().cookie.set_path(path)?;
        Ok(self)
    }

    /// The cookie's `Path`; see [`try_with_cookie_path`](Self::try_with_cookie_path).
    ///
    /// # Panics
    /// When the path is invalid.
    #[must_use]
    pub fn with_cookie_path(self, path: &str) -> Self {
        self.try_with_cookie_path(path)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The cookie's `Domain`. Default: none (host-only, the safest).
    ///
    /// # Security
    /// A `Domain` sends the cookie to every subdomain too.
    ///
    /// # Errors
    /// [`ConfigError::InvalidCookieAttribute`] for an invalid domain;
    /// [`ConfigError::InvalidCookieName`] with the `__Host-` prefix.
    pub fn try_with_cookie_domain(mut self, domain: &str) -> Result<Self, ConfigError> {
        self.config_mut().cookie.set_domain(Some(domain))?;
        Ok(self)
    }

    /// The cookie's `Domain`; see [`try_with_cookie_domain`](Self::try_with_cookie_domain).
    ///
    /// # Panics
    /// When the domain is invalid.
    #[must_use]
    pub fn with_cookie_domain(self, domain: &str) -> Self {
        self.try_with_cookie_domain(domain)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Whether the cookie is `Secure` (sent over HTTPS only). Default `true`.
    ///
    /// # Security
    /// Turn it off only for plain-HTTP development on localhost.
    ///
    /// # Errors
    /// [`ConfigError::InvalidCookieName`] when turning it off with a `__Host-` or
    /// `__Secure-` name; [`ConfigError::InvalidCookieAttribute`] with `SameSite=None`.
    pub fn try_with_secure(mut self, secure: bool) -> Result<Self, ConfigError> {
        self.config_mut().cookie.set_secure(secure)?;
        Ok(self)
    }

    /// Whether the cookie is `Secure`; see [`try_with_secure`](Self::try_with_secure).
    ///
    /// # Security
    /// Turn it off only for plain-HTTP development on localhost.
    ///
    /// # Panics
    /// When the combination is invalid.
    #[must_use]
    pub fn with_secure(self, secure: bool) -> Self {
        self.try_with_secure(secure)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Whether the cookie is `HttpOnly` (hidden from scripts). Default `true`.
    ///
    /// # Security
    /// Without it, any script injected into a page can read the session token.
    #[must_use]
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.config_mut().cookie.set_http_only(http_only);
        self
    }

    /// The cookie's `SameSite`. Default [`SameSite::Lax`].
    ///
    /// # Security
    /// `None` sends the cookie on cross-site requests: pair it with CSRF protection.
    ///
    /// # Errors
    /// [`ConfigError::InvalidCookieAttribute`] for `None` on a cookie that is not `Secure`.
    pub fn try_with_same_site(mut self, same_site: SameSite) -> Result<Self, ConfigError> {
        self.config_mut().cookie.set_same_site(same_site)?;
        Ok(self)
    }

    /// The cookie's `SameSite`; see [`try_with_same_site`](Self::try_with_same_site).
    ///
    /// # Panics
    /// When the combination is invalid.
    #[must_use]
    pub fn with_same_site(self, same_site: SameSite) -> Self {
        self.try_with_same_site(same_site)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The budget for the session cookie's `name=value`, in bytes: inbound, a larger session
    /// cookie is refused before any decoding (see
    /// [`with_oversize_action`](Self::with_oversize_action)); outbound, a session whose
    /// cookie would be larger is not sent (the previous cookie stays, the request fails
    /// with the sign-failure response). A token crossing 75 % of it logs a warning.
    /// Default 4096, what browsers keep; see [`size_budgets`](crate::size_budgets) for the
    /// limits of common servers and proxies.
    ///
    /// This also sets the maximum token length to `bytes` (a token never exceeds its
    /// cookie); call [`with_max_token_len`](Self::with_max_token_len) afterwards to cap
    /// tokens lower.
    ///
    /// Behind nginx, mind `proxy_buffer_size` (4 KiB or 8 KiB by default, one memory page):
    /// a `Set-Cookie` near 4 KiB plus the other response headers outgrows a 4 KiB buffer
    /// and nginx answers 502. Raise it to 8k, or keep this budget near 3 KiB.
    #[must_use]
    pub fn with_cookie_budget(mut self, bytes: usize) -> Self {
        let config = self.config_mut();
        config.cookie_budget = bytes;
        config.codec = config.codec.clone().with_max_token_len(bytes);
        self
    }

    /// The budget for the whole `Cookie` request header (all cookies together, several
    /// `Cookie` fields joined with `"; "` as a proxy joins them), in bytes. Default 8000,
    /// under what nginx, Apache and Tomcat accept by default (see
    /// [`DEFAULT_COOKIE_HEADER_BUDGET`](crate::DEFAULT_COOKIE_HEADER_BUDGET)).
    #[must_use]
    pub fn with_cookie_header_budget(mut self, bytes: usize) -> Self {
        self.config_mut().header_budget = bytes;
        self
    }

    /// What to do when a request's cookies break a budget. Default
    /// [`OversizeAction::Reject`]: answer 431 naming the offending cookies and delete the
    /// session cookie when it is one of them.
    #[must_use]
    pub fn with_oversize_action(mut self, action: OversizeAction) -> Self {
        self.config_mut().oversize_action = action;
        self
    }

    /// Replaces the 431 response of [`OversizeAction::Reject`]. The deletion of the session
    /// cookie is added to whatever it returns. Default: a plain-text report of the sizes.
    #[must_use]
    pub fn with_oversize_response(
        mut self,
        response: impl Fn(&Oversize) -> Response<Bytes> + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().oversize_response = Arc::new(response);
        self
    }

    /// Checks every valid token against a revocation store, after the signature and the
    /// deadlines (a revoked session is [`RejectionKind::Revoked`](crate::RejectionKind::Revoked)
    /// and its cookie is deleted). `subject` finds the session's subject (`sub`) in its
    /// data, for subject-wide revocations. With a store configured,
    /// [`logout`](crate::SessionHandle::logout) also revokes the session, and
    /// [`logout_everywhere`](crate::SessionHandle::logout_everywhere) becomes available.
    /// Default: none (a logged-out token stays valid until its `exp` for whoever kept it).
    ///
    /// ```
    /// use tower_stateless_session::{KeyRing, SessionLayer};
    /// use tower_stateless_session::revocation::MemoryRevocations;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize)]
    /// struct User { sub: String }
    ///
    /// let layer = SessionLayer::<User>::new(KeyRing::generate("k1")?)
    ///     .with_revocation(MemoryRevocations::new(), |user: &User| Some(user.sub.as_str()));
    /// # Ok::<(), tower_stateless_session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_revocation<F>(mut self, store: impl RevocationStore, subject: F) -> Self
    where
        F: for<'a> Fn(&'a T) -> Option<&'a str> + Send + Sync + 'static,
    {
        self.config_mut().revocations = Some(Arc::new(Revocations {
            store: Arc::new(store),
            subject: Arc::new(subject),
        }));
        self
    }

    /// How many verified tokens to remember (default 4096; 0 turns the cache off).
    ///
    /// A client sends the same token with every request until its next refresh. The cache
    /// keeps what does not depend on time (the MAC matched a key of the ring, the claims
    /// decoded), so a repeated token costs a lookup instead of a MAC, a base64 decode and a
    /// JSON parse. Deadlines and revocations are still checked on every request, and any
    /// key-ring replacement empties it in effect.
    ///
    /// # Security
    /// Entries are found by bytes of the token's own MAC and confirmed by comparing the
    /// whole token in constant time; only tokens that verified are stored, and memory is
    /// bounded (about 0.5 KiB per entry for small sessions).
    #[must_use]
    pub fn with_verify_cache(mut self, entries: usize) -> Self {
        let config = self.config_mut();
        config.verify_cache_entries = entries;
        config.verify_cache = VerifyCache::new(entries).map(Arc::new);
        self
    }

    #[cfg(feature = "propagate")]
    /// Makes this a downstream service named `audience`: it accepts only minted downstream
    /// tokens (type [`DOWNSTREAM_TOKEN_TYPE`], or the one set with
    /// [`try_with_accepted_token_type`](Self::try_with_accepted_token_type)) whose `aud`
    /// names it, and refuses everything else with the same 401: a browser's session token,
    /// a token minted for another service, an expired one (kinds
    /// [`WrongType`](crate::RejectionKind::WrongType),
    /// [`WrongAudience`](crate::RejectionKind::WrongAudience),
    /// [`Expired`](crate::RejectionKind::Expired), for logs only). Default: none (session
    /// tokens are accepted).
    ///
    /// Meant after [`verify_only`](Self::verify_only); a layer with an audience never signs
    /// (it is made verify-only). The session data `T` is read from the minted token's
    /// members: its `sub` and the members the gateway's projection passed on. The registered
    /// claims are in [`SessionHandle::minted`](crate::SessionHandle::minted).
    ///
    /// A minted token is accepted until its `exp` plus the [leeway](Self::with_leeway)
    /// (default 60 s): with synchronized clocks, a few seconds is enough here.
    #[must_use]
    pub fn with_audience(mut self, audience: Audience) -> Self {
        let config = self.config_mut();
        config.audience = Some(audience);
        config.verify_only = true;
        self
    }

    #[cfg(feature = "propagate")]
    /// The `typ` of the minted tokens accepted with an [audience](Self::with_audience).
    /// Default [`DOWNSTREAM_TOKEN_TYPE`]; set the same on the minter.
    ///
    /// # Errors
    /// [`ConfigError::InvalidDownstreamSetting`] when `typ` is not a media type of at most
    /// 64 bytes (`A-Z a-z 0-9 . _ - + /`), or is the session token's type.
    pub fn try_with_accepted_token_type(mut self, typ: &str) -> Result<Self, ConfigError> {
        crate::token::minted::check_token_type(typ)?;
        self.config_mut().minted_type = typ.into();
        Ok(self)
    }

    /// The token codec this layer signs and verifies with (for tools and tests that mint
    /// tokens outside a request).
    pub fn codec_ref(&self) -> &TokenCodec {
        &self.config.codec
    }

    /// The key ring handle; replace its ring to rotate keys.
    pub fn keys(&self) -> &KeyRingHandle {
        self.config.codec.keys()
    }

    /// The request and response headers that carry this layer's tokens: `Cookie`,
    /// `Set-Cookie`, `Authorization`, and for a header transport the request and response
    /// headers it uses. Mark them sensitive in request logging (tower-http's
    /// `SetSensitiveRequestHeadersLayer` and `SetSensitiveResponseHeadersLayer` around its
    /// `TraceLayer`) so no token reaches the logs; see
    /// [`observability`](crate::observability).
    pub fn sensitive_headers(&self) -> Vec<HeaderName> {
        let mut names = vec![
            http::header::COOKIE,
            http::header::SET_COOKIE,
            http::header::AUTHORIZATION,
        ];
        let config = &self.config;
        let transport = match &config.transport {
            Transport::Header(name) => Some(name.clone()),
            _ => None,
        };
        for name in transport.into_iter().chain(config.token_response_header()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The health checks of what this layer depends on, for a `/health` endpoint:
    /// - `"revocation"`: the revocation store, when one is configured;
    /// - with a ring from [`NodeKeys`](crate::keys::NodeKeys), `"node_key"` (whether the
    ///   node issues with its own, published key) and `"key_registry"` (the registry's
    ///   connection);
    /// - with a ring from a `JwksVerifier` (feature `jwks`), `"jwks"` (whether the set is
    ///   fetched).
    ///
    /// Add the application's own checks with [`Health::with_check`]. See
    /// [`health`](crate::health).
    pub fn health(&self) -> Health {
        let mut health = Health::new();
        if let Some(revocations) = &self.config.revocations {
            let store = Arc::clone(&revocations.store);
            health = health.with_check("revocation", move || store.health());
        }
        if let Some(source) = self.config.codec.keys().refresher() {
            health = health.merge(source.health());
        }
        health
    }
}

impl<S, T> Layer<S> for SessionLayer<T> {
    type Service = SessionService<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, Arc::clone(&self.config))
    }
}

impl<T> fmt::Debug for SessionLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("SessionLayer")
            .field("codec", &c.codec)
            .field("refresh_after_secs", &c.refresh_after)
            .field("transport", &c.transport)
            .field("cookie", &c.cookie)
            .field("require_session", &c.require_session)
            .field("verify_only", &c.verify_only)
            .field("cookie_budget", &c.cookie_budget)
            .field("header_budget", &c.header_budget)
            .field("oversize_action", &c.oversize_action)
            .field("revocation", &c.revocations.is_some())
            .field("verify_cache_entries", &c.verify_cache_entries)
            .finish_non_exhaustive()
    }
}
