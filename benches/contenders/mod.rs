//! The contenders of the request benchmark, in one place for the three programs that
//! measure them: `benches/request.rs` (time), `tests/allocations.rs` (heap calls) and
//! `examples/load_server.rs` (throughput under wrk). Each includes this file as a module.
//!
//! Every contender serves `GET /` with the same static body, and every contender that has a
//! session reads the same data, `{"sub":"user-12345","roles":["reader","editor"]}`, into the
//! same typed `User` before answering.

// Each program uses its own subset.
#![allow(dead_code, unreachable_pub)]

mod propagate;

pub use self::propagate::{Propagation, propagate};

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
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use tower_stateless_session::revocation::{MemoryRevocations, Revocation, RevocationStore};
use tower_stateless_session::time::{Clock, SystemClock};
use tower_stateless_session::token::SessionId;
use tower_stateless_session::{Key, KeyRing, Session, SessionLayer};

/// What every handler answers.
pub const BODY: &str = "hello";
/// The HMAC secret of our layer and of the jsonwebtoken middleware.
pub const SECRET: &[u8] = b"benchmark-secret-of-at-least-32-bytes-long";
/// The idle timeout the jsonwebtoken middleware writes into `exp` (our layer's default).
pub const IDLE_SECS: u64 = 30 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub sub: String,
    pub roles: Vec<String>,
}

pub fn reference_user() -> User {
    User {
        sub: "user-12345".into(),
        roles: vec!["reader".into(), "editor".into()],
    }
}

/// Reads the system time like `SystemClock` (so the cost of a real clock is paid on every
/// call) but always answers the second it was built with, so a token's age, and with it
/// whether a refresh is due, stays the same however long the benchmark runs.
pub struct FrozenClock(pub u64);

impl Clock for FrozenClock {
    fn now(&self) -> u64 {
        black_box(SystemClock.now());
        self.0
    }
}

/// One contender: a router serving `GET /`, and the `Cookie` header of its session.
pub struct Contender {
    pub id: &'static str,
    pub router: Router,
    pub cookie: HeaderValue,
    /// Whether a response carries a `Set-Cookie` (checked once at setup).
    pub sets_cookie: bool,
    /// The metrics recorder the contender's layer records into, if any.
    pub recorder: Option<Recorder>,
}

/// A real Prometheus recorder (metrics-exporter-prometheus), and the handle that renders
/// what it holds.
pub struct Recorder {
    pub recorder: metrics_exporter_prometheus::PrometheusRecorder,
    pub handle: metrics_exporter_prometheus::PrometheusHandle,
}

impl Recorder {
    pub fn new() -> Self {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        Recorder { recorder, handle }
    }
}

impl Contender {
    /// Makes the contender's recorder (if any) the thread's recorder until the guard drops.
    /// Our layer resolves its metric handles on its first request, against the recorder
    /// current then, so run the first request (`check`) under this guard.
    pub fn recording(&self) -> Option<metrics::LocalRecorderGuard<'_>> {
        self.recorder
            .as_ref()
            .map(|r| metrics::set_default_local_recorder(&r.recorder))
    }
}

pub fn cookie_header(pair: &str) -> HeaderValue {
    HeaderValue::from_str(pair).expect("a cookie pair is a valid header value")
}

/// The request of one iteration: built fresh every time, the same for every contender but
/// for the cookie. The header value is shared (as hyper shares its read buffer).
pub fn request(cookie: &HeaderValue) -> Request {
    Request::builder()
        .uri("/")
        .header(header::HOST, "bench.local")
        .header(header::COOKIE, cookie.clone())
        .body(Body::empty())
        .expect("a valid request")
}

/// `name=value` of a response's single `Set-Cookie`.
pub fn set_cookie_pair(headers: &HeaderMap) -> String {
    let value = headers
        .get(header::SET_COOKIE)
        .expect("the login response sets a cookie")
        .to_str()
        .expect("an ASCII Set-Cookie");
    value.split(';').next().unwrap_or(value).trim().to_owned()
}

