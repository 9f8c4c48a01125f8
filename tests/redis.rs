//! Revocations shared through a real Redis server (Debian package `redis-server`, started by
//! each test on a free loopback port, in its own folder). Two layers stand for two nodes.
//! Without redis-server the tests are reported as ignored, except under `CI=true`, where
//! they fail (see `common::external`). TLS, Sentinel and Cluster have files of their own.

mod common;

use std::time::{Duration, Instant};

use common::redis_setup::*;
use common::*;
use http::StatusCode;
use tower_stateless_session::redis::RedisConfig;

fn main() {
    external::run(external::trials!(["redis-server"] =>
        a_session_revoked_on_one_node_is_refused_by_the_other_within_a_second,
        subject_wide_revocation_reaches_every_node,
        entries_expire_in_redis_and_locally,
        a_redis_outage_fails_no_request_and_loses_no_revocation,
        over_resp2_the_subscriber_has_its_own_connection_and_resubscribes,
        a_server_without_resp3_is_spoken_to_in_resp2,
        a_subscriber_dropped_for_a_full_output_buffer_reconnects_and_reloads,
        a_server_that_stops_answering_is_caught_by_ping,
        an_acl_user_is_accepted_and_a_wrong_password_refused,
        the_database_number_is_used,
    ));
}

struct Server {
    process: Process,
    _dir: TempDir,
}

fn server(conf: &str) -> Server {
    let dir = TempDir::new("redis");
    let process = Process::start("redis-server", dir.path(), None, conf);
    Server { process, _dir: dir }
}

impl Server {
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.process.port)
    }

    fn config(&self) -> RedisConfig {
        RedisConfig::url(&self.url())
    }
}

async fn a_session_revoked_on_one_node_is_refused_by_the_other_within_a_second() {
    let redis = server("");
    let f = fixture();
    let (a, b) = (
        node(&f, redis.config()).await,
        node(&f, redis.config()).await,
    );
    assert!(
        a.store.status().is_resp3(),
        "RESP3 where the server speaks it"
    );
    let cookie = login_cookie(&a.app, "ada").await;
    assert_eq!(
        send(&b.app, "GET", "/me", Some(&cookie)).await.status(),
        StatusCode::OK
    );

    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    let took = until_revoked(&b, &cookie, Duration::from_secs(1)).await;
    println!("session revocation reached the other node in {took:?}");
}

