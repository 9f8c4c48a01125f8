//! Session-bound CSRF tokens (feature `csrf`), the fallback to cross-origin protection that
//! users of Rails and Django expect.
//!
//! Turn them on with [`SessionLayer::with_csrf_tokens`](crate::SessionLayer::with_csrf_tokens).
//! A token is a MAC over the session's id (`sid`), so it needs no server state, changes
//! when the id changes (login, [`renew`](crate::SessionHandle::renew)), and is worthless
//! for any other session. [`SessionHandle::csrf_token`](crate::SessionHandle::csrf_token)
//! hands it out masked afresh on every call (XOR with a random pad carried in the token),
//! so no two pages hold the same string (see "Format" below).
//!
//! # Which requests are protected by what
//!
//! Safe methods (`GET`, `HEAD`, `OPTIONS`) are never checked: they must not change state.
//! For every other method, in this order:
//!
//! | request | cross-origin protection (default build) | CSRF token (`csrf`, when on) |
//! |---|---|---|
//! | path exempt ([`with_cross_site_exempt_path`](crate::SessionLayer::with_cross_site_exempt_path)) | not checked | not checked |
//! | from another origin (see [`with_cross_origin_protection`](crate::SessionLayer::with_cross_origin_protection)) | **refused by the layer** (403) | (not reached) |
//! | without a valid session (login included) | checked as above | not checked: a token binds a session, and a request without one acts for nobody |
//! | with a session and an `X-CSRF-Token` header | checked as above | **checked by the layer**: refused (403) unless it is this session's |
//! | with a session, no header, an `application/x-www-form-urlencoded` or `multipart/form-data` body | checked as above | left to the handler: the [`CsrfForm`] extractor checks the `_csrf` field (403 when missing or wrong); for multipart, read the field and call [`SessionHandle::check_csrf_token`](crate::SessionHandle::check_csrf_token) |
//! | with a session, no header, any other body (JSON, `text/plain`, none) | checked as above | **refused by the layer** (403, [`CsrfTokenMissing`](crate::RejectionKind::CsrfTokenMissing)) |
//!
//! The one gap: a form request (urlencoded or multipart, no header) to a handler that
//! reads its body without [`CsrfForm`] or
//! [`check_csrf_token`](crate::SessionHandle::check_csrf_token) is protected by
//! cross-origin protection alone, since the layer cannot read bodies.
//!
//! The header and the field names are fixed: [`CSRF_HEADER`] and [`CSRF_FIELD`]. A check
//! costs one HMAC-SHA256 over 40 bytes or so, on the requests that carry a token only.
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{Router, response::Html, routing::get};
//! use tower_stateless_session::{Key, KeyRing, Session, SessionLayer};
//! use tower_stateless_session::server::csrf::{CSRF_FIELD, CsrfForm};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct User { sub: String }
//!
//! #[derive(serde::Deserialize)]
//! struct Comment { text: String }
//!
//! async fn page(session: Session<User>) -> Html<String> {
//!     let token = session.csrf_token().map(|t| t.as_str().to_owned()).unwrap_or_default();
//!     Html(format!(
//!         r#"<form method="post" action="/comment">
//!              <input type="hidden" name="{CSRF_FIELD}" value="{token}">
//!              <textarea name="text"></textarea><button>Send</button></form>"#
//!     ))
//! }
//!
//! // 403 unless the form's `_csrf` field is this session's token.
//! async fn comment(_session: Session<User>, CsrfForm(comment): CsrfForm<Comment>) -> String {
//!     comment.text
//! }
//!
//! # fn main() -> Result<(), tower_stateless_session::ConfigError> {
//! let layer = SessionLayer::<User>::new(KeyRing::new(Key::generate_hs256("k1")?))
//!     .with_csrf_tokens(true)
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/", get(page))
//!     .route("/comment", axum::routing::post(comment))
//!     .layer(layer);
//! # let _ = app;
//! # Ok(())
//! # }
//! # }
//! ```
//!
//! # Format
//!
//! ```text
//! key_k  = HMAC-SHA256(hs256_secret_k, "tower-stateless-session csrf-key v1")
//! id_k   = HMAC-SHA256(hs256_secret_k, "tower-stateless-session csrf-key-id v1")[..3]
//! tag    = HMAC-SHA256(key_k, cookie_name || 0x00 || sid)[..16]
//! pad    = 16 random bytes, new for every token handed out
//! token  = base64url(0x01 || id_k || pad || (tag XOR pad))     36 bytes, 48 characters
//! ```
//!
//! A check decodes the token (strict base64url: one spelling only), finds the key by its
//! id (a public hint), unmasks the tag and compares it in constant time
//! (`Mac::verify_truncated_left`): one MAC, no allocation. The cookie name in the message
//! keeps two layers that share keys from accepting each other's tokens.
//!
//! # Keys
//!
//! Each CSRF key is derived from an HS256 key of a ring (HMAC-SHA256 of the key over a
//! label of this purpose, HKDF-Expand's first block): the signing key itself never makes a
//! CSRF token, and a CSRF key reveals nothing of it. By default the ring is the session
//! ring, so CSRF keys rotate with it; a session ring without a shared secret (node keys,
//! a JWKS verifier, encryption keys alone) has nothing to derive from, and
//! [`build`](crate::SessionLayer::build) says so: give the layer a ring of HS256 keys for
//! this with [`with_csrf_keys`](crate::SessionLayer::with_csrf_keys), the same on every
//! node that renders or receives the forms.

