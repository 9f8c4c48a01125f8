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

use std::time::Duration;

use crate::common::nodes::{
    Forged, Load, WINDOW, all_accepted, downstream, gateway_app, jwks_verifier, node_keys,
};
use crate::common::*;
use http::StatusCode;
use tower_stateless_session::RejectionKind;
use tower_stateless_session::keys::jwks::JwksService;
use tower_stateless_session::keys::node::NodeKeys;
use tower_stateless_session::keys::registry::{KeyRegistry, MemoryKeyRegistry};
use tower_stateless_session::time::{Clock, ManualClock};

struct Node {
    keys: NodeKeys,
    app: axum::Router,
}

fn node(registry: &MemoryKeyRegistry, clock: &ManualClock) -> Node {
    let keys = node_keys(registry.clone()).start().expect("node keys");
    let app = gateway_app(&keys, clock);
    Node { keys, app }
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
    let jwks = jwks_verifier(gateway_addr).await;
    assert_eq!(jwks.keys().current().len(), 3);
    let downstream = downstream(jwks.keys(), &clock);
    for cookie in &cookies {
        let response = bearer(&downstream, token_of(cookie)).await;
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
        bearer(&downstream, token_of(&adopted)).await.status(),
        StatusCode::OK
    );

    // A fourth node joins under load; the downstream must see no spurious 401.
    let load = Load::start(
        &downstream,
        cookies.iter().map(|c| token_of(c).to_owned()).collect(),
    );
    let newcomer = node(&registry, &clock);
    let mut newcomer_tokens = Vec::new();
    for i in 0..10 {
        let cookie = login_cookie(&newcomer.app, &format!("new-{i}")).await;
        assert_eq!(kid_of(&cookie), newcomer.keys.kid());
        newcomer_tokens.push(token_of(&cookie).to_owned());
    }
    // Its sessions reach the downstream at once, concurrently, with the load running.
    all_accepted(&downstream, &newcomer_tokens).await;
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
    let (served, unauthorized) = load.stop().await;
    assert!(served > 0);
    assert_eq!(unauthorized, 0, "zero spurious 401s");

    // A key written into the registry without the registration key is never trusted.
    let forged = Forged::new(&clock);
    registry.publish(forged.entry.clone(), clock.now());
    for n in nodes.iter().chain([&newcomer]) {
        forged.assert_untrusted(&n.keys, &n.app).await;
    }
    let response = bearer(&downstream, &forged.token).await;
    assert_eq!(kind(&response), Some(RejectionKind::UnknownKey));
    assert!(
        !String::from_utf8_lossy(&JwksService::new(nodes[0].keys.keys()).document())
            .contains(forged.key.kid())
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

/// The node keys take the idle timeout, leeway and clock of the layer built on their ring:
/// with a 2 h idle timeout, a departed node's key stays as long as a token it signed can
/// live (2 h after its last promise), not the 30 minutes of the defaults.
#[tokio::test]
async fn a_departed_node_key_lives_as_long_as_the_layers_idle_timeout() {
    const LONG_IDLE: u64 = 2 * 3600;
    let clock = ManualClock::new(T0);
    let registry = MemoryKeyRegistry::new();
    let long_layer = |keys: &NodeKeys| {
        layer(keys.keys(), &clock)
            .with_idle_timeout(Duration::from_secs(LONG_IDLE))
            .with_absolute_timeout(Duration::from_secs(4 * LONG_IDLE))
            .build()
            .expect("the layer holds")
    };
    let leaving = node_keys(registry.clone()).start().expect("node keys");
    let leaving_app = routes().layer(long_layer(&leaving));
    let staying = node_keys(registry.clone()).start().expect("node keys");
    let staying_app = routes().layer(long_layer(&staying));

    let cookie = login_cookie(&leaving_app, "ada").await;
    assert_eq!(kid_of(&cookie), leaving.kid());
    let leaving_kid = leaving.kid().to_owned();
    drop((leaving, leaving_app));

    // 90 minutes later (past the signing window plus the default 30 min + 60 s), the
    // session, idle all that time, is still within its 2 h idle timeout.
    clock.advance(Duration::from_secs(90 * 60));
    staying.tick();
    assert!(
        staying.keys().current().get(&leaving_kid).is_some(),
        "the departed node's key is kept for the layer's idle timeout"
    );
    let response = send(&staying_app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "its session is accepted elsewhere: {:?}",
        kind(&response)
    );

    // Past the last promise plus the idle timeout and the leeway, the key goes.
    clock.advance(Duration::from_secs(WINDOW + LONG_IDLE + LEEWAY));
    staying.tick();
    assert!(
        staying.keys().current().get(&leaving_kid).is_none(),
        "then it goes"
    );
}
