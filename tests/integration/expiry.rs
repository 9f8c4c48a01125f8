//! Rolling refresh, idle and absolute timeouts, driven by a ManualClock.

use std::time::Duration;

use crate::common::*;
use http::StatusCode;
use tower_stateless_session::RejectionKind;
use tower_stateless_session::token::Claims;

fn claims_of(f: &Fixture, cookie: &str) -> Claims<User> {
    let token = cookie.split_once('=').expect("name=value").1;
    f.layer
        .codec()
        .verify::<User>(token)
        .expect("a token the layer accepts")
        .claims
}

#[tokio::test]
async fn no_set_cookie_inside_refresh_after() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    for elapsed in [0, 1, REFRESH / 2, REFRESH - 1] {
        f.clock.set(T0 + elapsed);
        let response = send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            set_cookies(&response).is_empty(),
            "{elapsed}s after signing, a token is not refreshed"
        );
    }
}

#[tokio::test]
async fn refresh_after_re_signs_with_a_later_exp_and_the_same_sid_and_auth_time() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    let first = claims_of(&f, &cookie);
    f.clock.set(T0 + REFRESH);
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed = cookie_pair(&response);
    let second = claims_of(&f, &refreshed);
    assert_eq!(second.sid, first.sid, "same session id");
    assert_eq!(second.auth_time, first.auth_time, "same auth_time");
    assert_eq!(second.iat, T0 + REFRESH, "iat is the refresh time");
    assert_eq!(
        second.exp,
        T0 + REFRESH + IDLE,
        "exp moved by the elapsed time"
    );
    assert!(second.exp > first.exp);
    assert_eq!(second.data, first.data);

    // The old token stays valid until its own exp: parallel requests are not logged out.
    let old = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(old.status(), StatusCode::OK);
}

#[tokio::test]
async fn idle_timeout_ends_the_session_at_exp_plus_leeway() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    f.clock.set(T0 + IDLE + LEEWAY - 1);
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK, "inside the leeway");

    f.clock.set(T0 + IDLE + LEEWAY);
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(RejectionKind::Expired));
    assert_eq!(
        the_cookie(&response).value(),
        "",
        "the dead cookie is deleted"
    );
}

#[tokio::test]
async fn activity_keeps_a_session_alive_until_the_absolute_timeout() {
    let f = fixture();
    let app = app(f.layer.clone());
    let mut cookie = login_cookie(&app, "ada").await;
    let step = IDLE - 60;
    let mut now = T0;
    // Requests every `step` seconds: each refreshes, so the idle timeout never hits.
    while now + step < T0 + ABSOLUTE {
        now += step;
        f.clock.set(now);
        let response = send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "active session at {}",
            now - T0
        );
        if let Some(next) = set_cookies(&response).first() {
            cookie = next.split(';').next().expect("pair").to_owned();
        }
        let claims = claims_of(&f, &cookie);
        assert!(
            claims.exp <= T0 + ABSOLUTE,
            "exp never passes the absolute deadline"
        );
    }
    // Past the absolute deadline the session is over, however fresh the token.
    f.clock.set(T0 + ABSOLUTE + LEEWAY);
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        matches!(
            kind(&response),
            Some(RejectionKind::Expired | RejectionKind::AbsoluteTimeout)
        ),
        "got {:?}",
        kind(&response)
    );
}

#[tokio::test]
async fn a_shortened_absolute_timeout_applies_to_tokens_already_issued() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    // Same keys and clock, absolute timeout now 10 minutes: the token's exp (30 min) is
    // later, but the configuration's deadline decides.
    let strict = app_with(
        f.layer
            .clone()
            .with_absolute_timeout(Duration::from_secs(600)),
    );
    f.clock.set(T0 + 600 + LEEWAY);
    let response = send(&strict, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(RejectionKind::AbsoluteTimeout));
}

fn app_with(layer: tower_stateless_session::SessionLayer<User>) -> axum::Router {
    app(layer)
}

#[tokio::test]
async fn no_refresh_when_exp_cannot_move() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    // Walk to where exp is capped by the absolute deadline.
    let mut cookie = cookie;
    for now in [T0 + 1700, T0 + 3400, T0 + 5100, T0 + 6800] {
        f.clock.set(now);
        let response = send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        cookie = cookie_pair(&response);
    }
    assert_eq!(claims_of(&f, &cookie).exp, T0 + ABSOLUTE);
    f.clock.set(T0 + 6800 + REFRESH);
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        set_cookies(&response).is_empty(),
        "re-signing cannot extend exp past the absolute deadline, so it is skipped"
    );
}

#[tokio::test]
async fn the_same_rules_hold_with_the_verify_cache_off() {
    let f = fixture();
    let app = app(f.layer.clone().with_verify_cache(0));
    let cookie = login_cookie(&app, "ada").await;
    for _ in 0..3 {
        let response = send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(set_cookies(&response).is_empty());
    }
    f.clock.set(T0 + REFRESH);
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    let refreshed = cookie_pair(&response);
    assert_eq!(claims_of(&f, &refreshed).iat, T0 + REFRESH);
    f.clock.set(T0 + IDLE + LEEWAY);
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(kind(&response), Some(RejectionKind::Expired));
}
