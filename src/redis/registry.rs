//! [`RedisKeyRegistry`]: node keys shared between processes through Redis, read from a local
//! copy.
//!
//! Layout in Redis (prefix `tss:keys` by default; the braces are a hash tag, so the keys and
//! the channel share one Cluster slot, and a write and its message go in one pipeline):
//! - `{<prefix>}:entries`, a hash: field `kid`, value the entry's text
//!   ([`RegistryEntry::to_text`]);
//! - `{<prefix>}:expiry`, a sorted set: member `kid`, score `expires_at`, to trim entries
//!   whose keys can no longer have a valid token;
//! - `{<prefix>}:events`, a pub/sub channel: the entry's text.
//!
//! The connection is the crate's shared one ([`crate::redis`]): on every (re)connection it
//! subscribes, then this module's hook writes this process's own entries back (so a Redis
//! that lost its data is healed), loads every entry into the local copy (a full reload: the
//! messages missed while disconnected are made up for), and trims the expired ones. A
//! publication is applied locally at once and queued; it is *confirmed* (the node may sign
//! with the key) once Redis has taken it. Nothing here judges entries: the registration MAC
//! is checked by [`NodeKeys`](crate::keys::node::NodeKeys), which ignores and logs what fails.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ::redis::RedisResult;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::health::{Check, HealthCheck};
use crate::keys::KeyWait;
use crate::keys::registry::{KeyRegistry, MemoryKeyRegistry, RegistryEntry, RegistryListener};
use crate::redis::{
    Commands, Feed, PartSettings, RedisConfig, RedisError, RedisHandle, RedisStatus,
};
use crate::time::Clock;

const TRIM_EVERY: Duration = Duration::from_secs(10);
/// Default longest wait of a request naming an unknown key id for a reload: 2 seconds.
pub const DEFAULT_REGISTRY_RELOAD_WAIT: Duration = Duration::from_secs(2);
/// Default shortest time between two reloads asked for by unknown key ids: 250 ms.
pub const DEFAULT_REGISTRY_MIN_RELOAD: Duration = Duration::from_millis(250);

/// A unit of work for the Redis task.
enum Job {
    /// Write this process's latest entry for the key id.
    Publish(Box<str>),
    /// Reload every entry (reload number `.0`, for waiters).
    Reload(u64),
}

/// Reloads started and completed.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    started: u64,
    completed: u64,
}

/// What the handles and the task share.
struct Shared {
    local: MemoryKeyRegistry,
    /// This process's own entries, latest per key id: written back on reconnection.
    mine: Mutex<HashMap<Box<str>, RegistryEntry>>,
    /// Key id -> `signs_until` of this process's latest entry Redis has taken.
    confirmed: Mutex<HashMap<Box<str>, u64>>,
    reloads: watch::Sender<Progress>,
    /// The highest reload number asked for (single flight).
    requested: AtomicU64,
    last_reload: Mutex<Option<Instant>>,
}

impl Shared {
    fn confirm(&self, entry: &RegistryEntry) {
        self.confirmed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(entry.kid().into(), entry.signs_until());
        // The node's ring may now issue with the key.
        self.local.notify();
    }

    fn own(&self, kid: &str) -> Option<RegistryEntry> {
        self.mine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kid)
            .cloned()
    }
}

/// Node keys shared between processes through Redis; every node reads its local copy, so
/// the request path never waits on the network.
///
/// A key published on one node reaches the others through pub/sub (milliseconds), and a
/// node that sees a token naming a key it does not hold yet reloads the set once (single
/// flight, bounded wait) before deciding, so a node that just joined causes no spurious
/// refusal. When Redis is unreachable the last known keys stay in use, publications queue,
/// and the outage is logged; a node's own key stops being confirmed, so after its signing
/// window it stops signing with it (see [`NodeKeys`](crate::keys::node::NodeKeys)). Any form of
/// [`RedisConfig`] works: one server (TLS or not), Sentinel, Cluster.
///
/// Clones share the registry. The background task stops when the last clone is dropped.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_stateless_session::SessionLayer;
/// use tower_stateless_session::keys::node::NodeKeys;
/// use tower_stateless_session::keys::registry::RegistrationKey;
/// use tower_stateless_session::redis::RedisKeyRegistry;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct User { sub: String }
///
/// let registry = RedisKeyRegistry::builder("redis://127.0.0.1:6379/0").start()?;
/// registry.wait_loaded(std::time::Duration::from_secs(5)).await;
/// let registration = RegistrationKey::from_env("SESSION_REGISTRATION_KEY")?;
/// let node = NodeKeys::builder(registration, registry).start()?;
/// let layer = SessionLayer::<User>::new(node.keys());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisKeyRegistry {
    shared: Arc<Shared>,
    redis: RedisHandle<Job>,
    reload_wait: Duration,
    min_reload: Duration,
}

