//! The layer's metrics, read back from a recorder: real requests through the layer, then
//! exactly the series that moved.
//!
//! Each test installs its own `metrics-util` debugging recorder as the thread's local
//! recorder and drives the requests on a current-thread runtime, so tests running in
//! parallel never see each other's counts. A snapshot returns what moved since the last one.
#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use crate::common::*;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::{Response, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use sha2::Sha256;
use tower_stateless_session::health::Status;
use tower_stateless_session::revocation::MemoryRevocations;
use tower_stateless_session::token::TokenCodec;
use tower_stateless_session::{Key, KeyRing, RejectionKind, SessionLayer};
#[cfg(feature = "propagate")]
use {
    http::{Request, header},
    tower::{Layer, ServiceExt, service_fn},
    tower_stateless_session::KeyRingHandle,
    tower_stateless_session::SessionHandle,
    tower_stateless_session::propagate::{Audience, Minter, PropagateSessionLayer},
    tower_stateless_session::server::SessionToken,
};

/// What moved between two snapshots: `name{label="value",...}` to a counter's increase, a
/// gauge's value, or a histogram's recorded values.
type Moved = BTreeMap<String, DebugValue>;

struct Recorded {
    snapshotter: Snapshotter,
}

impl Recorded {
    fn moved(&self) -> Moved {
        self.snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(_, _, _, value)| match value {
                DebugValue::Counter(n) => *n > 0,
                DebugValue::Gauge(_) => true,
                DebugValue::Histogram(values) => !values.is_empty(),
            })
            .map(|(key, _, _, value)| {
                let key = key.key();
                let mut labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}=\"{}\"", l.key(), l.value()))
                    .collect();
                labels.sort();
                (format!("{}{{{}}}", key.name(), labels.join(",")), value)
            })
            .collect()
    }

    /// The counters that moved, and by how much (gauges and histograms left out).
    fn counters(&self) -> BTreeMap<String, u64> {
        self.moved()
            .into_iter()
            .filter_map(|(name, value)| match value {
                DebugValue::Counter(n) => Some((name, n)),
                _ => None,
            })
            .collect()
    }
}

/// Runs `test` on a current-thread runtime with a fresh recorder as the thread's recorder.
fn with_recorder<F: Future<Output = ()>>(test: impl FnOnce(Recorded) -> F) {
    let recorder = DebuggingRecorder::new();
    let recorded = Recorded {
        snapshotter: recorder.snapshotter(),
    };
    let _guard = metrics::set_default_local_recorder(&recorder);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(test(recorded));
}

