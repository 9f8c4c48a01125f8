//! Node keys over an in-memory registry with a manual clock: publish before use, peers,
//! retention of departed nodes' keys, forged entries, the cap, and a node that cannot
//! publish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::*;
use crate::error::SignError;
use crate::keys::registry::{MemoryKeyRegistry, RegistryListener};
use crate::time::ManualClock;
use crate::token::TokenCodec;

const T0: u64 = 1_800_000_000;
const HEARTBEAT: u64 = 30;
const WINDOW: u64 = 300;
const IDLE: u64 = 1800;
const LEEWAY: u64 = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    sub: String,
}

fn registration() -> RegistrationKey {
    RegistrationKey::new(&[42; 32]).expect("32 bytes")
}

fn node_on(registry: impl KeyRegistry, clock: &ManualClock) -> NodeKeysBuilder {
    NodeKeys::builder(registration(), registry)
        .with_timing(
            Duration::from_secs(IDLE),
            Duration::from_secs(LEEWAY),
            clock.clone(),
        )
        .with_heartbeat_interval(Duration::from_secs(HEARTBEAT))
        .with_signing_window(Duration::from_secs(WINDOW))
        .with_background_heartbeat(false)
}

fn codec(node: &NodeKeys, clock: &ManualClock) -> TokenCodec {
    TokenCodec::new(node.keys())
        .with_clock(clock.clone())
        .with_idle_timeout(Duration::from_secs(IDLE))
        .with_leeway(Duration::from_secs(LEEWAY))
}

fn sign(node: &NodeKeys, clock: &ManualClock) -> Result<String, SignError> {
    let codec = codec(node, clock);
    codec.sign(&codec.new_claims(User { sub: "ada".into() })?)
}

fn kid_of(token: &str) -> String {
    crate::token::jws::header_kid(token.as_bytes()).expect("a kid")
}

/// A registry that can lose its connection: while offline, publications stay local and
/// unconfirmed, as with an unreachable shared store.
#[derive(Clone)]
struct Flaky {
    shared: MemoryKeyRegistry,
    online: Arc<AtomicBool>,
}

impl KeyRegistry for Flaky {
    fn publish(&self, entry: RegistryEntry, now: u64) {
        if self.online.load(Ordering::SeqCst) {
            self.shared.publish(entry, now);
        }
    }
    fn entries(&self) -> Vec<RegistryEntry> {
        self.shared.entries()
    }
    fn confirmed(&self, kid: &str) -> Option<u64> {
        self.shared.confirmed(kid)
    }
    fn subscribe(&self, listener: RegistryListener) {
        self.shared.subscribe(listener);
    }
}

#[test]
fn three_nodes_publish_before_signing_and_verify_each_other() {
    let clock = ManualClock::new(T0);
    let registry = MemoryKeyRegistry::new();
    let nodes: Vec<NodeKeys> = (0..3)
        .map(|_| node_on(registry.clone(), &clock).start().expect("start"))
        .collect();
    for node in &nodes {
        assert!(node.is_signing(), "published and confirmed at start");
        assert_eq!(registry.confirmed(node.kid()), Some(T0 + WINDOW));
        let ring = node.keys().current();
        assert_eq!(ring.len(), 3, "every node holds every key");
        assert_eq!(ring.issuing_key().map(Key::kid), Some(node.kid()));
    }
    for signer in &nodes {
        let token = sign(signer, &clock).expect("sign");
        assert_eq!(kid_of(&token), signer.kid());
        for verifier in &nodes {
            let verified = codec(verifier, &clock)
                .verify::<User>(&token)
                .expect("verifies");
            assert!(
                !verified.needs_resign(),
                "a peer's token is current, not re-signed on sight"
            );
        }
    }
    // Heartbeats leave the rings alone (so the verify caches stay warm).
    let generations: Vec<u64> = nodes.iter().map(|n| n.keys().generation()).collect();
    for round in 1..=3 {
        clock.advance(Duration::from_secs(HEARTBEAT));
        for (i, node) in nodes.iter().enumerate() {
            node.tick();
            assert!(
                node.status().last_published == Some(clock.now()),
                "node {i} round {round}"
            );
        }
    }
    let after: Vec<u64> = nodes.iter().map(|n| n.keys().generation()).collect();
    assert_eq!(generations, after, "no ring replaced by heartbeats");
    let status = nodes[0].status();
    assert!(status.signing);
    assert_eq!(status.peer_keys, 2);
    assert_eq!(status.confirmed_until, Some(T0 + 3 * HEARTBEAT + WINDOW));
}