mod check;
#[cfg(feature = "axum")]
mod extract;
mod token;

pub(crate) use self::check::Demand;
#[cfg(feature = "axum")]
pub(crate) use self::check::expose;
#[cfg(feature = "axum")]
pub use self::extract::{CsrfForm, CsrfFormRejection};
pub(crate) use self::token::CsrfKeys;
pub use self::token::{CSRF_TOKEN_LEN, CsrfToken};

use crate::error::{ConfigError, Rejection, RejectionKind};
use crate::keys::KeyRingHandle;
use crate::server::handle::SessionHandle;

/// The request header a script sends the token in: `x-csrf-token` (as Rails and Laravel
/// name it).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The form field a page sends the token in: `_csrf`.
pub const CSRF_FIELD: &str = "_csrf";

/// The CSRF settings as the setters leave them.
#[derive(Debug, Clone, Default)]
pub(crate) struct CsrfSettings {
    pub(crate) enabled: bool,
    /// `None`: the session ring.
    pub(crate) keys: Option<KeyRingHandle>,
}

impl CsrfSettings {
    /// The keys, when tokens are on; the error when their ring has no HS256 key.
    pub(crate) fn derive(
        &self,
        session_keys: &KeyRingHandle,
        purpose: &str,
    ) -> Result<Option<CsrfKeys>, ConfigError> {
        if !self.enabled {
            return Ok(None);
        }
        let ring = self.keys.as_ref().unwrap_or(session_keys).clone();
        CsrfKeys::new(ring, purpose).map(Some)
    }
}

impl<T> SessionHandle<T> {
    /// The session's CSRF token, masked afresh on every call, for a form's hidden
    /// [`CSRF_FIELD`] field or a script's [`CSRF_HEADER`] header (feature `csrf`). `None`
    /// without a session, or when the layer's CSRF tokens are off.
    ///
    /// After a [`login`](Self::login) or [`renew`](Self::renew) in this request it is the
    /// new session's token: render it after the change.
    pub fn csrf_token(&self) -> Option<CsrfToken> {
        let keys = self.config().csrf.as_ref()?;
        let sid = self.lock().claims.as_ref()?.sid;
        keys.issue(&sid)
    }

    /// Checks a CSRF token that the handler read itself (a `multipart/form-data` field, a
    /// JSON member) against this session, as the layer and [`CsrfForm`] do (feature
    /// `csrf`). A refusal is counted and logged like the layer's.
    ///
    /// # Errors
    /// [`RejectionKind::CsrfTokenInvalid`] when `token` is not this session's (another
    /// session's, one from before a login or renewal, altered), and when the layer's CSRF
    /// tokens are off (there are none to check). `Ok` without a session: a token binds a
    /// session, and a request without one acts for nobody.
    pub fn check_csrf_token(&self, token: &str) -> Result<(), Rejection> {
        check(self, Some(token.as_bytes())).map_err(Rejection::new)
    }
}

/// Checks `token` (`None`: the request carried none) against the handle's session;
/// counts and logs a refusal.
pub(crate) fn check<T>(
    handle: &SessionHandle<T>,
    token: Option<&[u8]>,
) -> Result<(), RejectionKind> {
    let config = handle.config();
    let sid = handle.lock().claims.as_ref().map(|claims| claims.sid);
    let result = match (&config.csrf, sid) {
        (_, None) => Ok(()),
        (None, Some(_)) => Err(RejectionKind::CsrfTokenInvalid),
        (Some(_), Some(_)) if token.is_none() => Err(RejectionKind::CsrfTokenMissing),
        (Some(keys), Some(sid)) => keys.check(token.unwrap_or_default(), &sid),
    };
    if let Err(kind) = result {
        config.metrics.forbidden(|| config.budgets(), kind);
        refused(kind);
    }
    result
}

/// Log event: a CSRF token was missing or did not verify (never the token).
fn refused(kind: RejectionKind) {
    #[cfg(feature = "tracing")]
    tracing::info!(kind = kind.as_str(), "CSRF token refused");
    #[cfg(not(feature = "tracing"))]
    let _ = kind;
}
