//! The public-key registry: where signing nodes publish their node keys' public halves so
//! every node can verify every other node's sessions.
//!
//! A registry is a local copy in memory in front of a shared store, like the
//! [revocation](crate::revocation) stores: reads never touch the network, writes are
//! applied locally at once and carried to the other nodes in the background. What it holds
//! is [`RegistryEntry`] values as published; it does not judge them. The reader,
//! [`NodeKeys`](crate::keys::node::NodeKeys), checks each entry's registration MAC and its times,
//! so an entry written into the store by anyone without the registration key is ignored
//! (and logged) by every node.
//!
//! [`MemoryKeyRegistry`] serves a single process (and tests); `RedisKeyRegistry` (feature
//! `redis`) shares entries between processes.

mod entry;
mod memory;

pub use self::entry::{InvalidEntry, MAX_ENTRY_LEN, RegistrationKey, RegistryEntry};
pub use self::memory::MemoryKeyRegistry;

use super::KeyWait;
use crate::health::Check;

/// A function the registry calls after its local copy changed.
pub type RegistryListener = Box<dyn Fn() + Send + Sync + 'static>;

/// Where node keys' public halves are published and read.
///
/// Every method answers from memory: none may block on the network.
pub trait KeyRegistry: Send + Sync + 'static {
    /// Records `entry` (a new key, or a heartbeat of a known one) locally at once and
    /// shares it with the other nodes in the background. Per key id, the latest write wins
    /// (the registry cannot judge entries, so none may shadow later writes). `now` lets the
    /// registry forget expired entries.
    fn publish(&self, entry: RegistryEntry, now: u64);

    /// Every entry held locally, unjudged (the caller checks MACs and times).
    fn entries(&self) -> Vec<RegistryEntry>;

    /// The latest `signs_until` of `kid`'s entry that the shared store is known to hold,
    /// so every node can load it; `None` before the first confirmed publication. A node
    /// signs with its key only while this lies in the future: that is "publish before
    /// use".
    fn confirmed(&self, kid: &str) -> Option<u64>;

    /// Calls `listener` after every change of the local copy: an entry arrived, changed
    /// or expired, or a publication was confirmed. The listener must be quick and must not
    /// call [`subscribe`](KeyRegistry::subscribe).
    fn subscribe(&self, listener: RegistryListener);

    /// A token named `kid`, which no entry holds: start (or join) a reload from the shared
    /// store and return a wait for it, or `None` when there is nothing to reload from (the
    /// default). Called on a rare path; rate-limit it.
    fn refresh(&self, kid: &str) -> Option<KeyWait> {
        let _ = kid;
        None
    }

    /// The registry's health, for [`SessionLayer::health`](crate::SessionLayer::health)
    /// (as `"key_registry"`, through [`NodeKeys`](crate::keys::node::NodeKeys)): degraded while
    /// the shared store is out of reach (the node verifies with the keys it knew), never
    /// "down". Answers from memory. The default is ok; registries on a network service
    /// override it.
    fn health(&self) -> Check {
        Check::ok()
    }
}

/// A shared registry (`Arc<dyn KeyRegistry>`) is a registry.
impl<R: KeyRegistry + ?Sized> KeyRegistry for std::sync::Arc<R> {
    fn publish(&self, entry: RegistryEntry, now: u64) {
        (**self).publish(entry, now);
    }

    fn entries(&self) -> Vec<RegistryEntry> {
        (**self).entries()
    }

    fn confirmed(&self, kid: &str) -> Option<u64> {
        (**self).confirmed(kid)
    }

    fn subscribe(&self, listener: RegistryListener) {
        (**self).subscribe(listener);
    }

    fn refresh(&self, kid: &str) -> Option<KeyWait> {
        (**self).refresh(kid)
    }

    fn health(&self) -> Check {
        (**self).health()
    }
}