/// Settings for [`RedisKeyRegistry`]; see [`RedisKeyRegistry::builder`].
#[derive(Debug)]
pub struct RedisKeyRegistryBuilder {
    settings: PartSettings,
    reload_wait: Duration,
    min_reload: Duration,
}

impl RedisKeyRegistryBuilder {
    /// The key prefix (default `tss:keys`); give each application its own.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.settings.set_prefix(prefix);
        self
    }

    /// The clock used to expire entries; use the layer's. Default: the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.settings.set_clock(clock);
        self
    }

    /// The longest a request naming an unknown key id waits for a reload. Default 2 s;
    /// zero never waits.
    #[must_use]
    pub fn with_reload_wait(mut self, wait: Duration) -> Self {
        self.reload_wait = wait;
        self
    }

    /// The shortest time between two reloads asked for by unknown key ids (a flood of
    /// made-up key ids costs Redis one small read per interval). Default 250 ms.
    #[must_use]
    pub fn with_min_reload_interval(mut self, interval: Duration) -> Self {
        self.min_reload = interval;
        self
    }

    /// Checks the configuration, starts the background task (which connects, and
    /// reconnects, by itself) and returns the registry. It does not wait for Redis: see
    /// [`RedisKeyRegistry::wait_loaded`].
    ///
    /// # Errors
    /// A [`RedisError`] naming what is wrong in the configuration, or
    /// [`RedisError::NoRuntime`] outside a Tokio runtime.
    pub fn start(self) -> Result<RedisKeyRegistry, RedisError> {
        let (reloads, _) = watch::channel(Progress::default());
        let shared = Arc::new(Shared {
            local: MemoryKeyRegistry::new(),
            mine: Mutex::new(HashMap::new()),
            confirmed: Mutex::new(HashMap::new()),
            reloads,
            requested: AtomicU64::new(0),
            last_reload: Mutex::new(None),
        });
        let feed = RegistryFeed {
            keys: Keys::new(&self.settings),
            clock: self.settings.clock,
            shared: Arc::clone(&shared),
        };
        let redis = crate::redis::spawn(&self.settings.config, feed)?;
        Ok(RedisKeyRegistry {
            shared,
            redis,
            reload_wait: self.reload_wait,
            min_reload: self.min_reload,
        })
    }
}

impl RedisKeyRegistry {
    /// Settings for a registry on `config`: a [`RedisConfig`], or a URL
    /// (`redis://[[user]:password@]host[:port][/db]`, `rediss://...` for TLS).
    pub fn builder(config: impl Into<RedisConfig>) -> RedisKeyRegistryBuilder {
        RedisKeyRegistryBuilder {
            settings: PartSettings::new(config.into(), "tss:keys"),
            reload_wait: DEFAULT_REGISTRY_RELOAD_WAIT,
            min_reload: DEFAULT_REGISTRY_MIN_RELOAD,
        }
    }

    /// Whether the background task is connected to Redis now (and has loaded the set since).
    pub fn is_connected(&self) -> bool {
        self.redis.status().is_connected()
    }

    /// The connection's state: connected or not, last full load, reconnections.
    pub fn status(&self) -> RedisStatus {
        self.redis.status()
    }

    /// Waits until the full set has been loaded from Redis at least once, up to `timeout`.
    /// Returns whether it was.
    pub async fn wait_loaded(&self, timeout: Duration) -> bool {
        self.redis.wait_synced(timeout).await
    }

    /// The local copy the nodes read.
    pub fn local(&self) -> &MemoryKeyRegistry {
        &self.shared.local
    }
}