// -----------------------------------------------------------------------------------------
// bare
// -----------------------------------------------------------------------------------------

pub async fn bare_handler() -> &'static str {
    BODY
}

pub fn bare() -> Contender {
    Contender {
        id: "bare",
        router: Router::new().route("/", get(bare_handler)),
        // Same request shape as the others: a session cookie that nobody reads.
        cookie: cookie_header("session=unread"),
        sets_cookie: false,
        recorder: None,
    }
}

// -----------------------------------------------------------------------------------------
// ours
// -----------------------------------------------------------------------------------------

pub async fn ours_handler(session: Session<User>) -> &'static str {
    // The layer already decoded the token into `User`; read it in place.
    session.with(|user| black_box(user).sub.len());
    BODY
}

/// How our layer is set up for one contender.
#[derive(Clone, Copy)]
pub struct Ours {
    pub id: &'static str,
    /// A refresh is due on every request.
    pub refresh: bool,
    /// The cache of verified tokens (on by default).
    pub cache: bool,
    /// A revocation store holding this many entries, none of them matching.
    pub revoked: usize,
    /// Metrics into a real Prometheus recorder (needs the crate's `metrics` feature).
    pub metrics: bool,
    /// Sign with an Ed25519 node key (`EdDSA`) instead of the HS256 secret.
    pub eddsa: bool,
    /// DBSC on, and a device-bound cookie (`cnf` of a registered key), as a registered
    /// browser's steady request sends it (needs the crate's `dbsc` feature).
    pub bound: bool,
    /// Cross-origin protection (on by default with cookies; off to measure what it costs).
    pub cross_origin: bool,
}

/// `ours_verify`: the defaults, a valid token, no refresh due.
pub const OURS_VERIFY: Ours = Ours {
    id: "ours_verify",
    refresh: false,
    cache: true,
    revoked: 0,
    metrics: false,
    eddsa: false,
    bound: false,
    cross_origin: true,
};

/// `ours_verify_metrics`: as `ours_verify`, the layer's metrics recorded into
/// metrics-exporter-prometheus's recorder.
pub const OURS_VERIFY_METRICS: Ours = Ours {
    id: "ours_verify_metrics",
    metrics: true,
    ..OURS_VERIFY
};

/// The seed of the Ed25519 key of the `EdDSA` contenders.
pub const ED25519_SEED: [u8; 32] = *b"benchmark-ed25519-seed-32-bytes!";

/// A revocation store with `entries` entries, none of which matches the benchmark's
/// session: half sessions and half subjects up to 100 000 entries; past that, 50 000
/// subjects and the rest sessions (subject-wide revocations are the rare kind).
pub fn revocations(entries: usize) -> MemoryRevocations {
    let store = MemoryRevocations::new().with_max_entries(usize::MAX);
    let now = SystemClock.now();
    let far = now + 365 * 24 * 3600;
    let subjects = (entries / 2).min(50_000) as u64;
    for n in 0..entries as u64 {
        let revocation = if n % 2 == 1 && n / 2 < subjects {
            Revocation::Subject {
                subject: format!("user-{n}"),
                before: now,
                expires_at: far,
            }
        } else {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
            bytes[8..].copy_from_slice(&n.to_le_bytes());
            Revocation::Session {
                sid: SessionId::from_bytes(bytes),
                expires_at: far,
            }
        };
        store.revoke(revocation, now);
    }
    assert_eq!(store.len(), entries, "every entry is held");
    store
}

