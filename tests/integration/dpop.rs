//! DPoP through the whole layer: a login with a proof gets a bound token, every request
//! then needs `Authorization: DPoP` and a fresh proof, refusals answer as RFC 9449 says,
//! and the replay cache and the nonce work.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use tower::ServiceExt as _;
use tower_stateless_session::pop::dpop::Dpop;
use tower_stateless_session::pop::{ChallengeKey, ProofError};
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::token::Binding;
use tower_stateless_session::{ConfigError, KeyRing, RejectionKind, SessionLayer, Transport};

use crate::common::*;
use crate::pop_support::ProofKey;

const ORIGIN: &str = "https://api.example.com";

struct F {
    clock: ManualClock,
    app: Router,
    layer: SessionLayer<User>,
}

fn fixture(dpop: Dpop) -> F {
    let clock = ManualClock::new(T0);
    let layer = layer(KeyRing::new(key("k1")), &clock)
        .with_transport(Transport::Bearer)
        .with_dpop(dpop.with_external_origin(ORIGIN))
        .build()
        .expect("a valid layer");
    F {
        clock,
        app: app(layer.clone()),
        layer,
    }
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    auth: Option<&str>,
    proof: Option<&str>,
) -> Response<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "api.example.com");
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

fn url(path: &str) -> String {
    format!("{ORIGIN}{path}")
}

