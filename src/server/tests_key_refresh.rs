//! The rare path of a token naming a key the ring does not hold yet, with a key source
//! that can refresh: the layer waits for the refresh before the inner service's future is
//! first polled, verifies again, and answers as if the key had been there all along.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode, header};
use serde::{Deserialize, Serialize};
use tower::{Layer as _, ServiceExt as _, service_fn};

use crate::keys::{Key, KeyRing, KeyRingHandle, KeyWait, RefreshKeys};
use crate::server::ResponseBody;
use crate::time::ManualClock;
use crate::token::TokenCodec;
use crate::{Rejection, RejectionKind, SessionHandle, SessionLayer};

const T0: u64 = 1_800_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    sub: String,
}

fn key(kid: &str) -> Key {
    Key::ed25519_from_seed(kid, &[kid.len() as u8; 32]).expect("valid")
}

/// What the test source does when asked.
#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    /// The refresh brings the missing key.
    Loads,
    /// The refresh ends without it.
    Fails,
    /// The refresh never ends.
    Hangs,
}

struct Source {
    handle: KeyRingHandle,
    fresh: KeyRing,
    outcome: Outcome,
    asked: AtomicUsize,
}

/// A wait that applies the outcome when first polled.
struct Wait(Arc<Source>);

impl Future for Wait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        match self.0.outcome {
            Outcome::Loads => {
                self.0.handle.replace(self.0.fresh.clone());
                Poll::Ready(())
            }
            Outcome::Fails => Poll::Ready(()),
            Outcome::Hangs => Poll::Pending,
        }
    }
}

struct Refresher(std::sync::Mutex<Option<Arc<Source>>>);

impl RefreshKeys for Refresher {
    fn unknown_kid(&self, kid: &str) -> Option<KeyWait> {
        let source = self.0.lock().expect("lock").clone()?;
        assert_eq!(kid, "new-node", "the layer passes the token's kid");
        source.asked.fetch_add(1, Ordering::SeqCst);
        Some(Box::pin(Wait(source)))
    }
}

struct Setup {
    source: Arc<Source>,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    refresher: Arc<Refresher>,
    layer: SessionLayer<User>,
    token: String,
    clock: ManualClock,
}

fn setup(outcome: Outcome) -> Setup {
    let clock = ManualClock::new(T0);
    let signer = TokenCodec::new(KeyRing::new(key("new-node"))).with_clock(clock.clone());
    let token = signer
        .sign(
            &signer
                .new_claims(User { sub: "ada".into() })
                .expect("claims"),
        )
        .expect("sign");
    let refresher = Arc::new(Refresher(std::sync::Mutex::new(None)));
    let old = KeyRing::new(key("old").public_key().expect("Ed25519"));
    let handle = KeyRingHandle::with_refresher(old.clone(), refresher.clone());
    let fresh = old
        .with_peer_key(key("new-node").public_key().expect("Ed25519"))
        .expect("distinct");
    let source = Arc::new(Source {
        handle: handle.clone(),
        fresh,
        outcome,
        asked: AtomicUsize::new(0),
    });
    *refresher.0.lock().expect("lock") = Some(Arc::clone(&source));
    let layer = SessionLayer::<User>::verify_only(handle).with_clock(clock.clone());
    Setup {
        source,
        refresher,
        layer,
        token,
        clock,
    }
}

fn request(token: &str) -> Request<()> {
    Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .expect("request")
}

/// An inner service that records whether its future was ever polled.
fn inner(
    polled: Arc<AtomicBool>,
) -> impl tower::Service<
    Request<()>,
    Response = Response<String>,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<Response<String>, std::convert::Infallible>> + Send,
> + Clone {
    service_fn(move |request: Request<()>| {
        let polled = Arc::clone(&polled);
        async move {
            polled.store(true, Ordering::SeqCst);
            let session = SessionHandle::<User>::from_extensions(request.extensions()).cloned();
            let sub = session.and_then(|s| s.with(|u| u.sub.clone()));
            Ok(Response::new(sub.unwrap_or_default()))
        }
    })
}

/// Sends `token` through the layer of `s` around [`inner`], which sets `polled` if its
/// future runs.
async fn send(s: &Setup, token: &str, polled: &Arc<AtomicBool>) -> Response<ResponseBody<String>> {
    let service = s.layer.layer(inner(Arc::clone(polled)));
    service.oneshot(request(token)).await.expect("infallible")
}

