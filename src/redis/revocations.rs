//! [`RedisRevocations`]: revocations shared between nodes through Redis, checked from a local
//! copy.
//!
//! Layout in Redis (prefix `tss:revocations` by default; the braces are a hash tag, so the
//! sets and the channel share one Cluster slot, and a write and its message go in one
//! pipeline):
//! - `{<prefix>}:sessions`, a sorted set: member `sid`, score `expires_at`;
//! - `{<prefix>}:subjects`, a sorted set: member `<before>:<subject>`, score `expires_at`;
//! - `{<prefix>}:events`, a pub/sub channel: `s <sid> <expires_at>` or
//!   `u <before> <expires_at> <subject>`.
//!
//! The connection is the crate's shared one ([`crate::redis`]): on every (re)connection it
//! subscribes, then this module's hook sends the writes that failed, writes the local
//! entries back (so a Redis that lost its data is healed), loads every live entry and trims
//! the expired ones; then the channel's messages are applied as they come. Revocations made here
//! are applied locally at once and queued for Redis; during an outage the queue waits and the
//! local copy keeps being enforced.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::redis::RedisResult;

use super::{Commands, Feed, PartSettings, RedisConfig, RedisHandle, RedisStatus};
use crate::clock::Clock;
use crate::health::Check;
use crate::log;
use crate::revocation::{MemoryRevocations, Revocation, RevocationStore};
use crate::token::SessionId;

use super::RedisError;

const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Entries written back per command on reconnection.
const RESEED_BATCH: usize = 512;

/// Revocations shared between nodes through Redis; every node checks its local copy, so the
/// request path never waits on the network.
///
/// A revocation made on one node reaches the others through Redis pub/sub (milliseconds).
/// When Redis is unreachable, the last known set stays enforced, new revocations are
/// applied locally and queued, and the outage is logged; on reconnection the queue is sent,
/// the local entries written back and the full set reloaded. Any form of
/// [`RedisConfig`] works: one server (TLS or not), Sentinel, Cluster.
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
}

/// Settings for [`RedisRevocations`]; see [`RedisRevocations::builder`].
#[derive(Debug)]
pub struct RedisRevocationsBuilder {
    settings: PartSettings,
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

    /// Checks the configuration, starts the background task (which connects, and
    /// reconnects, by itself) and returns the store. It does not wait for Redis: see
    /// [`RedisRevocations::wait_loaded`].
    ///
    /// # Errors
    /// A [`RedisError`] naming what is wrong in the configuration, or
    /// [`RedisError::NoRuntime`] outside a Tokio runtime.
    pub fn start(self) -> Result<RedisRevocations, RedisError> {
        let local = MemoryRevocations::new();
        let feed = RevocationFeed {
            keys: Keys::new(&self.settings),
            clock: self.settings.clock,
            local: local.clone(),
            retry: Vec::new(),
        };
        let redis = crate::redis::spawn(&self.settings.config, feed)?;
        Ok(RedisRevocations { local, redis })
    }
}

impl RedisRevocations {
    /// Settings for a store on `config`: a [`RedisConfig`], or a URL
    /// (`redis://[[user]:password@]host[:port][/db]`, `rediss://...` for TLS).
    pub fn builder(config: impl Into<RedisConfig>) -> RedisRevocationsBuilder {
        RedisRevocationsBuilder {
            settings: PartSettings::new(config.into(), "tss:revocations"),
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
        self.redis.send(revocation);
    }

    /// Ok while connected (since the connection came up); degraded while not, since it was
    /// lost (or since the store started, before the first connection). Requests are served
    /// from the local copy either way.
    fn health(&self) -> Check {
        self.status().check(
            "Redis unreachable: enforcing the last known revocations",
            "Redis not reached yet: no shared revocations loaded",
        )
    }
}

impl fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("redis", &self.redis.description())
            .field("status", &self.status())
            .field("local", &self.local)
            .finish()
    }
}

struct Keys {
    sessions: String,
    subjects: String,
    channel: String,
}

impl Keys {
    fn new(settings: &PartSettings) -> Self {
        Keys {
            sessions: settings.key("sessions"),
            subjects: settings.key("subjects"),
            channel: settings.key("events"),
        }
    }

    fn of(&self, revocation: &Revocation) -> &str {
        match revocation {
            Revocation::Session { .. } => &self.sessions,
            Revocation::Subject { .. } => &self.subjects,
        }
    }
}

