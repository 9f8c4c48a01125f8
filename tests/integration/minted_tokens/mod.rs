//! Minted downstream tokens end to end over real sockets: a gateway with cookie sessions
//! mints a token per downstream service and serves its public keys at
//! `/.well-known/jwks.json` (`JwksService`); each downstream runs `verify_only` with its
//! own audience and a `JwksVerifier` fetching that URL, so it holds no key it was handed;
//! a middle service mints for the next hop, and publishes its own key the same way.
//!
//! ```text
//! browser ──cookie──▶ gateway ──minted(aud=profile)──▶ profile
//!                        │ ────minted(aud=billing)──▶ billing
//!                        └───minted(aud=orders)───▶ orders ──minted(aud=ledger, act=orders)──▶ ledger
//!   profile, billing, orders ──GET /.well-known/jwks.json──▶ gateway
//!   ledger ──GET /.well-known/jwks.json──▶ orders
//! ```
//!
//! Every service reads downstream bodies to their end through one pooled client per
//! audience, so connections go back to their pool (see `tests/connection_leak.rs`).
//! Key rotation at the gateway, and a new gateway node, with JWKS refetches: `rotation.rs`.

mod jwks;
mod net;
mod rotation;

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{body_text, fetch, kind, serve, set_cookie_pair};
use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use base64::Engine as _;
use http::{Request, StatusCode, header};
use jwks::{JWKS_PATH, fetched_jwks, jsonwebtoken_verify};
use net::*;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_stateless_session::keys::jwks::{JwksService, JwksVerifier};
use tower_stateless_session::propagate::Minter;
use tower_stateless_session::time::{Clock, ManualClock, SystemClock};
use tower_stateless_session::{
    Key, KeyRing, KeyRingHandle, RejectionKind, Session, SessionHandle, SessionLayer,
};

fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("segment");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&json).expect("JSON")
}

/// `GET /whoami` on a downstream with `Authorization: Bearer <token>`.
async fn present(addr: SocketAddr, token: &str) -> (StatusCode, String) {
    let bearer = format!("Bearer {token}");
    let (status, _, body) = fetch(addr, "GET", "/whoami", &[("authorization", &bearer)]).await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_downstream_gets_a_short_lived_token_naming_it_with_the_projection_only() {
    let net = start(Signing::Node).await;
    let cookie = net.login("ada").await;
    let (token, body) = net.token_for("profile", &cookie).await;

    let header = segment(&token, 0);
    assert_eq!(header["typ"], "downstream+jwt", "{header}");
    assert_eq!(header["alg"], "EdDSA");
    let claims = segment(&token, 1);
    let mut names: Vec<&str> = claims
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["aud", "exp", "iat", "iss", "roles", "sid", "sub"],
        "registered claims and the projection only (no email): {claims}"
    );
    assert_eq!(claims["aud"], "profile");
    assert_eq!(claims["iss"], "gateway");
    assert_eq!(claims["sub"], "ada");
    assert_eq!(claims["roles"], json!(["reader"]));
    let (iat, exp) = (
        claims["iat"].as_u64().expect("iat"),
        claims["exp"].as_u64().expect("exp"),
    );
    assert_eq!(iat, net.t0);
    assert!(exp > iat && exp - iat <= LIFETIME, "{iat}..{exp}");

    // What the downstream answered is what it verified.
    assert_eq!(body["claims"]["aud"], "profile");
    assert_eq!(body["claims"]["exp"], exp);
    assert_eq!(body["data"], json!({ "sub": "ada", "roles": ["reader"] }));
    let session_token = cookie.split_once('=').expect("pair").1;
    assert_eq!(
        claims["sid"],
        segment(session_token, 1)["sid"],
        "the session's id"
    );

    // Signed with the gateway's node key, which its JWKS publishes.
    let node = net.node.as_ref().expect("node keys");
    assert_eq!(header["kid"], node.kid());

    // jsonwebtoken verifies it against the JWKS the gateway serves, for this audience and
    // no other.
    let set = fetched_jwks(net.gateway).await;
    let verified =
        jsonwebtoken_verify(&token, &set, "gateway", "profile").expect("jsonwebtoken accepts it");
    assert_eq!(verified["sub"], "ada");
    let other =
        jsonwebtoken_verify(&token, &set, "gateway", "billing").expect_err("wrong audience");
    assert_eq!(
        *other.kind(),
        jsonwebtoken::errors::ErrorKind::InvalidAudience
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_token_is_refused_everywhere_but_its_audience_until_it_expires() {
    for signing in [Signing::Separate, Signing::Shared, Signing::Node] {
        let shared = signing != Signing::Separate;
        let net = start(signing).await;
        let cookie = net.login("ada").await;
        let (token, _) = net.token_for("profile", &cookie).await;

        let (status, _) = present(net.profile, &token).await;
        assert_eq!(status, StatusCode::OK, "its own audience accepts it");
        let session_kid = segment(cookie.split_once('=').expect("pair").1, 0)["kid"].clone();
        assert_eq!(
            segment(&token, 0)["kid"] == session_kid,
            shared,
            "{signing:?}: one key for sessions and minted tokens, or two"
        );

        // At the gateway, as the session cookie or as a bearer token (`shared`: the very
        // key that signs sessions signed it, so only its type and claims tell it apart).
        let minted_cookie = format!("session={token}");
        let (status, _, _) = fetch(net.gateway, "GET", "/me", &[("cookie", &minted_cookie)]).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "gateway cookie ({signing:?})"
        );
        let bearer = format!("Bearer {token}");
        let (status, _, _) = fetch(
            net.bearer_gateway,
            "GET",
            "/me",
            &[("authorization", &bearer)],
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "gateway bearer ({signing:?})"
        );

        // At another audience's service.
        let (status, wrong_audience) = present(net.billing, &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "billing ({signing:?})");

        // The browser's session token, presented downstream.
        let session_token = cookie.split_once('=').expect("pair").1;
        let (status, session_refused) = present(net.profile, session_token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "session token ({signing:?})"
        );
        // And forwarded by a forwarding client: refused the same way.
        let (status, _) = net.via_gateway("/forward/profile", &cookie).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // Expired: past exp and the downstream's leeway.
        let exp = segment(&token, 1)["exp"].as_u64().expect("exp");
        net.clock.set(exp + DOWNSTREAM_LEEWAY - 1);
        assert_eq!(
            present(net.profile, &token).await.0,
            StatusCode::OK,
            "within the leeway"
        );
        net.clock.set(exp + DOWNSTREAM_LEEWAY);
        let (status, expired) = present(net.profile, &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "expired ({signing:?})");

        // The body never says which check failed.
        assert_eq!(wrong_audience, session_refused);
        assert_eq!(wrong_audience, expired);
        assert_eq!(expired, "401 Unauthorized: a valid session is required\n");

        // Meanwhile the gateway mints a fresh one: the session is alive and well.
        let (status, body) = net.via_gateway("/call/profile", &cookie).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_ne!(body["token"], token.as_str(), "re-minted");
    }
}

/// One request through `app` (in process), with one optional header; status, rejection
/// kind (for a layer that answered itself) and body.
async fn oneshot(
    app: &Router,
    method: &str,
    uri: &str,
    header: Option<(header::HeaderName, String)>,
) -> (StatusCode, Option<RejectionKind>, String) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let request = request.body(axum::body::Body::empty()).expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let refusal = kind(&response);
    (status, refusal, body_text(response).await)
}

