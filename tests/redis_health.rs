//! The health and gauges of the Redis-backed parts through a Redis outage: the revocation
//! store, and the key registry of a node signing with its own key. A real `redis-server`
//! (started by each test on a free loopback port) is stopped in the middle of the test;
//! within five seconds the health report and the part's `..._connected` gauge say so, while
//! requests are still served; after a restart both are back to ok, and the reconnection is
//! counted. Without redis-server the tests are reported as ignored, except under `CI=true`,
//! where they fail (see `common::external`).
//!
//! The parts' background tasks run on the runtime's worker threads, so the metrics go to a
//! process-wide recorder (metrics-exporter-prometheus's, read through its rendered text).
//! Each test reads only its own part's series (`stateless_session_revocation_*`,
//! `stateless_session_key_registry_*` and `stateless_session_node_key_signing`), and only
//! these tests live in this file.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use common::redis_setup::*;
use common::*;
use http::StatusCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_stateless_session::SessionLayer;
use tower_stateless_session::health::{Health, Status};
use tower_stateless_session::keys::{NodeKeys, RedisKeyRegistry, RegistrationKey};
use tower_stateless_session::redis::RedisConfig;

fn main() {
    external::run(external::trials!(["redis-server"] =>
        a_redis_outage_turns_health_and_gauges_degraded_and_back,
        a_registry_outage_turns_its_check_and_gauges_degraded_and_back,
    ));
}

/// The process's recorder, installed once.
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .install_recorder()
            .expect("the only recorder of this test binary")
    })
}

