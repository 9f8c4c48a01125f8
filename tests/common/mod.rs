//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, unused_imports, unused_macros)]

pub mod edits;
pub mod external;
#[cfg(feature = "node-keys")]
pub mod nodes;
#[cfg(feature = "redis")]
pub mod redis_ha_setup;
#[cfg(feature = "redis")]
pub mod redis_setup;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::{
    Key, KeyRing, KeyRingHandle, Rejection, RejectionKind, Session, SessionHandle, SessionLayer,
};

pub const T0: u64 = 1_800_000_000;
pub const IDLE: u64 = 1800;
pub const ABSOLUTE: u64 = 7200;
pub const REFRESH: u64 = 60;
pub const LEEWAY: u64 = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub sub: String,
    pub roles: Vec<String>,
}

pub fn user(name: &str) -> User {
    User {
        sub: name.to_owned(),
        roles: vec!["reader".into()],
    }
}

/// A deterministic key: `kid` repeated to 32 bytes.
pub fn key(kid: &str) -> Key {
    let secret: Vec<u8> = kid.bytes().cycle().take(32).collect();
    Key::hs256(kid, &secret).expect("valid test key")
}

pub struct Fixture {
    pub clock: ManualClock,
    pub keys: KeyRingHandle,
    pub layer: SessionLayer<User>,
}

pub fn fixture() -> Fixture {
    let clock = ManualClock::new(T0);
    let keys = KeyRingHandle::new(KeyRing::new(key("k1")));
    let layer = layer(keys.clone(), &clock);
    Fixture { clock, keys, layer }
}

/// The test layer on `keys`: the test timeouts (`IDLE`, `ABSOLUTE`, `REFRESH`, `LEEWAY`)
/// on `clock`.
pub fn layer(keys: impl Into<KeyRingHandle>, clock: &ManualClock) -> SessionLayer<User> {
    SessionLayer::<User>::new(keys)
        .with_clock(clock.clone())
        .with_idle_timeout(Duration::from_secs(IDLE))
        .with_absolute_timeout(Duration::from_secs(ABSOLUTE))
        .with_refresh_after(Duration::from_secs(REFRESH))
        .with_leeway(Duration::from_secs(LEEWAY))
}

/// The test app: login, persistent login, me, logout, renew, modify, optional.
pub fn app(layer: SessionLayer<User>) -> Router {
    routes().layer(layer)
}

/// The test app's routes, without the layer (add routes, then the layer).
pub fn routes() -> Router {
    Router::new()
        .route("/login/{name}", post(login))
        .route("/remember/{name}", post(remember))
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/logout", post(logout))
        .route("/renew", post(renew))
        .route("/promote", post(promote))
        .route("/public", get(|| async { "public" }))
}

async fn login(
    session: SessionHandle<User>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<&'static str, tower_stateless_session::SessionError> {
    session.login(user(&name))?;
    Ok("logged in")
}

async fn remember(
    session: SessionHandle<User>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<&'static str, tower_stateless_session::SessionError> {
    session.login_persistent(user(&name))?;
    Ok("remembered")
}

async fn me(session: Session<User>) -> String {
    let info = session.info().expect("active");
    let sub = session.with(|u| u.sub.clone()).expect("active");
    format!(
        "{sub} {} {} {} {}",
        info.sid, info.issued_at, info.expires_at, info.auth_time
    )
}

async fn maybe(session: Option<Session<User>>) -> String {
    match session {
        Some(s) => s.with(|u| u.sub.clone()).unwrap_or_default(),
        None => "anonymous".into(),
    }
}

async fn logout(
    session: SessionHandle<User>,
) -> Result<&'static str, tower_stateless_session::SessionError> {
    session.logout()?;
    Ok("bye")
}

async fn renew(
    session: Session<User>,
) -> Result<&'static str, tower_stateless_session::SessionError> {
    session.renew()?;
    Ok("renewed")
}

async fn promote(
    session: Session<User>,
) -> Result<&'static str, tower_stateless_session::SessionError> {
    session.modify(|u| u.roles.push("admin".into()))?;
    Ok("promoted")
}

/// Sends one request through `app` with an optional cookie header.
pub async fn send(app: &Router, method: &str, uri: &str, cookie: Option<&str>) -> Response<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

