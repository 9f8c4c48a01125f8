//! The JWKS endpoint and a downstream verifying through it, over real HTTP on loopback: the
//! set fetched at start, a new signing key picked up with no 401, single-flight refetches
//! within the minimum interval, 304s for an unchanged set, stale-if-error through errors,
//! timeouts, oversized and malformed documents, the health check and gauges through a
//! failing endpoint, and the task ending with its handles.
#![cfg(feature = "jwks")]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use tower::{ServiceExt, service_fn};
use tower_stateless_session::keys::jwks::{
    JwksError, JwksService, JwksVerifier, JwksVerifierBuilder,
};
use tower_stateless_session::token::TokenCodec;
use tower_stateless_session::{Key, KeyRing, KeyRingHandle, RejectionKind, SessionLayer};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Serve,
    /// Serves the document as it is when the request arrives, 300 ms later.
    Slow,
    Error,
    Hang,
    Huge,
    NotJson,
}

/// A JWKS endpoint whose behaviour the test switches, counting what it answered.
#[derive(Clone)]
struct Endpoint {
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
    addr: std::net::SocketAddr,
}

impl Endpoint {
    async fn start(keys: KeyRingHandle) -> Self {
        let jwks = JwksService::new(keys);
        let mode = Arc::new(Mutex::new(Mode::Serve));
        let requests = Arc::new(AtomicUsize::new(0));
        let not_modified = Arc::new(AtomicUsize::new(0));
        let (m, r, n) = (mode.clone(), requests.clone(), not_modified.clone());
        let service = service_fn(move |request: Request<hyper::body::Incoming>| {
            let (jwks, mode, requests, not_modified) =
                (jwks.clone(), m.clone(), r.clone(), n.clone());
            async move {
                requests.fetch_add(1, Ordering::SeqCst);
                let mode = *mode.lock().expect("lock");
                let response = match mode {
                    Mode::Serve => {
                        let response = jwks.oneshot(request).await?;
                        if response.status() == StatusCode::NOT_MODIFIED {
                            not_modified.fetch_add(1, Ordering::SeqCst);
                        }
                        response
                    }
                    Mode::Slow => {
                        let response = jwks.oneshot(request).await?;
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        response
                    }
                    Mode::Error => {
                        let mut response = Response::new(Full::new(Bytes::from("down")));
                        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                        response
                    }
                    Mode::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        Response::new(Full::new(Bytes::new()))
                    }
                    Mode::Huge => Response::new(Full::new(Bytes::from(vec![b' '; 200_000]))),
                    Mode::NotJson => Response::new(Full::new(Bytes::from("<html>"))),
                };
                Ok::<_, Infallible>(response)
            }
        });
        let addr = serve(service).await;
        Endpoint {
            mode,
            requests,
            not_modified,
            addr,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().expect("lock") = mode;
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A gateway signing with `node(1)`, its JWKS endpoint, and a verifier of it with the
/// settings `settings` gives, once it has loaded the set.
async fn verifier(
    settings: impl FnOnce(JwksVerifierBuilder) -> JwksVerifierBuilder,
) -> (KeyRingHandle, Endpoint, JwksVerifier) {
    let gateway = KeyRingHandle::new(KeyRing::new(node(1)));
    let endpoint = Endpoint::start(gateway.clone()).await;
    let jwks = settings(JwksVerifier::builder(&endpoint.url()))
        .start()
        .expect("start");
    assert!(
        jwks.wait_loaded(Duration::from_secs(5)).await,
        "loaded at start"
    );
    (gateway, endpoint, jwks)
}

/// Node 2 joins the gateway's tier: its public key is in the gateway's ring (published
/// before use).
fn node_2_joins(gateway: &KeyRingHandle) {
    gateway.replace(
        KeyRing::new(node(1))
            .with_peer_key(node(2).public_key().expect("Ed25519"))
            .expect("distinct"),
    );
}

fn node(seed: u8) -> Key {
    Key::ed25519_from_seed(&format!("node-{seed}"), &[seed; 32]).expect("valid")
}

/// A session token signed by `key`.
fn signed_by(key: &Key) -> String {
    let codec = TokenCodec::new(KeyRing::new(key.clone()));
    codec
        .sign(&codec.new_claims(user("ada")).expect("claims"))
        .expect("sign")
}

async fn call(layer: &SessionLayer<User>, token: &str) -> Response<Body> {
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    routes()
        .layer(layer.clone())
        .oneshot(request)
        .await
        .expect("infallible")
}

#[tokio::test]
async fn a_downstream_verifies_with_the_served_keys_and_holds_no_secret() {
    let (_, _endpoint, jwks) = verifier(|b| b).await;
    let ring = jwks.keys().current();
    assert_eq!(ring.kids().collect::<Vec<_>>(), ["node-1"]);
    assert!(ring.iter().all(|k| !k.can_sign()), "public keys only");

    let layer = SessionLayer::<User>::verify_only(jwks.keys());
    let response = call(&layer, &signed_by(&node(1))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await.split(' ').next(), Some("ada"));

    let status = jwks.status();
    assert_eq!(status.keys, 1);
    assert!(status.last_success.is_some() && status.failures == 0);

    // A forger holding only what the JWKS gives cannot sign.
    assert!(
        TokenCodec::new(jwks.keys())
            .sign(
                &tower_stateless_session::token::TokenCodec::new(KeyRing::new(node(9)))
                    .new_claims(user("x"))
                    .expect("claims")
            )
            .is_err()
    );
}

#[tokio::test]
async fn a_new_signing_key_causes_no_401_and_one_refetch_serves_every_waiter() {
    let (gateway, endpoint, jwks) =
        verifier(|b| b.with_min_refetch_interval(Duration::from_millis(200))).await;
    let layer = SessionLayer::<User>::verify_only(jwks.keys());
    let before = endpoint.requests();

    // A node joins: its key reaches the gateway's ring (published before use), then its
    // tokens reach the downstream, which has not fetched since.
    node_2_joins(&gateway);
    let token = signed_by(&node(2));
    let responses = futures_join_all((0..20).map(|_| call(&layer, &token))).await;
    for response in &responses {
        assert_eq!(response.status(), StatusCode::OK, "{:?}", kind(response));
    }
    let fetches = endpoint.requests() - before;
    assert_eq!(fetches, 1, "twenty waiters, one fetch");
    // Known now: no more fetches.
    assert_eq!(call(&layer, &token).await.status(), StatusCode::OK);
    assert_eq!(endpoint.requests() - before, 1);
}

/// Waits until the endpoint has received `count` requests in all.
async fn requested(endpoint: &Endpoint, count: usize) {
    let endpoint = endpoint.clone();
    wait_until(
        "the fetch to reach the endpoint",
        move || endpoint.requests() >= count,
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_arriving_while_a_fetch_is_in_flight_are_answered_by_it() {
    let (gateway, endpoint, jwks) =
        verifier(|b| b.with_min_refetch_interval(Duration::from_millis(50))).await;
    let layer = SessionLayer::<User>::verify_only(jwks.keys());
    node_2_joins(&gateway);
    endpoint.set(Mode::Slow);
    let before = endpoint.requests();
    let token = signed_by(&node(2));

    // The first token asks for a fetch; the others arrive while it is in flight.
    let first = {
        let (layer, token) = (layer.clone(), token.clone());
        tokio::spawn(async move { call(&layer, &token).await.status() })
    };
    requested(&endpoint, before + 1).await;
    let rest = futures_join_all((0..20).map(|_| call(&layer, &token))).await;
    assert_eq!(first.await.expect("task"), StatusCode::OK);
    for response in &rest {
        assert_eq!(response.status(), StatusCode::OK, "{:?}", kind(response));
    }
    // No second fetch, now or once the minimum interval is over.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(endpoint.requests() - before, 1, "one fetch for all");
    assert_eq!(jwks.status().fetches, 2, "the load and that one fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_that_left_before_the_key_was_published_is_followed_by_another() {
    let (gateway, endpoint, jwks) =
        verifier(|b| b.with_min_refetch_interval(Duration::from_millis(50))).await;
    let layer = SessionLayer::<User>::verify_only(jwks.keys());
    endpoint.set(Mode::Slow);
    let before = endpoint.requests();

    // A fetch leaves (the document without node 2), then node 2 is published and its
    // token arrives while that fetch is still in flight.
    let refresh = tokio::spawn(jwks.refresh());
    requested(&endpoint, before + 1).await;
    node_2_joins(&gateway);
    let response = call(&layer, &signed_by(&node(2))).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", kind(&response));
    refresh.await.expect("task");
    assert_eq!(
        endpoint.requests() - before,
        2,
        "the one in flight, then one more"
    );
}

#[tokio::test]
async fn a_flood_of_made_up_key_ids_costs_one_fetch_per_interval() {
    let (_, endpoint, jwks) = verifier(|b| {
        b.with_min_refetch_interval(Duration::from_millis(500))
            .with_unknown_kid_wait(Duration::from_secs(2))
    })
    .await;
    let layer = SessionLayer::<User>::verify_only(jwks.keys());
    let before = endpoint.requests();
    let started = Instant::now();
    let tokens: Vec<String> = (10..60).map(|seed| signed_by(&node(seed))).collect();
    let responses = futures_join_all(tokens.iter().map(|t| call(&layer, t))).await;
    for response in &responses {
        assert_eq!(kind(response), Some(RejectionKind::UnknownKey));
    }
    let fetches = endpoint.requests() - before;
    assert!(fetches <= 2, "{fetches} fetches for 50 made-up key ids");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the wait is bounded"
    );
}

#[tokio::test]
async fn an_unchanged_set_costs_a_304() {
    let (_, endpoint, jwks) =
        verifier(|b| b.with_min_refetch_interval(Duration::from_millis(10))).await;
    let generation = jwks.keys().generation();
    jwks.refresh().await;
    jwks.refresh().await;
    assert_eq!(endpoint.not_modified.load(Ordering::SeqCst), 2);
    assert_eq!(
        jwks.keys().generation(),
        generation,
        "the ring was not replaced"
    );
    assert_eq!(jwks.status().fetches, 3);
}

#[tokio::test]
async fn failures_keep_the_last_good_set() {
    let (_, endpoint, jwks) = verifier(|b| {
        b.with_min_refetch_interval(Duration::from_millis(10))
            .with_timeout(Duration::from_millis(300))
            .with_max_bytes(100_000)
    })
    .await;
    let layer = SessionLayer::<User>::verify_only(jwks.keys());
    let token = signed_by(&node(1));

    let cases = [
        (Mode::Error, JwksError::Status(500)),
        (Mode::Hang, JwksError::Timeout),
        (Mode::Huge, JwksError::TooLarge),
        (Mode::NotJson, JwksError::Invalid),
    ];
    for (round, (mode, expected)) in cases.into_iter().enumerate() {
        endpoint.set(mode);
        jwks.refresh().await;
        let status = jwks.status();
        assert_eq!(status.last_error, Some(expected), "{mode:?}");
        assert_eq!(status.consecutive_failures, round as u64 + 1);
        assert_eq!(status.keys, 1, "the last good set stays ({mode:?})");
        assert_eq!(call(&layer, &token).await.status(), StatusCode::OK);
    }
    endpoint.set(Mode::Serve);
    jwks.refresh().await;
    let status = jwks.status();
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.failures, 4);
    assert!(status.last_error.is_none());
}

/// The verifier's check (through the layer's health) and gauges: degraded before the first
/// fetch and while the endpoint fails (tokens still verify with the last set), ok again once
/// it answers. The background task runs on this test's current-thread runtime, so the
/// thread's own recorder sees its metrics.
#[cfg(feature = "metrics")]
#[tokio::test]
async fn a_failing_endpoint_turns_the_check_and_gauges_degraded_and_back() {
    use std::collections::BTreeMap;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tower_stateless_session::health::{Health, Status};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    // Gauges as last set, counters by how much they moved, since the previous call.
    let moved = || -> BTreeMap<String, f64> {
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(key, ..)| key.key().name().starts_with("stateless_session_jwks_"))
            .filter_map(|(key, _, _, value)| match value {
                DebugValue::Gauge(v) => Some((key.key().name().to_owned(), v.into_inner())),
                DebugValue::Counter(n) => Some((key.key().name().to_owned(), n as f64)),
                DebugValue::Histogram(_) => None,
            })
            .collect()
    };
    async fn until(health: &Health, layer: &SessionLayer<User>, token: &str, status: Status) {
        let start = Instant::now();
        while health.report().status() != status {
            assert_eq!(call(layer, token).await.status(), StatusCode::OK, "served");
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "not {status} within 5 s: {}",
                health.report().to_json()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    let gateway = KeyRingHandle::new(KeyRing::new(node(1)));
    let endpoint = Endpoint::start(gateway).await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as f64;
    let jwks = JwksVerifier::builder(&endpoint.url())
        .with_refresh_interval(Duration::from_millis(200))
        .with_min_refetch_interval(Duration::from_millis(50))
        .start()
        .expect("start");
    let layer = SessionLayer::<User>::verify_only(jwks.keys());
    let health = layer.health();
    assert_eq!(health.names().collect::<Vec<_>>(), ["jwks"]);

    // Nothing fetched yet (the task has not run): degraded; the set's "age" counts from
    // the start.
    let report = health.report();
    assert_eq!(report.status(), Status::Degraded);
    assert!(
        report.to_json().contains("not fetched yet"),
        "{}",
        report.to_json()
    );
    let gauges = moved();
    assert_eq!(gauges["stateless_session_jwks_keys"], 0.0, "{gauges:?}");
    assert!(gauges["stateless_session_jwks_last_refresh_timestamp_seconds"] >= before);
    assert_eq!(
        gauges["stateless_session_jwks_refresh_interval_seconds"],
        0.2
    );

    // Loaded: ok, one key, no failure.
    assert!(jwks.wait_loaded(Duration::from_secs(5)).await);
    let token = signed_by(&node(1));
    until(&health, &layer, &token, Status::Ok).await;
    let gauges = moved();
    assert_eq!(gauges["stateless_session_jwks_keys"], 1.0, "{gauges:?}");
    assert_eq!(
        gauges.get("stateless_session_jwks_fetch_failures_total"),
        Some(&0.0),
        "no failure"
    );

    // The endpoint fails: degraded at the next background fetch, requests still served.
    endpoint.set(Mode::Error);
    until(&health, &layer, &token, Status::Degraded).await;
    let check = health.report().check("jwks").cloned().expect("checked");
    assert!(
        check
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("answered 500") && r.contains("last set")),
        "{check:?}"
    );
    assert!(check.since.is_some(), "degraded since the first failure");
    let status = jwks.status();
    let gauges = moved();
    assert!(
        gauges["stateless_session_jwks_fetch_failures_total"] >= 1.0,
        "{gauges:?}"
    );
    assert_eq!(
        gauges["stateless_session_jwks_keys"], 1.0,
        "the last set stays"
    );
    assert_eq!(
        gauges["stateless_session_jwks_last_refresh_timestamp_seconds"],
        status.last_success.expect("fetched once") as f64,
        "the set's age runs from its last good fetch"
    );

    // Back: ok again.
    endpoint.set(Mode::Serve);
    until(&health, &layer, &token, Status::Ok).await;
    assert_eq!(jwks.status().consecutive_failures, 0);
}

#[tokio::test]
async fn an_unknown_kid_waits_no_longer_than_its_bound_when_the_endpoint_hangs() {
    let (_, endpoint, jwks) = verifier(|b| {
        b.with_min_refetch_interval(Duration::from_millis(10))
            .with_timeout(Duration::from_secs(10))
            .with_unknown_kid_wait(Duration::from_millis(300))
    })
    .await;
    endpoint.set(Mode::Hang);
    let layer = SessionLayer::<User>::verify_only(jwks.keys());
    let started = Instant::now();
    let response = call(&layer, &signed_by(&node(2))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "waited {waited:?}"
    );
}

#[tokio::test]
async fn the_task_ends_with_the_last_handle() {
    let (_, endpoint, jwks) = verifier(|b| {
        b.with_refresh_interval(Duration::from_millis(50))
            .with_min_refetch_interval(Duration::from_millis(50))
    })
    .await;
    let keys = jwks.keys();
    drop(jwks);
    let seen = endpoint.requests();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(endpoint.requests() > seen, "a handle keeps it refreshing");
    drop(keys);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = endpoint.requests();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        endpoint.requests(),
        after,
        "no fetch after the last handle is gone"
    );
}

#[tokio::test]
async fn bad_urls_are_refused_at_start() {
    for (url, expected) in [
        ("not a url", JwksError::InvalidUrl),
        ("/relative", JwksError::InvalidUrl),
        ("ftp://host/jwks", JwksError::InvalidUrl),
        ("https://host/jwks", JwksError::HttpsNeedsClient),
    ] {
        assert_eq!(
            JwksVerifier::builder(url).start().err(),
            Some(expected),
            "{url}"
        );
    }
}

/// Runs futures concurrently on this task, in order of results.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => {
                        *result = Some(output);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.extend(results.into_iter().flatten());
    outputs
}

/// The rare path where a token names a key the ring is still fetching: the layer makes its
/// CSRF decision after the refresh, before the handler runs (feature `csrf`).
#[cfg(feature = "csrf")]
#[tokio::test]
async fn a_token_waiting_for_its_key_still_has_its_csrf_token_checked() {
    use axum::routing::{get, post};
    use tower_stateless_session::SessionHandle;
    use tower_stateless_session::server::csrf::CSRF_HEADER;

    let (gateway, endpoint, jwks) = verifier(|b| b.with_min_refetch_interval(Duration::ZERO)).await;
    let csrf_keys = KeyRingHandle::new(KeyRing::new(key("csrf")));
    let layer = SessionLayer::<User>::verify_only(jwks.keys())
        .with_csrf_tokens(true)
        .with_csrf_keys(csrf_keys.clone());
    // The CSRF token of a session token signed by `signer`, as the gateway node that
    // signed it hands it out.
    let csrf_of = |signer: Key, token: String| {
        let issuer = SessionLayer::<User>::verify_only(KeyRing::new(signer))
            .with_csrf_tokens(true)
            .with_csrf_keys(csrf_keys.clone());
        async move {
            let app = axum::Router::new()
                .route(
                    "/csrf",
                    get(|s: SessionHandle<User>| async move {
                        s.csrf_token()
                            .map(|t| t.as_str().to_owned())
                            .unwrap_or_default()
                    }),
                )
                .layer(issuer);
            let request = Request::get("/csrf")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            body_text(app.oneshot(request).await.expect("infallible")).await
        }
    };
    let act = |token: &str, csrf: &str| {
        let request = Request::post("/act")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(CSRF_HEADER, csrf)
            .body(Body::empty())
            .expect("request");
        axum::Router::new()
            .route("/act", post(|| async { "acted" }))
            .layer(layer.clone())
            .oneshot(request)
    };

    // Node 2 joins: the downstream has not fetched its key when the first call comes.
    node_2_joins(&gateway);
    let ada = signed_by(&node(2));
    let bob = signed_by(&node(2));
    let bobs_csrf = csrf_of(node(2), bob).await;
    assert_eq!(bobs_csrf.len(), 48, "a CSRF token: {bobs_csrf:?}");
    let before = endpoint.requests();
    let response = act(&ada, &bobs_csrf).await.expect("infallible");
    assert_eq!(
        endpoint.requests() - before,
        1,
        "the call waited for a fetch"
    );
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(kind(&response), Some(RejectionKind::CsrfTokenInvalid));

    // Node 3 joins: its session's own token passes once the key is fetched.
    gateway.replace(
        KeyRing::new(node(1))
            .with_peer_key(node(2).public_key().expect("Ed25519"))
            .expect("distinct")
            .with_peer_key(node(3).public_key().expect("Ed25519"))
            .expect("distinct"),
    );
    let carol = signed_by(&node(3));
    let carols_csrf = csrf_of(node(3), carol.clone()).await;
    let before = endpoint.requests();
    let response = act(&carol, &carols_csrf).await.expect("infallible");
    assert_eq!(
        endpoint.requests() - before,
        1,
        "the call waited for a fetch"
    );
    assert_eq!(response.status(), StatusCode::OK, "{:?}", kind(&response));
}