/// Our layer with a cookie minted by its own codec. With `refresh`, the token was signed
/// ten seconds before the clock's frozen "now" and the layer refreshes any token at least
/// zero seconds old, so every request re-signs and sets a cookie; without, the token is
/// exactly as old as "now" and the default refresh age (60 s) is never reached.
pub fn ours(setup: Ours) -> Contender {
    let now = SystemClock.now();
    let key = if setup.eddsa {
        Key::ed25519_from_seed("node-1", &ED25519_SEED).expect("a 32-byte seed")
    } else {
        Key::hs256("k1", SECRET).expect("a 32-byte secret")
    };
    let keys = KeyRing::new(key);
    let mut layer = SessionLayer::<User>::new(keys).with_clock(FrozenClock(now));
    if setup.refresh {
        layer = layer.with_refresh_after(Duration::ZERO);
    }
    if !setup.cache {
        layer = layer.with_verify_cache(0);
    }
    if !setup.cross_origin {
        layer = layer.with_cross_origin_protection(false);
    }
    if setup.revoked > 0 {
        layer = layer.with_revocation(revocations(setup.revoked), |user: &User| {
            Some(user.sub.as_str())
        });
    }
    #[cfg(feature = "dbsc")]
    if setup.bound {
        use tower_stateless_session::pop::ChallengeKey;
        use tower_stateless_session::pop::dbsc::Dbsc;
        layer = layer.with_dbsc(Dbsc::new(ChallengeKey::new(SECRET).expect("a key")));
    }
    assert!(
        !setup.bound || cfg!(feature = "dbsc"),
        "{}: a bound cookie needs the dbsc feature",
        setup.id
    );
    let codec = layer.codec();
    let mut claims = codec.new_claims(reference_user()).expect("claims");
    if setup.bound {
        // What a registration leaves: a 10-minute cookie bound to the browser's key.
        claims.exp = claims.iat + 600;
        claims.cnf = Some(tower_stateless_session::token::Confirmation::new(
            "Vz9U8cvWj3uS99m0wUVHpy_E3YC9J_FR5f58sAvtV88",
            tower_stateless_session::token::Binding::Dbsc,
        ));
    }
    if setup.refresh {
        claims.iat -= 10;
        claims.auth_time -= 10;
        claims.exp = codec.expiry(claims.iat, claims.auth_time);
    }
    let token = codec.sign(&claims).expect("sign");
    Contender {
        id: setup.id,
        router: Router::new().route("/", get(ours_handler)).layer(layer),
        cookie: cookie_header(&format!("session={token}")),
        sets_cookie: setup.refresh,
        // Without the crate's `metrics` feature the layer records nothing, which `check`
        // reports.
        recorder: setup.metrics.then(Recorder::new),
    }
}

// -----------------------------------------------------------------------------------------
// tower-sessions, memory store
// -----------------------------------------------------------------------------------------

pub async fn tower_sessions_handler(
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

pub async fn tower_sessions_login(
    session: tower_sessions::Session,
) -> Result<&'static str, StatusCode> {
    session
        .insert("user", reference_user())
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(BODY)
}

/// `name=value` of the cookie a login handler sets.
async fn login(login: Router) -> String {
    let response = login
        .oneshot(
            Request::post("/login")
                .body(Body::empty())
                .expect("login request"),
        )
        .await
        .expect("infallible");
    set_cookie_pair(response.headers())
}

/// One session created through a login handler; the benchmark router shares its store.
pub async fn tower_sessions_memory() -> Contender {
    let store = tower_sessions::MemoryStore::default();
    let pair = login(
        Router::new()
            .route("/login", post(tower_sessions_login))
            .layer(tower_sessions::SessionManagerLayer::new(store.clone())),
    )
    .await;
    Contender {
        id: "tower_sessions_memory",
        router: Router::new()
            .route("/", get(tower_sessions_handler))
            .layer(tower_sessions::SessionManagerLayer::new(store)),
        cookie: cookie_header(&pair),
        sets_cookie: false,
        recorder: None,
    }
}

// -----------------------------------------------------------------------------------------
// axum-extra, SignedCookieJar
// -----------------------------------------------------------------------------------------

pub async fn signed_jar_handler(jar: SignedCookieJar) -> Result<&'static str, StatusCode> {
    let cookie = jar.get("user").ok_or(StatusCode::UNAUTHORIZED)?;
    let user: User = serde_json::from_str(cookie.value()).map_err(|_| StatusCode::BAD_REQUEST)?;
    black_box(&user);
    Ok(BODY)
}

