//! Node keys shared through a real Redis server (Debian package `redis-server`, started by
//! each test on a free loopback port, in its own folder): layers standing for nodes, each
//! with its own Ed25519 key and its own connection, and a downstream service that verifies
//! through the JWKS over HTTP and holds no secret. Without redis-server the tests are
//! reported as ignored, except under `CI=true`, where they fail (see `common::external`).

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use common::nodes::{
    Forged, Load, WINDOW, all_accepted, downstream, gateway_app, jwks_verifier, node_keys,
    registration,
};
use common::redis_setup::{Process, TempDir, admin};
use common::*;
use http::StatusCode;
use tower_stateless_session::keys::node::NodeKeys;
use tower_stateless_session::keys::registry::{KeyRegistry, RegistryEntry};
use tower_stateless_session::redis::RedisConfig;
use tower_stateless_session::redis::RedisKeyRegistry;
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::token::TokenCodec;
use tower_stateless_session::{Key, KeyRing, RejectionKind};

fn main() {
    external::run(external::trials!(["redis-server"] =>
        three_nodes_a_departure_a_join_under_load_and_a_forged_entry,
        a_key_whose_message_was_lost_is_found_by_a_reload,
        a_redis_outage_fails_no_request_and_keeps_every_key,
    ));
}

const PREFIX: &str = "test-keys";

struct Server {
    process: Process,
    _dir: TempDir,
}

fn server() -> Server {
    let dir = TempDir::new("redis-keys");
    let process = Process::start("redis-server", dir.path(), None, "");
    Server { process, _dir: dir }
}

impl Server {
    fn config(&self) -> RedisConfig {
        RedisConfig::url(&format!("redis://127.0.0.1:{}/0", self.process.port))
    }
}

struct Node {
    keys: NodeKeys,
    registry: RedisKeyRegistry,
    app: Router,
}

async fn node(redis: &Server, clock: &ManualClock, fallback: Option<KeyRing>) -> Node {
    let registry = RedisKeyRegistry::builder(redis.config())
        .with_prefix(PREFIX)
        .with_clock(clock.clone())
        .start()
        .expect("registry");
    registry.wait_loaded(Duration::from_secs(5)).await;
    let mut builder = node_keys(registry.clone());
    if let Some(ring) = fallback {
        builder = builder.with_fallback(ring);
    }
    let keys = builder.start().expect("node keys");
    let app = gateway_app(&keys, clock);
    Node {
        keys,
        registry,
        app,
    }
}

