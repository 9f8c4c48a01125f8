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

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ::redis::RedisResult;
use ::redis::streams::StreamRangeReply;

use super::{Commands, Feed, PartSettings, RedisConfig, RedisHandle, RedisStatus};
use crate::clock::Clock;
use crate::health::{Check, Status};
use crate::log;
use crate::metrics;
use crate::revocation::{MemoryRevocations, Revocation, RevocationStore};
use crate::token::SessionId;

use super::RedisError;

/// How long the revocation log keeps its entries by default: a node away for less catches
/// up by reading what it missed; one away longer loads the whole set again.
pub const DEFAULT_LOG_RETENTION: Duration = Duration::from_secs(3600);

/// How many revocations made on a node may wait for Redis by default (during an outage, or
/// a burst faster than Redis takes it). Past it nothing is lost: the node writes its whole
/// set back once it can.
pub const DEFAULT_MAX_QUEUED: usize = 100_000;

/// How often the log is read while connected.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// How often expired entries are trimmed from Redis and swept locally.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Entries of a sorted set read per page.
const PAGE: u64 = 10_000;
/// When every entry of a page expires within this of the page's last (seconds), they are
/// all held until the last one's expiry, and the page is read without its scores, which
/// the server formats one by one (on Redis 7.0, ten times the cost of the page without
/// them). An entry is then held at most an hour past its own expiry, never less long.
const PAGE_SPAN: u64 = 3600;
/// Log entries read per page (each holds up to [`BATCH`] revocations).
const LOG_PAGE: usize = 32;
/// Queued revocations written per pipeline (and per log entry).
const BATCH: usize = 512;
/// Entries written per pipeline when the whole set is written back.
const WRITE_BACK_BATCH: usize = 1_000;
/// On servers without `XTRIM MINID`, the log keeps about this many entries.
const LOG_MAX_LEN: usize = 100_000;

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
        let feed = RevocationFeed {
            keys: Keys::new(&self.settings),
            clock: self.settings.clock,
            local: local.clone(),
            queue: Arc::clone(&queue),
            retry: Vec::new(),
            node: random_hex(8),
            generation: None,
            write_back_due: false,
            position: None,
            load: None,
            reload_pending: false,
            retention_ms: u64::try_from(self.log_retention.as_millis()).unwrap_or(u64::MAX),
            swept: Instant::now(),
            trim_by_length: false,
        };
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

struct Keys {
    sessions: String,
    subjects: String,
    log: String,
    generation: String,
    channel: String,
}

impl Keys {
    fn new(settings: &PartSettings) -> Self {
        Keys {
            sessions: settings.key("sessions"),
            subjects: settings.key("subjects"),
            log: settings.key("log"),
            generation: settings.key("generation"),
            channel: settings.key("events"),
        }
    }
}

/// Sorted-set score, member and the message (on the channel and in the log) for an entry.
fn encode(revocation: &Revocation) -> (u64, String, String) {
    match revocation {
        Revocation::Session { sid, expires_at } => (
            *expires_at,
            sid.to_string(),
            format!("s {sid} {expires_at}"),
        ),
        Revocation::Subject {
            subject,
            before,
            expires_at,
        } => (
            *expires_at,
            format!("{before}:{subject}"),
            format!("u {before} {expires_at} {subject}"),
        ),
    }
}

fn decode_message(text: &str) -> Option<Revocation> {
    let (kind, rest) = text.split_once(' ')?;
    match kind {
        "s" => {
            let (sid, expires_at) = rest.split_once(' ')?;
            Some(Revocation::Session {
                sid: sid.parse().ok()?,
                expires_at: expires_at.parse().ok()?,
            })
        }
        "u" => {
            let (before, rest) = rest.split_once(' ')?;
            let (expires_at, subject) = rest.split_once(' ')?;
            Some(Revocation::Subject {
                subject: subject.to_owned(),
                before: before.parse().ok()?,
                expires_at: expires_at.parse().ok()?,
            })
        }
        _ => None,
    }
}

/// A sorted-set member and score read back as an entry.
fn decode_member(session: bool, member: &[u8], expires_at: u64) -> Option<Revocation> {
    if session {
        let sid = SessionId::from_ascii(member)?;
        return Some(Revocation::Session { sid, expires_at });
    }
    let member = std::str::from_utf8(member).ok()?;
    let (before, subject) = member.split_once(':')?;
    Some(Revocation::Subject {
        subject: subject.to_owned(),
        before: before.parse().ok()?,
        expires_at,
    })
}

