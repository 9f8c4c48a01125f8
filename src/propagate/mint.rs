//! [`Minter`]: makes, for a call to one downstream service, a short-lived token naming that
//! service, from the session of the request making the call.
//!
//! Where the minting key comes from, and why:
//! - **An Ed25519 node key** ([`Minter::with_keys`]): the ring's issuing key signs tokens
//!   for every audience; downstream services verify with its public half (or the JWKS) and
//!   hold no secret, so none of them can mint a token for another. It may be the very
//!   ring the session layer signs with: the token type and the claims keep the two kinds of
//!   token apart (neither verifies as the other).
//! - **A dedicated HS256 key per audience** ([`Minter::with_audience_keys`]), where a
//!   deployment uses shared secrets: one secret per downstream service, so a service can
//!   only forge tokens for itself.
//!
//! What is refused (one key, one purpose): an HS256 key minting for every audience (each
//! downstream would hold the secret that mints for all the others), and an HS256 key the
//! session layer also verifies with, found by its key id (a downstream holding it could
//! forge sessions). Both are checked whenever a token is signed, since rings can be
//! replaced at any time, and fail the mint with a [`MintError`] (logged; the call goes out
//! without a token).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::cache::{DEFAULT_MINT_CACHE_ENTRIES, MintCache, Signer, fresh_until};
use crate::error::{ConfigError, SignError};
use crate::keys::{Algorithm, KeyRingHandle};
use crate::server::SessionToken;
use crate::server::handle::{SessionData, SessionHandle};
use crate::server::scope::{SessionView, TokenSource};
use crate::time::{Clock, SystemClock};
#[cfg(doc)]
use crate::token::minted::MINTED_RESERVED_CLAIMS;
use crate::token::minted::{self, MintParts, check_name, reserved_name};
use crate::token::{
    Actor, Audience, Claims, DEFAULT_MAX_TOKEN_LEN, DOWNSTREAM_TOKEN_TYPE, TokenType,
};

/// Default lifetime of a minted token: 60 seconds.
pub const DEFAULT_MINT_LIFETIME: Duration = Duration::from_secs(60);

type SubjectFn<T> = dyn for<'a> Fn(&'a T) -> Option<&'a str> + Send + Sync;
type ProjectionFn<T> = dyn Fn(&T) -> Result<Map<String, Value>, MintError> + Send + Sync;

/// A token could not be minted. The call then goes out without one (and the downstream
/// answers 401): the error is logged, never sent anywhere.
#[non_exhaustive]
#[derive(Debug)]
pub enum MintError {
    /// The task has no session to mint from: outside a request, in a spawned task not run
    /// in [`SessionHandle::scope`], or in a scope holding only a token
    /// ([`SessionToken::scope`], which can be forwarded, not minted from).
    NoSession,
    /// The session is not of the minter's session type `T`.
    WrongSessionType,
    /// The subject function found no subject in the session.
    NoSubject,
    /// No key mints for this audience: set [`Minter::with_keys`] (an Ed25519 node key) or
    /// [`Minter::with_audience_keys`] for it.
    NoKey {
        /// The audience.
        audience: String,
    },
    /// The ring of [`Minter::with_keys`] issues with an HS256 key: a shared secret may mint
    /// for one audience only ([`Minter::with_audience_keys`]).
    SharedSecretForAllAudiences {
        /// The key's id.
        kid: String,
    },
    /// The HS256 key that would mint is one the session layer verifies sessions with.
    SessionKeyReused {
        /// The key's id.
        kid: String,
    },
    /// The projection did not serialize into a JSON object.
    Projection(serde_json::Error),
    /// The projection uses a name a minted token reserves (see
    /// [`MINTED_RESERVED_CLAIMS`]).
    ReservedClaim(String),
    /// Signing failed: no key that can sign here, or the token would be too long.
    Sign(SignError),
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MintError::NoSession => f.write_str(
                "no session to mint from in this task (run spawned work in SessionHandle::scope)",
            ),
            MintError::WrongSessionType => {
                f.write_str("the session is not of the minter's session type")
            }
            MintError::NoSubject => f.write_str("the session has no subject to mint for"),
            MintError::NoKey { audience } => write!(
                f,
                "no key mints for audience `{audience}`: set with_keys or with_audience_keys"
            ),
            MintError::SharedSecretForAllAudiences { kid } => write!(
                f,
                "the minting ring issues with the HS256 key `{kid}`: a shared secret mints for \
                 one audience only (with_audience_keys)"
            ),
            MintError::SessionKeyReused { kid } => write!(
                f,
                "the HS256 key `{kid}` also verifies sessions: one key, one purpose"
            ),
            MintError::Projection(e) => {
                write!(f, "the projection is not a JSON object: {e}")
            }
            MintError::ReservedClaim(name) => {
                write!(f, "the projection uses the reserved claim name `{name}`")
            }
            MintError::Sign(e) => write!(f, "minting failed: {e}"),
        }
    }
}