/// `GET /me` through `app` with `Authorization: Bearer <token>`.
pub async fn bearer(app: &Router, token: &str) -> Response<Body> {
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    app.clone().oneshot(request).await.expect("infallible")
}

/// Why the layer refused the request, from the `Rejection` it attached to the response.
pub fn kind<B>(response: &Response<B>) -> Option<RejectionKind> {
    response.extensions().get::<Rejection>().map(|r| r.kind())
}

/// The token of a `name=token` cookie pair (a bare token as it is).
pub fn token_of(cookie_or_token: &str) -> &str {
    cookie_or_token
        .split_once('=')
        .map_or(cookie_or_token, |(_, token)| token)
}

/// The decoded JSON header of a token, or of a `name=token` cookie pair.
pub fn header_of(cookie_or_token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let header = token_of(cookie_or_token)
        .split('.')
        .next()
        .expect("a header segment");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("a base64url header");
    serde_json::from_slice(&json).expect("a JSON header")
}

/// The `kid` in the header of a token, or of a `name=token` cookie pair.
pub fn kid_of(cookie_or_token: &str) -> String {
    header_of(cookie_or_token)["kid"]
        .as_str()
        .expect("a kid")
        .to_owned()
}

pub async fn body_text(response: Response<Body>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8 body")
}

/// All `Set-Cookie` values of a response.
pub fn set_cookies<B>(response: &Response<B>) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

/// The single `Set-Cookie` of a response, parsed.
pub fn the_cookie<B>(response: &Response<B>) -> cookie::Cookie<'static> {
    let all = set_cookies(response);
    assert_eq!(all.len(), 1, "expected exactly one Set-Cookie, got {all:?}");
    cookie::Cookie::parse(all[0].clone()).expect("valid Set-Cookie")
}

/// `name=value` to send back, from a response's single `Set-Cookie`.
pub fn cookie_pair<B>(response: &Response<B>) -> String {
    let c = the_cookie(response);
    format!("{}={}", c.name(), c.value())
}

pub async fn login_cookie(app: &Router, name: &str) -> String {
    let response = send(app, "POST", &format!("/login/{name}"), None).await;
    assert_eq!(response.status(), StatusCode::OK, "login failed");
    cookie_pair(&response)
}

/// Serves `service` with hyper's HTTP/1 server on a fresh 127.0.0.1 port, one task per
/// connection, until the runtime ends. Returns the address.
pub async fn serve<S, B>(service: S) -> std::net::SocketAddr
where
    S: tower::Service<
            Request<hyper::body::Incoming>,
            Response = Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    serve_on(listener, service)
}

/// As [`serve`], on a listener bound beforehand (so its address can be handed out first:
/// connections made meanwhile wait in the backlog). Returns the address.
pub fn serve_on<S, B>(listener: tokio::net::TcpListener, service: S) -> std::net::SocketAddr
where
    S: tower::Service<
            Request<hyper::body::Incoming>,
            Response = Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    addr
}

/// One HTTP/1.1 request over a fresh connection: status, headers, body text.
pub async fn fetch(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, String) {
    try_fetch(addr, method, path, headers)
        .await
        .unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"))
}

/// As [`fetch`], with `Err` when the server cannot be reached, the connection is cut before
/// a full answer, or no answer comes within 10 s.
pub async fn try_fetch(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(StatusCode, http::HeaderMap, String), String> {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), attempt)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// Sends `request` through `client` (an HTTP client service, a propagating one for
/// instance) and reads the body to its end, which hands a pooled connection back: the
/// status and the body as JSON (`{"text": ...}` when it is not JSON).
pub async fn call_json<S, In, Out>(
    mut client: S,
    request: Request<In>,
) -> (StatusCode, serde_json::Value)
where
    S: tower::Service<Request<In>, Response = Response<Out>>,
    S::Error: std::fmt::Debug,
    Out: http_body::Body,
    Out::Error: std::fmt::Debug,
{
    let response = client
        .ready()
        .await
        .expect("ready")
        .call(request)
        .await
        .expect("the downstream answers");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::json!({ "text": String::from_utf8_lossy(&body) }));
    (status, value)
}

/// `name=value` of a response's first `Set-Cookie`, if any.
pub fn set_cookie_pair(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// Polls `done` every millisecond until it holds, failing after `deadline`.
pub async fn wait_until(what: &str, done: impl Fn() -> bool, deadline: Duration) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