/// The milliseconds part of a stream id (`<ms>-<seq>`).
fn id_millis(id: &str) -> Option<u64> {
    id.split_once('-')
        .map_or(Some(id), |(ms, _)| Some(ms))?
        .parse()
        .ok()
}

/// A stream id as (milliseconds, sequence), in the order of the stream.
fn id_order(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    // Names a node or a generation of the data: unique enough from the clock alone if the
    // random source fails.
    if getrandom::fill(&mut raw).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        raw = nanos.to_le_bytes()[..bytes.min(16)].to_vec();
    }
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// A load of the sorted sets under way, page by page.
struct Load {
    /// 0: the sessions, 1: the subjects.
    set: usize,
    cursor: Cursor,
    loaded: u64,
    expected: u64,
    started: Instant,
}

/// Where the next page of a set starts.
enum Cursor {
    /// At the first live entry.
    Start,
    /// At rank `next`, just after `member` (rank `next - 1` when the page was read).
    After {
        next: u64,
        member: Vec<u8>,
        score: f64,
    },
    /// At the first entry scored `score` or more (the last entry read is gone: its ties are
    /// read again).
    From(f64),
}

/// The revocation store's side of the shared Redis task.
struct RevocationFeed {
    keys: Keys,
    clock: Arc<dyn Clock>,
    local: MemoryRevocations,
    queue: Arc<Queue>,
    /// Queued revocations whose write failed on a broken connection, sent first on the next.
    retry: Vec<Revocation>,
    /// This node's name in the log's reload entries.
    node: String,
    /// The value of `{prefix}:generation` when last connected.
    generation: Option<String>,
    /// The whole local set must be written back (Redis lost its data, or the queue
    /// overflowed), and has not been yet.
    write_back_due: bool,
    /// The id of the last log entry applied; `None` before the first load.
    position: Option<String>,
    load: Option<Load>,
    /// A reload entry came after the current load took its position: load again after it.
    reload_pending: bool,
    retention_ms: u64,
    /// When expired entries were last trimmed and swept.
    swept: Instant,
    /// The server refused `XTRIM MINID`: the log is trimmed by length.
    trim_by_length: bool,
}

impl RevocationFeed {
    /// Writes `batch` (queued revocations): the sorted sets, one log entry, a message each,
    /// in one pipeline. On error the batch is kept for the next connection.
    async fn write(&mut self, commands: &mut Commands, batch: Vec<Revocation>) -> RedisResult<()> {
        let mut pipe = ::redis::pipe();
        self.stage_sets(&mut pipe, &batch);
        let fields: Vec<(String, String)> = batch
            .iter()
            .enumerate()
            .map(|(i, revocation)| (i.to_string(), encode(revocation).2))
            .collect();
        pipe.xadd(&self.keys.log, "*", &fields).ignore();
        for (_, message) in &fields {
            pipe.publish(&self.keys.channel, message).ignore();
        }
        match pipe.query_async::<()>(commands).await {
            Ok(()) => {
                self.queue.queued.fetch_sub(batch.len(), Ordering::AcqRel);
                Ok(())
            }
            Err(error) => {
                self.retry.extend(batch);
                Err(error)
            }
        }
    }

    /// `ZADD` of `entries` to their sets.
    fn stage_sets(&self, pipe: &mut ::redis::Pipeline, entries: &[Revocation]) {
        let mut sessions = Vec::new();
        let mut subjects = Vec::new();
        for revocation in entries {
            let (score, member, _) = encode(revocation);
            match revocation {
                Revocation::Session { .. } => sessions.push((score, member)),
                Revocation::Subject { .. } => subjects.push((score, member)),
            }
        }
        if !sessions.is_empty() {
            pipe.zadd_multiple(&self.keys.sessions, &sessions).ignore();
        }
        if !subjects.is_empty() {
            pipe.zadd_multiple(&self.keys.subjects, &subjects).ignore();
        }
    }

    /// Sends the writes that failed on the previous connection.
    async fn flush_retry(&mut self, commands: &mut Commands) -> RedisResult<()> {
        let mut pending = std::mem::take(&mut self.retry);
        while !pending.is_empty() {
            let rest = pending.split_off(pending.len().min(BATCH));
            if let Err(error) = self.write(commands, pending).await {
                self.retry.extend(rest);
                return Err(error);
            }
            pending = rest;
        }
        Ok(())
    }

