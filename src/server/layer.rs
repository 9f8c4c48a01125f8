//! [`SessionLayer`]: its settings, the configuration derived from them, and the Tower layer.
//!
//! # One rule for configuration
//!
//! Every `with_*` setter takes `self`, sets one value and cannot fail, so the order of the
//! setters never matters. Whatever depends on several settings (the longest token from the
//! cookie budget, the encryption purpose from the cookie name, the cookie prefix rules, the
//! verify cache from its size) is derived once, when the layer is built: by
//! [`SessionLayer::build`], which returns the first conflict as a [`ConfigError`], or else
//! when the layer first wraps a service. Parts that run a background task of their own
//! (node keys, a JWKS verifier, Redis stores) are set up with `builder(..)...start()`
//! instead, because starting is where they can fail.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, Response};
use tower_layer::Layer;

use super::budget::{
    DEFAULT_COOKIE_BUDGET, DEFAULT_COOKIE_HEADER_BUDGET, Oversize, OversizeAction,
    default_oversize_response,
};
use super::cache::{DEFAULT_VERIFY_CACHE_ENTRIES, VerifyCache};
use super::cross_origin::{CrossOrigin, CrossOriginSettings};
#[cfg(feature = "csrf")]
use super::csrf::{CsrfKeys, CsrfSettings};
use super::rejection::{
    default_forbidden_response, default_rejection_response, default_sign_failure_response,
};
use super::service::SessionService;
use crate::error::{ConfigError, Rejection, SignError};
use crate::health::Health;
use crate::keys::KeyRingHandle;
use crate::metrics::{Budgets, LayerMetrics};
use crate::revocation::RevocationStore;
use crate::server::cookie::{CookieSettings, CookieSpec, SameSite, Transport};
use crate::time::{
    Clock, DEFAULT_ABSOLUTE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_LEEWAY, SystemClock,
};
#[cfg(feature = "propagate")]
use crate::token::{Audience, TokenType};
use crate::token::{DEFAULT_MAX_TOKEN_LEN, Migration, TokenCodec};

/// Default age after which a token is re-signed: 60 seconds.
pub const DEFAULT_REFRESH_AFTER: Duration = Duration::from_secs(60);

/// The default response header carrying a new token for [`Transport::Bearer`].
pub const DEFAULT_TOKEN_RESPONSE_HEADER: &str = "x-session-token";

pub(crate) type RejectionFn = dyn Fn(&Rejection) -> Response<Bytes> + Send + Sync;
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

/// The settings as the setters leave them: one value per setter, nothing derived.
struct Settings<T> {
    keys: KeyRingHandle,
    idle: Duration,
    absolute: Duration,
    leeway: Duration,
    clock: Arc<dyn Clock>,
    /// `None`: the cookie budget for a cookie, [`DEFAULT_MAX_TOKEN_LEN`] for a header.
    max_token_len: Option<usize>,
    data_version: u32,
    migration: Option<Arc<Migration<T>>>,
    refresh_after: Duration,
    transport: Transport,
    response_header: Option<HeaderName>,
    require_session: bool,
    verify_only: bool,
    rejection_response: Arc<RejectionFn>,
    sign_failure_response: Arc<SignFailureFn>,
    cookie: CookieSpec,
    /// `None`: the cookie name.
    token_purpose: Option<Arc<str>>,
    cookie_budget: usize,
    header_budget: usize,
    oversize_action: OversizeAction,
    oversize_response: Arc<OversizeFn>,
    revocations: Option<Arc<Revocations<T>>>,
    verify_cache_entries: usize,
    #[cfg(feature = "propagate")]
    audience: Option<Audience>,
    #[cfg(feature = "propagate")]
    accepted_token_type: TokenType,
    #[cfg(feature = "dbsc")]
    dbsc: Option<crate::pop::dbsc::Dbsc>,
    #[cfg(feature = "dpop")]
    dpop: Option<crate::pop::dpop::Dpop>,
    cross_origin: CrossOriginSettings,
    forbidden_response: Arc<RejectionFn>,
    #[cfg(feature = "csrf")]
    csrf: CsrfSettings,
}

impl<T> Clone for Settings<T> {
    fn clone(&self) -> Self {
        Settings {
            keys: self.keys.clone(),
            idle: self.idle,
            absolute: self.absolute,
            leeway: self.leeway,
            clock: Arc::clone(&self.clock),
            max_token_len: self.max_token_len,
            data_version: self.data_version,
            migration: self.migration.clone(),
            refresh_after: self.refresh_after,
            transport: self.transport.clone(),
            response_header: self.response_header.clone(),
            require_session: self.require_session,
            verify_only: self.verify_only,
            rejection_response: Arc::clone(&self.rejection_response),
            sign_failure_response: Arc::clone(&self.sign_failure_response),
            cookie: self.cookie.clone(),
            token_purpose: self.token_purpose.clone(),
            cookie_budget: self.cookie_budget,
            header_budget: self.header_budget,
            oversize_action: self.oversize_action,
            oversize_response: Arc::clone(&self.oversize_response),
            revocations: self.revocations.clone(),
            verify_cache_entries: self.verify_cache_entries,
            #[cfg(feature = "propagate")]
            audience: self.audience.clone(),
            #[cfg(feature = "propagate")]
            accepted_token_type: self.accepted_token_type.clone(),
            #[cfg(feature = "dbsc")]
            dbsc: self.dbsc.clone(),
            #[cfg(feature = "dpop")]
            dpop: self.dpop.clone(),
            cross_origin: self.cross_origin.clone(),
            forbidden_response: Arc::clone(&self.forbidden_response),
            #[cfg(feature = "csrf")]
            csrf: self.csrf.clone(),
        }
    }
}

