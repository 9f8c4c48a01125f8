//! The cache of minted tokens, so a session calling the same downstream service again
//! reuses its token instead of signing a new one on every call.
//!
//! An entry is found by the session's current token and the audience, and is good while
//! both of these hold:
//! - the key that minted it still issues: the ring is the one it was read from (the
//!   handle's generation is the one recorded), or a ring replaced since issues with the
//!   same Ed25519 key (same key id and public key: a gateway node joined or left the tier,
//!   which replaces the ring around an unchanged node key). A rotation re-mints at once, so
//!   no downstream ever gets a token from a key that is gone (a token cache that outlives a
//!   rotation is a known gateway failure); an HS256 key's secret is not compared, so any
//!   replacement of its ring re-mints;
//! - at least 10 % of its lifetime is left, so a token is never sent about to expire.
//!
//! Keying by the session's token rather than its id means any change to the session (new
//! data, a refresh, a renewed id) mints anew: a minted token never carries stale data.
//! Memory is bounded: two generations per shard, the older dropped when the newer fills.

use crate::encoding::ct_eq;
use crate::generations::Generations;
use crate::keys::{ED25519_KEY_LEN, Key, KeyRingHandle};
use crate::server::SessionToken;
use crate::token::Audience;

/// The default number of cached minted tokens.
pub const DEFAULT_MINT_CACHE_ENTRIES: usize = 4096;

/// The key a token was minted with, as far as a later ring can tell.
pub(crate) struct Signer {
    /// The generation of the ring it was read from.
    generation: u64,
    /// An Ed25519 key's id and public key, which identify it in a replaced ring.
    ed25519: Option<(Box<str>, [u8; ED25519_KEY_LEN])>,
}

impl Signer {
    /// `key`, the issuing key of the ring of `generation` (read before the ring).
    pub(crate) fn new(generation: u64, key: &Key) -> Self {
        Signer {
            generation,
            ed25519: key
                .ed25519_public_bytes()
                .map(|public| (key.kid().into(), public)),
        }
    }

    /// Whether this key still issues in the ring behind `keys`, whose generation was
    /// `generation` when read (before the ring).
    fn still_issues(&self, generation: u64, keys: &KeyRingHandle) -> bool {
        if self.generation == generation {
            return true;
        }
        let Some((kid, public)) = &self.ed25519 else {
            return false;
        };
        keys.load().issuing_key().is_some_and(|key| {
            key.kid() == &**kid && key.ed25519_public_bytes().as_ref() == Some(public)
        })
    }
}

struct Entry {
    session: Box<[u8]>,
    audience: Audience,
    signer: Signer,
    /// Good strictly before this time: from then on less than 10 % of its life is left.
    fresh_until: u64,
    token: SessionToken,
}

/// Minted tokens by (session token, audience, key generation).
pub(crate) struct MintCache {
    entries: Generations<Entry>,
}

/// Where an entry lives: the last bytes of the session token (its signature, which no one
/// can aim without the key) mixed with the audience (FNV-1a).
fn slot(session: &[u8], audience: &Audience) -> u64 {
    let mut tail = [0u8; 8];
    let take = session.len().min(8);
    tail[..take].copy_from_slice(&session[session.len() - take..]);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in audience.as_str().as_bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    u64::from_le_bytes(tail) ^ hash
}

/// The moment from which a token minted at `iat` to expire at `exp` is due again: when
/// less than a tenth of its lifetime is left.
pub(crate) fn fresh_until(iat: u64, exp: u64) -> u64 {
    exp.saturating_sub(exp.saturating_sub(iat).div_ceil(10))
}

impl MintCache {
    /// A cache holding about `entries` tokens; `None` for 0 (no cache).
    pub(crate) fn new(entries: usize) -> Option<Self> {
        Generations::new(entries).map(|entries| MintCache { entries })
    }

    /// The cached token for this session token and audience, if the key that minted it
    /// still issues in `keys` (whose generation was `generation`, read first) and it is
    /// still fresh at `now`.
    pub(crate) fn get(
        &self,
        session: &[u8],
        audience: &Audience,
        keys: &KeyRingHandle,
        generation: u64,
        now: u64,
    ) -> Option<SessionToken> {
        let key = slot(session, audience);
        // `SHARDS` divides 2^64, so the key's low bits pick a shard uniformly.
        self.entries.get(key as usize, key, |entry| {
            let good = now < entry.fresh_until
                && entry.audience == *audience
                && ct_eq(&entry.session, session)
                && entry.signer.still_issues(generation, keys);
            good.then(|| entry.token.clone())
        })
    }

