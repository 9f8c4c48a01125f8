//! A bounded cache of verified tokens, so a client that sends the same token again (every
//! request until its next refresh) costs a lookup instead of a MAC, a base64 decode and a
//! JSON parse.
//!
//! What is cached is only the part of verification that does not depend on time: the token
//! was well formed, its MAC matched a key of the ring, and its claims decoded. The deadlines
//! and the revocation check still run on every request. An entry is valid only for the key
//! ring it was verified with: any [`KeyRingHandle::replace`](crate::KeyRingHandle::replace)
//! makes every entry a miss.
//!
//! Entries are found by the first bytes of the token's last segment: the signature of a
//! signed token, the authentication tag of an encrypted one (outputs of keyed functions, so
//! an attacker cannot aim at another entry's slot without the token itself), then compared
//! with the whole token in constant time. An encrypted token is cached by its bytes as
//! received, like a signed one: the whole token must match, so neither a tag reused on
//! another ciphertext nor a re-spelled segment can hit an entry. Memory is bounded: two generations per shard, the
//! older dropped when the newer fills.

use std::sync::Arc;

use crate::encoding::ct_eq;
use crate::generations::Generations;
use crate::metrics::IssueReason;
#[cfg(feature = "propagate")]
use crate::token::MintedClaims;
use crate::token::{Claims, Verified};

/// The default number of cached tokens (about 0.5 KiB each for small sessions).
pub const DEFAULT_VERIFY_CACHE_ENTRIES: usize = 4096;

struct Entry<T> {
    token: Box<[u8]>,
    generation: u64,
    checked: Checked<T>,
}

/// A token's time-independent verification result, shared (not copied) on a hit.
pub(crate) struct Checked<T> {
    pub(crate) claims: Arc<Claims<T>>,
    /// Signed by a key that no longer signs, or migrated: re-sign now, for this reason.
    pub(crate) resign: Option<IssueReason>,
    /// The registered claims of a minted downstream token (downstream services only).
    #[cfg(feature = "propagate")]
    pub(crate) minted: Option<Arc<MintedClaims>>,
}

impl<T> Clone for Checked<T> {
    fn clone(&self) -> Self {
        Checked {
            claims: Arc::clone(&self.claims),
            resign: self.resign,
            #[cfg(feature = "propagate")]
            minted: self.minted.clone(),
        }
    }
}

impl<T> From<Verified<T>> for Checked<T> {
    fn from(verified: Verified<T>) -> Self {
        Checked {
            resign: if verified.migrated {
                Some(IssueReason::Migration)
            } else if !verified.signed_with_current_key {
                Some(IssueReason::KeyRotation)
            } else {
                None
            },
            claims: Arc::new(verified.claims),
            #[cfg(feature = "propagate")]
            minted: None,
        }
    }
}

pub(crate) struct VerifyCache<T> {
    entries: Generations<Entry<T>>,
}

/// The slot of a token: eight bytes of its last segment (signature or tag), and a shard
/// from a ninth. `None` for anything too short to be one of ours.
fn slot(token: &[u8]) -> Option<(u64, usize)> {
    let last = &token[memchr::memrchr(b'.', token)? + 1..];
    let start = last.get(..9)?;
    let mut key = [0u8; 8];
    key.copy_from_slice(&start[..8]);
    Some((u64::from_le_bytes(key), usize::from(start[8])))
}

impl<T> VerifyCache<T> {
    /// A cache of about `entries` tokens; `None` for 0 (no cache).
    pub(crate) fn new(entries: usize) -> Option<Self> {
        Generations::new(entries).map(|entries| VerifyCache { entries })
    }

    /// The verified result for `token` under key-ring `generation`, if cached.
    pub(crate) fn get(&self, token: &[u8], generation: u64) -> Option<Checked<T>> {
        let (key, shard) = slot(token)?;
        self.entries.get(shard, key, |entry| {
            (entry.generation == generation && ct_eq(&entry.token, token))
                .then(|| entry.checked.clone())
        })
    }

    /// Remembers that `token` verified as `verified` under key-ring `generation`.
    pub(crate) fn insert(&self, token: &[u8], generation: u64, checked: &Checked<T>) {
        let Some((key, shard)) = slot(token) else {
            return;
        };
        let entry = Entry {
            token: token.into(),
            generation,
            checked: checked.clone(),
        };
        self.entries.insert(shard, key, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::SessionId;

    fn verified(n: u64) -> Checked<u64> {
        Checked::from(Verified {
            claims: Claims {
                sid: SessionId::from_bytes([1; 16]),
                iat: n,
                exp: n,
                auth_time: n,
                ver: 1,
                remember: false,
                cnf: None,
                data: n,
            },
            signed_with_current_key: true,
            migrated: false,
        })
    }

    fn token(n: u64) -> Vec<u8> {
        // A fake token with a signature segment as varied as a MAC's.
        let mixed = format!("{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        format!("h.p.{}", mixed.repeat(3)[..43].to_owned()).into_bytes()
    }

    #[test]
    fn hits_need_the_same_token_and_key_generation() {
        let cache = VerifyCache::new(64).expect("cache");
        cache.insert(&token(7), 1, &verified(7));
        assert_eq!(cache.get(&token(7), 1).map(|v| v.claims.data), Some(7));
        assert!(cache.get(&token(7), 2).is_none(), "another key ring");
        let mut twin = token(7);
        twin[0] = b'x';
        assert!(cache.get(&twin, 1).is_none(), "same slot, other token");
        assert!(cache.get(b"short", 1).is_none());
    }

    #[test]
    fn memory_is_bounded_by_two_generations() {
        let cache = VerifyCache::new(64).expect("cache");
        for n in 0..10_000 {
            cache.insert(&token(n), 1, &verified(n));
        }
        let held = cache.entries.len();
        assert!(
            held <= 64 + 2 * crate::generations::SHARDS,
            "{held} entries held for a cache of 64"
        );
        assert!(cache.get(&token(9_999), 1).is_some(), "the newest are kept");
        assert!(VerifyCache::<u64>::new(0).is_none(), "0 means no cache");
    }
}