/// Waits (up to 5 s) until `node` signs with its own key: its publication is confirmed.
async fn until_signing(node: &Node) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !node.keys.is_signing() {
        assert!(Instant::now() < deadline, "the node key was not confirmed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn hlen(port: u16) -> usize {
    redis::cmd("HLEN")
        .arg(format!("{{{PREFIX}}}:entries"))
        .query(&mut admin(port))
        .expect("HLEN")
}

async fn three_nodes_a_departure_a_join_under_load_and_a_forged_entry() {
    let redis = server();
    let clock = ManualClock::new(T0);
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let n = node(&redis, &clock, None).await;
        until_signing(&n).await;
        nodes.push(n);
    }
    assert_eq!(hlen(redis.process.port), 3, "three keys in Redis");
    let gateway = serve(nodes[0].app.clone()).await;

    // Sessions started on each node are accepted by all.
    let mut cookies = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let cookie = login_cookie(&n.app, &format!("user-{i}")).await;
        assert_eq!(kid_of(&cookie), n.keys.kid());
        cookies.push(cookie);
    }
    for cookie in &cookies {
        for n in &nodes {
            let response = send(&n.app, "GET", "/me", Some(cookie)).await;
            assert_eq!(response.status(), StatusCode::OK, "{:?}", kind(&response));
        }
    }

    // The downstream verifies through node 0's JWKS and holds no secret.
    let jwks = jwks_verifier(gateway).await;
    let downstream = downstream(jwks.keys(), &clock);
    for cookie in &cookies {
        assert_eq!(
            bearer(&downstream, token_of(cookie)).await.status(),
            StatusCode::OK
        );
    }

    // Node 2 stops. Its sessions keep working on the others, and are adopted on refresh.
    let stopped = nodes.pop().expect("node 2");
    let stopped_kid = stopped.keys.kid().to_owned();
    drop(stopped);
    let orphan = cookies.pop().expect("node 2's session");
    clock.advance(Duration::from_secs(REFRESH));
    for n in &nodes {
        n.keys.tick();
    }
    let response = send(&nodes[1].app, "GET", "/me", Some(&orphan)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let adopted = cookie_pair(&response);
    assert_eq!(
        kid_of(&adopted),
        nodes[1].keys.kid(),
        "refreshed with node 1's key"
    );
    assert_eq!(
        send(&nodes[0].app, "GET", "/me", Some(&adopted))
            .await
            .status(),
        StatusCode::OK
    );

    // A fourth node joins under load at the downstream: zero spurious 401s.
    let load = Load::start(
        &downstream,
        cookies.iter().map(|c| token_of(c).to_owned()).collect(),
    );
    let newcomer = node(&redis, &clock, None).await;
    until_signing(&newcomer).await;
    let mut newcomer_tokens = Vec::new();
    for i in 0..10 {
        let cookie = login_cookie(&newcomer.app, &format!("new-{i}")).await;
        assert_eq!(kid_of(&cookie), newcomer.keys.kid());
        // At once, at the other nodes.
        for n in &nodes {
            let response = send(&n.app, "GET", "/me", Some(&cookie)).await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "published before use: {:?}",
                kind(&response)
            );
        }
        newcomer_tokens.push(token_of(&cookie).to_owned());
    }
    // And at the downstream, all at once, with the load running.
    all_accepted(&downstream, &newcomer_tokens).await;
    let (served, unauthorized) = load.stop().await;
    println!(
        "downstream served {served} requests while a node joined: {unauthorized} unauthorized"
    );
    assert!(served > 0);
    assert_eq!(unauthorized, 0, "zero spurious 401s");

    // A key written into Redis without a valid registration is never trusted.
    let forged = Forged::new(&clock);
    let mut admin_connection = admin(redis.process.port);
    let _: () = redis::pipe()
        .hset(
            format!("{{{PREFIX}}}:entries"),
            forged.key.kid(),
            forged.entry.to_text(),
        )
        .publish(format!("{{{PREFIX}}}:events"), forged.entry.to_text())
        .query(&mut admin_connection)
        .expect("write the forged entry");
    let deadline = Instant::now() + Duration::from_secs(5);
    for n in nodes.iter().chain([&newcomer]) {
        while n
            .registry
            .local()
            .entries()
            .iter()
            .all(|e| e.kid() != forged.key.kid())
        {
            assert!(
                Instant::now() < deadline,
                "the forged entry reached the node"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        forged.assert_untrusted(&n.keys, &n.app).await;
    }
    let response = bearer(&downstream, &forged.token).await;
    assert_eq!(kind(&response), Some(RejectionKind::UnknownKey));

    // Past its retention the departed key is dropped everywhere, and trimmed from Redis.
    clock.set(T0 + WINDOW + IDLE + LEEWAY);
    for n in nodes.iter().chain([&newcomer]) {
        n.keys.tick();
        assert!(
            n.keys.keys().current().get(&stopped_kid).is_none(),
            "departed key dropped"
        );
    }
    let late = node(&redis, &clock, None).await; // its first sync trims Redis
    until_signing(&late).await;
    let held: Vec<String> = redis::cmd("HKEYS")
        .arg(format!("{{{PREFIX}}}:entries"))
        .query(&mut admin_connection)
        .expect("HKEYS");
    assert!(!held.contains(&stopped_kid), "trimmed from Redis: {held:?}");
}

async fn a_key_whose_message_was_lost_is_found_by_a_reload() {
    let redis = server();
    let clock = ManualClock::new(T0);
    let a = node(&redis, &clock, None).await;
    until_signing(&a).await;

    // A node's entry reaches Redis but its pub/sub message is lost (as on a subscriber's
    // reconnection): written with HSET alone, by the signing tier (the MAC is valid).
    let joiner = Key::generate_ed25519().expect("rng");
    let entry = RegistryEntry::new(
        &registration(),
        &joiner,
        T0 + WINDOW,
        T0 + WINDOW + IDLE + LEEWAY,
    )
    .expect("Ed25519");
    let _: () = redis::cmd("HSET")
        .arg(format!("{{{PREFIX}}}:entries"))
        .arg(joiner.kid())
        .arg(entry.to_text())
        .query(&mut admin(redis.process.port))
        .expect("HSET");
    assert!(
        a.keys.keys().current().get(joiner.kid()).is_none(),
        "not heard of yet"
    );

    let codec = TokenCodec::new(KeyRing::new(joiner.clone())).with_clock(clock.clone());
    let token = codec
        .sign(&codec.new_claims(user("ada")).expect("claims"))
        .expect("sign");
    let response = send(&a.app, "GET", "/me", Some(&format!("session={token}"))).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", kind(&response));
    assert!(
        a.keys.keys().current().get(joiner.kid()).is_some(),
        "found by the reload"
    );
}

async fn a_redis_outage_fails_no_request_and_keeps_every_key() {
    let mut redis = server();
    let clock = ManualClock::new(T0);
    let a = node(&redis, &clock, None).await;
    let b = node(&redis, &clock, None).await;
    until_signing(&a).await;
    until_signing(&b).await;
    let from_a = login_cookie(&a.app, "ada").await;
    let from_b = login_cookie(&b.app, "bob").await;

    redis.process.kill();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Every known key stays in use; logins go on within the signing window.
    for n in [&a, &b] {
        for cookie in [&from_a, &from_b] {
            assert_eq!(
                send(&n.app, "GET", "/me", Some(cookie)).await.status(),
                StatusCode::OK
            );
        }
        assert!(n.keys.is_signing(), "within its signing window");
    }
    let during = login_cookie(&a.app, "carol").await;
    assert_eq!(
        send(&b.app, "GET", "/me", Some(&during)).await.status(),
        StatusCode::OK
    );

    // A node starting during the outage cannot publish: it does not sign with its key.
    let shared = Key::hs256("shared", &[3; 32]).expect("valid");
    let c = node(&redis, &clock, Some(KeyRing::new(shared.clone()))).await;
    let lonely = node(&redis, &clock, None).await;
    assert!(!c.keys.is_signing() && !lonely.keys.is_signing());
    let response = send(&lonely.app, "POST", "/login/dave", None).await;
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "nothing unverifiable issued"
    );
    let with_fallback = login_cookie(&c.app, "erin").await;
    assert_eq!(
        kid_of(&with_fallback),
        "shared",
        "signed with the key every node holds"
    );

    // Redis comes back empty: the nodes write their keys back; c's key is confirmed.
    redis.process.restart();
    until_signing(&c).await;
    until_signing(&lonely).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while hlen(redis.process.port) < 4 {
        assert!(Instant::now() < deadline, "every key written back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let from_c = login_cookie(&c.app, "frank").await;
    assert_eq!(kid_of(&from_c), c.keys.kid());
    for n in [&a, &b] {
        let response = send(&n.app, "GET", "/me", Some(&from_c)).await;
        assert_eq!(response.status(), StatusCode::OK, "{:?}", kind(&response));
        assert_eq!(
            send(&n.app, "GET", "/me", Some(&from_a)).await.status(),
            StatusCode::OK
        );
    }
    assert!(a.registry.status().reconnections() >= 1);
}