    /// Writes the whole local set to the sorted sets, a page at a time, then asks every
    /// other node (through the log) to read them again. For a Redis that lost its data, and
    /// after the queue overflowed.
    async fn write_back(&mut self, commands: &mut Commands) -> RedisResult<()> {
        let now = self.clock.now();
        let mut written = 0;
        for part in 0..=crate::revocation::SHARDS {
            for page in self.local.part(part, now).chunks(WRITE_BACK_BATCH) {
                let mut pipe = ::redis::pipe();
                self.stage_sets(&mut pipe, page);
                pipe.query_async::<()>(commands).await?;
                written += page.len();
            }
        }
        ::redis::cmd("XADD")
            .arg(&self.keys.log)
            .arg("*")
            .arg("reload")
            .arg(&self.node)
            .query_async::<()>(commands)
            .await?;
        self.write_back_due = false;
        #[cfg(feature = "tracing")]
        tracing::warn!(
            entries = written,
            "revocations: wrote the whole local set back to Redis (Redis had lost its data, or \
             the queue overflowed); the other nodes read the sets again"
        );
        #[cfg(not(feature = "tracing"))]
        let _ = written;
        Ok(())
    }

    /// Takes a position in the log (before anything is read, so what is written meanwhile is
    /// read from the log afterwards) and starts loading the sorted sets.
    async fn start_load(&mut self, commands: &mut Commands) -> RedisResult<()> {
        let (newest, sessions, subjects): (StreamRangeReply, u64, u64) = ::redis::pipe()
            .cmd("XREVRANGE")
            .arg(&self.keys.log)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .zcard(&self.keys.sessions)
            .zcard(&self.keys.subjects)
            .query_async(commands)
            .await?;
        let position = match newest.ids.into_iter().next() {
            Some(entry) => entry.id,
            // An empty log: an entry of our own to stand on.
            None => {
                ::redis::cmd("XADD")
                    .arg(&self.keys.log)
                    .arg("*")
                    .arg("anchor")
                    .arg(&self.node)
                    .query_async(commands)
                    .await?
            }
        };
        self.position = Some(position);
        self.reload_pending = false;
        self.local
            .reserve_sessions(usize::try_from(sessions).unwrap_or(usize::MAX));
        self.load = Some(Load {
            set: 0,
            cursor: Cursor::Start,
            loaded: 0,
            expected: sessions + subjects,
            started: Instant::now(),
        });
        #[cfg(feature = "tracing")]
        tracing::info!(
            entries = sessions + subjects,
            "revocations: loading the whole set from Redis, page by page"
        );
        Ok(())
    }

    /// Reads the log from this node's position to its end, applying every entry. `false`
    /// when the log no longer holds the position (trimmed, or lost with Redis's data): what
    /// came between is unknown, and the sets must be loaded again.
    async fn read_log(&mut self, commands: &mut Commands) -> RedisResult<bool> {
        let Some(mut from) = self.position.clone() else {
            return Ok(false);
        };
        loop {
            let page: StreamRangeReply = ::redis::cmd("XRANGE")
                .arg(&self.keys.log)
                .arg(&from)
                .arg("+")
                .arg("COUNT")
                .arg(LOG_PAGE + 1)
                .query_async(commands)
                .await?;
            let full = page.ids.len() > LOG_PAGE;
            let mut entries = page.ids.into_iter();
            // The range starts at the position itself: still there, nothing was trimmed
            // after it.
            if entries.next().is_none_or(|first| first.id != from) {
                self.check_rewound(commands, &from).await?;
                return Ok(false);
            }
            let mut batch = Vec::new();
            for entry in entries {
                for (field, value) in entry.map {
                    match field.as_str() {
                        "anchor" => {}
                        "reload" => {
                            let node: Option<String> = ::redis::from_redis_value(value).ok();
                            if node.as_deref() != Some(self.node.as_str()) {
                                self.reload_pending = true;
                            }
                        }
                        _ => {
                            let text: Option<String> = ::redis::from_redis_value(value).ok();
                            batch.extend(text.as_deref().and_then(decode_message));
                        }
                    }
                }
                from = entry.id;
            }
            metrics::revocation_reads("log", batch.len());
            self.local.insert_batch(batch, self.clock.now());
            self.position = Some(from.clone());
            if !full {
                return Ok(true);
            }
        }
    }

