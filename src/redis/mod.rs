//! The Redis connection every Redis-backed part of the crate shares (feature `redis`).
//!
//! [`RedisConfig`] says where Redis is: one server by URL (`redis://`, or `rediss://` for
//! TLS), a primary behind Redis Sentinel, or a Redis Cluster; TLS with the system roots or a
//! CA file, optionally a client certificate; an ACL user. The client is
//! [redis-rs](https://docs.rs/redis): nothing in this crate speaks the wire protocol itself.
//!
//! Each Redis-backed part ([`RedisRevocations`] and [`RedisKeyRegistry`]) runs one background task over this
//! module. The task:
//! - connects, and on any failure reconnects with exponential backoff (50 ms to 1 s, with
//!   jitter), asking the sentinels for the primary again each time;
//! - subscribes to its channels **first**, then runs its reconnection hook (bring the state
//!   up to date, write back what was made locally meanwhile): messages published while it
//!   was disconnected are lost by design of pub/sub, the hook makes up for them (the
//!   revocation store reads what it missed from its log; a long load runs a page at a
//!   time, the task serving messages and jobs in between);
//! - uses RESP3 where the server speaks it (the subscription then shares the command
//!   connection, as push messages), and RESP2 with a separate subscriber connection where it
//!   does not (Redis before 6);
//! - sends `PING` every few seconds, so a half-open connection is noticed and replaced;
//! - treats every lost connection alike, including a subscriber the server dropped because
//!   its output buffer filled up.
//!
//! Its state can be read at any time, cheaply, as a [`RedisStatus`] (for gauges and health
//! checks).
//!
//! Inside the crate, a new Redis-backed part implements the crate-private `Feed` trait
//! (its channels; the reconnection hook `on_connect`; `on_message`; `on_job`, or `on_jobs`
//! for a batch, for the writes its handles queue; `loading` and `load_step` for a load long
//! enough to need pages; `on_tick` for periodic work such as heartbeats) and starts it with
//! `spawn(&config, feed)`, which checks the configuration and returns a handle to queue jobs
//! and read the status. Its builder holds a crate-private `PartSettings` (the
//! configuration, the key prefix, the clock), whose `key(name)` names the part's keys and
//! channel under one hash tag (`{prefix}:...`), so a write and its message can go in one
//! pipeline on a Cluster.

mod config;
mod link;
mod part;
#[cfg(feature = "node-keys")]
mod registry;
mod revocations;
mod status;
mod target;
mod task;

use std::fmt;
use std::path::PathBuf;

pub use self::config::RedisConfig;
#[cfg(feature = "node-keys")]
pub use self::registry::{
    DEFAULT_REGISTRY_MIN_RELOAD, DEFAULT_REGISTRY_RELOAD_WAIT, RedisKeyRegistry,
    RedisKeyRegistryBuilder,
};
pub use self::revocations::{
    DEFAULT_LOG_RETENTION, DEFAULT_MAX_QUEUED, RedisRevocations, RedisRevocationsBuilder,
};
pub use self::status::RedisStatus;

pub(crate) use self::link::Commands;
pub(crate) use self::part::PartSettings;
pub(crate) use self::task::{Feed, RedisHandle, spawn};

/// A Redis-backed part could not be set up.
#[non_exhaustive]
#[derive(Debug)]
pub enum RedisError {
    /// A URL or address is malformed (shown without its password).
    InvalidUrl {
        /// The URL, password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration does not hold together (for example a CA file without TLS).
    Invalid(String),
    /// A PEM file named in the configuration could not be read.
    File {
        /// Which file: "CA file", "client certificate", "client key".
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why it could not be read.
        error: std::io::Error,
    },
    /// TLS is configured but no rustls crypto provider is installed. The library never picks
    /// one for the application: install one at startup, for example with
    /// `rustls::crypto::ring::default_provider().install_default()`.
    NoCryptoProvider,
    /// Not called from inside a Tokio runtime (the connection runs as a background task).
    NoRuntime,
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisError::InvalidUrl { url, reason } => {
                write!(f, "invalid Redis URL {url:?}: {reason}")
            }
            RedisError::Invalid(reason) => write!(f, "invalid Redis configuration: {reason}"),
            RedisError::File { what, path, error } => {
                write!(
                    f,
                    "cannot read the Redis {what} {}: {error}",
                    path.display()
                )
            }
            RedisError::NoCryptoProvider => f.write_str(
                "Redis over TLS needs a rustls crypto provider: install one at startup, e.g. \
                 rustls::crypto::ring::default_provider().install_default()",
            ),
            RedisError::NoRuntime => {
                f.write_str("a Redis-backed store must be started inside a Tokio runtime")
            }
        }
    }
}

impl std::error::Error for RedisError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisError::File { error, .. } => Some(error),
            _ => None,
        }
    }
}
