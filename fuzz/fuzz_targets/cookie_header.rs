//! Arbitrary bytes as `Cookie` header fields, through the whole `SessionLayer` service.
//!
//! The first byte picks the layer's options; the rest is split at `\n` into header fields
//! (fields that are not valid header values are dropped, as an HTTP parser would refuse
//! them). The service's future is polled once with a no-op waker: the layer does no I/O,
//! so it must be ready. The answer is never a 500, and a session reaches the inner service
//! only when the input holds one of the seed tokens, with that token's session id.
#![no_main]

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use tower_layer::Layer;
use tower_service::Service;
use tower_stateless_session::{KeyRing, SessionHandle, SessionLayer};
use tower_stateless_session::server::OversizeAction;
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::token::SessionId;
use tower_stateless_session_fuzz::{ABSOLUTE, FIXTURE, IDLE, LEEWAY, T0, seed_claims};

type Data = serde_json::Value;

/// The inner service: answers 200 and says in `x-session` whether a session was active,
/// and which.
#[derive(Clone)]
struct Inner;

impl Service<Request<()>> for Inner {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        let session = SessionHandle::<Data>::from_extensions(request.extensions())
            .expect("the layer put a handle in");
        let mut response = Response::new(());
        if let Some(info) = session.info() {
            let sid = HeaderValue::from_str(&info.sid.to_string()).expect("base64url");
            response.headers_mut().insert("x-session", sid);
        }
        ready(Ok(response))
    }
}

/// Four layers: the default, a required session, a `__Host-` cookie name, and sessions
/// dropped (not 431) when cookies are oversized. The clock is past the refresh age of the
/// seeds, so valid sessions are re-signed on the way out.
static LAYERS: LazyLock<[SessionLayer<Data>; 4]> = LazyLock::new(|| {
    let base = SessionLayer::<Data>::new(KeyRing::new(FIXTURE.key.clone()))
        .with_clock(ManualClock::new(T0 + 61))
        .with_idle_timeout(Duration::from_secs(IDLE))
        .with_absolute_timeout(Duration::from_secs(ABSOLUTE))
        .with_leeway(Duration::from_secs(LEEWAY))
        .with_refresh_after(Duration::from_secs(60));
    [
        base.clone(),
        base.clone().with_require_session(true),
        base.clone().with_cookie_name("__Host-session"),
        base.with_oversize_action(OversizeAction::DropSession),
    ]
});

static SEED_SIDS: LazyLock<Vec<SessionId>> =
    LazyLock::new(|| seed_claims().iter().map(|c| c.sid).collect());

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let layer = &LAYERS[usize::from(options % 4)];
    let mut request = Request::new(());
    for field in rest.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(field) {
            request.headers_mut().append(header::COOKIE, value);
        }
    }
    let mut service = layer.layer(Inner);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        service.poll_ready(&mut cx).is_ready(),
        "the layer is always ready"
    );
    let mut future = std::pin::pin!(service.call(request));
    let Poll::Ready(result) = future.as_mut().poll(&mut cx) else {
        panic!("the layer's future was not ready: it does no I/O");
    };
    let response = match result {
        Ok(response) => response,
        Err(never) => match never {},
    };
    assert_ne!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "the layer answered 500"
    );
    if let Some(sid) = response.headers().get("x-session") {
        assert!(
            FIXTURE.contains_seed(rest),
            "a session reached the handler without any seed token in the input"
        );
        let sid: SessionId = sid.to_str().expect("ascii").parse().expect("a session id");
        assert!(
            SEED_SIDS.contains(&sid),
            "the handler saw a session id no seed has"
        );
    }
    // Touch the outbound headers so their construction is exercised in full.
    for value in response.headers().get_all(header::SET_COOKIE) {
        assert!(!value.as_bytes().is_empty(), "an empty Set-Cookie");
    }
});
