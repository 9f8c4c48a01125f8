//! The bounded map behind the crate's caches (verified tokens, minted tokens): entries by a
//! `u64` key that is already uniformly random (bytes of a MAC, a signature or a tag), in
//! shards so threads do not contend on one lock, each shard holding two generations; when
//! the newer fills, the older is dropped and the newer takes its place. Memory is therefore
//! bounded by about twice the configured size, and lookups never scan.
//!
//! What a cache stores in an entry and how it checks a hit (the whole token compared in
//! constant time, the key ring's generation) is the cache's own business; this map only
//! finds and bounds.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{PoisonError, RwLock};

/// Shards, to keep threads from contending on one lock.
pub(crate) const SHARDS: usize = 16;

/// Passes a `u64` key through: the keys are already uniform.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Map<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

struct Shard<V> {
    current: Map<V>,
    previous: Map<V>,
}

impl<V> Default for Shard<V> {
    fn default() -> Self {
        Shard {
            current: Map::default(),
            previous: Map::default(),
        }
    }
}

/// Sharded two-generation map of about `entries` values (see the module docs).
pub(crate) struct Generations<V> {
    shards: Box<[RwLock<Shard<V>>]>,
    /// Entries per shard generation.
    per_generation: usize,
}

impl<V> Generations<V> {
    /// A map of about `entries` values; `None` for 0 (no cache).
    pub(crate) fn new(entries: usize) -> Option<Self> {
        if entries == 0 {
            return None;
        }
        Some(Generations {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            per_generation: entries.div_ceil(2 * SHARDS).max(1),
        })
    }

    /// What `read` makes of the value at `key` in shard `shard` (taken modulo
    /// [`SHARDS`]), under the shard's read lock; `None` when there is no value or `read`
    /// refuses it.
    pub(crate) fn get<R>(
        &self,
        shard: usize,
        key: u64,
        read: impl FnOnce(&V) -> Option<R>,
    ) -> Option<R> {
        let shard = self.shards[shard % SHARDS]
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        shard
            .current
            .get(&key)
            .or_else(|| shard.previous.get(&key))
            .and_then(read)
    }

    /// Puts `value` at `key` in shard `shard` (modulo [`SHARDS`]), dropping the shard's
    /// older generation first if the newer is full and the key is new to it.
    pub(crate) fn insert(&self, shard: usize, key: u64, value: V) {
        let mut shard = self.shards[shard % SHARDS]
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if shard.current.len() >= self.per_generation && !shard.current.contains_key(&key) {
            shard.previous = std::mem::take(&mut shard.current);
        }
        shard.current.insert(key, value);
    }

    /// How many values are held now, both generations of every shard.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.read().unwrap_or_else(PoisonError::into_inner);
                s.current.len() + s.previous.len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_entries_are_kept_within_two_generations() {
        let map = Generations::new(64).expect("a map");
        for n in 0..10_000u64 {
            let key = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            map.insert(key as usize, key, n);
        }
        assert!(map.len() <= 64 + 2 * SHARDS, "{} held for 64", map.len());
        let last = 9_999u64.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        assert_eq!(map.get(last as usize, last, |v| Some(*v)), Some(9_999));
        assert!(Generations::<u64>::new(0).is_none(), "0 means no cache");
    }

    #[test]
    fn replacing_a_key_does_not_drop_a_generation() {
        let map = Generations::new(2 * SHARDS).expect("a map");
        map.insert(0, 1, "old");
        map.insert(0, 2, "kept");
        map.insert(0, 2, "replaced");
        assert_eq!(
            map.get(0, 1, |v| Some(*v)),
            Some("old"),
            "no rotation on a known key"
        );
        assert_eq!(map.get(0, 2, |v| Some(*v)), Some("replaced"));
    }
}