/// Sorted-set score, member and the channel message for an entry.
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
fn decode_member(session: bool, member: &str, expires_at: u64) -> Option<Revocation> {
    if session {
        let sid = member.parse().ok()?;
        return Some(Revocation::Session { sid, expires_at });
    }
    let (before, subject) = member.split_once(':')?;
    Some(Revocation::Subject {
        subject: subject.to_owned(),
        before: before.parse().ok()?,
        expires_at,
    })
}

/// The revocation store's side of the shared Redis task.
struct RevocationFeed {
    keys: Keys,
    clock: Arc<dyn Clock>,
    local: MemoryRevocations,
    /// Writes that failed on a broken connection, sent first on the next one.
    retry: Vec<Revocation>,
}

impl RevocationFeed {
    /// Every live entry of the sorted sets `keys` (`true` for a set of sessions) into the
    /// local copy.
    async fn load(
        &self,
        commands: &mut Commands,
        keys: &[(&str, bool)],
        now: u64,
    ) -> RedisResult<()> {
        let min = format!("({now}");
        for (key, session) in keys {
            let entries: Vec<(String, f64)> = ::redis::cmd("ZRANGEBYSCORE")
                .arg(*key)
                .arg(&min)
                .arg("+inf")
                .arg("WITHSCORES")
                .query_async(commands)
                .await?;
            for (member, score) in entries {
                // Scores are whole seconds, written by us.
                if let Some(revocation) = decode_member(*session, &member, score as u64) {
                    self.local.revoke(revocation, now);
                }
            }
        }
        Ok(())
    }

    /// `ZADD` and `PUBLISH` of one entry, in one round trip.
    async fn send(&self, commands: &mut Commands, revocation: &Revocation) -> RedisResult<()> {
        let (score, member, message) = encode(revocation);
        ::redis::pipe()
            .zadd(self.keys.of(revocation), member, score)
            .ignore()
            .publish(&self.keys.channel, message)
            .ignore()
            .query_async::<()>(commands)
            .await
    }

    /// Drops the expired entries from Redis.
    async fn trim(&self, commands: &mut Commands, now: u64) -> RedisResult<()> {
        ::redis::pipe()
            .zrembyscore(&self.keys.sessions, "-inf", now)
            .ignore()
            .zrembyscore(&self.keys.subjects, "-inf", now)
            .ignore()
            .query_async::<()>(commands)
            .await
    }
}

impl Feed for RevocationFeed {
    type Job = Revocation;

    const NAME: &'static str = "revocations";

    const METRICS: &'static str = "revocation";

    fn channels(&self) -> Vec<String> {
        vec![self.keys.channel.clone()]
    }

    /// Sends the writes that failed, writes the local entries back, loads every live entry
    /// and trims the expired ones.
    async fn on_connect(&mut self, commands: &mut Commands) -> RedisResult<()> {
        let mut pending = std::mem::take(&mut self.retry).into_iter();
        while let Some(revocation) = pending.next() {
            if let Err(error) = self.send(commands, &revocation).await {
                self.retry.push(revocation);
                self.retry.extend(pending);
                return Err(error);
            }
        }
        let now = self.clock.now();
        for batch in self.local.entries(now).chunks(RESEED_BATCH) {
            let mut pipe = ::redis::pipe();
            for key in [&self.keys.sessions, &self.keys.subjects] {
                let items: Vec<(u64, String)> = batch
                    .iter()
                    .filter(|r| self.keys.of(r) == key.as_str())
                    .map(|r| {
                        let (score, member, _) = encode(r);
                        (score, member)
                    })
                    .collect();
                if !items.is_empty() {
                    pipe.zadd_multiple(key, &items).ignore();
                }
            }
            pipe.query_async::<()>(commands).await?;
        }
        let current = [
            (self.keys.sessions.as_str(), true),
            (self.keys.subjects.as_str(), false),
        ];
        self.load(commands, &current, now).await?;
        self.trim(commands, now).await
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
        let sent = self.send(commands, &revocation).await;
        if sent.is_err() {
            self.retry.push(revocation);
        }
        sent
    }

    fn tick_every(&self) -> Duration {
        SWEEP_EVERY
    }

    async fn on_tick(&mut self, commands: &mut Commands) -> RedisResult<()> {
        let now = self.clock.now();
        self.local.tidy(now);
        self.trim(commands, now).await
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
            assert_eq!(decode_member(session, &member, score), Some(revocation));
        }
        for bad in ["", "x 1 2", "s notasid 1", "u 1 2", "u a 2 s"] {
            assert_eq!(decode_message(bad), None, "{bad:?}");
        }
    }
}
