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
mod key;
mod ring;

pub use self::ed25519::ED25519_KEY_LEN;
pub use self::hmac::{MIN_SECRET_LEN, encode_secret};
pub use self::key::{Algorithm, Key, MAX_KID_LEN, MAX_PUBLIC_KID_LEN};
pub(crate) use self::key::{check_kid, secret_fingerprint};
pub use self::ring::{KeyRing, KeyRingHandle};