impl KeyRegistry for RedisKeyRegistry {
    fn publish(&self, entry: RegistryEntry, now: u64) {
        let kid: Box<str> = entry.kid().into();
        self.shared
            .mine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(kid.clone(), entry.clone());
        self.shared.local.publish(entry, now);
        self.redis.send(Job::Publish(kid));
    }

    fn entries(&self) -> Vec<RegistryEntry> {
        self.shared.local.entries()
    }

    fn confirmed(&self, kid: &str) -> Option<u64> {
        self.shared
            .confirmed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kid)
            .copied()
    }

    fn subscribe(&self, listener: RegistryListener) {
        self.shared.local.subscribe(listener);
    }

    /// Ok while connected (since the connection came up); degraded while not, since it was
    /// lost (or since the registry started, before the first connection). Tokens are
    /// verified with the keys of the local copy either way.
    fn health(&self) -> Check {
        self.status().check(
            "Redis unreachable: verifying with the last known node keys, publishing nothing",
            "Redis not reached yet: no node keys of other nodes loaded",
        )
    }

    fn refresh(&self, _kid: &str) -> Option<KeyWait> {
        if self.reload_wait.is_zero() {
            return None;
        }
        // A reload that starts after this token was seen: one in flight may have read the
        // set before the key was written.
        let target = self.shared.reloads.borrow().started + 1;
        let shared = Arc::clone(&self.shared);
        let redis = self.redis.clone();
        let (wait, min_reload) = (self.reload_wait, self.min_reload);
        let mut progress = shared.reloads.subscribe();
        Some(Box::pin(async move {
            let reloaded = async {
                let last = *shared
                    .last_reload
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if let Some(last) = last {
                    tokio::time::sleep_until(last + min_reload).await;
                }
                if shared.requested.fetch_max(target, Ordering::SeqCst) < target {
                    redis.send(Job::Reload(target));
                }
                let _ = progress.wait_for(|p| p.completed >= target).await;
            };
            let _ = tokio::time::timeout(wait, reloaded).await;
        }))
    }
}

/// The registry's check (see [`KeyRegistry::health`]), for a
/// [`Health`](crate::health::Health) of its own.
impl HealthCheck for RedisKeyRegistry {
    fn check(&self) -> Check {
        KeyRegistry::health(self)
    }
}

impl fmt::Debug for RedisKeyRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisKeyRegistry")
            .field("redis", &self.redis.description())
            .field("status", &self.status())
            .field("local", &self.shared.local)
            .finish()
    }
}

struct Keys {
    entries: String,
    expiry: String,
    channel: String,
}

impl Keys {
    fn new(settings: &PartSettings) -> Self {
        Keys {
            entries: settings.key("entries"),
            expiry: settings.key("expiry"),
            channel: settings.key("events"),
        }
    }

    /// Adds to `pipe` the writes that store `entry` (whose text is `text`): its hash field
    /// and its expiry score.
    fn store(&self, pipe: &mut ::redis::Pipeline, entry: &RegistryEntry, text: &str) {
        pipe.hset(&self.entries, entry.kid(), text)
            .ignore()
            .zadd(&self.expiry, entry.kid(), entry.expires_at())
            .ignore();
    }
}

/// The registry's side of the shared Redis task.
struct RegistryFeed {
    keys: Keys,
    clock: Arc<dyn Clock>,
    shared: Arc<Shared>,
}

impl RegistryFeed {
    /// `HSET`, `ZADD` and `PUBLISH` of one entry, in one round trip.
    async fn write(&self, commands: &mut Commands, entry: &RegistryEntry) -> RedisResult<()> {
        let text = entry.to_text();
        let mut pipe = ::redis::pipe();
        self.keys.store(&mut pipe, entry, &text);
        pipe.publish(&self.keys.channel, &text)
            .ignore()
            .query_async::<()>(commands)
            .await
    }

