//! The encryption budget of `dir` keys.
//!
//! In `dir` mode the ring's key is the AES-GCM key of every token, and each token gets a
//! random 96-bit IV. NIST SP 800-38D (§8.3) allows at most 2^32 encryptions under one key
//! with random IVs; past that, the chance that two tokens share an IV (which reveals the
//! XOR of their plaintexts and lets an attacker forge tags) is no longer negligible.
//!
//! The limit belongs to the key, not to a process: every node encrypting with the key
//! spends the same budget, and no node sees the others' counts. So each process counts its
//! own encryptions per key and warns once it alone has spent 1/64 of the budget
//! ([`DIR_WARNING_THRESHOLD`], 2^26 = 67,108,864). In a fleet of up to 64 nodes sharing
//! the load, the first warning comes before the fleet as a whole can have spent the budget.
//!
//! Counts are kept per key *secret* (a SHA-256 fingerprint of it, never the secret), in a
//! process-wide table, so a key ring reloaded from the same configuration, or two layers
//! sharing a key, keep adding to the same count. The table holds one small entry per
//! distinct `dir` secret used in the process and is never pruned.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use sha2::{Digest, Sha256};

/// Encryptions allowed under one AES-GCM key with random 96-bit IVs (NIST SP 800-38D §8.3).
pub const DIR_KEY_LIMIT: u64 = 1 << 32;

/// The per-process count at which a `dir` key's warning fires: 1/64 of [`DIR_KEY_LIMIT`].
pub const DIR_WARNING_THRESHOLD: u64 = DIR_KEY_LIMIT / 64;

/// A shared count of encryptions under one `dir` secret.
#[derive(Clone)]
pub(crate) struct DirCounter(Arc<AtomicU64>);

type Fingerprint = [u8; 32];

static COUNTERS: LazyLock<Mutex<HashMap<Fingerprint, Arc<AtomicU64>>>> =
    LazyLock::new(Mutex::default);

impl DirCounter {
    /// The process-wide counter of `secret`.
    pub(crate) fn for_secret(secret: &[u8]) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"tower-stateless-session/jwe-dir-counter\0");
        hash.update(secret);
        let fingerprint: Fingerprint = hash.finalize().into();
        // A panic elsewhere while the lock was held cannot leave the map half-updated
        // (entries are inserted whole), so a poisoned lock is still usable.
        let mut table = COUNTERS.lock().unwrap_or_else(PoisonError::into_inner);
        DirCounter(Arc::clone(table.entry(fingerprint).or_default()))
    }

    /// Counts one encryption and returns the count including it.
    pub(crate) fn record(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// Encryptions counted so far.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the count, so tests reach the threshold without 2^26 encryptions.
    #[cfg(all(test, any(feature = "tracing", feature = "metrics")))]
    pub(crate) fn set(&self, count: u64) {
        self.0.store(count, Ordering::Relaxed);
    }
}

/// Counts one encryption under a `dir` key and warns when this process's count reaches
/// the threshold (exactly once per secret: only the encryption that makes the count equal
/// to the threshold logs, and counts `stateless_session_budget_warnings_total{limit="jwe_dir_key"}`).
pub(crate) fn record_dir_encryption(counter: &DirCounter, kid: &str) {
    let count = counter.record();
    if count == DIR_WARNING_THRESHOLD {
        dir_key_budget(kid, count, DIR_KEY_LIMIT);
        crate::metrics::jwe_dir_key_warning();
    }
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn dir_key_budget(kid: &str, used: u64, limit: u64) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        kid,
        encryptions = used,
        limit,
        "this process alone has used 1/64 of the encryption budget of `dir` key: rotate it \
         (a new key first in the ring) or move to A256KW"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (kid, used, limit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_one_sixty_fourth_of_two_to_the_32() {
        assert_eq!(DIR_WARNING_THRESHOLD, 67_108_864);
        assert_eq!(DIR_WARNING_THRESHOLD * 64, 1 << 32);
    }

    #[test]
    fn counters_are_shared_per_secret_and_separate_between_secrets() {
        let a = DirCounter::for_secret(b"counter-test-secret-a-32-bytes-!");
        let a_again = DirCounter::for_secret(b"counter-test-secret-a-32-bytes-!");
        let b = DirCounter::for_secret(b"counter-test-secret-b-32-bytes-!");
        let start_b = b.get();
        a.record();
        let after = a_again.record();
        assert_eq!(a.get(), after, "two handles of one secret share a count");
        assert!(after >= 2, "both encryptions were counted");
        assert_eq!(b.get(), start_b, "another secret's count did not move");
    }
}