/// Logs in with a proof of `key`: the bound token.
async fn login(f: &F, key: &ProofKey, jti: &str) -> String {
    let now = f.clock.now_secs();
    let proof = key.dpop("POST", &url("/login/ada"), now, jti, None, None);
    let response = call(&f.app, "POST", "/login/ada", None, Some(&proof)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "login: {:?}",
        kind(&response)
    );
    response.headers()["x-session-token"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

fn www<B>(response: &Response<B>) -> String {
    response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

fn reason<B>(response: &Response<B>) -> Option<ProofError> {
    response.extensions().get::<ProofError>().copied()
}

trait Now {
    fn now_secs(&self) -> u64;
}

impl Now for ManualClock {
    fn now_secs(&self) -> u64 {
        use tower_stateless_session::time::Clock as _;
        self.now()
    }
}

#[tokio::test]
async fn a_login_with_a_proof_gets_a_token_bound_to_its_key_and_requests_need_fresh_proofs() {
    let f = fixture(Dpop::new());
    let key = ProofKey::es256(5);
    let token = login(&f, &key, "login-1").await;
    let claims = crate::pop_support::claims_of_token(&token);
    let cnf = claims.cnf.expect("a bound token");
    assert_eq!(
        (cnf.jkt.as_str(), cnf.binding),
        (key.thumbprint().as_str(), Binding::Dpop)
    );
    let auth = format!("DPoP {token}");
    let proof = key.dpop("GET", &url("/me"), T0, "me-1", Some(&token), None);
    let me = call(&f.app, "GET", "/me", Some(&auth), Some(&proof)).await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "{:?} {:?}",
        kind(&me),
        reason(&me)
    );
    // The same proof again: replayed.
    let again = call(&f.app, "GET", "/me", Some(&auth), Some(&proof)).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&again), Some(ProofError::Replayed));
    assert!(
        www(&again).contains(r#"error="invalid_dpop_proof""#),
        "{}",
        www(&again)
    );
    // No proof.
    let none = call(&f.app, "GET", "/me", Some(&auth), None).await;
    assert_eq!(kind(&none), Some(RejectionKind::ProofMissing));
    assert!(www(&none).starts_with("DPoP"), "{}", www(&none));
    // The same token as Bearer.
    let proof = key.dpop("GET", &url("/me"), T0, "me-2", Some(&token), None);
    let bearer = call(
        &f.app,
        "GET",
        "/me",
        Some(&format!("Bearer {token}")),
        Some(&proof),
    )
    .await;
    assert_eq!(
        kind(&bearer),
        Some(RejectionKind::WrongBinding),
        "a DPoP token is not a bearer token"
    );
    // Wrong method, URL and token hash, and an iat outside the window.
    for (proof, want) in [
        (
            key.dpop("POST", &url("/me"), T0, "w1", Some(&token), None),
            ProofError::WrongMethod,
        ),
        (
            key.dpop("GET", &url("/other"), T0, "w2", Some(&token), None),
            ProofError::WrongUrl,
        ),
        (
            key.dpop("GET", &url("/me"), T0, "w3", Some("other"), None),
            ProofError::WrongTokenHash,
        ),
        (
            key.dpop("GET", &url("/me"), T0 - 61, "w4", Some(&token), None),
            ProofError::IatOutOfWindow,
        ),
    ] {
        let response = call(&f.app, "GET", "/me", Some(&auth), Some(&proof)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{want:?}");
        assert_eq!(reason(&response), Some(want));
        assert!(www(&response).contains("invalid_dpop_proof"));
    }
}

#[tokio::test]
async fn a_proof_from_another_key_is_refused() {
    let f = fixture(Dpop::new());
    let token = login(&f, &ProofKey::es256(5), "l").await;
    let thief = ProofKey::es256(6);
    let proof = thief.dpop("GET", &url("/me"), T0, "t1", Some(&token), None);
    let response = call(
        &f.app,
        "GET",
        "/me",
        Some(&format!("DPoP {token}")),
        Some(&proof),
    )
    .await;
    assert_eq!(reason(&response), Some(ProofError::KeyMismatch));
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_login_without_a_proof_is_refused_and_an_unbound_token_is_refused() {
    let f = fixture(Dpop::new());
    let response = call(&f.app, "POST", "/login/ada", None, None).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "no proof, no session"
    );
    assert!(response.headers().get("x-session-token").is_none());
    // An unbound token signed with the same key (another layer's, say).
    let codec = f.layer.codec();
    let unbound = codec
        .sign(&codec.new_claims(user("ada")).expect("claims"))
        .expect("sign");
    let proof = ProofKey::es256(5).dpop("GET", &url("/me"), T0, "u1", Some(&unbound), None);
    let response = call(
        &f.app,
        "GET",
        "/me",
        Some(&format!("DPoP {unbound}")),
        Some(&proof),
    )
    .await;
    assert_eq!(kind(&response), Some(RejectionKind::Unbound));
}

#[tokio::test]
async fn a_due_refresh_extends_a_dpop_token_against_the_requests_proof() {
    let f = fixture(Dpop::new());
    let key = ProofKey::es256(5);
    let token = login(&f, &key, "l").await;
    f.clock.set(T0 + REFRESH);
    let proof = key.dpop("GET", &url("/me"), T0 + REFRESH, "r1", Some(&token), None);
    let response = call(
        &f.app,
        "GET",
        "/me",
        Some(&format!("DPoP {token}")),
        Some(&proof),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh = response.headers()["x-session-token"]
        .to_str()
        .expect("ascii");
    assert_eq!(
        crate::pop_support::claims_of_token(fresh).exp,
        T0 + REFRESH + IDLE
    );
}

#[tokio::test]
async fn a_required_nonce_is_asked_for_then_accepted() {
    let f = fixture(Dpop::new().with_nonce(ChallengeKey::new(&[3; 32]).expect("key")));
    let key = ProofKey::es256(5);
    let proof = key.dpop("POST", &url("/login/ada"), T0, "n1", None, None);
    let response = call(&f.app, "POST", "/login/ada", None, Some(&proof)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        www(&response).contains(r#"error="use_dpop_nonce""#),
        "{}",
        www(&response)
    );
    let nonce = response.headers()["dpop-nonce"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let proof = key.dpop("POST", &url("/login/ada"), T0, "n2", None, Some(&nonce));
    let response = call(&f.app, "POST", "/login/ada", None, Some(&proof)).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", reason(&response));
    // A forged nonce.
    let proof = key.dpop("POST", &url("/login/ada"), T0, "n3", None, Some("forged"));
    let response = call(&f.app, "POST", "/login/ada", None, Some(&proof)).await;
    assert_eq!(kind(&response), Some(RejectionKind::NonceRequired));
}

#[test]
fn dpop_settings_are_checked_when_the_layer_is_built() {
    let narrow = SessionLayer::<User>::new(KeyRing::new(key("k1")))
        .with_transport(Transport::Bearer)
        .with_dpop(Dpop::new().with_iat_window(Duration::from_secs(2)))
        .build();
    assert!(
        matches!(narrow, Err(ConfigError::InvalidSetting { .. })),
        "under 5 s"
    );
    let cookie = SessionLayer::<User>::new(KeyRing::new(key("k1")))
        .with_dpop(Dpop::new())
        .build();
    assert!(
        matches!(cookie, Err(ConfigError::InvalidSetting { .. })),
        "DPoP needs a header"
    );
    let origin = SessionLayer::<User>::new(KeyRing::new(key("k1")))
        .with_transport(Transport::Bearer)
        .with_dpop(Dpop::new().with_external_origin("https://a.example/path"))
        .build();
    assert!(
        matches!(origin, Err(ConfigError::InvalidSetting { .. })),
        "an origin has no path"
    );
}