impl<T> Settings<T> {
    fn new(keys: KeyRingHandle) -> Self {
        Settings {
            keys,
            idle: DEFAULT_IDLE_TIMEOUT,
            absolute: DEFAULT_ABSOLUTE_TIMEOUT,
            leeway: DEFAULT_LEEWAY,
            clock: Arc::new(SystemClock),
            max_token_len: None,
            data_version: 1,
            migration: None,
            refresh_after: DEFAULT_REFRESH_AFTER,
            transport: Transport::Cookie,
            response_header: None,
            require_session: false,
            verify_only: false,
            rejection_response: Arc::new(default_rejection_response),
            sign_failure_response: Arc::new(default_sign_failure_response),
            cookie: CookieSpec::default(),
            token_purpose: None,
            cookie_budget: DEFAULT_COOKIE_BUDGET,
            header_budget: DEFAULT_COOKIE_HEADER_BUDGET,
            oversize_action: OversizeAction::Reject,
            oversize_response: Arc::new(default_oversize_response),
            revocations: None,
            verify_cache_entries: DEFAULT_VERIFY_CACHE_ENTRIES,
            #[cfg(feature = "propagate")]
            audience: None,
            #[cfg(feature = "propagate")]
            accepted_token_type: TokenType::default(),
            #[cfg(feature = "dbsc")]
            dbsc: None,
            #[cfg(feature = "dpop")]
            dpop: None,
            cross_origin: CrossOriginSettings::default(),
            forbidden_response: Arc::new(default_forbidden_response),
            #[cfg(feature = "csrf")]
            csrf: CsrfSettings::default(),
        }
    }

    /// The codec: the settings it needs cannot conflict, so this cannot fail.
    fn codec(&self) -> TokenCodec {
        let max_len = self.max_token_len.unwrap_or(match self.transport {
            Transport::Cookie => self.cookie_budget,
            _ => DEFAULT_MAX_TOKEN_LEN,
        });
        let purpose = match &self.token_purpose {
            Some(purpose) => Arc::clone(purpose),
            None => self.cookie.name.as_str().into(),
        };
        TokenCodec::new(self.keys.clone())
            .with_idle_timeout(self.idle)
            .with_absolute_timeout(self.absolute)
            .with_leeway(self.leeway)
            .with_clock_arc(Arc::clone(&self.clock))
            .with_max_token_len(max_len)
            .with_data_version(self.data_version)
            .with_purpose_arc(purpose)
    }

    /// Everything derived from the settings, or the first conflict between them.
    fn derive(&self) -> Result<Config<T>, ConfigError> {
        let cookie = self.cookie.build()?;
        #[cfg(feature = "propagate")]
        let verify_only = self.verify_only || self.audience.is_some();
        #[cfg(not(feature = "propagate"))]
        let verify_only = self.verify_only;
        let response_header = match (&self.transport, &self.response_header) {
            (Transport::Cookie, _) => None,
            (_, Some(name)) => Some(name.clone()),
            (Transport::Header(name), None) => Some(name.clone()),
            (Transport::Bearer, None) => {
                Some(HeaderName::from_static(DEFAULT_TOKEN_RESPONSE_HEADER))
            }
        };
        let codec = self.codec();
        #[cfg(feature = "dbsc")]
        let dbsc = match &self.dbsc {
            Some(dbsc) => Some(Arc::new(super::dbsc::DbscConfig::derive(
                dbsc,
                &self.cookie,
                &self.transport,
                codec.idle_timeout_secs(),
            )?)),
            None => None,
        };
        #[cfg(feature = "dpop")]
        let dpop = match &self.dpop {
            Some(dpop) => Some(Arc::new(super::dpop::DpopConfig::derive(
                dpop,
                &self.transport,
            )?)),
            None => None,
        };
        let cross_origin = self.cross_origin.derive(&self.transport)?;
        #[cfg(feature = "csrf")]
        let csrf = self.csrf.derive(&self.keys, self.cookie.name.as_str())?;
        // Node keys keep a departed node's key as long as a token it signed can live:
        // they learn how long that is from the layers that verify with them.
        if let Some(source) = self.keys.refresher() {
            source.adopt_timing(self.idle, self.leeway, Arc::clone(&self.clock));
        }
        Ok(Config {
            codec,
            refresh_after: self.refresh_after.as_secs(),
            transport: self.transport.clone(),
            response_header,
            cookie,
            require_session: self.require_session,
            verify_only,
            rejection_response: Arc::clone(&self.rejection_response),
            sign_failure_response: Arc::clone(&self.sign_failure_response),
            migration: self.migration.clone(),
            cookie_budget: self.cookie_budget,
            header_budget: self.header_budget,
            oversize_action: self.oversize_action,
            oversize_response: Arc::clone(&self.oversize_response),
            revocations: self.revocations.clone(),
            verify_cache: VerifyCache::new(self.verify_cache_entries).map(Arc::new),
            metrics: LayerMetrics::default(),
            #[cfg(feature = "propagate")]
            audience: self.audience.clone(),
            #[cfg(feature = "propagate")]
            minted_type: self.accepted_token_type.clone(),
            #[cfg(feature = "dbsc")]
            dbsc,
            #[cfg(feature = "dpop")]
            dpop,
            cross_origin,
            forbidden_response: Arc::clone(&self.forbidden_response),
            #[cfg(feature = "csrf")]
            csrf,
            _data: PhantomData,
        })
    }
}

