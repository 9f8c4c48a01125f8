//! Tampered, foreign and expired cookies through the whole stack: treated as no session,
//! deleted, or answered 401 when a session is required; never a 500, never a panic.

use std::time::Duration;

use crate::common::*;
use http::StatusCode;
use tower_stateless_session::{RejectionKind, SessionLayer};

/// Changes the character at `index` of a cookie's token to another base64url character.
fn flip(cookie: &str, index: usize) -> String {
    let (name, token) = cookie.split_once('=').expect("pair");
    let mut bytes = token.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    format!("{name}={}", String::from_utf8(bytes).expect("ascii"))
}

#[tokio::test]
async fn tampered_cookies_are_no_session_and_are_deleted() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    let token_len = cookie.len() - "session=".len();
    let dots: Vec<usize> = cookie["session=".len()..]
        .match_indices('.')
        .map(|(i, _)| i)
        .collect();
    let cases = [
        ("payload", dots[0] + 5, RejectionKind::BadSignature),
        ("signature", dots[1] + 5, RejectionKind::BadSignature),
    ];
    for (segment, index, expected) in cases {
        let bad = flip(&cookie, index);
        let response = send(&app, "GET", "/maybe", Some(&bad)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{segment}: optional sessions pass"
        );
        assert_eq!(kind(&response), Some(expected), "{segment}");
        assert_eq!(
            the_cookie(&response).value(),
            "",
            "{segment}: the cookie is deleted"
        );
        assert_eq!(body_text(response).await, "anonymous", "{segment}");
    }
    for bad in [
        "session=".to_string(),
        format!("session={}", &cookie["session=".len()..token_len]),
        format!("{cookie}.extra"),
        "session=eyJhbGciOiJub25lIn0.e30.".to_string(),
    ] {
        let response = send(&app, "GET", "/me", Some(&bad)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad:.40}");
        assert!(
            kind(&response).is_some(),
            "{bad:.40}: the reason is attached"
        );
        assert_eq!(the_cookie(&response).value(), "", "{bad:.40}: deleted");
        let body = body_text(response).await;
        assert_eq!(
            body, "401 Unauthorized: a valid session is required\n",
            "the body never says which check failed"
        );
    }
}

#[tokio::test]
async fn a_token_from_another_deployment_is_refused() {
    let f = fixture();
    let app = app(f.layer.clone());
    let foreign =
        SessionLayer::<User>::new(key("k1-other-secret-but-same-kid")).with_clock(f.clock.clone());
    let foreign_app = crate::common::app(foreign);
    let foreign_cookie = login_cookie(&foreign_app, "mallory").await;
    let response = send(&app, "GET", "/me", Some(&foreign_cookie)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(RejectionKind::UnknownKey));

    // Same kid, different secret: the MAC fails.
    let impostor = SessionLayer::<User>::new(
        tower_stateless_session::Key::hs256("k1", &[9u8; 32]).expect("key"),
    )
    .with_clock(f.clock.clone());
    let cookie = login_cookie(&crate::common::app(impostor), "mallory").await;
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(RejectionKind::BadSignature));
}

#[tokio::test]
async fn required_sessions_are_answered_by_the_layer() {
    let f = fixture();
    let layer = f.layer.clone().with_require_session(true);
    let app = app(layer.clone());
    // Nothing reaches the handler without a session, not even a public route.
    let response = send(&app, "GET", "/public", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(RejectionKind::Missing));
    assert!(set_cookies(&response).is_empty(), "nothing to delete");

    // An expired cookie: 401 from the layer, cookie deleted.
    let open = app_without_requirement(&f);
    let cookie = login_cookie(&open, "ada").await;
    f.clock.advance(Duration::from_secs(IDLE + LEEWAY));
    let response = send(&app, "GET", "/public", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(RejectionKind::Expired));
    assert_eq!(the_cookie(&response).value(), "");

    // The 401 is replaceable, and the reason is still attached.
    let custom = app_custom(layer);
    let response = send(&custom, "GET", "/public", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(kind(&response), Some(RejectionKind::Expired));
    assert_eq!(body_text(response).await, "custom");
}

fn app_without_requirement(f: &Fixture) -> axum::Router {
    app(f.layer.clone())
}

fn app_custom(layer: SessionLayer<User>) -> axum::Router {
    app(layer.with_rejection_response(|_| {
        let mut response = http::Response::new(bytes::Bytes::from_static(b"custom"));
        *response.status_mut() = StatusCode::FORBIDDEN;
        response
    }))
}

#[tokio::test]
async fn a_session_change_that_cannot_be_signed_fails_the_request_and_keeps_the_old_cookie() {
    let f = fixture();
    let app = app(f.layer.clone().with_max_token_len(300));
    let cookie = login_cookie(&app, "ada").await;
    let huge = "x".repeat(400);
    let response = send(&app, "POST", &format!("/login/{huge}"), Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        set_cookies(&response).is_empty(),
        "no Set-Cookie: the old cookie stays"
    );
    let body = body_text(response).await;
    // The budget counts the bytes sent: `session=` plus the 300-byte token cap.
    assert!(body.contains("over its budget of 308 bytes"), "{body}");
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the previous session still works"
    );
}

#[tokio::test]
async fn several_session_cookies_are_resolved_or_refused() {
    let f = fixture();
    let app = app(f.layer.clone());
    let victim = login_cookie(&app, "victim").await;
    let attacker = login_cookie(&app, "attacker").await;

    // Two valid tokens of different sessions (a planted cookie): refused, fail closed.
    for header in [
        format!("{attacker}; {victim}"),
        format!("{victim}; {attacker}"),
    ] {
        let response = send(&app, "GET", "/me", Some(&header)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:.30}");
        assert_eq!(kind(&response), Some(RejectionKind::Ambiguous));
    }

    // A stale (expired) cookie from another path next to a valid one: the valid one wins.
    f.clock.advance(Duration::from_secs(IDLE + LEEWAY));
    let fresh = login_cookie(&app, "victim").await;
    let response = send(&app, "GET", "/me", Some(&format!("{victim}; {fresh}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body_text(response).await.starts_with("victim "));

    // Two tokens of the same session (before and after a refresh): the newer is used.
    f.clock.advance(Duration::from_secs(REFRESH));
    let refreshed = cookie_pair(&send(&app, "GET", "/me", Some(&fresh)).await);
    let response = send(&app, "GET", "/me", Some(&format!("{refreshed}; {fresh}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        set_cookies(&response).is_empty(),
        "the newer token needs no refresh"
    );

    // Too many session cookies: refused without verifying them.
    let many = [fresh.as_str(); 5].join("; ");
    let response = send(&app, "GET", "/me", Some(&many)).await;
    assert_eq!(kind(&response), Some(RejectionKind::Ambiguous));
}