    /// The log no longer holds `position`: trimmed (it holds newer entries), or rewound
    /// (it ends before it: a failover to a replica that had not received the last writes,
    /// or a log deleted). Rewound, writes that every node saw are gone from Redis: this
    /// node writes its set back.
    async fn check_rewound(&mut self, commands: &mut Commands, position: &str) -> RedisResult<()> {
        let newest: StreamRangeReply = ::redis::cmd("XREVRANGE")
            .arg(&self.keys.log)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(commands)
            .await?;
        let newest = newest.ids.into_iter().next().map(|entry| entry.id);
        if newest.as_deref().and_then(id_order) < id_order(position) {
            #[cfg(feature = "tracing")]
            tracing::warn!(
                "revocations: the revocation log ends before what this node read from it \
                 (a failover lost the last writes, or the log was deleted): writing the local \
                 set back"
            );
            self.write_back(commands).await?;
        }
        Ok(())
    }

    /// After a read of the log: starts the load a reload entry asked for, unless one is
    /// under way (it loads again once it ends).
    async fn reload_if_asked(&mut self, commands: &mut Commands) -> RedisResult<()> {
        if self.reload_pending && self.load.is_none() {
            self.start_load(commands).await?;
        }
        Ok(())
    }

    /// The load is over: read what the log holds since it began, then load again if a
    /// reload was asked for meanwhile (or the log lost the position).
    async fn finish_load(&mut self, commands: &mut Commands) -> RedisResult<()> {
        if let Some(load) = self.load.take() {
            #[cfg(feature = "tracing")]
            tracing::info!(
                entries = load.loaded,
                seconds = load.started.elapsed().as_secs_f64(),
                "revocations: the whole set is loaded from Redis"
            );
            #[cfg(not(feature = "tracing"))]
            let _ = load;
        }
        if !self.read_log(commands).await? {
            return self.start_load(commands).await;
        }
        self.reload_if_asked(commands).await
    }

    /// Trims the expired entries from Redis (the sets, and the log past its retention) and
    /// sweeps the local set.
    async fn trim(&mut self, commands: &mut Commands, now: u64) -> RedisResult<()> {
        let mut pipe = ::redis::pipe();
        pipe.zrembyscore(&self.keys.sessions, "-inf", now)
            .ignore()
            .zrembyscore(&self.keys.subjects, "-inf", now)
            .ignore();
        // By the log's own clock (ids are the server's milliseconds), and never this node's
        // own position: a node that keeps up is never cut off.
        let cut = self
            .position
            .as_deref()
            .and_then(id_millis)
            .map(|ms| ms.saturating_sub(self.retention_ms))
            .filter(|ms| *ms > 0);
        pipe.query_async::<()>(commands).await?;
        if let Some(ms) = cut {
            self.trim_log(commands, ms).await?;
        }
        self.local.tidy(now);
        self.swept = Instant::now();
        Ok(())
    }
}

impl RevocationFeed {
    /// Drops the log's entries older than `ms` (`XTRIM MINID`, Redis 6.2 and later). A
    /// server that refuses it (older) keeps the log's last [`LOG_MAX_LEN`] entries instead.
    async fn trim_log(&mut self, commands: &mut Commands, ms: u64) -> RedisResult<()> {
        let by_age = ::redis::cmd("XTRIM")
            .arg(&self.keys.log)
            .arg("MINID")
            .arg("~")
            .arg(format!("{ms}-0"))
            .query_async::<()>(commands)
            .await;
        let Err(error) = by_age else {
            return Ok(());
        };
        // A refused command (`ERR syntax error`), not a broken connection.
        if error.code() != Some("ERR") {
            return Err(error);
        }
        if !self.trim_by_length {
            self.trim_by_length = true;
            #[cfg(feature = "tracing")]
            tracing::warn!(
                %error,
                max_len = LOG_MAX_LEN,
                "revocations: the server refuses XTRIM MINID (Redis before 6.2?); the \
                 revocation log is trimmed by length instead"
            );
        }
        ::redis::cmd("XTRIM")
            .arg(&self.keys.log)
            .arg("MAXLEN")
            .arg("~")
            .arg(LOG_MAX_LEN)
            .query_async::<()>(commands)
            .await
    }
}

impl Feed for RevocationFeed {
    type Job = Revocation;

    const NAME: &'static str = "revocations";

    const METRICS: &'static str = "revocation";

    const BATCH: usize = BATCH;

    fn channels(&self) -> Vec<String> {
        vec![self.keys.channel.clone()]
    }

