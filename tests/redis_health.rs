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
use tower_stateless_session::health::{Health, HealthReport, Status};
use tower_stateless_session::keys::node::NodeKeys;
use tower_stateless_session::keys::registry::RegistrationKey;
use tower_stateless_session::redis::RedisConfig;
use tower_stateless_session::redis::{RedisKeyRegistry, RedisRevocations};
use tower_stateless_session::time::Clock;

fn main() {
    external::run(external::trials!(["redis-server"] =>
        a_redis_outage_turns_health_and_gauges_degraded_and_back,
        a_registry_outage_turns_its_check_and_gauges_degraded_and_back,
        a_node_loading_a_large_set_serves_and_reports_its_progress_until_loaded,
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

/// A Redis-backed part, by its check in the health report and its series' names
/// (`stateless_session_<metrics>_connected`, ...).
struct Part {
    check: &'static str,
    metrics: &'static str,
}

/// A part's load time and reconnections, read while connected.
struct Before {
    synced: f64,
    reconnections: f64,
}

impl Part {
    fn series_name(&self, name: &str) -> String {
        format!("stateless_session_{}_{name}", self.metrics)
    }

    fn series(&self, name: &str) -> Option<f64> {
        series(&self.series_name(name))
    }

    /// Checks the part is connected with its state loaded, ok since the connection came
    /// up; returns its load time and reconnections so far.
    fn connected(&self, health: &Health) -> Before {
        let report = health.report();
        let check = report.check(self.check).expect("the part is checked");
        assert_eq!(check.status, Status::Ok, "{}", report.to_json());
        assert!(check.since.is_some(), "ok since the connection came up");
        assert_eq!(self.series("connected"), Some(1.0));
        let synced = self
            .series("last_sync_timestamp_seconds")
            .expect("the time of the load");
        assert!(synced > 1.0e9, "a Unix time: {synced}");
        Before {
            synced,
            reconnections: self.series("reconnections_total").unwrap_or(0.0),
        }
    }

    /// Stops Redis: within five seconds the report is degraded, with a reason saying what
    /// is `kept`, and the part's `connected` gauge is 0, while every request is served.
    /// Returns the report.
    async fn outage(
        &self,
        redis: &mut Process,
        (app, cookie): (&Router, &str),
        health: &Health,
        kept: &str,
    ) -> HealthReport {
        redis.kill();
        let connected = self.series_name("connected");
        let took = serve_until(
            app,
            cookie,
            &format!("a degraded {}", self.check),
            Duration::from_secs(5),
            (health, &connected),
            || health.report().status() == Status::Degraded && series(&connected) == Some(0.0),
        )
        .await;
        println!("{} degraded after {took:?}", self.check);
        let report = health.report();
        let check = report.check(self.check).expect("checked");
        assert_eq!(check.status, Status::Degraded);
        assert!(
            check.reason.as_deref().is_some_and(|r| r.contains(kept)),
            "the reason says what is kept: {}",
            report.to_json()
        );
        assert!(check.since.is_some(), "degraded since the loss");
        report
    }

    /// Restarts Redis: ok again, the reconnection counted, the state loaded again.
    async fn recovery(
        &self,
        redis: &mut Process,
        (app, cookie): (&Router, &str),
        health: &Health,
        before: Before,
    ) {
        redis.restart();
        let connected = self.series_name("connected");
        serve_until(
            app,
            cookie,
            "recovery",
            Duration::from_secs(20),
            (health, &connected),
            || health.report().is_ok() && series(&connected) == Some(1.0),
        )
        .await;
        assert!(
            self.series("reconnections_total").unwrap_or(0.0) >= before.reconnections + 1.0,
            "the reconnection is counted"
        );
        assert!(
            self.series("last_sync_timestamp_seconds").unwrap_or(0.0) >= before.synced,
            "loaded again"
        );
    }
}

const REVOCATION: Part = Part {
    check: "revocation",
    metrics: "revocation",
};

const KEY_REGISTRY: Part = Part {
    check: "key_registry",
    metrics: "key_registry",
};

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
    let before = REVOCATION.connected(&health);

    // Redis stops: degraded within five seconds, every request still served.
    let served = (&node.app, cookie.as_str());
    REVOCATION
        .outage(&mut redis, served, &health, "last known revocations")
        .await;

    // Back: ok again, the reconnection counted, the set loaded again.
    REVOCATION
        .recovery(&mut redis, served, &health, before)
        .await;
}

async fn a_registry_outage_turns_its_check_and_gauges_degraded_and_back() {
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
    let before = KEY_REGISTRY.connected(&health);
    assert_eq!(series(SIGNING), Some(1.0));
    assert_eq!(KEY_REGISTRY.series("keys"), Some(1.0));
    assert_eq!(KEY_REGISTRY.series("max_keys"), Some(64.0));

    // Redis stops: the registry is degraded within five seconds, requests are served, and
    // the node keeps issuing with its key (its last publication covers the next minutes).
    let served = (&app, cookie.as_str());
    let report = KEY_REGISTRY
        .outage(&mut redis, served, &health, "last known node keys")
        .await;
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
    KEY_REGISTRY
        .recovery(&mut redis, served, &health, before)
        .await;
}

/// A fresh node on a set of 300 000 revocations: it serves requests from the start; while
/// the set loads, its check is degraded with the entries read so far; once loaded it is ok,
/// and the entries read are counted.
async fn a_node_loading_a_large_set_serves_and_reports_its_progress_until_loaded() {
    const READ_FROM_SET: &str = "stateless_session_revocation_read_entries_total{from=\"set\"}";
    prometheus();
    let dir = TempDir::new("redis-load");
    let redis = Process::start("redis-server", dir.path(), None, "");
    let f = fixture();
    let count = 300_000;
    fill_sessions(&mut admin(redis.port), count, f.clock.now() + 3600);
    let read_before = series(READ_FROM_SET).unwrap_or(0.0);
    let config = RedisConfig::url(&format!("redis://127.0.0.1:{}/0", redis.port));
    let store = RedisRevocations::builder(config)
        .with_prefix(PREFIX)
        .with_clock(f.clock.clone())
        .start()
        .expect("a valid configuration");
    let layer = f
        .layer
        .clone()
        .with_revocation(store.clone(), |u: &User| Some(u.sub.as_str()));
    let health = layer.health();
    let app = app(layer);
    let cookie = login_cookie(&app, "ada").await;
    let gauge = "stateless_session_revocation_connected";
    let loading = |report: &HealthReport| {
        report
            .check("revocation")
            .and_then(|c| c.reason.as_deref())
            .is_some_and(|r| r.contains("loading from Redis") && r.contains("of about 300000"))
    };
    serve_until(
        &app,
        &cookie,
        "a degraded check with the load's progress",
        Duration::from_secs(30),
        (&health, gauge),
        || loading(&health.report()),
    )
    .await;
    let took = serve_until(
        &app,
        &cookie,
        "the end of the load",
        Duration::from_secs(60),
        (&health, gauge),
        || health.report().is_ok(),
    )
    .await;
    println!("300 000 entries loaded {took:?} after the progress was first seen (debug build)");
    assert_eq!(store.local().len(), count, "every entry is held");
    let read = series(READ_FROM_SET).unwrap_or(0.0) - read_before;
    assert!(read >= count as f64, "the entries read are counted: {read}");
}
