//! Cross-origin protection through the whole layer: each rule, the session left as it was
//! after a refusal, login covered, exempt paths and trusted origins, header transports
//! unaffected, the refusal counted and logged without the token.

use crate::common::*;
use axum::Router;
use axum::body::Body;
use axum::routing::post;
use http::{Request, Response, StatusCode, header};
use tower::ServiceExt;
use tower_stateless_session::{ConfigError, RejectionKind, Transport};

/// The host every request is sent to.
const HOST: &str = "app.example";

async fn send_headers(
    app: &Router,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> Response<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

fn assert_refused(response: &Response<Body>, what: &str) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
    assert_eq!(kind(response), Some(RejectionKind::CrossOrigin), "{what}");
    assert!(
        set_cookies(response).is_empty(),
        "{what}: a refusal leaves the cookie alone"
    );
}

const CROSS_SITE: (&str, &str) = ("sec-fetch-site", "cross-site");

#[tokio::test]
async fn a_cross_site_form_post_with_a_valid_cookie_is_refused_and_the_session_is_unchanged() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let f = fixture();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let app = routes()
        .route(
            "/transfer",
            post(move |session: tower_stateless_session::Session<User>| {
                counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    let _ = session.modify(|u| u.roles.push("paid".into()));
                    "transferred"
                }
            }),
        )
        .layer(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    let response = send_headers(
        &app,
        "POST",
        "/transfer",
        Some(&cookie),
        &[
            CROSS_SITE,
            ("origin", "https://evil.example"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
    )
    .await;
    assert_refused(&response, "a cross-site form post");
    assert_eq!(
        body_text(response).await,
        "403 Forbidden: this request was refused as a cross-site request\n"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler never ran");
    // The cookie still works, unchanged, and the same post from the page itself goes on.
    let response = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK, "the session is intact");
    assert!(set_cookies(&response).is_empty(), "and not re-signed");
    let response = send_headers(
        &app,
        "POST",
        "/transfer",
        Some(&cookie),
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn same_site_requests_from_a_sibling_subdomain_are_refused() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    let response = send_headers(
        &app,
        "POST",
        "/logout",
        Some(&cookie),
        &[("sec-fetch-site", "same-site")],
    )
    .await;
    assert_refused(&response, "same-site is not same-origin");
}

#[tokio::test]
async fn a_mismatched_origin_is_refused() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    for origin in [
        "https://evil.example",
        "https://app.example:8443",
        "https://app.example.evil",
        "null",
    ] {
        let response = send_headers(
            &app,
            "DELETE",
            "/logout",
            Some(&cookie),
            &[("origin", origin)],
        )
        .await;
        assert_refused(&response, origin);
    }
}

#[tokio::test]
async fn same_origin_requests_are_accepted() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    for headers in [
        &[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://app.example"),
        ][..],
        &[("origin", "https://app.example")][..],
        &[("origin", "http://APP.example")][..],
    ] {
        let response = send_headers(&app, "POST", "/promote", Some(&cookie), headers).await;
        assert_eq!(response.status(), StatusCode::OK, "{headers:?}");
    }
}

#[tokio::test]
async fn sec_fetch_site_none_is_accepted_and_safe_methods_are_never_checked() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    // A typed URL or a bookmark.
    let response = send_headers(
        &app,
        "GET",
        "/me",
        Some(&cookie),
        &[("sec-fetch-site", "none")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    // A link from another site: a safe method, not checked.
    for method in ["GET", "HEAD"] {
        let response = send_headers(
            &app,
            method,
            "/me",
            Some(&cookie),
            &[CROSS_SITE, ("origin", "https://evil.example")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{method}");
    }
    // `none` on an unsafe method too (the user's own navigation).
    let response = send_headers(
        &app,
        "POST",
        "/promote",
        Some(&cookie),
        &[("sec-fetch-site", "none")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_without_either_header_is_accepted() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    let response = send_headers(&app, "POST", "/promote", Some(&cookie), &[]).await;
    assert_eq!(response.status(), StatusCode::OK, "curl, a server, a test");
}

#[tokio::test]
async fn login_from_another_site_is_refused() {
    let f = fixture();
    let app = app(f.layer.clone());
    for headers in [&[CROSS_SITE][..], &[("origin", "https://evil.example")][..]] {
        let response = send_headers(&app, "POST", "/login/mallory", None, headers).await;
        assert_refused(&response, "login CSRF: no session needed to be refused");
    }
    let response = send_headers(
        &app,
        "POST",
        "/login/ada",
        None,
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "a same-origin login");
}

#[tokio::test]
async fn an_exempted_path_passes_and_its_neighbours_do_not() {
    let f = fixture();
    let layer = f.layer.clone().with_cross_site_exempt_path("/hooks/");
    let app = routes()
        .route("/hooks/{name}", post(|| async { "hooked" }))
        .route("/hooksmith", post(|| async { "not a hook" }))
        .layer(layer);
    let response = send_headers(&app, "POST", "/hooks/payments", None, &[CROSS_SITE]).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a webhook from elsewhere"
    );
    let response = send_headers(&app, "POST", "/hooksmith", None, &[CROSS_SITE]).await;
    assert_refused(&response, "a prefix is not a path under it");
    let response = send_headers(&app, "POST", "/login/ada", None, &[CROSS_SITE]).await;
    assert_refused(&response, "other paths stay protected");
}

#[tokio::test]
async fn a_trusted_origin_passes() {
    let f = fixture();
    let app = app(f.layer.clone().with_trusted_origin("https://Admin.Example"));
    let response = send_headers(
        &app,
        "POST",
        "/login/ada",
        None,
        &[CROSS_SITE, ("origin", "https://admin.example")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send_headers(
        &app,
        "POST",
        "/login/ada",
        None,
        &[CROSS_SITE, ("origin", "http://admin.example")],
    )
    .await;
    assert_refused(&response, "another scheme is another origin");
}

#[tokio::test]
async fn header_transports_are_unaffected_unless_turned_on() {
    let f = fixture();
    let bearer = app(f.layer.clone().with_transport(Transport::Bearer));
    let response = send_headers(&bearer, "POST", "/login/ada", None, &[CROSS_SITE]).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "off with a header transport"
    );
    let token = response
        .headers()
        .get("x-session-token")
        .and_then(|v| v.to_str().ok())
        .expect("a token")
        .to_owned();
    let response = send_headers(
        &bearer,
        "POST",
        "/promote",
        None,
        &[CROSS_SITE, ("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    let turned_on = app(f
        .layer
        .clone()
        .with_transport(Transport::Bearer)
        .with_cross_origin_protection(true));
    let response = send_headers(&turned_on, "POST", "/login/ada", None, &[CROSS_SITE]).await;
    assert_refused(&response, "turned on for a header transport");
    let turned_off = app(f.layer.clone().with_cross_origin_protection(false));
    let response = send_headers(&turned_off, "POST", "/login/ada", None, &[CROSS_SITE]).await;
    assert_eq!(response.status(), StatusCode::OK, "turned off with cookies");
}

#[tokio::test]
async fn the_forbidden_response_is_replaceable() {
    let f = fixture();
    let layer = f.layer.clone().with_forbidden_response(|rejection| {
        let mut response = http::Response::new(bytes::Bytes::from(format!(
            "go away ({})\n",
            rejection.kind()
        )));
        *response.status_mut() = StatusCode::FORBIDDEN;
        response
    });
    let app = app(layer);
    let response = send_headers(&app, "POST", "/login/ada", None, &[CROSS_SITE]).await;
    assert_refused(&response, "a replaced response");
    assert_eq!(body_text(response).await, "go away (cross_origin)\n");
}

#[test]
fn bad_origins_and_paths_fail_the_build_naming_the_value() {
    let f = fixture();
    let error = f
        .layer
        .clone()
        .with_trusted_origin("admin.example/path")
        .build()
        .expect_err("not an origin");
    assert!(
        matches!(error, ConfigError::InvalidCrossSiteSetting { .. })
            && error.to_string().contains("admin.example/path"),
        "{error}"
    );
    let error = f
        .layer
        .clone()
        .with_cross_site_exempt_path("hooks")
        .build()
        .expect_err("not a path");
    assert!(error.to_string().contains("\"hooks\""), "{error}");
}

#[cfg(feature = "metrics")]
#[test]
fn the_refusal_is_counted_in_its_own_series() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let f = fixture();
            let app = app(f.layer.clone());
            let response = send_headers(&app, "POST", "/login/ada", None, &[CROSS_SITE]).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
        });
    let counters: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| match value {
            DebugValue::Counter(n) if n > 0 => {
                let labels: Vec<String> = key
                    .key()
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                Some((format!("{}{{{}}}", key.key().name(), labels.join(",")), n))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        counters,
        vec![(
            "stateless_session_forbidden_requests_total{reason=cross_origin}".to_owned(),
            1
        )],
        "counted once, as forbidden, and not as a session outcome"
    );
}

#[cfg(feature = "tracing")]
#[test]
fn the_refusal_is_logged_with_the_deciding_header_and_without_the_token() {
    let captured = crate::capture::LogCapture::start();
    let cookie = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let f = fixture();
            let app = app(f.layer.clone());
            let cookie = login_cookie(&app, "ada").await;
            let response = send_headers(
                &app,
                "POST",
                "/promote",
                Some(&cookie),
                &[("origin", "https://evil.example")],
            )
            .await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            cookie
        });
    let logs = captured.text();
    assert!(
        logs.contains("cross-origin request refused")
            && logs.contains("cross_origin")
            && logs.contains("evil.example")
            && logs.contains("/promote"),
        "{logs}"
    );
    for segment in token_of(&cookie).split('.') {
        assert!(
            !logs.contains(segment),
            "a token segment in the logs:\n{logs}"
        );
    }
}
