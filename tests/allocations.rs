//! Heap allocations of one request through an axum `Router`, for our layer and the
//! alternatives measured in `benches/request.rs`.
//!
//! A counting global allocator wraps the system allocator. It counts per thread, so tests
//! running in parallel do not see each other's allocations, and a current-thread runtime
//! keeps the whole request on the test's thread. Each measurement warms the stack up first
//! (lazy statics, thread-local buffers, the runtime's first poll), then counts exactly one
//! `oneshot`, the dropping of its response included. The request is built before counting
//! starts. `bare` (no session handling) is the router's own share, subtracted from the
//! others.
//!
//! Allocation counts do not depend on timing, so the bounds below are exact thresholds with
//! some headroom: a change that adds allocations to the request path fails here.
//!
//! Run: `cargo test --test allocations -- --nocapture` to see the numbers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, Key as JarKey, SignedCookieJar};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;
use tower::ServiceExt;
use tower_stateless_session::{Key, KeyRing, ManualClock, Session, SessionLayer};

// -----------------------------------------------------------------------------------------
// The counting allocator
// -----------------------------------------------------------------------------------------

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static REALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>, by: u64) {
    // `try_with`: allocations made while the thread's locals are being torn down are not
    // counted rather than aborting.
    let _ = counter.try_with(|c| c.set(c.get() + by));
}

/// The system allocator, counting what the current thread asks of it.
struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counting touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCATIONS, 1);
        bump(&BYTES, layout.size() as u64);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCATIONS, 1);
        bump(&BYTES, layout.size() as u64);
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&REALLOCATIONS, 1);
        bump(&BYTES, new_size.saturating_sub(layout.size()) as u64);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What the current thread allocated between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    /// `alloc` and `alloc_zeroed` calls.
    allocations: u64,
    /// `realloc` calls (a growing buffer).
    reallocations: u64,
    /// Bytes requested: sizes of new blocks plus the growth of reallocated ones.
    bytes: u64,
}

impl Counts {
    fn now() -> Self {
        Counts {
            allocations: ALLOCATIONS.with(Cell::get),
            reallocations: REALLOCATIONS.with(Cell::get),
            bytes: BYTES.with(Cell::get),
        }
    }

    fn since(self, earlier: Counts) -> Counts {
        Counts {
            allocations: self.allocations - earlier.allocations,
            reallocations: self.reallocations - earlier.reallocations,
            bytes: self.bytes - earlier.bytes,
        }
    }

    /// Heap calls of any kind: what costs time in the allocator.
    fn calls(self) -> u64 {
        self.allocations + self.reallocations
    }
}

// -----------------------------------------------------------------------------------------
// The contenders (the same as in benches/request.rs)
// -----------------------------------------------------------------------------------------

const BODY: &str = "hello";
const SECRET: &[u8] = b"benchmark-secret-of-at-least-32-bytes-long";
const T0: u64 = 1_800_000_000;
const IDLE_SECS: u64 = 30 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    sub: String,
    roles: Vec<String>,
}

fn reference_user() -> User {
    User {
        sub: "user-12345".into(),
        roles: vec!["reader".into(), "editor".into()],
    }
}

struct Contender {
    router: Router,
    cookie: HeaderValue,
    sets_cookie: bool,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn request(cookie: &HeaderValue) -> Request {
    Request::builder()
        .uri("/")
        .header(header::HOST, "bench.local")
        .header(header::COOKIE, cookie.clone())
        .body(Body::empty())
        .expect("a valid request")
}

fn login_cookie(rt: &Runtime, login: Router) -> HeaderValue {
    let response = rt
        .block_on(
            login.oneshot(
                Request::post("/login")
                    .body(Body::empty())
                    .expect("request"),
            ),
        )
        .expect("infallible");
    let value = response
        .headers()
        .get(header::SET_COOKIE)
        .expect("the login sets a cookie")
        .to_str()
        .expect("ASCII");
    HeaderValue::from_str(value.split(';').next().unwrap_or(value)).expect("a cookie pair")
}

fn bare() -> Contender {
    Contender {
        router: Router::new().route("/", get(|| async { BODY })),
        cookie: HeaderValue::from_static("session=unread"),
        sets_cookie: false,
    }
}

async fn ours_handler(session: Session<User>) -> &'static str {
    session.with(|user| black_box(user).sub.len());
    BODY
}

/// Our layer on a manual clock. With `refresh`, the clock is moved past the default
/// refresh age (60 s) after signing, so the request re-signs and sets a cookie.
fn ours(refresh: bool) -> Contender {
    let clock = ManualClock::new(T0);
    let keys = KeyRing::new(Key::hs256("k1", SECRET).expect("a 32-byte secret"));
    let layer = SessionLayer::<User>::new(keys).with_clock(clock.clone());
    let codec = layer.codec_ref();
    let token = codec
        .sign(&codec.new_claims(reference_user()).expect("claims"))
        .expect("sign");
    if refresh {
        clock.advance(Duration::from_secs(61));
    }
    Contender {
        router: Router::new().route("/", get(ours_handler)).layer(layer),
        cookie: HeaderValue::from_str(&format!("session={token}")).expect("a cookie pair"),
        sets_cookie: refresh,
    }
}

