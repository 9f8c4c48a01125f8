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
//! with HS256 or EdDSA, which any JWT library holding the key can verify, or a JWE, see
//! [Encrypted sessions](#encrypted-sessions)) and puts a [`SessionHandle<T>`] into the
//! request's extensions. The handler reads the typed data `T`, or changes it: [`login`],
//! [`modify`], [`renew`], [`logout`]. On the way out the layer signs and sends a new token
//! only when something changed or the token is older than the refresh age, so most
//! responses carry no `Set-Cookie` at all.
//!
//! Two deadlines bound every session, both checked on the server from signed claims: an
//! idle timeout that slides with activity (`exp`, refreshed by re-signing) and an absolute
//! timeout counted from login (`auth_time`) that never slides.
//!
//! Keys live in a [`KeyRing`]: one signing key and any number of verify-only keys, each
//! named by a `kid`. Swap the ring through a [`KeyRingHandle`] to rotate without a restart;
//! live sessions move to the new key at their next request. A key is an HS256 secret or an
//! Ed25519 key pair (`EdDSA`), and a ring may hold both kinds at once (see [`keys`]).
//!
//! # Encrypted sessions
//!
//! Signed tokens hide nothing: whoever holds the cookie reads every claim. Put an
//! encryption key ([`Key::encryption`]) first in the ring and every new token is a JWE
//! instead (RFC 7516 compact serialization, `A256GCM` with `A256KW` key wrap by default, or
//! `dir`), which any JOSE library holding the key can open, and nobody without it can read.
//! Everything else works the same: refresh, deadlines, renew, logout, revocation, budgets
//! (counting the larger token), the verify cache, forwarding. Signing keys later in the
//! ring keep verifying signed sessions, which move to encrypted tokens at their next
//! request, with no logout (and back, the same way). See [`token::jwe`] for the format,
//! the purpose binding to the cookie name, and the per-key encryption budget of `dir`.
//!
//! ```
//! use tower_stateless_session::keys::KeyManagement;
//! use tower_stateless_session::{KeyRing, SessionLayer};
//!
//! # #[derive(Clone, serde::Serialize, serde::Deserialize)] struct User { sub: String }
//! # fn main() -> Result<(), tower_stateless_session::ConfigError> {
//! // "e1:<32 random bytes, base64url>", e.g. from SESSION_ENCRYPTION_KEYS.
//! let keys = KeyRing::parse_encryption(
//!     "e1:ZW5jcnlwdGlvbi1rZXktb2YtMzItYnl0ZXMtLS0tLS0",
//!     KeyManagement::A256KW,
//! )?;
//! let layer = SessionLayer::<User>::new(keys);
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
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
//! // Never rejects.
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
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .route("/me", get(me))
//!     .route("/login", post(login))
//!     .route("/logout", post(logout))
//!     .layer(SessionLayer::<User>::new(keys));
//! # Ok(())
//! # }
//! ```
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
//! let service = SessionLayer::<User>::new(KeyRing::new(Key::generate_hs256("k1")?)).layer(service_fn(handle));
//! // Serve it with hyper_util::service::TowerToHyperService (see examples/hyper.rs).
//! # let _ = service;
//! # Ok(())
//! # }
//! ```
//!
//! # Per-node keys: no shared signing secret
//!
//! With HS256 every verifying service holds the secret and could forge sessions. With node
//! keys each signing node makes its own Ed25519 key at startup ([`keys::NodeKeys`]), whose
//! private half never leaves its memory; it publishes the public half to a registry
//! ([`keys::KeyRegistry`], authenticated by a registration key only the signing tier holds)
//! before it signs with it, and serves all live public keys as a JWKS
//! ([`keys::JwksService`] at `/.well-known/jwks.json`). Downstream services verify with that
//! JWKS (`keys::JwksVerifier`, feature `jwks`) and hold no secret at all; a node that just
//! joined causes no spurious 401 there, since a token naming an unknown key makes the
//! verifier refetch once (bounded) before the request is decided. See [`keys`].
//!
//! # Propagation to downstream services
//!
//! While a request runs inside the layer, its session is the task's current session: wrap
//! the HTTP client in [`PropagateSessionLayer`] and every call made from the handler
//! carries a token for it as `Authorization: Bearer` (marked sensitive; the browser's
//! `Cookie` header is never forwarded).
//!
//! The recommended way is **minting**: a [`Minter`] makes, for each downstream service, a
//! token of its own: `aud` naming that service, `exp` a minute away, a `typ` of its own,
//! `sub` and `sid` of the session, and only the session data the application chooses to
//! pass on; signed with this node's Ed25519 key ([`keys::NodeKeys`]), whose public half
//! the gateway serves as a JWKS ([`keys::JwksService`]). The downstream runs
//! [`SessionLayer::verify_only`] with [`SessionLayer::with_audience`] and, in the
//! recommended deployment, the keys of a `keys::JwksVerifier` (feature `jwks`) fetching
//! that JWKS: it holds no secret, can forge nothing, accepts only tokens minted for it, and
//! refuses a browser session token, a token for another service, or an expired one (the
//! same 401 for each). The gateway, in turn, never accepts a minted token as a session.
//!
//! Minted tokens are cached per session token, audience and signing key, and minted again
//! when 10 % of their life is left, or at once when another key issues (a rotation); the
//! downstream refetches the JWKS the first time it sees the new key id (one fetch for a
//! burst of such tokens), so a rotation costs no 401. A service in the middle of a chain
//! mints for the next hop from the token it received: the same `sub` and `sid`, and an
//! `act` claim naming it (RFC 8693).
//!
//! ```
//! use axum::Router;
//! use bytes::Bytes;
//! use http_body_util::Empty;
//! use hyper_util::{client::legacy::Client, rt::TokioExecutor};
//! use tower::ServiceBuilder;
//! use tower_stateless_session::keys::jwks::JwksService;
//! use tower_stateless_session::keys::node::NodeKeys;
//! use tower_stateless_session::keys::registry::{MemoryKeyRegistry, RegistrationKey};
//! use tower_stateless_session::SessionLayer;
//! use tower_stateless_session::propagate::{Audience, Minter, PropagateSessionLayer};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct User { sub: String, roles: Vec<String> }
//!
//! # fn main() -> Result<(), tower_stateless_session::ConfigError> {
//! // The gateway: this node's Ed25519 key, published before use (through Redis between
//! // gateway processes), signs sessions and minted tokens.
//! let node = NodeKeys::builder(RegistrationKey::generate()?, MemoryKeyRegistry::new()).start()?;
//! let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))?
//!     .with_keys(node.keys())
//!     .with_projection(|u: &User| serde_json::json!({ "roles": u.roles }));
//! let profile_client = ServiceBuilder::new()
//!     .layer(PropagateSessionLayer::mint(minter, Audience::new("profile")?))
//!     .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
//! let gateway: Router = Router::new()
//!     // ... routes calling `profile` through `profile_client` ...
//!     .layer(SessionLayer::<User>::new(node.keys()))
//!     .route_service("/.well-known/jwks.json", JwksService::new(node.keys()));
//! # let _ = (profile_client, gateway);
//! # Ok(())
//! # }
//!
//! // The `profile` service: the gateway's JWKS only, no secret; 401 for anything but a
//! // token minted for it. (Started inside the Tokio runtime.)
//! #[cfg(feature = "jwks")]
//! fn profile_layer() -> Result<SessionLayer<User>, Box<dyn std::error::Error>> {
//!     let url = "http://gateway.internal/.well-known/jwks.json";
//!     let jwks = tower_stateless_session::keys::jwks::JwksVerifier::builder(url).start()?;
//!     Ok(SessionLayer::<User>::verify_only(jwks.keys()).with_audience(Audience::new("profile")?))
//! }
//! ```
//!
//! **Forwarding** the session token itself ([`PropagateSessionLayer::forward`]) stays
//! available: the downstream then runs `verify_only` without an audience. It hands every
//! downstream service the user's whole session, which it (or its logs) can replay at the
//! gateway or at any other service; see SECURITY.md before choosing it. The forwarded
//! token is the freshest one: after a login or a due refresh in the same request it is the
//! newly signed token, the same the client gets.
//!
//! Work spawned onto another task leaves the request's scope: run it in
//! [`SessionHandle::scope`] (or, when forwarding, [`SessionToken::scope`] or a
//! [`SessionToken`] in the request's extensions). Read every downstream response body to
//! its end (or drop it) so pooled connections go back to the pool. See
//! `examples/microservices/`.
//!
//! # Operating it
//!
//! With the `metrics` feature the layer counts requests by outcome (valid, no token,
//! refused by reason, revoked), tokens issued by reason, 431s, budget warnings and cache
//! hits through the `metrics` facade, at the cost of an atomic add per counter, and the
//! revocation feed, the key registry, the node key and the JWKS verifier report their state
//! as gauges; the [`health`] module gives a `/health` report of what the layer depends on
//! (the revocation store, the node key and its registry, the JWKS source), `ok` or
//! `degraded`, never down. [`observability`] holds the table of every metric, the alert
//! rules shipped in `prometheus/rules.yml`, how to keep tokens out of request logs
//! ([`SessionLayer::sensitive_headers`]), and an operator's guide.
//!
//! # Ending sessions early
//!
//! A signed token cannot be recalled, so the layer can check every valid token against a
//! [`revocation`] store: a per-session and a per-subject deny list held in memory (the
//! lookup costs about as much as a hash-map read, no network on the request path), fed
//! across nodes by [`redis::RedisRevocations`] (feature `redis`). Entries expire by
//! themselves once no token they match can still be valid.
//!
//! # The token
//!
//! A JWS compact serialization (RFC 7515) with HS256 or EdDSA (Ed25519, RFC 8037): header
//! `{"alg":"HS256","kid":"<kid>","typ":"sess+jwt"}` (or `"alg":"EdDSA"`), claims `sid`
//! (random 128-bit session id), `iat`, `exp`, `auth_time`, `ver` (data version), `rem`
//! (only for persistent sessions), and the fields of `T` next to them. Verification
//! checks, in order: the length cap, three segments, a known `kid` (the key fixes the
//! algorithm, the header never picks it), the signature over the bytes as received (a
//! constant-time MAC comparison, or Ed25519's strict check), the claims, `exp`, `iat` not
//! in the future, the idle and the absolute deadline, with a clock-skew leeway. See
//! [`token`].
//!
//! An encrypted token is a JWE compact serialization (RFC 7516) of the same claims, in five
//! segments, with `"typ":"sess-enc+jwt"`; see [`token::jwe`].
//!
//! A minted downstream token has `"typ":"downstream+jwt"` and the claims `iss`, `aud`,
//! `sub`, `sid`, `iat`, `exp`, `act` (along a chain) and the projected data; neither kind
//! of token is accepted where the other is expected.
//!
//! # Configuration
//!
//! | setting | default |
//! |---|---|
//! | [`with_idle_timeout`](SessionLayer::with_idle_timeout) | 30 min |
//! | [`with_absolute_timeout`](SessionLayer::with_absolute_timeout) | 2 days |
//! | [`with_refresh_after`](SessionLayer::with_refresh_after) | 60 s |
//! | [`with_leeway`](SessionLayer::with_leeway) | 60 s |
//! | [`with_max_token_len`](SessionLayer::with_max_token_len) | 4096 bytes |
//! | [`with_verify_cache`](SessionLayer::with_verify_cache) | 4096 verified tokens |
//! | [`with_transport`](SessionLayer::with_transport) | cookie |
//! | [`with_cookie_name`](SessionLayer::with_cookie_name) | `session` |
//! | cookie attributes | `HttpOnly; Secure; SameSite=Lax; Path=/`, no `Domain` |
//! | [`with_cookie_budget`](SessionLayer::with_cookie_budget) | 4096 bytes (`name=value`) |
//! | [`with_cookie_header_budget`](SessionLayer::with_cookie_header_budget) | 8000 bytes |
//! | [`with_oversize_action`](SessionLayer::with_oversize_action) | 431 that deletes the session cookie |
//! | [`with_require_session`](SessionLayer::with_require_session) | `false` |
//! | [`verify_only`](SessionLayer::verify_only) | off (signing layer) |
//! | [`with_token_purpose`](SessionLayer::with_token_purpose) | the cookie name (encrypted tokens only) |
//! | [`with_audience`](SessionLayer::with_audience) | none (verify-only layers accept forwarded session tokens) |
//! | [`Minter::with_lifetime`] | 60 s |
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | yes | extractors: [`Session<T>`], `Option<Session<T>>`, [`SessionHandle<T>`] |
//! | `tracing` | yes | logs of rejected tokens, budget warnings and signing failures (never a token or a secret) |
//! | `redis` | no | [`redis`]: the Redis connection (one server, TLS, ACL users, Sentinel, Cluster, through redis-rs) and on it [`redis::RedisRevocations`] (revocations shared between nodes) and `redis::RedisKeyRegistry` (node keys shared between nodes) (adds redis-rs, tokio) |
//! | `jwks` | no | `keys::JwksVerifier`: downstream services verify with the public keys of a JWKS URL (adds tokio, hyper, hyper-util) |
//! | `metrics` | no | counters, gauges and a histogram through the `metrics` facade (see [`observability`]) |
//!
//! Every normal dependency, what it is for and which feature brings it: [`dependencies`].
//!
//! # Security notes
//!
//! What signing gives: nobody without a key can create or alter a session (with Ed25519
//! node keys: nobody without a node's private key, which never leaves that node); the
//! algorithm is fixed by the key, never by the token; MACs are compared in constant time and
//! Ed25519 signatures checked strictly; sizes are capped before any decoding; secrets are at
//! least 32 bytes and never appear in `Debug` output or logs.
//!
//! What it does not give:
//! - **Confidentiality**, with signing keys: the claims are only base64url-encoded. Anyone
//!   holding the token (the user, a proxy that logs cookies) can read the session data.
//!   Keep secrets out of it, or issue encrypted tokens (see [Encrypted
//!   sessions](#encrypted-sessions)), which only the key holders can read.
//! - **Revocation, by itself**: a token stays valid until its `exp` for whoever holds a copy;
//!   logout deletes the browser's cookie but not copies. Configure a revocation store
//!   ([`SessionLayer::with_revocation`], see [`revocation`]) to have logout revoke the
//!   session everywhere the store reaches, and "log out everywhere" with
//!   [`SessionHandle::logout_everywhere`]; keep the idle timeout short either way.
//! - **Replay protection** within the token's lifetime: use TLS (`Secure` cookies) and
//!   `HttpOnly` so the token is hard to steal in the first place.
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

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
