//! Key rotation while traffic flows.
//!
//! Three server instances on 127.0.0.1 (real hyper HTTP/1), each with its own key ring
//! handle built from the configuration, as separate processes would have. Fifty clients
//! keep sending requests round-robin to all three. Meanwhile the keys are rotated the way a
//! rollout does it, node after node at each step:
//!
//! 1. the new key is added as verify-only on every node (`old, new`);
//! 2. once every node can verify it, the new key becomes the signing key (`new, old`);
//!    each node re-signs tokens of the old key on their next request;
//! 3. once every live session carries the new key, the old key is retired (`new`).
//!
//! No request may be refused along the way, and at the end every client's token names the
//! new key. A last test shows why the order matters. Run with `--nocapture` to see the
//! counts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{T0, User, fetch, kid_of, layer, set_cookie_pair, wait_until};
use http::StatusCode;
use tokio::task::JoinSet;
use tower_stateless_session::keys::encode_secret;
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::token::TokenCodec;
use tower_stateless_session::{KeyRing, KeyRingHandle, Rejection, RejectionKind};

const NODES: usize = 3;
const SESSIONS: usize = 50;
/// Requests that flow between two steps of the rollout.
const BETWEEN_STEPS: usize = 300;
/// Safety bound on any client's request count.
const MAX_REQUESTS_PER_CLIENT: usize = 2_000;
/// Bound on any wait in this test.
const DEADLINE: Duration = Duration::from_secs(60);

const OLD: &str = "2026-04";
const NEW: &str = "2026-05";

fn entry(kid: &str) -> String {
    let secret: Vec<u8> = format!("rotation-secret-of-{kid}-")
        .bytes()
        .cycle()
        .take(32)
        .collect();
    format!("{kid}:{}", encode_secret(&secret))
}

/// A key-ring configuration, as an operator writes it: the first key signs.
fn ring(kids: &[&str]) -> KeyRing {
    let spec: Vec<String> = kids.iter().map(|kid| entry(kid)).collect();
    KeyRing::parse(&spec.join(",")).expect("the key configuration parses")
}

struct Answer {
    status: StatusCode,
    cookie: Option<String>,
    body: String,
}

/// One request over a fresh connection.
async fn request(addr: SocketAddr, method: &str, path: &str, cookie: Option<&str>) -> Answer {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
    let (status, headers, body) = fetch(addr, method, path, &headers).await;
    Answer {
        status,
        cookie: set_cookie_pair(&headers),
        body,
    }
}

#[derive(Default)]
struct Counts {
    requests: AtomicUsize,
    unauthorized: AtomicUsize,
    /// Other wrong answers: another status, another user's session.
    other_failures: AtomicUsize,
    resigned_with_new: AtomicUsize,
    resigned_with_old: AtomicUsize,
}

/// Waits until `BETWEEN_STEPS` more requests have been answered.
async fn let_traffic_flow(counts: &Counts, what: &str) {
    let target = counts.requests.load(Ordering::SeqCst) + BETWEEN_STEPS;
    wait_until(
        what,
        || counts.requests.load(Ordering::SeqCst) >= target,
        DEADLINE,
    )
    .await;
}

