//! The encrypted mode through the whole layer: an encryption key first in the ring makes
//! every new token a JWE, and everything the signed mode does still works: rolling refresh,
//! idle and absolute deadlines, renew, logout and revocation, the size budgets (counting the
//! JWE), the verify cache, forwarding to a downstream service, rotation and migration from
//! signed to encrypted tokens and back without logging anyone out.

use crate::common::*;
use axum::Router;
use http::StatusCode;
use josekit::jwe::{self as josekit_jwe, JweHeader};
use serde_json::json;
use tower_stateless_session::keys::KeyManagement;
use tower_stateless_session::revocation::MemoryRevocations;
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::{
    ConfigError, Key, KeyRing, KeyRingHandle, RejectionKind, SessionLayer, Transport,
};

const ENC_SECRET: &[u8; 32] = b"encrypted-layer-test-secret-32b!";
const MODES: [KeyManagement; 2] = [KeyManagement::A256KW, KeyManagement::Dir];

fn enc_key(kid: &str, mode: KeyManagement) -> Key {
    let secret: Vec<u8> = kid.bytes().chain(*ENC_SECRET).take(32).collect();
    Key::encryption(kid, mode, &secret).expect("encryption key")
}

fn enc_secret(kid: &str) -> Vec<u8> {
    kid.bytes().chain(*ENC_SECRET).take(32).collect()
}

struct Enc {
    clock: ManualClock,
    keys: KeyRingHandle,
    app: Router,
}

fn encrypted(mode: KeyManagement) -> Enc {
    let clock = ManualClock::new(T0);
    let keys = KeyRingHandle::new(KeyRing::new(enc_key("e1", mode)));
    let app = app(layer(keys.clone(), &clock));
    Enc { clock, keys, app }
}

/// The claims of an encrypted cookie, as josekit (an independent JOSE library) reads them
/// with the key.
fn josekit_claims(mode: KeyManagement, kid: &str, token: &str) -> serde_json::Value {
    let secret = enc_secret(kid);
    let (payload, header) = match mode {
        KeyManagement::A256KW => {
            let d = josekit_jwe::A256KW.decrypter_from_bytes(&secret).unwrap();
            josekit_jwe::deserialize_compact(token, &d)
        }
        _ => {
            let d = josekit_jwe::Dir.decrypter_from_bytes(&secret).unwrap();
            josekit_jwe::deserialize_compact(token, &d)
        }
    }
    .expect("josekit opens the layer's cookie");
    assert_eq!(header.key_id(), Some(kid));
    serde_json::from_slice(&payload).expect("claims JSON")
}

#[tokio::test]
async fn login_issues_an_opaque_jwe_that_the_next_request_reads() {
    for mode in MODES {
        let e = encrypted(mode);
        let cookie = login_cookie(&e.app, "alice").await;
        let token = token_of(&cookie);
        let segments: Vec<&str> = token.split('.').collect();
        assert_eq!(segments.len(), 5, "{mode}: a compact JWE has five segments");
        assert_eq!(segments[1].is_empty(), mode == KeyManagement::Dir, "{mode}");
        // Nothing of the claims is readable: no segment decodes to JSON holding them.
        for segment in &segments[1..] {
            let bytes =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, segment)
                    .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("alice") && !text.contains("\"sid\""),
                "{mode}: {text}"
            );
        }
        let claims = josekit_claims(mode, "e1", token);
        assert_eq!(claims["sub"], "alice", "{mode}");
        assert_eq!(claims["iat"], T0, "{mode}");

        let response = send(&e.app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "{mode}");
        assert!(body_text(response).await.starts_with("alice "), "{mode}");
    }
}

