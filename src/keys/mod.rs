//! Keys: what signs and verifies session tokens, and how the keys reach every node and
//! every downstream service.
//!
//! - [`Key`]: one key with its key id. HS256 (a shared secret that signs and verifies),
//!   Ed25519 (`EdDSA`: a key pair whose public half verifies and cannot forge), or an
//!   encryption key ([`Key::encryption`]: tokens become JWEs, see
//!   [`token::jwe`](crate::token::jwe)).
//! - [`KeyRing`]: the first key issues new tokens; every key verifies the tokens naming its
//!   `kid`, with the algorithm the key fixes (never the token's header). HS256 and Ed25519
//!   keys can sit in one ring, which is how a deployment moves from one to the other.
//! - [`KeyRingHandle`]: a shared, atomically swappable ring, for rotation without restarts.
//!
//! # Per-node keys: no shared signing secret
//!
//! With HS256 every service that verifies holds the secret, so every one of them could also
//! forge sessions. With node keys:
//!
//! 1. each signing node (the gateway tier) makes its own Ed25519 key at startup
//!    ([`NodeKeys`](node::NodeKeys), feature `node-keys`); the private half never leaves its memory, and its key id is the RFC 7638
//!    thumbprint of the public half;
//! 2. the node publishes the public half to a [`KeyRegistry`](registry::KeyRegistry)
//!    ([`MemoryKeyRegistry`](registry::MemoryKeyRegistry) in one
//!    process, Redis between processes) *before* it signs with it, keeps it alive with a
//!    heartbeat, and every node holds every live public key in memory; entries are
//!    authenticated with a [`RegistrationKey`](registry::RegistrationKey) only the signing
//!    nodes hold;
//! 3. every node serves the public keys it holds as a JWKS
//!    ([`JwksService`](jwks::JwksService), at
//!    `/.well-known/jwks.json`);
//! 4. downstream services verify with that JWKS (`JwksVerifier`, feature `jwks`) and hold
//!    no secret at all.
//!
//! ```
//! use axum::Router;
//! use tower_stateless_session::SessionLayer;
//! use tower_stateless_session::keys::jwks::JwksService;
//! use tower_stateless_session::keys::node::NodeKeys;
//! use tower_stateless_session::keys::registry::{MemoryKeyRegistry, RegistrationKey};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct User { sub: String }
//!
//! # fn main() -> Result<(), tower_stateless_session::ConfigError> {
//! // RegistrationKey::from_env("SESSION_REGISTRATION_KEY") in production.
//! let registration = RegistrationKey::generate()?;
//! let node = NodeKeys::builder(registration, MemoryKeyRegistry::new()).start()?;
//! let app: Router = Router::new()
//!     // ... routes ...
//!     .layer(SessionLayer::<User>::new(node.keys()))
//!     .route_service("/.well-known/jwks.json", JwksService::new(node.keys()));
//! # Ok(()) }
//! ```
//!
//! One file per concern: `key.rs` (the key and its kinds), `ring.rs` (ring and handle),
//! `hmac.rs` (HS256), `ed25519.rs` (Ed25519), `node.rs` (node keys), `registry/` (the
//! registry trait, its entries, the in-memory and the Redis registry), `jwks/` (the JWKS document, the
//! service, the verifier), `refresh.rs` (asking a key source for fresher keys).

#[cfg(feature = "node-keys")]
mod ed25519;
#[cfg(feature = "jwe")]
pub(crate) mod encryption;
mod hmac;
#[cfg(feature = "node-keys")]
#[cfg_attr(docsrs, doc(cfg(feature = "node-keys")))]
pub mod jwks;
mod key;
#[cfg(feature = "node-keys")]
#[cfg_attr(docsrs, doc(cfg(feature = "node-keys")))]
pub mod node;
mod refresh;
#[cfg(feature = "node-keys")]
#[cfg_attr(docsrs, doc(cfg(feature = "node-keys")))]
pub mod registry;
mod ring;

#[cfg(feature = "node-keys")]
pub use self::ed25519::ED25519_KEY_LEN;
#[cfg(feature = "jwe")]
pub use self::encryption::{
    DIR_KEY_LIMIT, DIR_WARNING_THRESHOLD, ENCRYPTION_KEY_LEN, EncryptionKey, KeyManagement,
};
pub use self::hmac::{MIN_SECRET_LEN, encode_secret};
#[cfg(feature = "jwe")]
pub(crate) use self::key::check_kid;
#[cfg(feature = "jwe")]
pub(crate) use self::key::secret_fingerprint;
#[cfg(test)]
pub(crate) use self::key::session_token_prefix;
pub use self::key::{Algorithm, Key, MAX_KID_LEN, MAX_PUBLIC_KID_LEN, TOKEN_TYPE};
pub use self::refresh::KeyWait;
#[cfg(all(test, feature = "node-keys"))]
pub(crate) use self::refresh::RefreshKeys;
pub use self::ring::{KeyRing, KeyRingHandle};
