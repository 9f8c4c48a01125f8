//! Time: the clock tokens are stamped and checked with, and the default session deadlines.
//!
//! JWT timestamps are whole seconds since the Unix epoch, so the clock speaks in those. The
//! codec and the layer read the time through [`Clock`], which tests replace with a
//! [`ManualClock`] so expiry is checked to the exact second, without sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default idle (rolling) timeout: 30 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Default absolute timeout: 2 days.
pub const DEFAULT_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(2 * 24 * 3600);
/// Default clock-skew leeway: 60 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// A source of the current time, in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// The current time in seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;
}

/// The system's wall clock. The default.
///
/// A system clock set before 1970 reads as 0 rather than failing.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that only moves when told to. Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use tower_stateless_session::time::{Clock, ManualClock};
///
/// let clock = ManualClock::new(1_700_000_000);
/// let seen_by_layer = clock.clone();
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(seen_by_layer.now(), 1_700_000_061);
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading `unix_seconds`.
    pub fn new(unix_seconds: u64) -> Self {
        ManualClock {
            now: Arc::new(AtomicU64::new(unix_seconds)),
        }
    }

    /// Sets the time.
    pub fn set(&self, unix_seconds: u64) {
        self.now.store(unix_seconds, Ordering::SeqCst);
    }

    /// Moves the time forward by `by`, rounded down to whole seconds (saturating).
    pub fn advance(&self, by: Duration) {
        let secs = by.as_secs();
        let mut current = self.now.load(Ordering::SeqCst);
        loop {
            let next = current.saturating_add(secs);
            match self
                .now
                .compare_exchange(current, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&self.now()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time_and_saturate() {
        let a = ManualClock::new(10);
        let b = a.clone();
        a.advance(Duration::from_millis(2_999));
        assert_eq!(b.now(), 12, "advance rounds down to whole seconds");
        b.set(u64::MAX - 1);
        a.advance(Duration::from_secs(10));
        assert_eq!(a.now(), u64::MAX, "advance saturates instead of wrapping");
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(
            SystemClock.now() > 1_577_836_800,
            "system clock reads before 2020"
        );
    }
}
