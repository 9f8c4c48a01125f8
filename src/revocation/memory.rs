//! [`MemoryRevocations`]: the in-memory set every node checks on each request.
//!
//! Built for tens of millions of entries:
//! - session entries live in [`SHARDS`] shards, each a hash map from the session id's 16
//!   bytes to its expiry as `u32` Unix seconds: a 20-byte slot and one control byte, so
//!   between 24 and 48 bytes an entry whatever the map's fill (it doubles at 7/8 full);
//! - each shard has its own lock, so a sweep holds 1/64 of the set at a time;
//! - each shard counts its entries by expiry bucket (about 17 minutes wide), so it knows
//!   when a quarter of it has expired and sweeps then, not before: a sweep visits a few
//!   slots for every entry it drops, never the whole set on a timer;
//! - subject entries ("log out everywhere") stay in one small map.
//!
//! Expiry times are held as `u32` Unix seconds. An expiry past `u32::MAX`
//! (2106-02-07T06:28:15Z) is held as `u32::MAX`: the entry is kept longer than it needs to
//! be, never shorter.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::{Revocation, RevocationStore};
use crate::health::Check;
use crate::metrics;
use crate::time::{Clock, SystemClock};
use crate::token::SessionId;

/// How many shards the session entries are spread over (by the id's ninth and tenth bytes,
/// which the hash below does not read).
pub(crate) const SHARDS: usize = 64;

/// Shard `i` takes a share of the ids proportional to `SHARDS + i`, so the shards' sizes
/// spread over an octave. A map doubles its slots when 7/8 full: equal shards would all
/// sit at the same point of that cycle, the set then taking anywhere from 24 to 48 bytes
/// an entry depending on its size; spread over an octave, they average it out, to about 33
/// to 36 bytes an entry at any size.
static SHARD_BOUNDS: [u32; SHARDS] = shard_bounds();

/// The upper bound (exclusive) of each shard's range of the ids' 16-bit shard number.
const fn shard_bounds() -> [u32; SHARDS] {
    let mut bounds = [0u32; SHARDS];
    let mut so_far = 0u64;
    let mut i = 0;
    while i < SHARDS {
        so_far += (SHARDS + i) as u64;
        bounds[i] = (so_far * 65_536 / shard_weights()) as u32;
        i += 1;
    }
    bounds
}

/// The sum of the shards' weights, `SHARDS + i` for each shard `i`.
const fn shard_weights() -> u64 {
    (SHARDS * SHARDS + SHARDS * (SHARDS - 1) / 2) as u64
}

/// The shard of a session id.
fn shard_of(sid: &[u8; 16]) -> usize {
    let number = u32::from(u16::from_le_bytes([sid[8], sid[9]]));
    SHARD_BOUNDS.partition_point(|&bound| bound <= number)
}

/// The width of an expiry bucket: 2^10 seconds (about 17 minutes).
const BUCKET_SHIFT: u32 = 10;

/// A shard checks whether a sweep is due when it has doubled since its last check, and at
/// this size first.
const FIRST_CHECK: usize = 64;

/// The default cap on the entries of a set: 10 million (about 350 to 480 MB of session
/// entries). Past it every entry is still held and enforced; the set reports itself degraded
/// and logs an error. See [`MemoryRevocations::with_max_entries`].
pub const DEFAULT_MAX_ENTRIES: usize = 10_000_000;

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

/// An expiry as held: Unix seconds, saturating at `u32::MAX`.
fn held_expiry(expires_at: u64) -> u32 {
    u32::try_from(expires_at).unwrap_or(u32::MAX)
}

fn bucket(expiry: u32) -> u32 {
    expiry >> BUCKET_SHIFT
}

/// One shard of the session entries.
#[derive(Default)]
struct Shard {
    /// sid -> expiry.
    sessions: HashMap<[u8; 16], u32, BuildHasherDefault<SidHasher>>,
    /// Expiry bucket -> entries in it.
    expiries: BTreeMap<u32, u32>,
    /// The size at which the next insert checks whether a sweep is due.
    check_at: usize,
}

