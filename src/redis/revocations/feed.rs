//! The store's side of the shared Redis task: writing the queue, following the log,
//! catching up after a reconnection, writing the set back, trimming.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ::redis::RedisResult;
use ::redis::streams::StreamRangeReply;

use super::Queue;
use super::load::{Cursor, Load};
use super::text::{decode_message, encode, id_millis, id_order, random_hex};
use crate::metrics;
use crate::redis::{Commands, Feed, PartSettings};
use crate::revocation::{MemoryRevocations, Revocation, RevocationStore};
use crate::time::Clock;

/// How often the log is read while connected.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// How often expired entries are trimmed from Redis and swept locally.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Log entries read per page (each holds up to [`BATCH`] revocations).
const LOG_PAGE: usize = 32;
/// Queued revocations written per pipeline (and per log entry).
const BATCH: usize = 512;
/// Entries written per pipeline when the whole set is written back.
const WRITE_BACK_BATCH: usize = 1_000;
/// On servers without `XTRIM MINID`, the log keeps about this many entries.
const LOG_MAX_LEN: usize = 100_000;

/// The Redis keys (and channel) of the store.
pub(super) struct Keys {
    pub(super) sessions: String,
    pub(super) subjects: String,
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

/// The revocation store's side of the shared Redis task.
pub(super) struct RevocationFeed {
    pub(super) keys: Keys,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) local: MemoryRevocations,
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
    /// The paged load under way.
    pub(super) load: Option<Load>,
    /// A reload entry came after the current load took its position: load again after it.
    reload_pending: bool,
    retention_ms: u64,
    /// When expired entries were last trimmed and swept.
    swept: Instant,
    /// The server refused `XTRIM MINID`: the log is trimmed by length.
    trim_by_length: bool,
}

impl RevocationFeed {
    /// The feed of a store on `settings`, filling `local`, writing `queue`.
    pub(super) fn new(
        settings: &PartSettings,
        local: MemoryRevocations,
        queue: Arc<Queue>,
        log_retention: Duration,
    ) -> Self {
        RevocationFeed {
            keys: Keys::new(settings),
            clock: Arc::clone(&settings.clock),
            local,
            queue,
            retry: Vec::new(),
            node: random_hex(8),
            generation: None,
            write_back_due: false,
            position: None,
            load: None,
            reload_pending: false,
            retention_ms: u64::try_from(log_retention.as_millis()).unwrap_or(u64::MAX),
            swept: Instant::now(),
            trim_by_length: false,
        }
    }

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
    pub(super) async fn finish_load(&mut self, commands: &mut Commands) -> RedisResult<()> {
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

    async fn load_step(&mut self, commands: &mut Commands) -> RedisResult<()> {
        self.load_page(commands).await
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
        revocation_outage(self.local.len());
    }
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn revocation_outage(entries: usize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        entries,
        "revocations: enforcing the last known set, queueing new revocations for Redis"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = entries;
}