pub async fn signed_jar_login(jar: SignedCookieJar) -> impl IntoResponse {
    let json = serde_json::to_string(&reference_user()).expect("serializes");
    (jar.add(Cookie::new("user", json)), BODY)
}

pub async fn axum_extra_signed_jar() -> Contender {
    let key = JarKey::from(&[7u8; 64]);
    let pair = login(
        Router::new()
            .route("/login", post(signed_jar_login))
            .with_state(key.clone()),
    )
    .await;
    Contender {
        id: "axum_extra_signed_jar",
        router: Router::new()
            .route("/", get(signed_jar_handler))
            .with_state(key),
        cookie: cookie_header(&pair),
        sets_cookie: false,
        recorder: None,
    }
}

// -----------------------------------------------------------------------------------------
// jsonwebtoken, hand-written middleware that re-signs on every response
// -----------------------------------------------------------------------------------------

/// The claims as a jsonwebtoken user would declare them: the same members as our tokens.
#[derive(Serialize, Deserialize)]
pub struct JwtClaims {
    sid: String,
    iat: u64,
    exp: u64,
    auth_time: u64,
    sub: String,
    roles: Vec<String>,
}

/// The same claims, borrowed, for re-encoding without cloning the user.
#[derive(Serialize)]
pub struct JwtClaimsRef<'a> {
    sid: &'a str,
    iat: u64,
    exp: u64,
    auth_time: u64,
    sub: &'a str,
    roles: &'a [String],
}

pub struct JwtKeys {
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

pub fn jwt_keys() -> Arc<JwtKeys> {
    Arc::new(JwtKeys {
        header: Header::new(Algorithm::HS256),
        encoding: EncodingKey::from_secret(SECRET),
        decoding: DecodingKey::from_secret(SECRET),
        validation: Validation::new(Algorithm::HS256),
    })
}

/// The value of cookie `name` in the request's first `Cookie` header.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(header::COOKIE)?
        .to_str()
        .ok()?
        .split(';')
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// What people write by hand today: decode the cookie, hand the user to the handler, and
/// re-sign with a fresh `exp` on the way out.
pub async fn jwt_session(
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

pub async fn jwt_handler(Extension(user): Extension<Arc<User>>) -> &'static str {
    black_box(&*user);
    BODY
}

pub fn jsonwebtoken_cookie_resign() -> Contender {
    let keys = jwt_keys();
    let now = jsonwebtoken::get_current_timestamp();
    let user = reference_user();
    let sid = "AAECAwQFBgcICQoLDA0ODw";
    let claims = JwtClaimsRef {
        sid,
        iat: now,
        exp: now + IDLE_SECS,
        auth_time: now,
        sub: &user.sub,
        roles: &user.roles,
    };
    let token = jsonwebtoken::encode(&keys.header, &claims, &keys.encoding).expect("encode");
    Contender {
        id: "jsonwebtoken_cookie_resign",
        router: Router::new()
            .route("/", get(jwt_handler))
            .layer(from_fn_with_state(keys, jwt_session)),
        cookie: cookie_header(&format!("session={token}")),
        sets_cookie: true,
        recorder: None,
    }
}

/// One request through the contender, checked: 200, the static body, and a `Set-Cookie`
/// exactly when the contender is meant to send one.
pub async fn check(contender: &Contender) {
    let response = contender
        .router
        .clone()
        .oneshot(request(&contender.cookie))
        .await
        .expect("infallible");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}: the request was not served",
        contender.id
    );
    assert_eq!(
        response.headers().contains_key(header::SET_COOKIE),
        contender.sets_cookie,
        "{}: unexpected Set-Cookie behaviour",
        contender.id
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, BODY.as_bytes(), "{}: wrong body", contender.id);
    if let Some(recorder) = &contender.recorder {
        let text = recorder.handle.render();
        assert!(
            text.contains(r#"stateless_session_requests_total{outcome="valid"}"#),
            "{}: the request was not recorded (was `check` run under `recording()`?):\n{text}",
            contender.id
        );
    }
}