impl Shard {
    /// Holds `sid` until `expiry` (or later, if it is held longer already); whether the entry
    /// is new.
    fn insert(&mut self, sid: [u8; 16], expiry: u32, now: u64) -> (bool, usize) {
        let added = match self.sessions.entry(sid) {
            Entry::Occupied(mut held) => {
                let old = *held.get();
                if expiry > old {
                    held.insert(expiry);
                    self.uncount(old);
                    self.count(expiry);
                }
                false
            }
            Entry::Vacant(slot) => {
                slot.insert(expiry);
                self.count(expiry);
                true
            }
        };
        let mut dropped = 0;
        if self.sessions.len() >= self.check_at {
            dropped = self.tidy(now);
            self.check_at = (2 * self.sessions.len()).max(FIRST_CHECK);
        }
        (added, dropped)
    }

    fn count(&mut self, expiry: u32) {
        *self.expiries.entry(bucket(expiry)).or_default() += 1;
    }

    fn uncount(&mut self, expiry: u32) {
        uncount(&mut self.expiries, expiry);
    }

    /// Entries certainly expired at `now`: those of the buckets that ended by then.
    fn expired(&self, now: u64) -> usize {
        let live = u32::try_from(now >> BUCKET_SHIFT).unwrap_or(u32::MAX);
        self.expiries.range(..live).map(|(_, n)| *n as usize).sum()
    }

    /// Drops every entry expired at `now`; how many.
    fn sweep(&mut self, now: u64) -> usize {
        let before = self.sessions.len();
        let expiries = &mut self.expiries;
        self.sessions.retain(|_, expiry| {
            let keep = u64::from(*expiry) > now;
            if !keep {
                uncount(expiries, *expiry);
            }
            keep
        });
        if self.sessions.len() < self.sessions.capacity() / 4 {
            self.sessions.shrink_to_fit();
        }
        before - self.sessions.len()
    }

    /// Sweeps when at least a quarter of the shard has expired; how many entries it dropped.
    /// The sweep visits every slot, about two to four per entry held, so it costs a small
    /// multiple of what it drops.
    fn tidy(&mut self, now: u64) -> usize {
        let expired = self.expired(now);
        if expired > 0 && expired * 4 >= self.sessions.len() {
            self.sweep(now)
        } else {
            0
        }
    }

    /// Bytes held by the shard's map: its slots and control bytes.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        let slots = self.sessions.capacity();
        if slots == 0 {
            return 0;
        }
        // hashbrown: buckets are a power of two, at most 7/8 of them used.
        let buckets = (slots * 8 / 7).next_power_of_two();
        buckets * (std::mem::size_of::<([u8; 16], u32)>() + 1)
    }
}

fn uncount(expiries: &mut BTreeMap<u32, u32>, expiry: u32) {
    if let std::collections::btree_map::Entry::Occupied(mut n) = expiries.entry(bucket(expiry)) {
        *n.get_mut() -= 1;
        if *n.get() == 0 {
            n.remove();
        }
    }
}

/// subject -> (before, expires_at).
type Subjects = HashMap<Box<str>, (u64, u64)>;

struct Set {
    shards: Box<[RwLock<Shard>]>,
    subjects: RwLock<Subjects>,
    /// Whether any subject entry is held: lookups skip the subjects' lock while not.
    has_subjects: AtomicBool,
    /// Entries held (expired ones included until swept).
    len: AtomicUsize,
    max_entries: AtomicUsize,
    /// When the set went over its cap (Unix seconds); 0 while it is not.
    over_cap_since: AtomicU64,
}

impl Default for Set {
    fn default() -> Self {
        Set {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            subjects: RwLock::default(),
            has_subjects: AtomicBool::new(false),
            len: AtomicUsize::new(0),
            max_entries: AtomicUsize::new(DEFAULT_MAX_ENTRIES),
            over_cap_since: AtomicU64::new(0),
        }
    }
}

