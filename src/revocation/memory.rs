//! [`MemoryRevocations`]: the in-memory set every node checks on each request.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, PoisonError, RwLock};

use super::{Revocation, RevocationStore};
use crate::health::Check;
use crate::metrics;
use crate::time::{Clock, SystemClock};
use crate::token::SessionId;

/// Hashes a session id by its first eight bytes. Ids are random, and the ones looked up
/// come from tokens whose MAC was already checked, so no one can aim at a bucket: the keyed
/// hash a `HashMap` uses by default would only add cost.
#[derive(Default)]
struct SidHasher(u64);

impl Hasher for SidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut head = [0u8; 8];
        let n = bytes.len().min(8);
        head[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(head);
    }
}

#[derive(Default)]
struct Entries {
    /// sid -> expires_at.
    sessions: HashMap<SessionId, u64, BuildHasherDefault<SidHasher>>,
    /// subject -> (before, expires_at).
    subjects: HashMap<Box<str>, (u64, u64)>,
    /// Entry count at the last sweep; the next sweep runs when the set doubles.
    swept_at: usize,
}

impl Entries {
    fn len(&self) -> usize {
        self.sessions.len() + self.subjects.len()
    }

    fn insert(&mut self, revocation: Revocation, now: u64) {
        match revocation {
            Revocation::Session { sid, expires_at } => {
                let entry = self.sessions.entry(sid).or_insert(expires_at);
                *entry = (*entry).max(expires_at);
            }
            Revocation::Subject {
                subject,
                before,
                expires_at,
            } => {
                let entry = self
                    .subjects
                    .entry(subject.into_boxed_str())
                    .or_insert((before, expires_at));
                entry.0 = entry.0.max(before);
                entry.1 = entry.1.max(expires_at);
            }
        }
        if self.len() >= 2 * self.swept_at.max(512) {
            self.sweep(now);
        }
    }

    fn sweep(&mut self, now: u64) {
        self.sessions.retain(|_, expires_at| *expires_at > now);
        self.subjects.retain(|_, (_, expires_at)| *expires_at > now);
        self.swept_at = self.len();
    }
}

/// Revocations kept in this process: the store for a single node, and the local copy every
/// node keeps in front of a shared store such as `redis::RedisRevocations`.
///
/// Clones share the same set. Lookups take a read lock and one or two hash lookups; expired
/// entries are ignored at once and dropped in sweeps that run as the set grows.
///
/// ```
/// use tower_stateless_session::revocation::{MemoryRevocations, Revocation, RevocationStore};
/// use tower_stateless_session::token::SessionId;
///
/// let store = MemoryRevocations::new();
/// let sid = SessionId::from_bytes([1; 16]);
/// store.revoke(Revocation::Session { sid, expires_at: 2_000 }, 1_000);
/// assert!(store.is_revoked(&sid, None, 100, 1_000));
/// assert!(!store.is_revoked(&sid, None, 100, 2_000), "expired entries no longer match");
/// ```
#[derive(Clone)]
pub struct MemoryRevocations {
    entries: Arc<RwLock<Entries>>,
    /// When the set was made (Unix seconds): it is ok since then.
    created: u64,
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        MemoryRevocations {
            entries: Arc::default(),
            created: SystemClock.now(),
        }
    }
}

impl MemoryRevocations {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of entries held (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.read(|e| e.len())
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the entries that expired by `now`.
    pub fn sweep(&self, now: u64) {
        self.write(|e| e.sweep(now));
    }

    /// Every entry still valid at `now`.
    pub fn entries(&self, now: u64) -> Vec<Revocation> {
        self.read(|e| {
            let sessions = e
                .sessions
                .iter()
                .filter(|(_, expires_at)| **expires_at > now)
                .map(|(sid, expires_at)| Revocation::Session {
                    sid: *sid,
                    expires_at: *expires_at,
                });
            let subjects = e
                .subjects
                .iter()
                .filter(|(_, (_, expires_at))| *expires_at > now)
                .map(|(subject, (before, expires_at))| Revocation::Subject {
                    subject: subject.to_string(),
                    before: *before,
                    expires_at: *expires_at,
                });
            sessions.chain(subjects).collect()
        })
    }

    fn read<R>(&self, f: impl FnOnce(&Entries) -> R) -> R {
        f(&self.entries.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write<R>(&self, f: impl FnOnce(&mut Entries) -> R) -> R {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let result = f(&mut entries);
        metrics::revocation_entries(entries.len());
        result
    }
}

impl RevocationStore for MemoryRevocations {
    fn is_revoked(&self, sid: &SessionId, subject: Option<&str>, auth_time: u64, now: u64) -> bool {
        self.read(|e| {
            if e.sessions
                .get(sid)
                .is_some_and(|expires_at| *expires_at > now)
            {
                return true;
            }
            subject
                .and_then(|s| e.subjects.get(s))
                .is_some_and(|(before, expires_at)| *expires_at > now && auth_time < *before)
        })
    }

    fn revoke(&self, revocation: Revocation, now: u64) {
        self.write(|e| e.insert(revocation, now));
    }

    /// Always ok: the set is this process's memory.
    fn health(&self) -> Check {
        Check::ok().since(self.created)
    }
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.read(|e| {
            f.debug_struct("MemoryRevocations")
                .field("sessions", &e.sessions.len())
                .field("subjects", &e.subjects.len())
                .finish()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(n: u8) -> SessionId {
        SessionId::from_bytes([n; 16])
    }

    #[test]
    fn sessions_and_subjects_match_until_they_expire() {
        let store = MemoryRevocations::new();
        store.revoke(
            Revocation::Session {
                sid: sid(1),
                expires_at: 100,
            },
            0,
        );
        store.revoke(
            Revocation::Subject {
                subject: "ada".into(),
                before: 50,
                expires_at: 200,
            },
            0,
        );
        assert!(store.is_revoked(&sid(1), None, 0, 99));
        assert!(!store.is_revoked(&sid(1), None, 0, 100), "expired");
        assert!(!store.is_revoked(&sid(2), None, 0, 99), "another session");
        assert!(
            store.is_revoked(&sid(2), Some("ada"), 49, 150),
            "began before"
        );
        assert!(
            !store.is_revoked(&sid(2), Some("ada"), 50, 150),
            "began at the cut"
        );
        assert!(
            !store.is_revoked(&sid(2), Some("bob"), 0, 150),
            "another subject"
        );
        assert!(!store.is_revoked(&sid(2), Some("ada"), 0, 200), "expired");
    }

    #[test]
    fn repeated_entries_keep_the_widest() {
        let store = MemoryRevocations::new();
        for (before, expires_at) in [(50, 200), (40, 300), (60, 100)] {
            store.revoke(
                Revocation::Subject {
                    subject: "ada".into(),
                    before,
                    expires_at,
                },
                0,
            );
        }
        assert!(store.is_revoked(&sid(1), Some("ada"), 59, 250));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn sweeps_drop_expired_entries_as_the_set_grows() {
        let store = MemoryRevocations::new();
        for n in 0..2000u32 {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            store.revoke(
                Revocation::Session {
                    sid: SessionId::from_bytes(bytes),
                    expires_at: if n < 1500 { 10 } else { 1000 },
                },
                500,
            );
        }
        assert!(
            store.len() < 2000,
            "sweeps ran: {} entries left",
            store.len()
        );
        store.sweep(500);
        assert_eq!(store.len(), 500);
        assert_eq!(store.entries(500).len(), 500);
    }
}
