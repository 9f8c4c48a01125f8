//! The server side: [`SessionLayer`], its service, future, body and rejection; the session
//! handle and the extractors handlers use; the cookie and transport settings; the
//! cross-site defences (cross-origin protection, and with the `csrf` feature session-bound
//! CSRF tokens in [`csrf`]); gRPC-shaped refusals.
//!
//! # Cross-site requests
//!
//! A browser attaches the session cookie to requests other sites make it send, so a
//! cookie session must refuse requests it did not ask for. `SameSite=Lax` (the default)
//! stops most, not all: sibling subdomains are the same site, and browsers that do not
//! enforce it send the cookie with a cross-site top-level `POST`. With the cookie
//! transport the layer therefore refuses unsafe requests from other origins by itself
//! ([`SessionLayer::with_cross_origin_protection`], on by default): browsers since 2020
//! say where a request comes from in `Sec-Fetch-Site`, and in `Origin` on every
//! cross-origin `POST`. The refusal is a 403 with
//! [`RejectionKind::CrossOrigin`](crate::RejectionKind::CrossOrigin), counted in
//! `stateless_session_forbidden_requests_total` and logged (method, path, and the header
//! that decided: never a token).
//!
//! What it covers: forms, `fetch` and `XMLHttpRequest` sent from other origins (other
//! sites, sibling subdomains, other ports), login included (it needs no session). What it
//! does not cover: an attacker's script running on this very origin (XSS: no CSRF defence
//! does, tokens included, since the script can read them); state-changing `GET`s (safe
//! methods are not checked: keep them safe); clients that are not browsers (they send
//! neither header and pass, but they also carry no victim's cookie); a browser from before
//! `Sec-Fetch-Site` reaching the site over `http` from its own `https` origin (the scheme
//! of `Origin` is not compared: use HSTS). The session-bound tokens of [`csrf`] (feature
//! `csrf`) add a second check for those who want it.
//!
//! # gRPC
//!
//! For requests whose `Content-Type` is `application/grpc...`, the layer's own refusals
//! (401, 403, 431) are answered as gRPC does: HTTP 200, `grpc-status` (16
//! `UNAUTHENTICATED` for a missing or refused session, 7 `PERMISSION_DENIED` for a
//! cross-site refusal, 8 `RESOURCE_EXHAUSTED` for oversized cookies), a `grpc-message`,
//! no body. A tonic client then sees the status code, not a transport error;
//! `examples/grpc` runs a tonic service behind a verify-only layer.

mod body;
mod budget;
mod cache;
pub(crate) mod cookie;
mod cross_origin;
#[cfg(feature = "csrf")]
#[cfg_attr(docsrs, doc(cfg(feature = "csrf")))]
pub mod csrf;
#[cfg(feature = "dbsc")]
mod dbsc;
#[cfg(feature = "dpop")]
mod dpop;
#[cfg(feature = "axum")]
mod extract;
mod future;
mod grpc;
pub(crate) mod handle;
mod inbound;
pub(crate) mod issue;
mod layer;
mod outbound;
mod rejection;
#[cfg(feature = "propagate")]
pub(crate) mod scope;
mod service;
mod token;

pub use self::body::ResponseBody;
pub use self::budget::{
    BUDGET_WARNING_PERCENT, CookieSize, DEFAULT_COOKIE_BUDGET, DEFAULT_COOKIE_HEADER_BUDGET,
    IssuedToken, Oversize, OversizeAction,
};
pub use self::cache::DEFAULT_VERIFY_CACHE_ENTRIES;
pub use self::cookie::{DEFAULT_COOKIE_NAME, SameSite, Transport};
pub use self::future::ResponseFuture;
pub use self::handle::{Session, SessionData, SessionError, SessionHandle, SessionInfo};
pub(crate) use self::layer::Config;
pub use self::layer::{DEFAULT_REFRESH_AFTER, DEFAULT_TOKEN_RESPONSE_HEADER, SessionLayer};
#[cfg(feature = "propagate")]
pub use self::scope::{TokenScope, current_token};
pub use self::service::SessionService;
pub use self::token::{InvalidSessionToken, SessionToken};

#[cfg(all(test, feature = "node-keys"))]
mod tests_key_refresh;