/// The contender named `id`, for programs that pick one by name.
/// Every contender `by_id` knows, in the order `benches/request.rs` runs them: those that
/// need a feature this build lacks are left out, and `ours_verify_revocation_10m` (seconds
/// and about 400 MB to build) is in the list but built only when asked for by name.
pub fn ids() -> Vec<&'static str> {
    let mut ids = vec![
        "bare",
        "ours_verify",
        "ours_verify_no_cross_origin",
        "ours_verify_eddsa",
        "ours_verify_eddsa_uncached",
        "ours_refresh_eddsa",
        "ours_refresh",
        "tower_sessions_memory",
        "axum_extra_signed_jar",
        "jsonwebtoken_cookie_resign",
        "ours_verify_uncached",
        "ours_refresh_uncached",
        "ours_verify_revocation_100k",
        "propagate_forward",
        "propagate_minted",
        "propagate_minted_cold",
        "ours_verify_revocation_10m",
    ];
    if cfg!(feature = "dbsc") {
        ids.push("ours_verify_bound");
    }
    if cfg!(feature = "metrics") {
        ids.push("ours_verify_metrics");
    }
    ids
}

/// The contender named `id` (see [`ids`]), set up; `None` for an unknown name.
pub async fn by_id(id: &str) -> Option<Contender> {
    let variant = |variant: Ours| Some(ours(variant));
    match id {
        "bare" => Some(bare()),
        "ours_verify" => variant(OURS_VERIFY),
        // Cross-origin protection off: `ours_verify` minus this is what the check costs.
        "ours_verify_no_cross_origin" => variant(Ours {
            id: "ours_verify_no_cross_origin",
            cross_origin: false,
            ..OURS_VERIFY
        }),
        // EdDSA node keys: the steady state and the cold path (every request checks the
        // Ed25519 signature), and a refresh (every request signs).
        "ours_verify_eddsa" => variant(Ours {
            id: "ours_verify_eddsa",
            eddsa: true,
            ..OURS_VERIFY
        }),
        "ours_verify_eddsa_uncached" => variant(Ours {
            id: "ours_verify_eddsa_uncached",
            eddsa: true,
            cache: false,
            ..OURS_VERIFY
        }),
        "ours_refresh_eddsa" => variant(Ours {
            id: "ours_refresh_eddsa",
            eddsa: true,
            refresh: true,
            ..OURS_VERIFY
        }),
        "ours_refresh" => variant(Ours {
            id: "ours_refresh",
            refresh: true,
            ..OURS_VERIFY
        }),
        // The cold path: every request verifies the MAC and decodes the claims.
        "ours_verify_uncached" => variant(Ours {
            id: "ours_verify_uncached",
            cache: false,
            ..OURS_VERIFY
        }),
        "ours_refresh_uncached" => variant(Ours {
            id: "ours_refresh_uncached",
            refresh: true,
            cache: false,
            ..OURS_VERIFY
        }),
        // The revocation check against 100 000 and 10 000 000 entries, none matching.
        "ours_verify_revocation_100k" => variant(Ours {
            id: "ours_verify_revocation_100k",
            revoked: 100_000,
            ..OURS_VERIFY
        }),
        "ours_verify_revocation_10m" => variant(Ours {
            id: "ours_verify_revocation_10m",
            revoked: 10_000_000,
            ..OURS_VERIFY
        }),
        // A device-bound cookie, a registered browser's steady request (feature `dbsc`).
        "ours_verify_bound" => variant(Ours {
            id: "ours_verify_bound",
            bound: true,
            ..OURS_VERIFY
        }),
        "ours_verify_metrics" => variant(OURS_VERIFY_METRICS),
        "tower_sessions_memory" => Some(tower_sessions_memory().await),
        "axum_extra_signed_jar" => Some(axum_extra_signed_jar().await),
        "jsonwebtoken_cookie_resign" => Some(jsonwebtoken_cookie_resign()),
        "propagate_forward" => Some(propagate(Propagation::Forward)),
        "propagate_minted" => Some(propagate(Propagation::Minted)),
        "propagate_minted_cold" => Some(propagate(Propagation::MintedCold)),
        _ => None,
    }
}
