//! Revocation through the layer with the in-memory store: logout kills copies of the token,
//! "log out everywhere" kills every session of the subject, entries expire by themselves.

mod common;

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::post;
use common::*;
use http::StatusCode;
use tower_stateless_session::revocation::{MemoryRevocations, RevocationStore};
use tower_stateless_session::{RejectionKind, SessionError, SessionHandle, SessionLayer};

fn app_with(layer: SessionLayer<User>) -> Router {
    routes()
        .route(
            "/logout-all",
            post(|s: SessionHandle<User>| async move { s.logout_everywhere().map(|()| "gone") }),
        )
        .route(
            "/admin/revoke/{sub}",
            post(
                |s: SessionHandle<User>, Path(sub): Path<String>| async move {
                    s.revoke_subject(&sub).map(|()| "revoked")
                },
            ),
        )
        .layer(layer)
}

fn revocable(f: &Fixture, store: &MemoryRevocations) -> Router {
    app_with(
        f.layer
            .clone()
            .with_revocation(store.clone(), |u: &User| Some(u.sub.as_str())),
    )
}

#[tokio::test]
async fn logout_revokes_every_copy_of_the_token() {
    let f = fixture();
    let store = MemoryRevocations::new();
    let app = revocable(&f, &store);
    let cookie = login_cookie(&app, "ada").await;
    let stolen = cookie.clone();
    let response = send(&app, "POST", "/logout", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(&app, "GET", "/me", Some(&stolen)).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a copy of the token is dead"
    );
    assert_eq!(kind(&response), Some(RejectionKind::Revoked));
    assert_eq!(
        the_cookie(&response).value(),
        "",
        "and the revoked cookie is deleted"
    );

    // Without a store, the same copy keeps working until it expires (the documented gap).
    let plain = common::app(f.layer.clone());
    let cookie = login_cookie(&plain, "ada").await;
    send(&plain, "POST", "/logout", Some(&cookie)).await;
    let response = send(&plain, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_everywhere_revokes_every_session_of_the_subject_only() {
    let f = fixture();
    let store = MemoryRevocations::new();
    let app = revocable(&f, &store);
    let laptop = login_cookie(&app, "ada").await;
    f.clock.advance(Duration::from_secs(30));
    let phone = login_cookie(&app, "ada").await;
    let bob = login_cookie(&app, "bob").await;

    let response = send(&app, "POST", "/logout-all", Some(&phone)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        the_cookie(&response).value(),
        "",
        "the current session ends too"
    );
    for (who, cookie) in [("laptop", &laptop), ("phone", &phone)] {
        let response = send(&app, "GET", "/me", Some(cookie)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{who}");
        assert_eq!(kind(&response), Some(RejectionKind::Revoked), "{who}");
    }
    let response = send(&app, "GET", "/me", Some(&bob)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "another subject is untouched"
    );

    // A login after the revocation's second starts a session that is not revoked.
    f.clock.advance(Duration::from_secs(1));
    let fresh = login_cookie(&app, "ada").await;
    assert_eq!(
        send(&app, "GET", "/me", Some(&fresh)).await.status(),
        StatusCode::OK
    );

    // An admin revoking another subject from their own session.
    let response = send(&app, "POST", "/admin/revoke/bob", Some(&fresh)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        send(&app, "GET", "/me", Some(&bob)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, "GET", "/me", Some(&fresh)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn entries_expire_once_no_token_they_match_can_be_valid() {
    let f = fixture();
    let store = MemoryRevocations::new();
    let app = revocable(&f, &store);
    let cookie = login_cookie(&app, "ada").await;
    send(&app, "POST", "/logout", Some(&cookie)).await;
    let claims = f
        .layer
        .codec()
        .verify::<User>(cookie.split_once('=').expect("pair").1)
        .expect("still a valid signature")
        .claims;
    let now = T0;
    assert!(store.is_revoked(&claims.sid, None, claims.auth_time, now));
    // The entry lives exactly as long as the session could: its absolute deadline plus
    // the leeway.
    let last_valid = T0 + ABSOLUTE + LEEWAY;
    assert!(store.is_revoked(&claims.sid, None, claims.auth_time, last_valid));
    assert!(!store.is_revoked(&claims.sid, None, claims.auth_time, last_valid + 1));
    assert_eq!(store.len(), 1);
    store.sweep(last_valid + 1);
    assert!(store.is_empty(), "the swept set forgets the entry");
}

#[tokio::test]
async fn logout_everywhere_needs_a_store() {
    let f = fixture();
    let app = app_with(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    let response = send(&app, "POST", "/logout-all", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = body_text(response).await;
    assert_eq!(
        body, "500 Internal Server Error: the session could not be changed\n",
        "the reason goes to the log, not to the client"
    );
    let handle_error = SessionError::NoRevocation.to_string();
    assert!(handle_error.contains("with_revocation"), "{handle_error}");
}

/// The password-change flow: "log out everywhere", then log in again at once, in the same
/// second. The new session is accepted; every session that began before the revocation,
/// in that same second too, stays refused.
#[tokio::test]
async fn a_login_in_the_same_second_as_log_out_everywhere_is_accepted() {
    let f = fixture();
    let store = MemoryRevocations::new();
    let app = revocable(&f, &store);
    let before = login_cookie(&app, "ada").await;
    let current = login_cookie(&app, "ada").await;

    let response = send(&app, "POST", "/logout-all", Some(&current)).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Same clock second: log in again.
    let fresh = login_cookie(&app, "ada").await;
    let response = send(&app, "GET", "/me", Some(&fresh)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the session begun after the revocation is accepted: {:?}",
        kind(&response)
    );
    for (who, cookie) in [("before", &before), ("current", &current)] {
        let response = send(&app, "GET", "/me", Some(cookie)).await;
        assert_eq!(
            kind(&response),
            Some(RejectionKind::Revoked),
            "{who}: begun in the same second, before the revocation"
        );
    }
    // And it keeps working past its own refreshes.
    f.clock.advance(Duration::from_secs(REFRESH + 1));
    let response = send(&app, "GET", "/me", Some(&fresh)).await;
    assert_eq!(response.status(), StatusCode::OK, "after a refresh too");
}
