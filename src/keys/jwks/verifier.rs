//! [`JwksVerifier`]: the key ring of a downstream service, fed by a JWKS URL.
//!
//! A background task fetches the document at start, then every refresh interval (with
//! `If-None-Match`, so an unchanged set costs a `304`), and whenever a token names a key
//! id the ring lacks: one fetch at a time, never two within the minimum interval. Every
//! fetch has a timeout and a size cap; a failed one keeps the last good set
//! (stale-if-error), logs, and counts in [`JwksStatus`].
//!
//! The request path never waits on the network, except on the rare path of a token naming
//! an unknown key id: the layer then waits, bounded by
//! [`with_unknown_kid_wait`](JwksVerifierBuilder::with_unknown_kid_wait), for a fetch that
//! started after the token was seen (or, first, for the one in flight, which usually
//! brings the key) and verifies the token again, so a node that joined the signing tier,
//! or a key rotated in, a moment ago causes no spurious 401. A burst of such tokens costs
//! one fetch.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use std::future::poll_fn;
use std::pin::Pin;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::BodyExt as _;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{Notify, watch};
use tower_service::Service;

use crate::health::Health;
use crate::keys::refresh::{KeyWait, RefreshKeys};
use crate::keys::{KeyRing, KeyRingHandle};
use crate::metrics::{self, JwksGauges};
use crate::time::{Clock, SystemClock};

mod health;
mod task;

use self::task::Task;

/// Default interval between background fetches: 5 minutes.
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(5 * 60);
/// Default timeout of one fetch (connection, headers and body): 2 seconds.
pub const DEFAULT_JWKS_TIMEOUT: Duration = Duration::from_secs(2);
/// Default minimum interval between two fetches: 1 second.
pub const DEFAULT_JWKS_MIN_REFETCH: Duration = Duration::from_secs(1);
/// Default longest wait of a request naming an unknown key id: 4 seconds (a fetch that
/// must first wait out the minimum interval, plus its timeout, with room to spare).
pub const DEFAULT_UNKNOWN_KID_WAIT: Duration = Duration::from_secs(4);
/// Default cap on the document's size: 64 KiB.
pub const DEFAULT_JWKS_MAX_BYTES: usize = 64 * 1024;
/// Default cap on the keys read from the document: 100.
pub const DEFAULT_JWKS_MAX_KEYS: usize = 100;

/// A JWKS verifier could not start, or a fetch failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksError {
    /// The URL is not an absolute `http://` or `https://` URL.
    InvalidUrl,
    /// An `https://` URL with the default client, which speaks plain HTTP only: give a
    /// client with a TLS connector ([`JwksVerifierBuilder::with_client`]).
    HttpsNeedsClient,
    /// Not started inside a Tokio runtime (the verifier runs a background task).
    NoRuntime,
    /// The fetch did not complete within the timeout.
    Timeout,
    /// The connection or the HTTP exchange failed.
    Http(String),
    /// The server answered with a status other than 200 (or 304 to a conditional request).
    Status(u16),
    /// The document is larger than the size cap.
    TooLarge,
    /// The document is not a JSON object with a `keys` array.
    Invalid,
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::InvalidUrl => f.write_str("the JWKS URL is not an absolute http(s) URL"),
            JwksError::HttpsNeedsClient => {
                f.write_str("an https JWKS URL needs a client with a TLS connector (with_client)")
            }
            JwksError::NoRuntime => {
                f.write_str("the JWKS verifier must be started inside a Tokio runtime")
            }
            JwksError::Timeout => f.write_str("the JWKS fetch timed out"),
            JwksError::Http(e) => write!(f, "the JWKS fetch failed: {e}"),
            JwksError::Status(code) => write!(f, "the JWKS endpoint answered {code}"),
            JwksError::TooLarge => f.write_str("the JWKS document is over its size cap"),
            JwksError::Invalid => f.write_str("the JWKS document is not a JWK set"),
        }
    }
}