#[test]
fn a_departed_nodes_key_stays_until_its_last_token_expires() {
    let clock = ManualClock::new(T0);
    let registry = MemoryKeyRegistry::new();
    let a = node_on(registry.clone(), &clock).start().expect("start");
    let b = node_on(registry.clone(), &clock).start().expect("start");
    let b_kid = b.kid().to_owned();

    // b signs until it stops; its last heartbeat is at T0 + 60.
    clock.advance(Duration::from_secs(60));
    b.tick();
    let token = sign(&b, &clock).expect("sign");
    drop(b);

    // The latest b could have signed: just before its promise ran out.
    let expires = T0 + 60 + WINDOW + IDLE + LEEWAY;
    while clock.now() + HEARTBEAT < expires {
        clock.advance(Duration::from_secs(HEARTBEAT));
        a.tick();
        assert!(
            a.keys().current().get(&b_kid).is_some(),
            "b's key is kept at {}",
            clock.now() - T0
        );
    }
    let codec = codec(&a, &clock);
    clock.set(T0 + 60 + IDLE + LEEWAY - 1);
    assert!(
        codec.verify::<User>(&token).is_ok(),
        "b's sessions live on at a"
    );
    clock.set(expires);
    a.tick();
    assert!(
        a.keys().current().get(&b_kid).is_none(),
        "then the key goes"
    );
    assert!(a.is_signing());
}

#[test]
fn a_forged_or_altered_entry_is_never_trusted() {
    let clock = ManualClock::new(T0);
    let registry = MemoryKeyRegistry::new();
    let node = node_on(registry.clone(), &clock).start().expect("start");

    // Written by someone without the registration key.
    let attacker = Key::generate_ed25519().expect("rng");
    let other_registration = RegistrationKey::new(&[7; 32]).expect("32 bytes");
    let forged =
        RegistryEntry::new(&other_registration, &attacker, T0 + 100, T0 + 9_000).expect("Ed25519");
    registry.publish(forged, clock.now());
    // A genuine entry of another node with its time pushed forward (MAC no longer matches).
    let honest = Key::generate_ed25519().expect("rng");
    let genuine =
        RegistryEntry::new(&registration(), &honest, T0 + 100, T0 + 2_000).expect("Ed25519");
    let altered = genuine
        .to_text()
        .replace(&format!(":{}:", T0 + 2_000), &format!(":{}:", T0 + 900_000));
    assert_ne!(altered, genuine.to_text());
    registry.publish(RegistryEntry::parse(&altered).expect("parses"), clock.now());

    let ring = node.keys().current();
    assert!(
        ring.get(attacker.kid()).is_none(),
        "the forged key is not trusted"
    );
    assert!(
        ring.get(honest.kid()).is_none(),
        "the altered entry is not trusted"
    );
    assert_eq!(node.status().ignored_entries, 2);

    // A token the attacker signs is refused as naming an unknown key.
    let attacker_codec = TokenCodec::new(KeyRing::new(attacker)).with_clock(clock.clone());
    let token = attacker_codec
        .sign(
            &attacker_codec
                .new_claims(User { sub: "root".into() })
                .expect("claims"),
        )
        .expect("sign");
    assert_eq!(
        codec(&node, &clock)
            .verify::<User>(&token)
            .map_err(|e| e.kind())
            .err(),
        Some(crate::RejectionKind::UnknownKey)
    );
    // Seen again at the next heartbeat: counted (and logged) once.
    clock.advance(Duration::from_secs(HEARTBEAT));
    node.tick();
    assert_eq!(node.status().ignored_entries, 2);
}