fn counters(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

const VALID: &str = r#"stateless_session_requests_total{outcome="valid"}"#;
const NO_TOKEN: &str = r#"stateless_session_requests_total{outcome="no_token"}"#;
const HIT: &str = r#"stateless_session_verify_cache_lookups_total{result="hit"}"#;
const MISS: &str = r#"stateless_session_verify_cache_lookups_total{result="miss"}"#;

fn refused(reason: &str) -> String {
    format!(r#"stateless_session_requests_total{{outcome="refused",reason="{reason}"}}"#)
}

fn issued(reason: &str) -> String {
    format!(r#"stateless_session_tokens_issued_total{{reason="{reason}"}}"#)
}

#[test]
fn a_session_moves_the_counters_of_each_step() {
    with_recorder(|recorded| async move {
        let f = fixture();
        let app = app(f.layer.clone());

        let response = send(&app, "GET", "/maybe", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let first = recorded.moved();
        assert_eq!(
            first.get("stateless_session_token_budget_bytes{}"),
            Some(&DebugValue::Gauge(4096.0.into())),
            "the token budget gauge is set when the handles are resolved: {first:?}"
        );
        assert_eq!(
            first.get("stateless_session_cookie_header_budget_bytes{}"),
            Some(&DebugValue::Gauge(8000.0.into())),
            "{first:?}"
        );
        assert_eq!(
            first.get(NO_TOKEN),
            Some(&DebugValue::Counter(1)),
            "{first:?}"
        );

        // Login: a token issued for "login", its size recorded.
        let response = send(&app, "POST", "/login/ada", None).await;
        let cookie = cookie_pair(&response);
        let moved = recorded.moved();
        assert_eq!(
            moved.get(&issued("login")),
            Some(&DebugValue::Counter(1)),
            "{moved:?}"
        );
        assert_eq!(
            moved.get("stateless_session_token_size_bytes{}"),
            Some(&DebugValue::Histogram(vec![(cookie.len() as f64).into()])),
            "the histogram holds the size of name=value: {moved:?}"
        );

        // The same token twice: a miss, then a hit; both valid.
        send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(
            recorded.counters(),
            counters(&[(VALID, 1), (MISS, 1)]),
            "the first request with a token"
        );
        send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(
            recorded.counters(),
            counters(&[(VALID, 1), (HIT, 1)]),
            "the same token again"
        );

        // Old enough to refresh.
        f.clock.advance(Duration::from_secs(REFRESH));
        let response = send(&app, "GET", "/me", Some(&cookie)).await;
        let refreshed = cookie_pair(&response);
        assert_eq!(
            recorded.counters(),
            counters(&[(VALID, 1), (HIT, 1), (&issued("refresh"), 1)]),
        );

        // A change of the data.
        send(&app, "POST", "/promote", Some(&refreshed)).await;
        assert_eq!(
            recorded.counters(),
            counters(&[(VALID, 1), (MISS, 1), (&issued("change"), 1)]),
        );
    });
}

#[test]
fn a_key_rotation_reissues_for_that_reason() {
    with_recorder(|recorded| async move {
        let f = fixture();
        let app = app(f.layer.clone());
        let cookie = login_cookie(&app, "ada").await;
        f.keys.replace(
            KeyRing::new(key("k2"))
                .with_verify_key(key("k1"))
                .expect("distinct ids"),
        );
        recorded.moved();
        send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(
            recorded.counters(),
            counters(&[(VALID, 1), (MISS, 1), (&issued("key_rotation"), 1)]),
        );
    });
}

// ---------------------------------------------------------------------------------------
// Every refusal kind
// ---------------------------------------------------------------------------------------

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header and claims, signed with the fixture key `k1`.
fn forge(header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let secret: Vec<u8> = "k1".bytes().cycle().take(32).collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).expect("any key length");
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(mac.finalize().into_bytes()))
}

/// A token for `ada` signed by `codec` (the fixture's key unless the codec says otherwise).
fn signed(codec: TokenCodec) -> String {
    codec
        .sign(&codec.new_claims(user("ada")).expect("claims"))
        .expect("sign")
}

fn codec(f: &Fixture, key_id: &str) -> TokenCodec {
    TokenCodec::new(KeyRing::new(key(key_id))).with_clock(f.clock.clone())
}

#[test]
fn each_refusal_kind_is_counted_under_its_reason() {
    with_recorder(|recorded| async move {
        let f = fixture();
        let layer = f
            .layer
            .clone()
            .with_revocation(MemoryRevocations::new(), |u: &User| Some(u.sub.as_str()));
        let app = app(layer);
        let good = signed(codec(&f, "k1"));
        let (_, rest) = good.split_once('.').expect("dots");
        let payload = rest.split_once('.').expect("dots").0;
        let claims = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("base64"),
        )
        .expect("utf-8");
        let cases: Vec<(RejectionKind, String)> = vec![
            (RejectionKind::Malformed, "not-a-token".into()),
            (RejectionKind::BadSignature, {
                let cut = &good[..good.len() - 2];
                let last = if good.ends_with("AA") { "QA" } else { "AA" };
                format!("{cut}{last}")
            }),
            (RejectionKind::UnknownKey, signed(codec(&f, "k9"))),
            (
                RejectionKind::WrongType,
                forge(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#, &claims),
            ),
            (
                RejectionKind::UnsupportedAlgorithm,
                forge(r#"{"alg":"HS512","kid":"k1","typ":"sess+jwt"}"#, &claims),
            ),
            (
                RejectionKind::InvalidClaims,
                forge(
                    r#"{"alg":"HS256","kid":"k1","typ":"sess+jwt"}"#,
                    &claims.replace(r#""sub":"ada""#, r#""sub":7"#),
                ),
            ),
            (
                RejectionKind::UnsupportedVersion,
                signed(codec(&f, "k1").with_data_version(2)),
            ),
            (RejectionKind::IssuedInFuture, {
                let later = codec(&f, "k1")
                    .with_clock(tower_stateless_session::time::ManualClock::new(T0 + 3600));
                signed(later)
            }),
        ];
        // Tokens that were valid once: their deadlines pass on the fixture's clock below.
        let expired = signed(codec(&f, "k1").with_idle_timeout(Duration::from_secs(IDLE)));
        let idle = signed(
            codec(&f, "k1")
                .with_idle_timeout(Duration::from_secs(10 * IDLE))
                .with_absolute_timeout(Duration::from_secs(10 * ABSOLUTE)),
        );
        let absolute = {
            // A session that began long ago, refreshed a moment ago.
            let c = codec(&f, "k1").with_absolute_timeout(Duration::from_secs(10 * ABSOLUTE));
            let mut claims = c.new_claims(user("ada")).expect("claims");
            claims.auth_time = T0 - ABSOLUTE - LEEWAY - 1;
            c.sign(&claims).expect("sign")
        };

        recorded.moved();
        for (kind, token) in &cases {
            let response = send(&app, "GET", "/maybe", Some(&format!("session={token}"))).await;
            let seen = response
                .extensions()
                .get::<tower_stateless_session::Rejection>()
                .map(|r| r.kind());
            assert_eq!(seen, Some(*kind), "the case meant to be {kind:?}");
            assert_eq!(
                recorded.counters().get(&refused(kind.as_str())),
                Some(&1),
                "{kind:?} is counted once under its reason"
            );
        }

        let response = send(&app, "GET", "/maybe", Some(&format!("session={absolute}"))).await;
        assert_eq!(kind(&response), Some(RejectionKind::AbsoluteTimeout));
        assert_eq!(
            recorded.counters().get(&refused("absolute_timeout")),
            Some(&1)
        );

        f.clock.advance(Duration::from_secs(IDLE + LEEWAY));
        for (kind, token) in [
            (RejectionKind::Expired, &expired),
            (RejectionKind::IdleTimeout, &idle),
        ] {
            let response = send(&app, "GET", "/maybe", Some(&format!("session={token}"))).await;
            assert_eq!(self::kind(&response), Some(kind));
            let moved = recorded.counters();
            assert_eq!(moved.get(&refused(kind.as_str())), Some(&1), "{moved:?}");
        }

        // Two valid sessions at once: ambiguous.
        let a = login_cookie(&app, "ada").await;
        let b = login_cookie(&app, "bob").await;
        recorded.moved();
        let response = send(&app, "GET", "/maybe", Some(&format!("{a}; {b}"))).await;
        assert_eq!(kind(&response), Some(RejectionKind::Ambiguous));
        assert_eq!(recorded.counters().get(&refused("ambiguous")), Some(&1));

        // A logged-out session's token: revoked, an outcome of its own.
        send(&app, "POST", "/logout", Some(&a)).await;
        recorded.moved();
        let response = send(&app, "GET", "/maybe", Some(&a)).await;
        assert_eq!(kind(&response), Some(RejectionKind::Revoked));
        assert_eq!(
            recorded
                .counters()
                .get(r#"stateless_session_requests_total{outcome="revoked"}"#),
            Some(&1)
        );
    });
}

fn kind<B>(response: &Response<B>) -> Option<RejectionKind> {
    response
        .extensions()
        .get::<tower_stateless_session::Rejection>()
        .map(|r| r.kind())
}

// ---------------------------------------------------------------------------------------
// Budgets
// ---------------------------------------------------------------------------------------

#[test]
fn an_oversized_cookie_header_is_a_431_by_cause_and_a_warning() {
    with_recorder(|recorded| async move {
        let f = fixture();
        let app = app(f.layer.clone().with_cookie_header_budget(1000));
        // 760 bytes: over 75 % of 1000, within it.
        let near = format!("big={}", "x".repeat(756));
        let response = send(&app, "GET", "/maybe", Some(&near)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let moved = recorded.counters();
        assert_eq!(
            moved.get(r#"stateless_session_budget_warnings_total{limit="cookie_header"}"#),
            Some(&1),
            "{moved:?}"
        );

        let over = format!("big={}", "x".repeat(1200));
        let response = send(&app, "GET", "/maybe", Some(&over)).await;
        assert_eq!(
            response.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        assert_eq!(
            recorded.counters(),
            counters(&[
                (
                    r#"stateless_session_budget_warnings_total{limit="cookie_header"}"#,
                    1
                ),
                (
                    r#"stateless_session_oversized_requests_total{action="reject",cause="cookie_header"}"#,
                    1
                ),
                (&refused("oversized"), 1),
            ])
        );
    });
}

#[test]
fn a_token_near_its_budget_warns_and_one_over_it_is_a_sign_failure() {
    with_recorder(|recorded| async move {
        let f = fixture();
        // The fixture's login token travels in 282 bytes: over 75 % of 360.
        let app = app(f.layer.clone().with_cookie_budget(360));
        let response = send(&app, "POST", "/login/ada", None).await;
        let size = cookie_pair(&response).len();
        assert!(size > 270 && size <= 360, "a token of {size} bytes");
        let moved = recorded.counters();
        assert_eq!(
            moved.get(r#"stateless_session_budget_warnings_total{limit="token"}"#),
            Some(&1),
            "{moved:?}"
        );

        let long = "a".repeat(200);
        let response = send(&app, "POST", &format!("/login/{long}"), None).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let moved = recorded.counters();
        assert_eq!(
            moved.get(r#"stateless_session_sign_failures_total{cause="oversized"}"#),
            Some(&1),
            "{moved:?}"
        );
        assert_eq!(moved.get(&issued("login")), None, "nothing was issued");
    });
}

// ---------------------------------------------------------------------------------------
// Propagation and health
// ---------------------------------------------------------------------------------------

#[cfg(feature = "propagate")]
#[test]
fn calls_carrying_a_token_are_counted() {
    with_recorder(|recorded| async move {
        let client =
            PropagateSessionLayer::forward().layer(service_fn(|request: Request<()>| async move {
                Ok::<_, std::convert::Infallible>(Response::new(
                    request.headers().contains_key(header::AUTHORIZATION),
                ))
            }));
        let bare = client.clone().oneshot(Request::new(())).await.expect("ok");
        assert!(!bare.into_body(), "no session, no token");
        let token: SessionToken = "aaa.bbb.ccc".parse().expect("token shape");
        let carried = token
            .scope(client.oneshot(Request::new(())))
            .await
            .expect("ok");
        assert!(carried.into_body());
        assert_eq!(
            recorded.counters(),
            counters(&[(
                r#"stateless_session_propagated_tokens_total{mode="forward"}"#,
                1
            )])
        );
    });
}

#[cfg(feature = "propagate")]
#[test]
fn minted_calls_are_counted_and_only_fresh_tokens_as_minted() {
    with_recorder(|recorded| async move {
        let node = KeyRingHandle::new(KeyRing::new(Key::generate_ed25519().expect("rng")));
        let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))
            .expect("valid issuer")
            .with_keys(node.clone());
        let audience = Audience::new("profile").expect("valid audience");
        let client = PropagateSessionLayer::mint(minter, audience).layer(service_fn(
            |request: Request<()>| async move {
                Ok::<_, std::convert::Infallible>(Response::new(
                    request.headers().contains_key(header::AUTHORIZATION),
                ))
            },
        ));
        // One request that logs in and calls the downstream service twice: one token
        // minted, the second call served from the minter's cache.
        let app = axum::Router::new()
            .route(
                "/login-and-call",
                axum::routing::post(move |s: SessionHandle<User>| {
                    let client = client.clone();
                    async move {
                        s.login(user("ada")).expect("login");
                        let first = client.clone().oneshot(Request::new(())).await;
                        let second = client.oneshot(Request::new(())).await;
                        let sent =
                            first.expect("ok").into_body() && second.expect("ok").into_body();
                        if sent {
                            "both carried a token"
                        } else {
                            "missing token"
                        }
                    }
                }),
            )
            .layer(SessionLayer::<User>::new(node));
        let response = send(&app, "POST", "/login-and-call", None).await;
        assert_eq!(body_text(response).await, "both carried a token");
        let moved = recorded.counters();
        assert_eq!(
            moved.get(r#"stateless_session_propagated_tokens_total{mode="mint"}"#),
            Some(&2),
            "{moved:?}"
        );
        assert_eq!(
            moved.get("stateless_session_minted_tokens_total{}"),
            Some(&1),
            "the second call used the cached token: {moved:?}"
        );
    });
}

#[test]
fn the_in_memory_revocation_store_reports_ok() {
    let layer = SessionLayer::<User>::new(KeyRing::new(Key::hs256("k1", &[7; 32]).expect("key")))
        .with_revocation(MemoryRevocations::new(), |u: &User| Some(u.sub.as_str()));
    let report = layer.health().report();
    assert_eq!(report.status(), Status::Ok);
    let check = report.check("revocation").expect("the store is checked");
    assert_eq!(check.status, Status::Ok);
    assert!(check.since.is_some(), "ok since the store was made");
    let json = report.to_json();
    assert!(
        json.starts_with(r#"{"status":"ok","checks":{"revocation":{"status":"ok","since":"#),
        "{json}"
    );
    let without = SessionLayer::<User>::new(KeyRing::new(Key::hs256("k1", &[7; 32]).expect("k")));
    assert_eq!(without.health().names().count(), 0, "nothing to check");
}

#[test]
fn a_layer_outside_any_recorder_still_serves() {
    // No recorder anywhere: the handles are no-ops and the request goes through.
    let f = fixture();
    let app = app(f.layer);
    let response = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(send(&app, "GET", "/public", None));
    assert_eq!(response.status(), StatusCode::OK);
}

#[cfg(feature = "dbsc")]
#[test]
fn a_refresh_with_a_proof_from_another_key_is_counted_as_wrong_key() {
    use crate::dbsc::{REFRESH_PATH, fixture, login, post, register};
    use crate::pop_support::ProofKey;
    with_recorder(|recorded| async move {
        let f = fixture();
        let (cookie, offer) = login(&f.app, "ada").await;
        let bound = register(&f.app, &ProofKey::es256(1), &cookie, &offer).await;
        let thief = ProofKey::es256(9).dbsc(&bound.challenge, false, None);
        let response = post(
            &f.app,
            REFRESH_PATH,
            &bound.refresh,
            &[
                ("sec-secure-session-id", &bound.id),
                ("secure-session-response", &thief),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let moved = recorded.counters();
        for event in ["registered", "wrong_key"] {
            let name =
                format!(r#"stateless_session_pop_events_total{{event="{event}",protocol="dbsc"}}"#);
            assert_eq!(moved.get(&name), Some(&1), "{name} in {moved:?}");
        }
    });
}
