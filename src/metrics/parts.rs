//! The metrics of the parts that run beside the layer: the revocation set, the Redis
//! connections, the node keys and their registry, the JWKS verifier, the `dir` encryption
//! budget.
//!
//! None of these is on the request path: they are reported when the state changes (a
//! revocation, a connection lost, a heartbeat, a fetch), by name, against the recorder
//! current in the thread that makes the change. Background tasks and threads see the
//! global recorder only.

#[cfg(feature = "metrics")]
#[allow(unused_imports)] // Which are used depends on the other features.
use ::metrics::{Unit, counter, describe_counter, describe_gauge, gauge};

#[cfg(feature = "metrics")]
use super::names;

/// Reports the size of a revocation set (revocations are rare).
#[inline]
pub(crate) fn revocation_entries(entries: usize) {
    #[cfg(feature = "metrics")]
    {
        describe_gauge!(
            names::REVOCATION_ENTRIES,
            Unit::Count,
            "Entries held in the revocation set"
        );
        gauge!(names::REVOCATION_ENTRIES).set(entries as f64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = entries;
}

/// Counts revocation entries a Redis store read: `from` is `set` (pages of the sorted sets,
/// in a full load) or `log` (the revocation log, while following it and on catching up).
#[cfg(feature = "redis")]
pub(crate) fn revocation_reads(from: &'static str, entries: usize) {
    #[cfg(feature = "metrics")]
    {
        describe_counter!(
            names::REVOCATION_READS,
            Unit::Count,
            "Revocation entries read from Redis: set (full loads) or log (catching up)"
        );
        counter!(names::REVOCATION_READS, "from" => from).increment(entries as u64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (from, entries);
}

/// Reports a Redis-backed part's connection (`part` is its name in metric names, such as
/// `revocation` or `key_registry`): connected or not, when it last loaded its full state,
/// how often it had to reconnect. Called whenever the state changes.
#[cfg(feature = "redis")]
pub(crate) fn redis_status(
    part: &'static str,
    connected: bool,
    last_sync: Option<std::time::SystemTime>,
    reconnections: u64,
) {
    #[cfg(feature = "metrics")]
    {
        let name = |what: &str| format!("stateless_session_{part}_{what}");
        describe_gauge!(
            name("connected"),
            "1 while the connection to Redis is up and the state loaded and up to date, 0 otherwise"
        );
        describe_gauge!(
            name("last_sync_timestamp_seconds"),
            Unit::Seconds,
            "Unix time the state was last brought up to date with Redis after a connection"
        );
        describe_counter!(
            name("reconnections_total"),
            Unit::Count,
            "Connections to Redis lost after having been up"
        );
        gauge!(name("connected")).set(if connected { 1.0 } else { 0.0 });
        if let Some(at) = last_sync {
            gauge!(name("last_sync_timestamp_seconds")).set(unix_seconds(at));
        }
        counter!(name("reconnections_total")).absolute(reconnections);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (part, connected, last_sync, reconnections);
}

#[cfg(feature = "node-keys")]
/// What a node's key state looks like after a rebuild of its ring.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct NodeKeyGauges {
    /// Valid node keys in the ring: this node's and its peers'.
    pub(crate) keys: usize,
    /// The cap on them.
    pub(crate) max_keys: usize,
    /// Whether this node's own key issues.
    pub(crate) signing: bool,
    /// Registry entries refused since start.
    pub(crate) ignored_total: u64,
}

#[cfg(feature = "node-keys")]
/// Reports a node's key state (after every rebuild: a heartbeat, a registry change).
pub(crate) fn node_keys(gauges: NodeKeyGauges) {
    #[cfg(feature = "metrics")]
    {
        describe_gauge!(
            names::REGISTRY_KEYS,
            Unit::Count,
            "Valid node keys in the ring, this node's and its peers', from the key registry"
        );
        describe_gauge!(
            names::REGISTRY_MAX_KEYS,
            Unit::Count,
            "The most node keys the ring holds (entries beyond are left out)"
        );
        describe_counter!(
            names::REGISTRY_IGNORED,
            Unit::Count,
            "Key registry entries refused (bad registration MAC or unusable key)"
        );
        describe_gauge!(
            names::NODE_KEY_SIGNING,
            "1 while this node issues sessions with its own published key, 0 otherwise"
        );
        gauge!(names::REGISTRY_KEYS).set(gauges.keys as f64);
        gauge!(names::REGISTRY_MAX_KEYS).set(gauges.max_keys as f64);
        counter!(names::REGISTRY_IGNORED).absolute(gauges.ignored_total);
        gauge!(names::NODE_KEY_SIGNING).set(if gauges.signing { 1.0 } else { 0.0 });
    }
    #[cfg(not(feature = "metrics"))]
    let _ = gauges;
}

/// What a JWKS verifier looks like after a fetch.
#[cfg(feature = "jwks")]
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct JwksGauges {
    /// Keys in the set in use.
    pub(crate) keys: usize,
    /// Unix time of the last successful fetch, or of the verifier's start before the first.
    pub(crate) last_refresh: u64,
    /// The background refresh interval.
    pub(crate) interval: std::time::Duration,
    /// Failed fetches since start.
    pub(crate) failures: u64,
}

/// Reports a JWKS verifier's state (at start and after every fetch).
#[cfg(feature = "jwks")]
pub(crate) fn jwks(gauges: JwksGauges) {
    #[cfg(feature = "metrics")]
    {
        describe_gauge!(names::JWKS_KEYS, Unit::Count, "Keys in the JWKS set in use");
        describe_gauge!(
            names::JWKS_LAST_REFRESH,
            Unit::Seconds,
            "Unix time of the last successful JWKS fetch (the verifier's start before the first)"
        );
        describe_gauge!(
            names::JWKS_REFRESH_INTERVAL,
            Unit::Seconds,
            "How often the JWKS set is fetched again"
        );
        describe_counter!(
            names::JWKS_FETCH_FAILURES,
            Unit::Count,
            "Failed JWKS fetches (timeouts, HTTP errors, bad documents)"
        );
        gauge!(names::JWKS_KEYS).set(gauges.keys as f64);
        gauge!(names::JWKS_LAST_REFRESH).set(gauges.last_refresh as f64);
        gauge!(names::JWKS_REFRESH_INTERVAL).set(gauges.interval.as_secs_f64());
        counter!(names::JWKS_FETCH_FAILURES).absolute(gauges.failures);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = gauges;
}

#[cfg(feature = "jwe")]
/// Counts a `dir` encryption key reaching its warning line (once per key and process; see
/// [`DIR_WARNING_THRESHOLD`](crate::keys::DIR_WARNING_THRESHOLD)).
pub(crate) fn jwe_dir_key_warning() {
    #[cfg(feature = "metrics")]
    counter!(names::BUDGET_WARNINGS, "limit" => "jwe_dir_key").increment(1);
}

#[cfg(all(feature = "metrics", feature = "redis"))]
fn unix_seconds(at: std::time::SystemTime) -> f64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