    /// Remembers `token`, minted for this session token and audience by `signer`.
    pub(crate) fn insert(
        &self,
        session: &[u8],
        audience: &Audience,
        signer: Signer,
        fresh_until: u64,
        token: SessionToken,
    ) {
        let key = slot(session, audience);
        let entry = Entry {
            session: session.into(),
            audience: audience.clone(),
            signer,
            fresh_until,
            token,
        };
        self.entries.insert(key as usize, key, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyRing;

    fn aud(name: &str) -> Audience {
        Audience::new(name).expect("valid")
    }

    fn token(text: &str) -> SessionToken {
        text.parse().expect("shape")
    }

    fn ed(seed: u8) -> Key {
        Key::ed25519_from_seed(&format!("node-{seed}"), &[seed; 32]).expect("valid")
    }

    #[test]
    fn an_entry_is_good_for_its_session_audience_key_and_freshness() {
        let cache = MintCache::new(64).expect("on");
        let keys = KeyRingHandle::new(KeyRing::new(ed(1)));
        let session = b"h.p.signature-one";
        let signer = Signer::new(keys.generation(), &ed(1));
        cache.insert(session, &aud("profile"), signer, 154, token("m.i.nt"));
        let get = |s: &[u8], a: &str, now: u64| {
            cache
                .get(s, &aud(a), &keys, keys.generation(), now)
                .map(|t| t.as_str().to_owned())
        };
        assert_eq!(get(session, "profile", 153).as_deref(), Some("m.i.nt"));
        assert_eq!(get(session, "profile", 154), None, "due again");
        assert_eq!(get(session, "billing", 100), None, "another audience");
        assert_eq!(get(b"h.p.signature-two", "profile", 100), None);
        // Same tail, different token: found in the slot, refused by the comparison.
        assert_eq!(get(b"x.p.signature-one", "profile", 100), None);

        // The ring replaced around the same issuing key (a peer joined): still good.
        keys.replace(
            KeyRing::new(ed(1))
                .with_peer_key(ed(2).public_key().expect("Ed25519"))
                .expect("distinct"),
        );
        assert_eq!(get(session, "profile", 100).as_deref(), Some("m.i.nt"));
        // Another key issues: the keys changed.
        keys.replace(KeyRing::new(ed(2)));
        assert_eq!(get(session, "profile", 100), None, "rotated");
        // The same public key under another id: a token naming the old id is of no use.
        let renamed = Key::ed25519_from_seed("renamed", &[1; 32]).expect("valid");
        keys.replace(KeyRing::new(renamed));
        assert_eq!(get(session, "profile", 100), None, "renamed");
    }

    #[test]
    fn an_hs256_entry_goes_with_any_replacement_of_its_ring() {
        let cache = MintCache::new(64).expect("on");
        let hs = Key::hs256("aud-key", &[7; 32]).expect("valid");
        let keys = KeyRingHandle::new(KeyRing::new(hs.clone()));
        let signer = Signer::new(keys.generation(), &hs);
        cache.insert(b"h.p.s", &aud("profile"), signer, 154, token("m.i.nt"));
        let get = || cache.get(b"h.p.s", &aud("profile"), &keys, keys.generation(), 100);
        assert!(get().is_some());
        keys.replace(KeyRing::new(hs));
        assert!(get().is_none(), "its secret is not compared: minted again");
    }

    #[test]
    fn fresh_until_leaves_a_tenth_of_the_lifetime() {
        assert_eq!(fresh_until(100, 160), 154);
        assert_eq!(fresh_until(100, 105), 104);
        assert_eq!(fresh_until(100, 101), 100, "a 1 s token is never reused");
        assert_eq!(fresh_until(100, 100), 100);
    }

    #[test]
    fn memory_is_bounded() {
        use crate::generations::SHARDS;
        let cache = MintCache::new(2 * SHARDS).expect("on");
        for i in 0..10_000u32 {
            let session = format!("h.p.{i:08}");
            let signer = Signer::new(0, &ed(1));
            cache.insert(
                session.as_bytes(),
                &aud("a"),
                signer,
                u64::MAX,
                token("m.i.nt"),
            );
        }
        let held = cache.entries.len();
        assert!(held <= 4 * SHARDS, "{held} entries held");
        assert!(MintCache::new(0).is_none());
    }
}
