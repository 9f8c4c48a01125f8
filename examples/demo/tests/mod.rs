//! The demo's tests: the whole router driven with `tower::ServiceExt::oneshot`, on a manual
//! clock.

mod cross_site;
#[cfg(feature = "dpop")]
mod dpop;
#[cfg(feature = "jwe")]
mod encryption;
mod jwks;
mod notes;
mod ops;
mod page;
mod session;

use super::*;

#[cfg(feature = "jwe")]
use super::signing::{ENCRYPTION_KEYS_VAR, JWE_ALG_VAR, KEYS_VAR, keys_from_lookup};

use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use http_body_util::BodyExt;
use tower::ServiceExt;
#[cfg(feature = "node-keys")]
use tower_stateless_session::keys::node::NodeKeys;
#[cfg(feature = "node-keys")]
use tower_stateless_session::keys::registry::{MemoryKeyRegistry, RegistrationKey};
use tower_stateless_session::revocation::MemoryRevocations;
use tower_stateless_session::server::DEFAULT_COOKIE_BUDGET;
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::{Key, KeyRing};

const T0: u64 = 1_800_000_000;

fn test_layer() -> SessionLayer<DemoSession> {
    test_layer_on(ManualClock::new(T0))
}

fn test_layer_on(clock: ManualClock) -> SessionLayer<DemoSession> {
    let key = Key::hs256("test", &[7u8; 32]).expect("a 32-byte secret is valid");
    demo_layer(KeyRing::new(key)).with_clock(clock)
}

/// The demo's layer on `keys`: the default timeouts, revocations kept in this process.
fn demo_layer(keys: impl Into<KeyRingHandle>) -> SessionLayer<DemoSession> {
    session_layer(
        keys,
        &Timeouts::default(),
        Arc::new(MemoryRevocations::new()),
    )
}

/// A node key published through `registry` (which confirms at once, so it signs); its
/// heartbeat runs only when the test ticks it.
#[cfg(feature = "node-keys")]
fn node_key(registration: &RegistrationKey, registry: &MemoryKeyRegistry) -> NodeKeys {
    NodeKeys::builder(registration.clone(), registry.clone())
        .with_background_heartbeat(false)
        .start()
        .expect("node key")
}

fn test_app() -> Router {
    app(test_layer(), Timeouts::default())
}

/// The app and the clock its layer reads, to move time.
fn test_app_with_clock() -> (Router, ManualClock) {
    let clock = ManualClock::new(T0);
    (
        app(test_layer_on(clock.clone()), Timeouts::default()),
        clock,
    )
}

/// The notes listed on the page, as their escaped HTML.
fn listed_notes(page: &str) -> Vec<String> {
    let Some(start) = page.find("<ol class=\"notes\"") else {
        return Vec::new();
    };
    let list = &page[start..];
    let list = &list[..list.find("</ol>").expect("the notes list is closed")];
    list.split("<li>")
        .skip(1)
        .map(|item| item.split("</li>").next().unwrap_or_default().to_owned())
        .collect()
}

async fn send(app: &Router, request: Request<Body>) -> Response {
    app.clone()
        .oneshot(request)
        .await
        .expect("the router never fails")
}

fn post(uri: &str, content_type: Option<&str>, body: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::post(uri);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder
        .body(Body::from(body.to_owned()))
        .expect("valid request")
}

fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(uri);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::empty()).expect("valid request")
}

async fn body_text(response: Response) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body is readable")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("body is UTF-8")
}

async fn body_json(response: Response) -> serde_json::Value {
    let text = body_text(response).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body {text:?} is not JSON: {e}"))
}

/// The response's single `Set-Cookie`, parsed.
fn set_cookie(response: &Response) -> cookie::Cookie<'static> {
    let all: Vec<_> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .collect();
    assert_eq!(all.len(), 1, "expected exactly one Set-Cookie, got {all:?}");
    let text = all[0].to_str().expect("Set-Cookie is ASCII").to_owned();
    cookie::Cookie::parse(text).expect("Set-Cookie parses")
}

/// `session=...`, ready to send back.
fn cookie_header(cookie: &cookie::Cookie<'_>) -> String {
    format!("{}={}", cookie.name(), cookie.value())
}

async fn json_login(app: &Router, user: &str) -> String {
    let body = serde_json::json!({ "user": user }).to_string();
    let response = send(app, post("/login", Some("application/json"), &body, None)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "JSON login of {user:?} failed"
    );
    cookie_header(&set_cookie(&response))
}

async fn post_note(app: &Router, cookie: &str, note: &str) -> Response {
    send(app, post("/note", Some("text/plain"), note, Some(cookie))).await
}

/// A numeric response header.
fn header_number(response: &Response, name: &str) -> Option<usize> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

fn assert_no_set_cookie(response: &Response, context: &str) {
    assert!(
        response.headers().get(header::SET_COOKIE).is_none(),
        "{context}: no Set-Cookie may be sent"
    );
}
