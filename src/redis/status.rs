//! [`RedisStatus`]: what a Redis-backed part's connection is doing, readable at any time.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use crate::health::Check;
use crate::metrics;

/// A snapshot of one Redis-backed part's connection: whether it is up, when it last
/// brought its state up to date, how far a load under way has come, how often it had to
/// reconnect. Cheap to take (one short lock); meant for gauges and health reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStatus {
    /// The link is up (the state may still be loading).
    up: bool,
    connected: bool,
    /// Entries read so far and about how many there are, while a load is under way.
    loading: Option<(u64, u64)>,
    resp3: bool,
    last_sync: Option<SystemTime>,
    reconnections: u64,
    failed_attempts: u64,
    changed_at: SystemTime,
}

impl RedisStatus {
    /// When the current state began: the connection came up (and synchronised), or was
    /// lost; for a part that never connected, when it started. For health reports.
    pub fn since(&self) -> SystemTime {
        self.changed_at
    }

    /// Whether the connection is up and the state synchronised since it came up (a load
    /// under way is not synchronised yet).
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// While the connection is up and a load of the state is under way (page by page, the
    /// part serving with what it has): how many entries it has read so far, and about how
    /// many there are. `None` otherwise.
    pub fn loading(&self) -> Option<(u64, u64)> {
        self.loading
    }

    /// Whether the current (or last) connection speaks RESP3 (pub/sub as push messages on
    /// the command connection) rather than RESP2 (a separate subscriber connection).
    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    /// When the state was last brought up to date with Redis after a connection or a
    /// reconnection (a full load, or a catch-up on what was missed); `None` before the first
    /// full load.
    pub fn last_sync(&self) -> Option<SystemTime> {
        self.last_sync
    }

    /// How long ago the state was last brought up to date, on the system clock; `None`
    /// before the first time.
    pub fn since_last_sync(&self) -> Option<Duration> {
        self.last_sync
            .map(|at| SystemTime::now().duration_since(at).unwrap_or_default())
    }

    /// How many times a working connection was lost (each starts a reconnection): server
    /// restarts, failovers, network cuts, a subscriber dropped for a full output buffer.
    pub fn reconnections(&self) -> u64 {
        self.reconnections
    }

    /// How many connection attempts failed (during outages, retried with backoff).
    pub fn failed_attempts(&self) -> u64 {
        self.failed_attempts
    }

    /// The health check of a part on this connection: ok while connected (since the
    /// connection came up); degraded while a load is under way (with its progress), with
    /// `lost` while disconnected after a load, with `never` before the first, since the
    /// change (or the part's start).
    pub(crate) fn check(&self, lost: &'static str, never: &'static str) -> Check {
        let check = if self.connected {
            Check::ok()
        } else if let Some((loaded, expected)) = self.loading {
            Check::degraded(format!(
                "loading from Redis: {loaded} of about {expected} entries read; serving with \
                 what is loaded"
            ))
        } else if self.last_sync.is_some() {
            Check::degraded(lost)
        } else {
            Check::degraded(never)
        };
        let since = self
            .changed_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        check.since(since)
    }
}

/// The live status, shared by the background task (writer) and the handles (readers).
pub(crate) struct StatusCell {
    status: Mutex<RedisStatus>,
    synced: Notify,
    /// The part's name in metric names (`revocation`): every change is exported before
    /// anyone waiting on it is woken, so gauges never lag the status.
    part: &'static str,
}

impl StatusCell {
    pub(crate) fn new(part: &'static str) -> Self {
        let cell = StatusCell {
            part,
            status: Mutex::new(RedisStatus {
                up: false,
                connected: false,
                loading: None,
                resp3: false,
                last_sync: None,
                reconnections: 0,
                failed_attempts: 0,
                changed_at: SystemTime::now(),
            }),
            synced: Notify::new(),
        };
        cell.export();
        cell
    }

    /// Reports the status to the metrics (feature `metrics`).
    fn export(&self) {
        let status = self.snapshot();
        metrics::redis_status(
            self.part,
            status.is_connected(),
            status.last_sync(),
            status.reconnections(),
        );
    }

    fn update<R>(&self, f: impl FnOnce(&mut RedisStatus) -> R) -> R {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn snapshot(&self) -> RedisStatus {
        self.update(|s| s.clone())
    }

    /// The state is up to date on a working connection; whether it was not before (a
    /// connection came up, or a load ended).
    pub(crate) fn synced(&self, resp3: bool) -> bool {
        let changed = self.update(|s| {
            let now = SystemTime::now();
            let changed = !s.connected;
            if changed {
                s.changed_at = now;
            }
            s.up = true;
            s.connected = true;
            s.loading = None;
            s.resp3 = resp3;
            s.last_sync = Some(now);
            changed
        });
        self.export();
        self.synced.notify_waiters();
        changed
    }

    /// The connection is up and a load is under way: `loaded` entries read of about
    /// `expected`.
    pub(crate) fn loading(&self, loaded: u64, expected: u64) {
        let changed = self.update(|s| {
            let changed = s.connected || s.loading.is_none();
            if changed {
                s.changed_at = SystemTime::now();
            }
            s.up = true;
            s.connected = false;
            s.loading = Some((loaded, expected));
            changed
        });
        if changed {
            self.export();
        }
    }

    /// The connection was lost; returns whether it had been up.
    pub(crate) fn lost(&self) -> bool {
        let was = self.update(|s| {
            let was = s.up;
            if was {
                s.reconnections += 1;
                s.changed_at = SystemTime::now();
            }
            s.up = false;
            s.connected = false;
            s.loading = None;
            was
        });
        self.export();
        was
    }

    pub(crate) fn attempt_failed(&self) {
        self.update(|s| s.failed_attempts += 1);
    }

    /// Waits until the state has been synchronised at least once.
    pub(crate) async fn wait_synced(&self) {
        loop {
            let notified = self.synced.notified();
            if self.update(|s| s.last_sync.is_some()) {
                return;
            }
            notified.await;
        }
    }
}
