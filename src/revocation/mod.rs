//! Revocation: ending sessions before their tokens expire.
//!
//! A signed token cannot be recalled, so a stolen or shared one keeps working until its
//! `exp`. A revocation store answers that without giving up statelessness on the common
//! path: the layer asks it, after the signature and deadlines are valid, whether the
//! token's session is revoked. The answer comes from memory; the network (Redis) only
//! carries revocations between nodes, in the background.
//!
//! Two kinds of entries:
//! - a **session** (`sid`) revoked: logout that also kills copies of the token;
//! - a **subject** (`sub`) whose sessions that began before a time are revoked: "log out
//!   everywhere", a password change.
//!
//! Each entry carries the time after which no token it could match can still be valid
//! (its session's absolute deadline plus the leeway), and disappears then, so the set stays
//! as small as the number of revocations in one absolute timeout. How much memory that
//! takes, and what happens past a set's cap, is in `docs/revocation.md`.

mod memory;

#[cfg(feature = "redis")]
pub(crate) use self::memory::SHARDS;
pub use self::memory::{DEFAULT_MAX_ENTRIES, MemoryRevocations};

use crate::health::Check;
use crate::token::SessionId;

/// One revocation.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// Every token of session `sid`.
    Session {
        /// The session.
        sid: SessionId,
        /// When the entry may be forgotten (Unix seconds).
        expires_at: u64,
    },
    /// Every token of `subject` whose session began (`auth_time`) before `before`.
    Subject {
        /// The subject (`sub`).
        subject: String,
        /// Sessions with `auth_time < before` are revoked (Unix seconds).
        before: u64,
        /// When the entry may be forgotten (Unix seconds).
        expires_at: u64,
    },
}

impl Revocation {
    /// When the entry may be forgotten.
    pub fn expires_at(&self) -> u64 {
        match self {
            Revocation::Session { expires_at, .. } | Revocation::Subject { expires_at, .. } => {
                *expires_at
            }
        }
    }
}

/// Where revocations are kept and looked up.
///
/// [`is_revoked`](RevocationStore::is_revoked) runs on every request that carries a valid
/// token: it must answer from memory, without I/O. [`revoke`](RevocationStore::revoke)
/// applies the entry locally at once (the current node enforces it from the next request on)
/// and may share it with other nodes in the background; it never blocks on the network.
pub trait RevocationStore: Send + Sync + 'static {
    /// Whether a token of session `sid`, for `subject`, whose session began at `auth_time`,
    /// is revoked at time `now`.
    fn is_revoked(&self, sid: &SessionId, subject: Option<&str>, auth_time: u64, now: u64) -> bool;

    /// Records a revocation made at time `now`.
    fn revoke(&self, revocation: Revocation, now: u64);

    /// The store's health, for [`SessionLayer::health`](crate::SessionLayer::health):
    /// degraded while the store enforces a possibly stale set (its feed is disconnected),
    /// never "down". Answers from memory. The default is ok; stores that depend on a
    /// network service override it.
    fn health(&self) -> Check {
        Check::ok()
    }
}

/// A shared store, for choosing the store at run time (`Arc<dyn RevocationStore>`).
impl<S: RevocationStore + ?Sized> RevocationStore for std::sync::Arc<S> {
    fn is_revoked(&self, sid: &SessionId, subject: Option<&str>, auth_time: u64, now: u64) -> bool {
        (**self).is_revoked(sid, subject, auth_time, now)
    }

    fn revoke(&self, revocation: Revocation, now: u64) {
        (**self).revoke(revocation, now);
    }

    fn health(&self) -> Check {
        (**self).health()
    }
}
