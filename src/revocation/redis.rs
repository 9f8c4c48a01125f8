//! [`RedisRevocations`]: revocations shared between nodes through Redis, checked from a local
//! copy.
//!
//! Layout in Redis (prefix `tss:revocations` by default):
//! - `<prefix>:sessions`, a sorted set: member `sid`, score `expires_at`;
//! - `<prefix>:subjects`, a sorted set: member `<before>:<subject>`, score `expires_at`;
//! - `<prefix>:events`, a pub/sub channel: `s <sid> <expires_at>` or
//!   `u <before> <expires_at> <subject>`.
//!
//! A background task keeps the local copy: on every (re)connection it subscribes, writes the
//! local entries back (so a Redis that lost its data is healed), loads every live entry,
//! and then applies the channel's messages as they come. Revocations made here are applied
//! locally at once and queued for Redis; during an outage the queue waits and the local copy
//! keeps being enforced, and the outage is logged.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::resp::{Address, Connection, Value};
use super::{MemoryRevocations, Revocation, RevocationStore};
use crate::clock::{Clock, SystemClock};
use crate::log;
use crate::token::SessionId;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
const SWEEP_EVERY: Duration = Duration::from_secs(30);
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Entries written back per pipeline on reconnection.
const RESEED_BATCH: usize = 512;

/// The Redis revocation store could not be set up.
#[non_exhaustive]
#[derive(Debug)]
pub enum RedisError {
    /// The URL is not `redis://[[user]:password@]host[:port][/db]`.
    InvalidUrl(&'static str),
    /// Not called from inside a Tokio runtime (the store runs a background task).
    NoRuntime,
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisError::InvalidUrl(reason) => write!(f, "invalid Redis URL: {reason}"),
            RedisError::NoRuntime => {
                f.write_str("RedisRevocations must be started inside a Tokio runtime")
            }
        }
    }
}

impl std::error::Error for RedisError {}

struct Status {
    connected: AtomicBool,
    loaded: Notify,
    ever_loaded: AtomicBool,
}

/// Revocations shared between nodes through Redis; every node checks its local copy, so the
/// request path never waits on the network.
///
/// A revocation made on one node reaches the others through Redis pub/sub (milliseconds).
/// When Redis is unreachable, the last known set stays enforced, new revocations are
/// applied locally and queued, and the outage is logged; on reconnection the queue is sent
/// and the full set reloaded.
///
/// Clones share the store. The background task stops when the last clone is dropped.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_stateless_session::{KeyRing, SessionLayer};
/// use tower_stateless_session::revocation::RedisRevocations;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct User { sub: String }
///
/// let revocations = RedisRevocations::builder("redis://127.0.0.1:6379/0").start()?;
/// let layer = SessionLayer::<User>::new(KeyRing::from_env("SESSION_KEYS")?)
///     .with_revocation(revocations, |user: &User| Some(user.sub.as_str()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRevocations {
    local: MemoryRevocations,
    writes: mpsc::UnboundedSender<Revocation>,
    status: Arc<Status>,
    address: Arc<Address>,
}

/// Settings for [`RedisRevocations`]; see [`RedisRevocations::builder`].
pub struct RedisRevocationsBuilder {
    url: String,
    prefix: String,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for RedisRevocationsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = Address::parse(&self.url).ok();
        f.debug_struct("RedisRevocationsBuilder")
            .field("address", &address)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisRevocationsBuilder {
    /// The key prefix (default `tss:revocations`); give each application its own.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// The clock used to expire entries; use the layer's clock. Default: the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Starts the background task (which connects, and reconnects, by itself) and returns
    /// the store. It does not wait for Redis: see [`RedisRevocations::wait_loaded`].
    ///
    /// # Errors
    /// [`RedisError::InvalidUrl`], or [`RedisError::NoRuntime`] outside a Tokio runtime.
    pub fn start(self) -> Result<RedisRevocations, RedisError> {
        let address = Address::parse(&self.url).map_err(RedisError::InvalidUrl)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RedisError::NoRuntime)?;
        let (writes, queue) = mpsc::unbounded_channel();
        let local = MemoryRevocations::new();
        let status = Arc::new(Status {
            connected: AtomicBool::new(false),
            loaded: Notify::new(),
            ever_loaded: AtomicBool::new(false),
        });
        let worker = Worker {
            address: address.clone(),
            keys: Keys::new(&self.prefix),
            clock: self.clock,
            local: local.clone(),
            status: Arc::clone(&status),
            queue,
            retry: Vec::new(),
        };
        runtime.spawn(worker.run());
        Ok(RedisRevocations {
            local,
            writes,
            status,
            address: Arc::new(address),
        })
    }
}

