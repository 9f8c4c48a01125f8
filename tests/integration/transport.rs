//! Header transports and verify-only mode.

use std::time::Duration;

use crate::common::*;
use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{HeaderName, Request, StatusCode, header};
use tower::ServiceExt;
use tower_stateless_session::{
    Rejection, RejectionKind, Session, SessionHandle, SessionLayer, Transport,
};

async fn send_with(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> http::Response<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

fn header_of<B>(response: &http::Response<B>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii").to_owned())
}

#[tokio::test]
async fn named_header_transport_round_trips_and_refreshes_in_the_same_header() {
    let f = fixture();
    let app = app(f
        .layer
        .clone()
        .with_transport(Transport::Header(HeaderName::from_static("x-session"))));
    let response = send_with(&app, "POST", "/login/ada", &[]).await;
    assert!(
        set_cookies(&response).is_empty(),
        "no cookies with a header transport"
    );
    let value = response.headers().get("x-session").expect("token header");
    assert!(value.is_sensitive(), "the token header is marked sensitive");
    let token = header_of(&response, "x-session").expect("token");

    let response = send_with(&app, "GET", "/me", &[("x-session", &token)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_of(&response, "x-session"),
        None,
        "no refresh due yet"
    );
    // A cookie is not a way in for this transport.
    let response = send(&app, "GET", "/me", Some(&format!("session={token}"))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    f.clock.advance(Duration::from_secs(REFRESH));
    let response = send_with(&app, "GET", "/me", &[("x-session", &token)]).await;
    let fresh = header_of(&response, "x-session").expect("a refreshed token");
    assert_ne!(fresh, token);
    let claims = f
        .layer
        .codec()
        .verify::<User>(&fresh)
        .expect("valid")
        .claims;
    assert_eq!(claims.iat, T0 + REFRESH);
}

#[tokio::test]
async fn bearer_transport_reads_authorization_and_answers_in_x_session_token() {
    let f = fixture();
    let app = app(f.layer.clone().with_transport(Transport::Bearer));
    let response = send_with(&app, "POST", "/login/ada", &[]).await;
    let token = header_of(&response, "x-session-token").expect("token in the default header");
    for auth in [format!("Bearer {token}"), format!("bearer   {token} ")] {
        let response = send_with(&app, "GET", "/me", &[("authorization", &auth)]).await;
        assert_eq!(response.status(), StatusCode::OK, "{auth:.20}");
    }
    for auth in [
        format!("Basic {token}"),
        token.clone(),
        "Bearer".to_string(),
    ] {
        let response = send_with(&app, "GET", "/me", &[("authorization", &auth)]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:.20}");
    }
    let custom = crate::common::app(
        f.layer
            .clone()
            .with_transport(Transport::Bearer)
            .with_token_response_header(HeaderName::from_static("x-renewed")),
    );
    let response = send_with(&custom, "POST", "/login/ada", &[]).await;
    assert!(header_of(&response, "x-renewed").is_some());
}

fn downstream(layer: SessionLayer<User>) -> Router {
    Router::new()
        .route(
            "/whoami",
            get(|s: Session<User>| async move { s.with(|u| u.sub.clone()).unwrap_or_default() }),
        )
        .route(
            "/login",
            post(
                |s: SessionHandle<User>| async move { s.login(user("mallory")).map(|_| "changed") },
            ),
        )
        .layer(layer)
}

#[tokio::test]
async fn verify_only_accepts_bearer_tokens_and_never_signs() {
    let f = fixture();
    let upstream = app(f.layer.clone());
    let cookie = login_cookie(&upstream, "ada").await;
    let token = cookie.split_once('=').expect("pair").1.to_owned();

    let down =
        downstream(SessionLayer::<User>::verify_only(f.keys.clone()).with_clock(f.clock.clone()));
    let bearer = format!("Bearer {token}");
    // Long past refresh_after: a signing layer would re-sign; this one must not.
    f.clock.advance(Duration::from_secs(IDLE - 10));
    let response = send_with(&down, "GET", "/whoami", &[("authorization", &bearer)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookies(&response).is_empty(), "never sets a cookie");
    assert_eq!(
        header_of(&response, "x-session-token"),
        None,
        "never re-signs"
    );
    assert_eq!(body_text(response).await, "ada");

    // Changing the session is refused with a 500 (the reason, read-only, in the log), and
    // nothing is emitted.
    let response = send_with(&down, "POST", "/login", &[("authorization", &bearer)]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(set_cookies(&response).is_empty());
    let body = body_text(response).await;
    assert!(!body.contains("verify-only"), "no internal text: {body}");

    // No token, a cookie instead of the header, or a bad token: 401 from the layer.
    for headers in [
        vec![],
        vec![("cookie", cookie.as_str())],
        vec![("authorization", "Bearer a.b.c")],
    ] {
        let response = send_with(&down, "GET", "/whoami", &headers).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(
            header_of(&response, header::WWW_AUTHENTICATE.as_str()).as_deref(),
            Some("Bearer")
        );
        assert!(
            set_cookies(&response).is_empty(),
            "verify-only deletes nothing"
        );
        assert!(response.extensions().get::<Rejection>().is_some());
        assert_eq!(
            body_text(response).await,
            "401 Unauthorized: a valid session is required\n",
            "the body never says which check failed"
        );
    }

    // A token signed with a key the downstream does not hold.
    let stranger = SessionLayer::<User>::new(key("k9")).with_clock(f.clock.clone());
    let stranger_cookie = login_cookie(&crate::common::app(stranger), "eve").await;
    let stranger_bearer = format!(
        "Bearer {}",
        stranger_cookie.split_once('=').expect("pair").1
    );
    let response = send_with(
        &down,
        "GET",
        "/whoami",
        &[("authorization", &stranger_bearer)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.extensions().get::<Rejection>().map(|r| r.kind()),
        Some(RejectionKind::UnknownKey)
    );
}