async fn tower_sessions_handler(
    session: tower_sessions::Session,
) -> Result<&'static str, StatusCode> {
    let user: User = session
        .get("user")
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::UNAUTHORIZED)?;
    black_box(&user);
    Ok(BODY)
}

async fn tower_sessions_login(
    session: tower_sessions::Session,
) -> Result<&'static str, StatusCode> {
    session
        .insert("user", reference_user())
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(BODY)
}

fn tower_sessions_memory(rt: &Runtime) -> Contender {
    let store = tower_sessions::MemoryStore::default();
    let login = Router::new()
        .route("/login", post(tower_sessions_login))
        .layer(tower_sessions::SessionManagerLayer::new(store.clone()));
    Contender {
        cookie: login_cookie(rt, login),
        router: Router::new()
            .route("/", get(tower_sessions_handler))
            .layer(tower_sessions::SessionManagerLayer::new(store)),
        sets_cookie: false,
    }
}

async fn signed_jar_handler(jar: SignedCookieJar) -> Result<&'static str, StatusCode> {
    let cookie = jar.get("user").ok_or(StatusCode::UNAUTHORIZED)?;
    let user: User = serde_json::from_str(cookie.value()).map_err(|_| StatusCode::BAD_REQUEST)?;
    black_box(&user);
    Ok(BODY)
}

async fn signed_jar_login(jar: SignedCookieJar) -> impl IntoResponse {
    let json = serde_json::to_string(&reference_user()).expect("serializes");
    (jar.add(Cookie::new("user", json)), BODY)
}

fn axum_extra_signed_jar(rt: &Runtime) -> Contender {
    let key = JarKey::from(&[7u8; 64]);
    let login: Router = Router::new()
        .route("/login", post(signed_jar_login))
        .with_state(key.clone());
    Contender {
        cookie: login_cookie(rt, login),
        router: Router::new()
            .route("/", get(signed_jar_handler))
            .with_state(key),
        sets_cookie: false,
    }
}

#[derive(Serialize, Deserialize)]
struct JwtClaims {
    sid: String,
    iat: u64,
    exp: u64,
    auth_time: u64,
    sub: String,
    roles: Vec<String>,
}

#[derive(Serialize)]
struct JwtClaimsRef<'a> {
    sid: &'a str,
    iat: u64,
    exp: u64,
    auth_time: u64,
    sub: &'a str,
    roles: &'a [String],
}

