//! No token in the logs: a login, a refresh and a refusal through the layer, logged by
//! tower-http's `TraceLayer` with request and response headers printed, inside the
//! sensitive-headers layers given `SessionLayer::sensitive_headers` (the set-up
//! `docs/observability.md` and the examples use). The captured output holds the headers,
//! marked `Sensitive`, and not one token segment. The same stack without the
//! sensitive-headers layers does leak, which shows the check can fail.

use std::time::Duration;

use crate::capture::LogCapture;
use crate::common::*;
use axum::Router;
use http::StatusCode;
use tower::ServiceBuilder;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::trace::{DefaultMakeSpan, DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The test app behind a `TraceLayer` that prints every request's and response's headers,
/// with or without the sensitive-headers layers around it.
fn logged_app(f: &Fixture, mark_sensitive: bool) -> Router {
    let sensitive = f.layer.sensitive_headers();
    let trace = TraceLayer::new_for_http()
        .make_span_with(
            DefaultMakeSpan::new()
                .level(Level::INFO)
                .include_headers(true),
        )
        .on_request(DefaultOnRequest::new().level(Level::INFO))
        .on_response(
            DefaultOnResponse::new()
                .level(Level::INFO)
                .include_headers(true),
        );
    let app = app(f.layer.clone());
    if mark_sensitive {
        app.layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new(sensitive.clone()))
                .layer(trace)
                .layer(SetSensitiveResponseHeadersLayer::new(sensitive)),
        )
    } else {
        app.layer(trace)
    }
}

/// Runs a login, a refresh and a refusal through the logged app; returns the log output
/// and every token that travelled (the two issued, and the refused one).
fn session_story(mark_sensitive: bool) -> (String, Vec<String>) {
    let captured = LogCapture::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tokens = runtime.block_on(async {
        let f = fixture();
        let app = logged_app(&f, mark_sensitive);

        let response = send(&app, "POST", "/login/ada", None).await;
        assert_eq!(response.status(), StatusCode::OK, "login");
        let login = cookie_pair(&response);

        f.clock.advance(Duration::from_secs(REFRESH));
        let response = send(&app, "GET", "/me", Some(&login)).await;
        assert_eq!(response.status(), StatusCode::OK, "refresh");
        let refreshed = cookie_pair(&response);
        assert_ne!(refreshed, login, "the refresh issued a new token");

        // The refreshed token with its signature altered: refused.
        let mut forged = refreshed.clone();
        let last = if forged.ends_with('A') { "Q" } else { "A" };
        forged.replace_range(forged.len() - 1.., last);
        let response = send(&app, "GET", "/me", Some(&forged)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "refusal");

        [login, refreshed, forged]
            .map(|pair| pair.split_once('=').expect("name=value").1.to_owned())
            .to_vec()
    });
    (captured.text(), tokens)
}

/// The token segments (header, payload, signature) found in `logs`.
fn leaks(logs: &str, tokens: &[String]) -> Vec<String> {
    let mut found: Vec<String> = tokens
        .iter()
        .flat_map(|token| token.split('.'))
        .filter(|segment| logs.contains(segment))
        .map(str::to_owned)
        .collect();
    found.dedup();
    found
}

#[test]
fn login_refresh_and_refusal_leave_no_token_in_the_logs() {
    let (logs, tokens) = session_story(true);
    assert_eq!(tokens.len(), 3);
    // The headers were logged, as `Sensitive`: the check below looks at real header output.
    assert!(
        logs.contains("set-cookie") && logs.contains("cookie"),
        "the trace printed no headers:\n{logs}"
    );
    assert!(
        logs.contains("Sensitive"),
        "no header marked sensitive:\n{logs}"
    );
    assert!(
        logs.contains("session token rejected") && logs.contains("bad_signature"),
        "the layer's own rejection event is in the capture:\n{logs}"
    );
    assert_eq!(
        leaks(&logs, &tokens),
        Vec::<String>::new(),
        "token segments found in the logs:\n{logs}"
    );
}

