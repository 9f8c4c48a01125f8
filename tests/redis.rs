//! Revocations shared through a real Redis server (Debian package `redis-server`, started by
//! each test on a free loopback port). Two layers stand for two nodes. Without redis-server
//! the tests are reported as ignored, except under `CI=true`, where they fail (see
//! `common::external`).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use common::*;

fn main() {
    external::run(external::trials!(["redis-server"] =>
        a_session_revoked_on_one_node_is_refused_by_the_other_within_a_second,
        subject_wide_revocation_reaches_every_node,
        entries_expire_in_redis_and_locally,
        a_redis_outage_fails_no_request_and_loses_no_revocation,
    ));
}
use http::StatusCode;
use tower_stateless_session::revocation::RedisRevocations;
use tower_stateless_session::{Rejection, RejectionKind, SessionHandle, SessionLayer};

struct RedisServer {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl RedisServer {
    /// Starts `redis-server` on `port` (a free one when `None`), without persistence.
    fn start(requested: Option<u16>) -> Self {
        let port = requested.unwrap_or_else(|| {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            probe.local_addr().expect("addr").port()
        });
        let dir = std::env::temp_dir().join(format!("tss-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let child = Command::new(external::require("redis-server"))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let mut server = RedisServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        // The server answering must be ours (a probed port can be taken by another process
        // first): its working directory is our temporary one.
        let dir_name = server.dir.display().to_string();
        loop {
            if server.child.try_wait().ok().flatten().is_some() {
                // It exited: the port was taken. A probed port: try another free one.
                assert!(
                    requested.is_none(),
                    "redis-server could not bind port {port}"
                );
                return Self::start(None);
            }
            let reply = server
                .command(&["CONFIG", "GET", "dir"])
                .unwrap_or_default();
            if reply.contains(&dir_name) {
                return server;
            }
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// One raw RESP command; the raw reply.
    fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut frame = format!("*{}\r\n", args.len());
        for arg in args {
            frame.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(frame.as_bytes()).ok()?;
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Node {
    app: Router,
    store: RedisRevocations,
}

async fn node(f: &Fixture, redis: &RedisServer) -> Node {
    let store = RedisRevocations::builder(&redis.url())
        .with_prefix("test")
        .with_clock(f.clock.clone())
        .start()
        .expect("valid URL, inside a runtime");
    assert!(
        store.wait_loaded(Duration::from_secs(5)).await,
        "the node loads the revocation set"
    );
    let layer: SessionLayer<User> = f
        .layer
        .clone()
        .with_revocation(store.clone(), |u: &User| Some(u.sub.as_str()));
    let app = routes()
        .route(
            "/logout-all",
            post(|s: SessionHandle<User>| async move { s.logout_everywhere().map(|()| "gone") }),
        )
        .layer(layer);
    Node { app, store }
}

fn kind<B>(response: &http::Response<B>) -> Option<RejectionKind> {
    response.extensions().get::<Rejection>().map(|r| r.kind())
}

/// Polls `node` until `cookie` is refused as revoked; returns how long that took.
async fn until_revoked(node: &Node, cookie: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let response = send(&node.app, "GET", "/me", Some(cookie)).await;
        if response.status() == StatusCode::UNAUTHORIZED {
            assert_eq!(kind(&response), Some(RejectionKind::Revoked));
            return start.elapsed();
        }
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "no failed request meanwhile"
        );
        assert!(
            start.elapsed() < limit,
            "the revocation did not reach the other node within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn a_session_revoked_on_one_node_is_refused_by_the_other_within_a_second() {
    let redis = RedisServer::start(None);
    let f = fixture();
    let (a, b) = (node(&f, &redis).await, node(&f, &redis).await);
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
    let redis = RedisServer::start(None);
    let f = fixture();
    let (a, b) = (node(&f, &redis).await, node(&f, &redis).await);
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
    let redis = RedisServer::start(None);
    let f = fixture();
    let a = node(&f, &redis).await;
    let cookie = login_cookie(&a.app, "ada").await;
    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while redis.command(&["ZCARD", "test:sessions"]).as_deref() != Some(":1\r\n") {
        assert!(
            Instant::now() < deadline,
            "the revocation was written to Redis"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Past the session's absolute deadline (and the leeway) the entry can match nothing.
    f.clock.set(T0 + ABSOLUTE + LEEWAY + 2);
    let late = node(&f, &redis).await;
    assert!(
        late.store.local().is_empty(),
        "a node starting now loads no expired entry"
    );
    assert_eq!(
        redis.command(&["ZCARD", "test:sessions"]).as_deref(),
        Some(":0\r\n"),
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

async fn a_redis_outage_fails_no_request_and_loses_no_revocation() {
    let redis = RedisServer::start(None);
    let f = fixture();
    let (a, b) = (node(&f, &redis).await, node(&f, &redis).await);
    let revoked_before = login_cookie(&a.app, "ada").await;
    let revoked_during = login_cookie(&a.app, "bob").await;
    let alive = login_cookie(&a.app, "cy").await;
    send(&a.app, "POST", "/logout", Some(&revoked_before)).await;
    until_revoked(&b, &revoked_before, Duration::from_secs(1)).await;

    let port = redis.stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.store.is_connected() || b.store.is_connected() {
        assert!(Instant::now() < deadline, "the nodes notice the outage");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut requests = 0;
    for node in [&a, &b] {
        let response = send(&node.app, "GET", "/me", Some(&alive)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "valid sessions keep working"
        );
        let response = send(&node.app, "GET", "/me", Some(&revoked_before)).await;
        assert_eq!(
            kind(&response),
            Some(RejectionKind::Revoked),
            "the known set holds"
        );
        requests += 2;
    }
    // A revocation during the outage: enforced here at once, queued for the others.
    send(&a.app, "POST", "/logout", Some(&revoked_during)).await;
    let response = send(&a.app, "GET", "/me", Some(&revoked_during)).await;
    assert_eq!(kind(&response), Some(RejectionKind::Revoked));

    // Redis comes back empty (no persistence): the nodes write their entries back and the
    // queued revocation reaches the other node.
    let redis = RedisServer::start(Some(port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(a.store.is_connected() && b.store.is_connected()) {
        assert!(Instant::now() < deadline, "the nodes reconnect");
        let response = send(&b.app, "GET", "/me", Some(&alive)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "no failed request while reconnecting"
        );
        requests += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = until_revoked(&b, &revoked_during, Duration::from_secs(1)).await;
    let count = redis
        .command(&["ZCARD", "test:sessions"])
        .unwrap_or_default();
    println!(
        "outage: {requests} requests answered without failure; queued revocation reached \
         the other node {took:?} after reconnection; Redis holds {count:?} session entries"
    );
    assert_eq!(count, ":2\r\n", "both revocations are back in Redis");
    assert_eq!(
        kind(&send(&b.app, "GET", "/me", Some(&revoked_before)).await),
        Some(RejectionKind::Revoked)
    );
}