    /// Sends the writes that failed; writes the whole set back if Redis lost its data (a new
    /// generation) or the queue overflowed; then catches up from the log, or, when the log
    /// no longer reaches back to this node's position (or it has none yet), starts a paged
    /// load of the sets (a load that a lost connection interrupted goes on where it stopped);
    /// and trims the expired entries.
    async fn on_connect(&mut self, commands: &mut Commands) -> RedisResult<()> {
        self.flush_retry(commands).await?;
        let (generation,): (String,) = ::redis::pipe()
            .cmd("SET")
            .arg(&self.keys.generation)
            .arg(random_hex(16))
            .arg("NX")
            .ignore()
            .get(&self.keys.generation)
            .query_async(commands)
            .await?;
        let lost = self
            .generation
            .as_ref()
            .is_some_and(|known| *known != generation);
        self.generation = Some(generation);
        if lost {
            // Everything is read again, once the local set is back in Redis.
            self.write_back_due = true;
            self.position = None;
            self.load = None;
        }
        if self.queue.overflowed.swap(false, Ordering::AcqRel) {
            self.write_back_due = true;
        }
        if self.write_back_due {
            self.write_back(commands).await?;
        }
        if self.load.is_none() {
            if self.read_log(commands).await? {
                self.reload_if_asked(commands).await?;
            } else {
                #[cfg(feature = "tracing")]
                if self.position.is_some() {
                    tracing::info!(
                        "revocations: away longer than the revocation log reaches back; \
                         loading the whole set again"
                    );
                }
                self.start_load(commands).await?;
            }
        }
        self.trim(commands, self.clock.now()).await
    }

    fn on_message(&mut self, channel: &str, payload: &[u8]) {
        if channel != self.keys.channel {
            return;
        }
        if let Some(revocation) = std::str::from_utf8(payload).ok().and_then(decode_message) {
            self.local.revoke(revocation, self.clock.now());
        }
    }

    async fn on_job(&mut self, commands: &mut Commands, revocation: Revocation) -> RedisResult<()> {
        self.write(commands, vec![revocation]).await
    }

    async fn on_jobs(&mut self, commands: &mut Commands, jobs: Vec<Revocation>) -> RedisResult<()> {
        self.write(commands, jobs).await
    }

    fn loading(&self) -> Option<(u64, u64)> {
        self.load
            .as_ref()
            .map(|load| (load.loaded, load.expected.max(load.loaded)))
    }