#[test]
fn the_cap_keeps_the_newest_keys() {
    let clock = ManualClock::new(T0);
    let registry = MemoryKeyRegistry::new();
    let mut others = Vec::new();
    for _ in 0..4 {
        others.push(node_on(registry.clone(), &clock).start().expect("start"));
        clock.advance(Duration::from_secs(1));
    }
    let capped = node_on(registry.clone(), &clock)
        .with_max_keys(3)
        .start()
        .expect("start");
    let ring = capped.keys().current();
    assert_eq!(ring.len(), 3, "own key and the two newest");
    assert!(ring.get(others[3].kid()).is_some() && ring.get(others[2].kid()).is_some());
    assert!(ring.get(others[0].kid()).is_none());
    assert_eq!(capped.status().dropped_by_cap, 2);
    assert!(capped.is_signing(), "the own key is never capped away");
}

#[test]
fn a_node_that_cannot_publish_never_signs_with_its_key() {
    let clock = ManualClock::new(T0);
    let shared = MemoryKeyRegistry::new();
    let online = Arc::new(AtomicBool::new(false));
    let flaky = Flaky {
        shared: shared.clone(),
        online: Arc::clone(&online),
    };
    let peer = node_on(shared.clone(), &clock).start().expect("start");

    // Without a fallback: no signing at all rather than a token the others cannot verify.
    let lonely = node_on(flaky.clone(), &clock).start().expect("start");
    assert!(!lonely.is_signing());
    assert!(matches!(
        sign(&lonely, &clock),
        Err(SignError::NoSigningKey)
    ));
    let peer_token = sign(&peer, &clock).expect("sign");
    assert!(
        codec(&lonely, &clock).verify::<User>(&peer_token).is_ok(),
        "it still verifies the others' sessions"
    );

    // With a shared HS256 fallback: it signs with that, which every node holds.
    let shared_secret = Key::hs256("shared", &[3; 32]).expect("valid");
    let with_fallback = node_on(flaky.clone(), &clock)
        .with_fallback(KeyRing::new(shared_secret.clone()))
        .start()
        .expect("start");
    let token = sign(&with_fallback, &clock).expect("the fallback signs");
    assert_eq!(kid_of(&token), "shared");
    let peer_with_fallback = node_on(shared.clone(), &clock)
        .with_fallback(KeyRing::new(shared_secret))
        .start()
        .expect("start");
    assert!(
        codec(&peer_with_fallback, &clock)
            .verify::<User>(&token)
            .is_ok()
    );

    // The registry comes back: the next heartbeat publishes, and the node key signs.
    online.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(HEARTBEAT));
    with_fallback.tick();
    assert!(with_fallback.is_signing());
    let token = sign(&with_fallback, &clock).expect("sign");
    assert_eq!(kid_of(&token), with_fallback.kid());
    assert!(
        codec(&peer, &clock).verify::<User>(&token).is_ok(),
        "published first"
    );
}

#[test]
fn a_lapsed_publication_stops_the_node_key_a_heartbeat_before_its_promise() {
    let clock = ManualClock::new(T0);
    let online = Arc::new(AtomicBool::new(true));
    let flaky = Flaky {
        shared: MemoryKeyRegistry::new(),
        online: Arc::clone(&online),
    };
    let node = node_on(flaky, &clock).start().expect("start");
    assert!(node.is_signing());
    online.store(false, Ordering::SeqCst);
    // Heartbeats fail from now on; the last confirmed promise runs to T0 + WINDOW.
    while clock.now() + 2 * HEARTBEAT < T0 + WINDOW {
        clock.advance(Duration::from_secs(HEARTBEAT));
        node.tick();
        assert!(node.is_signing(), "still covered at {}", clock.now() - T0);
    }
    clock.advance(Duration::from_secs(HEARTBEAT));
    node.tick();
    assert!(!node.is_signing(), "stops before signing past its promise");
    assert!(matches!(sign(&node, &clock), Err(SignError::NoSigningKey)));
}

