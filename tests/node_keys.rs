//! Per-node keys through the whole stack, with the in-memory registry standing for a shared
//! one (`tests/redis_registry.rs` runs the same story over a real Redis): three gateway
//! layers, each with its own Ed25519 key and no shared secret; a downstream service that
//! verifies through the gateways' JWKS over HTTP.
//!
//! - sessions started on any node are accepted by every node and by the downstream;
//! - a node stops: its sessions keep working elsewhere until they expire, or until another
//!   node refreshes them (then signed with that node's key); its key goes once no token it
//!   signed can be valid;
//! - a fourth node joins under load: the downstream sees zero 401s;
//! - a key written into the registry without a valid registration is never trusted.
#![cfg(feature = "jwks")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use common::*;
use http::{Request, StatusCode, header};
use tower::ServiceExt;
use tower_stateless_session::keys::{
    JwksService, JwksVerifier, KeyRegistry, MemoryKeyRegistry, NodeKeys, RegistrationKey,
    RegistryEntry,
};
use tower_stateless_session::{
    Clock, Key, KeyRing, ManualClock, Rejection, RejectionKind, SessionLayer, TokenCodec,
};

const HEARTBEAT: u64 = 30;
const WINDOW: u64 = 300;

struct Node {
    keys: NodeKeys,
    app: Router,
}

fn registration() -> RegistrationKey {
    RegistrationKey::new(b"registration-key-of-the-gateways").expect("32 bytes")
}

fn node(registry: &MemoryKeyRegistry, clock: &ManualClock) -> Node {
    let keys = NodeKeys::builder(registration(), registry.clone())
        .with_clock(clock.clone())
        .with_heartbeat_interval(Duration::from_secs(HEARTBEAT))
        .with_signing_window(Duration::from_secs(WINDOW))
        .with_idle_timeout(Duration::from_secs(IDLE))
        .with_leeway(Duration::from_secs(LEEWAY))
        .with_background_heartbeat(false)
        .start()
        .expect("node keys");
    let layer = SessionLayer::<User>::new(keys.keys())
        .with_clock(clock.clone())
        .with_idle_timeout(Duration::from_secs(IDLE))
        .with_absolute_timeout(Duration::from_secs(ABSOLUTE))
        .with_refresh_after(Duration::from_secs(REFRESH))
        .with_leeway(Duration::from_secs(LEEWAY));
    let app = routes()
        .layer(layer)
        .route_service("/.well-known/jwks.json", JwksService::new(keys.keys()));
    Node { keys, app }
}

fn kid_of(cookie_or_token: &str) -> String {
    use base64::Engine as _;
    let token = cookie_or_token
        .split_once('=')
        .map_or(cookie_or_token, |(_, t)| t);
    let header = token.split('.').next().expect("header");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    let value: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    value["kid"].as_str().expect("kid").to_owned()
}

fn token_of(cookie: &str) -> String {
    cookie.split_once('=').expect("pair").1.to_owned()
}

async fn downstream_call(downstream: &Router, token: &str) -> http::Response<Body> {
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    downstream
        .clone()
        .oneshot(request)
        .await
        .expect("infallible")
}

fn rejection<B>(response: &http::Response<B>) -> Option<RejectionKind> {
    response.extensions().get::<Rejection>().map(|r| r.kind())
}

