//! Pooled clients behind the propagation layer must not leak connections: thousands of
//! calls answered 403 with an HTML body (as load balancers do), 401, or 200, with and
//! without bodies, reuse at most a pool's worth of TCP connections.
//!
//! Counted on both ends: the connections the downstream accepted (and still has open), and
//! the client's established sockets to the downstream port in `/proc/net/tcp`. A careless
//! caller that keeps responses without reading them is measured too, to show the counters
//! do see a leak when there is one.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::*;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_stateless_session::propagate::PropagateSessionLayer;
use tower_stateless_session::server::SessionToken;

const CALLS: usize = 2000;
const CONCURRENCY: usize = 8;
/// hyper-util races a new connection against an idle one coming back, so up to twice the
/// concurrency can exist at a peak; an idle cap below that closes the surplus and opens it
/// again later (churn that grows with the number of calls). Sized right, nothing grows.
const POOL: usize = 2 * CONCURRENCY;

/// The tests of this file run one at a time: the socket table in /proc is the whole
/// process's, and one test deliberately holds a hundred connections open.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Default)]
struct Counters {
    accepted: AtomicUsize,
    open: AtomicUsize,
    authorized: AtomicUsize,
}

fn html(size: usize) -> Bytes {
    let mut page = String::from("<!doctype html><html><body><h1>403 Forbidden</h1><p>");
    while page.len() < size {
        page.push_str("Request blocked by the load balancer. ");
    }
    page.push_str("</p></body></html>");
    Bytes::from(page)
}

/// A downstream answering by path, counting connections.
async fn downstream(counters: Arc<Counters>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let page = html(16 * 1024);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            counters.accepted.fetch_add(1, Ordering::SeqCst);
            counters.open.fetch_add(1, Ordering::SeqCst);
            let counters = Arc::clone(&counters);
            let page = page.clone();
            tokio::spawn(async move {
                let seen = Arc::clone(&counters);
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        if request.headers().contains_key(http::header::AUTHORIZATION) {
                            seen.authorized.fetch_add(1, Ordering::SeqCst);
                        }
                        let (status, body) = match request.uri().path() {
                            "/403-html" => (StatusCode::FORBIDDEN, page.clone()),
                            "/401-body" => (
                                StatusCode::UNAUTHORIZED,
                                Bytes::from_static(b"401 Unauthorized\n"),
                            ),
                            "/401-empty" => (StatusCode::UNAUTHORIZED, Bytes::new()),
                            "/200-body" => (StatusCode::OK, page.slice(..2048)),
                            _ => (StatusCode::OK, Bytes::new()),
                        };
                        let mut response = Response::new(Full::new(body));
                        *response.status_mut() = status;
                        if status == StatusCode::FORBIDDEN {
                            response.headers_mut().insert(
                                http::header::CONTENT_TYPE,
                                http::HeaderValue::from_static("text/html"),
                            );
                        }
                        async move { Ok::<_, Infallible>(response) }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                counters.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    addr
}

/// Established IPv4 sockets whose remote end is `port` (the client's side), from /proc.
fn client_sockets_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields
                .get(2)
                .and_then(|r| r.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            // State 01 is ESTABLISHED.
            remote_port == Some(port) && fields.get(3) == Some(&"01")
        })
        .count()
}

fn token() -> SessionToken {
    let f = fixture();
    let codec = f.layer.codec();
    let signed = codec
        .sign(&codec.new_claims(user("ada")).expect("claims"))
        .expect("sign");
    signed
        .parse()
        .expect("a signed token is a valid header value")
}

type Propagating = tower_stateless_session::propagate::PropagateSession<
    Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
>;

fn pooled_client() -> Propagating {
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(POOL)
        .build_http();
    ServiceBuilder::new()
        .layer(PropagateSessionLayer::forward())
        .service(client)
}

