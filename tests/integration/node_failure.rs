//! A node dies under load and no session dies with it.
//!
//! Three server instances on 127.0.0.1, each a real hyper HTTP/1 server with its own key
//! ring parsed from the same configuration string (as separate processes would) and its
//! own clock, skewed against the others by less than the leeway. Clients log in on one
//! node, then send requests round-robin to all three, like a load balancer without sticky
//! sessions, keeping the cookie up to date from every `Set-Cookie`. Halfway through, one
//! node is shut down: its listener closes and its open connections are cut. A request that
//! finds its node gone is retried on the next one, as a balancer does.
//!
//! Every request answered by a live node must see the client's own session; no session may
//! be lost. Run with `--nocapture` to see the counts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{ABSOLUTE, IDLE, LEEWAY, REFRESH, T0, set_cookie_pair, try_fetch, wait_until};
use axum::Router;
use http::StatusCode;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tower_stateless_session::keys::encode_secret;
use tower_stateless_session::time::{Clock, ManualClock};
use tower_stateless_session::{KeyRing, SessionLayer};

const NODES: usize = 3;
const SESSIONS: usize = 30;
const REQUESTS_PER_SESSION: usize = 40;
/// Clock offsets of the nodes, in seconds: all within the 60 s leeway of each other.
const SKEW: [i64; NODES] = [0, 20, -20];
/// The node that is shut down.
const VICTIM: usize = 1;
/// Bound on any wait in this test.
const DEADLINE: Duration = Duration::from_secs(60);

/// The configuration every node reads: one signing key.
fn key_spec() -> String {
    format!(
        "2026-05:{}",
        encode_secret(b"node-failure-test-secret-32bytes")
    )
}

/// A node's clock: the shared test time plus its own offset.
struct Skewed {
    base: ManualClock,
    offset: i64,
}

impl Clock for Skewed {
    fn now(&self) -> u64 {
        self.base.now().saturating_add_signed(self.offset)
    }
}

/// A running server that can be stopped.
struct Node {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl Node {
    /// Serves `app` on a fresh 127.0.0.1 port until [`Node::shut_down`].
    async fn start(app: Router) -> Node {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (stop, mut stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let service = hyper_util::service::TowerToHyperService::new(app.clone());
                        connections.spawn(async move {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                }
            }
            // The node dies: no more accepting, and the connections it had are cut.
            drop(listener);
            connections.abort_all();
            while connections.join_next().await.is_some() {}
        });
        Node {
            addr,
            stop: Some(stop),
            server,
        }
    }

    /// Stops the node and waits until its port is closed.
    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.server)
            .await
            .expect("the server task ends cleanly");
    }
}

/// What a node answered.
struct Answer {
    status: StatusCode,
    /// `name=value` of a `Set-Cookie` for the session cookie, if any.
    cookie: Option<String>,
    body: String,
}

/// One request over a fresh connection; `Err` when the node cannot be reached or the
/// connection is cut before a full answer.
async fn try_get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Result<Answer, String> {
    let method = if path.starts_with("/login") {
        "POST"
    } else {
        "GET"
    };
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
    let (status, headers, body) = try_fetch(addr, method, path, &headers).await?;
    Ok(Answer {
        status,
        cookie: set_cookie_pair(&headers),
        body,
    })
}

#[derive(Default)]
struct Counts {
    /// Requests answered by a node (logins included).
    answered: AtomicUsize,
    answered_by: [AtomicUsize; NODES],
    /// Attempts that found no node to answer (closed port, cut connection).
    unreachable: AtomicUsize,
    /// Answers without the client's own session (401, another session, an error status).
    failures: AtomicUsize,
    /// Tokens re-signed on the way (refreshes picked up from `Set-Cookie`).
    refreshed: AtomicUsize,
}