/// One client: logs in, then keeps requesting round-robin until told to stop. Its current
/// cookie is kept in `jar` for the controller to inspect.
async fn client(
    id: usize,
    addrs: [SocketAddr; NODES],
    jar: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) {
    let name = format!("user-{id}");
    let answer = request(addrs[id % NODES], "POST", &format!("/login/{name}"), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{name}: login failed");
    *jar.lock().expect("jar") = answer.cookie.expect("login sets the session cookie");
    counts.requests.fetch_add(1, Ordering::SeqCst);
    for k in 0..MAX_REQUESTS_PER_CLIENT {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let cookie = jar.lock().expect("jar").clone();
        let node = (id + 1 + k) % NODES;
        let answer = request(addrs[node], "GET", "/me", Some(&cookie)).await;
        counts.requests.fetch_add(1, Ordering::SeqCst);
        if answer.status == StatusCode::UNAUTHORIZED {
            counts.unauthorized.fetch_add(1, Ordering::SeqCst);
            eprintln!("{name}: 401 from node {node} with key {}", kid_of(&cookie));
        } else if answer.status != StatusCode::OK || !answer.body.starts_with(&format!("{name} ")) {
            counts.other_failures.fetch_add(1, Ordering::SeqCst);
            eprintln!(
                "{name}: node {node} answered {} {:?}",
                answer.status, answer.body
            );
        }
        if let Some(new) = answer.cookie {
            match kid_of(&new).as_str() {
                NEW => counts.resigned_with_new.fetch_add(1, Ordering::SeqCst),
                _ => counts.resigned_with_old.fetch_add(1, Ordering::SeqCst),
            };
            *jar.lock().expect("jar") = new;
        }
    }
    panic!("{name}: the test ran past {MAX_REQUESTS_PER_CLIENT} requests without stopping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_keys_under_load_refuses_no_request_and_migrates_every_session() {
    let clock = ManualClock::new(T0);
    let handles: Vec<KeyRingHandle> = (0..NODES)
        .map(|_| KeyRingHandle::new(ring(&[OLD])))
        .collect();
    let mut addrs = Vec::new();
    for keys in &handles {
        addrs.push(crate::common::serve(crate::common::app(layer(keys.clone(), &clock))).await);
    }
    let addrs: [SocketAddr; NODES] = addrs.try_into().expect("three nodes");

    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let jars: Vec<Arc<Mutex<String>>> = (0..SESSIONS)
        .map(|_| Arc::new(Mutex::new(String::new())))
        .collect();
    let mut clients = JoinSet::new();
    for (id, jar) in jars.iter().enumerate() {
        clients.spawn(client(
            id,
            addrs,
            Arc::clone(jar),
            Arc::clone(&stop),
            Arc::clone(&counts),
        ));
    }
    let_traffic_flow(&counts, "traffic before the rotation").await;
    let before = counts.requests.load(Ordering::SeqCst);

    // Step 1: every node learns the new key, verify-only.
    for keys in &handles {
        keys.replace(ring(&[OLD, NEW]));
    }
    let_traffic_flow(&counts, "traffic after step 1").await;
    let after_step_1 = counts.requests.load(Ordering::SeqCst);

    // Step 2: the new key signs, node after node, with traffic in between. While the nodes
    // disagree, a token may go back and forth between the keys; every node verifies both.
    for keys in &handles {
        keys.replace(ring(&[NEW, OLD]));
        let_traffic_flow(&counts, "traffic during step 2").await;
    }
    let all_new = || {
        jars.iter()
            .all(|jar| kid_of(&jar.lock().expect("jar")) == NEW)
    };
    wait_until("every session to move to the new key", all_new, DEADLINE).await;
    let after_step_2 = counts.requests.load(Ordering::SeqCst);

    // Step 3: the old key is retired everywhere.
    for keys in &handles {
        keys.replace(ring(&[NEW]));
    }
    let_traffic_flow(&counts, "traffic after step 3").await;
    stop.store(true, Ordering::SeqCst);
    while let Some(result) = clients.join_next().await {
        result.expect("a client task panicked");
    }

    let requests = counts.requests.load(Ordering::SeqCst);
    let unauthorized = counts.unauthorized.load(Ordering::SeqCst);
    let other_failures = counts.other_failures.load(Ordering::SeqCst);
    let resigned_new = counts.resigned_with_new.load(Ordering::SeqCst);
    let resigned_old = counts.resigned_with_old.load(Ordering::SeqCst);
    let live_old: usize = jars
        .iter()
        .filter(|jar| kid_of(&jar.lock().expect("jar")) != NEW)
        .count();
    println!(
        "rotation under load: {SESSIONS} sessions, {requests} requests ({before} before the \
         rotation, {} in step 1, {} in step 2, {} after retiring the old key), \
         {resigned_new} tokens re-signed with the new key, {resigned_old} with the old one \
         while the nodes disagreed, {unauthorized} 401s, {other_failures} other failures, \
         {live_old} live tokens of the old key at the end",
        after_step_1 - before,
        after_step_2 - after_step_1,
        requests - after_step_2,
    );

    assert_eq!(unauthorized, 0, "spurious 401s during the rotation");
    assert_eq!(other_failures, 0, "wrong answers during the rotation");
    assert_eq!(live_old, 0, "live tokens still name the old key");
    assert!(
        resigned_new >= SESSIONS,
        "every session was re-signed with the new key at least once"
    );
    // Every live token verifies with the new key alone.
    let codec = TokenCodec::new(ring(&[NEW])).with_clock(clock.clone());
    for jar in &jars {
        let cookie = jar.lock().expect("jar").clone();
        let token = cookie.split_once('=').expect("name=value").1;
        let verified = codec
            .verify::<User>(token)
            .expect("a live token verifies with the new key alone");
        assert!(
            verified.signed_with_current_key,
            "signed by {}",
            kid_of(&cookie)
        );
    }
}

/// Making the new key sign before every node can verify it: a node that does not know the
/// key yet refuses the tokens signed with it, and users bounced to that node are logged
/// out. That is why step 1 of the rollout comes first.
#[tokio::test]
async fn a_new_signing_key_unknown_to_another_node_logs_users_out() {
    let clock = ManualClock::new(T0);
    let ahead = crate::common::app(layer(KeyRingHandle::new(ring(&[NEW, OLD])), &clock));
    let behind = crate::common::app(layer(KeyRingHandle::new(ring(&[OLD])), &clock));
    let cookie = crate::common::login_cookie(&ahead, "ada").await;
    assert_eq!(
        kid_of(&cookie),
        NEW,
        "the node ahead signs with the new key"
    );
    let response = crate::common::send(&behind, "GET", "/me", Some(&cookie)).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a node without the new key cannot accept its tokens"
    );
    assert_eq!(
        response.extensions().get::<Rejection>().map(|r| r.kind()),
        Some(RejectionKind::UnknownKey),
        "the lagging node should not know the key"
    );
    // With the new key verify-only on the lagging node (step 1), the same cookie works.
    let caught_up = crate::common::app(layer(KeyRingHandle::new(ring(&[OLD, NEW])), &clock));
    let response = crate::common::send(&caught_up, "GET", "/me", Some(&cookie)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a node that verifies the new key accepts its tokens"
    );
}