#[tokio::test]
async fn each_refusal_has_its_kind_for_logs() {
    let clock = ManualClock::new(SystemClock.now());
    let node = KeyRingHandle::new(KeyRing::new(Key::generate_ed25519().expect("rng")));
    let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))
        .expect("valid issuer")
        .with_keys(node.clone())
        .with_clock(clock.clone());
    let ada = User {
        sub: "ada".into(),
        roles: vec![],
        email: String::new(),
    };
    let gateway = Router::new()
        .route(
            "/login",
            post(move |s: SessionHandle<User>| async move { s.login(ada).map(|_| "ok") }),
        )
        .route(
            "/mint/{aud}",
            get(move |s: Session<User>, Path(to): Path<String>| async move {
                let token = minter.mint(&s, &aud(&to)).map_err(|e| e.to_string())?;
                Ok::<_, String>(token.as_str().to_owned())
            }),
        )
        .route(
            "/why",
            get(|s: SessionHandle<User>| async move { format!("{:?}", s.rejection()) }),
        )
        .layer(SessionLayer::<User>::new(node.clone()).with_clock(clock.clone()));
    // The downstream fetches the gateway's public key from its JWKS over HTTP.
    let jwks_addr = serve(JwksService::new(node.clone())).await;
    let jwks = JwksVerifier::builder(&format!("http://{jwks_addr}{JWKS_PATH}"))
        .start()
        .expect("a verifier");
    assert!(jwks.wait_loaded(Duration::from_secs(10)).await);
    let downstream = Router::new()
        .route("/whoami", get(whoami))
        .layer(downstream_layer("profile", jwks.keys(), &clock));

    let login = gateway
        .clone()
        .oneshot(
            Request::post("/login")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    let cookie = set_cookie_pair(login.headers()).expect("cookie");
    let with_cookie = |value: &str| Some((header::COOKIE, value.to_owned()));
    let bearer = |token: &str| Some((header::AUTHORIZATION, format!("Bearer {token}")));
    let (_, _, token) = oneshot(&gateway, "GET", "/mint/profile", with_cookie(&cookie)).await;
    let (_, _, for_billing) = oneshot(&gateway, "GET", "/mint/billing", with_cookie(&cookie)).await;
    let session_token = cookie.split_once('=').expect("pair").1;

    let (status, _, _) = oneshot(&downstream, "GET", "/whoami", bearer(&token)).await;
    assert_eq!(status, StatusCode::OK);
    for (presented, kind) in [
        (session_token, RejectionKind::WrongType),
        (for_billing.as_str(), RejectionKind::WrongAudience),
    ] {
        let (status, got, _) = oneshot(&downstream, "GET", "/whoami", bearer(presented)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(got, Some(kind));
    }
    let minted_cookie = format!("session={token}");
    let (_, _, why) = oneshot(&gateway, "GET", "/why", with_cookie(&minted_cookie)).await;
    assert_eq!(
        why, "Some(WrongType)",
        "the gateway refuses a minted token as a session"
    );

    clock.advance(Duration::from_secs(LIFETIME + DOWNSTREAM_LEEWAY));
    let (status, got, _) = oneshot(&downstream, "GET", "/whoami", bearer(&token)).await;
    assert_eq!(
        (status, got),
        (StatusCode::UNAUTHORIZED, Some(RejectionKind::Expired))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audience_can_be_chosen_per_request() {
    let net = start(Signing::Node).await;
    let cookie = net.login("ada").await;
    for service in ["profile", "billing"] {
        let (status, body) = net
            .via_gateway(&format!("/per-request/{service}"), &cookie)
            .await;
        assert_eq!(status, StatusCode::OK, "{service}: {body}");
        assert_eq!(body["claims"]["aud"], service);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_hop_chain_keeps_the_subject_and_names_the_actor() {
    let net = start(Signing::Node).await;
    let cookie = net.login("ada").await;
    let (status, body) = net.via_gateway("/call/orders-chain", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let received = &body["orders"];
    assert_eq!(received["aud"], "orders");
    assert_eq!(received["iss"], "gateway");
    assert!(
        received.get("act").is_none(),
        "the first hop has no actor: {received}"
    );

    let ledger = &body["ledger"];
    assert_eq!(
        ledger["claims"]["sub"], "ada",
        "the original subject: {ledger}"
    );
    assert_eq!(ledger["claims"]["act"], json!({ "sub": "orders" }));
    assert_eq!(ledger["claims"]["iss"], "orders");
    assert_eq!(ledger["claims"]["aud"], "ledger");
    assert_eq!(
        ledger["claims"]["sid"], received["sid"],
        "one session id along the chain"
    );
    assert_eq!(ledger["data"], json!({ "sub": "ada", "roles": ["reader"] }));
    assert!(
        ledger["claims"]["exp"].as_u64() <= received["exp"].as_u64(),
        "the next hop's token does not outlive the one it came from: {body}"
    );

    // jsonwebtoken verifies the second hop against the JWKS orders serves (not the
    // gateway's: orders signed it).
    let ledger_token = ledger["token"].as_str().expect("token");
    let verified = jsonwebtoken_verify(
        ledger_token,
        &fetched_jwks(net.orders).await,
        "orders",
        "ledger",
    )
    .expect("jsonwebtoken accepts the second hop");
    assert_eq!(verified["act"], json!({ "sub": "orders" }));
    assert!(
        fetched_jwks(net.gateway)
            .await
            .find(segment(ledger_token, 0)["kid"].as_str().expect("kid"))
            .is_none(),
        "orders' key is not the gateway's"
    );

    // The token orders received is worth nothing at ledger, and ledger's at orders.
    let (orders_token, _) = net.token_for("orders", &cookie).await;
    assert_eq!(present(net.orders, &orders_token).await.0, StatusCode::OK);
    assert_eq!(
        present(net.ledger, &orders_token).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        present(net.orders, ledger_token).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_follows_the_session_of_the_request_and_its_spawned_work() {
    let net = start(Signing::Node).await;
    let cookie = net.login("ada").await;

    // A login inside the request: the token is minted from the new session.
    let (status, _, body) = fetch(
        net.gateway,
        "POST",
        "/login-and-call/grace",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["data"], json!({ "sub": "grace", "roles": ["writer"] }));

    // Spawned work mints in the session's scope; without it there is nothing to mint
    // from, and a session token in the extensions is never forwarded by a minting client.
    let (status, body) = net.via_gateway("/spawned/scoped", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["claims"]["aud"], "profile");
    for how in ["bare", "token"] {
        let (status, _) = net.via_gateway(&format!("/spawned/{how}"), &cookie).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{how}");
    }
}