#[tokio::test]
async fn three_nodes_a_departure_a_join_under_load_and_a_forged_key() {
    let clock = ManualClock::new(T0);
    let registry = MemoryKeyRegistry::new();
    let nodes: Vec<Node> = (0..3).map(|_| node(&registry, &clock)).collect();
    let gateway_addr = serve(nodes[0].app.clone()).await;

    // Sessions started on each node are accepted by all.
    let mut cookies = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let cookie = login_cookie(&n.app, &format!("user-{i}")).await;
        assert_eq!(
            kid_of(&cookie),
            n.keys.kid(),
            "signed by the node's own key"
        );
        cookies.push(cookie);
    }
    for cookie in &cookies {
        for n in &nodes {
            let response = send(&n.app, "GET", "/me", Some(cookie)).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert!(
                set_cookies(&response).is_empty(),
                "a peer's token is not re-signed"
            );
        }
    }

    // The downstream holds no secret: it verifies with the JWKS.
    let jwks = JwksVerifier::builder(&format!("http://{gateway_addr}/.well-known/jwks.json"))
        .with_min_refetch_interval(Duration::from_millis(100))
        .start()
        .expect("start");
    assert!(jwks.wait_loaded(Duration::from_secs(5)).await);
    assert_eq!(jwks.keys().current().len(), 3);
    let downstream = routes().layer(
        SessionLayer::<User>::verify_only(jwks.keys())
            .with_clock(clock.clone())
            .with_idle_timeout(Duration::from_secs(IDLE))
            .with_leeway(Duration::from_secs(LEEWAY)),
    );
    for cookie in &cookies {
        let response = downstream_call(&downstream, &token_of(cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    // Node 2 stops (no more heartbeats). Its sessions keep working on the others.
    let mut nodes = nodes;
    let stopped = nodes.pop().expect("node 2");
    let stopped_kid = stopped.keys.kid().to_owned();
    drop(stopped);
    let orphan = cookies.pop().expect("node 2's session");
    clock.advance(Duration::from_secs(REFRESH - 1));
    for n in &nodes {
        n.keys.tick();
        let response = send(&n.app, "GET", "/me", Some(&orphan)).await;
        assert_eq!(response.status(), StatusCode::OK, "still valid elsewhere");
    }
    // Once a refresh is due, the node serving it signs with its own key.
    clock.advance(Duration::from_secs(1));
    let response = send(&nodes[0].app, "GET", "/me", Some(&orphan)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let adopted = cookie_pair(&response);
    assert_eq!(
        kid_of(&adopted),
        nodes[0].keys.kid(),
        "refreshed by node 0's key"
    );
    assert_eq!(
        downstream_call(&downstream, &token_of(&adopted))
            .await
            .status(),
        StatusCode::OK
    );

    // A fourth node joins under load; the downstream must see no spurious 401.
    let load_tokens: Arc<Vec<String>> = Arc::new(cookies.iter().map(|c| token_of(c)).collect());
    let unauthorized = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (downstream, tokens, unauthorized, served, stop) = (
            downstream.clone(),
            Arc::clone(&load_tokens),
            Arc::clone(&unauthorized),
            Arc::clone(&served),
            Arc::clone(&stop),
        );
        load.push(tokio::spawn(async move {
            let mut i = worker;
            while !stop.load(Ordering::SeqCst) {
                let response = downstream_call(&downstream, &tokens[i % tokens.len()]).await;
                if response.status() == StatusCode::UNAUTHORIZED {
                    unauthorized.fetch_add(1, Ordering::SeqCst);
                }
                served.fetch_add(1, Ordering::SeqCst);
                i += 1;
                tokio::task::yield_now().await;
            }
        }));
    }
    let newcomer = node(&registry, &clock);
    let mut newcomer_tokens = Vec::new();
    for i in 0..10 {
        let cookie = login_cookie(&newcomer.app, &format!("new-{i}")).await;
        assert_eq!(kid_of(&cookie), newcomer.keys.kid());
        newcomer_tokens.push(token_of(&cookie));
    }
    // Its sessions reach the downstream at once, concurrently, with the load running.
    let mut calls = Vec::new();
    for token in newcomer_tokens.clone() {
        let downstream = downstream.clone();
        calls.push(tokio::spawn(async move {
            downstream_call(&downstream, &token).await.status()
        }));
    }
    for call in calls {
        assert_eq!(
            call.await.expect("task"),
            StatusCode::OK,
            "the newcomer's session"
        );
    }
    for n in &nodes {
        let response = send(
            &n.app,
            "GET",
            "/me",
            Some(&format!("session={}", newcomer_tokens[0])),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "published before use");
    }
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.expect("load task");
    }
    assert!(served.load(Ordering::SeqCst) > 0);
    assert_eq!(unauthorized.load(Ordering::SeqCst), 0, "zero spurious 401s");

    // A key written into the registry without the registration key is never trusted.
    let attacker = Key::generate_ed25519().expect("rng");
    let wrong = RegistrationKey::new(&[0xee; 32]).expect("32 bytes");
    let forged = RegistryEntry::new(&wrong, &attacker, clock.now() + 100, clock.now() + 9_000)
        .expect("Ed25519");
    registry.publish(forged, clock.now());
    let attacker_codec = TokenCodec::new(KeyRing::new(attacker.clone())).with_clock(clock.clone());
    let forged_token = attacker_codec
        .sign(&attacker_codec.new_claims(user("root")).expect("claims"))
        .expect("sign");
    for n in nodes.iter().chain([&newcomer]) {
        assert!(n.keys.keys().current().get(attacker.kid()).is_none());
        let response = send(
            &n.app,
            "GET",
            "/me",
            Some(&format!("session={forged_token}")),
        )
        .await;
        assert_eq!(rejection(&response), Some(RejectionKind::UnknownKey));
        assert!(n.keys.status().ignored_entries >= 1);
    }
    let response = downstream_call(&downstream, &forged_token).await;
    assert_eq!(rejection(&response), Some(RejectionKind::UnknownKey));
    assert!(
        !String::from_utf8_lossy(&JwksService::new(nodes[0].keys.keys()).document())
            .contains(attacker.kid())
    );

    // The departed node's key goes once no token it signed can be valid.
    let last_promise = T0 + WINDOW; // node 2 published once, at T0.
    clock.set(last_promise + IDLE + LEEWAY);
    for n in &nodes {
        n.keys.tick();
        assert!(
            n.keys.keys().current().get(&stopped_kid).is_none(),
            "departed key dropped"
        );
    }
    assert!(
        registry.confirmed(&stopped_kid).is_none(),
        "and forgotten by the registry"
    );
}
