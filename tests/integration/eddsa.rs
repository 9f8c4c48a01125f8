//! EdDSA (Ed25519) keys through the whole layer: sessions, refresh, the verify cache,
//! migration between HS256 and EdDSA both ways, revocation, size budgets, and a
//! verify-only downstream that holds only the public key.

use std::time::Duration;

use crate::common::*;
use axum::body::Body;
use http::{Request, StatusCode, header};
use tower::ServiceExt;
use tower_stateless_session::revocation::MemoryRevocations;
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::{Key, KeyRing, KeyRingHandle, RejectionKind, SessionLayer};

fn node_key() -> Key {
    Key::ed25519_from_seed("node-a", &[0x5a; 32]).expect("valid seed")
}

#[tokio::test]
async fn eddsa_sessions_refresh_with_the_cache_on_and_off() {
    for cache in [4096, 0] {
        let clock = ManualClock::new(T0);
        let keys = KeyRingHandle::new(KeyRing::new(node_key()));
        let app = app(layer(keys, &clock).with_verify_cache(cache));
        let cookie = login_cookie(&app, "ada").await;
        assert_eq!(header_of(&cookie)["alg"], "EdDSA", "cache {cache}");
        assert_eq!(header_of(&cookie)["kid"], "node-a");

        for _ in 0..3 {
            let response = send(&app, "GET", "/me", Some(&cookie)).await;
            assert_eq!(response.status(), StatusCode::OK, "cache {cache}");
            assert!(
                set_cookies(&response).is_empty(),
                "young tokens are not re-signed"
            );
        }
        clock.advance(Duration::from_secs(REFRESH));
        let response = send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let refreshed = cookie_pair(&response);
        assert_ne!(refreshed, cookie, "a due refresh re-signs (cache {cache})");
        assert_eq!(header_of(&refreshed)["alg"], "EdDSA");

        // Past the idle timeout the old token dies, from the cache or not.
        clock.advance(Duration::from_secs(IDLE + LEEWAY));
        let response = send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(kind(&response), Some(RejectionKind::Expired));
    }
}

#[tokio::test]
async fn sessions_migrate_from_hs256_to_eddsa_and_back_without_logout() {
    let clock = ManualClock::new(T0);
    let keys = KeyRingHandle::new(KeyRing::new(key("k1")));
    let app = app(layer(keys.clone(), &clock));
    let hs_cookie = login_cookie(&app, "ada").await;
    assert_eq!(header_of(&hs_cookie)["alg"], "HS256");

    // Forward: the node key issues, the HS256 key verifies; the next request moves over.
    keys.replace(KeyRing::from_keys([node_key(), key("k1")]).expect("ring"));
    let response = send(&app, "GET", "/me", Some(&hs_cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let ed_cookie = cookie_pair(&response);
    assert_eq!(
        header_of(&ed_cookie)["alg"],
        "EdDSA",
        "re-signed with EdDSA"
    );
    let same_session = |a: String, b: String| {
        let sid = |s: &str| s.split(' ').nth(1).map(str::to_owned);
        assert_eq!(sid(&a), sid(&b), "the session id survives migration");
    };
    same_session(
        body_text(send(&app, "GET", "/me", Some(&hs_cookie)).await).await,
        body_text(send(&app, "GET", "/me", Some(&ed_cookie)).await).await,
    );

    // Back: HS256 issues again, the Ed25519 public key is enough to verify.
    keys.replace(
        KeyRing::from_keys([key("k1"), node_key().public_key().expect("Ed25519")]).expect("ring"),
    );
    let response = send(&app, "GET", "/me", Some(&ed_cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let back = cookie_pair(&response);
    assert_eq!(header_of(&back)["alg"], "HS256");
    let response = send(&app, "GET", "/me", Some(&back)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookies(&response).is_empty());
}

#[tokio::test]
async fn revocation_applies_to_eddsa_sessions() {
    let clock = ManualClock::new(T0);
    let keys = KeyRingHandle::new(KeyRing::new(node_key()));
    let store = MemoryRevocations::new();
    let app =
        app(layer(keys, &clock).with_revocation(store.clone(), |u: &User| Some(u.sub.as_str())));
    let cookie = login_cookie(&app, "ada").await;
    assert_eq!(
        send(&app, "GET", "/me", Some(&cookie)).await.status(),
        StatusCode::OK
    );
    let response = send(&app, "POST", "/logout", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(RejectionKind::Revoked));
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn the_cookie_budget_counts_the_longer_eddsa_signature() {
    let clock = ManualClock::new(T0);
    let keys = KeyRingHandle::new(KeyRing::new(node_key()));
    let app_default = app(layer(keys.clone(), &clock));
    let size = login_cookie(&app_default, "ada").await.len();

    let fits = app(layer(keys.clone(), &clock).with_cookie_budget(size));
    assert_eq!(
        send(&fits, "POST", "/login/ada", None).await.status(),
        StatusCode::OK,
        "a budget of exactly {size} bytes holds the EdDSA cookie"
    );
    let too_small = app(layer(keys, &clock).with_cookie_budget(size - 1));
    let response = send(&too_small, "POST", "/login/ada", None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        set_cookies(&response).is_empty(),
        "an oversized token is never sent"
    );
}

#[tokio::test]
async fn a_downstream_with_only_the_public_key_verifies_and_cannot_sign() {
    let clock = ManualClock::new(T0);
    let gateway = app(layer(KeyRing::new(node_key()), &clock));
    let cookie = login_cookie(&gateway, "ada").await;
    let token = cookie.split_once('=').expect("pair").1.to_owned();

    let public = KeyRing::new(node_key().public_key().expect("Ed25519"));
    assert!(public.issuing_key().is_none());
    let downstream = routes().layer(
        SessionLayer::<User>::verify_only(public)
            .with_clock(clock.clone())
            .with_idle_timeout(Duration::from_secs(IDLE)),
    );
    let call = |auth: String| {
        let downstream = downstream.clone();
        async move {
            let request = Request::get("/me")
                .header(header::AUTHORIZATION, auth)
                .body(Body::empty())
                .expect("request");
            downstream.oneshot(request).await.expect("infallible")
        }
    };
    let response = call(format!("Bearer {token}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await.split(' ').next(), Some("ada"));

    // A token the downstream signed itself would need the private key: it has none, so the
    // best it can do is an HS256 token keyed with the public key, which is refused.
    let public_bytes = node_key().ed25519_public_bytes().expect("Ed25519");
    let forger = Key::hs256("node-a", &public_bytes).expect("32 bytes");
    let forged_layer = SessionLayer::<User>::new(KeyRing::new(forger)).with_clock(clock.clone());
    let forged_app = app(forged_layer);
    let forged = login_cookie(&forged_app, "mallory").await;
    let forged_token = forged.split_once('=').expect("pair").1;
    let response = call(format!("Bearer {forged_token}")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(RejectionKind::UnsupportedAlgorithm));
}