impl std::error::Error for MintError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MintError::Projection(e) => Some(e),
            MintError::Sign(e) => Some(e),
            _ => None,
        }
    }
}

/// A minted token and whether it was signed for this call (a cache miss).
pub(crate) struct Minted {
    pub(crate) token: SessionToken,
    pub(crate) fresh: bool,
}

/// What the propagation layer needs from a minter, whatever its session type.
pub(crate) trait Mint: Send + Sync {
    fn mint_from(&self, source: &dyn TokenSource, audience: &Audience)
    -> Result<Minted, MintError>;
}

/// Mints short-lived, audience-scoped tokens from sessions of type `T`, for
/// [`PropagateSessionLayer::mint`](crate::propagate::PropagateSessionLayer::mint).
///
/// A minted token carries `iss` (this service), `aud` (the one downstream service that may
/// accept it), `sub` and `sid` of the session, `iat`, `exp` (default 60 s later, never
/// later than the session's own `exp`), a header `typ` of its own
/// ([`DOWNSTREAM_TOKEN_TYPE`]), and only the members the
/// [projection](Minter::with_projection) picks from `T`. Tokens are cached per (session
/// token, audience, signing key) and minted again when less than 10 % of their lifetime is
/// left, or at once when another key issues (a rotation, or the ring of an HS256 key
/// replaced at all). A ring replaced around the same Ed25519 key, as a [`NodeKeys`] ring is
/// when a gateway node joins or leaves the tier, keeps the cache.
///
/// [`NodeKeys`]: crate::keys::node::NodeKeys
///
/// On a service in the middle of a chain (whose session came in as a minted token, see
/// [`SessionLayer::with_audience`](crate::SessionLayer::with_audience)) the token for the
/// next hop keeps the original `sub` and `sid` and gains an `act` claim naming this
/// service (RFC 8693 §4.1), nesting the actors before it.
///
/// Cheap to clone; clones share the cache.
///
/// ```
/// use tower_stateless_session::{Key, KeyRing, KeyRingHandle, SessionLayer};
/// use tower_stateless_session::propagate::{Audience, Minter};
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct User { sub: String, roles: Vec<String>, email: String }
///
/// // This node's Ed25519 key signs sessions and minted tokens alike.
/// let keys = KeyRingHandle::new(KeyRing::new(Key::generate_ed25519()?));
/// let sessions = SessionLayer::<User>::new(keys.clone());
/// let minter = Minter::<User>::new("gateway", |user: &User| Some(user.sub.as_str()))?
///     .with_keys(keys)
///     // Downstream services see `sub`, `sid` and the roles; never the email.
///     .with_projection(|user: &User| serde_json::json!({ "roles": user.roles }));
/// # let _ = (sessions, minter);
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
pub struct Minter<T> {
    config: Arc<MintConfig<T>>,
    cache: Option<Arc<MintCache>>,
}

struct MintConfig<T> {
    issuer: Arc<str>,
    subject: Arc<SubjectFn<T>>,
    projection: Option<Arc<ProjectionFn<T>>>,
    keys: Option<KeyRingHandle>,
    audience_keys: Vec<(Audience, KeyRingHandle)>,
    lifetime: u64,
    typ: Arc<str>,
    clock: Arc<dyn Clock>,
    max_len: usize,
    cache_entries: usize,
}

impl<T> Clone for MintConfig<T> {
    fn clone(&self) -> Self {
        MintConfig {
            issuer: Arc::clone(&self.issuer),
            subject: Arc::clone(&self.subject),
            projection: self.projection.clone(),
            keys: self.keys.clone(),
            audience_keys: self.audience_keys.clone(),
            lifetime: self.lifetime,
            typ: Arc::clone(&self.typ),
            clock: Arc::clone(&self.clock),
            max_len: self.max_len,
            cache_entries: self.cache_entries,
        }
    }
}

impl<T> Clone for Minter<T> {
    fn clone(&self) -> Self {
        Minter {
            config: Arc::clone(&self.config),
            cache: self.cache.clone(),
        }
    }
}

