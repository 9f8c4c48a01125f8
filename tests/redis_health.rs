//! The revocation store's health and gauges through a Redis outage: a real `redis-server`
//! (started on a free loopback port) is stopped in the middle of the test; within five
//! seconds the health report and `stateless_session_revocation_connected` say so, while
//! requests are still served; after a restart both are back to ok, and the reconnection is
//! counted. Without redis-server the test is reported as ignored, except under `CI=true`,
//! where it fails (see `common::external`).
//!
//! The store's background task runs on the runtime's worker threads, so the metrics go to a
//! process-wide recorder (metrics-exporter-prometheus's, read through its rendered text);
//! this file holds this one test so nothing else records into it.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::redis_setup::*;
use common::*;
use http::StatusCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_stateless_session::health::Status;
use tower_stateless_session::redis::RedisConfig;

fn main() {
    external::run(external::trials!(["redis-server"] =>
        a_redis_outage_turns_health_and_gauges_degraded_and_back,
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

/// Waits up to `limit` for `done`, serving a request through `node` on every try (each must
/// succeed: an outage never fails a request). Returns how long it took.
async fn serve_until(
    node: &Node,
    cookie: &str,
    what: &str,
    limit: Duration,
    done: impl Fn() -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let response = send(&node.app, "GET", "/me", Some(cookie)).await;
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
            "no {what} within {limit:?}: health {:?}, connected gauge {:?}",
            node.store_health(),
            series("stateless_session_revocation_connected")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

trait StoreHealth {
    fn store_health(&self) -> Status;
}

impl StoreHealth for Node {
    fn store_health(&self) -> Status {
        use tower_stateless_session::revocation::RevocationStore as _;
        self.store.health().status
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
    let took = serve_until(
        &node,
        &cookie,
        "degraded state",
        Duration::from_secs(5),
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
    serve_until(&node, &cookie, "recovery", Duration::from_secs(20), || {
        health.report().is_ok() && series("stateless_session_revocation_connected") == Some(1.0)
    })
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