impl RedisRevocations {
    /// Settings for a store on `url` (`redis://[[user]:password@]host[:port][/db]`).
    pub fn builder(url: &str) -> RedisRevocationsBuilder {
        RedisRevocationsBuilder {
            url: url.to_owned(),
            prefix: "tss:revocations".to_owned(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Whether the background task is connected to Redis now.
    pub fn is_connected(&self) -> bool {
        self.status.connected.load(Ordering::SeqCst)
    }

    /// Waits until the full set has been loaded from Redis at least once, up to `timeout`.
    /// Returns whether it was.
    pub async fn wait_loaded(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.status.loaded.notified();
                if self.status.ever_loaded.load(Ordering::SeqCst) {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
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
        // Fails only once the background task is gone, which outlives every clone.
        let _ = self.writes.send(revocation);
    }
}

impl fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("address", &self.address)
            .field("connected", &self.is_connected())
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
    fn new(prefix: &str) -> Self {
        Keys {
            sessions: format!("{prefix}:sessions"),
            subjects: format!("{prefix}:subjects"),
            channel: format!("{prefix}:events"),
        }
    }
}

/// `ZADD` arguments and the channel message for an entry.
fn encode(revocation: &Revocation) -> (String, String, String) {
    match revocation {
        Revocation::Session { sid, expires_at } => (
            expires_at.to_string(),
            sid.to_string(),
            format!("s {sid} {expires_at}"),
        ),
        Revocation::Subject {
            subject,
            before,
            expires_at,
        } => (
            expires_at.to_string(),
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

fn bulk_text(value: &Value) -> Option<&str> {
    match value {
        Value::Bulk(Some(bytes)) => std::str::from_utf8(bytes).ok(),
        Value::Simple(text) => Some(text),
        _ => None,
    }
}

/// `ZRANGEBYSCORE ... WITHSCORES` reply: (member, score) pairs.
fn pairs(value: &Value) -> Vec<(String, u64)> {
    let Value::Array(Some(items)) = value else {
        return Vec::new();
    };
    items
        .chunks(2)
        .filter_map(|pair| {
            let member = bulk_text(pair.first()?)?;
            // Scores come back as decimal text; ours are integers.
            let score = bulk_text(pair.get(1)?)?.parse::<f64>().ok()?;
            Some((member.to_owned(), score as u64))
        })
        .collect()
}

struct Worker {
    address: Address,
    keys: Keys,
    clock: Arc<dyn Clock>,
    local: MemoryRevocations,
    status: Arc<Status>,
    queue: mpsc::UnboundedReceiver<Revocation>,
    /// Writes that failed on a broken connection, sent first on the next one.
    retry: Vec<Revocation>,
}

enum Ended {
    /// Every store handle is gone.
    Closed,
    /// The connection broke.
    Lost(io::Error),
}

impl Worker {
    async fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        let mut outage_logged = false;
        loop {
            match self.session().await {
                Ended::Closed => return,
                Ended::Lost(error) => {
                    let was_connected = self.status.connected.swap(false, Ordering::SeqCst);
                    if was_connected {
                        backoff = BACKOFF_MIN;
                        outage_logged = false;
                    }
                    if !outage_logged {
                        log::revocation_outage(&error, self.local.len());
                        outage_logged = true;
                    }
                    // Keep draining handles that were dropped meanwhile.
                    if self.queue.is_closed() && self.queue.is_empty() {
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// One connection's life: set up, then serve until it breaks or the store is dropped.
    async fn session(&mut self) -> Ended {
        let (mut commands, mut messages, reader) = match self.connect().await {
            Ok(parts) => parts,
            Err(error) => return Ended::Lost(error),
        };
        // The subscription's reader task ends with this connection.
        let _reader = AbortOnDrop(reader);
        if let Err(error) = self.resync(&mut commands).await {
            return Ended::Lost(error);
        }
        self.status.connected.store(true, Ordering::SeqCst);
        self.status.ever_loaded.store(true, Ordering::SeqCst);
        self.status.loaded.notify_waiters();
        log::revocation_connected(self.local.len());

        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.tick().await;
        loop {
            tokio::select! {
                message = messages.recv() => match message {
                    Some(Ok(text)) => {
                        if let Some(revocation) = decode_message(&text) {
                            self.local.revoke(revocation, self.clock.now());
                        }
                    }
                    Some(Err(error)) => return Ended::Lost(error),
                    None => return Ended::Lost(io::Error::other("subscription ended")),
                },
                write = self.queue.recv() => match write {
                    Some(revocation) => {
                        if let Err(error) = self.send(&mut commands, &revocation).await {
                            self.retry.push(revocation);
                            return Ended::Lost(error);
                        }
                    }
                    None => return Ended::Closed,
                },
                _ = sweep.tick() => {
                    let now = self.clock.now();
                    self.local.sweep(now);
                    if let Err(error) = self.trim(&mut commands, now).await {
                        return Ended::Lost(error);
                    }
                }
            }
        }
    }

    /// A command connection, and a subscription whose messages arrive on a channel (read by
    /// its own task, so no read is ever cut in half by `select!`).
    async fn connect(
        &self,
    ) -> io::Result<(
        Connection,
        mpsc::UnboundedReceiver<io::Result<String>>,
        tokio::task::JoinHandle<()>,
    )> {
        let commands = Connection::open(&self.address, CONNECT_TIMEOUT).await?;
        let mut subscription = Connection::open(&self.address, CONNECT_TIMEOUT).await?;
        with_timeout(subscription.command(&[b"SUBSCRIBE", self.keys.channel.as_bytes()])).await?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            loop {
                let forwarded = match subscription.read().await {
                    Ok(Value::Array(Some(items))) => match items.as_slice() {
                        [kind, _, payload] if bulk_text(kind) == Some("message") => {
                            bulk_text(payload).map(|text| Ok(text.to_owned()))
                        }
                        _ => None,
                    },
                    Ok(_) => None,
                    Err(error) => Some(Err(error)),
                };
                let failed = matches!(forwarded, Some(Err(_)));
                if let Some(item) = forwarded
                    && sender.send(item).is_err()
                {
                    return;
                }
                if failed {
                    return;
                }
            }
        });
        Ok((commands, receiver, reader))
    }

    /// After (re)connecting: send the writes that failed, write the local entries back,
    /// load every live entry, and trim the expired ones.
    async fn resync(&mut self, commands: &mut Connection) -> io::Result<()> {
        for revocation in std::mem::take(&mut self.retry) {
            if let Err(error) = self.send(commands, &revocation).await {
                self.retry.push(revocation);
                return Err(error);
            }
        }
        let now = self.clock.now();
        for batch in self.local.entries(now).chunks(RESEED_BATCH) {
            for revocation in batch {
                let (score, member, _) = encode(revocation);
                let key = self.key_of(revocation);
                commands
                    .queue(&[b"ZADD", key.as_bytes(), score.as_bytes(), member.as_bytes()])
                    .await?;
            }
            commands.flush().await?;
            for _ in batch {
                with_timeout(commands.reply()).await?;
            }
        }
        let min = format!("({now}");
        for (key, session) in [(&self.keys.sessions, true), (&self.keys.subjects, false)] {
            let reply = with_timeout(commands.command(&[
                b"ZRANGEBYSCORE",
                key.as_bytes(),
                min.as_bytes(),
                b"+inf",
                b"WITHSCORES",
            ]))
            .await?;
            for (member, expires_at) in pairs(&reply) {
                let revocation = if session {
                    member
                        .parse()
                        .ok()
                        .map(|sid| Revocation::Session { sid, expires_at })
                } else {
                    member.split_once(':').and_then(|(before, subject)| {
                        Some(Revocation::Subject {
                            subject: subject.to_owned(),
                            before: before.parse().ok()?,
                            expires_at,
                        })
                    })
                };
                if let Some(revocation) = revocation {
                    self.local.revoke(revocation, now);
                }
            }
        }
        self.trim(commands, now).await
    }

    fn key_of(&self, revocation: &Revocation) -> &str {
        match revocation {
            Revocation::Session { .. } => &self.keys.sessions,
            Revocation::Subject { .. } => &self.keys.subjects,
        }
    }

    async fn send(&self, commands: &mut Connection, revocation: &Revocation) -> io::Result<()> {
        let (score, member, message) = encode(revocation);
        let key = self.key_of(revocation);
        commands
            .queue(&[b"ZADD", key.as_bytes(), score.as_bytes(), member.as_bytes()])
            .await?;
        commands
            .queue(&[b"PUBLISH", self.keys.channel.as_bytes(), message.as_bytes()])
            .await?;
        commands.flush().await?;
        with_timeout(commands.reply()).await?;
        with_timeout(commands.reply()).await?;
        Ok(())
    }

    async fn trim(&self, commands: &mut Connection, now: u64) -> io::Result<()> {
        let max = now.to_string();
        for key in [&self.keys.sessions, &self.keys.subjects] {
            with_timeout(commands.command(&[
                b"ZREMRANGEBYSCORE",
                key.as_bytes(),
                b"-inf",
                max.as_bytes(),
            ]))
            .await?;
        }
        Ok(())
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn with_timeout<T>(future: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(COMMAND_TIMEOUT, future)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "redis command timed out"))?
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
            let (_, _, message) = encode(&revocation);
            assert_eq!(decode_message(&message), Some(revocation));
        }
        for bad in ["", "x 1 2", "s notasid 1", "u 1 2", "u a 2 s"] {
            assert_eq!(decode_message(bad), None, "{bad:?}");
        }
    }
}
