//! Keys: what signs and verifies session tokens, and how a ring of them is shared.
//!
//! - [`Key`]: one key with its key id. HS256 (a shared secret) or Ed25519 (`EdDSA`, a key
//!   pair whose public half verifies and cannot forge).
//! - [`KeyRing`]: the first key issues new tokens; every key verifies the tokens naming
//!   its `kid`, with the algorithm the key fixes (never the token's header).
//! - [`KeyRingHandle`]: a shared, atomically swappable ring, for rotation without restarts.
//!
//! One file per concern: `key.rs` (the key and its kinds), `ring.rs` (ring and handle),
//! `hmac.rs` (HS256), `ed25519.rs` (Ed25519).

mod ed25519;
mod hmac;
mod jwks;
mod key;
mod node;
mod refresh;
mod registry;
mod ring;

pub use self::ed25519::ED25519_KEY_LEN;
pub use self::hmac::{MIN_SECRET_LEN, encode_secret};
pub use self::jwks::{DEFAULT_JWKS_MAX_AGE, JwksService};
#[cfg(feature = "jwks")]
pub use self::jwks::{
    DEFAULT_JWKS_MAX_BYTES, DEFAULT_JWKS_MAX_KEYS, DEFAULT_JWKS_MIN_REFETCH, DEFAULT_JWKS_REFRESH,
    DEFAULT_JWKS_TIMEOUT, DEFAULT_UNKNOWN_KID_WAIT, JwksError, JwksStatus, JwksVerifier,
    JwksVerifierBuilder,
};
pub use self::key::{Algorithm, Key, MAX_KID_LEN, MAX_PUBLIC_KID_LEN};
pub use self::node::{
    DEFAULT_HEARTBEAT, DEFAULT_MAX_KEYS, DEFAULT_SIGNING_WINDOW, NodeKeys, NodeKeysBuilder,
    NodeKeysStatus,
};
pub use self::refresh::KeyWait;
#[cfg(test)]
pub(crate) use self::refresh::RefreshKeys;
pub use self::registry::{
    InvalidEntry, KeyRegistry, MAX_ENTRY_LEN, MemoryKeyRegistry, RegistrationKey, RegistryEntry,
    RegistryListener,
};
pub use self::ring::{KeyRing, KeyRingHandle};