impl<T: SessionData> Minter<T> {
    /// A minter for this service, named `issuer` (its `iss`, and its name in `act` when it
    /// mints along a chain), finding the session's subject with `subject`. It has no key
    /// yet: add [`with_keys`](Self::with_keys) or
    /// [`with_audience_keys`](Self::with_audience_keys). It passes on no session data
    /// until given a [projection](Self::with_projection).
    ///
    /// # Errors
    /// [`ConfigError::InvalidDownstreamSetting`] when `issuer` is empty, longer than 255
    /// bytes, or not visible ASCII.
    pub fn new<F>(issuer: &str, subject: F) -> Result<Self, ConfigError>
    where
        F: for<'a> Fn(&'a T) -> Option<&'a str> + Send + Sync + 'static,
    {
        check_name("issuer", issuer)?;
        Ok(Minter {
            config: Arc::new(MintConfig {
                issuer: issuer.into(),
                subject: Arc::new(subject),
                projection: None,
                keys: None,
                audience_keys: Vec::new(),
                lifetime: DEFAULT_MINT_LIFETIME.as_secs(),
                typ: DOWNSTREAM_TOKEN_TYPE.into(),
                clock: Arc::new(SystemClock),
                max_len: DEFAULT_MAX_TOKEN_LEN,
                cache_entries: DEFAULT_MINT_CACHE_ENTRIES,
            }),
            cache: MintCache::new(DEFAULT_MINT_CACHE_ENTRIES).map(Arc::new),
        })
    }
}

impl<T> Minter<T> {
    fn config_mut(&mut self) -> &mut MintConfig<T> {
        // A changed configuration mints differently: never share cached tokens.
        self.cache = MintCache::new(self.config.cache_entries).map(Arc::new);
        Arc::make_mut(&mut self.config)
    }

    /// The ring whose issuing key mints for every audience without a key of its own. It
    /// must issue with an Ed25519 key (a node key): downstream services then verify with
    /// the public key (best through this node's JWKS) and can forge nothing. It may be the
    /// session layer's own ring, and is typically [`NodeKeys::keys`]. A new issuing key
    /// (rotation) re-mints every cached token at once. Default: none.
    ///
    /// [`NodeKeys::keys`]: crate::keys::node::NodeKeys::keys
    #[must_use]
    pub fn with_keys(mut self, keys: impl Into<KeyRingHandle>) -> Self {
        self.config_mut().keys = Some(keys.into());
        self
    }

    /// A ring that mints for `audience` only, in place of [`with_keys`](Self::with_keys):
    /// typically a dedicated HS256 secret that this service and that one downstream
    /// service share. It must not be a key the session layer verifies with (an HS256 key
    /// whose id the session ring holds is refused). Default: none.
    #[must_use]
    pub fn with_audience_keys(
        mut self,
        audience: Audience,
        keys: impl Into<KeyRingHandle>,
    ) -> Self {
        let keys = keys.into();
        let config = self.config_mut();
        config.audience_keys.retain(|(a, _)| *a != audience);
        config.audience_keys.push((audience, keys));
        self
    }

    /// How long a minted token lives. Whole seconds, at least 1 s. Default 60 s
    /// ([`DEFAULT_MINT_LIFETIME`]). A token is re-minted when less than 10 % of this is
    /// left, and never outlives the session token it was minted from.
    ///
    /// # Security
    /// A longer lifetime is a longer window for replaying a token that leaked from the
    /// downstream service (its logs, its traffic) at that same service.
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.config_mut().lifetime = lifetime.as_secs().max(1);
        self
    }

    /// What of the session data goes to downstream services, next to `sub` and `sid`: a
    /// value serializing as a JSON object (a struct or a map) whose names avoid
    /// [`MINTED_RESERVED_CLAIMS`]. Default: nothing.
    #[must_use]
    pub fn with_projection<P, F>(mut self, project: F) -> Self
    where
        P: Serialize,
        F: Fn(&T) -> P + Send + Sync + 'static,
    {
        let projection = move |data: &T| match serde_json::to_value(project(data)) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(MintError::Projection(serde::ser::Error::custom(
                "a projection must serialize as a struct or a map",
            ))),
            Err(e) => Err(MintError::Projection(e)),
        };
        self.config_mut().projection = Some(Arc::new(projection));
        self
    }

    /// The `typ` of minted tokens. Default [`DOWNSTREAM_TOKEN_TYPE`]; downstream services
    /// accept another with
    /// [`with_accepted_token_type`](crate::SessionLayer::with_accepted_token_type).
    #[must_use]
    pub fn with_token_type(mut self, typ: TokenType) -> Self {
        self.config_mut().typ = typ.as_str().into();
        self
    }

    /// The time source. Default: the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.config_mut().clock = Arc::new(clock);
        self
    }

    /// The longest minted token, in bytes; a longer one is not minted
    /// ([`SignError::Oversized`]). Default 4096.
    #[must_use]
    pub fn with_max_token_len(mut self, max: usize) -> Self {
        self.config_mut().max_len = max;
        self
    }

    /// How many minted tokens to keep (default 4096; 0 mints on every call).
    #[must_use]
    pub fn with_mint_cache(mut self, entries: usize) -> Self {
        self.config_mut().cache_entries = entries;
        self.cache = MintCache::new(entries).map(Arc::new);
        self
    }

    /// This service's name, the `iss` of its tokens.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The lifetime of minted tokens, in seconds.
    pub fn lifetime_secs(&self) -> u64 {
        self.config.lifetime
    }

    /// The ring that mints for `audience`, and whether it is dedicated to it.
    fn keys_for(&self, audience: &Audience) -> Option<(&KeyRingHandle, bool)> {
        match self
            .config
            .audience_keys
            .iter()
            .find(|(a, _)| a == audience)
        {
            Some((_, keys)) => Some((keys, true)),
            None => self.config.keys.as_ref().map(|keys| (keys, false)),
        }
    }
}

