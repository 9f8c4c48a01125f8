//! Gateway nodes signing with node keys, and a downstream service verifying their sessions:
//! what `tests/node_keys.rs` (in-memory registry) and `tests/redis_registry.rs` (Redis)
//! share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use http::StatusCode;
use tokio::task::JoinHandle;
use tower_stateless_session::keys::jwks::JwksService;
#[cfg(feature = "jwks")]
use tower_stateless_session::keys::jwks::JwksVerifier;
use tower_stateless_session::keys::node::{NodeKeys, NodeKeysBuilder};
use tower_stateless_session::keys::registry::{KeyRegistry, RegistrationKey, RegistryEntry};
use tower_stateless_session::time::{Clock, ManualClock};
use tower_stateless_session::token::TokenCodec;
use tower_stateless_session::{Key, KeyRing, KeyRingHandle, RejectionKind, SessionLayer};

use super::{IDLE, LEEWAY, User, bearer, kind, layer, routes, send, user};

/// The test nodes' heartbeat interval, in seconds.
pub const HEARTBEAT: u64 = 30;
/// The test nodes' signing window, in seconds.
pub const WINDOW: u64 = 300;

/// The registration key the test nodes share.
pub fn registration() -> RegistrationKey {
    RegistrationKey::new(b"registration-key-of-the-gateways").expect("32 bytes")
}

/// Node keys publishing through `registry` with the test heartbeat and window; the
/// heartbeat runs only when the test calls `tick`. The deadlines and the clock come from
/// the layer built on their ring ([`gateway_app`]).
pub fn node_keys(registry: impl KeyRegistry) -> NodeKeysBuilder {
    NodeKeys::builder(registration(), registry)
        .with_heartbeat_interval(Duration::from_secs(HEARTBEAT))
        .with_signing_window(Duration::from_secs(WINDOW))
        .with_background_heartbeat(false)
}

/// A gateway node's app: the test routes in the test layer on `keys`, and its JWKS at
/// `/.well-known/jwks.json`.
pub fn gateway_app(keys: &NodeKeys, clock: &ManualClock) -> Router {
    routes()
        .layer(layer(keys.keys(), clock))
        .route_service("/.well-known/jwks.json", JwksService::new(keys.keys()))
}

/// A downstream service verifying with `keys` (a JWKS verifier's) and holding no secret:
/// the test routes behind a verify-only layer, Bearer in.
pub fn downstream(keys: KeyRingHandle, clock: &ManualClock) -> Router {
    routes().layer(
        SessionLayer::<User>::verify_only(keys)
            .with_clock(clock.clone())
            .with_idle_timeout(Duration::from_secs(IDLE))
            .with_leeway(Duration::from_secs(LEEWAY)),
    )
}

/// A JWKS verifier on the gateway at `gateway` (its `/.well-known/jwks.json`), refetching
/// at most every 100 ms, once it has loaded the set (up to 5 s).
#[cfg(feature = "jwks")]
pub async fn jwks_verifier(gateway: std::net::SocketAddr) -> JwksVerifier {
    let jwks = JwksVerifier::builder(&format!("http://{gateway}/.well-known/jwks.json"))
        .with_min_refetch_interval(Duration::from_millis(100))
        .start()
        .expect("start");
    assert!(
        jwks.wait_loaded(Duration::from_secs(5)).await,
        "JWKS loaded"
    );
    jwks
}

/// Calls `downstream` with every token of `tokens` at once (one task each); each must be
/// accepted.
pub async fn all_accepted(downstream: &Router, tokens: &[String]) {
    let calls: Vec<_> = tokens
        .iter()
        .map(|token| {
            let (downstream, token) = (downstream.clone(), token.clone());
            tokio::spawn(async move { bearer(&downstream, &token).await.status() })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.expect("task"), StatusCode::OK, "a session");
    }
}

/// Four workers calling a downstream service with `tokens`, in turn, until stopped,
/// counting the calls and the 401s among them.
pub struct Load {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    unauthorized: Arc<AtomicUsize>,
    workers: Vec<JoinHandle<()>>,
}

impl Load {
    pub fn start(downstream: &Router, tokens: Vec<String>) -> Load {
        let tokens = Arc::new(tokens);
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let unauthorized = Arc::new(AtomicUsize::new(0));
        let workers = (0..4)
            .map(|worker| {
                let (downstream, tokens, stop, served, unauthorized) = (
                    downstream.clone(),
                    Arc::clone(&tokens),
                    Arc::clone(&stop),
                    Arc::clone(&served),
                    Arc::clone(&unauthorized),
                );
                tokio::spawn(async move {
                    let mut i = worker;
                    while !stop.load(Ordering::SeqCst) {
                        let response = bearer(&downstream, &tokens[i % tokens.len()]).await;
                        if response.status() == StatusCode::UNAUTHORIZED {
                            unauthorized.fetch_add(1, Ordering::SeqCst);
                        }
                        served.fetch_add(1, Ordering::SeqCst);
                        i += 1;
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        Load {
            stop,
            served,
            unauthorized,
            workers,
        }
    }

    /// Stops the workers; returns the calls served and the 401s among them.
    pub async fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        for worker in self.workers {
            worker.await.expect("load worker");
        }
        (
            self.served.load(Ordering::SeqCst),
            self.unauthorized.load(Ordering::SeqCst),
        )
    }
}

/// A key the gateways never registered, its registry entry under another registration key
/// (as written by someone with access to the store but not the registration key), and a
/// session token it signed.
pub struct Forged {
    pub key: Key,
    pub entry: RegistryEntry,
    pub token: String,
}

impl Forged {
    pub fn new(clock: &ManualClock) -> Forged {
        let key = Key::generate_ed25519().expect("rng");
        let wrong = RegistrationKey::new(&[0xee; 32]).expect("32 bytes");
        let entry = RegistryEntry::new(&wrong, &key, clock.now() + 100, clock.now() + 9_000)
            .expect("Ed25519");
        let codec = TokenCodec::new(KeyRing::new(key.clone())).with_clock(clock.clone());
        let token = codec
            .sign(&codec.new_claims(user("root")).expect("claims"))
            .expect("sign");
        Forged { key, entry, token }
    }

    /// Checks that the node on `keys`, serving `app`, has the forged entry's key nowhere in
    /// its ring, refuses the forged session as signed by an unknown key, and counted the
    /// entry as ignored.
    pub async fn assert_untrusted(&self, keys: &NodeKeys, app: &Router) {
        assert!(
            keys.keys().current().get(self.key.kid()).is_none(),
            "never trusted"
        );
        let cookie = format!("session={}", self.token);
        let response = send(app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(kind(&response), Some(RejectionKind::UnknownKey));
        assert!(keys.status().ignored_entries >= 1, "counted and logged");
    }
}