impl std::error::Error for JwksError {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type FetchFuture = Pin<Box<dyn Future<Output = Result<Response<FetchedBody>, BoxError>> + Send>>;
/// A fetched body, its errors made concrete (the size cap tells its own error apart).
pub(super) type FetchedBody = UnsyncBoxBody<Bytes, std::io::Error>;
/// One GET of the document, through whatever HTTP client the builder was given.
pub(super) type Fetch = Arc<dyn Fn(Request<String>) -> FetchFuture + Send + Sync>;

/// A fetch through `client`, any Tower HTTP client service (cloned for each request).
fn fetch_with<S, B>(client: S) -> Fetch
where
    S: Service<Request<String>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    Arc::new(move |request| {
        let mut client = client.clone();
        Box::pin(async move {
            poll_fn(|cx| client.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            let response = client.call(request).await.map_err(Into::into)?;
            Ok(response.map(|body| {
                body.map_err(|e| std::io::Error::other(e.into()))
                    .boxed_unsync()
            }))
        })
    })
}

/// Settings for [`JwksVerifier`]; see [`JwksVerifier::builder`].
pub struct JwksVerifierBuilder {
    url: String,
    refresh: Duration,
    timeout: Duration,
    min_refetch: Duration,
    unknown_kid_wait: Duration,
    max_bytes: usize,
    max_keys: usize,
    client: Option<Fetch>,
    clock: Arc<dyn Clock>,
}

impl JwksVerifierBuilder {
    /// How often the set is fetched in the background. Default 5 minutes.
    #[must_use]
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh = interval;
        self
    }

    /// The timeout of one fetch, body included. Default 2 s.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The shortest time between two fetches, whatever asks for them (unknown key ids
    /// included, so a flood of made-up key ids costs the endpoint one fetch per interval).
    /// Default 1 s.
    #[must_use]
    pub fn with_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch = interval;
        self
    }

    /// The longest a request naming an unknown key id waits for the next fetch before it
    /// is decided. Default 4 s; zero never waits (such requests are refused at once).
    #[must_use]
    pub fn with_unknown_kid_wait(mut self, wait: Duration) -> Self {
        self.unknown_kid_wait = wait;
        self
    }

    /// The largest document accepted, in bytes. Default 64 KiB.
    #[must_use]
    pub fn with_max_bytes(mut self, max: usize) -> Self {
        self.max_bytes = max;
        self
    }

    /// The most keys read from a document. Default 100.
    #[must_use]
    pub fn with_max_keys(mut self, max: usize) -> Self {
        self.max_keys = max;
        self
    }

    /// The HTTP client to fetch with, for `https://` URLs or a proxy: any Tower service
    /// from `http::Request<String>` to `http::Response` with a body of `Bytes` (cloned for
    /// each fetch), such as a hyper-util client built with a TLS connector (`hyper-rustls`'s
    /// `HttpsConnector`, with `.build::<_, String>(connector)`). Default: a plain-HTTP
    /// hyper-util client.
    #[must_use]
    pub fn with_client<S, B>(mut self, client: S) -> Self
    where
        S: Service<Request<String>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.client = Some(fetch_with(client));
        self
    }

    /// The clock for the times in [`JwksStatus`]. Default: the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Starts the background task, which fetches at once; returns without waiting for it
    /// (see [`JwksVerifier::wait_loaded`]). Until the first fetch lands the ring is empty,
    /// and requests with a token wait for it as for an unknown key id.
    ///
    /// # Errors
    /// [`JwksError::InvalidUrl`], [`JwksError::HttpsNeedsClient`], or
    /// [`JwksError::NoRuntime`] outside a Tokio runtime.
    pub fn start(self) -> Result<JwksVerifier, JwksError> {
        let uri: Uri = self.url.parse().map_err(|_| JwksError::InvalidUrl)?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(JwksError::InvalidUrl),
        };
        if uri.authority().is_none() {
            return Err(JwksError::InvalidUrl);
        }
        let fetch = match self.client {
            Some(fetch) => fetch,
            None if https => return Err(JwksError::HttpsNeedsClient),
            None => {
                let client =
                    Client::builder(TokioExecutor::new()).build::<_, String>(HttpConnector::new());
                fetch_with(client)
            }
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| JwksError::NoRuntime)?;
        let (progress, _) = watch::channel(Progress::default());
        // Held by the task and the waits without the refresher (which would keep it alive).
        let ring = KeyRingHandle::new(KeyRing::assemble(Vec::new(), 0));
        let started = self.clock.now();
        let shared = Arc::new(Shared {
            ring,
            uri,
            refresh: self.refresh.max(self.min_refetch),
            timeout: self.timeout,
            min_refetch: self.min_refetch,
            unknown_kid_wait: self.unknown_kid_wait,
            max_bytes: self.max_bytes,
            max_keys: self.max_keys,
            clock: self.clock,
            fetch,
            wanted: Notify::new(),
            wanted_fetch: AtomicU64::new(0),
            closed: Notify::new(),
            progress,
            status: Mutex::new(JwksStatus {
                since: Some(started),
                ..JwksStatus::default()
            }),
            started,
        });
        shared.export();
        let alive = Arc::new(Alive(Arc::clone(&shared)));
        let handle = shared
            .ring
            .sharing_with_refresher(Arc::clone(&alive) as Arc<dyn RefreshKeys>);
        let task = Task::new(Arc::clone(&shared), Arc::downgrade(&alive));
        runtime.spawn(task.run());
        Ok(JwksVerifier { shared, handle })
    }
}