struct JwtKeys {
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(header::COOKIE)?
        .to_str()
        .ok()?
        .split(';')
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

async fn jwt_session(
    State(keys): State<Arc<JwtKeys>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = cookie_value(request.headers(), "session") else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let claims = match jsonwebtoken::decode::<JwtClaims>(token, &keys.decoding, &keys.validation) {
        Ok(data) => data.claims,
        Err(_) => return StatusCode::UNAUTHORIZED.into_response(),
    };
    let JwtClaims {
        sid,
        auth_time,
        sub,
        roles,
        ..
    } = claims;
    let user = Arc::new(User { sub, roles });
    request.extensions_mut().insert(Arc::clone(&user));
    let mut response = next.run(request).await;
    let now = jsonwebtoken::get_current_timestamp();
    let fresh = JwtClaimsRef {
        sid: &sid,
        iat: now,
        exp: now + IDLE_SECS,
        auth_time,
        sub: &user.sub,
        roles: &user.roles,
    };
    if let Ok(token) = jsonwebtoken::encode(&keys.header, &fresh, &keys.encoding) {
        let cookie = format!("session={token}; Path=/; HttpOnly; Secure; SameSite=Lax");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn jwt_handler(Extension(user): Extension<Arc<User>>) -> &'static str {
    black_box(&*user);
    BODY
}

fn jsonwebtoken_cookie_resign() -> Contender {
    let keys = Arc::new(JwtKeys {
        header: Header::new(Algorithm::HS256),
        encoding: EncodingKey::from_secret(SECRET),
        decoding: DecodingKey::from_secret(SECRET),
        validation: Validation::new(Algorithm::HS256),
    });
    let now = jsonwebtoken::get_current_timestamp();
    let user = reference_user();
    let claims = JwtClaimsRef {
        sid: "AAECAwQFBgcICQoLDA0ODw",
        iat: now,
        exp: now + IDLE_SECS,
        auth_time: now,
        sub: &user.sub,
        roles: &user.roles,
    };
    let token = jsonwebtoken::encode(&keys.header, &claims, &keys.encoding).expect("encode");
    Contender {
        router: Router::new()
            .route("/", get(jwt_handler))
            .layer(from_fn_with_state(keys, jwt_session)),
        cookie: HeaderValue::from_str(&format!("session={token}")).expect("a cookie pair"),
        sets_cookie: true,
    }
}

// -----------------------------------------------------------------------------------------
// Measuring
// -----------------------------------------------------------------------------------------

/// One request, checked: served, and with a `Set-Cookie` exactly when expected.
fn serve_one(rt: &Runtime, contender: &Contender, request: Request, name: &str) {
    let response = rt
        .block_on(contender.router.clone().oneshot(request))
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK, "{name}: not served");
    assert_eq!(
        response.headers().contains_key(header::SET_COOKIE),
        contender.sets_cookie,
        "{name}: unexpected Set-Cookie behaviour"
    );
}

/// The allocations of one request through `contender`, after a warm-up.
fn measure(rt: &Runtime, contender: &Contender, name: &str) -> Counts {
    for _ in 0..3 {
        serve_one(rt, contender, request(&contender.cookie), name);
    }
    let request = request(&contender.cookie);
    let before = Counts::now();
    serve_one(rt, contender, request, name);
    Counts::now().since(before)
}

/// A contender's counts next to `bare`'s, printed; returns the extra allocator calls.
fn report(name: &str, contender: &Contender, rt: &Runtime) -> (Counts, u64) {
    let floor = measure(rt, &bare(), "bare");
    let counts = measure(rt, contender, name);
    let extra = counts.calls().saturating_sub(floor.calls());
    println!(
        "{name:<28} allocations {:>3}  reallocations {:>2}  bytes {:>5}  | over bare: {extra:>3} calls, {:>5} bytes",
        counts.allocations,
        counts.reallocations,
        counts.bytes,
        counts.bytes.saturating_sub(floor.bytes),
    );
    (counts, extra)
}

/// Upper bounds on the heap calls our layer adds to a request (measured with headroom;
/// lower them when the layer gets leaner, never raise them without a reason).
const OURS_VERIFY_MAX_EXTRA_CALLS: u64 = 9;
const OURS_REFRESH_MAX_EXTRA_CALLS: u64 = 24;

#[test]
fn allocations_per_request_bare() {
    let rt = runtime();
    let counts = measure(&rt, &bare(), "bare");
    println!(
        "{:<28} allocations {:>3}  reallocations {:>2}  bytes {:>5}",
        "bare", counts.allocations, counts.reallocations, counts.bytes
    );
    // The counter sees the router's own work (request extensions, response headers), and a
    // second measurement gives the same figure: the counts are deterministic.
    assert!(counts.calls() > 0, "the counting allocator saw nothing");
    assert_eq!(
        measure(&rt, &bare(), "bare"),
        counts,
        "allocation counts differ between two identical requests"
    );
}

#[test]
fn allocations_per_request_ours_verify() {
    let rt = runtime();
    let (_, extra) = report("ours_verify", &ours(false), &rt);
    assert!(
        extra <= OURS_VERIFY_MAX_EXTRA_CALLS,
        "verifying a session now costs {extra} heap calls over bare (bound {OURS_VERIFY_MAX_EXTRA_CALLS})"
    );
}

#[test]
fn allocations_per_request_ours_refresh() {
    let rt = runtime();
    let (_, extra) = report("ours_refresh", &ours(true), &rt);
    assert!(
        extra <= OURS_REFRESH_MAX_EXTRA_CALLS,
        "a refreshing request now costs {extra} heap calls over bare (bound {OURS_REFRESH_MAX_EXTRA_CALLS})"
    );
}

/// Our layer against the alternatives, call for call: verifying allocates less than a
/// memory-store session read or a signed-jar decode, and a refresh less than the
/// hand-written jsonwebtoken re-sign.
#[test]
fn allocations_per_request_ours_against_the_alternatives() {
    let rt = runtime();
    let (_, verify) = report("ours_verify", &ours(false), &rt);
    let (_, refresh) = report("ours_refresh", &ours(true), &rt);
    let (_, tower_sessions) = report("tower_sessions_memory", &tower_sessions_memory(&rt), &rt);
    let (_, signed_jar) = report("axum_extra_signed_jar", &axum_extra_signed_jar(&rt), &rt);
    let (_, jwt) = report(
        "jsonwebtoken_cookie_resign",
        &jsonwebtoken_cookie_resign(),
        &rt,
    );
    assert!(
        verify < tower_sessions,
        "ours_verify ({verify}) should allocate less than tower_sessions_memory ({tower_sessions})"
    );
    assert!(
        verify < signed_jar,
        "ours_verify ({verify}) should allocate less than axum_extra_signed_jar ({signed_jar})"
    );
    assert!(
        refresh < jwt,
        "ours_refresh ({refresh}) should allocate less than jsonwebtoken_cookie_resign ({jwt})"
    );
}
