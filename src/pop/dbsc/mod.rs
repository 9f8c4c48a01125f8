//! Device Bound Session Credentials (DBSC), as Chromium speaks it, without server state.
//!
//! Turn it on with [`SessionLayer::with_dbsc`](crate::SessionLayer::with_dbsc). The session
//! cookie itself becomes the bound cookie (same name and attributes): short-lived (10
//! minutes by default), carrying `cnf: {"jkt": <thumbprint>, "pop": "dbsc"}`. Its `exp`
//! moves forward only at the refresh endpoint, against a fresh proof signed with the
//! browser's key, so a copied cookie dies within minutes.
//!
//! 1. A login response offers registration (`Secure-Session-Registration`, ES256 and
//!    RS256) with a challenge that is a MAC over the new session id and the time (no
//!    stored nonce; see [`ChallengeKey`]).
//! 2. The browser makes a key and POSTs a proof to the registration path. The layer answers
//!    itself (`Cache-Control: no-store`; the inner service is not called): it checks the
//!    proof (`typ` `dbsc+jwt`, the allow-list, the header's public `jwk`, the challenge,
//!    `authorization`), gives the session a new id (revoking the old one when a revocation
//!    store is configured), and answers the session instructions with the bound cookie and
//!    a refresh credential: a cookie scoped to the refresh path holding the same session,
//!    bound as `dbsc-refresh`, whose `exp` is the rolling idle timeout.
//! 3. When the bound cookie has expired, the browser holds its request back and POSTs to
//!    the refresh path: no or a stale proof gets `403` and a new `Secure-Session-Challenge`;
//!    a proof from another key, a key in the proof's header or the wrong algorithm is final
//!    (`401`, logged as a possible stolen cookie); success gives a new bound cookie and the
//!    next challenge. After logout, revocation or the absolute deadline the answer is
//!    `{"continue": false}`.
//!
//! The session identifier the browser keeps is the key itself (its RFC 7638 members,
//! base64url), so a refresh finds the key without any lookup and checks it against the
//! thumbprint the signed refresh credential names.
//!
//! Requests sent with `Secure-Session-Skipped` (the browser could not refresh) count as
//! having no session. Browsers without DBSC keep ordinary sessions, unless
//! [`Dbsc::with_unbound_grace`] refuses unbound sessions past a grace period.

mod headers;

use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;

pub use self::headers::{
    CHALLENGE_HEADER, REGISTRATION_HEADER, RESPONSE_HEADER, RegistrationOffer, SESSION_ID_HEADER,
    SKIPPED_HEADER, SessionChallenge, Skipped,
};
use super::proof::{string_claim, time_claim};
use super::{ChallengeKey, KeySource, ProofError, PublicJwk, verify_compact};
use crate::encoding::B64;

/// The proof type DBSC uses.
pub const PROOF_TYPE: &str = "dbsc+jwt";

/// Default registration path.
pub const DEFAULT_REGISTRATION_PATH: &str = "/.well-known/dbsc/register";
/// Default refresh path.
pub const DEFAULT_REFRESH_PATH: &str = "/.well-known/dbsc/refresh";
/// Default lifetime of the bound cookie: 10 minutes.
pub const DEFAULT_BOUND_LIFETIME: Duration = Duration::from_secs(600);
/// Under this the bound cookie's lifetime is allowed but warned about: Chromium limits how
/// often a key may sign (6 signatures in 9 minutes per site by default).
pub const MIN_ADVISED_BOUND_LIFETIME: Duration = Duration::from_secs(180);
/// How far a proof's `iat`, when it has one, may be from the server's clock.
pub const PROOF_IAT_WINDOW: Duration = Duration::from_secs(300);
/// How much longer than the bound cookie a challenge lives: the browser keeps a refresh's
/// challenge for the next refresh, one bound lifetime later.
pub const CHALLENGE_GRACE: Duration = Duration::from_secs(300);