/// The value of an unlabelled series in the rendered text.
fn series(name: &str) -> Option<f64> {
    prometheus()
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Waits up to `limit` for `done`, serving a request through `app` on every try (each must
/// succeed: an outage never fails a request). Returns how long it took.
async fn serve_until(
    app: &Router,
    cookie: &str,
    what: &str,
    limit: Duration,
    (health, gauge): (&Health, &str),
    done: impl Fn() -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let response = send(app, "GET", "/me", Some(cookie)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "a request failed while waiting for {what}"
        );
        if done() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "no {what} within {limit:?}: health {}, {gauge} {:?}",
            health.report().to_json(),
            series(gauge)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_redis_outage_turns_health_and_gauges_degraded_and_back() {
    prometheus();
    let dir = TempDir::new("redis-health");
    let mut redis = Process::start("redis-server", dir.path(), None, "");
    let config = RedisConfig::url(&format!("redis://127.0.0.1:{}/0", redis.port));
    let f = fixture();
    let node = node(&f, config).await;
    let health = f
        .layer
        .clone()
        .with_revocation(node.store.clone(), |u: &User| Some(u.sub.as_str()))
        .health();
    let cookie = login_cookie(&node.app, "ada").await;

    // Connected: ok, since the connection came up; the gauges say so.
    let report = health.report();
    assert_eq!(report.status(), Status::Ok, "{}", report.to_json());
    let check = report.check("revocation").expect("the store is checked");
    assert!(check.since.is_some(), "ok since the connection came up");
    assert_eq!(series("stateless_session_revocation_connected"), Some(1.0));
    let synced = series("stateless_session_revocation_last_sync_timestamp_seconds")
        .expect("the time of the load");
    assert!(synced > 1.0e9, "a Unix time: {synced}");
    let reconnections = series("stateless_session_revocation_reconnections_total").unwrap_or(0.0);

    // Redis stops: degraded within five seconds, every request still served.
    redis.kill();
    const CONNECTED: &str = "stateless_session_revocation_connected";
    let took = serve_until(
        &node.app,
        &cookie,
        "degraded state",
        Duration::from_secs(5),
        (&health, CONNECTED),
        || {
            health.report().status() == Status::Degraded
                && series("stateless_session_revocation_connected") == Some(0.0)
        },
    )
    .await;
    let report = health.report();
    let check = report.check("revocation").expect("checked");
    assert_eq!(check.status, Status::Degraded);
    assert!(
        check
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("last known revocations")),
        "the reason says what is enforced: {}",
        report.to_json()
    );
    assert!(check.since.is_some(), "degraded since the loss");
    println!("degraded after {took:?}");

    // Back: ok again, the reconnection counted, the set loaded again.
    redis.restart();
    serve_until(
        &node.app,
        &cookie,
        "recovery",
        Duration::from_secs(20),
        (&health, CONNECTED),
        || health.report().is_ok() && series(CONNECTED) == Some(1.0),
    )
    .await;
    assert!(
        series("stateless_session_revocation_reconnections_total").unwrap_or(0.0)
            >= reconnections + 1.0,
        "the reconnection is counted"
    );
    assert!(
        series("stateless_session_revocation_last_sync_timestamp_seconds").unwrap_or(0.0) >= synced,
        "the set was loaded again"
    );
}

async fn a_registry_outage_turns_its_check_and_gauges_degraded_and_back() {
    const CONNECTED: &str = "stateless_session_key_registry_connected";
    const SYNCED: &str = "stateless_session_key_registry_last_sync_timestamp_seconds";
    const RECONNECTIONS: &str = "stateless_session_key_registry_reconnections_total";
    const SIGNING: &str = "stateless_session_node_key_signing";
    prometheus();
    let dir = TempDir::new("redis-registry-health");
    let mut redis = Process::start("redis-server", dir.path(), None, "");
    let config = RedisConfig::url(&format!("redis://127.0.0.1:{}/0", redis.port));
    let registry = RedisKeyRegistry::builder(config)
        .with_prefix("health-keys")
        .start()
        .expect("registry");
    assert!(registry.wait_loaded(Duration::from_secs(10)).await);
    let registration = RegistrationKey::new(b"registration-key-of-the-gateways").expect("32 bytes");
    let node = NodeKeys::builder(registration, registry.clone())
        .start()
        .expect("node keys");
    // The layer's health holds the ring's source: the node key and the registry.
    let layer = SessionLayer::<User>::new(node.keys());
    let health = layer.health();
    let app = app(layer);

    // Published and confirmed: ok, and the gauges say so.
    let start = Instant::now();
    while !health.report().is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not ok: {}",
            health.report().to_json()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cookie = login_cookie(&app, "ada").await;
    let report = health.report();
    assert!(
        report.check("key_registry").and_then(|c| c.since).is_some(),
        "ok since the connection came up: {}",
        report.to_json()
    );
    assert_eq!(series(CONNECTED), Some(1.0));
    assert_eq!(series(SIGNING), Some(1.0));
    assert_eq!(series("stateless_session_key_registry_keys"), Some(1.0));
    assert_eq!(
        series("stateless_session_key_registry_max_keys"),
        Some(64.0)
    );
    let synced = series(SYNCED).expect("the time of the load");
    assert!(synced > 1.0e9, "a Unix time: {synced}");
    let reconnections = series(RECONNECTIONS).unwrap_or(0.0);

    // Redis stops: the registry is degraded within five seconds, requests are served, and
    // the node keeps issuing with its key (its last publication covers the next minutes).
    redis.kill();
    let took = serve_until(
        &app,
        &cookie,
        "a degraded registry",
        Duration::from_secs(5),
        (&health, CONNECTED),
        || health.report().status() == Status::Degraded && series(CONNECTED) == Some(0.0),
    )
    .await;
    println!("registry degraded after {took:?}");
    let report = health.report();
    let check = report.check("key_registry").expect("checked");
    assert_eq!(check.status, Status::Degraded);
    assert!(
        check
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("last known node keys")),
        "the reason says what is used: {}",
        report.to_json()
    );
    assert!(check.since.is_some(), "degraded since the loss");
    assert_eq!(
        report.check("node_key").map(|c| c.status),
        Some(Status::Ok),
        "still within the signing window: {}",
        report.to_json()
    );
    assert_eq!(series(SIGNING), Some(1.0));
    let response = send(&app, "POST", "/login/grace", None).await;
    assert_eq!(response.status(), StatusCode::OK, "logins still work");

    // Back: ok again, the reconnection counted, the keys loaded again.
    redis.restart();
    serve_until(
        &app,
        &cookie,
        "recovery",
        Duration::from_secs(20),
        (&health, CONNECTED),
        || health.report().is_ok() && series(CONNECTED) == Some(1.0),
    )
    .await;
    assert!(
        series(RECONNECTIONS).unwrap_or(0.0) >= reconnections + 1.0,
        "the reconnection is counted"
    );
    assert!(series(SYNCED).unwrap_or(0.0) >= synced, "loaded again");
}