    /// One page of a sorted set, by rank, in one round trip: the rank of the last entry
    /// read (if entries before it were trimmed or added, the page is read again from where
    /// that entry now is; if it is gone, from its score), the page's members, and the first
    /// and last of them with their scores. Every entry of the page is held until the last
    /// one's expiry when they all expire within [`PAGE_SPAN`] of each other; otherwise the
    /// page's scores are read in a second round trip.
    async fn load_step(&mut self, commands: &mut Commands) -> RedisResult<()> {
        type Scored = Vec<(Vec<u8>, f64)>;
        let now = self.clock.now();
        let Some(load) = self.load.as_mut() else {
            return Ok(());
        };
        let session = load.set == 0;
        let key = if session {
            &self.keys.sessions
        } else {
            &self.keys.subjects
        };
        let (start, last) = match &load.cursor {
            Cursor::Start => {
                let expired: u64 = ::redis::cmd("ZCOUNT")
                    .arg(key)
                    .arg("-inf")
                    .arg(now)
                    .query_async(commands)
                    .await?;
                (expired, None)
            }
            Cursor::From(score) => {
                let below: u64 = ::redis::cmd("ZCOUNT")
                    .arg(key)
                    .arg("-inf")
                    .arg(format!("({score}"))
                    .query_async(commands)
                    .await?;
                (below, None)
            }
            Cursor::After {
                next,
                member,
                score,
            } => (*next, Some((member.clone(), *score))),
        };
        let stop = start + PAGE - 1;
        let scored = |from: i64, to: i64| {
            ::redis::cmd("ZRANGE")
                .arg(key)
                .arg(from)
                .arg(to)
                .arg("WITHSCORES")
                .to_owned()
        };
        let (start_at, stop_at) = (
            i64::try_from(start).unwrap_or(i64::MAX),
            i64::try_from(stop).unwrap_or(i64::MAX),
        );
        // The empty member is never one of ours: its rank is nil.
        let last_member = last
            .as_ref()
            .map_or(&[][..], |(member, _)| member.as_slice());
        let (rank, members, first, at_stop, at_end): (
            Option<u64>,
            Vec<Vec<u8>>,
            Scored,
            Scored,
            Scored,
        ) = ::redis::pipe()
            .zrank(key, last_member)
            .cmd("ZRANGE")
            .arg(key)
            .arg(start)
            .arg(stop)
            .add_command(scored(start_at, start_at))
            .add_command(scored(stop_at, stop_at))
            .add_command(scored(-1, -1))
            .query_async(commands)
            .await?;
        if let Some((member, score)) = last {
            match rank {
                Some(rank) if rank + 1 == start => {}
                Some(rank) => {
                    load.cursor = Cursor::After {
                        next: rank + 1,
                        member,
                        score,
                    };
                    return Ok(());
                }
                None => {
                    load.cursor = Cursor::From(score);
                    return Ok(());
                }
            }
        }
        let read = members.len();
        let complete = (read as u64) < PAGE;
        // The page's ends as the other commands of the round trip saw them: when they are
        // not the page's own, the set moved in between; the page is read again.
        let bound = if complete { at_end } else { at_stop };
        let ends = match (
            members.first(),
            members.last(),
            first.first(),
            bound.first(),
        ) {
            (Some(head), Some(tail), Some((first, low)), Some((last, high)))
                if head == first && tail == last =>
            {
                Some((*low, *high))
            }
            _ => None,
        };
        let entries: Vec<(Vec<u8>, u64)> = match ends {
            None if read > 0 => return Ok(()),
            None => Vec::new(),
            // Scores are whole seconds, written by us.
            Some((low, high)) if high - low <= PAGE_SPAN as f64 => {
                members.into_iter().map(|m| (m, high as u64)).collect()
            }
            Some(_) => {
                let page: Scored = scored(start_at, stop_at).query_async(commands).await?;
                if page.len() != read || page.last().map(|(m, _)| m) != members.last() {
                    return Ok(());
                }
                page.into_iter()
                    .map(|(m, score)| (m, score as u64))
                    .collect()
            }
        };
        load.cursor = match entries.last() {
            Some((member, expires_at)) if !complete => Cursor::After {
                next: start + read as u64,
                member: member.clone(),
                score: *expires_at as f64,
            },
            _ => Cursor::Start,
        };
        let revocations = entries.into_iter().filter_map(|(member, expires_at)| {
            (expires_at > now)
                .then(|| decode_member(session, &member, expires_at))
                .flatten()
        });
        self.local.insert_batch(revocations, now);
        metrics::revocation_reads("set", read);
        load.loaded += read as u64;
        if complete {
            load.set += 1;
            if load.set == 2 {
                return self.finish_load(commands).await;
            }
        }
        Ok(())
    }

    fn tick_every(&self) -> Duration {
        POLL_EVERY
    }

    /// Reads the log (loading the sets again if it lost this node's position), writes the
    /// whole set back if the queue overflowed, and every 30 seconds trims and sweeps.
    async fn on_tick(&mut self, commands: &mut Commands) -> RedisResult<()> {
        if self.queue.overflowed.swap(false, Ordering::AcqRel) {
            self.write_back_due = true;
        }
        if self.write_back_due {
            self.write_back(commands).await?;
        }
        if !self.read_log(commands).await? {
            #[cfg(feature = "tracing")]
            tracing::info!(
                "revocations: the revocation log no longer reaches back to this node's \
                 position; loading the whole set again"
            );
            self.start_load(commands).await?;
        }
        self.reload_if_asked(commands).await?;
        if self.swept.elapsed() >= SWEEP_EVERY {
            self.trim(commands, self.clock.now()).await?;
        }
        Ok(())
    }

    fn on_lost(&mut self, _error: &str) {
        log::revocation_outage(self.local.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let sid = SessionId::from_bytes([3; 16]);
        for revocation in [
            Revocation::Session {
                sid,
                expires_at: 99,
            },
            Revocation::Subject {
                subject: "ada lovelace: 1815".into(),
                before: 10,
                expires_at: 20,
            },
        ] {
            let (score, member, message) = encode(&revocation);
            assert_eq!(decode_message(&message), Some(revocation.clone()));
            let session = matches!(revocation, Revocation::Session { .. });
            assert_eq!(
                decode_member(session, member.as_bytes(), score),
                Some(revocation)
            );
        }
        for bad in ["", "x 1 2", "s notasid 1", "u 1 2", "u a 2 s"] {
            assert_eq!(decode_message(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn stream_ids_give_their_milliseconds() {
        assert_eq!(id_millis("1700000000123-7"), Some(1_700_000_000_123));
        assert_eq!(id_millis("42"), Some(42));
        assert_eq!(id_millis("x-1"), None);
    }
}