impl fmt::Debug for JwksVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksVerifierBuilder")
            .field("url", &self.url)
            .field("refresh", &self.refresh)
            .field("timeout", &self.timeout)
            .field("min_refetch", &self.min_refetch)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// Fetches started and completed, and whether a set ever loaded.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    started: u64,
    completed: u64,
    loaded: bool,
}

/// A snapshot of a JWKS verifier's state, for metrics and health checks.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwksStatus {
    /// Keys in the ring now.
    pub keys: usize,
    /// Keys of the last good document left out (other types, malformed, duplicated ids).
    pub skipped_keys: usize,
    /// When the last good set arrived (Unix seconds; a `304` counts): the set's age is
    /// now minus this.
    pub last_success: Option<u64>,
    /// When the last fetch ended, good or not (Unix seconds).
    pub last_attempt: Option<u64>,
    /// Fetches made since start.
    pub fetches: u64,
    /// Failed fetches since start.
    pub failures: u64,
    /// Failed fetches since the last good one (0 when the endpoint is healthy).
    pub consecutive_failures: u64,
    /// Why the last fetch failed, if it did.
    pub last_error: Option<JwksError>,
    /// When the verifier entered its current state (Unix seconds): started (no fetch
    /// over yet), fetching fine, or failing.
    pub since: Option<u64>,
}

struct Shared {
    /// The ring, without the refresher (which would keep the task alive).
    ring: KeyRingHandle,
    uri: Uri,
    refresh: Duration,
    timeout: Duration,
    min_refetch: Duration,
    unknown_kid_wait: Duration,
    max_bytes: usize,
    max_keys: usize,
    clock: Arc<dyn Clock>,
    fetch: Fetch,
    /// A fetch is wanted now (an unknown key id).
    wanted: Notify,
    /// The number of the fetch waited for (the highest asked): an ask the task wakes to
    /// after that fetch started is answered already.
    wanted_fetch: AtomicU64,
    /// The last handle is gone: the task stops.
    closed: Notify,
    progress: watch::Sender<Progress>,
    status: Mutex<JwksStatus>,
    /// When the verifier started (Unix seconds, on its clock).
    started: u64,
}

impl Shared {
    /// Asks for fetch number `target` (one that starts after the ask was decided on).
    fn ask(&self, target: u64) {
        self.wanted_fetch.fetch_max(target, Ordering::SeqCst);
        self.wanted.notify_one();
    }

    /// Whether a fetch is asked for that has not started yet.
    fn asked(&self) -> bool {
        self.wanted_fetch.load(Ordering::SeqCst) > self.progress.borrow().started
    }

    fn status(&self) -> std::sync::MutexGuard<'_, JwksStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reports the state to the metrics (feature `metrics`).
    fn export(&self) {
        let status = self.status().clone();
        metrics::jwks(JwksGauges {
            keys: status.keys,
            last_refresh: status.last_success.unwrap_or(self.started),
            interval: self.refresh,
            failures: status.failures,
        });
    }
}

/// Held by every ring handle (through its refresher) and the verifier: when the last one
/// goes, the task stops.
struct Alive(Arc<Shared>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.closed.notify_one();
    }
}