/// Everything the service needs, derived from the settings once and shared behind an `Arc`.
pub(crate) struct Config<T> {
    pub(crate) codec: TokenCodec,
    pub(crate) refresh_after: u64,
    pub(crate) transport: Transport,
    /// The header a new token goes out in, for the header transports.
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
    pub(crate) verify_cache: Option<Arc<VerifyCache<T>>>,
    /// Metric handles, resolved on the first request (nothing without the feature).
    pub(crate) metrics: LayerMetrics,
    /// A downstream service's own name: only minted tokens for it are accepted.
    #[cfg(feature = "propagate")]
    pub(crate) audience: Option<Audience>,
    /// The `typ` of the minted tokens accepted with an audience.
    #[cfg(feature = "propagate")]
    pub(crate) minted_type: TokenType,
    /// DBSC's endpoints and cookies, when it is on.
    #[cfg(feature = "dbsc")]
    pub(crate) dbsc: Option<Arc<super::dbsc::DbscConfig>>,
    /// DPoP's checks and replay cache, when it is on.
    #[cfg(feature = "dpop")]
    pub(crate) dpop: Option<Arc<super::dpop::DpopConfig>>,
    /// Cross-origin protection, and the paths exempt from the cross-site defences.
    pub(crate) cross_origin: CrossOrigin,
    /// The 403 of a cross-site refusal.
    pub(crate) forbidden_response: Arc<RejectionFn>,
    /// The keys of CSRF tokens, when the layer checks them.
    #[cfg(feature = "csrf")]
    pub(crate) csrf: Option<CsrfKeys>,
    _data: PhantomData<fn() -> T>,
}

