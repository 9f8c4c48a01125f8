//! Session-bound CSRF tokens (feature `csrf`) through the whole layer: bound to one session,
//! dead after a login or a renewal, masked per call, refused damaged (and under random
//! edits) without a panic; the layer's header check, the `CsrfForm` extractor's field
//! check, and who is not checked.
#![cfg(feature = "csrf")]

use crate::common::edits::arbitrary_edit;
use crate::common::*;
use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{HeaderValue, Request, Response, StatusCode, header};
use proptest::prelude::*;
use proptest::sample::Index;
use tower::ServiceExt;
use tower_stateless_session::server::csrf::{CSRF_FIELD, CSRF_HEADER, CSRF_TOKEN_LEN, CsrfForm};
use tower_stateless_session::{RejectionKind, Session, SessionHandle, SessionLayer};

#[derive(serde::Deserialize)]
struct Note {
    text: String,
}

/// The test app with two more routes: `GET /csrf` answers the session's token (empty
/// without one), `POST /note` reads a `CsrfForm<Note>`.
fn csrf_app(layer: SessionLayer<User>) -> Router {
    routes()
        .route(
            "/csrf",
            get(|session: SessionHandle<User>| async move {
                session
                    .csrf_token()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default()
            }),
        )
        .route(
            "/note",
            post(|_: Session<User>, CsrfForm(note): CsrfForm<Note>| async move { note.text }),
        )
        .route(
            "/upload",
            post(|session: Session<User>, body: String| async move {
                // A handler that reads the field itself (a multipart form, say).
                let token = body.strip_prefix("token=").unwrap_or_default();
                match session.check_csrf_token(token) {
                    Ok(()) => "uploaded".to_owned(),
                    Err(rejection) => format!("refused: {}", rejection.kind()),
                }
            }),
        )
        .route("/hooks/in", post(|| async { "hooked" }))
        .layer(layer)
}

fn tokens_on() -> (Fixture, Router) {
    let f = fixture();
    let app = csrf_app(
        f.layer
            .clone()
            .with_csrf_tokens(true)
            .with_cross_site_exempt_path("/hooks/"),
    );
    (f, app)
}

async fn request(
    app: &Router,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    headers: &[(&str, &[u8])],
    body: &str,
) -> Response<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    for (name, value) in headers {
        request = request.header(
            *name,
            HeaderValue::from_bytes(value).expect("a valid header value"),
        );
    }
    app.clone()
        .oneshot(request.body(Body::from(body.to_owned())).expect("request"))
        .await
        .expect("infallible")
}

async fn token(app: &Router, cookie: &str) -> String {
    csrf_token_of(app, cookie).await
}

