//! DBSC through the whole layer: the registration offer, the endpoints, the refresh cycle,
//! its refusals (each with its reason), logout, revocation and the absolute deadline, the
//! skipped refresh, and the unbound grace policy. Time comes from a ManualClock.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use tower::ServiceExt as _;
use tower_stateless_session::pop::dbsc::{Dbsc, RegistrationOffer, SessionChallenge};
use tower_stateless_session::pop::{ChallengeKey, ProofError};
use tower_stateless_session::revocation::MemoryRevocations;
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::token::{Binding, Claims};
use tower_stateless_session::{KeyRing, KeyRingHandle, RejectionKind, SessionLayer};

use crate::common::*;
use crate::pop_support::ProofKey;

pub const REGISTER: &str = "/.well-known/dbsc/register";
pub const REFRESH_PATH: &str = "/.well-known/dbsc/refresh";
pub const BOUND: u64 = 600;

pub struct Dbscf {
    pub clock: ManualClock,
    pub app: Router,
    pub layer: SessionLayer<User>,
}

pub fn dbsc_layer(clock: &ManualClock, keys: KeyRingHandle) -> SessionLayer<User> {
    layer(keys, clock).with_dbsc(Dbsc::new(ChallengeKey::new(&[9; 32]).expect("key")))
}

pub fn fixture_with(grace: Option<Duration>) -> Dbscf {
    let clock = ManualClock::new(T0);
    let keys = KeyRingHandle::new(KeyRing::new(key("k1")));
    let layer = layer(keys, &clock)
        .with_dbsc(Dbsc::new(ChallengeKey::new(&[9; 32]).expect("key")).with_unbound_grace(grace))
        .with_revocation(MemoryRevocations::new(), |u: &User| Some(u.sub.as_str()))
        .build()
        .expect("a valid layer");
    Dbscf {
        clock,
        app: app(layer.clone()),
        layer,
    }
}

pub fn fixture() -> Dbscf {
    fixture_with(None)
}

/// Every cookie a response sets, by name: (value, the whole Set-Cookie).
pub fn cookies<B>(response: &Response<B>) -> HashMap<String, (String, String)> {
    set_cookies(response)
        .into_iter()
        .map(|line| {
            let c = cookie::Cookie::parse(line.clone()).expect("a Set-Cookie");
            (c.name().to_owned(), (c.value().to_owned(), line))
        })
        .collect()
}

