//! [`RedisRevocations`]: revocations shared between nodes through Redis, checked from a local
//! copy.
//!
//! Layout in Redis (prefix `tss:revocations` by default; the braces are a hash tag, so every
//! key and the channel share one Cluster slot, and a write goes in one pipeline):
//! - `{<prefix>}:sessions`, a sorted set: member `sid`, score `expires_at`;
//! - `{<prefix>}:subjects`, a sorted set: member `<before>:<subject>`, score `expires_at`;
//! - `{<prefix>}:log`, a stream: one entry per batch of revocations written together, its
//!   fields `0`, `1`, ... each a revocation as `s <sid> <expires_at>` or
//!   `u <before> <expires_at> <subject>`; plus `reload <node>` entries (a node wrote its
//!   whole set back: read the sets again) and `anchor` entries (a position for nodes that
//!   found the stream empty). Trimmed by age (`XTRIM MINID`, [`DEFAULT_LOG_RETENTION`]);
//! - `{<prefix>}:generation`, a random value set once (`SET NX`): a different one means
//!   Redis lost its data;
//! - `{<prefix>}:events`, a pub/sub channel carrying each revocation as above, for latency.
//!
//! A node loads the sets once, in pages by rank (each page's start checked against the rank
//! of the last entry read, so entries trimmed or added meanwhile shift nothing), after taking
//! its position in the log; from then on it follows the log (polled every half second, and
//! pub/sub for speed). After a reconnection it reads the log from its position: what it
//! missed, not the whole set; only when the log no longer holds that position (away longer
//! than the log keeps) does it load the sets again. It writes back what it queued while
//! disconnected; its whole set only when Redis lost its data or the queue overflowed.

mod feed;
mod load;
mod text;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use self::feed::RevocationFeed;
use super::{PartSettings, RedisConfig, RedisError, RedisHandle, RedisStatus};
use crate::health::{Check, Status};
use crate::revocation::{MemoryRevocations, Revocation, RevocationStore};
use crate::time::Clock;
use crate::token::SessionId;

/// How long the revocation log keeps its entries by default: a node away for less catches
/// up by reading what it missed; one away longer loads the whole set again.
pub const DEFAULT_LOG_RETENTION: Duration = Duration::from_secs(3600);

/// How many revocations made on a node may wait for Redis by default (during an outage, or
/// a burst faster than Redis takes it). Past it nothing is lost: the node writes its whole
/// set back once it can.
pub const DEFAULT_MAX_QUEUED: usize = 100_000;

/// Revocations shared between nodes through Redis; every node checks its local copy, so the
/// request path never waits on the network.
///
/// A revocation made on one node reaches the others through Redis pub/sub (milliseconds),
/// and through the revocation log, which every node follows and which makes a reconnection
/// cheap: a node reads what it missed, not the whole set. A node that starts loads the set
/// in pages, serving meanwhile with what it has (its health says how far it is). When Redis
/// is unreachable, the last known set stays enforced, new revocations are applied locally
/// and queued (up to [`with_max_queued`](RedisRevocationsBuilder::with_max_queued); past
/// it, the node writes its whole set back once Redis returns, so nothing is lost), and the
/// outage is logged. Any form of [`RedisConfig`] works: one server (TLS or not), Sentinel,
/// Cluster. Sizes, times and limits: `docs/revocation.md`.
///
/// Clones share the store. The background task stops when the last clone is dropped.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_stateless_session::{KeyRing, SessionLayer};
/// use tower_stateless_session::redis::RedisConfig;
/// use tower_stateless_session::redis::RedisRevocations;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct User { sub: String }
///
/// let redis = RedisConfig::url("rediss://app:secret@redis.internal:6380/0")
///     .with_ca_file("/etc/redis/ca.pem");
/// let revocations = RedisRevocations::builder(redis).start()?;
/// let layer = SessionLayer::<User>::new(KeyRing::from_env("SESSION_KEYS")?)
///     .with_revocation(revocations, |user: &User| Some(user.sub.as_str()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRevocations {
    local: MemoryRevocations,
    redis: RedisHandle<Revocation>,
    queue: Arc<Queue>,
}

/// The revocations made here and not yet written to Redis.
struct Queue {
    /// How many are queued (sent to the task, or kept by it for a retry).
    queued: AtomicUsize,
    max: usize,
    /// A revocation was left out because the queue was full: the whole local set is written
    /// back at the next chance.
    overflowed: AtomicBool,
}

/// Settings for [`RedisRevocations`]; see [`RedisRevocations::builder`].
#[derive(Debug)]
pub struct RedisRevocationsBuilder {
    settings: PartSettings,
    max_entries: usize,
    max_queued: usize,
    log_retention: Duration,
}