#[test]
fn settings_are_checked_at_start() {
    let registry = MemoryKeyRegistry::new();
    let build = |b: NodeKeysBuilder| b.start().err().map(|e| e.to_string());
    let clock = ManualClock::new(T0);
    assert!(
        build(node_on(registry.clone(), &clock).with_heartbeat_interval(Duration::ZERO)).is_some()
    );
    assert!(
        build(node_on(registry.clone(), &clock).with_signing_window(Duration::from_secs(59)))
            .is_some()
    );
    assert!(build(node_on(registry.clone(), &clock).with_max_keys(0)).is_some());
    let hs = Key::hs256("k", &[1; 32]).expect("valid");
    assert!(build(node_on(registry.clone(), &clock).with_key(hs)).is_some());
    let public = Key::generate_ed25519()
        .expect("rng")
        .public_key()
        .expect("Ed25519");
    assert!(build(node_on(registry, &clock).with_key(public)).is_some());
}

#[test]
fn the_background_heartbeat_stops_with_the_node() {
    let registry = MemoryKeyRegistry::new();
    let node = NodeKeys::builder(registration(), registry.clone())
        .with_heartbeat_interval(Duration::from_secs(1))
        .with_signing_window(Duration::from_secs(2))
        .start()
        .expect("start");
    let kid = node.kid().to_owned();
    let first = registry.confirmed(&kid).expect("published");
    std::thread::sleep(Duration::from_millis(2_300));
    let later = registry.confirmed(&kid).expect("published");
    assert!(
        later > first,
        "the heartbeat republished ({first} -> {later})"
    );
    drop(node);
    std::thread::sleep(Duration::from_millis(1_500));
    let after_drop = registry.confirmed(&kid).expect("still held");
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(
        registry.confirmed(&kid),
        Some(after_drop),
        "no heartbeat after the node is gone"
    );
}

#[test]
fn the_node_key_check_follows_its_publication() {
    use crate::SessionLayer;
    use crate::health::{HealthCheck, Status};

    let clock = ManualClock::new(T0);
    let online = Arc::new(AtomicBool::new(false));
    let flaky = Flaky {
        shared: MemoryKeyRegistry::new(),
        online: Arc::clone(&online),
    };
    let lonely = node_on(flaky.clone(), &clock).start().expect("start");
    let with_fallback = node_on(flaky, &clock)
        .with_fallback(KeyRing::new(Key::hs256("shared", &[3; 32]).expect("valid")))
        .start()
        .expect("start");
    let health = SessionLayer::<User>::new(lonely.keys()).health();
    assert_eq!(
        health.names().collect::<Vec<_>>(),
        ["node_key", "key_registry"],
        "the layer reports its ring's source"
    );

    // Not published: degraded since the start, saying what issues instead.
    let report = health.report();
    assert_eq!(report.status(), Status::Degraded);
    let check = report.check("node_key").expect("checked");
    assert_eq!(check.since, Some(T0));
    assert!(
        check
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("no key")),
        "{}",
        report.to_json()
    );
    assert_eq!(
        report.check("key_registry").map(|c| c.status),
        Some(Status::Ok),
        "an in-process registry has nothing to lose"
    );
    let fallback = with_fallback.check();
    assert!(
        fallback
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("fallback key")),
        "{fallback:?}"
    );

    // Published at the next heartbeat: ok since then.
    online.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(HEARTBEAT));
    lonely.tick();
    let report = health.report();
    assert!(report.is_ok(), "{}", report.to_json());
    assert_eq!(
        report.check("node_key").and_then(|c| c.since),
        Some(T0 + HEARTBEAT)
    );
    assert_eq!(lonely.status().signing_since, T0 + HEARTBEAT);

    // The node keys dropped: the layer's check says so rather than "ok".
    drop((lonely, with_fallback));
    let report = health.report();
    assert_eq!(
        report.check("node_key").map(|c| c.status),
        Some(Status::Degraded)
    );
}

