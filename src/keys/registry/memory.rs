//! [`MemoryKeyRegistry`]: the registry of a single process, and the model of the local copy
//! every shared registry keeps.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use super::{KeyRegistry, RegistryEntry, RegistryListener};

#[derive(Default)]
struct Inner {
    entries: RwLock<HashMap<Box<str>, RegistryEntry>>,
    listeners: RwLock<Vec<RegistryListener>>,
}

/// Node keys published in this process's memory.
///
/// Publication is confirmed at once. Clones share the same set, so several
/// [`NodeKeys`](crate::keys::node::NodeKeys) in one process (or one test) standing for several
/// nodes see each other's keys through one registry.
///
/// ```
/// use tower_stateless_session::Key;
/// use tower_stateless_session::keys::registry::{KeyRegistry, MemoryKeyRegistry, RegistrationKey, RegistryEntry};
///
/// let registration = RegistrationKey::generate()?;
/// let key = Key::generate_ed25519()?;
/// let registry = MemoryKeyRegistry::new();
/// let entry = RegistryEntry::new(&registration, &key, 1_000, 2_860).expect("Ed25519");
/// registry.publish(entry, 900);
/// assert_eq!(registry.confirmed(key.kid()), Some(1_000));
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
#[derive(Clone, Default)]
pub struct MemoryKeyRegistry {
    inner: Arc<Inner>,
}

impl MemoryKeyRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of entries held (expired ones included until the next publication).
    pub fn len(&self) -> usize {
        self.read(HashMap::len)
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes `kid`'s entry, as an outage or an attacker with write access to a shared
    /// store could; returns whether there was one.
    pub fn remove(&self, kid: &str) -> bool {
        let removed = self.write(|entries| entries.remove(kid).is_some());
        if removed {
            self.notify();
        }
        removed
    }

    /// Merges a set read from a shared store (a reload): its entries replace the local ones
    /// of the same key id; local entries it lacks are kept while they have not expired (a
    /// store that lost its data, or had entries deleted, does not take keys away from the
    /// nodes that hold them) and returned, so they can be written back. Expired entries go.
    /// Listeners hear of it once.
    pub fn merge(
        &self,
        entries: impl IntoIterator<Item = RegistryEntry>,
        now: u64,
    ) -> Vec<RegistryEntry> {
        let missing = self.write(|held| {
            drop_expired(held, now);
            let mut seen = std::collections::HashSet::new();
            for entry in entries {
                if entry.expires_at() > now {
                    seen.insert(Box::<str>::from(entry.kid()));
                    insert(held, entry);
                }
            }
            held.values()
                .filter(|e| !seen.contains(e.kid()))
                .cloned()
                .collect()
        });
        self.notify();
        missing
    }

    /// Drops the entries that expired by `now`; listeners hear of it if any did.
    pub fn sweep(&self, now: u64) {
        let changed = self.write(|held| drop_expired(held, now));
        if changed {
            self.notify();
        }
    }

    /// Calls every listener.
    pub(crate) fn notify(&self) {
        let listeners = self
            .inner
            .listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for listener in listeners.iter() {
            listener();
        }
    }

    fn read<R>(&self, f: impl FnOnce(&HashMap<Box<str>, RegistryEntry>) -> R) -> R {
        f(&self
            .inner
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    fn write<R>(&self, f: impl FnOnce(&mut HashMap<Box<str>, RegistryEntry>) -> R) -> R {
        f(&mut self
            .inner
            .entries
            .write()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

/// Drops the entries that expired by `now`; returns whether any did.
fn drop_expired(entries: &mut HashMap<Box<str>, RegistryEntry>, now: u64) -> bool {
    let before = entries.len();
    entries.retain(|_, e| e.expires_at() > now);
    entries.len() != before
}

/// Stores `entry` in place of the key id's previous one (the latest write wins); returns
/// whether the set changed.
///
/// Why not keep the entry with the latest `signs_until`: the registry cannot check MACs,
/// so an entry forged with a far-off time would then shadow every genuine heartbeat after
/// it. With the latest write winning, a stale or forged write is undone by the node's next
/// heartbeat; and a node stops signing one heartbeat before its promise, which covers a
/// copy that lags one heartbeat behind.
fn insert(entries: &mut HashMap<Box<str>, RegistryEntry>, entry: RegistryEntry) -> bool {
    match entries.get(entry.kid()) {
        Some(held) if *held == entry => false,
        _ => {
            entries.insert(entry.kid().into(), entry);
            true
        }
    }
}

impl KeyRegistry for MemoryKeyRegistry {
    fn publish(&self, entry: RegistryEntry, now: u64) {
        let changed = self.write(|entries| {
            drop_expired(entries, now);
            insert(entries, entry)
        });
        if changed {
            self.notify();
        }
    }

    fn entries(&self) -> Vec<RegistryEntry> {
        self.read(|entries| entries.values().cloned().collect())
    }

    fn confirmed(&self, kid: &str) -> Option<u64> {
        self.read(|entries| entries.get(kid).map(RegistryEntry::signs_until))
    }

    fn subscribe(&self, listener: RegistryListener) {
        self.inner
            .listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(listener);
    }
}

impl fmt::Debug for MemoryKeyRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryKeyRegistry")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::keys::Key;
    use crate::keys::registry::RegistrationKey;

    fn entry(key: &Key, signs_until: u64) -> RegistryEntry {
        let registration = RegistrationKey::new(&[1; 32]).expect("32 bytes");
        RegistryEntry::new(&registration, key, signs_until, signs_until + 100).expect("Ed25519")
    }

    #[test]
    fn the_latest_write_per_key_wins_and_expired_ones_go() {
        let registry = MemoryKeyRegistry::new();
        let heard = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&heard);
        registry.subscribe(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let (a, b) = (
            Key::generate_ed25519().expect("rng"),
            Key::generate_ed25519().expect("rng"),
        );
        registry.publish(entry(&a, 1_000), 900);
        registry.publish(entry(&a, 1_030), 930);
        registry.publish(entry(&a, 1_030), 931); // the same entry again
        assert_eq!(registry.confirmed(a.kid()), Some(1_030));
        assert_eq!(heard.load(Ordering::SeqCst), 2, "a repeat changes nothing");
        // A forged far-future entry does not shadow the next genuine heartbeat.
        let forged = RegistryEntry::new(
            &RegistrationKey::new(&[9; 32]).expect("32 bytes"),
            &a,
            9_000_000,
            9_000_100,
        )
        .expect("Ed25519");
        registry.publish(forged, 940);
        registry.publish(entry(&a, 1_060), 960);
        assert_eq!(registry.confirmed(a.kid()), Some(1_060));
        registry.publish(entry(&b, 2_000), 1_161); // a's entry expired at 1_160
        assert_eq!(registry.len(), 1);
        assert_eq!(registry.confirmed(a.kid()), None);
        assert!(registry.remove(b.kid()) && registry.is_empty());
    }
}