/// The session's CSRF token, from `GET /csrf`.
async fn csrf_token_of(app: &Router, cookie: &str) -> String {
    let response = send(app, "GET", "/csrf", Some(cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = body_text(response).await;
    assert_eq!(token.len(), CSRF_TOKEN_LEN, "a token: {token:?}");
    token
}

/// `POST /promote` (a JSON-ish request: no form body) with `token` in the header.
async fn promote(app: &Router, cookie: &str, token: &[u8]) -> Response<Body> {
    request(
        app,
        "POST",
        "/promote",
        Some(cookie),
        &[(CSRF_HEADER, token), ("content-type", b"application/json")],
        "{}",
    )
    .await
}

fn assert_refused(response: &Response<Body>, expected: RejectionKind, what: &str) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
    assert_eq!(kind(response), Some(expected), "{what}");
    assert!(
        set_cookies(response).is_empty(),
        "{what}: the session is left alone"
    );
}

#[tokio::test]
async fn the_sessions_own_token_passes_the_layer() {
    let (_f, app) = tokens_on();
    let cookie = login_cookie(&app, "ada").await;
    let token = token(&app, &cookie).await;
    let response = promote(&app, &cookie, token.as_bytes()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn another_sessions_token_is_refused() {
    let (_f, app) = tokens_on();
    let ada = login_cookie(&app, "ada").await;
    let bob = login_cookie(&app, "bob").await;
    let adas = token(&app, &ada).await;
    let response = promote(&app, &bob, adas.as_bytes()).await;
    assert_refused(
        &response,
        RejectionKind::CsrfTokenInvalid,
        "ada's token, bob's cookie",
    );
    // The same user logged in twice has two sessions, two tokens.
    let ada_again = login_cookie(&app, "ada").await;
    let response = promote(&app, &ada_again, adas.as_bytes()).await;
    assert_refused(
        &response,
        RejectionKind::CsrfTokenInvalid,
        "another session of ada",
    );
}

#[tokio::test]
async fn a_token_from_before_a_login_or_a_renewal_is_refused() {
    let (_f, app) = tokens_on();
    let first = login_cookie(&app, "ada").await;
    let before_login = token(&app, &first).await;
    // Logging in again (as another user, on this browser) starts a new session id.
    let response = request(
        &app,
        "POST",
        "/login/mallory",
        Some(&first),
        &[(CSRF_HEADER, before_login.as_bytes())],
        "",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = cookie_pair(&response);
    let response = promote(&app, &second, before_login.as_bytes()).await;
    assert_refused(
        &response,
        RejectionKind::CsrfTokenInvalid,
        "a token from before login",
    );

    let before_renew = token(&app, &second).await;
    let response = request(
        &app,
        "POST",
        "/renew",
        Some(&second),
        &[(CSRF_HEADER, before_renew.as_bytes())],
        "",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let renewed = cookie_pair(&response);
    let response = promote(&app, &renewed, before_renew.as_bytes()).await;
    assert_refused(
        &response,
        RejectionKind::CsrfTokenInvalid,
        "a token from before renew",
    );
    let after = token(&app, &renewed).await;
    let response = promote(&app, &renewed, after.as_bytes()).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the renewed session's token"
    );
}

#[tokio::test]
async fn masking_gives_a_different_string_per_response_that_still_verifies() {
    let (_f, app) = tokens_on();
    let cookie = login_cookie(&app, "ada").await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..8 {
        let token = token(&app, &cookie).await;
        assert!(
            seen.insert(token.clone()),
            "a token string came twice: {token}"
        );
        let response = promote(&app, &cookie, token.as_bytes()).await;
        assert_eq!(response.status(), StatusCode::OK, "{token}");
    }
}

#[tokio::test]
async fn tampered_or_truncated_tokens_are_refused_without_a_panic() {
    let (_f, app) = tokens_on();
    let cookie = login_cookie(&app, "ada").await;
    let token = token(&app, &cookie).await;
    let flipped = {
        let mut t = token.clone().into_bytes();
        t[30] = if t[30] == b'A' { b'B' } else { b'A' };
        t
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("truncated", token.as_bytes()[..CSRF_TOKEN_LEN - 1].to_vec()),
        ("half", token.as_bytes()[..24].to_vec()),
        ("extended", format!("{token}A").into_bytes()),
        ("one character changed", flipped),
        ("padded base64", format!("{}==", &token[..46]).into_bytes()),
        ("not base64", vec![b'!'; CSRF_TOKEN_LEN]),
        ("obs-text", vec![0xff; CSRF_TOKEN_LEN]),
        (
            "a session token",
            cookie.split_once('=').expect("pair").1.as_bytes().to_vec(),
        ),
    ];
    for (what, bad) in cases {
        let response = promote(&app, &cookie, &bad).await;
        assert_refused(&response, RejectionKind::CsrfTokenInvalid, what);
    }
}

#[tokio::test]
async fn the_layer_requires_the_header_on_bodies_that_cannot_carry_the_field() {
    let (_f, app) = tokens_on();
    let cookie = login_cookie(&app, "ada").await;
    for content_type in [&b"application/json"[..], b"text/plain", b""] {
        let headers: &[(&str, &[u8])] = if content_type.is_empty() {
            &[]
        } else {
            &[("content-type", content_type)]
        };
        let response = request(&app, "POST", "/promote", Some(&cookie), headers, "x").await;
        assert_refused(
            &response,
            RejectionKind::CsrfTokenMissing,
            &String::from_utf8_lossy(content_type),
        );
    }
}

#[tokio::test]
async fn csrf_form_checks_the_field_of_a_form_the_layer_let_through() {
    let (_f, app) = tokens_on();
    let cookie = login_cookie(&app, "ada").await;
    let token = token(&app, &cookie).await;
    let form: &[(&str, &[u8])] = &[("content-type", b"application/x-www-form-urlencoded")];
    let response = request(&app, "POST", "/note", Some(&cookie), form, "text=hi").await;
    assert_refused(&response, RejectionKind::CsrfTokenMissing, "no _csrf field");
    let other = login_cookie(&app, "bob").await;
    let bobs = csrf_token_of(&app, &other).await;
    let body = format!("text=hi&{CSRF_FIELD}={bobs}");
    let response = request(&app, "POST", "/note", Some(&cookie), form, &body).await;
    assert_refused(
        &response,
        RejectionKind::CsrfTokenInvalid,
        "bob's token in ada's form",
    );
    let body = format!("{CSRF_FIELD}={token}&text=hello");
    let response = request(&app, "POST", "/note", Some(&cookie), form, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "hello");
    // A script's form post with the header instead: checked once, by the layer.
    let headers: &[(&str, &[u8])] = &[
        ("content-type", b"application/x-www-form-urlencoded"),
        (CSRF_HEADER, token.as_bytes()),
    ];
    let response = request(&app, "POST", "/note", Some(&cookie), headers, "text=js").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers: &[(&str, &[u8])] = &[
        ("content-type", b"application/x-www-form-urlencoded"),
        (CSRF_HEADER, bobs.as_bytes()),
    ];
    let body = format!("text=js&{CSRF_FIELD}={token}");
    let response = request(&app, "POST", "/note", Some(&cookie), headers, &body).await;
    assert_refused(
        &response,
        RejectionKind::CsrfTokenInvalid,
        "a wrong header is refused by the layer",
    );
}

#[tokio::test]
async fn a_handler_can_check_a_field_it_read_itself() {
    let (_f, app) = tokens_on();
    let cookie = login_cookie(&app, "ada").await;
    let token = token(&app, &cookie).await;
    let multipart: &[(&str, &[u8])] = &[("content-type", b"multipart/form-data; boundary=x")];
    let response = request(
        &app,
        "POST",
        "/upload",
        Some(&cookie),
        multipart,
        &format!("token={token}"),
    )
    .await;
    assert_eq!(body_text(response).await, "uploaded");
    let response = request(
        &app,
        "POST",
        "/upload",
        Some(&cookie),
        multipart,
        "token=nope",
    )
    .await;
    assert_eq!(body_text(response).await, "refused: csrf_token_invalid");
}

#[tokio::test]
async fn requests_without_a_session_exempt_paths_and_safe_methods_are_not_checked() {
    let (_f, app) = tokens_on();
    let response = request(&app, "POST", "/login/ada", None, &[], "").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "no session, nothing to bind"
    );
    let cookie = cookie_pair(&response);
    let response = request(&app, "POST", "/hooks/in", Some(&cookie), &[], "").await;
    assert_eq!(response.status(), StatusCode::OK, "an exempt path");
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK, "a safe method");
    let form: &[(&str, &[u8])] = &[("content-type", b"application/x-www-form-urlencoded")];
    let response = request(&app, "POST", "/note", None, form, "text=x").await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the handler needs a session"
    );
}

#[tokio::test]
async fn with_tokens_off_nothing_is_issued_or_checked() {
    let f = fixture();
    let app = csrf_app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    let response = send(&app, "GET", "/csrf", Some(&cookie)).await;
    assert_eq!(body_text(response).await, "", "no token");
    let form: &[(&str, &[u8])] = &[("content-type", b"application/x-www-form-urlencoded")];
    let response = request(&app, "POST", "/note", Some(&cookie), form, "text=plain").await;
    assert_eq!(response.status(), StatusCode::OK, "a plain form");
    let response = request(&app, "POST", "/promote", Some(&cookie), &[], "").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn csrf_form_without_a_layer_is_a_500_not_a_pass() {
    let app = Router::new().route(
        "/note",
        post(|CsrfForm(note): CsrfForm<Note>| async move { note.text }),
    );
    let form: &[(&str, &[u8])] = &[("content-type", b"application/x-www-form-urlencoded")];
    let response = request(&app, "POST", "/note", None, form, "text=x").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(kind(&response), Some(RejectionKind::LayerMissing));
}

#[tokio::test]
async fn csrf_form_refuses_other_bodies() {
    let (_f, app) = tokens_on();
    let cookie = login_cookie(&app, "ada").await;
    let token = token(&app, &cookie).await;
    let json: &[(&str, &[u8])] = &[
        ("content-type", b"application/json"),
        (CSRF_HEADER, token.as_bytes()),
    ];
    let response = request(&app, "POST", "/note", Some(&cookie), json, "{}").await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let form: &[(&str, &[u8])] = &[("content-type", b"application/x-www-form-urlencoded")];
    let body = format!("{CSRF_FIELD}={token}&nothing=here");
    let response = request(&app, "POST", "/note", Some(&cookie), form, &body).await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no `text`"
    );
}

#[cfg(feature = "node-keys")]
#[test]
fn a_ring_without_a_shared_secret_needs_csrf_keys_of_its_own() {
    use tower_stateless_session::ConfigError;
    {
        let ring = tower_stateless_session::KeyRing::new(
            tower_stateless_session::Key::generate_ed25519().expect("key"),
        );
        let error = SessionLayer::<User>::new(ring.clone())
            .with_csrf_tokens(true)
            .build()
            .expect_err("nothing to derive from");
        assert!(
            matches!(error, ConfigError::InvalidSetting { .. })
                && error.to_string().contains("with_csrf_keys"),
            "{error}"
        );
        SessionLayer::<User>::new(ring)
            .with_csrf_tokens(true)
            .with_csrf_keys(tower_stateless_session::KeyRing::new(key("csrf")))
            .build()
            .expect("a ring of its own");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any single edit of a valid token (a byte replaced, inserted or deleted) is refused
    /// as invalid, never accepted and never a panic; only the optional whitespace HTTP
    /// strips around a value leaves it the same token.
    #[test]
    fn random_edits_are_refused(edit in 0u8..3, at in any::<Index>(), byte in any::<u8>()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (_f, app) = tokens_on();
            let cookie = login_cookie(&app, "ada").await;
            let token = token(&app, &cookie).await;
            let edited = arbitrary_edit(token.as_bytes(), edit, at, byte);
            if HeaderValue::from_bytes(&edited).is_err() {
                return; // not a header value: no request could carry it
            }
            let response = promote(&app, &cookie, &edited).await;
            let trimmed = edited.trim_ascii();
            if trimmed == token.as_bytes() {
                assert_eq!(response.status(), StatusCode::OK, "whitespace around the token");
            } else {
                assert_refused(
                    &response,
                    RejectionKind::CsrfTokenInvalid,
                    &String::from_utf8_lossy(&edited),
                );
            }
        });
    }
}

#[test]
fn the_token_header_is_marked_sensitive_for_request_logs() {
    let f = fixture();
    let on = f.layer.clone().with_csrf_tokens(true).sensitive_headers();
    assert!(on.iter().any(|name| name.as_str() == CSRF_HEADER), "{on:?}");
    let off = f.layer.clone().sensitive_headers();
    assert!(
        !off.iter().any(|name| name.as_str() == CSRF_HEADER),
        "{off:?}"
    );
}