/// Sends `path` to the node at `first` or, when it is unreachable, the next ones in turn.
/// Returns the node that answered and its answer.
async fn get_with_failover(
    addrs: &[SocketAddr; NODES],
    first: usize,
    path: &str,
    cookie: Option<&str>,
    counts: &Counts,
) -> (usize, Answer) {
    for step in 0..NODES {
        let node = (first + step) % NODES;
        match try_get(addrs[node], path, cookie).await {
            Ok(answer) => {
                counts.answered.fetch_add(1, Ordering::SeqCst);
                counts.answered_by[node].fetch_add(1, Ordering::SeqCst);
                return (node, answer);
            }
            Err(_) => {
                counts.unreachable.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    panic!("no node answered {path}: at most one of {NODES} is ever down");
}

/// Where a client ended up.
struct Outcome {
    name: String,
    /// The client's cookie after its last answer.
    cookie: String,
    /// The session id its first answer showed.
    sid: String,
}

/// One client: logs in, then sends `REQUESTS_PER_SESSION` requests round-robin.
async fn client(
    id: usize,
    addrs: [SocketAddr; NODES],
    base: ManualClock,
    counts: Arc<Counts>,
) -> Outcome {
    let name = format!("user-{id}");
    let (_, answer) =
        get_with_failover(&addrs, id % NODES, &format!("/login/{name}"), None, &counts).await;
    assert_eq!(answer.status, StatusCode::OK, "{name}: login failed");
    let mut cookie = answer.cookie.expect("login sets the session cookie");
    let mut sid: Option<String> = None;
    for k in 0..REQUESTS_PER_SESSION {
        // Simulated time moves on: refreshes come due now and then, on any node.
        base.advance(Duration::from_secs(1));
        let first = (id + 1 + k) % NODES;
        let (node, answer) = get_with_failover(&addrs, first, "/me", Some(&cookie), &counts).await;
        // `/me` answers "sub sid iat exp auth_time".
        let mut words = answer.body.split(' ');
        let (sub, this_sid) = (words.next(), words.next().map(str::to_owned));
        let own = answer.status == StatusCode::OK
            && sub == Some(name.as_str())
            && (sid.is_none() || sid == this_sid);
        if !own {
            counts.failures.fetch_add(1, Ordering::SeqCst);
            eprintln!(
                "{name}: request {k} on node {node}: {} {:?}",
                answer.status, answer.body
            );
        }
        if sid.is_none() {
            sid = this_sid;
        }
        if let Some(new) = answer.cookie {
            counts.refreshed.fetch_add(1, Ordering::SeqCst);
            cookie = new;
        }
    }
    Outcome {
        name,
        cookie,
        sid: sid.unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_shut_down_under_load_loses_no_session() {
    let base = ManualClock::new(T0);
    let mut nodes = Vec::new();
    for skew in SKEW {
        // Each node parses the shared configuration itself: independent rings, same keys.
        let ring = KeyRing::parse(&key_spec()).expect("the key configuration parses");
        let layer = SessionLayer::<crate::common::User>::new(ring)
            .with_clock(Skewed {
                base: base.clone(),
                offset: skew,
            })
            .with_idle_timeout(Duration::from_secs(IDLE))
            .with_absolute_timeout(Duration::from_secs(ABSOLUTE))
            .with_refresh_after(Duration::from_secs(REFRESH))
            .with_leeway(Duration::from_secs(LEEWAY));
        nodes.push(Node::start(crate::common::app(layer)).await);
    }
    let addrs: [SocketAddr; NODES] = std::array::from_fn(|i| nodes[i].addr);

    let counts = Arc::new(Counts::default());
    let mut clients = JoinSet::new();
    for id in 0..SESSIONS {
        clients.spawn(client(id, addrs, base.clone(), Arc::clone(&counts)));
    }

    // Halfway through the traffic, the victim node dies.
    let total = SESSIONS * (1 + REQUESTS_PER_SESSION);
    wait_until(
        "half of the requests",
        || counts.answered.load(Ordering::SeqCst) >= total / 2,
        DEADLINE,
    )
    .await;
    nodes[VICTIM].shut_down().await;
    let answered_at_kill = counts.answered.load(Ordering::SeqCst);

    let mut outcomes = Vec::new();
    while let Some(result) = clients.join_next().await {
        outcomes.push(result.expect("a client task panicked"));
    }
    let answered = counts.answered.load(Ordering::SeqCst);
    let unreachable = counts.unreachable.load(Ordering::SeqCst);
    let failures = counts.failures.load(Ordering::SeqCst);
    let refreshed = counts.refreshed.load(Ordering::SeqCst);
    let by_node: Vec<usize> = counts
        .answered_by
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .collect();

    // After the traffic, every session still works on every node left standing.
    let mut lost = 0;
    for outcome in &outcomes {
        let mut intact = !outcome.sid.is_empty();
        for node in (0..NODES).filter(|&n| n != VICTIM) {
            let answer = try_get(addrs[node], "/me", Some(&outcome.cookie))
                .await
                .expect("a live node answers");
            let expected = format!("{} {} ", outcome.name, outcome.sid);
            intact &= answer.status == StatusCode::OK && answer.body.starts_with(&expected);
        }
        if !intact {
            lost += 1;
            eprintln!("{}: session lost", outcome.name);
        }
    }
    assert!(
        try_get(addrs[VICTIM], "/me", None).await.is_err(),
        "the node still answers after it was shut down"
    );

    println!(
        "node failure: {sessions} sessions, {answered} requests answered (per node \
         {by_node:?}; node {VICTIM} shut down after {answered_at_kill}), {unreachable} \
         attempts found their node down and went to the next, {refreshed} tokens \
         refreshed, {failures} failures, {lost} sessions lost",
        sessions = outcomes.len()
    );
    assert_eq!(
        failures, 0,
        "requests answered without the client's own session"
    );
    assert_eq!(lost, 0, "sessions lost");
    assert_eq!(answered, total, "every request was answered by some node");
    assert!(
        unreachable > 0,
        "no request ever found the dead node: the shutdown did not happen under load"
    );
    assert!(
        by_node.iter().all(|&n| n > 0),
        "every node served some of the traffic: {by_node:?}"
    );
    assert!(refreshed > 0, "no token was refreshed across nodes");
}