impl<T: SessionData> Minter<T> {
    /// Mints (or takes from the cache) a token of `session` for `audience`, for calls made
    /// without [`PropagateSessionLayer`](crate::propagate::PropagateSessionLayer) (another HTTP
    /// client, a message queue). Send it as `Authorization: Bearer <token>`.
    ///
    /// # Errors
    /// A [`MintError`] naming what is missing or refused.
    pub fn mint(
        &self,
        session: &SessionHandle<T>,
        audience: &Audience,
    ) -> Result<SessionToken, MintError> {
        self.mint_from(&*session.source(), audience)
            .map(|minted| minted.token)
    }

    fn mint_view(&self, view: &SessionView<'_>, audience: &Audience) -> Result<Minted, MintError> {
        let config = &*self.config;
        let (keys, dedicated) = self.keys_for(audience).ok_or_else(|| MintError::NoKey {
            audience: audience.as_str().to_owned(),
        })?;
        let now = config.clock.now();
        // Read before the ring: a ring replaced meanwhile has a newer generation, so the
        // entry is checked against it next time.
        let generation = keys.generation();
        if let Some(cache) = &self.cache
            && let Some(token) = cache.get(view.token, audience, keys, generation, now)
        {
            return Ok(Minted {
                token,
                fresh: false,
            });
        }
        let ring = keys.load();
        let key = ring
            .issuing_key()
            .ok_or(MintError::Sign(SignError::NoSigningKey))?;
        if key.algorithm() == Algorithm::HS256 {
            if !dedicated {
                return Err(MintError::SharedSecretForAllAudiences {
                    kid: key.kid().to_owned(),
                });
            }
            if view.session_keys.load().get(key.kid()).is_some() {
                return Err(MintError::SessionKeyReused {
                    kid: key.kid().to_owned(),
                });
            }
        }
        let claims = view
            .claims
            .downcast_ref::<Claims<T>>()
            .ok_or(MintError::WrongSessionType)?;
        let (subject, act) = match view.minted {
            // Along a chain: the original subject, this service as the current actor.
            Some(received) => (
                received.sub.as_str(),
                Some(Actor::new(&config.issuer, received.act.clone())),
            ),
            None => (
                (config.subject)(&claims.data).ok_or(MintError::NoSubject)?,
                None,
            ),
        };
        let data = match &config.projection {
            Some(project) => project(&claims.data)?,
            None => Map::new(),
        };
        if let Some(name) = reserved_name(&data) {
            return Err(MintError::ReservedClaim(name.to_owned()));
        }
        let exp = now
            .saturating_add(config.lifetime)
            .min(claims.exp)
            .max(now.saturating_add(1));
        let parts = MintParts {
            issuer: &config.issuer,
            audience: audience.as_str(),
            subject,
            sid: claims.sid,
            iat: now,
            exp,
            act: act.as_ref(),
            data: &data,
        };
        let token =
            minted::sign(key, &config.typ, &parts, config.max_len).map_err(MintError::Sign)?;
        let token = SessionToken::new(&token);
        if let Some(cache) = &self.cache {
            cache.insert(
                view.token,
                audience,
                Signer::new(generation, key),
                fresh_until(now, exp),
                token.clone(),
            );
        }
        Ok(Minted { token, fresh: true })
    }
}

impl<T: SessionData> Mint for Minter<T> {
    fn mint_from(
        &self,
        source: &dyn TokenSource,
        audience: &Audience,
    ) -> Result<Minted, MintError> {
        let mut result = None;
        let found = source.view(&mut |view| result = Some(self.mint_view(view, audience)));
        match result {
            Some(result) if found => result,
            _ => Err(MintError::NoSession),
        }
    }
}

impl<T> fmt::Debug for Minter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("Minter")
            .field("issuer", &c.issuer)
            .field("keys", &c.keys)
            .field(
                "audience_keys",
                &c.audience_keys.iter().map(|(a, _)| a).collect::<Vec<_>>(),
            )
            .field("lifetime_secs", &c.lifetime)
            .field("typ", &c.typ)
            .field("projection", &c.projection.is_some())
            .field("cache_entries", &c.cache_entries)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