#[test]
fn the_node_key_check_names_the_fallback_only_when_it_issues() {
    use crate::health::HealthCheck;

    // A fallback ring whose first key cannot sign (a public key) issues nothing, even with
    // a signing key further down: the check must say so, as the ring does.
    let clock = ManualClock::new(T0);
    let offline = Flaky {
        shared: MemoryKeyRegistry::new(),
        online: Arc::new(AtomicBool::new(false)),
    };
    let peer_public = Key::ed25519_from_seed("peer", &[9; 32])
        .expect("valid")
        .public_key()
        .expect("Ed25519");
    let retired = Key::hs256("retired", &[3; 32]).expect("valid");
    let node = node_on(offline, &clock)
        .with_fallback(KeyRing::from_keys([peer_public, retired]).expect("ring"))
        .start()
        .expect("start");
    assert!(
        node.keys().current().issuing_key().is_none(),
        "nothing issues"
    );
    let check = node.check();
    assert!(
        check
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("no key")),
        "the check claims a fallback issues: {check:?}"
    );
}

#[cfg(feature = "metrics")]
#[test]
fn the_node_key_gauges_follow_the_ring() {
    use std::collections::BTreeMap;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // Gauges are read (and reset) by each snapshot; counters' increases likewise.
    let values = || -> BTreeMap<String, f64> {
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| {
                let value = match value {
                    DebugValue::Gauge(v) => v.into_inner(),
                    DebugValue::Counter(n) => n as f64,
                    DebugValue::Histogram(_) => return None,
                };
                Some((key.key().name().to_owned(), value))
            })
            .collect()
    };
    let clock = ManualClock::new(T0);
    let online = Arc::new(AtomicBool::new(false));
    let flaky = Flaky {
        shared: MemoryKeyRegistry::new(),
        online: Arc::clone(&online),
    };
    ::metrics::with_local_recorder(&recorder, || {
        let peer = node_on(flaky.shared.clone(), &clock)
            .with_max_keys(8)
            .start()
            .expect("start");
        let moved = values();
        assert_eq!(
            moved["stateless_session_node_key_signing"], 1.0,
            "{moved:?}"
        );
        assert_eq!(moved["stateless_session_key_registry_keys"], 1.0);
        assert_eq!(moved["stateless_session_key_registry_max_keys"], 8.0);

        let node = node_on(flaky.clone(), &clock)
            .with_max_keys(8)
            .start()
            .expect("start");
        let moved = values();
        assert_eq!(
            moved["stateless_session_node_key_signing"], 0.0,
            "not published: {moved:?}"
        );
        assert_eq!(
            moved["stateless_session_key_registry_keys"], 2.0,
            "its own and the peer's"
        );

        // A forged entry: counted as ignored, not as a key.
        let forger = RegistrationKey::new(&[7; 32]).expect("32 bytes");
        let attacker = Key::generate_ed25519().expect("rng");
        let forged = RegistryEntry::new(&forger, &attacker, T0 + 100, T0 + 9_000).expect("Ed25519");
        online.store(true, Ordering::SeqCst);
        flaky.publish(forged, clock.now());
        clock.advance(Duration::from_secs(HEARTBEAT));
        node.tick();
        let moved = values();
        assert_eq!(
            moved["stateless_session_node_key_signing"], 1.0,
            "{moved:?}"
        );
        assert_eq!(moved["stateless_session_key_registry_keys"], 2.0);
        assert_eq!(
            moved["stateless_session_key_registry_ignored_entries_total"],
            1.0
        );
        drop(peer);
    });
}