impl Set {
    fn shard(&self, sid: &[u8; 16]) -> &RwLock<Shard> {
        &self.shards[shard_of(sid)]
    }

    fn insert(&self, revocation: Revocation, now: u64) {
        match revocation {
            Revocation::Session { sid, expires_at } => {
                let sid = *sid.as_bytes();
                let (added, dropped) =
                    write(self.shard(&sid)).insert(sid, held_expiry(expires_at), now);
                if added {
                    self.len.fetch_add(1, Ordering::Relaxed);
                }
                self.len.fetch_sub(dropped, Ordering::Relaxed);
            }
            Revocation::Subject {
                subject,
                before,
                expires_at,
            } => {
                let mut subjects = write(&self.subjects);
                match subjects.entry(subject.into_boxed_str()) {
                    Entry::Occupied(mut held) => {
                        let held = held.get_mut();
                        held.0 = held.0.max(before);
                        held.1 = held.1.max(expires_at);
                    }
                    Entry::Vacant(slot) => {
                        slot.insert((before, expires_at));
                        self.len.fetch_add(1, Ordering::Relaxed);
                    }
                }
                self.has_subjects.store(true, Ordering::Release);
            }
        }
    }

    fn sweep_subjects(&self, now: u64) {
        let mut subjects = write(&self.subjects);
        let before = subjects.len();
        subjects.retain(|_, (_, expires_at)| *expires_at > now);
        self.len
            .fetch_sub(before - subjects.len(), Ordering::Relaxed);
        self.has_subjects
            .store(!subjects.is_empty(), Ordering::Release);
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// Revocations kept in this process: the store for a single node, and the local copy every
/// node keeps in front of a shared store such as `redis::RedisRevocations` (feature
/// `redis`).
///
/// Clones share the same set. A lookup takes one shard's read lock and one hash lookup on
/// the session id (plus, when subject entries exist, one lookup in their map); expired
/// entries are ignored at once and dropped by sweeps once a quarter of a shard has expired.
/// A session entry takes 24 to 48 bytes (see `docs/revocation.md`).
///
/// The set has a cap ([`with_max_entries`](Self::with_max_entries)); past it, every entry
/// is still held and enforced (a revocation is never dropped to save memory), and the set
/// says so loudly: an error in the log, and a degraded [`health`](RevocationStore::health).
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
    set: Arc<Set>,
    /// When the set was made (Unix seconds): it is ok since then.
    created: u64,
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        MemoryRevocations {
            set: Arc::default(),
            created: SystemClock.now(),
        }
    }
}

impl MemoryRevocations {
    /// An empty set, capped at [`DEFAULT_MAX_ENTRIES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The most entries the set is planned to hold (default [`DEFAULT_MAX_ENTRIES`]).
    ///
    /// Past the cap nothing is dropped: every revocation stays enforced, and the set logs an
    /// error and reports itself degraded in [`health`](RevocationStore::health) until it is
    /// back under the cap. Size it from the memory the node can give the set: 48 bytes a
    /// session entry at most (see `docs/revocation.md`). The cap applies to every clone.
    #[must_use]
    pub fn with_max_entries(self, max_entries: usize) -> Self {
        self.set.max_entries.store(max_entries, Ordering::Relaxed);
        self
    }

    /// The cap set by [`with_max_entries`](Self::with_max_entries).
    pub fn max_entries(&self) -> usize {
        self.set.max_entries.load(Ordering::Relaxed)
    }

