//! `/health` and `/metrics`.

use super::*;

#[tokio::test]
async fn health_is_ok_with_the_in_process_revocation_set() {
    let app = test_app();
    let response = send(&app, get("/health", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "a JSON body"
    );
    let report = body_json(response).await;
    assert_eq!(report["status"], "ok", "{report}");
    assert_eq!(report["checks"]["revocation"]["status"], "ok", "{report}");
    assert!(report["checks"]["revocation"]["since"].is_u64(), "{report}");
}

#[tokio::test]
async fn health_and_metrics_need_no_session() {
    let app = test_app();
    // A refused token does not stand between a probe and its answer.
    let response = send(&app, get("/health", Some("session=garbage"))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[cfg(feature = "metrics")]
#[tokio::test]
async fn metrics_show_the_login_in_prometheus_text() {
    let app = test_app();
    json_login(&app, "ada").await;
    let response = send(&app, get("/metrics", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = body_text(response).await;
    // Other tests share the process's recorder: look for the series, not exact counts.
    for series in [
        "# TYPE stateless_session_tokens_issued_total counter",
        r#"stateless_session_tokens_issued_total{reason="login"}"#,
        "stateless_session_token_budget_bytes 4096",
        "stateless_session_token_size_bytes_bucket{le=\"512\"}",
    ] {
        assert!(text.contains(series), "no {series:?} in /metrics:\n{text}");
    }
}