/// DBSC's settings, given to [`SessionLayer::with_dbsc`](crate::SessionLayer::with_dbsc).
/// Each setter sets one value and cannot fail; the layer checks them when it is built.
///
/// ```
/// use std::time::Duration;
/// use tower_stateless_session::pop::ChallengeKey;
/// use tower_stateless_session::pop::dbsc::Dbsc;
///
/// let dbsc = Dbsc::new(ChallengeKey::generate()?)
///     .with_bound_lifetime(Duration::from_secs(600))
///     .with_unbound_grace(Some(Duration::from_secs(24 * 3600)));
/// # let _ = dbsc;
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
///
/// | setting | default |
/// |---|---|
/// | [`with_registration_path`](Self::with_registration_path) | `/.well-known/dbsc/register` |
/// | [`with_refresh_path`](Self::with_refresh_path) | `/.well-known/dbsc/refresh` |
/// | [`with_bound_lifetime`](Self::with_bound_lifetime) | 10 min (under 3 min is warned about) |
/// | [`with_refresh_cookie_name`](Self::with_refresh_cookie_name) | the session cookie's name and `_dbsc` |
/// | [`with_unbound_grace`](Self::with_unbound_grace) | none (unbound sessions are kept) |
#[derive(Clone, Debug)]
pub struct Dbsc {
    pub(crate) key: ChallengeKey,
    pub(crate) registration_path: String,
    pub(crate) refresh_path: String,
    pub(crate) bound_lifetime: Duration,
    pub(crate) refresh_cookie_name: Option<String>,
    pub(crate) unbound_grace: Option<Duration>,
}

impl Dbsc {
    /// DBSC with the default settings, its challenges made with `key` (the same on every
    /// node that serves the endpoints).
    pub fn new(key: ChallengeKey) -> Self {
        Dbsc {
            key,
            registration_path: DEFAULT_REGISTRATION_PATH.to_owned(),
            refresh_path: DEFAULT_REFRESH_PATH.to_owned(),
            bound_lifetime: DEFAULT_BOUND_LIFETIME,
            refresh_cookie_name: None,
            unbound_grace: None,
        }
    }

    /// The path the layer answers registrations on. Default `/.well-known/dbsc/register`.
    /// It must lie within the session cookie's `Path`.
    #[must_use]
    pub fn with_registration_path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.registration_path);
        self
    }

    /// The path the layer answers refreshes on; the refresh credential's cookie is scoped
    /// to it. Default `/.well-known/dbsc/refresh`.
    #[must_use]
    pub fn with_refresh_path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.refresh_path);
        self
    }

    /// How long a bound cookie lives before the browser must refresh it with a proof.
    /// Whole seconds, at least 1 s, below the idle timeout. Default 10 minutes.
    ///
    /// # Security
    /// This is how long a copied cookie keeps working. Under 3 minutes users run into
    /// Chromium's signing quota (the layer logs a warning when it is built).
    #[must_use]
    pub fn with_bound_lifetime(mut self, lifetime: Duration) -> Self {
        self.bound_lifetime = lifetime;
        self
    }

    /// The name of the refresh credential's cookie. Default: the session cookie's name
    /// followed by `_dbsc`.
    #[must_use]
    pub fn with_refresh_cookie_name(mut self, name: &str) -> Self {
        self.refresh_cookie_name = Some(name.to_owned());
        self
    }

    /// Refuses sessions that are not device-bound once they are older (from login) than
    /// `grace`, as [`RejectionKind::Unbound`](crate::RejectionKind::Unbound); `None` keeps
    /// them (browsers without DBSC go on as before). Default `None`.
    ///
    /// # Security
    /// Until a session registers, its cookie is an ordinary bearer cookie. A grace of a few
    /// minutes closes that window for browsers that support DBSC and logs out everyone
    /// else; choose by who your users are.
    #[must_use]
    pub fn with_unbound_grace(mut self, grace: Option<Duration>) -> Self {
        self.unbound_grace = grace;
        self
    }

    /// The registration path.
    pub fn registration_path(&self) -> &str {
        &self.registration_path
    }

    /// The refresh path.
    pub fn refresh_path(&self) -> &str {
        &self.refresh_path
    }

    /// The bound cookie's lifetime.
    pub fn bound_lifetime(&self) -> Duration {
        self.bound_lifetime
    }

    /// The challenge key.
    pub fn challenge_key(&self) -> &ChallengeKey {
        &self.key
    }
}

/// What a DBSC proof must show, besides its signature.
#[derive(Debug, Clone, Copy)]
pub struct ProofCheck<'a> {
    /// The endpoint's path: an `aud` claim, when present, must be a URL with this path.
    pub endpoint_path: &'a str,
    /// The `authorization` offered, if any: the proof must carry the same.
    pub authorization: Option<&'a str>,
    /// The session identifier: a `sub` claim, when present, must be it.
    pub session_id: Option<&'a str>,
    /// The server's clock (Unix seconds): an `iat` claim, when present, must be within
    /// [`PROOF_IAT_WINDOW`] of it.
    pub now: u64,
}