    /// The number of entries held (expired ones included until they are swept).
    pub fn len(&self) -> usize {
        self.set.len.load(Ordering::Relaxed)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry that expired by `now`. This visits the whole set; the set sweeps
    /// by itself, shard by shard, as entries expire.
    pub fn sweep(&self, now: u64) {
        for shard in self.set.shards.iter() {
            let dropped = write(shard).sweep(now);
            self.set.len.fetch_sub(dropped, Ordering::Relaxed);
        }
        self.set.sweep_subjects(now);
        self.report(now);
    }

    /// Every entry still valid at `now`.
    pub fn entries(&self, now: u64) -> Vec<Revocation> {
        (0..=SHARDS).flat_map(|part| self.part(part, now)).collect()
    }

    /// The entries still valid at `now` of one part of the set: shards `0..SHARDS`, then
    /// the subjects as part `SHARDS`; for writing the set out a part at a time.
    pub(crate) fn part(&self, part: usize, now: u64) -> Vec<Revocation> {
        if let Some(shard) = self.set.shards.get(part) {
            return read(shard)
                .sessions
                .iter()
                .filter(|(_, expiry)| u64::from(**expiry) > now)
                .map(|(sid, expiry)| Revocation::Session {
                    sid: SessionId::from_bytes(*sid),
                    expires_at: u64::from(*expiry),
                })
                .collect();
        }
        read(&self.set.subjects)
            .iter()
            .filter(|(_, (_, expires_at))| *expires_at > now)
            .map(|(subject, (before, expires_at))| Revocation::Subject {
                subject: subject.to_string(),
                before: *before,
                expires_at: *expires_at,
            })
            .collect()
    }

    /// Records every revocation of `batch` (made or learnt at `now`), reporting the size
    /// once for the whole batch.
    pub(crate) fn insert_batch(&self, batch: impl IntoIterator<Item = Revocation>, now: u64) {
        for revocation in batch {
            self.set.insert(revocation, now);
        }
        self.report(now);
    }

    /// Makes room for `entries` session entries in all (spread over the shards), so a load
    /// of a known size allocates each shard once.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn reserve_sessions(&self, entries: usize) {
        for (i, shard) in self.set.shards.iter().enumerate() {
            let share = entries as u64 * (SHARDS + i) as u64 / shard_weights();
            let share = usize::try_from(share).unwrap_or(usize::MAX);
            // Three standard deviations over the mean, for ids spread at random.
            let target = share + 3 * share.isqrt() + 8;
            let mut shard = write(shard);
            let additional = target.saturating_sub(shard.sessions.len());
            shard.sessions.reserve(additional);
        }
    }

    /// Sweeps the shards where at least a quarter of the entries have expired, and the
    /// subjects; for a background task to call now and then.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn tidy(&self, now: u64) {
        for shard in self.set.shards.iter() {
            if read(shard).expired(now) == 0 {
                continue;
            }
            let dropped = write(shard).tidy(now);
            self.set.len.fetch_sub(dropped, Ordering::Relaxed);
        }
        self.set.sweep_subjects(now);
        self.report(now);
    }

    /// Bytes held by the session entries' maps (slots and control bytes).
    #[cfg(test)]
    fn session_bytes(&self) -> usize {
        self.set.shards.iter().map(|s| read(s).bytes()).sum()
    }

    /// Reports the size, and checks it against the cap.
    fn report(&self, now: u64) {
        let max = self.max_entries();
        let len = self.len();
        metrics::revocation_entries(len);
        let over_since = self.set.over_cap_since.load(Ordering::Relaxed);
        if len <= max {
            if over_since != 0 {
                self.set.over_cap_since.store(0, Ordering::Relaxed);
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    entries = len,
                    max_entries = max,
                    "revocations: back under the cap on entries"
                );
            }
            return;
        }
        if over_since != 0 {
            return;
        }
        // Expired entries do not count: drop them before saying anything.
        for shard in self.set.shards.iter() {
            let dropped = write(shard).sweep(now);
            self.set.len.fetch_sub(dropped, Ordering::Relaxed);
        }
        self.set.sweep_subjects(now);
        let len = self.len();
        metrics::revocation_entries(len);
        if len > max {
            self.set
                .over_cap_since
                .store(SystemClock.now().max(1), Ordering::Relaxed);
            #[cfg(feature = "tracing")]
            tracing::error!(
                entries = len,
                max_entries = max,
                "revocations: more live entries than the cap; every one is kept and enforced, \
                 and memory grows past what was planned for (raise the cap, give the node more \
                 memory, or shorten the absolute timeout)"
            );
        }
    }
}