impl RefreshKeys for Alive {
    /// Waits for a fetch that started after this token was seen. A fetch already in flight
    /// is waited for first without asking for another: a burst of tokens from a new key
    /// arrives while the first of them is being fetched for, and that fetch usually brings
    /// the key. Only if it left before the key was published is a further fetch asked for.
    fn unknown_kid(&self, kid: &str) -> Option<KeyWait> {
        let shared = Arc::clone(&self.0);
        if shared.unknown_kid_wait.is_zero() {
            return None;
        }
        let mut progress = shared.progress.subscribe();
        let seen = *progress.borrow_and_update();
        if shared.ring.current().get(kid).is_some() {
            // A fetch brought the key since the token was checked: verify again now.
            return Some(Box::pin(std::future::ready(())));
        }
        let in_flight = (seen.started > seen.completed).then_some(seen.started);
        let target = seen.started + 1;
        if in_flight.is_none() {
            shared.ask(target);
        }
        let kid: Box<str> = kid.into();
        let wait = shared.unknown_kid_wait;
        Some(Box::pin(async move {
            let settled = async {
                if let Some(started) = in_flight {
                    let _ = progress.wait_for(|p| p.completed >= started).await;
                    if shared.ring.current().get(&kid).is_some() {
                        return;
                    }
                    // It left before the key was published.
                    shared.ask(target);
                }
                let _ = progress.wait_for(|p| p.completed >= target).await;
            };
            let _ = tokio::time::timeout(wait, settled).await;
        }))
    }

    fn health(&self) -> Health {
        let shared = Arc::clone(&self.0);
        Health::new().with_check("jwks", move || shared.check())
    }
}

/// The key ring of a service that verifies sessions with the public keys of a JWKS URL,
/// and holds no secret at all.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tower_stateless_session::SessionLayer;
/// use tower_stateless_session::keys::jwks::JwksVerifier;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct User { sub: String }
///
/// let jwks = JwksVerifier::builder("http://gateway.internal/.well-known/jwks.json").start()?;
/// jwks.wait_loaded(Duration::from_secs(5)).await;
/// let layer = SessionLayer::<User>::verify_only(jwks.keys());
/// # Ok(()) }
/// ```
///
/// Clones share the ring and the task; the task stops when the verifier and every ring
/// handle from [`keys`](JwksVerifier::keys) are dropped.
#[derive(Clone)]
pub struct JwksVerifier {
    shared: Arc<Shared>,
    handle: KeyRingHandle,
}

impl JwksVerifier {
    /// Settings for a verifier fetching `url` (`http://` or, with a TLS client, `https://`).
    pub fn builder(url: &str) -> JwksVerifierBuilder {
        JwksVerifierBuilder {
            url: url.to_owned(),
            refresh: DEFAULT_JWKS_REFRESH,
            timeout: DEFAULT_JWKS_TIMEOUT,
            min_refetch: DEFAULT_JWKS_MIN_REFETCH,
            unknown_kid_wait: DEFAULT_UNKNOWN_KID_WAIT,
            max_bytes: DEFAULT_JWKS_MAX_BYTES,
            max_keys: DEFAULT_JWKS_MAX_KEYS,
            client: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The key ring handle for [`SessionLayer::verify_only`](crate::SessionLayer::verify_only):
    /// its ring follows the fetched set, and a token naming an unknown key id makes the
    /// layer wait for a fresh fetch.
    pub fn keys(&self) -> KeyRingHandle {
        self.handle.clone()
    }

    /// Waits until a set has been loaded at least once, up to `timeout`; returns whether
    /// it was.
    pub async fn wait_loaded(&self, timeout: Duration) -> bool {
        let mut progress = self.shared.progress.subscribe();
        let loaded = progress.wait_for(|p| p.loaded);
        matches!(tokio::time::timeout(timeout, loaded).await, Ok(Ok(_)))
    }

    /// Asks for a fetch now (within the minimum interval) and returns a future that resolves
    /// when it is over, for tools and tests.
    pub fn refresh(&self) -> impl Future<Output = ()> + Send + 'static {
        let target = self.shared.progress.borrow().started + 1;
        self.shared.ask(target);
        let mut progress = self.shared.progress.subscribe();
        async move {
            let _ = progress.wait_for(|p| p.completed >= target).await;
        }
    }

    /// A snapshot of the verifier's state (cheap: one lock, no I/O).
    pub fn status(&self) -> JwksStatus {
        self.shared.status().clone()
    }
}

impl fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("url", &self.shared.uri)
            .field("keys", &self.handle)
            .finish_non_exhaustive()
    }
}