async fn subject_wide_revocation_reaches_every_node() {
    let redis = server("");
    let f = fixture();
    let (a, b) = (
        node(&f, redis.config()).await,
        node(&f, redis.config()).await,
    );
    let laptop = login_cookie(&a.app, "ada").await;
    let phone = login_cookie(&b.app, "ada").await;
    let bob = login_cookie(&b.app, "bob").await;

    let response = send(&a.app, "POST", "/logout-all", Some(&laptop)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let took = until_revoked(&b, &phone, Duration::from_secs(1)).await;
    println!("subject revocation reached the other node in {took:?}");
    assert_eq!(
        send(&b.app, "GET", "/me", Some(&bob)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&a.app, "GET", "/me", Some(&phone)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn entries_expire_in_redis_and_locally() {
    let redis = server("");
    let mut admin = admin(redis.process.port);
    let f = fixture();
    let a = node(&f, redis.config()).await;
    let cookie = login_cookie(&a.app, "ada").await;
    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while session_count(&mut admin) != 1 {
        assert!(
            Instant::now() < deadline,
            "the revocation was written to Redis"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Past the session's absolute deadline (and the leeway) the entry can match nothing.
    f.clock.set(T0 + ABSOLUTE + LEEWAY + 2);
    let late = node(&f, redis.config()).await;
    assert!(
        late.store.local().is_empty(),
        "a node starting now loads no expired entry"
    );
    assert_eq!(
        session_count(&mut admin),
        0,
        "expired entries are trimmed from Redis"
    );
    a.store
        .local()
        .sweep(tower_stateless_session::Clock::now(&f.clock));
    assert!(
        a.store.local().is_empty(),
        "and swept from the local copies"
    );
}

/// Redis stops and comes back empty (no persistence): the nodes keep enforcing what they
/// know, write their entries back, and the revocation made meanwhile reaches the other node.
async fn outage_scenario(config: impl Fn(&Server) -> RedisConfig) {
    let mut redis = server("");
    let f = fixture();
    let (a, b) = (
        node(&f, config(&redis)).await,
        node(&f, config(&redis)).await,
    );
    let mut scenario = Scenario::start(&a, &b).await;
    redis.process.kill();
    scenario.during_outage(&a, &b).await;
    redis.process.restart();
    scenario.after_recovery(&a, &b).await;
    assert_eq!(
        session_count(&mut admin(redis.process.port)),
        2,
        "both revocations are back in Redis"
    );
}

async fn a_redis_outage_fails_no_request_and_loses_no_revocation() {
    outage_scenario(Server::config).await;
}

async fn over_resp2_the_subscriber_has_its_own_connection_and_resubscribes() {
    let redis = server("");
    let f = fixture();
    let resp2 = node(&f, redis.config().with_resp3(false)).await;
    assert!(!resp2.store.status().is_resp3(), "RESP2 when asked for");
    drop(redis);
    outage_scenario(|s| s.config().with_resp3(false)).await;
}

/// A server without `HELLO` (as before Redis 6; here the command is renamed away) cannot
/// speak RESP3: the store notices and falls back to RESP2 by itself.
async fn a_server_without_resp3_is_spoken_to_in_resp2() {
    let redis = server("rename-command HELLO \"\"");
    let f = fixture();
    let (a, b) = (
        node(&f, redis.config()).await,
        node(&f, redis.config()).await,
    );
    assert!(
        !a.store.status().is_resp3() && !b.store.status().is_resp3(),
        "RESP2 after the failed HELLO: {:?}",
        a.store.status()
    );
    let cookie = login_cookie(&a.app, "ada").await;
    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    until_revoked(&b, &cookie, Duration::from_secs(1)).await;
}

/// The server drops a subscriber whose output buffer overflows (here: a 1 MB message on the
/// channel, over a 64 KB limit). The store must take it as a reconnection: reconnect,
/// resubscribe, reload, and go on receiving.
async fn a_subscriber_dropped_for_a_full_output_buffer_reconnects_and_reloads() {
    let redis = server("client-output-buffer-limit pubsub 64kb 64kb 0");
    let f = fixture();
    let mut admin = admin(redis.process.port);
    let listeners = [
        node(&f, redis.config()).await,
        node(&f, redis.config().with_resp3(false)).await,
    ];
    let writer = node(&f, redis.config()).await;
    let big = "x".repeat(1024 * 1024);
    let _: () = redis::cmd("PUBLISH")
        .arg(format!("{{{PREFIX}}}:events"))
        .arg(&big)
        .query(&mut admin)
        .expect("PUBLISH");
    for listener in &listeners {
        let start = Instant::now();
        while listener.store.status().reconnections() == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the dropped subscriber counts as a reconnection ({:?})",
                listener.store.status()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let cookie = login_cookie(&writer.app, "ada").await;
    send(&writer.app, "POST", "/logout", Some(&cookie)).await;
    for listener in &listeners {
        let start = Instant::now();
        while !listener.store.is_connected() {
            assert!(start.elapsed() < Duration::from_secs(5), "it reconnects");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        until_revoked(listener, &cookie, Duration::from_secs(1)).await;
    }
}

/// `CLIENT PAUSE` keeps the connection open but unanswered, as a half-open connection
/// would: the periodic PING notices, and the store reconnects once the server answers.
async fn a_server_that_stops_answering_is_caught_by_ping() {
    let redis = server("");
    let f = fixture();
    let config = redis
        .config()
        .with_ping_interval(Duration::from_millis(200))
        .with_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    let a = node(&f, config).await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("ALL")
        .query(&mut admin(redis.process.port))
        .expect("CLIENT PAUSE");
    let start = Instant::now();
    while a.store.is_connected() {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the unanswered PING ends the connection"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let start = Instant::now();
    while !a.store.is_connected() {
        assert!(start.elapsed() < Duration::from_secs(5), "it reconnects");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a.store.status().reconnections(), 1);
}

async fn an_acl_user_is_accepted_and_a_wrong_password_refused() {
    // The default user is off: only `app`, limited to the test's keys and channel.
    let redis = server(&format!(
        "user default off\nuser app on >app-secret ~{{{PREFIX}}}:* &{{{PREFIX}}}:events +@all"
    ));
    let url = |auth: &str| format!("redis://{auth}127.0.0.1:{}/0", redis.process.port);
    let f = fixture();
    let a = node(&f, RedisConfig::url(&url("app:app-secret@"))).await;
    let b = node(
        &f,
        RedisConfig::url(&url("")).with_credentials(Some("app"), "app-secret"),
    )
    .await;
    let cookie = login_cookie(&a.app, "ada").await;
    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    until_revoked(&b, &cookie, Duration::from_secs(1)).await;

    for refused in [url("app:wrong@"), url("")] {
        let store = tower_stateless_session::redis::RedisRevocations::builder(refused.as_str())
            .with_prefix(PREFIX)
            .start()
            .expect("a valid configuration");
        assert!(
            !store.wait_loaded(Duration::from_millis(500)).await,
            "refused without the right credentials"
        );
        assert!(
            store.status().failed_attempts() > 0,
            "the refusals are counted: {:?}",
            store.status()
        );
    }
}

/// Count of revoked sessions in database `db`.
fn count_in(redis: &Server, db: i64) -> usize {
    let mut admin = admin(redis.process.port);
    let _: () = redis::cmd("SELECT")
        .arg(db)
        .query(&mut admin)
        .expect("SELECT");
    session_count(&mut admin)
}

async fn the_database_number_is_used() {
    let redis = server("");
    let f = fixture();
    let from_url = RedisConfig::url(&format!("redis://127.0.0.1:{}/5", redis.process.port));
    let set = redis.config().with_database(6);
    for (config, db) in [(from_url, 5), (set, 6)] {
        let a = node(&f, config).await;
        let cookie = login_cookie(&a.app, "ada").await;
        send(&a.app, "POST", "/logout", Some(&cookie)).await;
        let start = Instant::now();
        while count_in(&redis, db) != 1 {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "the revocation is written to database {db}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert_eq!(count_in(&redis, 0), 0, "nothing in database 0");
}