#[test]
fn without_the_sensitive_layers_the_same_trace_leaks_tokens() {
    let (logs, tokens) = session_story(false);
    assert!(
        !leaks(&logs, &tokens).is_empty(),
        "the unprotected trace was expected to print the cookies:\n{logs}"
    );
}

/// Runs `requests` against `app` with a capturing subscriber; returns the log output.
fn captured_logs(app: Router, requests: &[(&str, &str, Option<&str>)]) -> String {
    let captured = LogCapture::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for (method, path, cookie) in requests {
            let response = send(&app, method, path, *cookie).await;
            assert_eq!(
                response.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{method} {path}"
            );
        }
    });
    captured.text()
}

#[test]
fn a_missing_layer_is_named_in_the_log_and_nowhere_else() {
    use axum::routing::get;
    use tower_stateless_session::Session;
    let bare = Router::new().route(
        "/maybe",
        get(|s: Option<Session<User>>| async move { format!("{}", s.is_some()) }),
    );
    let logs = captured_logs(bare, &[("GET", "/maybe", None)]);
    assert!(
        logs.contains("no SessionLayer") && logs.contains("User"),
        "the log names the missing layer and its type:\n{logs}"
    );
}

#[test]
fn a_refused_session_change_is_explained_in_the_log() {
    let f = fixture();
    // A verify-only layer: the login route's change is refused as read-only.
    let app = app(tower_stateless_session::SessionLayer::<User>::verify_only(
        f.layer.keys().clone(),
    )
    .with_require_session(false));
    let logs = captured_logs(app, &[("POST", "/login/ada", None)]);
    assert!(
        logs.contains("session change refused") && logs.contains("verify-only"),
        "the log says why the change was refused:\n{logs}"
    );
}

/// DBSC: a bound cookie under 3 minutes is allowed but warned about when the layer is
/// built; a refresh with a proof from another key logs that a stolen cookie may be in use,
/// without the proof or any token.
#[cfg(feature = "dbsc")]
#[test]
fn dbsc_warns_of_a_short_bound_cookie_and_of_a_proof_from_another_key() {
    use tower_stateless_session::pop::ChallengeKey;
    use tower_stateless_session::pop::dbsc::Dbsc;

    use crate::dbsc::{REFRESH_PATH, fixture, login, post, register};
    use crate::pop_support::ProofKey;

    let captured = LogCapture::start();
    let short = tower_stateless_session::SessionLayer::<User>::new(
        tower_stateless_session::KeyRing::new(key("k1")),
    )
    .with_dbsc(
        Dbsc::new(ChallengeKey::new(&[1; 32]).expect("key"))
            .with_bound_lifetime(Duration::from_secs(60)),
    )
    .build();
    assert!(short.is_ok(), "under 3 minutes is allowed");
    assert!(
        captured.text().contains("under 3 minutes"),
        "and warned about:\n{}",
        captured.text()
    );
    let thief_proof = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(async {
            let f = fixture();
            let (cookie, offer) = login(&f.app, "ada").await;
            let bound = register(&f.app, &ProofKey::es256(1), &cookie, &offer).await;
            let thief = ProofKey::es256(9).dbsc(&bound.challenge, false, None);
            let response = post(
                &f.app,
                REFRESH_PATH,
                &bound.refresh,
                &[
                    ("sec-secure-session-id", &bound.id),
                    ("secure-session-response", &thief),
                ],
            )
            .await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            (thief, bound.refresh)
        });
    let logs = captured.text();
    assert!(logs.contains("a stolen cookie may be in use"), "{logs}");
    for secret in [&thief_proof.0, &thief_proof.1] {
        for part in secret.split(['.', '=']).filter(|p| p.len() > 20) {
            assert!(
                !logs.contains(part),
                "a proof or token part is in the logs:\n{logs}"
            );
        }
    }
}