impl RedisRevocationsBuilder {
    /// The key prefix (default `tss:revocations`); give each application its own.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.settings.set_prefix(prefix);
        self
    }

    /// The clock used to expire entries; use the layer's clock. Default: the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.settings.set_clock(clock);
        self
    }

    /// The cap on the entries of the local set (default
    /// [`DEFAULT_MAX_ENTRIES`](crate::revocation::DEFAULT_MAX_ENTRIES)); see
    /// [`MemoryRevocations::with_max_entries`]. Past it every entry is still enforced; the
    /// store logs an error and reports itself degraded.
    #[must_use]
    pub fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// How many revocations made on this node may wait for Redis (default
    /// [`DEFAULT_MAX_QUEUED`]). Within it, a reconnection writes exactly those back. Past
    /// it, nothing is lost: each revocation is still enforced here at once, a warning is
    /// logged, and once Redis can be reached the node writes its whole set back (in pages)
    /// and asks the other nodes to read the sets again.
    #[must_use]
    pub fn with_max_queued(mut self, max_queued: usize) -> Self {
        self.max_queued = max_queued;
        self
    }

    /// How long the revocation log keeps its entries (default [`DEFAULT_LOG_RETENTION`]):
    /// a node disconnected for less catches up by reading what it missed; one disconnected
    /// for longer (by the log's own clock: this much newer traffic) loads the whole set
    /// again. Longer costs Redis memory: about 40 bytes a revocation kept.
    #[must_use]
    pub fn with_log_retention(mut self, retention: Duration) -> Self {
        self.log_retention = retention;
        self
    }

    /// Checks the configuration, starts the background task (which connects, and
    /// reconnects, by itself) and returns the store. It does not wait for Redis: see
    /// [`RedisRevocations::wait_loaded`].
    ///
    /// # Errors
    /// A [`RedisError`] naming what is wrong in the configuration, or
    /// [`RedisError::NoRuntime`] outside a Tokio runtime.
    pub fn start(self) -> Result<RedisRevocations, RedisError> {
        let local = MemoryRevocations::new().with_max_entries(self.max_entries);
        let queue = Arc::new(Queue {
            queued: AtomicUsize::new(0),
            max: self.max_queued,
            overflowed: AtomicBool::new(false),
        });
        let feed = RevocationFeed::new(
            &self.settings,
            local.clone(),
            Arc::clone(&queue),
            self.log_retention,
        );
        let redis = crate::redis::spawn(&self.settings.config, feed)?;
        Ok(RedisRevocations {
            local,
            redis,
            queue,
        })
    }
}

impl RedisRevocations {
    /// Settings for a store on `config`: a [`RedisConfig`], or a URL
    /// (`redis://[[user]:password@]host[:port][/db]`, `rediss://...` for TLS).
    pub fn builder(config: impl Into<RedisConfig>) -> RedisRevocationsBuilder {
        RedisRevocationsBuilder {
            settings: PartSettings::new(config.into(), "tss:revocations"),
            max_entries: crate::revocation::DEFAULT_MAX_ENTRIES,
            max_queued: DEFAULT_MAX_QUEUED,
            log_retention: DEFAULT_LOG_RETENTION,
        }
    }

    /// Whether the background task is connected to Redis now, with the set loaded and
    /// brought up to date since.
    pub fn is_connected(&self) -> bool {
        self.redis.status().is_connected()
    }

    /// The connection's state: connected or not, a load under way and its progress, last
    /// synchronisation, reconnections.
    pub fn status(&self) -> RedisStatus {
        self.redis.status()
    }

    /// Waits until the whole set has been loaded from Redis at least once, up to `timeout`.
    /// Returns whether it was.
    pub async fn wait_loaded(&self, timeout: Duration) -> bool {
        self.redis.wait_synced(timeout).await
    }

    /// How many revocations made on this node wait to be written to Redis (during an
    /// outage, or a burst).
    pub fn queued(&self) -> usize {
        self.queue.queued.load(Ordering::Acquire)
    }

    /// The local copy the requests are checked against.
    pub fn local(&self) -> &MemoryRevocations {
        &self.local
    }
}

impl RevocationStore for RedisRevocations {
    fn is_revoked(&self, sid: &SessionId, subject: Option<&str>, auth_time: u64, now: u64) -> bool {
        self.local.is_revoked(sid, subject, auth_time, now)
    }

    fn revoke(&self, revocation: Revocation, now: u64) {
        self.local.revoke(revocation.clone(), now);
        if self.queue.queued.fetch_add(1, Ordering::AcqRel) < self.queue.max {
            self.redis.send(revocation);
            return;
        }
        self.queue.queued.fetch_sub(1, Ordering::AcqRel);
        // Enforced here already; the whole local set goes back to Redis at the next chance.
        if !self.queue.overflowed.swap(true, Ordering::AcqRel) {
            #[cfg(feature = "tracing")]
            tracing::warn!(
                max_queued = self.queue.max,
                "revocations: the queue for Redis is full; revocations made here stay enforced \
                 here, and the whole local set will be written back to Redis"
            );
        }
    }

    /// Ok while connected and up to date (since the connection came up); degraded while a
    /// load is under way (with its progress), while disconnected (since it was lost, or since
    /// the store started, before the first connection), and while the local set is over its
    /// cap. Requests are served from the local copy in every case.
    fn health(&self) -> Check {
        let connection = self.status().check(
            "Redis unreachable: enforcing the last known revocations",
            "Redis not reached yet: no shared revocations loaded",
        );
        let set = self.local.health();
        match (connection.status, set.status) {
            (_, Status::Ok) => connection,
            (Status::Ok, _) => set,
            _ => {
                let reasons = [connection.reason, set.reason];
                let reason = reasons.into_iter().flatten().collect::<Vec<_>>().join("; ");
                let since = connection.since.max(set.since);
                let check = Check::degraded(reason);
                match since {
                    Some(since) => check.since(since),
                    None => check,
                }
            }
        }
    }
}

impl fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("redis", &self.redis.description())
            .field("status", &self.status())
            .field("queued", &self.queued())
            .field("local", &self.local)
            .finish()
    }
}