/// `CALLS` requests to `path`, `CONCURRENCY` at a time, each response read to its end, all
/// inside the task's session scope (as a handler's calls would be).
async fn hammer(client: &Propagating, addr: SocketAddr, path: &'static str) {
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let mut client = client.clone();
        workers.spawn(token().scope(async move {
            for _ in 0..CALLS / CONCURRENCY {
                let request = Request::get(format!("http://{addr}{path}"))
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                // Reads the body to its end, which hands the connection back to the pool.
                call_json(&mut client, request).await;
            }
        }));
    }
    while let Some(result) = workers.join_next().await {
        result.expect("worker");
    }
}

async fn assert_bounded(path: &'static str) {
    let _serial = SERIAL.lock().await;
    let counters = Arc::new(Counters::default());
    let addr = downstream(Arc::clone(&counters)).await;
    // One client, one pool, shared by the workers (clones share the pool).
    let client = pooled_client();
    hammer(&client, addr, path).await;
    let first = counters.accepted.load(Ordering::SeqCst);
    hammer(&client, addr, path).await;
    let accepted = counters.accepted.load(Ordering::SeqCst);
    println!(
        "{path}: first {CALLS} calls opened {first}, the next {CALLS} opened {}",
        accepted - first
    );
    let open = counters.open.load(Ordering::SeqCst);
    let client_side = client_sockets_to(addr.port());
    let authorized = counters.authorized.load(Ordering::SeqCst);
    println!(
        "{path}: {} calls, {accepted} connections accepted, {open} open on the server, \
         {client_side} established on the client, {authorized} calls carried the token",
        2 * CALLS
    );
    assert_eq!(
        authorized,
        2 * CALLS,
        "{path}: every call carries the propagated token"
    );
    // Bounds that do not grow with the number of calls: the first 2000 calls fill the pool
    // (racing connects may open a few more than it keeps), the next 2000 open (almost)
    // nothing.
    assert!(
        first <= POOL + CONCURRENCY,
        "{path}: {first} connections for {CALLS} calls, pool is {POOL}: connections are not reused"
    );
    assert!(
        accepted - first <= CONCURRENCY,
        "{path}: the second {CALLS} calls opened {} new connections: the count grows with calls",
        accepted - first
    );
    assert!(
        open <= POOL,
        "{path}: {open} connections still open, pool is {POOL}"
    );
    assert!(
        client_side <= POOL,
        "{path}: {client_side} client sockets still established, pool is {POOL}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_with_an_html_body_reuses_pooled_connections() {
    assert_bounded("/403-html").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_with_and_without_body_reuses_pooled_connections() {
    assert_bounded("/401-body").await;
    assert_bounded("/401-empty").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_with_and_without_body_reuses_pooled_connections() {
    assert_bounded("/200-body").await;
    assert_bounded("/200-empty").await;
}

/// The counters do see a leak: a caller that keeps 403 responses without reading their
/// bodies holds one connection per call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_bodies_are_seen_as_a_leak() {
    const KEPT: usize = 100;
    let _serial = SERIAL.lock().await;
    let counters = Arc::new(Counters::default());
    let addr = downstream(Arc::clone(&counters)).await;
    let mut client = pooled_client();
    let mut kept = Vec::new();
    for _ in 0..KEPT {
        let request = Request::get(format!("http://{addr}/403-html"))
            .body(Empty::<Bytes>::new())
            .expect("request");
        let response = client
            .ready()
            .await
            .expect("ready")
            .call(request)
            .await
            .expect("answer");
        kept.push(response);
    }
    let accepted = counters.accepted.load(Ordering::SeqCst);
    let client_side = client_sockets_to(addr.port());
    println!(
        "careless caller: {KEPT} unread responses, {accepted} connections, {client_side} client sockets"
    );
    assert!(
        accepted >= KEPT && client_side >= KEPT,
        "unread bodies pin one connection each; the counters must show it \
         (accepted {accepted}, client sockets {client_side})"
    );
    drop(kept);
}
