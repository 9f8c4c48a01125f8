//! Stateless, signed (or encrypted) client-side sessions for axum and hyper, as one Tower
//! layer.
//!
//! The session lives in a signed token carried by the client (a cookie by default), so any
//! node behind a plain load balancer can serve any request: no session store, no sticky
//! sessions, and a node that dies takes no sessions with it.
//!
//! # Overview
//!
//! [`SessionLayer<T>`] wraps a service. On the way in it verifies the token (a JWT signed
//! with HS256, which any JWT library holding the key can verify) and puts a
//! [`SessionHandle<T>`] into the request's extensions. The handler reads the typed data
//! `T`, or changes it: [`login`], [`modify`], [`renew`], [`logout`]. On the way out the layer
//! signs and sends a new token only when something changed or the token is older than the
//! refresh age, so most responses carry no `Set-Cookie` at all.
//!
//! Two deadlines bound every session, both checked on the server from signed claims: an
//! idle timeout that slides with activity (`exp`, refreshed by re-signing) and an absolute
//! timeout counted from login (`auth_time`) that never slides.
//!
//! Keys live in a [`KeyRing`]: one signing key and any number of verify-only keys, each
//! named by a `kid`. Swap the ring through a [`KeyRingHandle`] to rotate without a restart;
//! live sessions move to the new key at their next request.
//!
//! # axum
//!
//! ```
//! use axum::{Json, Router, routing::{get, post}};
//! use serde::{Deserialize, Serialize};
//! use tower_stateless_session::{KeyRing, Session, SessionError, SessionHandle, SessionLayer};
//!
//! #[derive(Clone, Serialize, Deserialize)]
//! struct User {
//!     sub: String,
//!     roles: Vec<String>,
//! }
//!
//! async fn login(session: SessionHandle<User>) -> Result<&'static str, SessionError> {
//!     // ... check the credentials, then:
//!     session.login(User { sub: "ada".into(), roles: vec!["reader".into()] })?;
//!     Ok("welcome")
//! }
//!
//! // 401 when there is no valid session.
//! async fn me(session: Session<User>) -> Json<Option<User>> {
//!     Json(session.data())
//! }
//!
//! // `None` without a valid session (a 500 if no layer for `User` runs: a bug, not a guest).
//! async fn home(session: Option<Session<User>>) -> String {
//!     match session.and_then(|s| s.data()) {
//!         Some(user) => format!("hello {}", user.sub),
//!         None => "hello stranger".to_owned(),
//!     }
//! }
//!
//! async fn logout(session: SessionHandle<User>) -> Result<&'static str, SessionError> {
//!     session.logout()?;
//!     Ok("bye")
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // SAFETY of the example: a test key, set only for this process.
//! # unsafe { std::env::set_var("SESSION_KEYS", "k1:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldCE") };
//! let keys = KeyRing::from_env("SESSION_KEYS")?; // "kid:base64url-secret,kid2:secret"
//! let sessions = SessionLayer::<User>::new(keys).build()?;
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .route("/me", get(me))
//!     .route("/login", post(login))
//!     .route("/logout", post(logout))
//!     .layer(sessions);
//! # Ok(())
//! # }
//! ```
//!
//! Every setting, with its default, is in [`SessionLayer`]'s documentation. Setters cannot
//! fail and can come in any order; [`SessionLayer::build`] checks the whole configuration
//! once and returns the first conflict as a [`ConfigError`].
//!
//! # Plain hyper (or any Tower service)
//!
//! The layer wraps any `Service<http::Request<B>>`; without axum, read the handle from the
//! request's extensions.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use tower::{Layer, service_fn};
//! use tower_stateless_session::{Key, KeyRing, SessionHandle, SessionLayer};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct User { sub: String }
//!
//! async fn handle(request: Request<String>) -> Result<Response<String>, Infallible> {
//!     let session = SessionHandle::<User>::from_extensions(request.extensions());
//!     let who = session.and_then(|s| s.with(|u| u.sub.clone()));
//!     Ok(Response::new(who.unwrap_or_else(|| "anonymous".into())))
//! }
//!
//! # fn main() -> Result<(), tower_stateless_session::ConfigError> {
//! let layer = SessionLayer::<User>::new(KeyRing::new(Key::generate_hs256("k1")?)).build()?;
//! let service = layer.layer(service_fn(handle));
//! // Serve it with hyper_util::service::TowerToHyperService (see examples/hyper.rs).
//! # let _ = service;
//! # Ok(())
//! # }
//! ```
//!
//! # Products and features
//!
//! The default build is the session layer with HS256 keys. Each other product is one
//! feature and one module, in the way of tower-http:
//!
//! | feature | default | what it adds | where |
//! |---|---|---|---|
//! | `axum` | yes | the extractors `Session<T>`, `Option<Session<T>>`, `SessionHandle<T>` | [`server`] |
//! | `tracing` | yes | logs of refusals, budget warnings, signing failures (never a token or a secret) | |
//! | `jwe` | no | encrypted session tokens (JWE, `A256KW` or `dir` with `A256GCM`) | `keys::EncryptionKey`, `token::jwe` |
//! | `node-keys` | no | per-node Ed25519 keys, a key registry, a JWKS service | `keys::node`, `keys::registry`, `keys::jwks` |
//! | `jwks` | no | verify with the public keys of a JWKS URL (implies `node-keys`) | `keys::jwks::JwksVerifier` |
//! | `propagate` | no | downstream calls carry a token minted for their service (or the session token), and downstream layers accept only theirs (implies `node-keys`) | `propagate` |
//! | `redis` | no | revocations and node keys shared between nodes through Redis (TLS, ACL, Sentinel, Cluster) | `redis` |
//! | `metrics` | no | counters, gauges and histograms through the `metrics` facade | [`observability`] |
//! | `dbsc` | no | device-bound sessions for browsers (DBSC): the cookie bound to a key the browser cannot export, extended only against a proof of it | `pop::dbsc`, `SessionLayer::with_dbsc` |
//! | `dpop` | no | DPoP (RFC 9449) for API clients: tokens bound to the client's key, a proof on every request | `pop::dpop`, `SessionLayer::with_dpop` |
//! | `csrf` | no | session-bound CSRF tokens: issued by the handle, checked from a header by the layer and from a form field by an axum extractor (cross-origin protection needs no feature) | `server::csrf` |
//!
//! The crate root holds what an axum handler and its router need; every other type lives in
//! its module (futures, bodies and size reports in [`server`], the codec in [`token`], the
//! clocks in [`time`], stores in [`revocation`], health checks in [`health`]). Every normal
//! dependency, what it is for and which feature brings it: [`dependencies`].
//!
//! # Builders
//!
//! One rule: settings are `with_*` methods that take `self`, set one value each and cannot
//! fail ([`SessionLayer`], `Minter`, `PropagateSessionLayer`, [`health::Health`]); values
//! that can be invalid on their own are checked where they are made (`Key::hs256`,
//! `Audience::new`). Parts that run a background task are made with
//! `Part::builder(..).with_*(..).start()`, where starting is what can fail (node keys, the
//! JWKS verifier, the Redis stores).
//!
//! # Ending sessions early
//!
//! A signed token cannot be recalled, so the layer can check every valid token against a
//! [`revocation`] store: a per-session and a per-subject deny list held in memory (the
//! lookup costs about as much as a hash-map read, no network on the request path), shared
//! across nodes through Redis with the `redis` feature.
//!
//! # Security notes
//!
//! What signing gives: nobody without a key can create or alter a session; the algorithm is
//! fixed by the key, never by the token; MACs are compared in constant time; sizes are
//! capped before any decoding; secrets are at least 32 bytes and never appear in `Debug`
//! output or logs.
//!
//! What it does not give:
//! - **Confidentiality**, with signing keys: the claims are only base64url-encoded. Anyone
//!   holding the token can read the session data. Keep secrets out of it, or issue
//!   encrypted tokens (feature `jwe`).
//! - **Revocation, by itself**: a token stays valid until its `exp` for whoever holds a copy;
//!   logout deletes the browser's cookie but not copies. Configure a revocation store
//!   ([`SessionLayer::with_revocation`]) to have logout revoke the session everywhere the
//!   store reaches; keep the idle timeout short either way.
//! - **Replay protection** within the token's lifetime: use TLS (`Secure` cookies) and
//!   `HttpOnly` so the token is hard to steal in the first place, and bind sessions to a
//!   key their client holds (features `dbsc`, `dpop`) so a stolen copy stops working.
//!
//! Against cross-site requests, the layer refuses unsafe requests from other origins
//! before it reads the session (on by default with cookies; see [`server`] for what that
//! covers and what it does not); feature `csrf` adds session-bound tokens.
//!
//! # MSRV
//!
//! Rust 1.88.
//!
//! [`login`]: SessionHandle::login
//! [`modify`]: SessionHandle::modify
//! [`renew`]: SessionHandle::renew
//! [`logout`]: SessionHandle::logout
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod encoding;
mod error;
mod generations;
pub mod health;
pub mod keys;
mod metrics;
#[cfg(any(feature = "dbsc", feature = "dpop"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "dbsc", feature = "dpop"))))]
pub mod pop;
#[cfg(feature = "propagate")]
#[cfg_attr(docsrs, doc(cfg(feature = "propagate")))]
pub mod propagate;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod revocation;
pub mod server;
pub mod time;
pub mod token;

pub use crate::error::{ConfigError, Rejection, RejectionKind};
pub use crate::keys::{Key, KeyRing, KeyRingHandle};
pub use crate::server::{
    SameSite, Session, SessionData, SessionError, SessionHandle, SessionInfo, SessionLayer,
    Transport,
};

#[doc = include_str!("../docs/size-budgets.md")]
pub mod size_budgets {}

#[doc = include_str!("../docs/observability.md")]
pub mod observability {}

#[doc = include_str!("../docs/dependencies.md")]
pub mod dependencies {}

/// Entry points for the cargo-fuzz targets in `fuzz/`, compiled only under `--cfg fuzzing`
/// (which cargo-fuzz sets): parsers whose public callers need I/O to reach them.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// The JWKS document parser of the JWKS verifier: the key ids kept (in order) and the
    /// number of keys skipped, or `None` for a document that is not a key set.
    #[cfg(feature = "node-keys")]
    pub fn parse_jwks(json: &[u8], max_keys: usize) -> Option<(Vec<String>, usize)> {
        crate::keys::jwks::parse(json, max_keys).map(|parsed| {
            let kids = parsed.keys.iter().map(|k| k.kid().to_owned()).collect();
            (kids, parsed.skipped)
        })
    }
}

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
