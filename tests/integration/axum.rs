//! The layer under axum: login, cookie attributes, the extractors, logout, renew,
//! modification and remember-me. Time is a ManualClock; requests go through `oneshot`.

use std::time::Duration;

use crate::common::*;
use axum::Router;
use axum::routing::get;
use http::StatusCode;
use tower_stateless_session::{RejectionKind, Session, SessionHandle, SessionLayer};

#[tokio::test]
async fn login_sets_a_cookie_with_secure_attributes() {
    let f = fixture();
    let app = app(f.layer.clone());
    let response = send(&app, "POST", "/login/ada", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let c = the_cookie(&response);
    assert_eq!(c.name(), "session");
    assert_eq!(c.http_only(), Some(true), "HttpOnly by default");
    assert_eq!(c.secure(), Some(true), "Secure by default");
    assert_eq!(
        c.same_site(),
        Some(cookie::SameSite::Lax),
        "SameSite=Lax by default"
    );
    assert_eq!(c.path(), Some("/"), "Path=/ by default");
    assert_eq!(c.domain(), None, "host-only by default");
    assert_eq!(
        c.max_age(),
        None,
        "a plain login is a browser-session cookie"
    );
    let sensitive = response
        .headers()
        .get(http::header::SET_COOKIE)
        .expect("set-cookie")
        .is_sensitive();
    assert!(sensitive, "the Set-Cookie value is marked sensitive");

    let me = send(&app, "GET", "/me", Some(&cookie_pair(&response))).await;
    assert_eq!(me.status(), StatusCode::OK);
    let text = body_text(me).await;
    assert!(
        text.starts_with("ada "),
        "the handler sees the session data: {text}"
    );
}

#[tokio::test]
async fn the_extractors_three_cases() {
    let f = fixture();
    let app = app(f.layer.clone());
    // Session<T> without a session: 401, and the body does not say why.
    let response = send(&app, "GET", "/me", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        body_text(response).await,
        "401 Unauthorized: a valid session is required\n"
    );
    // Option<Session<T>> never rejects.
    let response = send(&app, "GET", "/maybe", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "anonymous");
    let cookie = login_cookie(&app, "bob").await;
    let response = send(&app, "GET", "/maybe", Some(&cookie)).await;
    assert_eq!(body_text(response).await, "bob");

    // Without the layer: a 500 for every extractor, `Option<Session<T>>` included (reading
    // "logged out" there would hide the bug); the log names the missing layer
    // (tests/logs.rs), the body names no type.
    let bare = Router::new()
        .route("/me", get(|_: Session<User>| async { "unreachable" }))
        .route(
            "/handle",
            get(|_: SessionHandle<User>| async { "unreachable" }),
        )
        .route(
            "/maybe",
            get(|s: Option<Session<User>>| async move { format!("{}", s.is_some()) }),
        );
    for path in ["/me", "/handle", "/maybe"] {
        let response = send(&bare, "GET", path, None).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}: a missing layer is a 500"
        );
        let text = body_text(response).await;
        assert_eq!(
            text, "500 Internal Server Error\n",
            "{path}: the body names no type"
        );
    }

    // A layer for another data type does not satisfy the extractor.
    let other = Router::new()
        .route("/me", get(|_: Session<User>| async { "unreachable" }))
        .layer(SessionLayer::<serde_json::Value>::new(key("k1")));
    let response = send(&other, "GET", "/me", None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn logout_deletes_the_cookie_with_the_same_path_and_domain() {
    let f = fixture();
    let layer = f
        .layer
        .clone()
        .with_cookie_path("/app")
        .with_cookie_domain("example.com");
    let app = app(layer);
    let response = send(&app, "POST", "/login/ada", None).await;
    let login = the_cookie(&response);
    assert_eq!(
        (login.path(), login.domain()),
        (Some("/app"), Some("example.com"))
    );
    let cookie = cookie_pair(&response);

    let response = send(&app, "POST", "/logout", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let removal = the_cookie(&response);
    assert_eq!(removal.name(), "session");
    assert_eq!(removal.value(), "", "the removal carries no token");
    assert_eq!(removal.max_age(), Some(cookie::time::Duration::ZERO));
    assert_eq!(
        (removal.path(), removal.domain()),
        (Some("/app"), Some("example.com")),
        "a removal only works with the cookie's own Path and Domain"
    );
}

#[tokio::test]
async fn renew_changes_the_sid_and_keeps_data_and_auth_time() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    let before = body_text(send(&app, "GET", "/me", Some(&cookie)).await).await;
    f.clock.advance(std::time::Duration::from_secs(5));
    let response = send(&app, "POST", "/renew", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let renewed = cookie_pair(&response);
    let after = body_text(send(&app, "GET", "/me", Some(&renewed)).await).await;
    let (b, a): (Vec<_>, Vec<_>) = (before.split(' ').collect(), after.split(' ').collect());
    assert_eq!(a[0], "ada", "data kept");
    assert_ne!(a[1], b[1], "sid renewed");
    assert_eq!(a[4], b[4], "auth_time kept");
    assert_eq!(
        a[2],
        (T0 + 5).to_string(),
        "the renewed token is signed now"
    );
}

#[tokio::test]
async fn modify_keeps_the_session_and_signs_new_data() {
    let f = fixture();
    let app = routes()
        .route(
            "/roles",
            get(
                |s: Session<User>| async move { s.with(|u| u.roles.join(",")).unwrap_or_default() },
            ),
        )
        .layer(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    let response = send(&app, "POST", "/promote", Some(&cookie)).await;
    let promoted = cookie_pair(&response);
    let roles = body_text(send(&app, "GET", "/roles", Some(&promoted)).await).await;
    assert_eq!(roles, "reader,admin");
    // The original token (verified, and cached, before the change) still carries the
    // original data: the change copied the shared claims instead of editing them.
    let original = body_text(send(&app, "GET", "/roles", Some(&cookie)).await).await;
    assert_eq!(
        original, "reader",
        "a change in one request leaks into another"
    );
    let sid_before = body_text(send(&app, "GET", "/me", Some(&cookie)).await).await;
    let sid_after = body_text(send(&app, "GET", "/me", Some(&promoted)).await).await;
    assert_eq!(
        sid_before.split(' ').nth(1),
        sid_after.split(' ').nth(1),
        "modifying data keeps the sid"
    );
}

#[tokio::test]
async fn remember_me_sets_max_age_to_the_token_lifetime() {
    let f = fixture();
    let app = app(f.layer.clone());
    let response = send(&app, "POST", "/remember/ada", None).await;
    let c = the_cookie(&response);
    assert_eq!(
        c.max_age(),
        Some(cookie::time::Duration::seconds(IDLE as i64)),
        "Max-Age runs to the token's exp"
    );
    // The persistent flag survives a refresh, with Max-Age following the new exp.
    let cookie = cookie_pair(&response);
    f.clock.advance(std::time::Duration::from_secs(REFRESH));
    let refreshed = send(&app, "GET", "/me", Some(&cookie)).await;
    let c = the_cookie(&refreshed);
    assert_eq!(
        c.max_age(),
        Some(cookie::time::Duration::seconds(IDLE as i64))
    );
    // Near the absolute deadline, Max-Age shrinks with exp.
    let mut cookie = cookie_pair(&refreshed);
    for now in [T0 + 1700, T0 + 3400, T0 + 5100, T0 + 6800] {
        f.clock.set(now);
        let r = send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let expected = (now + IDLE).min(T0 + ABSOLUTE) - now;
        assert_eq!(
            the_cookie(&r).max_age(),
            Some(cookie::time::Duration::seconds(expected as i64)),
            "Max-Age at {}",
            now - T0
        );
        cookie = cookie_pair(&r);
    }
}

#[tokio::test]
async fn a_rejection_is_attached_to_the_response_but_not_to_the_body() {
    let f = fixture();
    let app = app(f.layer.clone());
    let response = send(&app, "GET", "/maybe", Some("session=not.a.token")).await;
    let rejection = response
        .extensions()
        .get::<tower_stateless_session::Rejection>()
        .copied();
    assert_eq!(rejection.map(|r| r.kind()), Some(RejectionKind::Malformed));
    assert_eq!(
        the_cookie(&response).value(),
        "",
        "the invalid cookie is deleted"
    );
    assert_eq!(body_text(response).await, "anonymous");
    let response = send(&app, "GET", "/public", None).await;
    let rejection = response
        .extensions()
        .get::<tower_stateless_session::Rejection>()
        .copied();
    assert_eq!(rejection.map(|r| r.kind()), Some(RejectionKind::Missing));
    assert!(set_cookies(&response).is_empty(), "no session, no cookie");
}

#[tokio::test]
async fn login_after_an_invalid_cookie_replaces_it() {
    let f = fixture();
    let app = app(f.layer.clone());
    let response = send(&app, "POST", "/login/ada", Some("session=garbage")).await;
    let c = the_cookie(&response);
    assert!(
        !c.value().is_empty(),
        "the login's token wins over the deletion"
    );
}

/// `with` and `modify` run the caller's closure without holding the session's lock: the
/// handle can be used inside (reads work; a change inside `modify` is refused with
/// `ChangeInProgress` instead of deadlocking or being lost). Run on a thread of its own, so
/// a deadlock fails the test instead of hanging it.
#[test]
fn the_handle_can_be_used_inside_with_and_modify() {
    use axum::routing::post;
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let result = runtime.block_on(async {
            let f = fixture();
            let app = routes()
                .route(
                    "/nested",
                    post(|s: SessionHandle<User>| async move {
                        let seen = s.with(|u| (u.sub.clone(), s.data().map(|d| d.sub)));
                        let inner = s.modify(|u| {
                            u.roles.push("editor".into());
                            // A read works; a change cannot start here.
                            let read = s.info().is_some();
                            let change = s.renew();
                            (read, change)
                        });
                        format!("{seen:?} {inner:?}")
                    }),
                )
                .layer(f.layer.clone());
            let cookie = login_cookie(&app, "ada").await;
            let response = send(&app, "POST", "/nested", Some(&cookie)).await;
            (response.status(), body_text(response).await)
        });
        let _ = done.send(result);
    });
    let (status, body) = outcome
        .recv_timeout(Duration::from_secs(20))
        .expect("the handler finished: no deadlock inside with or modify");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body, r#"Some(("ada", Some("ada"))) Ok((true, Err(ChangeInProgress)))"#,
        "reads inside both closures work, a change inside modify is refused"
    );
}