    /// Reads every entry into the local copy (listeners hear of it once), and writes back
    /// the live entries the local copy holds and Redis lacks (a Redis that lost its data, or
    /// had entries deleted, is healed; entries carry their MAC, so they are copied as is).
    async fn reload(&self, commands: &mut Commands) -> RedisResult<()> {
        let now = self.clock.now();
        let texts: HashMap<String, String> = ::redis::cmd("HGETALL")
            .arg(&self.keys.entries)
            .query_async(commands)
            .await?;
        let mut entries = Vec::with_capacity(texts.len());
        for (kid, text) in texts {
            match RegistryEntry::parse(&text) {
                Ok(entry) if entry.kid() == kid => entries.push(entry),
                _ => registry_text_ignored(&kid),
            }
        }
        let missing = self.shared.local.merge(entries, now);
        if !missing.is_empty() {
            let mut pipe = ::redis::pipe();
            for entry in &missing {
                self.keys.store(&mut pipe, entry, &entry.to_text());
            }
            pipe.query_async::<()>(commands).await?;
        }
        Ok(())
    }

    /// Removes the entries whose keys can no longer have a valid token.
    async fn trim(&self, commands: &mut Commands, now: u64) -> RedisResult<()> {
        let expired: Vec<String> = ::redis::cmd("ZRANGEBYSCORE")
            .arg(&self.keys.expiry)
            .arg("-inf")
            .arg(now)
            .query_async(commands)
            .await?;
        if expired.is_empty() {
            return Ok(());
        }
        ::redis::pipe()
            .hdel(&self.keys.entries, &expired)
            .ignore()
            .zrem(&self.keys.expiry, &expired)
            .ignore()
            .query_async::<()>(commands)
            .await
    }
}

impl Feed for RegistryFeed {
    type Job = Job;

    const NAME: &'static str = "node keys";

    const METRICS: &'static str = "key_registry";

    fn channels(&self) -> Vec<String> {
        vec![self.keys.channel.clone()]
    }

    /// Writes this process's live entries back, reloads every entry, trims the expired.
    async fn on_connect(&mut self, commands: &mut Commands) -> RedisResult<()> {
        let now = self.clock.now();
        let mine: Vec<RegistryEntry> = self
            .shared
            .mine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|e| e.expires_at() > now)
            .cloned()
            .collect();
        for entry in &mine {
            self.write(commands, entry).await?;
            self.shared.confirm(entry);
        }
        self.reload(commands).await?;
        self.trim(commands, now).await
    }

    fn on_message(&mut self, channel: &str, payload: &[u8]) {
        if channel != self.keys.channel {
            return;
        }
        let parsed = std::str::from_utf8(payload)
            .ok()
            .and_then(|text| RegistryEntry::parse(text).ok());
        match parsed {
            Some(entry) => self.shared.local.publish(entry, self.clock.now()),
            None => registry_text_ignored("?"),
        }
    }

    async fn on_job(&mut self, commands: &mut Commands, job: Job) -> RedisResult<()> {
        match job {
            Job::Publish(kid) => {
                // The latest entry for the key id (queued heartbeats collapse into one).
                let Some(entry) = self.shared.own(&kid) else {
                    return Ok(());
                };
                if entry.expires_at() <= self.clock.now() {
                    return Ok(());
                }
                self.write(commands, &entry).await?;
                self.shared.confirm(&entry);
                Ok(())
            }
            Job::Reload(number) => {
                if self.shared.reloads.borrow().started >= number {
                    return Ok(());
                }
                *self
                    .shared
                    .last_reload
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                self.shared.reloads.send_modify(|p| p.started = number);
                let result = self.reload(commands).await;
                self.shared.reloads.send_modify(|p| p.completed = p.started);
                result
            }
        }
    }

    fn tick_every(&self) -> Duration {
        TRIM_EVERY
    }

    async fn on_tick(&mut self, commands: &mut Commands) -> RedisResult<()> {
        let now = self.clock.now();
        self.shared.local.sweep(now);
        self.trim(commands, now).await
    }

    fn on_lost(&mut self, _error: &str) {
        // The keys known stay in use, this node's included: the others keep it until the
        // `expires_at` of its last confirmed entry, and the node stops signing with it a
        // heartbeat before that entry's `signs_until` unless a new publication is confirmed.
        registry_outage(self.shared.local.len());
    }
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn registry_text_ignored(kid: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        kid,
        "key registry entry in Redis ignored: it does not parse"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = kid;
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn registry_outage(keys: usize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        keys,
        "Redis unreachable: using the last known node keys, queueing this node's publications"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = keys;
}