#[tokio::test]
async fn a_key_loaded_during_the_wait_lets_the_request_through() {
    let s = setup(Outcome::Loads);
    let polled = Arc::new(AtomicBool::new(false));
    let response = send(&s, &s.token, &polled).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(s.source.asked.load(Ordering::SeqCst), 1);
    assert!(polled.load(Ordering::SeqCst));
    assert!(response.extensions().get::<Rejection>().is_none());
    // Known now: no second wait.
    let response = send(&s, &s.token, &Arc::default()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(s.source.asked.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refresh_without_the_key_is_a_401_and_the_inner_future_never_runs() {
    let s = setup(Outcome::Fails);
    let polled = Arc::new(AtomicBool::new(false));
    let response = send(&s, &s.token, &polled).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response
            .extensions()
            .get::<Rejection>()
            .map(Rejection::kind),
        Some(RejectionKind::UnknownKey)
    );
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert!(
        !polled.load(Ordering::SeqCst),
        "refused before the handler ran"
    );
}

#[tokio::test]
async fn nothing_reaches_the_handler_while_the_refresh_is_pending() {
    let s = setup(Outcome::Hangs);
    let polled = Arc::new(AtomicBool::new(false));
    let outcome =
        tokio::time::timeout(Duration::from_millis(50), send(&s, &s.token, &polled)).await;
    assert!(outcome.is_err(), "the request waits");
    assert!(!polled.load(Ordering::SeqCst));
}

#[tokio::test]
async fn an_expired_token_or_a_garbage_one_never_waits() {
    let s = setup(Outcome::Hangs);
    s.clock.advance(Duration::from_secs(30 * 60 + 61));
    let response = send(&s, &s.token, &Arc::default()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.source.asked.load(Ordering::SeqCst),
        0,
        "expired anyway: no refresh"
    );

    let s = setup(Outcome::Hangs);
    let mut garbage = s.token.clone();
    garbage.replace_range(..1, "x");
    let response = send(&s, &garbage, &Arc::default()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.source.asked.load(Ordering::SeqCst), 0);
}

/// The request outcome of a token naming an unknown key is counted once, after the
/// refresh: as the key it brought made it, or as `unknown_key` when it brought none.
#[cfg(feature = "metrics")]
#[test]
fn the_outcome_is_counted_once_after_the_refresh() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let requests = || -> Vec<(String, u64)> {
        let mut moved: Vec<(String, u64)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| {
                let key = key.key();
                if key.name() != "stateless_session_requests_total" {
                    return None;
                }
                let labels: Vec<String> = key.labels().map(|l| l.value().to_owned()).collect();
                match value {
                    DebugValue::Counter(n) if n > 0 => Some((labels.join("/"), n)),
                    _ => None,
                }
            })
            .collect();
        moved.sort();
        moved
    };
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let run = |s: &Setup, token: &str| runtime.block_on(send(s, token, &Arc::default())).status();

    // The refresh brings the key: one valid request, no unknown_key.
    let s = setup(Outcome::Loads);
    assert_eq!(run(&s, &s.token), StatusCode::OK);
    assert_eq!(requests(), [("valid".to_owned(), 1)]);

    // The refresh does not: one unknown_key refusal.
    let s = setup(Outcome::Fails);
    assert_eq!(run(&s, &s.token), StatusCode::UNAUTHORIZED);
    assert_eq!(requests(), [("refused/unknown_key".to_owned(), 1)]);

    // No refresh comes (the source declines): counted at once.
    let s = setup(Outcome::Loads);
    *s.refresher.0.lock().expect("lock") = None;
    assert_eq!(run(&s, &s.token), StatusCode::UNAUTHORIZED);
    assert_eq!(s.source.asked.load(Ordering::SeqCst), 0);
    assert_eq!(requests(), [("refused/unknown_key".to_owned(), 1)]);

    // An expired token never waits: counted at once as well.
    let s = setup(Outcome::Hangs);
    s.clock.advance(Duration::from_secs(30 * 60 + 61));
    assert_eq!(run(&s, &s.token), StatusCode::UNAUTHORIZED);
    assert_eq!(requests(), [("refused/unknown_key".to_owned(), 1)]);
}