/// A DBSC proof that checked out.
#[derive(Debug, Clone)]
pub struct DbscProof {
    /// The challenge it answers (its `jti`), for the caller to check.
    pub challenge: String,
    /// The key it brought (registration only).
    pub key: Option<PublicJwk>,
}

/// Verifies a DBSC proof (`Secure-Session-Response`): a registration proof with its key in
/// the header (`stored` is `None`), or a refresh proof against the key registered before
/// (`stored`), which must bring none. The caller then checks
/// [`challenge`](DbscProof::challenge).
///
/// # Errors
/// The [`ProofError`] of the first check that failed.
pub fn verify_proof(
    proof: &str,
    stored: Option<&PublicJwk>,
    check: &ProofCheck<'_>,
) -> Result<DbscProof, ProofError> {
    let source = match stored {
        Some(key) => KeySource::Stored(key),
        None => KeySource::Header,
    };
    let verified = verify_compact(proof.as_bytes(), PROOF_TYPE, source)?;
    let payload = &verified.payload;
    let challenge = string_claim(payload, "jti")?
        .ok_or(ProofError::MissingClaim)?
        .to_owned();
    if let Some(expected) = check.authorization {
        let found = string_claim(payload, "authorization")?;
        if !found.is_some_and(|found| crate::encoding::ct_eq(found.as_bytes(), expected.as_bytes()))
        {
            return Err(ProofError::WrongAuthorization);
        }
    }
    if let Some(aud) = string_claim(payload, "aud")?
        && url_path(aud) != Some(check.endpoint_path)
    {
        return Err(ProofError::WrongAudience);
    }
    if let (Some(sub), Some(id)) = (string_claim(payload, "sub")?, check.session_id)
        && sub != id
    {
        return Err(ProofError::WrongAudience);
    }
    if let Some(iat) = time_claim(payload, "iat")?
        && !super::iat_in_window(iat, check.now, PROOF_IAT_WINDOW.as_secs())
    {
        return Err(ProofError::IatOutOfWindow);
    }
    Ok(DbscProof {
        challenge,
        key: verified.key,
    })
}

/// The path of an absolute URL (without query or fragment), or of a path.
fn url_path(url: &str) -> Option<&str> {
    let url = url.split(['?', '#']).next()?;
    if url.starts_with('/') {
        return Some(url);
    }
    let rest = url.split_once("://")?.1;
    Some(rest.find('/').map_or("/", |at| &rest[at..]))
}

/// The session identifier the browser keeps for a key: the key's RFC 7638 members,
/// base64url (about 160 characters for P-256, 500 for RSA-2048).
pub fn session_identifier(key: &PublicJwk) -> String {
    B64.encode(key.canonical_json())
}

/// The key a session identifier names.
///
/// # Errors
/// [`ProofError::Oversized`], [`ProofError::Malformed`], or the key's own errors.
pub fn key_of_session_identifier(id: &str) -> Result<PublicJwk, ProofError> {
    if id.len() > super::MAX_PROOF_HEADER_LEN {
        return Err(ProofError::Oversized);
    }
    let json = B64.decode(id).map_err(|_| ProofError::Malformed)?;
    PublicJwk::from_json(&json)
}

/// The session instructions a registration answers with (the JSON body), and the shape of
/// the body that ends the browser's session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInstructions {
    /// The session identifier (see [`session_identifier`]).
    pub session_identifier: String,
    /// Where the browser refreshes.
    pub refresh_url: String,
    /// Which requests the session covers.
    pub scope: Scope,
    /// The bound cookies.
    pub credentials: Vec<Credential>,
}

/// The scope of a DBSC session.
#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    /// Whether the whole site is covered, or only the registering origin.
    pub include_site: bool,
    /// Paths left out or put in.
    pub scope_specification: Vec<ScopeRule>,
}

/// One rule of a scope.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeRule {
    /// `include` or `exclude`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The domain (`*.example.com` allowed).
    pub domain: String,
    /// The path prefix.
    pub path: String,
}

/// A bound cookie, as the session instructions name it.
#[derive(Debug, Clone, Serialize)]
pub struct Credential {
    /// Always `cookie`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The cookie's name.
    pub name: String,
    /// Its attributes, exactly as the `Set-Cookie` carries them (Chromium compares
    /// `Domain`, `Path`, `Secure`, `HttpOnly` and `SameSite`).
    pub attributes: String,
}

impl SessionInstructions {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The body that ends the browser's DBSC session: no more refreshes.
pub fn termination(session_identifier: &str) -> String {
    serde_json::json!({ "session_identifier": session_identifier, "continue": false }).to_string()
}