pub async fn post(
    app: &Router,
    path: &str,
    cookie: &str,
    headers: &[(&str, &str)],
) -> Response<Body> {
    let mut request = Request::builder().method("POST").uri(path);
    if !cookie.is_empty() {
        request = request.header(header::COOKIE, cookie);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

fn reason<B>(response: &Response<B>) -> Option<ProofError> {
    response.extensions().get::<ProofError>().copied()
}

/// Logs in: the session cookie and the registration offer.
pub async fn login(app: &Router, name: &str) -> (String, RegistrationOffer) {
    let response = send(app, "POST", &format!("/login/{name}"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let offer = response
        .headers()
        .get("secure-session-registration")
        .expect("a login response offers registration")
        .to_str()
        .expect("ascii");
    let offer = RegistrationOffer::parse(offer).expect("a well-formed offer");
    (cookie_pair(&response), offer)
}

/// A registered session.
pub struct Bound {
    pub session: String,
    pub refresh: String,
    pub id: String,
    pub challenge: String,
}

/// Registers `key` for the session `cookie` with the offer's challenge.
pub async fn register(
    app: &Router,
    key: &ProofKey,
    cookie: &str,
    offer: &RegistrationOffer,
) -> Bound {
    let proof = key.dbsc(&offer.challenge, true, offer.authorization.as_deref());
    let response = post(
        app,
        &offer.path,
        cookie,
        &[("secure-session-response", &proof)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "registration: {:?}",
        reason(&response)
    );
    bound_of(&response)
}

fn bound_of<B>(response: &Response<B>) -> Bound {
    let set = cookies(response);
    let challenge = SessionChallenge::parse(
        response
            .headers()
            .get("secure-session-challenge")
            .expect("the next challenge")
            .to_str()
            .expect("ascii"),
    )
    .expect("a challenge");
    Bound {
        session: format!("session={}", set["session"].0),
        refresh: format!("session_dbsc={}", set["session_dbsc"].0),
        id: challenge.session_id.expect("the session id"),
        challenge: challenge.challenge,
    }
}

pub fn claims_of(layer: &SessionLayer<User>, pair: &str) -> Claims<User> {
    // Bound tokens are refused by the plain verifier: read the claims without it.
    let token = pair.split_once('=').expect("name=value").1;
    let payload = token.split('.').nth(1).expect("payload");
    let _ = layer;
    serde_json::from_slice(&crate::pop_support::unb64(payload)).expect("claims")
}

async fn refresh(app: &Router, bound: &Bound, proof: Option<&str>) -> Response<Body> {
    let mut headers = vec![("sec-secure-session-id", bound.id.as_str())];
    if let Some(proof) = proof {
        headers.push(("secure-session-response", proof));
    }
    post(app, REFRESH_PATH, &bound.refresh, &headers).await
}

#[tokio::test]
async fn a_login_offers_registration_and_registration_binds_the_session_under_a_new_id() {
    let f = fixture();
    let (cookie, offer) = login(&f.app, "ada").await;
    assert_eq!(
        offer
            .algorithms
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        ["ES256", "RS256"]
    );
    assert_eq!(offer.path, REGISTER);
    assert!(offer.authorization.is_some());
    let before = claims_of(&f.layer, &cookie);
    let key = ProofKey::es256(1);
    let proof = key.dbsc(&offer.challenge, true, offer.authorization.as_deref());
    let response = post(
        &f.app,
        REGISTER,
        &cookie,
        &[("secure-session-response", &proof)],
    )
    .await;
    // The route is not in the app: a 200 means the layer answered, not the inner service.
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let set = cookies(&response);
    let (_, session_line) = &set["session"];
    assert!(session_line.contains("Max-Age=600"), "{session_line}");
    let (_, refresh_line) = &set["session_dbsc"];
    assert!(
        refresh_line.contains(&format!("Path={REFRESH_PATH}")),
        "{refresh_line}"
    );
    assert!(refresh_line.contains("HttpOnly") && refresh_line.contains("Secure"));
    let bound = bound_of(&response);
    let body: serde_json::Value = serde_json::from_slice(
        &http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("body")
            .to_bytes(),
    )
    .expect("JSON instructions");
    assert_eq!(body["session_identifier"], bound.id.as_str());
    assert_eq!(body["refresh_url"], REFRESH_PATH);
    assert_eq!(body["credentials"][0]["name"], "session");
    assert_eq!(
        body["credentials"][0]["attributes"], "Path=/; HttpOnly; Secure; SameSite=Lax",
        "the attributes the Set-Cookie carries"
    );
    let after = claims_of(&f.layer, &bound.session);
    assert_ne!(after.sid, before.sid, "registration rotates the session id");
    assert_eq!(after.auth_time, before.auth_time);
    let cnf = after.cnf.expect("bound");
    assert_eq!(
        (cnf.jkt.as_str(), cnf.binding),
        (key.thumbprint().as_str(), Binding::Dbsc)
    );
    assert_eq!(after.exp, T0 + BOUND, "a bound cookie lives 10 minutes");
    let me = send(&f.app, "GET", "/me", Some(&bound.session)).await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "the bound cookie is the session"
    );
    // The old, unbound cookie is revoked.
    let old = send(&f.app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(kind(&old), Some(RejectionKind::Revoked));
}

#[tokio::test]
async fn an_rs256_key_registers_and_refreshes() {
    let f = fixture();
    let (cookie, offer) = login(&f.app, "ada").await;
    let key = ProofKey::rs256();
    let bound = register(&f.app, &key, &cookie, &offer).await;
    f.clock.set(T0 + BOUND + 1);
    let proof = key.dbsc(&bound.challenge, false, None);
    let response = refresh(&f.app, &bound, Some(&proof)).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", reason(&response));
}

#[tokio::test]
async fn registration_refuses_a_wrong_expired_or_other_sessions_challenge_and_a_wrong_authorization()
 {
    let f = fixture();
    let key = ProofKey::es256(1);
    let (cookie, offer) = login(&f.app, "ada").await;
    let (_, other_offer) = login(&f.app, "bob").await;
    let attempt = |challenge: String, authorization: Option<String>| {
        let proof = key.dbsc(&challenge, true, authorization.as_deref());
        let app = f.app.clone();
        let cookie = cookie.clone();
        async move {
            post(
                &app,
                REGISTER,
                &cookie,
                &[("secure-session-response", &proof)],
            )
            .await
        }
    };
    let auth = offer.authorization.clone();
    for (challenge, authorization, want) in [
        ("A".repeat(32), auth.clone(), ProofError::WrongChallenge),
        (
            "not-a-challenge".to_owned(),
            auth.clone(),
            ProofError::WrongChallenge,
        ),
        (
            other_offer.challenge.clone(),
            auth.clone(),
            ProofError::WrongChallenge,
        ),
        (
            offer.challenge.clone(),
            other_offer.authorization.clone(),
            ProofError::WrongAuthorization,
        ),
        (
            offer.challenge.clone(),
            None,
            ProofError::WrongAuthorization,
        ),
    ] {
        let response = attempt(challenge, authorization).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(reason(&response), Some(want));
    }
    // Expired: older than the bound lifetime and the grace (see pop::dbsc::CHALLENGE_GRACE).
    f.clock.set(T0 + BOUND + 300 + 1);
    let response = attempt(offer.challenge.clone(), auth.clone()).await;
    assert_eq!(reason(&response), Some(ProofError::ExpiredChallenge));
    // Malformed structured field; no cookie at all.
    let response = post(
        &f.app,
        REGISTER,
        &cookie,
        &[("secure-session-response", "\"unterminated")],
    )
    .await;
    assert_eq!(reason(&response), Some(ProofError::Malformed));
    let response = post(&f.app, REGISTER, "", &[("secure-session-response", "x")]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bound_cookie_cannot_register_a_second_key() {
    let f = fixture();
    let (cookie, offer) = login(&f.app, "ada").await;
    let bound = register(&f.app, &ProofKey::es256(1), &cookie, &offer).await;
    let second = ProofKey::es256(2);
    let proof = second.dbsc(&offer.challenge, true, offer.authorization.as_deref());
    let response = post(
        &f.app,
        REGISTER,
        &bound.session,
        &[("secure-session-response", &proof)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&response).is_empty(), "no new cookie");
}

#[tokio::test]
async fn an_expired_bound_cookie_is_refreshed_against_a_proof_after_a_challenge() {
    let f = fixture();
    let key = ProofKey::es256(1);
    let (cookie, offer) = login(&f.app, "ada").await;
    let bound = register(&f.app, &key, &cookie, &offer).await;
    f.clock.set(T0 + BOUND + LEEWAY);
    let expired = send(&f.app, "GET", "/me", Some(&bound.session)).await;
    assert_eq!(
        kind(&expired),
        Some(RejectionKind::Expired),
        "the bound cookie is dead"
    );
    // No proof: 403 and a challenge, nothing else.
    let response = refresh(&f.app, &bound, None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&response).is_empty());
    let challenge = SessionChallenge::parse(
        response.headers()["secure-session-challenge"]
            .to_str()
            .expect("ascii"),
    )
    .expect("a challenge");
    assert_eq!(challenge.session_id.as_deref(), Some(bound.id.as_str()));
    let proof = key.dbsc(&challenge.challenge, false, None);
    let response = refresh(&f.app, &bound, Some(&proof)).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", reason(&response));
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let next = bound_of(&response);
    let claims = claims_of(&f.layer, &next.session);
    assert_eq!(
        claims.exp,
        T0 + BOUND + LEEWAY + BOUND,
        "exp moved forward by the proof"
    );
    let me = send(&f.app, "GET", "/me", Some(&next.session)).await;
    assert_eq!(me.status(), StatusCode::OK);
    // The challenge that came with the answer makes the next refresh single-step.
    f.clock.set(T0 + 2 * BOUND + 2 * LEEWAY);
    let proof = key.dbsc(&next.challenge, false, None);
    let response = refresh(&f.app, &next, Some(&proof)).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", reason(&response));
}

#[tokio::test]
async fn final_refusals_and_retryable_challenges_at_refresh() {
    let f = fixture();
    let key = ProofKey::es256(1);
    let (cookie, offer) = login(&f.app, "ada").await;
    let bound = register(&f.app, &key, &cookie, &offer).await;
    let (cookie2, offer2) = login(&f.app, "bob").await;
    let other_session = register(&f.app, &ProofKey::es256(2), &cookie2, &offer2).await;
    let thief = ProofKey::es256(7);
    // A proof from any other key, a key in the header, a wrong algorithm: 401, for good.
    for (proof, want) in [
        (
            thief.dbsc(&bound.challenge, false, None),
            ProofError::BadSignature,
        ),
        (
            key.dbsc(&bound.challenge, true, None),
            ProofError::UnexpectedKey,
        ),
        (
            key.proof(
                &serde_json::json!({"alg": "RS256", "typ": "dbsc+jwt"}),
                &serde_json::json!({"jti": bound.challenge}),
            ),
            ProofError::AlgorithmKeyMismatch,
        ),
    ] {
        let response = refresh(&f.app, &bound, Some(&proof)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{want:?}");
        assert_eq!(reason(&response), Some(want));
        assert!(set_cookies(&response).is_empty());
    }
    // A session id naming another key than the credential's: final too.
    let mut wrong_id = Bound {
        ..bound_clone(&bound)
    };
    wrong_id.id = other_session.id.clone();
    let response = refresh(
        &f.app,
        &wrong_id,
        Some(&key.dbsc(&bound.challenge, false, None)),
    )
    .await;
    assert_eq!(reason(&response), Some(ProofError::KeyMismatch));
    // Another session's challenge, or a stale one, after a valid signature: a new challenge.
    let response = refresh(
        &f.app,
        &bound,
        Some(&key.dbsc(&other_session.challenge, false, None)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(reason(&response), Some(ProofError::WrongChallenge));
    assert!(response.headers().contains_key("secure-session-challenge"));
    f.clock.set(T0 + BOUND + 300 + 1);
    let response = refresh(
        &f.app,
        &bound,
        Some(&key.dbsc(&bound.challenge, false, None)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(reason(&response), Some(ProofError::ExpiredChallenge));
}

fn bound_clone(b: &Bound) -> Bound {
    Bound {
        session: b.session.clone(),
        refresh: b.refresh.clone(),
        id: b.id.clone(),
        challenge: b.challenge.clone(),
    }
}

async fn ends(f: &Dbscf, bound: &Bound, key: &ProofKey, why: &str) {
    let response = refresh(
        &f.app,
        bound,
        Some(&key.dbsc(&bound.challenge, false, None)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{why}");
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["continue"], false, "{why}: continue false");
    assert_eq!(body["session_identifier"], bound.id.as_str(), "{why}");
}

#[tokio::test]
async fn after_logout_revocation_or_the_absolute_deadline_refresh_answers_continue_false() {
    let f = fixture();
    let key = ProofKey::es256(1);
    // Logout: the response deletes the refresh credential; a kept copy is revoked.
    let (cookie, offer) = login(&f.app, "ada").await;
    let bound = register(&f.app, &key, &cookie, &offer).await;
    let response = send(&f.app, "POST", "/logout", Some(&bound.session)).await;
    let set = cookies(&response);
    assert!(
        set["session_dbsc"].1.contains("Max-Age=0"),
        "logout deletes the refresh credential"
    );
    ends(&f, &bound, &key, "after logout, with a kept copy").await;
    let gone = Bound {
        refresh: String::new(),
        ..bound_clone(&bound)
    };
    ends(&f, &gone, &key, "after logout, without the credential").await;
    // The absolute deadline.
    let (cookie, offer) = login(&f.app, "bob").await;
    let bound = register(&f.app, &key, &cookie, &offer).await;
    f.clock.set(T0 + ABSOLUTE + LEEWAY);
    ends(&f, &bound, &key, "past the absolute deadline").await;
}

#[tokio::test]
async fn a_request_with_secure_session_skipped_counts_as_having_no_session() {
    let f = fixture();
    let (cookie, _) = login(&f.app, "ada").await;
    let request = Request::get("/maybe")
        .header(header::COOKIE, &cookie)
        .header(
            "secure-session-skipped",
            "quota_exceeded;session_identifier=\"x\"",
        )
        .body(Body::empty())
        .expect("request");
    let response = f.app.clone().oneshot(request).await.expect("infallible");
    assert_eq!(kind(&response), Some(RejectionKind::RefreshSkipped));
    assert_eq!(body_text(response).await, "anonymous");
}

#[tokio::test]
async fn unbound_sessions_are_kept_unless_the_grace_policy_refuses_them() {
    let f = fixture();
    let (cookie, _) = login(&f.app, "ada").await;
    f.clock.set(T0 + REFRESH);
    let response = send(&f.app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a browser without DBSC goes on"
    );
    let refreshed = claims_of(&f.layer, &cookie_pair(&response));
    assert_eq!(
        refreshed.exp,
        T0 + REFRESH + IDLE,
        "an unbound session still slides"
    );
    assert!(refreshed.cnf.is_none());

    let f = fixture_with(Some(Duration::from_secs(300)));
    let (cookie, offer) = login(&f.app, "ada").await;
    let bound = register(&f.app, &ProofKey::es256(1), &cookie, &offer).await;
    let (unbound, _) = login(&f.app, "bob").await;
    f.clock.set(T0 + 299);
    assert_eq!(
        send(&f.app, "GET", "/me", Some(&unbound)).await.status(),
        StatusCode::OK
    );
    f.clock.set(T0 + 300);
    let late = send(&f.app, "GET", "/me", Some(&unbound)).await;
    assert_eq!(
        kind(&late),
        Some(RejectionKind::Unbound),
        "past the grace period"
    );
    assert_eq!(
        send(&f.app, "GET", "/me", Some(&bound.session))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_data_change_or_key_rotation_never_raises_a_bound_cookies_exp() {
    let clock = ManualClock::new(T0);
    let keys = KeyRingHandle::new(KeyRing::new(key("k1")));
    let layer = dbsc_layer(&clock, keys.clone()).build().expect("layer");
    let app = app(layer.clone());
    let (cookie, offer) = login(&app, "ada").await;
    let bound = register(&app, &ProofKey::es256(1), &cookie, &offer).await;
    clock.set(T0 + 300);
    let response = send(&app, "POST", "/promote", Some(&bound.session)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let set = cookies(&response);
    let changed = claims_of(&layer, &format!("session={}", set["session"].0));
    assert_eq!(changed.exp, T0 + BOUND, "a data change keeps exp");
    assert!(changed.data.roles.contains(&"admin".to_owned()));
    let refresh_claims = claims_of(&layer, &format!("x={}", set["session_dbsc"].0));
    assert_eq!(
        refresh_claims.data, changed.data,
        "the refresh credential follows the data"
    );
    assert_eq!(
        refresh_claims.exp,
        T0 + IDLE,
        "its exp counts from the last proof"
    );
    // A rotation re-signs at once, with the same exp.
    keys.replace(KeyRing::from_keys([key("k2"), key("k1")]).expect("ring"));
    let response = send(&app, "GET", "/me", Some(&bound.session)).await;
    let rotated = claims_of(&layer, &cookie_pair_named(&response, "session"));
    assert_eq!(rotated.exp, T0 + BOUND, "a rotation keeps exp");
    assert_eq!(kid_of(&cookie_pair_named(&response, "session")), "k2");
    // A refresh due by age does nothing to a bound cookie.
    clock.set(T0 + 400);
    let response = send(&app, "GET", "/me", Some(&bound.session)).await;
    assert!(
        cookies(&response)
            .get("session")
            .is_none_or(|(v, _)| claims_of(&layer, &format!("s={v}")).exp == T0 + BOUND)
    );
}

fn cookie_pair_named<B>(response: &Response<B>, name: &str) -> String {
    format!("{name}={}", cookies(response)[name].0)
}