impl<T> Config<T> {
    /// The bytes a token may travel in: the codec's cap (plus `name=`), and for a cookie
    /// at most the cookie budget.
    pub(crate) fn token_budget(&self) -> usize {
        let budget = self
            .codec
            .max_token_len()
            .saturating_add(self.token_overhead());
        if self.transport == Transport::Cookie {
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
}

/// The settings, and the configuration derived from them once.
struct Shared<T> {
    settings: Settings<T>,
    config: OnceLock<Arc<Config<T>>>,
}

/// A Tower layer that verifies a signed session token on every request, hands the handler a
/// typed [`Session<T>`](crate::Session), and re-signs the token on the way out when the
/// session changed or a refresh is due.
///
/// Cheap to clone: the configuration sits behind an `Arc`, and [`Layer::layer`] only
/// clones it. Every `with_*` setter sets one value, documents its default (the secure
/// choice), and cannot fail; [`build`](Self::build) checks the whole configuration (see
/// [the module docs](crate::server) for the rule).
///
/// ```
/// use std::time::Duration;
/// use tower_stateless_session::{Key, KeyRing, SessionLayer};
///
/// #[derive(serde::Serialize, serde::Deserialize, Clone)]
/// struct User { sub: String }
///
/// let keys = KeyRing::new(Key::generate_hs256("k1")?);
/// let sessions = SessionLayer::<User>::new(keys)
///     .with_idle_timeout(Duration::from_secs(30 * 60))
///     .with_absolute_timeout(Duration::from_secs(2 * 24 * 3600))
///     .with_refresh_after(Duration::from_secs(60))
///     .build()?;
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
///
/// # Settings
///
/// | setting | default |
/// |---|---|
/// | [`with_idle_timeout`](Self::with_idle_timeout) | 30 min |
/// | [`with_absolute_timeout`](Self::with_absolute_timeout) | 2 days |
/// | [`with_refresh_after`](Self::with_refresh_after) | 60 s |
/// | [`with_leeway`](Self::with_leeway) | 60 s |
/// | [`with_clock`](Self::with_clock) | the system clock |
/// | [`with_max_token_len`](Self::with_max_token_len) | the cookie budget (cookie), 4096 bytes (header) |
/// | [`with_data_version`](Self::with_data_version), [`with_migration`](Self::with_migration) | 1, none |
/// | [`with_verify_cache`](Self::with_verify_cache) | 4096 verified tokens |
/// | [`with_transport`](Self::with_transport) | cookie |
/// | [`with_token_response_header`](Self::with_token_response_header) | `x-session-token` (bearer), the request header (named header) |
/// | [`with_cookie_name`](Self::with_cookie_name) | `session` |
/// | [`with_cookie_path`](Self::with_cookie_path), [`with_cookie_domain`](Self::with_cookie_domain) | `/`, none (host-only) |
/// | [`with_secure`](Self::with_secure), [`with_http_only`](Self::with_http_only), [`with_same_site`](Self::with_same_site) | `Secure`, `HttpOnly`, `SameSite=Lax` |
/// | [`with_token_purpose`](Self::with_token_purpose) | the cookie name (encrypted tokens only) |
/// | [`with_cookie_budget`](Self::with_cookie_budget) | 4096 bytes (`name=value`) |
/// | [`with_cookie_header_budget`](Self::with_cookie_header_budget) | 8000 bytes |
/// | [`with_oversize_action`](Self::with_oversize_action), [`with_oversize_response`](Self::with_oversize_response) | 431 that deletes the session cookie |
/// | [`with_require_session`](Self::with_require_session) | `false` (`true` in [`verify_only`](Self::verify_only)) |
/// | [`with_rejection_response`](Self::with_rejection_response), [`with_sign_failure_response`](Self::with_sign_failure_response) | plain-text 401, 500 (503 while no key can sign) |
/// | [`with_revocation`](Self::with_revocation) | none |
/// | `with_audience`, `with_accepted_token_type` (feature `propagate`) | none, `downstream+jwt` |
/// | `with_dbsc` (feature `dbsc`), `with_dpop` (feature `dpop`) | none (sessions are not bound to a key) |
/// | [`with_cross_origin_protection`](Self::with_cross_origin_protection) | on with the cookie transport, off with a header transport |
/// | [`with_trusted_origin`](Self::with_trusted_origin), [`with_cross_site_exempt_path`](Self::with_cross_site_exempt_path) | none, none |
/// | [`with_forbidden_response`](Self::with_forbidden_response) | plain-text 403 |
/// | `with_csrf_tokens`, `with_csrf_keys` (feature `csrf`) | off, keys derived from the ring's HS256 keys |
pub struct SessionLayer<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for SessionLayer<T> {
    fn clone(&self) -> Self {
        SessionLayer {
            shared: Arc::clone(&self.shared),
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
        Self::from_settings(Settings::new(keys.into()))
    }

    /// A verify-only layer for downstream services: it accepts the token from
    /// `Authorization: Bearer` (change it with [`with_transport`](Self::with_transport)),
    /// requires a valid session (401 otherwise), never re-signs and never sets a cookie.
    /// The keys need only verify; the handle's changing methods return
    /// [`SessionError::ReadOnly`](crate::SessionError::ReadOnly).
    ///
    /// As it stands it accepts the session tokens a gateway forwards. With the `propagate`
    /// feature, name the service with `with_audience` to accept only the tokens minted for
    /// it instead (the recommended setup, see [`propagate`](crate::propagate)).
    pub fn verify_only(keys: impl Into<KeyRingHandle>) -> Self {
        let mut settings = Settings::new(keys.into());
        settings.verify_only = true;
        settings.require_session = true;
        settings.transport = Transport::Bearer;
        Self::from_settings(settings)
    }

    fn from_settings(settings: Settings<T>) -> Self {
        SessionLayer {
            shared: Arc::new(Shared {
                settings,
                config: OnceLock::new(),
            }),
        }
    }

    /// Sets one value; anything derived is derived again when the layer is built.
    fn set(self, change: impl FnOnce(&mut Settings<T>)) -> Self {
        let mut settings = self.shared.settings.clone();
        change(&mut settings);
        Self::from_settings(settings)
    }

    /// Checks the whole configuration and derives, once, everything that depends on several
    /// settings; the layer keeps the result. Call it where the application starts, so a
    /// conflict stops the start instead of surfacing on the first request.
    ///
    /// A layer that was not built is built when it first wraps a service; a conflict found
    /// then is logged and every request through that service is answered 500 without
    /// reaching the handler.
    ///
    /// # Errors
    /// The first conflict found: [`ConfigError::InvalidCookieName`] (not a cookie token, or
    /// a `__Host-`/`__Secure-` prefix with attributes it forbids),
    /// [`ConfigError::InvalidCookieAttribute`] (a bad `Path` or `Domain`, `SameSite=None`
    /// without `Secure`), [`ConfigError::InvalidCrossSiteSetting`] (a trusted origin or an
    /// exempt path of the wrong form), and with CSRF tokens on (feature `csrf`)
    /// [`ConfigError::InvalidSetting`] when no ring holds an HS256 key to derive them from.
    pub fn build(self) -> Result<Self, ConfigError> {
        if self.shared.config.get().is_none() {
            let config = Arc::new(self.shared.settings.derive()?);
            // Another clone may have derived the same configuration meanwhile: either is it.
            let _ = self.shared.config.set(config);
        }
        Ok(self)
    }

    /// The derived configuration, derived now if the layer was not built.
    fn config(&self) -> Result<Arc<Config<T>>, ConfigError> {
        if let Some(config) = self.shared.config.get() {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(self.shared.settings.derive()?);
        Ok(Arc::clone(self.shared.config.get_or_init(|| config)))
    }

    /// The idle (rolling) timeout: a session not seen for this long is over. Whole seconds,
    /// at least 1 s. Default 30 minutes.
    #[must_use]
    pub fn with_idle_timeout(self, timeout: Duration) -> Self {
        self.set(|s| s.idle = timeout)
    }

    /// The absolute timeout: a session is over this long after login, however active.
    /// Whole seconds, at least 1 s. Default 2 days.
    #[must_use]
    pub fn with_absolute_timeout(self, timeout: Duration) -> Self {
        self.set(|s| s.absolute = timeout)
    }

    /// How old a token must be before a request re-signs it (new `iat` and `exp`, same
    /// `sid`). Younger tokens pass with no `Set-Cookie`, which keeps responses cacheable and
    /// small. Whole seconds. Default 60 s. A value at or above the idle timeout means
    /// sessions are never extended.
    #[must_use]
    pub fn with_refresh_after(self, age: Duration) -> Self {
        self.set(|s| s.refresh_after = age)
    }

    /// The clock-skew leeway applied to every time comparison. Default 60 s.
    ///
    /// # Security
    /// Every deadline is extended by this much; keep it to the skew you expect between nodes.
    #[must_use]
    pub fn with_leeway(self, leeway: Duration) -> Self {
        self.set(|s| s.leeway = leeway)
    }

    /// The time source. Default: the system clock. Tests inject a
    /// [`ManualClock`](crate::time::ManualClock). Node keys verifying for this layer read
    /// the time from it too.
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        self.set(|s| s.clock = clock)
    }

    /// The longest token accepted or produced, in bytes; checked before any decoding.
    /// Default: the [cookie budget](Self::with_cookie_budget) with the cookie transport (a
    /// token never exceeds its cookie), 4096 bytes with a header transport.
    #[must_use]
    pub fn with_max_token_len(self, max: usize) -> Self {
        self.set(|s| s.max_token_len = Some(max))
    }

    /// The version of the session data's shape (default 1). Tokens of another version are
    /// refused ("start over") unless [`with_migration`](Self::with_migration) accepts them.
    #[must_use]
    pub fn with_data_version(self, version: u32) -> Self {
        self.set(|s| s.data_version = version)
    }

    /// Converts the data of tokens written with another data version: given that version
    /// and the token's data members, return the data in the current shape, or `None` to
    /// refuse the token. A migrated session is re-signed at once. Default: none.
    #[must_use]
    pub fn with_migration(
        self,
        migrate: impl Fn(u32, serde_json::Map<String, serde_json::Value>) -> Option<T>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        let migrate: Arc<Migration<T>> = Arc::new(migrate);
        self.set(|s| s.migration = Some(migrate))
    }

    /// Where the token travels. Default [`Transport::Cookie`] ([`Transport::Bearer`] in
    /// [`verify_only`](Self::verify_only)).
    #[must_use]
    pub fn with_transport(self, transport: Transport) -> Self {
        self.set(|s| s.transport = transport)
    }

    /// The response header that carries a new token for [`Transport::Bearer`] (default
    /// `x-session-token`) and [`Transport::Header`] (default: the request header's name).
    /// Not used with cookies.
    #[must_use]
    pub fn with_token_response_header(self, name: HeaderName) -> Self {
        self.set(|s| s.response_header = Some(name))
    }

    /// Whether a request without a valid session is answered 401 by the layer instead of
    /// reaching the handler. Default `false` (handlers decide, for example with the
    /// [`Session<T>`](crate::Session) extractor); `true` in [`verify_only`](Self::verify_only).
    #[must_use]
    pub fn with_require_session(self, require: bool) -> Self {
        self.set(|s| s.require_session = require)
    }

    /// Replaces the 401 response sent when a session is required and missing. The
    /// [`Rejection`] tells why, for logs; keep that out of the body.
    #[must_use]
    pub fn with_rejection_response(
        self,
        response: impl Fn(&Rejection) -> Response<Bytes> + Send + Sync + 'static,
    ) -> Self {
        let response: Arc<RejectionFn> = Arc::new(response);
        self.set(|s| s.rejection_response = response)
    }

    /// Replaces the 500 response sent when the handler changed the session but the new
    /// token cannot be signed (its data does not serialize, or it is too large). The
    /// previous cookie is left untouched. Default: a plain-text 500, or a 503 with
    /// `Retry-After: 1` for [`SignError::NoSigningKey`] (no key can sign here right now).
    #[must_use]
    pub fn with_sign_failure_response(
        self,
        response: impl Fn(&SignError) -> Response<Bytes> + Send + Sync + 'static,
    ) -> Self {
        let response: Arc<SignFailureFn> = Arc::new(response);
        self.set(|s| s.sign_failure_response = response)
    }

    /// The cookie's name. Default `session`. A `__Host-` name needs `Secure`, `Path=/` and
    /// no `Domain`; a `__Secure-` name needs `Secure` ([`build`](Self::build) checks).
    #[must_use]
    pub fn with_cookie_name(self, name: &str) -> Self {
        self.set(|s| s.cookie.name = name.to_owned())
    }

    /// The cookie's `Path`. Default `/`. It starts with `/` and holds no `;` or control
    /// characters ([`build`](Self::build) checks).
    #[must_use]
    pub fn with_cookie_path(self, path: &str) -> Self {
        self.set(|s| s.cookie.path = path.to_owned())
    }

    /// The cookie's `Domain`. Default: none (host-only, the safest).
    ///
    /// # Security
    /// A `Domain` sends the cookie to every subdomain too.
    #[must_use]
    pub fn with_cookie_domain(self, domain: &str) -> Self {
        self.set(|s| s.cookie.domain = Some(domain.to_owned()))
    }

    /// Whether the cookie is `Secure` (sent over HTTPS only). Default `true`.
    ///
    /// # Security
    /// Turn it off only for plain-HTTP development on localhost.
    #[must_use]
    pub fn with_secure(self, secure: bool) -> Self {
        self.set(|s| s.cookie.secure = secure)
    }

    /// Whether the cookie is `HttpOnly` (hidden from scripts). Default `true`.
    ///
    /// # Security
    /// Without it, any script injected into a page can read the session token.
    #[must_use]
    pub fn with_http_only(self, http_only: bool) -> Self {
        self.set(|s| s.cookie.http_only = http_only)
    }

    /// The cookie's `SameSite`. Default [`SameSite::Lax`]. `None` needs `Secure`.
    ///
    /// # Security
    /// `None` sends the cookie on cross-site requests: pair it with CSRF protection.
    #[must_use]
    pub fn with_same_site(self, same_site: SameSite) -> Self {
        self.set(|s| s.cookie.same_site = same_site)
    }

    /// What encrypted tokens are bound to: the `pur` member of their protected header,
    /// which the token must carry to be accepted here (see `token::jwe`, feature `jwe`).
    /// Default: the cookie name, whatever the transport, so a token issued for one cookie
    /// is refused under another even where both layers share a key ring.
    ///
    /// Set it on a downstream service that receives forwarded encrypted tokens in a header
    /// (the gateway's cookie name), or to let two layers accept each other's tokens. Signed
    /// tokens carry no purpose; this has no effect on them.
    #[must_use]
    pub fn with_token_purpose(self, purpose: &str) -> Self {
        let purpose: Arc<str> = purpose.into();
        self.set(|s| s.token_purpose = Some(purpose))
    }

    /// The budget for the session cookie's `name=value`, in bytes: inbound, a larger session
    /// cookie is refused before any decoding (see
    /// [`with_oversize_action`](Self::with_oversize_action)); outbound, a session whose
    /// cookie would be larger is not sent (the previous cookie stays, the request fails
    /// with the sign-failure response). A token crossing 75 % of it logs a warning.
    /// Default 4096, what browsers keep; see [`size_budgets`](crate::size_budgets) for the
    /// limits of common servers and proxies.
    ///
    /// Behind nginx, mind `proxy_buffer_size` (4 KiB or 8 KiB by default, one memory page):
    /// a `Set-Cookie` near 4 KiB plus the other response headers outgrows a 4 KiB buffer
    /// and nginx answers 502. Raise it to 8k, or keep this budget near 3 KiB.
    #[must_use]
    pub fn with_cookie_budget(self, bytes: usize) -> Self {
        self.set(|s| s.cookie_budget = bytes)
    }

    /// The budget for the whole `Cookie` request header (all cookies together, several
    /// `Cookie` fields joined with `"; "` as a proxy joins them), in bytes. Default 8000,
    /// under what nginx, Apache and Tomcat accept by default (see
    /// [`DEFAULT_COOKIE_HEADER_BUDGET`](crate::server::DEFAULT_COOKIE_HEADER_BUDGET)).
    #[must_use]
    pub fn with_cookie_header_budget(self, bytes: usize) -> Self {
        self.set(|s| s.header_budget = bytes)
    }

    /// What to do when a request's cookies break a budget. Default
    /// [`OversizeAction::Reject`]: answer 431 naming the offending cookies and delete the
    /// session cookie when it is one of them.
    #[must_use]
    pub fn with_oversize_action(self, action: OversizeAction) -> Self {
        self.set(|s| s.oversize_action = action)
    }

    /// Replaces the 431 response of [`OversizeAction::Reject`]. The deletion of the session
    /// cookie is added to whatever it returns. Default: a plain-text report of the sizes.
    #[must_use]
    pub fn with_oversize_response(
        self,
        response: impl Fn(&Oversize) -> Response<Bytes> + Send + Sync + 'static,
    ) -> Self {
        let response: Arc<OversizeFn> = Arc::new(response);
        self.set(|s| s.oversize_response = response)
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
    /// use tower_stateless_session::{Key, KeyRing, SessionLayer};
    /// use tower_stateless_session::revocation::MemoryRevocations;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize)]
    /// struct User { sub: String }
    ///
    /// let layer = SessionLayer::<User>::new(KeyRing::new(Key::generate_hs256("k1")?))
    ///     .with_revocation(MemoryRevocations::new(), |user: &User| Some(user.sub.as_str()));
    /// # Ok::<(), tower_stateless_session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_revocation<F>(self, store: impl RevocationStore, subject: F) -> Self
    where
        F: for<'a> Fn(&'a T) -> Option<&'a str> + Send + Sync + 'static,
    {
        let revocations = Arc::new(Revocations {
            store: Arc::new(store),
            subject: Arc::new(subject),
        });
        self.set(|s| s.revocations = Some(revocations))
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
    pub fn with_verify_cache(self, entries: usize) -> Self {
        self.set(|s| s.verify_cache_entries = entries)
    }

    /// Makes this a downstream service named `audience`: it accepts only minted downstream
    /// tokens (type `downstream+jwt`, or the one set with
    /// [`with_accepted_token_type`](Self::with_accepted_token_type)) whose `aud` names it,
    /// and refuses everything else with the same 401: a browser's session token, a token
    /// minted for another service, an expired one (kinds
    /// [`WrongType`](crate::RejectionKind::WrongType),
    /// [`WrongAudience`](crate::RejectionKind::WrongAudience),
    /// [`Expired`](crate::RejectionKind::Expired), for logs only). Default: none (session
    /// tokens are accepted).
    ///
    /// Meant with [`verify_only`](Self::verify_only); a layer with an audience never signs
    /// (it is verify-only whatever else is set). The session data `T` is read from the
    /// minted token's members: its `sub` and the members the gateway's projection passed
    /// on. The registered claims are in
    /// [`SessionHandle::minted`](crate::SessionHandle::minted).
    ///
    /// A minted token is accepted until its `exp` plus the [leeway](Self::with_leeway)
    /// (default 60 s): with synchronized clocks, a few seconds is enough here.
    #[cfg(feature = "propagate")]
    #[must_use]
    pub fn with_audience(self, audience: Audience) -> Self {
        self.set(|s| s.audience = Some(audience))
    }

    /// The `typ` of the minted tokens accepted with an [audience](Self::with_audience).
    /// Default `downstream+jwt`; set the same on the minter.
    #[cfg(feature = "propagate")]
    #[must_use]
    pub fn with_accepted_token_type(self, typ: TokenType) -> Self {
        self.set(|s| s.accepted_token_type = typ)
    }

    /// Device-bound sessions (DBSC) for browsers that support them: login responses offer
    /// registration, the layer answers the registration and refresh endpoints itself, and
    /// a registered session's cookie becomes a short-lived bound cookie that only a proof
    /// of the browser's key extends (see [`pop::dbsc`](crate::pop::dbsc)). Needs the
    /// cookie transport. Default: none.
    ///
    /// # Security
    /// Until a session registers, its cookie is an ordinary bearer cookie; see
    /// [`Dbsc::with_unbound_grace`](crate::pop::dbsc::Dbsc::with_unbound_grace).
    #[cfg(feature = "dbsc")]
    #[must_use]
    pub fn with_dbsc(self, dbsc: crate::pop::dbsc::Dbsc) -> Self {
        self.set(|s| s.dbsc = Some(dbsc))
    }

    /// DPoP (RFC 9449) for API clients: a login carrying a `DPoP` proof gets a token bound
    /// to its key, and every request must then carry `Authorization: DPoP <token>` and a
    /// fresh proof (see [`pop::dpop`](crate::pop::dpop)). Needs the bearer transport.
    /// Default: none.
    #[cfg(feature = "dpop")]
    #[must_use]
    pub fn with_dpop(self, dpop: crate::pop::dpop::Dpop) -> Self {
        self.set(|s| s.dpop = Some(dpop))
    }

    /// Whether unsafe requests (every method but `GET`, `HEAD` and `OPTIONS`) sent by a
    /// browser from another origin are refused with 403 ([`RejectionKind::CrossOrigin`]),
    /// before the session is read: those whose `Sec-Fetch-Site` is `cross-site` or
    /// `same-site`, and, from browsers that do not send it, those whose `Origin` names
    /// another host than the request's. Requests with neither header (not from a browser)
    /// pass, and so do [trusted origins](Self::with_trusted_origin) and
    /// [exempt paths](Self::with_cross_site_exempt_path). Login is covered like every other
    /// request, session or not. See [`server`](crate::server) for what this covers and what
    /// it does not. Default: on with [`Transport::Cookie`] (browsers attach cookies to
    /// cross-site requests), off with a header transport (a page on another site cannot
    /// make the browser send a bearer token).
    ///
    /// `GET` requests pay one comparison of the method; unsafe ones, at most two header
    /// lookups and a byte comparison.
    ///
    /// # Security
    /// Turning it off with cookies leaves `SameSite=Lax` as the only defence against
    /// cross-site forms: it does not cover sibling subdomains (`same-site`), nor
    /// top-level `POST`s in browsers that do not enforce it.
    ///
    /// [`RejectionKind::CrossOrigin`]: crate::RejectionKind::CrossOrigin
    #[must_use]
    pub fn with_cross_origin_protection(self, enabled: bool) -> Self {
        self.set(|s| s.cross_origin.enabled = Some(enabled))
    }

    /// Adds an origin (`scheme://host[:port]`, such as `https://admin.example.com`) whose
    /// cross-origin requests pass: another front end of the application that posts to
    /// this one. Compared exactly with the `Origin` header, ignoring ASCII case. Call once
    /// per origin. Default: none. [`build`](Self::build) checks the form and returns
    /// [`ConfigError::InvalidCrossSiteSetting`] naming a bad value.
    ///
    /// # Security
    /// A trusted origin can make any request a signed-in user's browser could: trust
    /// only origins you control.
    #[must_use]
    pub fn with_trusted_origin(self, origin: &str) -> Self {
        let origin = origin.to_owned();
        self.set(|s| s.cross_origin.trusted_origins.push(origin))
    }

    /// Adds a path exempt from the layer's cross-site defences (cross-origin protection,
    /// and with the `csrf` feature the CSRF token check of the layer): exactly this path,
    /// or every path under it when it ends with `/` (`/webhooks/`). For endpoints other
    /// sites call by design, such as webhooks that authenticate with a signature of their
    /// own. Call once per path. Default: none. [`build`](Self::build) checks that it
    /// starts with `/`.
    ///
    /// # Security
    /// A request to an exempt path that carries the session cookie acts for the signed-in
    /// user: give such endpoints no session (or a handler that ignores it).
    #[must_use]
    pub fn with_cross_site_exempt_path(self, path: &str) -> Self {
        let path = path.to_owned();
        self.set(|s| s.cross_origin.exempt_paths.push(path))
    }

    /// Replaces the 403 response of a cross-site refusal (a request from another origin,
    /// a missing or invalid CSRF token). The [`Rejection`] tells which, for logs; keep it
    /// out of the body. Default: a plain-text 403 that is the same for all of them. For a
    /// gRPC request the layer turns it into a gRPC answer (`grpc-status` 7).
    #[must_use]
    pub fn with_forbidden_response(
        self,
        response: impl Fn(&Rejection) -> Response<Bytes> + Send + Sync + 'static,
    ) -> Self {
        let response: Arc<RejectionFn> = Arc::new(response);
        self.set(|s| s.forbidden_response = response)
    }

    /// Whether the layer checks session-bound CSRF tokens on unsafe requests that carry a
    /// session, and the handle issues them
    /// ([`SessionHandle::csrf_token`](crate::SessionHandle::csrf_token)). The layer checks
    /// the `X-CSRF-Token` header; a form's `_csrf` field is checked by the
    /// [`CsrfForm`](crate::server::csrf::CsrfForm) extractor (see
    /// [`server::csrf`](crate::server::csrf) for exactly which requests are protected by
    /// what). Default: off (cross-origin protection needs no token).
    #[cfg(feature = "csrf")]
    #[must_use]
    pub fn with_csrf_tokens(self, enabled: bool) -> Self {
        self.set(|s| s.csrf.enabled = enabled)
    }

    /// The keys CSRF tokens are made with: a ring whose HS256 keys each give a CSRF key
    /// (the first one makes new tokens, every one checks them, so rotate it as a session
    /// ring). Default: the session ring's own HS256 keys. A session ring without a shared
    /// secret (node keys, a JWKS verifier, encryption keys alone) needs this: give every
    /// node that serves the forms the same ring (for example
    /// `KeyRing::from_env("CSRF_KEYS")`). The keys are never used as they are: each CSRF
    /// key is derived from one (see [`server::csrf`](crate::server::csrf)).
    #[cfg(feature = "csrf")]
    #[must_use]
    pub fn with_csrf_keys(self, keys: impl Into<KeyRingHandle>) -> Self {
        let keys = keys.into();
        self.set(|s| s.csrf.keys = Some(keys))
    }

    /// The token codec this layer signs and verifies with (for tools and tests that sign
    /// or check tokens outside a request).
    pub fn codec(&self) -> TokenCodec {
        match self.shared.config.get() {
            Some(config) => config.codec.clone(),
            None => self.shared.settings.codec(),
        }
    }

    /// The key ring handle; replace its ring to rotate keys.
    pub fn keys(&self) -> &KeyRingHandle {
        &self.shared.settings.keys
    }

    /// The request and response headers that carry this layer's tokens: `Cookie`,
    /// `Set-Cookie`, `Authorization`, for a header transport the request and response
    /// headers it uses, and with CSRF tokens on (feature `csrf`) `X-CSRF-Token`. Mark them sensitive in request logging (tower-http's
    /// `SetSensitiveRequestHeadersLayer` and `SetSensitiveResponseHeadersLayer` around its
    /// `TraceLayer`) so no token reaches the logs; see
    /// [`observability`](crate::observability).
    pub fn sensitive_headers(&self) -> Vec<HeaderName> {
        let settings = &self.shared.settings;
        let mut names = vec![
            http::header::COOKIE,
            http::header::SET_COOKIE,
            http::header::AUTHORIZATION,
        ];
        let request = match &settings.transport {
            Transport::Header(name) => Some(name.clone()),
            _ => None,
        };
        let response = match &settings.transport {
            Transport::Cookie => None,
            _ => Some(settings.response_header.clone().unwrap_or_else(|| {
                request
                    .clone()
                    .unwrap_or(HeaderName::from_static(DEFAULT_TOKEN_RESPONSE_HEADER))
            })),
        };
        // The CSRF token is bound to the session: keep it out of request logs too.
        #[cfg(feature = "csrf")]
        let csrf = settings
            .csrf
            .enabled
            .then(|| HeaderName::from_static(super::csrf::CSRF_HEADER));
        #[cfg(not(feature = "csrf"))]
        let csrf = None;
        for name in request.into_iter().chain(response).chain(csrf) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The health checks of what this layer depends on, for a `/health` endpoint:
    /// - `"revocation"`: the revocation store, when one is configured;
    /// - with a ring from node keys (feature `node-keys`), `"node_key"` (whether the node
    ///   issues with its own, published key) and `"key_registry"` (the registry's
    ///   connection);
    /// - with a ring from a JWKS verifier (feature `jwks`), `"jwks"` (whether the set is
    ///   fetched).
    ///
    /// Add the application's own checks with [`Health::with_check`]. See
    /// [`health`](crate::health).
    pub fn health(&self) -> Health {
        let settings = &self.shared.settings;
        let mut health = Health::new();
        if let Some(revocations) = &settings.revocations {
            let store = Arc::clone(&revocations.store);
            health = health.with_check("revocation", move || store.health());
        }
        if let Some(source) = settings.keys.refresher() {
            health = health.merge(source.health());
        }
        health
    }
}

impl<S, T> Layer<S> for SessionLayer<T> {
    type Service = SessionService<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        match self.config() {
            Ok(config) => SessionService::new(inner, config),
            Err(error) => {
                misconfigured(&error);
                SessionService::misconfigured(inner)
            }
        }
    }
}

impl<T> fmt::Debug for SessionLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared.settings;
        let mut debug = f.debug_struct("SessionLayer");
        debug
            .field("keys", &s.keys)
            .field("idle_timeout", &s.idle)
            .field("absolute_timeout", &s.absolute)
            .field("refresh_after", &s.refresh_after)
            .field("leeway", &s.leeway)
            .field("transport", &s.transport)
            .field("cookie", &s.cookie)
            .field("require_session", &s.require_session)
            .field("verify_only", &s.verify_only);
        #[cfg(feature = "propagate")]
        debug.field("audience", &s.audience);
        debug
            .field("cookie_budget", &s.cookie_budget)
            .field("header_budget", &s.header_budget)
            .field("oversize_action", &s.oversize_action)
            .field("revocation", &s.revocations.is_some())
            .field("cross_origin", &s.cross_origin);
        #[cfg(feature = "csrf")]
        debug.field("csrf", &s.csrf);
        debug
            .field("verify_cache_entries", &s.verify_cache_entries)
            .field("built", &self.shared.config.get().is_some())
            .finish_non_exhaustive()
    }
}

/// Log event: a layer that was never built wraps a service with a configuration that does
/// not hold; its requests are answered 500.
fn misconfigured(error: &ConfigError) {
    #[cfg(feature = "tracing")]
    tracing::error!(
        %error,
        "session layer configuration does not hold: every request through it is answered \
         500; call SessionLayer::build at startup to stop there instead"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = error;
}