impl RevocationStore for MemoryRevocations {
    fn is_revoked(&self, sid: &SessionId, subject: Option<&str>, auth_time: u64, now: u64) -> bool {
        let sid = sid.as_bytes();
        if read(self.set.shard(sid))
            .sessions
            .get(sid)
            .is_some_and(|expiry| u64::from(*expiry) > now)
        {
            return true;
        }
        let Some(subject) = subject else {
            return false;
        };
        if !self.set.has_subjects.load(Ordering::Acquire) {
            return false;
        }
        read(&self.set.subjects)
            .get(subject)
            .is_some_and(|(before, expires_at)| *expires_at > now && auth_time < *before)
    }

    fn revoke(&self, revocation: Revocation, now: u64) {
        self.insert_batch(std::iter::once(revocation), now);
    }

    /// Ok (since the set was made), unless the set holds more live entries than its cap:
    /// then degraded, since it went over.
    fn health(&self) -> Check {
        let over_since = self.set.over_cap_since.load(Ordering::Relaxed);
        if over_since == 0 {
            return Check::ok().since(self.created);
        }
        Check::degraded(format!(
            "{} revocations held, over the cap of {}: all are enforced, memory use is past \
             its plan",
            self.len(),
            self.max_entries()
        ))
        .since(over_since)
    }
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sessions: usize = self.set.shards.iter().map(|s| read(s).sessions.len()).sum();
        f.debug_struct("MemoryRevocations")
            .field("sessions", &sessions)
            .field("subjects", &read(&self.set.subjects).len())
            .field("max_entries", &self.max_entries())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Status;

    fn sid(n: u8) -> SessionId {
        SessionId::from_bytes([n; 16])
    }

    /// A session id made from `n`, spread like a random one.
    fn spread(n: u64) -> SessionId {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
        bytes[8..].copy_from_slice(&n.to_le_bytes());
        SessionId::from_bytes(bytes)
    }

    /// A time like the ones the layer uses (Unix seconds).
    const NOW: u64 = 1_700_000_000;

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
        for expires_at in [300, 200, 400, 100] {
            store.revoke(
                Revocation::Session {
                    sid: sid(1),
                    expires_at,
                },
                0,
            );
        }
        assert!(
            store.is_revoked(&sid(1), None, 0, 399),
            "the latest expiry holds"
        );
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn expiries_past_2106_are_held_until_then_never_shorter() {
        let store = MemoryRevocations::new();
        let far = u64::from(u32::MAX) + 1_000;
        store.revoke(
            Revocation::Session {
                sid: sid(1),
                expires_at: far,
            },
            NOW,
        );
        assert!(store.is_revoked(&sid(1), None, 0, u64::from(u32::MAX) - 1));
        assert_eq!(
            store.entries(NOW),
            vec![Revocation::Session {
                sid: sid(1),
                expires_at: u64::from(u32::MAX)
            }],
            "saturated at u32::MAX"
        );
    }

    #[test]
    fn sweeps_drop_expired_entries_as_the_set_grows() {
        let store = MemoryRevocations::new();
        // Three quarters expired an hour before `NOW`, a quarter live for a day.
        for n in 0..20_000u64 {
            store.revoke(
                Revocation::Session {
                    sid: spread(n),
                    expires_at: if n % 4 != 0 { NOW - 3600 } else { NOW + 86_400 },
                },
                NOW,
            );
        }
        assert!(
            store.len() < 20_000,
            "sweeps ran as the shards grew: {} entries left",
            store.len()
        );
        store.sweep(NOW);
        assert_eq!(store.len(), 5_000);
        assert_eq!(store.entries(NOW).len(), 5_000);
    }