#[tokio::test]
async fn rolling_refresh_and_both_deadlines_work_encrypted() {
    for mode in MODES {
        let e = encrypted(mode);
        let first = login_cookie(&e.app, "bob").await;
        let sid = josekit_claims(mode, "e1", token_of(&first))["sid"].clone();

        e.clock.set(T0 + REFRESH - 1);
        let response = send(&e.app, "GET", "/me", Some(&first)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            set_cookies(&response).is_empty(),
            "{mode}: refreshed too early"
        );

        e.clock.set(T0 + REFRESH);
        let response = send(&e.app, "GET", "/me", Some(&first)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let second = cookie_pair(&response);
        let claims = josekit_claims(mode, "e1", token_of(&second));
        assert_eq!(
            (claims["sid"].clone(), claims["iat"].clone()),
            (sid, json!(T0 + REFRESH))
        );
        assert_eq!(claims["auth_time"], T0, "{mode}: auth_time kept");

        // Idle: the old token dies at its own deadline, the refreshed one lives on.
        e.clock.set(T0 + IDLE + LEEWAY);
        let response = send(&e.app, "GET", "/me", Some(&first)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{mode}");
        assert_eq!(kind(&response), Some(RejectionKind::Expired), "{mode}");
        let response = send(&e.app, "GET", "/me", Some(&second)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{mode}: refreshed token died"
        );

        // Absolute: kept busy, the session still ends at auth_time + ABSOLUTE.
        let mut cookie = cookie_pair(&response);
        let mut now = T0 + IDLE + LEEWAY;
        let status = loop {
            now += IDLE / 2;
            e.clock.set(now);
            let response = send(&e.app, "GET", "/me", Some(&cookie)).await;
            if response.status() != StatusCode::OK {
                break (response.status(), kind(&response));
            }
            if let Some(pair) = set_cookies(&response).first() {
                cookie = pair.split(';').next().unwrap().to_owned();
            }
            assert!(now < T0 + ABSOLUTE + IDLE, "{mode}: never ended");
        };
        assert_eq!(status.0, StatusCode::UNAUTHORIZED, "{mode}");
        assert!(
            now >= T0 + ABSOLUTE,
            "{mode}: ended before the absolute deadline"
        );
        assert!(
            matches!(
                status.1,
                Some(RejectionKind::Expired | RejectionKind::AbsoluteTimeout)
            ),
            "{mode}: {:?}",
            status.1
        );
    }
}

#[tokio::test]
async fn renew_logout_and_revocation_work_encrypted() {
    for mode in MODES {
        let clock = ManualClock::new(T0);
        let store = MemoryRevocations::new();
        let keys = KeyRingHandle::new(KeyRing::new(enc_key("e1", mode)));
        let app = app(
            layer(keys, &clock).with_revocation(store.clone(), |u: &User| Some(u.sub.as_str()))
        );
        let cookie = login_cookie(&app, "carol").await;
        let sid = josekit_claims(mode, "e1", token_of(&cookie))["sid"].clone();

        let response = send(&app, "POST", "/renew", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let renewed = cookie_pair(&response);
        assert_ne!(
            josekit_claims(mode, "e1", token_of(&renewed))["sid"],
            sid,
            "{mode}"
        );

        let response = send(&app, "POST", "/logout", Some(&renewed)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let deletion = the_cookie(&response);
        assert_eq!(deletion.value(), "", "{mode}: logout deletes the cookie");
        let response = send(&app, "GET", "/me", Some(&renewed)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{mode}");
        assert_eq!(kind(&response), Some(RejectionKind::Revoked), "{mode}");
    }
}

#[tokio::test]
async fn the_size_budget_counts_the_jwe() {
    // A budget the signed token fits in and the encrypted one (of the same data) does not.
    let clock = ManualClock::new(T0);
    let signed_app = app(layer(KeyRing::new(key("k1")), &clock));
    let signed = login_cookie(&signed_app, "dave").await;
    let budget = signed.len() + 20;
    for mode in MODES {
        let ring = KeyRingHandle::new(KeyRing::new(enc_key("e1", mode)));
        let app = app(layer(ring.clone(), &clock).with_cookie_budget(budget));
        let response = send(&app, "POST", "/login/dave", None).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{mode}: a {budget}-byte budget must not fit the JWE"
        );
        assert!(
            set_cookies(&response).is_empty(),
            "{mode}: an oversized cookie was sent"
        );

        // Inbound: a JWE cookie over the budget is answered 431 before any decryption.
        let roomy = app_with_budget(ring, &clock, 4096);
        let cookie = login_cookie(&roomy, "dave").await;
        let small = app_with_budget(
            KeyRingHandle::new(KeyRing::new(enc_key("e1", mode))),
            &clock,
            cookie.len() - 1,
        );
        let response = send(&small, "GET", "/me", Some(&cookie)).await;
        assert_eq!(
            response.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{mode}: 431 for a JWE over the cookie budget"
        );
    }
}

fn app_with_budget(keys: KeyRingHandle, clock: &ManualClock, budget: usize) -> Router {
    app(layer(keys, clock).with_cookie_budget(budget))
}

#[tokio::test]
async fn the_verify_cache_never_serves_an_altered_jwe() {
    for mode in MODES {
        let e = encrypted(mode);
        let cookie = login_cookie(&e.app, "erin").await;
        // Twice, so the second is a cache hit.
        for _ in 0..2 {
            let response = send(&e.app, "GET", "/me", Some(&cookie)).await;
            assert_eq!(response.status(), StatusCode::OK, "{mode}");
        }
        // Same tag (the cache slot), another ciphertext: a different token, refused.
        let token = token_of(&cookie);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let flipped = if parts[3].starts_with('A') { "B" } else { "A" };
        parts[3].replace_range(0..1, flipped);
        let altered = format!("session={}", parts.join("."));
        let response = send(&e.app, "GET", "/me", Some(&altered)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{mode}");
        assert_eq!(
            kind(&response),
            Some(RejectionKind::DecryptionFailed),
            "{mode}"
        );
    }
}

/// A downstream service in verify-only mode with the token in `Authorization: Bearer`.
fn downstream(ring: KeyRing, clock: &ManualClock, purpose: Option<&str>) -> Router {
    let mut layer = SessionLayer::<User>::verify_only(ring)
        .with_clock(clock.clone())
        .with_transport(Transport::Bearer);
    if let Some(purpose) = purpose {
        layer = layer.with_token_purpose(purpose);
    }
    routes().layer(layer)
}

#[tokio::test]
async fn a_forwarded_jwe_is_read_downstream_with_the_shared_key_only() {
    for mode in MODES {
        let e = encrypted(mode);
        let cookie = login_cookie(&e.app, "frank").await;
        let token = token_of(&cookie);

        // The gateway's cookie is `session`, the downstream's default purpose too.
        let shared = downstream(KeyRing::new(enc_key("e1", mode)), &e.clock, None);
        let response = bearer(&shared, token).await;
        assert_eq!(response.status(), StatusCode::OK, "{mode}: shared key");
        assert!(body_text(response).await.starts_with("frank "));

        let other_key = downstream(KeyRing::new(enc_key("e9", mode)), &e.clock, None);
        let response = bearer(&other_key, token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{mode}");
        assert_eq!(kind(&response), Some(RejectionKind::UnknownKey));

        let signing_only = downstream(KeyRing::new(key("k1")), &e.clock, None);
        let response = bearer(&signing_only, token).await;
        assert_eq!(kind(&response), Some(RejectionKind::UnknownKey), "{mode}");

        let other_purpose = downstream(
            KeyRing::new(enc_key("e1", mode)),
            &e.clock,
            Some("admin-session"),
        );
        let response = bearer(&other_purpose, token).await;
        assert_eq!(kind(&response), Some(RejectionKind::WrongType), "{mode}");
    }
}

#[tokio::test]
async fn a_token_issued_for_one_cookie_is_refused_under_another() {
    let clock = ManualClock::new(T0);
    let ring = KeyRingHandle::new(KeyRing::new(enc_key("e1", KeyManagement::A256KW)));
    let a = app(layer(ring.clone(), &clock).with_cookie_name("app-a"));
    let b = app(layer(ring.clone(), &clock).with_cookie_name("app-b"));
    let cookie = login_cookie(&a, "grace").await;
    let moved = format!("app-b={}", token_of(&cookie));
    let response = send(&b, "GET", "/me", Some(&moved)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(RejectionKind::WrongType));
    // An explicit purpose lets both accept each other's tokens.
    let b_shared = app(layer(ring, &clock)
        .with_cookie_name("app-b")
        .with_token_purpose("app-a"));
    let response = send(&b_shared, "GET", "/me", Some(&moved)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// Signed to encrypted and back, each at the next request, with no logout: the first key of
/// the ring issues, the others only verify or decrypt.
#[tokio::test]
async fn sessions_migrate_between_signed_and_encrypted_without_logout() {
    for mode in MODES {
        let clock = ManualClock::new(T0);
        let keys = KeyRingHandle::new(KeyRing::new(key("k1")));
        let app = app(layer(keys.clone(), &clock));
        let signed = login_cookie(&app, "heidi").await;
        assert_eq!(token_of(&signed).split('.').count(), 3);

        // Turn encryption on; the signing key stays to read live signed sessions.
        keys.replace(KeyRing::from_keys([enc_key("e1", mode), key("k1")]).unwrap());
        clock.set(T0 + 1);
        let response = send(&app, "GET", "/me", Some(&signed)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{mode}: signed session lost"
        );
        let encrypted = cookie_pair(&response);
        let claims = josekit_claims(mode, "e1", token_of(&encrypted));
        assert_eq!(claims["sub"], "heidi", "{mode}: moved to a JWE at once");
        assert_eq!(claims["auth_time"], T0, "{mode}: the same session");

        // And back: signing first again, the encryption key kept to read live JWEs.
        keys.replace(KeyRing::from_keys([key("k2"), enc_key("e1", mode)]).unwrap());
        clock.set(T0 + 2);
        let response = send(&app, "GET", "/me", Some(&encrypted)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{mode}: encrypted session lost"
        );
        let back = cookie_pair(&response);
        assert_eq!(
            token_of(&back).split('.').count(),
            3,
            "{mode}: signed again"
        );
        let response = send(&app, "GET", "/me", Some(&back)).await;
        assert!(body_text(response).await.starts_with("heidi "));

        // Rotation between encryption keys works the same way.
        keys.replace(KeyRing::from_keys([enc_key("e2", mode), key("k2")]).unwrap());
        clock.set(T0 + 3);
        let response = send(&app, "GET", "/me", Some(&back)).await;
        let rotated = cookie_pair(&response);
        assert_eq!(
            josekit_claims(mode, "e2", token_of(&rotated))["sub"],
            "heidi"
        );
    }
}

/// Tokens josekit encrypts with the same key and claims are accepted by the layer.
#[tokio::test]
async fn the_layer_accepts_a_josekit_token() {
    for mode in MODES {
        let e = encrypted(mode);
        let claims = json!({
            "sid": "AAECAwQFBgcICQoLDA0ODw", "iat": T0, "exp": T0 + IDLE, "auth_time": T0,
            "ver": 1, "sub": "ivan", "roles": ["reader"],
        });
        let mut header = JweHeader::new();
        header.set_algorithm(mode.as_str());
        header.set_content_encryption("A256GCM");
        header.set_key_id("e1");
        header.set_token_type("sess-enc+jwt");
        header.set_claim("pur", Some(json!("session"))).unwrap();
        let payload = serde_json::to_vec(&claims).unwrap();
        let secret = enc_secret("e1");
        let token = match mode {
            KeyManagement::A256KW => {
                let enc = josekit_jwe::A256KW.encrypter_from_bytes(&secret).unwrap();
                josekit_jwe::serialize_compact(&payload, &header, &enc).unwrap()
            }
            _ => {
                let enc = josekit_jwe::Dir.encrypter_from_bytes(&secret).unwrap();
                josekit_jwe::serialize_compact(&payload, &header, &enc).unwrap()
            }
        };
        let response = send(&e.app, "GET", "/me", Some(&format!("session={token}"))).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{mode}: {:?}",
            kind(&response)
        );
        assert!(body_text(response).await.starts_with("ivan "), "{mode}");
        let _ = &e.keys;
    }
}

#[test]
fn one_secret_serves_one_purpose_only() {
    let secret = [9u8; 32];
    let hs = Key::hs256("k1", &secret).unwrap();
    let kw = Key::encryption("e1", KeyManagement::A256KW, &secret).unwrap();
    let dir = Key::encryption("e2", KeyManagement::Dir, &secret).unwrap();
    for (a, b) in [(&hs, &kw), (&kw, &hs), (&kw, &dir), (&dir, &hs)] {
        match KeyRing::from_keys([a.clone(), b.clone()]) {
            Err(ConfigError::SecretReused { kid, other }) => {
                assert_eq!((other.as_str(), kid.as_str()), (a.kid(), b.kid()));
            }
            other => panic!("{} and {}: {other:?}", a.kid(), b.kid()),
        }
    }
    assert!(matches!(
        KeyRing::new(hs.clone()).with_verify_key(kw.clone()),
        Err(ConfigError::SecretReused { .. })
    ));
    let message = KeyRing::from_keys([hs, kw]).unwrap_err().to_string();
    assert!(message.contains("one key, one purpose"), "{message}");
    // Different secrets are fine, in any order.
    KeyRing::from_keys([enc_key("e1", KeyManagement::A256KW), key("k1")]).unwrap();
}

#[tokio::test]
async fn a_signed_token_naming_an_encryption_key_is_refused() {
    let e = encrypted(KeyManagement::A256KW);
    // An HS256 token signed with the encryption key's secret, naming its kid.
    let forged_ring = KeyRing::new(Key::hs256("e1", &enc_secret("e1")).unwrap());
    let codec =
        tower_stateless_session::token::TokenCodec::new(forged_ring).with_clock(e.clock.clone());
    let token = codec
        .sign(&codec.new_claims(user("mallory")).unwrap())
        .unwrap();
    let response = send(&e.app, "GET", "/me", Some(&format!("session={token}"))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(RejectionKind::UnsupportedAlgorithm));
}

/// The other way downstream: the gateway's sessions are encrypted, and a minter with its
/// own Ed25519 key makes each downstream service a short-lived signed token for it alone;
/// the downstream holds only the public key, and neither the encryption key nor a JWE.
#[cfg(feature = "propagate")]
#[tokio::test]
async fn a_minted_token_reaches_downstream_from_an_encrypted_session() {
    use axum::extract::Path;
    use tower_stateless_session::Session;
    use tower_stateless_session::propagate::Audience;
    use tower_stateless_session::propagate::Minter;

    for mode in MODES {
        let clock = ManualClock::new(T0);
        let node = Key::generate_ed25519().expect("rng");
        let public = KeyRing::new(node.public_key().expect("Ed25519"));
        let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))
            .expect("valid issuer")
            .with_keys(KeyRing::new(node))
            .with_clock(clock.clone());
        let gateway = routes()
            .route(
                "/mint/{aud}",
                axum::routing::get(move |s: Session<User>, Path(to): Path<String>| async move {
                    let audience = Audience::new(&to).expect("valid audience");
                    let token = minter.mint(&s, &audience).map_err(|e| e.to_string())?;
                    Ok::<_, String>(token.as_str().to_owned())
                }),
            )
            .layer(layer(
                KeyRingHandle::new(KeyRing::new(enc_key("e1", mode))),
                &clock,
            ));
        let cookie = login_cookie(&gateway, "judy").await;
        assert_eq!(
            token_of(&cookie).split('.').count(),
            5,
            "{mode}: JWE session"
        );
        let response = send(&gateway, "GET", "/mint/orders", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "{mode}");
        let minted = body_text(response).await;
        assert_eq!(
            minted.split('.').count(),
            3,
            "{mode}: a signed downstream token"
        );

        // The minted token carries the subject and no session data (no projection set).
        let payload = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            minted.split('.').nth(1).expect("payload"),
        )
        .expect("base64url");
        let payload: serde_json::Value = serde_json::from_slice(&payload).expect("JSON");
        assert_eq!(
            (payload["sub"].clone(), payload["aud"].clone()),
            (json!("judy"), json!("orders"))
        );

        let orders = axum::Router::new()
            .route(
                "/me",
                axum::routing::get(|s: Session<serde_json::Value>| async move {
                    s.info().map(|i| i.sid.to_string()).unwrap_or_default()
                }),
            )
            .layer(
                SessionLayer::<serde_json::Value>::verify_only(public)
                    .with_audience(Audience::new("orders").unwrap())
                    .with_clock(clock.clone()),
            );
        let response = bearer(&orders, &minted).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{mode}: {:?}",
            kind(&response)
        );
        // The same session id travels: the downstream sees the gateway's session.
        let sid = josekit_claims(mode, "e1", token_of(&cookie))["sid"].clone();
        assert_eq!(json!(body_text(response).await), sid, "{mode}");
    }
}
