//! Fills Redis with live session revocations, written the way the demo's nodes write them,
//! to measure how a node joins a large set:
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379/0 \
//!     cargo run --release --example revocation_fill --features redis -- 1000000
//! ```
//!
//! Each revocation is a random session id expiring in two days (the demo's absolute
//! timeout), made through the crate's own store, [`RedisRevocations`], with the demo's
//! settings: `REDIS_URL` (default `redis://127.0.0.1:6379/0`) and the demo's key prefix
//! (`demo:revocations`). A demo started afterwards with the same `REDIS_URL` finds them.
//! The store writes them in batches (one pipeline and one log entry each); this program
//! keeps its queue under the store's bound, and waits until every one is written.

use std::time::{Duration, Instant};

use tower_stateless_session::redis::RedisRevocations;
use tower_stateless_session::revocation::{Revocation, RevocationStore};
use tower_stateless_session::time::{Clock, SystemClock};
use tower_stateless_session::token::SessionId;

/// The demo's key prefix for revocations (`examples/demo/redis_env.rs`).
const PREFIX: &str = "demo:revocations";
/// The demo's default absolute timeout: two days.
const LIFETIME: u64 = 2 * 24 * 3600;
/// Revocations handed to the store at a time.
const CHUNK: usize = 10_000;
/// The queue is kept under this (the store's bound is 100 000 by default).
const MAX_QUEUED: usize = 50_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = match std::env::args().nth(1).map(|n| n.replace('_', "").parse()) {
        Some(Ok(count)) => count,
        _ => {
            eprintln!("usage: revocation_fill <count>   (REDIS_URL sets the server)");
            std::process::exit(2);
        }
    };
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    // The library leaves the choice of rustls crypto provider to the application.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = RedisRevocations::builder(url.as_str())
        .with_prefix(PREFIX)
        .start()?;

    let start = Instant::now();
    let now = SystemClock.now();
    let mut made = 0;
    let mut reported = Instant::now();
    while made < count {
        while store.queued() > MAX_QUEUED {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for _ in 0..CHUNK.min(count - made) {
            let sid = SessionId::random()?;
            store.revoke(
                Revocation::Session {
                    sid,
                    expires_at: now + LIFETIME,
                },
                now,
            );
        }
        made += CHUNK.min(count - made);
        if reported.elapsed() >= Duration::from_secs(5) {
            reported = Instant::now();
            eprintln!(
                "{made} made, {} written ({:.1} s)",
                made - store.queued(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    while store.queued() > 0 {
        if !store.is_connected() && start.elapsed() > Duration::from_secs(10) {
            eprintln!("waiting for Redis at {url} ({:?})", store.status());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = start.elapsed().as_secs_f64();
    println!(
        "{count} revocations written to Redis under {PREFIX} in {took:.1} s ({:.0} a second)",
        count as f64 / took
    );
    Ok(())
}