    #[test]
    fn tidy_sweeps_only_shards_with_a_quarter_expired() {
        let store = MemoryRevocations::new();
        // In shard 0, 3 entries in 10 expired; elsewhere 1 in 10.
        let mut seen = [0usize; SHARDS];
        let (mut expired_in_0, mut expired) = (0, 0);
        for n in 0..200_000 {
            let sid = spread(n);
            let shard = shard_of(sid.as_bytes());
            seen[shard] += 1;
            let is_expired = seen[shard] % 10 < if shard == 0 { 3 } else { 1 };
            expired += usize::from(is_expired);
            expired_in_0 += usize::from(is_expired && shard == 0);
            let expires_at = if is_expired { NOW - 3600 } else { NOW + 86_400 };
            store.revoke(Revocation::Session { sid, expires_at }, NOW - 7200);
        }
        assert!(seen.iter().all(|n| *n > 1_000), "every shard has entries");
        assert_eq!(store.len(), 200_000, "nothing had expired while inserting");
        store.tidy(NOW);
        assert_eq!(
            store.len(),
            200_000 - expired_in_0,
            "only shard 0 (30 % expired) was swept; the others (10 %) wait"
        );
        store.sweep(NOW);
        assert_eq!(store.len(), 200_000 - expired);
    }

    #[test]
    fn shards_take_shares_spread_over_an_octave() {
        let mut seen = [0usize; SHARDS];
        for n in 0..65_536u64 {
            seen[shard_of(spread(n).as_bytes())] += 1;
        }
        for (i, n) in seen.iter().enumerate() {
            let expected = 65_536 * (SHARDS + i) as u64 / shard_weights();
            assert!(
                n.abs_diff(expected as usize) <= 1,
                "shard {i}: {n}, not {expected}"
            );
        }
        assert!(seen[SHARDS - 1] > seen[0] * 19 / 10, "{seen:?}");
    }

    #[test]
    fn past_the_cap_nothing_is_dropped_and_health_says_so() {
        let store = MemoryRevocations::new().with_max_entries(100);
        for n in 0..150 {
            store.revoke(
                Revocation::Session {
                    sid: spread(n),
                    expires_at: NOW + 60,
                },
                NOW,
            );
        }
        assert_eq!(store.len(), 150, "every entry is kept");
        assert!(
            (0..150).all(|n| store.is_revoked(&spread(n), None, 0, NOW)),
            "and enforced"
        );
        let check = store.health();
        assert_eq!(check.status, Status::Degraded);
        assert!(
            check
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("cap of 100")),
            "{check:?}"
        );
        // Once the entries expire and are swept, the set is back under the cap.
        store.sweep(NOW + 60);
        assert!(store.is_empty());
        assert_eq!(store.health().status, Status::Ok);
    }

    #[test]
    fn expired_entries_do_not_count_against_the_cap() {
        let store = MemoryRevocations::new().with_max_entries(100);
        for n in 0..150 {
            store.revoke(
                Revocation::Session {
                    sid: spread(n),
                    expires_at: if n < 100 { NOW - 1 } else { NOW + 60 },
                },
                NOW,
            );
        }
        assert_eq!(store.health().status, Status::Ok, "50 live entries");
        assert!(store.len() <= 100, "the expired ones were swept");
    }

    #[test]
    fn a_session_entry_takes_at_most_48_bytes_at_any_size() {
        // Sizes where equal shards would sit just past a doubling (44 bytes an entry), just
        // before one (25), and in between.
        for count in [60_000u64, 120_000, 250_000, 500_000] {
            for reserved in [false, true] {
                let store = MemoryRevocations::new();
                if reserved {
                    store.reserve_sessions(count as usize);
                }
                store.insert_batch(
                    (0..count).map(|n| Revocation::Session {
                        sid: spread(n),
                        expires_at: NOW + 86_400,
                    }),
                    NOW,
                );
                let per_entry = store.session_bytes() as f64 / count as f64;
                assert!(
                    (20.0..=40.0).contains(&per_entry),
                    "{count} entries (reserved: {reserved}): {per_entry:.1} bytes each"
                );
            }
        }
    }
}
